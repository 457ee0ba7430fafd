#include <rmpi/launcher/output_lines.hpp>

#include <doctest/doctest.h>

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

TEST_CASE("a partial last line is completed when the stream ends") {
  OutputLines lines("[0] ");
  std::string out;
  lines.feed(bytes("no newline"), out);
  lines.finish(out);
  CHECK(out == "[0] no newline\n");
  lines.finish(out);
  CHECK(out == "[0] no newline\n");
}

TEST_CASE("untagged output passes through byte for byte") {
  OutputLines lines;
  std::string out, all;
  for (int i = 0; i < 1000; ++i) all += "line " + std::to_string(i) + "\n";
  for (std::size_t i = 0; i < all.size(); i += 7) lines.feed(bytes(all.substr(i, 7)), out);
  lines.finish(out);
  CHECK(out == all);
}

TEST_CASE("a very long line stays whole") {
  OutputLines lines("[1] ");
  std::string out;
  const std::string big(5 << 20, 'x');
  for (std::size_t i = 0; i < big.size(); i += 65536) lines.feed(bytes(big.substr(i, 65536)), out);
  CHECK(out.empty());
  lines.feed(bytes("\n"), out);
  CHECK(out.size() == big.size() + 5);
  CHECK(out.rfind("[1] ", 0) == 0);
}
