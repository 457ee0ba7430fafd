/* bench_core: what rmpi-bench (C++, rmpi) and mpi-bench.c (plain MPI) share, so
 * that both take the same options and print the same lines: the bench names,
 * option parsing, the size sweep, iteration counts per size, and the OSU table
 * and JSON lines. Plain C (C11), no MPI and no rmpi: mpicc builds it beside
 * mpi-bench.c, CMake beside rmpi-bench, and tests/benchmarks checks it. */
#ifndef RMPI_BENCHMARKS_BENCH_CORE_H
#define RMPI_BENCHMARKS_BENCH_CORE_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
  BENCH_LATENCY,   /* ping-pong between ranks 0 and 1: one-way time */
  BENCH_BW,        /* rank 0 sends a window of BENCH_WINDOW messages, rank 1 acks */
  BENCH_BIBW,      /* ranks 0 and 1 both send a window, then both receive one */
  BENCH_BCAST,     /* root 0 */
  BENCH_REDUCE,    /* floats, sum, root 0 */
  BENCH_ALLREDUCE, /* floats, sum */
  BENCH_BARRIER,
  BENCH_GATHER,    /* `bytes` from each rank, root 0 */
  BENCH_ALLGATHER, /* `bytes` from each rank */
  BENCH_ALLTOALL,  /* `bytes` from each rank to each rank */
  BENCH_KIND_COUNT
} bench_kind;

/* What a bench reports: a latency in microseconds or a bandwidth in MB/s (10^6 B/s). */
typedef enum { BENCH_METRIC_LATENCY, BENCH_METRIC_BANDWIDTH } bench_metric;

/* Messages in flight per iteration of bw and bibw (OSU's window). */
#define BENCH_WINDOW 64
/* Sizes run from 0 to this (1 GiB). */
#define BENCH_SIZE_LIMIT ((size_t)1 << 30)
/* Up to this size a bench runs the full --iters; above, fewer (as OSU's "large" sizes). */
#define BENCH_SMALL_LIMIT ((size_t)8192)
/* The most sizes a sweep has (0, 1, 2, 4 ... 1 GiB). */
#define BENCH_MAX_SIZES 32

typedef struct {
  bench_kind kind;
  size_t min_bytes; /* the sweep: min_bytes, doubling, up to max_bytes */
  size_t max_bytes;
  long iters;  /* iterations at sizes up to BENCH_SMALL_LIMIT */
  long warmup; /* untimed iterations before them */
  int json;    /* one JSON object per line instead of the OSU table */
} bench_options;

enum { BENCH_PARSE_OK = 0, BENCH_PARSE_HELP = 1, BENCH_PARSE_ERROR = 2 };

/* Parses `BENCH [--min-bytes A] [--max-bytes B] [--bytes N] [--iters N] [--warmup N]
 * [--json] [--help]` (argv[0] is the program). Values may be `--opt N` or `--opt=N`;
 * sizes take a K, M or G suffix (KiB, MiB, GiB). On BENCH_PARSE_ERROR, `err` holds one
 * line (no newline) naming the option and the valid values, the echoed input cut
 * short and escaped. */
int bench_parse(int argc, char** argv, bench_options* out, char* err, size_t err_size);

/* The usage text, lines ending in '\n'. */
const char* bench_usage(void);

/* "latency", "bw", ... */
const char* bench_name(bench_kind kind);
bench_metric bench_metric_of(bench_kind kind);
/* 1 for latency, bw and bibw (ranks 0 and 1 only; others wait). */
int bench_is_point_to_point(bench_kind kind);
/* The least number of ranks the bench needs (2 for every bench). */
int bench_min_ranks(bench_kind kind);
/* Bytes per element: 4 (a float) for reduce and allreduce, 1 otherwise. */
size_t bench_element_size(bench_kind kind);

/* The sizes to run, in order, into `sizes` (BENCH_MAX_SIZES entries); returns how many.
 * Barrier has one size, 0. Sizes are multiples of the element size. */
size_t bench_sizes(const bench_options* opt, size_t* sizes);
/* Timed and untimed iterations at `bytes`: --iters (--warmup) up to BENCH_SMALL_LIMIT,
 * then scaled down with size, never below min(--iters, 10) (min(--warmup, 2)). */
long bench_iters_at(const bench_options* opt, size_t bytes);
long bench_warmup_at(const bench_options* opt, size_t bytes);

/* 1 for the collectives: they report the slowest rank's figure beside the mean. */
int bench_has_max(bench_kind kind);

/* What one size measured. Point-to-point: `value` is rank 0's figure (one-way
 * latency in microseconds, or MB/s) and `max` is unused. Collectives: `value`
 * is the mean over ranks of each rank's mean per call and `max` the largest of
 * those means (the slowest rank), both in microseconds. */
typedef struct {
  double value;
  double max;
} bench_figures;

/* The table's title and column line, e.g.
 * "# rmpi-bench latency: rmpi, 2 ranks\n# Size       Avg Latency(us)\n"; collectives
 * have a second column, "   Max Latency(us)" (as OSU's -f). Empty with --json.
 * Returns the length (as snprintf). */
int bench_format_header(char* buf, size_t size, const bench_options* opt, const char* program,
                        const char* runtime, int ranks);
/* One result: an OSU row ("8" + 23 spaces + "3.41\n"; collectives add the max,
 * right-aligned in 18 more columns) or a JSON line
 * ({"bench":"latency","ranks":2,"bytes":8,"usec":3.410}; collectives add
 * ,"usec_max":4.020). */
int bench_format_row(char* buf, size_t size, const bench_options* opt, int ranks, size_t bytes,
                     const bench_figures* figures);

/* Copies `in` into `out` as printable ASCII: \n \t \\ \' and \xNN escapes, cut after
 * 40 input characters with "...". */
void bench_escape(const char* in, char* out, size_t out_size);

#ifdef __cplusplus
}
#endif

#endif
