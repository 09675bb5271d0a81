//! Bad input through the real binary (issue 6): every case is answered with exit 2, one
//! `error:` line saying what failed and a `hint:` line saying what to do, never a panic, a
//! backtrace or a report. Kubeconfig, rules-file and snapshot mistakes need no cluster; the
//! snapshot cases start from a real archive of the blue test cluster.

mod common;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use common::faultproxy::{FaultProxy, scratch};
use common::*;

/// Exit 2, nothing on stdout, and on stderr exactly one error line (containing `words`)
/// followed by a hint line.
fn assert_trouble(run: &Run, what: &str, words: &[&str]) {
    let lines: Vec<&str> = run.stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    let ctx = format!("{what}: exit {}\nstdout:\n{}\nstderr:\n{}", run.code, run.stdout, run.stderr);
    assert_eq!(run.code, 2, "{ctx}");
    assert!(run.stdout.trim().is_empty(), "no report may be printed: {ctx}");
    assert!(!run.stderr.contains("panicked") && !run.stderr.contains("backtrace"), "{ctx}");
    assert_eq!(lines.len(), 2, "one error line and one hint line: {ctx}");
    assert!(lines[0].starts_with("error: failed to ") || lines[0].starts_with("error: "), "{ctx}");
    assert!(lines[1].starts_with("hint: "), "{ctx}");
    for w in words {
        assert!(lines[0].contains(w), "the error line must say {w:?}: {ctx}");
    }
}

fn run_with_kubeconfig(kubeconfig: &Path, args: &[&str]) -> Run {
    let mut cmd = kparity();
    cmd.env("KUBECONFIG", kubeconfig).args(args);
    cmd.timeout(std::time::Duration::from_secs(60));
    run_cmd(&mut cmd)
}

fn kubeconfig_text(cluster: &str, user: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n{cluster}\nusers:\n- name: u\n  user:\n{user}\n\
         contexts:\n- name: prod\n  context: {{cluster: c, user: u}}\ncurrent-context: prod\n"
    )
}

// --- kubeconfig ---------------------------------------------------------------------------------

#[test]
fn missing_kubeconfig_is_trouble_with_a_hint() {
    let run = run_kparity(&["--kubeconfig", "/nonexistent/kubeconfig", "diff", "blue", "green"]);
    assert_trouble(&run, "missing kubeconfig", &["/nonexistent/kubeconfig", "does not exist"]);
    let mut cmd = kparity();
    cmd.env("KUBECONFIG", "/nonexistent/a:/nonexistent/b").args(["diff", "blue", "green"]);
    assert_trouble(&run_cmd(&mut cmd), "KUBECONFIG naming no existing file", &["does not exist"]);
}

#[test]
fn malformed_kubeconfig_yaml_is_trouble_with_a_hint() {
    let (_d, kc) = temp_file("config", "apiVersion: v1\nclusters: [\n  - name: c\n    cluster: {server: x\n");
    let run = run_with_kubeconfig(&kc, &["diff", "prod", "prod"]);
    assert_trouble(&run, "malformed kubeconfig", &["kubeconfig", path_str(&kc)]);
}

#[test]
fn unknown_context_is_trouble_naming_the_available_ones() {
    let (_d, kc) = temp_file("config", &kubeconfig_text("    server: https://127.0.0.1:1", "    token: t"));
    let run = run_with_kubeconfig(&kc, &["diff", "staging", "prod"]);
    assert_trouble(&run, "unknown context", &["\"staging\"", "not found"]);
    assert!(run.stderr.contains("hint: available contexts: prod"), "{}", run.stderr);
}

#[test]
fn missing_ca_file_is_trouble_with_a_hint() {
    let (_d, kc) = temp_file(
        "config",
        &kubeconfig_text(
            "    server: https://127.0.0.1:1\n    certificate-authority: /nonexistent/ca.crt",
            "    token: t",
        ),
    );
    let run = run_with_kubeconfig(&kc, &["diff", "prod", "prod"]);
    assert_trouble(&run, "missing CA file", &["\"prod\"", "/nonexistent/ca.crt"]);
}

#[test]
fn missing_client_certificate_file_is_trouble_with_a_hint() {
    let (_d, kc) = temp_file(
        "config",
        &kubeconfig_text(
            "    server: https://127.0.0.1:1\n    insecure-skip-tls-verify: true",
            "    client-certificate: /nonexistent/client.crt\n    client-key: /nonexistent/client.key",
        ),
    );
    let run = run_with_kubeconfig(&kc, &["diff", "prod", "prod"]);
    assert_trouble(&run, "missing client certificate", &["\"prod\"", "/nonexistent/client."]);
}

