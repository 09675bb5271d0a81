#!/usr/bin/env bash
# Loads ../shared/fixtures (ingress-nginx, metrics-server: real published manifests) into a test
# cluster context with the test clusters' own kubectl. Idempotent (kubectl apply) and safe to run
# concurrently (it holds the shared setup lock).
#
# usage: tests/cluster/load-fixtures.sh CONTEXT [--server-side]
#   KPARITY_FIXTURES overrides the fixtures folder (default: ../shared/fixtures beside the repo).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/cluster/lib.sh
source "$here/lib.sh"
ctx=${1:?usage: load-fixtures.sh CONTEXT [--server-side]}
shift
fixtures=${KPARITY_FIXTURES:-$ROOT/../shared/fixtures}
[ -d "$fixtures" ] || { echo "fixtures folder not found: $fixtures (set KPARITY_FIXTURES)" >&2; exit 2; }
[ -f "$KUBECONFIG_OUT" ] || { echo "test clusters are not up: run tests/cluster/up.sh first" >&2; exit 2; }
# Under the shared setup lock: tests load fixtures concurrently (see lib.sh SETUP_LOCK).
take_setup_lock
kc --context "$ctx" apply "$@" -f "$fixtures/ingress-nginx/deploy.yaml" >/dev/null
kc --context "$ctx" apply "$@" -k "$fixtures/metrics-server" >/dev/null
echo "fixtures loaded into $ctx" >&2
