//! Fills one cluster with a synthetic platform of about N objects, created concurrently through
//! the kube client: namespaces, each holding Deployments, StatefulSets, Services, ConfigMaps (one
//! large per namespace), Secrets, ServiceAccounts, Roles, RoleBindings, NetworkPolicies and
//! custom resources of a bench CRD. The same N always yields the same objects, so two clusters
//! loaded alike are equivalent; `--drift D` makes D of them differ (half changed, half missing).

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::bail;
use clap::Parser;
use futures::StreamExt as _;
use serde_json::{Value, json};

#[derive(Parser)]
#[command(about = "Load a synthetic platform of about N objects into a cluster")]
struct Args {
    /// Kubeconfig context to fill
    #[arg(long)]
    context: String,
    #[arg(long, default_value = kparity_bench::TEST_KUBECONFIG)]
    kubeconfig: PathBuf,
    /// Objects to create (rounded up to whole namespaces of 40 objects)
    #[arg(long)]
    objects: usize,
    /// Objects to make differ from an undrifted load: even ones changed, odd ones not created
    #[arg(long, default_value_t = 0)]
    drift: usize,
    /// Concurrent create requests
    #[arg(long, default_value_t = 48)]
    concurrency: usize,
}

/// Objects per namespace, the namespace included.
const PER_NAMESPACE: usize = 40;
const CRD_GROUP: &str = "bench.parity.example.com";
const TIERS: [&str; 3] = ["web", "api", "batch"];
const COLORS: [&str; 3] = ["red", "green", "blue"];

/// One object to create: the collection path to POST to, and the body.
struct Create {
    path: String,
    body: Value,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let client = kparity_bench::client(&args.kubeconfig, &args.context).await?;
    let started = Instant::now();
    install_crd(&client).await?;

    let namespaces = args.objects.div_ceil(PER_NAMESPACE);
    let (ns_objects, objects): (Vec<Create>, Vec<Create>) = {
        let mut nss = Vec::new();
        let mut rest = Vec::new();
        for n in 0..namespaces {
            let mut all = platform_namespace(n);
            nss.push(all.remove(0));
            rest.extend(all);
        }
        (nss, rest)
    };
    let objects = apply_drift(objects, args.drift);
    let total = ns_objects.len() + objects.len();
    let done = Arc::new(AtomicUsize::new(0));
    create_all(&client, ns_objects, args.concurrency, &done, total).await?;
    create_all(&client, objects, args.concurrency, &done, total).await?;
    eprintln!(
        "loaded {} objects into {:?} in {:.1}s ({} namespaces, {} drifts)",
        done.load(Ordering::Relaxed),
        args.context,
        started.elapsed().as_secs_f64(),
        namespaces,
        args.drift
    );
    Ok(())
}

/// Spreads `drift` changes evenly over the objects: even-numbered drifts get a changed label and
/// data, odd-numbered ones are left out (missing on this side).
fn apply_drift(objects: Vec<Create>, drift: usize) -> Vec<Create> {
    if drift == 0 {
        return objects;
    }
    let step = (objects.len() / drift).max(1);
    let mut out = Vec::with_capacity(objects.len());
    for (i, mut c) in objects.into_iter().enumerate() {
        let k = i / step;
        if i % step == 0 && k < drift {
            if k % 2 == 1 {
                continue;
            }
            c.body["metadata"]["labels"]["bench.kparity/drifted"] = json!("true");
        }
        out.push(c);
    }
    out
}

async fn create_all(
    client: &kube::Client,
    items: Vec<Create>,
    concurrency: usize,
    done: &Arc<AtomicUsize>,
    total: usize,
) -> anyhow::Result<()> {
    let results: Vec<anyhow::Result<()>> = futures::stream::iter(items)
        .map(|c| {
            let done = done.clone();
            async move {
                create(client, &c).await?;
                let n = done.fetch_add(1, Ordering::Relaxed) + 1;
                if n % 5000 == 0 {
                    eprintln!("  {n}/{total}");
                }
                Ok(())
            }
        })
        .buffer_unordered(concurrency.max(1))
        .collect()
        .await;
    results.into_iter().collect()
}

