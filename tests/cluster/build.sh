#!/usr/bin/env bash
# Builds the test-cluster binaries into target/test-cluster/bin/ if they are absent.
#
# Each binary is built from this repository's own Go modules (tests/cluster/k8s-*/, etcd/), which
# pin the upstream versions; Go's module and build caches make a rebuild after a cache hit cheap,
# and an existing binary whose stamp matches its module is reused without invoking Go at all.
#
# usage: tests/cluster/build.sh [all|k8s-1.37|k8s-1.34|etcd|velero|helm|argocd|kubeadm|tools]...
#   all: the clusters' binaries; tools: the real tools run against them (velero, helm, argocd,
#   kubeadm).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
bin="$root/target/test-cluster/bin"
mkdir -p "$bin"
export CGO_ENABLED=0 GOFLAGS=-mod=mod

# A stamp ties a built binary to the exact go.mod/go.sum it came from, so a version bump rebuilds.
stamp_of() { cat "$1/go.mod" "$1/go.sum" | sha256sum | cut -c1-16; }

build_k8s() { # DIR SUFFIX [CMDS...]  (CMDS default: apiserver, controller-manager and kubectl)
  local dir=$1 suffix=$2 version stamp
  shift 2
  local cmds=("$@"); [ ${#cmds[@]} -gt 0 ] || cmds=(kube-apiserver kube-controller-manager kubectl)
  version=$(awk '$1=="require" && $2=="k8s.io/kubernetes" {print $3} $1=="k8s.io/kubernetes" {print $2}' "$dir/go.mod" | head -1)
  stamp=$(stamp_of "$dir")
  if [ -f "$bin/.stamp-k8s$suffix" ] && [ "$(cat "$bin/.stamp-k8s$suffix")" = "$stamp" ] \
     && all_built "$suffix" "${cmds[@]}"; then
    return 0
  fi
  local major minor
  major=$(echo "${version#v}" | cut -d. -f1); minor=$(echo "${version#v}" | cut -d. -f2)
  local ld=""
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ld+=" -X $pkg.gitVersion=$version -X $pkg.gitMajor=$major -X $pkg.gitMinor=$minor"
    ld+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
  done
  echo "building ${cmds[*]} $version (cold: ~20-40 min on 2 cores)" >&2
  local tmp; tmp=$(mktemp -d "$bin/.build.XXXX")
  (cd "$dir" && go build -trimpath -ldflags "-s -w $ld" -o "$tmp/" "${cmds[@]/#/k8s.io/kubernetes/cmd/}")
  for b in "${cmds[@]}"; do mv "$tmp/$b" "$bin/$b$suffix"; done
  rmdir "$tmp"
  echo "$stamp" > "$bin/.stamp-k8s$suffix"
}

all_built() { # SUFFIX CMDS...
  local suffix=$1 b; shift
  for b in "$@"; do [ -x "$bin/$b$suffix" ] || return 1; done
}

build_etcd() {
  local dir="$here/etcd" stamp
  stamp=$(stamp_of "$dir")
  if [ -f "$bin/.stamp-etcd" ] && [ "$(cat "$bin/.stamp-etcd")" = "$stamp" ] && [ -x "$bin/etcd" ]; then
    return 0
  fi
  echo "building etcd" >&2
  (cd "$dir" && go build -trimpath -ldflags "-s -w" -o "$bin/etcd.tmp" go.etcd.io/etcd/server/v3)
  mv "$bin/etcd.tmp" "$bin/etcd"
  echo "$stamp" > "$bin/.stamp-etcd"
}

# build_tool NAME DIR OUT LDFLAGS PKG: one binary of a real tool (Velero, its AWS plugin, the S3
# store) from its own Go module under tests/cluster/ (which pins the version), reused while its
# stamp matches. A tool that cannot be built fails loudly, naming it.
build_tool() {
  local name=$1 dir=$2 out=$3 ld=$4 pkg=$5 stamp
  stamp=$(stamp_of "$dir")
  if [ -f "$bin/.stamp-$name" ] && [ "$(cat "$bin/.stamp-$name")" = "$stamp" ] && [ -x "$out" ]; then
    return 0
  fi
  echo "building $name ($pkg)" >&2
  mkdir -p "$(dirname "$out")"
  if ! (cd "$dir" && go build -trimpath -ldflags "-s -w $ld" -o "$out.tmp" "$pkg"); then
    echo "error: building $name from $dir failed" >&2
    exit 1
  fi
  mv "$out.tmp" "$out"
  echo "$stamp" > "$bin/.stamp-$name"
}

mod_version() { # DIR MODULE: the version DIR/go.mod requires
  awk -v m="$2" '($1=="require" && $2==m) {print $3} ($1==m) {print $2}' "$1/go.mod" | head -1
}

# Velero (server and CLI), the velero-plugin-for-aws it execs from its plugin dir, and versitygw,
# the S3-compatible store of the shared BackupStorageLocation (tests/cluster/velero-lib.sh).
# controller-runtime's metrics listener defaults to ":8080" on every interface and Velero gives no
# flag for it; its default is set to "0" (off) at link time: Velero's own metrics listener
# (--metrics-address) is the one the tests bind, on loopback.
build_velero() {
  local v p g
  v=$(mod_version "$here/velero" github.com/vmware-tanzu/velero)
  build_tool velero "$here/velero" "$bin/velero" \
    "-X github.com/vmware-tanzu/velero/pkg/buildinfo.Version=$v -X sigs.k8s.io/controller-runtime/pkg/metrics/server.DefaultBindAddress=0" \
    github.com/vmware-tanzu/velero/cmd/velero
  p=$(mod_version "$here/velero-plugin-for-aws" github.com/vmware-tanzu/velero-plugin-for-aws)
  build_tool velero-plugin-for-aws "$here/velero-plugin-for-aws" "$bin/velero-plugins/velero-plugin-for-aws" "" \
    github.com/vmware-tanzu/velero-plugin-for-aws/velero-plugin-for-aws
  g=$(mod_version "$here/versitygw" github.com/versity/versitygw)
  build_tool versitygw "$here/versitygw" "$bin/versitygw" "-X main.Version=$g" github.com/versity/versitygw/cmd/versitygw
}

# Helm 3 (tests/helm_e2e.rs installs the vendored chart tests/fixtures/charts/podinfo with it).
build_helm() {
  local v
  v=$(mod_version "$here/helm" helm.sh/helm/v3)
  build_tool helm "$here/helm" "$bin/helm" "-X helm.sh/helm/v3/internal/version.version=$v" helm.sh/helm/v3/cmd/helm
}

# kubeadm (issue 17): its `init phase` subcommands write a kubeadm cluster's objects into `blue`
# (tests/cluster/kubeadm-phases.sh). Its module tests/cluster/kubeadm/ is k8s-1.37/go.mod with
# kubeadm as the tool (same k8s.io/kubernetes version, same staging replaces, so the build reuses
# the control plane's build cache); kubeadm needs a few modules the control plane does not
# (coredns/corefile-migration), which is why it is not a fourth tool of k8s-1.37/.
build_kubeadm() {
  local dir="$here/kubeadm" v major minor ld=""
  v=$(mod_version "$dir" k8s.io/kubernetes)
  if [ "$v" != "$(mod_version "$here/k8s-1.37" k8s.io/kubernetes)" ]; then
    echo "error: tests/cluster/kubeadm/go.mod pins k8s.io/kubernetes $v, k8s-1.37 another; copy it again" >&2
    exit 1
  fi
  major=$(echo "${v#v}" | cut -d. -f1); minor=$(echo "${v#v}" | cut -d. -f2)
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ld+=" -X $pkg.gitVersion=$v -X $pkg.gitMajor=$major -X $pkg.gitMinor=$minor"
    ld+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
  done
  build_tool kubeadm "$dir" "$bin/kubeadm" "$ld" k8s.io/kubernetes/cmd/kubeadm
}

# Argo CD (tests/argocd_e2e.rs, tests/cluster/argocd-sync.sh): one multi-call binary, run as
# argocd-application-controller and argocd-repo-server through symlinks (it dispatches on argv[0]).
# Its application controller listens for metrics on "0.0.0.0:PORT", a literal with no flag
# (controller/appcontroller.go); the test clusters listen on loopback only, so that one literal
# becomes "127.0.0.1:PORT" in a copy of the pinned module's source under target/ (Go refuses an
# -overlay of files in the module cache), and the build uses the pinned go.mod/go.sum plus one
# `replace` of argo-cd by that copy (-modfile, a copy under target/): every other module is the
# pinned one. A changed upstream line fails the build loudly.
build_argocd() {
  local dir="$here/argocd" v src copy modfile stamp out="$bin/argocd"
  v=$(mod_version "$dir" github.com/argoproj/argo-cd/v2)
  stamp=$( (stamp_of "$dir"; echo patch-metrics-loopback) | sha256sum | cut -c1-16)
  if [ -f "$bin/.stamp-argocd" ] && [ "$(cat "$bin/.stamp-argocd")" = "$stamp" ] && [ -x "$out" ]; then
    link_argocd; return 0
  fi
  echo "building argocd $v (cold: ~12-25 min on 2 cores)" >&2
  if ! src=$(cd "$dir" && go mod download -json "github.com/argoproj/argo-cd/v2@$v" | python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])'); then
    echo "error: building argocd: downloading github.com/argoproj/argo-cd/v2@$v failed" >&2; exit 1
  fi
  copy="$root/target/test-cluster/argocd-src/$v"
  if [ ! -f "$copy/.kparity-patched" ]; then
    rm -rf "$copy"; mkdir -p "$copy"
    cp -a "$src/." "$copy/"; chmod -R u+w "$copy"
    sed -i 's/fmt.Sprintf("0.0.0.0:%d", metricsPort)/fmt.Sprintf("127.0.0.1:%d", metricsPort)/' "$copy/controller/appcontroller.go"
    if ! grep -q 'fmt.Sprintf("127.0.0.1:%d", metricsPort)' "$copy/controller/appcontroller.go"; then
      echo "error: building argocd $v: the metrics listen address in controller/appcontroller.go changed upstream; update build_argocd" >&2
      exit 1
    fi
    touch "$copy/.kparity-patched"
  fi
  modfile="$root/target/test-cluster/argocd-src/go.mod"
  cp "$dir/go.mod" "$modfile"; cp "$dir/go.sum" "${modfile%.mod}.sum"
  printf '\nreplace github.com/argoproj/argo-cd/v2 => %s\n' "$copy" >> "$modfile"
  mkdir -p "$bin"
  if ! (cd "$dir" && go build -modfile "$modfile" -trimpath \
      -ldflags "-s -w -X github.com/argoproj/argo-cd/v2/common.version=${v#v} -X github.com/argoproj/argo-cd/v2/common.buildDate=1970-01-01T00:00:00Z" \
      -o "$out.tmp" github.com/argoproj/argo-cd/v2/cmd); then
    echo "error: building argocd from $dir failed" >&2
    exit 1
  fi
  mv "$out.tmp" "$out"
  echo "$stamp" > "$bin/.stamp-argocd"
  link_argocd
}

link_argocd() { # the component names Argo CD's binary answers to (argv[0])
  local n
  for n in argocd-application-controller argocd-repo-server; do ln -sfn argocd "$bin/$n"; done
}

# The `legacy` cluster's control plane (upgrade parity, issue 8); kubectl stays the 1.37 one,
# which is within the supported client skew of a 1.34 server.
build_legacy() { build_k8s "$here/k8s-1.34" -1.34 kube-apiserver kube-controller-manager; }

targets=("$@"); [ ${#targets[@]} -gt 0 ] || targets=(all)
for t in "${targets[@]}"; do
  case $t in
    all) build_etcd; build_k8s "$here/k8s-1.37" ""; build_legacy ;;
    etcd) build_etcd ;;
    velero) build_velero ;;
    helm) build_helm ;;
    kubeadm) build_kubeadm ;;
    argocd) build_argocd ;;
    tools) build_velero; build_helm; build_argocd; build_kubeadm ;;
    k8s-1.37) build_k8s "$here/k8s-1.37" "" ;;
    k8s-1.34) build_legacy ;;
    *) echo "unknown build target: $t" >&2; exit 2 ;;
  esac
done
