//! Real Helm (issue 14): the vendored podinfo chart (tests/fixtures/charts/podinfo, a real public
//! chart) installed by the real `helm` (tests/cluster/build.sh tools) into blue and green. The
//! install times in the release Secrets never show; the workload compares equal, and of the
//! release only the test hooks differ (podinfo names them with `randAlphaNum`); a different value
//! in one side's values file is found, in the workload and in the release's values and manifest.
//! Fails loudly when the clusters are down or helm is not built.

mod common;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use common::*;
use serde_json::Value;

const NS: &str = "helm-shop";
const RELEASE: &str = "podinfo";
const RELEASE_SECRET: &str = "sh.helm.release.v1.podinfo.v1";

fn helm_bin() -> PathBuf {
    root().join("target/test-cluster/bin/helm")
}

/// `helm` against one test cluster, with its caches and config inside this checkout.
fn helm(ctx: &str, args: &[&str]) -> String {
    let bin = helm_bin();
    assert!(bin.exists(), "helm is not built ({}): run tests/cluster/build.sh tools", bin.display());
    let home = root().join("target/test-cluster/helm");
    let out = Command::new(&bin)
        .env("HELM_CACHE_HOME", home.join("cache"))
        .env("HELM_CONFIG_HOME", home.join("config"))
        .env("HELM_DATA_HOME", home.join("data"))
        .arg("--kubeconfig")
        .arg(kubeconfig())
        .args(["--kube-context", ctx])
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", bin.display()));
    assert!(
        out.status.success(),
        "helm --kube-context {ctx} {} failed:\n{}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn install(ctx: &str, message: &str) {
    let values = format!("replicaCount: 2\nui:\n  message: \"{message}\"\n");
    let (_dir, file) = temp_file("values.yaml", &values);
    let chart = root().join("tests/fixtures/charts/podinfo");
    helm(ctx, &["install", RELEASE, path_str(&chart), "-n", NS, "-f", path_str(&file)]);
}

fn changes(report: &Value) -> BTreeSet<String> {
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
                    out.insert(format!("{key} {}", f["path"].as_str().unwrap_or_default()));
                }
            }
            other => {
                out.insert(format!("{key} {other}"));
            }
        }
    }
    out
}

fn modified_at(ctx: &str) -> String {
    kubectl(ctx, &["-n", NS, "get", "secret", RELEASE_SECRET, "-o", "jsonpath={.metadata.labels.modifiedAt}"])
}

#[test]
fn installs_at_different_times_differ_only_by_what_the_chart_renders_randomly_and_a_value_change_is_found() {
    require_clusters();
    let _g = serial();
    let _ns = TestNamespace::new(NS, &["blue", "green"]);
    install("blue", "hello from the chart");
    // Install times are recorded to the second (labels) and nanosecond (in the release).
    std::thread::sleep(Duration::from_millis(1100));
    install("green", "hello from the chart");
    std::thread::sleep(Duration::from_secs(2));

    // The install times really differ between the two sides...
    assert_ne!(modified_at("blue"), modified_at("green"));
    let raw = |ctx: &str| kubectl(ctx, &["-n", NS, "get", "secret", RELEASE_SECRET, "-o", "jsonpath={.data.release}"]);
    assert_ne!(raw("blue"), raw("green"), "the stored releases differ (by their install time)");

    // ...and nothing of the release differs but its hooks: podinfo's test hooks are named with
    // `randAlphaNum 5` (templates/tests/*.yaml), so every render stores differently named test
    // Pods: a real difference of what is stored, which kparity reports rather than hides. The
    // chart, the values, the manifest, the status and the revision compare equal although the
    // install times differ.
    let run = run_kparity(&["diff", "blue", "green", "-n", NS, "-o", "json"]);
    let report = run.json();
    let hooks_only: BTreeSet<String> = [format!("Secret {NS}/{RELEASE_SECRET} data[\"release.hooks\"]")].into();
    assert_eq!(changes(&report), hooks_only, "{}", run.stderr);
    let secrets = report["kinds"]
        .as_array()
        .and_then(|ks| ks.iter().find(|k| k["group"] == "" && k["kind"] == "Secret"))
        .cloned()
        .unwrap_or(Value::Null);
    assert_eq!(
        (secrets["old"].as_u64(), secrets["new"].as_u64()),
        (Some(1), Some(1)),
        "the release Secret is read on both sides: {secrets}"
    );
    assert!(
        report["kinds"].as_array().expect("kinds").iter().any(|k| k["kind"] == "Deployment" && k["equal"] == 1),
        "{}",
        report["kinds"]
    );

    // Another value in green's values file: reinstalled (revision 1 again), found in the
    // workload and in the release's values and manifest, and nowhere else.
    helm("green", &["uninstall", RELEASE, "-n", NS, "--wait"]);
    wait_for("the release Secret gone from green", Duration::from_secs(60), || {
        kubectl_raw("green", &["-n", NS, "get", "secret", RELEASE_SECRET]).status.code() != Some(0)
    });
    install("green", "hello from green");
    std::thread::sleep(Duration::from_secs(2));
    let run = run_kparity(&["diff", "blue", "green", "-n", NS, "-o", "json"]);
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    let expected: BTreeSet<String> = [
        "Deployment helm-shop/podinfo spec.template.spec.containers[name=podinfo].env[name=PODINFO_UI_MESSAGE].value",
        "Secret helm-shop/sh.helm.release.v1.podinfo.v1 data[\"release.config\"]",
        "Secret helm-shop/sh.helm.release.v1.podinfo.v1 data[\"release.manifest\"]",
        "Secret helm-shop/sh.helm.release.v1.podinfo.v1 data[\"release.hooks\"]",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let got = changes(&run.json());
    assert_eq!(
        got,
        expected,
        "\nunexpected: {:#?}\nnot found: {:#?}",
        got.difference(&expected),
        expected.difference(&got)
    );
    // The release's parts are compared as digests, never in clear.
    let report = run.json();
    let secret = report["objects"]
        .as_array()
        .expect("objects")
        .iter()
        .find(|o| o["key"]["name"] == RELEASE_SECRET)
        .expect("the release Secret is reported");
    for f in secret["fields"].as_array().expect("fields") {
        assert!(!f.to_string().contains("hello from"), "a release part in clear: {f}");
    }
}
