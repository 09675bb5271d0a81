//! `kparity snapshot` / `verify` / `diff FILE ...` end to end: round trips against live clusters,
//! snapshot-vs-snapshot parity with live-vs-live, refusal of every kind of damaged archive,
//! keyed secret digests, and the example archives in `snapshots/`.

mod common;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use common::*;
use serde_json::Value;
use sha2::{Digest, Sha256};

const KEY: &str = "test-key-0123456789abcdef-0123456789abcdef";

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

/// The JSON report minus what legitimately differs between runs and source kinds: the sources,
/// and the resourceVersion each type was read at (a later read is at a later point).
fn comparable_report(r: &Value) -> Value {
    let mut r = r.clone();
    for k in ["old", "new"] {
        r.as_object_mut().unwrap().remove(k);
        for e in r["coverage"][k]["entries"].as_array_mut().into_iter().flatten() {
            e.as_object_mut().unwrap().remove("read_at");
        }
    }
    r
}

/// `KIND NAME CHANGE` of every differing object, in report order.
fn object_changes(report: &Value) -> Vec<String> {
    report["objects"]
        .as_array()
        .expect("objects")
        .iter()
        .map(|o| {
            let s = |v: &Value| v.as_str().unwrap_or("?").to_string();
            format!("{} {} {}", s(&o["key"]["kind"]), s(&o["key"]["name"]), s(&o["change"]))
        })
        .collect()
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
    assert_eq!(object_changes(&report), vec!["Secret db-credentials changed", "Deployment web changed"], "{report:#}");
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

/// `-l` and `--kinds` keep the same objects of an archive as of a live cluster: one `admits`
/// decides on every path (archives once ignored `-l`, and matched `--kinds deployments` against
/// kinds only, so that spelling dropped every object and the type compared as empty).
#[test]
fn filters_keep_the_same_objects_of_an_archive_as_of_a_live_cluster() {
    require_clusters();
    let _g = serial();
    let ns = TestNamespace::new("snap-filters", &["blue", "green"]);
    apply("blue", &workloads(&ns.name, "pw"), &[]);
    apply("green", &workloads(&ns.name, "pw"), &[]);
    let g = |args: &[&str]| kubectl("green", &[&["-n", ns.name.as_str()], args].concat());
    g(&["set", "image", "deployment/web", "web=registry.example/web:9"]);
    g(&["set", "image", "deployment/worker", "worker=registry.example/worker:9"]);
    g(&["delete", "configmap", "routing"]);
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("blue.kparity"), dir.path().join("green.kparity"));
    // Taken with no filter but the namespace: the diff's filters narrow them.
    assert_eq!(snapshot("blue", &a, &["-n", &ns.name], Some(KEY)).code, 0);
    assert_eq!(snapshot("green", &b, &["-n", &ns.name], Some(KEY)).code, 0);
    let cases: [(&[&str], &[&str]); 4] = [
        (&["-l", "app=web"], &["Deployment web changed"]),
        (&["--kinds", "deployments"], &["Deployment web changed", "Deployment worker changed"]),
        (&["--kinds", "deployments", "-l", "app!=web"], &["Deployment worker changed"]),
        (&["--kinds", "configmaps", "--exclude-kinds", "Deployment"], &["ConfigMap routing missing"]),
    ];
    for (filters, expected) in cases {
        let args = |old: &str, new: &str| -> Vec<String> {
            let mut v: Vec<String> = ["diff", old, new, "-n", &ns.name, "-o", "json"].map(String::from).to_vec();
            v.extend(filters.iter().map(|f| f.to_string()));
            v
        };
        let run = |old: &str, new: &str| run_cmd(kparity().env("KPARITY_SECRET_KEY", KEY).args(args(old, new)));
        let live = run("blue", "green");
        let files = run(path_str(&a), path_str(&b));
        assert_eq!(live.code, 1, "{filters:?}: {}\n{}", live.stdout, live.stderr);
        assert_eq!(files.code, 1, "{filters:?}: {}\n{}", files.stdout, files.stderr);
        let mut changed = object_changes(&files.json());
        changed.sort();
        assert_eq!(changed, expected, "{filters:?}");
        let (f, l) = (comparable_report(&files.json()), comparable_report(&live.json()));
        for key in l.as_object().unwrap().keys() {
            assert_eq!(f[key], l[key], "{filters:?}: `{key}` differs between the archive and the live diff");
        }
        assert_eq!(f, l, "{filters:?}");
    }
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
    // Each type's read point (its list's resourceVersion) moves with any write to the cluster
    // (leases renew every few seconds): the trailer is compared without it, and it must be there.
    let without_read_points = |ls: Vec<String>| -> Vec<String> {
        ls.into_iter()
            .map(|l| {
                let mut v: Value = serde_json::from_str(&l).unwrap();
                let Some(types) = v.pointer_mut("/kparity.trailer/types").and_then(Value::as_array_mut) else {
                    return l;
                };
                for t in types.iter_mut() {
                    let rv = t.as_object_mut().unwrap().remove("resource_version");
                    assert!(rv.as_ref().is_some_and(Value::is_string), "a read point per type read as one list: {t}");
                }
                v.to_string()
            })
            .collect()
    };
    let (la, lb) = (without_read_points(lines(&decompress(&a))), without_read_points(lines(&decompress(&b))));
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
    let manifest = recomputed.iter().position(|l| l.contains(&old_digest)).expect("the manifest line");
    assert!(recomputed[manifest].starts_with("{\"kparity.manifest\""), "{}", recomputed[manifest]);
    recomputed[manifest] = recomputed[manifest].replace(&old_digest, &new_digest);
    let p = dir.path().join("recomputed.kparity");
    compress(&join(&recomputed), &p);
    cases.push(("edited object, digest recomputed".into(), p, "does not match the archive's SHA-256 seal"));

    // A future format version.
    let mut future = text.clone();
    assert!(future[0].contains("\"version\":2"), "archives are written in format 2");
    future[0] = future[0].replace("\"version\":2", "\"version\":3");
    let p = dir.path().join("future.kparity");
    compress(&join(&future), &p);
    cases.push(("future version".into(), p, "unsupported archive format version 3"));

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
    assert_eq!(snapshot("blue", &other, &["-n", &ns.name], Some("another-key-0123456789-abcdefghijklmnop")).code, 0);
    let run = run_kparity(&["diff", path_str(&other), path_str(&keyed), "-n", &ns.name]);
    assert_eq!(run.code, 2);
    assert!(run.stdout.contains("different keys"), "{}", run.stdout);
    for out in [&run.stdout, &run.stderr] {
        assert!(!out.contains(CANARY));
    }
}

