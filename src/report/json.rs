//! The JSON report: kparity's machine interface. Its own view types (internal types never
//! derive `Serialize` for output) and a `schema_version` that changes only when a field's meaning
//! does; new fields may be added within a version.

use serde::Serialize;
use serde_json::Value;

use crate::diff::{Change, Comparison, FieldDiff, ObjectDiff};
use crate::dump::SourceInfo;
use crate::rules::pattern::escape_segment;
use crate::secrets::KeyInfo;

pub const SCHEMA_VERSION: u32 = 1;

#[derive(Serialize)]
pub struct Report<'a> {
    schema_version: u32,
    tool: Tool,
    verdict: &'static str,
    old: Source<'a>,
    new: Source<'a>,
    summary: Summary,
    kinds: Vec<Kind<'a>>,
    objects: Vec<Object<'a>>,
    incomplete: Vec<IncompleteEntry<'a>>,
    excluded: Vec<ExcludedEntry<'a>>,
    api_differences: Vec<ApiDifference<'a>>,
    /// Types whose preferred version differs between the sides, and the versions they were read in.
    api_preferred_versions: Vec<PreferredVersion<'a>>,
    /// Objects of OLD that exist only under versions NEW does not serve.
    api_unserved_on_new: Vec<UnservedOnNew<'a>>,
    /// Why a verdict is incomplete although every type was read.
    unproven: Vec<&'a str>,
    /// Each warning as one line of text (kept as it was in schema 1).
    warnings: Vec<String>,
    /// The same warnings with a stable `code` (`rule-matched-nothing`, `waiver-matched-nothing`,
    /// `waiver-expired`, `schema-conservative`, `platform-not-detected`) and the rules file or profile they concern.
    /// Added within schema 1.
    warning_entries: Vec<WarningEntry>,
    profiles: &'a [String],
    /// Every discovered resource of each side: read (version, objects), excluded (by), or
    /// incomplete (reason). Added within schema 1.
    coverage: CoverageReport<'a>,
    /// Every rule in force and what it did on each side. Added within schema 1.
    rules: Vec<RuleView<'a>>,
    /// With `--show-suppressed`: per object in scope, what each rule removed on each side.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    suppressed: Vec<Suppressed<'a>>,
    /// Each side's platforms and the platform differences, counted per side; absent when
    /// neither side runs a known platform. Added within schema 1.
    #[serde(skip_serializing_if = "Option::is_none")]
    platform: Option<super::platform::JsonView<'a>>,
}

#[derive(Serialize)]
struct WarningEntry {
    code: &'static str,
    message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    origin: Option<String>,
}

#[derive(Serialize)]
struct Suppressed<'a> {
    key: Key<'a>,
    old: Vec<StepView<'a>>,
    new: Vec<StepView<'a>>,
}

#[derive(Serialize)]
struct StepView<'a> {
    rule: &'a str,
    origin: String,
    action: &'static str,
    paths: &'a [String],
}

fn suppressed(e: &crate::explain::ObjectExplanation) -> Suppressed<'_> {
    fn steps(s: &Option<crate::explain::SideExplanation>) -> Vec<StepView<'_>> {
        s.iter()
            .flat_map(|s| &s.steps)
            .map(|st| StepView { rule: &st.rule, origin: st.origin.to_string(), action: st.action, paths: &st.paths })
            .collect()
    }
    Suppressed {
        key: Key { group: &e.key.group, kind: &e.key.kind, namespace: e.key.namespace.as_deref(), name: &e.key.name },
        old: steps(&e.old),
        new: steps(&e.new),
    }
}

#[derive(Serialize)]
struct CoverageReport<'a> {
    old: SideCoverage<'a>,
    new: SideCoverage<'a>,
}

#[derive(Serialize)]
struct SideCoverage<'a> {
    types: usize,
    read: usize,
    objects: usize,
    excluded_by_rules: usize,
    excluded_by_filters: usize,
    incomplete: usize,
    /// The one-line summary the table and markdown reports print.
    summary: String,
    entries: Vec<CoverageEntry<'a>>,
}

