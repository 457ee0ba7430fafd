// rmpi-bench: OSU-style latency, bandwidth and collective benchmarks on rmpi's
// public API. Options, sizes, iteration counts and output come from bench_core,
// shared with mpi-bench.c, so both print the same lines for the same measure.
//
//   rmpirun -n 2 build/bin/rmpi-bench latency
//   rmpirun -n 8 --oversubscribe build/bin/rmpi-bench allreduce --bytes 8 --json
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <span>
#include <rmpi/rmpi.hpp>
#include <string>
#include <utility>
#include <vector>

#include "bench_core.h"

namespace {

using Clock = std::chrono::steady_clock;
using Bytes = std::vector<char>;

double micros_since(Clock::time_point start) {
  return std::chrono::duration<double, std::micro>(Clock::now() - start).count();
}

// bw and bibw post their window as OSU does (and mpi-bench.c): `recvs`
// irecv, every one into the same receive buffer, then `sends` isend (the
// buffer is borrowed, never copied by the bench), then one wait_all for each.
void exchange_window(const rmpi::Comm& comm, int peer, const Bytes& out, Bytes& in, int sends, int recvs) {
  std::vector<rmpi::Request<rmpi::Status>> received;
  std::vector<rmpi::Request<>> sent;
  received.reserve(static_cast<std::size_t>(recvs));
  sent.reserve(static_cast<std::size_t>(sends));
  for (int i = 0; i < recvs; ++i) received.push_back(rmpi::irecv(comm, peer, std::span<char>(in)));
  for (int i = 0; i < sends; ++i) sent.push_back(rmpi::isend(comm, peer, out));
  (void)rmpi::wait_all(received);
  rmpi::wait_all(sent);
}
// ---------------------------------------------------------------------------

/// Ranks 0 and 1 run a point-to-point bench at `bytes`; rank 0 returns its figure.
double point_to_point(const rmpi::Comm& comm, const bench_options& opt, std::size_t bytes) {
  const int me = comm.id();
  const long iters = bench_iters_at(&opt, bytes);
  const long warmup = bench_warmup_at(&opt, bytes);
  // One send and one receive buffer, made before the clock starts, as in mpi-bench.c.
  const Bytes buf(bytes, 'a');
  Bytes in(bytes);
  const Bytes ack(4, 'k');
  Bytes ack_in(ack.size());
  const int peer = 1 - me;
  Clock::time_point start{};
  for (long i = 0; i < warmup + iters; ++i) {
    if (i == warmup) start = Clock::now();
    switch (opt.kind) {
      case BENCH_LATENCY:
        if (me == 0) {
          rmpi::send(comm, 1, buf);
          (void)rmpi::recv(comm, 1, std::span<char>(in));
        } else {
          (void)rmpi::recv(comm, 0, std::span<char>(in));
          rmpi::send(comm, 0, buf);
        }
        break;
      case BENCH_BW:
        if (me == 0) {
          exchange_window(comm, peer, buf, in, BENCH_WINDOW, 0);
          (void)rmpi::recv(comm, 1, std::span<char>(ack_in));
        } else {
          exchange_window(comm, peer, buf, in, 0, BENCH_WINDOW);
          rmpi::send(comm, 0, ack);
        }
        break;
      default:  // BENCH_BIBW
        exchange_window(comm, peer, buf, in, BENCH_WINDOW, BENCH_WINDOW);
        break;
    }
  }
  const double usec = micros_since(start);
  switch (opt.kind) {
    case BENCH_LATENCY:
      return usec / (2.0 * static_cast<double>(iters));
    case BENCH_BW:
      return static_cast<double>(bytes) * BENCH_WINDOW * static_cast<double>(iters) / usec;
    default:
      return 2.0 * static_cast<double>(bytes) * BENCH_WINDOW * static_cast<double>(iters) / usec;
  }
}

/// One call of the collective at `bytes` (the input is made before the clock starts).
double one_collective(const rmpi::Comm& comm, bench_kind kind, const Bytes& buf,
                      const std::vector<float>& floats) {
  const int me = comm.id();
  switch (kind) {
    case BENCH_BCAST: {
      Bytes in = me == 0 ? buf : Bytes{};
      const auto start = Clock::now();
      if (me == 0)
        (void)rmpi::broadcast(comm, 0, std::move(in));
      else
        (void)rmpi::broadcast<Bytes>(comm, 0);
      return micros_since(start);
    }
    case BENCH_REDUCE: {
      std::vector<float> in = floats;
      const auto start = Clock::now();
      (void)rmpi::reduce(comm, 0, rmpi::op::sum, std::move(in));
      return micros_since(start);
    }
    case BENCH_ALLREDUCE: {
      std::vector<float> in = floats;
      const auto start = Clock::now();
      (void)rmpi::allreduce(comm, rmpi::op::sum, std::move(in));
      return micros_since(start);
    }
    case BENCH_BARRIER: {
      const auto start = Clock::now();
      rmpi::barrier(comm);
      return micros_since(start);
    }
    case BENCH_GATHER: {
      const auto start = Clock::now();
      (void)rmpi::gather(comm, 0, buf);
      return micros_since(start);
    }
    case BENCH_ALLGATHER: {
      const auto start = Clock::now();
      (void)rmpi::allgather(comm, buf);
      return micros_since(start);
    }
    default: {  // BENCH_ALLTOALL
      std::vector<Bytes> out(static_cast<std::size_t>(comm.cnt()), buf);
      const auto start = Clock::now();
      (void)rmpi::alltoall(comm, std::move(out));
      return micros_since(start);
    }
  }
}

/// Every rank runs the collective at `bytes`, timing each call alone (a barrier
/// between calls, untimed, as OSU does); rank 0 returns the mean over ranks of
/// each rank's mean per call, and the largest of those means (the slowest rank).
bench_figures collective(const rmpi::Comm& comm, const bench_options& opt, std::size_t bytes) {
  const long iters = bench_iters_at(&opt, bytes);
  const long warmup = bench_warmup_at(&opt, bytes);
  const Bytes buf(bytes, 'a');
  const std::vector<float> floats(bytes / sizeof(float), 1.0f);
  double total = 0;
  for (long i = 0; i < warmup + iters; ++i) {
    const double t = one_collective(comm, opt.kind, buf, floats);
    if (i >= warmup) total += t;
    if (opt.kind != BENCH_BARRIER) rmpi::barrier(comm);
  }
  const double mine = total / static_cast<double>(iters);
  const double sum = rmpi::reduce(comm, 0, rmpi::op::sum, mine);
  const double slowest = rmpi::reduce(comm, 0, rmpi::op::max, mine);
  return {sum / comm.cnt(), slowest};
}

void print(const std::string& line) {
  std::fputs(line.c_str(), stdout);
  std::fflush(stdout);
}

std::string header(const bench_options& opt, int ranks) {
  char buf[256];
  bench_format_header(buf, sizeof buf, &opt, "rmpi-bench", "rmpi", ranks);
  return buf;
}

std::string row(const bench_options& opt, int ranks, std::size_t bytes,
                const bench_figures& figures) {
  char buf[256];
  bench_format_row(buf, sizeof buf, &opt, ranks, bytes, &figures);
  return buf;
}

/// Only rank 0 reports; before init, the launch environment says which rank this is.
bool launched_as_rank_0() {
  const char* r = std::getenv(rmpi::kRankEnv);
  return !r || std::string(r) == "0";
}

/// Under a launcher, every rank fails with `status` once rank 0 has printed `line`
/// (a barrier in between, so that no rank ends the job before the line is out).
int fail_together(int argc, char** argv, const std::string& line, int status) {
  if (!std::getenv(rmpi::kRankEnv)) {
    std::fprintf(stderr, "%s\n", line.c_str());
    return status;
  }
  rmpi::Comm comm = rmpi::init(argc, argv);
  if (comm.id() == 0) {
    std::fprintf(stderr, "%s\n", line.c_str());
    std::fflush(stderr);
  }
  rmpi::barrier(comm);
  rmpi::finish();
  return status;
}

}  // namespace

