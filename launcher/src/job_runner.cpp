#include <rmpi/launcher/job_runner.hpp>

#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <filesystem>
#include <functional>
#include <future>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <rmpi/auth.hpp>
#include <rmpi/error.hpp>
#include <rmpi/failure.hpp>
#include <rmpi/incarnation.hpp>
#include <rmpi/launch_env.hpp>
#include <rmpi/launcher/host_slots.hpp>
#include <rmpi/launcher/rank_output.hpp>
#include <rmpi/launcher/node_options.hpp>
#include <rmpi/launcher/output_lines.hpp>
#include <rmpi/launcher/rank_binding.hpp>
#include <rmpi/process_host.hpp>
#include <rmpi/rendezvous.hpp>
#include <rmpi/restart.hpp>

#include <rmpi/restart_schedule.hpp>

extern char** environ;

namespace rmpi::launcher {
namespace {

using Clock = std::chrono::steady_clock;
using places::OutputStream;
using places::ProcessHost;

std::string seconds_text(std::chrono::milliseconds ms) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g s", static_cast<double>(ms.count()) / 1000.0);
  return buf;
}

/// "signal 19 (SIGSTOP)".
std::string signal_text(int sig) {
  const char* abbrev = sigabbrev_np(sig);
  return "signal " + std::to_string(sig) + " (SIG" + std::string(abbrev ? abbrev : "?") + ")";
}

/// The ranks' RMPI_DETECT_TIMEOUT (-x, -genv, else rmpirun's own), so that
/// the launcher and the ranks agree on the detection bound.
std::chrono::milliseconds detection_bound_of(const LaunchSpec& spec) {
  const char* value = std::getenv(kDetectTimeoutEnv);
  for (const auto& [name, v] : spec.env)
    if (name == kDetectTimeoutEnv) value = v.c_str();
  for (const auto& app : spec.apps)
    for (const auto& [name, v] : app.env)
      if (name == kDetectTimeoutEnv) value = v.c_str();
  return rmpi::detail::parse_detection_bound(value);
}

/// Work posted by I/O callbacks and signal/stdin threads, run by the main thread.
class EventQueue {
 public:
  void post(std::function<void()> fn) {
    {
      std::lock_guard lock(mu_);
      q_.push_back(std::move(fn));
    }
    cv_.notify_one();
  }
  /// Runs queued work; waits until `deadline` for some if none is queued.
  void run_until(Clock::time_point deadline) {
    std::deque<std::function<void()>> batch;
    {
      std::unique_lock lock(mu_);
      cv_.wait_until(lock, deadline, [&] { return !q_.empty(); });
      batch.swap(q_);
    }
    for (auto& fn : batch) fn();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> q_;
};

/// Stdin flow control: at most kWindow bytes read from our stdin and not yet
/// written to rank 0 (acknowledged by its node); the reader waits for room.
struct StdinWindow {
  static constexpr std::size_t kWindow = 1u << 20;
  std::mutex mu;
  std::condition_variable cv;
  std::size_t in_flight = 0;

  void acquire(std::size_t n) {
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return in_flight < kWindow; });
    in_flight += n;
  }
  void release(std::size_t n) {
    {
      std::lock_guard lock(mu);
      in_flight -= std::min(in_flight, n);
    }
    cv.notify_all();
  }
};

struct RankState {
  int host_index = 0;
  bool done = false;  // exited, failed to start, or lost with its node
  int status = -1;
  std::string how;  // for --print-all-exitcodes
  RankOutput output;
  // Stopped (SIGSTOP, SIGTSTP...) and not continued: killed at stop_deadline.
  int stop_signal = 0;
  std::optional<Clock::time_point> stop_deadline;
  bool killed_for_stop = false;
  // --restart-every: the rank's Restarter decisions, and the restart due (at restart_at).
  std::optional<places::detail::RestartSchedule> schedule;
  std::optional<Clock::time_point> restart_at;
  int restarts = 0;  // processes started after a failure: the current one's RMPI_RESTART_COUNT
};

