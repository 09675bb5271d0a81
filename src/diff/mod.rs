//! Pairs the objects of two sides by key, counts per kind, diffs content, applies waivers and
//! decides the verdict. Pure: everything it needs arrives as plain values.

pub mod value;

use std::collections::{BTreeMap, BTreeSet};

use json_patch::PatchOperation;
use serde_json::Value;
use time::Date;

use crate::dump::{Dump, Kept, SourceInfo, Stored, TypeCoverage};
use crate::model::{Excluded, GroupKind, Incomplete, ObjectKey, Side};
use crate::rules::{Origin, RuleId, RuleSet, Waiver};
use crate::schema::Semantics;
pub use value::{FieldChange, Segment};

pub use crate::attribution::WrittenBy;

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
    /// Who last wrote the field on each side (`attribution`).
    pub written_by: WrittenBy,
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
    /// For `Missing`/`Extra`: the object's managers on the side where it exists.
    pub written_by: WrittenBy,
    /// For `Missing`/`Extra`: why the difference is expected (`absence`), still reported.
    pub explained: Option<String>,
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
    /// Missing (extra) objects whose absence is explained (`absence`): still counted in
    /// `missing` (`extra`).
    pub missing_explained: usize,
    pub extra_explained: usize,
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
    /// Missing and extra objects whose absence is explained (still counted above).
    pub explained: usize,
}

impl Summary {
    /// The differences nothing explains: changed, and missing or extra without an explanation.
    pub fn unexplained(&self) -> usize {
        self.changed + self.missing + self.extra - self.explained.min(self.missing + self.extra)
    }
}

impl KindSummary {
    pub fn unexplained(&self) -> usize {
        self.changed + self.missing + self.extra
            - (self.missing_explained + self.extra_explained).min(self.missing + self.extra)
    }
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
    /// A platform not detected on a side because the filters (or a rule) left its markers
    /// unread, while differences there are objects it writes (`platform::separate`).
    PlatformNotDetected {
        side: crate::model::Side,
        /// `eks`: what `--platform` takes.
        platform: String,
        display_name: String,
        /// The filter or rule that left the markers unread: `--kinds`, `-n`, `rule NAME`.
        by: String,
        differences: usize,
        example: crate::model::ObjectKey,
    },
}

impl RuleWarning {
    /// A stable code per kind of warning, for machines (`warning_entries[].code` in JSON).
    pub fn code(&self) -> &'static str {
        match self {
            RuleWarning::RuleMatchedNothing { .. } => "rule-matched-nothing",
            RuleWarning::WaiverMatchedNothing { .. } => "waiver-matched-nothing",
            RuleWarning::WaiverExpired { .. } => "waiver-expired",
            RuleWarning::Semantics { .. } => "schema-conservative",
            RuleWarning::PlatformNotDetected { .. } => "platform-not-detected",
        }
    }

    /// The rules file or profile the warning is about, if any.
    pub fn origin(&self) -> Option<&Origin> {
        match self {
            RuleWarning::RuleMatchedNothing { origin, .. }
            | RuleWarning::WaiverMatchedNothing { origin, .. }
            | RuleWarning::WaiverExpired { origin, .. } => Some(origin),
            RuleWarning::Semantics { .. } | RuleWarning::PlatformNotDetected { .. } => None,
        }
    }
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
            RuleWarning::PlatformNotDetected { side, platform, display_name, by, differences, example } => write!(
                f,
                "{display_name} was not detected on {side}: its markers were not read ({by}), so {differences} \
                 difference(s) there that {display_name} writes (e.g. {example}) count as the team's; if {side} runs \
                 {display_name}, name it with --platform {side}={platform}"
            ),
        }
    }
}

/// Why the verdict is incomplete although every type was read (e.g. secret digests made under
/// different keys cannot prove equality, or nothing at all was compared).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unproven {
    /// A short fragment for the headline: `secret values cannot be proven equal`.
    pub headline: String,
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
    /// Every discovered resource of each side: read (with its count), excluded, or incomplete.
    pub coverage_old: Vec<TypeCoverage>,
    pub coverage_new: Vec<TypeCoverage>,
    /// Every rule in force and what it did on each side.
    pub rules: Vec<RuleAccount>,
    /// The objects kept as read, explained step by step (`--show-suppressed`, `kparity explain`).
    pub explained: Vec<crate::explain::ObjectExplanation>,
    /// Every waiver of the rules files, with whether it accepted anything.
    pub waivers: Vec<WaiverUse>,
    /// Each side's platforms and the differences they explain (`platform::separate`).
    pub platform: crate::platform::PlatformReport,
}

/// A waiver as reports list it: what it covers, why, until when, and whether it was used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WaiverUse {
    pub covers: String,
    pub reason: String,
    pub expires: Option<Date>,
    pub origin: Origin,
    pub expired: bool,
    pub used: bool,
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

/// Objects of the core `secrets` resource are keyed as kind `Secret` whatever kind discovery
/// reported (`dump::key_of`), so the key decides.
fn is_secret(key: &ObjectKey) -> bool {
    key.group.is_empty() && key.kind == crate::secrets::SECRET_KIND
}

const HIDDEN: &str = "(value hidden)";

