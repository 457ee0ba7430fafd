#pragma once
/// The cap on ranks per host (--max-ranks-per-host): a typo such as
/// `-n 999999 --oversubscribe` fails at once instead of exhausting the machine.
#include <rmpi/launcher/job_layout.hpp>

namespace rmpi::launcher {

/// The most ranks per host when not given: the lower of 1024 and this host's
/// process limit (kernel pid_max and threads-max, RLIMIT_NPROC, the cgroup's pids.max).
int default_max_ranks_per_host();

/// Throws ConfigError naming the host, the count and the option when any
/// host of `layout` gets more than `max` ranks. `given`: the user chose `max`.
void check_ranks_per_host(const JobLayout& layout, int max, bool given);

}  // namespace rmpi::launcher
