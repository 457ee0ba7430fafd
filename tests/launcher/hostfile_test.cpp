#include <rmpi/launcher/hostfile.hpp>

#include <doctest/doctest.h>

#include <filesystem>
#include <string>

#include <rmpi/error.hpp>

using rmpi::ConfigError;
using rmpi::launcher::HostEntry;
using rmpi::launcher::parse_hostfile;
using rmpi::launcher::parse_hostfile_text;
using rmpi::launcher::SlotSource;

namespace {

HostEntry entry(std::string user, std::string host, int slots, std::optional<int> max_slots,
                std::string origin, SlotSource source = SlotSource::given) {
  HostEntry e;
  e.slot_source = source;
  e.name = user.empty() ? host : user + "@" + host;
  e.user = std::move(user);
  e.host = std::move(host);
  e.slots = slots;
  e.max_slots = max_slots;
  e.origin = std::move(origin);
  return e;
}

const std::filesystem::path hostfiles_dir = RMPI_HOSTFILES_DIR;

}  // namespace

TEST_CASE("Open MPI syntax: slots, max_slots, synonyms, user@host") {
  const auto hosts = parse_hostfile_text(
      "host1 slots=2 max_slots=4\n"
      "host2 count=3\n"
      "host3 cpu=1 max-slots=2\n"
      "alice@host4\n"
      "host5 slots = 6\n"
      "host6 slots_max=3 username=bob\n",
      "hosts");
  REQUIRE(hosts.size() == 6);
  CHECK(hosts[0] == entry("", "host1", 2, 4, "hosts:1"));
  CHECK(hosts[1] == entry("", "host2", 3, std::nullopt, "hosts:2"));
  CHECK(hosts[2] == entry("", "host3", 1, 2, "hosts:3"));
  CHECK(hosts[3] == entry("alice", "host4", 1, std::nullopt, "hosts:4", SlotSource::topology));
  CHECK(hosts[3].name == "alice@host4");
  CHECK(hosts[4] == entry("", "host5", 6, std::nullopt, "hosts:5"));
  CHECK(hosts[5] == entry("bob", "host6", 1, 3, "hosts:6", SlotSource::topology));
}

TEST_CASE("comments, blank lines, tabs and CRLF are ignored; line numbers stay right") {
  const auto hosts = parse_hostfile_text(
      "# a comment\r\n"
      "\r\n"
      "   \t \n"
      "\thost1\tslots=2   # trailing comment\r\n"
      "#host9 slots=100\n"
      "host2",
      "f");
  REQUIRE(hosts.size() == 2);
  CHECK(hosts[0] == entry("", "host1", 2, std::nullopt, "f:4"));
  CHECK(hosts[1] == entry("", "host2", 1, std::nullopt, "f:6", SlotSource::topology));
}

TEST_CASE("repeated lines add slots to the first entry, which keeps its place") {
  const auto hosts = parse_hostfile_text(
      "host1 slots=2\n"
      "host2\n"
      "host1 slots=3\n"
      "host2:2\n"
      "alice@host1\n",
      "f");
  REQUIRE(hosts.size() == 3);
  CHECK(hosts[0] == entry("", "host1", 5, std::nullopt, "f:1"));
  CHECK(hosts[1] == entry("", "host2", 3, std::nullopt, "f:2"));
  CHECK(hosts[2] == entry("alice", "host1", 1, std::nullopt, "f:5"));
}

