/* bench_core: options, sizes, iteration counts and output lines (see bench_core.h). */
#include "bench_core.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char* const kNames[BENCH_KIND_COUNT] = {"latency",   "bw",        "bibw",    "bcast",
                                                     "reduce",    "allreduce", "barrier", "gather",
                                                     "allgather", "alltoall"};

static const char kValidBenches[] =
    "latency, bw, bibw, bcast, reduce, allreduce, barrier, gather, allgather, alltoall";
static const char kValidOptions[] =
    "--min-bytes, --max-bytes, --bytes, --iters, --warmup, --json, --help";

#define ITERS_LIMIT 1000000000L

const char* bench_name(bench_kind kind) {
  return kind >= 0 && kind < BENCH_KIND_COUNT ? kNames[kind] : "?";
}

bench_metric bench_metric_of(bench_kind kind) {
  return kind == BENCH_BW || kind == BENCH_BIBW ? BENCH_METRIC_BANDWIDTH : BENCH_METRIC_LATENCY;
}

int bench_is_point_to_point(bench_kind kind) {
  return kind == BENCH_LATENCY || kind == BENCH_BW || kind == BENCH_BIBW;
}

int bench_min_ranks(bench_kind kind) {
  (void)kind;
  return 2;
}

size_t bench_element_size(bench_kind kind) {
  return kind == BENCH_REDUCE || kind == BENCH_ALLREDUCE ? 4 : 1;
}

const char* bench_usage(void) {
  return "usage: BENCH [--min-bytes A] [--max-bytes B] [--bytes N] [--iters N] [--warmup N] "
         "[--json]\n"
         "  BENCH        latency | bw | bibw (ranks 0 and 1) | bcast | reduce | allreduce |\n"
         "               barrier | gather | allgather | alltoall (every rank)\n"
         "  --min-bytes  first size (default 1); sizes double up to --max-bytes\n"
         "  --max-bytes  last size (default 4M for latency, bw, bibw; 1M for collectives)\n"
         "  --bytes      one size only (same as --min-bytes N --max-bytes N)\n"
         "  --iters      timed iterations up to 8K (default 10000 latency, 100 bw/bibw, 1000\n"
         "               collectives); fewer above 8K, scaled with size, at least 10\n"
         "  --warmup     untimed iterations first (default: a tenth of --iters)\n"
         "  --json       one line per size: {\"bench\":..,\"ranks\":..,\"bytes\":..,\"usec\":..}\n"
         "               (\"mb_per_s\" for bw, bibw; collectives add \"usec_max\")\n"
         "  sizes are bytes, 0 to 1G, with an optional K, M or G suffix (KiB, MiB, GiB);\n"
         "  reduce and allreduce sum floats, so their sizes are multiples of 4\n"
         "  a collective's time (usec, Avg Latency) is the mean over ranks of each rank's\n"
         "  mean per call, each call timed alone; usec_max (Max Latency) is the slowest\n"
         "  rank's mean per call\n";
}

void bench_escape(const char* in, char* out, size_t out_size) {
  static const char hex[] = "0123456789abcdef";
  size_t o = 0;
  size_t i = 0;
  if (out_size == 0) return;
  for (; in[i] != '\0' && i < 40; ++i) {
    const unsigned char c = (unsigned char)in[i];
    char tmp[5];
    size_t n = 0;
    if (c == '\n') {
      tmp[n++] = '\\', tmp[n++] = 'n';
    } else if (c == '\t') {
      tmp[n++] = '\\', tmp[n++] = 't';
    } else if (c == '\\' || c == '\'') {
      tmp[n++] = '\\', tmp[n++] = (char)c;
    } else if (c < 0x20 || c >= 0x7f) {
      tmp[n++] = '\\', tmp[n++] = 'x', tmp[n++] = hex[c >> 4], tmp[n++] = hex[c & 15];
    } else {
      tmp[n++] = (char)c;
    }
    if (o + n + 4 > out_size) break; /* room for "..." and the terminator */
    memcpy(out + o, tmp, n);
    o += n;
  }
  if (in[i] != '\0' && o + 4 <= out_size) {
    memcpy(out + o, "...", 3);
    o += 3;
  }
  out[o] = '\0';
}

/* A decimal count with an optional K, M or G suffix (x1024^n); -1 when malformed. */
static long long parse_count(const char* text, int allow_suffix) {
  char* end = NULL;
  unsigned long long v;
  unsigned long long scale = 1;
  if (text[0] < '0' || text[0] > '9') return -1;
  errno = 0;
  v = strtoull(text, &end, 10);
  if (errno != 0) return -1;
  if (allow_suffix && *end != '\0' && end[1] == '\0') {
    switch (*end) {
      case 'k':
      case 'K':
        scale = 1ULL << 10;
        ++end;
        break;
      case 'm':
      case 'M':
        scale = 1ULL << 20;
        ++end;
        break;
      case 'g':
      case 'G':
        scale = 1ULL << 30;
        ++end;
        break;
      default:
        break;
    }
  }
  if (*end != '\0') return -1;
  if (v > (1ULL << 40) / scale) return (long long)1 << 41; /* out of every range */
  return (long long)(v * scale);
}

