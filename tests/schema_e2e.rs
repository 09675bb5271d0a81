//! Keys, order and emptiness as the API's own schema declares them, end to end against the real
//! clusters (issue 12, classes 3 and 4): keyed lists keep their order (initContainers, env,
//! mutating webhooks, custom resources' ordered lists), items match by their declared keys
//! (composite container ports, a CR list keyed by `path`), only lists a rule declares unordered
//! ignore order (pod volumes, validating webhooks), an empty selector is not an absent one,
//! quantities compare by value only where the schema says quantity, and an archive diff reports
//! exactly what the live diff of the same state reports.

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use common::*;
use serde_json::Value;

const ORDER_NS: &str = "schema-order";
const EMPTY_NS: &str = "schema-empty";
const CR_NS: &str = "schema-cr";

/// Deployments that differ between the sides only as described by `(name, blue spec, green
/// spec)`: the pod template spec, inline YAML (flow style).
fn deployment(ns: &str, name: &str, pod_spec: &str) -> String {
    format!(
        r#"apiVersion: apps/v1
kind: Deployment
metadata: {{name: {name}, namespace: {ns}}}
spec:
  replicas: 0
  selector: {{matchLabels: {{app: {name}}}}}
  template:
    metadata: {{labels: {{app: {name}}}}}
    spec: {pod_spec}
"#
    )
}

fn c(name: &str, extra: &str) -> String {
    format!("{{name: {name}, image: registry.example/{name}:1{extra}}}")
}

/// The order-class objects of one side; `swapped` gives green's spelling.
fn order_objects(swapped: bool) -> String {
    let pick = |a: String, b: String| if swapped { format!("[{b}, {a}]") } else { format!("[{a}, {b}]") };
    let env = pick("{name: A, value: a}".into(), "{name: B, value: \"$(A)-b\"}".into());
    let ports = if swapped {
        "[{containerPort: 53, protocol: TCP, name: dns-tcp}, {containerPort: 53, protocol: UDP, name: dns-udp}]"
    } else {
        "[{containerPort: 53, protocol: TCP, name: dns-tcp}, {containerPort: 53, protocol: UDP, name: dns}]"
    };
    let cpu = if swapped { "1000m" } else { "\"1\"" };
    let docs = [
        deployment(
            ORDER_NS,
            "init-order",
            &format!("{{initContainers: {}, containers: [{}]}}", pick(c("migrate", ""), c("verify", "")), c("app", "")),
        ),
        deployment(ORDER_NS, "env-order", &format!("{{containers: [{}]}}", c("app", &format!(", env: {env}")))),
        deployment(ORDER_NS, "container-order", &format!("{{containers: {}}}", pick(c("app", ""), c("sidecar", "")))),
        deployment(
            ORDER_NS,
            "volume-order",
            &format!(
                "{{containers: [{}], volumes: {}}}",
                c("app", ""),
                pick("{name: cache, emptyDir: {}}".into(), "{name: scratch, emptyDir: {}}".into())
            ),
        ),
        deployment(ORDER_NS, "ports", &format!("{{containers: [{}]}}", c("app", &format!(", ports: {ports}")))),
        deployment(
            ORDER_NS,
            "quantities",
            &format!(
                "{{containers: [{}]}}",
                c("app", &format!(", resources: {{limits: {{cpu: {cpu}, memory: 1Gi}}}}"))
            ),
        ),
    ];
    docs.join("---\n")
}

