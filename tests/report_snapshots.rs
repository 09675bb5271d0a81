//! Rendered reports (table, markdown, json) on fixed inputs, as insta snapshots: a change in
//! what users or scripts see shows up in review.

use std::collections::BTreeSet;

use kparity::diff::{CompareOptions, compare, compare_with};
use kparity::dump::{Collector, CoverageStatus, Dump, KeepAsRead, Sink, SourceInfo, SourceKind, TypeCoverage};
use kparity::model::{ApiType, Excluded, GroupKind, Incomplete, IncompleteReason, TypeRef};
use kparity::report::{Format, render};
use kparity::rules::{self, RuleOptions, RuleSet};
use kparity::schema::{KindRecord, SchemaRecord, Sem, Semantics};
use kparity::secrets::KeyInfo;
use serde_json::{Value, json};

fn ty(group: &str, kind: &str, resource: &str) -> ApiType {
    ApiType {
        group: group.into(),
        version: "v1".into(),
        resource: resource.into(),
        kind: kind.into(),
        namespaced: true,
    }
}

fn info(name: &str) -> SourceInfo {
    SourceInfo {
        kind: SourceKind::Context,
        name: name.into(),
        server: format!("https://{name}.example:6443"),
        kubernetes_version: Some("v1.37.2".into()),
        time: "2026-11-22T10:00:00Z".into(),
        secret_key: KeyInfo::Keyed { fingerprint: "run:fixed".into() },
        origin_context: None,
    }
}

/// What the OpenAPI v3 schema of apps/v1 says about the Deployment fields the fixture uses.
fn semantics() -> Semantics {
    let paths = [
        ("/metadata/annotations", Sem::Map),
        ("/spec/template/spec/containers", Sem::ListMap(vec!["name".into()])),
        ("/spec/template/spec/containers/*/env", Sem::ListMap(vec!["name".into()])),
        ("/spec/template/spec/containers/*/resources/limits", Sem::Map),
        ("/spec/template/spec/containers/*/resources/limits/*", Sem::Quantity),
    ];
    let record = SchemaRecord {
        kinds: vec![KindRecord {
            group: "apps".into(),
            kind: "Deployment".into(),
            version: "v1".into(),
            paths: paths.into_iter().map(|(p, s)| (p.to_string(), s)).collect(),
        }],
        unavailable: vec![],
    };
    Semantics::merge(Some(("old", &record)), Some(("new", &record)))
}

fn dump(name: &str, rules: &RuleSet, objects: Vec<(ApiType, Value)>, incomplete: Vec<Incomplete>) -> Dump {
    let semantics = semantics();
    let collector = Collector::with_semantics(rules, &semantics).keeping_as_read(KeepAsRead::All);
    for (t, o) in objects {
        // As `source::list` does: the object decoded with its managedFields made the attribution
        // record beside it.
        let read: kparity::dump::ReadObject = serde_json::from_value(o).expect("an object");
        collector.page(&t, vec![read]);
    }
    let collected = collector.finish();
    let mut coverage: Vec<TypeCoverage> = collected
        .counts
        .iter()
        .map(|(t, n)| TypeCoverage {
            type_ref: TypeRef::from(t),
            status: CoverageStatus::Read { objects: *n, read_at: None },
        })
        .collect();
    coverage.push(TypeCoverage {
        type_ref: TypeRef {
            group: "".into(),
            version: "v1".into(),
            resource: Some("events".into()),
            kind: Some("Event".into()),
        },
        status: CoverageStatus::Excluded { by: "rule events".into() },
    });
    for i in &incomplete {
        coverage.retain(|c| c.type_ref != i.type_ref);
        coverage.push(TypeCoverage {
            type_ref: i.type_ref.clone(),
            status: CoverageStatus::Incomplete { reason: i.reason.to_string() },
        });
    }
    coverage.sort_by(|a, b| a.type_ref.cmp(&b.type_ref));
    let (objects, rule_hits, provenance) = (collected.objects, collected.rule_hits, collected.provenance);
    Dump {
        info: info(name),
        objects,
        incomplete,
        excluded: vec![Excluded {
            group_kind: GroupKind { group: "".into(), kind: "Event".into() },
            by: "rule events".into(),
        }],
        served: vec![],
        preferred: vec![],
        listed: vec![],
        rule_hits,
        type_skips: BTreeSet::new(),
        coverage,
        filter_misses: Default::default(),
        provenance,
    }
}

