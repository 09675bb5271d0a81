#!/usr/bin/env bash
# Where a live diff's time goes on this machine: one `kparity diff blue green` under a
# system-wide `perf` profile, so the API servers, etcd and the controller-managers that share the
# cores with kparity show beside it. Prints the share of CPU samples per process, then kparity's
# own hottest functions. Run it on loaded clusters (bench/run.sh --load-only --sizes N).
#
# usage: bench/profile-live.sh [--list-method auto|streams|pages] [--out DIR]
# Needs perf (linux-perf) and the release build (bench/run.sh builds it).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
method=auto out=
while [ $# -gt 0 ]; do
  case $1 in
    --list-method) method=$2; shift ;;
    --out) out=$2; shift ;;
    *) echo "usage: bench/profile-live.sh [--list-method auto|streams|pages] [--out DIR]" >&2; exit 2 ;;
  esac
  shift
done
command -v perf >/dev/null || { echo "error: perf is not installed" >&2; echo "hint: apt-get install linux-perf" >&2; exit 2; }
bin=$root/target/release/kparity
[ -x "$bin" ] || { echo "error: $bin is missing" >&2; echo "hint: cargo build --release (bench/run.sh does)" >&2; exit 2; }
out=${out:-$root/target/bench/profile-$(date -u +%Y%m%dT%H%M%SZ)}
mkdir -p "$out"
export KPARITY_SECRET_KEY=kparity-bench-key-not-secret-0123456789abcdef

# 499 Hz on every CPU, with call graphs only for the summary of kparity's functions below.
perf record -a -F 499 -g -o "$out/perf.data" -- \
  /usr/bin/time -o "$out/time" -f '%e %U %S %M' \
  "$bin" --kubeconfig "$root/target/test-cluster/kubeconfig" diff blue green -o json --list-method "$method" \
  > "$out/report.json" 2> "$out/perf.err" || true
read -r wall user sys rss < <(tail -1 "$out/time")
echo "kparity diff blue green --list-method $method: wall ${wall}s, CPU $(awk -v u="$user" -v s="$sys" 'BEGIN{print u+s}')s, peak RSS $((rss / 1024)) MiB"
echo
echo "CPU samples by process (all CPUs, the run's whole wall time; swapper is idle):"
perf report -i "$out/perf.data" --no-children -g none --sort comm --stdio 2>/dev/null \
  | grep -E '^ +[0-9]' | head -12 | tee "$out/by-process.txt"
echo
echo "kparity's hottest functions (self time):"
perf report -i "$out/perf.data" --no-children -g none --comm kparity,tokio-rt-worker --sort symbol --stdio 2>/dev/null \
  | grep -E '^ +[0-9]' | head -25 | cut -c1-140 | tee "$out/kparity-symbols.txt"
echo
echo "profile: $out/perf.data"
