//! Pairs the objects of two sides by key, counts per kind, diffs content, applies waivers and
//! decides the verdict. Pure: everything it needs arrives as plain values.

pub mod value;

use std::collections::{BTreeMap, BTreeSet};

use json_patch::PatchOperation;
use serde_json::Value;
use time::Date;

use crate::dump::{Dump, SourceInfo, Stored};
use crate::model::{Excluded, GroupKind, Incomplete, ObjectKey, Side};
use crate::rules::{Origin, RuleSet, Waiver};
use crate::schema::Semantics;
pub use value::{FieldChange, Segment};

/// The outcome for a whole comparison, as `diff(1)` exit codes express it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Equivalent,
    Different,
    /// Something could not be read or compared: never "equivalent".
    Incomplete,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Equivalent => "equivalent",
            Verdict::Different => "different",
            Verdict::Incomplete => "incomplete",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Change {
    Changed,
    /// In OLD, not in NEW.
    Missing,
    /// In NEW, not in OLD.
    Extra,
}

impl Change {
    pub fn as_str(self) -> &'static str {
        match self {
            Change::Changed => "changed",
            Change::Missing => "missing",
            Change::Extra => "extra",
        }
    }
}

/// One changed field of a changed object.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldDiff {
    pub change: FieldChange,
    /// The waiver's reason, when an active waiver accepts this change.
    pub waived: Option<String>,
    /// A Secret value: shown as changed, never shown.
    pub hidden: bool,
}

/// One object that differs between the sides.
#[derive(Debug, Clone, PartialEq)]
pub struct ObjectDiff {
    pub key: ObjectKey,
    pub change: Change,
    /// For `Changed`: the field changes, in document order.
    pub fields: Vec<FieldDiff>,
    /// For `Changed`: RFC 6902 ops from normalized OLD to normalized NEW (hidden values masked).
    pub patch: Vec<PatchOperation>,
    /// For `Missing`/`Extra`: the reason of the waiver accepting it.
    pub waived: Option<String>,
}

impl ObjectDiff {
    /// True when every part of the difference is accepted by a waiver.
    pub fn is_waived(&self) -> bool {
        match self.change {
            Change::Changed => !self.fields.is_empty() && self.fields.iter().all(|f| f.waived.is_some()),
            Change::Missing | Change::Extra => self.waived.is_some(),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KindSummary {
    pub old: usize,
    pub new: usize,
    pub equal: usize,
    pub changed: usize,
    pub missing: usize,
    pub extra: usize,
    pub waived: usize,
    /// Objects of this kind left out by object-level skip rules, per side.
    pub skipped_old: usize,
    pub skipped_new: usize,
    /// The kind could not be read completely on that side: its count there proves nothing.
    pub incomplete_old: bool,
    pub incomplete_new: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    pub objects_old: usize,
    pub objects_new: usize,
    pub equal: usize,
    pub changed: usize,
    pub missing: usize,
    pub extra: usize,
    pub waived: usize,
}

/// A group/version/resource served on one side only.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ApiDifference {
    pub side: Side,
    pub group: String,
    pub version: String,
    pub resource: String,
    pub kind: String,
}

/// A type whose preferred version differs between the sides (an upgrade moved it).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct PreferredVersionDifference {
    pub group: String,
    pub resource: String,
    pub kind: String,
    pub old_preferred: String,
    pub new_preferred: String,
    /// The versions the sides were listed in (None where a side did not list the type, e.g.
    /// excluded): equal when a version both serve was found.
    pub old_read: Option<String>,
    pub new_read: Option<String>,
}

impl PreferredVersionDifference {
    /// Both sides were listed, in different versions: their objects were compared across
    /// versions, so a field the conversion renames shows up as a change.
    pub fn across_versions(&self) -> Option<(&str, &str)> {
        match (&self.old_read, &self.new_read) {
            (Some(a), Some(b)) if a != b => Some((a, b)),
            _ => None,
        }
    }
}

/// Objects of OLD whose type NEW serves in none of the versions OLD serves it in: they exist
/// only under a version NEW does not serve and will not survive the migration as they are
/// (re-applying their manifests to NEW fails until they are rewritten).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnservedOnNew {
    pub group: String,
    pub resource: String,
    pub kind: String,
    pub old_versions: Vec<String>,
    /// Empty when NEW does not serve the type in any version.
    pub new_versions: Vec<String>,
    pub objects: Vec<ObjectKey>,
}

