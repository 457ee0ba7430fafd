/* mpi-bench: rmpi-bench's measures, options and output in plain MPI, so that
 * benchmarks/compare can run the very same lines on Open MPI and MPICH.
 * Built by compare, not by CMake:
 *
 *   mpicc.openmpi -O2 -I benchmarks/core -o mpi-bench.openmpi benchmarks/mpi-bench.c \
 *     benchmarks/core/bench_core.c
 *   mpirun.openmpi -n 2 ./mpi-bench.openmpi latency --json
 *
 * bw and bibw post their window with MPI_Isend / MPI_Irecv and MPI_Waitall, as
 * OSU does; collectives are timed one call at a time with an untimed barrier
 * between calls, and report the mean over ranks of each rank's mean and the
 * slowest rank's mean. */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_core.h"

static const char* runtime_name(void) {
#if defined(OMPI_MAJOR_VERSION)
  return "Open MPI";
#elif defined(MPICH_VERSION)
  return "MPICH";
#else
  return "MPI";
#endif
}

static void print(const char* line) {
  fputs(line, stdout);
  fflush(stdout);
}

/* Ranks 0 and 1 run a point-to-point bench at `bytes`; rank 0 returns its figure. */
static double point_to_point(const bench_options* opt, size_t bytes, char* sbuf, char* rbuf) {
  int me;
  const long iters = bench_iters_at(opt, bytes);
  const long warmup = bench_warmup_at(opt, bytes);
  const int count = (int)bytes;
  MPI_Request reqs[2 * BENCH_WINDOW];
  MPI_Status stats[2 * BENCH_WINDOW]; /* not MPI_STATUSES_IGNORE: GCC 12 misreads MPICH's */
  char ack[4] = {0};
  double start = 0, usec;
  long i;
  int w, peer;
  MPI_Comm_rank(MPI_COMM_WORLD, &me);
  peer = 1 - me;
  for (i = 0; i < warmup + iters; ++i) {
    if (i == warmup) start = MPI_Wtime();
    switch (opt->kind) {
      case BENCH_LATENCY:
        if (me == 0) {
          MPI_Send(sbuf, count, MPI_CHAR, 1, 1, MPI_COMM_WORLD);
          MPI_Recv(rbuf, count, MPI_CHAR, 1, 1, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        } else {
          MPI_Recv(rbuf, count, MPI_CHAR, 0, 1, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
          MPI_Send(sbuf, count, MPI_CHAR, 0, 1, MPI_COMM_WORLD);
        }
        break;
      case BENCH_BW:
        if (me == 0) {
          for (w = 0; w < BENCH_WINDOW; ++w)
            MPI_Isend(sbuf, count, MPI_CHAR, 1, 100, MPI_COMM_WORLD, &reqs[w]);
          MPI_Waitall(BENCH_WINDOW, reqs, stats);
          MPI_Recv(ack, 4, MPI_CHAR, 1, 101, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        } else {
          for (w = 0; w < BENCH_WINDOW; ++w)
            MPI_Irecv(rbuf, count, MPI_CHAR, 0, 100, MPI_COMM_WORLD, &reqs[w]);
          MPI_Waitall(BENCH_WINDOW, reqs, stats);
          MPI_Send(ack, 4, MPI_CHAR, 0, 101, MPI_COMM_WORLD);
        }
        break;
      default: /* BENCH_BIBW */
        for (w = 0; w < BENCH_WINDOW; ++w)
          MPI_Irecv(rbuf, count, MPI_CHAR, peer, 10, MPI_COMM_WORLD, &reqs[w]);
        for (w = 0; w < BENCH_WINDOW; ++w)
          MPI_Isend(sbuf, count, MPI_CHAR, peer, 10, MPI_COMM_WORLD, &reqs[BENCH_WINDOW + w]);
        MPI_Waitall(2 * BENCH_WINDOW, reqs, stats);
        break;
    }
  }
  usec = (MPI_Wtime() - start) * 1e6;
  switch (opt->kind) {
    case BENCH_LATENCY:
      return usec / (2.0 * (double)iters);
    case BENCH_BW:
      return (double)bytes * BENCH_WINDOW * (double)iters / usec;
    default:
      return 2.0 * (double)bytes * BENCH_WINDOW * (double)iters / usec;
  }
}

static double one_collective(bench_kind kind, size_t bytes, int ranks, char* sbuf, char* rbuf) {
  const int count = (int)bytes;
  const double start = MPI_Wtime();
  switch (kind) {
    case BENCH_BCAST:
      MPI_Bcast(sbuf, count, MPI_CHAR, 0, MPI_COMM_WORLD);
      break;
    case BENCH_REDUCE:
      MPI_Reduce(sbuf, rbuf, count / 4, MPI_FLOAT, MPI_SUM, 0, MPI_COMM_WORLD);
      break;
    case BENCH_ALLREDUCE:
      MPI_Allreduce(sbuf, rbuf, count / 4, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
      break;
    case BENCH_BARRIER:
      MPI_Barrier(MPI_COMM_WORLD);
      break;
    case BENCH_GATHER:
      MPI_Gather(sbuf, count, MPI_CHAR, rbuf, count, MPI_CHAR, 0, MPI_COMM_WORLD);
      break;
    case BENCH_ALLGATHER:
      MPI_Allgather(sbuf, count, MPI_CHAR, rbuf, count, MPI_CHAR, MPI_COMM_WORLD);
      break;
    default: /* BENCH_ALLTOALL: sbuf holds `ranks` blocks */
      (void)ranks;
      MPI_Alltoall(sbuf, count, MPI_CHAR, rbuf, count, MPI_CHAR, MPI_COMM_WORLD);
      break;
  }
  return (MPI_Wtime() - start) * 1e6;
}

/* Every rank times each call alone (untimed barrier between calls); rank 0 gets
 * the mean over ranks of each rank's mean per call, and the largest of those
 * means (the slowest rank). */
static bench_figures collective(const bench_options* opt, size_t bytes, int ranks, char* sbuf,
                                char* rbuf) {
  const long iters = bench_iters_at(opt, bytes);
  const long warmup = bench_warmup_at(opt, bytes);
  double total = 0, mine, sum = 0, slowest = 0;
  bench_figures figures;
  long i;
  for (i = 0; i < warmup + iters; ++i) {
    const double t = one_collective(opt->kind, bytes, ranks, sbuf, rbuf);
    if (i >= warmup) total += t;
    if (opt->kind != BENCH_BARRIER) MPI_Barrier(MPI_COMM_WORLD);
  }
  mine = total / (double)iters;
  MPI_Reduce(&mine, &sum, 1, MPI_DOUBLE, MPI_SUM, 0, MPI_COMM_WORLD);
  MPI_Reduce(&mine, &slowest, 1, MPI_DOUBLE, MPI_MAX, 0, MPI_COMM_WORLD);
  figures.value = sum / ranks;
  figures.max = slowest;
  return figures;
}

int main(int argc, char** argv) {
  bench_options opt;
  char err[512], line[256];
  int me, ranks, rc;
  size_t sizes[BENCH_MAX_SIZES], count, s, largest, buf_bytes;
  char *sbuf, *rbuf;
  MPI_Init(&argc, &argv);
  MPI_Comm_rank(MPI_COMM_WORLD, &me);
  MPI_Comm_size(MPI_COMM_WORLD, &ranks);
  rc = bench_parse(argc, argv, &opt, err, sizeof err);
  if (rc != BENCH_PARSE_OK) {
    if (me == 0) {
      if (rc == BENCH_PARSE_HELP)
        printf("mpi-bench: %s", bench_usage());
      else
        fprintf(stderr, "mpi-bench: %s\n", err);
    }
    MPI_Finalize();
    return rc == BENCH_PARSE_HELP ? 0 : 2;
  }
  if (ranks < bench_min_ranks(opt.kind)) {
    if (me == 0)
      fprintf(stderr, "mpi-bench: %s needs at least %d ranks, this job has %d\n",
              bench_name(opt.kind), bench_min_ranks(opt.kind), ranks);
    MPI_Finalize();
    return 2;
  }
  count = bench_sizes(&opt, sizes);
  largest = count ? sizes[count - 1] : 0;
  buf_bytes = largest * (size_t)ranks + 1; /* gather, allgather and alltoall hold every rank's */
  sbuf = malloc(buf_bytes);
  rbuf = malloc(buf_bytes);
  if (!sbuf || !rbuf) {
    fprintf(stderr, "mpi-bench: cannot allocate %zu bytes\n", buf_bytes);
    MPI_Abort(MPI_COMM_WORLD, 1);
  }
  memset(sbuf, 'a', buf_bytes);
  memset(rbuf, 0, buf_bytes);
  if (opt.kind == BENCH_REDUCE || opt.kind == BENCH_ALLREDUCE) {
    float* f = (float*)(void*)sbuf;
    size_t k;
    for (k = 0; k < buf_bytes / 4; ++k) f[k] = 1.0f;
  }
  if (me == 0) {
    bench_format_header(line, sizeof line, &opt, "mpi-bench", runtime_name(), ranks);
    print(line);
  }
  for (s = 0; s < count; ++s) {
    bench_figures figures = {0, 0};
    MPI_Barrier(MPI_COMM_WORLD);
    if (bench_is_point_to_point(opt.kind)) {
      if (me < 2) figures.value = point_to_point(&opt, sizes[s], sbuf, rbuf);
    } else {
      figures = collective(&opt, sizes[s], ranks, sbuf, rbuf);
    }
    if (me == 0) {
      bench_format_row(line, sizeof line, &opt, ranks, sizes[s], &figures);
      print(line);
    }
  }
  MPI_Barrier(MPI_COMM_WORLD);
  free(sbuf);
  free(rbuf);
  MPI_Finalize();
  return 0;
}
