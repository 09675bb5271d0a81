#!/usr/bin/env bash
# kparity benchmark harness: on the real test clusters, for each size, loads a synthetic platform
# into blue and green (green with drift), then measures in the same run, on the same clusters:
#   (a) kubectl-loop  today's practice (bench/kubectl-loop.sh), both contexts one after the other
#   (b) ceiling       every listable type of both clusters listed at once, bodies discarded
#   (c) kparity       `kparity diff blue green` (release build)
# and offline, on snapshots of the same clusters:
#   (d) parse-floor   decompress and parse both archives into serde_json::Value
#   (e) kparity-offline `kparity diff blue.kparity green.kparity`
# Every figure is the median of --runs runs (wall time, CPU time = user + sys, peak RSS), with the
# 1-minute load average sampled when each run started. Prints the figures table (markdown).
#
# usage: bench/run.sh [--sizes 10000,100000] [--runs 3] [--drift 20] [--no-reset] [--out DIR]
#   --no-reset  measure the clusters as they are (no purge, no load), e.g. after loading them
#               with bench/run.sh --load-only (one size at a time).
#   --load-only purge, restart and load the clusters for the size given, then stop.
#   --kubectl-runs R  runs of the kubectl loop (default: --runs); it is by far the slowest.
#   --out DIR   add to the results in DIR (the table then covers every size measured there).
#   --kubeconfig FILE  measure the clusters of another kubeconfig (with --no-reset): e.g. a second
#               cluster set started from a copy of tests/cluster with another port offset.
# Honors KPARITY_TEST_PORT_OFFSET like tests/cluster/*.sh. Results: target/bench/<time>/.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
sizes=10000,100000 runs=3 kubectl_runs= drift=20 reset=true load_only=false out= kc=
while [ $# -gt 0 ]; do
  case $1 in
    --sizes) sizes=$2; shift ;;
    --runs) runs=$2; shift ;;
    --kubectl-runs) kubectl_runs=$2; shift ;;
    --drift) drift=$2; shift ;;
    --no-reset) reset=false ;;
    --load-only) load_only=true ;;
    --out) out=$2; shift ;;
    --kubeconfig) kc=$2; shift ;;
    *) echo "usage: bench/run.sh [--sizes N,N] [--runs R] [--drift D] [--no-reset] [--load-only] [--out DIR]" >&2; exit 2 ;;
  esac
  shift
done

kc=${kc:-$root/target/test-cluster/kubeconfig}
kubectl=$root/target/test-cluster/bin/kubectl
bin=$root/target/release
out=${out:-$root/target/bench/$(date -u +%Y%m%dT%H%M%SZ)}
mkdir -p "$out"
# A fixed key makes both snapshots' secret digests comparable with each other.
export KPARITY_SECRET_KEY=kparity-bench-key-not-secret-0123456789abcdef  # >= 32 bytes

(cd "$root" && cargo build --release --quiet -p kparity -p kparity-bench)

results=$out/results.tsv
[ -f "$results" ] || printf 'size\tmeasure\trun\twall_s\tcpu_s\trss_kib\tload1\trc\tservers_cpu_s\n' > "$results"

