//! Real Velero (issue 14): a realistic workload on `blue` is backed up and restored on `green` by
//! the real Velero server and CLI (`tests/cluster/velero-restore.sh`: versitygw as the shared S3
//! store, one out-of-cluster Velero server per cluster). With the default rules the restored
//! namespaces compare `equivalent`; drifts made on green after the restore are all found, and
//! nothing else. Fails loudly when the clusters are down or Velero cannot be built or started.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::*;
use serde_json::Value;

const APP: &str = "velero-shop";
const DATA: &str = "velero-data";
const CRD_NAME: &str = "gizmos.velero.example.com";

/// A CRD that exists only on blue before the restore: Velero backs up the definition of every
/// custom resource it backs up, and restores it first.
const GIZMO_CRD: &str = r#"apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: gizmos.velero.example.com}
spec:
  group: velero.example.com
  scope: Namespaced
  names: {plural: gizmos, singular: gizmo, kind: Gizmo}
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
              mode: {type: string, default: fast}
"#;

/// Everything a real application namespace holds besides `workloads()`: a StatefulSet with volume
/// claim templates and its headless Service, CronJob and Job, Services of every type (NodePort
/// with and without explicit ports, LoadBalancer with a health-check node port, ExternalName),
/// Ingress, HPA, PDB, ResourceQuota, LimitRange, a ServiceAccount with an image pull secret, a
/// claim that never binds (no provisioner), custom resources.
fn realistic(ns: &str) -> String {
    format!(
        r#"apiVersion: apps/v1
kind: StatefulSet
metadata: {{name: db, namespace: {ns}}}
spec:
  serviceName: db
  replicas: 1
  selector: {{matchLabels: {{app: db}}}}
  template:
    metadata: {{labels: {{app: db}}}}
    spec:
      containers:
      - name: db
        image: registry.example/db:16.2
        volumeMounts: [{{name: data, mountPath: /var/lib/db}}]
  volumeClaimTemplates:
  - metadata: {{name: data}}
    spec:
      accessModes: [ReadWriteOnce]
      resources: {{requests: {{storage: 5Gi}}}}
---
apiVersion: v1
kind: Service
metadata: {{name: db, namespace: {ns}}}
spec:
  clusterIP: None
  selector: {{app: db}}
  ports: [{{name: sql, port: 5432}}]
---
apiVersion: v1
kind: Service
metadata: {{name: web-fixed, namespace: {ns}}}
spec:
  type: NodePort
  selector: {{app: web}}
  ports: [{{name: http, port: 80, targetPort: http, nodePort: 31480}}]
---
apiVersion: v1
kind: Service
metadata: {{name: web-lb, namespace: {ns}}}
spec:
  type: LoadBalancer
  externalTrafficPolicy: Local
  selector: {{app: web}}
  ports: [{{name: http, port: 80, targetPort: http}}, {{name: https, port: 443, targetPort: http}}]
---
apiVersion: v1
kind: Service
metadata: {{name: payments, namespace: {ns}}}
spec:
  type: ExternalName
  externalName: payments.example.net
---
apiVersion: batch/v1
kind: CronJob
metadata: {{name: nightly-report, namespace: {ns}}}
spec:
  schedule: "0 3 1 1 *"
  concurrencyPolicy: Forbid
  jobTemplate:
    spec:
      backoffLimit: 2
      template:
        spec:
          restartPolicy: OnFailure
          containers: [{{name: report, image: "registry.example/report:1.0", args: ["--daily"]}}]
---
apiVersion: batch/v1
kind: Job
metadata: {{name: migrate, namespace: {ns}}}
spec:
  # Suspended: the test clusters have no kubelet, so a running Job's pod stays Pending forever and
  # Velero restores that pod beside the one green's Job controller creates, a race whose outcome
  # depends on timing (kparity rightly reports the restored pod when it is not owned on green).
  suspend: true
  backoffLimit: 1
  template:
    spec:
      restartPolicy: Never
      containers: [{{name: migrate, image: "registry.example/migrate:3.1", args: ["up"]}}]
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {{name: web, namespace: {ns}, annotations: {{nginx.ingress.kubernetes.io/proxy-body-size: 8m}}}}
spec:
  ingressClassName: nginx
  tls: [{{hosts: [shop.example.com], secretName: shop-tls}}]
  rules:
  - host: shop.example.com
    http:
      paths:
      - {{path: /, pathType: Prefix, backend: {{service: {{name: web, port: {{number: 80}}}}}}}}
---
apiVersion: v1
kind: Secret
metadata: {{name: shop-tls, namespace: {ns}}}
type: kubernetes.io/tls
stringData: {{tls.crt: "not-a-real-certificate", tls.key: "not-a-real-key"}}
---
apiVersion: v1
kind: Secret
metadata: {{name: registry-pull, namespace: {ns}}}
type: kubernetes.io/dockerconfigjson
stringData: {{.dockerconfigjson: '{{"auths":{{"registry.example":{{"auth":"a3Bhcml0eTpzM2NyZXQ="}}}}}}'}}
---
apiVersion: v1
kind: ServiceAccount
metadata: {{name: deployer, namespace: {ns}}}
imagePullSecrets: [{{name: registry-pull}}]
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {{name: web, namespace: {ns}}}
spec:
  scaleTargetRef: {{apiVersion: apps/v1, kind: Deployment, name: web}}
  minReplicas: 2
  maxReplicas: 6
  metrics:
  - type: Resource
    resource: {{name: cpu, target: {{type: Utilization, averageUtilization: 70}}}}
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {{name: web, namespace: {ns}}}
spec:
  minAvailable: 1
  selector: {{matchLabels: {{app: web}}}}
---
apiVersion: v1
kind: ResourceQuota
metadata: {{name: compute, namespace: {ns}}}
spec:
  hard: {{requests.cpu: "8", requests.memory: 16Gi, pods: "40"}}
---
apiVersion: v1
kind: LimitRange
metadata: {{name: defaults, namespace: {ns}}}
spec:
  limits:
  - type: Container
    default: {{cpu: 500m, memory: 512Mi}}
    defaultRequest: {{cpu: 100m, memory: 128Mi}}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {{name: uploads, namespace: {ns}}}
spec:
  accessModes: [ReadWriteMany]
  resources: {{requests: {{storage: 20Gi}}}}
---
apiVersion: velero.example.com/v1
kind: Gizmo
metadata: {{name: alpha, namespace: {ns}}}
spec: {{size: 3}}
---
apiVersion: velero.example.com/v1
kind: Gizmo
metadata: {{name: beta, namespace: {ns}}}
spec: {{size: 5, mode: safe}}
"#
    )
}

