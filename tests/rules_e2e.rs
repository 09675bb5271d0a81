//! Normalization end to end: a Velero-like restore and an Argo CD-like sync compare equivalent,
//! sixteen real drifts on top are each found at the right path with nothing else reported,
//! spelling differences stay quiet, waivers accept (and expire), and broken rule files are
//! refused with file, line and column.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::*;
use serde_json::Value;

const VELERO_NS: &str = "rules-velero";
const ARGO_NS: &str = "rules-argo";
const EXTRA_NS: &str = "rules-extra";

const GADGET_CRD: &str = r#"apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: gadgets.rules.example.com}
spec:
  group: rules.example.com
  scope: Namespaced
  names: {plural: gadgets, singular: gadget, kind: Gadget}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              speed: {type: integer}
"#;

const WEBHOOK: &str = r#"apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingWebhookConfiguration
metadata: {name: rules-e2e-policy}
webhooks:
- name: audit.rules.example.com
  admissionReviewVersions: [v1]
  sideEffects: None
  failurePolicy: Ignore
  clientConfig: {url: "https://audit.rules.example.com/validate"}
  namespaceSelector: {matchLabels: {rules-e2e-audited: "true"}}
  rules:
  - {apiGroups: [apps], apiVersions: [v1], operations: [CREATE], resources: [deployments]}
"#;

/// Extra objects of the drift namespace: an Ingress, a PVC, a RoleBinding with two subjects, a
/// custom resource.
fn extras(ns: &str, storage: &str) -> String {
    format!(
        r#"apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {{name: web, namespace: {ns}}}
spec:
  rules:
  - host: shop.example.com
    http:
      paths:
      - {{path: /, pathType: Prefix, backend: {{service: {{name: web, port: {{number: 80}}}}}}}}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {{name: data, namespace: {ns}}}
spec:
  accessModes: [ReadWriteOnce]
  resources: {{requests: {{storage: {storage}}}}}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {{name: readers, namespace: {ns}}}
roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: Role, name: config-reader}}
subjects:
- {{kind: User, name: alice}}
- {{kind: User, name: bob}}
---
apiVersion: rules.example.com/v1
kind: Gadget
metadata: {{name: turbo, namespace: {ns}}}
spec: {{speed: 7}}
"#
    )
}

/// The same workloads spelled differently: `1` as `1000m`, `256Mi` as `0.25Gi`. (The env order
/// is kept: it is meaning, since `$(VAR)` expands only from earlier entries; tests/schema_e2e.rs
/// checks a reordered env is reported.)
fn respelled(yaml: &str) -> String {
    let respelled = yaml
        .replace("limits: {cpu: \"1\", memory: 512Mi}", "limits: {cpu: 1000m, memory: 512Mi}")
        .replace("memory: 256Mi}", "memory: 0.25Gi}");
    assert_ne!(respelled, yaml, "the resources of common::workloads moved; update respelled()");
    respelled
}

/// Adds Argo CD's tracking annotation to every document of a manifest.
fn argo_tracked(yaml: &str, app: &str) -> String {
    yaml.split("\n---\n")
        .map(|doc| {
            let api = doc.lines().find_map(|l| l.strip_prefix("apiVersion: ")).unwrap_or("v1");
            let group = api.rsplit_once('/').map_or("", |(g, _)| g);
            let kind = doc.lines().find_map(|l| l.strip_prefix("kind: ")).unwrap_or("");
            let start = doc.find("metadata: {name: ").expect("flow-style metadata");
            let rest = &doc[start + "metadata: {name: ".len()..];
            let name = &rest[..rest.find([',', '}']).unwrap()];
            let ns = rest.split("namespace: ").nth(1).map(|r| &r[..r.find([',', '}']).unwrap()]).unwrap_or("");
            doc.replacen(
                "metadata: {name: ",
                &format!("metadata: {{annotations: {{argocd.argoproj.io/tracking-id: \"{app}:{group}/{kind}:{ns}/{name}\"}}, name: "),
                1,
            )
        })
        .collect::<Vec<_>>()
        .join("\n---\n")
}

