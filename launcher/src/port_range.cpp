#include <rmpi/launcher/port_range.hpp>

#include <charconv>
#include <string>

#include <rmpi/error.hpp>
#include <rmpi/quoted_input.hpp>

namespace rmpi::launcher {
namespace {

[[noreturn]] void fail(std::string_view text, std::string_view why) {
  throw ConfigError("bad port range " + quoted_input(text) + ": " + std::string(why));
}

int parse_port(std::string_view digits, std::string_view text) {
  int port = 0;
  const auto* last = digits.data() + digits.size();
  const auto [end, ec] = std::from_chars(digits.data(), last, port);
  if (digits.empty() || ec != std::errc{} || end != last) {
    fail(text, "expected PORT or FIRST-LAST (0 = any free port)");
  }
  if (port < 0 || port > 65535) fail(text, "ports are 1..65535");
  return port;
}

}  // namespace

PortRange parse_port_range(std::string_view text) {
  const auto dash = text.find('-');
  if (dash == std::string_view::npos) {
    const int port = parse_port(text, text);
    return {port, port};
  }
  const PortRange range{parse_port(text.substr(0, dash), text),
                        parse_port(text.substr(dash + 1), text)};
  if (range.any()) return range;
  if (range.first == 0 || range.last == 0) fail(text, "ports are 1..65535 (or 0 for any)");
  if (range.first > range.last) fail(text, "the first port is above the last");
  return range;
}

}  // namespace rmpi::launcher
