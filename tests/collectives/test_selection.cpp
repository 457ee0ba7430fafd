// The selection table: which algorithm runs for which payload and size.
#include <rmpi/collectives/selection.hpp>

#include <doctest/doctest.h>

namespace rc = rmpi::collectives;
using rc::AllgatherAlgorithm;
using rc::AllreduceAlgorithm;
using rc::BarrierAlgorithm;
using rc::BroadcastAlgorithm;
using rc::Layout;
using rc::Payload;

namespace {

Payload doubles(std::size_t count) { return {8 * count, count, Layout::elements}; }
Payload ints(std::size_t count) { return {4 * count, count, Layout::order_free_elements}; }
Payload opaque(std::size_t bytes) { return {bytes, 1, Layout::opaque}; }

}  // namespace

TEST_CASE("allreduce: recursive doubling for short or opaque data, Rabenseifner or ring for long") {
  // Short: up to 2048 B (MPICH's MPIR_CVAR_ALLREDUCE_SHORT_MSG_SIZE).
  CHECK(rc::choose_allreduce(doubles(1), 4) == AllreduceAlgorithm::recursive_doubling);
  CHECK(rc::choose_allreduce(doubles(256), 4) == AllreduceAlgorithm::recursive_doubling);
  CHECK(rc::choose_allreduce(doubles(257), 4) == AllreduceAlgorithm::rabenseifner);
  CHECK(rc::choose_allreduce(doubles(131072), 4) == AllreduceAlgorithm::rabenseifner);
  // Opaque values are never chunked, whatever their size.
  CHECK(rc::choose_allreduce(opaque(1 << 20), 4) == AllreduceAlgorithm::recursive_doubling);
  CHECK(rc::choose_allreduce(Payload{}, 4) == AllreduceAlgorithm::recursive_doubling);
  // Fewer elements than p' (largest power of two <= p): recursive doubling.
  CHECK(rc::choose_allreduce({4096, 256, Layout::elements}, 300) ==
        AllreduceAlgorithm::rabenseifner);
  CHECK(rc::choose_allreduce({4096, 255, Layout::elements}, 300) ==
        AllreduceAlgorithm::recursive_doubling);
  // Non-power-of-two p, from 512 KiB, ring for order-free ops only.
  CHECK(rc::choose_allreduce(ints(131071), 6) == AllreduceAlgorithm::rabenseifner);
  CHECK(rc::choose_allreduce(ints(131072), 6) == AllreduceAlgorithm::ring);
  CHECK(rc::choose_allreduce(ints(131072), 8) == AllreduceAlgorithm::rabenseifner);
  CHECK(rc::choose_allreduce(doubles(65536 * 4), 6) == AllreduceAlgorithm::rabenseifner);
  CHECK(rc::choose_allreduce(doubles(1), 1) == AllreduceAlgorithm::recursive_doubling);
}

TEST_CASE("broadcast: binomial tree below 12288 B or 8 ranks, scatter-allgather above") {
  CHECK(rc::choose_broadcast(doubles(1), 8) == BroadcastAlgorithm::hypercube);
  CHECK(rc::choose_broadcast(doubles(1535), 8) == BroadcastAlgorithm::hypercube);
  CHECK(rc::choose_broadcast(doubles(1536), 8) == BroadcastAlgorithm::scatter_allgather);
  CHECK(rc::choose_broadcast(doubles(1 << 20), 7) == BroadcastAlgorithm::hypercube);
  CHECK(rc::choose_broadcast(doubles(1 << 20), 33) == BroadcastAlgorithm::scatter_allgather);
  CHECK(rc::choose_broadcast(opaque(1 << 20), 33) == BroadcastAlgorithm::hypercube);
}

TEST_CASE("barrier: dissemination") {
  for (int p : {1, 2, 3, 8, 33}) CHECK(rc::choose_barrier(p) == BarrierAlgorithm::dissemination);
}

TEST_CASE("allgather: Bruck for short totals or unknown sizes, ring for long") {
  // Power of two: Bruck below 512 KiB in total; otherwise below 80 KiB.
  CHECK(rc::choose_allgather(opaque(8), 8) == AllgatherAlgorithm::bruck);
  CHECK(rc::choose_allgather(opaque(65535), 8) == AllgatherAlgorithm::bruck);
  CHECK(rc::choose_allgather(opaque(65536), 8) == AllgatherAlgorithm::ring);
  CHECK(rc::choose_allgather(opaque(16383), 5) == AllgatherAlgorithm::bruck);
  CHECK(rc::choose_allgather(opaque(16384), 5) == AllgatherAlgorithm::ring);
  CHECK(rc::choose_allgather(Payload{}, 5) == AllgatherAlgorithm::bruck);
}

TEST_CASE("a forced algorithm runs when it applies, else the nearest one that does") {
  const auto forced_ring = std::optional(AllreduceAlgorithm::ring);
  CHECK(rc::allreduce_algorithm(ints(1), 5, forced_ring) == AllreduceAlgorithm::ring);
  CHECK(rc::allreduce_algorithm(doubles(1), 5, forced_ring) == AllreduceAlgorithm::rabenseifner);
  CHECK(rc::allreduce_algorithm(opaque(8), 5, forced_ring) ==
        AllreduceAlgorithm::recursive_doubling);
  CHECK(rc::allreduce_algorithm(opaque(8), 5, AllreduceAlgorithm::rabenseifner) ==
        AllreduceAlgorithm::recursive_doubling);
  CHECK(rc::allreduce_algorithm(doubles(1), 5, AllreduceAlgorithm::rabenseifner) ==
        AllreduceAlgorithm::rabenseifner);
  CHECK(rc::allreduce_algorithm(opaque(8), 5, AllreduceAlgorithm::hypercube) ==
        AllreduceAlgorithm::hypercube);
  CHECK(rc::allreduce_algorithm(doubles(1 << 20), 4, std::nullopt) ==
        AllreduceAlgorithm::rabenseifner);
  CHECK(rc::broadcast_algorithm(opaque(8), 9, BroadcastAlgorithm::scatter_allgather) ==
        BroadcastAlgorithm::hypercube);
  CHECK(rc::broadcast_algorithm(doubles(1), 2, BroadcastAlgorithm::scatter_allgather) ==
        BroadcastAlgorithm::scatter_allgather);
  CHECK(rc::barrier_algorithm(8, BarrierAlgorithm::hypercube) == BarrierAlgorithm::hypercube);
  CHECK(rc::allgather_algorithm(opaque(8), 8, AllgatherAlgorithm::ring) == AllgatherAlgorithm::ring);
}

TEST_CASE("algorithm names round-trip; unknown names parse to nothing") {
  for (auto name : rc::algorithm_names<AllreduceAlgorithm>()) {
    const auto parsed = rc::parse_algorithm<AllreduceAlgorithm>(name);
    REQUIRE(parsed);
    CHECK(rc::algorithm_name(*parsed) == name);
  }
  CHECK(rc::parse_algorithm<BroadcastAlgorithm>("scatter_allgather") ==
        BroadcastAlgorithm::scatter_allgather);
  CHECK(rc::parse_algorithm<BarrierAlgorithm>("dissemination") == BarrierAlgorithm::dissemination);
  CHECK(rc::parse_algorithm<AllgatherAlgorithm>("bruck") == AllgatherAlgorithm::bruck);
  CHECK_FALSE(rc::parse_algorithm<AllreduceAlgorithm>("Ring"));
  CHECK_FALSE(rc::parse_algorithm<AllreduceAlgorithm>(""));
  CHECK_FALSE(rc::parse_algorithm<BarrierAlgorithm>("ring"));
}