class Job {
 public:
  Job(const LaunchSpec& spec, std::vector<HostEntry> hosts)
      : spec_(spec), start_(Clock::now()) {
    layout_.hosts = std::move(hosts);
  }

  int run();

 private:
  void verbose(const std::string& what) {
    if (!spec_.verbose) return;
    const double t = std::chrono::duration<double>(Clock::now() - start_).count();
    char buf[32];
    std::snprintf(buf, sizeof buf, "[%8.3f s] ", t);
    write_all(2, "rmpirun: " + std::string(buf) + what + "\n");
  }
  const std::string& host_label(int rank) const {
    return layout_.hosts[static_cast<std::size_t>(ranks_[static_cast<std::size_t>(rank)].host_index)].name;
  }
  places::ProcessHostEvents events_for(int host_index);
  void start_nodes(const std::vector<int>& host_indexes);
  void plan();
  void launch_ranks();
  void launch_rank(const RankPlacement& p);
  /// Starts again the ranks whose restart is due (--restart-every).
  void restart_due_ranks();
  void rank_ended(int rank, int status, const std::string& how, bool failure);
  void rank_stopped(int rank, int signal);
  /// Kills the ranks stopped for longer than the detection bound; their end
  /// then fails the job (or, supervised, is a rank failure the others handle).
  void kill_stopped_ranks();
  void end_job(int status, const std::string& line);
  /// " while ranks 1, 3 never reached init" when `rank` failed in init
  /// waiting for them (they never came to the rendezvous), else "".
  std::string never_arrived(int rank) const;
  bool all_done() const {
    for (const auto& r : ranks_)
      if (!r.done || r.restart_at) return false;
    return true;
  }
  std::vector<std::pair<std::string, std::string>> rank_env(int rank) const;

  const LaunchSpec& spec_;
  JobLayout layout_;  // the hosts, then (plan) every rank's placement
  Clock::time_point start_;
  // Shared with the detached signal and stdin threads, which outlive the job
  // (they block in sigwait and read): what they post after run() is never run.
  std::shared_ptr<EventQueue> queue_ = std::make_shared<EventQueue>();
  std::vector<RankState> ranks_;
  std::vector<std::unique_ptr<ProcessHost>> nodes_;  // by host index; null: no node there
  std::unique_ptr<rmpi::RendezvousServer> rendezvous_;
  std::vector<RankCpus> cpus_;  // by rank, from the topology each node reported
  std::string job_id_;
  bool ending_ = false;
  std::optional<int> exit_status_;
  std::optional<int> first_failure_;  // --supervise: the first rank failure, which did not end the job
  std::optional<Clock::time_point> kill_deadline_;
  std::shared_ptr<StdinWindow> stdin_window_ = std::make_shared<StdinWindow>();
  std::chrono::milliseconds detection_bound_{0};  // RMPI_DETECT_TIMEOUT: how long a rank may stay stopped
};

