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
    /// Only its existence is compared (rule index). The content is kept too: a rule decides
    /// for a pair only when it matches on both sides (see `diff`), otherwise the pair is
    /// compared in full.
    Presence(usize, Value),
    /// Not compared (rule index); reported as excluded. Content kept as for `Presence`.
    Skipped(usize, Value),
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
    // The first skip or presence rule matching the object decides for it, but only if it also
    // matches the other side's object: the content is normalized anyway, so a pair the rule
    // matches on one side only (a FlowSchema customized on one side, a bare Pod beside an owned
    // one) is compared in full.
    let object_rule = rules
        .rules
        .iter()
        .position(|r| matches!(r.action, Action::Skip | Action::Presence) && r.matcher.matches_object(key, &obj));
    if let Some(i) = object_rule {
        rule_hits.push(i);
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
    let explicit = take_explicit_allocations(&mut obj);
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
    restore_explicit_allocations(&mut obj, explicit);
    mark_pending_deletion(&mut obj);
    canonicalize(key, &mut obj);
    let normalized = match object_rule {
        Some(i) if rules.rules[i].action == Action::Skip => Normalized::Skipped(i, obj),
        Some(i) => Normalized::Presence(i, obj),
        None => Normalized::Content(obj),
    };
    Outcome { normalized, rule_hits }
}

/// Where `record_explicit_allocations` keeps its fact in an object as read (and archived): the
/// JSON pointers of server-allocatable fields a field manager set explicitly.
pub const EXPLICIT_ALLOCATIONS: &str = "x-kparity-explicit-allocations";

/// Records, before `managedFields` are stripped (source/list.rs), which of a Service's
/// server-allocatable fields (`clusterIP`, `clusterIPs`, `ports[*].nodePort`,
/// `healthCheckNodePort`) some field manager set. A value the server allocated belongs to no
/// manager (allocation happens after the request's fields are recorded, for create, update,
/// client- and server-side apply alike); one the user asked for belongs to the manager that
/// sent it (the API server's own writes excepted). Firewalls and load balancers target an explicit port or IP, so it is compared; an
/// allocated one is dropped by the `service-allocated-*` rules.
pub fn record_explicit_allocations(obj: &mut Value) {
    let mut owned: Vec<String> = Vec::new();
    let managers = obj.pointer("/metadata/managedFields").and_then(Value::as_array).cloned().unwrap_or_default();
    let ports = obj.pointer("/spec/ports").and_then(Value::as_array).cloned().unwrap_or_default();
    for m in &managers {
        // The API server writes its own `default/kubernetes` Service with the first IP of its
        // range: that is the server's configuration, not a user's request. Its manager is named
        // after its binary (`kube-apiserver`, or e.g. `kube-apiserver-1.34` when renamed).
        if m.get("manager").and_then(Value::as_str).is_some_and(|n| n.starts_with("kube-apiserver")) {
            continue;
        }
        let Some(spec) = m.pointer("/fieldsV1/f:spec").and_then(Value::as_object) else { continue };
        for field in ["clusterIP", "clusterIPs", "healthCheckNodePort"] {
            if spec.contains_key(&format!("f:{field}")) {
                owned.push(format!("/spec/{field}"));
            }
        }
        let Some(port_keys) = spec.get("f:ports").and_then(Value::as_object) else { continue };
        for (k, fields) in port_keys {
            // `k:{"port":80,"protocol":"TCP"}`: ports are keyed by port and protocol.
            let Some(Ok(pk)) = k.strip_prefix("k:").map(serde_json::from_str::<Value>) else { continue };
            if fields.get("f:nodePort").is_none() {
                continue;
            }
            let index = ports.iter().position(|p| {
                p.get("port") == pk.get("port")
                    && p.get("protocol").and_then(Value::as_str).unwrap_or("TCP")
                        == pk.get("protocol").and_then(Value::as_str).unwrap_or("TCP")
            });
            if let Some(i) = index {
                owned.push(format!("/spec/ports/{i}/nodePort"));
            }
        }
    }
    owned.sort();
    owned.dedup();
    if let (false, Value::Object(map)) = (owned.is_empty(), obj) {
        map.insert(EXPLICIT_ALLOCATIONS.into(), Value::Array(owned.into_iter().map(Value::String).collect()));
    }
}

