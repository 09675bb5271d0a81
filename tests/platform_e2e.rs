//! Platform-aware parity on the real test clusters (issue 17): `blue` made a kubeadm cluster by the
//! real kubeadm's init phases, `green` an EKS-shaped one (the published Amazon VPC CNI manifest
//! and the objects EKS documents), the same workload on both. Also the controller-history cases:
//! a DaemonSet's template generation, a cloud controller's finalizer, generated names.
//!
//! Everything loaded into kube-system, kube-public or at cluster scope is removed again when a
//! test ends (the `PlatformSides` guard), since whole-cluster tests compare these clusters.

mod common;

use common::*;
use serde_json::Value;
use std::process::Command;

/// blue as a kubeadm cluster and green as an EKS one, for as long as the guard lives.
struct PlatformSides;

impl PlatformSides {
    fn load() -> Self {
        require_clusters();
        let kubeadm = root().join("target/test-cluster/bin/kubeadm");
        assert!(
            kubeadm.exists(),
            "kubeadm is not built ({}): run tests/cluster/build.sh kubeadm (run-all.sh builds it with the tools)",
            kubeadm.display()
        );
        let guard = PlatformSides;
        phases("apply");
        let eks = root().join("tests/fixtures/platform/eks");
        let _lock = setup_lock();
        for file in ["amazon-vpc-cni/aws-k8s-cni.yaml", "eks-platform.yaml"] {
            let path = eks.join(file);
            kubectl("green", &["apply", "-f", path.to_str().expect("utf-8 path")]);
        }
        guard
    }
}

impl Drop for PlatformSides {
    fn drop(&mut self) {
        // Never a panic here: this runs while a failed test unwinds.
        let deleted = Command::new(root().join("tests/cluster/kubeadm-phases.sh")).args(["blue", "delete"]).status();
        if !deleted.is_ok_and(|s| s.success()) {
            eprintln!(
                "warning: removing kubeadm's objects from blue failed; run tests/cluster/kubeadm-phases.sh blue delete"
            );
        }
        let eks = root().join("tests/fixtures/platform/eks");
        let _lock = setup_lock();
        for file in ["eks-platform.yaml", "amazon-vpc-cni/aws-k8s-cni.yaml"] {
            let path = eks.join(file);
            let _ = kubectl_raw("green", &["delete", "--ignore-not-found", "-f", path.to_str().unwrap_or("")]);
        }
    }
}

/// `tests/cluster/kubeadm-phases.sh blue apply|delete` (it takes the setup lock itself).
fn phases(action: &str) {
    let out = Command::new(root().join("tests/cluster/kubeadm-phases.sh"))
        .args(["blue", action])
        .output()
        .expect("run tests/cluster/kubeadm-phases.sh");
    assert!(out.status.success(), "kubeadm-phases.sh blue {action} failed:\n{}", String::from_utf8_lossy(&out.stderr));
}

