#include <rmpi/spawned_process.hpp>

#include <chrono>

#include <rmpi/error.hpp>
#include <rmpi/remote_node.hpp>

#include "remote_impl.hpp"

namespace rmpi::places {

namespace {
constexpr auto kStartTimeout = std::chrono::seconds(60);

SpawnedProcess::Impl& checked(const std::shared_ptr<SpawnedProcess::Impl>& impl) {
  if (!impl) throw Error("use of an empty SpawnedProcess");
  return *impl;
}
}  // namespace

// ---- Impl: called on the I/O thread with the node's answers -----------------

void SpawnedProcess::Impl::on_started(int process_pid) {
  {
    std::lock_guard lock(mu);
    pid = process_pid;
  }
  cv.notify_all();
}

void SpawnedProcess::Impl::on_refused(const std::string& reason) {
  {
    std::lock_guard lock(mu);
    refused = reason;
  }
  cv.notify_all();
}

void SpawnedProcess::Impl::on_exited(int exit_status) {
  std::function<void(int)> observer;
  {
    std::lock_guard lock(mu);
    status = exit_status;
    observer = std::move(on_exit);
  }
  cv.notify_all();
  if (observer) detail::run_handler([observer, exit_status] { observer(exit_status); });
}

void SpawnedProcess::Impl::on_lost(const std::string& reason) {
  {
    std::lock_guard lock(mu);
    if (pid < 0 && !refused) refused = reason;
    lost = reason;
  }
  cv.notify_all();
}

// ---- SpawnedProcess -------------------------------------------------------------

int SpawnedProcess::get_pid() const {
  auto& p = checked(impl_);
  std::lock_guard lock(p.mu);
  return p.pid;
}

int SpawnedProcess::wait() {
  auto& p = checked(impl_);
  std::unique_lock lock(p.mu);
  p.cv.wait(lock, [&] { return p.status || p.lost; });
  if (p.status) return *p.status;
  throw ChannelClosed(p.label + ": " + *p.lost);
}

std::optional<int> SpawnedProcess::try_wait() const {
  auto& p = checked(impl_);
  std::lock_guard lock(p.mu);
  return p.status;
}

void SpawnedProcess::set_on_exit(std::function<void(int status)> fn) {
  auto& p = checked(impl_);
  std::optional<int> ended;
  {
    std::lock_guard lock(p.mu);
    if (p.status) ended = p.status;
    else p.on_exit = std::move(fn);
  }
  if (ended) detail::run_handler([fn = std::move(fn), code = *ended] { fn(code); });
}

std::string SpawnedProcess::describe() const {
  auto& p = checked(impl_);
  std::lock_guard lock(p.mu);
  return p.label + (p.pid > 0 ? " (pid " + std::to_string(p.pid) + ")" : "");
}

SpawnedProcess supervise_process_at(RemoteNode& node, const std::vector<std::string>& cmdline) {
  if (!node.valid()) throw Error("supervise_process_at on an empty RemoteNode");
  if (cmdline.empty()) throw ConfigError("supervise_process_at: the command line is empty");
  auto p = std::make_shared<SpawnedProcess::Impl>();
  p->node = node.impl();
  p->label = "process " + cmdline[0] + " on " + node.get_log_prefix();
  node.impl()->spawn_process(p, cmdline);
  std::unique_lock lock(p->mu);
  if (!p->cv.wait_for(lock, kStartTimeout, [&] { return p->pid > 0 || p->refused; }))
    throw SpawnError("cannot start " + p->label + ": no answer from the node within 60 s");
  if (p->pid <= 0) throw SpawnError("cannot start " + p->label + ": " + *p->refused);
  return SpawnedProcess(p);
}

SpawnedProcess supervise_process_at(const std::string& host, const std::vector<std::string>& cmdline,
                                    const NodeOptions& options) {
  RemoteNode node = spawn_remote_node(host, options);
  return supervise_process_at(node, cmdline);
}

}  // namespace rmpi::places
