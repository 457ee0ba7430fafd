// bench_core: the options, sizes, iteration counts and output lines that
// rmpi-bench and mpi-bench.c share (pure functions, no processes).
#include "bench_core.h"

#include <doctest/doctest.h>

#include <initializer_list>
#include <string>
#include <vector>

namespace {

struct Parsed {
  int rc = -1;
  bench_options opt{};
  std::string err;
};

Parsed parse(std::initializer_list<const char*> args) {
  std::vector<std::string> words = {"rmpi-bench"};
  words.insert(words.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& w : words) argv.push_back(w.data());
  Parsed p;
  char err[512];
  p.rc = bench_parse(static_cast<int>(argv.size()), argv.data(), &p.opt, err, sizeof err);
  p.err = err;
  return p;
}

std::vector<std::size_t> sizes(const bench_options& opt) {
  std::size_t s[BENCH_MAX_SIZES];
  const std::size_t n = bench_sizes(&opt, s);
  return {s, s + n};
}

std::string header(const bench_options& opt, const char* runtime, int ranks) {
  char buf[256];
  const int n = bench_format_header(buf, sizeof buf, &opt, "rmpi-bench", runtime, ranks);
  CHECK(n == static_cast<int>(std::string(buf).size()));
  return buf;
}

/// An OSU row: the size left-aligned in 10 columns, each figure right-aligned in 18.
std::string osu(const std::string& size, const std::string& figure,
                const std::string& max_figure = "") {
  std::string line =
      size + std::string(10 - size.size(), ' ') + std::string(18 - figure.size(), ' ') + figure;
  if (!max_figure.empty()) line += std::string(18 - max_figure.size(), ' ') + max_figure;
  return line + "\n";
}

std::string row(const bench_options& opt, int ranks, std::size_t bytes, double value,
                double max = 0) {
  char buf[256];
  const bench_figures figures{value, max};
  const int n = bench_format_row(buf, sizeof buf, &opt, ranks, bytes, &figures);
  CHECK(n == static_cast<int>(std::string(buf).size()));
  return buf;
}

}  // namespace

TEST_CASE("the OSU table: a title, the column line, then size and figure in OSU's widths") {
  auto p = parse({"latency"});
  REQUIRE(p.rc == BENCH_PARSE_OK);
  CHECK(header(p.opt, "rmpi", 2) ==
        "# rmpi-bench latency: rmpi, 2 ranks\n"
        "# Size       Avg Latency(us)\n");
  CHECK(row(p.opt, 2, 8, 3.414) == osu("8", "3.41"));
  CHECK(row(p.opt, 2, 4194304, 1234.567) == osu("4194304", "1234.57"));
  CHECK(row(p.opt, 2, 8, 3.414).size() == 29);

  auto bw = parse({"bw"});
  CHECK(header(bw.opt, "Open MPI", 2) ==
        "# rmpi-bench bw: Open MPI, 2 ranks\n"
        "# Size      Bandwidth (MB/s)\n");
  CHECK(row(bw.opt, 2, 1048576, 6715.04) == osu("1048576", "6715.04"));
  auto bibw = parse({"bibw"});
  CHECK(header(bibw.opt, "MPICH", 2).find("Bandwidth (MB/s)") != std::string::npos);
}

TEST_CASE("collectives: the mean over ranks, then the slowest rank's mean (OSU -f's Max)") {
  auto coll = parse({"allgather"});
  REQUIRE(coll.rc == BENCH_PARSE_OK);
  CHECK(header(coll.opt, "rmpi", 8) ==
        "# rmpi-bench allgather: rmpi, 8 ranks\n"
        "# Size       Avg Latency(us)   Max Latency(us)\n");
  CHECK(row(coll.opt, 8, 8, 3.414, 12.5) == osu("8", "3.41", "12.50"));
  CHECK(row(coll.opt, 8, 1048576, 1234.567, 2345.678) == osu("1048576", "1234.57", "2345.68"));
  auto barrier = parse({"barrier"});
  CHECK(header(barrier.opt, "MPICH", 3).find("   Max Latency(us)\n") != std::string::npos);
  CHECK(row(barrier.opt, 3, 0, 57.25, 60.0) == osu("0", "57.25", "60.00"));
  // Point-to-point rows have one figure: `max` is not printed.
  auto lat = parse({"latency"});
  CHECK(row(lat.opt, 2, 8, 3.414, 99.0) == osu("8", "3.41"));
  for (int k = 0; k < BENCH_KIND_COUNT; ++k) {
    const auto kind = static_cast<bench_kind>(k);
    CAPTURE(bench_name(kind));
    CHECK(bench_has_max(kind) == !bench_is_point_to_point(kind));
  }
  CHECK(std::string(bench_usage()).find("usec_max (Max Latency) is the slowest") !=
        std::string::npos);
}