#[test]
fn example_archives_verify_and_differ_as_documented() {
    // The examples are format 2, sealed under the published demo key: authenticated with it.
    for name in ["blue", "green"] {
        let p = root().join(format!("snapshots/{name}.kparity"));
        let run = verify(&p);
        assert_eq!(run.code, 0, "{}: {}", p.display(), run.stderr);
        assert!(run.stdout.contains("intact but NOT authenticated"), "{}", run.stdout);
        assert!(run.stdout.contains("kparity archive v2"), "{}", run.stdout);
        let keyed = run_cmd(kparity().env("KPARITY_SECRET_KEY", "kparity-example-demo-key-do-not-use").args([
            "verify",
            "--require-auth",
            path_str(&p),
        ]));
        assert_eq!(keyed.code, 0, "{}\n{}", keyed.stdout, keyed.stderr);
        assert!(
            keyed.stdout.contains("intact and authenticated: HMAC seal verified under key v2:"),
            "{}",
            keyed.stdout
        );
    }
    // The same examples as kparity 0.1.0 wrote them (format 1, tests/fixtures/archives-format1/).
    for name in ["blue", "green"] {
        let p = root().join(format!("tests/fixtures/archives-format1/{name}.kparity"));
        let run = verify(&p);
        assert_eq!(run.code, 0, "{}: {}", p.display(), run.stderr);
        assert!(run.stdout.contains("intact but NOT authenticated"), "{}", run.stdout);
        // Written by the previous format: still verified, and reported as the older scheme.
        assert!(
            run.stdout.contains("format 1 (older scheme): not authenticated with HKDF-derived keys"),
            "{}",
            run.stdout
        );
        assert!(run.stdout.contains("secret digests not bound to their Secret"), "{}", run.stdout);
        // Their demo key checks format 1's fingerprint and seal; another key is refused. The old
        // seal does not satisfy --require-auth: a Secret value could have revealed its key.
        let demo = || {
            let mut cmd = kparity();
            cmd.env("KPARITY_SECRET_KEY", "kparity-example-demo-key-do-not-use").args(["verify", path_str(&p)]);
            cmd
        };
        let keyed = run_cmd(&mut demo());
        assert_eq!(keyed.code, 0, "{}", keyed.stderr);
        assert!(
            keyed.stdout.contains("HMAC seal verified under key sha256:ed578d75778cfd4d (format 1 scheme"),
            "{}",
            keyed.stdout
        );
        let required = run_cmd(demo().arg("--require-auth"));
        assert_eq!(required.code, 2, "{}", required.stdout);
        assert!(required.stderr.contains("only by a format 1 HMAC seal"), "{}", required.stderr);
        let other = run_cmd(kparity().env("KPARITY_SECRET_KEY", KEY).args(["verify", path_str(&p)]));
        assert_eq!(other.code, 2, "{}", other.stdout);
        assert!(other.stderr.contains("sealed under another key"), "{}", other.stderr);
    }
    // The README's first command, offline.
    let run = run_kparity(&["diff", "snapshots/blue.kparity", "snapshots/green.kparity", "-o", "json"]);
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    let report = run.json();
    assert_eq!(report["verdict"], "different");
    let n = report["objects"].as_array().map(Vec::len).unwrap_or(0);
    assert!((5..=10).contains(&n), "a handful of realistic drifts: {:#}", report["objects"]);
}

