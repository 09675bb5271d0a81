//! Explaining differences end to end against the real clusters: who wrote each changed field
//! (kubectl patch, kubectl scale, server-side apply, the HPA controller) on live and archive
//! diffs alike; the HPA rule accepting controller-made replica counts while a manual scale, or
//! anyone else's replicas, is reported; rule counts that add up to what was read; `kparity
//! explain` on an equal, a changed, a skipped, a missing and an absent object; the HTML report
//! rendered in a real headless Chromium.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::*;
use serde_json::Value;

const KEY: &str = "explain-key-0123456789abcdef-0123456789abcdef";

/// The same on both sides except what the test then changes with kubectl or lets the HPA change.
fn manifests(ns: &str, side: &str) -> String {
    // `auto` starts below the HPA's minimum on blue (the HPA raises it to 2 without needing
    // metrics) and inside the bounds on green (the HPA has no metrics, so it leaves it at 3).
    let auto = if side == "blue" { 1 } else { 3 };
    let applied = if side == "blue" { 1 } else { 2 };
    let other_max = if side == "blue" { 5 } else { 6 };
    let mut out = format!(
        r#"apiVersion: v1
kind: ConfigMap
metadata: {{name: same, namespace: {ns}}}
data: {{a: "1"}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {{name: web, namespace: {ns}, labels: {{app: web}}}}
spec:
  replicas: 1
  selector: {{matchLabels: {{app: web}}}}
  template:
    metadata: {{labels: {{app: web}}}}
    spec: {{containers: [{{name: app, image: "registry.example/web:1"}}]}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {{name: manual, namespace: {ns}}}
spec:
  replicas: 1
  selector: {{matchLabels: {{app: manual}}}}
  template:
    metadata: {{labels: {{app: manual}}}}
    spec: {{containers: [{{name: app, image: "registry.example/manual:1"}}]}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {{name: auto, namespace: {ns}}}
spec:
  replicas: {auto}
  selector: {{matchLabels: {{app: auto}}}}
  template:
    metadata: {{labels: {{app: auto}}}}
    spec: {{containers: [{{name: app, image: "registry.example/auto:1"}}]}}
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {{name: auto, namespace: {ns}}}
spec:
  scaleTargetRef: {{apiVersion: apps/v1, kind: Deployment, name: auto}}
  minReplicas: 2
  maxReplicas: 5
  metrics: [{{type: Resource, resource: {{name: cpu, target: {{type: Utilization, averageUtilization: 80}}}}}}]
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {{name: other, namespace: {ns}}}
spec:
  scaleTargetRef: {{apiVersion: apps/v1, kind: Deployment, name: applied}}
  minReplicas: 1
  maxReplicas: {other_max}
  metrics: [{{type: Resource, resource: {{name: cpu, target: {{type: Utilization, averageUtilization: 80}}}}}}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {{name: applied, namespace: {ns}}}
spec:
  replicas: {applied}
  selector: {{matchLabels: {{app: applied}}}}
  template:
    metadata: {{labels: {{app: applied}}}}
    spec: {{containers: [{{name: app, image: "registry.example/applied:1"}}]}}
"#
    );
    if side == "blue" {
        out.push_str(&format!(
            "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {{name: only-blue, namespace: {ns}}}\ndata: {{x: \"1\"}}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {{name: ssa, namespace: {ns}}}\ndata: {{mode: a}}\n"
        ));
    }
    out
}

fn object<'a>(report: &'a Value, kind: &str, name: &str) -> &'a Value {
    report["objects"]
        .as_array()
        .expect("objects")
        .iter()
        .find(|o| o["key"]["kind"] == kind && o["key"]["name"] == name)
        .unwrap_or_else(|| panic!("no difference reported for {kind} {name}: {:#}", report["objects"]))
}

fn field<'a>(report: &'a Value, kind: &str, name: &str, path: &str) -> &'a Value {
    object(report, kind, name)["fields"]
        .as_array()
        .expect("fields")
        .iter()
        .find(|f| f["path"] == path)
        .unwrap_or_else(|| panic!("no field {path} in {kind} {name}: {:#}", object(report, kind, name)))
}