/// Compares two dumps under `rules`, without schemas (every list matched by index).
pub fn compare(old: &Dump, new: &Dump, rules: &RuleSet, opts: CompareOptions) -> Comparison {
    compare_with(old, new, rules, opts, &Semantics::default())
}

/// Compares two dumps under `rules` and the field semantics both were normalized under: pairs
/// the objects, then says what the rules did, what could not be read, what is unproven, and the
/// verdict.
pub fn compare_with(
    old: &Dump,
    new: &Dump,
    rules: &RuleSet,
    opts: CompareOptions,
    semantics: &Semantics,
) -> Comparison {
    let hpa_rule = rules.profiles.iter().any(|p| p == "core");
    let paired = pair_objects(old, new, rules, opts, semantics);
    let Paired { mut kinds, objects, summary, waiver_used, hpa_accepted, rule_skipped } = paired;
    let rule_warnings = rule_warnings(old, new, rules, opts, semantics, &waiver_used);

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
    let unproven = unproven(old, new, &kinds, &summary, opts);
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
        coverage_old: old.coverage.clone(),
        coverage_new: new.coverage.clone(),
        rules: rule_accounts(old, new, rules, &rule_skipped, hpa_rule.then_some(hpa_accepted)),
        explained: crate::explain::explain_all(old, new, rules),
        waivers: rules
            .waivers
            .iter()
            .zip(&waiver_used)
            .map(|(w, used)| WaiverUse {
                covers: w.describe(),
                reason: w.reason.clone(),
                expires: w.expires,
                origin: w.origin.clone(),
                expired: w.is_expired(opts.today),
                used: *used,
            })
            .collect(),
        platform: Default::default(),
    }
}

/// What pairing the objects of both sides found.
struct Paired {
    kinds: BTreeMap<GroupKind, KindSummary>,
    objects: Vec<ObjectDiff>,
    summary: Summary,
    /// Per waiver of `RuleSet::waivers`, whether it covered a difference.
    waiver_used: Vec<bool>,
    /// Fields the attribution rule `hpa-replicas` accepted, per side.
    hpa_accepted: (usize, usize),
    /// Objects each skip rule left out, per side.
    rule_skipped: BTreeMap<RuleId, (usize, usize)>,
}

/// Pairs every object by key and diffs each pair: skipped pairs are counted per rule, the
/// others compared (whole-object for missing/extra, field by field for changed), waived,
/// explained and attributed, and counted per kind.
fn pair_objects(old: &Dump, new: &Dump, rules: &RuleSet, opts: CompareOptions, semantics: &Semantics) -> Paired {
    let mut paired = Paired {
        kinds: BTreeMap::new(),
        objects: Vec::new(),
        summary: Summary::default(),
        waiver_used: vec![false; rules.waivers.len()],
        hpa_accepted: (0, 0),
        rule_skipped: BTreeMap::new(),
    };
    let active: Vec<(usize, &Waiver)> =
        rules.waivers.iter().enumerate().filter(|(_, w)| !w.is_expired(opts.today)).collect();
    // The attribution rule `hpa-replicas` belongs to the `core` profile: off with it.
    let hpa_rule = rules.profiles.iter().any(|p| p == "core");
    let velero_on = rules.profiles.iter().any(|p| p == "velero");
    let keys: BTreeSet<&ObjectKey> = old.objects.keys().chain(new.objects.keys()).collect();
    for key in keys {
        let (a, b) = (old.objects.get(key), new.objects.get(key));
        let entry = paired.kinds.entry(key.group_kind()).or_default();
        // A skip rule decides for a pair only when it matches every object of the pair: an
        // object it matches on one side only (a FlowSchema customized on one side, a bare Pod
        // beside an owned one) differs in what the rule looks at, so the pair is compared in full.
        let excluded = a.is_none_or(Stored::is_skipped) && b.is_none_or(Stored::is_skipped);
        if excluded {
            entry.skipped_old += usize::from(a.is_some());
            entry.skipped_new += usize::from(b.is_some());
            if let Some(Kept::Skipped(rule)) = a.map(|s| s.kept) {
                paired.rule_skipped.entry(rule).or_default().0 += 1;
            }
            if let Some(Kept::Skipped(rule)) = b.map(|s| s.kept) {
                paired.rule_skipped.entry(rule).or_default().1 += 1;
            }
            continue;
        }
        let (in_old, in_new) = (a.is_some(), b.is_some());
        entry.old += usize::from(in_old);
        entry.new += usize::from(in_new);
        paired.summary.objects_old += usize::from(in_old);
        paired.summary.objects_new += usize::from(in_new);

        let mut diff = diff_pair(key, (a, b), (old, new), &active, &mut paired.waiver_used, opts, semantics);
        if let Some(d) = diff.as_mut().filter(|d| d.change != Change::Changed) {
            let one_side = match (a, b) {
                (Some(s), None) => Some((s, true)),
                (None, Some(s)) => Some((s, false)),
                _ => None,
            };
            if let Some((content, missing)) = one_side
                && let Ok(v) = content.content().to_value()
            {
                d.explained = crate::absence::explain(key, &v, missing, old, new, velero_on);
            }
        }
        if let Some(d) = diff.as_mut() {
            let decode = |s: Option<&Stored>| crate::attribution::decode_json(&s?.attribution()?.json()?);
            let accepted = crate::attribution::attribute(d, decode(a).as_ref(), decode(b).as_ref(), hpa_rule);
            paired.hpa_accepted.0 += accepted.0;
            paired.hpa_accepted.1 += accepted.1;
        }
        match diff {
            None if in_old && in_new => {
                entry.equal += 1;
                paired.summary.equal += 1;
            }
            None => {}
            Some(d) => {
                count_difference(entry, &mut paired.summary, &d);
                paired.objects.push(d);
            }
        }
    }
    paired
}

