//! `kparity diff` end to end against the real test clusters: equivalence of fresh clusters,
//! exact drift reports, fail-closed verdicts (broken APIService, forbidden Secrets, unreachable
//! context), bad kubeconfigs, and secrets that never leave the process.

mod common;

use std::time::Duration;

use common::*;
use serde_json::Value;

/// Namespaces of ordinary workloads created identically on both clusters.
const SHARED_NAMESPACES: &[&str] =
    &["e2e-shop", "e2e-payments", "e2e-search", "e2e-auth", "e2e-media", "e2e-ops", "e2e-batch", "e2e-web"];

fn populate(ns: &str, ctxs: &[&str]) {
    for ctx in ctxs {
        install_widget_crd(ctx);
        apply(ctx, &workloads(ns, "s3cr3t-value"), &[]);
        apply(ctx, &widgets(ns), &[]);
    }
}

fn objects_with_change(report: &Value) -> Vec<(String, String, String)> {
    report["objects"]
        .as_array()
        .expect("objects array")
        .iter()
        .map(|o| {
            (
                o["key"]["kind"].as_str().unwrap_or_default().to_string(),
                o["key"]["name"].as_str().unwrap_or_default().to_string(),
                o["change"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

fn field_paths(report: &Value, kind: &str, name: &str) -> Vec<String> {
    report["objects"]
        .as_array()
        .expect("objects array")
        .iter()
        .find(|o| o["key"]["kind"] == kind && o["key"]["name"] == name)
        .unwrap_or_else(|| panic!("no difference reported for {kind} {name}: {report:#}"))["fields"]
        .as_array()
        .map(|fs| fs.iter().map(|f| f["path"].as_str().unwrap_or_default().to_string()).collect())
        .unwrap_or_default()
}

#[test]
fn fresh_clusters_with_the_same_content_are_equivalent() {
    require_clusters();
    let _g = serial();
    for ctx in ["blue", "green"] {
        load_fixtures(ctx);
        install_widget_crd(ctx);
    }
    let namespaces: Vec<TestNamespace> =
        SHARED_NAMESPACES.iter().map(|ns| TestNamespace::new(ns, &["blue", "green"])).collect();
    for ns in &namespaces {
        populate(&ns.name, &["blue", "green"]);
    }
    // Let the controllers create what they derive (ReplicaSets, EndpointSlices, tokens...).
    std::thread::sleep(Duration::from_secs(3));

    let run = run_kparity(&["diff", "blue", "green", "-o", "json"]);
    let report = run.json();
    assert_eq!(run.code, 0, "expected equivalent:\n{}\n{}", run.stdout, run.stderr);
    assert_eq!(report["verdict"], "equivalent");
    assert_eq!(report["schema_version"], 1);
    let summary = &report["summary"];
    assert!(summary["objects_old"].as_u64().unwrap_or(0) >= 200, "hundreds of objects must be compared: {summary}");
    assert_eq!(summary["objects_old"], summary["objects_new"]);
    assert_eq!(report["objects"].as_array().map(Vec::len), Some(0));
    assert_eq!(report["incomplete"].as_array().map(Vec::len), Some(0), "{}", report["incomplete"]);

    // The noise sources are really there, and really handled: kube-root-ca.crt per namespace
    // (compared by presence), allocated clusterIPs/nodePorts (Services compared), the Widget CRD
    // and its custom resources, derived types excluded on purpose.
    let kind = |group: &str, kind: &str| -> Value {
        report["kinds"]
            .as_array()
            .and_then(|ks| ks.iter().find(|k| k["group"] == group && k["kind"] == kind).cloned())
            .unwrap_or(Value::Null)
    };
    assert!(kind("", "ConfigMap")["equal"].as_u64().unwrap_or(0) >= 3 * SHARED_NAMESPACES.len() as u64);
    assert!(kind("", "Service")["equal"].as_u64().unwrap_or(0) >= 2 * SHARED_NAMESPACES.len() as u64);
    assert_eq!(kind("parity.example.com", "Widget")["equal"].as_u64(), Some(2 * SHARED_NAMESPACES.len() as u64));
    assert!(kind("apps", "Deployment")["equal"].as_u64().unwrap_or(0) >= 2 * SHARED_NAMESPACES.len() as u64);
    let excluded: Vec<String> = report["excluded"]
        .as_array()
        .expect("excluded")
        .iter()
        .map(|e| e["kind"].as_str().unwrap_or_default().to_string())
        .collect();
    for k in ["Event", "Lease"] {
        assert!(excluded.iter().any(|e| e == k), "{k} must be excluded on purpose: {excluded:?}");
    }
    // Endpoints and slices the controllers derive from Services with a selector are left out
    // object by object (those of a Service without a selector are the team's and compared).
    for (group, k) in [("discovery.k8s.io", "EndpointSlice"), ("", "Endpoints")] {
        let kind = kind(group, k);
        assert!(kind["excluded_old"].as_u64().unwrap_or(0) >= SHARED_NAMESPACES.len() as u64, "{kind}");
        assert_eq!(kind["changed"], 0, "{kind}");
    }
}

#[test]
fn drift_on_green_is_reported_exactly() {
    require_clusters();
    let _g = serial();
    let ns = TestNamespace::new("e2e-drift", &["blue", "green"]);
    populate(&ns.name, &["blue", "green"]);
    let n = ns.name.as_str();
    kubectl("green", &["-n", n, "scale", "deployment/web", "--replicas=3"]);
    kubectl("green", &["-n", n, "set", "env", "deployment/web", "LOG_LEVEL=debug"]);
    kubectl("green", &["-n", n, "delete", "configmap", "routing"]);
    kubectl("green", &["-n", n, "create", "rolebinding", "extra-admin", "--clusterrole=admin", "--user=mallory"]);
    kubectl(
        "green",
        &["-n", n, "patch", "secret", "db-credentials", "-p", r#"{"stringData":{"password":"changed-value"}}"#],
    );
    kubectl(
        "green",
        &["-n", n, "patch", "widgets.parity.example.com", "alpha", "--type=merge", "-p", r#"{"spec":{"size":4}}"#],
    );

    let run = run_kparity(&["diff", "blue", "green", "-n", n, "-o", "json"]);
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    let report = run.json();
    assert_eq!(report["verdict"], "different");
    let mut got = objects_with_change(&report);
    got.sort();
    let mut expected = vec![
        ("ConfigMap".to_string(), "routing".to_string(), "missing".to_string()),
        ("Deployment".into(), "web".into(), "changed".into()),
        ("RoleBinding".into(), "extra-admin".into(), "extra".into()),
        ("Secret".into(), "db-credentials".into(), "changed".into()),
        ("Widget".into(), "alpha".into(), "changed".into()),
    ];
    expected.sort();
    assert_eq!(got, expected, "{:#}", report["objects"]);

    let mut deploy = field_paths(&report, "Deployment", "web");
    deploy.sort();
    assert_eq!(deploy, vec!["spec.replicas", "spec.template.spec.containers[name=web].env[name=LOG_LEVEL].value"]);
    assert_eq!(field_paths(&report, "Widget", "alpha"), vec!["spec.size"]);
    assert_eq!(field_paths(&report, "Secret", "db-credentials"), vec!["data.password"]);

    // The Secret's difference carries no value, not even a digest.
    let secret = report["objects"].as_array().unwrap().iter().find(|o| o["key"]["kind"] == "Secret").unwrap();
    let text = secret.to_string();
    assert!(
        !text.contains("changed-value") && !text.contains("s3cr3t-value") && !text.contains("hmac-sha256"),
        "{text}"
    );
    assert_eq!(secret["fields"][0]["hidden"], true);
    let patch = secret["patch"].as_array().expect("patch");
    assert_eq!(patch.len(), 1);
    assert_eq!(patch[0]["op"], "replace");
    assert_eq!(patch[0]["path"], "/data/password");
    assert_eq!(patch[0]["value"], "(value hidden)");

    // Patches are RFC 6902 paths into the normalized objects.
    let deploy_obj = report["objects"].as_array().unwrap().iter().find(|o| o["key"]["kind"] == "Deployment").unwrap();
    let paths: Vec<&str> =
        deploy_obj["patch"].as_array().unwrap().iter().map(|op| op["path"].as_str().unwrap()).collect();
    assert!(paths.contains(&"/spec/replicas"), "{paths:?}");
    // env keeps its declared order (MODE, LOG_LEVEL): order is meaning, so nothing sorts it.
    assert!(paths.contains(&"/spec/template/spec/containers/0/env/1/value"), "{paths:?}");

    // The table names the same drift for a human.
    let table = run_kparity(&["diff", "blue", "green", "-n", n]);
    assert_eq!(table.code, 1);
    assert!(table.stdout.contains("spec.replicas: 2 → 3"), "{}", table.stdout);
    assert!(table.stdout.contains("data.password: changed (value hidden)"), "{}", table.stdout);
    assert!(table.stdout.contains("- ConfigMap e2e-drift/routing"), "{}", table.stdout);
}

/// Deletes the broken APIService however the test ends.
struct BrokenApiService(&'static str);
impl Drop for BrokenApiService {
    fn drop(&mut self) {
        let _ = kubectl_raw(self.0, &["delete", "apiservice", "v1.broken.example.com", "--ignore-not-found"]);
    }
}

#[test]
fn an_apiservice_without_backend_makes_the_verdict_incomplete() {
    require_clusters();
    let _g = serial();
    let ns = TestNamespace::new("e2e-broken-api", &["blue", "green"]);
    populate(&ns.name, &["blue", "green"]);
    let _cleanup = BrokenApiService("green");
    apply(
        "green",
        r#"apiVersion: apiregistration.k8s.io/v1
kind: APIService
metadata: {name: v1.broken.example.com}
spec:
  group: broken.example.com
  version: v1
  groupPriorityMinimum: 100
  versionPriority: 100
  insecureSkipTLSVerify: true
  service: {name: nothing-here, namespace: default}
"#,
        &[],
    );
    std::thread::sleep(Duration::from_secs(2));
    let run = run_kparity(&["diff", "blue", "green", "-o", "json", "--timeout", "20s"]);
    assert_eq!(run.code, 2, "{}\n{}", run.stdout, run.stderr);
    assert!(run.elapsed < Duration::from_secs(40), "took {:?}", run.elapsed);
    let report = run.json();
    assert_eq!(report["verdict"], "incomplete");
    let incomplete = report["incomplete"].as_array().expect("incomplete");
    assert!(
        incomplete.iter().any(|i| i["side"] == "new" && i["group"] == "broken.example.com" && i["version"] == "v1"),
        "{incomplete:#?}"
    );
    assert!(
        incomplete.iter().all(|i| i["group"] == "broken.example.com"),
        "only the broken group is unread: {incomplete:#?}"
    );
    // Everything else was still compared.
    assert!(report["summary"]["objects_old"].as_u64().unwrap_or(0) > 50, "{}", report["summary"]);
    let table = run_kparity(&["diff", "blue", "green", "--timeout", "20s"]);
    assert_eq!(table.code, 2);
    assert!(table.stdout.contains("INCOMPLETE"), "{}", table.stdout);
    assert!(table.stdout.contains("broken.example.com/v1"), "{}", table.stdout);
}

#[test]
fn forbidden_secrets_make_the_verdict_incomplete_not_zero() {
    require_clusters();
    let _g = serial();
    let ns = TestNamespace::new("e2e-viewer", &["blue"]);
    populate(&ns.name, &["blue"]);
    let run = run_kparity(&["diff", "blue-viewer", "blue", "-o", "json"]);
    assert_eq!(run.code, 2, "{}\n{}", run.stdout, run.stderr);
    let report = run.json();
    assert_eq!(report["verdict"], "incomplete");
    let incomplete = report["incomplete"].as_array().expect("incomplete");
    let secrets = incomplete.iter().find(|i| i["resource"] == "secrets").unwrap_or_else(|| panic!("{incomplete:#?}"));
    assert_eq!(secrets["side"], "old");
    assert_eq!(secrets["reason"], "forbidden");
    // Nothing claims zero secrets on the unread side.
    let kind = report["kinds"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kind"] == "Secret" && k["group"] == "")
        .cloned()
        .unwrap();
    assert!(kind["old"].is_null(), "{kind}");
    let table = run_kparity(&["diff", "blue-viewer", "blue"]);
    let row = table.stdout.lines().find(|l| l.contains("│ Secret ")).unwrap_or_else(|| panic!("{}", table.stdout));
    assert!(row.contains(" ? "), "{row}");
}

#[test]
fn an_unreachable_context_fails_fast_with_one_clear_line() {
    let kc = std::fs::read_to_string(kubeconfig()).expect("kubeconfig (run tests/cluster/up.sh)");
    // Same credentials, a closed loopback port.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut doc: serde_yaml_like::Doc = serde_yaml_like::parse(&kc);
    doc.retarget("blue", &format!("https://127.0.0.1:{port}"));
    let (_dir, path) = temp_file("kubeconfig", &doc.text);
    let run = run_cmd(kparity().env("KUBECONFIG", &path).args(["diff", "blue", "green"]));
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.elapsed < Duration::from_secs(15), "took {:?}", run.elapsed);
    let first = run.stderr.lines().next().unwrap_or_default();
    assert!(first.starts_with("error: ") && first.contains("\"blue\"") && first.contains("reach"), "{}", run.stderr);
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
}

#[test]
fn bad_kubeconfigs_and_contexts_are_clear_errors() {
    let cases: Vec<(&str, Option<&str>, Vec<&str>, &str)> = vec![
        ("unknown context", None, vec!["diff", "nope", "green"], "context \"nope\" not found"),
        ("missing kubeconfig", Some("/nonexistent/kubeconfig"), vec!["diff", "blue", "green"], "does not exist"),
        ("malformed kubeconfig", Some("MALFORMED"), vec!["diff", "blue", "green"], "failed to parse kubeconfig"),
    ];
    for (what, kc, args, expected) in cases {
        let (_dir, bad) = temp_file("bad-kubeconfig", "apiVersion: v1\nclusters: [\n  - {name: x\n");
        let mut cmd = kparity();
        match kc {
            Some("MALFORMED") => cmd.env("KUBECONFIG", &bad),
            Some(p) => cmd.env("KUBECONFIG", p),
            None => cmd.env("KUBECONFIG", kubeconfig()),
        };
        let run = run_cmd(cmd.args(&args));
        assert_eq!(run.code, 2, "{what}: {}", run.stderr);
        assert!(run.stderr.contains(expected), "{what}: {}", run.stderr);
        assert!(run.stderr.lines().any(|l| l.starts_with("hint: ")), "{what}: a hint is expected: {}", run.stderr);
        assert!(!run.stderr.contains("panicked") && !run.stderr.contains("RUST_BACKTRACE"), "{what}: {}", run.stderr);
    }
}

#[test]
fn a_planted_secret_value_appears_in_no_output() {
    require_clusters();
    let _g = serial();
    const CANARY: &str = "kparity-canary-7f3a9c1e";
    const CANARY_B64: &str = "a3Bhcml0eS1jYW5hcnktN2YzYTljMWU="; // base64 of CANARY
    let ns = TestNamespace::new("e2e-canary", &["blue", "green"]);
    let secret = |value: &str| {
        format!(
            "apiVersion: v1\nkind: Secret\nmetadata: {{name: canary, namespace: e2e-canary}}\nstringData: {{token: \"{value}\"}}\n"
        )
    };
    // Applied with kubectl apply, so last-applied-configuration embeds the value too.
    apply("blue", &secret(CANARY), &[]);
    apply("green", &secret("something-else"), &[]);
    for format in ["table", "json", "markdown"] {
        let run =
            run_cmd(kparity().env("RUST_LOG", "trace").args(["diff", "blue", "green", "-n", &ns.name, "-o", format]));
        assert_eq!(run.code, 1, "{format}: {}", run.stderr);
        for out in [&run.stdout, &run.stderr] {
            assert!(!out.contains(CANARY) && !out.contains(CANARY_B64), "{format}: the canary leaked");
        }
        assert!(run.stdout.contains("canary"), "{format}: the Secret difference must still be reported");
    }
}

/// Just enough kubeconfig editing for tests, without a YAML dependency in the test crate.
mod serde_yaml_like {
    pub struct Doc {
        pub text: String,
    }

    pub fn parse(text: &str) -> Doc {
        Doc { text: text.to_string() }
    }

    impl Doc {
        /// Points the cluster named `cluster` at `server`.
        pub fn retarget(&mut self, cluster: &str, server: &str) {
            let mut out = Vec::new();
            let mut in_cluster = false;
            for line in self.text.lines() {
                if line.starts_with("- name: ") {
                    in_cluster = line.trim_start_matches("- name: ").trim() == cluster;
                }
                if in_cluster && line.trim_start().starts_with("server: ") {
                    out.push(format!("    server: {server}"));
                    in_cluster = false;
                    continue;
                }
                out.push(line.to_string());
            }
            self.text = out.join("\n");
        }
    }
}
