//! Everyday ergonomics against the real test clusters (issue 9): `kubectl parity` as a plugin,
//! kubeconfig split across files, exec credential plugins (working, failing, expiring), the
//! JUnit and metrics outputs of real runs, the nightly CronJob example under server-side dry run,
//! colour only on a terminal, and `--quiet`.
//!
//! Fails loudly when the clusters are down: run `tests/cluster/up.sh`.

mod common;

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::*;
use serde_json::{Value, json};

/// The kparity binary cargo built for these tests.
fn kparity_bin() -> PathBuf {
    assert_cmd::cargo::cargo_bin("kparity")
}

/// A namespace holding the same workloads on both clusters.
fn same_workloads(name: &str) -> TestNamespace {
    let ns = TestNamespace::new(name, &["blue", "green"]);
    for ctx in ["blue", "green"] {
        apply(ctx, &workloads(&ns.name, "s3cret"), &[]);
    }
    ns
}

/// The test clusters' kubeconfig as a JSON value (YAML is read, JSON is written: kubeconfig
/// readers accept both).
fn kubeconfig_value() -> Value {
    let text = std::fs::read_to_string(kubeconfig()).expect("read the test kubeconfig");
    serde_norway::from_str(&text).expect("parse the test kubeconfig")
}

fn write_json(dir: &Path, name: &str, v: &Value) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, serde_json::to_string_pretty(v).expect("serialize")).expect("write");
    p
}

fn join_paths(paths: &[&Path]) -> std::ffi::OsString {
    std::env::join_paths(paths).expect("join paths")
}

// ---- kubectl plugin -------------------------------------------------------------------------

#[test]
fn kubectl_parity_runs_diff_through_the_plugin_name() {
    require_clusters();
    let _g = serial();
    let ns = same_workloads("ergo-plugin");
    let bin_dir = tempfile::tempdir().expect("tempdir");
    std::os::unix::fs::symlink(kparity_bin(), bin_dir.path().join("kubectl-parity")).expect("symlink");
    let path = join_paths(&[bin_dir.path(), Path::new("/usr/bin"), Path::new("/bin")]);

    // kubectl finds plugins on PATH by name; global kubectl flags cannot precede a plugin, so
    // the kubeconfig comes through the environment, as users set it.
    let kubectl = |args: &[&str]| {
        Command::new(kubectl_bin())
            .args(args)
            .env("PATH", &path)
            .env("KUBECONFIG", kubeconfig())
            .env_remove("KPARITY_SECRET_KEY")
            .output()
            .expect("run kubectl")
    };
    let listed = kubectl(&["plugin", "list"]);
    let listed_text = String::from_utf8_lossy(&listed.stdout);
    assert!(listed_text.contains("kubectl-parity"), "kubectl plugin list: {listed_text}");

    let out = kubectl(&["parity", "diff", "blue", "green", "-n", &ns.name]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "stdout:\n{stdout}\nstderr:\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("EQUIVALENT"), "{stdout}");

    let help = kubectl(&["parity", "diff", "--help"]);
    let help_text = String::from_utf8_lossy(&help.stdout);
    assert!(help_text.contains("Usage: kubectl parity diff"), "{help_text}");

    // Run directly under its own name, usage says kparity.
    let own = run_kparity(&["diff", "--help"]);
    assert!(own.stdout.contains("Usage: kparity diff"), "{}", own.stdout);
}

// ---- kubeconfig -----------------------------------------------------------------------------

/// Splits the test kubeconfig: clusters and contexts in one file, users in the other, so a
/// context only works when both files are merged.
fn split_kubeconfig(dir: &Path) -> (PathBuf, PathBuf) {
    let kc = kubeconfig_value();
    let contexts = json!({
        "apiVersion": "v1", "kind": "Config",
        "clusters": kc["clusters"], "contexts": kc["contexts"], "current-context": "blue",
    });
    let users = json!({ "apiVersion": "v1", "kind": "Config", "users": kc["users"] });
    (write_json(dir, "contexts.yaml", &contexts), write_json(dir, "users.yaml", &users))
}

#[test]
fn kubeconfig_split_across_two_files_in_kubeconfig_is_merged() {
    require_clusters();
    let _g = serial();
    let ns = same_workloads("ergo-split");
    let dir = tempfile::tempdir().expect("tempdir");
    let (contexts, users) = split_kubeconfig(dir.path());
    let missing = dir.path().join("not-there.yaml");

    // Listed files that do not exist are ignored, as kubectl ignores them.
    let merged = join_paths(&[&contexts, &missing, &users]);
    let run = run_cmd(kparity().env("KUBECONFIG", &merged).args(["diff", "blue", "green", "-n", &ns.name]));
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("EQUIVALENT"), "{}", run.stdout);

    // Control: the contexts file alone has no credentials, so the merge above is what worked.
    let alone = run_cmd(kparity().env("KUBECONFIG", &contexts).args(["diff", "blue", "green", "-n", &ns.name]));
    assert_eq!(alone.code, 2, "{}\n{}", alone.stdout, alone.stderr);

    // --kubeconfig wins over KUBECONFIG.
    let explicit = run_cmd(kparity().env("KUBECONFIG", &contexts).args([
        "--kubeconfig",
        path_str(&kubeconfig()),
        "diff",
        "blue",
        "green",
        "-n",
        &ns.name,
    ]));
    assert_eq!(explicit.code, 0, "{}\n{}", explicit.stdout, explicit.stderr);
}

