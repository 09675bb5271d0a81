//! Name globs, JSON-pointer patterns and label selectors: the small languages rule files use to
//! say *which* objects and *which* fields. Each validates while it is deserialized, so a bad
//! pattern is reported by the YAML parser with its line and column.

use std::collections::BTreeMap;
use std::fmt;

use globset::{Glob, GlobMatcher};
use serde::de::{self, Deserialize, Deserializer};
use serde_json::Value;

/// A glob over a name (`kube-*`, `*.k8s.io`). `*` alone matches anything, including the empty
/// core group; a pattern without metacharacters is an exact match.
#[derive(Clone)]
pub struct NameGlob {
    source: String,
    matcher: Option<GlobMatcher>,
    /// A pattern that is one brace group (`{,apps}`, `{kube-system,kube-public}`): its
    /// alternatives, each a glob. globset's own alternation never matches an empty member, and
    /// the empty string is the core API group, so such a group is matched alternative by
    /// alternative.
    alternatives: Vec<NameGlob>,
}

impl NameGlob {
    pub fn parse(s: &str) -> Result<Self, String> {
        if let Some(inner) = s.strip_prefix('{').and_then(|r| r.strip_suffix('}'))
            && !inner.contains(['{', '}'])
        {
            let alternatives = inner.split(',').map(NameGlob::parse).collect::<Result<Vec<_>, _>>()?;
            return Ok(NameGlob { source: s.to_string(), matcher: None, alternatives });
        }
        let matcher = if s.contains(['*', '?', '[', '{']) {
            Some(Glob::new(s).map_err(|e| format!("invalid glob {s:?}: {}", e.kind()))?.compile_matcher())
        } else {
            None
        };
        Ok(NameGlob { source: s.to_string(), matcher, alternatives: Vec::new() })
    }

    pub fn is_match(&self, s: &str) -> bool {
        if !self.alternatives.is_empty() {
            return self.alternatives.iter().any(|a| a.is_match(s));
        }
        match &self.matcher {
            Some(m) => self.source == "*" || m.is_match(s),
            None => self.source == s,
        }
    }

    pub fn as_str(&self) -> &str {
        &self.source
    }

    pub fn is_any(&self) -> bool {
        self.source == "*"
    }
}

impl fmt::Debug for NameGlob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.source)
    }
}

impl PartialEq for NameGlob {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
    }
}

impl<'de> Deserialize<'de> for NameGlob {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        NameGlob::parse(&s).map_err(de::Error::custom)
    }
}

/// One segment of a pointer pattern.
#[derive(Debug, Clone, PartialEq)]
pub enum Segment {
    /// An exact map key or array index.
    Exact(String),
    /// `*`: any map key or any array index.
    Any,
    /// A glob over map keys, e.g. `autoscaling.alpha.kubernetes.io~1*`.
    Glob(NameGlob),
}

impl Segment {
    /// True when this segment designates the map key or array index (as text) `key`.
    pub fn matches_key(&self, key: &str) -> bool {
        match self {
            Segment::Exact(s) => s == key,
            Segment::Any => true,
            Segment::Glob(g) => g.is_match(key),
        }
    }
}

/// An RFC 6901 JSON pointer whose segments may be `*` (any key or index) or a glob over keys.
/// `~1` stands for `/` and `~0` for `~`, as in RFC 6901, so annotation keys are written
/// `/metadata/annotations/kubectl.kubernetes.io~1last-applied-configuration`.
#[derive(Clone, PartialEq)]
pub struct PointerPattern {
    source: String,
    segments: Vec<Segment>,
}

impl PointerPattern {
    pub fn parse(s: &str) -> Result<Self, String> {
        if s.is_empty() {
            return Err("empty JSON pointer: a pointer starts with '/' (the whole object cannot be dropped; use `skip` or `presence`)".into());
        }
        if !s.starts_with('/') {
            return Err(format!("invalid JSON pointer {s:?}: it must start with '/'"));
        }
        let mut segments = Vec::new();
        for raw in s[1..].split('/') {
            let unescaped = unescape(raw).ok_or_else(|| {
                format!("invalid JSON pointer {s:?}: '~' must be followed by 0 or 1 (write '~1' for '/')")
            })?;
            let seg = if unescaped == "*" {
                Segment::Any
            } else if unescaped.contains('*') {
                Segment::Glob(NameGlob::parse(&unescaped)?)
            } else {
                Segment::Exact(unescaped)
            };
            segments.push(seg);
        }
        Ok(PointerPattern { source: s.to_string(), segments })
    }

