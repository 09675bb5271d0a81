#!/usr/bin/env bash
# The whole test suite on a fresh machine: builds and starts the real test clusters (stopped
# again on exit), then runs every test. This is the README's test command; .ci/run calls it.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=never
# System tools the tests call (xmllint, tinyproxy, ssh-keygen, redis-server and git daemon for
# Argo CD), installed once.
tests/install-test-tools.sh
# The test binaries are compiled while the Go tools and clusters are built: on a fresh machine
# both are long, and each leaves the other's idle moments (downloads, single-threaded links) to
# use. Its output is shown once it is done; a failed build stops the suite there.
mkdir -p target
cargo_log=target/run-all.cargo-build.log
cargo test --locked --no-run > "$cargo_log" 2>&1 &
cargo_build=$!
trap 'kill "$cargo_build" 2>/dev/null || true' EXIT
# The real tools the suite runs against the clusters (Velero, its AWS plugin, versitygw, Helm,
# Argo CD), built from the versions pinned in tests/cluster/*/go.mod; a tool that cannot be built
# stops the suite here, named. Argo CD's processes (and its Redis and git daemon) are started by
# tests/argocd_e2e.rs through tests/cluster/argocd-sync.sh and stopped by it and by down.sh.
tests/cluster/build.sh tools
# The clusters start empty on every run: what an earlier run left in them (Velero's CRDs, the
# canary CRD) would change what the whole-cluster comparisons below see. A no-op on a fresh
# machine; it stops only this checkout's clusters.
tests/cluster/down.sh --quiet --purge
tests/cluster/up.sh
trap 'kill "$cargo_build" 2>/dev/null || true; tests/cluster/down.sh' EXIT
# Fixtures are loaded into both clusters once; tests that need them also load them (idempotent).
tests/cluster/load-fixtures.sh blue
tests/cluster/load-fixtures.sh green
# The whole-cluster comparisons of legacy (1.34) against green run first, while both clusters
# hold only what the tests load into them: later tests install shared pieces on blue and green
# only (Velero's CRDs, namespace and storage location for the real restores; the secrets canary's
# CRD), which a whole-cluster 1.34-vs-1.37 comparison would rightly report as extra.
whole_cluster_upgrade=(
  fresh_legacy_and_green_with_the_same_manifests_are_equivalent_under_the_upgrade_profile
  api_differences_list_the_discovery_differences_between_1_34_and_1_37
)
if ! wait "$cargo_build"; then
  cat "$cargo_log" >&2
  echo "error: the test binaries did not build (cargo test --locked --no-run)" >&2
  exit 1
fi
cat "$cargo_log"
status=0
cargo test --locked --no-fail-fast --test upgrade -- --test-threads=2 || status=1
skips=()
for t in "${whole_cluster_upgrade[@]}"; do skips+=(--skip "$t"); done
cargo test --locked --no-fail-fast -- --test-threads=2 "${skips[@]}" || status=1
# Every example archive must verify.
for f in snapshots/*.kparity; do
  [ -e "$f" ] || continue
  ./target/debug/kparity verify "$f"
done
exit "$status"
