// Supervised places across real processes: a place killed with SIGKILL is
// restarted exactly as its RestartPolicy says (at once, a Restarter with its
// retries and its count reset, a strategy object), its RemoteConnection
// keeps working across restarts and counts them, close() ends the
// supervision, and no place outlives its test.
#include <rmpi/remote_node.hpp>

#include <doctest/doctest.h>

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <future>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include <rmpi/error.hpp>
#include <rmpi/place.hpp>
#include <rmpi/spawned_process.hpp>

#include "remote_test_helpers.hpp"

namespace rp = rmpi::places;
using rp::PlaceChannel;
using rp::Value;
using namespace std::chrono_literals;

namespace {

constexpr auto kWait = std::chrono::seconds(20);

/// Says its pid, then echoes every message until its channel closes.
void pid_echo(PlaceChannel ch) {
  ch.put(static_cast<int>(::getpid()));
  for (;;) ch.put(ch.get<Value>());
}
RMPI_PLACE(pid_echo);

/// Says its own pid and its node's (its parent's), then echoes.
void node_pid_echo(PlaceChannel ch) {
  ch.put(static_cast<int>(::getpid()));
  ch.put(static_cast<int>(::getppid()));
  for (;;) ch.put(ch.get<Value>());
}
RMPI_PLACE(node_pid_echo);

const bool place_mode = rp::init_at_startup();

using rmpi::testing::node_options;
using rmpi::testing::wait_for_exit;
using rmpi::testing::node_address;

/// The pid the (re)started place reports.
pid_t next_pid(rp::RemoteConnection& c) {
  auto pid = c.get_for<int>(kWait);
  REQUIRE(pid.has_value());
  return *pid;
}

bool gone(pid_t pid) { return rmpi::testing::process_gone(pid); }

/// Kills the place and checks it is gone.
void kill_place(pid_t pid) {
  REQUIRE(::kill(pid, SIGKILL) == 0);
  REQUIRE(gone(pid));
}

/// The place echoes: messages reach the current incarnation.
void check_echo(rp::RemoteConnection& c, int n) {
  c.put(Value(n));
  auto v = c.get_for<Value>(kWait);
  REQUIRE(v.has_value());
  CHECK(v->as_int() == n);
}

}  // namespace

TEST_CASE("a Restarter restarts a killed place exactly `retry` times, then runs on_final_fail") {
  (void)place_mode;
  auto node = rp::spawn_remote_node("localhost", node_options());
  auto final_fail = std::make_shared<std::promise<void>>();
  rp::PlaceOptions o;
  o.restart_on_exit = rp::restart_every(0.1, 3, [final_fail] { final_fail->set_value(); });
  auto c = rp::supervise_place_at(node, rp::executable_path(), "pid_echo", o);
  std::vector<pid_t> pids{next_pid(c)};
  for (int restart = 1; restart <= 3; ++restart) {
    kill_place(pids.back());
    pids.push_back(next_pid(c));
    CHECK(pids.back() != pids[pids.size() - 2]);
    CHECK(c.restart_count() == restart);
    check_echo(c, restart);
  }
  kill_place(pids.back());
  REQUIRE(final_fail->get_future().wait_for(kWait) == std::future_status::ready);
  CHECK(wait_for_exit(c) == 128 + SIGKILL);
  CHECK(c.restart_count() == 3);
  node.send_exit();
}

namespace {
/// A count that a callback raises and the test waits on, with a bound.
class WaitableCount {
 public:
  void set(int n) {
    { std::lock_guard lock(mu_); n_ = n; }
    cv_.notify_all();
  }
  int raise() {
    int now;
    { std::lock_guard lock(mu_); now = ++n_; }
    cv_.notify_all();
    return now;
  }
  /// True once the count is `n`, waiting at most `bound`.
  bool reaches(int n, std::chrono::milliseconds bound) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, bound, [&] { return n_ == n; });
  }
 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int n_ = 0;
};

/// A strategy object: restarts the first two exits, then stops.
struct TwoRestarts {
  WaitableCount calls;
  void restart(const rp::Respawn& respawn) {
    if (calls.raise() <= 2) respawn();
  }
};
}  // namespace