#[derive(Serialize)]
struct CoverageEntry<'a> {
    group: &'a str,
    version: &'a str,
    /// Null for a whole group-version whose discovery failed.
    resource: Option<&'a str>,
    kind: Option<&'a str>,
    /// `read`, `excluded` or `incomplete`.
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    objects: Option<usize>,
    /// The resourceVersion the type's list was served at: one consistent point per type.
    #[serde(skip_serializing_if = "Option::is_none")]
    read_at: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    by: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'a str>,
}

fn side_coverage(cov: &[crate::dump::TypeCoverage]) -> SideCoverage<'_> {
    use crate::dump::{CoverageStatus, CoverageSummary};
    let s = CoverageSummary::of(cov);
    SideCoverage {
        types: s.types,
        read: s.read,
        objects: s.objects,
        excluded_by_rules: s.excluded_by_rules,
        excluded_by_filters: s.excluded_by_filters,
        incomplete: s.incomplete,
        summary: s.line(),
        entries: cov
            .iter()
            .map(|t| CoverageEntry {
                group: &t.type_ref.group,
                version: &t.type_ref.version,
                resource: t.type_ref.resource.as_deref(),
                kind: t.type_ref.kind.as_deref(),
                status: t.status.as_str(),
                objects: match &t.status {
                    CoverageStatus::Read { objects, .. } => Some(*objects),
                    _ => None,
                },
                read_at: match &t.status {
                    CoverageStatus::Read { read_at, .. } => read_at.as_deref(),
                    _ => None,
                },
                by: match &t.status {
                    CoverageStatus::Excluded { by } => Some(by),
                    _ => None,
                },
                reason: match &t.status {
                    CoverageStatus::Incomplete { reason } => Some(reason),
                    _ => None,
                },
            })
            .collect(),
    }
}

#[derive(Serialize)]
struct Tool {
    name: &'static str,
    version: &'static str,
}

#[derive(Serialize)]
struct Source<'a> {
    source: &'static str,
    name: &'a str,
    server: &'a str,
    kubernetes_version: Option<&'a str>,
    time: &'a str,
    /// Fingerprint of the key secret values were digested under; null when unkeyed.
    secret_key: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    origin_context: Option<&'a str>,
}

#[derive(Serialize)]
struct Summary {
    objects_old: usize,
    objects_new: usize,
    equal: usize,
    changed: usize,
    missing: usize,
    extra: usize,
    waived: usize,
    /// Differences nothing explains (changed, and missing/extra without explanation). Added within schema 1.
    unexplained: usize,
    /// Missing and extra objects whose absence is explained (counted in missing/extra too).
    explained: usize,
}

#[derive(Serialize)]
struct Kind<'a> {
    group: &'a str,
    kind: &'a str,
    /// Null when the kind could not be read completely on that side.
    old: Option<usize>,
    new: Option<usize>,
    equal: usize,
    changed: usize,
    missing: usize,
    extra: usize,
    waived: usize,
    excluded_old: usize,
    excluded_new: usize,
    /// Objects read on each side: compared (`old`/`new`) plus excluded by rule. Added within schema 1.
    read_old: Option<usize>,
    read_new: Option<usize>,
    missing_explained: usize,
    extra_explained: usize,
    unexplained: usize,
}

#[derive(Serialize)]
pub(crate) struct Key<'a> {
    group: &'a str,
    kind: &'a str,
    namespace: Option<&'a str>,
    name: &'a str,
}

#[derive(Serialize)]
struct Object<'a> {
    key: Key<'a>,
    change: &'static str,
    /// True when every part of this difference is accepted by a waiver.
    waived: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    waiver_reason: Option<&'a str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    fields: Vec<Field<'a>>,
    /// RFC 6902 operations turning the normalized OLD object into the normalized NEW one.
    #[serde(skip_serializing_if = "Option::is_none")]
    patch: Option<Value>,
    /// Present when no version is served by both sides, so the object was compared across versions.
    #[serde(skip_serializing_if = "Option::is_none")]
    compared_across_versions: Option<Versions<'a>>,
    /// For a missing or extra object: its managers on the side where it exists. Added within schema 1.
    #[serde(skip_serializing_if = "Option::is_none")]
    written_by: Option<WrittenBy<'a>>,
    /// For a missing or extra object: why it is expected (still a difference). Added within schema 1.
    #[serde(skip_serializing_if = "Option::is_none")]
    explained: Option<&'a str>,
}

