//! Real Argo CD (issue 14): the application controller and repo server of Argo CD v2.14 run out
//! of cluster (tests/cluster/argocd-sync.sh), with Redis and a `git daemon` serving the fixture
//! application (tests/fixtures/argocd/guestbook), and sync it into `blue` and `green` through two
//! Applications named per destination (guestbook-blue, guestbook-green), the way an
//! ApplicationSet's cluster generator names them. Argo CD's control plane lives in blue.
//!
//! Each rule that handles Argo CD's marks is attacked here with the real difference it could
//! hide: the tracking annotation (on by default) and label (opt-in) must not hide a change of any
//! other annotation, of a selector or of a pod template label; the last-applied configuration
//! Argo CD writes (it embeds the tracking mark and the Secret's value in clear) must neither make
//! the sides differ nor leak the value; and Argo CD's own control objects are reported as extra by
//! default and left out, counted, with the opt-in `argocd-control-plane` profile, which must not
//! hide the synced application. Fails loudly when the clusters are down or Argo CD cannot be built
//! or started.

mod common;

use std::collections::BTreeSet;
use std::process::Command;
use std::time::Duration;

use base64::Engine as _;
use common::*;
use serde_json::Value;

const NS: &str = "guestbook";
const ARGOCD_NS: &str = "argocd";
/// The value of the fixture Secret (tests/fixtures/argocd/guestbook/secret.yaml).
const CANARY: &str = "argocd-canary-7f3e9a1c5b";

/// The objects the fixture application declares, as `Kind name`.
const TRACKED: &[&str] = &[
    "ConfigMap guestbook-config",
    "Deployment guestbook-ui",
    "HorizontalPodAutoscaler guestbook-ui",
    "Ingress guestbook-ui",
    "PodDisruptionBudget guestbook-ui",
    "Role guestbook-config-reader",
    "RoleBinding guestbook-config-reader",
    "Secret guestbook-credentials",
    "Service guestbook-ui",
    "ServiceAccount guestbook-ui",
];

fn script(args: &[&str]) -> std::process::Output {
    Command::new(root().join("tests/cluster/argocd-sync.sh"))
        .args(args)
        .output()
        .expect("run tests/cluster/argocd-sync.sh")
}

