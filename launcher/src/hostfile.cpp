#include <rmpi/launcher/hostfile.hpp>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include <rmpi/error.hpp>
#include <rmpi/quoted_input.hpp>

#include "host_spec.hpp"

namespace rmpi::launcher {
namespace {

[[noreturn]] void fail(std::string_view where, std::string_view what, std::string_view token) {
  throw ConfigError(std::string(where) + ": " + std::string(what) + " " + quoted_input(token));
}

bool is_blank(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f'; }

/// Splits a line (comment already removed) into tokens, gluing `key = value` into `key=value`.
std::vector<std::string> tokenize(std::string_view line) {
  std::vector<std::string> tokens;
  std::string current;
  for (std::size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (!is_blank(c)) {
      current += c;
      continue;
    }
    std::size_t next = i;
    while (next < line.size() && is_blank(line[next])) ++next;
    const bool glue = (!current.empty() && current.back() == '=') ||
                      (next < line.size() && line[next] == '=' && !current.empty() &&
                       current.find('=') == std::string::npos);
    if (!glue && !current.empty()) tokens.push_back(std::move(current));
    if (!glue) current.clear();
    i = next - 1;
  }
  if (!current.empty()) tokens.push_back(std::move(current));
  return tokens;
}

enum class Key { slots, max_slots, user, unknown };

Key key_of(std::string_view key) {
  if (key == "slots" || key == "count" || key == "cpu") return Key::slots;
  if (key == "max_slots" || key == "max-slots" || key == "slots_max" || key == "slots-max") {
    return Key::max_slots;
  }
  if (key == "user" || key == "username") return Key::user;
  return Key::unknown;
}

/// One parsed line: its entry, and how its slot count was written.
struct Line {
  HostEntry entry;
  std::string where;
  bool mpich_count = false;  // MPICH's `host:N`
  bool bare = false;         // no count at all
};

/// Parses one non-empty line.
Line parse_line(const std::vector<std::string>& tokens, const std::string& where) {
  auto spec = detail::parse_host_spec(tokens.front(), where);
  const bool mpich_count = spec.slots.has_value();
  std::optional<int> max_slots;
  for (std::size_t i = 1; i < tokens.size(); ++i) {
    const std::string& token = tokens[i];
    const auto eq = token.find('=');
    if (eq == std::string::npos) fail(where, "unexpected token", token);
    const std::string_view value = std::string_view(token).substr(eq + 1);
    switch (key_of(std::string_view(token).substr(0, eq))) {
      case Key::slots:
        if (spec.slots) fail(where, "slot count given twice", token);
        spec.slots = detail::parse_count(value, "slot count", token, where);
        break;
      case Key::max_slots:
        if (max_slots) fail(where, "max_slots given twice", token);
        max_slots = detail::parse_count(value, "max_slots", token, where);
        break;
      case Key::user:
        if (!spec.user.empty()) fail(where, "user given twice", token);
        detail::check_user_name(value, token, where);
        spec.user = std::string(value);
        break;
      case Key::unknown:
        fail(where, "unknown option", token);
    }
  }
  Line line{.entry = {}, .where = where, .mpich_count = mpich_count, .bare = !spec.slots};
  HostEntry& entry = line.entry;
  entry.name = detail::entry_name(spec.user, spec.host);
  entry.user = std::move(spec.user);
  entry.host = std::move(spec.host);
  entry.slots = spec.slots.value_or(1);
  entry.max_slots = max_slots;
  entry.origin = where;
  return line;
}

}  // namespace

std::vector<HostEntry> parse_hostfile_text(std::string_view text, std::string_view file_name) {
  std::vector<Line> lines;
  int line_number = 0;
  while (!text.empty()) {
    const auto eol = text.find('\n');
    std::string_view line = text.substr(0, eol);
    text.remove_prefix(eol == std::string_view::npos ? text.size() : eol + 1);
    ++line_number;
    if (const auto hash = line.find('#'); hash != std::string_view::npos) {
      line = line.substr(0, hash);
    }
    const auto tokens = tokenize(line);
    if (tokens.empty()) continue;
    const std::string where = std::string(file_name) + ":" + std::to_string(line_number);
    lines.push_back(parse_line(tokens, where));
  }
  // A bare line gets the host's core count in an Open MPI hostfile, 1 slot in an MPICH one
  // (any `host:N` line makes the file MPICH's).
  const bool mpich = std::any_of(lines.begin(), lines.end(), [](const Line& l) { return l.mpich_count; });
  std::vector<HostEntry> entries;
  for (auto& line : lines) {
    if (line.bare && !mpich) line.entry.slot_source = SlotSource::topology;
    detail::add_entry(entries, std::move(line.entry), line.where);
  }
  if (entries.empty()) throw ConfigError(std::string(file_name) + ": no hosts in hostfile");
  return entries;
}

std::vector<HostEntry> parse_hostfile(const std::filesystem::path& file) {
  std::error_code ec;
  if (std::filesystem::is_directory(file, ec)) {
    throw ConfigError("cannot read hostfile " + quoted_input(file.string()) + ": is a directory");
  }
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    throw ConfigError("cannot read hostfile " + quoted_input(file.string()) + ": " + std::strerror(errno));
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) {
    throw ConfigError("cannot read hostfile " + quoted_input(file.string()) + ": read error");
  }
  return parse_hostfile_text(text.str(), file.string());
}

}  // namespace rmpi::launcher
