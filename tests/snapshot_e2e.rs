//! `kparity snapshot` / `verify` / `diff FILE ...` end to end: round trips against live clusters,
//! snapshot-vs-snapshot parity with live-vs-live, refusal of every kind of damaged archive,
//! keyed secret digests, and the example archives in `snapshots/`.

mod common;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use common::*;
use serde_json::Value;
use sha2::{Digest, Sha256};

const KEY: &str = "test-key-0123456789abcdef";

fn snapshot(ctx: &str, out: &Path, extra: &[&str], key: Option<&str>) -> Run {
    let mut cmd = kparity();
    if let Some(k) = key {
        cmd.env("KPARITY_SECRET_KEY", k);
    }
    let mut args = vec!["snapshot", ctx, "-o", path_str(out)];
    args.extend_from_slice(extra);
    run_cmd(cmd.args(&args))
}

fn decompress(path: &Path) -> Vec<u8> {
    let mut out = Vec::new();
    zstd::stream::read::Decoder::new(std::fs::File::open(path).expect("open archive"))
        .expect("zstd")
        .read_to_end(&mut out)
        .expect("decompress");
    out
}

fn compress(bytes: &[u8], path: &Path) {
    let mut enc = zstd::stream::write::Encoder::new(std::fs::File::create(path).expect("create"), 3).expect("zstd");
    enc.include_checksum(true).expect("checksum");
    enc.write_all(bytes).expect("write");
    enc.finish().expect("finish");
}

fn lines(bytes: &[u8]) -> Vec<String> {
    String::from_utf8(bytes.to_vec()).expect("utf-8").lines().map(str::to_string).collect()
}

fn join(lines: &[String]) -> Vec<u8> {
    let mut s = lines.join("\n");
    s.push('\n');
    s.into_bytes()
}

fn verify(path: &Path) -> Run {
    run_kparity(&["verify", path_str(path)])
}

/// The JSON report minus what legitimately differs between runs and source kinds.
fn comparable_report(r: &Value) -> Value {
    let mut r = r.clone();
    for k in ["old", "new"] {
        r.as_object_mut().unwrap().remove(k);
    }
    r
}

#[test]
fn snapshot_round_trip_against_live_then_drift() {
    require_clusters();
    let _g = serial();
    let ns = TestNamespace::new("snap-roundtrip", &["blue"]);
    apply("blue", &workloads(&ns.name, "round-trip-pw"), &[]);
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("blue.kparity");
    let run = snapshot("blue", &archive, &["-n", &ns.name], Some(KEY));
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("wrote "), "{}", run.stdout);
    assert_eq!(verify(&archive).code, 0);

    let same = run_cmd(kparity().env("KPARITY_SECRET_KEY", KEY).args([
        "diff",
        path_str(&archive),
        "blue",
        "-n",
        &ns.name,
        "-o",
        "json",
    ]));
    assert_eq!(same.code, 0, "{}\n{}", same.stdout, same.stderr);
    assert_eq!(same.json()["verdict"], "equivalent");
    assert_eq!(same.json()["old"]["source"], "snapshot");

    kubectl("blue", &["-n", &ns.name, "scale", "deployment/web", "--replicas=5"]);
    kubectl(
        "blue",
        &["-n", &ns.name, "patch", "secret", "db-credentials", "-p", r#"{"stringData":{"password":"other"}}"#],
    );
    let drift = run_cmd(kparity().env("KPARITY_SECRET_KEY", KEY).args([
        "diff",
        path_str(&archive),
        "blue",
        "-n",
        &ns.name,
        "-o",
        "json",
    ]));
    assert_eq!(drift.code, 1, "{}\n{}", drift.stdout, drift.stderr);
    let report = drift.json();
    let changed: Vec<String> = report["objects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            format!(
                "{} {} {}",
                o["key"]["kind"].as_str().unwrap(),
                o["key"]["name"].as_str().unwrap(),
                o["change"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(changed, vec!["Secret db-credentials changed", "Deployment web changed"], "{report:#}");
}

#[test]
fn snapshot_vs_snapshot_reports_like_live_vs_live() {
    require_clusters();
    let _g = serial();
    let ns = TestNamespace::new("snap-parity", &["blue", "green"]);
    apply("blue", &workloads(&ns.name, "pw-a"), &[]);
    apply("green", &workloads(&ns.name, "pw-b"), &[]);
    kubectl("green", &["-n", &ns.name, "delete", "configmap", "routing"]);
    kubectl("green", &["-n", &ns.name, "set", "image", "deployment/web", "web=registry.example/web:9"]);
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("blue.kparity"), dir.path().join("green.kparity"));
    assert_eq!(snapshot("blue", &a, &["-n", &ns.name], Some(KEY)).code, 0);
    assert_eq!(snapshot("green", &b, &["-n", &ns.name], Some(KEY)).code, 0);
    let live =
        run_cmd(kparity().env("KPARITY_SECRET_KEY", KEY).args(["diff", "blue", "green", "-n", &ns.name, "-o", "json"]));
    let files = run_kparity(&["diff", path_str(&a), path_str(&b), "-n", &ns.name, "-o", "json"]);
    assert_eq!(live.code, 1, "{}", live.stderr);
    assert_eq!(files.code, 1, "{}", files.stderr);
    assert_eq!(comparable_report(&files.json()), comparable_report(&live.json()));
}

#[test]
fn unchanged_cluster_gives_identical_archives_but_for_the_capture_time() {
    require_clusters();
    let _g = serial();
    let ns = TestNamespace::new("snap-determinism", &["blue"]);
    apply("blue", &workloads(&ns.name, "pw"), &[]);
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("1.kparity"), dir.path().join("2.kparity"));
    for p in [&a, &b] {
        assert_eq!(snapshot("blue", p, &["-n", &ns.name], Some(KEY)).code, 0);
    }
    let (la, lb) = (lines(&decompress(&a)), lines(&decompress(&b)));
    assert_eq!(la.len(), lb.len());
    // Line 1 is the header (capture time); the last is the seal (hash over the header too).
    assert_eq!(la[1..la.len() - 1], lb[1..lb.len() - 1], "objects, completeness and manifest must be identical");
    let strip_time = |l: &str| {
        let mut v: Value = serde_json::from_str(l).unwrap();
        v["kparity.snapshot"]["captured_at"] = Value::Null;
        v
    };
    assert_eq!(strip_time(&la[0]), strip_time(&lb[0]));
}

