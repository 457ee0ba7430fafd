#pragma once
/// Line-exact forwarding of one rank's output stream: bytes arrive in chunks
/// of any size; only whole lines leave, each with an optional "[rank] " tag
/// at its start, so lines of different ranks never split or interleave. A
/// partial last line is completed with a newline when the stream ends.
#include <cstddef>
#include <span>
#include <string>

namespace rmpi::launcher {

class OutputLines {
 public:
  /// `tag` is put before every line ("" for none).
  explicit OutputLines(std::string tag = "") : tag_(std::move(tag)) {}

  /// Takes a chunk; appends the whole lines it completes (tagged) to `out`.
  void feed(std::span<const std::byte> chunk, std::string& out);
  /// The stream ended: appends the partial last line, if any, ending it with '\n'.
  void finish(std::string& out);
  /// Bytes held back as an incomplete line.
  std::size_t pending() const { return partial_.size(); }

 private:
  std::string tag_;
  std::string partial_;
};

}  // namespace rmpi::launcher