/// The difference of one pair (either side may be absent), or `None` when they are the same
/// or an absence is unknown (its kind was not read completely on that side).
fn diff_pair(
    key: &ObjectKey,
    (a, b): (Option<&Stored>, Option<&Stored>),
    (old, new): (&Dump, &Dump),
    active: &[(usize, &Waiver)],
    waiver_used: &mut [bool],
    opts: CompareOptions,
    semantics: &Semantics,
) -> Option<ObjectDiff> {
    // Kinds not read completely on a side: an object "absent" there is unknown, not missing.
    let unread = |d: &Dump| {
        d.incomplete
            .iter()
            .any(|i| i.type_ref.group == key.group && i.type_ref.kind.as_ref().is_none_or(|k| *k == key.kind))
    };
    // Waivers match the objects as compared, on every side where the object exists.
    let side_values = || -> Vec<Value> {
        if active.is_empty() {
            return Vec::new();
        }
        [a, b].into_iter().flatten().filter_map(|s| s.content().to_value().ok()).collect()
    };
    match (a, b) {
        (Some(_), None) if unread(new) => None,
        (None, Some(_)) if unread(old) => None,
        (Some(_), None) => Some(whole_object_diff(key, Change::Missing, &side_values(), active, waiver_used)),
        (None, Some(_)) => Some(whole_object_diff(key, Change::Extra, &side_values(), active, waiver_used)),
        // A presence rule matching both objects: existence is what is compared, and both exist.
        (Some(sa), Some(sb)) if matches!((sa.kept, sb.kept), (Kept::Presence(_), Kept::Presence(_))) => None,
        // Equal canonical bytes are equal objects: most objects never become values again.
        (Some(sa), Some(sb)) if sa.content() == sb.content() => None,
        (Some(sa), Some(sb)) => match (sa.content().to_value(), sb.content().to_value()) {
            (Ok(va), Ok(vb)) => content_diff(
                key,
                &va,
                &vb,
                semantics.kind(&key.group, &key.kind),
                active,
                waiver_used,
                opts.ignore_secret_values,
            ),
            // Unreachable in practice (the bytes were serialized from values); if it ever
            // happens the object must not pass as equal.
            _ => Some(whole_object_diff(key, Change::Changed, &[], &[], &mut [])),
        },
        (None, None) => None,
    }
}

/// Counts one difference in its kind's and the run's summary.
fn count_difference(entry: &mut KindSummary, summary: &mut Summary, d: &ObjectDiff) {
    if d.is_waived() {
        entry.waived += 1;
        summary.waived += 1;
        return;
    }
    match d.change {
        Change::Changed => {
            entry.changed += 1;
            summary.changed += 1;
        }
        Change::Missing => {
            entry.missing += 1;
            summary.missing += 1;
            entry.missing_explained += usize::from(d.explained.is_some());
        }
        Change::Extra => {
            entry.extra += 1;
            summary.extra += 1;
            entry.extra_explained += usize::from(d.explained.is_some());
        }
    }
    if d.change != Change::Changed && d.explained.is_some() {
        summary.explained += 1;
    }
}

/// Schemas compared conservatively, user rules that matched nothing (built-in rules
/// legitimately match nothing on many clusters; a user's rule that does is a typo), expired
/// waivers and waivers that covered no difference.
fn rule_warnings(
    old: &Dump,
    new: &Dump,
    rules: &RuleSet,
    opts: CompareOptions,
    semantics: &Semantics,
    waiver_used: &[bool],
) -> Vec<RuleWarning> {
    let mut out: Vec<RuleWarning> =
        semantics.warnings.iter().map(|m| RuleWarning::Semantics { message: m.clone() }).collect();
    for rule in rules.rules() {
        let used = old.rule_hits.get(rule.id) + new.rule_hits.get(rule.id);
        let type_level_skip = rule.action == crate::rules::Action::Skip
            && rule.matcher.is_type_level()
            && (old.skipped_by_rule(rule.id) || new.skipped_by_rule(rule.id));
        if used == 0 && !type_level_skip && matches!(rule.origin, Origin::File(_)) {
            out.push(RuleWarning::RuleMatchedNothing { name: rule.name.clone(), origin: rule.origin.clone() });
        }
    }
    for (w, used) in rules.waivers.iter().zip(waiver_used) {
        if w.is_expired(opts.today) {
            out.push(RuleWarning::WaiverExpired {
                waiver: w.describe(),
                expired: w.expires.unwrap_or(opts.today),
                origin: w.origin.clone(),
            });
        } else if !used {
            out.push(RuleWarning::WaiverMatchedNothing { waiver: w.describe(), origin: w.origin.clone() });
        }
    }
    out
}

