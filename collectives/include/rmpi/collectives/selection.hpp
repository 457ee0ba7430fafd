#pragma once
/// Which algorithm runs a collective: pure functions of the payload and the
/// number of ranks, so that every rank, computing them from the same
/// arguments, picks the same one.
///
/// The thresholds are MPICH's defaults (src/mpi/coll, CVARs of MPICH 3.x/4.x):
///   - allreduce: recursive doubling up to MPIR_CVAR_ALLREDUCE_SHORT_MSG_SIZE
///     (2048 B) or when there are fewer elements than the power of two p'
///     <= p, else Rabenseifner (reduce-scatter + allgather). Like Open MPI's
///     tuned decision, which takes a ring for long messages, a ring replaces
///     Rabenseifner at p != p' from 512 KiB, where Rabenseifner's fold would
///     move the whole vector twice more; only for ops whose result does not
///     depend on the order of the operands.
///   - broadcast: the binomial tree (our hypercube) below
///     MPIR_CVAR_BCAST_SHORT_MSG_SIZE (12288 B) or below
///     MPIR_CVAR_BCAST_MIN_PROCS (8) ranks, else van de Geijn's scatter +
///     ring allgather.
///   - barrier: dissemination.
///   - allgather: with n = p x bytes per rank, Bruck when n < 512 KiB
///     (MPIR_CVAR_ALLGATHER_LONG_MSG_SIZE) for p = 2^k (MPICH takes
///     recursive doubling there, which moves the same data in the same
///     rounds) or n < 80 KiB (MPIR_CVAR_ALLGATHER_SHORT_MSG_SIZE) otherwise,
///     else a ring; Bruck when the size is not the same at every rank.
/// Chunked algorithms (Rabenseifner, ring allreduce, scatter-allgather) need
/// contiguous elements combined one by one; a forced algorithm that does not
/// apply to the payload falls back to one that does (`*_algorithm`).
#include <array>
#include <cstddef>
#include <optional>
#include <string_view>

namespace rmpi::collectives {

/// Allreduce algorithms.
enum class AllreduceAlgorithm { hypercube, recursive_doubling, rabenseifner, ring };
/// Broadcast algorithms.
enum class BroadcastAlgorithm { hypercube, scatter_allgather };
/// Barrier algorithms.
enum class BarrierAlgorithm { hypercube, dissemination };
/// Allgather algorithms.
enum class AllgatherAlgorithm { hypercube, bruck, ring };

/// What the chunked algorithms may do with a collective's data.
enum class Layout {
  opaque,               ///< a value copied or combined only whole
  elements,             ///< contiguous elements, combined one by one in rank order
  order_free_elements,  ///< the same, with an op whose result ignores operand order
};

/// The data one rank contributes to a collective.
struct Payload {
  std::size_t bytes = 0;  ///< its size; 0 when unknown or not the same at every rank
  std::size_t count = 0;  ///< its elements (for contiguous layouts)
  Layout layout = Layout::opaque;

  constexpr bool contiguous() const { return layout != Layout::opaque; }
};

/// The names of an algorithm enum's values, in declaration order (the
/// spelling of the `RMPI_COLL_*` environment variables).
template <class Algorithm>
constexpr auto algorithm_names();

template <>
constexpr auto algorithm_names<AllreduceAlgorithm>() {
  return std::array<std::string_view, 4>{"hypercube", "recursive_doubling", "rabenseifner",
                                         "ring"};
}
template <>
constexpr auto algorithm_names<BroadcastAlgorithm>() {
  return std::array<std::string_view, 2>{"hypercube", "scatter_allgather"};
}
template <>
constexpr auto algorithm_names<BarrierAlgorithm>() {
  return std::array<std::string_view, 2>{"hypercube", "dissemination"};
}
template <>
constexpr auto algorithm_names<AllgatherAlgorithm>() {
  return std::array<std::string_view, 3>{"hypercube", "bruck", "ring"};
}

/// The name of `algorithm`.
template <class Algorithm>
constexpr std::string_view algorithm_name(Algorithm algorithm) {
  return algorithm_names<Algorithm>()[static_cast<std::size_t>(algorithm)];
}

/// The algorithm called `name`, or nothing.
template <class Algorithm>
constexpr std::optional<Algorithm> parse_algorithm(std::string_view name) {
  const auto names = algorithm_names<Algorithm>();
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (names[i] == name) return static_cast<Algorithm>(i);
  }
  return std::nullopt;
}

namespace detail {
constexpr bool is_pow2(int n) { return n > 0 && (n & (n - 1)) == 0; }
constexpr std::size_t floor_pow2_size(int n) {
  std::size_t p = 1;
  while (p * 2 <= static_cast<std::size_t>(n)) p *= 2;
  return p;
}
}  // namespace detail