    pub fn as_str(&self) -> &str {
        &self.source
    }

    pub fn segments(&self) -> &[Segment] {
        &self.segments
    }

    /// Removes every field the pattern designates. Returns how many were removed.
    pub fn remove_from(&self, value: &mut Value) -> usize {
        remove_at(value, &self.segments)
    }

    /// Calls `f` with the concrete path (RFC 6901, escaped) and the value of every field the
    /// pattern designates. Returns how many there were.
    pub fn for_each_mut(&self, value: &mut Value, f: &mut dyn FnMut(&str, &mut Value)) -> usize {
        visit_at(value, &self.segments, &mut String::new(), f)
    }

    /// True when a concrete path (as segments) lies at or below what this pattern designates.
    pub fn covers(&self, path: &[String]) -> bool {
        if path.len() < self.segments.len() {
            return false;
        }
        self.segments.iter().zip(path).all(|(seg, p)| seg.matches_key(p))
    }
}

fn remove_at(value: &mut Value, segments: &[Segment]) -> usize {
    let Some((first, rest)) = segments.split_first() else { return 0 };
    match value {
        Value::Object(map) => {
            if rest.is_empty() {
                let before = map.len();
                match first {
                    Segment::Exact(k) => {
                        map.remove(k);
                    }
                    _ => map.retain(|k, _| !first.matches_key(k)),
                }
                before - map.len()
            } else {
                match first {
                    Segment::Exact(k) => map.get_mut(k).map_or(0, |v| remove_at(v, rest)),
                    _ => map.iter_mut().filter(|(k, _)| first.matches_key(k)).map(|(_, v)| remove_at(v, rest)).sum(),
                }
            }
        }
        Value::Array(items) => {
            if rest.is_empty() {
                match first {
                    Segment::Any => {
                        let n = items.len();
                        items.clear();
                        n
                    }
                    Segment::Exact(k) => match k.parse::<usize>() {
                        Ok(i) if i < items.len() => {
                            items.remove(i);
                            1
                        }
                        _ => 0,
                    },
                    Segment::Glob(_) => 0,
                }
            } else {
                match first {
                    Segment::Any => items.iter_mut().map(|v| remove_at(v, rest)).sum(),
                    Segment::Exact(k) => match k.parse::<usize>() {
                        Ok(i) => items.get_mut(i).map_or(0, |v| remove_at(v, rest)),
                        Err(_) => 0,
                    },
                    Segment::Glob(_) => 0,
                }
            }
        }
        _ => 0,
    }
}

fn visit_at(value: &mut Value, segments: &[Segment], at: &mut String, f: &mut dyn FnMut(&str, &mut Value)) -> usize {
    let Some((first, rest)) = segments.split_first() else {
        f(at, value);
        return 1;
    };
    let len = at.len();
    let mut n = 0;
    let mut step = |at: &mut String, key: &str, v: &mut Value| {
        at.push('/');
        at.push_str(&escape_segment(key));
        let found = visit_at(v, rest, at, f);
        at.truncate(len);
        found
    };
    match value {
        Value::Object(map) => {
            for (k, v) in map.iter_mut() {
                if first.matches_key(k) {
                    n += step(at, k, v);
                }
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter_mut().enumerate() {
                let matched = match first {
                    Segment::Any => true,
                    Segment::Exact(k) => k.parse::<usize>().ok() == Some(i),
                    Segment::Glob(_) => false,
                };
                if matched {
                    n += step(at, &i.to_string(), v);
                }
            }
        }
        _ => {}
    }
    n
}

fn unescape(raw: &str) -> Option<String> {
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c == '~' {
            match chars.next() {
                Some('0') => out.push('~'),
                Some('1') => out.push('/'),
                _ => return None,
            }
        } else {
            out.push(c);
        }
    }
    Some(out)
}

