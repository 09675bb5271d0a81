//! Upgrade parity (issue 8): `legacy` runs Kubernetes 1.34, `green` 1.37. Fresh clusters holding
//! the same manifests must compare equivalent under the `upgrade` profile, the API differences
//! between the two versions must be reported, real drift must still be found across versions,
//! and objects that exist only under a version the new cluster does not serve must be named.
//! Fails loudly when the clusters are down: run `tests/cluster/up.sh` first.

mod common;

use std::collections::BTreeSet;

use common::*;
use serde_json::Value;

const OLD: &str = "legacy";
const NEW: &str = "green";

/// Both clusters hold the fixtures (ingress-nginx, metrics-server) and the Widget CRD.
fn prepare_clusters() {
    require_context(OLD);
    for ctx in [OLD, NEW] {
        load_fixtures(ctx);
        install_widget_crd(ctx);
    }
}

fn server_version(ctx: &str) -> String {
    let out = kubectl(ctx, &["version", "-o", "json"]);
    let v: Value = serde_json::from_str(&out).expect("kubectl version -o json");
    v["serverVersion"]["gitVersion"].as_str().unwrap_or_default().to_string()
}

/// (kind, name, path) of every reported field change, and (kind, name, change) of every
/// missing/extra object: the whole of what a report says differs.
fn reported(report: &Value) -> BTreeSet<(String, String, String)> {
    let mut out = BTreeSet::new();
    for o in report["objects"].as_array().expect("objects") {
        let kind = o["key"]["kind"].as_str().unwrap_or_default().to_string();
        let name = o["key"]["name"].as_str().unwrap_or_default().to_string();
        match o["change"].as_str() {
            Some("changed") => {
                for f in o["fields"].as_array().expect("fields") {
                    out.insert((kind.clone(), name.clone(), f["path"].as_str().unwrap_or_default().to_string()));
                }
            }
            other => {
                out.insert((kind, name, other.unwrap_or_default().to_string()));
            }
        }
    }
    out
}

#[test]
fn legacy_serves_kubernetes_1_34_and_green_1_37() {
    require_context(OLD);
    assert!(server_version(OLD).starts_with("v1.34."), "{}", server_version(OLD));
    assert!(server_version(NEW).starts_with("v1.37."), "{}", server_version(NEW));
}

