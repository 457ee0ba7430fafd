#include <rmpi/launcher/port_range.hpp>

#include <doctest/doctest.h>

#include <rmpi/error.hpp>

using rmpi::ConfigError;
using rmpi::launcher::parse_port_range;
using rmpi::launcher::PortRange;

TEST_CASE("port ranges: single ports, ranges, 0 = any") {
  CHECK(parse_port_range("0") == PortRange{0, 0});
  CHECK(parse_port_range("0").any());
  CHECK(parse_port_range("0-0").any());
  CHECK(parse_port_range("50000") == PortRange{50000, 50000});
  CHECK_FALSE(parse_port_range("50000").any());
  CHECK(parse_port_range("50000-50100") == PortRange{50000, 50100});
  CHECK(parse_port_range("1-65535") == PortRange{1, 65535});
}

TEST_CASE("bad port ranges name the text") {
  const char* form = "expected PORT or FIRST-LAST (0 = any free port)";
  CHECK_THROWS_WITH_AS(parse_port_range(""), (std::string("bad port range '': ") + form).c_str(),
                       ConfigError);
  CHECK_THROWS_WITH_AS(parse_port_range("abc"),
                       (std::string("bad port range 'abc': ") + form).c_str(), ConfigError);
  CHECK_THROWS_WITH_AS(parse_port_range("1-"),
                       (std::string("bad port range '1-': ") + form).c_str(), ConfigError);
  CHECK_THROWS_WITH_AS(parse_port_range("-5"),
                       (std::string("bad port range '-5': ") + form).c_str(), ConfigError);
  CHECK_THROWS_WITH_AS(parse_port_range("70000"), "bad port range '70000': ports are 1..65535",
                       ConfigError);
  CHECK_THROWS_WITH_AS(parse_port_range("50100-50000"),
                       "bad port range '50100-50000': the first port is above the last",
                       ConfigError);
  CHECK_THROWS_WITH_AS(parse_port_range("0-5"),
                       "bad port range '0-5': ports are 1..65535 (or 0 for any)", ConfigError);
}
