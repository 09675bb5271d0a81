#!/usr/bin/env bash
# Makes a test cluster a kubeadm-built one as far as its API objects go (issue 17): runs the real
# kubeadm's `init phase` subcommands that write cluster objects — upload-config (kubeadm-config,
# kubelet-config and their RBAC), bootstrap-token (a token Secret, its RBAC, kube-public/
# cluster-info), addon coredns, addon kube-proxy — with a ClusterConfiguration pointing at the
# cluster. Nothing runs on a node (there is none); only what kubeadm writes through the API.
# `delete` removes exactly what `apply` wrote, so whole-cluster tests see the cluster as before.
#
# usage: tests/cluster/kubeadm-phases.sh CONTEXT apply|delete
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/cluster/lib.sh
source "$here/lib.sh"
ctx=${1:?usage: kubeadm-phases.sh CONTEXT apply|delete}
action=${2:?usage: kubeadm-phases.sh CONTEXT apply|delete}
[ -f "$KUBECONFIG_OUT" ] || { echo "test clusters are not up: run tests/cluster/up.sh first" >&2; exit 2; }
[ -x "$BIN/kubeadm" ] || { echo "kubeadm is not built: run tests/cluster/build.sh kubeadm" >&2; exit 2; }
[ -n "${API_PORT[$ctx]:-}" ] || { echo "unknown test cluster $ctx" >&2; exit 2; }
version=$("$BIN/kubeadm" version -o short)
work="$STATE/kubeadm-$ctx"
mkdir -p "$work"
take_setup_lock

case $action in
  apply)
    # kubeadm talks to the cluster as the admin of this one context.
    kc config view --minify --flatten --context "$ctx" > "$work/admin.conf"
    cat > "$work/kubeadm.yaml" <<YAML
apiVersion: kubeadm.k8s.io/v1beta4
kind: InitConfiguration
# A documentation address (RFC 5737): kubeadm translates a loopback advertise address into the
# host's default-route address, which a sandbox may not have; nothing connects to it in these phases.
localAPIEndpoint:
  advertiseAddress: 192.0.2.10
  bindPort: ${API_PORT[$ctx]}
nodeRegistration:
  name: $ctx-control-plane
  criSocket: unix:///var/run/containerd/containerd.sock
---
apiVersion: kubeadm.k8s.io/v1beta4
kind: ClusterConfiguration
kubernetesVersion: $version
clusterName: $ctx
controlPlaneEndpoint: 127.0.0.1:${API_PORT[$ctx]}
networking:
  serviceSubnet: ${SVC_CIDR[$ctx]}
  podSubnet: 10.244.0.0/16
  dnsDomain: cluster.local
YAML
    run() { "$BIN/kubeadm" "$@" --config "$work/kubeadm.yaml" --kubeconfig "$work/admin.conf" > "$work/last.log" 2>&1 \
      || { echo "kubeadm $* failed:" >&2; cat "$work/last.log" >&2; exit 1; }; }
    run init phase upload-config kubeadm
    run init phase upload-config kubelet
    run init phase bootstrap-token
    run init phase addon coredns
    run init phase addon kube-proxy
    echo "kubeadm $version phases applied to $ctx" >&2
    ;;
  delete)
    k() { kc --context "$ctx" delete --ignore-not-found "$@" >/dev/null; }
    k -n kube-system configmap kubeadm-config kubelet-config coredns kube-proxy
    k -n kube-system role kubeadm:nodes-kubeadm-config kubeadm:kubelet-config kube-proxy
    k -n kube-system rolebinding kubeadm:nodes-kubeadm-config kubeadm:kubelet-config kube-proxy
    k -n kube-system secret --field-selector type=bootstrap.kubernetes.io/token
    k -n kube-public configmap cluster-info
    k -n kube-public role kubeadm:bootstrap-signer-clusterinfo
    k -n kube-public rolebinding kubeadm:bootstrap-signer-clusterinfo
    k clusterrole kubeadm:get-nodes system:coredns
    k clusterrolebinding kubeadm:apiserver-kubelet-client kubeadm:get-nodes kubeadm:kubelet-bootstrap kubeadm:node-autoapprove-bootstrap \
      kubeadm:node-autoapprove-certificate-rotation kubeadm:node-proxier system:coredns
    k -n kube-system deployment coredns
    k -n kube-system daemonset kube-proxy
    k -n kube-system service kube-dns
    k -n kube-system serviceaccount coredns kube-proxy
    echo "kubeadm objects deleted from $ctx" >&2
    ;;
  *) echo "usage: kubeadm-phases.sh CONTEXT apply|delete" >&2; exit 2 ;;
esac
