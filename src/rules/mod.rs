//! Normalization rules: which objects and fields legitimately differ between two clusters, and
//! which accepted differences are waived. Rules are data (`ignore-rules/*.yaml`, embedded), user
//! files layer over them, and every rule says *why* it exists.

pub mod builtin;
mod file;
pub mod pattern;

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde_json::Value;
use time::Date;

pub(crate) use file::RawMatch;
pub use file::{RuleFile, RulesError, parse_rule_file, render};
use pattern::{FieldRequirements, NameGlob, PointerPattern, Selector};

use crate::model::{ApiType, ObjectKey};

/// What selects an object. Every absent field matches anything.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Match {
    pub group: Option<NameGlob>,
    pub kind: Option<NameGlob>,
    pub namespace: Option<NameGlob>,
    pub name: Option<NameGlob>,
    pub labels: Option<Selector>,
    pub annotations: Option<Selector>,
    /// Kind of the object's controller (the ownerReference with `controller: true`).
    pub owned_by: Option<NameGlob>,
    /// Fields (exact pointers) that must hold exactly these string values.
    pub fields: FieldRequirements,
    /// Fields that must *not* hold these values (an absent field is "not equal").
    pub fields_not: FieldRequirements,
}

impl Match {
    /// True when only group and kind constrain the match, so the rule decides for a whole type
    /// before any object is read (a type-level `skip` is not even listed).
    pub fn is_type_level(&self) -> bool {
        self.namespace.is_none()
            && self.name.is_none()
            && self.labels.is_none()
            && self.annotations.is_none()
            && self.owned_by.is_none()
            && self.fields.is_empty()
            && self.fields_not.is_empty()
    }

    pub fn matches_type(&self, group: &str, kind: &str) -> bool {
        self.group.as_ref().is_none_or(|g| g.is_match(group)) && self.kind.as_ref().is_none_or(|k| k.is_match(kind))
    }

    pub fn matches_key(&self, key: &ObjectKey) -> bool {
        self.matches_type(&key.group, &key.kind)
            && self.namespace.as_ref().is_none_or(|ns| key.namespace.as_deref().is_some_and(|n| ns.is_match(n)))
            && self.name.as_ref().is_none_or(|n| n.is_match(&key.name))
    }

    pub fn matches_object(&self, key: &ObjectKey, obj: &Value) -> bool {
        if !self.matches_key(key) {
            return false;
        }
        let meta = obj.get("metadata");
        if let Some(sel) = &self.labels {
            if !sel.matches(meta.and_then(|m| m.get("labels")).and_then(Value::as_object)) {
                return false;
            }
        }
        if let Some(sel) = &self.annotations {
            if !sel.matches(meta.and_then(|m| m.get("annotations")).and_then(Value::as_object)) {
                return false;
            }
        }
        if let Some(owner) = &self.owned_by {
            let controller_kind = meta
                .and_then(|m| m.get("ownerReferences"))
                .and_then(Value::as_array)
                .and_then(|refs| refs.iter().find(|r| r.get("controller").and_then(Value::as_bool) == Some(true)))
                .and_then(|r| r.get("kind"))
                .and_then(Value::as_str);
            if !controller_kind.is_some_and(|k| owner.is_match(k)) {
                return false;
            }
        }
        self.fields.iter().all(|(ptr, expected)| field_is(obj, ptr, expected))
            && self.fields_not.iter().all(|(ptr, refused)| !field_is(obj, ptr, refused))
    }
}

/// A field requirement holds: the field equals the string, or exists at all when it is `*`.
/// A number or boolean equals the string it prints as (`maxUnavailable: 1` matches `"1"`): YAML
/// rules files cannot otherwise name a server default that is not a string.
fn field_is(obj: &Value, ptr: &str, expected: &str) -> bool {
    match obj.pointer(ptr) {
        None => false,
        Some(_) if expected == "*" => true,
        Some(v @ (Value::Number(_) | Value::Bool(_))) => serde_json::from_str::<Value>(expected).is_ok_and(|e| &e == v),
        Some(v) => v.as_str() == Some(expected),
    }
}

/// What a rule does to the objects it matches.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Not compared at all; reported as excluded.
    Skip,
    /// Removes the designated fields before comparing.
    Drop(Vec<PointerPattern>),
    /// Existence compared, content not.
    Presence,
    /// Replaces the designated fields by keyed digests as soon as the object is read, before
    /// anything prints or writes it (reports, logs, archives): for credentials kept in kinds
    /// other than Secret. Equal values still compare equal under one key.
    Digest(Vec<PointerPattern>),
    /// The designated lists' order carries no meaning: they are compared as sorted (by their
    /// declared keys, else by item). Lists not named by such a rule keep their order.
    Unordered(Vec<PointerPattern>),
    /// Removes the listed string values from the designated lists, leaving every other item:
    /// for a value one controller appends to a list the team writes too (a finalizer a cloud
    /// controller adds beside a team's own finalizers).
    DropValues(Vec<(PointerPattern, Vec<String>)>),
    /// Rewrites the designated string values into the canonical form of a known format, which
    /// leaves out only the part the format says is not the object's (see `ValueFormat`). A value
    /// that does not parse is compared as written; a missing one is still a difference.
    Canonicalize(ValueFormat, Vec<PointerPattern>),
}