/// POSTs one object; an existing one counts as created (reruns are idempotent), throttling and
/// server errors are retried with a growing pause.
async fn create(client: &kube::Client, c: &Create) -> anyhow::Result<()> {
    let body = serde_json::to_vec(&c.body)?;
    let mut attempt = 0u32;
    loop {
        attempt += 1;
        let req = http::Request::post(&c.path)
            .header("Content-Type", "application/json")
            .header("Accept", "application/json")
            .body(body.clone())?;
        let outcome = kparity_bench::send(client, req).await;
        match outcome {
            Ok((s, _)) if s.is_success() || s == http::StatusCode::CONFLICT => return Ok(()),
            Ok((s, b)) if (s.as_u16() == 429 || s.is_server_error()) && attempt < 20 => {
                tracing_pause(attempt, &format!("{} {s}: {}", c.path, String::from_utf8_lossy(&b))).await;
            }
            Err(e) if attempt < 20 => tracing_pause(attempt, &format!("{}: {e:#}", c.path)).await,
            Ok((s, b)) => bail!("failed to create in {}: {s}: {}", c.path, String::from_utf8_lossy(&b)),
            Err(e) => return Err(e),
        }
    }
}

async fn tracing_pause(attempt: u32, why: &str) {
    if attempt > 3 {
        eprintln!("retrying ({attempt}): {why}");
    }
    tokio::time::sleep(Duration::from_millis(100 * u64::from(attempt))).await;
}