TEST_CASE("the retry count resets once the place stayed alive 2 x seconds") {
  auto node = rp::spawn_remote_node("localhost", node_options());
  auto final_fail = std::make_shared<std::promise<void>>();
  rp::PlaceOptions o;
  o.restart_on_exit = rp::restart_every(0.1, 1, [final_fail] { final_fail->set_value(); });
  auto c = rp::supervise_place_at(node, rp::executable_path(), "pid_echo", o);
  kill_place(next_pid(c));  // the one retry is used
  const pid_t second = next_pid(c);
  // Not a wait for an event: the reset is about time passing (alive > 2 x 0.1 s).
  std::this_thread::sleep_for(300ms);
  kill_place(second);                  // a fresh count: restarted again
  const pid_t third = next_pid(c);
  CHECK(c.restart_count() == 2);
  kill_place(third);  // at once: the retry is used up
  REQUIRE(final_fail->get_future().wait_for(kWait) == std::future_status::ready);
  CHECK(wait_for_exit(c) == 128 + SIGKILL);
  node.send_exit();
}

TEST_CASE("restart_on_exit = true respawns at once; the holder sees each restart") {
  auto node = rp::spawn_remote_node("localhost", node_options());
  auto c = rp::supervise_place_at(node, rp::executable_path(), "pid_echo",
                                  {.restart_on_exit = true});
  WaitableCount seen;
  c.set_on_restart([&](rp::RemoteConnection&, int count) { seen.set(count); });
  pid_t pid = next_pid(c);
  for (int restart = 1; restart <= 3; ++restart) {
    kill_place(pid);
    pid = next_pid(c);
    CHECK(c.restart_count() == restart);
    check_echo(c, 10 + restart);
  }
  CHECK(seen.reaches(3, 5s));
  c.close();  // no more restarts: the place ends with its channel
  CHECK(gone(pid));
  node.send_exit();
}


TEST_CASE("an object with restart(respawn) decides the restarts") {
  auto node = rp::spawn_remote_node("localhost", node_options());
  auto strategy = std::make_shared<TwoRestarts>();
  auto c = rp::supervise_place_at(node, rp::executable_path(), "pid_echo",
                                  {.restart_on_exit = strategy});
  pid_t pid = next_pid(c);
  for (int restart = 1; restart <= 2; ++restart) {
    kill_place(pid);
    pid = next_pid(c);
    CHECK(c.restart_count() == restart);
  }
  kill_place(pid);
  CHECK(strategy->calls.reaches(3, 5s));
  CHECK(c.restart_count() == 2);
  c.close();
  node.send_exit();
}

TEST_CASE("supervise_process_at: an attached process, its pid, its output, its end reported") {
  auto node = rp::spawn_remote_node("localhost", node_options());
  SUBCASE("exit status and on_exit") {
    auto p = rp::supervise_process_at(node, {"sh", "-c", "exit 3"});
    CHECK(p.get_pid() > 0);
    std::promise<int> seen;
    p.set_on_exit([&](int status) { seen.set_value(status); });
    auto f = seen.get_future();
    REQUIRE(f.wait_for(kWait) == std::future_status::ready);
    CHECK(f.get() == 3);
    CHECK(p.wait() == 3);
    CHECK(p.try_wait() == std::optional<int>(3));
  }
  SUBCASE("kill -9 of the process is reported to its parent") {
    auto p = rp::supervise_process_at(node, {"sleep", "1000"});
    REQUIRE(p.get_pid() > 0);
    CHECK_FALSE(p.try_wait().has_value());
    REQUIRE(::kill(p.get_pid(), SIGKILL) == 0);
    auto f = std::async(std::launch::async, [p]() mutable { return p.wait(); });
    REQUIRE(f.wait_for(kWait) == std::future_status::ready);
    CHECK(f.get() == 128 + SIGKILL);
  }
  SUBCASE("a command that cannot start is a SpawnError naming it") {
    try {
      rp::supervise_process_at(node, {"/no/such/command"});
      FAIL("no SpawnError");
    } catch (const rmpi::SpawnError& e) {
      CHECK(std::string(e.what()).find("/no/such/command") != std::string::npos);
    }
  }
  node.send_exit();
}

TEST_CASE("supervise_process_at(host) starts its own node; a signal ending the process is reported") {
  auto p = rp::supervise_process_at("localhost", {"sleep", "1000"}, node_options());
  const pid_t pid = p.get_pid();
  REQUIRE(pid > 0);
  ::kill(pid, SIGTERM);
  auto f = std::async(std::launch::async, [p]() mutable { return p.wait(); });
  REQUIRE(f.wait_for(kWait) == std::future_status::ready);
  CHECK(f.get() == 128 + SIGTERM);
}