/// A value format a `canonicalize` rule knows how to rewrite.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
pub enum ValueFormat {
    /// Argo CD's `APP:GROUP/KIND:NAMESPACE/NAME`: an id naming the object it is on is Argo CD's
    /// bookkeeping and has no canonical value (it is left out); any other is compared as
    /// written (normalize/tracking_id.rs).
    #[serde(rename = "argocd-tracking-id")]
    ArgocdTrackingId,
}

/// Where a rule or waiver came from, for messages and for `kparity rules`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Origin {
    /// A built-in profile (`ignore-rules/NAME.yaml`).
    Profile(String),
    /// A user rules file.
    File(PathBuf),
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Origin::Profile(p) => write!(f, "profile {p}"),
            Origin::File(p) => write!(f, "{}", p.display()),
        }
    }
}

/// A rule's identity within a run, assigned once when the rule set is built (`RuleSet::new`,
/// which `load` calls): its position among every rule loaded, built-in profiles in order and then
/// user files. Counters, stored objects and reports name a rule by it; `for_versions` and
/// `digests_only` leave rules out without renumbering the others, so an id never turns into
/// another rule's.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RuleId(usize);

impl RuleId {
    /// The id of the rule at `position` in a rule set as loaded (for tests and fixtures).
    pub const fn at(position: usize) -> RuleId {
        RuleId(position)
    }
}

/// How many objects (or fields) each rule took effect on, by rule id; a rule never counted is 0.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RuleCounts(BTreeMap<RuleId, usize>);

impl RuleCounts {
    pub fn add(&mut self, rule: RuleId, n: usize) {
        if n > 0 {
            *self.0.entry(rule).or_default() += n;
        }
    }

    pub fn get(&self, rule: RuleId) -> usize {
        self.0.get(&rule).copied().unwrap_or(0)
    }

    /// Adds another count's numbers to this one's.
    pub fn merge(&mut self, other: RuleCounts) {
        for (rule, n) in other.0 {
            self.add(rule, n);
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    /// Assigned by `RuleSet::new`; a parsed rule not yet in a set has the default id.
    pub id: RuleId,
    pub name: String,
    pub why: String,
    pub matcher: Match,
    pub action: Action,
    /// When set, the rule is in force only between sides running two different of these minor
    /// versions (an upgrade difference measured between them); elsewhere it does not exist.
    pub kubernetes_versions: Option<Vec<MinorVersion>>,
    pub origin: Origin,
}

/// A Kubernetes minor version, `MAJOR.MINOR` (`1.34`), as rules name the versions they apply to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MinorVersion {
    pub major: u32,
    pub minor: u32,
}

impl MinorVersion {
    /// The minor version of a server's `gitVersion` (`v1.34.4`, `v1.37.2-eks-1234`).
    pub fn of_git_version(v: &str) -> Option<MinorVersion> {
        let mut parts = v.trim_start_matches('v').split('.');
        let major = parts.next()?.parse().ok()?;
        let minor: String = parts.next()?.chars().take_while(char::is_ascii_digit).collect();
        Some(MinorVersion { major, minor: minor.parse().ok()? })
    }
}

impl std::fmt::Display for MinorVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

impl std::str::FromStr for MinorVersion {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("invalid Kubernetes minor version {s:?}: write MAJOR.MINOR, e.g. \"1.34\"");
        let (major, minor) = s.split_once('.').ok_or_else(bad)?;
        let num = |p: &str| -> Result<u32, String> {
            if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad());
            }
            p.parse().map_err(|_| bad())
        };
        Ok(MinorVersion { major: num(major)?, minor: num(minor)? })
    }
}

impl<'de> serde::Deserialize<'de> for MinorVersion {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

impl serde::Serialize for MinorVersion {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

/// An accepted, explained difference. Waived differences are still reported, marked as waived,
/// and do not fail the gate; after `expires` the waiver stops applying.
#[derive(Debug, Clone, PartialEq)]
pub struct Waiver {
    pub matcher: Match,
    /// The field (and everything below it) the waiver covers; `None` covers the whole object,
    /// including its being missing or extra.
    pub path: Option<PointerPattern>,
    pub reason: String,
    pub expires: Option<Date>,
    pub origin: Origin,
}

impl Waiver {
    pub fn is_expired(&self, today: Date) -> bool {
        self.expires.is_some_and(|d| d < today)
    }

