//! Issue 12, classes 1, 2 and 6, end to end against the real test clusters:
//!
//! 1. Coverage: a resource served only in a non-preferred version of its group (a v1beta1 or
//!    v1alpha1 kind beside the group's v1 kinds) is read, compared and reported, live and from an
//!    archive; every report carries each side's coverage.
//! 2. Nothing is proven by nothing: filter values matching nothing on either side are refused,
//!    zero compared objects are never `equivalent`, and an archive diffed with filters wider
//!    than its capture is incomplete, naming what was not captured.
//! 6. Reading holes: a 410 during a multi-namespace read keeps every namespace, a 200 answer
//!    that is not a list is a decode failure, and an object key read twice makes its type
//!    incomplete (faults from `common::faultproxy` in front of the real blue apiserver).

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use common::faultproxy::{FaultProxy, scratch};
use common::*;
use serde_json::Value;

/// A group whose preferred version is v1, with one kind only in v1beta1 and one only in v1alpha1.
const GROUP: &str = "mixedver.coverage.kparity.test";
/// The same three kinds, for the archive test (its own CRDs, so the tests do not share state).
const ARCHIVE_GROUP: &str = "mixedarch.coverage.kparity.test";

/// A CRD served in `versions` (the first is the storage version), namespaced or cluster-scoped.
fn crd(group: &str, plural: &str, kind: &str, namespaced: bool, versions: &[&str]) -> String {
    let mut v = String::new();
    for (i, name) in versions.iter().enumerate() {
        v.push_str(&format!(
            "  - name: {name}\n    served: true\n    storage: {}\n    schema:\n      openAPIV3Schema:\n        type: object\n        \
             properties:\n          spec:\n            type: object\n            x-kubernetes-preserve-unknown-fields: true\n",
            i == 0
        ));
    }
    format!(
        "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata: {{name: {plural}.{group}}}\nspec:\n  \
         group: {group}\n  scope: {}\n  names: {{plural: {plural}, singular: {}, kind: {kind}}}\n  versions:\n{v}",
        if namespaced { "Namespaced" } else { "Cluster" },
        kind.to_ascii_lowercase()
    )
}

/// The three CRDs of a mixed-version group on the given contexts, deleted (and waited for) on drop.
struct MixedGroup {
    group: &'static str,
    contexts: Vec<String>,
}

impl MixedGroup {
    fn install(group: &'static str, contexts: &[&str]) -> MixedGroup {
        let g = MixedGroup { group, contexts: contexts.iter().map(|c| c.to_string()).collect() };
        g.delete();
        for ctx in contexts {
            // Gadgets are served in v1 (the group's preferred version) and v1beta1; grants only
            // in v1beta1; probes (cluster-scoped) only in v1alpha1.
            apply(ctx, &crd(group, "gadgets", "Gadget", true, &["v1", "v1beta1"]), &[]);
            apply(ctx, &crd(group, "grants", "Grant", true, &["v1beta1"]), &[]);
            apply(ctx, &crd(group, "probes", "Probe", false, &["v1alpha1"]), &[]);
            for plural in ["gadgets", "grants", "probes"] {
                kubectl(
                    ctx,
                    &["wait", "--for=condition=Established", &format!("crd/{plural}.{group}"), "--timeout=60s"],
                );
                wait_for(&format!("{plural}.{group} served on {ctx}"), Duration::from_secs(30), || {
                    kubectl_raw(ctx, &["get", &format!("{plural}.{group}"), "-A"]).status.success()
                });
            }
        }
        g
    }

    fn delete(&self) {
        for ctx in &self.contexts {
            for plural in ["gadgets", "grants", "probes"] {
                let _ = kubectl_raw(ctx, &["delete", "crd", &format!("{plural}.{}", self.group), "--ignore-not-found"]);
            }
        }
    }

    /// `--kinds` for exactly the group's three kinds.
    fn kinds(&self) -> String {
        format!("Gadget.{g},Grant.{g},Probe.{g}", g = self.group)
    }
}

impl Drop for MixedGroup {
    fn drop(&mut self) {
        self.delete();
    }
}