/// Escapes one key for use in a JSON pointer.
pub fn escape_segment(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

impl fmt::Debug for PointerPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.source)
    }
}

impl<'de> Deserialize<'de> for PointerPattern {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        PointerPattern::parse(&s).map_err(de::Error::custom)
    }
}

/// A Kubernetes label selector in its string form: `a=b,c!=d,e,!f,g in (x,y),h notin (z)`.
#[derive(Clone, PartialEq)]
pub struct Selector {
    source: String,
    requirements: Vec<Requirement>,
}

#[derive(Debug, Clone, PartialEq)]
enum Requirement {
    Equals(String, String),
    NotEquals(String, String),
    Exists(String),
    NotExists(String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
}

impl Selector {
    pub fn parse(s: &str) -> Result<Self, String> {
        let mut requirements = Vec::new();
        for part in split_top_level(s) {
            let part = part.trim();
            if part.is_empty() {
                return Err(format!("invalid label selector {s:?}: empty requirement"));
            }
            let req = if let Some(key) = part.strip_prefix('!') {
                Requirement::NotExists(valid_key(key.trim(), s)?)
            } else if let Some((k, v)) = part.split_once("!=") {
                Requirement::NotEquals(valid_key(k.trim(), s)?, valid_value(v.trim(), s)?)
            } else if let Some((k, v)) = part.split_once("==") {
                Requirement::Equals(valid_key(k.trim(), s)?, valid_value(v.trim(), s)?)
            } else if let Some((k, v)) = part.split_once('=') {
                Requirement::Equals(valid_key(k.trim(), s)?, valid_value(v.trim(), s)?)
            } else if part.contains(['<', '>']) {
                // The API server's `gt`/`lt` operators select by integer label values; kparity
                // does not evaluate them itself (archives), so it refuses them everywhere alike.
                return Err(format!("invalid label selector {s:?}: the < and > operators are not supported"));
            } else if let Some((k, set)) = split_set(part, " notin ") {
                Requirement::NotIn(valid_key(k, s)?, parse_set(set, s)?)
            } else if let Some((k, set)) = split_set(part, " in ") {
                Requirement::In(valid_key(k, s)?, parse_set(set, s)?)
            } else {
                Requirement::Exists(valid_key(part, s)?)
            };
            requirements.push(req);
        }
        Ok(Selector { source: s.to_string(), requirements })
    }

    pub fn matches(&self, labels: Option<&serde_json::Map<String, Value>>) -> bool {
        let get = |k: &str| labels.and_then(|l| l.get(k)).and_then(Value::as_str);
        self.requirements.iter().all(|r| match r {
            Requirement::Equals(k, v) => get(k) == Some(v.as_str()),
            Requirement::NotEquals(k, v) => get(k) != Some(v.as_str()),
            Requirement::Exists(k) => get(k).is_some(),
            Requirement::NotExists(k) => get(k).is_none(),
            Requirement::In(k, vs) => get(k).is_some_and(|x| vs.iter().any(|v| v == x)),
            Requirement::NotIn(k, vs) => get(k).is_none_or(|x| vs.iter().all(|v| v != x)),
        })
    }

    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// True when everything this selector selects, `wider` selects too: every requirement of
    /// `wider` is one of this selector's (however spelled). Used to accept a diff of an archive
    /// taken with `-l` under the same or a narrower selector. Sound but not complete: a narrower
    /// selector written differently (`a in (x)` under `a in (x,y)`) is not recognised, which
    /// only makes the diff say "not captured" where it could have compared.
    pub fn narrows(&self, wider: &Selector) -> bool {
        wider.requirements.iter().all(|w| self.requirements.iter().any(|r| r.canonical() == w.canonical()))
    }
}

impl Requirement {
    /// `a==b` and `a=b` are one requirement; a set's order and repeats do not matter.
    fn canonical(&self) -> Requirement {
        let set = |v: &[String]| {
            let mut v = v.to_vec();
            v.sort();
            v.dedup();
            v
        };
        match self {
            Requirement::In(k, v) => Requirement::In(k.clone(), set(v)),
            Requirement::NotIn(k, v) => Requirement::NotIn(k.clone(), set(v)),
            other => other.clone(),
        }
    }
}

fn split_top_level(s: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut depth = 0;
    let mut start = 0;
    for (i, c) in s.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&s[start..]);
    parts
}