    pub fn describe(&self) -> String {
        let m = &self.matcher;
        let part = |g: &Option<NameGlob>| g.as_ref().map_or("*".to_string(), |g| g.as_str().to_string());
        format!(
            "{}/{} {}/{}{}",
            part(&m.group),
            part(&m.kind),
            part(&m.namespace),
            part(&m.name),
            self.path.as_ref().map(|p| format!(" {}", p.as_str())).unwrap_or_default()
        )
    }
}

/// The effective rules of a run: enabled built-in profiles, then user files, in order.
#[derive(Debug, Clone, Default)]
pub struct RuleSet {
    /// In id order; private so that every rule in a set has the id the set gave it.
    rules: Vec<Rule>,
    pub waivers: Vec<Waiver>,
    /// Profiles enabled, in order, for reports and snapshot headers.
    pub profiles: Vec<String>,
    pub files: Vec<PathBuf>,
}

impl RuleSet {
    /// A rule set of these rules and waivers, in this order, each rule given its id.
    pub fn new(rules: Vec<Rule>, waivers: Vec<Waiver>) -> RuleSet {
        let rules = rules.into_iter().enumerate().map(|(i, r)| Rule { id: RuleId(i), ..r }).collect();
        RuleSet { rules, waivers, ..RuleSet::default() }
    }

    /// The rules, in order (their ids ascending).
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// The rule with this id, if this set holds it (a version-scoped rule out of force is not).
    pub fn get(&self, id: RuleId) -> Option<&Rule> {
        self.rules.binary_search_by_key(&id, |r| r.id).ok().map(|i| &self.rules[i])
    }

    /// Only the `digest` rules, with their ids: what acts when a snapshot is taken.
    pub fn digests_only(&self) -> RuleSet {
        let rules = self.rules.iter().filter(|r| matches!(r.action, Action::Digest(_))).cloned().collect();
        RuleSet { rules, files: self.files.clone(), ..RuleSet::default() }
    }

    /// The rules in force between sides running `old` and `new` (their servers' `gitVersion`):
    /// a version-scoped rule stays only when both versions are known, differ, and are listed.
    /// Unknown versions (e.g. an archive without one) drop it: a difference is then reported
    /// rather than excused on a guess.
    pub fn for_versions(&self, old: Option<&str>, new: Option<&str>) -> RuleSet {
        let (old, new) = (old.and_then(MinorVersion::of_git_version), new.and_then(MinorVersion::of_git_version));
        let in_force = |r: &Rule| match &r.kubernetes_versions {
            None => true,
            Some(list) => match (old, new) {
                (Some(a), Some(b)) => a != b && list.contains(&a) && list.contains(&b),
                _ => false,
            },
        };
        RuleSet { rules: self.rules.iter().filter(|r| in_force(r)).cloned().collect(), ..self.clone() }
    }

    /// The `digest` rules, which the source applies as it reads.
    pub fn digest_rules(&self) -> impl Iterator<Item = (&Rule, &[PointerPattern])> {
        self.rules.iter().filter_map(|r| match &r.action {
            Action::Digest(p) => Some((r, p.as_slice())),
            _ => None,
        })
    }

    /// The first type-level `skip` rule that removes this whole type from the comparison.
    pub fn skipped_type(&self, ty: &ApiType) -> Option<&Rule> {
        self.skipped_group_kind(&ty.group, &ty.kind)
    }

    pub fn skipped_group_kind(&self, group: &str, kind: &str) -> Option<&Rule> {
        self.rules
            .iter()
            .find(|r| r.action == Action::Skip && r.matcher.is_type_level() && r.matcher.matches_type(group, kind))
    }

