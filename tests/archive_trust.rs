//! Archives an auditor can trust (issue 13): forged archives are refused by every reader given
//! the key and marked *not authenticated* (or refused, where the forgery is detectable) without
//! it; a Secret holding a key-derivation label cannot leak a key that forges a seal; spools of
//! different types never mix; hostile files (a zstd bomb, a multi-GB line) end in exit 2, not an
//! out-of-memory kill; keys are generated and refused as documented; a file that is also a
//! context name is refused as ambiguous.
//!
//! Archives here are written by kparity's own writer from plain values (no cluster needed); the
//! end-to-end counterparts against the real clusters (signatures checked by the real ssh-keygen,
//! a 410 during `snapshot`) are in tests/snapshot_e2e.rs.

mod common;

use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};

use common::{kparity, path_str, run_cmd, run_kparity};
use hmac::{Hmac, Mac};
use kparity::dump::Sink;
use kparity::model::ApiType;
use kparity::secrets::{self, SecretKey};
use kparity::snapshot::format::*;
use kparity::snapshot::write::SnapshotWriter;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

const KEY: &str = "archive-trust-test-key-0123456789abcdef";
const OTHER_KEY: &str = "another-archive-trust-key-fedcba9876543210";

fn ty(group: &str, version: &str, resource: &str, kind: &str) -> ApiType {
    ApiType {
        group: group.into(),
        version: version.into(),
        resource: resource.into(),
        kind: kind.into(),
        namespaced: true,
    }
}

fn configmaps() -> ApiType {
    ty("", "v1", "configmaps", "ConfigMap")
}
fn secrets_ty() -> ApiType {
    ty("", "v1", "secrets", "Secret")
}
fn deployments() -> ApiType {
    ty("apps", "v1", "deployments", "Deployment")
}

fn cm(ns: &str, name: &str, v: &str) -> Value {
    json!({"metadata": {"namespace": ns, "name": name, "uid": format!("uid-{name}")}, "data": {"k": v}})
}

fn header(key: Option<&SecretKey>, types: &[ApiType]) -> Header {
    Header {
        format: FORMAT_NAME.into(),
        version: FORMAT_VERSION,
        tool_version: "test".into(),
        context: "blue".into(),
        server: "https://127.0.0.1:6443".into(),
        kubernetes_version: Some("v1.37.2".into()),
        captured_at: "2026-11-22T00:00:00Z".into(),
        secret_key_fingerprint: key.map(|k| k.fingerprint().to_string()),
        filters: FiltersRecord::default(),
        api_resources: types.iter().map(TypeRecord::from).collect(),
        normalization: "none at capture".into(),
        redactions: Vec::new(),
    }
}

/// Writes an archive of `pages` (type, objects) with kparity's writer; Secrets are digested as
/// the live reader digests them.
fn write(path: &Path, key: Option<&SecretKey>, pages: Vec<(ApiType, Vec<Value>)>) {
    let writer = SnapshotWriter::new(path, key.is_some()).expect("writer");
    let mut types: Vec<ApiType> = Vec::new();
    for (t, mut objs) in pages {
        if t.kind == "Secret"
            && let Some(k) = key
        {
            objs.iter_mut().for_each(|o| secrets::digest_secret(o, k));
        }
        writer.page(&t, objs.into_iter().map(Into::into).collect());
        if !types.contains(&t) {
            types.push(t);
        }
    }
    let statuses = types
        .iter()
        .map(|t| TypeStatus { ty: TypeRecord::from(t), count: 0, incomplete: None, resource_version: None })
        .collect();
    writer.finish(path, &header(key, &types), statuses, vec![], vec![], key).expect("finish");
}

fn sample_pages() -> Vec<(ApiType, Vec<Value>)> {
    vec![
        (configmaps(), vec![cm("shop", "settings", "30s"), cm("shop", "routing", "a"), cm("pay", "settings", "10s")]),
        (
            secrets_ty(),
            vec![json!({"metadata": {"namespace": "shop", "name": "db"}, "data": {"password": "aHVudGVyMg=="}})],
        ),
        (deployments(), vec![json!({"metadata": {"namespace": "shop", "name": "web"}, "spec": {"replicas": 2}})]),
    ]
}

fn user_key(k: &str) -> SecretKey {
    SecretKey::from_user(k.as_bytes()).expect("test key")
}