static int fail(char* err, size_t err_size, const char* fmt, const char* a, const char* b) {
  char shown[200];
  bench_escape(a ? a : "", shown, sizeof shown);
  snprintf(err, err_size, fmt, shown, b ? b : "");
  return BENCH_PARSE_ERROR;
}

static int size_value(const char* option, const char* text, size_t* out, char* err,
                      size_t err_size) {
  const long long v = parse_count(text, 1);
  char fmt[160];
  if (v >= 0 && (unsigned long long)v <= BENCH_SIZE_LIMIT) {
    *out = (size_t)v;
    return BENCH_PARSE_OK;
  }
  snprintf(fmt, sizeof fmt, "%s: '%%s' is %s; valid: 0 to %zu bytes (or with K, M, G)%%s", option,
           v < 0 ? "not a size" : "out of range", (size_t)BENCH_SIZE_LIMIT);
  return fail(err, err_size, fmt, text, NULL);
}

static int count_value(const char* option, const char* text, long lo, long* out, char* err,
                       size_t err_size) {
  const long long v = parse_count(text, 0);
  char fmt[160];
  if (v >= lo && v <= ITERS_LIMIT) {
    *out = (long)v;
    return BENCH_PARSE_OK;
  }
  snprintf(fmt, sizeof fmt, "%s: '%%s' is %s; valid: %ld to %ld%%s", option,
           v < 0 ? "not a number" : "out of range", lo, ITERS_LIMIT);
  return fail(err, err_size, fmt, text, NULL);
}

int bench_parse(int argc, char** argv, bench_options* out, char* err, size_t err_size) {
  size_t min_bytes = 1, max_bytes = 0, bytes = 0;
  int have_min = 0, have_max = 0, have_bytes = 0, have_kind = 0, have_warmup = 0;
  long iters = 0, warmup = 0;
  int i;
  memset(out, 0, sizeof *out);
  err[0] = '\0';
  for (i = 1; i < argc; ++i) {
    const char* arg = argv[i];
    const char* eq = strchr(arg, '=');
    char name[32];
    const char* value = NULL;
    size_t len = eq ? (size_t)(eq - arg) : strlen(arg);
    int rc = BENCH_PARSE_OK;
    if (arg[0] != '-' || arg[1] == '\0') {
      int k;
      if (have_kind)
        return fail(err, err_size, "one bench only: '%s' after '%s'", arg, kNames[out->kind]);
      for (k = 0; k < BENCH_KIND_COUNT && strcmp(arg, kNames[k]) != 0; ++k) {
      }
      if (k == BENCH_KIND_COUNT)
        return fail(err, err_size, "unknown bench '%s'; valid: %s", arg, kValidBenches);
      out->kind = (bench_kind)k;
      have_kind = 1;
      continue;
    }
    if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) return BENCH_PARSE_HELP;
    if (strcmp(arg, "--json") == 0) {
      out->json = 1;
      continue;
    }
    if (len >= sizeof name) len = sizeof name - 1;
    memcpy(name, arg, len);
    name[len] = '\0';
    if (strcmp(name, "--min-bytes") != 0 && strcmp(name, "--max-bytes") != 0 &&
        strcmp(name, "--bytes") != 0 && strcmp(name, "--iters") != 0 &&
        strcmp(name, "--warmup") != 0)
      return fail(err, err_size, "unknown option '%s'; valid: %s", arg, kValidOptions);
    if (eq) {
      value = eq + 1;
    } else if (i + 1 < argc) {
      value = argv[++i];
    } else {
      return fail(err, err_size, "%s needs a value%s", name,
                  strcmp(name, "--iters") == 0 || strcmp(name, "--warmup") == 0
                      ? "; valid: a count up to 1000000000"
                      : "; valid: 0 to 1073741824 bytes (or with K, M, G)");
    }
    if (strcmp(name, "--min-bytes") == 0) {
      rc = size_value(name, value, &min_bytes, err, err_size);
      have_min = 1;
    } else if (strcmp(name, "--max-bytes") == 0) {
      rc = size_value(name, value, &max_bytes, err, err_size);
      have_max = 1;
    } else if (strcmp(name, "--bytes") == 0) {
      rc = size_value(name, value, &bytes, err, err_size);
      have_bytes = 1;
    } else if (strcmp(name, "--iters") == 0) {
      rc = count_value(name, value, 1, &iters, err, err_size);
    } else {
      rc = count_value(name, value, 0, &warmup, err, err_size);
      have_warmup = 1;
    }
    if (rc != BENCH_PARSE_OK) return rc;
  }
  if (!have_kind) return fail(err, err_size, "no bench given%s; valid: %s", NULL, kValidBenches);
  if (have_bytes && (have_min || have_max))
    return fail(err, err_size,
                "--bytes runs one size: give it alone, or --min-bytes and "
                "--max-bytes%s%s",
                NULL, NULL);
  if (have_bytes) min_bytes = max_bytes = bytes;
  if (!have_bytes && !have_max)
    max_bytes = bench_is_point_to_point(out->kind) ? (size_t)4 << 20 : (size_t)1 << 20;
  if (min_bytes > max_bytes) {
    char a[64], b[64];
    snprintf(a, sizeof a, "%zu", min_bytes);
    snprintf(b, sizeof b, "%zu", max_bytes);
    return fail(err, err_size, "--min-bytes %s is above --max-bytes %s; valid: min <= max", a, b);
  }
  if (out->kind != BENCH_BARRIER && bench_element_size(out->kind) > 1 &&
      max_bytes < bench_element_size(out->kind)) {
    return fail(err, err_size,
                "%s: %s sums floats, so a size is a multiple of 4; valid: 4 to 1073741824 bytes",
                have_bytes ? "--bytes" : "--max-bytes", kNames[out->kind]);
  }
  if (out->kind != BENCH_BARRIER && have_bytes && bytes % bench_element_size(out->kind) != 0) {
    return fail(err, err_size,
                "--bytes: %s sums floats, so a size is a multiple of 4; valid: 4 to 1073741824 "
                "bytes%s",
                kNames[out->kind], NULL);
  }
  if (iters == 0) {
    iters = out->kind == BENCH_LATENCY                             ? 10000
            : bench_metric_of(out->kind) == BENCH_METRIC_BANDWIDTH ? 100
                                                                   : 1000;
  }
  if (!have_warmup) warmup = iters / 10;
  out->min_bytes = min_bytes;
  out->max_bytes = max_bytes;
  out->iters = iters;
  out->warmup = warmup;
  return BENCH_PARSE_OK;
}

