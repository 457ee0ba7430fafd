#include <rmpi/launch.hpp>

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <future>
#include <string_view>
#include <thread>
#include <utility>

#include <rmpi/auth.hpp>
#include <rmpi/collective.hpp>
#include <rmpi/error.hpp>
#include <rmpi/failure.hpp>
#include <rmpi/init.hpp>
#include <rmpi/launch_env.hpp>
#include <rmpi/node.hpp>
#include <rmpi/place.hpp>
#include <rmpi/rendezvous.hpp>
#include <rmpi/ssh.hpp>

#include "net.hpp"

namespace rmpi {

namespace {

using Clock = std::chrono::steady_clock;
namespace pl = places;

/// How long the places may take to exit after rank 0's (done).
constexpr auto kExitGrace = std::chrono::seconds(10);

void check_count(const char* what, int cnt, int start_port) {
  if (cnt < 0)
    throw ConfigError(std::string("rmpi::") + what + ": count " + std::to_string(cnt) + " is negative");
  if (!pl::port_no(start_port) || (start_port > 0 && !pl::port_no(start_port + cnt - 1)))
    throw ConfigError(std::string("rmpi::") + what + ": start port " + std::to_string(start_port) +
                      " with " + std::to_string(cnt) + " entries leaves 0..65535");
}

/// `base` with every field `over` sets replaced.
DefaultConfig merged(const DefaultConfig& base, const std::optional<DefaultConfig>& over) {
  DefaultConfig c = base;
  if (!over) return c;
  if (!over->node_path.empty()) c.node_path = over->node_path;
  if (!over->launch_path.empty()) c.launch_path = over->launch_path;
  if (!over->mpi_module.empty()) c.mpi_module = over->mpi_module;
  if (!over->mpi_func.empty()) c.mpi_func = over->mpi_func;
  if (!over->mpi_args.is_null()) c.mpi_args = over->mpi_args;
  if (!over->ssh_args.empty()) c.ssh_args = over->ssh_args;
  return c;
}

std::string where(const NodeConfig& e) { return e.host + ":" + std::to_string(e.port); }

/// The entries indexed by id; throws ConfigError for a bad, duplicate or missing id.
std::vector<const NodeConfig*> by_id(const std::vector<NodeConfig>& config) {
  if (config.empty()) throw ConfigError("rmpi::launch: the config has no entries");
  const int n = static_cast<int>(config.size());
  std::vector<const NodeConfig*> out(config.size(), nullptr);
  for (const NodeConfig& e : config) {
    if (e.id < 0 || e.id >= n)
      throw ConfigError("rmpi::launch: the entry for " + where(e) + " has id " + std::to_string(e.id) +
                        ", not in 0.." + std::to_string(n - 1));
    auto& slot = out[static_cast<std::size_t>(e.id)];
    if (slot)
      throw ConfigError("rmpi::launch: id " + std::to_string(e.id) + " appears twice (" + where(*slot) +
                        " and " + where(e) + ")");
    if (!pl::port_no(e.port))
      throw ConfigError("rmpi::launch: id " + std::to_string(e.id) + " on " + e.host + " has port " +
                        std::to_string(e.port) + ", not in 0..65535");
    if (e.host.empty()) throw ConfigError("rmpi::launch: id " + std::to_string(e.id) + " has no host");
    if (e.name.empty())
      throw ConfigError("rmpi::launch: id " + std::to_string(e.id) + " on " + e.host + " has no place name");
    slot = &e;
  }
  return out;
}

struct Spawned {
  pl::RemoteNode node;
  pl::RemoteConnection place;
};

Spawned spawn_rank(const NodeConfig& e, const DefaultConfig& c) {
  pl::NodeOptions node_options;
  node_options.listen_port = e.port;
  node_options.node_path = c.node_path;
  node_options.launch_path = c.launch_path;
  node_options.ssh_args = c.ssh_args;
  pl::PlaceOptions place_options;
  place_options.named = e.name;
  const std::string prefix = "rmpi::launch: rank " + std::to_string(e.id) + " on " + e.host + ": ";
  try {
    pl::RemoteNode node = pl::spawn_remote_node(e.host, node_options);
    try {
      pl::RemoteConnection place = node.launch_place({c.mpi_module, c.mpi_func, false}, place_options);
      return {node, place};
    } catch (...) {
      node.send_exit();
      throw;
    }
  } catch (const NameError& err) {
    throw NameError(prefix + err.what());
  } catch (const std::exception& err) {
    throw SpawnError(prefix + err.what());
  }
}

bool is_done(const pl::Value& v) {
  return v.is_symbol("done") || (v.is_list() && v.size() == 1 && v[0].is_symbol("done"));
}

const pl::Value& field(const pl::Value& msg, std::size_t i, const char* what) {
  if (!msg.is_list() || msg.size() <= i)
    throw ProtocolError(std::string("rmpi::init: malformed ") + what + " message from the launcher: " +
                        msg.to_string());
  return msg[i];
}

/// A non-negative number from the environment variable `name`, or `def` when unset.
long env_number(const char* name, long def) {
  const char* v = std::getenv(name);
  if (!v || !*v) return def;
  char* end = nullptr;
  const long n = std::strtol(v, &end, 10);
  if (*end != '\0' || n < 0)
    throw ConfigError("rmpi::init: " + std::string(name) + "='" + v + "' is not a non-negative number");
  return n;
}

}  // namespace

DefaultConfig build_default_config(DefaultConfig config) {
  if (config.node_path.empty()) config.node_path = pl::node_path();
  if (config.mpi_module.empty()) config.mpi_module = pl::executable_path();
  return config;
}

std::vector<NodeConfig> make_localhost_config(int cnt, int start_port, const std::string& name) {
  check_count("make_localhost_config", cnt, start_port);
  std::vector<NodeConfig> out;
  for (int i = 0; i < cnt; ++i)
    out.push_back({"localhost", start_port == 0 ? 0 : start_port + i, name + std::to_string(i), i, {}});
  return out;
}

std::vector<NodeConfig> make_remote_config(const std::vector<std::string>& hosts, int cnt,
                                           int start_port, const std::string& name) {
  check_count("make_remote_config", cnt, start_port);
  std::vector<NodeConfig> out;
  int id = 0;
  for (const std::string& host : hosts) {
    if (host.empty()) throw ConfigError("rmpi::make_remote_config: an empty host name");
    for (int j = 0; j < cnt; ++j, ++id)
      out.push_back({host, start_port == 0 ? 0 : start_port + j, name + std::to_string(id), id, {}});
  }
  return out;
}

/// What happens to a launched job, in the order the watchers see it.
struct JobEvent {
  enum class Kind : std::uint8_t {
    ended,        // a place ended with `status`
    lost,         // a place's node was lost (`why`)
    done,         // rank 0 sent (done)
    never_done,   // rank 0's channel closed without (done)
    stopped,      // a place's node saw it stopped by signal `status`
    continued,    // ... and continued
  };
  Kind kind = Kind::ended;
  std::size_t id = 0;
  int status = 0;
  std::string why;
  Clock::time_point at = Clock::now();
};

/// "signal 19 (SIGSTOP)".
std::string signal_text(int sig) {
  const char* abbrev = sigabbrev_np(sig);
  return "signal " + std::to_string(sig) + " (SIG" + std::string(abbrev ? abbrev : "?") + ")";
}

std::string seconds_text(std::chrono::milliseconds ms) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g s", static_cast<double>(ms.count()) / 1000.0);
  return buf;
}