/// A problem with the rules themselves, reported so a typo cannot silently do nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RuleWarning {
    RuleMatchedNothing {
        name: String,
        origin: Origin,
    },
    WaiverMatchedNothing {
        waiver: String,
        origin: Origin,
    },
    WaiverExpired {
        waiver: String,
        expired: Date,
        origin: Origin,
    },
    /// A schema that could not be read (or an archive without one): how its types were compared.
    Semantics {
        message: String,
    },
}

impl std::fmt::Display for RuleWarning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RuleWarning::RuleMatchedNothing { name, origin } => write!(f, "rule {name:?} ({origin}) matched nothing"),
            RuleWarning::WaiverMatchedNothing { waiver, origin } => {
                write!(f, "waiver {waiver} ({origin}) matched no difference")
            }
            RuleWarning::WaiverExpired { waiver, expired, origin } => {
                write!(f, "waiver {waiver} ({origin}) expired on {expired} and no longer applies")
            }
            RuleWarning::Semantics { message } => f.write_str(message),
        }
    }
}

/// Why the verdict is incomplete although every type was read (e.g. secret digests made under
/// different keys cannot prove equality).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unproven {
    pub message: String,
}

/// Everything the reports need.
#[derive(Debug, Clone)]
pub struct Comparison {
    pub verdict: Verdict,
    pub old: SourceInfo,
    pub new: SourceInfo,
    pub summary: Summary,
    pub kinds: BTreeMap<GroupKind, KindSummary>,
    pub objects: Vec<ObjectDiff>,
    pub incomplete: Vec<(Side, Incomplete)>,
    pub excluded: Vec<(Side, Excluded)>,
    pub api_differences: Vec<ApiDifference>,
    /// Types whose preferred version differs between the sides.
    pub preferred_versions: Vec<PreferredVersionDifference>,
    /// Objects of OLD that exist only under versions NEW does not serve.
    pub unserved_on_new: Vec<UnservedOnNew>,
    pub rule_warnings: Vec<RuleWarning>,
    pub unproven: Vec<Unproven>,
    pub profiles: Vec<String>,
}

impl Comparison {
    /// The versions OLD and NEW were read in, when objects of `gk` were compared across versions.
    pub fn read_across_versions(&self, group: &str, kind: &str) -> Option<(&str, &str)> {
        self.preferred_versions.iter().filter(|p| p.group == group && p.kind == kind).find_map(|p| p.across_versions())
    }
}

/// Options that change what counts as proven.
#[derive(Debug, Clone, Copy)]
pub struct CompareOptions {
    pub today: Date,
    /// Secret values compared only by existence (`--ignore-secret-values`).
    pub ignore_secret_values: bool,
}

fn is_secret(key: &ObjectKey) -> bool {
    key.group.is_empty() && key.kind == "Secret"
}

/// Secret values live under `data` (and `stringData`, folded into it).
fn is_secret_value_path(path: &[String]) -> bool {
    matches!(path.first().map(String::as_str), Some("data" | "stringData"))
}

const HIDDEN: &str = "(value hidden)";

/// Compares two dumps under `rules`, without schemas (every list matched by index).
pub fn compare(old: &Dump, new: &Dump, rules: &RuleSet, opts: CompareOptions) -> Comparison {
    compare_with(old, new, rules, opts, &Semantics::default())
}