TEST_CASE("kill -9 of a node: the program gets an event and errors naming host:port; nothing is left") {
  auto node = rp::spawn_remote_node("localhost", node_options());
  const std::string where = node_address(node);
  std::promise<std::string> lost;
  node.set_on_lost([&](const std::string& reason) { lost.set_value(reason); });
  auto c = rp::supervise_place_at(node, rp::executable_path(), "node_pid_echo",
                                  {.restart_on_exit = true});
  const pid_t place = next_pid(c);
  const pid_t node_pid = next_pid(c);
  REQUIRE(node_pid > 1);
  REQUIRE(::kill(node_pid, SIGKILL) == 0);
  auto f = lost.get_future();
  REQUIRE(f.wait_for(kWait) == std::future_status::ready);
  CHECK(f.get().find(where) != std::string::npos);
  try {
    (void)wait_for_exit(c);
    FAIL("wait did not throw");
  } catch (const rmpi::ChannelClosed& e) {
    CHECK(std::string(e.what()).find(where) != std::string::npos);
  }
  CHECK_THROWS_AS(c.put(Value(1)), rmpi::ChannelClosed);
  CHECK(c.restart_count() == 0);  // a lost node is not a place exit
  CHECK(gone(place));
  REQUIRE(node.lost_reason().has_value());
}

TEST_CASE("a SIGSTOPped node is detected by the heartbeat within its bound, named by host:port") {
  ::setenv("RMPI_HEARTBEAT_MS", "400", 1);  // read by this side at connect, and by the node
  auto node = rp::spawn_remote_node("localhost", node_options());
  ::unsetenv("RMPI_HEARTBEAT_MS");
  const std::string where = node_address(node);
  std::promise<std::string> lost;
  node.set_on_lost([&](const std::string& reason) { lost.set_value(reason); });
  auto c = rp::supervise_place_at(node, rp::executable_path(), "node_pid_echo");
  const pid_t place = next_pid(c);
  const pid_t node_pid = next_pid(c);
  REQUIRE(::kill(node_pid, SIGSTOP) == 0);
  auto f = lost.get_future();
  REQUIRE(f.wait_for(kWait) == std::future_status::ready);
  const std::string reason = f.get();
  CHECK(reason.find(where) != std::string::npos);
  CHECK(reason.find("sent nothing for 400 ms") != std::string::npos);
  CHECK_THROWS_AS((void)wait_for_exit(c), rmpi::ChannelClosed);
  // Woken up, the node finds its parent link gone and ends with its place.
  REQUIRE(::kill(node_pid, SIGCONT) == 0);
  CHECK(gone(node_pid));
  CHECK(gone(place));
}

TEST_CASE("a node with restart_on_exit killed with -9 is started again with its supervised places") {
  rp::NodeOptions o = node_options();
  o.restart_on_exit = true;
  auto node = rp::spawn_remote_node("localhost", o);
  const std::string first_where = node_address(node);
  auto supervised = rp::supervise_place_at(node, rp::executable_path(), "node_pid_echo",
                                           {.restart_on_exit = true});
  auto unsupervised = rp::supervise_place_at(node, rp::executable_path(), "pid_echo");
  const pid_t old_place = next_pid(supervised);
  const pid_t node_pid = next_pid(supervised);
  (void)next_pid(unsupervised);
  REQUIRE(::kill(node_pid, SIGKILL) == 0);
  // The supervised place comes back on a new node process and answers.
  const pid_t new_place = next_pid(supervised);
  const pid_t new_node = next_pid(supervised);
  CHECK(new_place != old_place);
  CHECK(new_node != node_pid);
  CHECK(supervised.restart_count() == 1);
  check_echo(supervised, 42);
  CHECK(gone(old_place));
  // A place without a restart policy is not brought back: its connection
  // failed with the lost node's host:port.
  try {
    (void)wait_for_exit(unsupervised);
    FAIL("wait did not throw");
  } catch (const rmpi::ChannelClosed& e) {
    CHECK(std::string(e.what()).find(first_where) != std::string::npos);
  }
  CHECK_FALSE(node.lost_reason().has_value());
  node.send_exit();
  CHECK(gone(new_place));
  CHECK(gone(new_node));
}