/// Why a verdict cannot be `equivalent` although every type was read: secret values digested
/// under keys that cannot be compared, or nothing compared at all.
fn unproven(
    old: &Dump,
    new: &Dump,
    kinds: &BTreeMap<GroupKind, KindSummary>,
    summary: &Summary,
    opts: CompareOptions,
) -> Vec<Unproven> {
    let mut out = Vec::new();
    if !opts.ignore_secret_values
        && let Some(message) = crate::secrets::comparable(&old.info.secret_key, &new.info.secret_key)
    {
        let has_secrets = kinds
            .iter()
            .any(|(gk, k)| gk.group.is_empty() && gk.kind == crate::secrets::SECRET_KIND && (k.old > 0 || k.new > 0));
        if has_secrets {
            out.push(Unproven { headline: "secret values cannot be proven equal".into(), message });
        }
    }
    // Nothing is proven by nothing: filters that leave no object, or two empty sides, compare
    // nothing, and "no differences among zero objects" is no evidence of parity.
    let compared = summary.equal + summary.changed + summary.missing + summary.extra + summary.waived;
    if compared == 0 {
        out.push(Unproven {
            headline: "nothing was compared".into(),
            message: "no object was compared on either side (the filters or rules leave nothing, or both sides \
                      are empty): zero objects prove nothing"
                .into(),
        });
    }
    out
}

/// What one rule did on each side (old, new), so that nothing is hidden silently.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleAccount {
    pub name: String,
    pub origin: Origin,
    /// `skip`, `drop`, `presence`, `digest`, `unordered`, or `accept` (attribution rules).
    pub action: &'static str,
    /// Objects read but left out of the comparison by this rule.
    pub skipped: (usize, usize),
    /// Kinds not even listed because of this rule (a type-level skip): their objects were not read.
    pub kinds_skipped: (usize, usize),
    /// Fields removed (drop) or accepted (attribution rules) by this rule.
    pub fields_dropped: (usize, usize),
    /// Objects the rule took effect on, whatever its action.
    pub objects: (usize, usize),
}

impl RuleAccount {
    /// True when the rule changed anything on either side.
    pub fn acted(&self) -> bool {
        let any = |p: (usize, usize)| p.0 + p.1 > 0;
        any(self.skipped) || any(self.kinds_skipped) || any(self.fields_dropped) || any(self.objects)
    }
}

fn rule_accounts(
    old: &Dump,
    new: &Dump,
    rules: &RuleSet,
    skipped: &BTreeMap<RuleId, (usize, usize)>,
    hpa_accepted: Option<(usize, usize)>,
) -> Vec<RuleAccount> {
    let dropped = |d: &Dump, rule: RuleId| d.provenance.fields_dropped.get(rule);
    let hits = |d: &Dump, rule: RuleId| d.rule_hits.get(rule);
    let kinds = |d: &Dump, name: &str| {
        let by = format!("rule {name}");
        d.excluded.iter().filter(|e| e.by == by).count()
    };
    let mut out: Vec<RuleAccount> = rules
        .rules()
        .iter()
        .map(|r| RuleAccount {
            name: r.name.clone(),
            origin: r.origin.clone(),
            action: crate::explain::action_name(&r.action),
            skipped: skipped.get(&r.id).copied().unwrap_or_default(),
            kinds_skipped: (kinds(old, &r.name), kinds(new, &r.name)),
            fields_dropped: (dropped(old, r.id), dropped(new, r.id)),
            objects: (hits(old, r.id), hits(new, r.id)),
        })
        .collect();
    if let Some(accepted) = hpa_accepted {
        out.push(RuleAccount {
            name: crate::attribution::HPA_RULE.into(),
            origin: Origin::Profile("core".into()),
            action: "accept",
            skipped: (0, 0),
            kinds_skipped: (0, 0),
            fields_dropped: accepted,
            objects: accepted,
        });
    }
    out
}

/// The first active waiver accepting a difference at `path` (`None`: the whole object) of `key`.
/// Its `match` is evaluated in full against the objects as compared (after the rules), and must
/// hold on every side where the object exists: a waiver for `labels: team=search` does not
/// accept another team's object, nor an object that left the team on one side.
fn waiver_for<'a>(
    key: &ObjectKey,
    path: Option<&[String]>,
    objects: &[Value],
    active: &[(usize, &'a Waiver)],
    used: &mut [bool],
) -> Option<&'a Waiver> {
    let (i, w) = active.iter().find(|(_, w)| {
        w.matcher.matches_key(key)
            && objects.iter().all(|obj| w.matcher.matches_object(key, obj))
            && match (&w.path, path) {
                (None, _) => true,
                (Some(p), Some(path)) => p.covers(path),
                (Some(_), None) => false,
            }
    })?;
    used[*i] = true;
    Some(w)
}