fn exec_user(command: &str) -> String {
    format!(
        "    exec:\n      apiVersion: client.authentication.k8s.io/v1beta1\n      command: {command}\n      \
         interactiveMode: Never\n      args: [eks, get-token, --cluster-name, prod]"
    )
}

#[test]
fn missing_exec_credential_plugin_is_trouble_with_a_hint() {
    require_clusters();
    let (_d, kc) =
        temp_file("config", &kubeconfig_text(&blue_cluster_entry(), &exec_user("kparity-test-no-such-plugin")));
    let run = run_with_kubeconfig(&kc, &["diff", "prod", "prod"]);
    assert_trouble(
        &run,
        "missing exec plugin",
        &["failed to get credentials", "\"prod\"", "\"kparity-test-no-such-plugin\"", "could not be started"],
    );
    assert!(run.stderr.contains("exec plugin"), "the hint names the plugin as the suspect: {}", run.stderr);
}

#[test]
fn failing_exec_credential_plugin_is_trouble_with_a_hint() {
    require_clusters();
    let (dir, plugin) =
        temp_file("fake-aws", "#!/bin/sh\necho 'the SSO session has expired; run aws sso login' >&2\nexit 255\n");
    std::fs::set_permissions(&plugin, std::os::unix::fs::PermissionsExt::from_mode(0o755)).expect("chmod");
    let kc = dir.path().join("config");
    std::fs::write(&kc, kubeconfig_text(&blue_cluster_entry(), &exec_user(path_str(&plugin)))).expect("write");
    let run = run_with_kubeconfig(&kc, &["diff", "prod", "prod"]);
    // The plugin's own explanation reaches the user, on the one error line.
    assert_trouble(
        &run,
        "failing exec plugin",
        &["failed to get credentials", "\"prod\"", "exit status: 255", "run aws sso login"],
    );
}

/// The blue test cluster's `cluster:` entry (server and CA), indented for `kubeconfig_text`.
fn blue_cluster_entry() -> String {
    let server =
        kubectl("blue", &["config", "view", "--raw", "-o", "jsonpath={.clusters[?(@.name==\"blue\")].cluster.server}"]);
    let ca = kubectl(
        "blue",
        &[
            "config",
            "view",
            "--raw",
            "-o",
            "jsonpath={.clusters[?(@.name==\"blue\")].cluster.certificate-authority-data}",
        ],
    );
    format!("    server: {server}\n    certificate-authority-data: {ca}")
}

#[test]
fn a_web_page_on_the_api_port_is_trouble_not_kubernetes() {
    require_clusters();
    let proxy = FaultProxy::start("blue", "any * html always");
    let (_d, dir) = scratch();
    let mut cmd = kparity();
    cmd.env("KUBECONFIG", proxy.kubeconfig(&dir, "web")).args(["diff", "ctx:web", "ctx:blue"]);
    let run = run_cmd(&mut cmd);
    assert_trouble(&run, "HTML server", &["does not answer like a Kubernetes API server", "text/html"]);
    assert!(run.elapsed < std::time::Duration::from_secs(20), "answered in {:?}", run.elapsed);
    assert!(proxy.hits()[0] > 0);
}

// --- rules files --------------------------------------------------------------------------------

fn rules_run(text: &str) -> (Run, tempfile::TempDir, PathBuf) {
    let (dir, path) = temp_file("rules.yaml", text);
    let run = run_kparity(&["rules", "--rules", path_str(&path)]);
    (run, dir, path)
}

#[test]
fn rules_file_with_a_yaml_syntax_error_is_located() {
    let (run, _d, path) = rules_run("rules:\n  - name: a\n    why: b\n    drop: [/metadata/labels\n");
    assert_trouble(&run, "rules syntax", &[&format!("{}:", path.display())]);
}

#[test]
fn rules_file_with_an_unknown_field_is_located() {
    let (run, _d, path) = rules_run("rules:\n  - name: a\n    why: b\n    dorp: [/metadata/labels]\n");
    assert_trouble(&run, "rules unknown field", &[&format!("{}:", path.display()), "dorp"]);
}

#[test]
fn rules_file_with_a_bad_pointer_is_located() {
    let (run, _d, path) = rules_run("rules:\n  - name: a\n    why: b\n    drop: [metadata/labels]\n");
    assert_trouble(&run, "rules bad pointer", &[&format!("{}:4:", path.display()), "must start with '/'"]);
    let (run, _d, _) = rules_run("rules:\n  - name: a\n    why: b\n    drop: [/metadata/annotations/a~2b]\n");
    assert_trouble(&run, "rules bad escape", &["'~' must be followed by 0 or 1"]);
}

