//! What the workspace's feature resolution compiles into kparity. Features unify across the
//! workspace's members, so a feature the benchmark tools turn on (`bench/run.sh` builds them
//! with kparity in one `cargo build`) is in the kparity binary the benchmark measures too.

use std::process::Command;

/// kube's `gzip` feature puts a decoding layer in every client that refuses all but the first
/// gzip member of a body. The API server compresses a watch as one member per flush, so with
/// that layer every watch-list stream kparity asks compressed would fail and be paged instead
/// (`src/source/encoding.rs` decodes bodies itself). No member may turn it on.
#[test]
fn no_workspace_member_turns_on_kubes_gzip_layer() {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let version = Command::new(&rustc).arg("-vV").output().expect("rustc -vV");
    let version = String::from_utf8_lossy(&version.stdout).into_owned();
    let host = version.lines().find_map(|l| l.strip_prefix("host: ")).expect("rustc -vV names the host");
    // One platform's packages: those are on this machine already, the others need not be.
    let out = Command::new(env!("CARGO"))
        .args(["metadata", "--format-version", "1", "--locked", "--offline", "--filter-platform", host])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo metadata");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).expect("cargo metadata prints JSON");
    let nodes = meta["resolve"]["nodes"].as_array().expect("the workspace's resolved packages");
    for name in ["kube", "kube-client"] {
        let node = nodes
            .iter()
            .find(|n| n["id"].as_str().is_some_and(|id| id.contains(&format!("#{name}@"))))
            .unwrap_or_else(|| panic!("{name} is not among the resolved packages"));
        let features: Vec<&str> =
            node["features"].as_array().expect("features").iter().filter_map(|f| f.as_str()).collect();
        assert!(features.contains(&"client"), "{name}: {features:?}");
        assert!(!features.contains(&"gzip"), "{name} is built with gzip: {features:?}");
    }
}
