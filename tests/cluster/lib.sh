# Shared definitions of kparity's test clusters, sourced by up.sh, down.sh and load-fixtures.sh.
# shellcheck shell=bash

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
STATE="$ROOT/target/test-cluster"
BIN="$STATE/bin"
LOGS="$STATE/logs"
PIDS="$STATE/pids"
KUBECONFIG_OUT="$STATE/kubeconfig"
KUBECTL="$BIN/kubectl"

# KPARITY_TEST_PORT_OFFSET shifts every port, so several checkouts can run their own clusters
# side by side (their state lives in their own target/ folder).
OFFSET=${KPARITY_TEST_PORT_OFFSET:-0}
ETCD_CLIENT_PORT=$((23790 + OFFSET))
ETCD_PEER_PORT=$((23800 + OFFSET))

# The clusters, each: apiserver port, controller-manager port, service CIDR, first service IP,
# binary suffix (which build of the control plane runs it). Distinct service CIDRs make the
# allocated clusterIPs differ between clusters, as they do between real ones.
# `legacy` runs the previous Kubernetes minor (1.34, built by build.sh with suffix -1.34): it is
# the OLD side of the upgrade-parity tests (tests/upgrade.rs), compared against green.
CLUSTERS=(blue green legacy)
declare -A API_PORT=([blue]=$((16443 + OFFSET)) [green]=$((26443 + OFFSET)) [legacy]=$((36443 + OFFSET)))
declare -A KCM_PORT=([blue]=$((16257 + OFFSET)) [green]=$((26257 + OFFSET)) [legacy]=$((36257 + OFFSET)))
declare -A SVC_CIDR=([blue]=10.96.0.0/16 [green]=10.100.0.0/16 [legacy]=10.104.0.0/16)
declare -A SVC_IP=([blue]=10.96.0.1 [green]=10.100.0.1 [legacy]=10.104.0.1)
declare -A BIN_SUFFIX=([blue]="" [green]="" [legacy]="-1.34")

# The cross-process lock of every shared setup step (fixtures, CRDs, cluster-wide objects), taken
# by load-fixtures.sh, the tool scripts and the Rust tests (tests/common/mod.rs `setup_lock`):
# concurrent `kubectl apply` of one object on a fresh cluster fails with AlreadyExists.
SETUP_LOCK="$STATE/setup.lock"
# take_setup_lock: holds the lock on fd 9 until the script exits (or release_setup_lock).
take_setup_lock() {
  mkdir -p "$STATE"
  exec 9>>"$SETUP_LOCK"
  flock 9
}
release_setup_lock() { flock -u 9; exec 9>&-; }

# The user bound to the `view` ClusterRole; its client certificate backs the blue-viewer context.
VIEWER_USER=kparity-viewer

log_tail() { # COMPONENT
  local f="$LOGS/$1.log"
  if [ -f "$f" ]; then
    echo "---- last 40 lines of $f ----" >&2
    tail -n 40 "$f" >&2
    echo "----" >&2
  fi
}

# alive NAME BINARY: the process recorded in pids/NAME.pid is running and is BINARY
# (checked through /proc so a recycled pid is not mistaken for ours).
alive() {
  local pidfile="$PIDS/$1.pid" pid
  [ -f "$pidfile" ] || return 1
  pid=$(cat "$pidfile")
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
  tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | grep -q -- "$2"
}

# spawn NAME BINARY ARGS...: starts a process in its own session, logs to logs/NAME.log.
spawn() {
  local name=$1; shift
  # The process records its own pid before exec'ing the binary: `setsid` forks when it is
  # started as a process-group leader, so `$!` is not always the component's pid.
  rm -f "$PIDS/$name.pid"
  setsid bash -c 'echo $$ > "$1"; shift; exec "$@"' spawn "$PIDS/$name.pid" "$@" > "$LOGS/$name.log" 2>&1 < /dev/null &
  local i
  for i in $(seq 1 50); do [ -s "$PIDS/$name.pid" ] && return 0; sleep 0.1; done
  echo "failed to start $name: no pid recorded" >&2
  return 1
}