/// The watchers post, LaunchedJob::wait takes, first come first served.
class JobEvents {
 public:
  void post(JobEvent e) {
    {
      std::lock_guard lock(mu_);
      q_.push_back(std::move(e));
    }
    cv_.notify_all();
  }
  /// The next event, or nothing once `deadline` passed.
  std::optional<JobEvent> next(Clock::time_point deadline) {
    std::unique_lock lock(mu_);
    if (!cv_.wait_until(lock, deadline, [&] { return !q_.empty(); })) return std::nullopt;
    JobEvent e = std::move(q_.front());
    q_.pop_front();
    return e;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<JobEvent> q_;
};

struct LaunchedJob::State {
  std::unique_ptr<RendezvousServer> rendezvous;
  std::vector<std::string> hosts;  // by id
  std::vector<pl::RemoteNode> nodes;
  std::vector<pl::RemoteConnection> places;
  bool waited = false;
  // One thread per place waits for its end, one for rank 0's (done); they
  // hold copies of the connections and the queue, never the State.
  std::shared_ptr<JobEvents> events = std::make_shared<JobEvents>();
  std::vector<std::thread> watchers;
  // RMPI_DETECT_TIMEOUT: how long a rank may stay stopped (SIGSTOP...) before
  // it is killed and the job fails, as under rmpirun.
  std::chrono::milliseconds detection_bound{0};