    /// A skip rule naming a whole API group (`kind` absent or `*`): lets discovery failures of
    /// a group nobody wants compared (e.g. `metrics.k8s.io`) count as excluded, not incomplete.
    pub fn skipped_group(&self, group: &str) -> Option<&Rule> {
        self.rules.iter().find(|r| {
            r.action == Action::Skip
                && r.matcher.is_type_level()
                && r.matcher.kind.as_ref().is_none_or(NameGlob::is_any)
                && r.matcher.group.as_ref().is_some_and(|g| g.is_match(group))
        })
    }
}

/// Which rule sources to load.
#[derive(Debug, Clone, Default)]
pub struct RuleOptions {
    pub no_default_rules: bool,
    /// Opt-in profiles to add (`--profile`).
    pub profiles: Vec<String>,
    /// Default profiles to leave out (`--no-profile`).
    pub no_profiles: Vec<String>,
    pub files: Vec<PathBuf>,
}

/// Loads the effective rule set: built-in profiles (unless disabled), then each user file.
pub fn load(opts: &RuleOptions) -> Result<RuleSet, RulesError> {
    let (mut rules, mut waivers, mut profiles, mut files) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for name in opts.profiles.iter().chain(&opts.no_profiles) {
        if builtin::PROFILES.iter().all(|p| p.name != *name) {
            return Err(RulesError::UnknownProfile {
                name: name.clone(),
                known: builtin::PROFILES.iter().map(|p| p.name.to_string()).collect(),
            });
        }
    }
    for profile in builtin::PROFILES {
        let requested = opts.profiles.iter().any(|p| p == profile.name);
        let refused = opts.no_profiles.iter().any(|p| p == profile.name);
        let wanted = requested || (profile.default && !opts.no_default_rules && !refused);
        if wanted {
            let file = builtin::parse(profile)?;
            profiles.push(profile.name.to_string());
            rules.extend(file.rules);
            waivers.extend(file.waivers);
        }
    }
    for path in &opts.files {
        let text = std::fs::read_to_string(path).map_err(|source| RulesError::Read { path: path.clone(), source })?;
        let file = parse_rule_file(&text, Origin::File(path.clone()))?;
        rules.extend(file.rules);
        waivers.extend(file.waivers);
        files.push(path.clone());
    }
    Ok(RuleSet { profiles, files, ..RuleSet::new(rules, waivers) })
}

#[cfg(test)]
mod version_tests {
    use super::*;

    fn set() -> RuleSet {
        let file = parse_rule_file(
            "rules:\n  - {name: always, why: w, drop: [/a]}\n  - {name: upgrade, why: w, kubernetesVersions: [\"1.34\", \"1.37\"], drop: [/b]}\n",
            Origin::Profile("test".into()),
        )
        .unwrap();
        RuleSet::new(file.rules, Vec::new())
    }

    fn check(old: Option<&str>, new: Option<&str>, expected: &[&str]) {
        let names: Vec<String> = set().for_versions(old, new).rules.into_iter().map(|r| r.name).collect();
        assert_eq!(names, expected, "{old:?} vs {new:?}");
    }

    #[test]
    fn a_rule_keeps_its_id_when_rules_before_it_are_out_of_force() {
        let file = parse_rule_file(
            "rules:\n  - {name: upgrade, why: w, kubernetesVersions: [\"1.34\", \"1.37\"], drop: [/b]}\n  - {name: always, why: w, drop: [/a]}\n",
            Origin::Profile("test".into()),
        )
        .unwrap();
        let all = RuleSet::new(file.rules, Vec::new());
        let always = all.rules().iter().find(|r| r.name == "always").unwrap().id;
        assert_eq!(always, RuleId::at(1));
        let same_version = all.for_versions(Some("v1.37.2"), Some("v1.37.1"));
        assert_eq!(same_version.rules().len(), 1);
        assert_eq!(same_version.get(always).map(|r| r.name.as_str()), Some("always"));
        assert!(same_version.get(RuleId::at(0)).is_none(), "the rule out of force is not there under any id");
    }

    #[test]
    fn version_scoped_rules_apply_only_between_listed_different_versions() {
        check(Some("v1.34.4"), Some("v1.37.2"), &["always", "upgrade"]);
        check(Some("v1.37.2"), Some("v1.34.4"), &["always", "upgrade"]);
        check(Some("v1.37.2"), Some("v1.37.1-eks-1"), &["always"]);
        check(Some("v1.33.0"), Some("v1.37.2"), &["always"]);
        check(None, Some("v1.37.2"), &["always"]);
    }

    #[test]
    fn field_requirements_match_numbers_and_booleans_by_their_text() {
        let obj = serde_json::json!({"spec": {"n": 1, "b": true, "s": "1"}});
        assert!(field_is(&obj, "/spec/n", "1"));
        assert!(field_is(&obj, "/spec/b", "true"));
        assert!(field_is(&obj, "/spec/s", "1"));
        assert!(!field_is(&obj, "/spec/n", "2"));
        assert!(!field_is(&obj, "/spec/missing", "1"));
    }

    #[test]
    fn minor_versions_parse_from_git_versions() {
        assert_eq!(MinorVersion::of_git_version("v1.34.4"), Some(MinorVersion { major: 1, minor: 34 }));
        assert_eq!(MinorVersion::of_git_version("v1.30+"), Some(MinorVersion { major: 1, minor: 30 }));
        assert_eq!(MinorVersion::of_git_version("garbage"), None);
    }
}