/// Who wrote the Deployment: an apply of everything, and on green a `kubectl scale` since.
fn managers(scaled: bool) -> Value {
    let apply = |replicas: bool| {
        let mut spec = json!({"f:template": {"f:spec": {"f:containers": {"k:{\"name\":\"web\"}": {".": {}, "f:image": {}, "f:env": {}, "f:name": {}}}}}});
        if replicas {
            spec["f:replicas"] = json!({});
        }
        json!({"manager": "kubectl-client-side-apply", "operation": "Update", "apiVersion": "apps/v1",
               "time": "2026-11-21T22:40:03Z", "fieldsType": "FieldsV1", "fieldsV1": {"f:spec": spec}})
    };
    if scaled {
        json!([apply(false), {"manager": "kubectl", "operation": "Update", "subresource": "scale", "apiVersion": "apps/v1",
               "time": "2026-11-22T01:12:44Z", "fieldsType": "FieldsV1", "fieldsV1": {"f:spec": {"f:replicas": {}}}}])
    } else {
        json!([apply(true)])
    }
}

fn deployment(replicas: u32, image: &str, env: Value) -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "shop", "uid": "u-1", "resourceVersion": "12",
                     "annotations": {"deployment.kubernetes.io/revision": "3"}, "managedFields": managers(replicas == 3)},
        "spec": {"replicas": replicas, "template": {"spec": {"containers": [
            {"name": "web", "image": image, "env": env, "resources": {"limits": {"cpu": "1000m"}}}
        ]}}},
        "status": {"readyReplicas": replicas}
    })
}

fn cm(name: &str, data: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": "shop"}, "data": data})
}

fn secret(value: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db", "namespace": "shop"}, "type": "Opaque", "data": {"password": value}})
}

