#include <rmpi/launcher/rank_output.hpp>

#include <doctest/doctest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <vector>
#include <string>

#include <rmpi/error.hpp>

namespace fs = std::filesystem;
using rmpi::launcher::OutputOptions;
using rmpi::launcher::RankOutput;
using rmpi::places::OutputStream;

namespace {

std::span<const std::byte> bytes(const std::string& s) {
  return {reinterpret_cast<const std::byte*>(s.data()), s.size()};
}

std::string contents(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

/// A fresh directory under the system's temporary directory, removed at the end.
struct TempDir {
  fs::path path = fs::temp_directory_path() / ("rank-output-" + std::to_string(::getpid()));
  TempDir() { fs::remove_all(path); }
  ~TempDir() { fs::remove_all(path); }
};

}  // namespace

TEST_CASE("rank.N is padded to the width of the highest rank, under DIR/1") {
  CHECK(rmpi::launcher::rank_output_dir("d", 0, 1) == fs::path("d/1/rank.0"));
  CHECK(rmpi::launcher::rank_output_dir("d", 3, 10) == fs::path("d/1/rank.3"));
  CHECK(rmpi::launcher::rank_output_dir("d", 3, 11) == fs::path("d/1/rank.03"));
  CHECK(rmpi::launcher::rank_output_dir("d", 42, 101) == fs::path("d/1/rank.042"));
}

TEST_CASE("--output-filename: one stdout and one stderr file per rank, tagged as asked") {
  TempDir dir;
  RankOutput output(2, OutputOptions{.tag = true, .dir = dir.path, .world_size = 3});
  output.feed(OutputStream::out, bytes("one\ntw"));
  output.feed(OutputStream::err, bytes("oops\n"));
  output.feed(OutputStream::out, bytes("o\nunfinished"));
  output.finish();
  CHECK(contents(dir.path / "1/rank.2/stdout") == "[2] one\n[2] two\n[2] unfinished\n");
  CHECK(contents(dir.path / "1/rank.2/stderr") == "[2] oops\n");
}

TEST_CASE("--merge-stderr-to-stdout with --output-filename: one stdout file, no stderr") {
  TempDir dir;
  RankOutput output(0, OutputOptions{.merge_stderr = true, .dir = dir.path, .world_size = 1});
  output.feed(OutputStream::out, bytes("out\n"));
  output.feed(OutputStream::err, bytes("err\n"));
  output.finish();
  CHECK(contents(dir.path / "1/rank.0/stdout") == "out\nerr\n");
  CHECK_FALSE(fs::exists(dir.path / "1/rank.0/stderr"));
}

TEST_CASE("--timestamp-output puts the local time before each line") {
  TempDir dir;
  RankOutput output(0, OutputOptions{.tag = true, .timestamp = true, .dir = dir.path});
  output.feed(OutputStream::out, bytes("a\nb\n"));
  output.finish();
  const std::regex two_lines(R"((\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}\] \[0\] [ab]\n){2})");
  const std::string text = contents(dir.path / "1/rank.0/stdout");
  CAPTURE(text);
  CHECK(std::regex_match(text, two_lines));
}

TEST_CASE("an output directory that cannot be made is a one-line error naming it") {
  TempDir dir;
  fs::create_directories(dir.path);
  std::ofstream(dir.path / "file") << "x";
  try {
    RankOutput output(0, OutputOptions{.dir = dir.path / "file", .world_size = 1});
    FAIL("no error");
  } catch (const rmpi::ConfigError& e) {
    const std::string what = e.what();
    CHECK(what.starts_with("--output-filename: cannot create '" +
                           (dir.path / "file/1/rank.0").string() + "': "));
  }
}

TEST_CASE("--output-filename holds no descriptor per rank") {
  TempDir dir;
  const auto open_fds = [] {
    return std::distance(fs::directory_iterator("/proc/self/fd"), fs::directory_iterator{});
  };
  const auto before = open_fds();
  std::vector<RankOutput> outputs;
  for (int r = 0; r < 50; ++r) {
    outputs.emplace_back(r, OutputOptions{.dir = dir.path, .world_size = 50});
    outputs.back().feed(OutputStream::out, bytes("line\n"));
  }
  CHECK(open_fds() == before);
  CHECK(contents(dir.path / "1/rank.49/stdout") == "line\n");
}