places::ProcessHostEvents Job::events_for(int host_index) {
  places::ProcessHostEvents ev;
  ev.on_started = [this](std::uint32_t id, int pid) {
    queue_->post([this, id, pid] { verbose("rank " + std::to_string(id) + " started, pid " + std::to_string(pid)); });
  };
  ev.on_failed = [this](std::uint32_t id, const std::string& reason) {
    queue_->post([this, id, reason] {
      rank_ended(static_cast<int>(id), 127, "failed to start: " + reason, true);
    });
  };
  ev.on_output = [this](std::uint32_t id, OutputStream s, std::span<const std::byte> bytes) {
    std::vector<std::byte> copy(bytes.begin(), bytes.end());
    queue_->post([this, id, s, copy = std::move(copy)] { ranks_.at(id).output.feed(s, copy); });
  };
  ev.on_stdin_written = [window = stdin_window_](std::uint32_t, std::size_t bytes) {
    window->release(bytes);
  };
  ev.on_stopped = [this](std::uint32_t id, int signal) {
    queue_->post([this, id, signal] { rank_stopped(static_cast<int>(id), signal); });
  };
  ev.on_continued = [this](std::uint32_t id) {
    queue_->post([this, id] {
      RankState& r = ranks_.at(id);
      if (r.killed_for_stop) return;
      r.stop_deadline.reset();
      verbose("rank " + std::to_string(id) + " continued");
    });
  };
  ev.on_exited = [this](std::uint32_t id, int status, int signal) {
    queue_->post([this, id, status, signal] {
      const RankState& r = ranks_.at(id);
      if (r.killed_for_stop && signal == SIGKILL) {
        // Blamed on the stop, which is what went wrong, as a shell reports a stopped job.
        rank_ended(static_cast<int>(id), 128 + r.stop_signal,
                   "was stopped by " + signal_text(r.stop_signal) + " and not continued within " +
                       seconds_text(detection_bound_),
                   true);
        return;
      }
      std::string how = signal ? "was killed by " + signal_text(signal)
                               : "exited with status " + std::to_string(status);
      rank_ended(static_cast<int>(id), status, how, status != 0);
    });
  };
  ev.on_lost = [this, host_index](const std::string& reason) {
    queue_->post([this, host_index, reason] {
      bool had_live_rank = false;
      for (std::size_t i = 0; i < ranks_.size(); ++i) {
        if (ranks_[i].host_index != host_index || ranks_[i].done) continue;
        had_live_rank = true;
        ranks_[i].done = true;
        ranks_[i].status = 1;
        ranks_[i].how = "lost with its node";
      }
      if (had_live_rank && !ending_)
        end_job(1, "rmpirun: lost the node on " + nodes_[static_cast<std::size_t>(host_index)]->host() + ": " + reason);
    });
  };
  return ev;
}

std::vector<std::pair<std::string, std::string>> Job::rank_env(int rank) const {
  const auto& p = layout_.ranks[static_cast<std::size_t>(rank)];
  const auto& host = *nodes_[static_cast<std::size_t>(p.host_index)];
  const std::string n = std::to_string(layout_.ranks.size());
  std::vector<std::pair<std::string, std::string>> env = {
      {"RMPI_RANK", std::to_string(rank)},
      {"RMPI_SIZE", n},
      {"RMPI_LOCAL_RANK", std::to_string(p.local_rank)},
      {"RMPI_LOCAL_SIZE", std::to_string(p.local_size)},
      {"RMPI_NODE_ID", std::to_string(p.node_id)},
      {"RANK", std::to_string(rank)},
      {"WORLD_SIZE", n},
      {"LOCAL_RANK", std::to_string(p.local_rank)},
      {"LOCAL_WORLD_SIZE", std::to_string(p.local_size)},
      // What scripts written for MPICH and Open MPI read.
      {"PMI_RANK", std::to_string(rank)},
      {"PMI_SIZE", n},
      {"OMPI_COMM_WORLD_RANK", std::to_string(rank)},
      {"OMPI_COMM_WORLD_SIZE", n},
      {"OMPI_COMM_WORLD_LOCAL_RANK", std::to_string(p.local_rank)},
      {"OMPI_COMM_WORLD_LOCAL_SIZE", std::to_string(p.local_size)},
      {"RMPI_JOB_ID", job_id_},
      {"RMPI_ADVERTISE", host.address()},
      {"RMPI_RENDEZVOUS", host.local_address() + ":" + std::to_string(rendezvous_->port())},
  };
  // --iface names an interface, subnet or address; each rank resolves it on its own host.
  if (!spec_.iface.empty()) env.emplace_back("RMPI_IFACE", spec_.iface);
  if (spec_.supervise) env.emplace_back("RMPI_SUPERVISED", "1");
  // Open MPI's mpi_yield_when_idle: from the host's cores, not the rank's (a bound rank has one).
  if (const auto& over = cpus_[static_cast<std::size_t>(rank)].oversubscribed)
    env.emplace_back(kYieldWhenIdleEnv, *over ? "1" : "0");
  if (spec_.restart_every)
    env.emplace_back(kRestartCountEnv, std::to_string(ranks_[static_cast<std::size_t>(rank)].restarts));
  if (spec_.ports.first != 0)
    env.emplace_back("RMPI_PORT_RANGE", std::to_string(spec_.ports.first) + "-" +
                                            std::to_string(spec_.ports.last));
  // -envall, then -genv, then the part's -x: a later setting of a name wins.
  if (spec_.env_all) {
    std::vector<std::pair<std::string, std::string>> own;
    own.swap(env);
    for (char** e = environ; *e; ++e) {
      const std::string_view kv(*e);
      const auto eq = kv.find('=');
      // The rank's job secret is its node's, never one rmpirun may have inherited.
      if (eq != std::string_view::npos && kv.substr(0, eq) != auth::kSecretEnv)
        env.emplace_back(kv.substr(0, eq), kv.substr(eq + 1));
    }
    env.insert(env.end(), own.begin(), own.end());
  }
  for (const auto& kv : spec_.env) env.push_back(kv);
  for (const auto& kv : app_of_rank(spec_, rank).env) env.push_back(kv);
  return env;
}