/// Compares two dumps under `rules` and the field semantics both were normalized under.
pub fn compare_with(
    old: &Dump,
    new: &Dump,
    rules: &RuleSet,
    opts: CompareOptions,
    semantics: &Semantics,
) -> Comparison {
    let mut kinds: BTreeMap<GroupKind, KindSummary> = BTreeMap::new();
    let mut objects = Vec::new();
    let mut summary = Summary::default();
    let active: Vec<(usize, &Waiver)> =
        rules.waivers.iter().enumerate().filter(|(_, w)| !w.is_expired(opts.today)).collect();
    let mut waiver_used = vec![false; rules.waivers.len()];

    // Kinds not read completely on a side: an object "absent" there is unknown, not missing.
    let unread = |d: &Dump, key: &ObjectKey| {
        d.incomplete
            .iter()
            .any(|i| i.type_ref.group == key.group && i.type_ref.kind.as_ref().is_none_or(|k| *k == key.kind))
    };
    let keys: BTreeSet<&ObjectKey> = old.objects.keys().chain(new.objects.keys()).collect();
    for key in keys {
        let gk = key.group_kind();
        let entry = kinds.entry(gk).or_default();
        let a = old.objects.get(key);
        let b = new.objects.get(key);
        let compared = |n: Option<&Stored>| n.is_some_and(|n| !matches!(n, Stored::Skipped(_)));
        if matches!(a, Some(Stored::Skipped(_))) {
            entry.skipped_old += 1;
        }
        if matches!(b, Some(Stored::Skipped(_))) {
            entry.skipped_new += 1;
        }
        let (in_old, in_new) = (compared(a), compared(b));
        entry.old += usize::from(in_old);
        entry.new += usize::from(in_new);
        summary.objects_old += usize::from(in_old);
        summary.objects_new += usize::from(in_new);

        let diff = match (a, b) {
            (Some(Stored::Skipped(_)), _) | (_, Some(Stored::Skipped(_))) => {
                // A skip rule that matched one side only still leaves the object out: the rule
                // says the object is not comparable, whatever the other side holds.
                None
            }
            (Some(_), None) if unread(new, key) => None,
            (None, Some(_)) if unread(old, key) => None,
            (Some(_), None) => Some(whole_object_diff(key, Change::Missing, &active, &mut waiver_used)),
            (None, Some(_)) => Some(whole_object_diff(key, Change::Extra, &active, &mut waiver_used)),
            // Equal canonical bytes are equal objects: most objects never become values again.
            (Some(Stored::Content(ca)), Some(Stored::Content(cb))) if ca == cb => None,
            (Some(Stored::Content(ca)), Some(Stored::Content(cb))) => match (ca.to_value(), cb.to_value()) {
                (Ok(va), Ok(vb)) => content_diff(
                    key,
                    &va,
                    &vb,
                    semantics.kind(&key.group, &key.kind),
                    &active,
                    &mut waiver_used,
                    opts.ignore_secret_values,
                ),
                // Unreachable in practice (the bytes were serialized from values); if it ever
                // happens the object must not pass as equal.
                _ => Some(whole_object_diff(key, Change::Changed, &[], &mut [])),
            },
            // Presence on either side: existence is what is compared, and both exist.
            (Some(_), Some(_)) => None,
            (None, None) => None,
        };
        match diff {
            None => {
                if in_old && in_new {
                    entry.equal += 1;
                    summary.equal += 1;
                }
            }
            Some(d) => {
                if d.is_waived() {
                    entry.waived += 1;
                    summary.waived += 1;
                } else {
                    match d.change {
                        Change::Changed => {
                            entry.changed += 1;
                            summary.changed += 1;
                        }
                        Change::Missing => {
                            entry.missing += 1;
                            summary.missing += 1;
                        }
                        Change::Extra => {
                            entry.extra += 1;
                            summary.extra += 1;
                        }
                    }
                }
                objects.push(d);
            }
        }
    }

    let mut rule_warnings: Vec<RuleWarning> =
        semantics.warnings.iter().map(|m| RuleWarning::Semantics { message: m.clone() }).collect();
    for (i, rule) in rules.rules.iter().enumerate() {
        let used = old.rule_hits.get(i).copied().unwrap_or(0) + new.rule_hits.get(i).copied().unwrap_or(0);
        let type_level_skip = rules.rules[i].action == crate::rules::Action::Skip
            && rule.matcher.is_type_level()
            && (old.skipped_by_rule(i) || new.skipped_by_rule(i));
        // Built-in rules legitimately match nothing on many clusters; user rules must not.
        if used == 0 && !type_level_skip && matches!(rule.origin, Origin::File(_)) {
            rule_warnings
                .push(RuleWarning::RuleMatchedNothing { name: rule.name.clone(), origin: rule.origin.clone() });
        }
    }
    for (i, w) in rules.waivers.iter().enumerate() {
        if w.is_expired(opts.today) {
            rule_warnings.push(RuleWarning::WaiverExpired {
                waiver: w.describe(),
                expired: w.expires.unwrap_or(opts.today),
                origin: w.origin.clone(),
            });
        } else if !waiver_used[i] {
            rule_warnings.push(RuleWarning::WaiverMatchedNothing { waiver: w.describe(), origin: w.origin.clone() });
        }
    }

    let mut incomplete: Vec<(Side, Incomplete)> = Vec::new();
    incomplete.extend(old.incomplete.iter().cloned().map(|i| (Side::Old, i)));
    incomplete.extend(new.incomplete.iter().cloned().map(|i| (Side::New, i)));
    let mut excluded: Vec<(Side, Excluded)> = Vec::new();
    excluded.extend(old.excluded.iter().cloned().map(|e| (Side::Old, e)));
    excluded.extend(new.excluded.iter().cloned().map(|e| (Side::New, e)));

    // A kind not read completely must never look like "0 objects" in a report.
    for (side, i) in &incomplete {
        if let Some(kind) = &i.type_ref.kind {
            let entry = kinds.entry(GroupKind { group: i.type_ref.group.clone(), kind: kind.clone() }).or_default();
            match side {
                Side::Old => entry.incomplete_old = true,
                Side::New => entry.incomplete_new = true,
            }
        }
    }

    let mut unproven = Vec::new();
    if !opts.ignore_secret_values {
        if let Some(message) = crate::secrets::comparable(&old.info.secret_key, &new.info.secret_key) {
            let has_secrets =
                kinds.iter().any(|(gk, k)| gk.group.is_empty() && gk.kind == "Secret" && (k.old > 0 || k.new > 0));
            if has_secrets {
                unproven.push(Unproven { message });
            }
        }
    }

    let verdict = if !incomplete.is_empty() || !unproven.is_empty() {
        Verdict::Incomplete
    } else if summary.changed + summary.missing + summary.extra > 0 {
        Verdict::Different
    } else {
        Verdict::Equivalent
    };

    Comparison {
        verdict,
        old: old.info.clone(),
        new: new.info.clone(),
        summary,
        kinds,
        objects,
        incomplete,
        excluded,
        api_differences: api_differences(old, new),
        preferred_versions: preferred_versions(old, new),
        unserved_on_new: unserved_on_new(old, new),
        rule_warnings,
        unproven,
        profiles: rules.profiles.clone(),
    }
}

