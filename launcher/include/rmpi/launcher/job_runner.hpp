#pragma once
/// Runs a planned job: starts a node per host, launches every rank with its
/// environment, forwards output line by line, and ends the whole job on the
/// first failure, a signal, a timeout or a lost node.
#include <rmpi/launcher/job_layout.hpp>
#include <rmpi/launcher/launch_spec.hpp>

namespace rmpi::launcher {

/// Runs the job and returns rmpirun's exit status: 0 when every rank exited
/// 0; else the first failing rank's status (128+n for signal n), 128+n when
/// rmpirun got signal n, 124 on --timeout, 1 when the job could not start.
int run_job(const LaunchSpec& spec, const JobLayout& layout);

}  // namespace rmpi::launcher
