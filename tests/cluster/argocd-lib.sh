# The real Argo CD of the test clusters (issue 14), sourced after lib.sh by argocd-sync.sh.
#
# Run as Argo CD's own local development setup runs it (its Procfile): the application
# controller and the repo server out of cluster, from one binary built by
# tests/cluster/build.sh (target argocd), with Redis and a Git server beside them:
#   - redis-server (Debian's package, tests/install-test-tools.sh), no persistence;
#   - `git daemon` serving one repository made from tests/fixtures/argocd/guestbook/;
#   - argocd-repo-server and argocd-application-controller.
# Argo CD's control plane lives in `blue` (CRDs, namespace `argocd`, argocd-cm, argocd-rbac-cm,
# argocd-secret, AppProject `default`, a repository Secret) and both test clusters are
# registered as cluster Secrets with their TLS client certificates, so blue syncs itself and
# green, as a hub does. Every port takes KPARITY_TEST_PORT_OFFSET; nothing listens on anything
# but 127.0.0.1 (the controller's metrics listener is moved to loopback at build time).
# shellcheck shell=bash

ARGOCD_STATE="$STATE/argocd"
ARGOCD_CONTROL=blue
ARGOCD_NS=argocd
ARGOCD_APP_NS=guestbook
ARGOCD_BIN="$BIN/argocd"
ARGOCD_CONTROLLER="$BIN/argocd-application-controller"
ARGOCD_REPO_SERVER="$BIN/argocd-repo-server"
ARGOCD_FIXTURE="$ROOT/tests/fixtures/argocd/guestbook"
REDIS_SERVER=/usr/bin/redis-server
ARGOCD_REDIS_PORT=$((18379 + OFFSET))
ARGOCD_GIT_PORT=$((18418 + OFFSET))
ARGOCD_REPO_PORT=$((18081 + OFFSET))
ARGOCD_REPO_METRICS_PORT=$((18084 + OFFSET))
ARGOCD_CONTROLLER_METRICS_PORT=$((18082 + OFFSET))
ARGOCD_REPO_URL="git://127.0.0.1:$ARGOCD_GIT_PORT/guestbook.git"

require_argocd_binaries() {
  local b
  for b in "$ARGOCD_BIN" "$ARGOCD_CONTROLLER" "$ARGOCD_REPO_SERVER"; do
    [ -x "$b" ] || { echo "argocd: $b is missing: tests/cluster/build.sh argocd failed or was not run" >&2; return 1; }
  done
  [ -x "$REDIS_SERVER" ] || { echo "argocd: $REDIS_SERVER is missing: run tests/install-test-tools.sh (Debian package redis-server)" >&2; return 1; }
  [ -x "$(git --exec-path 2>/dev/null)/git-daemon" ] || { echo "argocd: git daemon is missing: run tests/install-test-tools.sh (Debian package git)" >&2; return 1; }
}

# The Argo CD module's source (CRDs are applied from it, as `kubectl apply -k manifests/crds`).
argocd_src() {
  (cd "$ROOT/tests/cluster/argocd" && GOFLAGS=-mod=mod go list -m -f '{{.Dir}}' github.com/argoproj/argo-cd/v2)
}

# wait_port NAME PORT SECONDS: until something accepts on 127.0.0.1:PORT, while the process
# spawned as NAME lives (by pid: redis rewrites its command line once it listens).
wait_port() {
  local name=$1 port=$2 secs=$3 i
  for i in $(seq 1 $((secs * 5))); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
    if ! kill -0 "$(cat "$PIDS/$name.pid" 2>/dev/null)" 2>/dev/null; then
      echo "argocd: $name exited during start-up" >&2
      log_tail "$name"
      return 1
    fi
    sleep 0.2
  done
  echo "argocd: $name not listening on 127.0.0.1:$port after $secs s" >&2
  log_tail "$name"
  return 1
}

