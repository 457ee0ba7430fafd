// Shared-memory segments: memfd reached through /proc/<pid>/fd, the posix
// fallback, validation of what is attached, and nothing left after kill -9.
#include "shm/segment.hpp"

#include <doctest/doctest.h>

#include <dirent.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <string>

#include <rmpi/error.hpp>

#include "shm_pair.hpp"

using namespace rmpi::testing;

namespace {

std::vector<std::string> shm_names_of(pid_t pid) {
  std::vector<std::string> out;
  DIR* d = ::opendir("/dev/shm");
  if (!d) return out;
  const std::string suffix = "-" + std::to_string(pid);
  while (const dirent* e = ::readdir(d)) {
    const std::string n = e->d_name;
    if (n.starts_with("rmpi-") && n.ends_with(suffix)) out.push_back(n);
  }
  ::closedir(d);
  return out;
}

// The child creates a segment of `kind`, writes a word into its first ring,
// sends its info, and waits to be killed.
Child segment_child(shm::SegmentKind kind) {
  return Child([kind](int sock) {
    auto seg = shm::Segment::create(2, 4096, "segtest", kind);
    seg.ring_data(1)[5] = std::byte{42};
    send_info(sock, seg.info());
    ::pause();
  });
}

}  // namespace

TEST_CASE("a memfd segment is mapped by a peer through /proc and names nothing in /dev/shm") {
  Child child = segment_child(shm::SegmentKind::memfd);
  const shm::SegmentInfo info = recv_info(child.sock);
  CHECK(info.posix_name.empty());
  CHECK(info.fd >= 0);
  shm::Segment peer = shm::Segment::attach(info, 1);
  CHECK(peer.slots() == 2);
  CHECK(peer.ring_bytes() == 4096);
  CHECK(peer.ring_data(1)[5] == std::byte{42});
  CHECK(shm_names_of(child.pid).empty());

  const pid_t pid = child.pid;
  ::kill(pid, SIGKILL);
  child.join();
  // The creator is gone: its segment cannot be reached any more (the kernel
  // frees it once this last mapping goes), and no name was ever left behind.
  CHECK_THROWS_WITH_AS(shm::Segment::attach(info, 1), doctest::Contains("cannot open /proc/"), rmpi::Error);
  CHECK(shm_names_of(pid).empty());
  CHECK(peer.ring_data(1)[5] == std::byte{42});  // our mapping stays valid until unmapped
}

TEST_CASE("the posix fallback is unlinked once mapped, and a killed creator's name is swept") {
  SUBCASE("unlinked after the peer mapped it") {
    auto seg = shm::Segment::create(1, 4096, "segtest", shm::SegmentKind::posix);
    const auto info = seg.info();
    REQUIRE(!info.posix_name.empty());
    CHECK(shm_names_of(::getpid()).size() == 1);
    shm::Segment peer = shm::Segment::attach(info, 0);
    seg.unlink_name();
    CHECK(shm_names_of(::getpid()).empty());
    seg.ring_data(0)[0] = std::byte{7};
    CHECK(peer.ring_data(0)[0] == std::byte{7});
  }
  SUBCASE("a name of a dead creator is swept at the next start") {
    Child child = segment_child(shm::SegmentKind::posix);
    const shm::SegmentInfo info = recv_info(child.sock);
    const pid_t pid = child.pid;
    CHECK(shm_names_of(pid).size() == 1);
    shm::sweep_stale_names();  // the creator is alive: its name is kept
    CHECK(shm_names_of(pid).size() == 1);
    ::kill(pid, SIGKILL);
    child.join();
    CHECK(shm_names_of(pid).size() == 1);  // kill -9 left it...
    CHECK(shm::sweep_stale_names() >= 1);
    CHECK(shm_names_of(pid).empty());  // ...and the sweep removed it
  }
}

TEST_CASE("attach rejects what is not a live rmpi segment") {
  SUBCASE("wrong size") {
    auto seg = shm::Segment::create(1, 4096, "segtest");
    auto info = seg.info();
    info.size += 4096;
    CHECK_THROWS_WITH_AS(shm::Segment::attach(info, 0), doctest::Contains("were announced"), rmpi::Error);
  }
  SUBCASE("a memfd that is not a segment") {
    const int fd = ::memfd_create("not-a-segment", MFD_CLOEXEC);
    REQUIRE(fd >= 0);
    REQUIRE(::ftruncate(fd, 1 << 20) == 0);
    const shm::SegmentInfo info{::getpid(), fd, 1 << 20, {}};
    CHECK_THROWS_WITH_AS(shm::Segment::attach(info, 0), doctest::Contains("is not an rmpi segment"), rmpi::Error);
    ::close(fd);
  }
  SUBCASE("a pid that does not exist") {
    const shm::SegmentInfo info{999999999, 3, 8192, {}};
    CHECK_THROWS_AS(shm::Segment::attach(info, 0), rmpi::Error);
  }
}

TEST_CASE("a peer maps the header and its own slot only; the other slots stay untouched zeros") {
  auto seg = shm::Segment::create(64, 64 * 1024, "segtest");
  const auto info = seg.info();
  shm::Segment peer = shm::Segment::attach(info, 5);
  peer.ring_data(5)[0] = std::byte{9};
  peer.control(5).head.store(3);
  CHECK(seg.ring_data(5)[0] == std::byte{9});
  CHECK(seg.control(5).head.load() == 3);
  CHECK(seg.control(6).head.load() == 0);  // the initial state is the file's zeros
  CHECK_THROWS_WITH_AS(peer.control(6), doctest::Contains("slot 6 is not mapped"), rmpi::Error);
  CHECK_THROWS_WITH_AS(shm::Segment::attach(info, 64), doctest::Contains("has 64 slots, slot 64"), rmpi::Error);
  // Only the pages of the header and of slot 5 are mapped by the peer.
  std::ifstream maps("/proc/self/maps");
  std::size_t mapped = 0;
  const std::string inode_of_seg = [&] {
    struct stat st{};
    REQUIRE(::fstat(info.fd, &st) == 0);
    return std::to_string(st.st_ino);
  }();
  for (std::string line; std::getline(maps, line);) {
    if (line.find("rmpi-shm") == std::string::npos || line.find(" " + inode_of_seg + " ") == std::string::npos) continue;
    const auto dash = line.find('-');
    const auto lo = std::stoull(line.substr(0, dash), nullptr, 16);
    const auto hi = std::stoull(line.substr(dash + 1, line.find(' ') - dash - 1), nullptr, 16);
    mapped += hi - lo;
  }
  const std::size_t page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  // Ours: the whole segment; the peer's: a header page, a control page and one ring.
  CHECK(mapped == shm::segment_size(64, 64 * 1024) + page + page + 64 * 1024);
}
