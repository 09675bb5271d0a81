#!/usr/bin/env bash
# Regenerates the generated parts of README.md: the built-in rules table (from ignore-rules/ via
# `kparity rules --markdown`) and the example report (a diff of the archives in snapshots/).
# tests/readme.rs fails when either is stale.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --quiet --bin kparity
kparity=target/debug/kparity
replace() { # MARKER FILE-WITH-CONTENT
  python3 - "$1" "$2" <<'PY'
import sys
marker, content_file = sys.argv[1], sys.argv[2]
text = open("README.md").read()
begin, end = f"<!-- {marker}:begin -->", f"<!-- {marker}:end -->"
head, rest = text.split(begin, 1)
_, tail = rest.split(end, 1)
open("README.md", "w").write(head + begin + "\n" + open(content_file).read() + end + tail)
PY
}
tmp=$(mktemp)
"$kparity" rules --markdown --profile argocd-label-tracking,argocd-control-plane > "$tmp"
replace rules "$tmp"
{ echo '```text'; "$kparity" diff snapshots/blue.kparity snapshots/green.kparity || true; echo '```'; } > "$tmp"
replace example "$tmp"
rm -f "$tmp"
echo "README.md updated" >&2