# Redis rewrites its process title to "redis-server ADDRESS", so that is what identifies ours.
REDIS_MATCH="redis-server 127.0.0.1:$ARGOCD_REDIS_PORT"
start_redis() {
  alive argocd-redis "$REDIS_MATCH" && return 0
  mkdir -p "$ARGOCD_STATE/redis" "$LOGS" "$PIDS"
  spawn argocd-redis "$REDIS_SERVER" --bind 127.0.0.1 --port "$ARGOCD_REDIS_PORT" \
    --dir "$ARGOCD_STATE/redis" --save '' --appendonly no --protected-mode yes --loglevel warning
  wait_port argocd-redis "$ARGOCD_REDIS_PORT" 20
}

# make_fixture_repo: a bare repository with one commit of the fixture application, made afresh
# when the fixture changed (fixed author and dates: the same files give the same commit).
make_fixture_repo() {
  local git_dir="$ARGOCD_STATE/git" digest work
  digest=$(cd "$ARGOCD_FIXTURE" && find . -type f | LC_ALL=C sort | xargs sha256sum | sha256sum | cut -c1-16)
  if [ -f "$git_dir/guestbook.git/kparity-fixture" ] && [ "$(cat "$git_dir/guestbook.git/kparity-fixture")" = "$digest" ]; then
    return 0
  fi
  rm -rf "$git_dir/guestbook.git" "$git_dir/work"
  mkdir -p "$git_dir/work"
  work="$git_dir/work"
  cp -a "$ARGOCD_FIXTURE/." "$work/"
  (
    cd "$work"
    export GIT_AUTHOR_NAME=kparity GIT_AUTHOR_EMAIL=tests@kparity.invalid GIT_COMMITTER_NAME=kparity \
      GIT_COMMITTER_EMAIL=tests@kparity.invalid GIT_AUTHOR_DATE=2026-01-01T00:00:00Z GIT_COMMITTER_DATE=2026-01-01T00:00:00Z
    git init -q -b main .
    git add -A
    git -c commit.gpgsign=false commit -q -m "guestbook fixture"
  )
  git clone -q --bare "$work" "$git_dir/guestbook.git"
  rm -rf "$work"
  echo "$digest" > "$git_dir/guestbook.git/kparity-fixture"
}

start_git_daemon() {
  make_fixture_repo
  alive argocd-git "--base-path=$ARGOCD_STATE/git" && return 0
  mkdir -p "$LOGS" "$PIDS"
  # git-daemon itself, not `git daemon`, which would run it as a child that outlives a stop.
  spawn argocd-git "$(git --exec-path)/git-daemon" --reuseaddr --listen=127.0.0.1 --port="$ARGOCD_GIT_PORT" \
    --base-path="$ARGOCD_STATE/git" --export-all --informative-errors "$ARGOCD_STATE/git"
  wait_port argocd-git "$ARGOCD_GIT_PORT" 20
  if ! git ls-remote "$ARGOCD_REPO_URL" >/dev/null; then
    echo "argocd: git daemon on 127.0.0.1:$ARGOCD_GIT_PORT does not serve $ARGOCD_REPO_URL" >&2
    log_tail argocd-git
    return 1
  fi
}

# argocd_env: what both components need out of cluster (the Procfile's variables), every path
# inside this checkout.
argocd_env() {
  mkdir -p "$ARGOCD_STATE/tls" "$ARGOCD_STATE/ssh" "$ARGOCD_STATE/gpg/keys" "$ARGOCD_STATE/gpg/source" \
    "$ARGOCD_STATE/cmp" "$ARGOCD_STATE/tmp"
  echo env ARGOCD_FAKE_IN_CLUSTER=true TMPDIR="$ARGOCD_STATE/tmp" \
    ARGOCD_TLS_DATA_PATH="$ARGOCD_STATE/tls" ARGOCD_SSH_DATA_PATH="$ARGOCD_STATE/ssh" \
    ARGOCD_GNUPGHOME="$ARGOCD_STATE/gpg/keys" ARGOCD_GPG_DATA_PATH="$ARGOCD_STATE/gpg/source" \
    ARGOCD_GPG_ENABLED=false ARGOCD_PLUGINSOCKFILEPATH="$ARGOCD_STATE/cmp" \
    HOME="$ARGOCD_STATE" KUBECONFIG="$KUBECONFIG_OUT"
}

