//! No secret byte leaves the process (issue 13 §2), against the real test clusters: canary
//! values planted in every place a credential lives — a Secret's `data`, its `stringData` (and
//! so the `kubectl.kubernetes.io/last-applied-configuration` annotation of `kubectl apply`), a
//! kapp-style `kapp.k14s.io/original` annotation holding the whole Secret, another tool's
//! annotation, a Secret field served under an odd kind, and fields of a ConfigMap and of a
//! custom resource covered by a user's `digest` rule — different on blue and green, then every
//! output is searched for every canary: each report format, the metrics file, the `rules`
//! output, stderr at `RUST_LOG=trace`, and every archive, decompressed (keyed and unkeyed),
//! and the reports of archive-vs-archive and archive-vs-live diffs.
//!
//! Fails loudly when the clusters are down: run `tests/cluster/up.sh`.

mod common;

use std::io::Read as _;
use std::path::Path;

use base64::Engine as _;
use common::*;
use serde_json::{Value, json};

const NS: &str = "canary-secrets";
const KEY: &str = "canary-test-key-0123456789abcdef0123456789abcdef";

/// The canary of `place` on `side`: distinct everywhere, so a leak names its origin.
fn canary(side: &str, place: &str) -> String {
    format!("kpcanary-{side}-{place}-9d2f")
}

const PLACES: &[&str] = &["data", "stringdata", "kapp", "tool-annotation", "configmap", "cr-token", "cr-nested"];

/// Every spelling a leaked canary could take: as is, base64 (Secret `data` and kapp's copy),
/// and base64 of the JSON string.
fn spellings() -> Vec<String> {
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let mut out = Vec::new();
    for side in ["blue", "green"] {
        for place in PLACES {
            let c = canary(side, place);
            out.push(b64(&c));
            out.push(c);
        }
    }
    out
}

fn assert_clean(what: &str, text: &str) {
    for c in spellings() {
        assert!(!text.contains(&c), "{what} leaks canary {c:?}:\n{}", excerpt(text, &c));
    }
}

fn excerpt(text: &str, needle: &str) -> String {
    let i = text.find(needle).unwrap_or(0);
    let bytes = &text.as_bytes()[i.saturating_sub(200)..(i + 200).min(text.len())];
    String::from_utf8_lossy(bytes).into_owned()
}

const TOKEN_CRD: &str = r#"apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: apitokens.canary.parity.example.com}
spec:
  group: canary.parity.example.com
  scope: Namespaced
  names: {plural: apitokens, singular: apitoken, kind: ApiToken}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec: {type: object, x-kubernetes-preserve-unknown-fields: true}
"#;