#[test]
fn damaged_archives_are_refused_by_every_reader() {
    require_clusters();
    let _g = serial();
    let ns = TestNamespace::new("snap-damage", &["blue"]);
    apply("blue", &workloads(&ns.name, "pw"), &[]);
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.kparity");
    assert_eq!(snapshot("blue", &good, &["-n", &ns.name], Some(KEY)).code, 0);
    let bytes = std::fs::read(&good).unwrap();
    let plain = decompress(&good);
    let text = lines(&plain);
    let object_line = text
        .iter()
        // List items carry no `kind`: find the object line by its name and content.
        .position(|l| !l.starts_with("{\"kparity.") && l.contains("\"name\":\"settings\"") && l.contains("\"timeout\""))
        .expect("settings ConfigMap line");

    let mut cases: Vec<(String, PathBuf, &str)> = Vec::new();
    let mut add = |name: &str, content: Vec<u8>, expected: &'static str| {
        let p = dir.path().join(format!("{name}.kparity"));
        std::fs::write(&p, content).unwrap();
        cases.push((name.to_string(), p, expected));
    };
    for cut in [1usize, 4, 100, bytes.len() / 2, bytes.len() - 1] {
        add(&format!("truncated-at-{cut}"), bytes[..cut].to_vec(), "archive");
    }
    let mut flipped = bytes.clone();
    let at = bytes.len() / 2;
    flipped[at] ^= 0x10;
    add("bit-flipped", flipped, "archive");
    add("empty", Vec::new(), "not a kparity archive: the file is empty");
    add("random", (0..4096u32).map(|i| (i.wrapping_mul(2654435761) >> 13) as u8).collect(), "not a kparity archive");
    add("plain-text", b"hello, this is not an archive\n".to_vec(), "not a kparity archive");

    // An object edited without touching its digest.
    let mut edited = text.clone();
    edited[object_line] = edited[object_line].replace("30s", "99s");
    let p = dir.path().join("edited.kparity");
    compress(&join(&edited), &p);
    cases.push(("edited object".into(), p, "does not match its SHA-256 in the manifest"));

    // An object edited with its manifest digest recomputed: the seal still catches it.
    let mut recomputed = edited.clone();
    let new_digest = hex::encode(Sha256::digest(format!("{}\n", recomputed[object_line]).as_bytes()));
    let old_digest = hex::encode(Sha256::digest(format!("{}\n", text[object_line]).as_bytes()));
    let trailer = recomputed.len() - 2;
    assert!(recomputed[trailer].contains(&old_digest));
    recomputed[trailer] = recomputed[trailer].replace(&old_digest, &new_digest);
    let p = dir.path().join("recomputed.kparity");
    compress(&join(&recomputed), &p);
    cases.push(("edited object, digest recomputed".into(), p, "does not match the archive's SHA-256 seal"));

    // A future format version.
    let mut future = text.clone();
    future[0] = future[0].replace("\"version\":1", "\"version\":2");
    let p = dir.path().join("future.kparity");
    compress(&join(&future), &p);
    cases.push(("future version".into(), p, "unsupported archive format version 2"));

    // The seal removed (a cut exactly at a line boundary).
    let p = dir.path().join("no-seal.kparity");
    compress(&join(&text[..text.len() - 1]), &p);
    cases.push(("seal missing".into(), p, "truncated archive"));

    for (name, path, expected) in &cases {
        for run in [verify(path), run_kparity(&["diff", path_str(path), path_str(&good)])] {
            assert_eq!(run.code, 2, "{name}: {}", run.stderr);
            assert!(run.stderr.starts_with("error: "), "{name}: {}", run.stderr);
            assert!(run.stderr.contains(expected), "{name}: expected {expected:?} in {}", run.stderr);
            assert!(!run.stderr.contains("panicked"), "{name}: {}", run.stderr);
            assert!(run.stdout.is_empty(), "{name}: nothing may be reported from a refused archive: {}", run.stdout);
        }
    }
    assert_eq!(verify(&good).code, 0);
}