/// One object of each kind; `grant_to` and `with_probe` make the sides differ.
fn mixed_objects(group: &str, ns: &str, probe: &str, grant_to: &str, with_probe: bool) -> String {
    let mut y = format!(
        "apiVersion: {group}/v1\nkind: Gadget\nmetadata: {{name: g1, namespace: {ns}}}\nspec: {{size: 3}}\n---\n\
         apiVersion: {group}/v1beta1\nkind: Grant\nmetadata: {{name: r1, namespace: {ns}}}\nspec: {{to: {grant_to}}}\n"
    );
    if with_probe {
        y.push_str(&format!(
            "---\napiVersion: {group}/v1alpha1\nkind: Probe\nmetadata: {{name: {probe}}}\nspec: {{period: 10}}\n"
        ));
    }
    y
}

/// `(change, kind, namespace, name)` of every differing object in a JSON report.
fn differences(report: &Value) -> BTreeSet<(String, String, String, String)> {
    report["objects"]
        .as_array()
        .expect("objects array")
        .iter()
        .map(|o| {
            let s = |v: &Value| v.as_str().unwrap_or("").to_string();
            (s(&o["change"]), s(&o["key"]["kind"]), s(&o["key"]["namespace"]), s(&o["key"]["name"]))
        })
        .collect()
}

fn set(items: &[(&str, &str, &str, &str)]) -> BTreeSet<(String, String, String, String)> {
    items.iter().map(|(a, b, c, d)| (a.to_string(), b.to_string(), c.to_string(), d.to_string())).collect()
}

/// The coverage entry of `resource` in `group` on `side`.
fn coverage_entry<'a>(report: &'a Value, side: &str, group: &str, resource: &str) -> &'a Value {
    report["coverage"][side]["entries"]
        .as_array()
        .and_then(|es| es.iter().find(|e| e["group"] == group && e["resource"] == resource))
        .unwrap_or_else(|| panic!("no coverage entry for {resource}.{group} on {side}: {}", report["coverage"][side]))
}

fn assert_read(report: &Value, side: &str, group: &str, resource: &str, version: &str, objects: u64) {
    let e = coverage_entry(report, side, group, resource);
    assert_eq!(
        (e["status"].as_str(), e["version"].as_str(), e["objects"].as_u64()),
        (Some("read"), Some(version), Some(objects)),
        "{side} {resource}.{group}: {e}"
    );
}

/// The one-line coverage summary the table prints for a side, built from the JSON counts.
fn summary_line(report: &Value, side: &str, name: &str) -> String {
    let c = &report["coverage"][side];
    format!(
        "  {side} {name}: {} of {} types read ({} objects), {} excluded by rules, {} excluded by filters, {} incomplete",
        c["read"], c["types"], c["objects"], c["excluded_by_rules"], c["excluded_by_filters"], c["incomplete"]
    )
}

