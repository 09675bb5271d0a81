//! Transport like kubectl, against the real test clusters (issue 13 §4): a kubeconfig
//! `proxy-url` through a real HTTP proxy (tinyproxy on loopback) with and without credentials,
//! `HTTPS_PROXY` ignored for loopback servers as kubectl does, a wrong proxy password, a huge
//! `Retry-After`, an oversized response body, a 401 that fetches exec credentials again,
//! `--as` impersonation and `--request-timeout`. No credential may appear in any output, even
//! at `RUST_LOG=trace`.
//!
//! Fails loudly when the clusters are down: run `tests/cluster/up.sh`. tinyproxy is installed
//! by `tests/install-test-tools.sh` (run here when it is missing).

mod common;

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::faultproxy::FaultProxy;
use common::*;
use serde_json::{Value, json};

const PROXY_USER: &str = "kp-proxy-user";
const PROXY_PASSWORD: &str = "Pr0xy-pa55w0rd-canary";

/// A tinyproxy on a free loopback port, killed on drop; `log()` is its connection log.
struct Tinyproxy {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl Tinyproxy {
    fn start(basic_auth: Option<(&str, &str)>) -> Tinyproxy {
        let bin = tinyproxy_bin();
        let dir = tempfile::tempdir().expect("tempdir");
        let port = free_port();
        let auth = basic_auth.map(|(u, p)| format!("BasicAuth {u} {p}\n")).unwrap_or_default();
        let conf = format!(
            "Port {port}\nListen 127.0.0.1\nAllow 127.0.0.1\nTimeout 60\nMaxClients 64\nLogLevel Connect\n\
             LogFile \"{log}\"\nPidFile \"{pid}\"\n{auth}",
            log = dir.path().join("tinyproxy.log").display(),
            pid = dir.path().join("tinyproxy.pid").display(),
        );
        let conf_path = dir.path().join("tinyproxy.conf");
        std::fs::write(&conf_path, conf).expect("write tinyproxy.conf");
        let child = Command::new(&bin)
            .arg("-d")
            .arg("-c")
            .arg(&conf_path)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
        wait_for("tinyproxy to listen", Duration::from_secs(10), || {
            std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
        Tinyproxy { child, port, dir }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("tinyproxy.log")).unwrap_or_default()
    }
}

impl Drop for Tinyproxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn tinyproxy_bin() -> PathBuf {
    let find = || ["/usr/bin/tinyproxy", "/usr/sbin/tinyproxy"].into_iter().map(PathBuf::from).find(|p| p.exists());
    if let Some(p) = find() {
        return p;
    }
    let status = Command::new(root().join("tests/install-test-tools.sh")).status().expect("run install-test-tools.sh");
    assert!(status.success(), "tinyproxy is missing and tests/install-test-tools.sh could not install it");
    find().expect("tinyproxy installed by tests/install-test-tools.sh")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
}

/// The test clusters' kubeconfig as JSON, with `f` applied to each cluster entry.
fn kubeconfig_with(dir: &Path, name: &str, f: impl Fn(&mut Value)) -> PathBuf {
    let text = std::fs::read_to_string(kubeconfig()).expect("read the test kubeconfig");
    let mut kc: Value = serde_norway::from_str(&text).expect("parse the test kubeconfig");
    for c in kc["clusters"].as_array_mut().expect("clusters") {
        f(&mut c["cluster"]);
    }
    let p = dir.join(name);
    std::fs::write(&p, serde_json::to_string_pretty(&kc).expect("json")).expect("write kubeconfig");
    p
}

/// A namespace holding the same workloads on both clusters.
fn same_workloads(name: &str) -> TestNamespace {
    let ns = TestNamespace::new(name, &["blue", "green"]);
    for ctx in ["blue", "green"] {
        apply(ctx, &workloads(&ns.name, "s3cret"), &[]);
    }
    ns
}

/// Every spelling of the proxy credentials a message could carry.
fn proxy_credential_spellings() -> Vec<String> {
    use base64::Engine as _;
    vec![
        PROXY_PASSWORD.to_string(),
        base64::engine::general_purpose::STANDARD.encode(format!("{PROXY_USER}:{PROXY_PASSWORD}")),
    ]
}

fn assert_no_credential(run: &Run, credentials: &[String]) {
    for c in credentials {
        assert!(!run.stdout.contains(c.as_str()), "stdout carries a credential {c:?}:\n{}", run.stdout);
        assert!(!run.stderr.contains(c.as_str()), "stderr carries a credential {c:?}:\n{}", run.stderr);
    }
}

#[test]
fn kubeconfig_proxy_url_reaches_both_clusters_through_a_real_proxy() {
    require_clusters();
    let _g = serial();
    let ns = same_workloads("tr-proxy");
    let proxy = Tinyproxy::start(None);
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("http://127.0.0.1:{}", proxy.port);
    let kc = kubeconfig_with(dir.path(), "proxied.kubeconfig", |c| c["proxy-url"] = json!(url));
    let run = run_cmd(kparity().env("KUBECONFIG", &kc).args(["diff", "blue", "green", "-n", &ns.name]));
    assert_eq!(run.code, 0, "{}\n{}\ntinyproxy log:\n{}", run.stdout, run.stderr, proxy.log());
    // The proxy carried the connections (CONNECT to each apiserver's loopback port).
    let log = proxy.log();
    assert!(log.contains("CONNECT"), "tinyproxy saw no CONNECT:\n{log}");
    // Control: a proxy-url pointing at nothing fails (the setting is used, not ignored), exit 2.
    let dead = format!("http://127.0.0.1:{}", free_port());
    let kc = kubeconfig_with(dir.path(), "dead.kubeconfig", |c| c["proxy-url"] = json!(dead));
    let run =
        run_cmd(kparity().env("KUBECONFIG", &kc).args(["diff", "blue", "green", "-n", &ns.name, "--timeout", "10s"]));
    assert_eq!(run.code, 2, "{}\n{}", run.stdout, run.stderr);
    assert!(run.stderr.contains("failed to reach context"), "{}", run.stderr);
}

#[test]
fn proxy_with_credentials_works_and_a_wrong_password_is_exit_2_without_the_password() {
    require_clusters();
    let _g = serial();
    let ns = same_workloads("tr-proxy-auth");
    let proxy = Tinyproxy::start(Some((PROXY_USER, PROXY_PASSWORD)));
    let dir = tempfile::tempdir().expect("tempdir");
    let good = format!("http://{PROXY_USER}:{PROXY_PASSWORD}@127.0.0.1:{}", proxy.port);
    let kc = kubeconfig_with(dir.path(), "good.kubeconfig", |c| c["proxy-url"] = json!(good));
    let run = run_cmd(
        kparity().env("KUBECONFIG", &kc).env("RUST_LOG", "trace").args(["diff", "blue", "green", "-n", &ns.name]),
    );
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, &run.stderr[run.stderr.len().saturating_sub(3000)..]);
    assert!(proxy.log().contains("CONNECT"), "{}", proxy.log());
    assert_no_credential(&run, &proxy_credential_spellings());

