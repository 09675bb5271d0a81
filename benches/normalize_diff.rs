//! Per-object cost of the pure stages, to catch regressions: normalizing a realistic Deployment
//! under the built-in rules, and comparing two dumps of 1,000 such objects where 1% differ.

use std::collections::{BTreeMap, BTreeSet};

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use kparity::diff::{CompareOptions, compare};
use kparity::dump::{Dump, SourceInfo, SourceKind, Stored};
use kparity::model::ObjectKey;
use kparity::normalize::{Normalized, normalize};
use kparity::rules::{RuleOptions, RuleSet, load};
use kparity::secrets::KeyInfo;
use serde_json::{Value, json};

fn deployment(ns: &str, name: &str, image: &str) -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "namespace": ns, "uid": "0b7c7d7e-1", "resourceVersion": "12345",
            "generation": 3, "creationTimestamp": "2026-11-22T10:00:00Z",
            "labels": {"app": name, "team": "payments"},
            "annotations": {"deployment.kubernetes.io/revision": "3", "owner": "payments"}},
        "spec": {"replicas": 3, "revisionHistoryLimit": 10, "progressDeadlineSeconds": 600,
            "selector": {"matchLabels": {"app": name}},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}},
            "template": {"metadata": {"labels": {"app": name}}, "spec": {
                "containers": [
                    {"name": "main", "image": image, "imagePullPolicy": "IfNotPresent",
                     "ports": [{"containerPort": 8080, "name": "http", "protocol": "TCP"}],
                     "env": [{"name": "LOG_LEVEL", "value": "info"}, {"name": "REGION", "value": "eu-west-1"}],
                     "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"memory": "0.25Gi"}},
                     "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File"},
                    {"name": "sidecar", "image": "registry.example.com/proxy:2.3", "args": ["--port=15001"]}],
                "restartPolicy": "Always", "dnsPolicy": "ClusterFirst", "schedulerName": "default-scheduler",
                "terminationGracePeriodSeconds": 30, "securityContext": {}}}},
        "status": {"observedGeneration": 3, "replicas": 3, "readyReplicas": 3, "availableReplicas": 3,
            "conditions": [{"type": "Available", "status": "True", "lastUpdateTime": "2026-11-22T10:01:00Z"}]}
    })
}

fn key(ns: &str, name: &str) -> ObjectKey {
    ObjectKey { group: "apps".into(), kind: "Deployment".into(), namespace: Some(ns.into()), name: name.into() }
}

fn rules() -> RuleSet {
    load(&RuleOptions::default()).expect("the built-in rules load")
}

fn dump(rules: &RuleSet, n: usize, drift_every: usize) -> Dump {
    let mut objects = BTreeMap::new();
    for i in 0..n {
        let (ns, name) = (format!("team-{}", i / 40), format!("app-{i}"));
        let image = if drift_every > 0 && i % drift_every == 0 {
            "registry.example.com/app:2.0"
        } else {
            "registry.example.com/app:1.0"
        };
        let k = key(&ns, &name);
        let out = normalize(&k, deployment(&ns, &name, image), rules);
        objects.insert(k, Stored::from(out.normalized));
    }
    Dump {
        info: SourceInfo {
            kind: SourceKind::Context,
            name: "bench".into(),
            server: "https://127.0.0.1".into(),
            kubernetes_version: None,
            time: String::new(),
            secret_key: KeyInfo::Keyed { fingerprint: "bench".into() },
            origin_context: None,
        },
        objects,
        incomplete: Vec::new(),
        excluded: Vec::new(),
        served: Vec::new(),
        preferred: Vec::new(),
        listed: Vec::new(),
        rule_hits: Default::default(),
        type_skips: BTreeSet::new(),
        coverage: Vec::new(),
        filter_misses: Default::default(),
        provenance: Default::default(),
    }
}

fn normalize_object(c: &mut Criterion) {
    let rules = rules();
    let obj = deployment("team-1", "app-1", "registry.example.com/app:1.0");
    let k = key("team-1", "app-1");
    let mut g = c.benchmark_group("normalize");
    g.throughput(Throughput::Elements(1));
    g.bench_function("deployment", |b| {
        b.iter_batched(
            || obj.clone(),
            |o| {
                let out = normalize(&k, o, &rules);
                assert!(matches!(out.normalized, Normalized::Content(_)));
                out
            },
            BatchSize::SmallInput,
        )
    });
    g.finish();
}

fn diff_dumps(c: &mut Criterion) {
    let rules = rules();
    const N: usize = 1000;
    let (old, new) = (dump(&rules, N, 0), dump(&rules, N, 100));
    let opts = CompareOptions { today: time::macros::date!(2026 - 11 - 22), ignore_secret_values: false };
    let mut g = c.benchmark_group("diff");
    g.throughput(Throughput::Elements(N as u64));
    g.bench_function("1000_deployments_1pct_changed", |b| {
        b.iter(|| {
            let cmp = compare(&old, &new, &rules, opts);
            assert_eq!(cmp.summary.changed, N / 100);
            cmp
        })
    });
    g.finish();
}

criterion_group!(benches, normalize_object, diff_dumps);
criterion_main!(benches);