#[test]
fn kinds_served_only_in_a_non_preferred_version_are_read_and_compared() {
    require_clusters();
    let _g = serial();
    let group = MixedGroup::install(GROUP, &["blue", "green"]);
    let ns = TestNamespace::new("cov-mixed", &["blue", "green"]);
    let probe = "cov-mixed-probe";
    apply("blue", &mixed_objects(GROUP, &ns.name, probe, "blue-team", true), &[]);
    apply("green", &mixed_objects(GROUP, &ns.name, probe, "green-team", false), &[]);

    let kinds = group.kinds();
    let run = run_kparity(&["diff", "blue", "green", "--kinds", &kinds, "-o", "json"]);
    assert_eq!(run.code, 1, "the v1beta1 and v1alpha1 kinds differ:\n{}\n{}", run.stdout, run.stderr);
    let report = run.json();
    assert_eq!(report["verdict"], "different");
    assert_eq!(
        differences(&report),
        set(&[("changed", "Grant", &ns.name, "r1"), ("missing", "Probe", "", probe)]),
        "{}",
        report["objects"]
    );
    let grant = report["objects"].as_array().unwrap().iter().find(|o| o["key"]["kind"] == "Grant").unwrap();
    assert_eq!(grant["fields"][0]["path"], "spec.to");
    assert_eq!(
        (grant["fields"][0]["old"].as_str(), grant["fields"][0]["new"].as_str()),
        (Some("blue-team"), Some("green-team"))
    );

    // Coverage: each kind read in the version that serves it, with its object count.
    assert_read(&report, "old", GROUP, "gadgets", "v1", 1);
    assert_read(&report, "old", GROUP, "grants", "v1beta1", 1);
    assert_read(&report, "old", GROUP, "probes", "v1alpha1", 1);
    assert_read(&report, "new", GROUP, "grants", "v1beta1", 1);
    assert_read(&report, "new", GROUP, "probes", "v1alpha1", 0);
    for side in ["old", "new"] {
        let c = &report["coverage"][side];
        assert_eq!(
            (c["read"].as_u64(), c["incomplete"].as_u64(), c["excluded_by_rules"].as_u64()),
            (Some(3), Some(0), Some(0)),
            "{c}"
        );
        assert_eq!(c["types"].as_u64(), Some(3 + c["excluded_by_filters"].as_u64().unwrap()), "{c}");
        let entries = c["entries"].as_array().unwrap();
        assert_eq!(entries.len() as u64, c["types"].as_u64().unwrap(), "one entry per discovered resource");
        // Every served resource is accounted for once: no (group, resource) twice.
        let unique: BTreeSet<(String, String)> =
            entries.iter().map(|e| (e["group"].to_string(), e["resource"].to_string())).collect();
        assert_eq!(unique.len(), entries.len());
    }
    assert_eq!(report["coverage"]["old"]["objects"], 3);
    assert_eq!(report["coverage"]["new"]["objects"], 2);

    // The table and markdown reports carry the same coverage, one line per side.
    let table = run_kparity(&["diff", "blue", "green", "--kinds", &kinds]);
    assert_eq!(table.code, 1);
    for (side, name) in [("old", "blue"), ("new", "green")] {
        let line = summary_line(&report, side, name);
        assert!(table.stdout.lines().any(|l| l == line), "missing {line:?} in:\n{}", table.stdout);
    }
    assert!(table.stdout.contains(&format!("~ Grant.{GROUP} {}/r1", ns.name)), "{}", table.stdout);
    assert!(table.stdout.contains(&format!("- Probe.{GROUP} {probe}")), "{}", table.stdout);
    let md = run_kparity(&["diff", "blue", "green", "--kinds", &kinds, "-o", "markdown"]);
    assert!(
        md.stdout.contains(&format!("- **coverage:** {}", summary_line(&report, "old", "blue").trim())),
        "{}",
        md.stdout
    );
    assert!(md.stdout.contains(&format!("| `{GROUP}/v1beta1 grants (Grant)` | read, 1 object |")), "{}", md.stdout);
    assert!(md.stdout.contains(&format!("| `{GROUP}/v1alpha1 probes (Probe)` | read, 1 object |")), "{}", md.stdout);

    // Excluding the beta-only kind reports it as excluded, by the filter, on both sides.
    let run = run_kparity(&[
        "diff",
        "blue",
        "green",
        "--kinds",
        &kinds,
        "--exclude-kinds",
        &format!("Grant.{GROUP}"),
        "-o",
        "json",
    ]);
    let report = run.json();
    assert_eq!(differences(&report), set(&[("missing", "Probe", "", probe)]));
    for side in ["old", "new"] {
        let e = coverage_entry(&report, side, GROUP, "grants");
        assert_eq!(
            (e["status"].as_str(), e["by"].as_str(), e["version"].as_str()),
            (Some("excluded"), Some("--exclude-kinds"), Some("v1beta1"))
        );
    }

    // Equal sides compare equivalent, the beta-only kinds included.
    apply("green", &mixed_objects(GROUP, &ns.name, probe, "blue-team", true), &[]);
    let run = run_kparity(&["diff", "blue", "green", "--kinds", &kinds, "-o", "json"]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert_eq!(run.json()["summary"]["equal"], 3);
}

/// A built-in beta-only kind beside its group's GA kinds: `coordination.k8s.io/v1beta1`
/// LeaseCandidate (served by the test clusters' `--runtime-config`) next to v1 Leases.
#[test]
fn a_built_in_beta_only_kind_beside_its_ga_group_is_read() {
    require_clusters();
    let _g = serial();
    for ctx in ["blue", "green"] {
        let served = kubectl(ctx, &["get", "--raw", "/apis/coordination.k8s.io"]);
        let group: Value = serde_json::from_str(&served).expect("group document");
        assert_eq!(group["preferredVersion"]["version"], "v1", "{group}");
        assert!(
            served.contains("coordination.k8s.io/v1beta1"),
            "{ctx} does not serve coordination.k8s.io/v1beta1: restart the clusters (tests/cluster/down.sh; up.sh)"
        );
    }
    let ns = TestNamespace::new("cov-builtin-beta", &["blue", "green"]);
    let candidate = |ns: &str, version: &str| {
        format!(
            "apiVersion: coordination.k8s.io/v1beta1\nkind: LeaseCandidate\nmetadata: {{name: cov-candidate, namespace: {ns}}}\n\
             spec: {{leaseName: cov-lease, binaryVersion: \"{version}\", emulationVersion: \"1.37.0\", strategy: OldestEmulationVersion}}\n"
        )
    };
    apply("blue", &candidate(&ns.name, "1.37.0"), &[]);
    apply("green", &candidate(&ns.name, "1.37.1"), &[]);

    // With the default rules the whole group is left out (leases are per-cluster state), and
    // the coverage says so for the beta-only kind, in its version, on both sides.
    let run = run_kparity(&["diff", "blue", "green", "-n", &ns.name, "-o", "json"]);
    let report = run.json();
    for side in ["old", "new"] {
        let e = coverage_entry(&report, side, "coordination.k8s.io", "leasecandidates");
        assert_eq!(
            (e["status"].as_str(), e["by"].as_str(), e["version"].as_str()),
            (Some("excluded"), Some("rule leases"), Some("v1beta1")),
            "{e}"
        );
    }
    // Without that rule it is read and its difference found.
    let run = run_kparity(&[
        "diff",
        "blue",
        "green",
        "-n",
        &ns.name,
        "--kinds",
        "LeaseCandidate",
        "--no-default-rules",
        "-o",
        "json",
    ]);
    let report = run.json();
    // Without the default rules nothing excuses the fixtures' deliberately broken aggregated API
    // (metrics.k8s.io, when the fixtures are loaded): that group-version alone may be unread.
    let unread: Vec<&Value> = report["incomplete"].as_array().unwrap().iter().collect();
    assert!(
        unread.iter().all(|i| i["group"] == "metrics.k8s.io" && i["resource"].is_null()),
        "only the broken aggregated API may be unread: {unread:?}"
    );
    assert_eq!(run.code, if unread.is_empty() { 1 } else { 2 }, "{}\n{}", run.stdout, run.stderr);
    assert_eq!(
        differences(&report),
        set(&[("changed", "LeaseCandidate", &ns.name, "cov-candidate")]),
        "{}",
        report["objects"]
    );
    assert_read(&report, "old", "coordination.k8s.io", "leasecandidates", "v1beta1", 1);
    assert_read(&report, "new", "coordination.k8s.io", "leasecandidates", "v1beta1", 1);
}

#[test]
fn archives_capture_and_report_kinds_outside_the_preferred_version() {
    require_clusters();
    let _g = serial();
    let group = MixedGroup::install(ARCHIVE_GROUP, &["blue", "green"]);
    let ns = TestNamespace::new("cov-archive", &["blue", "green"]);
    let probe = "cov-archive-probe";
    apply("blue", &mixed_objects(ARCHIVE_GROUP, &ns.name, probe, "blue-team", true), &[]);
    apply("green", &mixed_objects(ARCHIVE_GROUP, &ns.name, probe, "green-team", false), &[]);
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("blue.kparity");
    let kinds = group.kinds();
    let snap = run_kparity(&["snapshot", "blue", "-o", path_str(&archive), "--kinds", &kinds]);
    assert_eq!(snap.code, 0, "{}\n{}", snap.stdout, snap.stderr);
    assert!(snap.stdout.contains("wrote ") && snap.stdout.contains(": 3 objects of 3 types"), "{}", snap.stdout);

    let run = run_kparity(&["diff", path_str(&archive), "green", "--kinds", &kinds, "-o", "json"]);
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    let report = run.json();
    assert_eq!(
        differences(&report),
        set(&[("changed", "Grant", &ns.name, "r1"), ("missing", "Probe", "", probe)]),
        "{}",
        report["objects"]
    );
    // The archive side reports the same coverage as the live side would.
    assert_read(&report, "old", ARCHIVE_GROUP, "grants", "v1beta1", 1);
    assert_read(&report, "old", ARCHIVE_GROUP, "probes", "v1alpha1", 1);
    assert_read(&report, "new", ARCHIVE_GROUP, "probes", "v1alpha1", 0);
    let live = run_kparity(&["diff", "blue", "green", "--kinds", &kinds, "-o", "json"]).json();
    for k in ["read", "objects", "incomplete", "excluded_by_rules", "types"] {
        assert_eq!(report["coverage"]["old"][k], live["coverage"]["old"][k], "coverage {k}: archive vs live");
    }
}

/// An archive that lists a served resource it holds no record of (as one taken by a kparity that
/// never read non-preferred versions) is incomplete for that resource, never "0 objects".
#[test]
fn an_archive_missing_a_served_resource_is_incomplete_for_it() {
    require_clusters();
    let _g = serial();
    let ns = TestNamespace::new("cov-unrecorded", &["blue"]);
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("blue.kparity");
    let snap =
        run_kparity(&["snapshot", "blue", "-o", path_str(&archive), "-n", &ns.name, "--kinds", "ConfigMap,Namespace"]);
    assert_eq!(snap.code, 0, "{}", snap.stderr);
    // Rewrite the archive as an older kparity would have written it: the `configmaps` type
    // record gone from the trailer and the body, but still listed as served in the header.
    let text = decompress(&archive);
    let mut out = Vec::new();
    let mut skipping = false;
    // Manifest entries kept (format 2 writes them in `kparity.manifest` lines before the trailer).
    let mut kept_entries = 0u64;
    for line in text.lines() {
        let mut v: Value = serde_json::from_str(line).expect("archive line");
        if let Some(t) = v.get("kparity.type") {
            skipping = t["resource"] == "configmaps";
        } else if let Some(entries) = v.get_mut("kparity.manifest").and_then(Value::as_array_mut) {
            skipping = false;
            entries.retain(|m| m[1] != "ConfigMap");
            kept_entries += entries.len() as u64;
            if !entries.is_empty() {
                out.push(serde_json::to_string(&v).unwrap());
            }
            continue;
        } else if v.get("kparity.trailer").is_some() {
            skipping = false;
            let tr = &mut v["kparity.trailer"];
            tr["types"].as_array_mut().unwrap().retain(|t| t["resource"] != "configmaps");
            tr["object_count"] = kept_entries.into();
            if let Some(excluded) = tr.get_mut("excluded").and_then(Value::as_array_mut) {
                excluded.retain(|e| e["kind"] != "ConfigMap");
            }
            out.push(serde_json::to_string(&v).unwrap());
            continue;
        }
        // The seal is recomputed below; object lines keep their bytes (the manifest hashes them).
        if !skipping && v.get("kparity.seal").is_none() {
            out.push(line.to_string());
        }
    }
    // Reseal (no key: the archive is then "not authenticated", which a diff accepts).
    let body = out.join("\n") + "\n";
    let sha = {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(body.as_bytes()))
    };
    let sealed = format!("{body}{}\n", serde_json::json!({"kparity.seal": {"sha256": sha, "hmac_sha256": null}}));
    compress(sealed.as_bytes(), &archive);
    assert_eq!(run_kparity(&["verify", path_str(&archive)]).code, 0, "the rewritten archive is intact");

    let run = run_kparity(&[
        "diff",
        path_str(&archive),
        "blue",
        "-n",
        &ns.name,
        "--kinds",
        "ConfigMap,Namespace",
        "-o",
        "json",
    ]);
    assert_eq!(run.code, 2, "{}\n{}", run.stdout, run.stderr);
    let report = run.json();
    assert_eq!(report["verdict"], "incomplete");
    let e = coverage_entry(&report, "old", "", "configmaps");
    assert_eq!(e["status"], "incomplete", "{e}");
    assert!(
        e["reason"].as_str().unwrap().starts_with("not captured: the archive lists configmaps as served (v1)"),
        "{e}"
    );
    let inc: Vec<&Value> = report["incomplete"].as_array().unwrap().iter().filter(|i| i["side"] == "old").collect();
    assert_eq!(inc.len(), 1, "{inc:?}");
    assert_eq!((inc[0]["resource"].as_str(), inc[0]["reason"].as_str()), (Some("configmaps"), Some("recorded")));
}