fn split_set<'a>(part: &'a str, op: &str) -> Option<(&'a str, &'a str)> {
    let (k, rest) = part.split_once(op)?;
    Some((k.trim(), rest.trim()))
}

fn parse_set(set: &str, whole: &str) -> Result<Vec<String>, String> {
    let inner = set
        .strip_prefix('(')
        .and_then(|x| x.strip_suffix(')'))
        .ok_or_else(|| format!("invalid label selector {whole:?}: a set is written (a,b)"))?;
    let values = inner.split(',').map(|v| valid_value(v.trim(), whole)).collect::<Result<Vec<_>, _>>()?;
    // As the API server: `in ()` and `notin ()` are refused, not read as "nothing" or "anything".
    if values.iter().all(String::is_empty) {
        return Err(format!("invalid label selector {whole:?}: a set needs at least one value"));
    }
    Ok(values)
}

/// A label key as the API validates it: an optional DNS-subdomain prefix and `/`, then a name of
/// at most 63 characters, alphanumeric at both ends, `-`, `_` and `.` inside.
fn valid_key(k: &str, whole: &str) -> Result<String, String> {
    let (prefix, name) = match k.split_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, k),
    };
    let prefix_ok = prefix.is_none_or(|p| {
        !p.is_empty()
            && p.len() <= 253
            && p.split('.').all(|l| {
                !l.is_empty()
                    && l.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
                    && !l.starts_with('-')
                    && !l.ends_with('-')
            })
    });
    if prefix_ok && !name.is_empty() && is_label_text(name) {
        Ok(k.to_string())
    } else {
        Err(format!("invalid label selector {whole:?}: bad key {k:?}"))
    }
}

/// A label value as the API validates it: empty, or at most 63 characters, alphanumeric at both
/// ends, `-`, `_` and `.` inside. A value the server would refuse is refused here too, so an
/// archive is never filtered by a selector a live read could not have used.
fn valid_value(v: &str, whole: &str) -> Result<String, String> {
    if v.is_empty() || is_label_text(v) {
        Ok(v.to_string())
    } else {
        Err(format!("invalid label selector {whole:?}: bad value {v:?}"))
    }
}

fn is_label_text(s: &str) -> bool {
    let edge = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
    s.len() <= 63
        && edge(s.chars().next())
        && edge(s.chars().last())
        && s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

impl fmt::Debug for Selector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.source)
    }
}

impl<'de> Deserialize<'de> for Selector {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Selector::parse(&s).map_err(de::Error::custom)
    }
}