fn lines_of(path: &Path) -> Vec<Value> {
    let mut plain = Vec::new();
    zstd::stream::read::Decoder::new(std::fs::File::open(path).expect("open"))
        .expect("zstd")
        .read_to_end(&mut plain)
        .expect("decompress");
    plain.split(|b| *b == b'\n').filter(|l| !l.is_empty()).map(|l| serde_json::from_slice(l).expect("json")).collect()
}

fn marker(v: &Value) -> Option<&str> {
    v.as_object().filter(|m| m.len() == 1).and_then(|m| m.keys().next()).map(String::as_str)
}

fn is_object(v: &Value) -> bool {
    !marker(v).is_some_and(|m| m.starts_with("kparity."))
}

/// What a forger controls: the lines, then whether to rebuild the manifest, the trailer's counts
/// and the SHA-256 seal from them (as anyone can), and what to do with the HMAC.
struct Forge {
    rebuild_manifest: bool,
    rebuild_counts: bool,
    hmac: Hmac_,
}

enum Hmac_ {
    Keep,
    Strip,
    /// Recomputed under a key the forger believes is the seal key.
    With(Vec<u8>),
}

fn forge(path: &Path, out: &Path, edit: impl FnOnce(&mut Vec<Value>), f: Forge) {
    let mut lines = lines_of(path);
    let seal = lines.pop().expect("seal line");
    edit(&mut lines);
    if f.rebuild_manifest || f.rebuild_counts {
        // Recompute manifest entries and per-type counts from the object lines as they now are.
        let mut entries = Vec::new();
        let mut counts: Vec<u64> = Vec::new();
        let mut current: Option<(String, String)> = None;
        for l in &lines {
            match marker(l) {
                Some(TYPE_KEY) => {
                    current = Some((
                        l[TYPE_KEY]["group"].as_str().unwrap().to_string(),
                        l[TYPE_KEY]["kind"].as_str().unwrap().to_string(),
                    ));
                    counts.push(0);
                }
                _ if is_object(l) => {
                    let (g, k) = current.clone().expect("type before object");
                    let bytes = format!("{}\n", serde_json::to_string(l).unwrap());
                    entries.push(json!([
                        g,
                        k,
                        l["metadata"]["namespace"],
                        l["metadata"]["name"],
                        hex::encode(Sha256::digest(bytes.as_bytes()))
                    ]));
                    *counts.last_mut().unwrap() += 1;
                }
                _ => {}
            }
        }
        if f.rebuild_manifest {
            lines.retain(|l| marker(l) != Some(MANIFEST_KEY));
            let trailer_at = lines.iter().position(|l| marker(l) == Some(TRAILER_KEY)).unwrap();
            lines.insert(trailer_at, json!({ MANIFEST_KEY: entries }));
        }
        let trailer = lines.iter_mut().find(|l| marker(l) == Some(TRAILER_KEY)).unwrap();
        trailer[TRAILER_KEY]["object_count"] = json!(entries.len());
        if f.rebuild_counts {
            for (t, c) in trailer[TRAILER_KEY]["types"].as_array_mut().unwrap().iter_mut().zip(&counts) {
                t["count"] = json!(c);
            }
        }
    }
    let mut body = Vec::new();
    for l in &lines {
        body.extend(serde_json::to_vec(l).unwrap());
        body.push(b'\n');
    }
    let mut seal = seal[SEAL_KEY].clone();
    seal["sha256"] = json!(hex::encode(Sha256::digest(&body)));
    match f.hmac {
        Hmac_::Keep => {}
        Hmac_::Strip => seal["hmac_sha256"] = Value::Null,
        Hmac_::With(k) => {
            let mut m = Hmac::<Sha256>::new_from_slice(&k).unwrap();
            m.update(&body);
            seal["hmac_sha256"] = json!(hex::encode(m.finalize().into_bytes()));
        }
    }
    body.extend(serde_json::to_vec(&json!({ SEAL_KEY: seal })).unwrap());
    body.push(b'\n');
    compress(&body, out);
}

fn compress(bytes: &[u8], path: &Path) {
    let mut enc = zstd::stream::write::Encoder::new(std::fs::File::create(path).unwrap(), 3).unwrap();
    enc.include_checksum(true).unwrap();
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap();
}

fn verify(path: &Path, key: Option<&str>, extra: &[&str]) -> common::Run {
    let mut cmd = kparity();
    if let Some(k) = key {
        cmd.env("KPARITY_SECRET_KEY", k);
    }
    cmd.arg("verify").arg(path).args(extra);
    run_cmd(&mut cmd)
}

