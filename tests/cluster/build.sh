#!/usr/bin/env bash
# Builds the test-cluster binaries into target/test-cluster/bin/ if they are absent.
#
# Each binary is built from this repository's own Go modules (tests/cluster/k8s-*/, etcd/), which
# pin the upstream versions; Go's module and build caches make a rebuild after a cache hit cheap,
# and an existing binary whose stamp matches its module is reused without invoking Go at all.
#
# usage: tests/cluster/build.sh [all|k8s-1.37|k8s-1.34|etcd]...
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

# The `legacy` cluster's control plane (upgrade parity, issue 8); kubectl stays the 1.37 one,
# which is within the supported client skew of a 1.34 server.
build_legacy() { build_k8s "$here/k8s-1.34" -1.34 kube-apiserver kube-controller-manager; }

targets=("$@"); [ ${#targets[@]} -gt 0 ] || targets=(all)
for t in "${targets[@]}"; do
  case $t in
    all) build_etcd; build_k8s "$here/k8s-1.37" ""; build_legacy ;;
    etcd) build_etcd ;;
    k8s-1.37) build_k8s "$here/k8s-1.37" "" ;;
    k8s-1.34) build_legacy ;;
    *) echo "unknown build target: $t" >&2; exit 2 ;;
  esac
done
