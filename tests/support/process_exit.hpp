#pragma once
// Waiting for processes to end without polling: a pidfd per process (any
// process, not only a child) becomes readable when it ends, so a test waits
// on that, bounded, instead of sleeping between looks.
#include <sys/types.h>

#include <chrono>
#include <optional>
#include <vector>

namespace rmpi::testing {

/// Waits at most `limit` until every process in `pids` has ended (a pid
/// that is already gone counts as ended); returns those still running.
std::vector<pid_t> wait_until_gone(const std::vector<pid_t>& pids, std::chrono::milliseconds limit);

/// True once `pid` has ended, waiting at most `limit`.
bool process_gone(pid_t pid, std::chrono::milliseconds limit = std::chrono::seconds(15));

/// Reaps the child `pid`, waiting at most `limit`; its wait status, or
/// nullopt if it is still running then.
std::optional<int> reap_child(pid_t pid, std::chrono::milliseconds limit);

}  // namespace rmpi::testing