fn webhook_configs(swapped: bool) -> String {
    let hook = |name: &str| {
        format!(
            "{{name: {name}.schema.example.com, admissionReviewVersions: [v1], sideEffects: None, failurePolicy: Ignore, \
             clientConfig: {{url: \"https://{name}.schema.example.com/hook\"}}, \
             rules: [{{apiGroups: [schema.example.com], apiVersions: [v1], operations: [CREATE], resources: [nothings]}}]}}"
        )
    };
    let hooks =
        if swapped { format!("[{}, {}]", hook("b"), hook("a")) } else { format!("[{}, {}]", hook("a"), hook("b")) };
    format!(
        "apiVersion: admissionregistration.k8s.io/v1\nkind: MutatingWebhookConfiguration\nmetadata: {{name: schema-e2e-mutating}}\nwebhooks: {hooks}\n---\n\
         apiVersion: admissionregistration.k8s.io/v1\nkind: ValidatingWebhookConfiguration\nmetadata: {{name: schema-e2e-validating}}\nwebhooks: {hooks}\n"
    )
}

const PIPELINE_CRD: &str = r#"apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: pipelines.schema.example.com}
spec:
  group: schema.example.com
  scope: Namespaced
  names: {plural: pipelines, singular: pipeline, kind: Pipeline}
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
              steps:
                type: array
                items:
                  type: object
                  properties:
                    name: {type: string}
                    run: {type: string}
              routes:
                type: array
                x-kubernetes-list-type: map
                x-kubernetes-list-map-keys: [path]
                items:
                  type: object
                  required: [path]
                  properties:
                    path: {type: string}
                    backend: {type: string}
              default:
                type: object
                properties:
                  version: {type: string}
              limit:
                x-kubernetes-int-or-string: true
                anyOf: [{type: integer}, {type: string}]
                pattern: ^(\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$
"#;

fn pipelines(green: bool) -> String {
    let steps = if green {
        "[{name: test, run: t}, {name: build, run: b}]"
    } else {
        "[{name: build, run: b}, {name: test, run: t}]"
    };
    let routes = if green {
        "[{path: /b, backend: svc-z}, {path: /a, backend: svc-x}, {path: /0, backend: svc-w}]"
    } else {
        "[{path: /a, backend: svc-x}, {path: /b, backend: svc-y}]"
    };
    let version = if green { "\"1.1\"" } else { "\"1.10\"" };
    let limit = if green { "1000m" } else { "\"1\"" };
    format!(
        "apiVersion: schema.example.com/v1\nkind: Pipeline\nmetadata: {{name: ordered, namespace: {CR_NS}}}\nspec: {{steps: {steps}}}\n---\n\
         apiVersion: schema.example.com/v1\nkind: Pipeline\nmetadata: {{name: routed, namespace: {CR_NS}}}\nspec: {{routes: {routes}}}\n---\n\
         apiVersion: schema.example.com/v1\nkind: Pipeline\nmetadata: {{name: versioned, namespace: {CR_NS}}}\nspec: {{default: {{version: {version}}}}}\n---\n\
         apiVersion: schema.example.com/v1\nkind: Pipeline\nmetadata: {{name: limited, namespace: {CR_NS}}}\nspec: {{limit: {limit}}}\n"
    )
}

fn empty_objects(green: bool) -> String {
    let ns = EMPTY_NS;
    let (all, scoped, pdb, affinity, labels) = if green {
        ("{namespaceSelector: {matchLabels: {team: a}}}", "{podSelector: {matchLabels: {app: x}}}", "", "", "")
    } else {
        (
            "{namespaceSelector: {}}",
            "{namespaceSelector: {}, podSelector: {matchLabels: {app: x}}}",
            ", selector: {}",
            ", namespaceSelector: {}",
            ", labels: {}",
        )
    };
    format!(
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {{name: peer-all, namespace: {ns}}}\nspec: {{podSelector: {{}}, ingress: [{{from: [{all}]}}]}}\n---\n\
         apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {{name: peer-scoped, namespace: {ns}}}\nspec: {{podSelector: {{}}, ingress: [{{from: [{scoped}]}}]}}\n---\n\
         apiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata: {{name: all-pods, namespace: {ns}}}\nspec: {{maxUnavailable: 1{pdb}}}\n---\n\
         apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: plain, namespace: {ns}{labels}}}\ndata: {{a: b}}\n---\n{}",
        deployment(
            ns,
            "affinity",
            &format!(
                "{{containers: [{}], affinity: {{podAffinity: {{requiredDuringSchedulingIgnoredDuringExecution: [{{topologyKey: kubernetes.io/hostname, labelSelector: {{matchLabels: {{app: db}}}}{affinity}}}]}}}}}}",
                c("app", "")
            )
        )
    )
}

