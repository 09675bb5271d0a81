//! Explains one object's comparison step by step: the object as read on each side, what each
//! rule did to it, in the order normalization applies them, and the normalized form compared.
//! Backs `--show-suppressed` (what the rules removed from each object in scope) and
//! `kparity explain`. Pure: replays the rules on the object as read; the normalized form shown
//! is the one `normalize` produced, never a re-derivation.

use serde_json::Value;

use crate::dump::{Dump, Stored};
use crate::model::ObjectKey;
use crate::rules::{Action, Origin, RuleSet};

/// What one rule did to one object on one side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub rule: String,
    pub origin: Origin,
    /// `skip`, `presence`, `digest`, `drop`, `unordered`.
    pub action: &'static str,
    /// The fields it removed, digested or ordered (RFC 6901 pointers); empty for skip/presence.
    pub paths: Vec<String>,
}

/// One side of an explained object.
#[derive(Debug, Clone, PartialEq)]
pub struct SideExplanation {
    /// As read (secret values digested at read, and hidden here).
    pub as_read: Value,
    pub steps: Vec<Step>,
    /// As compared (hidden likewise for a Secret).
    pub normalized: Value,
}

/// An object explained on both sides (`None`: absent on that side).
#[derive(Debug, Clone, PartialEq)]
pub struct ObjectExplanation {
    pub key: ObjectKey,
    pub old: Option<SideExplanation>,
    pub new: Option<SideExplanation>,
}

/// Explains every object either dump kept as read.
pub fn explain_all(old: &Dump, new: &Dump, rules: &RuleSet) -> Vec<ObjectExplanation> {
    let keys: std::collections::BTreeSet<&ObjectKey> =
        old.provenance.as_read.keys().chain(new.provenance.as_read.keys()).collect();
    keys.into_iter()
        .map(|key| ObjectExplanation { key: key.clone(), old: side(old, key, rules), new: side(new, key, rules) })
        .collect()
}

fn side(d: &Dump, key: &ObjectKey, rules: &RuleSet) -> Option<SideExplanation> {
    let as_read = d.provenance.as_read.get(key)?.to_value().ok()?;
    let normalized = d.objects.get(key).map(Stored::content).and_then(|c| c.to_value().ok()).unwrap_or(Value::Null);
    let steps = steps(key, &as_read, rules);
    Some(SideExplanation { as_read: hide(key, as_read), steps, normalized: hide(key, normalized) })
}

/// The rules' effects on `obj`, in the order `normalize` applies them: the deciding skip or
/// presence rule, digests (applied at read), then drops and orderings matched on the object as
/// read.
pub fn steps(key: &ObjectKey, obj: &Value, rules: &RuleSet) -> Vec<Step> {
    let step = |r: &crate::rules::Rule, paths: Vec<String>| Step {
        rule: r.name.clone(),
        origin: r.origin.clone(),
        action: action_name(&r.action),
        paths,
    };
    let mut out = Vec::new();
    if let Some(r) = rules
        .rules()
        .iter()
        .find(|r| matches!(r.action, Action::Skip | Action::Presence) && r.matcher.matches_object(key, obj))
    {
        out.push(step(r, Vec::new()));
    }
    let mut work = obj.clone();
    for r in rules.rules() {
        if !r.matcher.matches_object(key, obj) {
            continue;
        }
        let paths = match &r.action {
            Action::Digest(p) | Action::Unordered(p) => p.iter().flat_map(|p| present(p, &mut work)).collect(),
            Action::Drop(p) => {
                let mut removed = Vec::new();
                for p in p {
                    removed.extend(present(p, &mut work));
                    p.remove_from(&mut work);
                }
                removed
            }
            Action::DropValues(lists) => {
                let mut removed = Vec::new();
                for (p, values) in lists {
                    let at = present(p, &mut work);
                    if crate::normalize::drop_values_at(&mut work, p, values) > 0 {
                        removed.extend(at.into_iter().map(|path| format!("{path} ({})", values.join(", "))));
                    }
                }
                removed
            }
            Action::Canonicalize(format, ps) => {
                let mut rewritten = Vec::new();
                for p in ps {
                    let at = present(p, &mut work);
                    if crate::normalize::canonicalize_at(key, &mut work, p, *format) > 0 {
                        rewritten.extend(at);
                    }
                }
                rewritten
            }
            Action::Skip | Action::Presence => continue,
        };
        if !paths.is_empty() {
            out.push(step(r, paths));
        }
    }
    out
}

fn present(p: &crate::rules::pattern::PointerPattern, v: &mut Value) -> Vec<String> {
    let mut paths = Vec::new();
    p.for_each_mut(v, &mut |path, _| paths.push(path.to_string()));
    paths
}

