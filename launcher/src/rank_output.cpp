#include <rmpi/launcher/rank_output.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <system_error>

#include <rmpi/error.hpp>
#include <rmpi/quoted_input.hpp>

namespace rmpi::launcher {

using places::OutputStream;

void write_all(int fd, std::string_view text) {
  while (!text.empty()) {
    const ssize_t n = ::write(fd, text.data(), text.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return;
    }
    text.remove_prefix(static_cast<std::size_t>(n));
  }
}

std::filesystem::path rank_output_dir(const std::filesystem::path& dir, int rank, int world_size) {
  const std::size_t width = std::to_string(std::max(0, world_size - 1)).size();
  std::string n = std::to_string(rank);
  if (n.size() < width) n.insert(0, width - n.size(), '0');
  // "1" is the job's number in Open MPI's layout; an rmpirun runs one job.
  return dir / "1" / ("rank." + n);
}

std::string timestamp_prefix() {
  const auto now = std::chrono::system_clock::now();
  const std::time_t seconds = std::chrono::system_clock::to_time_t(now);
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()) % 1000;
  std::tm local{};
  ::localtime_r(&seconds, &local);
  char buf[40];
  const std::size_t n = std::strftime(buf, sizeof buf, "[%Y-%m-%d %H:%M:%S", &local);
  std::snprintf(buf + n, sizeof buf - n, ".%03d] ", static_cast<int>(ms.count()));
  return buf;
}

namespace {

constexpr int kAppend = O_WRONLY | O_APPEND | O_CLOEXEC;

/// Creates `path` empty (truncating an older run's file).
std::filesystem::path create_output(const std::filesystem::path& path) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0)
    throw ConfigError("--output-filename: cannot create " + quoted_input(path.string()) +
                      ": " + std::error_code(errno, std::generic_category()).message());
  ::close(fd);
  return path;
}

}  // namespace

RankOutput::RankOutput(int rank, const OutputOptions& options)
    : merge_stderr_(options.merge_stderr) {
  const std::string tag = options.tag ? "[" + std::to_string(rank) + "] " : "";
  OutputLines::LinePrefix prefix;
  if (options.timestamp) prefix = timestamp_prefix;
  out_ = OutputLines(tag, prefix);
  err_ = OutputLines(tag, prefix);
  if (!options.dir) return;
  const auto dir = rank_output_dir(*options.dir, rank, options.world_size);
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec)
    throw ConfigError("--output-filename: cannot create " + quoted_input(dir.string()) +
                      ": " + ec.message());
  out_file_ = create_output(dir / "stdout");
  if (!merge_stderr_) err_file_ = create_output(dir / "stderr");
}

void RankOutput::write(OutputStream stream, const std::string& text) {
  if (text.empty()) return;
  const bool to_stdout = stream == OutputStream::out || merge_stderr_;
  if (out_file_.empty()) {
    write_all(to_stdout ? 1 : 2, text);
    return;
  }
  const int fd = ::open((to_stdout ? out_file_ : err_file_).c_str(), kAppend);
  if (fd < 0) return;  // removed while the job runs: the output is dropped, as on a closed pipe
  write_all(fd, text);
  ::close(fd);
}

void RankOutput::feed(OutputStream stream, std::span<const std::byte> bytes) {
  OutputLines& lines = stream == OutputStream::out ? out_ : err_;
  std::string text;
  if (bytes.empty()) lines.finish(text);
  else lines.feed(bytes, text);
  write(stream, text);
}

void RankOutput::finish() {
  for (const auto stream : {OutputStream::out, OutputStream::err}) feed(stream, {});
}

}  // namespace rmpi::launcher
