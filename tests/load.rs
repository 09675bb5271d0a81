//! Load check (issue 6): the blue test cluster holds 20,000 extra objects (10 namespaces of
//! ConfigMaps, Secrets, Roles and ServiceAccounts, none of them on green); `--concurrency 32`
//! (through the fault proxy, which throttles 40 list requests with 429) and `--concurrency 1`
//! (direct) must give exactly the same report, complete (no type left incomplete, so no 429
//! left unhandled), listing every one of them as missing on green.

mod common;

use std::time::{Duration, Instant};

use common::faultproxy::{FaultProxy, scratch};
use common::*;
use futures::StreamExt;

const NAMESPACES: usize = 10;
/// Objects created per namespace and kind: 4 kinds × 500 × 10 namespaces = 20,000.
const PER_KIND: usize = 500;
const KINDS: [(&str, &str); 4] =
    [("configmaps", "ConfigMap"), ("secrets", "Secret"), ("roles", "Role"), ("serviceaccounts", "ServiceAccount")];

fn object(kind: &str, ns: &str, i: usize) -> serde_json::Value {
    let meta = serde_json::json!({"name": format!("load-{i:04}"), "namespace": ns, "labels": {"load": "yes"}});
    match kind {
        "ConfigMap" => serde_json::json!({"apiVersion": "v1", "kind": kind, "metadata": meta,
            "data": {"index": i.to_string(), "payload": "x".repeat(256)}}),
        "Secret" => serde_json::json!({"apiVersion": "v1", "kind": kind, "metadata": meta, "type": "Opaque",
            "stringData": {"password": format!("pw-{i}")}}),
        "Role" => serde_json::json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": kind, "metadata": meta,
            "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get"], "resourceNames": [format!("cm-{i}")]}]}),
        _ => serde_json::json!({"apiVersion": "v1", "kind": kind, "metadata": meta}),
    }
}

/// Creates the objects with 16 concurrent POSTs (kubectl would take many minutes for 20,000).
fn create_objects(namespaces: &[String]) -> Duration {
    let start = Instant::now();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    rt.block_on(async {
        let kc = kube::config::Kubeconfig::read_from(kubeconfig()).expect("kubeconfig");
        let opts = kube::config::KubeConfigOptions { context: Some("blue".into()), ..Default::default() };
        let config = kube::Config::from_custom_kubeconfig(kc, &opts).await.expect("blue config");
        let client = kube::Client::try_from(config).expect("client");
        let mut jobs = Vec::new();
        for ns in namespaces {
            for (resource, kind) in KINDS {
                for i in 0..PER_KIND {
                    jobs.push((ns.clone(), resource, kind, i));
                }
            }
        }
        let failures: Vec<String> = futures::stream::iter(jobs)
            .map(|(ns, resource, kind, i)| {
                let client = client.clone();
                async move {
                    let prefix = if kind == "Role" { "/apis/rbac.authorization.k8s.io/v1" } else { "/api/v1" };
                    let body = serde_json::to_vec(&object(kind, &ns, i)).expect("json");
                    let req = http::Request::post(format!("{prefix}/namespaces/{ns}/{resource}"))
                        .header(http::header::CONTENT_TYPE, "application/json")
                        .body(kube::client::Body::from(body))
                        .expect("request");
                    match client.send(req).await {
                        Ok(r) if r.status().is_success() || r.status() == http::StatusCode::CONFLICT => None,
                        Ok(r) => Some(format!("{kind} {ns}/{i}: {}", r.status())),
                        Err(e) => Some(format!("{kind} {ns}/{i}: {e}")),
                    }
                }
            })
            .buffer_unordered(16)
            .filter_map(|f| async move { f })
            .collect()
            .await;
        assert!(failures.is_empty(), "creating objects failed: {:?}", &failures[..failures.len().min(10)]);
    });
    start.elapsed()
}

/// The report without what differs between two runs by nature: read times, and the name and
/// address by which blue was reached (directly, or through the proxy).
fn stable(mut report: serde_json::Value) -> serde_json::Value {
    for side in ["old", "new"] {
        if let Some(s) = report.get_mut(side).and_then(|s| s.as_object_mut()) {
            s.remove("time");
            if side == "old" {
                s.remove("name");
                s.remove("server");
            }
        }
    }
    report
}

#[test]
fn concurrency_32_and_1_give_the_same_complete_report_on_20000_objects() {
    require_clusters();
    let _g = serial();
    let names: Vec<String> = (0..NAMESPACES).map(|i| format!("load-{i}")).collect();
    let namespaces: Vec<TestNamespace> = names.iter().map(|n| TestNamespace::new(n, &["blue"])).collect();
    let created = create_objects(&names);
    println!("created {} objects in {:.1} s", NAMESPACES * KINDS.len() * PER_KIND, created.as_secs_f32());

    // The wide run reads blue through the fault proxy, which answers the first 40 list requests
    // with 429 and Retry-After: each must be waited out and retried, none may cost data. Paged
    // reads, so that continue pages exist (fault_matrix covers faults on streams).
    let proxy = FaultProxy::start("blue", "first-page * 429 x20\ncontinue * 429 x20");
    let (_dir, dir) = scratch();
    let proxied = proxy.kubeconfig(&dir, "throttled-blue");
    let run_with = |old: &str, kubeconfig: &str, concurrency: &str| {
        let mut a: Vec<&str> = vec![
            "diff",
            old,
            "green",
            "-o",
            "json",
            "--concurrency",
            concurrency,
            "--timeout",
            "5m",
            "--list-method",
            "pages",
        ];
        for n in &names {
            a.extend(["-n", n.as_str()]);
        }
        let mut cmd = kparity();
        cmd.env("KUBECONFIG", kubeconfig).args(&a);
        let run = run_cmd(&mut cmd);
        println!("{old} --concurrency {concurrency}: exit {} in {:.1} s", run.code, run.elapsed.as_secs_f32());
        run
    };
    let wide = run_with("ctx:throttled-blue", &proxied, "32");
    assert_eq!(proxy.hits(), vec![20, 20], "every scripted 429 was answered");
    let narrow = run_with("ctx:blue", path_str(&kubeconfig()), "1");
    for run in [&wide, &narrow] {
        let r = run.json();
        assert_eq!(run.code, 1, "green lacks the load namespaces: different, not trouble\n{}", run.stderr);
        assert_eq!(r["verdict"], "different");
        assert_eq!(r["incomplete"], serde_json::json!([]), "every type read completely (no 429 left unhandled)");
        let created = (NAMESPACES * KINDS.len() * PER_KIND) as u64;
        let missing = r["summary"]["missing"].as_u64().unwrap_or(0);
        // Green has each namespace's controller-made objects neither: at least what we created.
        assert!(missing >= created, "only {missing} objects missing on green, {created} were created");
        assert!(r["summary"]["objects_old"].as_u64().unwrap_or(0) >= created);
    }
    assert!(
        stable(wide.json()) == stable(narrow.json()),
        "--concurrency 32 and --concurrency 1 reports differ (summary {} vs {})",
        wide.json()["summary"],
        narrow.json()["summary"]
    );
    drop(namespaces);
}