/// A comparison with every kind of outcome: changed (keyed arrays, quantities, a hidden secret),
/// missing, extra, and an unread type.
fn sample(with_incomplete: bool) -> String {
    let rules = rules::load(&RuleOptions::default()).expect("built-in rules");
    let dep = ty("apps", "Deployment", "deployments");
    let cmt = ty("", "ConfigMap", "configmaps");
    let sec = ty("", "Secret", "secrets");
    let old = dump(
        "blue",
        &rules,
        vec![
            (
                dep.clone(),
                deployment(
                    2,
                    "web:1.4.2",
                    json!([{"name": "MODE", "value": "prod"}, {"name": "LOG", "value": "info"}]),
                ),
            ),
            (cmt.clone(), cm("settings", json!({"timeout": "30s"}))),
            (cmt.clone(), cm("routing", json!({"routes": "/api"}))),
            (sec.clone(), secret("hmac-sha256:aaaa")),
        ],
        vec![],
    );
    let incomplete = if with_incomplete {
        vec![Incomplete {
            type_ref: TypeRef { group: "metrics.example.com".into(), version: "v1".into(), resource: None, kind: None },
            reason: IncompleteReason::Unavailable("APIService v1.metrics.example.com: service unavailable".into()),
        }]
    } else {
        vec![]
    };
    let new = dump(
        "green",
        &rules,
        vec![
            // 1000m spelled 1: not a difference; replicas, image, LOG and the env order are.
            (dep.clone(), {
                let mut d = deployment(
                    3,
                    "web:1.5.0",
                    json!([{"name": "LOG", "value": "debug"}, {"name": "MODE", "value": "prod"}]),
                );
                d["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["cpu"] = json!("1");
                d
            }),
            (cmt.clone(), cm("settings", json!({"timeout": "30s"}))),
            (cmt.clone(), cm("extra-flags", json!({"beta": "on"}))),
            (sec.clone(), secret("hmac-sha256:bbbb")),
        ],
        incomplete,
    );
    let today = time::Date::from_calendar_date(2026, time::Month::November, 22).expect("date");
    let cmp = compare_with(&old, &new, &rules, CompareOptions { today, ignore_secret_values: false }, &semantics());
    let mut out = String::new();
    for format in [Format::Table, Format::Markdown, Format::Json, Format::Html] {
        out.push_str(&format!("===== {format:?} =====\n"));
        out.push_str(&render(&cmp, format));
    }
    // `kparity explain` of the changed Deployment and of the Secret (values hidden).
    for e in cmp.explained.iter().filter(|e| e.key.kind == "Deployment" || e.key.kind == "Secret") {
        out.push_str(&format!("===== explain {} =====\n", e.key));
        out.push_str(&kparity::report::explain::render(&cmp, e));
    }
    // No format, the explain page included, prints any part of a Secret's values.
    assert!(!out.contains("hmac-sha256:aaaa") && !out.contains("hmac-sha256:bbbb"), "a secret digest was printed");
    out
}

#[test]
fn reports_of_a_drifted_comparison() {
    insta::assert_snapshot!(sample(false));
}

#[test]
fn reports_of_an_incomplete_comparison() {
    insta::assert_snapshot!(sample(true));
}

#[test]
fn equivalent_report_is_short() {
    let rules = rules::load(&RuleOptions::default()).expect("built-in rules");
    let cmt = ty("", "ConfigMap", "configmaps");
    let old = dump("blue", &rules, vec![(cmt.clone(), cm("a", json!({"k": "v"})))], vec![]);
    let new = dump("green", &rules, vec![(cmt, cm("a", json!({"k": "v"})))], vec![]);
    let today = time::Date::from_calendar_date(2026, time::Month::November, 22).expect("date");
    let cmp = compare(&old, &new, &rules, CompareOptions { today, ignore_secret_values: false });
    insta::assert_snapshot!(render(&cmp, Format::Table));
}

/// A kubeadm side against an EKS side with the same workload: equivalent, with each side's
/// platform named and the platform differences listed in every format.
#[test]
fn reports_of_a_kubeadm_side_against_an_eks_side() {
    let rules = rules::load(&RuleOptions::default()).expect("built-in rules");
    let cmt = ty("", "ConfigMap", "configmaps");
    let ks = |name: &str, labels: Value, data: Value| json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": "kube-system", "labels": labels}, "data": data});
    let eks = json!({"eks.amazonaws.com/component": "coredns", "k8s-app": "kube-dns"});
    let old = dump(
        "blue",
        &rules,
        vec![
            (
                cmt.clone(),
                ks("kubeadm-config", json!({}), json!({"ClusterConfiguration": "kind: ClusterConfiguration\n"})),
            ),
            (
                cmt.clone(),
                ks(
                    "coredns",
                    json!({}),
                    json!({"Corefile": ".:53 {\n    forward . /etc/resolv.conf {\n       max_concurrent 1000\n    }\n}\n"}),
                ),
            ),
            (cmt.clone(), cm("settings", json!({"timeout": "30s"}))),
        ],
        vec![],
    );
    let new = dump(
        "green",
        &rules,
        vec![
            (
                cmt.clone(),
                ks("aws-auth", json!({}), json!({"mapRoles": "- rolearn: arn:aws:iam::111122223333:role/nodes\n"})),
            ),
            (cmt.clone(), ks("coredns", eks, json!({"Corefile": ".:53 {\n    forward . /etc/resolv.conf\n}\n"}))),
            (cmt.clone(), cm("settings", json!({"timeout": "30s"}))),
        ],
        vec![],
    );
    let today = time::Date::from_calendar_date(2026, time::Month::November, 22).expect("date");
    let mut cmp = compare(&old, &new, &rules, CompareOptions { today, ignore_secret_values: false });
    let profiles = kparity::platform::profile::builtin().expect("platform profiles");
    kparity::platform::separate(&mut cmp, &old, &new, &profiles, &Default::default());
    let mut out = String::new();
    for format in [Format::Table, Format::Markdown, Format::Json, Format::Junit, Format::Html] {
        out.push_str(&format!("===== {format:?} =====\n"));
        out.push_str(&render(&cmp, format));
    }
    out.push_str("===== metrics =====\n");
    let metrics = kparity::report::metrics::render(&cmp, &Default::default());
    out.extend(metrics.lines().filter(|l| l.contains("platform")).map(|l| format!("{l}\n")));
    insta::assert_snapshot!(out);
}
