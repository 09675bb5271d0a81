//! Support for end-to-end tests against the real test clusters (`tests/cluster/up.sh`).
//!
//! The clusters must be up: a test that finds them down fails with the command to run, it is
//! never skipped. Tests that change cluster state take the `serial()` lock, create their own
//! namespaces through `TestNamespace` (deleted again, and waited for, on drop) and compare with
//! `-n` limited to them unless they need the whole cluster.
#![allow(dead_code)] // each test binary uses a different part of this module

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn kubeconfig() -> PathBuf {
    root().join("target/test-cluster/kubeconfig")
}

pub fn kubectl_bin() -> PathBuf {
    root().join("target/test-cluster/bin/kubectl")
}

pub fn fixtures() -> PathBuf {
    std::env::var_os("KPARITY_FIXTURES").map(PathBuf::from).unwrap_or_else(|| root().join("../shared/fixtures"))
}

static SERIAL: Mutex<()> = Mutex::new(());

/// Serializes tests that change or compare whole-cluster state within one test binary.
pub fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// Panics with instructions unless both test clusters answer.
pub fn require_clusters() {
    let kc = kubeconfig();
    assert!(
        kc.exists(),
        "the test clusters are not up ({} is missing): run tests/cluster/up.sh first (the README's test command does)",
        kc.display()
    );
    for ctx in ["blue", "green"] {
        let out = kubectl_raw(ctx, &["get", "--raw", "/readyz"]);
        assert!(
            out.status.success(),
            "test cluster {ctx} is not ready: run tests/cluster/up.sh\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

pub fn kubectl_raw(ctx: &str, args: &[&str]) -> Output {
    Command::new(kubectl_bin())
        .arg("--kubeconfig")
        .arg(kubeconfig())
        // A discovery cache of this checkout's clusters only (up.sh clears it on a fresh start):
        // ~/.kube/cache is shared by every cluster ever served on the same loopback port, and a
        // stale entry maps a short resource name to a CRD of an earlier run.
        .arg("--cache-dir")
        .arg(root().join("target/test-cluster/kubectl-cache"))
        .arg("--context")
        .arg(ctx)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run kubectl ({}): {e}; run tests/cluster/up.sh", kubectl_bin().display()))
}

/// Runs kubectl and returns stdout; panics with stderr when it fails.
pub fn kubectl(ctx: &str, args: &[&str]) -> String {
    let out = kubectl_raw(ctx, args);
    assert!(
        out.status.success(),
        "kubectl --context {ctx} {} failed:\n{}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The cross-process lock of every shared setup step (fixtures, CRDs, cluster-wide objects,
/// every `apply`): tests within a binary run on two threads, binaries run one after another, and
/// `tests/cluster/load-fixtures.sh` and the tool scripts (`velero-restore.sh`, ...) take the same
/// lock (`flock` on the same file), so two `kubectl apply` of one object never race on a fresh
/// cluster (the loser of such a race fails with `AlreadyExists`). Held until the guard drops;
/// never held while running a script that takes it itself (flock does not nest across open files).
pub struct SetupLock(std::fs::File);

pub fn setup_lock() -> SetupLock {
    let path = setup_lock_path();
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).unwrap_or_else(|e| panic!("create {}: {e}", dir.display()));
    }
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .unwrap_or_else(|e| panic!("open {}: {e}", path.display()));
    file.lock().unwrap_or_else(|e| panic!("lock {}: {e}", path.display()));
    SetupLock(file)
}

/// `target/test-cluster/setup.lock`, shared with tests/cluster/lib.sh (`SETUP_LOCK`).
pub fn setup_lock_path() -> PathBuf {
    root().join("target/test-cluster/setup.lock")
}

/// `kubectl apply` of a YAML document given as text (extra args e.g. `--server-side`), under the
/// shared setup lock: an apply of a cluster-wide object (CRD, ClusterRole, webhook) by one test
/// never races the same apply by another.
pub fn apply(ctx: &str, yaml: &str, extra: &[&str]) {
    let _lock = setup_lock();
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("manifest.yaml");
    std::fs::write(&file, yaml).expect("write manifest");
    let mut args = vec!["apply", "-f", file.to_str().expect("utf-8 path")];
    args.extend_from_slice(extra);
    kubectl(ctx, &args);
}

/// Loads the shared fixtures (the script takes the shared setup lock itself).
pub fn load_fixtures(ctx: &str) {
    let status = Command::new(root().join("tests/cluster/load-fixtures.sh"))
        .arg(ctx)
        .status()
        .expect("run tests/cluster/load-fixtures.sh");
    assert!(status.success(), "loading fixtures into {ctx} failed");
}

/// The kparity binary, with the test clusters' kubeconfig.
pub fn kparity() -> assert_cmd::Command {
    let mut cmd = assert_cmd::Command::cargo_bin("kparity").expect("kparity binary");
    cmd.env("KUBECONFIG", kubeconfig()).env_remove("KPARITY_SECRET_KEY").env_remove("RUST_LOG");
    cmd.timeout(Duration::from_secs(300));
    cmd
}

/// Result of a kparity run: exit code, stdout, stderr.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
}

impl Run {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}\nstderr:\n{}", self.stdout, self.stderr))
    }
}