/// A second namespace: configuration only, with a RoleBinding to a ServiceAccount of the first.
fn data_namespace(ns: &str, app: &str) -> String {
    format!(
        r#"apiVersion: v1
kind: ConfigMap
metadata: {{name: schema, namespace: {ns}, labels: {{tier: data}}}}
data: {{version: "42"}}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {{name: schema-reader, namespace: {ns}}}
rules: [{{apiGroups: [""], resources: [configmaps], verbs: [get, list]}}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {{name: deployer-reads-schema, namespace: {ns}}}
roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: Role, name: schema-reader}}
subjects: [{{kind: ServiceAccount, name: deployer, namespace: {app}}}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {{name: deny-all, namespace: {ns}}}
spec: {{podSelector: {{}}, policyTypes: [Ingress, Egress]}}
"#
    )
}

/// Restores shared state whatever happens: the Gizmo CRD gone from both clusters, the
/// ingress-nginx webhook back to `Fail`.
struct Cleanup;
impl Drop for Cleanup {
    fn drop(&mut self) {
        for ctx in ["blue", "green"] {
            let _ = kubectl_raw(ctx, &["delete", "crd", CRD_NAME, "--ignore-not-found", "--wait=false"]);
            set_ingress_webhook_policy(ctx, "Fail");
        }
    }
}

/// ingress-nginx's admission webhook has no running backend in the test clusters and fails
/// closed, refusing every Ingress (the restore's too); operators set it to Ignore meanwhile.
fn set_ingress_webhook_policy(ctx: &str, policy: &str) {
    let patch = format!(r#"[{{"op":"replace","path":"/webhooks/0/failurePolicy","value":"{policy}"}}]"#);
    let _ = kubectl_raw(
        ctx,
        &["patch", "validatingwebhookconfiguration", "ingress-nginx-admission", "--type=json", "-p", &patch],
    );
}

/// Every reported difference as `Kind ns/name path` or `Kind ns/name missing|extra`.
fn changes(report: &Value) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for o in report["objects"].as_array().expect("objects") {
        let key = format!(
            "{} {}/{}",
            o["key"]["kind"].as_str().unwrap_or_default(),
            o["key"]["namespace"].as_str().unwrap_or("-"),
            o["key"]["name"].as_str().unwrap_or_default()
        );
        match o["change"].as_str().unwrap_or_default() {
            "changed" => {
                for f in o["fields"].as_array().expect("fields") {
                    out.insert(format!("{key} {}", f["path"].as_str().unwrap_or_default()));
                }
            }
            other => {
                out.insert(format!("{key} {other}"));
            }
        }
    }
    out
}

