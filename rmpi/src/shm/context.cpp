#include "context.hpp"

#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <sstream>

#include <rmpi/error.hpp>
#include <rmpi/quoted_input.hpp>

#include "../net.hpp"
#include "shm_link.hpp"

namespace rmpi::detail::shm {
namespace {

std::size_t env_size(const char* name, std::size_t fallback, std::size_t lo, std::size_t hi) {
  const char* v = std::getenv(name);
  if (!v || !*v) return fallback;
  std::size_t x = 0;
  const char* end = v + std::strlen(v);
  const auto r = std::from_chars(v, end, x);
  if (r.ec != std::errc() || r.ptr != end || x < lo || x > hi)
    throw ConfigError(std::string(name) + "=" + std::string(v).substr(0, 40) + ": expected a byte count from " +
                      std::to_string(lo) + " to " + std::to_string(hi));
  return x;
}

std::size_t default_ring(int slots) {
  if (slots <= 8) return 256 * 1024;
  if (slots <= 32) return 128 * 1024;
  return 64 * 1024;
}

// "v1 <pid> <fd> <size> <slots> [<posix name>]"
struct Descriptor {
  SegmentInfo info;
  std::uint32_t slots = 0;
};

bool parse(const std::string& s, Descriptor& d) {
  std::istringstream in(s);
  std::string v;
  if (!(in >> v) || v != "v1") return false;
  if (!(in >> d.info.pid >> d.info.fd >> d.info.size >> d.slots)) return false;
  in >> d.info.posix_name;
  return d.info.pid > 0 && d.slots > 0 && (d.info.fd >= 0 || !d.info.posix_name.empty());
}

std::string origin(int rank) { return "rank " + std::to_string(rank); }

}  // namespace

Context::Context(int rank, Segment segment, LinkOptions options)
    : rank_(rank), segment_(std::move(segment)), options_(options) {}

Context::~Context() = default;

std::unique_ptr<Context> Context::create(int rank, int slots, std::string_view job_id) {
  LinkOptions opt;
  // Automatic by default: CMA for a large payload whose receive is posted,
  // the pipelined copy otherwise (shm/large_path.hpp says why).
  opt.eager_limit = env_size(kEagerEnv, opt.eager_limit, 0, 1 << 20);
  const std::size_t ring = env_size(kRingEnv, default_ring(slots), 4096, 64u << 20);
  if (const char* c = std::getenv(kCmaEnv); c && *c) {
    const std::string_view v(c);
    if (v != "0" && v != "1")
      throw ConfigError(std::string("rmpi: ") + kCmaEnv + "=" + quoted_input(v) +
                        ": expected 0 (pipelined copy) or 1 (single copy), or unset (automatic)");
    opt.cma = v == "1" ? CmaMode::always : CmaMode::never;
  }
  SegmentKind kind = SegmentKind::memfd;
  if (const char* k = std::getenv(kSegmentEnv); k && *k) {
    const std::string_view v(k);
    if (v == "posix") kind = SegmentKind::posix;
    else if (v != "memfd")
      throw ConfigError(std::string(kSegmentEnv) + "=" + std::string(v.substr(0, 40)) + ": expected memfd or posix");
  }
  try {
    if (kind == SegmentKind::posix) sweep_stale_names();
    return std::unique_ptr<Context>(
        new Context(rank, Segment::create(static_cast<std::uint32_t>(slots), ring, job_id, kind), opt));
  } catch (const Error& e) {
    log_line("warning", origin(rank), std::string("no shared memory, ranks of this node use sockets: ") + e.what());
    return nullptr;
  }
}

std::string Context::descriptor() const {
  const SegmentInfo& i = segment_.info();
  std::string s = "v1 " + std::to_string(i.pid) + " " + std::to_string(i.fd) + " " + std::to_string(i.size) + " " +
                  std::to_string(segment_.slots());
  if (!i.posix_name.empty()) s += " " + i.posix_name;
  return s;
}

std::vector<std::pair<int, std::unique_ptr<detail::Link>>> Context::open_all(const std::vector<LocalRank>& node,
                                                                              const std::string& host,
                                                                              detail::FrameSink& sink) {
  std::vector<std::pair<int, std::unique_ptr<detail::Link>>> links;
  // Slots: the position among the ranks of the node that have a segment.
  std::vector<const LocalRank*> with_shm;
  for (const auto& r : node)
    if (!r.descriptor.empty()) with_shm.push_back(&r);
  std::sort(with_shm.begin(), with_shm.end(), [](auto* a, auto* b) { return a->rank < b->rank; });
  std::uint32_t my_slot = 0;
  bool found = false;
  for (std::uint32_t i = 0; i < with_shm.size(); ++i)
    if (with_shm[i]->rank == rank_) {
      my_slot = i;
      found = true;
    }
  if (!found) return links;
  for (std::uint32_t slot = 0; slot < with_shm.size(); ++slot) {
    const LocalRank& r = *with_shm[slot];
    if (r.rank == rank_) continue;
    Descriptor d;
    try {
      if (!parse(r.descriptor, d))
        throw Error("a malformed descriptor \"" + r.descriptor.substr(0, 60) + "\"");
      // Every rank of the node computed the same slots; each segment must hold them.
      if (slot >= segment_.slots() || my_slot >= d.slots)
        throw Error(std::to_string(with_shm.size()) + " ranks on the node, but segments of " +
                    std::to_string(segment_.slots()) + " and " + std::to_string(d.slots) + " slots");
      auto link = std::make_unique<shm::Link>(segment_, Segment::attach(d.info), my_slot, slot, options_);
      links.emplace_back(r.rank, std::make_unique<ShmLink>(r.rank, std::move(link), "shared memory on " + host,
                                                           sink, this));
      peer_slots_.push_back(slot);
    } catch (const Error& e) {
      // The peer may have mapped our segment already: tell it that we do not
      // read its ring, so that its sends fail instead of waiting for ever.
      if (slot < segment_.slots()) segment_.control(slot).consumer_gone.store(1, std::memory_order_release);
      log_line("warning", origin(rank_),
               "no shared memory with rank " + std::to_string(r.rank) + ", using a socket: " + e.what());
    }
  }
  return links;
}

void Context::maybe_unlink() {
  if (unlinked_) return;
  if (segment_.info().posix_name.empty()) {
    unlinked_ = true;
    return;
  }
  for (const std::uint32_t s : peer_slots_)
    if (!segment_.control(s).producer_attached.load(std::memory_order_acquire)) return;
  segment_.unlink_name();
  unlinked_ = true;
}

}  // namespace rmpi::detail::shm