pub fn run_kparity(args: &[&str]) -> Run {
    run_cmd(kparity().args(args))
}

pub fn run_cmd(cmd: &mut assert_cmd::Command) -> Run {
    let start = Instant::now();
    let out = cmd.output().expect("run kparity");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        elapsed: start.elapsed(),
    }
}

/// A namespace created on the given contexts and deleted (and waited for) when dropped.
pub struct TestNamespace {
    pub name: String,
    contexts: Vec<String>,
}

impl TestNamespace {
    pub fn new(name: &str, contexts: &[&str]) -> Self {
        for ctx in contexts {
            delete_namespace(ctx, name);
            kubectl(ctx, &["create", "namespace", name]);
        }
        // The controller-manager fills every new namespace with a `default` ServiceAccount
        // and the kube-root-ca.crt ConfigMap; wait for them so both sides are settled.
        for ctx in contexts {
            wait_for(&format!("namespace {name} settled on {ctx}"), Duration::from_secs(30), || {
                kubectl_raw(ctx, &["-n", name, "get", "serviceaccount/default", "configmap/kube-root-ca.crt"])
                    .status
                    .success()
            });
        }
        TestNamespace { name: name.to_string(), contexts: contexts.iter().map(|c| c.to_string()).collect() }
    }
}

impl TestNamespace {
    /// Takes over the clean-up of a namespace that something else created (e.g. a restore).
    pub fn adopt(name: &str, contexts: &[&str]) -> Self {
        TestNamespace { name: name.to_string(), contexts: contexts.iter().map(|c| c.to_string()).collect() }
    }
}

impl Drop for TestNamespace {
    fn drop(&mut self) {
        for ctx in &self.contexts {
            delete_namespace(ctx, &self.name);
        }
    }
}