fn decompress(path: &Path) -> String {
    let bytes = std::fs::read(path).expect("read archive");
    String::from_utf8(zstd::decode_all(&bytes[..]).expect("zstd")).expect("utf-8")
}

fn compress(bytes: &[u8], path: &Path) {
    use std::io::Write;
    let mut enc = zstd::stream::write::Encoder::new(std::fs::File::create(path).expect("create"), 3).expect("zstd");
    enc.include_checksum(true).expect("checksum");
    enc.write_all(bytes).expect("write");
    enc.finish().expect("finish");
}

// --- class 2: nothing is proven by nothing ------------------------------------------------------

/// One `error:` line and one `hint:` line on stderr, exit 2, nothing on stdout.
fn assert_refused(run: &Run, error: &str, hint_start: &str) {
    assert_eq!(run.code, 2, "stdout:\n{}\nstderr:\n{}", run.stdout, run.stderr);
    assert_eq!(run.stdout, "", "a refused run reports nothing");
    let lines: Vec<&str> = run.stderr.lines().collect();
    assert_eq!(lines.len(), 2, "{}", run.stderr);
    assert_eq!(lines[0], format!("error: {error}"));
    assert!(lines[1].starts_with(&format!("hint: {hint_start}")), "{}", run.stderr);
}

#[test]
fn filter_values_matching_nothing_on_either_side_are_refused() {
    require_clusters();
    let run = run_kparity(&["diff", "blue", "green", "-n", "cov-no-such-namespace"]);
    assert_refused(&run, "namespace \"cov-no-such-namespace\" (-n) exists on neither side", "check the spelling");
    let run = run_kparity(&["diff", "blue", "green", "-n", "default", "-n", "cov-no-such-namespace"]);
    assert_refused(&run, "namespace \"cov-no-such-namespace\" (-n) exists on neither side", "check the spelling");
    let run = run_kparity(&["diff", "blue", "green", "--kinds", "Deploymnet"]);
    assert_refused(&run, "kind \"deploymnet\" (--kinds) matches no resource type served on either side", "write Kind");
    let run = run_kparity(&["diff", "blue", "green", "--kinds", "Deployment.app"]);
    assert_refused(
        &run,
        "kind \"deployment.app\" (--kinds) matches no resource type served on either side",
        "write Kind",
    );
    let run = run_kparity(&["diff", "blue", "green", "-n", "default", "--exclude-kinds", "Sercet"]);
    assert_refused(
        &run,
        "kind \"sercet\" (--exclude-kinds) matches no resource type served on either side",
        "write Kind",
    );
}