    // Without credentials the proxy refuses: exit 2, the proxy named, no password anywhere.
    let wrong = format!("http://{PROXY_USER}:{PROXY_PASSWORD}-wrong@127.0.0.1:{}", proxy.port);
    let kc = kubeconfig_with(dir.path(), "wrong.kubeconfig", |c| c["proxy-url"] = json!(wrong));
    for rust_log in ["", "trace"] {
        let run = run_cmd(kparity().env("KUBECONFIG", &kc).env("RUST_LOG", rust_log).args([
            "diff",
            "blue",
            "green",
            "-n",
            &ns.name,
            "--timeout",
            "10s",
        ]));
        assert_eq!(run.code, 2, "{}\n{}", run.stdout, run.stderr);
        assert!(run.stderr.contains("failed to reach context"), "{}", run.stderr);
        assert!(run.stderr.contains("hint: the connection goes through a proxy"), "{}", run.stderr);
        let mut creds = proxy_credential_spellings();
        creds.push(format!("{PROXY_PASSWORD}-wrong"));
        assert_no_credential(&run, &creds);
    }
}

#[test]
fn https_proxy_is_not_used_for_loopback_servers_as_kubectl_does() {
    require_clusters();
    let ns = TestNamespace::new("tr-env-proxy", &["blue"]);
    // A proxy that does not exist: if kparity used it, the read would fail.
    let dead = format!("http://127.0.0.1:{}", free_port());
    let run = run_cmd(kparity().env("HTTPS_PROXY", &dead).env("https_proxy", &dead).args([
        "diff",
        "blue",
        "blue",
        "-n",
        &ns.name,
        "--timeout",
        "10s",
    ]));
    assert_ne!(run.code, 2, "{}\n{}", run.stdout, run.stderr);
    // The kubectl of the test clusters agrees.
    let out = Command::new(kubectl_bin())
        .args(["--kubeconfig", path_str(&kubeconfig()), "--context", "blue", "get", "--raw", "/version"])
        .env("HTTPS_PROXY", &dead)
        .output()
        .expect("kubectl");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn a_huge_retry_after_is_clamped_not_a_panic() {
    require_clusters();
    let proxy = FaultProxy::start("blue", "first-page configmaps 429=18446744073709551615 always");
    let dir = tempfile::tempdir().expect("tempdir");
    let kc = proxy.kubeconfig(dir.path(), "faulty");
    let run = run_cmd(kparity().env("KUBECONFIG", &kc).args([
        "diff",
        "blue",
        "faulty",
        "-n",
        "default",
        "--kinds",
        "ConfigMap",
        "--timeout",
        "10s",
        "-o",
        "json",
    ]));
    assert_eq!(run.code, 2, "{}\n{}", run.stdout, run.stderr);
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    let report = run.json();
    let reasons: Vec<&str> =
        report["incomplete"].as_array().expect("incomplete").iter().filter_map(|i| i["reason"].as_str()).collect();
    assert_eq!(reasons, ["throttled"], "{report}");
    assert!(run.elapsed < Duration::from_secs(60), "{:?}", run.elapsed);
}

#[test]
fn an_oversized_response_body_makes_the_type_incomplete() {
    require_clusters();
    let _g = serial();
    let ns = TestNamespace::new("tr-big-body", &["blue"]);
    // Two ConfigMaps of ~700 KiB each: one page of them is ~1.4 MiB, far above a 1 MiB cap,
    // while every discovery document stays below it.
    let big = "x".repeat(700 * 1024);
    for name in ["big-a", "big-b"] {
        let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": ns.name}, "data": {"blob": big}});
        apply("blue", &serde_json::to_string(&cm).expect("json"), &["--server-side"]);
    }
    let run = run_kparity(&[
        "diff",
        "blue",
        "blue",
        "-n",
        &ns.name,
        "--kinds",
        "ConfigMap",
        "--max-response-bytes",
        "1Mi",
        "-o",
        "json",
    ]);
    assert_eq!(run.code, 2, "{}\n{}", run.stdout, run.stderr);
    assert_configmaps_too_large(&run.json(), 1048576);
    // Control: under the default cap the same read is complete.
    let run = run_kparity(&["diff", "blue", "blue", "-n", &ns.name, "--kinds", "ConfigMap"]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
}

/// The API server compresses a watch as a series of gzip members, one per flush; a stream of a
/// few hundred objects spans several. Every member is decoded: the stream is read whole (no
/// fallback to pages) and gives the paged report. `--max-response-bytes` bounds what a stream
/// decodes to, not the few bytes it takes on the wire.
#[test]
fn a_compressed_stream_is_read_member_by_member_and_bounded_by_what_it_decodes_to() {
    require_clusters();
    let _g = serial();
    let ns = TestNamespace::new("tr-gzip-stream", &["blue"]);
    let items: Vec<Value> = (0..300)
        .map(|i| {
            json!({"apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": format!("cm-{i:03}"), "namespace": ns.name, "labels": {"n": i.to_string()}},
                "data": {"text": format!("{i} ").repeat(400)}})
        })
        .collect();
    let list = json!({"apiVersion": "v1", "kind": "List", "items": items});
    apply("blue", &serde_json::to_string(&list).expect("json"), &["--server-side"]);
    let read = |method: &str, extra: &[&str]| {
        let mut args = vec!["diff", "blue", "blue", "-n", &ns.name, "--kinds", "ConfigMap", "--list-method", method];
        args.extend(extra);
        args.extend(["-o", "json"]);
        run_cmd(kparity().env("RUST_LOG", "kparity=debug").args(&args))
    };

    let streamed = read("streams", &[]);
    assert_eq!(streamed.code, 0, "{}\n{}", streamed.stdout, streamed.stderr);
    assert!(
        streamed.stderr.contains("resource=configmaps encoding=Gzip"),
        "the server compressed it:\n{}",
        streamed.stderr
    );
    assert!(!streamed.stderr.contains("abandoned"), "every member was decoded:\n{}", streamed.stderr);
    // --disable-compression, as kubectl's: the server sends the stream plain, the report is the same.
    let plain = read("streams", &["--disable-compression"]);
    assert_eq!(plain.code, 0, "{}\n{}", plain.stdout, plain.stderr);
    assert!(plain.stderr.contains("resource=configmaps encoding=Identity"), "{}", plain.stderr);
    assert_eq!(plain.json()["summary"], streamed.json()["summary"]);
    let paged = read("pages", &[]);
    assert_eq!(paged.code, 0, "{}\n{}", paged.stdout, paged.stderr);
    assert!(!paged.stderr.contains("streaming the initial events"), "{}", paged.stderr);
    let (s, p) = (streamed.json(), paged.json());
    assert_eq!(s["summary"], p["summary"]);
    assert_eq!(s["summary"]["equal"], 301, "300 ConfigMaps and kube-root-ca.crt: {s}");
    assert_eq!(s["coverage"]["old"]["objects"], p["coverage"]["old"]["objects"]);

    // About 570 KiB decoded from a few KiB on the wire: refused at 256 KiB, as a stream and
    // then as the page it falls back to.
    let bounded = read("streams", &["--max-response-bytes", "256Ki"]);
    assert_eq!(bounded.code, 2, "{}\n{}", bounded.stdout, bounded.stderr);
    assert!(
        bounded.stderr.contains("the stream is larger than 262144 bytes (--max-response-bytes)"),
        "{}",
        bounded.stderr
    );
    assert_configmaps_too_large(&bounded.json(), 262144);
}

/// The report holds incomplete types, every one of them ConfigMaps refused as larger than
/// `limit` bytes.
fn assert_configmaps_too_large(report: &Value, limit: u64) {
    let incomplete = report["incomplete"].as_array().expect("incomplete");
    assert!(!incomplete.is_empty(), "{report}");
    for i in incomplete {
        assert_eq!(i["resource"], "configmaps", "{report}");
        assert!(i["message"].as_str().unwrap_or("").contains(&format!("larger than {limit} bytes")), "{report}");
    }
}

/// An exec plugin whose first REVOKED calls print a revoked token (the server answers 401) and
/// later calls a valid one. kube-rs runs a plugin a fixed number of times per client it builds
/// (once per use: TLS identity, auth layer...), measured with REVOKED=0 first.
const REVOKED_FIRST_PLUGIN: &str = r#"#!/bin/sh
state=$1 revoked=$2
date -u +%s >> "$state/calls"
n=$(wc -l < "$state/calls")
if [ "$n" -le "$revoked" ]; then token=kparity-revoked-token-canary; else token=kparity-exec-token-1; fi
printf '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"%s"}}\n' "$token"
"#;

/// Runs a snapshot of blue through the plugin with `revoked` revoked calls; returns the run and
/// how many times the plugin ran.
fn snapshot_through_plugin(revoked: usize) -> (Run, usize) {
    let dir = tempfile::tempdir().expect("tempdir");
    let plugin = dir.path().join("plugin.sh");
    std::fs::write(&plugin, REVOKED_FIRST_PLUGIN).expect("write plugin");
    std::fs::set_permissions(&plugin, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let text = std::fs::read_to_string(kubeconfig()).expect("read the test kubeconfig");
    let kc: Value = serde_norway::from_str(&text).expect("parse");
    let config = json!({
        "apiVersion": "v1", "kind": "Config",
        "clusters": kc["clusters"],
        "users": [{"name": "exec-blue", "user": {"exec": {
            "apiVersion": "client.authentication.k8s.io/v1", "command": path_str(&plugin),
            "args": [path_str(dir.path()), revoked.to_string()], "interactiveMode": "Never"}}}],
        "contexts": [{"name": "blue", "context": {"cluster": "blue", "user": "exec-blue"}}],
        "current-context": "blue",
    });
    let kc_path = dir.path().join("exec.kubeconfig");
    std::fs::write(&kc_path, serde_json::to_string(&config).expect("json")).expect("write");
    // A snapshot reads through one client.
    let archive = dir.path().join("blue.kparity");
    let run = run_cmd(kparity().env("KUBECONFIG", &kc_path).env("RUST_LOG", "trace").args([
        "snapshot",
        "blue",
        "-o",
        path_str(&archive),
        "-n",
        "default",
        "--kinds",
        "ConfigMap",
    ]));
    let calls = std::fs::read_to_string(dir.path().join("calls")).unwrap_or_default().lines().count();
    (run, calls)
}

#[test]
fn a_401_fetches_exec_credentials_again_once() {
    require_clusters();
    let (run, per_client) = snapshot_through_plugin(0);
    assert_eq!(run.code, 0, "{}", &run.stderr[run.stderr.len().saturating_sub(3000)..]);
    assert!(per_client >= 1, "the plugin never ran");
    // Every credential of the first client is revoked: the first request gets 401, the plugin
    // runs again for one new client, whose token serves every later request.
    let (run, calls) = snapshot_through_plugin(per_client);
    assert_eq!(run.code, 0, "{}", &run.stderr[run.stderr.len().saturating_sub(3000)..]);
    assert_eq!(calls, 2 * per_client, "the credentials must be fetched again exactly once after the 401");
    assert_no_credential(&run, &["kparity-revoked-token-canary".into(), "kparity-exec-token-1".into()]);
    // Control: credentials revoked for two clients in a row are given up after one refresh:
    // exit 2, not an endless loop.
    let (run, calls) = snapshot_through_plugin(2 * per_client);
    assert_eq!(run.code, 2, "{}", &run.stderr[run.stderr.len().saturating_sub(3000)..]);
    assert!(run.stderr.contains("failed to authenticate"), "{}", run.stderr);
    assert_eq!(calls, 2 * per_client);
    assert_no_credential(&run, &["kparity-revoked-token-canary".into(), "kparity-exec-token-1".into()]);
}

#[test]
fn impersonating_the_viewer_makes_secrets_forbidden() {
    require_clusters();
    let ns = TestNamespace::new("tr-as", &["blue"]);
    kubectl("blue", &["-n", &ns.name, "create", "secret", "generic", "s", "--from-literal=k=v"]);
    let args = ["diff", "blue", "blue", "-n", &ns.name, "--kinds", "Secret,ConfigMap", "-o", "json"];
    // Control: as the admin, everything is read.
    let run = run_kparity(&args);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let mut with_as = args.to_vec();
    with_as.extend(["--as", "kparity-viewer", "--as-group", "system:authenticated"]);
    let run = run_kparity(&with_as);
    assert_eq!(run.code, 2, "{}\n{}", run.stdout, run.stderr);
    let report = run.json();
    let incomplete: Vec<(String, String)> = report["incomplete"]
        .as_array()
        .expect("incomplete")
        .iter()
        .map(|i| (i["resource"].as_str().unwrap_or("").to_string(), i["reason"].as_str().unwrap_or("").to_string()))
        .collect();
    assert!(incomplete.contains(&("secrets".into(), "forbidden".into())), "{report}");
    assert!(incomplete.iter().all(|(r, _)| r == "secrets"), "ConfigMaps stay readable by the viewer: {report}");
    assert!(run.stdout.contains("kparity-viewer"), "the server's message names the impersonated user: {report}");
    // --as-group without --as is a usage error.
    let run = run_kparity(&["diff", "blue", "blue", "--as-group", "g"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
}

#[test]
fn request_timeout_bounds_each_request_as_kubectl() {
    require_clusters();
    // The first list request of configmaps never answers: with --request-timeout 1s it is
    // abandoned after a second and retried, well within the type's deadline.
    let proxy = FaultProxy::start("blue", "first-page configmaps stall x1");
    let dir = tempfile::tempdir().expect("tempdir");
    let kc = proxy.kubeconfig(dir.path(), "stally");
    let run = run_cmd(kparity().env("KUBECONFIG", &kc).args([
        "diff",
        "blue",
        "stally",
        "-n",
        "default",
        "--kinds",
        "ConfigMap",
        "--timeout",
        "60s",
        "--request-timeout",
        "1s",
    ]));
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert_eq!(proxy.hits(), [1]);
    assert!(run.elapsed < Duration::from_secs(15), "one stalled request cost {:?}", run.elapsed);
}

/// A minimal SOCKS5 server on loopback (RFC 1928: no authentication, CONNECT only) that counts
/// the connections it relays. Its threads end with the test process.
fn start_socks5() -> (u16, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind socks5");
    let port = listener.local_addr().expect("addr").port();
    let connects = std::sync::Arc::new(AtomicUsize::new(0));
    let counter = connects.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let counter = counter.clone();
            std::thread::spawn(move || {
                if serve_socks5(stream).is_ok() {
                    counter.fetch_add(1, Ordering::SeqCst);
                }
            });
        }
    });
    (port, connects)
}

fn serve_socks5(mut client: std::net::TcpStream) -> std::io::Result<()> {
    use std::io::{Read, Write};
    let bad = |m: &str| std::io::Error::other(m.to_string());
    let mut hello = [0u8; 2];
    client.read_exact(&mut hello)?;
    let mut methods = vec![0u8; usize::from(hello[1])];
    client.read_exact(&mut methods)?;
    if hello[0] != 5 || !methods.contains(&0) {
        client.write_all(&[5, 0xff])?;
        return Err(bad("no acceptable method"));
    }
    client.write_all(&[5, 0])?;
    let mut req = [0u8; 4];
    client.read_exact(&mut req)?;
    let host = match req[3] {
        1 => {
            let mut a = [0u8; 4];
            client.read_exact(&mut a)?;
            std::net::Ipv4Addr::from(a).to_string()
        }
        3 => {
            let mut len = [0u8; 1];
            client.read_exact(&mut len)?;
            let mut name = vec![0u8; usize::from(len[0])];
            client.read_exact(&mut name)?;
            String::from_utf8_lossy(&name).into_owned()
        }
        _ => return Err(bad("unsupported address type")),
    };
    let mut port = [0u8; 2];
    client.read_exact(&mut port)?;
    let upstream = std::net::TcpStream::connect((host.as_str(), u16::from_be_bytes(port)))?;
    client.write_all(&[5, 0, 0, 1, 0, 0, 0, 0, 0, 0])?;
    let (mut c_read, mut u_write) = (client.try_clone()?, upstream.try_clone()?);
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut c_read, &mut u_write);
        let _ = u_write.shutdown(std::net::Shutdown::Write);
    });
    let (mut u_read, mut c_write) = (upstream, client);
    std::io::copy(&mut u_read, &mut c_write)?;
    Ok(())
}

