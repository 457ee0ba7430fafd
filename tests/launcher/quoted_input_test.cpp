#include <rmpi/quoted_input.hpp>

#include <doctest/doctest.h>

#include <string>

using rmpi::quoted_input;

TEST_CASE("quoted_input: short printable input is quoted as is") {
  CHECK(quoted_input("node-1") == "'node-1'");
  CHECK(quoted_input("") == "''");
}

TEST_CASE("quoted_input: control bytes, NUL and high bytes are escaped") {
  CHECK(quoted_input(std::string("a\0b\x1b[1m\n\t\r\xff", 11)) == "'a\\x00b\\x1b[1m\\n\\t\\r\\xff'");
}

TEST_CASE("quoted_input: long input is cut to 80 characters, with its size") {
  const std::string q = quoted_input(std::string(100000, 'z'));
  CHECK(q == "'" + std::string(80, 'z') + "...' (100000 bytes)");
  // Escapes count as what they print, and are never split.
  const std::string ctl = quoted_input(std::string(50, '\x01'));
  CHECK(ctl == "'" + [] { std::string s; for (int i = 0; i < 20; ++i) s += "\\x01"; return s; }() +
                   "...' (50 bytes)");
  CHECK(quoted_input(std::string(80, 'a')) == "'" + std::string(80, 'a') + "'");
}
