#pragma once
// Finding the processes of a test's job by a marker in their environment or
// command line: every case gives its job a unique marker and afterwards
// checks that no process carries it (no orphans, on any "host").
#include <chrono>
#include <string>
#include <vector>

namespace rmpi::testing {

/// Processes other than this one whose environment or command line holds
/// `marker`, each as "<pid>: <command line>".
std::vector<std::string> processes_with(const std::string& marker);

/// Waits (at most `limit`: teardown is asynchronous) until no process
/// carries `marker`; returns those still there (empty = none).
std::vector<std::string> leftovers(const std::string& marker,
                                   std::chrono::milliseconds limit = std::chrono::seconds(10));

}  // namespace rmpi::testing
