//! A hand-built `Comparison` with every kind of finding, for the renderers' snapshot tests.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::json;

use super::RunInfo;
use crate::attribution::{Operation, Writer, WrittenBy};
use crate::diff::value::FieldChange;
use crate::diff::{
    Change, Comparison, FieldDiff, KindSummary, ObjectDiff, RuleAccount, Segment, Summary, Unproven, Verdict, WaiverUse,
};
use crate::dump::{CoverageStatus, SourceInfo, SourceKind, TypeCoverage};
use crate::model::{Excluded, GroupKind, Incomplete, IncompleteReason, ObjectKey, Side, TypeRef};
use crate::rules::Origin;
use crate::secrets::KeyInfo;

fn source(name: &str, port: u16) -> SourceInfo {
    SourceInfo {
        kind: SourceKind::Context,
        name: name.into(),
        server: format!("https://127.0.0.1:{port}"),
        kubernetes_version: Some("v1.37.2".into()),
        time: "2026-11-22T02:00:07Z".into(),
        secret_key: KeyInfo::Keyed { fingerprint: "3f2a".into() },
        origin_context: None,
    }
}

fn key(group: &str, kind: &str, ns: Option<&str>, name: &str) -> ObjectKey {
    ObjectKey { group: group.into(), kind: kind.into(), namespace: ns.map(str::to_string), name: name.into() }
}

fn gk(group: &str, kind: &str) -> GroupKind {
    GroupKind { group: group.into(), kind: kind.into() }
}

fn field(path: &[&str], old: serde_json::Value, new: serde_json::Value, waived: Option<&str>) -> FieldDiff {
    FieldDiff {
        change: FieldChange {
            path: path.iter().map(|s| Segment::Key(s.to_string())).collect(),
            old: Some(old),
            new: Some(new),
        },
        waived: waived.map(str::to_string),
        hidden: false,
        written_by: Default::default(),
    }
}

/// A run that found differences in two kinds, a waived one in a third, and nothing in a fourth.
/// One struct literal: long because a comparison has many parts, and read top to bottom as the
/// report it renders.
pub fn different() -> Comparison {
    let mut kinds = BTreeMap::new();
    kinds.insert(gk("", "ConfigMap"), KindSummary { old: 12, new: 12, equal: 11, waived: 1, ..Default::default() });
    kinds.insert(gk("", "Service"), KindSummary { old: 4, new: 5, equal: 4, extra: 1, ..Default::default() });
    kinds.insert(
        gk("apps", "Deployment"),
        KindSummary { old: 3, new: 2, equal: 1, changed: 1, missing: 1, ..Default::default() },
    );
    kinds.insert(
        gk("rbac.authorization.k8s.io", "Role"),
        KindSummary { old: 2, new: 2, equal: 2, ..Default::default() },
    );
    let objects = vec![
        ObjectDiff {
            key: key("", "ConfigMap", Some("shop"), "settings"),
            change: Change::Changed,
            fields: vec![field(
                &["data", "timeout"],
                json!("30s"),
                json!("45s"),
                Some("TICKET-12: timeout raised on green"),
            )],
            patch: Vec::new(),
            waived: None,
            written_by: Default::default(),
            explained: None,
        },
        ObjectDiff {
            key: key("", "Service", Some("shop"), "web-canary"),
            change: Change::Extra,
            fields: Vec::new(),
            patch: Vec::new(),
            waived: None,
            written_by: Default::default(),
            explained: Some(
                "made by its controller Rollout.argoproj.io shop/web, which is compared on both sides".into(),
            ),
        },
        ObjectDiff {
            key: key("apps", "Deployment", Some("shop"), "web"),
            change: Change::Changed,
            fields: vec![
                FieldDiff {
                    written_by: WrittenBy {
                        old: Some(vec![writer(
                            "kubectl-client-side-apply",
                            Operation::Update,
                            None,
                            "2026-11-21T22:40:03Z",
                        )]),
                        new: Some(vec![writer("kubectl", Operation::Update, Some("scale"), "2026-11-22T01:12:44Z")]),
                    },
                    ..field(&["spec", "replicas"], json!(2), json!(3), None)
                },
                field(
                    &["spec", "template", "spec", "image"],
                    json!("web:1.4.2"),
                    json!("web:1.5.0 <rc> & \"beta\""),
                    None,
                ),
            ],
            patch: Vec::new(),
            waived: None,
            written_by: Default::default(),
            explained: None,
        },
        ObjectDiff {
            key: key("apps", "Deployment", Some("shop"), "worker"),
            change: Change::Missing,
            fields: Vec::new(),
            patch: Vec::new(),
            waived: None,
            written_by: WrittenBy {
                old: Some(vec![
                    writer("helm", Operation::Apply, None, "2026-11-20T09:30:00Z"),
                    writer("kube-controller-manager", Operation::Update, Some("status"), "2026-11-22T01:59:10Z"),
                ]),
                new: None,
            },
            explained: None,
        },
    ];
    Comparison {
        verdict: Verdict::Different,
        old: source("blue", 16443),
        new: source("green", 26443),
        summary: Summary {
            objects_old: 21,
            objects_new: 21,
            equal: 18,
            changed: 1,
            missing: 1,
            extra: 1,
            waived: 1,
            explained: 1,
        },
        kinds,
        objects,
        incomplete: Vec::new(),
        excluded: vec![(Side::Old, Excluded { group_kind: gk("", "Event"), by: "rule core/events".into() })],
        api_differences: Vec::new(),
        preferred_versions: Vec::new(),
        unserved_on_new: Vec::new(),
        rule_warnings: Vec::new(),
        unproven: Vec::new(),
        profiles: vec!["core".into()],
        coverage_old: coverage(&[("", "v1", "configmaps", "ConfigMap", Some(12)), ("", "v1", "events", "Event", None)]),
        coverage_new: coverage(&[("", "v1", "configmaps", "ConfigMap", Some(12)), ("", "v1", "events", "Event", None)]),
        rules: vec![
            account("events", "skip", (0, 0), (1, 1), (0, 0)),
            account("server-assigned-metadata", "drop", (0, 0), (0, 0), (84, 86)),
            account("kube-root-ca", "skip", (2, 2), (0, 0), (0, 0)),
            account("unused-rule", "drop", (0, 0), (0, 0), (0, 0)),
        ],
        explained: Vec::new(),
        waivers: vec![WaiverUse {
            covers: "*//ConfigMap shop/settings /data/timeout".into(),
            reason: "TICKET-12: timeout raised on green".into(),
            expires: Some(time::macros::date!(2026 - 12 - 31)),
            origin: Origin::File("waivers.yaml".into()),
            expired: false,
            used: true,
        }],
        platform: Default::default(),
    }
}