fn diff(a: &Path, b: &Path, key: Option<&str>) -> common::Run {
    let mut cmd = kparity();
    if let Some(k) = key {
        cmd.env("KPARITY_SECRET_KEY", k);
    }
    cmd.args(["diff", path_str(a), path_str(b), "-o", "json"]);
    run_cmd(&mut cmd)
}

fn assert_refused(run: &common::Run, what: &str, expected: &str) {
    assert_eq!(run.code, 2, "{what}: expected exit 2\nstdout: {}\nstderr: {}", run.stdout, run.stderr);
    assert!(run.stderr.starts_with("error: "), "{what}: {}", run.stderr);
    assert!(run.stderr.contains("\nhint: "), "{what}: no hint: {}", run.stderr);
    assert!(run.stderr.contains(expected), "{what}: expected {expected:?} in {}", run.stderr);
    assert!(run.stdout.is_empty(), "{what}: a refused archive reports nothing: {}", run.stdout);
}

#[test]
fn keyed_archive_verifies_as_authenticated_only_with_its_key() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.kparity");
    write(&a, Some(&user_key(KEY)), sample_pages());
    let with = verify(&a, Some(KEY), &["--require-auth"]);
    assert_eq!(with.code, 0, "{}", with.stderr);
    assert!(with.stdout.contains("intact and authenticated: HMAC seal verified under key v2:"), "{}", with.stdout);
    let without = verify(&a, None, &[]);
    assert_eq!(without.code, 0, "{}", without.stderr);
    assert!(without.stdout.contains("NOT authenticated"), "{}", without.stdout);
    assert!(without.stdout.contains("anyone who edits the archive can recompute them"), "{}", without.stdout);
    let required = verify(&a, None, &["--require-auth"]);
    assert_eq!(required.code, 2, "--require-auth without a key: {}", required.stdout);
    assert!(required.stderr.contains("not authenticated (--require-auth)"), "{}", required.stderr);
    // --secret-key-file works like the environment variable.
    let key_file = dir.path().join("key");
    std::fs::write(&key_file, format!("{KEY}\n")).unwrap();
    let run = run_kparity(&["verify", path_str(&a), "--secret-key-file", path_str(&key_file), "--require-auth"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    // Another key, or no seal at all, is refused by verify and by diff.
    assert_refused(&verify(&a, Some(OTHER_KEY), &[]), "other key", "sealed under another key");
    assert_refused(&diff(&a, &a, Some(OTHER_KEY)), "diff, other key", "sealed under another key");
    let unkeyed = dir.path().join("unkeyed.kparity");
    write(&unkeyed, None, sample_pages());
    assert_refused(&verify(&unkeyed, Some(KEY), &[]), "unkeyed archive, key given", "written without a secret key");
    assert_refused(&diff(&unkeyed, &a, Some(KEY)), "diff unkeyed, key given", "written without a secret key");
    // Diff with the right key reads it; without a key it notes that nothing is authenticated.
    let ok = diff(&a, &a, Some(KEY));
    assert_eq!(ok.code, 0, "{}\n{}", ok.stdout, ok.stderr);
    let noted = diff(&a, &a, None);
    assert_eq!(noted.code, 0, "{}", noted.stderr);
    assert!(noted.stderr.contains("NOT authenticated"), "{}", noted.stderr);
}

#[test]
fn forged_archives_are_refused_with_the_key_and_never_authenticated_without() {
    let dir = tempfile::tempdir().unwrap();
    let key = user_key(KEY);
    let good = dir.path().join("good.kparity");
    write(&good, Some(&key), sample_pages());
    let other_fp = user_key(OTHER_KEY).fingerprint().to_string();
    let obj_at = |lines: &Vec<Value>, name: &str, ns: &str| {
        lines
            .iter()
            .position(|l| is_object(l) && l["metadata"]["name"] == name && l["metadata"]["namespace"] == ns)
            .unwrap()
    };
    let all = Forge { rebuild_manifest: true, rebuild_counts: true, hmac: Hmac_::Keep };
    // (name, edit, forge, error with the key, error without it: None = reads as not authenticated)
    type Edit = Box<dyn FnOnce(&mut Vec<Value>)>;
    let cases: Vec<(&str, Edit, Forge, &str, Option<&str>)> = vec![
        (
            "HMAC stripped",
            Box::new(|_| {}),
            Forge { rebuild_manifest: false, rebuild_counts: false, hmac: Hmac_::Strip },
            "no HMAC seal",
            None,
        ),
        (
            "fingerprint swapped",
            Box::new(move |l| l[0][HEADER_KEY]["secret_key_fingerprint"] = json!(other_fp)),
            Forge { rebuild_manifest: false, rebuild_counts: false, hmac: Hmac_::Strip },
            "sealed under another key",
            None,
        ),
        (
            "object edited, checksums recomputed",
            Box::new(move |l| {
                let i = obj_at(l, "settings", "shop");
                l[i]["data"]["k"] = json!("99s");
            }),
            Forge { rebuild_manifest: true, rebuild_counts: true, hmac: Hmac_::Keep },
            "HMAC seal does not match",
            None,
        ),
        (
            "object removed, checksums and counts recomputed",
            Box::new(move |l| {
                let i = obj_at(l, "routing", "shop");
                l.remove(i);
            }),
            Forge { rebuild_manifest: true, rebuild_counts: true, hmac: Hmac_::Keep },
            "HMAC seal does not match",
            None,
        ),
        (
            "lines reordered",
            Box::new(move |l| {
                let (i, j) = (obj_at(l, "settings", "pay"), obj_at(l, "routing", "shop"));
                l.swap(i, j);
            }),
            Forge { rebuild_manifest: true, rebuild_counts: true, hmac: Hmac_::Keep },
            "out of order or repeated",
            Some("out of order or repeated"),
        ),
        (
            "line duplicated",
            Box::new(move |l| {
                let i = obj_at(l, "routing", "shop");
                let dup = l[i].clone();
                l.insert(i, dup);
            }),
            Forge { rebuild_manifest: true, rebuild_counts: true, hmac: Hmac_::Keep },
            "out of order or repeated",
            Some("out of order or repeated"),
        ),
        (
            "count altered",
            Box::new(|l| {
                let t = l.iter_mut().find(|l| marker(l) == Some(TRAILER_KEY)).unwrap();
                t[TRAILER_KEY]["types"][0]["count"] = json!(7);
            }),
            Forge { rebuild_manifest: false, rebuild_counts: false, hmac: Hmac_::Keep },
            "the trailer counts 7 objects",
            Some("the trailer counts 7 objects"),
        ),
        (
            "object moved to another type, everything recomputed",
            Box::new(move |l| {
                // The Deployment's line moved under the ConfigMap type record.
                let i = l.iter().position(|x| is_object(x) && x["spec"]["replicas"] == 2).unwrap();
                let obj = l.remove(i);
                let at = obj_at(l, "settings", "shop") + 1;
                l.insert(at, obj);
            }),
            all,
            "HMAC seal does not match",
            None,
        ),
    ];
    for (name, edit, f, with_key, without_key) in cases {
        let p = dir.path().join(format!("{}.kparity", name.replace([' ', ','], "-")));
        forge(&good, &p, edit, f);
        assert_refused(&verify(&p, Some(KEY), &[]), &format!("{name}, verify with key"), with_key);
        assert_refused(&diff(&p, &good, Some(KEY)), &format!("{name}, diff with key"), with_key);
        let v = verify(&p, None, &[]);
        let d = diff(&p, &good, None);
        match without_key {
            Some(expected) => {
                assert_refused(&v, &format!("{name}, verify without key"), expected);
                assert_refused(&d, &format!("{name}, diff without key"), expected);
            }
            None => {
                assert_eq!(v.code, 0, "{name}: a consistent forgery reads without a key: {}", v.stderr);
                assert!(v.stdout.contains("NOT authenticated"), "{name}: {}", v.stdout);
                assert!(!v.stdout.contains("intact and authenticated"), "{name}: {}", v.stdout);
                // Read (not refused): a report comes out, and stderr says it proves nothing.
                assert!(d.stdout.starts_with('{'), "{name}: {}\n{}", d.stdout, d.stderr);
                assert!(d.stderr.contains("NOT authenticated"), "{name}: diff must say so: {}", d.stderr);
                assert_eq!(verify(&p, None, &["--require-auth"]).code, 2, "{name}: --require-auth");
            }
        }
    }
    assert_eq!(verify(&good, Some(KEY), &[]).code, 0);
}

/// Format 1 derived the seal key as HMAC(key, label) and digested Secret values as
/// HMAC(key, value): a tenant storing the label in a Secret found the seal key printed in every
/// keyed archive. Every digest an archive holds, tried as a seal key, must forge nothing.
#[test]
fn a_secret_holding_a_derivation_label_cannot_forge_a_seal() {
    let dir = tempfile::tempdir().unwrap();
    let key = user_key(KEY);
    let labels =
        [secrets::LABEL_SEAL, secrets::LABEL_VALUE_DIGEST, secrets::LABEL_FINGERPRINT, "kparity archive seal v1"];
    let data: serde_json::Map<String, Value> = labels
        .iter()
        .enumerate()
        .map(|(i, l)| {
            use base64::Engine as _;
            (format!("k{i}"), json!(base64::engine::general_purpose::STANDARD.encode(l)))
        })
        .collect();
    let mut pages = sample_pages();
    pages.push((secrets_ty(), vec![json!({"metadata": {"namespace": "tenant", "name": "labels"}, "data": data})]));
    let good = dir.path().join("labels.kparity");
    write(&good, Some(&key), pages);
    let digests: Vec<String> = lines_of(&good)
        .iter()
        .filter(|l| is_object(l) && l["metadata"]["name"] == "labels")
        .flat_map(|l| {
            l["data"].as_object().unwrap().values().map(|v| v.as_str().unwrap().to_string()).collect::<Vec<_>>()
        })
        .collect();
    assert_eq!(digests.len(), labels.len());
    for d in &digests {
        let hex_part = d.strip_prefix(secrets::DIGEST_PREFIX).expect("a digest");
        let leaked = hex::decode(hex_part).unwrap();
        let p = dir.path().join("forged.kparity");
        let _ = std::fs::remove_file(&p);
        forge(
            &good,
            &p,
            |l| {
                let i = l.iter().position(|x| is_object(x) && x["metadata"]["name"] == "web").unwrap();
                l[i]["spec"]["replicas"] = json!(0);
            },
            Forge { rebuild_manifest: true, rebuild_counts: true, hmac: Hmac_::With(leaked) },
        );
        assert_refused(&verify(&p, Some(KEY), &[]), "seal forged with a digest as key", "HMAC seal does not match");
    }
}

/// A 410 relist of one type must not truncate or share another type's spool: objects of each
/// type are sealed under their own type, counted right, and the relisted type holds only its
/// second listing.
#[test]
fn a_relisted_type_never_shares_or_truncates_another_types_spool() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("relist.kparity");
    let writer = SnapshotWriter::new(&out, false).unwrap();
    let (a, b, c) = (configmaps(), deployments(), ty("", "v1", "services", "Service"));
    writer.page(&a, vec![cm("shop", "stale-1", "x"), cm("shop", "stale-2", "x")].into_iter().map(Into::into).collect());
    writer.page(
        &b,
        vec![json!({"metadata": {"namespace": "shop", "name": "web"}})].into_iter().map(Into::into).collect(),
    );
    writer.page(
        &c,
        vec![json!({"metadata": {"namespace": "shop", "name": "svc"}})].into_iter().map(Into::into).collect(),
    );
    // 410 on configmaps: relist from the start while the other spools stay open.
    writer.restart(&a);
    writer.page(&a, vec![cm("shop", "fresh", "y")].into_iter().map(Into::into).collect());
    writer.page(
        &c,
        vec![json!({"metadata": {"namespace": "shop", "name": "svc-2"}})].into_iter().map(Into::into).collect(),
    );
    writer.restart(&b);
    writer.page(
        &b,
        vec![json!({"metadata": {"namespace": "shop", "name": "web"}})].into_iter().map(Into::into).collect(),
    );
    let types = [a.clone(), b.clone(), c.clone()];
    let statuses = types
        .iter()
        .map(|t| TypeStatus { ty: TypeRecord::from(t), count: 0, incomplete: None, resource_version: None })
        .collect();
    writer.finish(&out, &header(None, &types), statuses, vec![], vec![], None).unwrap();
    let mut seen: Vec<(String, String)> = Vec::new();
    let verified = kparity::snapshot::read::read(&out, None, |e| {
        if let kparity::snapshot::read::Event::Object(t, o) = e {
            seen.push((t.kind.clone(), o["metadata"]["name"].as_str().unwrap().to_string()));
        }
    })
    .expect("the archive verifies");
    seen.sort();
    let want: Vec<(String, String)> =
        [("ConfigMap", "fresh"), ("Deployment", "web"), ("Service", "svc"), ("Service", "svc-2")]
            .iter()
            .map(|(k, n)| (k.to_string(), n.to_string()))
            .collect();
    assert_eq!(seen, want);
    let counts: Vec<(String, u64)> = verified.trailer.types.iter().map(|t| (t.ty.kind.clone(), t.count)).collect();
    assert_eq!(counts, vec![("ConfigMap".into(), 1), ("Service".into(), 2), ("Deployment".into(), 1)]);
}