/// The same small workload, in a namespace of its own on both clusters.
fn workload(ns: &str) -> String {
    format!(
        r#"apiVersion: v1
kind: ConfigMap
metadata: {{name: shop-config, namespace: {ns}}}
data: {{mode: production}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {{name: shop, namespace: {ns}}}
spec:
  replicas: 2
  selector: {{matchLabels: {{app: shop}}}}
  template:
    metadata: {{labels: {{app: shop}}}}
    spec:
      containers:
        - {{name: shop, image: "registry.example/shop:1.4.2"}}
---
apiVersion: v1
kind: Service
metadata: {{name: shop, namespace: {ns}}}
spec:
  selector: {{app: shop}}
  ports: [{{port: 80, targetPort: 8080}}]
"#
    )
}

/// The namespaces the platforms write into, plus the workload's.
fn scope(ns: &str) -> String {
    format!("kube-system,kube-public,{ns}")
}

fn differences(report: &Value) -> Vec<String> {
    report["platform"]["differences"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|d| {
                    let k = &d["key"];
                    let ns = k["namespace"].as_str().map(|n| format!("{n}/")).unwrap_or_default();
                    format!(
                        "{} {} {ns}{}",
                        d["change"].as_str().unwrap_or("?"),
                        k["kind"].as_str().unwrap_or("?"),
                        k["name"].as_str().unwrap_or("?")
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

fn objects(report: &Value) -> Vec<String> {
    report["objects"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|o| {
                    let fields: Vec<&str> =
                        o["fields"].as_array().into_iter().flatten().filter_map(|f| f["path"].as_str()).collect();
                    let k = &o["key"];
                    let ns = k["namespace"].as_str().map(|n| format!("{n}/")).unwrap_or_default();
                    format!(
                        "{} {} {ns}{} {}",
                        o["change"].as_str().unwrap_or("?"),
                        k["kind"].as_str().unwrap_or("?"),
                        k["name"].as_str().unwrap_or("?"),
                        fields.join(",")
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn kubeadm_blue_against_eks_green_with_the_same_workload_is_equivalent_with_the_platform_listed() {
    let _serial = serial();
    let _sides = PlatformSides::load();
    let ns = TestNamespace::new("platform-shop", &["blue", "green"]);
    for ctx in ["blue", "green"] {
        apply(ctx, &workload(&ns.name), &[]);
    }
    let run = run_kparity(&["diff", "blue", "green", "-n", &scope(&ns.name), "-o", "json"]);
    let report = run.json();
    assert_eq!(run.code, 0, "{:#?}\n{}", objects(&report), run.stderr);
    assert_eq!(report["verdict"], "equivalent");
    assert_eq!(report["platform"]["old"]["description"], "kubeadm 1.37");
    assert_eq!(report["platform"]["new"]["description"], "EKS 1.37");
    assert_eq!(report["platform"]["old"]["platforms"][0]["evidence"], "ConfigMap kube-system/kubeadm-config");
    let listed = differences(&report);
    for expected in [
        // Written by the real kubeadm's phases.
        "only_old ConfigMap kube-system/kubeadm-config",
        "only_old ConfigMap kube-system/kubelet-config",
        "only_old ConfigMap kube-public/cluster-info",
        // The published VPC CNI manifest and the EKS objects.
        "only_new DaemonSet kube-system/aws-node",
        "only_new ConfigMap kube-system/amazon-vpc-cni",
        "only_new ConfigMap kube-system/aws-auth",
        "only_new ConfigMap kube-system/kube-proxy-config",
        // Both have CoreDNS and kube-proxy, each its platform's own.
        "differs ConfigMap kube-system/coredns",
        "differs Deployment kube-system/coredns",
        "differs DaemonSet kube-system/kube-proxy",
    ] {
        assert!(listed.iter().any(|l| l == expected), "{expected} not listed in {listed:#?}");
    }
    assert!(listed.iter().any(|l| l.starts_with("only_old Secret kube-system/bootstrap-token-")), "{listed:#?}");
    let (old_only, new_only) = (
        report["platform"]["old"]["only_here"].as_u64().unwrap(),
        report["platform"]["new"]["only_here"].as_u64().unwrap(),
    );
    // Namespaced, in these namespaces: kubeadm-config, kubelet-config, cluster-info, the token
    // Secret and five Role/RoleBinding pairs on blue; aws-auth, amazon-vpc-cni, kube-proxy-config,
    // aws-node (DaemonSet, ServiceAccount) and eks:authenticator (Role, RoleBinding) on green.
    assert_eq!((old_only, new_only), (12, 7), "counted per side: {listed:#?}");
    // aws-auth's role mappings are named for review: nothing on blue compares with them.
    let auth =
        report["platform"]["differences"].as_array().unwrap().iter().find(|d| d["key"]["name"] == "aws-auth").unwrap();
    assert_eq!(auth["intent"], serde_json::json!(["/data/mapRoles"]));

    // Every cluster-scoped platform object of either side is listed as platform, none is a
    // workload difference (the whole cluster holds other tests' objects too, so only ours are
    // checked here).
    let whole = run_kparity(&["diff", "blue", "green", "-o", "json"]).json();
    let listed = differences(&whole);
    let ours = [
        "ClusterRoleBinding kubeadm:kubelet-bootstrap",
        "ClusterRoleBinding kubeadm:node-proxier",
        "ClusterRole kubeadm:get-nodes",
        "ClusterRole eks:k8s-metrics",
        "ClusterRoleBinding eks:kube-proxy",
        "ClusterRole aws-node",
        "ClusterRoleBinding vpc-resource-controller-rolebinding",
        "CustomResourceDefinition eniconfigs.crd.k8s.amazonaws.com",
        "ClusterRoleBinding system:coredns",
    ];
    for name in ours {
        assert!(listed.iter().any(|l| l.ends_with(name)), "{name} not listed as platform: {listed:#?}");
        assert!(!objects(&whole).iter().any(|o| o.contains(&format!("{name} "))), "{name} is a workload difference");
    }

    // The table says which platform each side runs and lists the section.
    let table = run_kparity(&["diff", "blue", "green", "-n", &scope(&ns.name)]);
    assert_eq!(table.code, 0, "{}", table.stdout);
    assert!(
        table.stdout.contains(
            "platforms: old blue: kubeadm 1.37 (detected: ConfigMap kube-system/kubeadm-config); new green: EKS 1.37"
        ),
        "{}",
        table.stdout
    );
    assert!(table.stdout.contains("Platform differences (listed, not failing the gate)"), "{}", table.stdout);
    let md = run_kparity(&["diff", "blue", "green", "-n", &scope(&ns.name), "-o", "markdown"]);
    assert!(md.stdout.contains("**platforms:** old blue: kubeadm 1.37"), "{}", md.stdout);

    // Named on the command line, a side's platform is not detected: with none on blue, what
    // kubeadm wrote is missing on green, and the gate fails.
    let none = run_kparity(&["diff", "blue", "green", "-n", &scope(&ns.name), "--platform", "old=none", "-o", "json"]);
    assert_eq!(none.code, 1);
    assert!(objects(&none.json()).iter().any(|o| o.starts_with("missing ConfigMap kube-system/kubeadm-config")));

    // `--kinds daemonsets` leaves kubeadm's marker (a ConfigMap) unread on blue, so kubeadm is
    // not assumed there: its kube-proxy DaemonSet stays a difference, and the report names the
    // filter and the --platform that lists it apart. (green's EKS is still detected: its
    // kube-proxy DaemonSet is a marker.)
    let kinds = run_kparity(&["diff", "blue", "green", "-n", "kube-system", "--kinds", "daemonsets", "-o", "json"]);
    let report = kinds.json();
    assert_eq!(kinds.code, 1, "{:#?}\n{}", objects(&report), kinds.stderr);
    assert!(objects(&report).iter().any(|o| o.starts_with("changed DaemonSet kube-system/kube-proxy")), "{report:#}");
    let warned: Vec<&str> = report["warning_entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|w| w["code"] == "platform-not-detected")
        .map(|w| w["message"].as_str().unwrap())
        .collect();
    assert_eq!(warned.len(), 1, "{report:#}");
    assert!(
        warned[0].starts_with("kubeadm was not detected on old: its markers were not read (--kinds)")
            && warned[0].contains("--platform old=kubeadm"),
        "{}",
        warned[0]
    );
    let named = run_kparity(&[
        "diff",
        "blue",
        "green",
        "-n",
        "kube-system",
        "--kinds",
        "daemonsets",
        "--platform",
        "old=kubeadm",
        "-o",
        "json",
    ]);
    let report = named.json();
    assert_eq!(named.code, 0, "{:#?}\n{}", objects(&report), named.stderr);
    assert!(!report["warning_entries"].as_array().unwrap().iter().any(|w| w["code"] == "platform-not-detected"));
}

#[test]
fn team_changes_inside_platform_objects_are_reported() {
    let _serial = serial();
    let _sides = PlatformSides::load();
    let ns = TestNamespace::new("platform-intent", &["blue", "green"]);
    let scope = scope(&ns.name);

    // A stub domain in blue's Corefile (kubeadm's): green's Corefile has none.
    let corefile =
        kubectl("blue", &["-n", "kube-system", "get", "configmap", "coredns", "-o", "jsonpath={.data.Corefile}"]);
    let stub = format!("{corefile}\nconsul.local:53 {{\n    errors\n    cache 30\n    forward . 10.150.0.1\n}}\n");
    let patch = serde_json::json!({"data": {"Corefile": stub}}).to_string();
    kubectl("blue", &["-n", "kube-system", "patch", "configmap", "coredns", "--type", "merge", "-p", &patch]);
    let run = run_kparity(&["diff", "blue", "green", "-n", &scope, "-o", "json"]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert_eq!(
        objects(&run.json()),
        [r#"changed ConfigMap kube-system/coredns data.Corefile["server block consul.local:53"]"#]
    );

    // An extra subject on green's system:coredns binding (a platform binding on both sides).
    kubectl(
        "blue",
        &[
            "-n",
            "kube-system",
            "patch",
            "configmap",
            "coredns",
            "--type",
            "merge",
            "-p",
            &serde_json::json!({"data": {"Corefile": corefile}}).to_string(),
        ],
    );
    let subject = r#"[{"op": "add", "path": "/subjects/-", "value": {"kind": "User", "name": "mallory", "apiGroup": "rbac.authorization.k8s.io"}}]"#;
    kubectl("green", &["patch", "clusterrolebinding", "system:coredns", "--type", "json", "-p", subject]);
    // --kinds leaves the markers (ConfigMaps) unread, so the platforms are named.
    let run = run_kparity(&[
        "diff",
        "blue",
        "green",
        "--kinds",
        "ClusterRoleBinding",
        "--platform",
        "old=kubeadm,new=eks",
        "-o",
        "json",
    ]);
    let found = objects(&run.json());
    // Only the subjects remain of system:coredns; its EKS labels are listed as platform.
    assert!(differences(&run.json()).contains(&"differs ClusterRoleBinding system:coredns".to_string()));
    assert!(found.iter().any(|o| o.starts_with("changed ClusterRoleBinding system:coredns subjects")), "{found:#?}");
    assert_eq!(run.code, 1);

    // aws-auth between two EKS sides: green as archived, then a role mapped on the live green.
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("green.kparity");
    let snap = run_kparity(&["snapshot", "green", "-o", path_str(&archive), "-n", "kube-system"]);
    assert_eq!(snap.code, 0, "{}", snap.stderr);
    let roles =
        kubectl("green", &["-n", "kube-system", "get", "configmap", "aws-auth", "-o", "jsonpath={.data.mapRoles}"]);
    let more = format!(
        "{roles}- rolearn: arn:aws:iam::111122223333:role/contractor\n  username: contractor\n  groups:\n    - system:masters\n"
    );
    kubectl(
        "green",
        &[
            "-n",
            "kube-system",
            "patch",
            "configmap",
            "aws-auth",
            "--type",
            "merge",
            "-p",
            &serde_json::json!({"data": {"mapRoles": more}}).to_string(),
        ],
    );
    let run = run_kparity(&[
        "diff",
        path_str(&archive),
        "green",
        "-n",
        "kube-system",
        "--ignore-secret-values",
        "-o",
        "json",
    ]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert_eq!(objects(&run.json()), ["changed ConfigMap kube-system/aws-auth data.mapRoles"]);
    assert!(
        run.json()["platform"]["old"]["description"].as_str().unwrap_or_default().starts_with("EKS"),
        "{}",
        run.stdout
    );
}

/// A namespace with the given YAML applied on each side.
fn on(ctx: &str, yaml: &str) {
    apply(ctx, yaml, &[]);
}

fn daemonset(ns: &str, image: &str) -> String {
    format!(
        "apiVersion: apps/v1\nkind: DaemonSet\nmetadata: {{name: agent, namespace: {ns}}}\nspec:\n  selector: {{matchLabels: {{app: agent}}}}\n  template:\n    metadata: {{labels: {{app: agent}}}}\n    spec:\n      containers: [{{name: agent, image: \"{image}\"}}]\n"
    )
}

#[test]
fn a_daemonset_changed_and_changed_back_equals_a_fresh_one_and_a_template_change_still_shows() {
    let _serial = serial();
    require_clusters();
    let ns = TestNamespace::new("platform-ds", &["blue", "green"]);
    for image in ["agent:1", "agent:2", "agent:1"] {
        on("blue", &daemonset(&ns.name, image));
    }
    on("green", &daemonset(&ns.name, "agent:1"));
    let generation = |ctx: &str| {
        kubectl(
            ctx,
            &[
                "-n",
                &ns.name,
                "get",
                "ds",
                "agent",
                "-o",
                "jsonpath={.metadata.annotations.deprecated\\.daemonset\\.template\\.generation}",
            ],
        )
    };
    assert_eq!((generation("blue").as_str(), generation("green").as_str()), ("3", "1"), "the counter really differs");
    let run = run_kparity(&["diff", "blue", "green", "-n", &ns.name, "-o", "json"]);
    assert_eq!(run.code, 0, "{:#?}", objects(&run.json()));
    on("green", &daemonset(&ns.name, "agent:2"));
    let run = run_kparity(&["diff", "blue", "green", "-n", &ns.name, "-o", "json"]);
    assert_eq!(run.code, 1);
    let found = objects(&run.json());
    assert_eq!(found.len(), 1, "{found:#?}");
    assert!(
        found[0].starts_with("changed DaemonSet platform-ds/agent spec.template.spec.containers[name=agent].image"),
        "{found:#?}"
    );
}

#[test]
fn a_cloud_controllers_finalizer_is_history_a_teams_finalizer_is_not() {
    let _serial = serial();
    require_clusters();
    let ns = TestNamespace::new("platform-lb", &["blue", "green"]);
    let svc = |finalizers: &str| {
        format!(
            "apiVersion: v1\nkind: Service\nmetadata: {{name: edge, namespace: {}, finalizers: [{finalizers}]}}\nspec:\n  type: LoadBalancer\n  selector: {{app: edge}}\n  ports: [{{port: 443}}]\n",
            ns.name
        )
    };
    on("blue", &svc(""));
    // What a cloud provider's service controller does to a LoadBalancer Service it provisions.
    on("green", &svc("service.kubernetes.io/load-balancer-cleanup"));
    let run = run_kparity(&["diff", "blue", "green", "-n", &ns.name, "-o", "json"]);
    let result = (run.code, objects(&run.json()));
    on("green", &svc("service.kubernetes.io/load-balancer-cleanup, example.com/drain-first"));
    let team = run_kparity(&["diff", "blue", "green", "-n", &ns.name, "-o", "json"]);
    let team_result = (team.code, objects(&team.json()));
    // Finalizers hold the namespace's deletion: released before the namespace goes.
    on("green", &svc(""));
    assert_eq!(result, (0, Vec::<String>::new()));
    assert_eq!(team_result.0, 1);
    assert_eq!(team_result.1.len(), 1, "{:#?}", team_result.1);
    assert!(
        team_result.1[0].starts_with("changed Service platform-lb/edge metadata.finalizers"),
        "{:#?}",
        team_result.1
    );
}

#[test]
fn objects_named_by_generate_name_pair_by_identity_and_still_show_differences() {
    let _serial = serial();
    require_clusters();
    let ns = TestNamespace::new("platform-gen", &["blue", "green"]);
    let job = |image: &str| {
        format!(
            "apiVersion: batch/v1\nkind: Job\nmetadata: {{generateName: db-migrate-, namespace: {}}}\nspec:\n  suspend: true\n  template:\n    spec:\n      restartPolicy: Never\n      containers: [{{name: migrate, image: \"{image}\"}}]\n",
            ns.name
        )
    };
    let create = |ctx: &str, image: &str| {
        let (_dir, file) = temp_file("job.yaml", &job(image));
        kubectl(ctx, &["create", "-f", path_str(&file)]);
    };
    create("blue", "migrate:7");
    create("green", "migrate:7");
    let names = |ctx: &str| kubectl(ctx, &["-n", &ns.name, "get", "jobs", "-o", "jsonpath={.items[*].metadata.name}"]);
    assert_ne!(names("blue"), names("green"), "the API servers generated different names");
    let run = run_kparity(&["diff", "blue", "green", "-n", &ns.name, "-o", "json"]);
    assert_eq!(run.code, 0, "{:#?}", objects(&run.json()));
    // A second run of the migration with another image on green only: one more object there,
    // and the pair that differs is reported, never dropped.
    create("green", "migrate:8");
    let run = run_kparity(&["diff", "blue", "green", "-n", &ns.name, "-o", "json"]);
    assert_eq!(run.code, 1);
    let found = objects(&run.json());
    // The equal runs pair up (#1), the new one is extra (#2): reported, never dropped.
    assert_eq!(found, ["extra Job platform-gen/db-migrate-<generated> #2 "], "{found:#?}");
}