fn whole_object_diff(
    key: &ObjectKey,
    change: Change,
    objects: &[Value],
    active: &[(usize, &Waiver)],
    used: &mut [bool],
) -> ObjectDiff {
    let waived = waiver_for(key, None, objects, active, used).map(|w| w.reason.clone());
    ObjectDiff {
        key: key.clone(),
        change,
        fields: Vec::new(),
        patch: Vec::new(),
        waived,
        written_by: WrittenBy::default(),
        explained: None,
    }
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
    let secret = is_secret(key);
    // `--ignore-secret-values` ignores values only: which keys a Secret holds, and its type,
    // are still compared.
    let (old, new) = if secret && ignore_secret_values {
        (std::borrow::Cow::Owned(ignore_values(old)), std::borrow::Cow::Owned(ignore_values(new)))
    } else {
        (std::borrow::Cow::Borrowed(old), std::borrow::Cow::Borrowed(new))
    };
    if old == new {
        return None;
    }
    let d = value::diff_with(&old, &new, schema);
    let objects = [old.into_owned(), new.into_owned()];
    let mut fields = Vec::new();
    for mut change in d.changes {
        let path = change.key_path();
        // A Secret's values and annotations are never printed (digests neither).
        let hidden = secret && crate::secrets::secret_path_is_hidden(&path);
        if secret {
            // A change at or above a hidden field (e.g. `metadata` added whole) carries it
            // inside its value: mask what lies below.
            change.old = change.old.map(|v| mask_below(&path, v));
            change.new = change.new.map(|v| mask_below(&path, v));
        }
        let waived = waiver_for(key, Some(&path), &objects, active, used).map(|w| w.reason.clone());
        fields.push(FieldDiff { change, waived, hidden, written_by: WrittenBy::default() });
    }
    if fields.is_empty() {
        return None;
    }
    // Values were made constant above under --ignore-secret-values, so no op is dropped: an
    // added or removed key still shows, masked.
    let patch = if secret { mask_secret_values(d.patch) } else { d.patch };
    Some(ObjectDiff {
        key: key.clone(),
        change: Change::Changed,
        fields,
        patch,
        waived: None,
        written_by: WrittenBy::default(),
        explained: None,
    })
}

/// A Secret with every value of `data` (and `stringData`), and of every digested annotation,
/// replaced by one constant: keys stay, so which keys a Secret holds is still compared.
fn ignore_values(secret: &Value) -> Value {
    let mut v = secret.clone();
    for field in ["data", "stringData"] {
        if let Some(Value::Object(m)) = v.get_mut(field) {
            for val in m.values_mut() {
                *val = Value::String(HIDDEN.into());
            }
        }
    }
    if let Some(Value::Object(m)) = v.pointer_mut("/metadata/annotations") {
        for (k, val) in m.iter_mut() {
            let path = ["metadata".to_string(), "annotations".to_string(), k.clone()];
            if crate::secrets::secret_path_is_digested(&path) {
                *val = Value::String(HIDDEN.into());
            }
        }
    }
    v
}

/// Replaces the values of ops touching a Secret's values or annotations, so the JSON report
/// carries no part of them (not even a digest).
fn mask_secret_values(patch: Vec<PatchOperation>) -> Vec<PatchOperation> {
    let tokens =
        |p: &json_patch::jsonptr::Pointer| -> Vec<String> { p.tokens().map(|t| t.decoded().into_owned()).collect() };
    patch
        .into_iter()
        .map(|op| match op {
            PatchOperation::Add(mut o) => {
                o.value = mask_below(&tokens(&o.path), o.value);
                PatchOperation::Add(o)
            }
            PatchOperation::Replace(mut o) => {
                o.value = mask_below(&tokens(&o.path), o.value);
                PatchOperation::Replace(o)
            }
            PatchOperation::Test(mut o) => {
                o.value = mask_below(&tokens(&o.path), o.value);
                PatchOperation::Test(o)
            }
            other => other,
        })
        .collect()
}

/// Masks, within `value` found at `path` of a Secret, every part that is hidden.
fn mask_below(path: &[String], value: Value) -> Value {
    if crate::secrets::secret_path_is_hidden(path) {
        return mask(&value);
    }
    match value {
        Value::Object(m) => Value::Object(
            m.into_iter()
                .map(|(k, v)| {
                    let mut p = path.to_vec();
                    p.push(k.clone());
                    let v = mask_below(&p, v);
                    (k, v)
                })
                .collect(),
        ),
        other => other,
    }
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
            .filter(|(k, n)| k.group == group && k.kind == kind && !n.is_skipped())
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
            rule_hits: Default::default(),
            type_skips: BTreeSet::new(),
            coverage: Vec::new(),
            filter_misses: Default::default(),
            provenance: Default::default(),
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

    #[test]
    fn no_part_of_a_secrets_annotations_or_values_reaches_field_changes_or_patches() {
        let key = ObjectKey { group: "".into(), kind: "Secret".into(), namespace: Some("a".into()), name: "s".into() };
        let old = serde_json::json!({"metadata": {"labels": {"app": "x"}}, "data": {"p": "hmac-sha256:old"}, "type": "Opaque"});
        let new = serde_json::json!({
            "metadata": {"labels": {"app": "x"}, "annotations": {"kapp.k14s.io/original": "hmac-sha256:canary", "kubernetes.io/service-account.name": "canary-sa"}},
            "data": {"p": "hmac-sha256:new", "q": "hmac-sha256:canary2"},
            "type": "kubernetes.io/basic-auth"
        });
        for ignore in [false, true] {
            let d = content_diff(&key, &old, &new, None, &[], &mut [], ignore).unwrap();
            let text = format!("{:?} {}", d.fields, serde_json::to_string(&d.patch).unwrap());
            assert!(!text.contains("canary") && !text.contains("hmac-sha256"), "{text}");
            // What is not secret still shows.
            assert!(text.contains("kubernetes.io/basic-auth"), "{text}");
        }
    }
}