/// A real sync of the fixture into blue and green under TRACKING (annotation|label).
fn sync(tracking: &str) {
    let out = script(&["--tracking", tracking, "blue", "green"]);
    assert!(
        out.status.success(),
        "the real Argo CD sync ({tracking} tracking) failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The controller-manager settles what the sync created (ReplicaSets, the namespace's default
    // ServiceAccount and root CA ConfigMap).
    for ctx in ["blue", "green"] {
        wait_for(&format!("namespace {NS} settled on {ctx}"), Duration::from_secs(60), || {
            kubectl_raw(ctx, &["-n", NS, "get", "serviceaccount/default", "configmap/kube-root-ca.crt"])
                .status
                .success()
                && !kubectl(ctx, &["-n", NS, "get", "replicasets", "-o", "name"]).trim().is_empty()
        });
    }
    std::thread::sleep(Duration::from_secs(2));
}

/// Restores shared state whatever happens: Argo CD stopped and everything it put into the
/// clusters removed (later tests compare whole clusters), the ingress-nginx webhook back to Fail.
struct Cleanup;
impl Drop for Cleanup {
    fn drop(&mut self) {
        let out = script(&["--uninstall"]);
        if !out.status.success() {
            eprintln!("argocd-sync.sh --uninstall failed:\n{}", String::from_utf8_lossy(&out.stderr));
        }
        for ctx in ["blue", "green"] {
            delete_namespace(ctx, NS);
            set_ingress_webhook_policy(ctx, "Fail");
        }
        delete_namespace("blue", ARGOCD_NS);
    }
}

/// ingress-nginx's admission webhook has no running backend in the test clusters and fails
/// closed, refusing every Ingress (Argo CD's sync of one too); operators set it to Ignore meanwhile.
fn set_ingress_webhook_policy(ctx: &str, policy: &str) {
    let patch = format!(r#"[{{"op":"replace","path":"/webhooks/0/failurePolicy","value":"{policy}"}}]"#);
    let _ = kubectl_raw(
        ctx,
        &["patch", "validatingwebhookconfiguration", "ingress-nginx-admission", "--type=json", "-p", &patch],
    );
}

fn prepare() -> Cleanup {
    require_clusters();
    let cleanup = Cleanup;
    for ctx in ["blue", "green"] {
        load_fixtures(ctx);
        set_ingress_webhook_policy(ctx, "Ignore");
        delete_namespace(ctx, NS);
    }
    cleanup
}

/// Every reported difference as `Kind ns/name path` or `Kind ns/name missing|extra`.
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

fn set(items: &[String]) -> BTreeSet<String> {
    items.iter().cloned().collect()
}

fn assert_changes(run: &Run, expected: BTreeSet<String>) {
    let got = changes(&run.json());
    assert_eq!(
        got,
        expected,
        "\nunexpected: {:#?}\nnot found: {:#?}\nstderr:\n{}",
        got.difference(&expected),
        expected.difference(&got),
        run.stderr
    );
}

fn get_json(ctx: &str, what: &str) -> Value {
    serde_json::from_str(&kubectl(ctx, &["-n", NS, "get", what, "-o", "json"])).expect("kubectl json")
}

fn excluded(report: &Value, group: &str, kind: &str) -> u64 {
    report["kinds"]
        .as_array()
        .and_then(|ks| ks.iter().find(|k| k["group"] == group && k["kind"] == kind))
        .and_then(|k| k["excluded_old"].as_u64())
        .unwrap_or(0)
}

#[test]
fn annotation_tracking_sync_is_equivalent_hides_no_drift_and_leaks_no_value() {
    let _g = serial();
    let _cleanup = prepare();
    sync("annotation");

    // What the real Argo CD wrote: a tracking id naming each side's own Application, and a
    // last-applied configuration (client-side apply) that embeds it, and the Secret's value.
    let (b, g) = (get_json("blue", "deployment/guestbook-ui"), get_json("green", "deployment/guestbook-ui"));
    let id = |o: &Value| o["metadata"]["annotations"]["argocd.argoproj.io/tracking-id"].as_str().map(str::to_string);
    assert_eq!(id(&b).as_deref(), Some("guestbook-blue:apps/Deployment:guestbook/guestbook-ui"));
    assert_eq!(id(&g).as_deref(), Some("guestbook-green:apps/Deployment:guestbook/guestbook-ui"));
    let secret = get_json("green", "secret/guestbook-credentials");
    let applied = secret["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"]
        .as_str()
        .unwrap_or_default();
    assert!(applied.contains("guestbook-green:"), "last-applied embeds the tracking id: {applied}");

    // Equivalent with the default rules, in the synced namespace.
    let run = run_kparity(&["diff", "blue", "green", "-n", NS, "-o", "json"]);
    assert_eq!(run.code, 0, "a real Argo CD sync must be equivalent:\n{}\n{}", run.stdout, run.stderr);
    assert_changes(&run, BTreeSet::new());
    let report = run.json();
    let compared: u64 = report["kinds"].as_array().expect("kinds").iter().filter_map(|k| k["equal"].as_u64()).sum();
    assert!(compared >= TRACKED.len() as u64, "the synced objects were compared: {}", report["kinds"]);

    // Drifts after the sync (no automated sync: Argo CD leaves them), each found exactly, and
    // none hidden by the rules for Argo CD's marks: another annotation on a tracked object, an
    // image, a ConfigMap value, a Service selector on the instance label.
    let g = |args: &[&str]| kubectl("green", args);
    g(&[
        "-n",
        NS,
        "set",
        "image",
        "deployment/guestbook-ui",
        "guestbook-ui=gcr.io/heptio-images/ks-guestbook-demo:0.3",
    ]);
    g(&["-n", NS, "patch", "configmap", "guestbook-config", "-p", r#"{"data":{"GUESTBOOK_TITLE":"Sign here"}}"#]);
    g(&[
        "-n",
        NS,
        "annotate",
        "--overwrite",
        "ingress",
        "guestbook-ui",
        "nginx.ingress.kubernetes.io/proxy-body-size=8m",
    ]);
    g(&[
        "-n",
        NS,
        "patch",
        "service",
        "guestbook-ui",
        "-p",
        r#"{"spec":{"selector":{"app.kubernetes.io/instance":"guestbook-green"}}}"#,
    ]);
    // The tracking rule leaves out only ids naming their own object: an object no longer tracked
    // on one side is still the same object (not reported), an id naming another object (Argo CD
    // no longer treats it as its own) differs.
    g(&["-n", NS, "annotate", "role", "guestbook-config-reader", "argocd.argoproj.io/tracking-id-"]);
    g(&[
        "-n",
        NS,
        "annotate",
        "--overwrite",
        "serviceaccount",
        "guestbook-ui",
        "argocd.argoproj.io/tracking-id=guestbook-green:/ServiceAccount:guestbook/default",
    ]);
    std::thread::sleep(Duration::from_secs(2));
    let run = run_kparity(&["diff", "blue", "green", "-n", NS, "-o", "json"]);
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    assert_changes(
        &run,
        set(&[
            // The ServiceAccount's only annotation left after `core` drops last-applied and the
            // `argocd` profile blue's own id: the whole map is on green only.
            "ServiceAccount guestbook/guestbook-ui metadata.annotations".into(),
            "Deployment guestbook/guestbook-ui spec.template.spec.containers[name=guestbook-ui].image".into(),
            "ConfigMap guestbook/guestbook-config data.GUESTBOOK_TITLE".into(),
            "Ingress guestbook/guestbook-ui metadata.annotations[\"nginx.ingress.kubernetes.io/proxy-body-size\"]"
                .into(),
            "Service guestbook/guestbook-ui spec.selector[\"app.kubernetes.io/instance\"]".into(),
        ]),
    );
    // What is compared of an id: nothing when it names its own object, all of it otherwise.
    let report = run.json();
    let field = |kind: &str, path: &str| -> Value {
        report["objects"]
            .as_array()
            .and_then(|os| os.iter().find(|o| o["key"]["kind"] == kind))
            .and_then(|o| o["fields"].as_array())
            .and_then(|fs| fs.iter().find(|f| f["path"] == path))
            .cloned()
            .unwrap_or_else(|| panic!("{kind} {path} not reported: {}", run.stdout))
    };
    let sa = field("ServiceAccount", "metadata.annotations");
    assert_eq!(sa["old"], Value::Null, "{sa}");
    assert_eq!(
        sa["new"]["argocd.argoproj.io/tracking-id"], "guestbook-green:/ServiceAccount:guestbook/default",
        "kept as written: {sa}"
    );

    // The Secret's value, in clear in Argo CD's last-applied configuration, never leaves kparity.
    let table = run_kparity(&["diff", "blue", "green", "-n", NS]);
    for (what, text) in
        [("json", &run.stdout), ("json stderr", &run.stderr), ("table", &table.stdout), ("table stderr", &table.stderr)]
    {
        assert!(!text.contains(CANARY), "the Secret's value leaked in the {what} output");
    }

    // Argo CD's own control objects, in blue only: reported by default (blue runs Argo CD, green
    // does not), left out and counted with the opt-in profile, which hides nothing of the app.
    let run = run_kparity(&["diff", "blue", "green", "-n", ARGOCD_NS, "-o", "json"]);
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    let got = changes(&run.json());
    for expected in [
        "ConfigMap argocd/argocd-cm extra",
        "Secret argocd/argocd-secret extra",
        "Secret argocd/cluster-green extra",
        "Application argocd/guestbook-green extra",
        "AppProject argocd/default extra",
    ] {
        let side_only = expected.replace(" extra", " missing");
        assert!(got.contains(expected) || got.contains(&side_only), "{expected} not reported: {got:#?}");
    }
    // The clusters' client keys in the cluster Secrets never in clear.
    let key = std::fs::read(root().join("target/test-cluster/pki/green/admin.key")).expect("green admin key");
    let key_b64 = base64::engine::general_purpose::STANDARD.encode(&key);
    assert!(!run.stdout.contains(&key_b64[..40]), "a cluster Secret's key leaked");

    let run = run_kparity(&[
        "diff",
        "blue",
        "green",
        "-n",
        &format!("{ARGOCD_NS},{NS}"),
        "--profile",
        "argocd-control-plane",
        "-o",
        "json",
    ]);
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    let report = run.json();
    let got = changes(&report);
    assert!(got.iter().all(|c| c.contains(" guestbook/")), "only the app's drift is left: {got:#?}");
    // The five app drifts above (the Role no longer tracked on green is the same Role).
    assert_eq!(got.len(), 5, "{got:#?}");
    assert_eq!(excluded(&report, "argoproj.io", "Application"), 2, "{}", report["kinds"]);
    assert_eq!(excluded(&report, "argoproj.io", "AppProject"), 1, "{}", report["kinds"]);
    assert!(
        excluded(&report, "", "Secret") >= 4,
        "argocd-secret, the repository and cluster Secrets: {}",
        report["kinds"]
    );
    assert!(excluded(&report, "", "ConfigMap") >= 6, "Argo CD's ConfigMaps: {}", report["kinds"]);
}

#[test]
fn label_tracking_sync_is_equivalent_only_with_the_opt_in_profile_which_hides_no_selector() {
    let _g = serial();
    let _cleanup = prepare();
    sync("label");

    // Argo CD 2.x overwrote the manifests' own `app.kubernetes.io/instance: guestbook` label with
    // each side's Application name, on the objects' metadata only.
    let (b, g) = (get_json("blue", "deployment/guestbook-ui"), get_json("green", "deployment/guestbook-ui"));
    let label = |o: &Value, at: &str| o.pointer(at).and_then(Value::as_str).map(str::to_string);
    let instance = "/metadata/labels/app.kubernetes.io~1instance";
    let template = "/spec/template/metadata/labels/app.kubernetes.io~1instance";
    assert_eq!(label(&b, instance).as_deref(), Some("guestbook-blue"));
    assert_eq!(label(&g, instance).as_deref(), Some("guestbook-green"));
    assert_eq!(label(&g, template).as_deref(), Some("guestbook"), "the pod template keeps the manifest's label");
    assert!(label(&g, "/metadata/annotations/argocd.argoproj.io~1tracking-id").is_none());

    // Default rules: the label is a real difference (Helm gives it meaning), reported on every
    // tracked object and nowhere else.
    let run = run_kparity(&["diff", "blue", "green", "-n", NS, "-o", "json"]);
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    let expected: Vec<String> = TRACKED
        .iter()
        .map(|t| {
            let (kind, name) = t.split_once(' ').unwrap();
            format!("{kind} {NS}/{name} metadata.labels[\"app.kubernetes.io/instance\"]")
        })
        .collect();
    assert_changes(&run, set(&expected));

    // The opt-in profile: equivalent.
    let with_profile = ["diff", "blue", "green", "-n", NS, "--profile", "argocd-label-tracking", "-o", "json"];
    let run = run_kparity(&with_profile);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert_changes(&run, BTreeSet::new());

    // What the profile must not hide: the same label key in a Service selector and a PDB
    // selector, and another metadata label.
    let g = |args: &[&str]| kubectl("green", args);
    g(&[
        "-n",
        NS,
        "patch",
        "service",
        "guestbook-ui",
        "-p",
        r#"{"spec":{"selector":{"app.kubernetes.io/instance":"guestbook-green"}}}"#,
    ]);
    g(&[
        "-n",
        NS,
        "patch",
        "pdb",
        "guestbook-ui",
        "--type=merge",
        "-p",
        r#"{"spec":{"selector":{"matchLabels":{"app.kubernetes.io/instance":"guestbook-green"}}}}"#,
    ]);
    g(&["-n", NS, "label", "--overwrite", "configmap", "guestbook-config", "app.kubernetes.io/name=guestbook"]);
    std::thread::sleep(Duration::from_secs(2));
    let run = run_kparity(&with_profile);
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    assert_changes(
        &run,
        set(&[
            "Service guestbook/guestbook-ui spec.selector[\"app.kubernetes.io/instance\"]".into(),
            "PodDisruptionBudget guestbook/guestbook-ui spec.selector.matchLabels[\"app.kubernetes.io/instance\"]"
                .into(),
            "ConfigMap guestbook/guestbook-config metadata.labels[\"app.kubernetes.io/name\"]".into(),
        ]),
    );
}
