//! Smoke test of the real test clusters (issue: real test clusters). Fails loudly when the
//! clusters are not up; run `tests/cluster/up.sh` (the README's test command does).

mod common;

use std::time::Duration;

use common::*;

#[test]
fn green_serves_kubernetes_v1_37_2() {
    require_clusters();
    let out = kubectl("green", &["version", "-o", "json"]);
    let v: serde_json::Value = serde_json::from_str(&out).expect("kubectl version -o json");
    assert_eq!(v["serverVersion"]["gitVersion"], "v1.37.2", "{out}");
    assert_eq!(v["clientVersion"]["gitVersion"], "v1.37.2", "{out}");
}

#[test]
fn both_clusters_list_namespaces() {
    require_clusters();
    for ctx in ["blue", "green"] {
        let out = kubectl(ctx, &["get", "ns", "-o", "name"]);
        for ns in ["namespace/default", "namespace/kube-system", "namespace/kube-public"] {
            assert!(out.contains(ns), "{ctx}: {out}");
        }
    }
}

#[test]
fn controller_manager_publishes_root_ca_in_new_namespaces() {
    require_clusters();
    let _g = serial();
    let ns = TestNamespace::new("smoke-root-ca", &["blue", "green"]);
    for ctx in ["blue", "green"] {
        // TestNamespace waits for it; check the content too.
        let ca =
            kubectl(ctx, &["-n", &ns.name, "get", "configmap", "kube-root-ca.crt", "-o", "jsonpath={.data.ca\\.crt}"]);
        assert!(ca.contains("BEGIN CERTIFICATE"), "{ctx}: {ca}");
    }
    // The two clusters have their own CAs.
    let blue =
        kubectl("blue", &["-n", &ns.name, "get", "configmap", "kube-root-ca.crt", "-o", "jsonpath={.data.ca\\.crt}"]);
    let green =
        kubectl("green", &["-n", &ns.name, "get", "configmap", "kube-root-ca.crt", "-o", "jsonpath={.data.ca\\.crt}"]);
    assert_ne!(blue, green);
}

#[test]
fn deployment_gets_a_replicaset() {
    require_clusters();
    let _g = serial();
    let ns = TestNamespace::new("smoke-rs", &["blue"]);
    kubectl("blue", &["-n", &ns.name, "create", "deployment", "hello", "--image=registry.example/hello:1"]);
    wait_for("a ReplicaSet owned by deployment hello", Duration::from_secs(30), || {
        kubectl("blue", &["-n", &ns.name, "get", "rs", "-o", "jsonpath={.items[*].metadata.ownerReferences[0].name}"])
            .contains("hello")
    });
}

#[test]
fn viewer_cannot_list_secrets() {
    require_clusters();
    let out = kubectl_raw("blue-viewer", &["get", "secrets", "-A"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("Forbidden") && err.contains("secrets"), "{err}");
    // ...while it can read what `view` allows.
    kubectl("blue-viewer", &["get", "configmaps", "-A"]);
}

#[test]
fn metrics_apiservice_is_unavailable_after_fixtures() {
    require_clusters();
    let _g = serial();
    load_fixtures("blue");
    wait_for("the metrics APIService to report Available=False", Duration::from_secs(60), || {
        let s = kubectl(
            "blue",
            &[
                "get",
                "apiservice",
                "v1beta1.metrics.k8s.io",
                "-o",
                "jsonpath={.status.conditions[?(@.type==\"Available\")].status}",
            ],
        );
        s.trim() == "False"
    });
}