/// `(manager, operation, subresource)` of each writer on one side.
fn writers(field: &Value, side: &str) -> Vec<(String, String, Option<String>)> {
    field["written_by"][side]
        .as_array()
        .unwrap_or_else(|| panic!("no written_by.{side}: {field:#}"))
        .iter()
        .map(|w| {
            // The API server records no time for writes through `scale` (measured on 1.37): the
            // time is null there and an RFC 3339 instant everywhere else.
            if w["subresource"] == "scale" {
                assert!(w["time"].is_null(), "{w}");
            } else {
                assert!(w["time"].as_str().is_some_and(|t| t.ends_with('Z')), "a write has its time: {w}");
            }
            (
                w["manager"].as_str().unwrap_or_default().to_string(),
                w["operation"].as_str().unwrap_or_default().to_string(),
                w["subresource"].as_str().map(str::to_string),
            )
        })
        .collect()
}

fn w(manager: &str, op: &str, sub: Option<&str>) -> (String, String, Option<String>) {
    (manager.into(), op.into(), sub.map(str::to_string))
}

/// The attribution every diff of the scenario must show, live or from archives.
fn check_attribution(report: &Value) {
    // Server-side apply on green, client-side apply on blue.
    let ssa = field(report, "ConfigMap", "ssa", "data.mode");
    assert_eq!(writers(ssa, "old"), [w("kubectl-client-side-apply", "Update", None)]);
    assert_eq!(writers(ssa, "new"), [w("kubectl", "Apply", None)]);
    // kubectl patch on green added a label; on blue, where it is absent, the nearest owned
    // ancestor is the labels map, which the client-side apply owns (`.`).
    let tier = field(report, "Deployment", "web", "metadata.labels.tier");
    assert_eq!(writers(tier, "old"), [w("kubectl-client-side-apply", "Update", None)]);
    assert_eq!(writers(tier, "new"), [w("kubectl-patch", "Update", None)]);
    // kubectl scale on green: reported, naming who scaled.
    let manual = field(report, "Deployment", "manual", "spec.replicas");
    assert_eq!(writers(manual, "old"), [w("kubectl-client-side-apply", "Update", None)]);
    assert_eq!(writers(manual, "new"), [w("kubectl", "Update", Some("scale"))]);
    assert!(manual["waived"].is_null(), "a manual scale is reported: {manual:#}");
    // The HPA (kube-controller-manager through scale) on blue: accepted as controller state.
    let auto = field(report, "Deployment", "auto", "spec.replicas");
    assert_eq!((auto["old"].as_u64(), auto["new"].as_u64()), (Some(2), Some(3)), "{auto:#}");
    assert_eq!(writers(auto, "old"), [w("kube-controller-manager", "Update", Some("scale"))]);
    assert!(auto["waived"].as_str().is_some_and(|r| r.contains("hpa-replicas")), "{auto:#}");
    // What the rule must not hide: the HPA's own bounds, and replicas anyone else wrote.
    let max = field(report, "HorizontalPodAutoscaler", "other", "spec.maxReplicas");
    assert!(max["waived"].is_null(), "{max:#}");
    let applied = field(report, "Deployment", "applied", "spec.replicas");
    assert!(applied["waived"].is_null(), "{applied:#}");
    assert_eq!(writers(applied, "new"), [w("kubectl-client-side-apply", "Update", None)]);
    // A missing object carries its managers.
    let missing = object(report, "ConfigMap", "only-blue");
    assert_eq!(missing["change"], "missing");
    assert!(
        missing["written_by"]["old"]
            .as_array()
            .is_some_and(|a| a.iter().any(|m| m["manager"] == "kubectl-client-side-apply")),
        "{missing:#}"
    );
    // The rule that accepted it is accounted for.
    let hpa_rule = report["rules"].as_array().unwrap().iter().find(|r| r["name"] == "hpa-replicas").expect("hpa rule");
    assert_eq!(hpa_rule["fields_dropped"]["old"], 1, "{hpa_rule}");
}