TEST_CASE("--json prints one object per line and no header") {
  auto p = parse({"latency", "--json"});
  REQUIRE(p.rc == BENCH_PARSE_OK);
  CHECK(header(p.opt, "rmpi", 2).empty());
  CHECK(row(p.opt, 2, 8, 3.41) == R"({"bench":"latency","ranks":2,"bytes":8,"usec":3.410})"
                                  "\n");
  auto bw = parse({"bw", "--json"});
  CHECK(row(bw.opt, 2, 1048576, 6715.0) ==
        R"({"bench":"bw","ranks":2,"bytes":1048576,"mb_per_s":6715.0})"
        "\n");
  CHECK(row(bw.opt, 2, 1048576, 6715.0, 1.0).find("usec_max") == std::string::npos);
  auto barrier = parse({"barrier", "--json"});
  CHECK(row(barrier.opt, 8, 0, 57.25, 61.5) ==
        R"({"bench":"barrier","ranks":8,"bytes":0,"usec":57.250,"usec_max":61.500})"
        "\n");
  auto allreduce = parse({"allreduce", "--json"});
  CHECK(row(allreduce.opt, 2, 8, 0.5204, 0.9) ==
        R"({"bench":"allreduce","ranks":2,"bytes":8,"usec":0.520,"usec_max":0.900})"
        "\n");
}

TEST_CASE("every bench name parses, and each reports its metric") {
  for (int k = 0; k < BENCH_KIND_COUNT; ++k) {
    const std::string name = bench_name(static_cast<bench_kind>(k));
    CAPTURE(name);
    auto p = parse({name.c_str()});
    REQUIRE(p.rc == BENCH_PARSE_OK);
    CHECK(p.opt.kind == k);
    CHECK(bench_min_ranks(p.opt.kind) == 2);
    const bool bandwidth = name == "bw" || name == "bibw";
    CHECK((bench_metric_of(p.opt.kind) == BENCH_METRIC_BANDWIDTH) == bandwidth);
    CHECK(bench_is_point_to_point(p.opt.kind) == (bandwidth || name == "latency"));
  }
}

TEST_CASE("sizes double from --min-bytes to --max-bytes; defaults as OSU's") {
  CHECK(sizes(parse({"latency", "--min-bytes", "1", "--max-bytes", "16"}).opt) ==
        std::vector<std::size_t>{1, 2, 4, 8, 16});
  CHECK(sizes(parse({"bw", "--min-bytes=0", "--max-bytes=4"}).opt) ==
        std::vector<std::size_t>{0, 1, 2, 4});
  CHECK(sizes(parse({"bcast", "--bytes", "64K"}).opt) == std::vector<std::size_t>{65536});
  CHECK(sizes(parse({"latency", "--bytes", "1M"}).opt) == std::vector<std::size_t>{1 << 20});
  CHECK(sizes(parse({"latency", "--min-bytes", "3", "--max-bytes", "20"}).opt) ==
        std::vector<std::size_t>{3, 6, 12});
  // reduce and allreduce sum floats: sizes start at one float and stay multiples of 4.
  CHECK(sizes(parse({"allreduce", "--min-bytes", "1", "--max-bytes", "32"}).opt) ==
        std::vector<std::size_t>{4, 8, 16, 32});
  CHECK(sizes(parse({"reduce", "--min-bytes", "6", "--max-bytes", "40"}).opt) ==
        std::vector<std::size_t>{8, 16, 32});
  CHECK(sizes(parse({"barrier", "--bytes", "8"}).opt) == std::vector<std::size_t>{0});
  const auto lat = sizes(parse({"latency"}).opt);
  CHECK(lat.front() == 1);
  CHECK(lat.back() == 4u << 20);
  CHECK(sizes(parse({"alltoall"}).opt).back() == 1u << 20);
  CHECK(sizes(parse({"latency", "--min-bytes", "0", "--max-bytes", "1G"}).opt).size() == 32);
}

