//! Rules hide only what they say (issue 12, class 5), against the real clusters: a waiver's
//! whole `match` counts, a skip or presence rule matching one side only does not hide the pair,
//! control-plane objects are compared for what a team can change, derived-object rules cover
//! only what is derived, an object pending deletion is not a live one, and
//! `--ignore-secret-values` ignores values only. Every case below was reported `equivalent` (or
//! not at all) before the fix. Fails loudly when the clusters are down.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::*;
use serde_json::Value;

const NS: &str = "rs-e2e";

/// `Kind namespace/name path` for every changed field, `Kind namespace/name change` for every
/// missing or extra object, with ` (waived)` when a waiver accepts it.
fn reported(report: &Value) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for o in report["objects"].as_array().expect("objects") {
        let key = format!(
            "{} {}/{}",
            o["key"]["kind"].as_str().unwrap_or_default(),
            o["key"]["namespace"].as_str().unwrap_or("-"),
            o["key"]["name"].as_str().unwrap_or_default()
        );
        match o["change"].as_str().unwrap_or_default() {
            "changed" => {
                for f in o["fields"].as_array().expect("fields") {
                    let waived = if f["waived"].is_string() { " (waived)" } else { "" };
                    out.insert(format!("{key} {}{waived}", f["path"].as_str().unwrap_or_default()));
                }
            }
            other => {
                let waived = if o["waived"] == true { " (waived)" } else { "" };
                out.insert(format!("{key} {other}{waived}"));
            }
        }
    }
    out
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

