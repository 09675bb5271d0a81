#!/usr/bin/env bash
# A real Argo CD sync of the fixture application into test clusters (issue 14).
#
# Starts what it needs (tests/cluster/argocd-lib.sh: Redis and a `git daemon` serving
# tests/fixtures/argocd/guestbook/ on loopback, Argo CD's CRDs and control namespace in blue with
# both clusters registered, the repo server and the application controller out of cluster),
# then, for each CONTEXT, creates the Application `guestbook-CONTEXT` (named per destination, as an
# ApplicationSet's cluster generator names them) syncing the repository into namespace
# `guestbook` of that cluster, with a sync operation, as `argocd app create` + `argocd app sync`
# do. Waits until each Application's sync status is Synced and its operation Succeeded; anything
# else (Failed, Error, a time-out) fails loudly with the Application's status and the
# controller's log. Health is not waited for: there is no kubelet, so workloads stay Progressing.
#
# The Applications are created afresh each time (no finalizer: deleting one leaves its
# resources), and have no automated sync policy, so drift made after the sync stays.
#
# usage: tests/cluster/argocd-sync.sh [--tracking annotation|label] CONTEXT...
#        tests/cluster/argocd-sync.sh --uninstall
#   --tracking   Argo CD's resource tracking method (argocd-cm application.resourceTrackingMethod):
#                annotation (the 3.x default, and ours) or label (the 2.x default).
#   --uninstall  stops Argo CD, Redis and the git daemon and removes everything Argo CD put in
#                the clusters: its Applications and CRDs, its namespace in blue and namespace
#                guestbook in both (waited for).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/cluster/lib.sh
source "$here/lib.sh"
# shellcheck source=tests/cluster/argocd-lib.sh
source "$here/argocd-lib.sh"

usage() { echo "usage: argocd-sync.sh [--tracking annotation|label] CONTEXT... | --uninstall" >&2; exit 2; }
tracking=annotation contexts=() uninstall=false
while [ $# -gt 0 ]; do
  case $1 in
    --tracking) tracking=${2:-}; shift 2 || usage ;;
    --uninstall) uninstall=true; shift ;;
    -*) usage ;;
    *) contexts+=("$1"); shift ;;
  esac
done
case $tracking in annotation|label) ;; *) usage ;; esac
[ -f "$KUBECONFIG_OUT" ] || { echo "argocd-sync: test clusters are not up: run tests/cluster/up.sh first" >&2; exit 2; }

# What Argo CD and the fixture put into namespaces (the fixture's kinds, Argo CD's settings,
# and what the controllers derive from them).
NAMESPACED_KINDS=deployments.apps,replicasets.apps,pods,services,configmaps,secrets,serviceaccounts,ingresses.networking.k8s.io,roles.rbac.authorization.k8s.io,rolebindings.rbac.authorization.k8s.io,horizontalpodautoscalers.autoscaling,poddisruptionbudgets.policy

ns_condition() { # CONTEXT NAMESPACE TYPE
  kc --context "$1" get namespace "$2" -o "jsonpath={.status.conditions[?(@.type==\"$3\")].status}" 2>/dev/null || true
}

# delete_namespace CONTEXT NAMESPACE: deleted and waited for. The namespace controller never
# finishes a namespace while an aggregated API is unavailable (the metrics-server fixture's, by
# design): once the namespace is empty and only that discovery failure holds it, its
# `kubernetes` finalizer is released by hand, as an operator would (tests/common/mod.rs does the same).
delete_namespace() {
  local c=$1 ns=$2 i
  kc --context "$c" delete namespace "$ns" --ignore-not-found --wait=false >/dev/null
  for i in $(seq 1 240); do
    kc --context "$c" get namespace "$ns" >/dev/null 2>&1 || return 0
    if [ "$(ns_condition "$c" "$ns" NamespaceDeletionDiscoveryFailure)" = True ] \
       && [ "$(ns_condition "$c" "$ns" NamespaceContentRemaining)" = False ]; then
      if [ -z "$(kc --context "$c" -n "$ns" get "$NAMESPACED_KINDS" -o name --ignore-not-found 2>/dev/null)" ]; then
        kc --context "$c" get namespace "$ns" -o json \
          | python3 -c 'import json,sys; o=json.load(sys.stdin); o["spec"]["finalizers"]=[]; print(json.dumps(o))' \
          | kc --context "$c" replace --raw "/api/v1/namespaces/$ns/finalize" -f - >/dev/null 2>&1 || true
      else
        kc --context "$c" -n "$ns" delete "$NAMESPACED_KINDS" --all --wait=false >/dev/null 2>&1 || true
      fi
    fi
    sleep 0.5
  done
  echo "argocd-sync: namespace $ns on $c not deleted after 120 s" >&2
  return 1
}

