#pragma once
/// Hostfile parsing: Open MPI syntax (`host slots=N max_slots=M`, `count=`/`cpu=`, `user@host`)
/// and MPICH syntax (`host:N`, `user=name`), mixed freely in one file.
#include <filesystem>
#include <string_view>
#include <vector>

#include <rmpi/launcher/host_entry.hpp>

namespace rmpi::launcher {

/// Reads and parses a hostfile. Throws rmpi::ConfigError naming the file if it cannot be read,
/// or `<file>:<line>: <what is wrong> '<token>'` for a bad line.
std::vector<HostEntry> parse_hostfile(const std::filesystem::path& file);

/// Parses hostfile text; `file_name` is used in error messages and origins. `#` starts a
/// comment, blank lines are skipped, and lines naming the same entry again add their slots to
/// the first one (which keeps its position). A line without a count is SlotSource::topology
/// (the host's core count, as in Open MPI), except in a file that uses MPICH's `host:N`
/// anywhere: there it is 1 slot, as in MPICH.
std::vector<HostEntry> parse_hostfile_text(std::string_view text, std::string_view file_name);

}  // namespace rmpi::launcher