void Job::start_nodes(const std::vector<int>& host_indexes) {
  nodes_.resize(layout_.hosts.size());
  const places::ProcessHostOptions opt = node_options(spec_);

  // Start nodes in parallel, at most kConcurrency SSH sessions being set up at once.
  constexpr std::size_t kConcurrency = 16;
  std::vector<std::string> errors(host_indexes.size());
  std::atomic<std::size_t> next{0};
  std::vector<std::thread> workers;
  for (std::size_t w = 0; w < std::min(kConcurrency, host_indexes.size()); ++w) {
    workers.emplace_back([&] {
      for (std::size_t i; (i = next++) < host_indexes.size();) {
        const auto host = static_cast<std::size_t>(host_indexes[i]);
        try {
          nodes_[host] = std::make_unique<ProcessHost>(layout_.hosts[host].name, opt,
                                                       events_for(host_indexes[i]));
        } catch (const std::exception& e) {
          errors[i] = e.what();
        }
      }
    });
  }
  for (auto& t : workers) t.join();
  for (const auto& error : errors)
    if (!error.empty()) throw SpawnError(error);
  for (const int host : host_indexes) {
    const auto& n = nodes_[static_cast<std::size_t>(host)];
    verbose("node on " + n->host() + " up at " + n->address() + ":" + std::to_string(n->port()));
  }
}

void Job::plan() {
  // Slots not written come from the hosts' topologies: their nodes start first (Open MPI too
  // starts its daemons before it maps).
  start_nodes(hosts_needing_topology(spec_, layout_.hosts));
  for (const auto& warning : fill_topology_slots(spec_, layout_.hosts, [this](int host_index) {
         return nodes_[static_cast<std::size_t>(host_index)]->host_facts();
       }))
    write_all(2, warning + "\n");
  layout_ = plan_job(spec_, std::move(layout_.hosts));
  std::vector<bool> used(layout_.hosts.size(), false);
  for (const auto& r : layout_.ranks) used[static_cast<std::size_t>(r.host_index)] = true;
  std::vector<int> missing;
  for (std::size_t h = 0; h < used.size(); ++h) {
    if (!used[h]) nodes_[h].reset();  // asked for its topology, runs no rank
    else if (!nodes_[h]) missing.push_back(static_cast<int>(h));
  }
  start_nodes(missing);

  const OutputOptions output{.tag = spec_.tag_output,
                             .timestamp = spec_.timestamp_output,
                             .merge_stderr = spec_.merge_stderr_to_stdout,
                             .dir = spec_.output_dir,
                             .world_size = static_cast<int>(layout_.ranks.size())};
  for (const auto& r : layout_.ranks)
    ranks_.push_back(RankState{.host_index = r.host_index, .done = false, .status = -1, .how = {},
                               .output = RankOutput(r.rank, output), .stop_signal = 0, .stop_deadline = {},
                               .killed_for_stop = false, .schedule = {}, .restart_at = {}, .restarts = 0});
}

