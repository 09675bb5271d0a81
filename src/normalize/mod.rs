//! Turns one object as read into the form that is compared: applies the rules (skip, presence,
//! drop, unordered) and the canonicalizations the API's schema justifies (quantities, values the
//! API defines as the same as absent). Pure, synchronous and deterministic: the same object,
//! rules and schema always give the same result.

pub mod quantity;
pub mod tracking_id;

use serde_json::{Map, Value};

use crate::model::ObjectKey;
use crate::rules::pattern::{PointerPattern, Segment};
use crate::rules::{Action, Rule, RuleId, RuleSet, ValueFormat};
use crate::schema::{Node, Sem};

/// What is compared for one object.
#[derive(Debug, Clone, PartialEq)]
pub enum Normalized {
    /// Compared in full.
    Content(Value),
    /// Only its existence is compared (by this rule). The content is kept too: a rule decides
    /// for a pair only when it matches on both sides (see `diff`), otherwise the pair is
    /// compared in full.
    Presence(RuleId, Value),
    /// Not compared (by this rule); reported as excluded. Content kept as for `Presence`.
    Skipped(RuleId, Value),
}

/// The result of normalizing one object: what to compare, and which rules took effect, so rules
/// that never matched can be reported.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub normalized: Normalized,
    pub rule_hits: Vec<RuleId>,
    /// How many fields each drop or canonicalize rule changed, for the rules accounting.
    pub fields_dropped: Vec<(RuleId, usize)>,
}

/// Normalizes `obj`, identified by `key`, under `rules`, without schema: every list keeps its
/// order, empty values are kept and quantities compare as spelled (see `normalize_with`).
pub fn normalize(key: &ObjectKey, obj: Value, rules: &RuleSet) -> Outcome {
    normalize_with(key, obj, rules, None)
}

/// Normalizes `obj` under `rules` and the schema of its kind (`None`: unknown, compared
/// conservatively).
pub fn normalize_with(key: &ObjectKey, obj: Value, rules: &RuleSet, schema: Option<&Node>) -> Outcome {
    let all: Vec<&Rule> = rules.rules().iter().collect();
    normalize_under(key, obj, &all, schema)
}

/// The rules of `rules` that can match objects of `key`'s group and kind, in order: what
/// `normalize_under` needs for every object of one type. Every rule's match checks group and kind
/// first, so leaving the others out changes no outcome; it only saves testing them per object.
pub fn rules_for_type<'r>(rules: &'r RuleSet, key: &ObjectKey) -> Vec<&'r Rule> {
    rules.rules().iter().filter(|r| r.matcher.matches_type(&key.group, &key.kind)).collect()
}

/// `normalize_with` under a list of rules in the rule set's order (`rules_for_type`).
pub fn normalize_under(key: &ObjectKey, mut obj: Value, rules: &[&Rule], schema: Option<&Node>) -> Outcome {
    let mut rule_hits = Vec::new();
    // The first skip or presence rule matching the object decides for it, but only if it also
    // matches the other side's object: the content is normalized anyway, so a pair the rule
    // matches on one side only (a FlowSchema customized on one side, a bare Pod beside an owned
    // one) is compared in full.
    let object_rule = rules
        .iter()
        .copied()
        .find(|r| matches!(r.action, Action::Skip | Action::Presence) && r.matcher.matches_object(key, &obj));
    if let Some(r) = object_rule {
        rule_hits.push(r.id);
    }
    // Digest rules acted when the object was read (in the source); they count as taking effect
    // where a field they designate exists, so a digest rule that matches nothing is reported.
    for rule in rules {
        if let Action::Digest(paths) = &rule.action
            && rule.matcher.matches_object(key, &obj)
            && paths.iter().any(|p| p.for_each_mut(&mut obj, &mut |_, _| {}) > 0)
        {
            rule_hits.push(rule.id);
        }
    }
    let explicit = take_explicit_allocations(&mut obj);
    // Drop and order rules are matched against the object as read, before any of them removes a
    // field another one's match depends on (e.g. a label selector).
    let matching: Vec<&Rule> = rules
        .iter()
        .copied()
        .filter(|r| {
            matches!(
                r.action,
                Action::Drop(_) | Action::Unordered(_) | Action::DropValues(_) | Action::Canonicalize(..)
            ) && r.matcher.matches_object(key, &obj)
        })
        .collect();
    let fields_dropped = drop_and_canonicalize(key, &mut obj, &matching);
    rule_hits.extend(fields_dropped.iter().map(|(id, _)| *id));
    restore_explicit_allocations(&mut obj, explicit);
    mark_pending_deletion(&mut obj);
    canonicalize(key, &mut obj, schema);
    rule_hits.extend(order_lists(&mut obj, &matching, schema));
    let normalized = match object_rule {
        Some(r) if r.action == Action::Skip => Normalized::Skipped(r.id, obj),
        Some(r) => Normalized::Presence(r.id, obj),
        None => Normalized::Content(obj),
    };
    Outcome { normalized, rule_hits, fields_dropped }
}