fn mode(p: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::symlink_metadata(p).unwrap().permissions().mode() & 0o777
}

#[test]
fn archives_are_created_exclusively_with_mode_0600_and_never_through_a_symlink() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("a.kparity");
    write(&out, None, sample_pages());
    assert_eq!(mode(&out), 0o600);
    // No temporary file is left behind.
    let names: Vec<String> =
        std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    assert_eq!(names, vec!["a.kparity"]);
    // An existing file (or a symlink planted at the output) is refused before anything is read.
    let victim = dir.path().join("victim");
    std::fs::write(&victim, "precious").unwrap();
    let link = dir.path().join("link.kparity");
    std::os::unix::fs::symlink(&victim, &link).unwrap();
    assert!(matches!(SnapshotWriter::new(&out, false), Err(kparity::snapshot::SnapshotError::Exists { .. })));
    assert!(matches!(SnapshotWriter::new(&link, false), Err(kparity::snapshot::SnapshotError::Exists { .. })));
    // A symlink planted at the output meanwhile (after the writer started) is not followed.
    let late = dir.path().join("late.kparity");
    let writer = SnapshotWriter::new(&late, false).unwrap();
    std::os::unix::fs::symlink(&victim, &late).unwrap();
    writer.page(&configmaps(), vec![cm("shop", "a", "b")].into_iter().map(Into::into).collect());
    let st =
        vec![TypeStatus { ty: TypeRecord::from(&configmaps()), count: 0, incomplete: None, resource_version: None }];
    let r = writer.finish(&late, &header(None, &[configmaps()]), st, vec![], vec![], None);
    assert!(matches!(r, Err(kparity::snapshot::SnapshotError::Exists { .. })), "{r:?}");
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
    // With replace (--force), the symlink itself is replaced, its target untouched.
    let writer = SnapshotWriter::with_options(&link, false, true).unwrap();
    writer.page(&configmaps(), vec![cm("shop", "a", "b")].into_iter().map(Into::into).collect());
    let st =
        vec![TypeStatus { ty: TypeRecord::from(&configmaps()), count: 0, incomplete: None, resource_version: None }];
    writer.finish(&link, &header(None, &[configmaps()]), st, vec![], vec![], None).unwrap();
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
    assert!(std::fs::symlink_metadata(&link).unwrap().file_type().is_file());
    assert_eq!(mode(&link), 0o600);
    // The helper every archive, spool and signature file is created with refuses a symlink.
    let planted = dir.path().join("planted");
    std::os::unix::fs::symlink(&victim, &planted).unwrap();
    assert!(kparity::snapshot::write::create_private(&planted).is_err());
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
}

