//! Fuzz targets (issue 6), written with proptest so they run on stable Rust: the rules parser,
//! the JSON-pointer / glob / selector matchers and the snapshot reader, fed random and mutated
//! input. Each must never panic, and must refuse what it cannot vouch for.
//!
//! In `cargo test` each target runs a short, fixed number of cases (a regression net).
//! `tests/fuzz.sh TARGET SECONDS` runs one for as long as asked and prints the executions:
//! it sets `KPARITY_FUZZ_SECS`, and the target loops until that time is used up.
//! Inputs that once failed are kept below as plain regression tests.

use std::io::Write as _;
use std::path::Path;
use std::time::{Duration, Instant};

use kparity::dump::Sink;
use kparity::model::ApiType;
use kparity::rules::pattern::{NameGlob, PointerPattern, Segment, Selector};
use kparity::rules::{Origin, parse_rule_file};
use kparity::snapshot::format::*;
use kparity::snapshot::read;
use kparity::snapshot::write::SnapshotWriter;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::{Value, json};

/// Runs `test` on inputs from `strategy`: 256 cases, or for `KPARITY_FUZZ_SECS` seconds when set.
/// Prints the number of executions, which `tests/fuzz.sh` reports.
fn fuzz<S: Strategy>(name: &str, strategy: S, test: impl Fn(S::Value) -> Result<(), TestCaseError>)
where
    S::Value: std::fmt::Debug,
{
    let budget = std::env::var("KPARITY_FUZZ_SECS").ok().and_then(|s| s.parse::<u64>().ok());
    let start = Instant::now();
    // The runner takes an `Fn`: count through a Cell.
    let executions = std::cell::Cell::new(0u64);
    let rounds = if budget.is_some() { u64::MAX } else { 1 };
    for _ in 0..rounds {
        let mut runner = TestRunner::new(Config { cases: 256, failure_persistence: None, ..Config::default() });
        let result = runner.run(&strategy, |input| {
            executions.set(executions.get() + 1);
            test(input)
        });
        if let Err(e) = result {
            panic!("fuzz target {name} failed after {} executions: {e}", executions.get());
        }
        if budget.is_none_or(|b| start.elapsed() >= Duration::from_secs(b)) {
            break;
        }
    }
    let executions = executions.get();
    println!("fuzz target {name}: {executions} executions in {:.1} s, no failure", start.elapsed().as_secs_f32());
}

/// Random edits (insert, delete, replace a byte) of a seed text.
fn mutations(seed: &'static [u8], max_edits: usize) -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec((any::<prop::sample::Index>(), 0u8..3, any::<u8>()), 1..=max_edits).prop_map(move |edits| {
        let mut bytes = seed.to_vec();
        for (at, op, b) in edits {
            if bytes.is_empty() {
                bytes.push(b);
                continue;
            }
            let i = at.index(bytes.len());
            match op {
                0 => bytes.insert(i, b),
                1 => {
                    bytes.remove(i);
                }
                _ => bytes[i] = b,
            }
        }
        bytes
    })
}