#[test]
fn a_namespace_on_one_side_only_is_a_difference_not_a_typo() {
    require_clusters();
    let _g = serial();
    let ns = TestNamespace::new("cov-one-side", &["blue"]);
    let run = run_kparity(&["diff", "blue", "green", "-n", &ns.name, "-o", "json"]);
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    let report = run.json();
    assert!(differences(&report).contains(&(
        "missing".to_string(),
        "Namespace".to_string(),
        String::new(),
        ns.name.clone()
    )));
}

#[test]
fn filters_that_leave_zero_objects_are_never_equivalent() {
    require_clusters();
    let _g = serial();
    let ns = TestNamespace::new("cov-zero", &["blue", "green"]);
    let headline =
        "INCOMPLETE: nothing was compared; parity is not proven (0 changed, 0 missing, 0 extra among what was read)";
    for args in [
        // A served kind with no objects in the namespace.
        vec!["--kinds", "Ingress", "-n", ns.name.as_str()],
        // A selector matching nothing.
        vec!["-n", ns.name.as_str(), "-l", "app=cov-nothing-has-this"],
        // Only a kind the rules leave out (Events are derived state).
        vec!["-n", ns.name.as_str(), "--kinds", "Event"],
    ] {
        let mut a = vec!["diff", "blue", "green"];
        a.extend(&args);
        let run = run_kparity(&a);
        assert_eq!(run.code, 2, "{args:?}:\n{}\n{}", run.stdout, run.stderr);
        assert!(run.stdout.lines().any(|l| l == headline), "{args:?}:\n{}", run.stdout);
        a.extend(["-o", "json"]);
        let report = run_kparity(&a).json();
        assert_eq!(report["verdict"], "incomplete", "{args:?}");
        assert_eq!(report["summary"]["equal"], 0);
        assert_eq!(
            report["unproven"],
            serde_json::json!([
                "no object was compared on either side (the filters or rules leave nothing, or both sides are empty): zero objects prove nothing"
            ])
        );
        assert_eq!(report["incomplete"], serde_json::json!([]), "every type was read");
    }
}