/// Every changed field of the report as `Kind name: path: old → new` (table wording), and the
/// missing/extra objects, so an assertion names everything reported and nothing else.
fn table_lines(table: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut object = String::new();
    for l in table.lines() {
        if let Some(rest) = l.strip_prefix("~ ").or_else(|| l.strip_prefix("- ")).or_else(|| l.strip_prefix("+ ")) {
            object = rest.trim().to_string();
            if !l.starts_with('~') {
                out.push(l.to_string());
            }
        } else if let Some(field) = l.strip_prefix("    ").filter(|f| !f.starts_with(' ')) {
            out.push(format!("{object}: {}", without_writers(field)));
        }
    }
    out
}

/// A field line without the attribution the table appends (`   old: kubectl-client-side-apply
/// (Update) 03:12; new: ...`): explain_e2e asserts who wrote what; here only the change itself is
/// asserted. A changed field written by nobody on either side has no suffix.
fn without_writers(field: &str) -> &str {
    ["   both: ", "   old: ", "   new: "].iter().filter_map(|m| field.find(m)).min().map_or(field, |i| &field[..i])
}

/// Every patch of the report is a well-formed RFC 6902 document (the unit tests of
/// `diff::value` apply them to the normalized OLD; the normalized objects are not visible here).
fn patches_are_rfc6902(report: &Value) {
    for o in report["objects"].as_array().into_iter().flatten() {
        if o["change"] != "changed" {
            continue;
        }
        let patch: Result<json_patch::Patch, _> = serde_json::from_value(o["patch"].clone());
        assert!(patch.is_ok(), "not RFC 6902: {:#}", o["patch"]);
    }
}

fn diff(args: &[&str]) -> (Run, Run) {
    let json = run_kparity(&[&["diff"], args, &["-o", "json"]].concat());
    let table = run_kparity(&[&["diff"], args, &["-o", "table"]].concat());
    (json, table)
}

fn set(lines: &[&str]) -> BTreeSet<String> {
    lines.iter().map(|s| s.to_string()).collect()
}

#[test]
fn keyed_lists_keep_their_order_and_match_by_their_declared_keys() {
    require_clusters();
    let _g = serial();
    let _ns = TestNamespace::new(ORDER_NS, &["blue", "green"]);
    apply("blue", &order_objects(false), &[]);
    apply("green", &order_objects(true), &[]);
    std::thread::sleep(Duration::from_secs(1));

    let (json, table) = diff(&["blue", "green", "-n", ORDER_NS, "--kinds", "Deployment"]);
    assert_eq!(json.code, 1, "{}\n{}", json.stdout, json.stderr);
    let report = json.json();
    assert_eq!(report["verdict"], "different");
    assert_eq!(report["summary"]["changed"], 4, "{:#}", report["objects"]);
    patches_are_rfc6902(&report);
    assert_eq!(
        table_lines(&table.stdout).into_iter().collect::<BTreeSet<_>>(),
        set(&[
            "Deployment.apps schema-order/init-order: spec.template.spec.initContainers order: [migrate, verify] → [verify, migrate]",
            "Deployment.apps schema-order/env-order: spec.template.spec.containers[name=app].env order: [A, B] → [B, A]",
            "Deployment.apps schema-order/container-order: spec.template.spec.containers order: [app, sidecar] → [sidecar, app]",
            "Deployment.apps schema-order/ports: spec.template.spec.containers[name=app].ports[containerPort=53,protocol=UDP].name: \"dns\" → \"dns-udp\"",
        ]),
        "{}",
        table.stdout
    );
    // A pure reorder is one move in the patch.
    let init = report["objects"].as_array().unwrap().iter().find(|o| o["key"]["name"] == "init-order").unwrap();
    assert_eq!(
        init["patch"],
        serde_json::json!([{"op": "move", "from": "/spec/template/spec/initContainers/1", "path": "/spec/template/spec/initContainers/0"}])
    );
}