fn ssh_keygen(args: &[&str], stdin: Option<&Path>) -> std::process::Output {
    let mut cmd = std::process::Command::new("ssh-keygen");
    cmd.args(args);
    if let Some(p) = stdin {
        cmd.stdin(std::fs::File::open(p).expect("open stdin file"));
    }
    cmd.output().expect("ssh-keygen must be installed (Debian openssh-client; tests/run-all.sh installs it)")
}

fn mode(p: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::symlink_metadata(p).unwrap().permissions().mode() & 0o777
}

#[test]
fn signed_archive_verifies_with_ssh_keygen_and_kparity_and_one_flipped_byte_fails_both() {
    require_clusters();
    let _g = serial();
    let ns = TestNamespace::new("snap-signed", &["blue"]);
    apply("blue", &workloads(&ns.name, "signed-pw"), &[]);
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("id_ed25519");
    let made = ssh_keygen(&["-q", "-t", "ed25519", "-N", "", "-C", "auditor", "-f", path_str(&key)], None);
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    let public = std::fs::read_to_string(dir.path().join("id_ed25519.pub")).unwrap();
    let allowed = dir.path().join("allowed_signers");
    std::fs::write(&allowed, format!("auditor@example.com namespaces=\"kparity-archive\" {public}")).unwrap();
    let archive = dir.path().join("blue.kparity");
    let run = snapshot("blue", &archive, &["-n", &ns.name, "--sign-key", path_str(&key)], Some(KEY));
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let sig = dir.path().join("blue.kparity.sig");
    assert!(run.stdout.contains(&format!("signed {}", sig.display())), "{}", run.stdout);
    let pem = std::fs::read_to_string(&sig).unwrap();
    assert!(pem.starts_with("-----BEGIN SSH SIGNATURE-----\n"), "{pem}");
    assert_eq!(mode(&archive), 0o600);

    let ssh_verify = |file: &Path, sig: &Path, identity: &str| {
        ssh_keygen(
            &["-Y", "verify", "-f", path_str(&allowed), "-I", identity, "-n", "kparity-archive", "-s", path_str(sig)],
            Some(file),
        )
    };
    // The stock tool accepts the signature over the archive's exact bytes...
    let out = ssh_verify(&archive, &sig, "auditor@example.com");
    assert!(out.status.success(), "ssh-keygen refused: {}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("Good \"kparity-archive\" signature"));
    // ...and so does kparity, with the same allowed_signers file.
    let ours = run_kparity(&[
        "verify",
        path_str(&archive),
        "--allowed-signers",
        path_str(&allowed),
        "--identity",
        "auditor@example.com",
        "--require-signature",
        "--require-auth",
    ]);
    assert_eq!(ours.code, 0, "{}", ours.stderr);
    assert!(ours.stdout.contains("intact and authenticated: SSH signature by SHA256:"), "{}", ours.stdout);
    // A principal the file does not allow, in kparity as in ssh-keygen.
    assert!(!ssh_verify(&archive, &sig, "mallory@example.com").status.success());
    let wrong = run_kparity(&[
        "verify",
        path_str(&archive),
        "--allowed-signers",
        path_str(&allowed),
        "--identity",
        "mallory@example.com",
    ]);
    assert_eq!(wrong.code, 2, "{}", wrong.stdout);
    assert!(wrong.stderr.contains("does not allow for identity \"mallory@example.com\""), "{}", wrong.stderr);

    // One flipped byte: both refuse.
    let flipped = dir.path().join("flipped.kparity");
    let flipped_sig = dir.path().join("flipped.kparity.sig");
    let mut bytes = std::fs::read(&archive).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x01;
    std::fs::write(&flipped, &bytes).unwrap();
    std::fs::copy(&sig, &flipped_sig).unwrap();
    let out = ssh_verify(&flipped, &flipped_sig, "auditor@example.com");
    assert!(!out.status.success(), "ssh-keygen accepted a flipped byte");
    let ours = run_kparity(&["verify", path_str(&flipped), "--allowed-signers", path_str(&allowed)]);
    assert_eq!(ours.code, 2, "{}", ours.stdout);
    assert!(ours.stderr.contains("signature not accepted"), "{}", ours.stderr);
    assert!(ours.stderr.contains("does not match the archive's bytes"), "{}", ours.stderr);

    // A missing signature: noted, and an error when required.
    std::fs::remove_file(&flipped_sig).unwrap();
    std::fs::copy(&archive, dir.path().join("unsigned.kparity")).unwrap();
    let unsigned = dir.path().join("unsigned.kparity");
    let run = run_kparity(&["verify", path_str(&unsigned), "--allowed-signers", path_str(&allowed)]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.contains("no signature file"), "{}", run.stdout);
    let run =
        run_kparity(&["verify", path_str(&unsigned), "--allowed-signers", path_str(&allowed), "--require-signature"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("is missing (--require-signature)"), "{}", run.stderr);

    // Another key's signature is refused by both.
    let other = dir.path().join("other_ed25519");
    assert!(ssh_keygen(&["-q", "-t", "ed25519", "-N", "", "-f", path_str(&other)], None).status.success());
    let out = ssh_keygen(&["-Y", "sign", "-f", path_str(&other), "-n", "kparity-archive", path_str(&unsigned)], None);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(!ssh_verify(&unsigned, &dir.path().join("unsigned.kparity.sig"), "auditor@example.com").status.success());
    let run = run_kparity(&["verify", path_str(&unsigned), "--allowed-signers", path_str(&allowed)]);
    assert_eq!(run.code, 2, "{}", run.stdout);
    assert!(run.stderr.contains("does not allow"), "{}", run.stderr);

    // A passphrase-protected key is refused before the cluster is read.
    let locked = dir.path().join("locked_ed25519");
    assert!(ssh_keygen(&["-q", "-t", "ed25519", "-N", "secret-pass", "-f", path_str(&locked)], None).status.success());
    let run = snapshot("blue", &dir.path().join("x.kparity"), &["--sign-key", path_str(&locked)], Some(KEY));
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("passphrase-protected"), "{}", run.stderr);
    assert!(!dir.path().join("x.kparity").exists());
}