/// Applies the matching drop rules, then the canonicalize rules; returns, in that order, each
/// rule that changed something with how many fields it dropped or rewrote.
fn drop_and_canonicalize(key: &ObjectKey, obj: &mut Value, matching: &[&Rule]) -> Vec<(RuleId, usize)> {
    let mut fields_dropped = Vec::new();
    for r in matching {
        let removed: usize = match &r.action {
            Action::Drop(paths) => paths.iter().map(|p| drop_at(obj, p.segments())).sum(),
            Action::DropValues(lists) => lists.iter().map(|(p, values)| drop_values_at(obj, p, values)).sum(),
            _ => 0,
        };
        if removed > 0 {
            fields_dropped.push((r.id, removed));
        }
    }
    for r in matching {
        if let Action::Canonicalize(format, paths) = &r.action {
            let changed: usize = paths.iter().map(|p| canonicalize_at(key, obj, p, *format)).sum();
            if changed > 0 {
                fields_dropped.push((r.id, changed));
            }
        }
    }
    fields_dropped
}

/// Orders the lists the matching `unordered` rules name, once their items are canonical,
/// innermost lists first, so an outer list sorted by its items' text sees its inner lists
/// already in order. Returns the rules that reordered something, by id.
fn order_lists(obj: &mut Value, matching: &[&Rule], schema: Option<&Node>) -> Vec<RuleId> {
    let mut orders: Vec<(RuleId, &PointerPattern)> = matching
        .iter()
        .filter_map(|r| match &r.action {
            Action::Unordered(paths) => Some(paths.iter().map(move |p| (r.id, p))),
            _ => None,
        })
        .flatten()
        .collect();
    orders.sort_by_key(|(_, p)| std::cmp::Reverse(p.segments().len()));
    let mut ordered_by = Vec::new();
    for (i, p) in orders {
        if sort_at(obj, p.segments(), schema) > 0 && !ordered_by.contains(&i) {
            ordered_by.push(i);
        }
    }
    ordered_by.sort_unstable();
    ordered_by
}

/// Where `record_explicit_allocations` keeps its fact in an object as read (and archived): the
/// JSON pointers of server-allocatable fields a field manager set explicitly.
pub const EXPLICIT_ALLOCATIONS: &str = "x-kparity-explicit-allocations";