/// Deletes a namespace and waits until it is gone. The namespace controller never finalizes a
/// namespace while an aggregated API is unavailable (the metrics-server fixture's, by design):
/// once it reports all content removed, the `kubernetes` finalizer is released by hand, as an
/// operator would.
pub fn delete_namespace(ctx: &str, name: &str) {
    let _ = kubectl_raw(ctx, &["delete", "namespace", name, "--ignore-not-found", "--wait=false"]);
    let start = Instant::now();
    loop {
        let out = kubectl_raw(ctx, &["get", "namespace", name, "-o", "json", "--ignore-not-found"]);
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        if out.status.success() && text.trim().is_empty() {
            return;
        }
        let ns: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
        let cond = |t: &str| {
            ns["status"]["conditions"]
                .as_array()
                .and_then(|cs| cs.iter().find(|c| c["type"] == t))
                .and_then(|c| c["status"].as_str())
                .map(str::to_string)
        };
        let content_gone = cond("NamespaceContentRemaining").as_deref() == Some("False")
            && cond("NamespaceFinalizersRemaining").as_deref() == Some("False");
        // The controller's conditions can say "content gone" before it has enumerated what the
        // namespace holds; finalizing then leaves the objects behind in storage, where they show
        // again in every list (and in a namespace re-created under the same name). So the
        // namespace is finalized only once a list of what tests create in it comes back empty.
        if content_gone
            && cond("NamespaceDeletionDiscoveryFailure").as_deref() == Some("True")
            && namespace_is_empty(ctx, name)
        {
            let mut ns = ns.clone();
            ns["spec"]["finalizers"] = serde_json::json!([]);
            let (_dir, file) = temp_file("ns.json", &ns.to_string());
            let path = format!("/api/v1/namespaces/{name}/finalize");
            let _ = kubectl_raw(ctx, &["replace", "--raw", &path, "-f", path_str(&file)]);
        }
        assert!(start.elapsed() < Duration::from_secs(120), "namespace {name} on {ctx} not deleted after 120s: {text}");
        std::thread::sleep(Duration::from_millis(300));
    }
}

/// What tests create in namespaces, by resource: all of it must be gone before a namespace whose
/// deletion the controller cannot finish is finalized by hand.
const NAMESPACED_KINDS: &str = "deployments.apps,statefulsets.apps,replicasets.apps,cronjobs.batch,jobs.batch,\
    pods,services,configmaps,secrets,serviceaccounts,persistentvolumeclaims,resourcequotas,limitranges,\
    ingresses.networking.k8s.io,networkpolicies.networking.k8s.io,roles.rbac.authorization.k8s.io,\
    rolebindings.rbac.authorization.k8s.io,horizontalpodautoscalers.autoscaling,\
    poddisruptionbudgets.policy";

/// True when none of `NAMESPACED_KINDS` is left in the namespace; deletes what is left otherwise.
fn namespace_is_empty(ctx: &str, name: &str) -> bool {
    let out = kubectl_raw(ctx, &["-n", name, "get", NAMESPACED_KINDS, "-o", "name", "--ignore-not-found"]);
    if out.status.success() && out.stdout.iter().all(u8::is_ascii_whitespace) {
        return true;
    }
    let _ = kubectl_raw(ctx, &["-n", name, "delete", NAMESPACED_KINDS, "--all", "--wait=false"]);
    false
}