/// Objects read on each side equal objects compared plus objects skipped by rules, per kind and
/// in total, and the rules' skip counts are the kinds' excluded counts.
fn check_counts_add_up(report: &Value) {
    for side in ["old", "new"] {
        let kinds = report["kinds"].as_array().expect("kinds");
        let sum = |f: &str| kinds.iter().map(|k| k[f].as_u64().unwrap_or(0)).sum::<u64>();
        let read = report["coverage"][side]["objects"].as_u64().expect("coverage objects");
        assert_eq!(sum(&format!("read_{side}")), read, "{side}: kinds' read counts vs coverage");
        assert_eq!(sum(side) + sum(&format!("excluded_{side}")), read, "{side}: compared + excluded vs read");
        let skipped: u64 =
            report["rules"].as_array().unwrap().iter().map(|r| r["skipped"][side].as_u64().unwrap()).sum();
        assert_eq!(skipped, sum(&format!("excluded_{side}")), "{side}: rules' skips vs kinds' exclusions");
        assert!(skipped > 0, "{side}: the scenario has ReplicaSets and Pods skipped by rules");
        for k in kinds {
            let r = k[&format!("read_{side}")].as_u64().unwrap();
            assert_eq!(r, k[side].as_u64().unwrap() + k[&format!("excluded_{side}")].as_u64().unwrap(), "{k}");
        }
    }
}

fn deployment_replicas(ctx: &str, ns: &str, name: &str) -> String {
    kubectl(ctx, &["-n", ns, "get", "deployment", name, "-o", "jsonpath={.spec.replicas}"])
}

