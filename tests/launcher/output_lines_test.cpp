#include <rmpi/launcher/output_lines.hpp>

#include <doctest/doctest.h>

#include <algorithm>
#include <string>

using rmpi::launcher::OutputLines;

namespace {
std::span<const std::byte> bytes(const std::string& s) {
  return {reinterpret_cast<const std::byte*>(s.data()), s.size()};
}
}  // namespace

TEST_CASE("only whole lines leave, tagged at their start") {
  OutputLines lines("[3] ");
  std::string out;
  lines.feed(bytes("hel"), out);
  CHECK(out.empty());
  lines.feed(bytes("lo\nwor"), out);
  CHECK(out == "[3] hello\n");
  lines.feed(bytes("ld\n\nx"), out);
  CHECK(out == "[3] hello\n[3] world\n[3] \n");
  CHECK(lines.pending() == 1);
}

TEST_CASE("tagged: a partial last line is completed when the stream ends") {
  OutputLines lines("[0] ");
  std::string out;
  lines.feed(bytes("no newline"), out);
  lines.finish(out);
  CHECK(out == "[0] no newline\n");
  lines.finish(out);
  CHECK(out == "[0] no newline\n");
}

TEST_CASE("untagged output passes through byte for byte, with nothing added") {
  OutputLines lines;
  std::string out, all;
  for (int i = 0; i < 1000; ++i) all += "line " + std::to_string(i) + "\n";
  all += "abc";  // no final newline
  for (std::size_t i = 0; i < all.size(); i += 7) lines.feed(bytes(all.substr(i, 7)), out);
  lines.finish(out);
  CHECK(out == all);
  OutputLines abc;
  std::string three;
  abc.feed(bytes("abc"), three);
  abc.finish(three);
  CHECK(three == "abc");
}

TEST_CASE("untagged: output without a newline leaves in pieces of at most 64 KiB") {
  OutputLines lines;
  const std::string big(5 << 20, 'x');
  std::string out;
  std::size_t held_max = 0;
  for (std::size_t i = 0; i < big.size(); i += 10000) {
    std::string piece;
    lines.feed(bytes(big.substr(i, 10000)), piece);
    CHECK(piece.size() <= OutputLines::kMaxPending);
    held_max = std::max(held_max, lines.pending());
    out += piece;
  }
  CHECK(held_max <= OutputLines::kMaxPending);
  CHECK(out.size() + lines.pending() == big.size());
  lines.finish(out);
  CHECK(out == big);
}

TEST_CASE("tagged: a very long line leaves as tagged lines of at most 64 KiB") {
  OutputLines lines("[1] ");
  std::string out;
  const std::string big(5 << 20, 'x');
  for (std::size_t i = 0; i < big.size(); i += 65536) lines.feed(bytes(big.substr(i, 65536)), out);
  CHECK(lines.pending() <= OutputLines::kMaxPending);
  lines.feed(bytes("\n"), out);
  CHECK(lines.pending() == 0);
  std::size_t content = 0, count = 0;
  for (std::size_t pos = 0; pos < out.size();) {
    const auto nl = out.find('\n', pos);
    REQUIRE(nl != std::string::npos);
    const std::string line = out.substr(pos, nl - pos);
    REQUIRE(line.rfind("[1] ", 0) == 0);
    CHECK(line.size() - 4 <= OutputLines::kMaxPending);
    content += line.size() - 4;
    ++count;
    pos = nl + 1;
  }
  CHECK(content == big.size());
  CHECK(count == (big.size() + OutputLines::kMaxPending - 1) / OutputLines::kMaxPending);
}

TEST_CASE("a line prefix is made as each line leaves, before the tag") {
  int made = 0;
  OutputLines lines("[1] ", [&] { return "<" + std::to_string(made++) + "> "; });
  std::string out;
  lines.feed(bytes("a\nb"), out);
  CHECK(out == "<0> [1] a\n");
  lines.feed(bytes("c\n"), out);
  CHECK(out == "<0> [1] a\n<1> [1] bc\n");
  lines.feed(bytes("tail"), out);
  lines.finish(out);
  CHECK(out == "<0> [1] a\n<1> [1] bc\n<2> [1] tail\n");
  // A prefix alone makes the stream line-based too.
  OutputLines untagged("", [] { return std::string("T "); });
  std::string plain;
  untagged.feed(bytes("x"), plain);
  CHECK(plain.empty());
  untagged.finish(plain);
  CHECK(plain == "T x\n");
}
