//! The verdict canary (issue 12): a real cluster pair into which exactly one difference of every
//! class of hole is planted. The run must report each of them and nothing else, so a later change
//! to rules, normalization or reading that reopens a hole (or adds noise) fails here.
//!
//! Everything the canary creates carries the label `kparity-canary=yes` and lives in its own
//! namespaces, CRD group and cluster-scoped names; the run compares `-l kparity-canary=yes`. The
//! one shared object it touches, the bootstrap `cluster-admin` ClusterRoleBinding, gets the label
//! on both sides and one extra subject on green; a guard restores it on drop, even after a failed
//! assertion.
//!
//! The expected set is built per class, each part named after the class it guards:
//! 1. coverage: a kind served only in v1beta1 beside its group's v1 kinds differs;
//! 2. nothing proven by nothing: a filter leaving zero objects is incomplete, a `-n` typo refused;
//! 3. order from the API's schema: reordered `initContainers`;
//! 4. emptiness and quantities: a NetworkPolicy peer `namespaceSelector: {}` (every namespace)
//!    against a peer without one (its own namespace); a CRD schema default `{version: "1.10"}`
//!    against `{version: "1.1"}` (strings under a `default` map are not quantities);
//! 5. rules hide only what they say: an extra subject on `cluster-admin`; a waiver restricted by
//!    labels to team=search that must not waive team=billing's missing Deployment;
//! 6. reading holes: the same run through a proxy that expires a continue token in the second of
//!    two `-n` namespaces finds exactly the same namespaced differences.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::faultproxy::{FaultProxy, scratch};
use common::*;
use serde_json::Value;

const LABEL: &str = "kparity-canary=yes";
const NS_A: &str = "canary-verdict-a";
const NS_B: &str = "canary-verdict-b";
const GROUP: &str = "verdict.canary.kparity.test";
const INTRUDER: &str = "kparity-canary-intruder";

/// `(change, kind, namespace, name, waived)`.
type Line = (String, String, String, String, bool);

fn line(change: &str, kind: &str, ns: &str, name: &str, waived: bool) -> Line {
    (change.into(), kind.into(), ns.into(), name.into(), waived)
}

/// Class 1: the v1beta1-only Grant differs.
fn class1_coverage() -> Vec<Line> {
    vec![line("changed", "Grant", NS_A, "canary-grant", false)]
}

/// Class 3: initContainers run in order; a reorder is a change.
fn class3_order() -> Vec<Line> {
    vec![line("changed", "Deployment", NS_A, "canary-init", false)]
}

/// Class 4: an empty selector is not an absent one; "1.10" is not the quantity 1.1.
fn class4_emptiness_and_quantities() -> Vec<Line> {
    vec![
        line("changed", "NetworkPolicy", NS_A, "canary-np", false),
        line("changed", "CustomResourceDefinition", "", &format!("canaryconfigs.{GROUP}"), false),
    ]
}

/// Class 5: a subject added to cluster-admin shows; the label-restricted waiver waives only
/// team=search's missing Deployment.
fn class5_rules() -> Vec<Line> {
    vec![
        line("changed", "ClusterRoleBinding", "", "cluster-admin", false),
        line("missing", "Deployment", NS_B, "canary-search", true),
        line("missing", "Deployment", NS_B, "canary-billing", false),
    ]
}

fn crd(plural: &str, kind: &str, namespaced: bool, versions: &[&str], extra_schema: &str) -> String {
    let mut v = String::new();
    for (i, name) in versions.iter().enumerate() {
        v.push_str(&format!(
            "  - name: {name}\n    served: true\n    storage: {}\n    schema:\n      openAPIV3Schema:\n        type: object\n        \
             properties:\n          spec:\n            type: object\n            x-kubernetes-preserve-unknown-fields: true\n{extra_schema}",
            i == 0
        ));
    }
    format!(
        "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata: {{name: {plural}.{GROUP}, labels: {{kparity-canary: \"yes\"}}}}\n\
         spec:\n  group: {GROUP}\n  scope: {}\n  names: {{plural: {plural}, singular: {}, kind: {kind}}}\n  versions:\n{v}",
        if namespaced { "Namespaced" } else { "Cluster" },
        kind.to_ascii_lowercase()
    )
}