#[test]
fn differences_are_attributed_accepted_by_principle_and_explained() {
    require_clusters();
    let _g = serial();
    let ns = TestNamespace::new("e2e-explain", &["blue", "green"]);
    let n = ns.name.as_str();
    apply("blue", &manifests(n, "blue"), &[]);
    apply("green", &manifests(n, "green"), &[]);
    apply(
        "green",
        &format!("apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: ssa, namespace: {n}}}\ndata: {{mode: b}}\n"),
        &["--server-side"],
    );
    kubectl(
        "green",
        &["-n", n, "patch", "deployment", "web", "--type=merge", "-p", r#"{"metadata":{"labels":{"tier":"gold"}}}"#],
    );
    kubectl("green", &["-n", n, "scale", "deployment", "manual", "--replicas=4"]);
    // The HPA controller raises blue's `auto` to its minimum (sync period 15 s).
    wait_for("the HPA to scale blue's auto deployment", Duration::from_secs(90), || {
        deployment_replicas("blue", n, "auto") == "2"
    });
    assert_eq!(deployment_replicas("green", n, "auto"), "3", "green's auto is within its HPA's bounds");
    // Let the controllers derive what they derive (ReplicaSets, Pods).
    std::thread::sleep(Duration::from_secs(3));

    let live = run_cmd(kparity().env("KPARITY_SECRET_KEY", KEY).args(["diff", "blue", "green", "-n", n, "-o", "json"]));
    assert_eq!(live.code, 1, "{}\n{}", live.stdout, live.stderr);
    let live_report = live.json();
    check_attribution(&live_report);
    check_counts_add_up(&live_report);

    // The table names who wrote what, compactly.
    let table = run_cmd(kparity().env("KPARITY_SECRET_KEY", KEY).args(["diff", "blue", "green", "-n", n]));
    assert!(
        table.stdout.lines().any(|l| l.contains("spec.replicas: 1 → 4") && l.contains("new: kubectl (Update, scale)")),
        "{}",
        table.stdout
    );
    assert!(table.stdout.contains("Rules that acted"), "{}", table.stdout);
    assert!(
        table.stdout.contains("hpa-replicas (profile core, accept): fields accepted old 1, new 0"),
        "{}",
        table.stdout
    );

    // Archives attribute like the live clusters.
    let dir = tempfile::tempdir().expect("tempdir");
    let (blue_a, green_a) = (dir.path().join("blue.kparity"), dir.path().join("green.kparity"));
    for (ctx, path) in [("blue", &blue_a), ("green", &green_a)] {
        let s =
            run_cmd(kparity().env("KPARITY_SECRET_KEY", KEY).args(["snapshot", ctx, "-o", path_str(path), "-n", n]));
        assert_eq!(s.code, 0, "{}", s.stderr);
    }
    let archived = run_cmd(kparity().env("KPARITY_SECRET_KEY", KEY).args([
        "diff",
        path_str(&blue_a),
        path_str(&green_a),
        "-n",
        n,
        "-o",
        "json",
    ]));
    assert_eq!(archived.code, 1, "{}", archived.stderr);
    let archived_report = archived.json();
    check_attribution(&archived_report);
    check_counts_add_up(&archived_report);
    assert_eq!(archived_report["objects"], live_report["objects"], "an archive diff attributes like a live one");

    // --show-suppressed: what each rule removed from each object in scope.
    let shown = run_cmd(kparity().env("KPARITY_SECRET_KEY", KEY).args([
        "diff",
        "blue",
        "green",
        "-n",
        n,
        "--kinds",
        "ConfigMap",
        "--show-suppressed",
        "-o",
        "json",
    ]));
    let suppressed = shown.json()["suppressed"].clone();
    let same = suppressed.as_array().expect("suppressed").iter().find(|s| s["key"]["name"] == "same").expect("same");
    let steps = same["old"].as_array().unwrap();
    assert!(
        steps.iter().any(|s| s["rule"] == "server-assigned-metadata"
            && s["paths"].as_array().unwrap().iter().any(|p| p == "/metadata/uid")),
        "{same:#}"
    );

    // explain: equal, changed, skipped, missing, absent, live and from archives.
    let explain = |old: &str, new: &str, target: &str| {
        run_cmd(kparity().env("KPARITY_SECRET_KEY", KEY).args(["explain", old, new, target]))
    };
    let equal = explain("blue", "green", &format!("ConfigMap/{n}/same"));
    assert_eq!(equal.code, 0, "{}{}", equal.stdout, equal.stderr);
    assert!(equal.stdout.contains("EQUAL"), "{}", equal.stdout);
    assert!(
        equal.stdout.contains("server-assigned-metadata (profile core, drop): dropped: /metadata/uid"),
        "{}",
        equal.stdout
    );
    for (old, new) in [("blue", "green"), (path_str(&blue_a), path_str(&green_a))] {
        let changed = explain(old, new, &format!("Deployment.apps/{n}/manual"));
        assert_eq!(changed.code, 1, "{}{}", changed.stdout, changed.stderr);
        assert!(
            changed.stdout.contains("spec.replicas: 1 → 4   old: kubectl-client-side-apply (Update)"),
            "{}",
            changed.stdout
        );
        assert!(changed.stdout.contains("-- as read --") && changed.stdout.contains("-- as compared --"));
    }
    let rs =
        kubectl("blue", &["-n", n, "get", "replicasets", "-l", "app=web", "-o", "jsonpath={.items[0].metadata.name}"]);
    let skipped = explain("blue", "green", &format!("ReplicaSet.apps/{n}/{rs}"));
    assert_eq!(skipped.code, 0, "{}{}", skipped.stdout, skipped.stderr);
    assert!(skipped.stdout.contains("NOT COMPARED: skipped by rule"), "{}", skipped.stdout);
    let missing = explain("blue", "green", &format!("ConfigMap/{n}/only-blue"));
    assert_eq!(missing.code, 1, "{}{}", missing.stdout, missing.stderr);
    assert!(missing.stdout.contains("DIFFERENT: missing in new"), "{}", missing.stdout);
    assert!(missing.stdout.contains("written by old: kubectl-client-side-apply (Update)"), "{}", missing.stdout);
    let absent = explain("blue", "green", &format!("ConfigMap/{n}/nowhere"));
    assert_eq!(absent.code, 2, "{}", absent.stderr);
    let lines: Vec<&str> = absent.stderr.lines().collect();
    assert!(lines.len() == 2 && lines[0].starts_with("error: ") && lines[1].starts_with("hint: "), "{}", absent.stderr);

    // The README's screenshot is this scenario's HTML report, regenerated on request.
    if let Some(out) = std::env::var_os("KPARITY_README_SCREENSHOT") {
        let html =
            run_cmd(kparity().env("KPARITY_SECRET_KEY", KEY).args(["diff", "blue", "green", "-n", n, "-o", "html"]));
        let page = dir.path().join("report.html");
        std::fs::write(&page, &html.stdout).expect("write page");
        headless(
            &chromium(),
            &[&format!("--screenshot={}", Path::new(&out).display()), "--window-size=1280,1500", "--hide-scrollbars"],
            &page,
        );
    }
}

/// Where Chromium is, installing it with the project's script when missing (never skipped).
fn chromium() -> std::path::PathBuf {
    let found = || which("chromium");
    if found().is_none() {
        let status =
            Command::new(root().join("tests/install-test-tools.sh")).status().expect("run install-test-tools.sh");
        assert!(status.success(), "tests/install-test-tools.sh failed: chromium is needed to render the HTML report");
    }
    found().expect("chromium on PATH after tests/install-test-tools.sh")
}

fn which(name: &str) -> Option<std::path::PathBuf> {
    std::env::var_os("PATH")?.to_str()?.split(':').map(|d| Path::new(d).join(name)).find(|p| p.is_file())
}

fn headless(chromium: &Path, args: &[&str], page: &Path) -> String {
    let profile = tempfile::tempdir().expect("profile dir");
    let out = Command::new(chromium)
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-extensions"])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(args)
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("run chromium");
    assert!(out.status.success(), "chromium failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn the_html_report_renders_in_chromium_and_hostile_content_stays_text() {
    require_clusters();
    let browser = chromium();
    let _g = serial();
    let ns = TestNamespace::new("e2e-explain-html", &["blue", "green"]);
    let n = ns.name.as_str();
    let hostile = "<script>document.title='pwned'</script><img src=x onerror=\"document.title='pwned'\">";
    for (ctx, value) in [("blue", "calm"), ("green", hostile)] {
        let yaml = format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: page\n  namespace: {n}\n  annotations: {{note: {value:?}}}\ndata:\n  v: {value:?}\n"
        );
        apply(ctx, &yaml, &[]);
    }
    apply("blue", &format!("apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: gone, namespace: {n}}}\n"), &[]);
    let run = run_kparity(&["diff", "blue", "green", "-n", n, "-o", "html"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let dir = tempfile::tempdir().expect("tempdir");
    let page = dir.path().join("report.html");
    std::fs::write(&page, &run.stdout).expect("write page");

    let dom = headless(&browser, &["--dump-dom"], &page);
    // Rendered, with its content, and no script ran: the title is the report's.
    assert!(dom.contains("<title>kparity: different</title>"), "{dom}");
    assert!(dom.contains("DIFFERENT: 2 unexplained"), "{dom}");
    assert!(dom.contains("<th>Unexplained</th>"), "{dom}");
    assert!(dom.contains("ConfigMap e2e-explain-html/page"), "{dom}");
    assert!(dom.contains("kubectl-client-side-apply (Update)"), "attribution in the page: {dom}");
    assert!(!dom.contains("pwned</title>") && !dom.contains("<script") && !dom.contains("<img"), "{dom}");
    assert!(dom.contains("&lt;script&gt;document.title="), "the hostile value shows as text: {dom}");

    let shot = dir.path().join("report.png");
    headless(&browser, &[&format!("--screenshot={}", shot.display()), "--window-size=1280,1400"], &page);
    let png = std::fs::read(&shot).expect("screenshot written");
    assert!(png.starts_with(b"\x89PNG") && png.len() > 10_000, "a real screenshot: {} bytes", png.len());
}