pki() { echo "$STATE/pki/$1"; }

# curl_api CLUSTER PATH: GET PATH as the admin user.
curl_api() {
  local p; p=$(pki "$1")
  curl -sS --max-time 5 --cacert "$p/ca.crt" --cert "$p/admin.crt" --key "$p/admin.key" \
    "https://127.0.0.1:${API_PORT[$1]}$2"
}

all_up() {
  [ -f "$KUBECONFIG_OUT" ] || return 1
  alive etcd "$BIN/etcd" || return 1
  for c in "${CLUSTERS[@]}"; do
    alive "$c-apiserver" "$BIN/kube-apiserver${BIN_SUFFIX[$c]}" || return 1
    alive "$c-controller-manager" "$BIN/kube-controller-manager${BIN_SUFFIX[$c]}" || return 1
    [ "$(curl_api "$c" /readyz 2>/dev/null)" = ok ] || return 1
  done
}

# leaf DIR NAME SUBJECT EXTENSIONS: an EC key and a certificate signed by DIR/ca.
leaf() {
  local dir=$1 name=$2 subj=$3 ext=$4
  [ -f "$dir/$name.crt" ] && return 0
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -keyout "$dir/$name.key" -subj "$subj" -out "$dir/$name.csr" 2>/dev/null
  openssl x509 -req -in "$dir/$name.csr" -CA "$dir/ca.crt" -CAkey "$dir/ca.key" -CAcreateserial \
    -days 3650 -out "$dir/$name.crt" -extfile <(printf '%s\n' "$ext") 2>/dev/null
  rm -f "$dir/$name.csr"
}

# make_pki CLUSTER: CA, serving cert, admin/viewer/controller-manager client certs, SA signing key.
make_pki() {
  local c=$1 dir; dir=$(pki "$1")
  mkdir -p "$dir"
  if [ ! -f "$dir/ca.crt" ]; then
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 3650 \
      -keyout "$dir/ca.key" -out "$dir/ca.crt" -subj "/CN=kparity-$c-ca" \
      -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
  fi
  leaf "$dir" apiserver "/CN=kube-apiserver" \
    "subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,IP:${SVC_IP[$c]}
extendedKeyUsage=serverAuth"
  leaf "$dir" admin "/O=system:masters/CN=kparity-admin" "extendedKeyUsage=clientAuth"
  leaf "$dir" viewer "/CN=$VIEWER_USER" "extendedKeyUsage=clientAuth"
  leaf "$dir" controller-manager "/CN=system:kube-controller-manager" "extendedKeyUsage=clientAuth"
  if [ ! -f "$dir/sa.key" ]; then
    openssl genrsa -out "$dir/sa.key" 2048 2>/dev/null
    openssl rsa -in "$dir/sa.key" -pubout -out "$dir/sa.pub" 2>/dev/null
  fi
}

start_etcd() {
  mkdir -p "$STATE/etcd"
  spawn etcd "$BIN/etcd" --name kparity --data-dir "$STATE/etcd" \
    --listen-client-urls "http://127.0.0.1:$ETCD_CLIENT_PORT" \
    --advertise-client-urls "http://127.0.0.1:$ETCD_CLIENT_PORT" \
    --listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
    --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
    --initial-cluster "kparity=http://127.0.0.1:$ETCD_PEER_PORT" \
    --unsafe-no-fsync --quota-backend-bytes 8589934592 --log-level warn
  local i
  for i in $(seq 1 100); do
    if curl -sf --max-time 2 "http://127.0.0.1:$ETCD_CLIENT_PORT/health" >/dev/null 2>&1; then return 0; fi
    alive etcd "$BIN/etcd" || break
    sleep 0.2
  done
  echo "etcd did not become healthy on 127.0.0.1:$ETCD_CLIENT_PORT" >&2
  log_tail etcd
  return 1
}