fn kind_count(report: &Value, group: &str, kind: &str, field: &str) -> u64 {
    report["kinds"]
        .as_array()
        .and_then(|ks| ks.iter().find(|k| k["group"] == group && k["kind"] == kind))
        .and_then(|k| k[field].as_u64())
        .unwrap_or(0)
}

fn wait_gone(ctx: &str, what: &[&str]) {
    wait_for(&format!("{} gone from {ctx}", what.join(" ")), Duration::from_secs(120), || {
        let mut args = vec!["get"];
        args.extend_from_slice(what);
        args.extend_from_slice(&["--ignore-not-found", "-o", "name"]);
        let out = kubectl_raw(ctx, &args);
        out.status.success() && out.stdout.is_empty()
    });
}

#[test]
fn a_real_velero_restore_is_equivalent_and_every_later_drift_is_found() {
    require_clusters();
    let _g = serial();
    let _cleanup = Cleanup;
    for ctx in ["blue", "green"] {
        load_fixtures(ctx);
        install_widget_crd(ctx);
        set_ingress_webhook_policy(ctx, "Ignore");
        // The CRD of an earlier run may still be terminating.
        let _ = kubectl_raw(ctx, &["delete", "crd", CRD_NAME, "--ignore-not-found"]);
        wait_gone(ctx, &["crd", CRD_NAME]);
    }
    apply("blue", GIZMO_CRD, &[]);
    kubectl("blue", &["wait", "--for=condition=Established", &format!("crd/{CRD_NAME}"), "--timeout=60s"]);
    wait_for("gizmos served on blue", Duration::from_secs(60), || {
        kubectl_raw("blue", &["get", CRD_NAME, "-A"]).status.success()
    });

    // The restore leaves objects that already exist alone: green must not hold an earlier run's,
    // not even objects left in etcd by a namespace whose finalization was forced (the namespace
    // controller cannot finish while the metrics-server fixture's APIService is unavailable).
    for ns in [APP, DATA] {
        delete_namespace("green", ns);
        kubectl("green", &["create", "namespace", ns]);
        let kinds = "deployments,statefulsets,cronjobs,jobs,services,ingresses,networkpolicies,roles,rolebindings,\
                     serviceaccounts,horizontalpodautoscalers,poddisruptionbudgets,resourcequotas,limitranges,\
                     configmaps,secrets,persistentvolumeclaims,pods,replicasets";
        kubectl("green", &["-n", ns, "delete", kinds, "--all", "--wait=true"]);
        delete_namespace("green", ns);
    }
    let app = TestNamespace::new(APP, &["blue"]);
    let data = TestNamespace::new(DATA, &["blue"]);
    apply("blue", &workloads(APP, "velero-real-pw"), &[]);
    apply("blue", &realistic(APP), &[]);
    apply("blue", &data_namespace(DATA, APP), &[]);
    // Let the controllers derive what they derive (ReplicaSets, Pods, the StatefulSet's claim,
    // the Job's Pod, EndpointSlices): Velero backs up what is there.
    wait_for("the StatefulSet's claim on blue", Duration::from_secs(60), || {
        kubectl_raw("blue", &["-n", APP, "get", "pvc", "data-db-0"]).status.success()
    });
    std::thread::sleep(Duration::from_secs(2));

    let out = std::process::Command::new(root().join("tests/cluster/velero-restore.sh"))
        .args(["--from", "blue", "--to", "green", APP, DATA])
        .output()
        .expect("run tests/cluster/velero-restore.sh");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "the real Velero restore failed:\n{stderr}");
    assert!(stderr.contains("Completed"), "{stderr}");
    // From here on the namespaces exist on both sides: clean them up on both.
    std::mem::forget(app);
    std::mem::forget(data);
    let _app = TestNamespace::adopt(APP, &["blue", "green"]);
    let _data = TestNamespace::adopt(DATA, &["blue", "green"]);
    std::thread::sleep(Duration::from_secs(3));

    // The whole clusters: the restored namespaces, the CRD Velero restored, Velero's own
    // installation (identical on both sides) and everything else.
    let run = run_kparity(&["diff", "blue", "green", "-o", "json"]);
    let report = run.json();
    assert_eq!(run.code, 0, "a real Velero restore must compare equivalent:\n{:#?}\n{}", changes(&report), run.stderr);
    assert_eq!(report["verdict"], "equivalent");
    assert_eq!(changes(&report), BTreeSet::new());
    // The restore really brought the workload over, and it was really compared.
    assert_eq!(kind_count(&report, "velero.example.com", "Gizmo", "equal"), 2, "{}", report["kinds"]);
    assert!(kind_count(&report, "apiextensions.k8s.io", "CustomResourceDefinition", "equal") >= 1);
    for (group, kind) in [
        ("apps", "StatefulSet"),
        ("batch", "CronJob"),
        ("batch", "Job"),
        ("autoscaling", "HorizontalPodAutoscaler"),
        ("policy", "PodDisruptionBudget"),
        ("", "ResourceQuota"),
        ("", "LimitRange"),
        ("", "PersistentVolumeClaim"),
        ("networking.k8s.io", "Ingress"),
    ] {
        assert!(kind_count(&report, group, kind, "equal") >= 1, "{kind} compared equal: {}", report["kinds"]);
    }
    assert!(kind_count(&report, "", "Service", "equal") >= 6, "{}", report["kinds"]);

    // Drifts on green after the restore: each must be found, and nothing else.
    let g = |args: &[&str]| kubectl("green", args);
    g(&["-n", APP, "set", "image", "statefulset/db", "db=registry.example/db:16.3"]);
    g(&["-n", APP, "patch", "cronjob", "nightly-report", "--type=merge", "-p", r#"{"spec":{"schedule":"0 4 1 1 *"}}"#]);
    // Not drifted here: an explicit nodePort changed after the restore (31480 -> 31481) is not
    // found today, because core's `service-allocated-ports` drops every nodePort, requested or
    // allocated (measured with the real Velero; see the issue 14 report).
    g(&[
        "-n",
        APP,
        "patch",
        "service",
        "web-lb",
        "--type=merge",
        "-p",
        r#"{"spec":{"externalTrafficPolicy":"Cluster"}}"#,
    ]);
    g(&["-n", APP, "patch", "hpa", "web", "--type=merge", "-p", r#"{"spec":{"maxReplicas":8}}"#]);
    g(&["-n", APP, "patch", "pdb", "web", "--type=merge", "-p", r#"{"spec":{"minAvailable":2}}"#]);
    g(&["-n", APP, "patch", "resourcequota", "compute", "--type=merge", "-p", r#"{"spec":{"hard":{"pods":"50"}}}"#]);
    g(&["-n", APP, "patch", "gizmos.velero.example.com", "beta", "--type=merge", "-p", r#"{"spec":{"size":6}}"#]);
    g(&[
        "-n",
        APP,
        "patch",
        "secret",
        "registry-pull",
        "--type=merge",
        "-p",
        r#"{"stringData":{".dockerconfigjson":"{\"auths\":{}}"}}"#,
    ]);
    g(&["-n", APP, "delete", "limitrange", "defaults"]);
    g(&[
        "-n",
        DATA,
        "patch",
        "rolebinding",
        "deployer-reads-schema",
        "--type=json",
        "-p",
        r#"[{"op":"replace","path":"/subjects/0/name","value":"default"}]"#,
    ]);
    g(&["-n", DATA, "label", "configmap", "schema", "tier=cache", "--overwrite"]);
    std::thread::sleep(Duration::from_secs(2));

    let run = run_kparity(&["diff", "blue", "green", "-o", "json"]);
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    let expected: BTreeSet<String> = [
        "StatefulSet velero-shop/db spec.template.spec.containers[name=db].image",
        "CronJob velero-shop/nightly-report spec.schedule",
        "Service velero-shop/web-lb spec.externalTrafficPolicy",
        "HorizontalPodAutoscaler velero-shop/web spec.maxReplicas",
        "PodDisruptionBudget velero-shop/web spec.minAvailable",
        "ResourceQuota velero-shop/compute spec.hard.pods",
        "Gizmo velero-shop/beta spec.size",
        "Secret velero-shop/registry-pull data[\".dockerconfigjson\"]",
        "LimitRange velero-shop/defaults missing",
        // `subjects` is an atomic list in the RBAC schema: matched by index, not by name.
        "RoleBinding velero-data/deployer-reads-schema subjects[0].name",
        "ConfigMap velero-data/schema metadata.labels.tier",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let got = changes(&run.json());
    assert_eq!(
        got,
        expected,
        "\nunexpected: {:#?}\nnot found: {:#?}",
        got.difference(&expected),
        expected.difference(&got)
    );
}