void Job::launch_ranks() {
  for (const auto& p : layout_.ranks) {
    if (spec_.report_bindings)
      write_all(2, binding_report(p.rank, host_label(p.rank), cpus_[static_cast<std::size_t>(p.rank)]));
    launch_rank(p);
  }
  std::string programs;
  for (const auto& app : spec_.apps) programs += (programs.empty() ? "" : " : ") + app.program;
  verbose("launched " + std::to_string(layout_.ranks.size()) + " ranks of " + programs);
}

void Job::launch_rank(const RankPlacement& p) {
  const std::filesystem::path cwd = std::filesystem::current_path();
  const AppContext& app = app_of_rank(spec_, p.rank);
  places::ProcessLaunch l;
  l.id = static_cast<std::uint32_t>(p.rank);
  l.argv.push_back(app.program);
  l.argv.insert(l.argv.end(), app.args.begin(), app.args.end());
  l.env = rank_env(p.rank);
  l.cwd = app.wdir.empty() ? cwd.string() : (cwd / app.wdir).lexically_normal().string();
  l.forward_stdin = p.rank == 0;
  const RankCpus& cpus = cpus_[static_cast<std::size_t>(p.rank)];
  if (cpus.bound) l.cpus = cpus.cpus;
  nodes_[static_cast<std::size_t>(p.host_index)]->launch(l);
}

void Job::restart_due_ranks() {
  const auto now = Clock::now();
  for (std::size_t i = 0; i < ranks_.size(); ++i) {
    RankState& r = ranks_[i];
    if (!r.restart_at || (*r.restart_at > now && !ending_)) continue;
    r.restart_at.reset();
    if (ending_) continue;  // the job ends: no restart
    r.done = false;
    r.status = -1;
    r.how.clear();
    r.stop_signal = 0;
    r.stop_deadline.reset();
    r.killed_for_stop = false;
    ++r.restarts;
    r.schedule->started(now);
    verbose("restarting rank " + std::to_string(i) + " (restart " + std::to_string(r.restarts) + ")");
    launch_rank(layout_.ranks[i]);
  }
}

void Job::rank_ended(int rank, int status, const std::string& how, bool failure) {
  RankState& r = ranks_.at(static_cast<std::size_t>(rank));
  if (r.done) return;
  r.done = true;
  r.status = status;
  r.how = how;
  // Output that lacked a final newline is flushed with the rank's end.
  r.output.finish();
  if (failure && !ending_ && spec_.supervise) {
    // Supervised: reported, and restarted under --restart-every, or the job goes on without it.
    const std::string line = "rmpirun: rank " + std::to_string(rank) + " on " + host_label(rank) + " " + how;
    if (!first_failure_) first_failure_ = status;
    if (!r.schedule) {
      write_all(2, line + "; the job goes on (--supervise)\n");
      return;
    }
    const auto now = Clock::now();
    if (const auto restart = r.schedule->exited(now)) {
      r.restart_at = now + restart->delay;
      const std::string of = spec_.max_restarts ? " of " + std::to_string(*spec_.max_restarts) : "";
      write_all(2, line + "; restarting it in " +
                       seconds_text(std::chrono::duration_cast<std::chrono::milliseconds>(restart->delay)) +
                       " (try " + std::to_string(restart->attempt) + of + ")\n");
      return;
    }
    write_all(2, line + "; gave up after " + std::to_string(r.schedule->tries()) +
                     " restarts in a row (--max-restarts); the job goes on (--supervise)\n");
    return;
  }
  if (failure && !ending_)
    end_job(status, "rmpirun: rank " + std::to_string(rank) + " on " + host_label(rank) + " " + how +
                        never_arrived(rank));
}