#[cfg(test)]
mod rule_soundness_tests {
    use super::*;
    use crate::dump::SourceKind;
    use crate::normalize::normalize;
    use crate::rules::parse_rule_file;
    use crate::secrets::KeyInfo;
    use serde_json::json;

    fn rules(text: &str) -> RuleSet {
        let f = parse_rule_file(text, Origin::File("rules.yaml".into())).unwrap();
        RuleSet::new(f.rules, f.waivers)
    }

    fn key(kind: &str, name: &str) -> ObjectKey {
        let group = if kind == "Deployment" { "apps" } else { "" };
        ObjectKey { group: group.into(), kind: kind.into(), namespace: Some("ns".into()), name: name.into() }
    }

    fn dump(objects: &[(&ObjectKey, Value)], rules: &RuleSet) -> Dump {
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
                .map(|(k, v)| ((*k).clone(), Stored::from(normalize(k, v.clone(), rules).normalized)))
                .collect(),
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

    fn compare_with(
        old: &[(&ObjectKey, Value)],
        new: &[(&ObjectKey, Value)],
        rules_text: &str,
        ignore_secret_values: bool,
    ) -> Comparison {
        let r = rules(rules_text);
        let opts = CompareOptions { today: time::macros::date!(2026 - 11 - 24), ignore_secret_values };
        compare(&dump(old, &r), &dump(new, &r), &r, opts)
    }

    /// Each differing object as `change name [waived]` and its field paths.
    fn lines(c: &Comparison) -> Vec<String> {
        c.objects
            .iter()
            .map(|o| {
                let fields: Vec<String> = o
                    .fields
                    .iter()
                    .map(|f| {
                        format!("{}{}", f.change.display_path(), if f.waived.is_some() { " (waived)" } else { "" })
                    })
                    .collect();
                format!(
                    "{} {}{} {}",
                    o.change.as_str(),
                    o.key.name,
                    if o.waived.is_some() { " (waived)" } else { "" },
                    fields.join(", ")
                )
                .trim_end()
                .to_string()
            })
            .collect()
    }

    fn labelled(team: &str, image: &str) -> Value {
        json!({"metadata": {"name": "x", "labels": {"team": team}}, "spec": {"image": image}})
    }

    const TEAM_WAIVERS: &str = "waivers:\n  - match: {kind: Deployment, labels: team=search}\n    reason: search moves later\n  - match: {kind: Deployment, labels: team=search}\n    path: /spec\n    reason: search image pinned\n";

    #[test]
    fn a_waiver_with_labels_waives_only_objects_carrying_them() {
        let (s, a) = (key("Deployment", "search"), key("Deployment", "ads"));
        // Missing objects: only the search team's is waived.
        let c = compare_with(&[(&s, labelled("search", "1")), (&a, labelled("ads", "1"))], &[], TEAM_WAIVERS, false);
        assert_eq!(lines(&c), ["missing ads", "missing search (waived)"]);
        assert_eq!(c.verdict, Verdict::Different);
        // Changed field: waived for search only.
        let c = compare_with(
            &[(&s, labelled("search", "1")), (&a, labelled("ads", "1"))],
            &[(&s, labelled("search", "2")), (&a, labelled("ads", "2"))],
            TEAM_WAIVERS,
            false,
        );
        assert_eq!(lines(&c), ["changed ads spec.image", "changed search spec.image (waived)"]);
        // An object that left the team on one side is not the team's on every side.
        let c = compare_with(&[(&s, labelled("search", "1"))], &[(&s, labelled("ads", "2"))], TEAM_WAIVERS, false);
        assert_eq!(lines(&c), ["changed search metadata.labels.team, spec.image"]);
        // Only the search object differs: everything is waived.
        let c = compare_with(&[(&s, labelled("search", "1"))], &[], TEAM_WAIVERS, false);
        assert_eq!(c.verdict, Verdict::Equivalent);
        // Only another team's object differs: the waiver matched nothing, and says so.
        let c = compare_with(&[(&a, labelled("ads", "1"))], &[], TEAM_WAIVERS, false);
        assert_eq!(c.verdict, Verdict::Different);
        assert_eq!(c.rule_warnings.iter().filter(|w| matches!(w, RuleWarning::WaiverMatchedNothing { .. })).count(), 2);
    }

    #[test]
    fn a_waiver_with_fields_and_owner_is_evaluated_in_full() {
        let d = key("Deployment", "web");
        let w = "waivers:\n  - match: {kind: Deployment, fields: {/spec/paused: \"true\"}, ownedBy: Rollout}\n    reason: paused rollouts move later\n";
        let owned = |paused: bool| json!({"metadata": {"name": "web", "ownerReferences": [{"kind": "Rollout", "name": "r", "controller": true}]}, "spec": {"paused": paused}});
        assert_eq!(lines(&compare_with(&[(&d, owned(true))], &[], w, false)), ["missing web (waived)"]);
        assert_eq!(lines(&compare_with(&[(&d, owned(false))], &[], w, false)), ["missing web"]);
        let bare = json!({"metadata": {"name": "web"}, "spec": {"paused": true}});
        assert_eq!(lines(&compare_with(&[(&d, bare)], &[], w, false)), ["missing web"]);
    }

    const APF_SKIP: &str = "rules:\n  - name: apf\n    why: stock\n    match: {annotations: \"apf.kubernetes.io/autoupdate-spec=true\"}\n    skip: true\n";

    fn flow(autoupdate: &str, precedence: u32) -> Value {
        json!({"metadata": {"name": "fs", "annotations": {"apf.kubernetes.io/autoupdate-spec": autoupdate}}, "spec": {"matchingPrecedence": precedence}})
    }

    #[test]
    fn a_skip_matching_one_side_only_compares_the_pair_in_full() {
        let k = key("FlowSchema", "fs");
        let c = compare_with(&[(&k, flow("true", 1000))], &[(&k, flow("false", 10))], APF_SKIP, false);
        assert_eq!(
            lines(&c),
            ["changed fs metadata.annotations[\"apf.kubernetes.io/autoupdate-spec\"], spec.matchingPrecedence"]
        );
        assert_eq!(c.verdict, Verdict::Different);
        assert_eq!((c.kinds[&k.group_kind()].old, c.kinds[&k.group_kind()].new), (1, 1));
        // Matching both sides: excluded on both, whatever the content.
        let c = compare_with(&[(&k, flow("true", 1000))], &[(&k, flow("true", 10))], APF_SKIP, false);
        assert!(lines(&c).is_empty());
        assert_eq!((c.kinds[&k.group_kind()].skipped_old, c.kinds[&k.group_kind()].skipped_new), (1, 1));
        // Matching the only side where the object exists: excluded, not missing.
        let c = compare_with(&[(&k, flow("true", 1000))], &[], APF_SKIP, false);
        assert!(lines(&c).is_empty());
        // Not matching the only side: a missing object as ever.
        let c = compare_with(&[(&k, flow("false", 1000))], &[], APF_SKIP, false);
        assert_eq!(lines(&c), ["missing fs"]);
    }

    #[test]
    fn a_presence_rule_matching_one_side_only_compares_the_pair_in_full() {
        let k = key("ConfigMap", "cm");
        let r = "rules:\n  - name: p\n    why: w\n    match: {labels: generated=true}\n    presence: true\n";
        let cm = |generated: &str, v: &str| json!({"metadata": {"name": "cm", "labels": {"generated": generated}}, "data": {"k": v}});
        assert!(lines(&compare_with(&[(&k, cm("true", "1"))], &[(&k, cm("true", "2"))], r, false)).is_empty());
        assert_eq!(
            lines(&compare_with(&[(&k, cm("true", "1"))], &[(&k, cm("false", "2"))], r, false)),
            ["changed cm data.k, metadata.labels.generated"]
        );
        assert_eq!(lines(&compare_with(&[(&k, cm("true", "1"))], &[], r, false)), ["missing cm"]);
    }

    fn secret(ty: &str, data: Value) -> Value {
        json!({"metadata": {"name": "s"}, "type": ty, "data": data})
    }

    #[test]
    fn ignoring_secret_values_still_compares_keys_and_type() {
        let k = key("Secret", "s");
        let old = secret("Opaque", json!({"user": "d1", "password": "d2"}));
        // Values only: quiet.
        let c = compare_with(
            &[(&k, old.clone())],
            &[(&k, secret("Opaque", json!({"user": "d3", "password": "d4"})))],
            "",
            true,
        );
        assert!(lines(&c).is_empty());
        assert_eq!(c.verdict, Verdict::Equivalent);
        // A key removed and one added: shown, values hidden.
        let c = compare_with(
            &[(&k, old.clone())],
            &[(&k, secret("Opaque", json!({"user": "d3", "token": "d5"})))],
            "",
            true,
        );
        assert_eq!(lines(&c), ["changed s data.password, data.token"]);
        assert!(c.objects[0].fields.iter().all(|f| f.hidden));
        let text = format!("{:?}", c.objects[0]);
        assert!(!text.contains("d2") && !text.contains("d5"), "{text}");
        // Every key gone.
        let c =
            compare_with(&[(&k, old.clone())], &[(&k, json!({"metadata": {"name": "s"}, "type": "Opaque"}))], "", true);
        assert_eq!(lines(&c), ["changed s data"]);
        assert!(!format!("{:?}", c.objects[0]).contains("d1"));
        // The type.
        let c = compare_with(
            &[(&k, old)],
            &[(&k, secret("kubernetes.io/basic-auth", json!({"user": "d1", "password": "d2"})))],
            "",
            true,
        );
        assert_eq!(lines(&c), ["changed s type"]);
    }

    #[test]
    fn an_object_pending_deletion_is_not_equal_to_a_live_one() {
        let k = key("ConfigMap", "cm");
        let live = json!({"metadata": {"name": "cm", "finalizers": ["example.com/hold"]}});
        let deleting = |t: &str| json!({"metadata": {"name": "cm", "finalizers": ["example.com/hold"], "deletionTimestamp": t, "deletionGracePeriodSeconds": 0}});
        let r = "rules:\n  - {name: g, why: w, drop: [/metadata/deletionGracePeriodSeconds]}\n";
        let c = compare_with(&[(&k, live)], &[(&k, deleting("2026-11-24T07:00:00Z"))], r, false);
        assert_eq!(lines(&c), ["changed cm metadata.deletionTimestamp"]);
        assert_eq!(c.objects[0].fields[0].change.new, Some(Value::String(crate::normalize::PENDING_DELETION.into())));
        let c = compare_with(
            &[(&k, deleting("2026-11-24T07:00:00Z"))],
            &[(&k, deleting("2026-11-24T08:00:00Z"))],
            r,
            false,
        );
        assert!(lines(&c).is_empty());
    }
}

#[cfg(test)]
mod accounting_tests {
    use super::*;
    use crate::dump::{Collector, Sink};
    use crate::model::ApiType;
    use serde_json::json;