TEST_CASE("Open MPI: a line without slots= gets the host's cores; MPICH: a bare host is 1") {
  // Open MPI syntax only: bare lines take the count their node reports (host_slots.hpp).
  auto hosts = parse_hostfile_text("host1\nhost2 slots=2\nhost3 max_slots=4\nhost1\n", "o");
  REQUIRE(hosts.size() == 3);
  CHECK(hosts[0] == entry("", "host1", 2, std::nullopt, "o:1", SlotSource::topology));
  CHECK(hosts[1].slot_source == SlotSource::given);
  CHECK(hosts[2] == entry("", "host3", 1, 4, "o:3", SlotSource::topology));
  // A bare line and a counted one of the same host: the count is written (1 + 2, as Open MPI).
  hosts = parse_hostfile_text("host1\nhost1 slots=2\n", "o");
  REQUIRE(hosts.size() == 1);
  CHECK(hosts[0] == entry("", "host1", 3, std::nullopt, "o:1"));
  // One `host:N` line makes the file MPICH's: its bare hosts get 1 slot each, as in MPICH.
  hosts = parse_hostfile_text("host1\nhost2:3\nhost3 slots=2\n", "m");
  REQUIRE(hosts.size() == 3);
  CHECK(hosts[0] == entry("", "host1", 1, std::nullopt, "m:1"));
  CHECK(hosts[1] == entry("", "host2", 3, std::nullopt, "m:2"));
  CHECK(hosts[2] == entry("", "host3", 2, std::nullopt, "m:3"));
}

TEST_CASE("repeated lines add max_slots too") {
  const auto hosts = parse_hostfile_text("h slots=1 max_slots=2\nh slots=1 max_slots=2\n", "f");
  REQUIRE(hosts.size() == 1);
  CHECK(hosts[0].slots == 2);
  CHECK(hosts[0].max_slots == 4);
}

TEST_CASE("MPICH syntax: host:n and user=name") {
  const auto hosts = parse_hostfile_text("host1:4\nhost2 user=carol\nhost3:2 user=dave\n", "m");
  REQUIRE(hosts.size() == 3);
  CHECK(hosts[0] == entry("", "host1", 4, std::nullopt, "m:1"));
  CHECK(hosts[1] == entry("carol", "host2", 1, std::nullopt, "m:2"));
  CHECK(hosts[2] == entry("dave", "host3", 2, std::nullopt, "m:3"));
  CHECK(hosts[2].name == "dave@host3");
}

TEST_CASE("IP addresses, including IPv6 literals") {
  const auto hosts = parse_hostfile_text("127.0.0.2:2\n::1 slots=3\n[fe80::1]:2\nu@[::2]\n", "ip");
  REQUIRE(hosts.size() == 4);
  CHECK(hosts[0] == entry("", "127.0.0.2", 2, std::nullopt, "ip:1"));
  CHECK(hosts[1] == entry("", "::1", 3, std::nullopt, "ip:2"));
  CHECK(hosts[2] == entry("", "fe80::1", 2, std::nullopt, "ip:3"));
  CHECK(hosts[3] == entry("u", "::2", 1, std::nullopt, "ip:4"));
}

TEST_CASE("errors name file:line, what is wrong and the token") {
  const auto check = [](const char* text, const char* message) {
    CAPTURE(text);
    CHECK_THROWS_WITH_AS(parse_hostfile_text(text, "hosts"), message, ConfigError);
  };
  check("host1\nhost2 foo=1\n", "hosts:2: unknown option 'foo=1'");
  check("host1 slots=abc\n", "hosts:1: bad slot count 'slots=abc'");
  check("host1 slots=\n", "hosts:1: bad slot count 'slots='");
  check("host1 slots=2x\n", "hosts:1: bad slot count 'slots=2x'");
  check("host1 slots=99999999999\n", "hosts:1: bad slot count 'slots=99999999999'");
  check("host1 slots=0\n", "hosts:1: slot count must be at least 1 'slots=0'");
  check("host1 count=-2\n", "hosts:1: slot count must be at least 1 'count=-2'");
  check("# c\n\nhost1:0\n", "hosts:3: slot count must be at least 1 'host1:0'");
  check("host1\nhost2\nhost3:x\n", "hosts:3: bad slot count 'host3:x'");
  check("host1:\n", "hosts:1: bad slot count 'host1:'");
  check("host1 host2\n", "hosts:1: unexpected token 'host2'");
  check("host1:2 slots=3\n", "hosts:1: slot count given twice 'slots=3'");
  check("host1 max_slots=0\n", "hosts:1: max_slots must be at least 1 'max_slots=0'");
  check("host1 max_slots=2 max_slots=3\n", "hosts:1: max_slots given twice 'max_slots=3'");
  check("host1 slots=2 max_slots=1\n",
        "hosts:1: max_slots (1) is less than slots (2) for host 'host1'");
  check("h max_slots=2\nh slots=2\n", "hosts:2: max_slots (2) is less than slots (3) for host 'h'");
  check("ho$t\n", "hosts:1: bad host name 'ho$t'");
  check("host1,host2\n", "hosts:1: bad host name 'host1,host2'");
  check("alice@\n", "hosts:1: bad host name 'alice@'");
  check("@host1\n", "hosts:1: bad user name '@host1'");
  check("a@b@host1\n", "hosts:1: bad host name 'a@b@host1'");
  check("alice@host1 user=bob\n", "hosts:1: user given twice 'user=bob'");
  check("host1 user=\n", "hosts:1: bad user name 'user='");
  check("[::1\n", "hosts:1: bad host name '[::1'");
  check("host1 slots=2 =3\n", "hosts:1: unknown option '=3'");
}