/// Runs kparity with its address space capped at 1 GiB: reading must not need memory in
/// proportion to a hostile line or stream, or the run dies (alloc failure) instead of exit 2.
fn verify_capped(path: &Path, extra: &str) -> common::Run {
    let bin = assert_cmd::cargo::cargo_bin("kparity");
    let mut cmd = assert_cmd::Command::new("sh");
    cmd.args(["-c", &format!("ulimit -v 1048576; exec \"$0\" verify \"$1\" {extra}"), path_str(&bin), path_str(path)]);
    cmd.env_remove("KPARITY_SECRET_KEY");
    cmd.timeout(std::time::Duration::from_secs(120));
    run_cmd(&mut cmd)
}

fn header_line() -> Vec<u8> {
    let mut l = serde_json::to_vec(&json!({ HEADER_KEY: header(None, &[configmaps()]) })).unwrap();
    l.push(b'\n');
    l
}

/// A zstd frame holding a header line, then `len` bytes of `fill` with no newline, written by
/// hand as RLE blocks (RFC 8878 §3.1.1.2: 4 bytes per 128 KiB block): 3 GiB once decompressed,
/// about 100 KiB on disk, and made in no time.
fn bomb(path: &Path, fill: u8, len: u64) {
    const BLOCK: u64 = 128 << 10;
    let block_header = |last: bool, kind: u32, size: u32| {
        let v = u32::from(last) | (kind << 1) | (size << 3);
        [v as u8, (v >> 8) as u8, (v >> 16) as u8]
    };
    // Magic; descriptor 0 (no content size, not single-segment, no checksum); window 8 MiB.
    let mut out = vec![0x28, 0xB5, 0x2F, 0xFD, 0x00, 13 << 3];
    let head = header_line();
    out.extend(block_header(false, 0, head.len() as u32));
    out.extend(&head);
    let blocks = len / BLOCK;
    for i in 0..blocks {
        out.extend(block_header(i + 1 == blocks, 1, BLOCK as u32));
        out.push(fill);
    }
    std::fs::write(path, out).unwrap();
}

