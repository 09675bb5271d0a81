#!/usr/bin/env python3
"""Recreates namespaces of one test cluster on another the way a Velero backup/restore does.

What Velero does on restore (velero.io docs and pkg/restore): it does not restore Nodes, Events,
Endpoints/EndpointSlices, Leases, auto-created ServiceAccount token Secrets, or Pods and
ReplicaSets owned by a controller (their owners recreate them); it strips server-assigned
metadata, ownerReferences and status; clears Service clusterIP(s) (unless headless), nodePorts and
healthCheckNodePort; removes Job controller-uid labels and selectors; drops ServiceAccount
token-secret references; and labels every restored object with velero.io/backup-name and
velero.io/restore-name. Objects that already exist in the target are left alone, as Velero does.

usage: velero-like-restore.py --from CTX --to CTX [--kubeconfig FILE] [--kubectl BIN] NAMESPACE...
"""
import argparse
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))

SKIPPED_RESOURCES = {
    "events", "events.events.k8s.io", "endpoints", "endpointslices.discovery.k8s.io",
    "leases.coordination.k8s.io", "pods.metrics.k8s.io", "localsubjectaccessreviews.authorization.k8s.io",
    "controllerrevisions.apps", "csistoragecapacities.storage.k8s.io",
}


def kubectl(args, ctx, opts, stdin=None, check=True):
    cmd = [opts.kubectl, "--kubeconfig", opts.kubeconfig, "--context", ctx] + args
    p = subprocess.run(cmd, input=stdin, capture_output=True, text=True)
    if check and p.returncode != 0:
        sys.exit(f"velero-like-restore: {' '.join(args)} on {ctx} failed: {p.stderr.strip()}")
    return p


def transform(obj, backup):
    kind = obj.get("kind")
    meta = obj.setdefault("metadata", {})
    for k in ("uid", "resourceVersion", "creationTimestamp", "managedFields", "generation", "selfLink",
              "ownerReferences", "deletionTimestamp", "deletionGracePeriodSeconds"):
        meta.pop(k, None)
    obj.pop("status", None)
    labels = meta.setdefault("labels", {})
    labels["velero.io/backup-name"] = backup
    labels["velero.io/restore-name"] = backup + "-20261122"
    spec = obj.get("spec") or {}
    if kind == "Service":
        if spec.get("clusterIP") != "None":
            spec.pop("clusterIP", None)
            spec.pop("clusterIPs", None)
        for port in spec.get("ports") or []:
            port.pop("nodePort", None)
        spec.pop("healthCheckNodePort", None)
    if kind == "Job":
        for lbls in (labels, (spec.get("selector") or {}).get("matchLabels") or {},
                     ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}):
            lbls.pop("controller-uid", None)
            lbls.pop("batch.kubernetes.io/controller-uid", None)
        if not (spec.get("selector") or {}).get("matchLabels"):
            spec.pop("selector", None)
    if kind == "ServiceAccount":
        obj.pop("secrets", None)
    return obj


def skipped(obj):
    kind = obj.get("kind")
    meta = obj.get("metadata", {})
    owned = any(r.get("controller") for r in meta.get("ownerReferences") or [])
    if kind in ("Pod", "ReplicaSet", "Job") and owned:
        return True
    if kind == "Secret" and obj.get("type") == "kubernetes.io/service-account-token":
        return True
    return False


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--from", dest="src", required=True)
    ap.add_argument("--to", dest="dst", required=True)
    ap.add_argument("--kubeconfig", default=os.path.join(ROOT, "target/test-cluster/kubeconfig"))
    ap.add_argument("--kubectl", default=os.path.join(ROOT, "target/test-cluster/bin/kubectl"))
    ap.add_argument("--backup-name", default="nightly")
    ap.add_argument("namespaces", nargs="+")
    opts = ap.parse_args()

    names = kubectl(["api-resources", "--verbs=list", "--namespaced", "-o", "name"], opts.src, opts).stdout.split()
    types = [n for n in names if n not in SKIPPED_RESOURCES and not n.endswith(".metrics.k8s.io")]
    restored = 0
    for ns in opts.namespaces:
        ns_obj = json.loads(kubectl(["get", "namespace", ns, "-o", "json"], opts.src, opts).stdout)
        items = [ns_obj]
        out = kubectl(["get", ",".join(types), "-n", ns, "-o", "json"], opts.src, opts).stdout
        items += json.loads(out).get("items", [])
        # Namespaces first, then everything else, as Velero orders its restore.
        for obj in items:
            if skipped(obj):
                continue
            doc = json.dumps(transform(obj, opts.backup_name))
            p = kubectl(["create", "-f", "-"], opts.dst, opts, stdin=doc, check=False)
            if p.returncode != 0 and "AlreadyExists" not in p.stderr and "already exists" not in p.stderr:
                sys.exit(f"velero-like-restore: creating {obj['kind']} {ns}/{obj['metadata'].get('name')} failed: {p.stderr.strip()}")
            restored += p.returncode == 0
    print(f"velero-like restore: {restored} objects recreated on {opts.dst}", file=sys.stderr)


if __name__ == "__main__":
    main()
