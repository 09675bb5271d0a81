#!/usr/bin/env bash
# A real Velero backup of NAMESPACEs on one test cluster, restored on another (issue 14).
#
# Starts what it needs (tests/cluster/velero-lib.sh: the S3 store on loopback, Velero's CRDs,
# namespace and shared BackupStorageLocation on both clusters, one `velero server` per cluster,
# out of cluster), takes a backup of resources only (--snapshot-volumes=false, no node agent, no
# volume data), waits until the destination's Velero has synced it from the shared bucket,
# restores it and waits until the Restore has completed. Anything but phase Completed (Failed,
# PartiallyFailed, FailedValidation, a time-out) fails loudly with Velero's own account of it.
# The restore's warnings are printed (e.g. objects that already existed and were left alone).
#
# Afterwards the Backup and Restore are deleted again (records, and their data in the bucket),
# so the clusters keep no Velero history and later whole-cluster comparisons see only Velero's
# installation, identical on both sides. --keep keeps them.
#
# usage: tests/cluster/velero-restore.sh --from CONTEXT --to CONTEXT [--keep] NAMESPACE...
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/cluster/lib.sh
source "$here/lib.sh"
# shellcheck source=tests/cluster/velero-lib.sh
source "$here/velero-lib.sh"

usage() { echo "usage: velero-restore.sh --from CONTEXT --to CONTEXT [--keep] NAMESPACE..." >&2; exit 2; }
from="" to="" keep=false namespaces=()
while [ $# -gt 0 ]; do
  case $1 in
    --from) from=${2:-}; shift 2 || usage ;;
    --to) to=${2:-}; shift 2 || usage ;;
    --keep) keep=true; shift ;;
    -*) usage ;;
    *) namespaces+=("$1"); shift ;;
  esac
done
[ -n "$from" ] && [ -n "$to" ] && [ ${#namespaces[@]} -gt 0 ] || usage
[ "$from" != "$to" ] || { echo "velero-restore: --from and --to must differ" >&2; exit 2; }
[ -f "$KUBECONFIG_OUT" ] || { echo "velero-restore: test clusters are not up: run tests/cluster/up.sh first" >&2; exit 2; }

"$here/build.sh" velero
velero_up "$from" "$to"

# cleanup: the Backup and Restore deleted again, with their data in the bucket.
cleanup() {
  [ -n "${backup:-}" ] || return 0
  # Deleting the backup through Velero removes its data from the bucket (and the source's
  # records); then the destination's synced copy and the Restore go, with the restore's data.
  if [ -n "${restore:-}" ]; then vkc "$to" restore delete "$restore" --confirm >/dev/null 2>&1 || true; fi
  vkc "$from" backup delete "$backup" --confirm >/dev/null 2>&1 || true
  for i in $(seq 1 120); do
    kc --context "$from" -n "$VELERO_NS" get backups.velero.io "$backup" >/dev/null 2>&1 || break
    sleep 0.5
  done
  for i in $(seq 1 120); do
    kc --context "$to" -n "$VELERO_NS" get restores.velero.io "$restore" >/dev/null 2>&1 || break
    sleep 0.5
  done
  kc --context "$to" -n "$VELERO_NS" delete backups.velero.io "$backup" --ignore-not-found >/dev/null
  # What the CLI and the deletion left: its download requests (for describe/logs) and the
  # processed deletion requests.
  for c in "$from" "$to"; do
    kc --context "$c" -n "$VELERO_NS" delete deletebackuprequests.velero.io,downloadrequests.velero.io --all >/dev/null
  done
}

fail() { # MESSAGE: Velero's account of the failure, then exit 1
  echo "velero-restore: $1" >&2
  [ -n "${restore:-}" ] && vkc "$to" restore describe "$restore" --details >&2 2>&1 || true
  [ -n "${restore:-}" ] && vkc "$to" restore logs "$restore" 2>&1 | grep -E 'level=(error|warning)' | tail -n 40 >&2 || true
  [ -n "${backup:-}" ] && vkc "$from" backup describe "$backup" --details >&2 2>&1 || true
  log_tail "velero-$from"
  log_tail "velero-$to"
  $keep || cleanup || true
  exit 1
}

phase() { # CONTEXT KIND NAME
  kc --context "$1" -n "$VELERO_NS" get "$2.velero.io" "$3" -o jsonpath='{.status.phase}' 2>/dev/null || true
}

# wait_phase CONTEXT KIND NAME SECONDS: waits for a final phase, prints it.
wait_phase() {
  local ctx=$1 kind=$2 name=$3 limit=$4 p="" i
  for i in $(seq 1 $((limit * 2))); do
    p=$(phase "$ctx" "$kind" "$name")
    case $p in
      Completed|Failed|PartiallyFailed|FailedValidation) break ;;
    esac
    sleep 0.5
  done
  echo "$p"
}

id="$(date -u +%Y%m%d%H%M%S)-$(openssl rand -hex 3)"
backup="kparity-$id"
restore=""
ns_list=$(IFS=,; echo "${namespaces[*]}")

vkc "$from" backup create "$backup" --include-namespaces "$ns_list" --snapshot-volumes=false \
  --default-volumes-to-fs-backup=false >/dev/null
p=$(wait_phase "$from" backups "$backup" 300)
[ "$p" = Completed ] || fail "backup $backup of $ns_list on $from ended in phase '${p:-none}' (expected Completed)"
items=$(kc --context "$from" -n "$VELERO_NS" get backups.velero.io "$backup" -o jsonpath='{.status.progress.itemsBackedUp}')
echo "velero backup $backup on $from: Completed, $items items" >&2

# The destination's Velero learns of the backup from the shared bucket (backup sync).
for i in $(seq 1 120); do
  [ "$(phase "$to" backups "$backup")" = Completed ] && break
  sleep 0.5
done
[ "$(phase "$to" backups "$backup")" = Completed ] || fail "backup $backup was not synced to $to within 60 s"

restore="$backup-to-$to"
vkc "$to" restore create "$restore" --from-backup "$backup" >/dev/null
p=$(wait_phase "$to" restores "$restore" 300)
[ "$p" = Completed ] || fail "restore $restore on $to ended in phase '${p:-none}' (expected Completed)"
status=$(kc --context "$to" -n "$VELERO_NS" get restores.velero.io "$restore" -o jsonpath='{.status.progress.itemsRestored}/{.status.progress.totalItems} items, {.status.warnings} warnings')
echo "velero restore $restore on $to: Completed, ${status/, warnings/, 0 warnings}" >&2
warnings=$(kc --context "$to" -n "$VELERO_NS" get restores.velero.io "$restore" -o jsonpath='{.status.warnings}')
if [ -n "$warnings" ] && [ "$warnings" != 0 ]; then
  vkc "$to" restore describe "$restore" 2>&1 | sed -n '/^Warnings:/,/^Backup:/p' | sed '$d' >&2 || true
fi

$keep || cleanup
