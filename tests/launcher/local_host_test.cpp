#include <rmpi/launcher/local_host.hpp>

#include <doctest/doctest.h>
#include <unistd.h>

#include <array>
#include <climits>
#include <string>

using rmpi::launcher::HostEntry;
using rmpi::launcher::is_local_host;

TEST_CASE("loopback names are local, other loopback addresses are not") {
  for (const char* name :
       {"localhost", "LocalHost", "localhost.localdomain", "127.0.0.1", "::1", "[::1]"}) {
    CAPTURE(name);
    CHECK(is_local_host(name, "vm"));
  }
  for (const char* name :
       {"127.0.0.2", "127.0.0.1x", "localhost2", "host1", "", "::2", "0.0.0.0"}) {
    CAPTURE(name);
    CHECK_FALSE(is_local_host(name, "vm"));
  }
}

TEST_CASE("the machine's own name, short or full, is local") {
  CHECK(is_local_host("node7.example.org", "node7.example.org"));
  CHECK(is_local_host("node7", "node7.example.org"));
  CHECK(is_local_host("NODE7", "node7.example.org"));
  CHECK(is_local_host("node7", "node7"));
  CHECK_FALSE(is_local_host("node7.other.org", "node7.example.org"));
  CHECK_FALSE(is_local_host("node7.example.org", "node7"));  // cannot tell without resolving
  CHECK_FALSE(is_local_host("node8", "node7.example.org"));
  CHECK_FALSE(is_local_host("node", "node7"));
  CHECK_FALSE(is_local_host("node7", ""));
}

TEST_CASE("is_local_host uses gethostname") {
  std::array<char, HOST_NAME_MAX + 1> buffer{};
  REQUIRE(gethostname(buffer.data(), buffer.size() - 1) == 0);
  const std::string own = buffer.data();
  CHECK(is_local_host(own));
  CHECK(is_local_host(own.substr(0, own.find('.'))));
  CHECK(is_local_host("localhost"));
  CHECK_FALSE(is_local_host("127.0.0.2"));
}

TEST_CASE("an entry naming a user goes through SSH even to the local host") {
  HostEntry entry;
  entry.name = entry.host = "localhost";
  CHECK(is_local_host(entry));
  entry.user = "alice";
  entry.name = "alice@localhost";
  CHECK_FALSE(is_local_host(entry));
  entry.user.clear();
  entry.name = entry.host = "127.0.0.3";
  CHECK_FALSE(is_local_host(entry));
}