#[test]
fn mutating_webhooks_keep_their_order_validating_ones_do_not() {
    require_clusters();
    let _g = serial();
    struct Cleanup;
    impl Drop for Cleanup {
        fn drop(&mut self) {
            for ctx in ["blue", "green"] {
                for (kind, name) in [
                    ("mutatingwebhookconfiguration", "schema-e2e-mutating"),
                    ("validatingwebhookconfiguration", "schema-e2e-validating"),
                ] {
                    let _ = kubectl_raw(ctx, &["delete", kind, name, "--ignore-not-found"]);
                }
            }
        }
    }
    let _cleanup = Cleanup;
    apply("blue", &webhook_configs(false), &[]);
    apply("green", &webhook_configs(true), &[]);
    let (json, table) =
        diff(&["blue", "green", "--kinds", "MutatingWebhookConfiguration,ValidatingWebhookConfiguration"]);
    assert_eq!(json.code, 1, "{}\n{}", json.stdout, json.stderr);
    patches_are_rfc6902(&json.json());
    assert_eq!(
        table_lines(&table.stdout),
        [
            "MutatingWebhookConfiguration.admissionregistration.k8s.io schema-e2e-mutating: webhooks order: [a.schema.example.com, b.schema.example.com] → [b.schema.example.com, a.schema.example.com]"
        ],
        "{}",
        table.stdout
    );
}

#[test]
fn custom_resources_compare_order_keys_and_quantities_as_their_crd_declares() {
    require_clusters();
    let _g = serial();
    struct Cleanup;
    impl Drop for Cleanup {
        fn drop(&mut self) {
            for ctx in ["blue", "green"] {
                delete_namespace(ctx, CR_NS);
                let _ = kubectl_raw(ctx, &["delete", "crd", "pipelines.schema.example.com", "--ignore-not-found"]);
            }
        }
    }
    let _cleanup = Cleanup;
    for ctx in ["blue", "green"] {
        apply(ctx, PIPELINE_CRD, &[]);
        kubectl(ctx, &["wait", "--for=condition=Established", "crd/pipelines.schema.example.com", "--timeout=60s"]);
    }
    wait_for("pipelines served", Duration::from_secs(60), || {
        ["blue", "green"]
            .iter()
            .all(|c| kubectl_raw(c, &["get", "pipelines.schema.example.com", "-A"]).status.success())
    });
    let _ns = TestNamespace::new(CR_NS, &["blue", "green"]);
    apply("blue", &pipelines(false), &[]);
    apply("green", &pipelines(true), &[]);

    let (json, table) = diff(&["blue", "green", "-n", CR_NS, "--kinds", "Pipeline.schema.example.com"]);
    assert_eq!(json.code, 1, "{}\n{}", json.stdout, json.stderr);
    patches_are_rfc6902(&json.json());
    assert_eq!(json.json()["summary"]["changed"], 3);
    assert_eq!(
        table_lines(&table.stdout).into_iter().collect::<BTreeSet<_>>(),
        set(&[
            // No list type: an ordered list, matched by index.
            "Pipeline.schema.example.com schema-cr/ordered: spec.steps[0].name: \"build\" → \"test\"",
            "Pipeline.schema.example.com schema-cr/ordered: spec.steps[0].run: \"b\" → \"t\"",
            "Pipeline.schema.example.com schema-cr/ordered: spec.steps[1].name: \"test\" → \"build\"",
            "Pipeline.schema.example.com schema-cr/ordered: spec.steps[1].run: \"t\" → \"b\"",
            // A map list keyed by `path`: matched by it, its order compared.
            "Pipeline.schema.example.com schema-cr/routed: spec.routes order: [/a, /b] → [/b, /a, /0]",
            "Pipeline.schema.example.com schema-cr/routed: spec.routes[path=/0]: (absent) → {\"backend\":\"svc-w\",\"path\":\"/0\"}",
            "Pipeline.schema.example.com schema-cr/routed: spec.routes[path=/b].backend: \"svc-y\" → \"svc-z\"",
            // A string under a key named `default` is not a quantity.
            "Pipeline.schema.example.com schema-cr/versioned: spec.default.version: \"1.10\" → \"1.1\"",
        ]),
        "{}",
        table.stdout
    );
}