/// Restores shared state whatever happens: the ingress-nginx webhook back to `Fail`, test
/// objects deleted.
struct Cleanup;
impl Drop for Cleanup {
    fn drop(&mut self) {
        for ctx in ["blue", "green"] {
            let _ = kubectl_raw(
                ctx,
                &["delete", "validatingwebhookconfiguration", "rules-e2e-policy", "--ignore-not-found"],
            );
            let _ = kubectl_raw(ctx, &["delete", "crd", "gadgets.rules.example.com", "--ignore-not-found"]);
            delete_namespace(ctx, EXTRA_NS);
            set_ingress_webhook_policy(ctx, "Fail");
        }
    }
}

/// ingress-nginx's admission webhook has no running backend in the test clusters and fails
/// closed, refusing every Ingress; operators set it to Ignore while the controller is down.
fn set_ingress_webhook_policy(ctx: &str, policy: &str) {
    let patch = format!(r#"[{{"op":"replace","path":"/webhooks/0/failurePolicy","value":"{policy}"}}]"#);
    let _ = kubectl_raw(
        ctx,
        &["patch", "validatingwebhookconfiguration", "ingress-nginx-admission", "--type=json", "-p", &patch],
    );
}

fn changes(report: &Value) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for o in report["objects"].as_array().expect("objects") {
        let key = format!(
            "{} {}/{}",
            o["key"]["kind"].as_str().unwrap(),
            o["key"]["namespace"].as_str().unwrap_or("-"),
            o["key"]["name"].as_str().unwrap()
        );
        match o["change"].as_str().unwrap() {
            "changed" => {
                for f in o["fields"].as_array().unwrap() {
                    out.insert(format!("{key} {}", f["path"].as_str().unwrap()));
                }
            }
            other => {
                out.insert(format!("{key} {other}"));
            }
        }
    }
    out
}