    fn ty(group: &str, kind: &str, resource: &str) -> ApiType {
        ApiType {
            group: group.into(),
            version: "v1".into(),
            resource: resource.into(),
            kind: kind.into(),
            namespaced: true,
        }
    }

    fn owned(kind: &str, name: &str, owner_kind: &str, owner_api: &str) -> Value {
        json!({"metadata": {"name": name, "namespace": "ns", "uid": "u",
               "ownerReferences": [{"apiVersion": owner_api, "kind": owner_kind, "name": "web", "controller": true, "uid": "x"}]},
               "kind": kind})
    }

    /// Reads `pages` through a real collector under the built-in rules.
    fn read(rules: &RuleSet, pages: &[(ApiType, Vec<Value>)]) -> (Dump, usize) {
        let c = Collector::new(rules);
        let mut n = 0;
        for (t, items) in pages {
            n += items.len();
            c.page(t, items.iter().cloned().map(crate::dump::ReadObject::from).collect());
        }
        let got = c.finish();
        let mut d = Dump::empty();
        d.objects = got.objects;
        d.rule_hits = got.rule_hits;
        d.provenance = got.provenance;
        (d, n)
    }

    #[test]
    fn what_was_read_is_compared_or_skipped_by_a_named_rule_and_absences_are_explained() {
        let rules = crate::rules::load(&crate::rules::RuleOptions::default()).unwrap();
        let (deploy, rs, pod, cm) = (
            ty("apps", "Deployment", "deployments"),
            ty("apps", "ReplicaSet", "replicasets"),
            ty("", "Pod", "pods"),
            ty("", "ConfigMap", "configmaps"),
        );
        let web = json!({"metadata": {"name": "web", "namespace": "ns", "uid": "1"}, "spec": {"replicas": 1}});
        let old = vec![
            (deploy.clone(), vec![web.clone()]),
            (rs.clone(), vec![owned("ReplicaSet", "web-1", "Deployment", "apps/v1")]),
            (
                pod.clone(),
                vec![
                    owned("Pod", "web-1-a", "ReplicaSet", "apps/v1"),
                    owned("Pod", "web-1-b", "ReplicaSet", "apps/v1"),
                ],
            ),
            (cm.clone(), vec![json!({"metadata": {"name": "a", "namespace": "ns"}, "data": {"k": "v"}})]),
        ];
        // NEW: an extra ConfigMap made by the (compared) Deployment is explained, an orphan is not.
        let new = vec![
            (deploy, vec![web]),
            (rs, vec![owned("ReplicaSet", "web-2", "Deployment", "apps/v1")]),
            (pod, vec![owned("Pod", "web-2-a", "ReplicaSet", "apps/v1")]),
            (
                cm,
                vec![
                    json!({"metadata": {"name": "a", "namespace": "ns"}, "data": {"k": "v"}}),
                    owned("ConfigMap", "made", "Deployment", "apps/v1"),
                    json!({"metadata": {"name": "orphan", "namespace": "ns"}}),
                ],
            ),
        ];
        let ((o, read_old), (n, read_new)) = (read(&rules, &old), read(&rules, &new));
        let opts = CompareOptions { today: time::macros::date!(2026 - 12 - 03), ignore_secret_values: false };
        let c = compare(&o, &n, &rules, opts);
        for (side, read, pick) in [("old", read_old, 0usize), ("new", read_new, 1usize)] {
            let compared: usize = c.kinds.values().map(|k| if pick == 0 { k.old } else { k.new }).sum();
            let skipped: usize = c.kinds.values().map(|k| if pick == 0 { k.skipped_old } else { k.skipped_new }).sum();
            let by_rules: usize = c.rules.iter().map(|r| if pick == 0 { r.skipped.0 } else { r.skipped.1 }).sum();
            assert_eq!(compared + skipped, read, "{side}: compared + skipped = read");
            assert_eq!(by_rules, skipped, "{side}: every skipped object is some rule's");
            assert!(skipped > 0, "{side}");
        }
        // Fields dropped are counted per side (uids at least).
        let meta = c.rules.iter().find(|r| r.name == "server-assigned-metadata").unwrap();
        assert!(meta.fields_dropped.0 > 0 && meta.fields_dropped.1 > 0, "{meta:?}");
        assert_eq!((c.summary.extra, c.summary.explained, c.summary.unexplained()), (2, 1, 1), "{:#?}", c.objects);
        let made = c.objects.iter().find(|d| d.key.name == "made").unwrap();
        assert!(made.explained.as_deref().is_some_and(|w| w.contains("Deployment.apps ns/web")), "{made:?}");
    }
}