void Job::rank_stopped(int rank, int signal) {
  RankState& r = ranks_.at(static_cast<std::size_t>(rank));
  if (r.done || r.killed_for_stop) return;
  r.stop_signal = signal;
  r.stop_deadline = Clock::now() + detection_bound_;
  verbose("rank " + std::to_string(rank) + " stopped by " + signal_text(signal) + "; killed unless continued within " +
          seconds_text(detection_bound_));
}

void Job::kill_stopped_ranks() {
  const auto now = Clock::now();
  for (std::size_t i = 0; i < ranks_.size(); ++i) {
    RankState& r = ranks_[i];
    if (r.done || !r.stop_deadline || *r.stop_deadline > now) continue;
    r.stop_deadline.reset();
    r.killed_for_stop = true;
    verbose("rank " + std::to_string(i) + " still stopped after " + seconds_text(detection_bound_) + ": SIGKILL");
    nodes_[static_cast<std::size_t>(r.host_index)]->kill(
        static_cast<std::uint32_t>(i));
  }
}

std::string Job::never_arrived(int rank) const {
  // Only an rmpi rank that reached init's rendezvous waited for the others there.
  const std::vector<std::uint32_t> missing = rendezvous_->wait(std::chrono::milliseconds(0));
  if (missing.empty() || missing.size() == ranks_.size() ||
      std::find(missing.begin(), missing.end(), static_cast<std::uint32_t>(rank)) != missing.end())
    return "";
  std::string list;
  for (const std::uint32_t r : missing) list += (list.empty() ? "" : ", ") + std::to_string(r);
  return " while rank" + std::string(missing.size() > 1 ? "s " : " ") + list + " never reached init";
}

void Job::end_job(int status, const std::string& line) {
  ending_ = true;
  exit_status_ = status;
  write_all(2, line + "\n");
  verbose("ending the job: SIGTERM to every rank, SIGKILL after " +
          std::to_string(spec_.kill_grace.count()) + " ms");
  for (auto& n : nodes_)
    if (n) n->terminate(spec_.kill_grace);
  kill_deadline_ = Clock::now() + spec_.kill_grace + std::chrono::seconds(5);
}

