#include "segment.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <new>
#include <utility>

#include <rmpi/error.hpp>

namespace rmpi::detail::shm {
namespace {

constexpr std::size_t kMinRing = 4096;
constexpr const char* kShmDir = "/dev/shm";
constexpr std::string_view kNamePrefix = "rmpi-";

std::string errno_text() { return std::strerror(errno); }

std::size_t page_size() {
  static const std::size_t page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  return page;
}
std::size_t round_page(std::size_t n) { return (n + page_size() - 1) / page_size() * page_size(); }

// Layout: the header page(s), then per slot its control page(s) and its ring,
// every part page-aligned so that a peer can map its slot alone.
std::size_t header_bytes() { return round_page(sizeof(SegmentHeader)); }
std::size_t control_bytes() { return round_page(sizeof(RingControl)); }
std::size_t round_ring(std::size_t bytes) { return std::bit_ceil(std::max({bytes, kMinRing, page_size()})); }
std::size_t slot_stride(std::size_t ring) { return control_bytes() + ring; }

}  // namespace

std::size_t segment_size(std::uint32_t slots, std::size_t ring_bytes) {
  return header_bytes() + slots * slot_stride(round_ring(ring_bytes));
}

Segment Segment::create(std::uint32_t slots, std::size_t ring_bytes, std::string_view job_id,
                        SegmentKind kind) {
  if (slots == 0 || slots > SegmentHeader::kMaxSlots)
    throw Error("rmpi: shared memory: " + std::to_string(slots) + " ranks on a node, at most " +
                std::to_string(SegmentHeader::kMaxSlots) + " share memory");
  const std::size_t ring = round_ring(ring_bytes);
  const std::size_t size = segment_size(slots, ring);
  Segment s;
  s.owner_ = true;
  s.size_ = size;
  s.info_.pid = ::getpid();
  s.info_.size = size;
  if (kind == SegmentKind::memfd) {
    s.fd_ = ::memfd_create("rmpi-shm", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (s.fd_ < 0 && (errno == ENOSYS || errno == EPERM)) kind = SegmentKind::posix;
    else if (s.fd_ < 0) throw Error("rmpi: shared memory: memfd_create failed: " + errno_text());
  }
  if (kind == SegmentKind::posix) {
    std::string job(job_id.empty() ? "job" : job_id);
    for (char& c : job)
      if (c == '/') c = '_';
    s.info_.posix_name = "/" + std::string(kNamePrefix) + job + "-" + std::to_string(::getpid());
    s.fd_ = ::shm_open(s.info_.posix_name.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (s.fd_ < 0)
      throw Error("rmpi: shared memory: shm_open " + s.info_.posix_name + " failed: " + errno_text());
  }
  s.info_.fd = kind == SegmentKind::memfd ? s.fd_ : -1;
  if (::ftruncate(s.fd_, static_cast<off_t>(size)) != 0) {
    const std::string why = errno_text();
    s.unlink_name();
    throw Error("rmpi: shared memory: cannot size the segment to " + std::to_string(size) + " bytes: " + why);
  }
  // A peer must not be able to shrink the file under our mapping (SIGBUS).
  if (kind == SegmentKind::memfd) (void)::fcntl(s.fd_, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL);
  s.base_ = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, s.fd_, 0);
  if (s.base_ == MAP_FAILED) {
    s.base_ = nullptr;
    const std::string why = errno_text();
    s.unlink_name();
    throw Error("rmpi: shared memory: cannot map the segment: " + why);
  }
  auto* h = new (s.base_) SegmentHeader;
  h->slots = slots;
  h->ring_bytes = ring;
  h->pid = static_cast<std::uint64_t>(::getpid());
  h->self_address = reinterpret_cast<std::uint64_t>(h);
  // The slots' control words are left as the file's zero bytes, which is
  // their initial state: no page of a slot is touched before its peer writes.
  static_assert(RingControl::unknown == 0 && Doorbell::awake == 0);
  // Under Yama's ptrace_scope 1 only ancestors may read our memory; local
  // peers pull large payloads from it (CMA), so let them, as Open MPI does.
  // No Yama (EINVAL): the usual same-user rule applies.
  (void)::prctl(PR_SET_PTRACER, PR_SET_PTRACER_ANY, 0, 0, 0);
  return s;
}

Segment Segment::attach(const SegmentInfo& info, std::uint32_t slot) {
  const std::string who = "the segment of pid " + std::to_string(info.pid);
  Segment s;
  if (info.posix_name.empty()) {
    const std::string path = "/proc/" + std::to_string(info.pid) + "/fd/" + std::to_string(info.fd);
    s.fd_ = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
    if (s.fd_ < 0) throw Error("rmpi: shared memory: cannot open " + path + " (" + who + "): " + errno_text());
  } else {
    s.fd_ = ::shm_open(info.posix_name.c_str(), O_RDWR | O_CLOEXEC, 0);
    if (s.fd_ < 0)
      throw Error("rmpi: shared memory: cannot open " + info.posix_name + " (" + who + "): " + errno_text());
  }
  struct stat st{};
  if (::fstat(s.fd_, &st) != 0 || static_cast<std::uint64_t>(st.st_size) != info.size ||
      info.size < header_bytes())
    throw Error("rmpi: shared memory: " + who + " has " + std::to_string(st.st_size) + " bytes, " +
                std::to_string(info.size) + " were announced");
  s.size_ = header_bytes();
  s.info_ = info;
  s.base_ = ::mmap(nullptr, s.size_, PROT_READ | PROT_WRITE, MAP_SHARED, s.fd_, 0);
  if (s.base_ == MAP_FAILED) {
    s.base_ = nullptr;
    throw Error("rmpi: shared memory: cannot map " + who + ": " + errno_text());
  }
  const SegmentHeader& h = s.header();
  if (h.magic != kSegmentMagic || h.version != kSegmentVersion ||
      h.pid != static_cast<std::uint64_t>(info.pid) || h.ring_bytes < kMinRing ||
      !std::has_single_bit(h.ring_bytes) || h.ring_bytes < page_size() || h.slots > SegmentHeader::kMaxSlots ||
      segment_size(h.slots, h.ring_bytes) != info.size)
    throw Error("rmpi: shared memory: " + who + " is not an rmpi segment of version " +
                std::to_string(kSegmentVersion));
  if (slot >= h.slots)
    throw Error("rmpi: shared memory: " + who + " has " + std::to_string(h.slots) + " slots, slot " +
                std::to_string(slot) + " was asked for");
  const std::size_t stride = slot_stride(h.ring_bytes);
  s.slot_ = slot;
  s.slot_map_ = ::mmap(nullptr, stride, PROT_READ | PROT_WRITE, MAP_SHARED, s.fd_,
                       static_cast<off_t>(header_bytes() + slot * stride));
  if (s.slot_map_ == MAP_FAILED) {
    s.slot_map_ = nullptr;
    throw Error("rmpi: shared memory: cannot map slot " + std::to_string(slot) + " of " + who + ": " + errno_text());
  }
  // The descriptor is not needed once mapped (the mapping keeps the memory).
  ::close(s.fd_);
  s.fd_ = -1;
  return s;
}

Segment::Segment(Segment&& o) noexcept
    : base_(std::exchange(o.base_, nullptr)), size_(o.size_), slot_map_(std::exchange(o.slot_map_, nullptr)),
      slot_(o.slot_), fd_(std::exchange(o.fd_, -1)), owner_(o.owner_), info_(std::move(o.info_)) {}

Segment& Segment::operator=(Segment&& o) noexcept {
  if (this != &o) {
    this->~Segment();
    new (this) Segment(std::move(o));
  }
  return *this;
}

Segment::~Segment() {
  if (owner_) unlink_name();
  if (slot_map_) ::munmap(slot_map_, slot_stride(ring_bytes()));  // the header says its size
  if (base_) ::munmap(base_, size_);
  if (fd_ >= 0) ::close(fd_);
}

std::byte* Segment::slot_start(std::uint32_t slot) const {
  if (slot_map_) {
    if (slot != slot_) throw Error("rmpi: shared memory: slot " + std::to_string(slot) + " is not mapped here");
    return static_cast<std::byte*>(slot_map_);
  }
  return static_cast<std::byte*>(base_) + header_bytes() + slot * slot_stride(ring_bytes());
}

RingControl& Segment::control(std::uint32_t slot) const {
  return *std::launder(reinterpret_cast<RingControl*>(slot_start(slot)));
}

std::byte* Segment::ring_data(std::uint32_t slot) const { return slot_start(slot) + control_bytes(); }

void Segment::unlink_name() {
  if (!owner_ || info_.posix_name.empty()) return;
  ::shm_unlink(info_.posix_name.c_str());
  info_.posix_name.clear();
}

int sweep_stale_names() {
  DIR* d = ::opendir(kShmDir);
  if (!d) return 0;
  int removed = 0;
  while (const dirent* e = ::readdir(d)) {
    const std::string_view name(e->d_name);
    if (!name.starts_with(kNamePrefix)) continue;
    const auto dash = name.rfind('-');
    long pid = 0;
    const auto* first = name.data() + dash + 1;
    const auto* last = name.data() + name.size();
    if (dash == std::string_view::npos || std::from_chars(first, last, pid).ptr != last || pid <= 0) continue;
    if (::kill(static_cast<pid_t>(pid), 0) == 0 || errno != ESRCH) continue;
    if (::shm_unlink(("/" + std::string(name)).c_str()) == 0) ++removed;
  }
  ::closedir(d);
  return removed;
}

}  // namespace rmpi::detail::shm