/// Takes the recorded explicit allocations (and their values) out of the object.
fn take_explicit_allocations(obj: &mut Value) -> Vec<(String, Value)> {
    let Some(Value::Array(pointers)) = obj.as_object_mut().and_then(|m| m.remove(EXPLICIT_ALLOCATIONS)) else {
        return Vec::new();
    };
    pointers
        .iter()
        .filter_map(Value::as_str)
        .filter_map(|p| obj.pointer(p).map(|v| (p.to_string(), v.clone())))
        .collect()
}

/// Puts explicitly set values back after the drop rules: a value a user asked for is intent.
fn restore_explicit_allocations(obj: &mut Value, explicit: Vec<(String, Value)>) {
    for (pointer, value) in explicit {
        let Some((parent, field)) = pointer.rsplit_once('/') else { continue };
        if let Some(Value::Object(m)) = obj.pointer_mut(parent) {
            m.insert(field.to_string(), value);
        }
    }
}

/// What `metadata.deletionTimestamp` says when set.
pub const PENDING_DELETION: &str = "(pending deletion)";

/// An object whose `deletionTimestamp` is set is being deleted (finalizers hold it): that is
/// state, and never equal to a live object. When it is set, its time (assigned by each server)
/// is replaced by one mark, so two objects both pending deletion still compare equal.
fn mark_pending_deletion(obj: &mut Value) {
    if let Some(ts) = obj.pointer_mut("/metadata/deletionTimestamp")
        && !ts.is_null()
    {
        *ts = Value::String(PENDING_DELETION.into());
    }
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
        check("Event", r, json!({"x": 1, "y": 2}), Normalized::Skipped(1, json!({"y": 2})));
        check("ConfigMap", r, json!({"x": 1, "y": 2}), Normalized::Presence(2, json!({"y": 2})));
    }

    #[test]
    fn an_object_pending_deletion_is_marked_whatever_its_time() {
        let r = "rules: [{name: a, why: b, drop: [/metadata/deletionGracePeriodSeconds]}]";
        check(
            "ConfigMap",
            r,
            json!({"metadata": {"name": "x", "deletionTimestamp": "2026-11-24T07:00:00Z", "deletionGracePeriodSeconds": 0, "finalizers": ["f"]}}),
            Normalized::Content(
                json!({"metadata": {"name": "x", "deletionTimestamp": PENDING_DELETION, "finalizers": ["f"]}}),
            ),
        );
        check(
            "ConfigMap",
            r,
            json!({"metadata": {"name": "x"}}),
            Normalized::Content(json!({"metadata": {"name": "x"}})),
        );
    }

    #[test]
    fn explicitly_set_allocations_survive_the_rules_that_drop_allocated_ones() {
        let r = "rules: [{name: a, why: b, drop: [/spec/clusterIP, /spec/ports/*/nodePort]}]";
        let mut svc = json!({
            "metadata": {"name": "x", "managedFields": [
                {"manager": "kubectl", "fieldsV1": {"f:spec": {"f:ports": {
                    "k:{\"port\":443,\"protocol\":\"TCP\"}": {".": {}, "f:nodePort": {}, "f:port": {}},
                    "k:{\"port\":80,\"protocol\":\"TCP\"}": {".": {}, "f:port": {}}
                }}}}
            ]},
            "spec": {"clusterIP": "10.0.0.7", "ports": [
                {"name": "http", "port": 80, "protocol": "TCP", "nodePort": 30080},
                {"name": "https", "port": 443, "protocol": "TCP", "nodePort": 30443}
            ]}
        });
        record_explicit_allocations(&mut svc);
        assert_eq!(svc[EXPLICIT_ALLOCATIONS], json!(["/spec/ports/1/nodePort"]));
        svc["metadata"].as_object_mut().unwrap().remove("managedFields");
        check(
            "Service",
            r,
            svc,
            Normalized::Content(json!({"metadata": {"name": "x"}, "spec": {"ports": [
                {"name": "http", "port": 80, "protocol": "TCP"},
                {"name": "https", "port": 443, "protocol": "TCP", "nodePort": 30443}
            ]}})),
        );
        // Nobody owns the allocated values: nothing recorded, everything allocated dropped.
        let mut svc = json!({"metadata": {"name": "x", "managedFields": [{"manager": "m", "fieldsV1": {"f:spec": {"f:type": {}}}}]}, "spec": {"clusterIP": "10.0.0.7"}});
        record_explicit_allocations(&mut svc);
        assert!(svc.get(EXPLICIT_ALLOCATIONS).is_none());
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