async fn install_crd(client: &kube::Client) -> anyhow::Result<()> {
    let crd = json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": format!("gadgets.{CRD_GROUP}")},
        "spec": {
            "group": CRD_GROUP,
            "scope": "Namespaced",
            "names": {"plural": "gadgets", "singular": "gadget", "kind": "Gadget"},
            "versions": [{
                "name": "v1", "served": true, "storage": true,
                "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                    "spec": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}
                }}}
            }]
        }
    });
    create(client, &Create { path: "/apis/apiextensions.k8s.io/v1/customresourcedefinitions".into(), body: crd })
        .await?;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (s, _) = kparity_bench::get(client, &format!("/apis/{CRD_GROUP}/v1/gadgets")).await?;
        if s.is_success() {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("failed to see the bench CRD served within 60s (last status {s})");
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// The objects of namespace number `n`, the Namespace first. Deterministic in `n`.
fn platform_namespace(n: usize) -> Vec<Create> {
    let ns = format!("team-{n:05}");
    let labels = json!({"team": format!("team-{}", n % 50), "tier": TIERS[n % 3]});
    let p = |coll: &str| format!("/api/v1/namespaces/{ns}/{coll}");
    let g = |gv: &str, coll: &str| format!("/apis/{gv}/namespaces/{ns}/{coll}");
    let mut out = vec![Create {
        path: "/api/v1/namespaces".into(),
        body: json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns, "labels": labels}}),
    }];
    for i in 0..4 {
        let app = format!("app-{i}");
        out.push(Create {
            path: g("apps/v1", "deployments"),
            body: json!({"apiVersion": "apps/v1", "kind": "Deployment",
                "metadata": {"name": app, "labels": {"app": app}},
                "spec": {"replicas": 0, "selector": {"matchLabels": {"app": app}},
                    "template": {"metadata": {"labels": {"app": app}}, "spec": {
                        "serviceAccountName": "runner-0",
                        "containers": [{"name": "main", "image": format!("registry.example.com/{ns}/{app}:1.{}.{i}", n % 7),
                            "ports": [{"containerPort": 8080, "name": "http"}],
                            "env": [{"name": "LOG_LEVEL", "value": "info"}, {"name": "REGION", "value": "eu-west-1"}],
                            "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"memory": "256Mi"}}},
                            {"name": "sidecar", "image": "registry.example.com/proxy:2.3", "args": ["--port=15001"]}]}}}}),
        });
        out.push(Create {
            path: p("services"),
            body: json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": app, "labels": {"app": app}},
                "spec": {"selector": {"app": app}, "ports": [{"name": "http", "port": 80, "targetPort": 8080}]}}),
        });
    }
    for i in 0..2 {
        let db = format!("db-{i}");
        out.push(Create {
            path: g("apps/v1", "statefulsets"),
            body: json!({"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": db},
                "spec": {"replicas": 0, "serviceName": db, "selector": {"matchLabels": {"app": db}},
                    "template": {"metadata": {"labels": {"app": db}}, "spec": {"containers": [{"name": "db",
                        "image": "registry.example.com/postgres:16.4", "ports": [{"containerPort": 5432, "name": "pg"}]}]}},
                    "volumeClaimTemplates": [{"metadata": {"name": "data"}, "spec": {"accessModes": ["ReadWriteOnce"],
                        "resources": {"requests": {"storage": "10Gi"}}}}]}}),
        });
        out.push(Create {
            path: p("serviceaccounts"),
            body: json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": format!("runner-{i}")}}),
        });
        out.push(Create {
            path: g("rbac.authorization.k8s.io/v1", "roles"),
            body: json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": {"name": format!("role-{i}")},
                "rules": [{"apiGroups": [""], "resources": ["configmaps", "secrets"], "verbs": ["get", "list", "watch"]},
                          {"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["get", "patch"]}]}),
        });
        out.push(Create {
            path: g("rbac.authorization.k8s.io/v1", "rolebindings"),
            body: json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": {"name": format!("binding-{i}")},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": format!("role-{i}")},
                "subjects": [{"kind": "ServiceAccount", "name": format!("runner-{i}"), "namespace": ns}]}),
        });
    }
    for i in 0..8 {
        // One large ConfigMap per namespace (8 to 64 KiB, like dashboards or rendered configs);
        // the others are small.
        let data = if i == 0 { large_text(n, 8 * 1024 * (1 + n % 8)) } else { format!("key={n}-{i}\nmode=prod\n") };
        out.push(Create {
            path: p("configmaps"),
            body: json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": format!("config-{i}")},
                "data": {"app.properties": data, "feature.flags": "a,b,c"}}),
        });
    }
    for i in 0..4 {
        out.push(Create {
            path: p("secrets"),
            body: json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": format!("secret-{i}")}, "type": "Opaque",
                "stringData": {"username": format!("svc-{n}-{i}"), "password": format!("pw-{:016x}", (n * 31 + i) * 2654435761)}}),
        });
    }
    for i in 0..3 {
        out.push(Create {
            path: g("networking.k8s.io/v1", "networkpolicies"),
            body: json!({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": format!("policy-{i}")},
                "spec": {"podSelector": {"matchLabels": {"app": format!("app-{i}")}}, "policyTypes": ["Ingress"],
                    "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {"tier": "web"}}}],
                        "ports": [{"protocol": "TCP", "port": 8080}]}]}}),
        });
    }
    for i in 0..8 {
        out.push(Create {
            path: g(&format!("{CRD_GROUP}/v1"), "gadgets"),
            body: json!({"apiVersion": format!("{CRD_GROUP}/v1"), "kind": "Gadget", "metadata": {"name": format!("gadget-{i}")},
                "spec": {"size": i, "color": COLORS[i % 3], "owner": ns, "replicas": n % 5}}),
        });
    }
    debug_assert_eq!(out.len(), PER_NAMESPACE);
    out
}

/// Deterministic text of about `size` bytes.
fn large_text(seed: usize, size: usize) -> String {
    let mut s = String::with_capacity(size + 64);
    let mut i = 0usize;
    while s.len() < size {
        s.push_str(&format!("panel.{i}.query=sum(rate(http_requests_total{{team=\"{seed}\",code=~\"5..\"}}[5m]))\n"));
        i += 1;
    }
    s
}
