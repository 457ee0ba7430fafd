#include <rmpi/interface_address.hpp>

#include <doctest/doctest.h>

#include <rmpi/error.hpp>

using rmpi::resolve_interface_address;

TEST_CASE("an interface name, a subnet or an own address resolves to this host's address") {
  CHECK(resolve_interface_address("lo") == "127.0.0.1");
  CHECK(resolve_interface_address("127.0.0.0/8") == "127.0.0.1");
  CHECK(resolve_interface_address("127.0.0.1") == "127.0.0.1");
}

TEST_CASE("no match is one clear error naming the value and what the host has") {
  CHECK_THROWS_WITH_AS(resolve_interface_address("nosuch0"),
                       doctest::Contains("no interface or address matching 'nosuch0'"),
                       rmpi::ConfigError);
  CHECK_THROWS_WITH_AS(resolve_interface_address("nosuch0"), doctest::Contains("lo 127.0.0.1"),
                       rmpi::ConfigError);
  // A /32 of a loopback address that no interface holds.
  CHECK_THROWS_AS(resolve_interface_address("127.255.255.254/32"), rmpi::ConfigError);
  CHECK_THROWS_WITH_AS(resolve_interface_address("10.0.0.0/40"), doctest::Contains("bad subnet"),
                       rmpi::ConfigError);
}