#[test]
fn secrets_stay_digested_and_keys_must_match() {
    require_clusters();
    let _g = serial();
    const CANARY: &str = "snapshot-canary-51d0c3";
    let ns = TestNamespace::new("snap-secrets", &["blue"]);
    apply("blue", &workloads(&ns.name, CANARY), &[]);
    let dir = tempfile::tempdir().unwrap();
    let (keyed, unkeyed) = (dir.path().join("keyed.kparity"), dir.path().join("unkeyed.kparity"));
    assert_eq!(snapshot("blue", &keyed, &["-n", &ns.name], Some(KEY)).code, 0);
    let run = snapshot("blue", &unkeyed, &["-n", &ns.name], None);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stderr.contains("warning: no secret key"), "{}", run.stderr);
    for p in [&keyed, &unkeyed] {
        let plain = String::from_utf8(decompress(p)).unwrap();
        assert!(!plain.contains(CANARY), "the canary is in the decompressed archive {}", p.display());
        assert!(plain.contains("\"db-credentials\""));
    }
    assert!(String::from_utf8(decompress(&keyed)).unwrap().contains("hmac-sha256:"));
    // A keyed archive diffs cleanly against the live cluster with the same key...
    let same =
        run_cmd(kparity().env("KPARITY_SECRET_KEY", KEY).args(["diff", path_str(&keyed), "blue", "-n", &ns.name]));
    assert_eq!(same.code, 0, "{}\n{}", same.stdout, same.stderr);
    // ...but an archive without a key cannot prove secret values equal.
    let run = run_kparity(&["diff", path_str(&unkeyed), path_str(&keyed), "-n", &ns.name, "-o", "json"]);
    assert_eq!(run.code, 2, "{}\n{}", run.stdout, run.stderr);
    let report = run.json();
    assert_eq!(report["verdict"], "incomplete");
    let why = report["unproven"][0].as_str().unwrap_or_default();
    assert!(why.contains("without a secret key"), "{why}");
    // Unless the user decides to compare Secrets without their values.
    let run = run_kparity(&["diff", path_str(&unkeyed), path_str(&keyed), "-n", &ns.name, "--ignore-secret-values"]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    // Different keys: also unproven.
    let other = dir.path().join("other.kparity");
    assert_eq!(snapshot("blue", &other, &["-n", &ns.name], Some("another-key-0123456789")).code, 0);
    let run = run_kparity(&["diff", path_str(&other), path_str(&keyed), "-n", &ns.name]);
    assert_eq!(run.code, 2);
    assert!(run.stdout.contains("different keys"), "{}", run.stdout);
    for out in [&run.stdout, &run.stderr] {
        assert!(!out.contains(CANARY));
    }
}

#[test]
fn example_archives_verify_and_differ_as_documented() {
    for name in ["blue", "green"] {
        let p = root().join(format!("snapshots/{name}.kparity"));
        let run = verify(&p);
        assert_eq!(run.code, 0, "{}: {}", p.display(), run.stderr);
        assert!(run.stdout.contains("intact"), "{}", run.stdout);
    }
    // The README's first command, offline.
    let run = run_kparity(&["diff", "snapshots/blue.kparity", "snapshots/green.kparity", "-o", "json"]);
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    let report = run.json();
    assert_eq!(report["verdict"], "different");
    let n = report["objects"].as_array().map(Vec::len).unwrap_or(0);
    assert!((5..=10).contains(&n), "a handful of realistic drifts: {:#}", report["objects"]);
}