/// The planted state of one side. `green` differs from blue by exactly the expected set.
fn objects(green: bool) -> String {
    let (init, peer, default) = if green {
        (
            "[{name: verify, image: busybox:1.36}, {name: migrate, image: busybox:1.36}]",
            "{podSelector: {matchLabels: {app: frontend}}}",
            "\"1.1\"",
        )
    } else {
        (
            "[{name: migrate, image: busybox:1.36}, {name: verify, image: busybox:1.36}]",
            "{namespaceSelector: {}, podSelector: {matchLabels: {app: frontend}}}",
            "\"1.10\"",
        )
    };
    // An object default holding a string: "1.10" and "1.1" are different versions, not quantities.
    let config_schema = format!(
        "            properties:\n              config:\n                type: object\n                \
         default: {{version: {default}}}\n                properties:\n                  version: {{type: string}}\n"
    );
    let mut y = String::new();
    y.push_str(&crd("gadgets", "Gadget", true, &["v1", "v1beta1"], ""));
    y.push_str("---\n");
    y.push_str(&crd("grants", "Grant", true, &["v1beta1"], ""));
    y.push_str("---\n");
    // The default sits under spec.properties.version: replace the open spec by a typed one.
    y.push_str(
        &crd("canaryconfigs", "CanaryConfig", false, &["v1"], "")
            .replace("            x-kubernetes-preserve-unknown-fields: true\n", &config_schema),
    );
    y.push_str(&format!(
        r#"---
apiVersion: apps/v1
kind: Deployment
metadata: {{name: canary-init, namespace: {NS_A}, labels: {{kparity-canary: "yes"}}}}
spec:
  replicas: 0
  selector: {{matchLabels: {{app: canary-init}}}}
  template:
    metadata: {{labels: {{app: canary-init}}}}
    spec:
      initContainers: {init}
      containers: [{{name: app, image: "busybox:1.36"}}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {{name: canary-np, namespace: {NS_A}, labels: {{kparity-canary: "yes"}}}}
spec:
  podSelector: {{matchLabels: {{app: web}}}}
  policyTypes: [Ingress]
  ingress:
  - from: [{peer}]
"#
    ));
    if !green {
        for team in ["search", "billing"] {
            y.push_str(&format!(
                r#"---
apiVersion: apps/v1
kind: Deployment
metadata: {{name: canary-{team}, namespace: {NS_B}, labels: {{kparity-canary: "yes", team: {team}}}}}
spec:
  replicas: 0
  selector: {{matchLabels: {{app: canary-{team}}}}}
  template:
    metadata: {{labels: {{app: canary-{team}}}}}
    spec:
      containers: [{{name: app, image: "busybox:1.36"}}]
"#
            ));
        }
    }
    y
}

fn custom_resources(green: bool) -> String {
    format!(
        "apiVersion: {GROUP}/v1\nkind: Gadget\nmetadata: {{name: canary-gadget, namespace: {NS_A}, labels: {{kparity-canary: \"yes\"}}}}\nspec: {{size: 1}}\n---\n\
         apiVersion: {GROUP}/v1beta1\nkind: Grant\nmetadata: {{name: canary-grant, namespace: {NS_A}, labels: {{kparity-canary: \"yes\"}}}}\nspec: {{to: {}}}\n",
        if green { "green-team" } else { "blue-team" }
    )
}

const WAIVERS: &str = r#"waivers:
  - match: {group: apps, kind: Deployment, namespace: canary-verdict-b, labels: "team=search"}
    reason: the search team moved to another cluster (canary waiver)
"#;

/// Undoes everything the canary did to shared state: the cluster-admin label and subject, the
/// CRDs. Runs on drop, so a failed assertion still restores the clusters.
struct Restore;

impl Restore {
    fn run() {
        for ctx in ["blue", "green"] {
            let _ = kubectl_raw(ctx, &["label", "clusterrolebinding", "cluster-admin", "kparity-canary-"]);
            let crb = kubectl_raw(ctx, &["get", "clusterrolebinding", "cluster-admin", "-o", "json"]);
            let crb: Value = serde_json::from_slice(&crb.stdout).unwrap_or_default();
            let subjects = crb["subjects"].as_array().cloned().unwrap_or_default();
            // Highest index first, each removal guarded by a test of the name it removes.
            for (i, s) in subjects.iter().enumerate().rev() {
                if s["name"] == INTRUDER {
                    let patch = format!(
                        r#"[{{"op":"test","path":"/subjects/{i}/name","value":"{INTRUDER}"}},{{"op":"remove","path":"/subjects/{i}"}}]"#
                    );
                    let _ = kubectl_raw(
                        ctx,
                        &["patch", "clusterrolebinding", "cluster-admin", "--type=json", "-p", &patch],
                    );
                }
            }
            for plural in ["gadgets", "grants", "canaryconfigs"] {
                let _ = kubectl_raw(ctx, &["delete", "crd", &format!("{plural}.{GROUP}"), "--ignore-not-found"]);
            }
        }
    }
}

impl Drop for Restore {
    fn drop(&mut self) {
        Restore::run();
    }
}

fn differences(report: &Value) -> BTreeSet<Line> {
    report["objects"]
        .as_array()
        .expect("objects array")
        .iter()
        .map(|o| {
            let s = |v: &Value| v.as_str().unwrap_or("").to_string();
            (
                s(&o["change"]),
                s(&o["key"]["kind"]),
                s(&o["key"]["namespace"]),
                s(&o["key"]["name"]),
                o["waived"] == true,
            )
        })
        .collect()
}

/// Which expected lines a report lacks and which it has beyond them, per class.
fn check(report: &Value, parts: &[(&str, Vec<Line>)]) -> Vec<String> {
    let got = differences(report);
    let mut problems = Vec::new();
    let mut expected_all = BTreeSet::new();
    for (class, lines) in parts {
        for l in lines {
            expected_all.insert(l.clone());
            if !got.contains(l) {
                problems.push(format!("{class}: not reported: {l:?}"));
            }
        }
    }
    for l in got.difference(&expected_all) {
        problems.push(format!("noise: reported but not planted: {l:?}"));
    }
    problems
}

#[test]
fn one_planted_difference_of_every_class_is_reported_and_nothing_else() {
    require_clusters();
    let _g = serial();
    Restore::run();
    let _restore = Restore;
    let _a = TestNamespace::new(NS_A, &["blue", "green"]);
    let _b = TestNamespace::new(NS_B, &["blue", "green"]);
    for ctx in ["blue", "green"] {
        for ns in [NS_A, NS_B] {
            kubectl(ctx, &["label", "namespace", ns, LABEL]);
        }
        apply(ctx, &objects(ctx == "green"), &[]);
        for plural in ["gadgets", "grants", "canaryconfigs"] {
            kubectl(ctx, &["wait", "--for=condition=Established", &format!("crd/{plural}.{GROUP}"), "--timeout=60s"]);
        }
        for plural in ["gadgets", "grants", "canaryconfigs"] {
            wait_for(&format!("{plural} served on {ctx}"), Duration::from_secs(30), || {
                kubectl_raw(ctx, &["get", &format!("{plural}.{GROUP}"), "-A"]).status.success()
            });
        }
        apply(ctx, &custom_resources(ctx == "green"), &[]);
        kubectl(ctx, &["label", "clusterrolebinding", "cluster-admin", LABEL, "--overwrite"]);
    }
    let subject = format!(
        r#"[{{"op":"add","path":"/subjects/-","value":{{"kind":"User","apiGroup":"rbac.authorization.k8s.io","name":"{INTRUDER}"}}}}]"#
    );
    kubectl("green", &["patch", "clusterrolebinding", "cluster-admin", "--type=json", "-p", &subject]);
    let (_dir, waivers) = temp_file("waivers.yaml", WAIVERS);

    let parts = vec![
        ("class 1 (coverage)", class1_coverage()),
        ("class 3 (order)", class3_order()),
        ("class 4 (emptiness, quantities)", class4_emptiness_and_quantities()),
        ("class 5 (rules)", class5_rules()),
    ];

    // The whole planted state, cluster-scoped objects included.
    let run = run_kparity(&["diff", "blue", "green", "-l", LABEL, "--rules", path_str(&waivers), "-o", "json"]);
    let report = run.json();
    let mut problems = check(&report, &parts);
    if run.code != 1 || report["verdict"] != "different" {
        problems.push(format!("verdict {} exit {} (expected different, 1)", report["verdict"], run.code));
    }
    // Class 1 again, in the coverage: the v1beta1-only kind was read on both sides.
    for side in ["old", "new"] {
        let read = report["coverage"][side]["entries"].as_array().is_some_and(|es| {
            es.iter().any(|e| {
                e["group"] == GROUP
                    && e["resource"] == "grants"
                    && e["version"] == "v1beta1"
                    && e["status"] == "read"
                    && e["objects"] == 1
            })
        });
        if !read {
            problems.push(format!("class 1 (coverage): grants.{GROUP} not read as v1beta1 with 1 object on {side}"));
        }
    }

    // Class 6: the namespaced part, read through a proxy that expires the continue token of the
    // second namespace's Deployments once. Nothing read before it may be forgotten.
    let (_keep, dir) = scratch();
    let proxy = FaultProxy::start("blue", &format!("continue /apis/apps/v1/namespaces/{NS_B}/deployments 410 x1"));
    let mut cmd = kparity();
    cmd.env("KUBECONFIG", proxy.kubeconfig(&dir, "faulty")).args([
        "diff",
        "ctx:faulty",
        "ctx:green",
        "-n",
        NS_A,
        "-n",
        NS_B,
        "-l",
        LABEL,
        "--page-size",
        "1",
        // Paged: a stream has no continue token to expire.
        "--list-method",
        "pages",
        "--rules",
        path_str(&waivers),
        "-o",
        "json",
    ]);
    cmd.timeout(Duration::from_secs(120));
    let faulty = run_cmd(&mut cmd);
    if proxy.hits() != [1] {
        problems.push(format!("class 6 (reading holes): the 410 did not fire: {:?}", proxy.hits()));
    }
    let namespaced: Vec<(&str, Vec<Line>)> =
        parts.iter().map(|(c, lines)| (*c, lines.iter().filter(|l| !l.2.is_empty()).cloned().collect())).collect();
    for p in check(&faulty.json(), &namespaced) {
        problems.push(format!("class 6 (reading holes, 410 in {NS_B}): {p}"));
    }

    // Class 2: a filter that leaves zero objects is never equivalent; a -n typo is refused.
    let zero = run_kparity(&["diff", "blue", "green", "-l", LABEL, "--kinds", "Ingress", "-o", "json"]);
    let zr = zero.json();
    if zero.code != 2
        || zr["verdict"] != "incomplete"
        || !zr["unproven"].to_string().contains("zero objects prove nothing")
    {
        problems.push(format!(
            "class 2 (nothing proven by nothing): zero objects gave exit {} verdict {}",
            zero.code, zr["verdict"]
        ));
    }
    let typo = run_kparity(&["diff", "blue", "green", "-n", "canary-verdict-typo"]);
    if typo.code != 2
        || !typo.stderr.starts_with("error: namespace \"canary-verdict-typo\" (-n) exists on neither side\nhint: ")
    {
        problems.push(format!("class 2 (nothing proven by nothing): -n typo gave exit {}: {}", typo.code, typo.stderr));
    }

    assert!(
        problems.is_empty(),
        "the verdict canary found {} problem(s):\n  {}\nreport objects: {}",
        problems.len(),
        problems.join("\n  "),
        report["objects"]
    );
}