# servers_cpu: CPU seconds (user + sys) the test clusters' processes (etcd, API servers,
# controller-managers, from target/test-cluster/pids) have used so far. Read before and after
# each run, it says how much of the 2 cores the servers took while kparity read them: on this
# machine they share kparity's cores, which bounds what kparity's own CPU/wall can reach.
servers_cpu() {
  local f pid total=0 ticks
  ticks=$(getconf CLK_TCK)
  for f in "$root"/target/test-cluster/pids/*.pid; do
    pid=$(cat "$f" 2>/dev/null) || continue
    [ -r "/proc/$pid/stat" ] || continue
    # fields 14 and 15 (utime, stime) after the parenthesized command name
    total=$((total + $(sed 's/^.*) //' "/proc/$pid/stat" | awk '{print $12 + $13}')))
  done
  awk -v t="$total" -v k="$ticks" 'BEGIN { printf "%.2f", t / k }'
}

# measure SIZE NAME RUN CMD...: runs CMD under GNU time and appends one row to results.tsv.
measure() {
  local size=$1 name=$2 run=$3; shift 3
  local load1 tf=$out/$size.$name.$run.time rc
  load1=$(cut -d' ' -f1 /proc/loadavg)
  local before after
  before=$(servers_cpu)
  set +e
  /usr/bin/time -o "$tf" -f '%e %U %S %M' "$@" > "$out/$size.$name.$run.out" 2> "$out/$size.$name.$run.err"
  rc=$?
  set -e
  after=$(servers_cpu)
  awk -v s="$size" -v n="$name" -v r="$run" -v l="$load1" -v rc="$rc" -v sc="$(awk -v a="$after" -v b="$before" 'BEGIN { printf "%.2f", a - b }')" \
    'END { printf "%s\t%s\t%s\t%s\t%.2f\t%s\t%s\t%s\t%s\n", s, n, r, $1, $2 + $3, $4, l, rc, sc }' "$tf" >> "$results"
  echo "  $name run $run: $(tail -1 "$tf") (wall user sys rss_kib), exit $rc, load $load1, servers' CPU $(tail -1 "$results" | cut -f9) s" >&2
  return 0
}

# counts: the ceiling's per-context object counts, to see when the controllers have settled.
counts() { "$bin/kparity-ceiling" --kubeconfig "$kc" blue green | grep -v elapsed | sed "s/ bytes=[0-9]*//" | tr "\n" " "; }

for size in ${sizes//,/ }; do
  echo "== $size objects per cluster" >&2
  if $reset; then
    (export KPARITY_TEST_PORT_OFFSET; "$root/tests/cluster/down.sh" --purge --quiet; "$root/tests/cluster/up.sh")
    started=$(date +%s)
    "$bin/kparity-load" --kubeconfig "$kc" --context blue --objects "$size" &
    blue_pid=$!
    "$bin/kparity-load" --kubeconfig "$kc" --context green --objects "$size" --drift "$drift"
    wait "$blue_pid"
    echo "loaded both clusters in $(( $(date +%s) - started ))s" >&2
    # The controller-managers derive objects (ReplicaSets, EndpointSlices, ServiceAccounts...):
    # measure only once two readings 10 s apart agree.
    prev=$(counts); sleep 10; now=$(counts)
    while [ "$prev" != "$now" ]; do prev=$now; sleep 10; now=$(counts); done
    echo "settled: $now" >&2
  fi
  if $load_only; then continue; fi
  echo "$(counts)" > "$out/$size.counts"

  for run in $(seq 1 "$runs"); do
    if [ "$run" -le "${kubectl_runs:-$runs}" ]; then
      measure "$size" kubectl-loop "$run" "$here/kubectl-loop.sh" "$kubectl" "$kc" "$out/$size.kubectl.$run" blue green
    fi
    measure "$size" ceiling "$run" "$bin/kparity-ceiling" --kubeconfig "$kc" blue green
    measure "$size" kparity "$run" "$bin/kparity" --kubeconfig "$kc" diff blue green -o json
  done

  "$bin/kparity" --kubeconfig "$kc" --quiet snapshot blue --force -o "$out/$size.blue.kparity"
  "$bin/kparity" --kubeconfig "$kc" --quiet snapshot green --force -o "$out/$size.green.kparity"
  for side in blue green; do
    echo "$(zstd -dc "$out/$size.$side.kparity" | wc -c)" > "$out/$size.$side.json_bytes"
  done
  for run in $(seq 1 "$runs"); do
    measure "$size" parse-floor "$run" "$bin/kparity-parse-floor" "$out/$size.blue.kparity" "$out/$size.green.kparity"
    measure "$size" kparity-offline "$run" "$bin/kparity" diff "$out/$size.blue.kparity" "$out/$size.green.kparity" -o json
  done
done

if ! $load_only; then python3 "$here/summarize.py" "$out"; fi