fn waiver_for<'a>(
    key: &ObjectKey,
    path: Option<&[String]>,
    active: &[(usize, &'a Waiver)],
    used: &mut [bool],
) -> Option<&'a Waiver> {
    let (i, w) = active.iter().find(|(_, w)| {
        w.matcher.matches_key(key)
            && match (&w.path, path) {
                (None, _) => true,
                (Some(p), Some(path)) => p.covers(path),
                (Some(_), None) => false,
            }
    })?;
    used[*i] = true;
    Some(w)
}

fn whole_object_diff(key: &ObjectKey, change: Change, active: &[(usize, &Waiver)], used: &mut [bool]) -> ObjectDiff {
    let waived = waiver_for(key, None, active, used).map(|w| w.reason.clone());
    ObjectDiff { key: key.clone(), change, fields: Vec::new(), patch: Vec::new(), waived }
}

fn content_diff(
    key: &ObjectKey,
    old: &Value,
    new: &Value,
    schema: Option<&crate::schema::Node>,
    active: &[(usize, &Waiver)],
    used: &mut [bool],
    ignore_secret_values: bool,
) -> Option<ObjectDiff> {
    if old == new {
        return None;
    }
    let d = value::diff_with(old, new, schema);
    let secret = is_secret(key);
    let mut fields = Vec::new();
    for mut change in d.changes {
        let path = change.key_path();
        let hidden = secret && is_secret_value_path(&path);
        if hidden && ignore_secret_values {
            continue;
        }
        if hidden {
            change.old = change.old.map(|_| Value::String(HIDDEN.into()));
            change.new = change.new.map(|_| Value::String(HIDDEN.into()));
        }
        let waived = waiver_for(key, Some(&path), active, used).map(|w| w.reason.clone());
        fields.push(FieldDiff { change, waived, hidden });
    }
    if fields.is_empty() {
        return None;
    }
    let patch = if secret { mask_secret_values(d.patch, ignore_secret_values) } else { d.patch };
    Some(ObjectDiff { key: key.clone(), change: Change::Changed, fields, patch, waived: None })
}