#[test]
fn an_empty_selector_is_not_an_absent_one() {
    require_clusters();
    let _g = serial();
    let _ns = TestNamespace::new(EMPTY_NS, &["blue", "green"]);
    apply("blue", &empty_objects(false), &[]);
    apply("green", &empty_objects(true), &[]);
    let (json, table) =
        diff(&["blue", "green", "-n", EMPTY_NS, "--kinds", "NetworkPolicy,PodDisruptionBudget,ConfigMap,Deployment"]);
    assert_eq!(json.code, 1, "{}\n{}", json.stdout, json.stderr);
    patches_are_rfc6902(&json.json());
    assert_eq!(
        table_lines(&table.stdout).into_iter().collect::<BTreeSet<_>>(),
        set(&[
            "NetworkPolicy.networking.k8s.io schema-empty/peer-all: spec.ingress[0].from[0].namespaceSelector.matchLabels: (absent) → {\"team\":\"a\"}",
            "NetworkPolicy.networking.k8s.io schema-empty/peer-scoped: spec.ingress[0].from[0].namespaceSelector: {} → (absent)",
            "PodDisruptionBudget.policy schema-empty/all-pods: spec.selector: {} → (absent)",
            "Deployment.apps schema-empty/affinity: spec.template.spec.affinity.podAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].namespaceSelector: {} → (absent)",
        ]),
        "{}",
        table.stdout
    );
}

