//! Turns one object as read into the form that is compared: applies the rules (skip, presence,
//! drop) and the semantic canonicalizations (keyed arrays, quantities, empty values). Pure,
//! synchronous and deterministic: the same object and rules always give the same result.

pub mod quantity;

use serde_json::{Map, Value};

use crate::model::ObjectKey;
use crate::rules::{Action, RuleSet};

/// What is compared for one object.
#[derive(Debug, Clone, PartialEq)]
pub enum Normalized {
    /// Compared in full.
    Content(Value),
    /// Only its existence is compared (rule index).
    Presence(usize),
    /// Not compared (rule index); reported as excluded.
    Skipped(usize),
}

/// The result of normalizing one object: what to compare, and which rules took effect (indices
/// into `RuleSet::rules`), so rules that never matched can be reported.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub normalized: Normalized,
    pub rule_hits: Vec<usize>,
}

/// Normalizes `obj`, identified by `key`, under `rules`.
pub fn normalize(key: &ObjectKey, mut obj: Value, rules: &RuleSet) -> Outcome {
    let mut rule_hits = Vec::new();
    for (i, rule) in rules.rules.iter().enumerate() {
        match rule.action {
            Action::Skip | Action::Presence if rule.matcher.matches_object(key, &obj) => {
                rule_hits.push(i);
                let normalized =
                    if rule.action == Action::Skip { Normalized::Skipped(i) } else { Normalized::Presence(i) };
                return Outcome { normalized, rule_hits };
            }
            _ => {}
        }
    }
    // Digest rules acted when the object was read (in the source); they count as taking effect
    // where a field they designate exists, so a digest rule that matches nothing is reported.
    for (i, rule) in rules.rules.iter().enumerate() {
        if let Action::Digest(paths) = &rule.action
            && rule.matcher.matches_object(key, &obj)
            && paths.iter().any(|p| p.for_each_mut(&mut obj, &mut |_, _| {}) > 0)
        {
            rule_hits.push(i);
        }
    }
    // Drop rules are matched against the object as read, before any of them removes a field
    // another one's match depends on (e.g. a label selector).
    let matching: Vec<usize> = rules
        .rules
        .iter()
        .enumerate()
        .filter(|(_, r)| matches!(r.action, Action::Drop(_)) && r.matcher.matches_object(key, &obj))
        .map(|(i, _)| i)
        .collect();
    for i in matching {
        if let Action::Drop(paths) = &rules.rules[i].action {
            let removed: usize = paths.iter().map(|p| p.remove_from(&mut obj)).sum();
            if removed > 0 {
                rule_hits.push(i);
            }
        }
    }
    canonicalize(key, &mut obj);
    Outcome { normalized: Normalized::Content(obj), rule_hits }
}

/// Spelling differences that never carry meaning, applied after the rules.
fn canonicalize(key: &ObjectKey, obj: &mut Value) {
    if let Value::Object(map) = obj {
        // Identity is version-agnostic, so the version an object was served in is not content.
        map.remove("apiVersion");
        if key.group.is_empty() && key.kind == crate::secrets::SECRET_KIND {
            fold_string_data(map);
        }
    }
    canonical_values(obj, None);
    prune_empty(obj);
}

/// `stringData` is a write-only convenience for `data`: the API server merges it into `data`.
/// Secret values are digests by now (digested from their raw bytes either way), so folding keeps
/// equal values equal.
fn fold_string_data(map: &mut Map<String, Value>) {
    let Some(Value::Object(string_data)) = map.remove("stringData") else { return };
    let data = map.entry("data").or_insert_with(|| Value::Object(Map::new()));
    if let Value::Object(data) = data {
        for (k, v) in string_data {
            data.insert(k, v);
        }
    }
}

/// Map keys under which Kubernetes stores resource quantities (container resources, quotas,
/// limit ranges, volume capacities, pod overhead).
const QUANTITY_MAPS: &[&str] = &[
    "requests",
    "limits",
    "hard",
    "used",
    "capacity",
    "allocatable",
    "default",
    "defaultRequest",
    "max",
    "min",
    "maxLimitRequestRatio",
    "overhead",
];
/// Scalar fields holding a quantity.
const QUANTITY_FIELDS: &[&str] = &["sizeLimit"];

fn canonical_values(value: &mut Value, parent_key: Option<&str>) {
    match value {
        Value::Object(map) => {
            let in_quantity_map = parent_key.is_some_and(|k| QUANTITY_MAPS.contains(&k));
            for (k, v) in map.iter_mut() {
                match v {
                    Value::String(s) if in_quantity_map || QUANTITY_FIELDS.contains(&k.as_str()) => {
                        if let Some(c) = quantity::canonical(s) {
                            *s = c;
                        }
                    }
                    _ => canonical_values(v, Some(k)),
                }
            }
        }
        Value::Array(items) => {
            for v in items.iter_mut() {
                canonical_values(v, None);
            }
            sort_keyed_array(items);
        }
        _ => {}
    }
}