int Job::run() {
  detection_bound_ = detection_bound_of(spec_);  // a bad value fails before anything starts
  job_id_ = auth::make_secret().substr(0, 12);
  plan();
  verbose("job " + job_id_ + ": " + std::to_string(layout_.ranks.size()) + " ranks on " +
          std::to_string(layout_.hosts.size()) + " host entries");
  cpus_ = bind_job(spec_, layout_, [this](int host_index) {
    return nodes_[static_cast<std::size_t>(host_index)]->host_facts();
  });
  if (spec_.display_map) write_all(2, map_table(layout_, cpus_));
  // Ranks reach the rendezvous at the address their node's link comes from:
  // it listens on those addresses only (loopback alone for a local job).
  std::vector<std::string> rendezvous_hosts;
  for (const auto& n : nodes_)
    if (n && std::find(rendezvous_hosts.begin(), rendezvous_hosts.end(), n->local_address()) ==
                 rendezvous_hosts.end())
      rendezvous_hosts.push_back(n->local_address());
  rendezvous_ = std::make_unique<rmpi::RendezvousServer>(
      rendezvous_hosts, static_cast<std::uint16_t>(spec_.ports.first), auth::job_secret(),
      static_cast<std::uint32_t>(layout_.ranks.size()));
  verbose("rendezvous listening on port " + std::to_string(rendezvous_->port()));
  if (spec_.restart_every) {
    const places::Restarter restarter = places::restart_every(
        std::chrono::duration<double>(*spec_.restart_every).count(), spec_.max_restarts);
    for (auto& r : ranks_) r.schedule.emplace(restarter, Clock::now());
  }
  launch_ranks();

  // SIGINT/SIGTERM/SIGHUP (blocked in every thread by main) end the job.
  std::thread([this, queue = queue_] {
    sigset_t set;
    sigemptyset(&set);
    for (int sig : {SIGINT, SIGTERM, SIGHUP}) sigaddset(&set, sig);
    for (;;) {
      int sig = 0;
      if (sigwait(&set, &sig) != 0) continue;
      queue->post([this, sig] {
        if (ending_) return;
        end_job(128 + sig, std::string("rmpirun: got SIG") + sigabbrev_np(sig) + "; ending every rank");
      });
    }
  }).detach();

  // stdin goes to rank 0; a reader thread forwards it until EOF.
  ProcessHost* rank0_host = nodes_[static_cast<std::size_t>(layout_.ranks[0].host_index)].get();
  std::thread([rank0_host, this, queue = queue_, window = stdin_window_] {
    std::vector<std::byte> buf(65536);
    for (;;) {
      const ssize_t n = ::read(0, buf.data(), buf.size());
      if (n < 0 && errno == EINTR) continue;
      const std::size_t len = n > 0 ? static_cast<std::size_t>(n) : 0;
      // Back-pressure: no more is read while the window is full (rank 0 not reading).
      if (len > 0) window->acquire(len);
      std::vector<std::byte> chunk(buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(len));
      queue->post([this, rank0_host, chunk = std::move(chunk)] {
        if (!ranks_[0].done) rank0_host->write_stdin(0, chunk);
      });
      if (len == 0) return;
    }
  }).detach();

  // No --timeout: a deadline that never comes.
  const Clock::time_point timeout_at =
      spec_.timeout ? start_ + *spec_.timeout : Clock::time_point::max();
  while (!all_done()) {
    auto deadline = Clock::now() + std::chrono::seconds(1);
    if (!ending_) deadline = std::min(deadline, timeout_at);
    if (kill_deadline_) deadline = std::min(deadline, *kill_deadline_);
    for (const auto& r : ranks_) {
      if (r.stop_deadline) deadline = std::min(deadline, *r.stop_deadline);
      if (r.restart_at) deadline = std::min(deadline, *r.restart_at);
    }
    queue_->run_until(deadline);
    kill_stopped_ranks();
    restart_due_ranks();
    if (!ending_ && Clock::now() >= timeout_at)
      end_job(124, "rmpirun: job timed out after " + seconds_text(*spec_.timeout) +
                       "; ending every rank");
    if (kill_deadline_ && Clock::now() >= *kill_deadline_) {
      write_all(2, "rmpirun: some ranks did not report their end; dropping their nodes\n");
      break;
    }
  }
  if (spec_.print_all_exitcodes)
    for (std::size_t i = 0; i < ranks_.size(); ++i)
      write_all(2, "rmpirun: rank " + std::to_string(i) + " on " + host_label(static_cast<int>(i)) +
                       " " + (ranks_[i].done ? ranks_[i].how : "did not report its end") + "\n");
  verbose("job done");
  nodes_.clear();  // drops every node's parent link: nodes end and exit
  // --supervise: rank 0's status, or the first failure's if rank 0 failed; with
  // --restart-every, 0 when every rank (restarted or not) ended 0, else the first failure's.
  const bool failed_at_end = spec_.restart_every ? std::any_of(ranks_.begin(), ranks_.end(), [](const RankState& r) {
    return r.status != 0;
  })
                                                 : ranks_[0].status != 0;
  if (!exit_status_ && first_failure_ && failed_at_end) exit_status_ = first_failure_;
  return exit_status_.value_or(0);
}

}  // namespace

int run_job(const LaunchSpec& spec, std::vector<HostEntry> hosts) {
  Job job(spec, std::move(hosts));
  return job.run();
}

}  // namespace rmpi::launcher
