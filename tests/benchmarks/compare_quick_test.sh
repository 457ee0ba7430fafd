#!/usr/bin/env bash
# benchmarks/compare --quick against the installed peer MPIs (exit 77 = skipped when
# there is none): it must succeed, write a results file whose table has the
# measured rows (a collective's "slowest rank" too) with a figure for rmpi and
# for every installed peer, and plots; and no process of its jobs may remain.
# Not a timing test.
#   compare_quick_test.sh SOURCE_DIR BUILD_DIR
set -u
src=$1
build=$2
if [ ! -x /usr/bin/python3 ]; then
  echo "skipped: /usr/bin/python3 is not installed (scripts/install-deps --bench)"
  exit 77
fi
out=$(mktemp -d /tmp/rmpi-compare-test.XXXXXX)
trap 'rm -rf "$out"' EXIT
marker="RMPI_JOB_TEST_MARKER=compare-quick-$$"
fail() { echo "FAIL: $*"; echo "--- compare output:"; cat "$out/log"; exit 1; }

# Bounded well inside ctest's TIMEOUT (240 s): 60 s per run, 200 s in all.
timeout --kill-after=20 200 env "$marker" "$src/benchmarks/compare" --quick --no-build \
  --build "$build" --out "$out" --require-peer --timeout 60 >"$out/log" 2>&1
rc=$?
if [ $rc -eq 77 ]; then
  cat "$out/log"
  exit 77
fi
[ $rc -eq 0 ] || fail "compare exited with status $rc"

results=$(ls "$out"/*.md 2>/dev/null | head -1)
[ -n "$results" ] || fail "no results file in $out"
peers=()
command -v mpicc.openmpi >/dev/null && command -v mpirun.openmpi >/dev/null && peers+=("Open MPI")
command -v mpicc.mpich >/dev/null && command -v mpiexec.mpich >/dev/null && peers+=("MPICH")
header=$(grep -m1 '^| measure |' "$results") || fail "no table header in $results"
for p in "${peers[@]}"; do
  case "$header" in *"| $p |"*) ;; *) fail "the table has no '$p' column: $header" ;; esac
done
number='[0-9][0-9.]*'
for row in "latency 8 B (µs)" "latency 64 KiB (µs)" "bandwidth 1 MiB (MB/s)" \
           "allreduce 8 B, 2 ranks (µs)" "allreduce 8 B, 2 ranks: slowest rank (µs)" \
           "launch: init + barrier, 4 ranks (ms)" \
           "peak RSS of the launcher (rmpirun / mpirun / mpiexec) (MiB)"; do
  line=$(grep -F "| $row |" "$results") || fail "no row '$row'"
  # rmpi's figure, and a cost ratio (the best peer had one too).
  echo "$line" | grep -Eq "^\| [^|]+ \| $number \|" || fail "no rmpi figure: $line"
  echo "$line" | grep -Eq "\| $number \| [^|]+ \|\$" || fail "no cost ratio: $line"
done
grep -q '^- cores: [0-9]' "$results" || fail "no machine line"
grep -q '^- load average' "$results" || fail "no load average"
if command -v gnuplot >/dev/null; then
  for png in latency bw collectives; do
    f=$(ls "$out"/*/"$png.png" 2>/dev/null | head -1)
    [ -s "$f" ] || fail "no $png.png"
    head -c 8 "$f" | od -An -tx1 | grep -q '89 50 4e 47' || fail "$png.png is not a PNG"
    grep -q "($(basename "$(dirname "$f")")/$png.png)" "$results" || fail "$png.png not linked"
  done
fi

# Nothing of the jobs may remain (teardown is asynchronous: poll up to 10 s).
for _ in $(seq 100); do
  left=$(grep -lsz -- "$marker" /proc/[0-9]*/environ 2>/dev/null | grep -v "^/proc/$$/" || true)
  [ -z "$left" ] && break
  sleep 0.1
done
[ -z "$left" ] || fail "processes of its jobs remain: $left"
echo "compare --quick: OK (peers: ${peers[*]})"