/// Objects written the same way on both sides, with the side's own differences in `side`.
fn namespace_objects(ns: &str, side: &str) -> String {
    let blue = side == "blue";
    let ip = if blue { "192.0.2.10" } else { "192.0.2.11" };
    let node_port = if blue { 30111 } else { 30112 };
    let locked_secret = if blue { "db-creds" } else { "db-creds-v2" };
    let generated = if blue { "true" } else { "false" };
    // Blue asked for a clusterIP from its range; green let the server allocate one.
    let fixed_ip = if blue { "clusterIP: 10.96.77.77\n  " } else { "" };
    let team_deployments = if blue {
        format!(
            r#"
---
apiVersion: apps/v1
kind: Deployment
metadata: {{name: search-api, namespace: {ns}, labels: {{team: search}}}}
spec:
  replicas: 0
  selector: {{matchLabels: {{app: search-api}}}}
  template:
    metadata: {{labels: {{app: search-api}}}}
    spec: {{containers: [{{name: app, image: "registry.example.com/search:1"}}]}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {{name: ads-api, namespace: {ns}, labels: {{team: ads}}}}
spec:
  replicas: 0
  selector: {{matchLabels: {{app: ads-api}}}}
  template:
    metadata: {{labels: {{app: ads-api}}}}
    spec: {{containers: [{{name: app, image: "registry.example.com/ads:1"}}]}}
---
apiVersion: v1
kind: Secret
metadata:
  name: ci-token
  namespace: {ns}
  annotations: {{kubernetes.io/service-account.name: default}}
type: kubernetes.io/service-account-token
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: external-db-manual
  namespace: {ns}
  labels: {{kubernetes.io/service-name: external-db, endpointslice.kubernetes.io/managed-by: team.example.com}}
addressType: IPv4
endpoints: [{{addresses: ["192.0.2.20"]}}]
ports: [{{name: pg, port: 5432, protocol: TCP}}]"#
        )
    } else {
        String::new()
    };
    format!(
        r#"apiVersion: v1
kind: Service
metadata: {{name: web, namespace: {ns}}}
spec:
  selector: {{app: web}}
  ports: [{{name: http, port: 80}}]
---
apiVersion: v1
kind: Service
metadata: {{name: external-db, namespace: {ns}}}
spec:
  ports: [{{name: pg, port: 5432}}]
---
apiVersion: v1
kind: Endpoints
metadata: {{name: external-db, namespace: {ns}}}
subsets:
- addresses: [{{ip: "{ip}"}}]
  ports: [{{name: pg, port: 5432}}]
---
apiVersion: v1
kind: Service
metadata: {{name: ingress, namespace: {ns}}}
spec:
  type: NodePort
  selector: {{app: ingress}}
  ports: [{{name: http, port: 80, nodePort: {node_port}}}]
---
apiVersion: v1
kind: Service
metadata: {{name: ingress-auto, namespace: {ns}}}
spec:
  type: NodePort
  selector: {{app: ingress}}
  ports: [{{name: http, port: 80}}]
---
apiVersion: v1
kind: Service
metadata: {{name: fixed-ip, namespace: {ns}}}
spec:
  {fixed_ip}selector: {{app: fixed}}
  ports: [{{name: http, port: 80}}]
---
apiVersion: v1
kind: Secret
metadata:
  name: deploy-token
  namespace: {ns}
  annotations: {{kubernetes.io/service-account.name: default}}
type: kubernetes.io/service-account-token
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: locked
  namespace: {ns}
  annotations: {{kubernetes.io/enforce-mountable-secrets: "true"}}
secrets: [{{name: {locked_secret}}}]
---
apiVersion: v1
kind: ServiceAccount
metadata: {{name: open, namespace: {ns}}}
secrets: [{{name: {locked_secret}}}]
---
apiVersion: v1
kind: ConfigMap
metadata: {{name: generated, namespace: {ns}, labels: {{generated: "{generated}"}}}}
data: {{k: "{side}"}}
---
apiVersion: v1
kind: ConfigMap
metadata: {{name: generated-both, namespace: {ns}, labels: {{generated: "true"}}}}
data: {{k: "{side}"}}
---
apiVersion: v1
kind: ConfigMap
metadata: {{name: held, namespace: {ns}, finalizers: [example.com/hold]}}
data: {{k: v}}{team_deployments}
"#
    )
}

const USER_RULES: &str = r#"rules:
  - name: generated-config
    why: generated ConfigMaps are rebuilt in each cluster
    match: {kind: ConfigMap, labels: generated=true}
    skip: true
waivers:
  - match: {group: apps, kind: Deployment, labels: team=search}
    reason: the search team moves next week, CHG-42
"#;

/// Releases the finalizer that keeps `held` in deletion, so the namespace can go.
struct ReleaseHeld;
impl Drop for ReleaseHeld {
    fn drop(&mut self) {
        for ctx in ["blue", "green"] {
            let _ = kubectl_raw(
                ctx,
                &["-n", NS, "patch", "configmap", "held", "--type=merge", "-p", r#"{"metadata":{"finalizers":null}}"#],
            );
        }
    }
}

#[test]
fn namespaced_rules_hide_only_what_they_say() {
    require_clusters();
    let _g = serial();
    let ns = TestNamespace::new(NS, &["blue", "green"]);
    let _release = ReleaseHeld;
    for ctx in ["blue", "green"] {
        apply(ctx, &namespace_objects(NS, ctx), &[]);
    }
    // Server-side apply records the same ownership a CI pipeline's apply does.
    apply(
        "blue",
        &format!(
            "apiVersion: v1\nkind: Service\nmetadata: {{name: ingress-ssa, namespace: {NS}}}\nspec:\n  type: NodePort\n  selector: {{app: ingress}}\n  ports: [{{name: http, port: 80, nodePort: 30113}}]\n"
        ),
        &["--server-side", "--field-manager", "ci"],
    );
    apply(
        "green",
        &format!(
            "apiVersion: v1\nkind: Service\nmetadata: {{name: ingress-ssa, namespace: {NS}}}\nspec:\n  type: NodePort\n  selector: {{app: ingress}}\n  ports: [{{name: http, port: 80}}]\n"
        ),
        &["--server-side", "--field-manager", "ci"],
    );
    // `held` is being deleted on green only: its finalizer keeps it.
    kubectl("green", &["-n", NS, "delete", "configmap", "held", "--wait=false"]);
    // The token controller fills both sides' token Secrets; the endpoint controllers write the
    // Endpoints and slices of `web` and mirror `external-db`'s Endpoints into a slice.
    for ctx in ["blue", "green"] {
        wait_for(&format!("token of deploy-token on {ctx}"), Duration::from_secs(30), || {
            kubectl(ctx, &["-n", NS, "get", "secret", "deploy-token", "-o", "jsonpath={.data.token}"]).len() > 10
        });
        wait_for(&format!("endpoint slices on {ctx}"), Duration::from_secs(30), || {
            let out = kubectl(ctx, &["-n", NS, "get", "endpointslices", "-o", "name"]);
            out.contains("web-") && out.contains("external-db-")
        });
        wait_for(&format!("endpoints of web on {ctx}"), Duration::from_secs(30), || {
            kubectl_raw(ctx, &["-n", NS, "get", "endpoints", "web"]).status.success()
        });
    }

    let (_dir, rules) = temp_file("rules.yaml", USER_RULES);
    let run = run_kparity(&["diff", "blue", "green", "-n", NS, "--rules", path_str(&rules), "-o", "json"]);
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    let report = run.json();
    assert_eq!(report["verdict"], "different");
    let got = reported(&report);
    let expected = set(&[
        // A waiver restricted to team=search waives search's Deployment, not another team's.
        "Deployment rs-e2e/ads-api missing",
        "Deployment rs-e2e/search-api missing (waived)",
        // A user skip rule matching one side only: the pair is compared in full.
        "ConfigMap rs-e2e/generated data.k",
        "ConfigMap rs-e2e/generated metadata.labels.generated",
        // An object pending deletion is not equal to a live one.
        "ConfigMap rs-e2e/held metadata.deletionTimestamp",
        // The Endpoints of a Service without a selector are the team's configuration...
        "Endpoints rs-e2e/external-db subsets[0].addresses[0].ip",
        // ... and so is an EndpointSlice the team wrote by hand.
        "EndpointSlice rs-e2e/external-db-manual missing",
        // A token Secret the team created is compared for existence.
        "Secret rs-e2e/ci-token missing",
        // Explicit nodePorts and clusterIPs are intent, allocated ones are not.
        "Service rs-e2e/ingress spec.ports[port=80,protocol=TCP].nodePort",
        "Service rs-e2e/ingress-ssa spec.ports[port=80,protocol=TCP].nodePort",
        "Service rs-e2e/fixed-ip spec.clusterIP",
        // A ServiceAccount that enforces mountable secrets: `secrets` is its policy.
        "ServiceAccount rs-e2e/locked secrets[name=db-creds]",
        "ServiceAccount rs-e2e/locked secrets[name=db-creds-v2]",
    ]);
    assert_eq!(got, expected, "{}", run.stdout);
    // Equal on both sides, or excluded on both: web's derived Endpoints and slices, the
    // allocated nodePort of ingress-auto, the token Secret both sides hold, the skip rule
    // matching both sides of generated-both.
    let kind = |k: &str| {
        report["kinds"].as_array().expect("kinds").iter().find(|x| x["kind"] == k).cloned().unwrap_or_default()
    };
    assert_eq!(kind("Service")["equal"], 3, "web, external-db, ingress-auto: {}", kind("Service"));
    assert_eq!(kind("ConfigMap")["excluded_old"], 1, "generated-both: {}", kind("ConfigMap"));
    assert!(kind("EndpointSlice")["excluded_old"].as_u64().unwrap_or(0) >= 2, "{}", kind("EndpointSlice"));
    let held = report["objects"]
        .as_array()
        .expect("objects")
        .iter()
        .find(|o| o["key"]["name"] == "held")
        .cloned()
        .unwrap_or_default();
    assert_eq!(held["fields"][0]["old"], Value::Null, "{held}");
    assert_eq!(held["fields"][0]["new"], "(pending deletion)", "{held}");

    // Before the fix the waiver also accepted ads-api: now the table says which one it waived.
    let table = run_kparity(&["diff", "blue", "green", "-n", NS, "--rules", path_str(&rules)]);
    assert_eq!(table.code, 1);
    assert!(table.stdout.contains("CHG-42"), "{}", table.stdout);
    drop(_release);
    drop(ns);
}

/// A side's Secrets whose key sets and type differ, with different values everywhere.
fn secrets(ns: &str, side: &str) -> String {
    let blue = side == "blue";
    let third = if blue { "password" } else { "token" };
    let ty = if blue { "Opaque" } else { "example.com/api-credentials" };
    format!(
        r#"apiVersion: v1
kind: Secret
metadata: {{name: creds, namespace: {ns}}}
stringData: {{user: "u-{side}", {third}: "p-{side}"}}
---
apiVersion: v1
kind: Secret
metadata: {{name: typed, namespace: {ns}}}
type: {ty}
stringData: {{key: "k-{side}"}}
---
apiVersion: v1
kind: Secret
metadata: {{name: same-keys, namespace: {ns}}}
stringData: {{key: "k-{side}"}}
"#
    )
}

#[test]
fn ignoring_secret_values_still_compares_keys_and_types() {
    require_clusters();
    let _g = serial();
    let ns = TestNamespace::new("rs-e2e-secrets", &["blue", "green"]);
    for ctx in ["blue", "green"] {
        apply(ctx, &secrets(&ns.name, ctx), &[]);
    }
    let run = run_kparity(&[
        "diff",
        "blue",
        "green",
        "-n",
        &ns.name,
        "--kinds",
        "Secret",
        "--ignore-secret-values",
        "-o",
        "json",
    ]);
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    assert_eq!(
        reported(&run.json()),
        set(&[
            "Secret rs-e2e-secrets/creds data.password",
            "Secret rs-e2e-secrets/creds data.token",
            "Secret rs-e2e-secrets/typed type",
        ]),
        "{}",
        run.stdout
    );
    for secret_value in ["u-blue", "u-green", "p-blue", "p-green", "k-blue", "k-green"] {
        assert!(!run.stdout.contains(secret_value) && !run.stderr.contains(secret_value), "{}", run.stdout);
    }
    // same-keys differs in its value only: equal when values are ignored.
    let secrets = run.json()["kinds"].as_array().expect("kinds").iter().find(|k| k["kind"] == "Secret").cloned();
    assert_eq!(secrets.unwrap_or_default()["equal"], 1);
}

/// Puts a cluster-scoped object back exactly as it was, whatever the test did to it.
struct Restore {
    ctx: &'static str,
    resource: &'static str,
    name: &'static str,
    original: Value,
}

impl Restore {
    fn save(ctx: &'static str, resource: &'static str, name: &'static str) -> Self {
        let text = kubectl(ctx, &["get", resource, name, "-o", "json"]);
        let mut original: Value = serde_json::from_str(&text).expect("object as JSON");
        if let Some(meta) = original.get_mut("metadata").and_then(Value::as_object_mut) {
            for f in ["resourceVersion", "managedFields", "uid", "creationTimestamp", "generation"] {
                meta.remove(f);
            }
        }
        if let Some(obj) = original.as_object_mut() {
            obj.remove("status");
        }
        Restore { ctx, resource, name, original }
    }
}

impl Drop for Restore {
    fn drop(&mut self) {
        let (_dir, file) = temp_file("original.json", &self.original.to_string());
        let out = kubectl_raw(self.ctx, &["replace", "-f", path_str(&file)]);
        if !out.status.success() {
            eprintln!(
                "could not restore {} {} on {}: {}",
                self.resource,
                self.name,
                self.ctx,
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
}

fn dynamic_volume(name: &str, policy: &str) -> String {
    format!(
        r#"apiVersion: v1
kind: PersistentVolume
metadata:
  name: {name}
  annotations: {{pv.kubernetes.io/provisioned-by: example.com/fake-provisioner}}
  labels: {{rs-e2e: volume}}
spec:
  capacity: {{storage: 1Gi}}
  accessModes: [ReadWriteOnce]
  persistentVolumeReclaimPolicy: {policy}
  storageClassName: rs-e2e-fake
  mountOptions: [noatime]
  hostPath: {{path: /tmp/rs-e2e}}
  claimRef: {{namespace: rs-e2e-pv, name: data}}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {{name: data, namespace: rs-e2e-pv}}
spec:
  accessModes: [ReadWriteOnce]
  storageClassName: rs-e2e-fake
  resources: {{requests: {{storage: 1Gi}}}}
"#
    )
}

struct DeleteVolumes;
impl Drop for DeleteVolumes {
    fn drop(&mut self) {
        for ctx in ["blue", "green"] {
            let _ = kubectl_raw(ctx, &["delete", "pv", "-l", "rs-e2e", "--ignore-not-found", "--wait=false"]);
        }
    }
}

#[test]
fn control_plane_objects_are_compared_for_what_a_team_can_change() {
    require_clusters();
    let _g = serial();
    let kinds = "ClusterRoleBinding,ClusterRole,FlowSchema,PriorityClass,PersistentVolume";
    // Fresh clusters: the control-plane objects of one Kubernetes version compare equal.
    let run = run_kparity(&["diff", "blue", "green", "--kinds", kinds, "-o", "json"]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let before = run.json();
    let equal = |report: &Value, kind: &str| {
        report["kinds"].as_array().expect("kinds").iter().find(|k| k["kind"] == kind).map(|k| k["equal"].clone())
    };
    assert!(equal(&before, "ClusterRoleBinding").and_then(|v| v.as_u64()).unwrap_or(0) > 40, "{}", run.stdout);

    let _crb = Restore::save("green", "clusterrolebinding", "cluster-admin");
    let _cr = Restore::save("green", "clusterrole", "system:discovery");
    let _fs = Restore::save("green", "flowschema", "global-default");
    let _pc = Restore::save("green", "priorityclass", "system-node-critical");
    let _svc = Restore::save("blue", "service", "kubernetes");
    let _pv = DeleteVolumes;
    let pv_ns = TestNamespace::new("rs-e2e-pv", &["blue", "green"]);

    // Privilege escalation: a subject added to the bootstrap cluster-admin binding.
    kubectl(
        "green",
        &[
            "patch",
            "clusterrolebinding",
            "cluster-admin",
            "--type=json",
            "-p",
            r#"[{"op":"add","path":"/subjects/-","value":{"apiGroup":"rbac.authorization.k8s.io","kind":"User","name":"rs-e2e-intruder"}}]"#,
        ],
    );
    // A default hardened against reconciliation.
    kubectl(
        "green",
        &[
            "annotate",
            "--overwrite",
            "clusterrole",
            "system:discovery",
            "rbac.authorization.kubernetes.io/autoupdate=false",
        ],
    );
    // A suggested FlowSchema customized: no longer kept up to date by the server, so the team's.
    kubectl(
        "green",
        &[
            "patch",
            "flowschema",
            "global-default",
            "--type=merge",
            "-p",
            r#"{"metadata":{"annotations":{"apf.kubernetes.io/autoupdate-spec":"false"}},"spec":{"matchingPrecedence":9800}}"#,
        ],
    );
    kubectl("green", &["label", "--overwrite", "priorityclass", "system-node-critical", "rs-e2e=team"]);
    kubectl("blue", &["label", "--overwrite", "-n", "default", "service", "kubernetes", "rs-e2e=team"]);
    // A dynamically provisioned volume (names differ per cluster) whose reclaim policy differs.
    apply("blue", &dynamic_volume("pvc-0a1b2c3d-rs-e2e-blue", "Delete"), &[]);
    apply("green", &dynamic_volume("pvc-9f8e7d6c-rs-e2e-green", "Retain"), &[]);
    for ctx in ["blue", "green"] {
        wait_for(&format!("the volume bound on {ctx}"), Duration::from_secs(60), || {
            kubectl(ctx, &["get", "pv", "-l", "rs-e2e", "-o", "jsonpath={.items[*].status.phase}"]) == "Bound"
        });
    }

    let run = run_kparity(&["diff", "blue", "green", "--kinds", &format!("{kinds},Service"), "-o", "json"]);
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    // How a subject is addressed depends on the list semantics of `subjects`: only the field
    // and the subject's presence in the report are pinned here.
    let got: BTreeSet<String> = reported(&run.json())
        .into_iter()
        .map(|l| if l.starts_with("ClusterRoleBinding -/cluster-admin subjects") { l[..43].to_string() } else { l })
        .collect();
    assert!(run.stdout.contains("rs-e2e-intruder"), "{}", run.stdout);
    let expected = set(&[
        "ClusterRoleBinding -/cluster-admin subjects",
        "ClusterRole -/system:discovery metadata.annotations[\"rbac.authorization.kubernetes.io/autoupdate\"]",
        "FlowSchema -/global-default metadata.annotations[\"apf.kubernetes.io/autoupdate-spec\"]",
        "FlowSchema -/global-default spec.matchingPrecedence",
        "PriorityClass -/system-node-critical metadata.labels",
        "Service default/kubernetes metadata.labels.rs-e2e",
        "PersistentVolume -/claim:rs-e2e-pv/data spec.persistentVolumeReclaimPolicy",
    ]);
    assert_eq!(got, expected, "{}", run.stdout);
    drop(pv_ns);
}