#[test]
fn a_zstd_bomb_and_a_multi_gigabyte_line_end_in_exit_2_not_out_of_memory() {
    let dir = tempfile::tempdir().unwrap();
    // 3 GiB of zeros, and a 3 GiB line of JSON-looking text: a few MiB on disk each.
    for (name, fill) in [("zeros", 0u8), ("long-line", b'a')] {
        let p = dir.path().join(format!("{name}.kparity"));
        bomb(&p, fill, 3 << 30);
        assert!(std::fs::metadata(&p).unwrap().len() < 1 << 20, "the bomb is small on disk");
        let run = verify_capped(&p, "");
        assert_eq!(run.code, 2, "{name}: {}\n{}", run.stdout, run.stderr);
        assert!(
            run.stderr.contains("archive too large: line 2 is longer than the limit of 64 MiB"),
            "{name}: {}",
            run.stderr
        );
        assert!(run.stderr.contains("hint: "), "{name}: {}", run.stderr);
        assert!(run.elapsed < std::time::Duration::from_secs(60), "{name}: stops at the limit, {:?}", run.elapsed);
        // diff refuses it the same way.
        let d = run_kparity(&["diff", path_str(&p), path_str(&p)]);
        assert_eq!(d.code, 2, "{}", d.stderr);
        assert!(d.stderr.contains("longer than the limit"), "{}", d.stderr);
    }
    // The limits are documented flags: a genuine archive larger than a lowered limit is refused
    // with the limit named, and the default reads it.
    let a = dir.path().join("a.kparity");
    write(&a, None, sample_pages());
    let run = verify_capped(&a, "--archive-max-size 1K");
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("decompresses to more than the limit of 1 KiB"), "{}", run.stderr);
    let run = verify_capped(&a, "--archive-max-line 100");
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("longer than the limit of 100 B"), "{}", run.stderr);
    assert_eq!(verify_capped(&a, "").code, 0);
}

