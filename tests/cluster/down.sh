#!/usr/bin/env bash
# Stops exactly the processes tests/cluster/up.sh started (recorded in target/test-cluster/pids/),
# controller-managers first, etcd last, and waits until each has exited.
#
# usage: tests/cluster/down.sh [--quiet] [--purge]
#   --purge  also deletes the clusters' data (etcd), so the next up.sh starts from empty clusters;
#            built binaries and certificates are kept.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/cluster/lib.sh
source "$here/lib.sh"
# shellcheck source=tests/cluster/argocd-lib.sh
source "$here/argocd-lib.sh"
quiet=false purge=false
for a in "$@"; do
  case $a in
    --quiet) quiet=true ;;
    --purge) purge=true ;;
    *) echo "usage: down.sh [--quiet] [--purge]" >&2; exit 2 ;;
  esac
done

stop() { # NAME
  local pidfile="$PIDS/$1.pid" pid i
  [ -f "$pidfile" ] || return 0
  pid=$(cat "$pidfile")
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && grep -q "$BIN/" "/proc/$pid/cmdline" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    for i in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    if kill -0 "$pid" 2>/dev/null; then
      kill -KILL "$pid" 2>/dev/null || true
      for i in $(seq 1 25); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    fi
    $quiet || echo "stopped $1 (pid $pid)" >&2
  fi
  rm -f "$pidfile"
}

# Argo CD first (it talks to the clusters), with the Redis and git daemon it uses: those run
# Debian's binaries, not ours, so they are stopped by what identifies them as this checkout's.
if [ -d "$PIDS" ]; then argocd_stop; fi
if [ -d "$PIDS" ]; then
  for f in "$PIDS"/*-controller-manager.pid; do [ -e "$f" ] && stop "$(basename "$f" .pid)"; done
  for f in "$PIDS"/*-apiserver.pid; do [ -e "$f" ] && stop "$(basename "$f" .pid)"; done
  for f in "$PIDS"/*.pid; do [ -e "$f" ] && stop "$(basename "$f" .pid)"; done
fi
# Safety net: a component of this checkout whose pid file was lost (e.g. an interrupted start)
# still runs a binary from our bin/ folder; no other checkout's process does.
for pid in $(pgrep -f "^$BIN/" || true); do
  if tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | grep -q "^$BIN/"; then
    kill -TERM "$pid" 2>/dev/null || true
    for i in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$pid" 2>/dev/null || true
    $quiet || echo "stopped stray process $pid" >&2
  fi
done
if $purge; then
  rm -rf "$STATE/etcd"
  $quiet || echo "purged cluster data" >&2
fi
exit 0