#[test]
fn archive_diffs_with_filters_wider_than_the_capture_name_what_was_not_captured() {
    require_clusters();
    let _g = serial();
    let ns = TestNamespace::new("cov-capture", &["blue", "green"]);
    apply("blue", &workloads(&ns.name, "pw"), &[]);
    apply("green", &workloads(&ns.name, "pw"), &[]);
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("blue.kparity"), dir.path().join("green.kparity"));
    for (ctx, file) in [("blue", &a), ("green", &b)] {
        let snap = run_kparity(&["snapshot", ctx, "-o", path_str(file), "-n", &ns.name, "--kinds", "Deployment"]);
        assert_eq!(snap.code, 0, "{}", snap.stderr);
    }
    // As captured: equivalent.
    let run = run_kparity(&["diff", path_str(&a), path_str(&b), "-n", &ns.name, "--kinds", "Deployment"]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);

    let cases: [(&[&str], &str); 3] = [
        (&["--kinds", "ConfigMap"], "not captured: kind ConfigMap (the archive was taken with --kinds Deployment)"),
        (
            &["--kinds", "Deployment,Service"],
            "not captured: kind Service (the archive was taken with --kinds Deployment)",
        ),
        (
            &["--kinds", "Deployment", "-n", "default"],
            "not captured: namespace default (the archive holds only namespaces",
        ),
    ];
    for (extra, reason) in cases {
        let mut args = vec!["diff", path_str(&a), path_str(&b), "-n", &ns.name, "-o", "json"];
        args.extend_from_slice(extra);
        let run = run_kparity(&args);
        assert_eq!(run.code, 2, "{extra:?}: {}\n{}", run.stdout, run.stderr);
        let report = run.json();
        assert_eq!(report["verdict"], "incomplete");
        for side in ["old", "new"] {
            let found = report["incomplete"]
                .as_array()
                .unwrap()
                .iter()
                .any(|i| i["side"] == side && i["message"].as_str().is_some_and(|m| m.starts_with(reason)));
            assert!(found, "{extra:?} {side}: {}", report["incomplete"]);
        }
    }

    // A -n typo against archives that read Namespaces completely is refused like a live one.
    let (c, d) = (dir.path().join("blue-ns.kparity"), dir.path().join("green-ns.kparity"));
    for (ctx, file) in [("blue", &c), ("green", &d)] {
        assert_eq!(run_kparity(&["snapshot", ctx, "-o", path_str(file), "--kinds", "Namespace"]).code, 0);
    }
    let run = run_kparity(&["diff", path_str(&c), path_str(&d), "--kinds", "Namespace", "-n", "cov-typo"]);
    assert_refused(&run, "namespace \"cov-typo\" (-n) exists on neither side", "check the spelling");
    let run = run_kparity(&["diff", path_str(&c), path_str(&d), "--kinds", "Namespac"]);
    assert_refused(&run, "kind \"namespac\" (--kinds) matches no resource type served on either side", "write Kind");
}