#[derive(Serialize)]
struct Versions<'a> {
    old: &'a str,
    new: &'a str,
}

#[derive(Serialize)]
struct PreferredVersion<'a> {
    group: &'a str,
    resource: &'a str,
    kind: &'a str,
    old_preferred: &'a str,
    new_preferred: &'a str,
    /// The versions listed on each side (null where the side did not list the type).
    old_read: Option<&'a str>,
    new_read: Option<&'a str>,
    across_versions: bool,
}

#[derive(Serialize)]
struct UnservedOnNew<'a> {
    group: &'a str,
    resource: &'a str,
    kind: &'a str,
    old_versions: &'a [String],
    new_versions: &'a [String],
    objects: Vec<Key<'a>>,
}

#[derive(Serialize)]
pub(crate) struct Field<'a> {
    /// Human-readable path: `spec.template.spec.containers[name=app].image`.
    path: String,
    /// The path as a waiver names it: a JSON pointer whose keyed-array items are named.
    waiver_path: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    old: Option<&'a Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    new: Option<&'a Value>,
    hidden: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    waived: Option<&'a str>,
    /// Who last wrote the field on each side (from managedFields). Added within schema 1.
    #[serde(skip_serializing_if = "Option::is_none")]
    written_by: Option<WrittenBy<'a>>,
}

/// The writers on each side: `null` where the side carries no attribution (an archive of an
/// older kparity), `[]` where no manager owns the field or an ancestor of it.
#[derive(Serialize)]
struct WrittenBy<'a> {
    old: Option<Vec<WriterView<'a>>>,
    new: Option<Vec<WriterView<'a>>>,
}

#[derive(Serialize)]
struct WriterView<'a> {
    manager: &'a str,
    /// `Apply` or `Update`.
    operation: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    subresource: Option<&'a str>,
    time: Option<&'a str>,
}

fn written_by(w: &crate::attribution::WrittenBy) -> Option<WrittenBy<'_>> {
    fn side(s: &Option<Vec<crate::attribution::Writer>>) -> Option<Vec<WriterView<'_>>> {
        s.as_ref().map(|v| {
            v.iter()
                .map(|w| WriterView {
                    manager: &w.manager,
                    operation: w.operation.as_str(),
                    subresource: w.subresource.as_deref(),
                    time: w.time.as_deref(),
                })
                .collect()
        })
    }
    (w.old.is_some() || w.new.is_some()).then(|| WrittenBy { old: side(&w.old), new: side(&w.new) })
}

/// What one rule did on each side. Added within schema 1.
#[derive(Serialize)]
struct RuleView<'a> {
    name: &'a str,
    /// The built-in profile it belongs to, or `null` for a rules file (see `file`).
    profile: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    file: Option<String>,
    /// `skip`, `drop`, `presence`, `digest`, `unordered`, or `accept` (attribution rules).
    action: &'static str,
    /// Objects read and left out of the comparison.
    skipped: Sides,
    /// Kinds not listed at all (type-level skip): their objects were never read.
    kinds_skipped: Sides,
    /// Fields removed (or, for `accept`, accepted) before comparing.
    fields_dropped: Sides,
    /// Objects the rule took effect on.
    objects: Sides,
}

#[derive(Serialize)]
struct Sides {
    old: usize,
    new: usize,
}

fn sides(p: (usize, usize)) -> Sides {
    Sides { old: p.0, new: p.1 }
}

fn rule_view(r: &crate::diff::RuleAccount) -> RuleView<'_> {
    use crate::rules::Origin;
    RuleView {
        name: &r.name,
        profile: match &r.origin {
            Origin::Profile(p) => Some(p),
            Origin::File(_) => None,
        },
        file: match &r.origin {
            Origin::File(f) => Some(f.display().to_string()),
            Origin::Profile(_) => None,
        },
        action: r.action,
        skipped: sides(r.skipped),
        kinds_skipped: sides(r.kinds_skipped),
        fields_dropped: sides(r.fields_dropped),
        objects: sides(r.objects),
    }
}