TEST_CASE("a hostfile without hosts is an error") {
  CHECK_THROWS_WITH_AS(parse_hostfile_text("", "empty"), "empty: no hosts in hostfile",
                       ConfigError);
  CHECK_THROWS_WITH_AS(parse_hostfile_text("# only\n\n  # comments\n", "c"),
                       "c: no hosts in hostfile", ConfigError);
}

TEST_CASE("a missing or unreadable hostfile is an error naming the file") {
  const auto missing = hostfiles_dir / "no-such-hostfile";
  CHECK_THROWS_WITH_AS(
      parse_hostfile(missing),
      ("cannot read hostfile '" + missing.string() + "': No such file or directory").c_str(),
      ConfigError);
  CHECK_THROWS_WITH_AS(
      parse_hostfile(hostfiles_dir),
      ("cannot read hostfile '" + hostfiles_dir.string() + "': is a directory").c_str(),
      ConfigError);
}

TEST_CASE("the example hostfiles parse") {
  SUBCASE("localhost") {
    const auto hosts = parse_hostfile(hostfiles_dir / "localhost");
    REQUIRE(hosts.size() == 1);
    CHECK(hosts[0].name == "localhost");
    CHECK(hosts[0].slots == 4);
  }
  SUBCASE("four-hosts") {
    const auto hosts = parse_hostfile(hostfiles_dir / "four-hosts");
    REQUIRE(hosts.size() == 4);
    for (int i = 0; i < 4; ++i) {
      CHECK(hosts[i].name == "host" + std::to_string(i + 1));
      CHECK(hosts[i].slots == 2);
      CHECK(hosts[i].origin.starts_with((hostfiles_dir / "four-hosts").string() + ":"));
    }
  }
  SUBCASE("mpich") {
    const auto hosts = parse_hostfile(hostfiles_dir / "mpich");
    REQUIRE(hosts.size() == 4);
    CHECK(hosts[0].slots == 2);
    CHECK(hosts[2].name == "host3");
    CHECK(hosts[2].slots == 1);
    CHECK(hosts[2].slot_source == SlotSource::given);
  }
  SUBCASE("mixed") {
    const auto hosts = parse_hostfile(hostfiles_dir / "mixed");
    REQUIRE(hosts.size() == 4);
    CHECK(hosts[0].slots == 2);
    CHECK(hosts[0].max_slots == 4);
    CHECK(hosts[1].slots == 2);
    CHECK(hosts[2].name == "rmpi@host3");
    CHECK(hosts[2].user == "rmpi");
    CHECK(hosts[2].host == "host3");
    CHECK(hosts[3].name == "host4");
    CHECK(hosts[3].slots == 2);
  }
}
