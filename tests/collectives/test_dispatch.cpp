// The *_auto collectives: every algorithm, forced or chosen, on the payloads
// the rmpi layer passes (values, vectors, arrays, spans).
#include <rmpi/collectives/dispatch.hpp>

#include <doctest/doctest.h>

#include <array>
#include <atomic>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "algorithm_checks.hpp"

namespace rc = rmpi::collectives;
namespace op = rmpi::op;
using rc::InMemoryTransport;

namespace {

template <class Algorithm>
std::vector<std::optional<Algorithm>> every_algorithm() {
  std::vector<std::optional<Algorithm>> all{std::nullopt};
  for (std::size_t i = 0; i < rc::algorithm_names<Algorithm>().size(); ++i) {
    all.push_back(static_cast<Algorithm>(i));
  }
  return all;
}

const std::vector<int> kSizes{1, 2, 3, 5, 8, 13};

}  // namespace

TEST_CASE("allreduce_auto: every forced algorithm on values, vectors, arrays and spans") {
  for (auto forced : every_algorithm<rc::AllreduceAlgorithm>()) {
    CAPTURE((forced ? rc::algorithm_name(*forced) : "chosen"));
    for (int p : kSizes) {
      CAPTURE(p);
      rc::InMemoryWorld world(p);
      const auto results = rc::test::run_ranks(world, [&](InMemoryTransport& t) {
        const int r = t.rank();
        const auto concat = [](const std::string& a, const std::string& b) { return a + b; };
        std::vector<double> big(3000, 0.25 * r);
        std::vector<long> span_data(700, r);
        rc::allreduce_in_place_auto(t, op::sum, std::span<long>(span_data), forced);
        return std::tuple(rc::allreduce_auto(t, op::sum, r + 1, forced),
                          rc::allreduce_auto(t, concat, std::to_string(r), forced),
                          rc::allreduce_auto(t, op::sum, std::move(big), forced),
                          rc::allreduce_auto(t, op::max, std::array<int, 3>{r, -r, 7}, forced),
                          rc::allreduce_auto(t, rc::test::mat_mul,
                                             std::vector<rc::test::Mat2>(40, rc::test::rank_matrix(r)),
                                             forced),
                          span_data);
      });
      CHECK(world.pending_messages() == 0);
      std::string s;
      rc::test::Mat2 prod{1, 0, 0, 1};
      for (int r = 0; r < p; ++r) {
        s += std::to_string(r);
        prod = rc::test::mat_mul(prod, rc::test::rank_matrix(r));
      }
      for (const auto& [sum, str, big, arr, mats, span_data] : results) {
        CHECK(sum == p * (p + 1) / 2);
        CHECK(str == s);
        CHECK(big == std::vector<double>(3000, 0.125 * p * (p - 1)));
        CHECK(arr == std::array<int, 3>{p - 1, 0, 7});
        CHECK(mats == std::vector<rc::test::Mat2>(40, prod));
        CHECK(span_data == std::vector<long>(700, static_cast<long>(p) * (p - 1) / 2));
      }
    }
  }
}

TEST_CASE("broadcast_auto and broadcast_in_place_auto: every algorithm, every root") {
  for (auto forced : every_algorithm<rc::BroadcastAlgorithm>()) {
    CAPTURE((forced ? rc::algorithm_name(*forced) : "chosen"));
    for (int p : kSizes) {
      CAPTURE(p);
      rc::InMemoryWorld world(p);
      const auto results = rc::test::run_all_roots(world, [&](InMemoryTransport& t, int root) {
        const bool at_root = t.rank() == root;
        std::vector<int> data(2000, at_root ? root : -1);
        rc::broadcast_in_place_auto(t, root, std::span<int>(data), forced);
        std::optional<std::array<double, 1600>> arr;
        if (at_root) arr.emplace().fill(0.5 + root);
        std::optional<std::string> text;
        if (at_root) text = "from " + std::to_string(root);
        return std::tuple(data, rc::broadcast_auto(t, root, arr, forced),
                          rc::broadcast_auto(t, root, text, forced));
      });
      CHECK(world.pending_messages() == 0);
      for (int root = 0; root < p; ++root) {
        std::array<double, 1600> arr;
        arr.fill(0.5 + root);
        for (const auto& [data, got_arr, text] : results[static_cast<std::size_t>(root)]) {
          CHECK(data == std::vector<int>(2000, root));
          CHECK(got_arr == arr);
          CHECK(text == "from " + std::to_string(root));
        }
      }
    }
  }
}

TEST_CASE("broadcast_auto at the root without a value is an error") {
  rc::InMemoryWorld world(1);
  CHECK_THROWS_AS(world.run([](InMemoryTransport& t) {
    (void)rc::broadcast_auto<int>(t, 0, std::nullopt);
  }),
                  std::invalid_argument);
}

TEST_CASE("barrier_auto: every algorithm holds everyone until all came") {
  for (auto forced : every_algorithm<rc::BarrierAlgorithm>()) {
    for (int p : kSizes) {
      CAPTURE(p);
      rc::InMemoryWorld world(p);
      std::atomic<int> arrived{0};
      const auto early = rc::test::run_ranks(world, [&](InMemoryTransport& t) {
        ++arrived;
        rc::barrier_auto(t, forced);
        return arrived.load() != t.size();
      });
      for (bool e : early) CHECK_FALSE(e);
    }
  }
}

TEST_CASE("allgather_auto and allgather_in_place_auto: every algorithm") {
  for (auto forced : every_algorithm<rc::AllgatherAlgorithm>()) {
    CAPTURE((forced ? rc::algorithm_name(*forced) : "chosen"));
    for (int p : kSizes) {
      CAPTURE(p);
      rc::InMemoryWorld world(p);
      const auto results = rc::test::run_ranks(world, [&](InMemoryTransport& t) {
        const int r = t.rank();
        std::vector<int> data(static_cast<std::size_t>(5 * p), -1);
        for (int k = 0; k < 5; ++k) data[static_cast<std::size_t>(5 * r + k)] = 10 * r + k;
        rc::allgather_in_place_auto(t, std::span<int>(data), forced);
        return std::pair(data, rc::allgather_auto(t, std::to_string(r), forced));
      });
      CHECK(world.pending_messages() == 0);
      std::vector<int> all;
      std::vector<std::string> strings;
      for (int r = 0; r < p; ++r) {
        for (int k = 0; k < 5; ++k) all.push_back(10 * r + k);
        strings.push_back(std::to_string(r));
      }
      for (const auto& [data, got] : results) {
        CHECK(data == all);
        CHECK(got == strings);
      }
    }
  }
}