/// YAML-ish text from the characters rules files are made of.
fn yamlish() -> impl Strategy<Value = String> {
    prop::string::string_regex(r##"([a-zA-Z0-9_.\-/~*\[\]{}:,'"#!&|>@ ]|\n|\n  |\n    - ){0,160}"##).expect("regex")
}

const CORE_RULES: &[u8] = include_bytes!("../ignore-rules/core.yaml");

const USER_RULES: &[u8] = br#"rules:
  - name: ignore-replicas
    why: the HPA owns replicas
    match: {group: apps, kind: Deployment, namespace: "shop-*", labels: "app in (web,api),!canary"}
    drop: [/spec/replicas, /metadata/annotations/example.com~1*, /spec/template/spec/containers/*/image]
  - name: presence-only
    why: contents rotate
    match: {kind: Secret, fields: {/type: kubernetes.io/tls}}
    presence: true
waivers:
  - match: {kind: ConfigMap, namespace: shop, name: settings}
    path: /data/timeout
    reason: ticket OPS-1
    expires: 2030-01-31
"#;

fn check_rules_text(text: &str) -> Result<(), TestCaseError> {
    match parse_rule_file(text, Origin::File("fuzz.yaml".into())) {
        Ok(_) => {}
        Err(e) => {
            let msg = e.to_string();
            prop_assert!(!msg.is_empty());
            // A located error points inside the text (or just past its end).
            if let kparity::rules::RulesError::Parse { line, column, .. } = &e {
                let lines = text.lines().count().max(1);
                prop_assert!(*line >= 1 && *line <= lines + 1, "line {} of {}: {}", line, lines, msg);
                prop_assert!(*column >= 1, "{}", msg);
            }
        }
    }
    Ok(())
}

#[test]
fn fuzz_rules_parser_on_random_text() {
    fuzz("rules-random", yamlish(), |text| check_rules_text(&text));
}

#[test]
fn fuzz_rules_parser_on_mutated_rule_files() {
    let seeds = prop_oneof![mutations(CORE_RULES, 8), mutations(USER_RULES, 8)];
    fuzz("rules-mutated", seeds, |bytes| check_rules_text(&String::from_utf8_lossy(&bytes)));
}

/// JSON documents shaped like Kubernetes objects, with awkward keys.
fn json_value() -> impl Strategy<Value = Value> {
    let key = || prop::string::string_regex(r"[a-z~/*.\-0-9]{0,6}").expect("regex");
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        "[a-z]{0,4}".prop_map(Value::from)
    ];
    leaf.prop_recursive(4, 48, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::btree_map(key(), inner, 0..5).prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn pointer_text() -> impl Strategy<Value = String> {
    prop::string::string_regex(
        r"(/([a-z0-9.\-]{0,4}|\*|[a-z]{0,2}\*[a-z]{0,2}|~0|~1|~2|~|\[|\{|\?)){0,5}|[a-z/~*]{0,8}",
    )
    .expect("regex")
}

#[test]
fn fuzz_pointer_patterns_parse_and_remove_safely() {
    fuzz("pointer", (pointer_text(), json_value()), |(text, mut doc)| {
        let Ok(p) = PointerPattern::parse(&text) else { return Ok(()) };
        prop_assert!(text.starts_with('/'));
        let _ = p.covers(&["metadata".to_string(), "labels".to_string()]);
        let before = doc.clone();
        let removed = p.remove_from(&mut doc);
        if removed == 0 {
            prop_assert_eq!(&doc, &before, "nothing removed, nothing may change");
        }
        // Removal is idempotent: what the pattern designates is gone after one pass. (Not for an
        // exact array index: removing item 0 makes the next item item 0, as RFC 6901 means it.)
        let indexes = p.segments().iter().any(|s| matches!(s, Segment::Exact(x) if x.parse::<usize>().is_ok()));
        if !indexes {
            prop_assert_eq!(p.remove_from(&mut doc), 0, "pattern {} removed more on a second pass", text);
        }
        Ok(())
    });
}

#[test]
fn fuzz_name_globs_and_selectors_never_panic() {
    let text = || prop::string::string_regex(r"[a-z\-.*?\[\]{},!=() ]{0,16}").expect("regex");
    let labels = prop::collection::btree_map("[a-z]{1,3}", "[a-z]{0,3}", 0..4);
    fuzz("glob-selector", (text(), text(), labels), |(pattern, name, labels): (String, String, _)| {
        if let Ok(g) = NameGlob::parse(&pattern) {
            let hit = g.is_match(&name);
            // Without metacharacters a glob is an exact name.
            if !pattern.contains(['*', '?', '[', '{']) {
                prop_assert_eq!(hit, pattern == name);
            }
            if pattern == "*" {
                prop_assert!(hit);
            }
        }
        if let Ok(sel) = Selector::parse(&pattern) {
            let map: serde_json::Map<String, Value> = labels.into_iter().map(|(k, v)| (k, Value::from(v))).collect();
            let _ = sel.matches(Some(&map));
            let _ = sel.matches(None);
        }
        Ok(())
    });
}

/// A small, valid archive written by kparity's own writer.
fn write_archive(dir: &Path) -> std::path::PathBuf {
    let out = dir.join("seed.kparity");
    let ty = ApiType {
        group: "".into(),
        version: "v1".into(),
        resource: "configmaps".into(),
        kind: "ConfigMap".into(),
        namespaced: true,
    };
    let writer = SnapshotWriter::new(&out, false).expect("writer");
    let objs = (0..4)
        .map(|i| json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": format!("cm-{i}"), "namespace": "shop"}, "data": {"k": i.to_string()}}))
        .map(Into::into)
        .collect();
    writer.page(&ty, objs);
    let header = Header {
        format: FORMAT_NAME.into(),
        version: FORMAT_VERSION,
        tool_version: "fuzz".into(),
        context: "seed".into(),
        server: "https://127.0.0.1".into(),
        kubernetes_version: Some("v1.37.2".into()),
        captured_at: "2026-11-22T00:00:00Z".into(),
        secret_key_fingerprint: None,
        filters: FiltersRecord::default(),
        api_resources: vec![TypeRecord::from(&ty)],
        normalization: "none at capture".into(),
        redactions: Vec::new(),
    };
    let statuses = vec![TypeStatus { ty: TypeRecord::from(&ty), count: 0, incomplete: None, resource_version: None }];
    writer.finish(&out, &header, statuses, vec![], vec![], None).expect("finish");
    out
}

fn decompress(bytes: &[u8]) -> Vec<u8> {
    zstd::stream::decode_all(bytes).expect("decompress the seed")
}

/// The lines before the seal: what an accepted archive must hold unchanged.
fn sealed_part(plain: &[u8]) -> &[u8] {
    let text = plain;
    let pos = text.windows(16).rposition(|w| w == b"{\"kparity.seal\":").unwrap_or(text.len());
    &text[..pos]
}

#[test]
fn fuzz_snapshot_reader_refuses_damaged_archives() {
    let dir = tempfile::tempdir().expect("tempdir");
    let seed_path = write_archive(dir.path());
    let seed: &'static [u8] = Box::leak(std::fs::read(&seed_path).expect("read seed").into_boxed_slice());
    let plain: &'static [u8] = Box::leak(decompress(seed).into_boxed_slice());
    assert!(read::read(&seed_path, None, |_| {}).is_ok(), "the seed archive must verify");
    let case = tempfile::tempdir().expect("tempdir");
    let path = case.path().join("case.kparity");
    // Mutate either the compressed bytes or the plain content (recompressed validly, so the
    // checks behind zstd's own checksum are reached).
    let inputs = prop_oneof![
        mutations(seed, 4).prop_map(|b| (false, b)),
        mutations(plain, 4).prop_map(|b| (true, b)),
        prop::collection::vec(any::<u8>(), 0..64).prop_map(|b| (false, b)),
    ];
    fuzz("snapshot-reader", inputs, |(is_plain, bytes)| {
        let file_bytes = if is_plain {
            let mut enc = zstd::stream::write::Encoder::new(Vec::new(), 1).expect("zstd");
            enc.include_checksum(true).expect("checksum");
            enc.write_all(&bytes).expect("compress");
            enc.finish().expect("finish")
        } else {
            bytes.clone()
        };
        std::fs::write(&path, &file_bytes).expect("write case");
        let mut objects = 0usize;
        let result = read::read(&path, None, |e| {
            if let read::Event::Object(..) = e {
                objects += 1;
            }
        });
        if result.is_ok() {
            let got =
                std::fs::read(&path).map(|b| zstd::stream::decode_all(&b[..]).unwrap_or_default()).unwrap_or_default();
            prop_assert_eq!(sealed_part(&got), sealed_part(plain), "an archive with changed content was accepted");
            prop_assert_eq!(objects, 4);
        }
        Ok(())
    });
}