start_repo_server() {
  alive argocd-repo-server "$ARGOCD_REPO_SERVER" && return 0
  # shellcheck disable=SC2046
  spawn argocd-repo-server $(argocd_env) "$ARGOCD_REPO_SERVER" \
    --address 127.0.0.1 --port "$ARGOCD_REPO_PORT" \
    --metrics-address 127.0.0.1 --metrics-port "$ARGOCD_REPO_METRICS_PORT" \
    --redis "127.0.0.1:$ARGOCD_REDIS_PORT" --loglevel info
  wait_port argocd-repo-server "$ARGOCD_REPO_PORT" 60
}

start_controller() {
  alive argocd-application-controller "$ARGOCD_CONTROLLER" && return 0
  # HOSTNAME: the controller infers its shard from a StatefulSet-style name.
  # shellcheck disable=SC2046
  spawn argocd-application-controller $(argocd_env) HOSTNAME=argocd-application-controller-0 \
    "$ARGOCD_CONTROLLER" --kubeconfig "$KUBECONFIG_OUT" --context "$ARGOCD_CONTROL" --namespace "$ARGOCD_NS" \
    --redis "127.0.0.1:$ARGOCD_REDIS_PORT" --repo-server "127.0.0.1:$ARGOCD_REPO_PORT" \
    --metrics-port "$ARGOCD_CONTROLLER_METRICS_PORT" --app-resync 30 --self-heal-timeout-seconds 0 \
    --loglevel info
  wait_port argocd-application-controller "$ARGOCD_CONTROLLER_METRICS_PORT" 60
}

stop_component() { # NAME MATCH
  local name=$1 pid i
  alive "$name" "$2" || { rm -f "$PIDS/$name.pid"; return 0; }
  pid=$(cat "$PIDS/$name.pid")
  kill -TERM "$pid" 2>/dev/null || true
  for i in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
  kill -KILL "$pid" 2>/dev/null || true
  rm -f "$PIDS/$name.pid"
}

argocd_stop() {
  stop_component argocd-application-controller "$ARGOCD_CONTROLLER"
  stop_component argocd-repo-server "$ARGOCD_REPO_SERVER"
  stop_component argocd-git "--base-path=$ARGOCD_STATE/git"
  stop_component argocd-redis "$REDIS_MATCH"
}

# cluster_secret CONTEXT: the declarative cluster Secret of one test cluster, with the admin
# client certificate as Argo CD's tlsClientConfig (what `argocd cluster add` stores, less the
# ServiceAccount it would create).
cluster_secret() {
  local c=$1 dir config
  dir=$(pki "$c")
  config=$(printf '{"tlsClientConfig":{"insecure":false,"caData":"%s","certData":"%s","keyData":"%s"}}' \
    "$(b64 "$dir/ca.crt")" "$(b64 "$dir/admin.crt")" "$(b64 "$dir/admin.key")")
  cat <<EOF
---
apiVersion: v1
kind: Secret
metadata:
  name: cluster-$c
  namespace: $ARGOCD_NS
  labels: {argocd.argoproj.io/secret-type: cluster, app.kubernetes.io/part-of: argocd}
type: Opaque
stringData:
  name: $c
  server: https://127.0.0.1:${API_PORT[$c]}
  config: '$config'
EOF
}

# server_secret_key: the signing key argocd-server puts into argocd-secret on its first start
# (no argocd-server runs here; without it Argo CD's settings are incomplete). Made once per
# checkout; never leaves target/.
server_secret_key() {
  mkdir -p "$ARGOCD_STATE"
  if [ ! -s "$ARGOCD_STATE/server.secretkey" ]; then
    (umask 077; openssl rand -base64 32 > "$ARGOCD_STATE/server.secretkey")
  fi
  cat "$ARGOCD_STATE/server.secretkey"
}