  std::string describe(std::size_t id) const {
    const bool known = id < nodes.size() && nodes[id].valid();
    const std::string port = known ? ":" + std::to_string(nodes[id].port()) : "";
    return "rank " + std::to_string(id) + " on " + hosts[id] + port;
  }

  /// The places' nodes report their stops and continues (from the start, so
  /// a stop before wait() counts from when it happened).
  void watch_stops() {
    for (std::size_t id = 0; id < places.size(); ++id)
      places[id].add_on_stop_change([id, events = events](pl::RemoteConnection&, int sig) {
        events->post({sig != 0 ? JobEvent::Kind::stopped : JobEvent::Kind::continued, id, sig, {}});
      });
  }

  void start_watchers() {
    for (std::size_t id = 0; id < places.size(); ++id)
      watchers.emplace_back([id, place = places[id], events = events]() mutable {
        try {
          events->post({JobEvent::Kind::ended, id, place.wait(), {}});
        } catch (const std::exception& e) {
          events->post({JobEvent::Kind::lost, id, 0, e.what()});
        }
      });
    watchers.emplace_back([place = places[0], events = events]() mutable {
      try {
        for (;;)
          if (is_done(place.get<pl::Value>())) return events->post({JobEvent::Kind::done, 0, 0, {}});
      } catch (const std::exception&) {
        events->post({JobEvent::Kind::never_done, 0, 0, {}});
      }
    });
  }

  /// Until rank 0's (done) and every place's end (bounded after done);
  /// throws JobFailed for the first failure, in the order the ends came.
  void watch() {
    start_watchers();
    std::size_t running = places.size();
    bool done = false, rank0_ended = false, rank0_closed = false;
    Clock::time_point deadline = Clock::time_point::max();
    // Ranks stopped and not continued: their stop signal and when they are killed.
    std::vector<std::pair<int, Clock::time_point>> stopped(places.size(), {0, Clock::time_point::max()});
    while (!done || running > 0) {
      Clock::time_point next_deadline = deadline;
      for (const auto& [sig, kill_at] : stopped) next_deadline = std::min(next_deadline, kill_at);
      const std::optional<JobEvent> e = events->next(next_deadline);
      if (!e) {
        fail_stopped_ranks(stopped);  // throws for a rank stopped past the bound
        detail::log_line("warning", "rmpi::launch",
                         "places still running " + std::to_string(kExitGrace.count()) +
                             " s after finish; ending their nodes");
        return;
      }
      const char* when = done ? "after finish" : "before rank 0 called finish";
      const int id = static_cast<int>(e->id);
      switch (e->kind) {
        case JobEvent::Kind::ended:
          --running;
          stopped[e->id] = {0, Clock::time_point::max()};
          if (e->status != 0)
            throw JobFailed(id, e->status, "rmpi::launch: " + describe(e->id) + " exited with status " +
                                               std::to_string(e->status) + " " + when);
          rank0_ended = rank0_ended || e->id == 0;
          break;
        case JobEvent::Kind::lost:
          throw JobFailed(id, std::nullopt,
                          "rmpi::launch: " + describe(e->id) + " was lost (" + e->why + ") " + when);
        case JobEvent::Kind::done:
          done = true;
          deadline = Clock::now() + kExitGrace;
          break;
        case JobEvent::Kind::never_done:
          rank0_closed = true;
          break;
        case JobEvent::Kind::stopped:
          stopped[e->id] = {e->status, e->at + detection_bound};
          break;
        case JobEvent::Kind::continued:
          stopped[e->id] = {0, Clock::time_point::max()};
          break;
      }
      // Rank 0 ended well, and its channel closed with no (done) on it.
      if (!done && rank0_ended && rank0_closed)
        throw JobFailed(0, 0, "rmpi::launch: " + describe(0) + " ended without calling rmpi::finish(comm, tc)");
    }
  }