/// Records, from the attribution record of its managedFields (`attribution::Recorded`: per
/// manager its name and owned `fields`), which of a Service's
/// server-allocatable fields (`clusterIP`, `clusterIPs`, `ports[*].nodePort`,
/// `healthCheckNodePort`) some field manager set. A value the server allocated belongs to no
/// manager (allocation happens after the request's fields are recorded, for create, update,
/// client- and server-side apply alike); one the user asked for belongs to the manager that
/// sent it (the API server's own writes excepted). Firewalls and load balancers target an explicit port or IP, so it is compared; an
/// allocated one is dropped by the `service-allocated-*` rules.
pub fn record_explicit_allocations(obj: &mut Value, managers: &[Value]) {
    let mut owned: Vec<String> = Vec::new();
    let ports = obj.pointer("/spec/ports").and_then(Value::as_array).cloned().unwrap_or_default();
    for m in managers {
        // The API server writes its own `default/kubernetes` Service with the first IP of its
        // range: that is the server's configuration, not a user's request. Its manager is named
        // after its binary (`kube-apiserver`, or e.g. `kube-apiserver-1.34` when renamed).
        if m.get("manager").and_then(Value::as_str).is_some_and(|n| n.starts_with("kube-apiserver")) {
            continue;
        }
        let Some(spec) = m.pointer("/fields/f:spec").and_then(Value::as_object) else { continue };
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

/// Brings the string values a `canonicalize` rule designates into their format's canonical
/// form; returns how many it changed. For `argocd-tracking-id` the canonical form of an id
/// naming its own object is no value at all (the field is removed, and a map it leaves empty);
/// a value that is not a string or not in the format's shape is left as written.
pub(crate) fn canonicalize_at(key: &ObjectKey, obj: &mut Value, p: &PointerPattern, format: ValueFormat) -> usize {
    let mut own: Vec<String> = Vec::new();
    p.for_each_mut(obj, &mut |at, v| match (format, v.as_str()) {
        (ValueFormat::ArgocdTrackingId, Some(s)) if tracking_id::names_itself(s, key) => own.push(at.to_string()),
        _ => {}
    });
    own.iter().filter_map(|at| PointerPattern::parse(at).ok()).map(|exact| drop_at(obj, exact.segments())).sum()
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
fn canonicalize(key: &ObjectKey, obj: &mut Value, schema: Option<&Node>) {
    if let Value::Object(map) = obj {
        // Identity is version-agnostic, so the version an object was served in is not content.
        map.remove("apiVersion");
        if key.group.is_empty() && key.kind == crate::secrets::SECRET_KIND {
            fold_string_data(map);
        }
    }
    canonical_values(obj, schema);
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

/// Quantities where the schema says quantity, and fields the API defines as the same as absent
/// removed: `null` anywhere (JSON null decodes to the absent value), `{}` where the schema says
/// map (`additionalProperties`: labels, annotations, data, limits...) and `[]` where it says
/// list. An empty *struct* is kept: a present empty label selector selects everything, an
/// absent one often nothing; and where the schema is unknown nothing empty but null is removed.
/// List items are never removed: `[{}]` and `[]` differ (a NetworkPolicy rule allowing
/// everything vs none).
fn canonical_values(value: &mut Value, node: Option<&Node>) {
    if node.and_then(|n| n.sem.as_ref()) == Some(&Sem::Quantity) {
        let canonical = match value {
            Value::String(s) => quantity::canonical(s),
            Value::Number(n) => quantity::canonical(&n.to_string()),
            _ => None,
        };
        if let Some(c) = canonical {
            *value = Value::String(c);
        }
        return;
    }
    match value {
        Value::Object(map) => {
            for (k, v) in map.iter_mut() {
                canonical_values(v, node.and_then(|n| n.child(k)));
            }
            map.retain(|k, v| !same_as_absent(v, node.and_then(|n| n.child(k))));
        }
        Value::Array(items) => {
            let items_node = node.and_then(Node::items);
            for v in items.iter_mut() {
                canonical_values(v, items_node);
            }
        }
        _ => {}
    }
}

fn same_as_absent(v: &Value, node: Option<&Node>) -> bool {
    let sem = node.and_then(|n| n.sem.as_ref());
    match v {
        Value::Null => true,
        Value::Object(m) => m.is_empty() && sem == Some(&Sem::Map),
        Value::Array(a) => a.is_empty() && sem.is_some_and(Sem::is_list),
        _ => false,
    }
}

fn is_empty_container(v: &Value) -> bool {
    match v {
        Value::Object(m) => m.is_empty(),
        Value::Array(a) => a.is_empty(),
        _ => false,
    }
}

/// Removes what a drop rule designates, and the map fields its removal left empty (an
/// annotations map that held only a dropped annotation): they held only what the rule says is
/// not compared. A field that was already empty is left to `canonical_values`.
/// Removes the string items equal to one of `values` from the list at `ptr` (every other item,
/// and the list's order, kept); a list left empty goes, as an emptied map does under `drop`.
pub(crate) fn drop_values_at(obj: &mut Value, ptr: &PointerPattern, values: &[String]) -> usize {
    let mut removed = 0;
    let emptied = {
        let mut emptied = false;
        ptr.for_each_mut(obj, &mut |_, list| {
            if let Value::Array(items) = list {
                let before = items.len();
                items.retain(|item| !item.as_str().is_some_and(|s| values.iter().any(|v| v == s)));
                let n = before - items.len();
                removed += n;
                emptied |= n > 0 && items.is_empty();
            }
        });
        emptied
    };
    if emptied {
        drop_at(obj, ptr.segments());
    }
    removed
}

fn drop_at(value: &mut Value, segments: &[Segment]) -> usize {
    let Some((first, rest)) = segments.split_first() else { return 0 };
    match value {
        Value::Object(map) => {
            if rest.is_empty() {
                let before = map.len();
                map.retain(|k, _| !first.matches_key(k));
                return before - map.len();
            }
            let mut removed = 0;
            let mut emptied = Vec::new();
            for (k, v) in map.iter_mut().filter(|(k, _)| first.matches_key(k)) {
                let was_empty = is_empty_container(v);
                let n = drop_at(v, rest);
                if n > 0 && !was_empty && is_empty_container(v) {
                    emptied.push(k.clone());
                }
                removed += n;
            }
            for k in emptied {
                map.remove(&k);
            }
            removed
        }
        Value::Array(items) => {
            let index_matches = |i: usize| first.matches_key(&i.to_string());
            if rest.is_empty() {
                let before = items.len();
                let mut i = 0;
                items.retain(|_| {
                    let keep = !index_matches(i);
                    i += 1;
                    keep
                });
                return before - items.len();
            }
            // Items emptied by a drop stay: an item's position is meaning.
            items.iter_mut().enumerate().filter(|(i, _)| index_matches(*i)).map(|(_, v)| drop_at(v, rest)).sum()
        }
        _ => 0,
    }
}

/// Orders the lists an `unordered` rule designates; returns how many lists it found.
fn sort_at(value: &mut Value, segments: &[Segment], node: Option<&Node>) -> usize {
    match segments.split_first() {
        None => match value {
            Value::Array(items) => {
                sort_list(items, node.and_then(|n| n.sem.as_ref()));
                1
            }
            _ => 0,
        },
        Some((first, rest)) => match value {
            Value::Object(map) => map
                .iter_mut()
                .filter(|(k, _)| first.matches_key(k))
                .map(|(k, v)| sort_at(v, rest, node.and_then(|n| n.child(k))))
                .sum(),
            Value::Array(items) => {
                let items_node = node.and_then(Node::items);
                items
                    .iter_mut()
                    .enumerate()
                    .filter(|(i, _)| first.matches_key(&i.to_string()))
                    .map(|(_, v)| sort_at(v, rest, items_node))
                    .sum()
            }
            _ => 0,
        },
    }
}

/// A list whose order the rules declare meaningless, sorted: by its declared keys (so a diff
/// still matches items by key), else by each item's canonical text.
fn sort_list(items: &mut [Value], sem: Option<&Sem>) {
    let text = |v: &Value| serde_json::to_string(v).unwrap_or_default();
    if let Some(Sem::ListMap(keys)) = sem {
        let key_of = |v: &Value| -> Option<Vec<String>> { keys.iter().map(|k| v.get(k).map(text)).collect() };
        if items.iter().all(|v| key_of(v).is_some()) {
            items.sort_by_cached_key(|v| (key_of(v), text(v)));
            return;
        }
    }
    items.sort_by_cached_key(text);
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
        RuleSet::new(f.rules, f.waivers)
    }

    fn check(kind: &str, rules_text: &str, input: Value, expected: Normalized) {
        let out = normalize(&key(kind), input, &rules(rules_text));
        assert_eq!(out.normalized, expected);
    }

    #[test]
    fn the_rules_of_a_type_normalize_its_objects_as_every_rule_does() {
        // Globs over group and kind, a kind-less rule, and a rule of another kind.
        let set = rules(
            "rules:\n\
             - {name: any, why: w, drop: [/metadata/uid]}\n\
             - {name: glob, why: w, match: {kind: 'Config*'}, drop: [/data/a]}\n\
             - {name: grp, why: w, match: {group: 'apps', kind: Deployment}, drop: [/spec/replicas]}\n\
             - {name: skip, why: w, match: {kind: Secret, name: x}, skip: true}\n\
             - {name: other, why: w, match: {kind: Pod}, drop: [/data/b]}",
        );
        let objects = [
            (key("ConfigMap"), json!({"metadata": {"name": "x", "uid": "u"}, "data": {"a": "1", "b": "2"}})),
            (key("Secret"), json!({"metadata": {"name": "x", "uid": "u"}, "data": {"b": "2"}})),
            (
                ObjectKey { group: "apps".into(), kind: "Deployment".into(), namespace: None, name: "x".into() },
                json!({"metadata": {"name": "x"}, "spec": {"replicas": 2}, "data": {"b": 1}}),
            ),
        ];
        for (k, obj) in objects {
            let of_type = rules_for_type(&set, &k);
            assert!(of_type.len() < set.rules().len(), "{k}: the other kinds' rules are left out");
            assert_eq!(normalize_under(&k, obj.clone(), &of_type, None), normalize_with(&k, obj, &set, None), "{k}");
        }
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

    /// The built-in `argocd` profile leaves out an id naming its own object, on either side, and
    /// nothing else: an id naming another object, or one Argo CD would not parse, differs.
    #[test]
    fn the_argocd_profile_hides_only_a_tracking_id_naming_its_own_object() {
        let profile = crate::rules::builtin::PROFILES.iter().find(|p| p.name == "argocd").unwrap();
        let set = RuleSet::new(crate::rules::builtin::parse(profile).unwrap().rules, Vec::new());
        let k = ObjectKey {
            group: "apps".into(),
            kind: "Deployment".into(),
            namespace: Some("guestbook".into()),
            name: "guestbook-ui".into(),
        };
        let compared = |id: Option<&str>| {
            let mut obj =
                json!({"kind": "Deployment", "metadata": {"name": "guestbook-ui", "annotations": {"a": "1"}}});
            if let Some(id) = id {
                obj["metadata"]["annotations"]["argocd.argoproj.io/tracking-id"] = json!(id);
            }
            match normalize(&k, obj, &set).normalized {
                Normalized::Content(v) => v,
                other => panic!("{other:?}"),
            }
        };
        let blue = compared(Some("guestbook-blue:apps/Deployment:guestbook/guestbook-ui"));
        assert_eq!(blue, compared(Some("guestbook-green:apps/Deployment:guestbook/guestbook-ui")));
        assert_eq!(blue["metadata"]["annotations"], json!({"a": "1"}), "every other annotation stays");
        // Synced by Argo CD on one side, applied by another tool on the other: the same object.
        assert_eq!(blue, compared(None), "tracked on one side only");
        for other in [
            "guestbook-green:apps/Deployment:guestbook/guestbook-config",
            "guestbook-green:apps/Deployment:default/guestbook-ui",
            "guestbook-green:/ConfigMap:guestbook/guestbook-ui",
            "guestbook-blue:apps/Deployment:guestbook/other",
        ] {
            let v = compared(Some(other));
            assert_ne!(blue, v, "an id naming another object: {other}");
            assert_eq!(v["metadata"]["annotations"]["argocd.argoproj.io/tracking-id"], other, "kept as written");
        }
        for bad in ["guestbook-green", "guestbook-green:apps/v1/Deployment:guestbook/guestbook-ui", ""] {
            let v = compared(Some(bad));
            assert_ne!(blue, v, "unparsable: {bad:?}");
            assert_eq!(v["metadata"]["annotations"]["argocd.argoproj.io/tracking-id"], bad, "kept as written");
        }
    }

    #[test]
    fn skip_and_presence_win_over_drop() {
        let r = "rules: [{name: a, why: b, drop: [/x]}, {name: s, why: b, match: {kind: Event}, skip: true}, {name: p, why: b, match: {kind: ConfigMap}, presence: true}]";
        check("Event", r, json!({"x": 1, "y": 2}), Normalized::Skipped(RuleId::at(1), json!({"y": 2})));
        check("ConfigMap", r, json!({"x": 1, "y": 2}), Normalized::Presence(RuleId::at(2), json!({"y": 2})));
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
                {"manager": "kubectl", "operation": "Update", "fieldsV1": {"f:spec": {"f:ports": {
                    "k:{\"port\":443,\"protocol\":\"TCP\"}": {".": {}, "f:nodePort": {}, "f:port": {}},
                    "k:{\"port\":80,\"protocol\":\"TCP\"}": {".": {}, "f:port": {}}
                }}}}
            ]},
            "spec": {"clusterIP": "10.0.0.7", "ports": [
                {"name": "http", "port": 80, "protocol": "TCP", "nodePort": 30080},
                {"name": "https", "port": 443, "protocol": "TCP", "nodePort": 30443}
            ]}
        });
        let managers = recorded_managers(&mut svc);
        record_explicit_allocations(&mut svc, &managers);
        assert_eq!(svc[EXPLICIT_ALLOCATIONS], json!(["/spec/ports/1/nodePort"]));
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
        let mut svc = json!({"metadata": {"name": "x", "managedFields": [{"manager": "m", "operation": "Update", "fieldsV1": {"f:spec": {"f:type": {}}}}]}, "spec": {"clusterIP": "10.0.0.7"}});
        let managers = recorded_managers(&mut svc);
        record_explicit_allocations(&mut svc, &managers);
        assert!(svc.get(EXPLICIT_ALLOCATIONS).is_none());
        // The API server's own request for `default/kubernetes` is its configuration.
        let mut svc = json!({"metadata": {"name": "kubernetes", "managedFields": [{"manager": "kube-apiserver-1.34", "operation": "Update", "fieldsV1": {"f:spec": {"f:clusterIP": {}}}}]}, "spec": {"clusterIP": "10.0.0.1"}});
        let managers = recorded_managers(&mut svc);
        record_explicit_allocations(&mut svc, &managers);
        assert!(svc.get(EXPLICIT_ALLOCATIONS).is_none());
        // A user's explicit clusterIP is recorded.
        let mut svc = json!({"metadata": {"name": "x", "managedFields": [{"manager": "kubectl", "operation": "Apply", "fieldsV1": {"f:spec": {"f:clusterIP": {}, "f:clusterIPs": {}}}}]}, "spec": {"clusterIP": "10.0.0.9"}});
        let managers = recorded_managers(&mut svc);
        record_explicit_allocations(&mut svc, &managers);
        assert_eq!(svc[EXPLICIT_ALLOCATIONS], json!(["/spec/clusterIP", "/spec/clusterIPs"]));
    }

    /// The object's managedFields as the source records them (and drops them).
    fn recorded_managers(obj: &mut Value) -> Vec<Value> {
        crate::attribution::record(obj);
        let rec = obj["metadata"].as_object_mut().unwrap().remove(crate::attribution::ATTRIBUTION);
        assert!(obj["metadata"].get("managedFields").is_none());
        rec.and_then(|r| r.as_array().cloned()).unwrap_or_default()
    }

    /// The schema facts of a Pod-like kind, as `schema::kinds_of_document` reads them.
    fn pod_schema() -> Node {
        Node::from_paths([
            ("/metadata/labels", Sem::Map),
            ("/metadata/annotations", Sem::Map),
            ("/metadata/finalizers", Sem::Set),
            ("/spec/containers", Sem::ListMap(vec!["name".into()])),
            ("/spec/containers/*/env", Sem::ListMap(vec!["name".into()])),
            ("/spec/containers/*/args", Sem::Atomic),
            ("/spec/containers/*/ports", Sem::ListMap(vec!["containerPort".into(), "protocol".into()])),
            ("/spec/containers/*/resources/limits", Sem::Map),
            ("/spec/containers/*/resources/limits/*", Sem::Quantity),
            ("/spec/containers/*/resources/requests", Sem::Map),
            ("/spec/containers/*/resources/requests/*", Sem::Quantity),
            ("/spec/volumes", Sem::ListMap(vec!["name".into()])),
            ("/spec/volumes/*/emptyDir/sizeLimit", Sem::Quantity),
            ("/spec/nodeSelector", Sem::Map),
            ("/spec/tolerations", Sem::Atomic),
        ])
    }

    fn check_with(schema: Option<&Node>, rules_text: &str, input: Value, expected: Value) {
        let out = normalize_with(&key("Pod"), input, &rules(rules_text), schema);
        assert_eq!(out.normalized, Normalized::Content(expected));
    }

    #[test]
    fn lists_keep_their_order_unless_a_rule_declares_it_meaningless() {
        let pod = json!({"spec": {"containers": [{"name": "b", "env": [{"name": "Z", "value": "1"}, {"name": "A", "value": "2"}]}, {"name": "a"}]}});
        check_with(Some(&pod_schema()), "rules: []", pod.clone(), pod.clone());
        check_with(None, "rules: []", pod.clone(), pod);
        // Declared unordered: sorted by the declared key, inner lists too; env stays in order.
        check_with(
            Some(&pod_schema()),
            "rules: [{name: u, why: w, unordered: [/spec/containers, /spec/volumes]}]",
            json!({"spec": {"containers": [{"name": "b", "env": [{"name": "Z"}, {"name": "A"}]}, {"name": "a"}], "volumes": [{"name": "y"}, {"name": "x"}]}}),
            json!({"spec": {"containers": [{"name": "a"}, {"name": "b", "env": [{"name": "Z"}, {"name": "A"}]}], "volumes": [{"name": "x"}, {"name": "y"}]}}),
        );
        // Without declared keys (atomic, or no schema), by each item's canonical text.
        check_with(
            None,
            "rules: [{name: u, why: w, unordered: [/spec/tolerations, /rules/*/verbs]}]",
            json!({"spec": {"tolerations": [{"key": "b"}, {"key": "a", "effect": "NoSchedule"}]}, "rules": [{"verbs": ["list", "get"]}]}),
            json!({"spec": {"tolerations": [{"effect": "NoSchedule", "key": "a"}, {"key": "b"}]}, "rules": [{"verbs": ["get", "list"]}]}),
        );
    }

    #[test]
    fn unordered_rules_count_as_hits_only_where_a_list_was_found() {
        let r = "rules: [{name: u, why: w, unordered: [/spec/volumes]}, {name: v, why: w, unordered: [/nothing]}]";
        let out = normalize_with(&key("Pod"), json!({"spec": {"volumes": [{"name": "a"}]}}), &rules(r), None);
        assert_eq!(out.rule_hits, vec![RuleId::at(0)]);
    }

    #[test]
    fn quantities_compare_by_value_only_where_the_schema_says_quantity() {
        check_with(
            Some(&pod_schema()),
            "rules: []",
            json!({"spec": {"containers": [{"name": "a", "image": "1e3", "resources": {"limits": {"cpu": "1000m", "memory": "1Gi"}, "requests": {"cpu": "0.5"}}}], "volumes": [{"name": "v", "emptyDir": {"sizeLimit": "1024Mi"}}]}}),
            json!({"spec": {"containers": [{"name": "a", "image": "1e3", "resources": {"limits": {"cpu": "1", "memory": "1073741824"}, "requests": {"cpu": "0.5"}}}], "volumes": [{"name": "v", "emptyDir": {"sizeLimit": "1073741824"}}]}}),
        );
        // A CRD's `default: "1.10"` or `max: "1.1"` is a string, not an amount.
        let cr = json!({"spec": {"default": {"version": "1.10"}, "max": {"v": "1.1"}, "limits": {"cpu": "1000m"}}});
        check_with(None, "rules: []", cr.clone(), cr);
    }

    #[test]
    fn only_what_the_api_defines_as_absent_is_pruned() {
        check_with(
            Some(&pod_schema()),
            "rules: []",
            json!({"metadata": {"labels": {}, "annotations": null, "finalizers": []}, "spec": {"nodeSelector": {}, "tolerations": [], "securityContext": {}, "containers": [{"name": "a", "args": [], "resources": {"limits": {}}}]}}),
            json!({"metadata": {}, "spec": {"securityContext": {}, "containers": [{"name": "a", "resources": {}}]}}),
        );
        // A selector is a struct: empty selects everything, so it stays.
        let np = json!({"spec": {"podSelector": {}, "ingress": [{"from": [{"namespaceSelector": {}}]}], "egress": []}});
        check_with(None, "rules: []", np.clone(), np);
    }

    #[test]
    fn maps_emptied_by_a_drop_rule_go_with_what_was_dropped() {
        // The side whose only annotation was dropped equals the side that never had one.
        check_with(
            None,
            "rules: [{name: a, why: b, drop: [/metadata/annotations/x, /spec/selector/matchLabels/uid]}]",
            json!({"metadata": {"name": "p", "annotations": {"x": "1"}}, "spec": {"selector": {"matchLabels": {"uid": "u"}}}}),
            json!({"metadata": {"name": "p"}}),
        );
        // A selector that was already empty is not the rule's doing: it stays.
        check_with(
            None,
            "rules: [{name: a, why: b, drop: [/spec/selector/matchLabels/uid]}]",
            json!({"spec": {"selector": {}}}),
            json!({"spec": {"selector": {}}}),
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
            json!({"spec": {"ingress": [{}], "egress": null, "podSelector": {}}}),
            Normalized::Content(json!({"spec": {"ingress": [{}], "podSelector": {}}})),
        );
    }

    #[test]
    fn rule_hits_count_only_effective_drops() {
        let out = normalize(
            &key("ConfigMap"),
            json!({"a": 1}),
            &rules("rules: [{name: a, why: b, drop: [/a]}, {name: c, why: d, drop: [/zzz]}]"),
        );
        assert_eq!(out.rule_hits, vec![RuleId::at(0)]);
    }
}