pub fn action_name(a: &Action) -> &'static str {
    match a {
        Action::Skip => "skip",
        Action::Drop(_) => "drop",
        Action::Presence => "presence",
        Action::Digest(_) => "digest",
        Action::Unordered(_) => "unordered",
        Action::DropValues(_) => "dropValues",
        Action::Canonicalize(..) => "canonicalize",
    }
}

/// A Secret's values and annotations as reports show them: `(value hidden)`, digests included.
pub fn hide(key: &ObjectKey, v: Value) -> Value {
    if !(key.group.is_empty() && key.kind == crate::secrets::SECRET_KIND) {
        return v;
    }
    fn walk(path: &mut Vec<String>, v: Value) -> Value {
        if crate::secrets::secret_path_is_hidden(path) {
            return mask(&v);
        }
        match v {
            Value::Object(m) => Value::Object(
                m.into_iter()
                    .map(|(k, v)| {
                        path.push(k.clone());
                        let v = walk(path, v);
                        path.pop();
                        (k, v)
                    })
                    .collect(),
            ),
            other => other,
        }
    }
    fn mask(v: &Value) -> Value {
        match v {
            Value::Object(m) => Value::Object(m.iter().map(|(k, v)| (k.clone(), mask(v))).collect()),
            Value::Array(a) => Value::Array(a.iter().map(mask).collect()),
            _ => Value::String("(value hidden)".into()),
        }
    }
    walk(&mut Vec::new(), v)
}

/// One line per step: `drop server-assigned-metadata (profile core): /metadata/uid, /status`.
pub fn step_line(s: &Step) -> String {
    let what = match s.action {
        "skip" => "skipped the object: not compared (when the rule matches the object on both sides)".to_string(),
        "presence" => "compares existence only (when the rule matches the object on both sides)".to_string(),
        "digest" => format!("digested at read: {}", s.paths.join(", ")),
        "unordered" => format!("compared as unordered: {}", s.paths.join(", ")),
        _ => format!("dropped: {}", s.paths.join(", ")),
    };
    format!("{} ({}, {}): {what}", s.rule, s.origin, s.action)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::{Origin, parse_rule_file};
    use serde_json::json;

    fn rules(yaml: &str) -> RuleSet {
        let f = parse_rule_file(yaml, Origin::File("r.yaml".into())).unwrap();
        RuleSet::new(f.rules, Vec::new())
    }

    fn key(kind: &str) -> ObjectKey {
        ObjectKey { group: "".into(), kind: kind.into(), namespace: Some("shop".into()), name: "a".into() }
    }

    #[test]
    fn steps_name_each_rule_and_the_fields_it_removed_in_order() {
        let r = rules(
            "rules:\n  - name: ids\n    why: per cluster\n    drop: [/metadata/uid, /metadata/labels/*]\n  - name: none\n    why: x\n    drop: [/spec/absent]\n  - name: order\n    why: y\n    unordered: [/spec/items]\n",
        );
        let obj =
            json!({"metadata": {"name": "a", "uid": "u", "labels": {"x": "1", "y": "2"}}, "spec": {"items": [2, 1]}});
        let s = steps(&key("ConfigMap"), &obj, &r);
        assert_eq!(s.len(), 2, "{s:?}");
        assert_eq!((s[0].rule.as_str(), s[0].action), ("ids", "drop"));
        assert_eq!(s[0].paths, ["/metadata/uid", "/metadata/labels/x", "/metadata/labels/y"]);
        assert_eq!((s[1].rule.as_str(), s[1].paths.as_slice()), ("order", &["/spec/items".to_string()][..]));
        assert!(step_line(&s[0]).starts_with("ids (r.yaml, drop): dropped: /metadata/uid"));
    }

    #[test]
    fn a_skip_rule_is_the_first_step() {
        let r = rules("rules:\n  - name: skip-a\n    why: z\n    match: {name: a}\n    skip: true\n");
        let s = steps(&key("ConfigMap"), &json!({"metadata": {"name": "a"}}), &r);
        assert_eq!((s[0].rule.as_str(), s[0].action), ("skip-a", "skip"));
    }

    #[test]
    fn secret_values_and_annotations_are_hidden_digests_included() {
        let v = json!({"metadata": {"name": "a", "annotations": {"note": "sha256:abc"}}, "data": {"password": "hmac:canary"}, "type": "Opaque"});
        let h = hide(&key("Secret"), v.clone());
        assert!(!h.to_string().contains("canary") && !h.to_string().contains("abc"), "{h}");
        assert_eq!(h["type"], "Opaque");
        assert_eq!(hide(&key("ConfigMap"), v.clone()), v);
    }
}
