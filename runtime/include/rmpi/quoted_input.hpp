#pragma once
/// Echoing user input in an error message safely: every message that quotes
/// a hostfile token, host name, option value or line read from a peer goes
/// through quoted_input, so that a 100 KB token, a binary file or a NUL byte
/// still gives one short, readable line.
#include <cstddef>
#include <string>
#include <string_view>

namespace rmpi {

/// The most characters of input echoed (escapes count as what they print).
inline constexpr std::size_t kMaxQuotedInput = 80;

/// `text` in single quotes, cut to `max` characters, with control bytes and
/// bytes >= 0x7f escaped (\n \t \r \xNN); a cut text ends with "..." and
/// its full size: 'aaaa...' (300000 bytes).
std::string quoted_input(std::string_view text, std::size_t max = kMaxQuotedInput);

}  // namespace rmpi
