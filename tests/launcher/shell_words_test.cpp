#include <rmpi/launcher/shell_words.hpp>

#include <doctest/doctest.h>

#include <rmpi/error.hpp>

using rmpi::ConfigError;
using rmpi::launcher::split_shell_words;
using Words = std::vector<std::string>;

TEST_CASE("shell words: blanks, quotes, backslashes") {
  CHECK(split_shell_words("") == Words{});
  CHECK(split_shell_words("  \t ") == Words{});
  CHECK(split_shell_words("  -p  2222 ") == Words{"-p", "2222"});
  CHECK(split_shell_words("-o 'StrictHostKeyChecking no'") ==
        Words{"-o", "StrictHostKeyChecking no"});
  CHECK(split_shell_words(R"(-o "A=\"b c\" \\ \$x \n")") == Words{"-o", R"(A="b c" \ $x \n)"});
  CHECK(split_shell_words(R"(a\ b c\'d)") == Words{"a b", "c'd"});
  CHECK(split_shell_words("'' x") == Words{"", "x"});
  CHECK(split_shell_words(R"('a'"b"c)") == Words{"abc"});
  CHECK(split_shell_words(R"('a\b')") == Words{R"(a\b)"});
}

TEST_CASE("shell words: unbalanced quotes and a trailing backslash are errors") {
  CHECK_THROWS_WITH_AS(split_shell_words("-o 'abc"), "unbalanced ' quote in '-o 'abc'",
                       ConfigError);
  CHECK_THROWS_WITH_AS(split_shell_words(R"(-o "abc)"), R"(unbalanced " quote in '-o "abc')",
                       ConfigError);
  CHECK_THROWS_WITH_AS(split_shell_words(R"(a\)"), R"(trailing backslash in 'a\')", ConfigError);
}
