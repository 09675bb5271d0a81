# The real Velero of the test clusters (issue 14), sourced after lib.sh by velero-restore.sh and
# velero-up.sh: one S3-compatible object store (versitygw, POSIX backend) on loopback and, per
# cluster, a Velero server run out of cluster against that cluster's API server. Both servers use
# one BackupStorageLocation (the same bucket), so a backup taken on one cluster restores on another.
# Every binary comes from tests/cluster/build.sh (target velero); every port takes
# KPARITY_TEST_PORT_OFFSET; nothing listens on anything but 127.0.0.1.
# shellcheck shell=bash

VELERO_STATE="$STATE/velero"
VELERO_NS=velero
VELERO_BUCKET=velero
VELERO="$BIN/velero"
VELERO_PLUGIN_DIR="$BIN/velero-plugins"
VERSITYGW="$BIN/versitygw"
S3_PORT=$((18090 + OFFSET))
S3_URL="http://127.0.0.1:$S3_PORT"
# Velero's own Prometheus metrics and pprof listeners, per cluster (controller-runtime's metrics
# listener is switched off at build time: build.sh sets its default bind address to "0").
declare -A VELERO_METRICS_PORT=([blue]=$((18085 + OFFSET)) [green]=$((28085 + OFFSET)) [legacy]=$((38085 + OFFSET)))
declare -A VELERO_PROFILER_PORT=([blue]=$((18060 + OFFSET)) [green]=$((28060 + OFFSET)) [legacy]=$((38060 + OFFSET)))

vkc() { # CONTEXT ARGS...: velero CLI against one test cluster
  local ctx=$1; shift
  "$VELERO" --kubeconfig "$KUBECONFIG_OUT" --kubecontext "$ctx" --namespace "$VELERO_NS" "$@"
}

require_velero_binaries() {
  local b
  for b in "$VELERO" "$VERSITYGW" "$VELERO_PLUGIN_DIR/velero-plugin-for-aws"; do
    [ -x "$b" ] || { echo "velero: $b is missing: tests/cluster/build.sh velero failed or was not run" >&2; return 1; }
  done
}

# The object store's root credentials: made once per checkout, never leave target/.
s3_credentials() {
  mkdir -p "$VELERO_STATE"
  if [ ! -s "$VELERO_STATE/s3-access" ]; then
    echo "kparity$(openssl rand -hex 6)" > "$VELERO_STATE/s3-access"
    openssl rand -hex 20 > "$VELERO_STATE/s3-secret"
    chmod 600 "$VELERO_STATE/s3-access" "$VELERO_STATE/s3-secret"
  fi
  S3_ACCESS=$(cat "$VELERO_STATE/s3-access")
  S3_SECRET=$(cat "$VELERO_STATE/s3-secret")
}

s3_curl() { # ARGS...: a signed request without a body to the object store
  # S3 wants the payload's SHA-256 as a header: that of the empty body.
  curl -sS --max-time 10 --aws-sigv4 "aws:amz:us-east-1:s3" --user "$S3_ACCESS:$S3_SECRET" \
    -H "x-amz-content-sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" "$@"
}

start_s3() {
  s3_credentials
  if ! alive versitygw "$VERSITYGW" || ! s3_curl -o /dev/null -f "$S3_URL/" 2>/dev/null; then
    spawn_s3
  fi
  ensure_bucket
}

spawn_s3() {
  mkdir -p "$VELERO_STATE/s3" "$LOGS" "$PIDS"
  spawn versitygw env ROOT_ACCESS_KEY="$S3_ACCESS" ROOT_SECRET_KEY="$S3_SECRET" \
    "$VERSITYGW" --port "127.0.0.1:$S3_PORT" --region us-east-1 posix "$VELERO_STATE/s3"
  local i
  for i in $(seq 1 100); do
    if s3_curl -o /dev/null -f "$S3_URL/" 2>/dev/null; then break; fi
    if ! alive versitygw "$VERSITYGW"; then
      echo "versitygw (the S3 store of the Velero tests) exited during start-up" >&2
      log_tail versitygw
      return 1
    fi
    sleep 0.2
  done
  if ! s3_curl -o /dev/null -f "$S3_URL/" 2>/dev/null; then
    echo "versitygw not answering on $S3_URL after 20 s" >&2
    log_tail versitygw
    return 1
  fi
}

ensure_bucket() {
  # The bucket (PUT is idempotent for its owner: 409 BucketAlreadyOwnedByYou is fine).
  local code
  code=$(s3_curl -o "$VELERO_STATE/mkbucket.out" -w '%{http_code}' -X PUT "$S3_URL/$VELERO_BUCKET")
  case $code in
    200|409) ;;
    *) echo "versitygw: creating bucket $VELERO_BUCKET failed (HTTP $code): $(cat "$VELERO_STATE/mkbucket.out")" >&2; return 1 ;;
  esac
}