int main(int argc, char** argv) {
  bench_options opt{};
  char err[512];
  const int parsed = bench_parse(argc, argv, &opt, err, sizeof err);
  if (parsed == BENCH_PARSE_HELP) {
    if (launched_as_rank_0()) std::printf("rmpi-bench: %s", bench_usage());
    return 0;
  }
  try {
    if (parsed == BENCH_PARSE_ERROR)
      return fail_together(argc, argv, std::string("rmpi-bench: ") + err, 2);
    rmpi::Comm comm = rmpi::init(argc, argv);
    const int me = comm.id();
    const int ranks = comm.cnt();
    if (ranks < bench_min_ranks(opt.kind)) {
      const int need = bench_min_ranks(opt.kind);
      return fail_together(argc, argv,
                           "rmpi-bench: " + std::string(bench_name(opt.kind)) + " needs at least " +
                               std::to_string(need) + " ranks, this job has " +
                               std::to_string(ranks) + " (run it with rmpirun -n " +
                               std::to_string(need) + ")",
                           2);
    }
    if (me == 0) print(header(opt, ranks));
    std::size_t sizes[BENCH_MAX_SIZES];
    const std::size_t count = bench_sizes(&opt, sizes);
    for (std::size_t s = 0; s < count; ++s) {
      rmpi::barrier(comm);
      bench_figures figures{};
      if (bench_is_point_to_point(opt.kind)) {
        if (me < 2) figures.value = point_to_point(comm, opt, sizes[s]);
      } else {
        figures = collective(comm, opt, sizes[s]);
      }
      if (me == 0) print(row(opt, ranks, sizes[s], figures));
    }
    rmpi::barrier(comm);
    rmpi::finish();
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "rmpi-bench: %s\n", e.what());
    return 1;
  }
}
