#!/usr/bin/env bash
# The whole test suite on a fresh machine: builds and starts the real test clusters (stopped
# again on exit), then runs every test. This is the README's test command; .ci/run calls it.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=never
# xmllint validates the JUnit report against tests/schemas/junit.xsd (report::junit tests).
if ! command -v xmllint >/dev/null; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq libxml2-utils >/dev/null
fi
# ssh-keygen checks archive signatures as an auditor would (snapshot_e2e: ssh-keygen -Y verify).
if ! command -v ssh-keygen >/dev/null; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq openssh-client >/dev/null
fi
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