#[test]
fn keygen_writes_a_private_random_key_and_never_overwrites_one() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("kparity.key");
    let run = run_kparity(&["keygen", "-o", path_str(&key)]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.contains("fingerprint v2:"), "{}", run.stdout);
    assert_eq!(mode(&key), 0o600);
    let text = std::fs::read_to_string(&key).unwrap();
    assert_eq!(text.trim().len(), 64, "32 random bytes, hex");
    assert!(hex::decode(text.trim()).is_ok());
    let again = run_kparity(&["keygen", "-o", path_str(&key)]);
    assert_eq!(again.code, 2);
    assert!(again.stderr.contains("the file exists"), "{}", again.stderr);
    assert_eq!(std::fs::read_to_string(&key).unwrap(), text, "the key was not overwritten");
    // A symlink at the path is not followed either.
    let victim = dir.path().join("victim");
    std::fs::write(&victim, "x").unwrap();
    let link = dir.path().join("link.key");
    std::os::unix::fs::symlink(&victim, &link).unwrap();
    assert_eq!(run_kparity(&["keygen", "-o", path_str(&link)]).code, 2);
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "x");
    // The generated key is accepted; a weak one is refused with a hint to generate one.
    let a = dir.path().join("a.kparity");
    write(&a, Some(&SecretKey::from_user(text.as_bytes()).unwrap()), sample_pages());
    let ok = run_kparity(&["verify", path_str(&a), "--secret-key-file", path_str(&key), "--require-auth"]);
    assert_eq!(ok.code, 0, "{}", ok.stderr);
    for weak in ["short-key", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"] {
        let run = verify(&a, Some(weak), &[]);
        assert_eq!(run.code, 2, "{weak}");
        assert!(run.stderr.starts_with("error: invalid secret key: "), "{}", run.stderr);
        assert!(run.stderr.contains("hint: `kparity keygen -o FILE`"), "{}", run.stderr);
        assert!(!run.stderr.contains(weak), "the key itself is never printed: {}", run.stderr);
    }
}

