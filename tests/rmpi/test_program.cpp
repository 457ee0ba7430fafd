// A test program run by the rmpi tests as a multi-process job; argv[1]
// names the scenario. Each rank prints "PASS" when its checks held, and
// the messages of the errors it expected; it exits 1 on any other outcome.
#include <unistd.h>

#include <array>
#include <cstdlib>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <map>
#include <numeric>
#include <string>
#include <vector>

#include <cereal/types/map.hpp>
#include <cereal/types/string.hpp>
#include <cereal/types/vector.hpp>

#include <rmpi/rmpi.hpp>

namespace {

struct Particle {
  std::string name;
  std::vector<double> pos;
  std::map<std::string, int> tags;
  bool operator==(const Particle&) const = default;
  template <class A>
  void serialize(A& ar) {
    ar(name, pos, tags);
  }
};

int failures = 0;
void expect(bool ok, const char* what) {
  if (!ok) {
    ++failures;
    std::printf("FAIL: %s\n", what);
  }
}

template <class F>
void expect_error(F&& f, const char* what) {
  try {
    f();
    expect(false, what);
  } catch (const rmpi::Error& e) {
    std::printf("ERROR: %s\n", e.what());
  }
}

std::vector<std::uint64_t> pattern(std::size_t n) {
  std::vector<std::uint64_t> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = i * 2654435761u;
  return v;
}

void inorder(const rmpi::Comm& c) {
  if (c.id() == 0) {
    for (int i = 0; i < 2000; ++i) {
      rmpi::send(c, 1, i);
      if (i % 100 == 0) rmpi::send(c, 1, std::vector<int>(static_cast<std::size_t>(i), i));
    }
  } else if (c.id() == 1) {
    for (int i = 0; i < 2000; ++i) {
      expect(rmpi::recv<int>(c, 0) == i, "messages arrive in order");
      if (i % 100 == 0)
        expect(rmpi::recv<std::vector<int>>(c, 0) == std::vector<int>(static_cast<std::size_t>(i), i),
               "interleaved vectors arrive in order");
    }
  }
}

void sizes(const rmpi::Comm& c) {
  const int peer = 1 - c.id();
  const std::vector<std::size_t> lens{0, 1, 65535, 65536, 65537, 1 << 20, 48 << 20};
  // Both ranks send everything first, then receive: must not deadlock.
  for (std::size_t n : lens) {
    std::vector<char> v(n);
    for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<char>(i * 31 + n);
    rmpi::send(c, peer, v);
  }
  const std::array<float, 3> arr{1.5f, 2.5f, 3.5f};
  rmpi::send(c, peer, arr);
  const std::vector<double> src{1, 2, 3, 4, 5, 6};
  rmpi::send(c, peer, std::span<const double>(src).subspan(2, 3));
  rmpi::send(c, peer, std::string());
  rmpi::send(c, peer, std::string("hello"));
  for (int i = 0; i < 20000; ++i) rmpi::send(c, peer, std::array<char, 1000>{static_cast<char>(i)});
  for (std::size_t n : lens) {
    const auto v = rmpi::recv<std::vector<char>>(c, peer);
    bool ok = v.size() == n;
    for (std::size_t i = 0; ok && i < n; ++i) ok = v[i] == static_cast<char>(i * 31 + n);
    expect(ok, ("vector<char> of " + std::to_string(n) + " bytes").c_str());
  }
  expect(rmpi::recv<std::array<float, 3>>(c, peer) == arr, "std::array");
  expect(rmpi::recv<std::vector<double>>(c, peer) == std::vector<double>{3, 4, 5}, "span as vector");
  expect(rmpi::recv<std::string>(c, peer).empty(), "empty string");
  expect(rmpi::recv<std::string>(c, peer) == "hello", "string");
  bool ok = true;
  for (int i = 0; i < 20000; ++i) ok = ok && rmpi::recv<std::array<char, 1000>>(c, peer)[0] == static_cast<char>(i);
  expect(ok, "20000 queued small messages in order");
}

void big(const rmpi::Comm& c) {
  const std::size_t n = (std::size_t{1} << 27) + 512;  // 1 GiB + 4 KiB of uint64
  if (c.id() == 0) {
    rmpi::send(c, 1, pattern(n));
    expect(rmpi::recv<int>(c, 1) == 1, "ack");
  } else {
    const auto v = rmpi::recv<std::vector<std::uint64_t>>(c, 0);
    bool ok = v.size() == n;
    for (std::size_t i = 0; ok && i < n; ++i) ok = v[i] == i * 2654435761u;
    expect(ok, "1 GiB+ vector arrives intact");
    rmpi::send(c, 0, 1);
  }
}

void value(const rmpi::Comm& c) {
  using namespace rmpi::places;
  const Value v = list(sym("set"), "user0", 100, 2.5, Bytes{{1, 2, 3}}, Value(Map{{Value("k"), Value(true)}}));
  const Particle p{"proton", {1.0, 2.0, 3.0}, {{"charge", 1}}};
  if (c.id() == 0) {
    rmpi::send(c, 1, v);
    rmpi::send(c, 1, p);
  } else {
    expect(rmpi::recv<Value>(c, 0) == v, "Value round trip");
    expect(rmpi::recv<Particle>(c, 0) == p, "Cereal struct round trip");
  }
}

void self(const rmpi::Comm& c) {
  const int me = c.id();
  rmpi::send(c, me, 7);
  rmpi::send(c, me, std::vector<double>{1.0, 2.0});
  rmpi::send(c, me, rmpi::places::Value("x"));
  rmpi::send(c, me, 8);
  expect(rmpi::recv<int>(c, me) == 7, "self int");
  expect(rmpi::recv<std::vector<double>>(c, me) == std::vector<double>{1.0, 2.0}, "self vector");
  expect(rmpi::recv<rmpi::places::Value>(c, me) == rmpi::places::Value("x"), "self Value");
  expect(rmpi::recv<int>(c, me) == 8, "self order");
  expect_error([&] { rmpi::recv<int>(c, me); }, "recv from self with nothing queued");
}

void mismatch(const rmpi::Comm& c) {
  if (c.id() == 0) {
    rmpi::send(c, 1, std::vector<double>{1.0, 2.0});
  } else if (c.id() == 1) {
    try {
      rmpi::recv<int>(c, 0);
      expect(false, "a mismatched type must throw");
    } catch (const rmpi::TypeError& e) {
      std::printf("ERROR: %s\n", e.what());
    }
    expect(rmpi::recv<std::vector<double>>(c, 0) == std::vector<double>{1.0, 2.0},
           "the message stays queued after a TypeError");
  }
}

void range(const rmpi::Comm& c) {
  expect_error([&] { rmpi::send(c, c.cnt(), 1); }, "send to a rank out of range");
  expect_error([&] { rmpi::recv<int>(c, -1); }, "recv from a rank out of range");
}

void split(const rmpi::Comm& c) {
  const int color = c.id() % 3;
  int members = 0;
  for (int r = color; r < c.cnt(); r += 3) ++members;
  const int key = members - 1 - c.id() / 3;
  rmpi::Comm sub = rmpi::comm_split(c, color, key);
  expect(sub.id() == key && sub.cnt() == members, "split id and cnt");
  const auto all = rmpi::allgather(sub, c.id());
  bool ok = static_cast<int>(all.size()) == members;
  for (int k = 0; ok && k < members; ++k) ok = all[k] == color + 3 * (members - 1 - k);
  expect(ok, "split members ordered by key");
  rmpi::Comm subsub = rmpi::comm_split(sub, 0, sub.id());
  expect(rmpi::allreduce(subsub, rmpi::op::sum, 1) == members, "split of a split");
  std::printf("split color %d id %d cnt %d\n", color, sub.id(), sub.cnt());
}

void split_errors(const rmpi::Comm& c) {
  // Color 0 (even ranks) all use key 0; color 1 (odd ranks) uses keys too big.
  const int color = c.id() % 2;
  expect_error([&] { rmpi::comm_split(c, color, color == 0 ? 0 : 10 + c.id()); },
               "comm_split with a duplicate key or a key too big");
}

void disconnect(const rmpi::Comm& c) {
  if (c.id() == 1) {
    std::fflush(stdout);
    _exit(0);  // gone without finish: rank 0's receive must fail, not hang
  }
  expect_error([&] { rmpi::recv<int>(c, 1); }, "recv from a rank that disconnected");
}

void flush_at_exit(const rmpi::Comm& c) {
  if (c.id() == 0) {
    for (int i = 0; i < 20000; ++i) rmpi::send(c, 1, std::array<int, 250>{i});
    std::printf("PASS\n");
    std::fflush(stdout);
    std::exit(0);  // no finish: the exit handler must still deliver every queued message
  }
  bool ok = true;
  for (int i = 0; i < 20000; ++i) ok = ok && rmpi::recv<std::array<int, 250>>(c, 0)[0] == i;
  expect(ok, "every message queued before the sender exited arrives");
}

void exchange(const rmpi::Comm& c) {
  const int next = (c.id() + 1) % c.cnt();
  const int prev = (c.id() + c.cnt() - 1) % c.cnt();
  rmpi::send(c, next, c.id());
  expect(rmpi::recv<int>(c, prev) == prev, "token from the previous rank");
}

}  // namespace

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "";
  try {
    rmpi::Comm c = rmpi::init(argc, argv);
    if (mode == "inorder") inorder(c);
    else if (mode == "sizes") sizes(c);
    else if (mode == "big") big(c);
    else if (mode == "value") value(c);
    else if (mode == "self") self(c);
    else if (mode == "mismatch") mismatch(c);
    else if (mode == "range") range(c);
    else if (mode == "split") split(c);
    else if (mode == "split-errors") split_errors(c);
    else if (mode == "disconnect") disconnect(c);
    else if (mode == "exchange") exchange(c);
    else if (mode == "flush") flush_at_exit(c);
    else expect(false, "unknown scenario");
    rmpi::finish();
  } catch (const std::exception& e) {
    std::printf("EXCEPTION: %s\n", e.what());
    return 1;
  }
  if (failures == 0) std::printf("PASS\n");
  return failures == 0 ? 0 : 1;
}