# install_velero CONTEXT: Velero's CRDs (as `velero install` prints them), its namespace, the
# credentials Secret and the shared BackupStorageLocation. Idempotent, under the setup lock.
install_velero() {
  local ctx=$1
  s3_credentials
  take_setup_lock
  "$VELERO" install --crds-only --dry-run -o yaml | kc --context "$ctx" apply -f - >/dev/null
  kc --context "$ctx" wait --for=condition=Established --timeout=60s \
    crd/backupstoragelocations.velero.io crd/backups.velero.io crd/restores.velero.io >/dev/null
  kc --context "$ctx" apply -f - >/dev/null <<EOF
apiVersion: v1
kind: Namespace
metadata: {name: $VELERO_NS}
---
apiVersion: v1
kind: Secret
metadata: {name: cloud-credentials, namespace: $VELERO_NS}
type: Opaque
stringData:
  cloud: |
    [default]
    aws_access_key_id=$S3_ACCESS
    aws_secret_access_key=$S3_SECRET
---
# The Deployment a real install runs the server as. Here the server runs out of cluster, so it
# has no replicas; it must exist all the same: Velero's pod-volume restore action reads the
# server's image from it at every restore and fails the restore without it.
apiVersion: apps/v1
kind: Deployment
metadata: {name: velero, namespace: $VELERO_NS, labels: {component: velero}}
spec:
  replicas: 0
  selector: {matchLabels: {deploy: velero}}
  template:
    metadata: {labels: {deploy: velero, component: velero}}
    spec:
      containers:
      - {name: velero, image: "velero/velero:$("$VELERO" version --client-only | awk '/Version:/ {print $2}')", args: [server]}
---
apiVersion: velero.io/v1
kind: BackupStorageLocation
metadata: {name: default, namespace: $VELERO_NS}
spec:
  provider: velero.io/aws
  default: true
  credential: {name: cloud-credentials, key: cloud}
  objectStorage: {bucket: $VELERO_BUCKET}
  config: {region: us-east-1, s3ForcePathStyle: "true", s3Url: "$S3_URL"}
EOF
  release_setup_lock
}

# start_velero CONTEXT: `velero server` out of cluster against CONTEXT, until its
# BackupStorageLocation is Available.
start_velero() {
  local ctx=$1 name="velero-$1"
  if ! alive "$name" "$VELERO"; then spawn_velero "$ctx"; fi
  local i
  for i in $(seq 1 150); do
    [ "$(bsl_phase "$ctx")" = Available ] && return 0
    if ! alive "$name" "$VELERO"; then
      echo "velero server for $ctx exited during start-up" >&2
      log_tail "$name"
      return 1
    fi
    sleep 0.4
  done
  echo "velero server for $ctx: BackupStorageLocation $VELERO_NS/default not Available after 60 s (phase: $(bsl_phase "$ctx"))" >&2
  log_tail "$name"
  return 1
}

spawn_velero() {
  local ctx=$1 name="velero-$1"
  mkdir -p "$VELERO_STATE/$ctx/tmp" "$LOGS" "$PIDS"
  # TMPDIR: Velero writes the BSL credentials it hands to the plugin under $TMPDIR/credentials;
  # each server gets its own, inside this checkout.
  spawn "$name" env TMPDIR="$VELERO_STATE/$ctx/tmp" "$VELERO" server \
    --kubeconfig "$KUBECONFIG_OUT" --kubecontext "$ctx" --namespace "$VELERO_NS" \
    --plugin-dir "$VELERO_PLUGIN_DIR" \
    --metrics-address "127.0.0.1:${VELERO_METRICS_PORT[$ctx]}" \
    --profiler-address "127.0.0.1:${VELERO_PROFILER_PORT[$ctx]}" \
    --backup-sync-period 3s --store-validation-frequency 5s --log-level info
}

bsl_phase() { # CONTEXT
  kc --context "$1" -n "$VELERO_NS" get backupstoragelocations.velero.io default -o jsonpath='{.status.phase}' 2>/dev/null || true
}

# stop_velero CONTEXT: stops that cluster's Velero server (and so its plugins), if it runs.
stop_velero() {
  local name="velero-$1" pid i
  alive "$name" "$VELERO" || { rm -f "$PIDS/$name.pid"; return 0; }
  pid=$(cat "$PIDS/$name.pid")
  kill -TERM "$pid" 2>/dev/null || true
  for i in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
  kill -KILL "$pid" 2>/dev/null || true
  rm -f "$PIDS/$name.pid"
}

# velero_up CONTEXT...: the object store, and Velero installed and freshly started on each
# context. Fresh, because Velero discovers the cluster's APIs at start-up and then only every 5
# minutes (pkg/cmd/server/server.go, not configurable): a server started before a CRD was created
# silently leaves that CRD's custom resources out of a backup.
velero_up() {
  require_velero_binaries
  start_s3
  local c
  for c in "$@"; do install_velero "$c"; done
  for c in "$@"; do stop_velero "$c"; start_velero "$c"; done
}
