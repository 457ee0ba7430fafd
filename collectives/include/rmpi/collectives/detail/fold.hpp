#pragma once
/// MPICH's way of running a power-of-two algorithm on any group size p: with
/// p' the largest power of two <= p and rem = p - p', ranks 0 .. 2 rem - 1
/// pair up (2i, 2i + 1); the even rank hands its value to the odd one, which
/// combines them (even first, so rank order holds) and takes part as new
/// rank i; ranks >= 2 rem take part as new rank (rank - rem). New ranks keep
/// the order of the ranks they stand for, so any aligned block of new ranks
/// stands for a contiguous run of ranks. At the end each odd rank hands the
/// result back to its even partner.

namespace rmpi::collectives::detail {

/// The largest power of two <= `size` (`size >= 1`).
constexpr int floor_pow2(int size) {
  int p = 1;
  while (p <= size / 2) p *= 2;
  return p;
}

/// The participants of a folded group of `size` ranks.
struct Fold {
  int pof2;  ///< ranks that take part (a power of two)
  int rem;   ///< size - pof2: the pairs folded into one

  explicit constexpr Fold(int size) : pof2(floor_pow2(size)), rem(size - floor_pow2(size)) {}

  /// Whether `rank` hands its value to `rank + 1` and waits for the result.
  constexpr bool sits_out(int rank) const { return rank < 2 * rem && rank % 2 == 0; }
  /// Whether `rank` first takes in the value of `rank - 1`.
  constexpr bool takes_in(int rank) const { return rank < 2 * rem && rank % 2 == 1; }
  /// The new rank of a participant.
  constexpr int new_rank(int rank) const { return rank < 2 * rem ? rank / 2 : rank - rem; }
  /// The rank that plays new rank `n`.
  constexpr int old_rank(int n) const { return n < rem ? 2 * n + 1 : n + rem; }
};

}  // namespace rmpi::collectives::detail