/// Exact-value requirements on fields of an object, by JSON pointer (no wildcards).
pub type FieldRequirements = BTreeMap<String, String>;

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check_remove(pattern: &str, mut input: Value, expected: Value, removed: usize) {
        let p = PointerPattern::parse(pattern).unwrap();
        assert_eq!(p.remove_from(&mut input), removed, "{pattern}");
        assert_eq!(input, expected, "{pattern}");
    }

    #[test]
    fn pointer_removes_exact_wildcard_and_glob_paths() {
        check_remove(
            "/metadata/uid",
            json!({"metadata": {"uid": "x", "name": "a"}}),
            json!({"metadata": {"name": "a"}}),
            1,
        );
        check_remove(
            "/metadata/ownerReferences/*/uid",
            json!({"metadata": {"ownerReferences": [{"uid": 1, "kind": "A"}, {"uid": 2, "kind": "B"}]}}),
            json!({"metadata": {"ownerReferences": [{"kind": "A"}, {"kind": "B"}]}}),
            2,
        );
        check_remove(
            "/metadata/annotations/autoscaling.alpha.kubernetes.io~1*",
            json!({"metadata": {"annotations": {"autoscaling.alpha.kubernetes.io/conditions": "x", "keep": "y"}}}),
            json!({"metadata": {"annotations": {"keep": "y"}}}),
            1,
        );
        check_remove(
            "/metadata/annotations/kubectl.kubernetes.io~1last-applied-configuration",
            json!({"metadata": {"annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{}"}}}),
            json!({"metadata": {"annotations": {}}}),
            1,
        );
        check_remove(
            "/spec/ports/*/nodePort",
            json!({"spec": {"ports": [{"nodePort": 1}, {"port": 2}]}}),
            json!({"spec": {"ports": [{}, {"port": 2}]}}),
            1,
        );
        check_remove("/nothing/here", json!({"a": 1}), json!({"a": 1}), 0);
    }

    #[test]
    fn pointer_rejects_malformed_input() {
        assert!(PointerPattern::parse("").is_err());
        assert!(PointerPattern::parse("metadata/uid").is_err());
        assert!(PointerPattern::parse("/a/~2").is_err());
        assert!(PointerPattern::parse("/a/[").is_err() || PointerPattern::parse("/a/[*").is_err());
    }

    #[test]
    fn pointer_covers_paths_below_it() {
        let p = PointerPattern::parse("/spec/template/*/containers").unwrap();
        let path = |s: &str| s.split('/').skip(1).map(String::from).collect::<Vec<_>>();
        assert!(p.covers(&path("/spec/template/spec/containers/0/image")));
        assert!(!p.covers(&path("/spec/template")));
        assert!(!p.covers(&path("/spec/selector/x/containers")));
    }

    #[test]
    fn globs_match_names_and_core_group() {
        assert!(NameGlob::parse("*").unwrap().is_match(""));
        // A brace group with an empty member matches the core group ("") and the others only.
        let g = NameGlob::parse("{,apps}").unwrap();
        assert!(g.is_match("") && g.is_match("apps") && !g.is_match("batch"));
        assert!(NameGlob::parse("{kube-*,default}").unwrap().is_match("kube-public"));
        assert!(NameGlob::parse("kube-*").unwrap().is_match("kube-system"));
        assert!(!NameGlob::parse("kube-*").unwrap().is_match("default"));
        assert!(NameGlob::parse("").unwrap().is_match(""));
        assert!(!NameGlob::parse("").unwrap().is_match("apps"));
        assert!(NameGlob::parse("a[").is_err());
    }

    #[test]
    fn selectors_follow_kubernetes_semantics() {
        let labels = json!({"app": "web", "tier": "front"});
        let l = labels.as_object();
        let check = |s: &str, expected: bool| assert_eq!(Selector::parse(s).unwrap().matches(l), expected, "{s}");
        check("app=web", true);
        check("app==web,tier=front", true);
        check("app!=web", false);
        check("app", true);
        check("!app", false);
        check("!missing", true);
        check("tier in (front, back)", true);
        check("tier notin (front)", false);
        check("missing notin (x)", true);
        assert!(Selector::parse("a=b,,c").is_err());
        assert!(Selector::parse("a b=c").is_err());
        // What the API server refuses is refused here, never read as "nothing" or "anything".
        for bad in ["a in ()", "a notin ( )", "a=b c", "a=-b", "a>1", "a<1", "Bad_Prefix/x=1", "/x", "a/=b", "a=b;c"] {
            assert!(Selector::parse(bad).is_err(), "{bad}");
        }
        assert!(Selector::parse("app.kubernetes.io/name=web,a=,b in (x, y)").is_ok());
        check("tier=", false);
        check("missing=", false);
    }

    #[test]
    fn a_selector_narrows_one_whose_requirements_it_all_has() {
        let s = |x: &str| Selector::parse(x).unwrap();
        assert!(s("app=web").narrows(&s("app=web")));
        assert!(s("app==web,tier=front").narrows(&s("app=web")));
        assert!(s("tier in (b,a,a)").narrows(&s("tier in (a, b)")));
        assert!(!s("app=web").narrows(&s("app=web,tier=front")));
        assert!(!s("app=db").narrows(&s("app=web")));
        assert!(!s("app!=web").narrows(&s("app=web")));
        // Narrower in meaning but spelled differently: not recognised (conservative).
        assert!(!s("tier in (a)").narrows(&s("tier in (a,b)")));
    }
}