size_t bench_sizes(const bench_options* opt, size_t* sizes) {
  const size_t e = bench_element_size(opt->kind);
  size_t n = 0;
  size_t b = opt->min_bytes;
  if (opt->kind == BENCH_BARRIER) {
    sizes[0] = 0;
    return 1;
  }
  if (e > 1 && b < e) b = e;
  b = (b + e - 1) / e * e;
  while (b <= opt->max_bytes && n < BENCH_MAX_SIZES) {
    sizes[n++] = b;
    b = b == 0 ? 1 : b * 2;
  }
  return n;
}

static long scaled(long n, size_t bytes, long floor_count) {
  long s;
  if (bytes <= BENCH_SMALL_LIMIT) return n;
  s = (long)((double)n * (double)BENCH_SMALL_LIMIT / (double)bytes);
  if (floor_count > n) floor_count = n;
  return s < floor_count ? floor_count : s;
}

long bench_iters_at(const bench_options* opt, size_t bytes) {
  return scaled(opt->iters, bytes, 10);
}

long bench_warmup_at(const bench_options* opt, size_t bytes) {
  return scaled(opt->warmup, bytes, 2);
}

int bench_has_max(bench_kind kind) { return !bench_is_point_to_point(kind); }

int bench_format_header(char* buf, size_t size, const bench_options* opt, const char* program,
                        const char* runtime, int ranks) {
  /* Collectives only: a second column, right-aligned in 18 as the first. */
  const int has_max = bench_has_max(opt->kind);
  const char* figure =
      bench_metric_of(opt->kind) == BENCH_METRIC_BANDWIDTH ? "Bandwidth (MB/s)" : "Avg Latency(us)";
  if (opt->json) {
    if (size > 0) buf[0] = '\0';
    return 0;
  }
  return snprintf(buf, size, "# %s %s: %s, %d ranks\n%-10s%18s%*s\n", program,
                  bench_name(opt->kind), runtime, ranks, "# Size", figure, has_max ? 18 : 0,
                  has_max ? "Max Latency(us)" : "");
}

int bench_format_row(char* buf, size_t size, const bench_options* opt, int ranks, size_t bytes,
                     const bench_figures* figures) {
  const char* name = bench_name(opt->kind);
  if (bench_has_max(opt->kind)) {
    if (opt->json)
      return snprintf(buf, size,
                      "{\"bench\":\"%s\",\"ranks\":%d,\"bytes\":%zu,\"usec\":%.3f,"
                      "\"usec_max\":%.3f}\n",
                      name, ranks, bytes, figures->value, figures->max);
    return snprintf(buf, size, "%-10zu%18.2f%18.2f\n", bytes, figures->value, figures->max);
  }
  if (opt->json)
    return snprintf(buf, size,
                    bench_metric_of(opt->kind) == BENCH_METRIC_BANDWIDTH
                        ? "{\"bench\":\"%s\",\"ranks\":%d,\"bytes\":%zu,\"mb_per_s\":%.1f}\n"
                        : "{\"bench\":\"%s\",\"ranks\":%d,\"bytes\":%zu,\"usec\":%.3f}\n",
                    name, ranks, bytes, figures->value);
  return snprintf(buf, size, "%-10zu%18.2f\n", bytes, figures->value);
}