# Static bearer tokens accepted besides client certificates, for the exec credential plugin
# tests (tests/ergonomics.rs): a plugin hands them out one after another as each "expires".
EXEC_TOKENS=20
exec_token_file() { # CLUSTER
  local i
  for i in $(seq 1 "$EXEC_TOKENS"); do
    echo "kparity-exec-token-$i,kparity-exec,kparity-exec,system:masters"
  done > "$STATE/$1/exec-tokens.csv"
}

start_apiserver() {
  local c=$1 dir; dir=$(pki "$1")
  mkdir -p "$STATE/$c"
  exec_token_file "$c"
  # Two apiservers share one etcd under distinct prefixes: two clusters for the price of one etcd.
  # --endpoint-reconciler-type=none: on loopback the apiserver would otherwise keep rewriting
  # the default/kubernetes Endpoints to 127.0.0.1 for every cluster.
  # --runtime-config serves coordination.k8s.io/v1beta1 (LeaseCandidate, a beta-only kind beside
  # the group's v1 Leases) on every cluster: the coverage tests read a built-in kind that exists
  # only outside its group's preferred version. Nothing creates LeaseCandidates by default.
  # --allow-privileged=true as kubeadm and EKS run their API servers: platform components such as
  # the Amazon VPC CNI's aws-node DaemonSet and kube-proxy ask for privileged containers, which an
  # API server started without it refuses (issue 17).
  spawn "$c-apiserver" "$BIN/kube-apiserver${BIN_SUFFIX[$c]}" \
    --etcd-servers "http://127.0.0.1:$ETCD_CLIENT_PORT" --etcd-prefix "/registry-$c" \
    --bind-address 127.0.0.1 --advertise-address 127.0.0.1 --secure-port "${API_PORT[$c]}" \
    --cert-dir "$STATE/$c/apiserver-certs" \
    --tls-cert-file "$dir/apiserver.crt" --tls-private-key-file "$dir/apiserver.key" \
    --client-ca-file "$dir/ca.crt" --token-auth-file "$STATE/$c/exec-tokens.csv" \
    --service-account-issuer https://kubernetes.default.svc \
    --service-account-key-file "$dir/sa.pub" --service-account-signing-key-file "$dir/sa.key" \
    --service-cluster-ip-range "${SVC_CIDR[$c]}" \
    --authorization-mode RBAC --endpoint-reconciler-type none \
    --runtime-config coordination.k8s.io/v1beta1=true --allow-privileged=true \
    --profiling=false --v 1
}

wait_ready() {
  local c=$1 i
  for i in $(seq 1 150); do
    if [ "$(curl_api "$c" /readyz 2>/dev/null)" = ok ]; then return 0; fi
    if ! alive "$c-apiserver" "$BIN/kube-apiserver${BIN_SUFFIX[$c]}"; then
      echo "kube-apiserver of cluster $c exited during start-up" >&2
      log_tail "$c-apiserver"
      return 1
    fi
    sleep 0.4
  done
  echo "kube-apiserver of cluster $c not ready on 127.0.0.1:${API_PORT[$c]} after 60 s" >&2
  log_tail "$c-apiserver"
  return 1
}

b64() { base64 -w0 < "$1"; }

# kubeconfig_entry CLUSTER USER CERTNAME: one kubeconfig with a single context, for a component.
component_kubeconfig() {
  local c=$1 name=$2 dir; dir=$(pki "$1")
  cat <<EOF
apiVersion: v1
kind: Config
clusters:
- name: $c
  cluster:
    server: https://127.0.0.1:${API_PORT[$c]}
    certificate-authority-data: $(b64 "$dir/ca.crt")
users:
- name: $name
  user:
    client-certificate-data: $(b64 "$dir/$name.crt")
    client-key-data: $(b64 "$dir/$name.key")
contexts:
- name: $c
  context: {cluster: $c, user: $name}
current-context: $c
EOF
}

