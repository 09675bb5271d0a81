#!/usr/bin/env bash
# Regenerates the example archives snapshots/blue.kparity and snapshots/green.kparity from the
# real test clusters, which it RESETS (down --purge, up): blue holds the fixtures and a few
# namespaces of ordinary workloads; green gets the same state by a real Velero backup and restore
# (tests/cluster/velero-restore.sh; Velero's installation is identical on both sides), plus a
# handful of realistic drifts. Both are taken with a published demo key, so the diff
# of the two compares Secret values; never use that key for real archives.
#
# usage: snapshots/make-examples.sh
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
export KUBECONFIG="$root/target/test-cluster/kubeconfig"
export KPARITY_SECRET_KEY="kparity-example-demo-key-do-not-use"
kubectl="$root/target/test-cluster/bin/kubectl"

tests/cluster/down.sh --purge
tests/cluster/up.sh
tests/cluster/load-fixtures.sh blue
tests/cluster/load-fixtures.sh green
cargo build --quiet --bin kparity
kparity="$root/target/debug/kparity"

k() { "$kubectl" --context "$@"; }
for ctx in blue green; do
  k "$ctx" apply -f snapshots/examples/crd.yaml >/dev/null
  k "$ctx" wait --for=condition=Established crd/widgets.parity.example.com --timeout=60s >/dev/null
done
namespaces=(shop payments search)
for ns in "${namespaces[@]}"; do
  k blue create namespace "$ns" >/dev/null
  sed "s/NAMESPACE/$ns/g" snapshots/examples/workloads.yaml | k blue apply -f - >/dev/null
done
sleep 3
tests/cluster/velero-restore.sh --from blue --to green "${namespaces[@]}"
sleep 2

# Realistic drift on green, as found after real migrations.
k green -n shop set image deployment/web web=registry.example/web:1.5.0 >/dev/null          # a newer image slipped in
k green -n shop scale deployment/worker --replicas=3 >/dev/null                              # scaled by hand
k green -n payments patch configmap settings --type=merge -p '{"data":{"timeout":"10s"}}' >/dev/null
k green -n payments delete networkpolicy web-ingress >/dev/null                              # lost in the restore
k green -n search create rolebinding debug-admin --clusterrole=admin --user=oncall@example.com >/dev/null
k green -n search patch secret db-credentials -p '{"stringData":{"password":"rotated-on-green"}}' >/dev/null
sleep 2

"$kparity" snapshot blue --force -o snapshots/blue.kparity
"$kparity" snapshot green --force -o snapshots/green.kparity
"$kparity" verify snapshots/blue.kparity
"$kparity" verify snapshots/green.kparity
"$kparity" diff snapshots/blue.kparity snapshots/green.kparity || true