#[test]
fn a_410_during_snapshot_relists_one_type_and_never_mixes_types() {
    use common::faultproxy::{FaultProxy, scratch};
    require_clusters();
    let _g = serial();
    let ns = TestNamespace::new("snap-relist", &["blue"]);
    apply("blue", &workloads(&ns.name, "relist-pw"), &[]);
    let mut extra = String::new();
    for i in 1..=5 {
        extra.push_str(&format!(
            "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {{name: cm-{i}, namespace: {}}}\ndata: {{n: \"{i}\"}}\n",
            ns.name
        ));
    }
    apply("blue", &extra, &[]);
    // The second page of configmaps hangs past the per-request bound (a third of --timeout), so
    // every other type is listed (its spool opened) meanwhile; its retry then gets 410 Gone, and
    // configmaps are relisted from the start while the other spools are open.
    let proxy = FaultProxy::start("blue", "continue configmaps stall=5s x1\ncontinue configmaps 410 x1\n");
    let (_d, kdir) = scratch();
    let kc = proxy.kubeconfig(&kdir, "faulty");
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("relist.kparity");
    let mut cmd = kparity();
    cmd.env("KUBECONFIG", &kc).env("KPARITY_SECRET_KEY", KEY).args([
        "snapshot",
        "faulty",
        "-o",
        path_str(&archive),
        "-n",
        &ns.name,
        "--page-size",
        "2",
        "--list-method",
        "pages",
        "--timeout",
        "12s",
    ]);
    let run = run_cmd(&mut cmd);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert_eq!(proxy.hits(), vec![1, 1], "both faults fired: {:?}", proxy.requests());
    let v = run_cmd(kparity().env("KPARITY_SECRET_KEY", KEY).args(["verify", path_str(&archive), "--require-auth"]));
    assert_eq!(v.code, 0, "{}", v.stderr);
    // Every type holds exactly what the live cluster holds: nothing sealed under another kind.
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
    let report = same.json();
    let cms = report["kinds"].as_array().unwrap().iter().find(|k| k["kind"] == "ConfigMap").cloned().unwrap();
    assert_eq!(cms["old"], cms["new"], "{cms}");
    assert!(cms["old"].as_u64().unwrap() >= 7, "the relisted configmaps are all there: {cms}");
}

