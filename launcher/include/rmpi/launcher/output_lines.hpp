#pragma once
/// Forwarding of one rank's output stream, in bounded memory: bytes arrive in
/// chunks of any size and at most kMaxPending of an unfinished line is held.
///
/// Untagged, the output is byte-exact: whole lines leave as they complete, an
/// unfinished line leaves in pieces of at most kMaxPending bytes, and nothing
/// is ever added (`printf abc` gives 3 bytes). Tagged (--tag-output), every
/// line leaves whole with the tag at its start, so lines of different ranks
/// never interleave; a line longer than kMaxPending leaves as several tagged
/// lines of at most kMaxPending bytes, and an unfinished last line is ended
/// with a newline when the stream ends. A line prefix (--timestamp-output) is made when its
/// line leaves and goes before the tag; it makes the stream line-based like a tag.
#include <cstddef>
#include <functional>
#include <span>
#include <string>

namespace rmpi::launcher {

class OutputLines {
 public:
  /// The most bytes of an unfinished line held back (64 KiB).
  static constexpr std::size_t kMaxPending = 64 * 1024;

  /// Made for each line as it leaves (a timestamp), put before the tag.
  using LinePrefix = std::function<std::string()>;

  /// `tag` is put before every line ("" for none), after `prefix()` when there is a prefix.
  explicit OutputLines(std::string tag = "", LinePrefix prefix = {})
      : tag_(std::move(tag)), prefix_(std::move(prefix)) {}

  /// Takes a chunk; appends what may leave now to `out`.
  void feed(std::span<const std::byte> chunk, std::string& out);
  /// The stream ended: appends the unfinished line, if any (tagged: ended with '\n').
  void finish(std::string& out);
  /// Bytes held back as an unfinished line (at most kMaxPending).
  std::size_t pending() const { return partial_.size(); }

 private:
  void emit_partial(std::string& out, bool end_line);
  bool line_based() const { return !tag_.empty() || prefix_; }
  void start_line(std::string& out) const;

  std::string tag_;
  LinePrefix prefix_;
  std::string partial_;
};

}  // namespace rmpi::launcher