#[derive(Serialize)]
struct IncompleteEntry<'a> {
    side: &'static str,
    group: &'a str,
    version: &'a str,
    /// Null when discovery of the whole group-version failed.
    resource: Option<&'a str>,
    kind: Option<&'a str>,
    reason: &'static str,
    message: String,
}

#[derive(Serialize)]
struct ExcludedEntry<'a> {
    side: &'static str,
    group: &'a str,
    kind: &'a str,
    by: &'a str,
}

#[derive(Serialize)]
struct ApiDifference<'a> {
    /// The side that serves it (the other does not).
    served_by: &'static str,
    group: &'a str,
    version: &'a str,
    resource: &'a str,
    kind: &'a str,
}

fn source(info: &SourceInfo) -> Source<'_> {
    Source {
        source: info.kind.as_str(),
        name: &info.name,
        server: &info.server,
        kubernetes_version: info.kubernetes_version.as_deref(),
        time: &info.time,
        secret_key: match &info.secret_key {
            KeyInfo::Keyed { fingerprint } if !fingerprint.starts_with("run:") => Some(fingerprint.as_str()),
            _ => None,
        },
        origin_context: info.origin_context.as_deref(),
    }
}

/// Object keys and field changes as every part of the JSON report writes them.
pub(crate) type KeyView<'a> = Key<'a>;
pub(crate) type FieldView<'a> = Field<'a>;

impl<'a> Key<'a> {
    pub(crate) fn of(k: &'a crate::model::ObjectKey) -> Self {
        Key { group: &k.group, kind: &k.kind, namespace: k.namespace.as_deref(), name: &k.name }
    }
}

impl<'a> Field<'a> {
    pub(crate) fn of(f: &'a FieldDiff) -> Self {
        Field {
            path: f.change.display_path(),
            waiver_path: waiver_path(f),
            old: f.change.old.as_ref(),
            new: f.change.new.as_ref(),
            hidden: f.hidden,
            waived: f.waived.as_deref(),
            written_by: written_by(&f.written_by),
        }
    }
}

pub fn waiver_path(f: &FieldDiff) -> String {
    f.change.key_path().iter().map(|k| format!("/{}", escape_segment(k))).collect()
}

fn object<'a>(c: &'a Comparison, d: &'a ObjectDiff) -> Object<'a> {
    Object {
        compared_across_versions: c
            .read_across_versions(&d.key.group, &d.key.kind)
            .map(|(old, new)| Versions { old, new }),
        key: Key { group: &d.key.group, kind: &d.key.kind, namespace: d.key.namespace.as_deref(), name: &d.key.name },
        change: d.change.as_str(),
        waived: d.is_waived(),
        waiver_reason: d.waived.as_deref(),
        fields: d
            .fields
            .iter()
            .map(|f| Field {
                path: f.change.display_path(),
                waiver_path: waiver_path(f),
                old: f.change.old.as_ref(),
                new: f.change.new.as_ref(),
                hidden: f.hidden,
                waived: f.waived.as_deref(),
                written_by: written_by(&f.written_by),
            })
            .collect(),
        written_by: written_by(&d.written_by),
        explained: d.explained.as_deref(),
        patch: (d.change == Change::Changed).then(|| serde_json::to_value(&d.patch).unwrap_or(Value::Null)),
    }
}