/// The user's rules: digest the Helm values of a ConfigMap and the tokens of a custom resource.
const RULES: &str = r#"rules:
  - name: helm-values
    why: Helm values carry database passwords
    match: {kind: ConfigMap, labels: "owner=helm"}
    digest: [/data/values.yaml]
  - name: api-token
    why: the token and the client secrets of every ApiToken are credentials
    match: {group: canary.parity.example.com, kind: ApiToken}
    digest: [/spec/token, /spec/clients/*/secret]
"#;

fn plant(ctx: &str) {
    let c = |place: &str| canary(ctx, place);
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    // `kubectl apply` (client-side) writes the whole Secret, values included, into the
    // last-applied-configuration annotation.
    let kapp_original = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db", "namespace": NS},
        "data": {"password": b64(&c("kapp"))}})
    .to_string();
    let secret = json!({"apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "db", "namespace": NS, "labels": {"app": "db"}, "annotations": {
            "kapp.k14s.io/original": kapp_original,
            "example.com/rotation-token": c("tool-annotation"),
            "kubernetes.io/service-account.name": "builder"}},
        "data": {"password": b64(&c("data"))},
        "stringData": {"api-key": c("stringdata")}});
    apply(ctx, &secret.to_string(), &[]);
    let cm = json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "release-values", "namespace": NS, "labels": {"owner": "helm"}},
        "data": {"values.yaml": format!("db:\n  password: {}\n", c("configmap")), "chart": "db-1.2.3"}});
    apply(ctx, &cm.to_string(), &["--server-side"]);
    let token = json!({"apiVersion": "canary.parity.example.com/v1", "kind": "ApiToken",
        "metadata": {"name": "ci", "namespace": NS},
        "spec": {"token": c("cr-token"), "clients": [{"name": "a", "secret": c("cr-nested")}], "owner": "ci"}});
    apply(ctx, &token.to_string(), &["--server-side"]);
}

fn decompress(path: &Path) -> String {
    let mut out = Vec::new();
    zstd::stream::read::Decoder::new(std::fs::File::open(path).expect("open archive"))
        .expect("zstd")
        .read_to_end(&mut out)
        .expect("decompress");
    String::from_utf8_lossy(&out).into_owned()
}

#[test]
fn planted_canaries_appear_in_no_output_and_no_archive() {
    require_clusters();
    let _g = serial();
    for ctx in ["blue", "green"] {
        apply(ctx, TOKEN_CRD, &[]);
        kubectl(
            ctx,
            &["wait", "--for=condition=Established", "crd/apitokens.canary.parity.example.com", "--timeout=60s"],
        );
    }
    let _ns = TestNamespace::new(NS, &["blue", "green"]);
    for ctx in ["blue", "green"] {
        wait_for("apitokens served", std::time::Duration::from_secs(30), || {
            kubectl_raw(ctx, &["get", "apitokens.canary.parity.example.com", "-n", NS]).status.success()
        });
        plant(ctx);
    }
    // The canaries are really on the servers (the test would prove nothing otherwise).
    let served =
        kubectl("blue", &["get", "secret,configmap,apitokens.canary.parity.example.com", "-n", NS, "-o", "json"]);
    for place in PLACES {
        let c = canary("blue", place);
        let b = base64::engine::general_purpose::STANDARD.encode(&c);
        assert!(served.contains(&c) || served.contains(&b), "canary {place} not planted");
    }

    let dir = tempfile::tempdir().expect("tempdir");
    let rules = dir.path().join("rules.yaml");
    std::fs::write(&rules, RULES).expect("write rules");
    let rules = path_str(&rules).to_string();

    // `kparity rules` shows the digest rules, validated.
    let run = run_kparity(&["rules", "--rules", &rules]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.contains("digest:"), "{}", run.stdout);
    assert_clean("kparity rules", &format!("{}{}", run.stdout, run.stderr));

    // Live against live, every format, trace logging, a metrics file.
    let metrics = dir.path().join("kparity.prom");
    for format in ["table", "json", "markdown", "junit"] {
        let run = run_cmd(kparity().env("RUST_LOG", "trace").args([
            "diff",
            "blue",
            "green",
            "-n",
            NS,
            "--rules",
            &rules,
            "-o",
            format,
            "--metrics-file",
            path_str(&metrics),
        ]));
        assert_eq!(run.code, 1, "{format}: {}", &run.stderr[run.stderr.len().saturating_sub(2000)..]);
        assert_clean(&format!("diff -o {format} stdout"), &run.stdout);
        assert_clean(&format!("diff -o {format} stderr (trace)"), &run.stderr);
        assert_clean("metrics file", &std::fs::read_to_string(&metrics).expect("metrics written"));
        // Not vacuous: every planted object differs and is reported.
        for name in ["db", "release-values", "ci"] {
            assert!(run.stdout.contains(name), "{format}: {name} must be reported as changed:\n{}", run.stdout);
        }
    }
    // The JSON report says what changed without saying the value.
    let run = run_kparity(&["diff", "blue", "green", "-n", NS, "--rules", &rules, "-o", "json"]);
    let report = run.json();
    let db = report["objects"].as_array().expect("objects").iter().find(|o| o["key"]["name"] == "db").expect("db");
    let patch = db["patch"].to_string();
    assert!(patch.contains("/metadata/annotations/kapp.k14s.io~1original"), "{patch}");
    assert!(patch.contains("(value hidden)") && !patch.contains("hmac-sha256"), "{patch}");

    // Archives: keyed and unkeyed, with the digest rules at capture; then diffs of archives.
    let mut archives = Vec::new();
    for (ctx, key) in [("blue", Some(KEY)), ("green", Some(KEY)), ("blue", None)] {
        let out = dir.path().join(format!("{ctx}-{}.kparity", if key.is_some() { "keyed" } else { "unkeyed" }));
        let mut cmd = kparity();
        if let Some(k) = key {
            cmd.env("KPARITY_SECRET_KEY", k);
        }
        let run = run_cmd(cmd.env("RUST_LOG", "trace").args([
            "snapshot",
            ctx,
            "-o",
            path_str(&out),
            "-n",
            NS,
            "--rules",
            &rules,
        ]));
        assert_eq!(run.code, 0, "snapshot {ctx}: {}", &run.stderr[run.stderr.len().saturating_sub(2000)..]);
        assert_clean(&format!("snapshot {ctx} output"), &format!("{}{}", run.stdout, run.stderr));
        let text = decompress(&out);
        assert_clean(&format!("archive {}", out.display()), &text);
        // The digest rules are recorded in the header, and the digested objects are there.
        let header: Value = serde_json::from_str(text.lines().next().expect("header")).expect("header json");
        let recorded: Vec<&str> = header["kparity.snapshot"]["redactions"]
            .as_array()
            .map(|r| r.iter().filter_map(|x| x["rule"].as_str()).collect())
            .unwrap_or_default();
        assert_eq!(recorded, ["helm-values", "api-token"], "{}", header);
        for name in ["\"db\"", "\"release-values\"", "\"ci\""] {
            assert!(text.contains(name), "{name} missing from the archive");
        }
        archives.push(out);
    }
    for (old, new) in [(&archives[0], &archives[1]), (&archives[2], &archives[1])] {
        for format in ["table", "json", "markdown", "junit"] {
            let run = run_cmd(kparity().env("KPARITY_SECRET_KEY", KEY).env("RUST_LOG", "trace").args([
                "diff",
                path_str(old),
                path_str(new),
                "--rules",
                &rules,
                "-o",
                format,
            ]));
            assert!(run.code == 1 || run.code == 2, "{format}: {}", run.stderr);
            assert_clean(&format!("archive diff -o {format}"), &format!("{}{}", run.stdout, run.stderr));
        }
    }
    let run = run_cmd(kparity().env("KPARITY_SECRET_KEY", KEY).env("RUST_LOG", "trace").args([
        "diff",
        path_str(&archives[0]),
        "green",
        "-n",
        NS,
        "--rules",
        &rules,
        "-o",
        "json",
    ]));
    assert_eq!(run.code, 1, "{}", &run.stderr[run.stderr.len().saturating_sub(2000)..]);
    assert_clean("archive vs live", &format!("{}{}", run.stdout, run.stderr));
    let run = run_kparity(&["verify", path_str(&archives[0])]);
    assert_clean("verify", &format!("{}{}", run.stdout, run.stderr));
}

#[test]
fn equal_secret_annotations_still_compare_equal() {
    require_clusters();
    let _g = serial();
    let ns = TestNamespace::new("canary-equal", &["blue", "green"]);
    // Digests hide values without hiding equality: the same kapp annotation and values on both
    // sides are equivalent.
    let secret = json!({"apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "same", "namespace": ns.name, "annotations": {"kapp.k14s.io/original": "{\"same\":true}"}},
        "stringData": {"k": "same-value"}});
    for ctx in ["blue", "green"] {
        apply(ctx, &secret.to_string(), &["--server-side"]);
    }
    let run = run_kparity(&["diff", "blue", "green", "-n", &ns.name, "--kinds", "Secret"]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
}
