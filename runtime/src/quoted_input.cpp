#include <rmpi/quoted_input.hpp>

namespace rmpi {

std::string quoted_input(std::string_view text, std::size_t max) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "'";
  std::size_t shown = 0, used = 0;
  for (; used < text.size(); ++used) {
    const auto c = static_cast<unsigned char>(text[used]);
    char esc[5] = {};
    if (c == '\n') esc[0] = '\\', esc[1] = 'n';
    else if (c == '\t') esc[0] = '\\', esc[1] = 't';
    else if (c == '\r') esc[0] = '\\', esc[1] = 'r';
    else if (c < 0x20 || c >= 0x7f) esc[0] = '\\', esc[1] = 'x', esc[2] = kHex[c >> 4], esc[3] = kHex[c & 15];
    else esc[0] = static_cast<char>(c);
    const std::string_view piece(esc);
    if (shown + piece.size() > max) break;
    out += piece;
    shown += piece.size();
  }
  out += '\'';
  if (used < text.size()) {
    out.insert(out.size() - 1, "...");
    out += " (" + std::to_string(text.size()) + " bytes)";
  }
  return out;
}

}  // namespace rmpi
