// alltoallv over the in-memory transport: uneven counts, gaps in the
// displacements, and every way the arguments can be wrong.
#include <doctest/doctest.h>

#include <numeric>
#include <rmpi/collectives/alltoallv.hpp>
#include <rmpi/collectives/in_memory.hpp>
#include <stdexcept>
#include <string>
#include <vector>

#include "support.hpp"

namespace rc = rmpi::collectives;
using rc::InMemoryTransport;

namespace {

// How many elements rank `src` sends to rank `dst`: 0, 1 or 2.
int count(int src, int dst) { return (src + 2 * dst) % 3; }

template <class T>
T element(int src, int dst, int j);
template <>
int element<int>(int src, int dst, int j) {
  return src * 10000 + dst * 100 + j;
}
template <>
double element<double>(int src, int dst, int j) {
  return src + 0.01 * dst + 0.0001 * j;
}
template <>
std::vector<double> element<std::vector<double>>(int src, int dst, int j) {
  return std::vector<double>(static_cast<std::size_t>(j + 1), src * 100.0 + dst);
}

struct Layout {
  std::vector<int> counts, displs;
  std::size_t size = 0;
};

// Blocks in rank order with a gap of one element before each one.
Layout send_layout(int rank, int p) {
  Layout l;
  int at = 0;
  for (int i = 0; i < p; ++i) {
    at += 1;
    l.counts.push_back(count(rank, i));
    l.displs.push_back(at);
    at += l.counts.back();
  }
  l.size = static_cast<std::size_t>(at);
  return l;
}

// Blocks in reverse rank order with a gap of two elements after each one.
Layout recv_layout(int rank, int p) {
  Layout l;
  l.counts.resize(p);
  l.displs.resize(p);
  int at = 0;
  for (int i = p - 1; i >= 0; --i) {
    l.counts[i] = count(i, rank);
    l.displs[i] = at;
    at += l.counts[i] + 2;
  }
  l.size = static_cast<std::size_t>(at);
  return l;
}

template <class T>
void check_uneven(int p, const T& sentinel) {
  CAPTURE(p);
  rc::InMemoryWorld world(p);
  const auto got = rc::test::run_ranks(world, [&](InMemoryTransport& t) {
    const int r = t.rank();
    const Layout s = send_layout(r, p);
    const Layout v = recv_layout(r, p);
    std::vector<T> sendbuf(s.size, sentinel);
    for (int i = 0; i < p; ++i) {
      for (int j = 0; j < s.counts[i]; ++j) sendbuf[s.displs[i] + j] = element<T>(r, i, j);
    }
    std::vector<T> recvbuf(v.size, sentinel);
    rc::alltoallv(t, sendbuf, s.counts, s.displs, recvbuf, v.counts, v.displs);
    return recvbuf;
  });
  CHECK(world.pending_messages() == 0);
  for (int r = 0; r < p; ++r) {
    const Layout v = recv_layout(r, p);
    std::vector<T> expected(v.size, sentinel);
    for (int i = 0; i < p; ++i) {
      for (int j = 0; j < v.counts[i]; ++j) expected[v.displs[i] + j] = element<T>(i, r, j);
    }
    CHECK(got[r] == expected);
  }
}

// Runs alltoallv on 3 ranks where only rank 1's arguments are changed by
// `spoil`; returns what the run threw.
template <class Spoil>
std::string error_of(Spoil spoil) {
  rc::InMemoryWorld world(3);
  try {
    world.run([&](InMemoryTransport& t) {
      std::vector<int> sendbuf(3, 0), recvbuf(3, 0);
      std::vector<int> sc{1, 1, 1}, sd{0, 1, 2}, rc_{1, 1, 1}, rd{0, 1, 2};
      if (t.rank() == 1) spoil(sendbuf, sc, sd, recvbuf, rc_, rd);
      rc::alltoallv(t, sendbuf, sc, sd, recvbuf, rc_, rd);
    });
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "no std::invalid_argument";
}

using V = std::vector<int>;

}  // namespace

TEST_CASE("alltoallv moves uneven blocks to the right places, every size") {
  for (int p : rc::test::sizes()) {
    check_uneven<int>(p, -1);
    check_uneven<double>(p, -1.0);
    check_uneven<std::vector<double>>(p, std::vector<double>{-1.0});
  }
}

TEST_CASE("alltoallv validates counts and displacements with clear messages") {
  CHECK(error_of([](V&, V& sc, V&, V&, V&, V&) { sc.pop_back(); }) ==
        "rmpi::collectives::alltoallv: rank 1: send_counts has 2 and send_displs 3 entries; "
        "both need one per rank (3)");
  CHECK(error_of([](V&, V&, V&, V&, V&, V& rd) { rd.push_back(0); }) ==
        "rmpi::collectives::alltoallv: rank 1: recv_counts has 3 and recv_displs 4 entries; "
        "both need one per rank (3)");
  CHECK(error_of([](V&, V& sc, V&, V&, V&, V&) { sc[2] = -1; }) ==
        "rmpi::collectives::alltoallv: rank 1: send_counts[2] = -1 and send_displs[2] = 2 must "
        "not be negative");
  CHECK(error_of([](V&, V&, V& sd, V&, V&, V&) { sd[1] = 3; }) ==
        "rmpi::collectives::alltoallv: rank 1: send_displs[1] + send_counts[1] = 4 exceeds "
        "sendbuf's size 3");
  CHECK(error_of([](V&, V&, V&, V& rb, V&, V&) { rb.resize(2); }) ==
        "rmpi::collectives::alltoallv: rank 1: recv_displs[2] + recv_counts[2] = 3 exceeds "
        "recvbuf's size 2");
}

TEST_CASE("alltoallv reports counts that disagree between sender and receiver") {
  // Rank 1 expects two elements from rank 0, which sends one.
  CHECK(error_of([](V&, V&, V&, V& rb, V& rc_, V& rd) {
          rb.resize(4);
          rc_[0] = 2;
          rd = {0, 2, 3};
        }) ==
        "rmpi::collectives::alltoallv: rank 1 expects recv_counts[0] = 2 elements from rank 0, "
        "which sends 1");
}

TEST_CASE("alltoallv refuses the same vector as sendbuf and recvbuf") {
  rc::InMemoryWorld world(1);
  CHECK_THROWS_WITH_AS(world.run([](InMemoryTransport& t) {
    std::vector<int> buf{1};
    const std::vector<int> one{1}, zero{0};
    rc::alltoallv(t, buf, one, zero, buf, one, zero);
  }),
                       "rmpi::collectives::alltoallv: rank 0: sendbuf and recvbuf must be "
                       "different vectors",
                       std::invalid_argument);
}