// ---- exec credential plugins ----------------------------------------------------------------

/// A credential plugin in the style of `aws eks get-token`: prints an ExecCredential holding one
/// of the static tokens the test apiservers accept (tests/cluster/lib.sh). It records each call
/// (unix time) in STATE/NAME.calls. Modes: `static` (a token without expiry), `expiring` (a new
/// token per call, valid for 61 s: kube-rs refreshes a token 60 s before it expires, so each
/// is used for at most a second), `fail` (exits 1 with a message on stderr).
const PLUGIN: &str = r#"#!/bin/sh
state=$1 name=$2 mode=$3
date -u +%s >> "$state/$name.calls"
n=$(wc -l < "$state/$name.calls")
case $mode in
  fail)
    echo "token service unreachable: connection refused" >&2
    exit 1 ;;
  static)
    printf '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"kparity-exec-token-1"}}\n' ;;
  expiring)
    token="kparity-exec-token-$(( (n - 1) % 20 + 1 ))"
    expires=$(date -u -d "@$(( $(date +%s) + 61 ))" +%Y-%m-%dT%H:%M:%SZ)
    printf '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"%s","expirationTimestamp":"%s"}}\n' "$token" "$expires" ;;
esac
"#;

/// A kubeconfig whose `blue` and `green` contexts authenticate through the plugin in `mode`.
fn exec_kubeconfig(dir: &Path, mode: &str) -> PathBuf {
    let plugin = dir.join("credential-plugin.sh");
    std::fs::write(&plugin, PLUGIN).expect("write plugin");
    std::fs::set_permissions(&plugin, std::fs::Permissions::from_mode(0o755)).expect("chmod plugin");
    let kc = kubeconfig_value();
    let user = |ctx: &str| {
        json!({"name": format!("exec-{ctx}"), "user": {"exec": {
            "apiVersion": "client.authentication.k8s.io/v1",
            "command": path_str(&plugin),
            "args": [path_str(dir), ctx, mode],
            "interactiveMode": "Never",
        }}})
    };
    let context = |ctx: &str| json!({"name": ctx, "context": {"cluster": ctx, "user": format!("exec-{ctx}")}});
    let config = json!({
        "apiVersion": "v1", "kind": "Config",
        "clusters": kc["clusters"],
        "users": [user("blue"), user("green")],
        "contexts": [context("blue"), context("green")],
        "current-context": "blue",
    });
    write_json(dir, "exec-kubeconfig.yaml", &config)
}

/// The unix times at which the plugin was called for `ctx`.
fn plugin_calls(dir: &Path, ctx: &str) -> Vec<u64> {
    std::fs::read_to_string(dir.join(format!("{ctx}.calls")))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect()
}