write_kubeconfig() {
  local tmp="$KUBECONFIG_OUT.tmp" c dir
  {
    echo "apiVersion: v1"
    echo "kind: Config"
    echo "clusters:"
    for c in "${CLUSTERS[@]}"; do
      dir=$(pki "$c")
      echo "- name: $c"
      echo "  cluster:"
      echo "    server: https://127.0.0.1:${API_PORT[$c]}"
      echo "    certificate-authority-data: $(b64 "$dir/ca.crt")"
    done
    echo "users:"
    for c in "${CLUSTERS[@]}"; do
      dir=$(pki "$c")
      echo "- name: $c-admin"
      echo "  user:"
      echo "    client-certificate-data: $(b64 "$dir/admin.crt")"
      echo "    client-key-data: $(b64 "$dir/admin.key")"
    done
    dir=$(pki blue)
    echo "- name: blue-viewer"
    echo "  user:"
    echo "    client-certificate-data: $(b64 "$dir/viewer.crt")"
    echo "    client-key-data: $(b64 "$dir/viewer.key")"
    echo "contexts:"
    for c in "${CLUSTERS[@]}"; do
      echo "- name: $c"
      echo "  context: {cluster: $c, user: $c-admin}"
    done
    echo "- name: blue-viewer"
    echo "  context: {cluster: blue, user: blue-viewer}"
    echo "current-context: blue"
  } > "$tmp"
  chmod 600 "$tmp"
  mv "$tmp" "$KUBECONFIG_OUT"
}

start_controller_manager() {
  local c=$1 dir; dir=$(pki "$1")
  component_kubeconfig "$c" controller-manager > "$STATE/$c/controller-manager.kubeconfig"
  spawn "$c-controller-manager" "$BIN/kube-controller-manager${BIN_SUFFIX[$c]}" \
    --kubeconfig "$STATE/$c/controller-manager.kubeconfig" \
    --bind-address 127.0.0.1 --secure-port "${KCM_PORT[$c]}" --cert-dir "$STATE/$c/kcm-certs" \
    --service-account-private-key-file "$dir/sa.key" --root-ca-file "$dir/ca.crt" \
    --use-service-account-credentials=true --cluster-name "$c" \
    --cluster-signing-cert-file "$dir/ca.crt" --cluster-signing-key-file "$dir/ca.key" \
    --service-cluster-ip-range "${SVC_CIDR[$c]}" --v 1
  local i
  for i in $(seq 1 150); do
    if curl -sfk --max-time 2 "https://127.0.0.1:${KCM_PORT[$c]}/healthz" >/dev/null 2>&1; then return 0; fi
    if ! alive "$c-controller-manager" "$BIN/kube-controller-manager${BIN_SUFFIX[$c]}"; then
      echo "kube-controller-manager of cluster $c exited during start-up" >&2
      log_tail "$c-controller-manager"
      return 1
    fi
    sleep 0.4
  done
  echo "kube-controller-manager of cluster $c not healthy after 60 s" >&2
  log_tail "$c-controller-manager"
  return 1
}

# kubectl's discovery cache for this checkout's clusters only (cleared by up.sh on a fresh start).
KUBECTL_CACHE="$STATE/kubectl-cache"
kc() { "$KUBECTL" --kubeconfig "$KUBECONFIG_OUT" --cache-dir "$KUBECTL_CACHE" "$@"; }

# bootstrap_rbac CLUSTER: binds the viewer user to `view`. Done on every cluster, not only blue,
# so that fresh clusters hold the same objects and compare equivalent.
bootstrap_rbac() {
  kc --context "$1" create clusterrolebinding kparity-viewer --clusterrole view --user "$VIEWER_USER" \
    --dry-run=client -o yaml | kc --context "$1" apply -f - >/dev/null
}