#[test]
fn restores_and_syncs_are_equivalent_and_every_real_drift_is_found() {
    require_clusters();
    let _g = serial();
    let _cleanup = Cleanup;
    for ctx in ["blue", "green"] {
        load_fixtures(ctx);
        install_widget_crd(ctx);
        set_ingress_webhook_policy(ctx, "Ignore");
        // A CRD deleted by an earlier run may still be terminating (its custom resources are
        // being cleaned up); re-creating it then never serves. Wait until it is gone.
        wait_for("a terminating gadgets CRD to disappear", Duration::from_secs(120), || {
            let out = kubectl_raw(
                ctx,
                &[
                    "get",
                    "crd",
                    "gadgets.rules.example.com",
                    "--ignore-not-found",
                    "-o",
                    "jsonpath={.metadata.deletionTimestamp}",
                ],
            );
            out.status.success() && String::from_utf8_lossy(&out.stdout).trim().is_empty()
        });
        apply(ctx, GADGET_CRD, &[]);
        apply(ctx, WEBHOOK, &[]);
        kubectl(ctx, &["wait", "--for=condition=Established", "crd/gadgets.rules.example.com", "--timeout=60s"]);
    }
    wait_for("gadgets served", Duration::from_secs(90), || {
        ["blue", "green"].iter().all(|c| kubectl_raw(c, &["get", "gadgets.rules.example.com", "-A"]).status.success())
    });

    // Velero: populate blue, then a real Velero backup on blue restored on green.
    let velero = TestNamespace::new(VELERO_NS, &["blue"]);
    apply("blue", &workloads(VELERO_NS, "velero-pw"), &[]);
    apply("blue", &widgets(VELERO_NS), &[]);
    apply("blue", &extras(VELERO_NS, "1Gi"), &[]);
    kubectl("blue", &["-n", VELERO_NS, "annotate", "service", "web", "team=payments"]);
    std::thread::sleep(Duration::from_secs(2));
    let out = std::process::Command::new(root().join("tests/cluster/velero-restore.sh"))
        .args(["--from", "blue", "--to", "green", VELERO_NS])
        .output()
        .expect("run tests/cluster/velero-restore.sh");
    assert!(out.status.success(), "the real Velero restore failed:\n{}", String::from_utf8_lossy(&out.stderr));
    // The restore created the namespace on green: clean it up on both sides from now on.
    std::mem::forget(velero);
    let velero = TestNamespace::adopt(VELERO_NS, &["blue", "green"]);

    // Argo CD-like: client-side apply on blue; server-side apply under Argo's field manager,
    // with tracking annotations, on green (respelled: quantity spellings differ).
    let argo = TestNamespace::new(ARGO_NS, &["blue", "green"]);
    let base = workloads(ARGO_NS, "argo-pw");
    apply("blue", &base, &[]);
    apply("green", &argo_tracked(&respelled(&base), "shop"), &["--server-side", "--field-manager=argocd-controller"]);
    std::thread::sleep(Duration::from_secs(3));

    let run = run_kparity(&["diff", "blue", "green", "-o", "json"]);
    assert_eq!(run.code, 0, "restored/synced clusters must be equivalent:\n{}\n{}", run.stdout, run.stderr);
    assert_eq!(changes(&run.json()), BTreeSet::new());

    // Sixteen drifts on green.
    let v = VELERO_NS;
    let g = |args: &[&str]| kubectl("green", args);
    g(&["-n", v, "set", "image", "deployment/web", "web=registry.example/web:1.4.3"]);
    g(&["-n", v, "scale", "deployment/worker", "--replicas=2"]);
    g(&["-n", v, "set", "env", "deployment/web", "MODE=staging"]);
    g(&[
        "-n",
        v,
        "patch",
        "deployment",
        "web",
        "--type=json",
        "-p",
        r#"[{"op":"replace","path":"/spec/template/spec/containers/0/resources/limits/cpu","value":"2"}]"#,
    ]);
    g(&["-n", v, "patch", "rolebinding", "readers", "--type=json", "-p", r#"[{"op":"remove","path":"/subjects/1"}]"#]);
    g(&["create", "namespace", EXTRA_NS]);
    g(&["-n", v, "label", "deployment", "web", "app=web-v2", "--overwrite"]);
    g(&["-n", v, "annotate", "service", "web", "team=checkout", "--overwrite"]);
    g(&["-n", v, "patch", "secret", "db-credentials", "-p", r#"{"stringData":{"password":"rotated"}}"#]);
    g(&["-n", v, "patch", "configmap", "settings", "--type=merge", "-p", r#"{"data":{"timeout":"45s"}}"#]);
    g(&[
        "patch",
        "crd",
        "gadgets.rules.example.com",
        "--type=json",
        "-p",
        r#"[{"op":"add","path":"/spec/versions/0/schema/openAPIV3Schema/properties/spec/properties/color","value":{"type":"string"}}]"#,
    ]);
    g(&["-n", v, "patch", "widgets.parity.example.com", "beta", "--type=merge", "-p", r#"{"spec":{"color":"red"}}"#]);
    g(&[
        "-n",
        v,
        "patch",
        "service",
        "web",
        "--type=json",
        "-p",
        r#"[{"op":"replace","path":"/spec/ports/0/port","value":8080}]"#,
    ]);
    g(&[
        "-n",
        v,
        "patch",
        "ingress",
        "web",
        "--type=json",
        "-p",
        r#"[{"op":"replace","path":"/spec/rules/0/host","value":"shop2.example.com"}]"#,
    ]);
    g(&[
        "-n",
        v,
        "patch",
        "networkpolicy",
        "web-ingress",
        "--type=json",
        "-p",
        r#"[{"op":"replace","path":"/spec/ingress/0/ports/0/port","value":9090}]"#,
    ]);
    g(&[
        "patch",
        "validatingwebhookconfiguration",
        "rules-e2e-policy",
        "--type=json",
        "-p",
        r#"[{"op":"replace","path":"/webhooks/0/rules/0/operations","value":["CREATE","UPDATE"]}]"#,
    ]);
    std::thread::sleep(Duration::from_secs(2));

    let run = run_kparity(&["diff", "blue", "green", "-o", "json"]);
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    let expected: BTreeSet<String> = [
        "Deployment rules-velero/web spec.template.spec.containers[name=web].image",
        "Deployment rules-velero/worker spec.replicas",
        "Deployment rules-velero/web spec.template.spec.containers[name=web].env[name=MODE].value",
        "Deployment rules-velero/web spec.template.spec.containers[name=web].resources.limits.cpu",
        // subjects is an atomic list (no keys; its order is declared meaningless by the
        // list-order profile, so it is compared sorted): bob's entry is matched by index.
        "RoleBinding rules-velero/readers subjects[1]",
        "Namespace -/rules-extra extra",
        // The controller-manager fills the extra namespace as it fills every namespace.
        "ConfigMap rules-extra/kube-root-ca.crt extra",
        "ServiceAccount rules-extra/default extra",
        "Deployment rules-velero/web metadata.labels.app",
        "Service rules-velero/web metadata.annotations.team",
        "Secret rules-velero/db-credentials data.password",
        "ConfigMap rules-velero/settings data.timeout",
        // A CRD's versions are an atomic list in its schema: matched by index.
        "CustomResourceDefinition -/gadgets.rules.example.com spec.versions[0].schema.openAPIV3Schema.properties.spec.properties.color",
        "Widget rules-velero/beta spec.color",
        // Service ports are keyed by port+protocol: a changed port is another port.
        "Service rules-velero/web spec.ports[port=80,protocol=TCP]",
        "Service rules-velero/web spec.ports[port=8080,protocol=TCP]",
        "Ingress rules-velero/web spec.rules[0].host",
        "NetworkPolicy rules-velero/web-ingress spec.ingress[0].ports[0].port",
        "ValidatingWebhookConfiguration -/rules-e2e-policy webhooks[name=audit.rules.example.com].rules[0].operations[1]",
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
    // The limit change reads as a value change, not as a spelling.
    let table = run_kparity(&["diff", "blue", "green", "-n", v]);
    assert!(table.stdout.contains("resources.limits.cpu: \"1\" → \"2\""), "{}", table.stdout);
    drop(argo);
    drop(velero);
}

#[test]
fn waivers_accept_a_difference_until_they_expire() {
    require_clusters();
    let _g = serial();
    let ns = TestNamespace::new("rules-waiver", &["blue", "green"]);
    for ctx in ["blue", "green"] {
        apply(ctx, &workloads(&ns.name, "pw"), &[]);
    }
    kubectl("green", &["-n", &ns.name, "scale", "deployment/web", "--replicas=4"]);
    let base = ["diff", "blue", "green", "-n", "rules-waiver"];
    assert_eq!(run_kparity(&base).code, 1);

    let waiver = |expires: &str| {
        format!(
            "waivers:\n  - match: {{group: apps, kind: Deployment, namespace: rules-waiver, name: web}}\n    path: /spec/replicas\n    reason: scaled up for the launch, CHG-1234\n    expires: {expires}\n"
        )
    };
    let (_d1, active) = temp_file("waivers.yaml", &waiver("2999-12-31"));
    let mut args = base.to_vec();
    args.extend(["--rules", path_str(&active), "-o", "json"]);
    let run = run_kparity(&args);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let report = run.json();
    assert_eq!(report["verdict"], "equivalent");
    assert_eq!(report["summary"]["waived"], 1);
    let obj = &report["objects"][0];
    assert_eq!(obj["waived"], true, "waived differences are shown, not hidden: {obj}");
    assert_eq!(obj["fields"][0]["waived"], "scaled up for the launch, CHG-1234");
    let mut targs = base.to_vec();
    targs.extend(["--rules", path_str(&active)]);
    let table = run_kparity(&targs);
    assert!(table.stdout.contains("[waived]") && table.stdout.contains("CHG-1234"), "{}", table.stdout);

    let (_d2, expired) = temp_file("expired.yaml", &waiver("2020-01-31"));
    let mut args = base.to_vec();
    args.extend(["--rules", path_str(&expired), "-o", "json"]);
    let run = run_kparity(&args);
    assert_eq!(run.code, 1, "an expired waiver no longer applies: {}", run.stdout);
    let warnings = run.json()["warnings"].to_string();
    assert!(warnings.contains("expired on 2020-01-31"), "{warnings}");
    let entries = run.json()["warning_entries"].clone();
    assert!(
        entries.as_array().expect("warning_entries").iter().any(|e| e["code"] == "waiver-expired"
            && e["message"].as_str().is_some_and(|m| m.contains("expired on 2020-01-31"))),
        "{entries}"
    );

    // A waiver (or rule) that matches nothing is reported: a typo cannot silently do nothing.
    let (_d3, typo) = temp_file(
        "typo.yaml",
        "rules:\n  - name: drop-repilcas\n    why: typo in the pointer\n    match: {kind: Deployment}\n    drop: [/spec/repilcas]\nwaivers:\n  - match: {kind: Deployment, name: wbe}\n    reason: typo in the name\n",
    );
    let mut args = base.to_vec();
    args.extend(["--rules", path_str(&typo), "-o", "json"]);
    let run = run_kparity(&args);
    let warnings = run.json()["warnings"].to_string();
    assert!(warnings.contains("drop-repilcas") && warnings.contains("matched nothing"), "{warnings}");
    assert!(warnings.contains("*/Deployment */wbe") && warnings.contains("matched no difference"), "{warnings}");
    // The same warnings for machines: a stable code, the text, and the file they concern.
    let entries = run.json()["warning_entries"].clone();
    let coded = |code: &str, part: &str| {
        entries.as_array().expect("warning_entries").iter().any(|e| {
            e["code"] == code
                && e["message"].as_str().is_some_and(|m| m.contains(part))
                && e["origin"].as_str().is_some_and(|o| o.ends_with("typo.yaml"))
        })
    };
    assert!(coded("rule-matched-nothing", "drop-repilcas"), "{entries}");
    assert!(coded("waiver-matched-nothing", "*/Deployment */wbe"), "{entries}");
}

#[test]
fn broken_rule_files_name_file_line_and_column() {
    let cases = [
        ("syntax.yaml", "rules:\n  - name: a\n    why: b\n    drop: [/a\n", ":5:1: "),
        (
            "unknown.yaml",
            "rules:\n  - name: a\n    why: b\n    match: {kind: X}\n    dorp: [/a]\n",
            ":5:5: rules[0]: unknown field `dorp`",
        ),
        (
            "pointer.yaml",
            "rules:\n  - name: a\n    why: b\n    drop: [spec/replicas]\n",
            ":4:11: rules[0].drop: invalid JSON pointer",
        ),
        (
            "glob.yaml",
            "rules:\n  - name: a\n    why: b\n    match: {name: \"web-[\"}\n    skip: true\n",
            ":4:12: rules[0].match: invalid glob",
        ),
    ];
    for (file, text, expected) in cases {
        let (_dir, path) = temp_file(file, text);
        for args in
            [vec!["rules", "--rules", path_str(&path)], vec!["diff", "blue", "green", "--rules", path_str(&path)]]
        {
            let run = run_kparity(&args);
            assert_eq!(run.code, 2, "{file}: {}", run.stderr);
            let first = run.stderr.lines().next().unwrap_or_default();
            assert!(
                first.starts_with("error: ") && first.contains(file) && first.contains(expected),
                "{file}: {}",
                run.stderr
            );
            assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
        }
    }
}

#[test]
fn rules_command_prints_valid_rules_users_can_start_from() {
    let run = run_kparity(&["rules"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.contains("# Profiles: core, list-order, velero, argocd, helm, upgrade"), "{}", run.stdout);
    // The printed rules of each profile parse again as a user rules file.
    let body = run.stdout.split("# --- from profile core ---\n").nth(1).expect("core section");
    let core = body.split("\n# --- from").next().unwrap();
    let (_dir, path) = temp_file("core-copy.yaml", core);
    let again = run_kparity(&["rules", "--no-default-rules", "--rules", path_str(&path)]);
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert!(again.stdout.contains("server-assigned-metadata"));
    let opt_in = run_kparity(&["rules", "--profile", "argocd-label-tracking", "--no-profile", "velero"]);
    assert!(
        opt_in.stdout.contains("# Profiles: core, list-order, argocd, helm, upgrade, argocd-label-tracking"),
        "{}",
        opt_in.stdout
    );
    let unknown = run_kparity(&["rules", "--profile", "nope"]);
    assert_eq!(unknown.code, 2);
    assert!(unknown.stderr.contains("unknown profile \"nope\""), "{}", unknown.stderr);
}
