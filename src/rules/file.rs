//! The rules file format (YAML) and its strict parser. Unknown fields are errors, patterns are
//! validated while parsing, and every error names the file, line and column.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use time::Date;
use time::macros::format_description;

use super::pattern::{NameGlob, PointerPattern, Selector};
use super::{Action, Match, MinorVersion, Origin, Rule, RuleId, ValueFormat, Waiver};

#[derive(Debug, thiserror::Error)]
pub enum RulesError {
    #[error("failed to read rules file {}", path.display())]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{origin}:{line}:{column}: {message}")]
    Parse { origin: Origin, line: usize, column: usize, message: String },
    #[error("{origin}: {message}")]
    Invalid { origin: Origin, message: String },
    #[error("unknown profile {name:?} (known profiles: {})", known.join(", "))]
    UnknownProfile { name: String, known: Vec<String> },
}

impl RulesError {
    /// What the user can do about it.
    pub fn hint(&self) -> &'static str {
        match self {
            RulesError::UnknownProfile { .. } => "`kparity rules` prints the profiles in effect",
            RulesError::Read { .. } => "check the path given to --rules",
            RulesError::Parse { .. } | RulesError::Invalid { .. } => {
                "`kparity rules` prints the built-in rules in the file format, a working example to start from"
            }
        }
    }
}

/// A parsed rules file: its optional profile header, rules and waivers.
#[derive(Debug, Clone)]
pub struct RuleFile {
    pub profile: Option<String>,
    pub description: Option<String>,
    pub rules: Vec<Rule>,
    pub waivers: Vec<Waiver>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    profile: Option<String>,
    #[serde(default)]
    description: Option<String>,
    /// Whether a built-in profile is on unless `--no-profile` (only meaningful for built-ins).
    #[serde(default, rename = "default")]
    _default: Option<bool>,
    #[serde(default)]
    rules: Vec<RawRule>,
    #[serde(default)]
    waivers: Vec<RawWaiver>,
}

#[derive(Deserialize, Serialize, Default)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct RawMatch {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<GlobField>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<GlobField>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<GlobField>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<GlobField>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<SelectorField>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<SelectorField>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owned_by: Option<GlobField>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub fields: BTreeMap<PointerField, String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub fields_not: BTreeMap<PointerField, String>,
}

/// A glob kept with its source text so `kparity rules` prints what the user wrote.
#[derive(Clone)]
pub(crate) struct GlobField(NameGlob);
#[derive(Clone)]
pub(crate) struct SelectorField(Selector);
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct PointerField(String);