#[test]
fn fresh_legacy_and_green_with_the_same_manifests_are_equivalent_under_the_upgrade_profile() {
    let _g = serial();
    prepare_clusters();
    let ns = TestNamespace::new("upgrade-same", &[OLD, NEW]);
    for ctx in [OLD, NEW] {
        apply(ctx, &workloads(&ns.name, "s3cret"), &[]);
        apply(ctx, &widgets(&ns.name), &[]);
        apply(ctx, &statefulset(&ns.name), &[]);
    }

    let run = run_kparity(&["diff", OLD, NEW, "--profile", "upgrade", "-o", "json"]);
    let report = run.json();
    assert_eq!(
        (run.code, report["verdict"].as_str()),
        (0, Some("equivalent")),
        "whole clusters, upgrade profile: {:#?}\nincomplete: {}\nstderr: {}",
        reported(&report),
        report["incomplete"],
        run.stderr
    );
    // The workloads were really compared, not excluded.
    let deployments = report["kinds"]
        .as_array()
        .expect("kinds")
        .iter()
        .find(|k| k["group"] == "apps" && k["kind"] == "Deployment")
        .cloned()
        .unwrap_or_default();
    assert!(deployments["equal"].as_u64().unwrap_or(0) >= 2, "{deployments}");

    // Archives of the same clusters compare as the live clusters do: the profile's
    // version-scoped rules are in force between the versions the archives record, and between
    // an archive and a live cluster.
    let dir = tempfile::tempdir().expect("tempdir");
    let (old_file, new_file) = (dir.path().join("legacy.kparity"), dir.path().join("green.kparity"));
    let keyed = |args: &[&str]| {
        let mut cmd = kparity();
        cmd.env("KPARITY_SECRET_KEY", "upgrade-test-key-not-secret-0123456789abcdef").args(args);
        run_cmd(&mut cmd)
    };
    for (ctx, file) in [(OLD, &old_file), (NEW, &new_file)] {
        let taken = keyed(&["snapshot", ctx, "-o", path_str(file)]);
        assert_eq!(taken.code, 0, "snapshot of {ctx}: {}", taken.stderr);
    }
    for (what, old, new) in
        [("two archives", path_str(&old_file), path_str(&new_file)), ("archive against live", path_str(&old_file), NEW)]
    {
        let run = keyed(&["diff", old, new, "--profile", "upgrade", "-o", "json"]);
        let report = run.json();
        assert_eq!(
            (run.code, report["verdict"].as_str()),
            (0, Some("equivalent")),
            "{what}, upgrade profile: {:#?}\nincomplete: {}\nstderr: {}",
            reported(&report),
            report["incomplete"],
            run.stderr
        );
        let rule = report["rules"]
            .as_array()
            .expect("rules")
            .iter()
            .find(|r| r["name"] == "statefulset-default-max-unavailable")
            .cloned()
            .unwrap_or_default();
        assert!(
            rule["objects"]["new"].as_u64().unwrap_or(0) >= 1,
            "{what}: the version-scoped rule took effect: {rule}"
        );
    }

    // Without the profile the same clusters differ by exactly what was measured: the profile
    // accepts these and nothing else (no whole kind is ignored).
    let run = run_kparity(&["diff", OLD, NEW, "--no-profile", "upgrade", "-o", "json"]);
    assert_eq!(run.code, 1, "without the upgrade profile: {}", run.stderr);
    let mut expected: BTreeSet<(String, String, String)> = [
        ("ServiceAccount", "device-taint-eviction-controller", "extra"),
        ("ServiceAccount", "kube-apiserver-serving-clustertrustbundle-publisher", "extra"),
        ("ServiceAccount", "podcertificaterequestcleaner", "extra"),
        ("ServiceAccount", "storage-version-migrator-controller", "extra"),
        ("StatefulSet", "db", "spec.updateStrategy.rollingUpdate.maxUnavailable"),
        ("APIService", "v1.storagemigration.k8s.io", "extra"),
    ]
    .into_iter()
    .map(|(k, n, p)| (k.to_string(), n.to_string(), p.to_string()))
    .collect();
    // Bootstrap RBAC is compared (issue 12): 1.37 adds a role and binding per new controller
    // and for ClusterTrustBundle discovery, and changed the rules of thirteen default roles
    // (the releases' bootstrappolicy testdata says the same). Rules differ field by field, so
    // those roles are checked by name and by the first segment of every changed path.
    for name in [
        "system:cluster-trust-bundle-discovery",
        "system:controller:device-taint-eviction-controller",
        "system:controller:kube-apiserver-serving-clustertrustbundle-publisher",
        "system:controller:podcertificaterequestcleaner",
        "system:controller:storage-version-migrator-controller",
    ] {
        for kind in ["ClusterRole", "ClusterRoleBinding"] {
            expected.insert((kind.to_string(), name.to_string(), "extra".to_string()));
        }
    }
    let rules_changed: BTreeSet<(String, String)> = [
        ("ClusterRole", "system:aggregate-to-edit"),
        ("ClusterRole", "system:aggregate-to-view"),
        ("ClusterRole", "system:kube-scheduler"),
        ("ClusterRole", "system:monitoring"),
        ("ClusterRole", "system:node"),
        ("ClusterRole", "system:controller:expand-controller"),
        ("ClusterRole", "system:controller:node-controller"),
        ("ClusterRole", "system:controller:persistent-volume-binder"),
        ("ClusterRole", "system:controller:pvc-protection-controller"),
        ("ClusterRole", "system:controller:resource-claim-controller"),
        ("Role", "system::leader-locking-kube-controller-manager"),
        ("Role", "system::leader-locking-kube-scheduler"),
    ]
    .into_iter()
    .map(|(k, n)| (k.to_string(), n.to_string()))
    .collect();
    let (rules_paths, others): (BTreeSet<_>, BTreeSet<_>) =
        reported(&run.json()).into_iter().partition(|(k, n, _)| rules_changed.contains(&(k.clone(), n.clone())));
    assert_eq!(others, expected, "{}", run.stdout);
    let roles: BTreeSet<(String, String)> = rules_paths.iter().map(|(k, n, _)| (k.clone(), n.clone())).collect();
    assert_eq!(roles, rules_changed, "{}", run.stdout);
    assert!(rules_paths.iter().all(|(_, _, p)| p.starts_with("rules")), "{rules_paths:?}");
}

