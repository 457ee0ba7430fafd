#pragma once
/// Which process of its rank this is, under rmpirun --restart-every: a
/// failed rank is started again at the same rank number, and the new
/// process can tell it is a restart (to reload a checkpoint, say).
namespace rmpi {

inline constexpr const char* kRestartCountEnv = "RMPI_RESTART_COUNT";

/// 0 for a rank's first process, k for the process started after its k-th
/// failure (RMPI_RESTART_COUNT, set by rmpirun --restart-every; 0 if unset).
int restart_count();

namespace detail {
/// Whether the job restarts failed ranks (RMPI_RESTART_COUNT is set): its
/// ranks then link over sockets only, which a new incarnation can replace.
bool restartable();
}  // namespace detail

}  // namespace rmpi
