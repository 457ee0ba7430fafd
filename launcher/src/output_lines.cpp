#include <rmpi/launcher/output_lines.hpp>

#include <string_view>

namespace rmpi::launcher {

void OutputLines::feed(std::span<const std::byte> chunk, std::string& out) {
  std::string_view in(reinterpret_cast<const char*>(chunk.data()), chunk.size());
  while (!in.empty()) {
    const auto nl = in.find('\n');
    if (nl == std::string_view::npos) {
      partial_.append(in);
      return;
    }
    if (partial_.empty()) {
      out += tag_;
    } else {
      out += tag_;
      out += partial_;
      partial_.clear();
    }
    out.append(in.substr(0, nl + 1));
    in.remove_prefix(nl + 1);
  }
}

void OutputLines::finish(std::string& out) {
  if (partial_.empty()) return;
  out += tag_;
  out += partial_;
  out += '\n';
  partial_.clear();
}

}  // namespace rmpi::launcher
