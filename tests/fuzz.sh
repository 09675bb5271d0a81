#!/usr/bin/env bash
# Runs kparity's fuzz targets (tests/fuzz.rs) for a given time each; not part of CI.
#   tests/fuzz.sh [SECONDS] [TARGET...]     default: 60 s for every target
# Targets: rules-random rules-mutated pointer glob-selector snapshot-reader
# Prints each target's executions. A failure prints the (shrunk) input; add it to tests/fuzz.rs
# as a regression test once fixed.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-60}
shift || true
declare -A TEST=(
  [rules-random]=fuzz_rules_parser_on_random_text
  [rules-mutated]=fuzz_rules_parser_on_mutated_rule_files
  [pointer]=fuzz_pointer_patterns_parse_and_remove_safely
  [glob-selector]=fuzz_name_globs_and_selectors_never_panic
  [snapshot-reader]=fuzz_snapshot_reader_refuses_damaged_archives
)
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(rules-random rules-mutated pointer glob-selector snapshot-reader)
# The debug profile the tests already use: a release build of every dependency costs more
# on a small machine than the speed it buys the targets.
cargo test --test fuzz --no-run
status=0
for t in "${targets[@]}"; do
  name=${TEST[$t]:?unknown target $t (known: ${!TEST[*]})}
  if ! out=$(KPARITY_FUZZ_SECS=$secs cargo test -q --test fuzz -- --exact "$name" --nocapture 2>&1); then
    status=1
    echo "$out" | grep -vE "^\s*$" | tail -n 40
  fi
  echo "$out" | grep -E "^fuzz target" || true
done
exit $status