if $uninstall; then
  argocd_stop
  if kc --context "$ARGOCD_CONTROL" get crd applications.argoproj.io >/dev/null 2>&1; then
    kc --context "$ARGOCD_CONTROL" -n "$ARGOCD_NS" delete applications.argoproj.io --all --wait=false >/dev/null 2>&1 || true
  fi
  for c in blue green; do delete_namespace "$c" "$ARGOCD_APP_NS"; done
  delete_namespace "$ARGOCD_CONTROL" "$ARGOCD_NS"
  kc --context "$ARGOCD_CONTROL" delete crd applications.argoproj.io appprojects.argoproj.io \
    applicationsets.argoproj.io --ignore-not-found --wait=true --timeout=120s >/dev/null
  rm -f "$ARGOCD_STATE/tracking"
  echo "argocd: uninstalled" >&2
  exit 0
fi
[ ${#contexts[@]} -gt 0 ] || usage
for c in "${contexts[@]}"; do
  [ -n "${API_PORT[$c]:-}" ] || { echo "argocd-sync: unknown context $c (one of: ${CLUSTERS[*]})" >&2; exit 2; }
done

"$here/build.sh" argocd
argocd_up "$tracking"

application() { # CONTEXT
  cat <<EOF
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: guestbook-$1
  namespace: $ARGOCD_NS
  labels: {kparity.test/destination: $1}
spec:
  project: default
  source: {repoURL: "$ARGOCD_REPO_URL", targetRevision: HEAD, path: .}
  destination: {server: "https://127.0.0.1:${API_PORT[$1]}", namespace: $ARGOCD_APP_NS}
  syncPolicy: {syncOptions: [CreateNamespace=true]}
operation:
  initiatedBy: {username: kparity-tests}
  sync: {prune: true, syncOptions: [CreateNamespace=true]}
EOF
}

app_field() { # CONTEXT JSONPATH
  kc --context "$ARGOCD_CONTROL" -n "$ARGOCD_NS" get applications.argoproj.io "guestbook-$1" -o "jsonpath=$2" 2>/dev/null || true
}

fail() { # CONTEXT MESSAGE
  echo "argocd-sync: guestbook-$1: $2" >&2
  echo "---- Application guestbook-$1 status ----" >&2
  kc --context "$ARGOCD_CONTROL" -n "$ARGOCD_NS" get applications.argoproj.io "guestbook-$1" -o yaml 2>&1 \
    | sed -n '/^status:/,$p' >&2 || true
  log_tail argocd-application-controller
  log_tail argocd-repo-server
  exit 1
}

for c in "${contexts[@]}"; do
  kc --context "$ARGOCD_CONTROL" -n "$ARGOCD_NS" delete applications.argoproj.io "guestbook-$c" --ignore-not-found --wait=true >/dev/null
  application "$c" | kc --context "$ARGOCD_CONTROL" apply -f - >/dev/null
done

for c in "${contexts[@]}"; do
  deadline=$((SECONDS + 180))
  while :; do
    phase=$(app_field "$c" '{.status.operationState.phase}')
    sync=$(app_field "$c" '{.status.sync.status}')
    pending=$(app_field "$c" '{.operation.initiatedBy.username}')
    case $phase in
      Failed|Error) fail "$c" "sync operation $phase: $(app_field "$c" '{.status.operationState.message}')" ;;
    esac
    if [ "$phase" = Succeeded ] && [ -z "$pending" ] && [ "$sync" = Synced ]; then break; fi
    if ! alive argocd-application-controller "$ARGOCD_CONTROLLER"; then fail "$c" "the application controller exited"; fi
    if [ $SECONDS -ge $deadline ]; then
      fail "$c" "not Synced with a Succeeded sync after 180 s (sync status: ${sync:-none}, operation phase: ${phase:-none})"
    fi
    sleep 1
  done
  echo "argocd: guestbook-$c synced into $c/$ARGOCD_APP_NS (revision $(app_field "$c" '{.status.sync.revision}' | cut -c1-12), tracking $tracking)" >&2
done
