#!/usr/bin/env bash
# Starts kparity's real test clusters on loopback: one etcd, and per cluster a kube-apiserver and a
# kube-controller-manager built from the Go module proxy by tests/cluster/build.sh.
#
# Idempotent: when everything recorded in the pid files is alive and ready, it only rewrites the
# kubeconfig and returns. When anything is half-up, it stops what it started and starts afresh,
# so a failed earlier run never leaves a half-started cluster behind.
#
# Writes target/test-cluster/kubeconfig with contexts blue, green (cluster admin) and blue-viewer
# (bound only to the built-in `view` ClusterRole), and target/test-cluster/bin/kubectl.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/cluster/lib.sh
source "$here/lib.sh"

"$here/build.sh" all

if all_up; then
  write_kubeconfig
  echo "test clusters already up (${CLUSTERS[*]}); kubeconfig: $KUBECONFIG_OUT" >&2
  exit 0
fi

# Anything half-started from an earlier run is stopped first: we never build on unknown state.
"$here/down.sh" --quiet

on_failure() {
  local rc=$?
  echo "tests/cluster/up.sh failed (exit $rc); stopping what it started" >&2
  "$here/down.sh" --quiet || true
  exit "$rc"
}
trap on_failure ERR

mkdir -p "$STATE" "$LOGS" "$PIDS"
rm -rf "$KUBECTL_CACHE"
for c in "${CLUSTERS[@]}"; do make_pki "$c"; done
start_etcd
for c in "${CLUSTERS[@]}"; do start_apiserver "$c"; done
for c in "${CLUSTERS[@]}"; do wait_ready "$c"; done
write_kubeconfig
for c in "${CLUSTERS[@]}"; do start_controller_manager "$c"; done
for c in "${CLUSTERS[@]}"; do bootstrap_rbac "$c"; done
trap - ERR
echo "test clusters up (${CLUSTERS[*]}); kubeconfig: $KUBECONFIG_OUT" >&2