/// Replaces the values of ops touching Secret data, so the JSON report carries no value (not
/// even a digest) of a secret.
fn mask_secret_values(patch: Vec<PatchOperation>, drop_them: bool) -> Vec<PatchOperation> {
    let touches_data = |p: &json_patch::jsonptr::Pointer| {
        matches!(p.first().map(|t| t.decoded().into_owned()).as_deref(), Some("data" | "stringData"))
    };
    patch
        .into_iter()
        .filter_map(|op| match op {
            PatchOperation::Add(mut o) if touches_data(&o.path) => {
                if drop_them {
                    return None;
                }
                o.value = mask(&o.value);
                Some(PatchOperation::Add(o))
            }
            PatchOperation::Replace(mut o) if touches_data(&o.path) => {
                if drop_them {
                    return None;
                }
                o.value = mask(&o.value);
                Some(PatchOperation::Replace(o))
            }
            PatchOperation::Remove(o) if touches_data(&o.path) && drop_them => None,
            other => Some(other),
        })
        .collect()
}

/// Masks every string leaf (a whole `data` map may be added at once).
fn mask(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(m.iter().map(|(k, v)| (k.clone(), mask(v))).collect()),
        Value::Array(a) => Value::Array(a.iter().map(mask).collect()),
        _ => Value::String(HIDDEN.into()),
    }
}

fn api_differences(old: &Dump, new: &Dump) -> Vec<ApiDifference> {
    let set = |d: &Dump| -> BTreeSet<(String, String, String, String)> {
        d.served.iter().map(|t| (t.group.clone(), t.version.clone(), t.resource.clone(), t.kind.clone())).collect()
    };
    let (a, b) = (set(old), set(new));
    // Without a list of served APIs (an old archive, a failed discovery) nothing can be said.
    if a.is_empty() || b.is_empty() {
        return Vec::new();
    }
    let mut out = Vec::new();
    for (side, only) in [(Side::Old, a.difference(&b)), (Side::New, b.difference(&a))] {
        for (group, version, resource, kind) in only {
            out.push(ApiDifference {
                side,
                group: group.clone(),
                version: version.clone(),
                resource: resource.clone(),
                kind: kind.clone(),
            });
        }
    }
    out
}

fn preferred_versions(old: &Dump, new: &Dump) -> Vec<PreferredVersionDifference> {
    let by_resource = |types: &[crate::model::ApiType]| -> BTreeMap<(String, String), (String, String)> {
        types.iter().map(|t| ((t.group.clone(), t.resource.clone()), (t.version.clone(), t.kind.clone()))).collect()
    };
    let (old_pref, new_pref) = (by_resource(&old.preferred), by_resource(&new.preferred));
    let (old_read, new_read) = (by_resource(&old.listed), by_resource(&new.listed));
    let mut out = Vec::new();
    for (key, (ov, kind)) in &old_pref {
        let Some((nv, _)) = new_pref.get(key) else { continue };
        if ov == nv {
            continue;
        }
        out.push(PreferredVersionDifference {
            group: key.0.clone(),
            resource: key.1.clone(),
            kind: kind.clone(),
            old_preferred: ov.clone(),
            new_preferred: nv.clone(),
            old_read: old_read.get(key).map(|(v, _)| v.clone()),
            new_read: new_read.get(key).map(|(v, _)| v.clone()),
        });
    }
    out
}

