#pragma once
/// Where one rank's stdout and stderr go: rmpirun's own stdout/stderr or, with
/// --output-filename DIR, the files DIR/1/rank.N/stdout and stderr (Open MPI's layout, N
/// zero-padded to the width of the highest rank); lines tagged (--tag-output, -l) and
/// timestamped (--timestamp-output) as asked; stderr sent to stdout with
/// --merge-stderr-to-stdout.
#include <cstddef>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include <rmpi/launcher/output_lines.hpp>
#include <rmpi/process_host.hpp>

namespace rmpi::launcher {

/// Writes all of `text` to `fd` (rmpirun's stdout/stderr); a closed pipe drops the output.
void write_all(int fd, std::string_view text);

/// How every rank's output is shaped and where it goes.
struct OutputOptions {
  bool tag = false;
  bool timestamp = false;
  bool merge_stderr = false;
  /// --output-filename DIR; empty = rmpirun's stdout and stderr.
  std::optional<std::filesystem::path> dir;
  /// Ranks in the job (the width of N in rank.N).
  int world_size = 1;
};

/// The directory of `rank`'s files under --output-filename `dir`: dir/1/rank.N.
std::filesystem::path rank_output_dir(const std::filesystem::path& dir, int rank, int world_size);

/// "[2026-12-01 22:45:01.123] ": the local time now, as --timestamp-output puts it.
std::string timestamp_prefix();

class RankOutput {
 public:
  /// Creates the rank's files, empty, under `options.dir` (throws rmpi::ConfigError naming
  /// the path when it cannot).
  RankOutput(int rank, const OutputOptions& options);

  /// A chunk of the rank's `stream`; an empty chunk ends that stream.
  void feed(places::OutputStream stream, std::span<const std::byte> bytes);
  /// The rank ended: what is held of unfinished lines leaves.
  void finish();

 private:
  void write(places::OutputStream stream, const std::string& text);

  OutputLines out_, err_;
  bool merge_stderr_ = false;
  /// The files under --output-filename (empty: the terminal). Each write opens its file to
  /// append and closes it, so that a job of many ranks holds no descriptor per rank.
  std::filesystem::path out_file_, err_file_;
};

}  // namespace rmpi::launcher
