#!/usr/bin/env bash
# The whole test suite on a fresh machine: builds and starts the real test clusters (stopped
# again on exit), then runs every test. This is the README's test command; .ci/run calls it.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=never
# System tools the tests call (xmllint, tinyproxy, ssh-keygen), installed once.
tests/install-test-tools.sh
# The real tools the suite runs against the clusters (Velero, its AWS plugin, versitygw, Helm),
# built from the versions pinned in tests/cluster/*/go.mod; a tool that cannot be built stops
# the suite here, named.
tests/cluster/build.sh tools
tests/cluster/up.sh
trap 'tests/cluster/down.sh' EXIT
# Fixtures are loaded into both clusters once; tests that need them also load them (idempotent).
tests/cluster/load-fixtures.sh blue
tests/cluster/load-fixtures.sh green
cargo test --locked --no-fail-fast -- --test-threads=2
# Every example archive must verify.
for f in snapshots/*.kparity; do
  [ -e "$f" ] || continue
  ./target/debug/kparity verify "$f"
done