# install_argocd TRACKING: Argo CD's CRDs and control namespace in the control cluster, as its
# install manifests and `argocd cluster add`/`argocd repo add` leave them. TRACKING is
# `annotation` (3.x default) or `label` (2.x default), written into argocd-cm. Idempotent, under
# the setup lock.
install_argocd() {
  local tracking=$1 src
  src=$(argocd_src)
  take_setup_lock
  kc --context "$ARGOCD_CONTROL" apply --server-side --force-conflicts \
    -f "$src/manifests/crds/application-crd.yaml" -f "$src/manifests/crds/appproject-crd.yaml" \
    -f "$src/manifests/crds/applicationset-crd.yaml" >/dev/null
  kc --context "$ARGOCD_CONTROL" wait --for=condition=Established --timeout=60s \
    crd/applications.argoproj.io crd/appprojects.argoproj.io >/dev/null
  {
    cat <<EOF
apiVersion: v1
kind: Namespace
metadata: {name: $ARGOCD_NS}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: argocd-cm
  namespace: $ARGOCD_NS
  labels: {app.kubernetes.io/name: argocd-cm, app.kubernetes.io/part-of: argocd}
data:
  application.resourceTrackingMethod: $tracking
  timeout.reconciliation: 30s
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: argocd-rbac-cm
  namespace: $ARGOCD_NS
  labels: {app.kubernetes.io/name: argocd-rbac-cm, app.kubernetes.io/part-of: argocd}
data:
  policy.default: role:readonly
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: argocd-cmd-params-cm
  namespace: $ARGOCD_NS
  labels: {app.kubernetes.io/name: argocd-cmd-params-cm, app.kubernetes.io/part-of: argocd}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: argocd-ssh-known-hosts-cm
  namespace: $ARGOCD_NS
  labels: {app.kubernetes.io/name: argocd-ssh-known-hosts-cm, app.kubernetes.io/part-of: argocd}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: argocd-tls-certs-cm
  namespace: $ARGOCD_NS
  labels: {app.kubernetes.io/name: argocd-tls-certs-cm, app.kubernetes.io/part-of: argocd}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: argocd-gpg-keys-cm
  namespace: $ARGOCD_NS
  labels: {app.kubernetes.io/name: argocd-gpg-keys-cm, app.kubernetes.io/part-of: argocd}
---
apiVersion: v1
kind: Secret
metadata:
  name: argocd-secret
  namespace: $ARGOCD_NS
  labels: {app.kubernetes.io/name: argocd-secret, app.kubernetes.io/part-of: argocd}
type: Opaque
stringData:
  server.secretkey: "$(server_secret_key)"
---
apiVersion: v1
kind: Secret
metadata:
  name: repo-guestbook
  namespace: $ARGOCD_NS
  labels: {argocd.argoproj.io/secret-type: repository, app.kubernetes.io/part-of: argocd}
stringData:
  type: git
  url: $ARGOCD_REPO_URL
---
apiVersion: argoproj.io/v1alpha1
kind: AppProject
metadata: {name: default, namespace: $ARGOCD_NS}
spec:
  sourceRepos: ['*']
  destinations: [{server: '*', namespace: '*'}]
  clusterResourceWhitelist: [{group: '*', kind: '*'}]
EOF
    cluster_secret blue
    cluster_secret green
  } | kc --context "$ARGOCD_CONTROL" apply -f - >/dev/null
  release_setup_lock
}

# argocd_up TRACKING: everything started; the controller restarted when the tracking method
# changed, so it never syncs under the previous one.
argocd_up() {
  local tracking=$1 previous=""
  require_argocd_binaries
  [ -f "$ARGOCD_STATE/tracking" ] && previous=$(cat "$ARGOCD_STATE/tracking")
  mkdir -p "$ARGOCD_STATE"
  install_argocd "$tracking"
  if [ "$previous" != "$tracking" ]; then stop_component argocd-application-controller "$ARGOCD_CONTROLLER"; fi
  echo "$tracking" > "$ARGOCD_STATE/tracking"
  start_redis
  start_git_daemon
  start_repo_server
  start_controller
}