  /// A rank still stopped at its deadline is killed and fails the job,
  /// blamed on the stop, as a shell reports a stopped job.
  void fail_stopped_ranks(const std::vector<std::pair<int, Clock::time_point>>& stopped) {
    const auto now = Clock::now();
    for (std::size_t id = 0; id < stopped.size(); ++id) {
      const auto& [sig, kill_at] = stopped[id];
      if (kill_at > now) continue;
      places[id].kill();  // SIGKILL ends a stopped process
      throw JobFailed(static_cast<int>(id), 128 + sig,
                      "rmpi::launch: " + describe(id) + " was stopped by " + signal_text(sig) +
                          " and not continued within " + seconds_text(detection_bound));
    }
  }

  void stop() noexcept {
    for (std::size_t id = 0; id < nodes.size(); ++id) {
      if (!nodes[id].valid()) continue;
      try {
        nodes[id].send_exit();
      } catch (const std::exception& e) {
        detail::log_line("warning", "rmpi::launch", "ending the node of " + describe(id) + ": " + e.what());
      }
    }
    nodes.clear();
    // The nodes' ends end every wait and get of the watchers.
    for (std::thread& t : watchers) t.join();
    watchers.clear();
    rendezvous.reset();
  }
};

LaunchedJob::LaunchedJob() = default;
LaunchedJob::LaunchedJob(std::unique_ptr<State> state) : state_(std::move(state)) {}
LaunchedJob::~LaunchedJob() { stop(); }
LaunchedJob::LaunchedJob(LaunchedJob&&) noexcept = default;
LaunchedJob& LaunchedJob::operator=(LaunchedJob&& other) noexcept {
  if (this != &other) {
    stop();
    state_ = std::move(other.state_);
  }
  return *this;
}

void LaunchedJob::wait() {
  if (!state_ || state_->waited) return;
  state_->waited = true;
  try {
    state_->watch();
  } catch (...) {
    state_->stop();
    throw;
  }
  state_->stop();
}

void LaunchedJob::stop() {
  if (state_) state_->stop();
}

places::RemoteConnection& LaunchedJob::place(int id) {
  if (!state_ || id < 0 || id >= size())
    throw Error("rmpi::LaunchedJob::place: no rank " + std::to_string(id) + " in a job of " +
                std::to_string(size()));
  return state_->places[static_cast<std::size_t>(id)];
}

int LaunchedJob::size() const { return state_ ? static_cast<int>(state_->places.size()) : 0; }

LaunchedJob launch(const DefaultConfig& defaults, const std::vector<NodeConfig>& config,
                   LaunchOptions options) {
  const std::vector<const NodeConfig*> entries = by_id(config);
  const std::size_t n = entries.size();
  std::vector<DefaultConfig> configs;
  bool all_local = true;
  for (const NodeConfig* e : entries) {
    configs.push_back(build_default_config(merged(defaults, e->overrides)));
    if (configs.back().mpi_func.empty())
      throw ConfigError("rmpi::launch: no mpi_func for rank " + std::to_string(e->id) + " on " + e->host);
    all_local = all_local && places::is_local_host(e->host);
  }

  auto state = std::make_unique<LaunchedJob::State>();
  auto& s = *state;
  LaunchedJob job(std::move(state));
  for (const NodeConfig* e : entries) s.hosts.push_back(e->host);
  // Read per launch (the ranks, started from this environment, read the same).
  s.detection_bound = detail::parse_detection_bound(std::getenv(kDetectTimeoutEnv));

  std::vector<std::future<Spawned>> spawning;
  for (std::size_t id = 0; id < n; ++id)
    spawning.push_back(std::async(std::launch::async, [e = *entries[id], c = configs[id]] {
      return spawn_rank(e, c);
    }));
  s.nodes.resize(n);
  s.places.resize(n);
  std::exception_ptr first_error;
  for (std::size_t id = 0; id < n; ++id) {
    try {
      Spawned r = spawning[id].get();
      s.nodes[id] = r.node;
      s.places[id] = r.place;
    } catch (...) {
      if (!first_error) first_error = std::current_exception();
    }
  }
  if (first_error) std::rethrow_exception(first_error);
  s.watch_stops();

  std::string self_address = "127.0.0.1";
  if (!all_local)
    for (std::size_t id = 0; id < n; ++id)
      if (!places::is_local_host(s.hosts[id])) {
        const std::string a = s.nodes[id].local_address();
        if (!a.empty()) self_address = a;
        break;
      }
  // The rendezvous listens where the ranks reach it, never on every interface.
  std::vector<std::string> rendezvous_hosts;
  for (std::size_t id = 0; id < n; ++id) {
    const std::string a = all_local || places::is_local_host(s.hosts[id]) ? "127.0.0.1"
                                                                           : s.nodes[id].local_address();
    if (std::find(rendezvous_hosts.begin(), rendezvous_hosts.end(), a) == rendezvous_hosts.end())
      rendezvous_hosts.push_back(a);
  }
  s.rendezvous = std::make_unique<RendezvousServer>(rendezvous_hosts, 0, auth::job_secret(),
                                                    static_cast<std::uint32_t>(n));
  const std::string job_id =
      "launch-" + std::to_string(::getpid()) + "-" + std::to_string(s.rendezvous->port());
  for (std::size_t id = 0; id < n; ++id) {
    const bool local = places::is_local_host(s.hosts[id]);
    const std::string rendezvous_host = all_local || local ? "127.0.0.1" : s.nodes[id].local_address();
    const std::string advertise = all_local ? "127.0.0.1" : local ? self_address : s.nodes[id].address();
    const pl::Value args = configs[id].mpi_args.is_null() ? pl::Value(pl::List{}) : configs[id].mpi_args;
    auto& place = s.places[id];
    place.put(pl::list(pl::sym("rmpi-id"), static_cast<int>(id), static_cast<int>(n)));
    place.put(pl::list(pl::sym("args"), args));
    place.put(pl::list(pl::sym("rendezvous"), rendezvous_host, static_cast<int>(s.rendezvous->port()), job_id,
                       advertise));
  }
  if (!options.no_wait) job.wait();
  return job;
}

PlaceInit init(places::PlaceChannel ch) {
  places::TypedChannel tc(std::move(ch));
  const pl::Value id_msg = tc.get("rmpi-id");
  const pl::Value args_msg = tc.get("args");
  const pl::Value rv_msg = tc.get("rendezvous");
  LaunchEnv env;
  try {
    env.rank = static_cast<int>(field(id_msg, 1, "(rmpi-id id cnt)").as_int());
    env.size = static_cast<int>(field(id_msg, 2, "(rmpi-id id cnt)").as_int());
    env.rendezvous_host = field(rv_msg, 1, "(rendezvous host port job-id address)").as_string();
    env.rendezvous_port =
        static_cast<std::uint16_t>(field(rv_msg, 2, "(rendezvous host port job-id address)").as_int());
    env.job_id = field(rv_msg, 3, "(rendezvous host port job-id address)").as_string();
    env.advertise = field(rv_msg, 4, "(rendezvous host port job-id address)").as_string();
  } catch (const ProtocolError&) {
    throw;
  } catch (const Error& e) {
    throw ProtocolError("rmpi::init: malformed message from the launcher (" + id_msg.to_string() + ", " +
                        rv_msg.to_string() + "): " + e.what());
  }
  if (env.size < 1 || env.rank < 0 || env.rank >= env.size)
    throw ProtocolError("rmpi::init: the launcher sent rank " + std::to_string(env.rank) + " of " +
                        std::to_string(env.size));
  env.node_id = env.advertise;
  env.secret = auth::job_secret();
  env.spin = std::chrono::microseconds(env_number(kSpinEnv, env.spin.count()));
  env.init_timeout = std::chrono::seconds(env_number(kInitTimeoutEnv, env.init_timeout.count()));
  Comm comm = detail::init_from(env);
  return PlaceInit{comm, field(args_msg, 1, "(args ...)"), std::move(tc)};
}

void finish(const Comm& comm, places::TypedChannel& tc) {
  barrier(comm);
  if (comm.id() == 0) tc.channel().put(pl::list(pl::sym("done")));
  finish();
}

}  // namespace rmpi
