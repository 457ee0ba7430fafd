#include <rmpi/listener_guard.hpp>

#include <cstdio>
#include <cstdlib>
#include <string>

#include <rmpi/error.hpp>

namespace rmpi::listener {
namespace {

// An environment value for an error line: at most 80 characters, control
// bytes and non-ASCII shown as \xNN.
std::string shown(std::string_view v) {
  std::string out;
  for (const char c : v.substr(0, 80)) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u >= 0x7f || c == '\\') {
      char buf[5];
      std::snprintf(buf, sizeof buf, "\\x%02x", u);
      out += buf;
    } else {
      out += c;
    }
  }
  if (v.size() > 80) out += "...";
  return out;
}

// A positive integer from the environment, `fallback` when unset.
std::size_t positive_env(const char* name, std::size_t fallback) {
  const char* v = std::getenv(name);
  if (!v) return fallback;
  const std::string_view text(v);
  std::size_t value = 0;
  bool ok = !text.empty() && text.size() <= 12;
  for (const char c : text) {
    if (c < '0' || c > '9') {
      ok = false;
      break;
    }
    value = value * 10 + static_cast<std::size_t>(c - '0');
  }
  if (!ok || value == 0)
    throw ConfigError(std::string("rmpi: ") + name + "='" + shown(text) +
                      "' is not a positive integer");
  return value;
}

std::string seconds_text(std::chrono::milliseconds d) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f s", static_cast<double>(d.count()) / 1000.0);
  return buf;
}

}  // namespace

ListenerLimits limits_from_environment() {
  ListenerLimits l;
  l.max_unauthenticated = positive_env(kMaxUnauthenticatedEnv, l.max_unauthenticated);
  l.handshake_timeout = std::chrono::milliseconds(
      positive_env(kHandshakeTimeoutEnv, static_cast<std::size_t>(l.handshake_timeout.count())));
  return l;
}

bool UnauthenticatedCap::try_admit() {
  std::size_t n = in_use_.load();
  while (n < max_)
    if (in_use_.compare_exchange_weak(n, n + 1)) return true;
  ++refused_;
  return false;
}

void UnauthenticatedCap::release() {
  std::size_t n = in_use_.load();
  while (n > 0 && !in_use_.compare_exchange_weak(n, n - 1)) {
  }
}

BadPeerLog::BadPeerLog(Sink sink, std::chrono::milliseconds interval)
    : sink_(std::move(sink)), interval_(interval) {}

BadPeerLog::~BadPeerLog() {
  std::lock_guard lock(mu_);
  if (held_ > 0) write_locked({}, Clock::now());
}

void BadPeerLog::write_locked(std::string line, Clock::time_point now) {
  if (held_ > 0) {
    std::string count = std::to_string(held_) + " more bad connection" + (held_ == 1 ? "" : "s") +
                        " in the last " + seconds_text(interval_) + " not shown";
    if (line.empty())
      line = count + "; the last: " + last_held_;
    else
      line += " (" + count + ")";
  }
  held_ = 0;
  last_held_.clear();
  last_line_ = now;
  ++lines_;
  if (sink_) sink_(line);
}

void BadPeerLog::report(std::string_view peer, std::string_view what, Clock::time_point now) {
  std::string line = std::string(what) + " (peer " + std::string(peer) + ")";
  std::lock_guard lock(mu_);
  ++reports_;
  if (last_line_ && now - *last_line_ < interval_) {
    ++held_;
    last_held_ = std::move(line);
    return;
  }
  write_locked(std::move(line), now);
}

std::optional<BadPeerLog::Clock::time_point> BadPeerLog::flush_due() const {
  std::lock_guard lock(mu_);
  if (held_ == 0 || !last_line_) return std::nullopt;
  return *last_line_ + interval_;
}

void BadPeerLog::flush(Clock::time_point now) {
  std::lock_guard lock(mu_);
  if (held_ == 0 || !last_line_ || now - *last_line_ < interval_) return;
  write_locked({}, now);
}

std::size_t BadPeerLog::reports() const {
  std::lock_guard lock(mu_);
  return reports_;
}

std::size_t BadPeerLog::lines() const {
  std::lock_guard lock(mu_);
  return lines_;
}

}  // namespace rmpi::listener
