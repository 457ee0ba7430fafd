#pragma once
/// Runs a job: starts a node per host (first those whose slots come from their topology, to
/// learn them: host_slots.hpp), maps the ranks (plan_job), launches every rank with its
/// environment, forwards output line by line, and ends the whole job on the
/// first failure, a signal, a timeout or a lost node.
#include <vector>

#include <rmpi/launcher/host_entry.hpp>
#include <rmpi/launcher/job_layout.hpp>
#include <rmpi/launcher/launch_spec.hpp>

namespace rmpi::launcher {

/// Runs the job and returns rmpirun's exit status: 0 when every rank exited
/// 0; else the first failing rank's status (128+n for signal n), 128+n when
/// rmpirun got signal n, 124 on --timeout, 1 when the job could not start.
/// `hosts`: resolve_hosts(spec). Mapping errors (ConfigError) come after the nodes whose
/// topology they need have started; those nodes end with the job.
int run_job(const LaunchSpec& spec, std::vector<HostEntry> hosts);

}  // namespace rmpi::launcher
