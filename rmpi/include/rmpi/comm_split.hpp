#pragma once
/// comm_split (the reference's `rmpi-comm-split`).
#include <rmpi/comm.hpp>

namespace rmpi {

/// Collective over `comm`: returns the communicator of the ranks that passed
/// the same `color`, where each rank's new id is its `key`. Within one color
/// the keys must be 0 .. n-1 (n = ranks of that color) in any order: a key
/// used twice, or a key outside 0 .. n-1, is an rmpi::Error on every rank,
/// naming the key and the color. The new communicator's messages never mix
/// with its parent's.
Comm comm_split(const Comm& comm, int color, int key);

}  // namespace rmpi
