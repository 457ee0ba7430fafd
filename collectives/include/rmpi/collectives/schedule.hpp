#pragma once
/// The hypercube schedules of the reference (racket/place/distributed/rmpi),
/// as pure functions of (rank, size, root): ranks are relabelled so that the
/// root is 0 (`relative = (rank - root + size) % size`), and round `i` of
/// ceil(log2 size) rounds pairs relative ids that differ by 2^i, skipping
/// partners `>= size`. Correct for every size and every root; the collectives
/// follow these steps, and tests check them without any transport.
#include <stdexcept>
#include <string>
#include <vector>

namespace rmpi::collectives {

/// One step of a rank's schedule: in `round`, send to or receive from `peer`
/// (an absolute rank).
struct Step {
  /// What the rank does in this step.
  enum class Action { send, recv };

  int round;
  int peer;
  Action action;

  friend bool operator==(const Step&, const Step&) = default;
};

/// ceil(log2 size): the number of rounds of a hypercube schedule (0 for 1).
constexpr int hypercube_rounds(int size) {
  int rounds = 0;
  while ((1LL << rounds) < size) ++rounds;
  return rounds;
}

/// Throws `std::invalid_argument` unless `size >= 1` and `rank` and `root`
/// lie in `[0, size)`; `what` names the caller in the message.
inline void check_group(const char* what, int rank, int size, int root) {
  if (size < 1 || rank < 0 || rank >= size || root < 0 || root >= size) {
    throw std::invalid_argument(std::string("rmpi::collectives::") + what + ": rank " +
                                std::to_string(rank) + " and root " + std::to_string(root) +
                                " must lie in [0, " + std::to_string(size) + ")");
  }
}

/// The id of absolute `rank` when ranks are relabelled so that `root` is 0.
constexpr int relative_rank(int rank, int size, int root) { return (rank - root + size) % size; }

/// The absolute rank of relative id `relative` (inverse of `relative_rank`).
constexpr int absolute_rank(int relative, int size, int root) { return (relative + root) % size; }

/// The steps of `rank` in a broadcast from `root`: in round i, relative ids
/// below 2^i hold the value and send it to id + 2^i; ids in [2^i, 2^(i+1))
/// receive it from id - 2^i. The root only sends; every other rank receives
/// exactly once, before it sends. Steps are in round order.
inline std::vector<Step> broadcast_schedule(int rank, int size, int root) {
  check_group("broadcast_schedule", rank, size, root);
  const int id = relative_rank(rank, size, root);
  std::vector<Step> steps;
  for (int round = 0; (1LL << round) < size; ++round) {
    const long long bit = 1LL << round;
    if (id < bit) {
      if (id + bit < size) {
        steps.push_back(
            {round, absolute_rank(static_cast<int>(id + bit), size, root), Step::Action::send});
      }
    } else if (id < 2 * bit) {
      steps.push_back(
          {round, absolute_rank(static_cast<int>(id - bit), size, root), Step::Action::recv});
    }
  }
  return steps;
}

/// The steps of `rank` in a reduce (or gather) to `root`: in round i,
/// relative ids that are multiples of 2^(i+1) receive from id + 2^i (when it
/// exists) the combined block of relative ids [id + 2^i, id + 2^(i+1)), and
/// ids that are 2^i modulo 2^(i+1) send their block to id - 2^i and are done.
/// The root only receives; every other rank sends exactly once, after all
/// its receives. Steps are in round order.
inline std::vector<Step> reduce_schedule(int rank, int size, int root) {
  check_group("reduce_schedule", rank, size, root);
  const int id = relative_rank(rank, size, root);
  std::vector<Step> steps;
  for (int round = 0; (1LL << round) < size; ++round) {
    const long long bit = 1LL << round;
    if (id % (2 * bit) == 0) {
      if (id + bit < size) {
        steps.push_back(
            {round, absolute_rank(static_cast<int>(id + bit), size, root), Step::Action::recv});
      }
    } else if (id % (2 * bit) == bit) {
      steps.push_back(
          {round, absolute_rank(static_cast<int>(id - bit), size, root), Step::Action::send});
      break;
    }
  }
  return steps;
}

/// The relative ids `[first, last)` whose values a rank with relative id `id`
/// holds combined when it sends in round `round` of a reduce or gather.
struct Block {
  int first;
  int last;
};

/// The block a sender with relative id `id` forwards in round `round`.
constexpr Block reduce_block(int id, int round, int size) {
  const long long end = id + (1LL << round);
  return {id, end < size ? static_cast<int>(end) : size};
}

}  // namespace rmpi::collectives
