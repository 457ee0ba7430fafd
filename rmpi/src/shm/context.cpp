#include "context.hpp"

#include <unistd.h>

#include <algorithm>
#include <bit>
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
    : rank_(rank), segment_(std::move(segment)), bell_(segment_.bell()), options_(options) {}

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

void Context::set_node(const std::vector<LocalRank>& node, const std::string& host) {
  where_ = "shared memory on " + host;
  node_.clear();
  for (const auto& r : node)
    if (!r.descriptor.empty() && r.rank >= 0) node_.push_back(r);
  std::sort(node_.begin(), node_.end(), [](const LocalRank& a, const LocalRank& b) { return a.rank < b.rank; });
  const auto me = std::find_if(node_.begin(), node_.end(), [&](const LocalRank& r) { return r.rank == rank_; });
  if (me == node_.end()) {
    node_.clear();
    return;
  }
  // Every rank of the node computes the same slots; each segment must hold them.
  if (node_.size() > segment_.slots()) {
    log_line("warning", origin(rank_),
             "no shared memory: " + std::to_string(node_.size()) + " ranks on the node, but a segment of " +
                 std::to_string(segment_.slots()) + " slots; this rank uses sockets");
    node_.clear();
    return;
  }
  my_slot_ = static_cast<std::uint32_t>(me - node_.begin());
  slot_of_rank_.assign(static_cast<std::size_t>(node_.back().rank) + 1, -1);
  for (std::size_t i = 0; i < node_.size(); ++i) slot_of_rank_[static_cast<std::size_t>(node_[i].rank)] = static_cast<int>(i);
  tried_.assign((node_.size() + 63) / 64, 0);
  mark_tried(my_slot_);
}

std::unique_ptr<detail::Link> Context::link(int peer, detail::FrameSink& sink) {
  const int found = slot_of(peer);
  if (found < 0 || was_tried(static_cast<std::uint32_t>(found))) return nullptr;
  const auto slot = static_cast<std::uint32_t>(found);
  mark_tried(slot);
  const LocalRank& r = node_[slot];
  Descriptor d;
  try {
    if (!parse(r.descriptor, d)) throw Error("a malformed descriptor \"" + r.descriptor.substr(0, 60) + "\"");
    if (my_slot_ >= d.slots)
      throw Error(std::to_string(node_.size()) + " ranks on the node, but its segment has " + std::to_string(d.slots) +
                  " slots");
    auto link = std::make_unique<shm::Link>(segment_, Segment::attach(d.info, my_slot_), my_slot_, slot, options_);
    return std::make_unique<ShmLink>(peer, std::move(link), where_, sink, this);
  } catch (const Error& e) {
    // The peer may write our ring already: tell it that we do not read it,
    // so that its sends fail instead of waiting for ever.
    segment_.control(slot).consumer_gone.store(1, std::memory_order_release);
    log_line("warning", origin(rank_),
             "no shared memory with rank " + std::to_string(peer) + ", using a socket: " + e.what());
    return nullptr;
  }
}

std::vector<std::pair<int, std::unique_ptr<detail::Link>>> Context::take_new(detail::FrameSink& sink) {
  std::vector<std::pair<int, std::unique_ptr<detail::Link>>> links;
  bell_.drain();
  const SegmentHeader& h = segment_.header();
  for (std::size_t word = 0; word * 64 < node_.size(); ++word) {
    std::uint64_t bits = h.producers[word].load(std::memory_order_acquire) & ~tried_[word];
    while (bits) {
      const std::size_t slot = word * 64 + static_cast<std::size_t>(std::countr_zero(bits));
      bits &= bits - 1;
      if (slot >= node_.size()) continue;
      const int peer = node_[slot].rank;
      if (auto l = link(peer, sink)) links.emplace_back(peer, std::move(l));
    }
  }
  return links;
}

bool Context::has_new() const {
  const SegmentHeader& h = segment_.header();
  for (std::size_t word = 0; word < tried_.size(); ++word)
    if (h.producers[word].load(std::memory_order_acquire) & ~tried_[word]) return true;
  return false;
}

void Context::maybe_unlink() {
  if (unlinked_) return;
  if (segment_.info().posix_name.empty()) {
    unlinked_ = true;
    return;
  }
  // Every slot of the node but ours has its producer bit: a word at a time.
  const SegmentHeader& h = segment_.header();
  for (std::size_t word = 0; word * 64 < node_.size(); ++word) {
    const std::size_t in_word = std::min<std::size_t>(64, node_.size() - word * 64);
    std::uint64_t want = in_word == 64 ? ~std::uint64_t{0} : (std::uint64_t{1} << in_word) - 1;
    if (my_slot_ / 64 == word) want &= ~(std::uint64_t{1} << (my_slot_ % 64));
    if ((h.producers[word].load(std::memory_order_acquire) & want) != want) return;
  }
  segment_.unlink_name();
  unlinked_ = true;
}

}  // namespace rmpi::detail::shm
