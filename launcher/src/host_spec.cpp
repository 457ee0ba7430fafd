#include "host_spec.hpp"

#include <algorithm>
#include <charconv>

#include <rmpi/error.hpp>
#include <rmpi/quoted_input.hpp>

namespace rmpi::launcher::detail {
namespace {

/// Upper bound on any slot count: keeps mapping cost and memory sane on typos.
constexpr int max_count = 1 << 20;

/// The longest host name DNS allows.
constexpr std::size_t kMaxHostName = 253;

[[noreturn]] void fail(std::string_view where, std::string_view what, std::string_view token) {
  throw ConfigError(std::string(where) + ": " + std::string(what) + " " + quoted_input(token));
}

bool is_name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '-' || c == '_';
}

bool is_ipv6_char(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || c == ':' ||
         c == '.';
}

void check_host_name(std::string_view host, bool ipv6, std::string_view token,
                     std::string_view where) {
  if (host.size() > kMaxHostName)
    fail(where, "host name too long (" + std::to_string(host.size()) + " bytes, at most " +
                    std::to_string(kMaxHostName) + ")",
         token);
  const bool ok = !host.empty() && std::all_of(host.begin(), host.end(), [&](char c) {
    return ipv6 ? is_ipv6_char(c) : is_name_char(c);
  });
  if (!ok) fail(where, "bad host name", token);
}

}  // namespace

int parse_count(std::string_view digits, std::string_view what, std::string_view token,
                std::string_view where) {
  int value = 0;
  const auto* first = digits.data();
  const auto* last = digits.data() + digits.size();
  const auto [end, ec] = std::from_chars(first, last, value);
  if (digits.empty() || ec != std::errc{} || end != last) {
    fail(where, "bad " + std::string(what), token);
  }
  if (value < 1) fail(where, std::string(what) + " must be at least 1", token);
  if (value > max_count) {
    fail(where, std::string(what) + " is too large (max " + std::to_string(max_count) + ")", token);
  }
  return value;
}

void check_user_name(std::string_view user, std::string_view token, std::string_view where) {
  if (user.empty() || !std::all_of(user.begin(), user.end(), is_name_char)) {
    fail(where, "bad user name", token);
  }
}

HostSpec parse_host_spec(std::string_view token, std::string_view where) {
  HostSpec spec;
  std::string_view rest = token;
  if (const auto at = rest.find('@'); at != std::string_view::npos) {
    spec.user = std::string(rest.substr(0, at));
    check_user_name(spec.user, token, where);
    rest.remove_prefix(at + 1);
  }
  std::string_view count;
  bool has_count = false;
  bool ipv6 = false;
  if (!rest.empty() && rest.front() == '[') {
    const auto close = rest.find(']');
    if (close == std::string_view::npos) fail(where, "bad host name", token);
    spec.host = std::string(rest.substr(1, close - 1));
    ipv6 = true;
    const auto after = rest.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') fail(where, "bad host name", token);
      count = after.substr(1);
      has_count = true;
    }
  } else if (std::count(rest.begin(), rest.end(), ':') >= 2) {
    spec.host = std::string(rest);
    ipv6 = true;
  } else if (const auto colon = rest.find(':'); colon != std::string_view::npos) {
    spec.host = std::string(rest.substr(0, colon));
    count = rest.substr(colon + 1);
    has_count = true;
  } else {
    spec.host = std::string(rest);
  }
  check_host_name(spec.host, ipv6, token, where);
  if (has_count) spec.slots = parse_count(count, "slot count", token, where);
  return spec;
}

std::string entry_name(std::string_view user, std::string_view host) {
  return user.empty() ? std::string(host) : std::string(user) + "@" + std::string(host);
}

void add_entry(std::vector<HostEntry>& entries, HostEntry entry, std::string_view where) {
  const auto same = std::find_if(entries.begin(), entries.end(),
                                 [&](const HostEntry& e) { return e.name == entry.name; });
  HostEntry* target = &entry;
  if (same != entries.end()) {
    same->slots += entry.slots;
    // Slots written on any line of a host are its slots (Open MPI: one more per bare line).
    if (entry.slot_source == SlotSource::given) same->slot_source = SlotSource::given;
    if (same->max_slots && entry.max_slots) {
      *same->max_slots += *entry.max_slots;
    } else if (entry.max_slots) {
      same->max_slots = entry.max_slots;
    }
    target = &*same;
  }
  if (target->max_slots && *target->max_slots < target->slots) {
    fail(where,
         "max_slots (" + std::to_string(*target->max_slots) + ") is less than slots (" +
             std::to_string(target->slots) + ") for host",
         target->name);
  }
  if (target->slots > max_count) fail(where, "slot count is too large for host", target->name);
  if (same == entries.end()) entries.push_back(std::move(entry));
}

}  // namespace rmpi::launcher::detail
