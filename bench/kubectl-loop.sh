#!/usr/bin/env bash
# Baseline (a), today's practice: for each context one after the other, `kubectl api-resources
# --verbs=list -o name`, then `kubectl get TYPE -A -o json` per type, counting items with jq;
# then compare the counts. Exit 0 when the counts match, 1 when they differ.
# usage: bench/kubectl-loop.sh KUBECTL KUBECONFIG OUTDIR CONTEXT...
set -euo pipefail
kubectl=$1 kubeconfig=$2 out=$3; shift 3
mkdir -p "$out"
for ctx in "$@"; do
  : > "$out/$ctx.counts"
  for t in $("$kubectl" --kubeconfig "$kubeconfig" --context "$ctx" api-resources --verbs=list -o name); do
    n=$("$kubectl" --kubeconfig "$kubeconfig" --context "$ctx" get "$t" -A -o json | jq '.items | length')
    echo "$t $n" >> "$out/$ctx.counts"
  done
  sort -o "$out/$ctx.counts" "$out/$ctx.counts"
done
first=$1; shift
rc=0
for ctx in "$@"; do
  diff "$out/$first.counts" "$out/$ctx.counts" > "$out/$first-$ctx.countdiff" || rc=1
done
exit $rc