/// MPICH's MPIR_CVAR_ALLREDUCE_SHORT_MSG_SIZE.
inline constexpr std::size_t kAllreduceShortBytes = 2048;
/// From here a ring replaces Rabenseifner when p is not a power of two.
inline constexpr std::size_t kAllreduceRingBytes = std::size_t{512} << 10;
/// MPICH's MPIR_CVAR_BCAST_SHORT_MSG_SIZE.
inline constexpr std::size_t kBroadcastShortBytes = 12288;
/// MPICH's MPIR_CVAR_BCAST_MIN_PROCS.
inline constexpr int kBroadcastMinRanks = 8;
/// MPICH's MPIR_CVAR_ALLGATHER_SHORT_MSG_SIZE.
inline constexpr std::size_t kAllgatherShortBytes = 81920;
/// MPICH's MPIR_CVAR_ALLGATHER_LONG_MSG_SIZE.
inline constexpr std::size_t kAllgatherLongBytes = 524288;

/// The default allreduce algorithm for `payload` on `ranks` ranks.
constexpr AllreduceAlgorithm choose_allreduce(const Payload& payload, int ranks) {
  if (!payload.contiguous() || payload.bytes <= kAllreduceShortBytes ||
      payload.count < detail::floor_pow2_size(ranks)) {
    return AllreduceAlgorithm::recursive_doubling;
  }
  if (!detail::is_pow2(ranks) && payload.layout == Layout::order_free_elements &&
      payload.bytes >= kAllreduceRingBytes) {
    return AllreduceAlgorithm::ring;
  }
  return AllreduceAlgorithm::rabenseifner;
}

/// The default broadcast algorithm.
constexpr BroadcastAlgorithm choose_broadcast(const Payload& payload, int ranks) {
  if (!payload.contiguous() || payload.bytes < kBroadcastShortBytes ||
      ranks < kBroadcastMinRanks) {
    return BroadcastAlgorithm::hypercube;
  }
  return BroadcastAlgorithm::scatter_allgather;
}

/// The default barrier algorithm.
constexpr BarrierAlgorithm choose_barrier(int /*ranks*/) { return BarrierAlgorithm::dissemination; }

/// The default allgather algorithm; `payload` is one rank's part.
constexpr AllgatherAlgorithm choose_allgather(const Payload& payload, int ranks) {
  if (payload.bytes == 0) return AllgatherAlgorithm::bruck;
  const std::size_t total = payload.bytes * static_cast<std::size_t>(ranks);
  if (total < (detail::is_pow2(ranks) ? kAllgatherLongBytes : kAllgatherShortBytes)) {
    return AllgatherAlgorithm::bruck;
  }
  return AllgatherAlgorithm::ring;
}

/// The algorithm that runs: `forced` when it applies to `payload`, else the
/// nearest one that does (ring without an order-free op: Rabenseifner;
/// Rabenseifner or ring on opaque data: recursive doubling); without
/// `forced`, `choose_allreduce`.
constexpr AllreduceAlgorithm allreduce_algorithm(const Payload& payload, int ranks,
                                                 std::optional<AllreduceAlgorithm> forced) {
  if (!forced) return choose_allreduce(payload, ranks);
  switch (*forced) {
    case AllreduceAlgorithm::ring:
      if (payload.layout == Layout::order_free_elements) return *forced;
      return payload.contiguous() ? AllreduceAlgorithm::rabenseifner
                                  : AllreduceAlgorithm::recursive_doubling;
    case AllreduceAlgorithm::rabenseifner:
      return payload.contiguous() ? *forced : AllreduceAlgorithm::recursive_doubling;
    default:
      return *forced;
  }
}

/// `forced` when it applies (scatter-allgather needs contiguous data of a
/// size every rank knows, else the hypercube), else `choose_broadcast`.
constexpr BroadcastAlgorithm broadcast_algorithm(const Payload& payload, int ranks,
                                                 std::optional<BroadcastAlgorithm> forced) {
  if (!forced) return choose_broadcast(payload, ranks);
  if (*forced == BroadcastAlgorithm::scatter_allgather && !payload.contiguous()) {
    return BroadcastAlgorithm::hypercube;
  }
  return *forced;
}

/// `forced`, else `choose_barrier`.
constexpr BarrierAlgorithm barrier_algorithm(int ranks, std::optional<BarrierAlgorithm> forced) {
  return forced ? *forced : choose_barrier(ranks);
}

/// `forced` (every allgather algorithm handles every payload), else
/// `choose_allgather`.
constexpr AllgatherAlgorithm allgather_algorithm(const Payload& payload, int ranks,
                                                 std::optional<AllgatherAlgorithm> forced) {
  return forced ? *forced : choose_allgather(payload, ranks);
}

}  // namespace rmpi::collectives
