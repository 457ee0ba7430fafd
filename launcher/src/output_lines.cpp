#include <rmpi/launcher/output_lines.hpp>

#include <algorithm>
#include <string_view>

namespace rmpi::launcher {

void OutputLines::start_line(std::string& out) const {
  if (prefix_) out += prefix_();
  out += tag_;
}

void OutputLines::emit_partial(std::string& out, bool end_line) {
  if (partial_.empty()) return;
  if (line_based()) start_line(out);
  out += partial_;
  if (end_line && line_based()) out += '\n';
  partial_.clear();
}

void OutputLines::feed(std::span<const std::byte> chunk, std::string& out) {
  std::string_view in(reinterpret_cast<const char*>(chunk.data()), chunk.size());
  while (!in.empty()) {
    // A full piece leaves once the next byte shows the line goes on.
    if (partial_.size() == kMaxPending && in.front() != '\n') emit_partial(out, true);
    const auto nl = in.find('\n');
    if (nl != std::string_view::npos && partial_.size() + nl <= kMaxPending) {
      if (line_based()) start_line(out);
      out += partial_;
      partial_.clear();
      out.append(in.substr(0, nl + 1));
      in.remove_prefix(nl + 1);
      continue;
    }
    const std::size_t take = std::min(in.size(), kMaxPending - partial_.size());
    partial_.append(in.substr(0, take));
    in.remove_prefix(take);
  }
}

void OutputLines::finish(std::string& out) { emit_partial(out, true); }

}  // namespace rmpi::launcher