/// The `name` of every item, when each item is an object with a distinct string `name`: such an
/// array (containers, env, ports, volumes, webhooks, CRD versions...) is really a map.
pub fn keyed_names(items: &[Value]) -> Option<Vec<&str>> {
    if items.is_empty() {
        return None;
    }
    let names: Vec<&str> = items.iter().map(|v| v.get("name").and_then(Value::as_str)).collect::<Option<_>>()?;
    let mut sorted = names.clone();
    sorted.sort_unstable();
    sorted.windows(2).all(|w| w[0] != w[1]).then_some(names)
}

/// Orders a keyed array by name, so reordering is not a difference and a diff matches items by
/// name rather than by index.
fn sort_keyed_array(items: &mut [Value]) {
    if keyed_names(items).is_some() {
        items.sort_by(|a, b| a.get("name").and_then(Value::as_str).cmp(&b.get("name").and_then(Value::as_str)));
    }
}

/// Drops nulls and empty maps/arrays held in map fields: the API treats absent, null and empty
/// alike there. Array items are kept even when empty, since `[{}]` and `[]` differ in meaning
/// (a NetworkPolicy rule allowing everything vs none).
fn prune_empty(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for v in map.values_mut() {
                prune_empty(v);
            }
            map.retain(|_, v| !is_empty(v));
        }
        Value::Array(items) => items.iter_mut().for_each(prune_empty),
        _ => {}
    }
}

fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Object(m) => m.is_empty(),
        Value::Array(a) => a.is_empty(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::{Origin, parse_rule_file};
    use serde_json::json;

    fn key(kind: &str) -> ObjectKey {
        ObjectKey { group: "".into(), kind: kind.into(), namespace: Some("ns".into()), name: "x".into() }
    }

    fn rules(text: &str) -> RuleSet {
        let f = parse_rule_file(text, Origin::File("t.yaml".into())).unwrap();
        RuleSet { rules: f.rules, waivers: f.waivers, ..Default::default() }
    }

    fn check(kind: &str, rules_text: &str, input: Value, expected: Normalized) {
        let out = normalize(&key(kind), input, &rules(rules_text));
        assert_eq!(out.normalized, expected);
    }

    #[test]
    fn drop_rules_remove_fields_and_empty_parents() {
        check(
            "ConfigMap",
            "rules: [{name: a, why: b, drop: [/metadata/uid, /metadata/annotations/x]}]",
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x", "uid": "u", "annotations": {"x": "1"}}}),
            Normalized::Content(json!({"kind": "ConfigMap", "metadata": {"name": "x"}})),
        );
    }

    #[test]
    fn skip_and_presence_win_over_drop() {
        let r = "rules: [{name: a, why: b, drop: [/x]}, {name: s, why: b, match: {kind: Event}, skip: true}, {name: p, why: b, match: {kind: ConfigMap}, presence: true}]";
        check("Event", r, json!({"x": 1}), Normalized::Skipped(1));
        check("ConfigMap", r, json!({"x": 1}), Normalized::Presence(2));
    }

    #[test]
    fn keyed_arrays_are_ordered_by_name() {
        check(
            "Pod",
            "rules: []",
            json!({"spec": {"containers": [{"name": "b", "env": [{"name": "Z", "value": "1"}, {"name": "A", "value": "2"}]}, {"name": "a"}]}}),
            Normalized::Content(
                json!({"spec": {"containers": [{"name": "a"}, {"name": "b", "env": [{"name": "A", "value": "2"}, {"name": "Z", "value": "1"}]}]}}),
            ),
        );
        // Duplicate names: not a map, order kept.
        check(
            "Pod",
            "rules: []",
            json!({"subjects": [{"name": "b", "kind": "User"}, {"name": "b", "kind": "Group"}]}),
            Normalized::Content(json!({"subjects": [{"name": "b", "kind": "User"}, {"name": "b", "kind": "Group"}]})),
        );
    }

    #[test]
    fn quantities_compare_by_value() {
        check(
            "Pod",
            "rules: []",
            json!({"resources": {"limits": {"cpu": "1000m", "memory": "1Gi"}, "requests": {"cpu": "0.5"}}, "emptyDir": {"sizeLimit": "1024Mi"}, "image": "1e3"}),
            Normalized::Content(
                json!({"resources": {"limits": {"cpu": "1", "memory": "1073741824"}, "requests": {"cpu": "0.5"}}, "emptyDir": {"sizeLimit": "1073741824"}, "image": "1e3"}),
            ),
        );
    }

    #[test]
    fn secret_string_data_folds_into_data() {
        check(
            "Secret",
            "rules: []",
            json!({"data": {"a": "d1"}, "stringData": {"b": "d2"}}),
            Normalized::Content(json!({"data": {"a": "d1", "b": "d2"}})),
        );
    }

    #[test]
    fn empty_array_items_keep_their_meaning() {
        check(
            "NetworkPolicy",
            "rules: []",
            json!({"spec": {"ingress": [{}], "egress": [], "podSelector": {}}}),
            Normalized::Content(json!({"spec": {"ingress": [{}]}})),
        );
    }

    #[test]
    fn rule_hits_count_only_effective_drops() {
        let out = normalize(
            &key("ConfigMap"),
            json!({"a": 1}),
            &rules("rules: [{name: a, why: b, drop: [/a]}, {name: c, why: d, drop: [/zzz]}]"),
        );
        assert_eq!(out.rule_hits, vec![0]);
    }
}