pub fn build(c: &Comparison) -> Report<'_> {
    Report {
        schema_version: SCHEMA_VERSION,
        tool: Tool { name: "kparity", version: env!("CARGO_PKG_VERSION") },
        verdict: c.verdict.as_str(),
        old: source(&c.old),
        new: source(&c.new),
        summary: summary(&c.summary),
        kinds: c.kinds.iter().map(|(gk, k)| kind(gk, k)).collect(),
        objects: c.objects.iter().map(|d| object(c, d)).collect(),
        incomplete: c.incomplete.iter().map(|(side, i)| incomplete_entry(*side, i)).collect(),
        excluded: c
            .excluded
            .iter()
            .map(|(side, e)| ExcludedEntry {
                side: side.as_str(),
                group: &e.group_kind.group,
                kind: &e.group_kind.kind,
                by: &e.by,
            })
            .collect(),
        api_differences: c
            .api_differences
            .iter()
            .map(|a| ApiDifference {
                served_by: a.side.as_str(),
                group: &a.group,
                version: &a.version,
                resource: &a.resource,
                kind: &a.kind,
            })
            .collect(),
        api_preferred_versions: c.preferred_versions.iter().map(preferred_version).collect(),
        api_unserved_on_new: c.unserved_on_new.iter().map(unserved_on_new).collect(),
        unproven: c.unproven.iter().map(|u| u.message.as_str()).collect(),
        warnings: c.rule_warnings.iter().map(|w| w.to_string()).collect(),
        warning_entries: c
            .rule_warnings
            .iter()
            .map(|w| WarningEntry { code: w.code(), message: w.to_string(), origin: w.origin().map(|o| o.to_string()) })
            .collect(),
        profiles: &c.profiles,
        coverage: CoverageReport { old: side_coverage(&c.coverage_old), new: side_coverage(&c.coverage_new) },
        rules: c.rules.iter().map(rule_view).collect(),
        suppressed: c.explained.iter().map(suppressed).collect(),
        platform: super::platform::json_view(c),
    }
}

fn summary(s: &crate::diff::Summary) -> Summary {
    Summary {
        objects_old: s.objects_old,
        objects_new: s.objects_new,
        equal: s.equal,
        changed: s.changed,
        missing: s.missing,
        extra: s.extra,
        waived: s.waived,
        unexplained: s.unexplained(),
        explained: s.explained,
    }
}

/// A kind's counts; a side whose read of the kind was incomplete has no count (`null`), never 0.
fn kind<'a>(gk: &'a crate::model::GroupKind, k: &crate::diff::KindSummary) -> Kind<'a> {
    Kind {
        group: &gk.group,
        kind: &gk.kind,
        old: (!k.incomplete_old).then_some(k.old),
        new: (!k.incomplete_new).then_some(k.new),
        equal: k.equal,
        changed: k.changed,
        missing: k.missing,
        extra: k.extra,
        waived: k.waived,
        excluded_old: k.skipped_old,
        excluded_new: k.skipped_new,
        read_old: (!k.incomplete_old).then_some(k.old + k.skipped_old),
        read_new: (!k.incomplete_new).then_some(k.new + k.skipped_new),
        missing_explained: k.missing_explained,
        extra_explained: k.extra_explained,
        unexplained: k.unexplained(),
    }
}

fn incomplete_entry(side: crate::model::Side, i: &crate::model::Incomplete) -> IncompleteEntry<'_> {
    IncompleteEntry {
        side: side.as_str(),
        group: &i.type_ref.group,
        version: &i.type_ref.version,
        resource: i.type_ref.resource.as_deref(),
        kind: i.type_ref.kind.as_deref(),
        reason: i.reason.code(),
        message: i.reason.to_string(),
    }
}

fn preferred_version(p: &crate::diff::PreferredVersionDifference) -> PreferredVersion<'_> {
    PreferredVersion {
        group: &p.group,
        resource: &p.resource,
        kind: &p.kind,
        old_preferred: &p.old_preferred,
        new_preferred: &p.new_preferred,
        old_read: p.old_read.as_deref(),
        new_read: p.new_read.as_deref(),
        across_versions: p.across_versions().is_some(),
    }
}

fn unserved_on_new(u: &crate::diff::UnservedOnNew) -> UnservedOnNew<'_> {
    UnservedOnNew {
        group: &u.group,
        resource: &u.resource,
        kind: &u.kind,
        old_versions: &u.old_versions,
        new_versions: &u.new_versions,
        objects: u
            .objects
            .iter()
            .map(|k| Key { group: &k.group, kind: &k.kind, namespace: k.namespace.as_deref(), name: &k.name })
            .collect(),
    }
}

pub fn render(c: &Comparison) -> String {
    let mut s = serde_json::to_string_pretty(&build(c)).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
    s.push('\n');
    s
}