// --- class 6: reading holes ---------------------------------------------------------------------

fn configmaps(ns: &str, n: usize) -> String {
    (0..n)
        .map(|i| {
            format!(
                "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: cm-{i}, namespace: {ns}}}\ndata: {{i: \"{i}\"}}\n"
            )
        })
        .collect::<Vec<_>>()
        .join("---\n")
}

fn via_proxy(proxy: &FaultProxy, dir: &Path, args: &[&str]) -> Run {
    let mut cmd = kparity();
    cmd.env("KUBECONFIG", proxy.kubeconfig(dir, "faulty")).args(["diff", "ctx:faulty", "ctx:blue"]).args(args);
    cmd.timeout(Duration::from_secs(120));
    run_cmd(&mut cmd)
}

fn kind_entry<'a>(report: &'a Value, kind: &str) -> &'a Value {
    report["kinds"]
        .as_array()
        .and_then(|ks| ks.iter().find(|k| k["kind"] == kind && k["group"] == ""))
        .unwrap_or_else(|| panic!("no kind {kind}: {}", report["kinds"]))
}

#[test]
fn a_410_in_one_namespace_keeps_the_namespaces_read_before_it() {
    require_clusters();
    let _g = serial();
    let (a, b) = (TestNamespace::new("cov-gone-a", &["blue"]), TestNamespace::new("cov-gone-b", &["blue"]));
    apply("blue", &configmaps(&a.name, 3), &[]);
    apply("blue", &configmaps(&b.name, 3), &[]);
    let (_keep, dir) = scratch();
    // The continue token of namespace b's ConfigMaps expires once, after a was read completely.
    let proxy = FaultProxy::start("blue", &format!("continue /api/v1/namespaces/{}/configmaps 410 x1", b.name));
    let run = via_proxy(
        &proxy,
        &dir,
        // Paged: a stream has no continue token to expire.
        &[
            "-n",
            &a.name,
            "-n",
            &b.name,
            "--page-size",
            "2",
            "--list-method",
            "pages",
            "--kinds",
            "ConfigMap",
            "-o",
            "json",
        ],
    );
    assert_eq!(proxy.hits(), [1], "the 410 fired: {:?}", proxy.requests());
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let report = run.json();
    assert_eq!(report["verdict"], "equivalent");
    let cm = kind_entry(&report, "ConfigMap");
    assert_eq!((cm["old"].as_u64(), cm["new"].as_u64(), cm["equal"].as_u64()), (Some(8), Some(8), Some(8)), "{cm}");
    // Both namespaces' pages were read again after the 410 (a's first page twice in all).
    let first_a = format!("FirstPage /api/v1/namespaces/{}/configmaps", a.name);
    assert_eq!(proxy.requests().iter().filter(|r| r.starts_with(&first_a)).count(), 2, "{:?}", proxy.requests());
    assert_eq!(report["coverage"]["old"]["objects"], 8, "{}", report["coverage"]["old"]);
}