/// Polls `check` until it holds, panicking with `what` after `limit`.
pub fn wait_for(what: &str, limit: Duration, mut check: impl FnMut() -> bool) {
    let start = Instant::now();
    while !check() {
        assert!(start.elapsed() < limit, "timed out after {limit:?} waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Writes `text` to a file in a temporary directory and returns both (keep the dir alive).
pub fn temp_file(name: &str, text: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join(name);
    std::fs::write(&path, text).expect("write temp file");
    (dir, path)
}

pub fn path_str(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// An ordinary application namespace: Deployments with env and resources, a Service, ConfigMaps,
/// a Secret, RBAC, a NetworkPolicy, and (when the CRD is installed) custom resources.
pub fn workloads(ns: &str, secret_value: &str) -> String {
    format!(
        r#"apiVersion: apps/v1
kind: Deployment
metadata: {{name: web, namespace: {ns}, labels: {{app: web}}}}
spec:
  replicas: 2
  selector: {{matchLabels: {{app: web}}}}
  template:
    metadata: {{labels: {{app: web}}}}
    spec:
      containers:
      - name: web
        image: registry.example/web:1.4.2
        env:
        - {{name: MODE, value: production}}
        - {{name: LOG_LEVEL, value: info}}
        ports: [{{name: http, containerPort: 8080}}]
        resources:
          requests: {{cpu: 250m, memory: 256Mi}}
          limits: {{cpu: "1", memory: 512Mi}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {{name: worker, namespace: {ns}}}
spec:
  replicas: 1
  selector: {{matchLabels: {{app: worker}}}}
  template:
    metadata: {{labels: {{app: worker}}}}
    spec:
      containers:
      - {{name: worker, image: "registry.example/worker:2.0.0", args: ["--queue", "orders"]}}
---
apiVersion: v1
kind: Service
metadata: {{name: web, namespace: {ns}}}
spec:
  selector: {{app: web}}
  ports: [{{name: http, port: 80, targetPort: http}}]
---
apiVersion: v1
kind: Service
metadata: {{name: web-public, namespace: {ns}}}
spec:
  type: NodePort
  selector: {{app: web}}
  ports: [{{name: http, port: 80, targetPort: http}}]
---
apiVersion: v1
kind: ConfigMap
metadata: {{name: settings, namespace: {ns}}}
data: {{feature.flags: "checkout=on,search=off", timeout: "30s"}}
---
apiVersion: v1
kind: ConfigMap
metadata: {{name: routing, namespace: {ns}}}
data: {{routes: "/api -> web"}}
---
apiVersion: v1
kind: Secret
metadata: {{name: db-credentials, namespace: {ns}}}
type: Opaque
stringData: {{username: app, password: "{secret_value}"}}
---
apiVersion: v1
kind: ServiceAccount
metadata: {{name: web, namespace: {ns}}}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {{name: config-reader, namespace: {ns}}}
rules:
- {{apiGroups: [""], resources: [configmaps], verbs: [get, list, watch]}}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {{name: web-config-reader, namespace: {ns}}}
roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: Role, name: config-reader}}
subjects:
- {{kind: ServiceAccount, name: web, namespace: {ns}}}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {{name: web-ingress, namespace: {ns}}}
spec:
  podSelector: {{matchLabels: {{app: web}}}}
  policyTypes: [Ingress]
  ingress:
  - from: [{{podSelector: {{matchLabels: {{role: frontend}}}}}}]
    ports: [{{protocol: TCP, port: 8080}}]
"#
    )
}

/// A CRD (cluster-scoped, created once per cluster) and its custom resources.
pub const WIDGET_CRD: &str = r#"apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.parity.example.com}
spec:
  group: parity.example.com
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              size: {type: integer}
              color: {type: string}
"#;

pub fn widgets(ns: &str) -> String {
    format!(
        r#"apiVersion: parity.example.com/v1
kind: Widget
metadata: {{name: alpha, namespace: {ns}}}
spec: {{size: 3, color: blue}}
---
apiVersion: parity.example.com/v1
kind: Widget
metadata: {{name: beta, namespace: {ns}}}
spec: {{size: 5, color: green}}
"#
    )
}

/// Installs the Widget CRD on a context and waits until it is served.
pub fn install_widget_crd(ctx: &str) {
    apply(ctx, WIDGET_CRD, &[]);
    let _lock = setup_lock();
    kubectl(ctx, &["wait", "--for=condition=Established", "crd/widgets.parity.example.com", "--timeout=60s"]);
    wait_for("widgets served", Duration::from_secs(30), || {
        kubectl_raw(ctx, &["get", "widgets.parity.example.com", "-A"]).status.success()
    });
}

/// The fault-injecting proxy (issue 6): a real apiserver behind scripted faults.
pub mod faultproxy;

/// Panics with instructions unless the test cluster behind `ctx` answers (e.g. `legacy`, the
/// Kubernetes 1.34 cluster of the upgrade-parity tests, which `require_clusters` does not check).
pub fn require_context(ctx: &str) {
    require_clusters();
    let out = kubectl_raw(ctx, &["get", "--raw", "/readyz"]);
    assert!(
        out.status.success(),
        "test cluster {ctx} is not ready: run tests/cluster/up.sh (it starts blue, green and legacy)\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