#[test]
fn socks5_proxy_url_reaches_the_cluster_and_socks5_credentials_are_refused_clearly() {
    require_clusters();
    let ns = TestNamespace::new("tr-socks", &["blue"]);
    let (port, connects) = start_socks5();
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("socks5://127.0.0.1:{port}");
    let kc = kubeconfig_with(dir.path(), "socks.kubeconfig", |c| c["proxy-url"] = json!(url));
    let run = run_cmd(kparity().env("KUBECONFIG", &kc).args(["diff", "blue", "blue", "-n", &ns.name]));
    assert_ne!(run.code, 2, "{}\n{}", run.stdout, run.stderr);
    assert!(connects.load(std::sync::atomic::Ordering::SeqCst) > 0, "the SOCKS5 proxy relayed nothing");
    // Credentials in a socks5 URL cannot be sent: refused in one line, without the password.
    let url = format!("socks5://{PROXY_USER}:{PROXY_PASSWORD}@127.0.0.1:{port}");
    let kc = kubeconfig_with(dir.path(), "socks-auth.kubeconfig", |c| c["proxy-url"] = json!(url));
    let run = run_cmd(kparity().env("KUBECONFIG", &kc).args(["diff", "blue", "blue", "-n", &ns.name]));
    assert_eq!(run.code, 2, "{}\n{}", run.stdout, run.stderr);
    assert!(run.stderr.contains("SOCKS5 proxy"), "{}", run.stderr);
    assert_no_credential(&run, &proxy_credential_spellings());
}