#[test]
fn snapshot_never_overwrites_and_never_follows_a_planted_symlink() {
    require_clusters();
    let _g = serial();
    let ns = TestNamespace::new("snap-exclusive", &["blue"]);
    apply("blue", &workloads(&ns.name, "excl-pw"), &[]);
    let dir = tempfile::tempdir().unwrap();
    let victim = dir.path().join("victim");
    std::fs::write(&victim, "precious").unwrap();
    let out = dir.path().join("a.kparity");
    // A symlink planted where earlier versions put their temporary file.
    std::os::unix::fs::symlink(&victim, dir.path().join("a.kparity.partial")).unwrap();
    let run = snapshot("blue", &out, &["-n", &ns.name], Some(KEY));
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
    assert!(std::fs::symlink_metadata(&out).unwrap().file_type().is_file());
    assert_eq!(mode(&out), 0o600);
    let before = std::fs::read(&out).unwrap();
    // An existing archive is never overwritten, and that is known before the cluster is read.
    let again = snapshot("blue", &out, &["-n", &ns.name], Some(KEY));
    assert_eq!(again.code, 2);
    assert!(again.stderr.starts_with("error: refusing to write"), "{}", again.stderr);
    assert!(again.stderr.contains("hint: choose a new file name"), "{}", again.stderr);
    assert_eq!(std::fs::read(&out).unwrap(), before);
    // A symlink at the output is refused too; with --force it is replaced, its target untouched.
    let link = dir.path().join("link.kparity");
    std::os::unix::fs::symlink(&victim, &link).unwrap();
    assert_eq!(snapshot("blue", &link, &["-n", &ns.name], Some(KEY)).code, 2);
    let forced = snapshot("blue", &link, &["-n", &ns.name, "--force"], Some(KEY));
    assert_eq!(forced.code, 0, "{}", forced.stderr);
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
    assert!(std::fs::symlink_metadata(&link).unwrap().file_type().is_file());
    assert_eq!(mode(&link), 0o600);
    assert_eq!(verify(&link).code, 0);
    // No temporary file or spool directory is left behind.
    let mut names: Vec<String> =
        std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    assert_eq!(names, vec!["a.kparity", "a.kparity.partial", "link.kparity", "victim"]);
}

/// Re-seals an archive's plain lines as a forger would: every SHA-256 recomputed, the HMAC under
/// `hmac_key`.
fn reseal(lines: &[String], hmac_key: &[u8], out: &Path) {
    use hmac::Mac as _;
    let body = join(&lines[..lines.len() - 1]);
    let mut mac = hmac::Hmac::<Sha256>::new_from_slice(hmac_key).unwrap();
    mac.update(&body);
    let seal = serde_json::json!({"kparity.seal": {
        "sha256": hex::encode(Sha256::digest(&body)),
        "hmac_sha256": hex::encode(mac.finalize().into_bytes()),
    }});
    let mut all = body;
    all.extend(serde_json::to_vec(&seal).unwrap());
    all.push(b'\n');
    compress(&all, out);
}