fn snapshot(ctx: &str, out: &Path, ns: &str) {
    let run = run_kparity(&["snapshot", ctx, "-o", path_str(out), "-n", ns]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
}

/// The parts of a JSON report that describe the clusters' content, not where it was read from.
fn content(report: &Value) -> Value {
    serde_json::json!({
        "verdict": report["verdict"],
        "summary": report["summary"],
        "objects": report["objects"],
        "warnings": report["warnings"],
    })
}

#[test]
fn archive_diff_reports_exactly_what_the_live_diff_reports() {
    require_clusters();
    let _g = serial();
    let _ns = TestNamespace::new(ORDER_NS, &["blue", "green"]);
    apply("blue", &order_objects(false), &[]);
    apply("green", &order_objects(true), &[]);
    std::thread::sleep(Duration::from_secs(1));
    let dir = tempfile::tempdir().expect("tempdir");
    let (a, b) = (dir.path().join("blue.kparity"), dir.path().join("green.kparity"));
    snapshot("blue", &a, ORDER_NS);
    snapshot("green", &b, ORDER_NS);
    let live = run_kparity(&["diff", "blue", "green", "-n", ORDER_NS, "-o", "json"]);
    let files = run_kparity(&["diff", path_str(&a), path_str(&b), "-n", ORDER_NS, "-o", "json"]);
    let mixed = run_kparity(&["diff", path_str(&a), "green", "-n", ORDER_NS, "-o", "json"]);
    assert_eq!(live.code, 1, "{}\n{}", live.stdout, live.stderr);
    assert_eq!(content(&files.json()), content(&live.json()));
    assert_eq!(content(&mixed.json()), content(&live.json()));
    assert_eq!(live.json()["warnings"], serde_json::json!([]), "every schema was read");
    // The archive records what it was compared under.
    let text = {
        let f = std::fs::File::open(&a).unwrap();
        let mut s = String::new();
        std::io::Read::read_to_string(&mut zstd::stream::read::Decoder::new(f).unwrap(), &mut s).unwrap();
        s
    };
    let second: Value = serde_json::from_str(text.lines().nth(1).unwrap()).unwrap();
    let kinds = second["kparity.semantics"]["kinds"].as_array().expect("a semantics record after the header");
    let deploy = kinds.iter().find(|k| k["kind"] == "Deployment" && k["group"] == "apps").expect("Deployment");
    assert_eq!(deploy["paths"]["/spec/template/spec/initContainers"], serde_json::json!({"listMap": ["name"]}));
    assert_eq!(
        deploy["paths"]["/spec/template/spec/containers/*/ports"],
        serde_json::json!({"listMap": ["containerPort", "protocol"]})
    );
}

#[test]
fn archives_without_schemas_compare_conservatively_and_say_so() {
    // Archives of kparity 0.1.0 (format 1) predate schema records.
    let run = run_kparity(&[
        "diff",
        "tests/fixtures/archives-format1/blue.kparity",
        "tests/fixtures/archives-format1/green.kparity",
        "-o",
        "json",
    ]);
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    let warnings: Vec<String> = run.json()["warnings"]
        .as_array()
        .expect("warnings")
        .iter()
        .map(|w| w.as_str().unwrap_or_default().to_string())
        .collect();
    let conservative = "every type was compared with list order kept, list items matched by index, empty values kept and quantities compared as spelled";
    assert!(
        warnings.contains(&format!("the old archive records no schemas (written by an older kparity): {conservative}")),
        "{warnings:?}"
    );
}

#[test]
fn an_unreadable_schema_compares_its_types_conservatively_and_says_so() {
    require_clusters();
    let _g = serial();
    let _ns = TestNamespace::new(ORDER_NS, &["blue", "green"]);
    apply("blue", &order_objects(false), &[]);
    apply("green", &order_objects(true), &[]);
    std::thread::sleep(Duration::from_secs(1));
    let proxy = common::faultproxy::FaultProxy::start("blue", "any /openapi/v3/apis/apps/v1 503 always");
    let dir = tempfile::tempdir().expect("tempdir");
    let kc = proxy.kubeconfig(dir.path(), "faulty");
    let mut cmd = kparity();
    cmd.env("KUBECONFIG", &kc).args([
        "diff",
        "ctx:faulty",
        "ctx:green",
        "-n",
        ORDER_NS,
        "--kinds",
        "Deployment",
        "-o",
        "json",
    ]);
    let run = run_cmd(&mut cmd);
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    assert!(proxy.hits()[0] > 0, "the schema request was never faulted");
    let report = run.json();
    let warnings = report["warnings"].to_string();
    assert!(warnings.contains("the schema of apps/v1 could not be read on old (faulty)"), "{warnings}");
    assert!(
        warnings.contains("its types were compared with list order kept, list items matched by index, empty values kept and quantities compared as spelled"),
        "{warnings}"
    );
    // Never more loosely: every reorder still shows (by index). Volumes stay unordered (the rule
    // sorts them by text); `1` vs `1000m` of a built-in stays equal because the API server itself
    // stores quantities in canonical form.
    let changed: BTreeSet<String> = report["objects"]
        .as_array()
        .expect("objects")
        .iter()
        .map(|o| o["key"]["name"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(changed, set(&["container-order", "env-order", "init-order", "ports"]));
    let init = report["objects"].as_array().unwrap().iter().find(|o| o["key"]["name"] == "init-order").unwrap();
    let paths: Vec<&str> = init["fields"].as_array().unwrap().iter().filter_map(|f| f["path"].as_str()).collect();
    assert!(paths.contains(&"spec.template.spec.initContainers[0].name"), "{paths:?}");
}