#[test]
fn a_file_that_is_also_a_context_name_is_refused_as_ambiguous() {
    let dir = tempfile::tempdir().unwrap();
    let archive: PathBuf = dir.path().join("blue");
    write(&archive, None, sample_pages());
    let name = path_str(&archive);
    let kubeconfig = dir.path().join("kubeconfig");
    std::fs::write(
        &kubeconfig,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: {{server: \"https://127.0.0.1:1\"}}\n\
             users:\n- name: u\n  user: {{token: t}}\ncontexts:\n- name: \"{name}\"\n  context: {{cluster: c, user: u}}\n"
        ),
    )
    .unwrap();
    let mut cmd = kparity();
    cmd.env("KUBECONFIG", &kubeconfig).args(["diff", name, name]);
    let run = run_cmd(&mut cmd);
    assert_eq!(run.code, 2, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stderr.contains("is ambiguous: it names both an existing file and a kubeconfig context"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains(&format!("hint: write file:{name} for the snapshot file or ctx:{name}")),
        "{}",
        run.stderr
    );
    // Either prefix settles it.
    let mut cmd = kparity();
    cmd.env("KUBECONFIG", &kubeconfig).args([
        "diff",
        &format!("file:{name}"),
        &format!("file:{name}"),
        "--ignore-secret-values",
    ]);
    let run = run_cmd(&mut cmd);
    assert_eq!(run.code, 0, "{}", run.stderr);
}

/// The manifest check keeps no per-object state; on a mismatch it still names the object.
#[test]
fn a_manifest_mismatch_names_the_object() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.kparity");
    write(&good, None, sample_pages());
    let no_rebuild = || Forge { rebuild_manifest: false, rebuild_counts: false, hmac: Hmac_::Keep };
    let edited = dir.path().join("edited.kparity");
    forge(
        &good,
        &edited,
        |l| {
            let i = l.iter().position(|x| is_object(x) && x["metadata"]["name"] == "web").unwrap();
            l[i]["spec"]["replicas"] = json!(9);
        },
        no_rebuild(),
    );
    assert_refused(&verify(&edited, None, &[]), "edited", "object Deployment.apps shop/web does not match its SHA-256");
    let renamed = dir.path().join("renamed.kparity");
    forge(
        &good,
        &renamed,
        |l| {
            let m = l.iter().position(|x| marker(x) == Some(MANIFEST_KEY)).unwrap();
            l[m][MANIFEST_KEY][1][3] = json!("renamed");
        },
        no_rebuild(),
    );
    assert_refused(
        &verify(&renamed, None, &[]),
        "renamed in the manifest",
        "but the manifest lists ConfigMap shop/renamed there",
    );
}

/// A diff plans with an archive's opening (its header's version chooses the rules in force, its
/// schema record the semantics) before the file is verified; the verified read must say the
/// same, or the archive was replaced in between and is refused.
#[test]
fn an_archive_that_changed_after_its_opening_was_read_is_refused() {
    use kparity::snapshot::read::{ReadOptions, read_opening};
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("a.kparity");
    write(&path, None, sample_pages());
    let opening = read_opening(&path, Default::default());
    assert_eq!(opening.kubernetes_version.as_deref(), Some("v1.37.2"));
    assert_eq!(opening.schemas, None, "written without a schema record");
    let read = kparity::source::ReadOptions {
        filters: Default::default(),
        concurrency: 1,
        page_size: 500,
        list_method: kparity::source::ListMethod::Auto,
        timeout: std::time::Duration::from_secs(60),
        transport: Default::default(),
        keep_as_read: Default::default(),
    };
    let (rules, key) = (kparity::rules::RuleSet::default(), SecretKey::random());
    let semantics = kparity::schema::Semantics::default();
    let archive = ReadOptions::default();
    let as_opened = kparity::snapshot::read_dump_with(&path, &read, &rules, &key, &archive, &semantics, Some(&opening));
    assert!(as_opened.is_ok(), "{:?}", as_opened.err());
    for (what, other) in [
        (
            "another version",
            kparity::snapshot::read::Opening { kubernetes_version: Some("v1.34.4".into()), ..opening.clone() },
        ),
        (
            "another schema record",
            kparity::snapshot::read::Opening { schemas: Some(Default::default()), ..opening.clone() },
        ),
    ] {
        let err = kparity::snapshot::read_dump_with(&path, &read, &rules, &key, &archive, &semantics, Some(&other))
            .expect_err(what);
        let text = format!("{err}: {}", std::error::Error::source(&err).map(|s| s.to_string()).unwrap_or_default());
        assert!(text.contains("changed while it was read"), "{what}: {text}");
    }
}