#[test]
fn secret_digests_are_bound_to_their_secret_and_a_label_stored_as_a_value_forges_nothing() {
    require_clusters();
    let _g = serial();
    let ns = TestNamespace::new("snap-bound", &["blue", "green"]);
    let secret = |name: &str, value: &str| {
        format!(
            "---\napiVersion: v1\nkind: Secret\nmetadata: {{name: {name}, namespace: {}}}\nstringData: {{password: \"{value}\"}}\n",
            ns.name
        )
    };
    apply(
        "blue",
        &format!(
            "{}{}{}",
            secret("a", "same-pw"),
            secret("b", "same-pw"),
            secret("label", kparity::secrets::LABEL_SEAL)
        ),
        &[],
    );
    apply("green", &secret("a", "same-pw"), &[]);
    let dir = tempfile::tempdir().unwrap();
    let (blue, green) = (dir.path().join("blue.kparity"), dir.path().join("green.kparity"));
    assert_eq!(snapshot("blue", &blue, &["-n", &ns.name, "--kinds", "Secret"], Some(KEY)).code, 0);
    assert_eq!(snapshot("green", &green, &["-n", &ns.name, "--kinds", "Secret"], Some(KEY)).code, 0);
    let digest = |archive: &Path, name: &str| -> String {
        let line = lines(&decompress(archive))
            .into_iter()
            .find(|l| l.contains(&format!("\"name\":\"{name}\"")) && l.contains("\"password\""))
            .unwrap_or_else(|| panic!("secret {name}"));
        let v: Value = serde_json::from_str(&line).unwrap();
        v["data"]["password"].as_str().unwrap().to_string()
    };
    let (blue_a, blue_b, green_a) = (digest(&blue, "a"), digest(&blue, "b"), digest(&green, "a"));
    assert!(blue_a.starts_with("hmac-sha256:"), "{blue_a}");
    assert_ne!(blue_a, blue_b, "the same password in two Secrets must not digest alike");
    assert_eq!(blue_a, green_a, "the same Secret on two clusters must compare equal");
    let run = run_cmd(kparity().env("KPARITY_SECRET_KEY", KEY).args([
        "diff",
        path_str(&blue),
        path_str(&green),
        "-n",
        &ns.name,
        "--kinds",
        "Secret",
        "-o",
        "json",
    ]));
    assert_eq!(run.code, 1, "{}", run.stderr);
    let changes: Vec<String> = run.json()["objects"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o["key"]["kind"] == "Secret" && o["key"]["name"] != "default-token")
        .map(|o| format!("{} {}", o["key"]["name"].as_str().unwrap(), o["change"].as_str().unwrap()))
        .collect();
    assert!(changes.contains(&"b missing".to_string()) && !changes.iter().any(|c| c.starts_with("a ")), "{changes:?}");

    // The tenant's Secret holds the seal label; its digest, printed in the archive, tried as the
    // seal key on an edited archive, must be refused (format 1 accepted exactly this).
    let leaked = hex::decode(digest(&blue, "label").trim_start_matches("hmac-sha256:")).unwrap();
    let mut text = lines(&decompress(&blue));
    let i = text.iter().position(|l| l.contains("\"name\":\"a\"") && l.contains("\"password\"")).unwrap();
    let old_sha = hex::encode(Sha256::digest(format!("{}\n", text[i]).as_bytes()));
    text[i] = text[i].replace("\"name\":\"a\"", "\"labels\":{\"forged\":\"yes\"},\"name\":\"a\"");
    let new_sha = hex::encode(Sha256::digest(format!("{}\n", text[i]).as_bytes()));
    let m = text.iter().position(|l| l.contains(&old_sha)).unwrap();
    text[m] = text[m].replace(&old_sha, &new_sha);
    let forged = dir.path().join("forged.kparity");
    reseal(&text, &leaked, &forged);
    let run = run_cmd(kparity().env("KPARITY_SECRET_KEY", KEY).args(["verify", path_str(&forged)]));
    assert_eq!(run.code, 2, "a seal forged with a digest as key was accepted: {}", run.stdout);
    assert!(run.stderr.contains("HMAC seal does not match"), "{}", run.stderr);
    // Without the key the same file is consistent, and says it is not authenticated.
    let run = verify(&forged);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.contains("NOT authenticated"), "{}", run.stdout);
}