fn account(
    name: &str,
    action: &'static str,
    skipped: (usize, usize),
    kinds_skipped: (usize, usize),
    fields_dropped: (usize, usize),
) -> RuleAccount {
    RuleAccount {
        name: name.into(),
        origin: Origin::Profile("core".into()),
        action,
        skipped,
        kinds_skipped,
        fields_dropped,
        objects: (skipped.0 + usize::from(fields_dropped.0 > 0), skipped.1 + usize::from(fields_dropped.1 > 0)),
    }
}

fn writer(manager: &str, operation: Operation, subresource: Option<&str>, time: &str) -> Writer {
    Writer { manager: manager.into(), operation, subresource: subresource.map(str::to_string), time: Some(time.into()) }
}

/// Coverage entries: `Some(n)` read with n objects, `None` excluded by the events rule. The
/// kinds of the summary table are read too; a v1beta1-only kind shows its version.
fn coverage(entries: &[(&str, &str, &str, &str, Option<usize>)]) -> Vec<TypeCoverage> {
    let mut all: Vec<(&str, &str, &str, &str, Option<usize>)> = entries.to_vec();
    all.push(("", "v1", "services", "Service", Some(4)));
    all.push(("apps", "v1", "deployments", "Deployment", Some(3)));
    all.push(("gateway.networking.k8s.io", "v1beta1", "referencegrants", "ReferenceGrant", Some(0)));
    all.push(("rbac.authorization.k8s.io", "v1", "roles", "Role", Some(2)));
    all.iter()
        .map(|(g, v, r, k, n)| TypeCoverage {
            type_ref: TypeRef {
                group: g.to_string(),
                version: v.to_string(),
                resource: Some(r.to_string()),
                kind: Some(k.to_string()),
            },
            status: match n {
                Some(objects) => CoverageStatus::Read { objects: *objects, read_at: None },
                None => CoverageStatus::Excluded { by: "rule core/events".into() },
            },
        })
        .collect()
}

/// A run in which one type could not be read on the new side and secrets were not provable.
pub fn incomplete() -> Comparison {
    let mut c = different();
    c.verdict = Verdict::Incomplete;
    c.incomplete = vec![
        (
            Side::New,
            Incomplete {
                type_ref: TypeRef {
                    group: "".into(),
                    version: "v1".into(),
                    resource: Some("secrets".into()),
                    kind: Some("Secret".into()),
                },
                reason: IncompleteReason::Forbidden("secrets is forbidden: User \"kparity-viewer\" cannot list".into()),
            },
        ),
        (
            Side::Old,
            Incomplete {
                type_ref: TypeRef {
                    group: "metrics.k8s.io".into(),
                    version: "v1beta1".into(),
                    resource: None,
                    kind: None,
                },
                reason: IncompleteReason::Unavailable("the server is currently unable to handle the request".into()),
            },
        ),
    ];
    c.unproven = vec![Unproven {
        headline: "secret values cannot be proven equal".into(),
        message: "secret digests were made under different keys".into(),
    }];
    c.coverage_new.push(TypeCoverage {
        type_ref: c.incomplete[0].1.type_ref.clone(),
        status: CoverageStatus::Incomplete { reason: c.incomplete[0].1.reason.to_string() },
    });
    c.coverage_old.push(TypeCoverage {
        type_ref: c.incomplete[1].1.type_ref.clone(),
        status: CoverageStatus::Incomplete { reason: c.incomplete[1].1.reason.to_string() },
    });
    c
}

/// A run with nothing to report.
pub fn equivalent() -> Comparison {
    let mut c = different();
    c.verdict = Verdict::Equivalent;
    c.objects.clear();
    c.excluded.clear();
    for k in c.kinds.values_mut() {
        *k = KindSummary { old: k.old, new: k.old, equal: k.old, ..Default::default() };
    }
    c.summary = Summary { objects_old: 21, objects_new: 21, equal: 21, ..Default::default() };
    c
}

pub fn run() -> RunInfo {
    RunInfo { duration: Duration::from_millis(12_345), hostname: "ci-runner-7".into(), finished_unix: 1_795_312_807 }
}