#[test]
fn exec_plugin_credentials_are_used() {
    require_clusters();
    let _g = serial();
    let ns = same_workloads("ergo-exec");
    let dir = tempfile::tempdir().expect("tempdir");
    let kc = exec_kubeconfig(dir.path(), "static");
    let run = run_cmd(kparity().env("KUBECONFIG", &kc).args(["diff", "blue", "green", "-n", &ns.name]));
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("EQUIVALENT"), "{}", run.stdout);
    for ctx in ["blue", "green"] {
        assert!(!plugin_calls(dir.path(), ctx).is_empty(), "the plugin was never called for {ctx}");
    }
}

#[test]
fn failing_exec_plugin_is_a_clear_error_with_exit_2() {
    require_clusters();
    let dir = tempfile::tempdir().expect("tempdir");
    let kc = exec_kubeconfig(dir.path(), "fail");
    let run = run_cmd(kparity().env("KUBECONFIG", &kc).args(["diff", "blue", "green", "-n", "default"]));
    assert_eq!(run.code, 2, "{}\n{}", run.stdout, run.stderr);
    assert!(run.stdout.is_empty(), "no report on failure: {}", run.stdout);
    let err = &run.stderr;
    assert!(err.contains("failed to get credentials for context"), "{err}");
    assert!(err.contains("credential-plugin.sh"), "the plugin is named: {err}");
    assert!(err.contains("token service unreachable: connection refused"), "the plugin's own message: {err}");
    assert!(err.contains("hint: run"), "{err}");
    // kube's raw text dumps the process output as byte arrays; none of that reaches the user.
    assert!(!err.contains("stdout: ["), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn expiring_exec_token_is_refreshed_during_a_long_run() {
    require_clusters();
    let _g = serial();
    let ns = same_workloads("ergo-expiry");
    // Enough objects, read one per page and one list at a time, that the run outlives the
    // first token (61 s of validity, which kube-rs treats as expiring 60 s early). Paged
    // explicitly: `auto` would read so large a type as one stream, in one request.
    let many: String = (0..2000)
        .map(|i| {
            format!(
                "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: c{i}, namespace: {}}}\ndata: {{i: \"{i}\"}}\n---\n",
                ns.name
            )
        })
        .collect();
    for ctx in ["blue", "green"] {
        apply(ctx, &many, &[]);
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let kc = exec_kubeconfig(dir.path(), "expiring");
    let run = run_cmd(kparity().env("KUBECONFIG", &kc).args([
        "diff",
        "blue",
        "green",
        "-n",
        &ns.name,
        "--page-size",
        "1",
        "--concurrency",
        "1",
        "--list-method",
        "pages",
    ]));
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert!(run.elapsed > Duration::from_millis(1500), "the run must outlive the first token: {:?}", run.elapsed);
    for ctx in ["blue", "green"] {
        let calls = plugin_calls(dir.path(), ctx);
        assert!(calls.len() >= 2, "{ctx}: the token was never refreshed ({calls:?}, run {:?})", run.elapsed);
        // A token is used until it expires, not fetched again for every request.
        let requests_at_least = 1200;
        assert!(calls.len() < requests_at_least / 4, "{ctx}: the plugin ran {} times", calls.len());
        eprintln!("{ctx}: {} plugin calls in a run of {:?}", calls.len(), run.elapsed);
    }
}

// ---- reports of real runs -------------------------------------------------------------------

/// Two namespaces whose content differs: a changed Deployment, a missing and an extra ConfigMap.
fn differing_workloads(name: &str) -> TestNamespace {
    let ns = same_workloads(name);
    kubectl("green", &["-n", &ns.name, "scale", "deployment/web", "--replicas=5"]);
    kubectl("green", &["-n", &ns.name, "delete", "configmap", "routing"]);
    kubectl("green", &["-n", &ns.name, "create", "configmap", "canary", "--from-literal=on=yes"]);
    ns
}

fn xmllint_valid(xml: &str) -> Result<(), String> {
    let (_dir, file) = temp_file("report.xml", xml);
    let schema = root().join("tests/schemas/junit.xsd");
    let out = Command::new("xmllint")
        .args(["--noout", "--schema", path_str(&schema), path_str(&file)])
        .output()
        .unwrap_or_else(|e| panic!("cannot run xmllint ({e}): install libxml2-utils (tests/run-all.sh does it)"));
    if out.status.success() { Ok(()) } else { Err(String::from_utf8_lossy(&out.stderr).into_owned()) }
}

#[test]
fn junit_and_metrics_of_a_real_different_run() {
    require_clusters();
    let _g = serial();
    let ns = differing_workloads("ergo-junit");
    let dir = tempfile::tempdir().expect("tempdir");
    let prom = dir.path().join("kparity.prom");
    let run = run_kparity(&["diff", "blue", "green", "-n", &ns.name, "-o", "junit", "--metrics-file", path_str(&prom)]);
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    xmllint_valid(&run.stdout).unwrap_or_else(|e| panic!("{e}\n{}", run.stdout));
    assert!(
        run.stdout.contains(r#"<testcase classname="kparity.kinds" name="Deployment.apps" time="0">"#),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains(&format!("~ Deployment.apps {}/web", ns.name)), "{}", run.stdout);
    assert!(run.stdout.contains(&format!("- ConfigMap {}/routing", ns.name)), "{}", run.stdout);
    let tests = run.stdout.matches("<testcase ").count();
    assert!(
        run.stdout.contains(&format!(r#"<testsuites name="kparity" tests="{tests}" failures="2""#)),
        "{}",
        run.stdout
    );

    let metrics = std::fs::read_to_string(&prom).expect("metrics file written");
    let labels = r#"old="blue",new="green""#;
    for line in [
        format!(r#"kparity_verdict{{{labels},verdict="different"}} 1"#),
        format!(r#"kparity_verdict{{{labels},verdict="equivalent"}} 0"#),
        format!(r#"kparity_exit_code{{{labels}}} 1"#),
        format!(r#"kparity_differences{{{labels},change="changed"}} 1"#),
        format!(r#"kparity_differences{{{labels},change="missing"}} 1"#),
        format!(r#"kparity_differences{{{labels},change="extra"}} 1"#),
        format!(r#"kparity_kind_differences{{{labels},kind="Deployment.apps",change="changed"}} 1"#),
    ] {
        assert!(metrics.lines().any(|l| l == line), "missing {line}\n{metrics}");
    }
}

#[test]
fn junit_reports_unreadable_types_as_errors() {
    require_clusters();
    let _g = serial();
    let ns = same_workloads("ergo-junit-viewer");
    // The viewer may not list Secrets: an incomplete run, exit 2, one erroring case.
    let run = run_kparity(&["diff", "blue-viewer", "green", "-n", &ns.name, "-o", "junit"]);
    assert_eq!(run.code, 2, "{}\n{}", run.stdout, run.stderr);
    xmllint_valid(&run.stdout).unwrap_or_else(|e| panic!("{e}\n{}", run.stdout));
    assert!(
        run.stdout.contains(r#"<testcase classname="kparity.incomplete" name="old: v1 secrets" time="0">"#),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains(r#"<error type="forbidden""#), "{}", run.stdout);
}

#[test]
fn metrics_file_records_a_run_that_could_not_compare() {
    require_clusters();
    let dir = tempfile::tempdir().expect("tempdir");
    let prom = dir.path().join("kparity.prom");
    let run = run_kparity(&["-q", "diff", "blue", "no-such-context", "--metrics-file", path_str(&prom)]);
    assert_eq!(run.code, 2, "{}\n{}", run.stdout, run.stderr);
    assert!(run.stderr.contains("no-such-context"), "{}", run.stderr);
    let metrics = std::fs::read_to_string(&prom).expect("metrics file written");
    assert!(metrics.contains(r#"kparity_verdict{old="blue",new="no-such-context",verdict="error"} 1"#), "{metrics}");
    assert!(metrics.contains(r#"kparity_exit_code{old="blue",new="no-such-context"} 2"#), "{metrics}");
}

#[test]
fn junit_of_a_run_that_could_not_compare_shows_the_error() {
    require_clusters();
    let run = run_kparity(&["diff", "blue", "no-such-context", "-o", "junit"]);
    assert_eq!(run.code, 2, "{}\n{}", run.stdout, run.stderr);
    xmllint_valid(&run.stdout).unwrap_or_else(|e| panic!("{e}\n{}", run.stdout));
    assert!(run.stdout.contains(r#"errors="1""#), "{}", run.stdout);
    assert!(run.stdout.contains("context &quot;no-such-context&quot; not found"), "{}", run.stdout);
    assert!(run.stdout.contains("hint: available contexts: blue, green,"), "{}", run.stdout);
    assert!(run.stdout.contains("blue-viewer"), "{}", run.stdout);
    assert!(run.stderr.contains("error:"), "stderr still has the error: {}", run.stderr);
}

#[test]
fn without_any_kubeconfig_the_error_points_at_in_cluster_and_kubeconfig() {
    let home = tempfile::tempdir().expect("tempdir");
    let bare = |ctx: &str| {
        run_cmd(
            kparity()
                .env_remove("KUBECONFIG")
                .env_remove("KUBERNETES_SERVICE_HOST")
                .env_remove("KUBERNETES_SERVICE_PORT")
                .env("HOME", home.path())
                .args(["diff", ctx, "green"]),
        )
    };
    let run = bare("blue");
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains(r#"no kubeconfig found for context "blue""#), "{}", run.stderr);
    assert!(run.stderr.contains("hint: pass --kubeconfig FILE or set KUBECONFIG; inside a pod"), "{}", run.stderr);
    // `in-cluster` tries the pod's service account, and says why it cannot here.
    let run = bare("in-cluster");
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains(r#"failed to configure context "in-cluster""#), "{}", run.stderr);
    assert!(run.stderr.contains("hint: `in-cluster` works only inside a pod"), "{}", run.stderr);
}

// ---- terminal, pipes and --quiet ------------------------------------------------------------

#[test]
fn colour_only_on_a_terminal_and_never_with_no_color() {
    require_clusters();
    let _g = serial();
    let ns = differing_workloads("ergo-colour");
    let args = ["diff", "blue", "green", "-n", ns.name.as_str()];

    let piped = run_kparity(&args);
    assert_eq!(piped.code, 1, "{}", piped.stderr);
    assert!(!piped.stdout.contains('\x1b'), "escape codes in piped output:\n{}", piped.stdout);
    let again = run_kparity(&args);
    assert_eq!(piped.stdout, again.stdout, "piped output is stable from run to run");

    // script(1) gives kparity a terminal as stdout.
    let on_tty = |no_color: bool| {
        let line = format!(
            "{} {}",
            kparity_bin().display(),
            args.iter().map(|a| format!("'{a}'")).collect::<Vec<_>>().join(" ")
        );
        let mut cmd = Command::new("script");
        cmd.args(["-qec", &line, "/dev/null"]).env("KUBECONFIG", kubeconfig()).env_remove("KPARITY_SECRET_KEY");
        if no_color {
            cmd.env("NO_COLOR", "1");
        } else {
            cmd.env_remove("NO_COLOR");
        }
        let out = cmd.output().expect("run script(1)");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let tty = on_tty(false);
    assert!(tty.contains("\x1b[1m\x1b[31mDIFFERENT"), "no colour on a terminal:\n{tty}");
    let tty_no_color = on_tty(true);
    assert!(tty_no_color.contains("DIFFERENT"), "{tty_no_color}");
    assert!(!tty_no_color.contains("\x1b[31m"), "NO_COLOR ignored:\n{tty_no_color}");
}

#[test]
fn quiet_prints_nothing_and_answers_with_the_exit_code() {
    require_clusters();
    let _g = serial();
    let ns = differing_workloads("ergo-quiet");
    for (args, code) in [
        (vec!["-q", "diff", "blue", "green", "-n", ns.name.as_str()], 1),
        (vec!["diff", "blue", "green", "-n", ns.name.as_str(), "--quiet", "-o", "json"], 1),
        (vec!["-q", "rules"], 0),
        (vec!["-q", "completions", "bash"], 0),
        (vec!["-q", "man"], 0),
    ] {
        let run = run_kparity(&args);
        assert_eq!(run.code, code, "{args:?}: {}", run.stderr);
        assert!(run.stdout.is_empty(), "{args:?} printed:\n{}", run.stdout);
        assert!(run.stderr.is_empty(), "{args:?} printed on stderr:\n{}", run.stderr);
    }
    // Errors still show.
    let bad = run_kparity(&["-q", "diff", "blue", "no-such-context"]);
    assert_eq!(bad.code, 2);
    assert!(bad.stderr.contains("error:"), "{}", bad.stderr);
}

// ---- completions and man page ---------------------------------------------------------------

#[test]
fn bash_completions_are_valid_bash() {
    let run = run_kparity(&["completions", "bash"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let (_dir, file) = temp_file("kparity.bash", &run.stdout);
    let check = Command::new("bash").arg("-n").arg(&file).output().expect("run bash -n");
    assert!(check.status.success(), "{}", String::from_utf8_lossy(&check.stderr));
    assert!(run.stdout.contains("--metrics-file"), "{}", run.stdout);
}

#[test]
fn man_page_is_generated_from_the_command_line_definition() {
    let run = run_kparity(&["man"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.contains(".TH kparity 1"), "{}", run.stdout);
    let dir = tempfile::tempdir().expect("tempdir");
    let written = run_kparity(&["man", "--dir", path_str(dir.path())]);
    assert_eq!(written.code, 0, "{}", written.stderr);
    let diff_page = std::fs::read_to_string(dir.path().join("kparity-diff.1")).expect("kparity-diff.1");
    assert!(diff_page.contains("metrics\\-file"), "{diff_page}");
}

// ---- the nightly CronJob example ------------------------------------------------------------

fn deploy_manifest() -> PathBuf {
    root().join("deploy/nightly-drift.yaml")
}

#[test]
fn nightly_cronjob_example_passes_server_side_dry_run_on_both_clusters() {
    require_clusters();
    let _g = serial();
    // A server-side dry run does not create the Namespace, and the namespaced objects need it:
    // create it for real (and delete it after), as `kubectl apply` would in one go.
    let ns = TestNamespace::new("kparity", &["blue", "green"]);
    for ctx in ["blue", "green"] {
        let out = kubectl(ctx, &["apply", "--dry-run=server", "-f", path_str(&deploy_manifest())]);
        for object in [
            "namespace/kparity",
            "serviceaccount/kparity",
            "configmap/kparity-rules",
            "persistentvolumeclaim/kparity-reports",
            "cronjob.batch/kparity-nightly-drift",
            "networkpolicy.networking.k8s.io/kparity-egress",
        ] {
            assert!(out.contains(object), "{ctx}: {object} not applied:\n{out}");
        }
        assert!(out.contains("(server dry run)"), "{out}");
        let rbac =
            kubectl(ctx, &["apply", "--dry-run=server", "-f", path_str(&root().join("deploy/reader-rbac.yaml"))]);
        for object in [
            "serviceaccount/kparity-reader",
            "clusterrole.rbac.authorization.k8s.io/kparity-reader",
            "clusterrolebinding.rbac.authorization.k8s.io/kparity-reader",
        ] {
            assert!(rbac.contains(object), "{ctx}: {object} not applied:\n{rbac}");
        }
        // The dry run created nothing.
        let crons = kubectl(ctx, &["-n", &ns.name, "get", "cronjobs", "-o", "name"]);
        assert!(crons.trim().is_empty(), "{ctx}: {crons}");
    }

    // Control: the server does validate; a broken schedule is refused.
    let manifest = std::fs::read_to_string(deploy_manifest()).expect("read manifest");
    let broken = manifest.replace(r#"schedule: "0 2 * * *""#, r#"schedule: "at two""#);
    assert_ne!(broken, manifest, "the schedule line moved; update this test");
    let (_dir, file) = temp_file("broken.yaml", &broken);
    let out = kubectl_raw("blue", &["apply", "--dry-run=server", "-f", path_str(&file)]);
    assert!(!out.status.success(), "a broken schedule passed the dry run");
}

#[test]
fn nightly_cronjob_example_carries_a_usable_kubeconfig_and_rules_file() {
    let manifest = std::fs::read_to_string(deploy_manifest()).expect("read manifest");
    let docs: Vec<Value> =
        manifest.split("\n---\n").map(|d| serde_norway::from_str::<Value>(d).expect("each document parses")).collect();
    let find = |kind: &str| docs.iter().find(|d| d["kind"] == kind).unwrap_or_else(|| panic!("no {kind}"));

    // The kubeconfig Secret is made with `kubectl create secret --from-file`, never applied
    // (apply would copy the credentials into an annotation).
    assert!(docs.iter().all(|d| d["kind"] != "Secret"), "the manifest must not carry the kubeconfig Secret");
    assert!(manifest.contains("create secret generic kparity-kubeconfig --from-file=config="), "{manifest}");
    let config = std::fs::read_to_string(root().join("deploy/kubeconfig.example.yaml")).expect("example kubeconfig");
    let kc: Value = serde_norway::from_str(&config).expect("the kubeconfig parses");
    let contexts: Vec<&str> =
        kc["contexts"].as_array().expect("contexts").iter().filter_map(|c| c["name"].as_str()).collect();
    assert_eq!(contexts, ["blue", "green"]);

    let cron = find("CronJob");
    let script = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["args"][0]
        .as_str()
        .expect("container script");
    for part in ["kparity diff blue green", "-o json", "--metrics-file /reports/kparity.prom", "exit $code"] {
        assert!(script.contains(part), "the CronJob script lacks {part:?}:\n{script}");
    }
    let image =
        cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["image"].as_str().unwrap_or("");
    let digest = image.split_once("@sha256:").map(|(_, d)| d).unwrap_or("");
    assert!(digest.len() == 64 && digest.bytes().all(|b| b.is_ascii_hexdigit()), "image not pinned by digest: {image}");

    // The waiver file the CronJob mounts is one kparity accepts.
    let waivers = find("ConfigMap")["data"]["waivers.yaml"].as_str().expect("waivers.yaml").to_string();
    let (_dir, file) = temp_file("waivers.yaml", &waivers);
    let run = run_kparity(&["-q", "rules", "--rules", path_str(&file)]);
    assert_eq!(run.code, 0, "{}", run.stderr);
}

/// Runs the CronJob's script with `kparity` replaced by `fake` (a shell snippet) and /reports by
/// a temporary directory that holds last night's metrics; returns the metrics left and the exit.
fn run_cronjob_script(fake: &str) -> (String, i32) {
    let manifest = std::fs::read_to_string(deploy_manifest()).expect("read manifest");
    let docs: Vec<Value> =
        manifest.split("\n---\n").map(|d| serde_norway::from_str::<Value>(d).expect("each document parses")).collect();
    let cron = docs.iter().find(|d| d["kind"] == "CronJob").expect("CronJob");
    let script = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["args"][0]
        .as_str()
        .expect("container script");
    let dir = tempfile::tempdir().expect("tempdir");
    let reports = dir.path().join("reports");
    std::fs::create_dir(&reports).expect("mkdir");
    std::fs::write(
        reports.join("kparity.prom"),
        "kparity_verdict{old=\"blue\",new=\"green\",verdict=\"equivalent\"} 1\n",
    )
    .expect("stale metrics");
    let bin = dir.path().join("bin");
    std::fs::create_dir(&bin).expect("mkdir");
    std::fs::write(bin.join("kparity"), format!("#!/bin/sh\n{fake}\n")).expect("fake kparity");
    std::fs::set_permissions(bin.join("kparity"), std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let script = script.replace("/reports", path_str(&reports));
    let out = Command::new("/bin/sh")
        .arg("-c")
        .arg(&script)
        .env("PATH", format!("{}:/usr/bin:/bin", path_str(&bin)))
        .env("PUSHGATEWAY_URL", "")
        .output()
        .expect("run the script");
    let metrics = std::fs::read_to_string(reports.join("kparity.prom")).unwrap_or_default();
    (metrics, out.status.code().unwrap_or(-1))
}

#[test]
fn nightly_cronjob_never_reports_last_nights_verdict_after_a_crash() {
    // kparity killed before it wrote metrics: the stale `equivalent` is gone, an error is left.
    let (metrics, code) = run_cronjob_script("kill -9 $$");
    assert!(!metrics.contains("verdict=\"equivalent\"} 1"), "{metrics}");
    assert!(metrics.contains("verdict=\"error\"} 1"), "{metrics}");
    assert_ne!(code, 0);
    // Control: a run that writes its metrics keeps them.
    let (metrics, code) = run_cronjob_script(
        "for a; do [ \"$prev\" = --metrics-file ] && echo 'kparity_verdict{verdict=\"different\"} 1' > \"$a\"; prev=$a; done; exit 1",
    );
    assert!(metrics.contains("verdict=\"different\"} 1"), "{metrics}");
    assert_eq!(code, 1);
}