TEST_CASE("iteration counts scale down above 8 KiB, never below min(--iters, 10)") {
  auto lat = parse({"latency"}).opt;
  CHECK(lat.iters == 10000);
  CHECK(lat.warmup == 1000);
  CHECK(bench_iters_at(&lat, 8) == 10000);
  CHECK(bench_iters_at(&lat, 8192) == 10000);
  CHECK(bench_iters_at(&lat, 16384) == 5000);
  CHECK(bench_iters_at(&lat, 4u << 20) == 19);
  CHECK(bench_warmup_at(&lat, 16384) == 500);
  auto bw = parse({"bw"}).opt;
  CHECK(bw.iters == 100);
  CHECK(bench_iters_at(&bw, 1u << 20) == 10);
  CHECK(bench_warmup_at(&bw, 1u << 20) == 2);
  auto coll = parse({"allreduce"}).opt;
  CHECK(coll.iters == 1000);
  CHECK(coll.warmup == 100);
  auto tiny = parse({"gather", "--iters", "3", "--warmup", "0"}).opt;
  CHECK(bench_iters_at(&tiny, 1u << 20) == 3);
  CHECK(bench_warmup_at(&tiny, 1u << 20) == 0);
  CHECK(bench_warmup_at(&tiny, 8) == 0);
}

TEST_CASE("bad input: one line naming the option and the valid values") {
  auto unknown = parse({"pingpong"});
  CHECK(unknown.rc == BENCH_PARSE_ERROR);
  CHECK(unknown.err ==
        "unknown bench 'pingpong'; valid: latency, bw, bibw, bcast, reduce, allreduce, barrier, "
        "gather, allgather, alltoall");
  CHECK(parse({}).err.find("no bench given; valid: latency, bw") == 0);
  CHECK(parse({"latency", "bw"}).err == "one bench only: 'bw' after 'latency'");
  CHECK(parse({"latency", "--max-bytes", "2G"}).err ==
        "--max-bytes: '2G' is out of range; valid: 0 to 1073741824 bytes (or with K, M, G)");
  CHECK(parse({"latency", "--min-bytes=12Q"}).err ==
        "--min-bytes: '12Q' is not a size; valid: 0 to 1073741824 bytes (or with K, M, G)");
  CHECK(parse({"latency", "--bytes", "-1"}).err.find("--bytes: '-1' is not a size") == 0);
  CHECK(parse({"latency", "--min-bytes", "64", "--max-bytes", "8"}).err ==
        "--min-bytes 64 is above --max-bytes 8; valid: min <= max");
  CHECK(parse({"latency", "--iters", "0"}).err ==
        "--iters: '0' is out of range; valid: 1 to 1000000000");
  CHECK(parse({"latency", "--warmup", "x"}).err ==
        "--warmup: 'x' is not a number; valid: 0 to 1000000000");
  CHECK(parse({"latency", "--iters"}).err ==
        "--iters needs a value; valid: a count up to 1000000000");
  CHECK(parse({"latency", "--window", "8"}).err ==
        "unknown option '--window'; valid: --min-bytes, --max-bytes, --bytes, --iters, "
        "--warmup, --json, --help");
  CHECK(parse({"allreduce", "--bytes", "6"}).err ==
        "--bytes: allreduce sums floats, so a size is a multiple of 4; valid: 4 to 1073741824 "
        "bytes");
  CHECK(parse({"reduce", "--max-bytes", "2"}).err.find("--max-bytes: reduce sums floats") == 0);
  CHECK(parse({"bw", "--bytes", "8", "--max-bytes", "16"}).err.find("--bytes runs one size") == 0);
  CHECK(parse({"latency", "--help"}).rc == BENCH_PARSE_HELP);
  CHECK(std::string(bench_usage()).find("--max-bytes") != std::string::npos);
}

TEST_CASE("echoed input is escaped and cut short") {
  auto p = parse({"ping\npong\x01'"});
  CHECK(p.err.find(R"('ping\npong\x01\'')") != std::string::npos);
  const std::string long_name(200, 'z');
  auto l = parse({long_name.c_str()});
  CHECK(l.err.find("'" + std::string(40, 'z') + "...'") != std::string::npos);
  CHECK(l.err.find('\n') == std::string::npos);
  char out[8];
  bench_escape("abcdefghij", out, sizeof out);
  CHECK(std::string(out) == "abcd...");
}
