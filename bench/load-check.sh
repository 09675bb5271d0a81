#!/usr/bin/env bash
# Issue 6 load check: against real test clusters holding at least --min-objects objects each,
# `kparity diff OLD NEW --concurrency 32` must give exactly the same JSON report (verdict, summary,
# kinds, objects, incomplete...; run times and key fingerprints aside) and exit code as
# `--concurrency 1`, and no 429 may be left unhandled: both runs exit 0 or 1 (never 2), report no
# incomplete type, and the API servers' own 429 counters are printed to show what was absorbed.
# Fill the clusters first, e.g.:
#   target/release/kparity-load --context blue --objects 20000
#   target/release/kparity-load --context green --objects 20000 --drift 20
# usage: bench/load-check.sh [--old blue] [--new green] [--min-objects 20000] [--kubeconfig FILE]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
old=blue new=green min=20000 kc=
while [ $# -gt 0 ]; do
  case $1 in
    --old) old=$2; shift ;;
    --new) new=$2; shift ;;
    --min-objects) min=$2; shift ;;
    --kubeconfig) kc=$2; shift ;;
    *) echo "usage: bench/load-check.sh [--old CTX] [--new CTX] [--min-objects N] [--kubeconfig FILE]" >&2; exit 2 ;;
  esac
  shift
done
kc=${kc:-$root/target/test-cluster/kubeconfig}
kubectl=$root/target/test-cluster/bin/kubectl
bin=$root/target/release
out=$root/target/bench/load-check-$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$out"
export KPARITY_SECRET_KEY=kparity-load-check-key
(cd "$root" && cargo build --release --quiet -p kparity -p kparity-bench)

fail() { echo "load check FAILED: $*" >&2; exit 1; }

# Sizes as the raw ceiling lists them (every listable type).
"$bin/kparity-ceiling" --kubeconfig "$kc" "$old" "$new" | tee "$out/counts"
for ctx in "$old" "$new"; do
  n=$(sed -n "s/^$ctx: .*objects=\([0-9]*\).*/\1/p" "$out/counts")
  [ "${n:-0}" -ge "$min" ] || fail "context $ctx holds ${n:-0} objects, fewer than $min (hint: fill it with target/release/kparity-load --context $ctx --objects $min)"
done

throttled() { # CTX: the API server's count of 429 answers so far
  "$kubectl" --kubeconfig "$kc" --context "$1" get --raw /metrics \
    | awk '/^apiserver_request_total\{/ && /code="429"/ { s += $NF } END { print s + 0 }'
}

declare -A rc
for c in 1 32; do
  before="$(throttled "$old") $(throttled "$new")"
  start=$(date +%s.%N)
  set +e
  "$bin/kparity" --kubeconfig "$kc" diff "$old" "$new" -o json --concurrency "$c" > "$out/report-c$c.json" 2> "$out/stderr-c$c"
  rc[$c]=$?
  set -e
  after="$(throttled "$old") $(throttled "$new")"
  printf 'concurrency %-2s: exit %s in %.1fs; 429 answers by the API servers (old new) before: %s, after: %s\n' \
    "$c" "${rc[$c]}" "$(echo "$(date +%s.%N) - $start" | awk '{ print $1 - $3 }')" "$before" "$after"
  case ${rc[$c]} in 0|1) ;; *) cat "$out/stderr-c$c" >&2; fail "concurrency $c exited ${rc[$c]} (trouble: something was not read)";; esac
  [ "$(jq '.incomplete | length' "$out/report-c$c.json")" = 0 ] || fail "concurrency $c reports incomplete types: $(jq -c .incomplete "$out/report-c$c.json")"
  jq -S 'del(.old.time, .new.time, .old.secret_key, .new.secret_key)' "$out/report-c$c.json" > "$out/stable-c$c.json"
done
[ "${rc[1]}" = "${rc[32]}" ] || fail "exit codes differ: ${rc[1]} at concurrency 1, ${rc[32]} at 32"
diff -q "$out/stable-c1.json" "$out/stable-c32.json" > /dev/null \
  || fail "reports differ between concurrency 1 and 32 (see diff $out/stable-c1.json $out/stable-c32.json)"
echo "load check passed: identical reports ($(jq -c '{verdict, summary, kinds: (.kinds | length), objects: (.objects | length), incomplete: (.incomplete | length)}' "$out/stable-c1.json")), exit ${rc[1]} both; files in $out"