impl<'de> Deserialize<'de> for GlobField {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        NameGlob::deserialize(d).map(GlobField)
    }
}
impl Serialize for GlobField {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.0.as_str())
    }
}
impl<'de> Deserialize<'de> for SelectorField {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Selector::deserialize(d).map(SelectorField)
    }
}
impl Serialize for SelectorField {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.0.as_str())
    }
}
impl<'de> Deserialize<'de> for PointerField {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let p = PointerPattern::deserialize(d)?;
        if p.segments().iter().any(|s| !matches!(s, super::pattern::Segment::Exact(_))) {
            return Err(serde::de::Error::custom(format!(
                "field requirement {:?} must be an exact JSON pointer (no '*')",
                p.as_str()
            )));
        }
        Ok(PointerField(p.as_str().to_string()))
    }
}
impl Serialize for PointerField {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl From<RawMatch> for Match {
    fn from(m: RawMatch) -> Self {
        Match {
            group: m.group.map(|g| g.0),
            kind: m.kind.map(|g| g.0),
            namespace: m.namespace.map(|g| g.0),
            name: m.name.map(|g| g.0),
            labels: m.labels.map(|s| s.0),
            annotations: m.annotations.map(|s| s.0),
            owned_by: m.owned_by.map(|g| g.0),
            fields: m.fields.into_iter().map(|(k, v)| (k.0, v)).collect(),
            fields_not: m.fields_not.into_iter().map(|(k, v)| (k.0, v)).collect(),
        }
    }
}

impl From<&Match> for RawMatch {
    fn from(m: &Match) -> Self {
        RawMatch {
            group: m.group.clone().map(GlobField),
            kind: m.kind.clone().map(GlobField),
            namespace: m.namespace.clone().map(GlobField),
            name: m.name.clone().map(GlobField),
            labels: m.labels.clone().map(SelectorField),
            annotations: m.annotations.clone().map(SelectorField),
            owned_by: m.owned_by.clone().map(GlobField),
            fields: m.fields.iter().map(|(k, v)| (PointerField(k.clone()), v.clone())).collect(),
            fields_not: m.fields_not.iter().map(|(k, v)| (PointerField(k.clone()), v.clone())).collect(),
        }
    }
}

/// One rule as written. Exactly one of `skip`, `drop`, `presence`, `digest`, `unordered`,
/// `canonicalize` must be given; the check runs
/// inside deserialization so its error carries the rule's position.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, try_from = "RawRuleFields")]
struct RawRule {
    name: String,
    why: String,
    matcher: RawMatch,
    action: Action,
    kubernetes_versions: Option<Vec<MinorVersion>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRuleFields {
    name: String,
    why: String,
    #[serde(rename = "match", default)]
    matcher: RawMatch,
    #[serde(default)]
    skip: Option<bool>,
    #[serde(default)]
    drop: Option<Vec<PointerPattern>>,
    #[serde(default)]
    presence: Option<bool>,
    #[serde(default)]
    digest: Option<Vec<PointerPattern>>,
    /// Lists whose order carries no meaning (JSON pointers to the lists, `*` = any key or index).
    #[serde(default)]
    unordered: Option<Vec<PointerPattern>>,
    /// String values to remove from lists (JSON pointer to the list -> values), every other
    /// item kept.
    #[serde(default, rename = "dropValues")]
    drop_values: Option<BTreeMap<PointerField, Vec<String>>>,
    /// String values rewritten into a known format's canonical form.
    #[serde(default)]
    canonicalize: Option<RawCanonicalize>,
    /// The Kubernetes minor versions between which this difference was measured: the rule is in
    /// force only when the two sides run different minor versions, both listed.
    #[serde(default, rename = "kubernetesVersions")]
    kubernetes_versions: Option<Vec<MinorVersion>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCanonicalize {
    format: ValueFormat,
    paths: Vec<PointerPattern>,
}

impl TryFrom<RawRuleFields> for RawRule {
    type Error = String;
    fn try_from(r: RawRuleFields) -> Result<Self, String> {
        if r.name.trim().is_empty() {
            return Err("a rule needs a non-empty `name`".into());
        }
        if r.why.trim().is_empty() {
            return Err(format!("rule {:?} needs a `why`: say why this difference is benign", r.name));
        }
        if let Some(v) = &r.kubernetes_versions {
            let distinct: std::collections::BTreeSet<_> = v.iter().collect();
            if distinct.len() < 2 {
                return Err(format!(
                    "rule {:?}: `kubernetesVersions` must list at least two distinct minor versions (the versions between which the difference was measured)",
                    r.name
                ));
            }
        }
        let mut actions = Vec::new();
        if r.skip == Some(true) {
            actions.push(Action::Skip);
        }
        if r.presence == Some(true) {
            actions.push(Action::Presence);
        }
        if let Some(paths) = r.drop {
            if paths.is_empty() {
                return Err(format!("rule {:?}: `drop` lists no JSON pointer", r.name));
            }
            actions.push(Action::Drop(paths));
        }
        if let Some(paths) = r.digest {
            if paths.is_empty() {
                return Err(format!("rule {:?}: `digest` lists no JSON pointer", r.name));
            }
            actions.push(Action::Digest(paths));
        }
        if let Some(paths) = r.unordered {
            if paths.is_empty() {
                return Err(format!("rule {:?}: `unordered` lists no JSON pointer", r.name));
            }
            actions.push(Action::Unordered(paths));
        }
        if let Some(lists) = r.drop_values {
            if lists.is_empty() || lists.values().any(Vec::is_empty) {
                return Err(format!("rule {:?}: `dropValues` needs a list pointer with at least one value", r.name));
            }
            let mut parsed = Vec::new();
            for (ptr, values) in lists {
                let p = PointerPattern::parse(&ptr.0).map_err(|e| format!("rule {:?}: {e}", r.name))?;
                parsed.push((p, values));
            }
            actions.push(Action::DropValues(parsed));
        }
        if let Some(c) = r.canonicalize {
            if c.paths.is_empty() {
                return Err(format!("rule {:?}: `canonicalize` lists no JSON pointer in `paths`", r.name));
            }
            actions.push(Action::Canonicalize(c.format, c.paths));
        }
        match actions.len() {
            1 => Ok(RawRule {
                name: r.name,
                why: r.why,
                matcher: r.matcher,
                action: actions.remove(0),
                kubernetes_versions: r.kubernetes_versions,
            }),
            0 => Err(format!(
                "rule {:?} has no action: give one of `skip: true`, `drop: [POINTER...]`, `presence: true`, `digest: [POINTER...]`, `unordered: [POINTER...]`, `dropValues: {{POINTER: [VALUE...]}}`, `canonicalize: {{format: FORMAT, paths: [POINTER...]}}`",
                r.name
            )),
            _ => Err(format!(
                "rule {:?} has more than one action: give only one of `skip`, `drop`, `presence`, `digest`, `unordered`, `dropValues`, `canonicalize`",
                r.name
            )),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWaiver {
    #[serde(rename = "match")]
    matcher: RawMatch,
    #[serde(default)]
    path: Option<PointerPattern>,
    reason: String,
    #[serde(default)]
    expires: Option<DateField>,
}

struct DateField(Date);

impl<'de> Deserialize<'de> for DateField {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Date::parse(&s, format_description!("[year]-[month]-[day]"))
            .map(DateField)
            .map_err(|_| serde::de::Error::custom(format!("invalid date {s:?}: write YYYY-MM-DD")))
    }
}

/// The line and column (from 1) of a byte offset, lines ended by `\n` as editors, `grep -n` and
/// `sed -n` count them. The YAML parser's own line also counts a lone `\r` as a line break, and
/// so could point past the last line of a file that holds one.
fn line_and_column(text: &str, index: usize) -> (usize, usize) {
    let mut at = index.min(text.len());
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    let before = &text[..at];
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (before.matches('\n').count() + 1, before[line_start..].chars().count() + 1)
}

/// Parses one rules file. `origin` names it in errors and in `kparity rules`.
pub fn parse_rule_file(text: &str, origin: Origin) -> Result<RuleFile, RulesError> {
    let raw: RawFile = serde_norway::from_str(text).map_err(|e| {
        let (line, column) = e.location().map_or((1, 1), |l| line_and_column(text, l.index()));
        RulesError::Parse { origin: origin.clone(), line, column, message: strip_location(&e.to_string()) }
    })?;
    let mut names = std::collections::HashSet::new();
    for r in &raw.rules {
        if !names.insert(r.name.clone()) {
            return Err(RulesError::Invalid { origin, message: format!("rule name {:?} is used twice", r.name) });
        }
    }
    let mut waivers = Vec::new();
    for w in raw.waivers {
        if w.reason.trim().is_empty() {
            return Err(RulesError::Invalid { origin, message: "a waiver needs a non-empty `reason`".into() });
        }
        waivers.push(Waiver {
            matcher: w.matcher.into(),
            path: w.path,
            reason: w.reason,
            expires: w.expires.map(|d| d.0),
            origin: origin.clone(),
        });
    }
    Ok(RuleFile {
        profile: raw.profile,
        description: raw.description,
        rules: raw
            .rules
            .into_iter()
            .map(|r| Rule {
                id: RuleId::default(),
                name: r.name,
                why: r.why,
                matcher: r.matcher.into(),
                action: r.action,
                kubernetes_versions: r.kubernetes_versions,
                origin: origin.clone(),
            })
            .collect(),
        waivers,
    })
}

/// serde_norway appends " at line L column C" to messages; we print the position up front.
fn strip_location(msg: &str) -> String {
    match msg.rfind(" at line ") {
        Some(i) => msg[..i].to_string(),
        None => msg.to_string(),
    }
}

/// Serializable view of a rule, in the same shape users write, for `kparity rules`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct RuleView {
    name: String,
    why: String,
    #[serde(rename = "match")]
    matcher: RawMatch,
    #[serde(skip_serializing_if = "Option::is_none")]
    skip: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    drop: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    presence: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    digest: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    unordered: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    drop_values: Option<BTreeMap<String, Vec<String>>>,
    canonicalize: Option<CanonicalizeView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    kubernetes_versions: Option<Vec<MinorVersion>>,
}

#[derive(Serialize)]
pub(crate) struct CanonicalizeView {
    format: ValueFormat,
    paths: Vec<String>,
}

impl From<&Rule> for RuleView {
    fn from(r: &Rule) -> Self {
        let pointers = |p: &[PointerPattern]| Some(p.iter().map(|p| p.as_str().to_string()).collect());
        let (skip, drop, presence, digest, unordered) = match &r.action {
            Action::Skip => (Some(true), None, None, None, None),
            Action::Presence => (None, None, Some(true), None, None),
            Action::Drop(p) => (None, pointers(p), None, None, None),
            Action::Digest(p) => (None, None, None, pointers(p), None),
            Action::Unordered(p) => (None, None, None, None, pointers(p)),
            Action::DropValues(_) | Action::Canonicalize(..) => (None, None, None, None, None),
        };
        let drop_values = match &r.action {
            Action::DropValues(lists) => Some(lists.iter().map(|(p, v)| (p.as_str().to_string(), v.clone())).collect()),
            _ => None,
        };
        let canonicalize = match &r.action {
            Action::Canonicalize(format, p) => {
                Some(CanonicalizeView { format: *format, paths: p.iter().map(|p| p.as_str().to_string()).collect() })
            }
            _ => None,
        };
        RuleView {
            name: r.name.clone(),
            why: r.why.clone(),
            matcher: (&r.matcher).into(),
            skip,
            drop,
            presence,
            digest,
            unordered,
            drop_values,
            canonicalize,
            kubernetes_versions: r.kubernetes_versions.clone(),
        }
    }
}

#[derive(Serialize)]
pub(crate) struct WaiverView {
    #[serde(rename = "match")]
    matcher: RawMatch,
    #[serde(skip_serializing_if = "Option::is_none")]
    path: Option<String>,
    reason: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    expires: Option<String>,
}

impl From<&Waiver> for WaiverView {
    fn from(w: &Waiver) -> Self {
        WaiverView {
            matcher: (&w.matcher).into(),
            path: w.path.as_ref().map(|p| p.as_str().to_string()),
            reason: w.reason.clone(),
            expires: w.expires.map(|d| d.to_string()),
        }
    }
}

/// Renders rules and waivers back into the file format (what `kparity rules` prints).
pub fn render(rules: &[&Rule], waivers: &[&Waiver]) -> String {
    #[derive(Serialize)]
    struct View {
        rules: Vec<RuleView>,
        #[serde(skip_serializing_if = "Vec::is_empty")]
        waivers: Vec<WaiverView>,
    }
    let view = View {
        rules: rules.iter().map(|r| RuleView::from(*r)).collect(),
        waivers: waivers.iter().map(|w| WaiverView::from(*w)).collect(),
    };
    serde_norway::to_string(&view).unwrap_or_else(|e| format!("# failed to render rules: {e}\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<RuleFile, RulesError> {
        parse_rule_file(text, Origin::File("rules.yaml".into()))
    }

    #[test]
    fn error_locations_count_lines_as_editors_do() {
        assert_eq!(line_and_column("ab\ncdé\nx", 0), (1, 1));
        assert_eq!(line_and_column("ab\ncdé\nx", 3), (2, 1));
        // Columns are characters; an offset inside a character is taken at its start.
        assert_eq!(line_and_column("ab\ncdé\nx", 7), (2, 4));
        assert_eq!(line_and_column("ab\ncdé\nx", 6), (2, 3));
        assert_eq!(line_and_column("ab\ncdé\nx", 99), (3, 2));
        // A lone carriage return (found by tests/fuzz.rs) is not a line break for the user: the
        // error of an unterminated quote after one points at the last line, not past it.
        let text = "rules:\n  - name: a\n    why: \"x\ry\n    drop: [/a]\n";
        let Err(RulesError::Parse { line, .. }) = parse(text) else { panic!("must fail to parse") };
        assert!(line <= text.lines().count() + 1, "line {line}");
    }

    fn check_error(text: &str, expected: &str) {
        let err = parse(text).expect_err("must be rejected").to_string();
        assert_eq!(err, expected);
    }

    #[test]
    fn parses_every_action_and_waivers() {
        let f = parse(
            r#"
rules:
  - name: a
    why: because
    match: {group: apps, kind: Deployment, labels: "app=web", ownedBy: ReplicaSet}
    drop: [/spec/replicas]
  - name: b
    why: because
    match: {kind: Event}
    skip: true
  - name: c
    why: because
    match: {kind: ConfigMap, name: kube-root-ca.crt, fields: {"/kind": ConfigMap}}
    presence: true
waivers:
  - match: {group: apps, kind: Deployment, namespace: shop, name: web}
    path: /spec/replicas
    reason: scaled up on purpose
    expires: 2026-12-31
"#,
        )
        .unwrap();
        assert_eq!(f.rules.len(), 3);
        assert!(matches!(f.rules[1].action, Action::Skip));
        assert!(f.rules[1].matcher.is_type_level());
        assert!(!f.rules[2].matcher.is_type_level());
        assert_eq!(f.waivers[0].expires.unwrap().to_string(), "2026-12-31");
    }

    #[test]
    fn version_scoped_rules_need_two_valid_minor_versions() {
        let f = parse_rule_file(
            "rules:\n  - name: a\n    why: b\n    kubernetesVersions: [\"1.34\", \"1.37\"]\n    drop: [/a]\n",
            Origin::File("rules.yaml".into()),
        )
        .unwrap();
        let v: Vec<String> = f.rules[0].kubernetes_versions.iter().flatten().map(|v| v.to_string()).collect();
        assert_eq!(v, ["1.34", "1.37"]);
        check_error(
            "rules:\n  - name: a\n    why: b\n    kubernetesVersions: [\"1.34\"]\n    drop: [/a]\n",
            "rules.yaml:2:3: rules: rule \"a\": `kubernetesVersions` must list at least two distinct minor versions (the versions between which the difference was measured)",
        );
        check_error(
            "rules:\n  - name: a\n    why: b\n    kubernetesVersions: [\"1.34\", \"v1.37.2\"]\n    drop: [/a]\n",
            "rules.yaml:4:25: rules[0].kubernetesVersions: invalid Kubernetes minor version \"v1.37.2\": write MAJOR.MINOR, e.g. \"1.34\"",
        );
    }

    #[test]
    fn errors_name_file_line_and_column() {
        check_error(
            "rules:\n  - name: a\n    why: b\n    match: {kind: X}\n    dorp: [/a]\n",
            "rules.yaml:5:5: rules[0]: unknown field `dorp`, expected one of `name`, `why`, `match`, `skip`, `drop`, `presence`, `digest`, `unordered`, `dropValues`, `canonicalize`, `kubernetesVersions`",
        );
        check_error(
            "rules:\n  - name: a\n    why: b\n    drop: [metadata/uid]\n",
            "rules.yaml:4:11: rules[0].drop: invalid JSON pointer \"metadata/uid\": it must start with '/'",
        );
        check_error(
            "rules:\n  - name: a\n    why: b\n    match: {kind: \"X[\"}\n    skip: true\n",
            "rules.yaml:4:12: rules[0].match: invalid glob \"X[\": unclosed character class; missing ']'",
        );
        check_error("rules: [\n", "rules.yaml:2:1: did not find expected node content");
    }

    #[test]
    fn digest_rules_parse_render_and_report_errors_at_their_position() {
        let f = parse(
            "rules:\n  - name: grafana\n    why: datasource credentials\n    match: {group: grafana.integreatly.org, kind: GrafanaDatasource}\n    digest: [/spec/datasource/secureJsonData, /spec/datasource/basicAuthPassword]\n",
        )
        .unwrap();
        assert!(matches!(&f.rules[0].action, Action::Digest(p) if p.len() == 2));
        let text = render(&[&f.rules[0]], &[]);
        assert!(text.contains("  digest:\n  - /spec/datasource/secureJsonData\n"), "{text}");
        assert_eq!(parse(&text).unwrap().rules[0].action, f.rules[0].action);
        check_error(
            "rules:\n  - name: a\n    why: b\n    digest: [spec/token]\n",
            "rules.yaml:4:13: rules[0].digest: invalid JSON pointer \"spec/token\": it must start with '/'",
        );
        let err = parse("rules:\n  - name: a\n    why: b\n    digest: []\n").unwrap_err().to_string();
        assert!(err.starts_with("rules.yaml:2:3:") && err.contains("`digest` lists no JSON pointer"), "{err}");
        let err = parse("rules:\n  - name: a\n    why: b\n    digest: [/a]\n    drop: [/b]\n").unwrap_err().to_string();
        assert!(err.contains("more than one action"), "{err}");
    }

    #[test]
    fn unordered_rules_name_lists_by_pointer() {
        let f = parse("rules:\n  - name: a\n    why: b\n    unordered: [/spec/volumes, /rules/*/verbs]\n").unwrap();
        assert!(matches!(&f.rules[0].action, Action::Unordered(p) if p.len() == 2));
        check_error(
            "rules:\n  - name: a\n    why: b\n    unordered: [spec/volumes]\n",
            "rules.yaml:4:16: rules[0].unordered: invalid JSON pointer \"spec/volumes\": it must start with '/'",
        );
        check_error(
            "rules:\n  - name: a\n    why: b\n    unordered: []\n",
            "rules.yaml:2:3: rules: rule \"a\": `unordered` lists no JSON pointer",
        );
        let err =
            parse("rules:\n  - name: a\n    why: b\n    unordered: [/x]\n    drop: [/y]\n").unwrap_err().to_string();
        assert!(err.contains("more than one action"), "{err}");
    }

    #[test]
    fn canonicalize_rules_name_a_known_format_and_pointers() {
        let f = parse("rules:\n  - name: a\n    why: b\n    canonicalize:\n      format: argocd-tracking-id\n      paths: [/metadata/annotations/argocd.argoproj.io~1tracking-id]\n").unwrap();
        assert!(matches!(&f.rules[0].action, Action::Canonicalize(ValueFormat::ArgocdTrackingId, p) if p.len() == 1));
        let text = render(&[&f.rules[0]], &[]);
        assert!(text.contains("  canonicalize:\n    format: argocd-tracking-id\n    paths:\n    - /metadata/annotations/argocd.argoproj.io~1tracking-id\n"), "{text}");
        assert_eq!(parse(&text).unwrap().rules[0].action, f.rules[0].action);
        check_error(
            "rules:\n  - name: a\n    why: b\n    canonicalize: {format: argocd-id, paths: [/a]}\n",
            "rules.yaml:4:28: rules[0].canonicalize.format: unknown variant `argocd-id`, expected `argocd-tracking-id`",
        );
        check_error(
            "rules:\n  - name: a\n    why: b\n    canonicalize: {format: argocd-tracking-id, path: [/a]}\n",
            "rules.yaml:4:48: rules[0].canonicalize: unknown field `path`, expected `format` or `paths`",
        );
        check_error(
            "rules:\n  - name: a\n    why: b\n    canonicalize: {format: argocd-tracking-id, paths: [a]}\n",
            "rules.yaml:4:55: rules[0].canonicalize.paths: invalid JSON pointer \"a\": it must start with '/'",
        );
        check_error(
            "rules:\n  - name: a\n    why: b\n    canonicalize: {format: argocd-tracking-id, paths: []}\n",
            "rules.yaml:2:3: rules: rule \"a\": `canonicalize` lists no JSON pointer in `paths`",
        );
        let err = parse("rules:\n  - name: a\n    why: b\n    canonicalize: {format: argocd-tracking-id, paths: [/a]}\n    drop: [/a]\n").unwrap_err().to_string();
        assert!(err.contains("more than one action"), "{err}");
    }

    #[test]
    fn a_rule_needs_exactly_one_action() {
        let err =
            parse("rules:\n  - name: a\n    why: b\n    skip: true\n    presence: true\n").unwrap_err().to_string();
        assert!(err.contains("more than one action"), "{err}");
        let err = parse("rules:\n  - name: a\n    why: b\n").unwrap_err().to_string();
        assert!(err.contains("has no action"), "{err}");
        assert!(err.starts_with("rules.yaml:2:"), "{err}");
    }
}