#[test]
fn a_200_answer_that_is_not_a_list_is_a_decode_failure() {
    require_clusters();
    let _g = serial();
    let ns = TestNamespace::new("cov-notalist", &["blue"]);
    apply("blue", &configmaps(&ns.name, 2), &[]);
    let (_keep, dir) = scratch();
    let proxy = FaultProxy::start("blue", "first-page configmaps object always");
    let run = via_proxy(&proxy, &dir, &["-n", &ns.name, "-o", "json"]);
    assert!(proxy.hits()[0] >= 1);
    assert_eq!(run.code, 2, "{}\n{}", run.stdout, run.stderr);
    let report = run.json();
    assert_eq!(report["verdict"], "incomplete");
    let inc = report["incomplete"].as_array().unwrap();
    assert_eq!(inc.len(), 1, "{inc:?}");
    assert_eq!(
        (inc[0]["side"].as_str(), inc[0]["resource"].as_str(), inc[0]["reason"].as_str()),
        (Some("old"), Some("configmaps"), Some("decode"))
    );
    assert!(inc[0]["message"].as_str().unwrap().contains("the answer has no `items`"), "{}", inc[0]["message"]);
    assert_eq!(kind_entry(&report, "ConfigMap")["old"], Value::Null, "an unread kind has no count");
    assert!(differences(&report).is_empty(), "nothing claimed about an unread kind: {}", report["objects"]);
}

#[test]
fn an_object_key_read_twice_makes_its_type_incomplete() {
    require_clusters();
    let _g = serial();
    let ns = TestNamespace::new("cov-twice", &["blue"]);
    apply("blue", &configmaps(&ns.name, 3), &[]);
    let (_keep, dir) = scratch();
    // The first continue request is answered with the first page again.
    let proxy = FaultProxy::start("blue", "continue configmaps repeat x1");
    let run = via_proxy(&proxy, &dir, &["-n", &ns.name, "--page-size", "2", "--list-method", "pages", "-o", "json"]);
    assert_eq!(proxy.hits(), [1]);
    assert_eq!(run.code, 2, "{}\n{}", run.stdout, run.stderr);
    let report = run.json();
    let inc = report["incomplete"].as_array().unwrap();
    assert_eq!(inc.len(), 1, "{inc:?}");
    assert_eq!(
        (inc[0]["side"].as_str(), inc[0]["resource"].as_str(), inc[0]["reason"].as_str()),
        (Some("old"), Some("configmaps"), Some("inconsistent"))
    );
    assert!(
        inc[0]["message"].as_str().unwrap().contains("2 object key(s) read more than once"),
        "{}",
        inc[0]["message"]
    );
    assert_eq!(coverage_entry(&report, "old", "", "configmaps")["status"], "incomplete");
}