#[test]
fn a_non_default_statefulset_max_unavailable_is_still_reported_under_the_upgrade_profile() {
    let _g = serial();
    prepare_clusters();
    let ns = TestNamespace::new("upgrade-sts", &[OLD, NEW]);
    apply(OLD, &statefulset(&ns.name), &[]);
    let set_by_team = statefulset(&ns.name).replace(
        "  replicas: 1\n",
        "  replicas: 1\n  updateStrategy: {type: RollingUpdate, rollingUpdate: {maxUnavailable: 2}}\n",
    );
    apply(NEW, &set_by_team, &[]);
    let run = run_kparity(&["diff", OLD, NEW, "-n", &ns.name, "-o", "json"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let expected = BTreeSet::from([(
        "StatefulSet".to_string(),
        "db".to_string(),
        "spec.updateStrategy.rollingUpdate.maxUnavailable".to_string(),
    )]);
    assert_eq!(reported(&run.json()), expected, "{}", run.stdout);
}

/// A StatefulSet as a team writes it, without an update strategy: 1.37 defaults
/// `rollingUpdate.maxUnavailable: 1` into it, 1.34 does not (measured).
fn statefulset(ns: &str) -> String {
    format!(
        r#"apiVersion: apps/v1
kind: StatefulSet
metadata: {{name: db, namespace: {ns}}}
spec:
  serviceName: db
  replicas: 1
  selector: {{matchLabels: {{app: db}}}}
  template:
    metadata: {{labels: {{app: db}}}}
    spec:
      containers: [{{name: db, image: "registry.example/db:1"}}]
"#
    )
}

#[test]
fn api_differences_list_the_discovery_differences_between_1_34_and_1_37() {
    prepare_clusters();
    // Discovery is reported whatever the filters: a one-namespace diff is enough.
    let run = run_kparity(&["diff", OLD, NEW, "--profile", "upgrade", "-n", "default", "-o", "json"]);
    let report = run.json();
    let served: BTreeSet<String> = report["api_differences"]
        .as_array()
        .expect("api_differences")
        .iter()
        .map(|a| {
            let gv = if a["group"] == "" {
                a["version"].as_str().unwrap_or_default().to_string()
            } else {
                format!("{}/{}", a["group"].as_str().unwrap_or_default(), a["version"].as_str().unwrap_or_default())
            };
            format!(
                "{} {gv} {}",
                a["served_by"].as_str().unwrap_or_default(),
                a["resource"].as_str().unwrap_or_default()
            )
        })
        .collect();
    let expected: BTreeSet<String> = EXPECTED_SERVED_DIFFERENCES.iter().map(|s| s.to_string()).collect();
    assert_eq!(served, expected, "{}", report["api_differences"]);

    let preferred: BTreeSet<String> = report["api_preferred_versions"]
        .as_array()
        .expect("api_preferred_versions")
        .iter()
        .map(|p| {
            format!(
                "{} {} {}->{} read as {}",
                p["group"].as_str().unwrap_or_default(),
                p["resource"].as_str().unwrap_or_default(),
                p["old_preferred"].as_str().unwrap_or_default(),
                p["new_preferred"].as_str().unwrap_or_default(),
                p["old_read"].as_str().unwrap_or("-"),
            )
        })
        .collect();
    let expected: BTreeSet<String> = EXPECTED_PREFERRED_DIFFERENCES.iter().map(|s| s.to_string()).collect();
    assert_eq!(preferred, expected, "{}", report["api_preferred_versions"]);

    // The table report carries the same section.
    let run = run_kparity(&["diff", OLD, NEW, "--profile", "upgrade", "-n", "default", "-o", "table"]);
    assert!(run.stdout.contains("API differences (served on one side only):"), "{}", run.stdout);
}

/// Measured between fresh v1.34.4 and v1.37.2 control planes (see ignore-rules/upgrade.yaml):
/// `SIDE GROUP/VERSION RESOURCE` served on that side only.
const EXPECTED_SERVED_DIFFERENCES: &[&str] = &[
    "new admissionregistration.k8s.io/v1 mutatingadmissionpolicies",
    "new admissionregistration.k8s.io/v1 mutatingadmissionpolicybindings",
    "new certificates.k8s.io/v1 clustertrustbundles",
    "new certificates.k8s.io/v1 podcertificaterequests",
    "new resource.k8s.io/v1 devicetaintrules",
    "new storagemigration.k8s.io/v1 storageversionmigrations",
];

/// `GROUP RESOURCE OLD->NEW read as VERSION` for types whose preferred version moved: none of
/// the built-in APIs served by default moved between 1.34 and 1.37 (measured), so a moved
/// version is exercised with a CRD in `objects_on_legacy_under_a_version_green_...` below.
const EXPECTED_PREFERRED_DIFFERENCES: &[&str] = &[];

#[test]
fn injected_drifts_are_all_found_across_versions_and_nothing_else() {
    let _g = serial();
    prepare_clusters();
    let ns = TestNamespace::new("upgrade-drift", &[OLD, NEW]);
    let n = &ns.name;
    apply(OLD, &workloads(n, "s3cret"), &[]);
    apply(OLD, &widgets(n), &[]);
    let drifted = workloads(n, "leaked-and-rotated")
        .replace("registry.example/web:1.4.2", "registry.example/web:1.4.3")
        .replace("replicas: 1", "replicas: 3")
        .replace("{name: MODE, value: production}", "{name: MODE, value: staging}")
        .replace("limits: {cpu: \"1\", memory: 512Mi}", "limits: {cpu: \"1\", memory: 1Gi}")
        .replace("timeout: \"30s\"", "timeout: \"60s\"")
        .replace(
            &format!("metadata: {{name: routing, namespace: {n}}}"),
            &format!("metadata: {{name: routing, namespace: {n}, labels: {{tier: edge}}}}"),
        );
    apply(NEW, &drifted, &[]);
    apply(NEW, &widgets(n).replace("spec: {size: 5, color: green}", "spec: {size: 6, color: green}"), &[]);

    let run = run_kparity(&["diff", OLD, NEW, "--profile", "upgrade", "-n", n, "-o", "json"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let report = run.json();
    assert_eq!(report["verdict"], "different");
    let expected: BTreeSet<(String, String, String)> = [
        ("Deployment", "web", "spec.template.spec.containers[name=web].image"),
        ("Deployment", "web", "spec.template.spec.containers[name=web].env[name=MODE].value"),
        ("Deployment", "web", "spec.template.spec.containers[name=web].resources.limits.memory"),
        ("Deployment", "worker", "spec.replicas"),
        ("ConfigMap", "settings", "data.timeout"),
        // The label map is new on that object, so the whole map is what changed.
        ("ConfigMap", "routing", "metadata.labels"),
        ("Secret", "db-credentials", "data.password"),
        ("Widget", "beta", "spec.size"),
    ]
    .into_iter()
    .map(|(k, n, p)| (k.to_string(), n.to_string(), p.to_string()))
    .collect();
    assert_eq!(reported(&report), expected, "{}", run.stdout);
    // The Secret's value is reported as changed, never shown.
    assert!(!run.stdout.contains("leaked-and-rotated") && !run.stdout.contains("s3cret"));
}

/// A CRD whose only version differs per cluster: `v1alpha1` on legacy, `v1` on green, as when a
/// team upgrades an operator together with the cluster and drops the alpha version.
fn gadget_crd(version: &str) -> String {
    format!(
        r#"apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {{name: gadgets.upgrade.example.com}}
spec:
  group: upgrade.example.com
  scope: Namespaced
  names: {{plural: gadgets, singular: gadget, kind: Gadget}}
  versions:
  - name: {version}
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              size: {{type: integer}}
"#
    )
}

#[test]
fn objects_on_legacy_under_a_version_green_does_not_serve_are_reported_as_such() {
    let _g = serial();
    prepare_clusters();
    for (ctx, version) in [(OLD, "v1alpha1"), (NEW, "v1")] {
        apply(ctx, &gadget_crd(version), &[]);
        kubectl(ctx, &["wait", "--for=condition=Established", "crd/gadgets.upgrade.example.com", "--timeout=60s"]);
        wait_for("gadgets served", std::time::Duration::from_secs(30), || {
            kubectl_raw(ctx, &["get", "gadgets.upgrade.example.com", "-A"]).status.success()
        });
    }
    let ns = TestNamespace::new("upgrade-unserved", &[OLD, NEW]);
    let gadget = |version: &str, size: u32| {
        format!(
            "apiVersion: upgrade.example.com/{version}\nkind: Gadget\nmetadata: {{name: one, namespace: {}}}\nspec: {{size: {size}}}\n",
            ns.name
        )
    };
    apply(OLD, &gadget("v1alpha1", 1), &[]);
    apply(NEW, &gadget("v1", 2), &[]);

    let run = run_kparity(&["diff", OLD, NEW, "--profile", "upgrade", "-n", &ns.name, "-o", "json"]);
    let report = run.json();
    let unserved = report["api_unserved_on_new"].as_array().expect("api_unserved_on_new");
    let gadgets: Vec<&Value> = unserved.iter().filter(|u| u["kind"] == "Gadget").collect();
    assert_eq!(gadgets.len(), 1, "{unserved:?}");
    assert_eq!(gadgets[0]["old_versions"], serde_json::json!(["v1alpha1"]));
    assert_eq!(gadgets[0]["new_versions"], serde_json::json!(["v1"]));
    assert_eq!(
        gadgets[0]["objects"],
        serde_json::json!([{"group": "upgrade.example.com", "kind": "Gadget", "namespace": ns.name, "name": "one"}])
    );

    // No version is served by both: the object is compared across versions, and marked so.
    let preferred = report["api_preferred_versions"].as_array().expect("api_preferred_versions");
    let p = preferred.iter().find(|p| p["kind"] == "Gadget").expect("Gadget preferred-version difference");
    assert_eq!(
        (p["old_read"].as_str(), p["new_read"].as_str(), p["across_versions"].as_bool()),
        (Some("v1alpha1"), Some("v1"), Some(true))
    );
    let changed = report["objects"]
        .as_array()
        .expect("objects")
        .iter()
        .find(|o| o["key"]["kind"] == "Gadget")
        .cloned()
        .unwrap_or_default();
    assert_eq!(changed["compared_across_versions"], serde_json::json!({"old": "v1alpha1", "new": "v1"}), "{changed}");
    assert_eq!(reported(&report), BTreeSet::from([("Gadget".to_string(), "one".to_string(), "spec.size".to_string())]));

    let table = run_kparity(&["diff", OLD, NEW, "--profile", "upgrade", "-n", &ns.name]).stdout;
    assert!(table.contains("will not survive the migration"), "{table}");
    assert!(table.contains("[compared across versions: old v1alpha1, new v1]"), "{table}");
    let markdown = run_kparity(&["diff", OLD, NEW, "-n", &ns.name, "-o", "markdown"]).stdout;
    assert!(markdown.contains("will not survive the migration"), "{markdown}");
    assert!(
        markdown.contains("Gadget.upgrade.example.com (gadgets): 1 object(s); old serves v1alpha1, new serves v1"),
        "{markdown}"
    );

    for ctx in [OLD, NEW] {
        drop(kubectl_raw(ctx, &["delete", "-n", &ns.name, "gadgets.upgrade.example.com", "--all"]));
        kubectl(ctx, &["delete", "crd", "gadgets.upgrade.example.com", "--wait=true"]);
    }
}