fn unserved_on_new(old: &Dump, new: &Dump) -> Vec<UnservedOnNew> {
    // Without NEW's list of served APIs (an old archive, a failed discovery) nothing can be said.
    if new.served.is_empty() {
        return Vec::new();
    }
    let versions = |d: &Dump| -> BTreeMap<(String, String), (String, BTreeSet<String>)> {
        let mut m: BTreeMap<(String, String), (String, BTreeSet<String>)> = BTreeMap::new();
        for t in &d.served {
            let e = m.entry((t.group.clone(), t.resource.clone())).or_insert_with(|| (t.kind.clone(), BTreeSet::new()));
            e.1.insert(t.version.clone());
        }
        m
    };
    let (old_v, new_v) = (versions(old), versions(new));
    let mut out = Vec::new();
    for ((group, resource), (kind, ov)) in old_v {
        let nv = new_v.get(&(group.clone(), resource.clone())).map(|(_, v)| v.clone()).unwrap_or_default();
        if ov.iter().any(|v| nv.contains(v)) {
            continue;
        }
        // Compared objects only: an object a skip rule leaves out is not part of the migration.
        let objects: Vec<ObjectKey> = old
            .objects
            .iter()
            .filter(|(k, n)| k.group == group && k.kind == kind && !matches!(n, Stored::Skipped(_)))
            .map(|(k, _)| k.clone())
            .collect();
        if objects.is_empty() {
            continue;
        }
        out.push(UnservedOnNew {
            group,
            resource,
            kind,
            old_versions: ov.into_iter().collect(),
            new_versions: nv.into_iter().collect(),
            objects,
        });
    }
    out
}

#[cfg(test)]
mod api_version_tests {
    use super::*;
    use crate::dump::SourceKind;
    use crate::model::ApiType;
    use crate::secrets::KeyInfo;

    fn ty(version: &str) -> ApiType {
        ApiType {
            group: "x.io".into(),
            version: version.into(),
            resource: "widgets".into(),
            kind: "Widget".into(),
            namespaced: true,
        }
    }

    fn dump(served: &[&str], preferred: &str, listed: &str, objects: &[&str]) -> Dump {
        Dump {
            info: SourceInfo {
                kind: SourceKind::Context,
                name: "c".into(),
                server: "s".into(),
                kubernetes_version: None,
                time: String::new(),
                secret_key: KeyInfo::Keyed { fingerprint: "run:x".into() },
                origin_context: None,
            },
            objects: objects
                .iter()
                .map(|n| {
                    let key = ObjectKey {
                        group: "x.io".into(),
                        kind: "Widget".into(),
                        namespace: Some("a".into()),
                        name: n.to_string(),
                    };
                    (key, Stored::from(crate::normalize::Normalized::Content(serde_json::json!({"spec": {"size": 1}}))))
                })
                .collect(),
            incomplete: Vec::new(),
            excluded: Vec::new(),
            served: served.iter().map(|v| ty(v)).collect(),
            preferred: vec![ty(preferred)],
            listed: vec![ty(listed)],
            rule_hits: Vec::new(),
            type_skips: BTreeSet::new(),
        }
    }

    #[test]
    fn a_moved_preferred_version_read_in_a_common_version_is_not_across_versions() {
        let old = dump(&["v1beta1", "v1"], "v1beta1", "v1", &["w"]);
        let new = dump(&["v1"], "v1", "v1", &["w"]);
        let p = preferred_versions(&old, &new);
        assert_eq!(p.len(), 1);
        assert_eq!((p[0].old_preferred.as_str(), p[0].new_preferred.as_str()), ("v1beta1", "v1"));
        assert_eq!(p[0].across_versions(), None);
        assert!(unserved_on_new(&old, &new).is_empty(), "v1 is served by both");
    }

    #[test]
    fn objects_only_under_versions_new_does_not_serve_are_listed() {
        let old = dump(&["v1alpha1"], "v1alpha1", "v1alpha1", &["w"]);
        let new = dump(&["v1"], "v1", "v1", &["w"]);
        assert_eq!(preferred_versions(&old, &new)[0].across_versions(), Some(("v1alpha1", "v1")));
        let u = unserved_on_new(&old, &new);
        assert_eq!(u.len(), 1);
        assert_eq!(
            (u[0].old_versions.clone(), u[0].new_versions.clone()),
            (vec!["v1alpha1".into()], vec!["v1".into()])
        );
        assert_eq!(u[0].objects.iter().map(|k| k.name.as_str()).collect::<Vec<_>>(), ["w"]);
        // A type with no objects on OLD strands nothing.
        assert!(unserved_on_new(&dump(&["v1alpha1"], "v1alpha1", "v1alpha1", &[]), &new).is_empty());
    }
}