#[test]
fn rules_file_with_a_bad_glob_is_located() {
    let (run, _d, path) = rules_run("rules:\n  - name: a\n    why: b\n    match: {name: \"web-[a\"}\n    skip: true\n");
    assert_trouble(&run, "rules bad glob", &[&format!("{}:4:", path.display()), "invalid glob"]);
}

#[test]
fn unreadable_rules_file_is_trouble() {
    let run = run_kparity(&["rules", "--rules", "/nonexistent/rules.yaml"]);
    assert_trouble(&run, "missing rules file", &["/nonexistent/rules.yaml"]);
}

#[test]
fn a_bad_platform_option_is_trouble_before_anything_is_read() {
    for (arg, words) in [
        ("new=gke", &["unknown platform \"gke\""][..]),
        ("left=eks", &["unknown side \"left\""][..]),
        ("eks", &["\"eks\" is not SIDE=NAME"][..]),
    ] {
        let run = run_kparity(&["diff", "no-such-context-a", "no-such-context-b", "--platform", arg]);
        assert_trouble(&run, &format!("--platform {arg}"), words);
    }
}

// --- snapshots ----------------------------------------------------------------------------------

/// A real, intact archive of a small part of the blue cluster.
fn real_archive(dir: &Path) -> PathBuf {
    let path = dir.join("blue.kparity");
    let run = run_kparity(&["snapshot", "blue", "-n", "kube-public", "-n", "default", "-o", path_str(&path)]);
    assert_eq!(run.code, 0, "snapshot failed:\n{}\n{}", run.stdout, run.stderr);
    let verify = run_kparity(&["verify", path_str(&path)]);
    assert_eq!(verify.code, 0, "a fresh archive must verify:\n{}", verify.stderr);
    path
}

fn decompress(path: &Path) -> Vec<u8> {
    let mut out = Vec::new();
    zstd::stream::read::Decoder::new(std::fs::File::open(path).expect("open"))
        .expect("zstd")
        .read_to_end(&mut out)
        .expect("decompress");
    out
}

fn compress(bytes: &[u8], path: &Path) {
    let mut enc = zstd::stream::write::Encoder::new(std::fs::File::create(path).expect("create"), 3).expect("zstd");
    enc.include_checksum(true).expect("checksum");
    enc.write_all(bytes).expect("compress");
    enc.finish().expect("finish");
}

/// Both readers (verify, and diff with the archive as a side) refuse the file alike.
fn assert_refused(path: &Path, what: &str, words: &[&str]) {
    let run = run_kparity(&["verify", path_str(path)]);
    assert_trouble(&run, &format!("verify {what}"), words);
    let run = run_kparity(&["diff", &format!("file:{}", path_str(path)), &format!("file:{}", path_str(path))]);
    assert_trouble(&run, &format!("diff {what}"), words);
}

#[test]
fn damaged_snapshots_are_refused_with_a_hint() {
    require_clusters();
    let (_d, dir) = scratch();
    let good = real_archive(&dir);
    let bytes = std::fs::read(&good).expect("read archive");
    let plain = decompress(&good);
    let at = |name: &str| dir.join(name);

    std::fs::write(at("empty"), b"").expect("write");
    assert_refused(&at("empty"), "empty file", &["not a kparity archive", "empty"]);

    std::fs::write(at("notes.txt"), b"apiVersion: v1\nkind: List\n").expect("write");
    assert_refused(&at("notes.txt"), "not an archive", &["not a kparity archive"]);

    std::fs::write(at("truncated"), &bytes[..bytes.len() * 2 / 3]).expect("write");
    assert_refused(&at("truncated"), "truncated", &["archive"]);

    let mut flipped = bytes.clone();
    let mid = flipped.len() / 2;
    flipped[mid] ^= 0x10;
    std::fs::write(at("flipped"), &flipped).expect("write");
    assert_refused(&at("flipped"), "bit-flipped", &["archive"]);

    // Tampered: an object's content changed, recompressed so the zstd layer is valid.
    let text = String::from_utf8(plain.clone()).expect("utf-8 archive");
    let tampered = text.replacen("\"kube-public\"", "\"kube-pub1ic\"", 1);
    assert_ne!(tampered, text, "the archive must name kube-public");
    compress(tampered.as_bytes(), &at("tampered"));
    assert_refused(&at("tampered"), "tampered", &["tampered archive"]);

    // Written by a future kparity: format version 99.
    let future = text.replacen("\"version\":2", "\"version\":99", 1);
    assert_ne!(future, text, "the header must carry \"version\":2 (the current format)");
    compress(future.as_bytes(), &at("future"));
    assert_refused(&at("future"), "future format", &["unsupported archive format version 99"]);
}
