//! Field-level diff of two normalized objects: readable field changes and an RFC 6902 patch that
//! turns the normalized OLD into the normalized NEW.
//!
//! Lists are matched as their schema declares (`schema::Sem`): a `map` list by its
//! `x-kubernetes-list-map-keys` (composite keys too), a `set` by value, anything else (atomic,
//! or unknown) by index. Keyed lists keep their order unless a rule declared it meaningless (then
//! normalization sorted them), so a reorder shows as one change, `… order: [a, b] → [b, a]`,
//! beside the items' own changes. The patch is still plain RFC 6902 with index paths (`move` for
//! a reorder), valid against the normalized OLD.

use json_patch::jsonptr::PointerBuf;
use json_patch::{AddOperation, MoveOperation, PatchOperation, RemoveOperation, ReplaceOperation};
use serde_json::Value;

use crate::schema::{Node, Sem};

/// One segment of a path into an object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    Key(String),
    Index(usize),
    /// An item of a list keyed by `name`, by its name.
    Named(String),
    /// An item of a list keyed by other or several fields: `(field, value)` pairs.
    Keyed(Vec<(String, String)>),
    /// The order of the list at this path (its value is the list of item keys).
    Order,
}

/// One changed field. `old` is `None` when the field was added, `new` when it was removed.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldChange {
    pub path: Vec<Segment>,
    pub old: Option<Value>,
    pub new: Option<Value>,
}

impl FieldChange {
    /// The path as a reader expects it: `spec.template.spec.containers[name=app].image`,
    /// `metadata.labels["app.kubernetes.io/name"]`, `spec.initContainers order`.
    pub fn display_path(&self) -> String {
        display_path(&self.path)
    }

    /// The path's keys as plain strings (indices as numbers, keyed items by their key values),
    /// for matching pointer patterns. An order change is at its list's path.
    pub fn key_path(&self) -> Vec<String> {
        self.path
            .iter()
            .filter_map(|s| match s {
                Segment::Key(k) | Segment::Named(k) => Some(k.clone()),
                Segment::Index(i) => Some(i.to_string()),
                Segment::Keyed(kv) => Some(kv.iter().map(|(_, v)| v.as_str()).collect::<Vec<_>>().join(",")),
                Segment::Order => None,
            })
            .collect()
    }

    /// True for the change of a keyed list's order (old and new are the item keys in order).
    pub fn is_order(&self) -> bool {
        self.path.last() == Some(&Segment::Order)
    }
}

pub fn display_path(path: &[Segment]) -> String {
    let mut out = String::new();
    for seg in path {
        match seg {
            Segment::Key(k) if is_plain(k) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(k);
            }
            Segment::Key(k) => out.push_str(&format!("[{k:?}]")),
            Segment::Index(i) => out.push_str(&format!("[{i}]")),
            Segment::Named(n) => out.push_str(&format!("[name={n}]")),
            Segment::Keyed(kv) => {
                let inner: Vec<String> = kv.iter().map(|(k, v)| format!("{k}={v}")).collect();
                out.push_str(&format!("[{}]", inner.join(",")));
            }
            Segment::Order => out.push_str(" order"),
        }
    }
    if out.is_empty() { "(object)".into() } else { out }
}

fn is_plain(k: &str) -> bool {
    !k.is_empty() && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// Field changes plus the equivalent RFC 6902 patch.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ValueDiff {
    pub changes: Vec<FieldChange>,
    pub patch: Vec<PatchOperation>,
}

/// Diffs two normalized objects without schema: every list is matched by index.
pub fn diff(old: &Value, new: &Value) -> ValueDiff {
    diff_with(old, new, None)
}

/// Diffs two normalized objects of a kind whose schema is `schema`.
pub fn diff_with(old: &Value, new: &Value, schema: Option<&Node>) -> ValueDiff {
    let mut out = ValueDiff::default();
    walk(old, new, schema, &mut Vec::new(), &mut PointerBuf::new(), &mut out);
    out
}

fn walk(
    old: &Value,
    new: &Value,
    node: Option<&Node>,
    path: &mut Vec<Segment>,
    ptr: &mut PointerBuf,
    out: &mut ValueDiff,
) {
    if old == new {
        return;
    }
    match (old, new) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, va) in a {
                path.push(Segment::Key(k.clone()));
                ptr.push_back(k.as_str());
                match b.get(k) {
                    Some(vb) => walk(va, vb, node.and_then(|n| n.child(k)), path, ptr, out),
                    None => removed(va, path, ptr, out),
                }
                ptr.pop_back();
                path.pop();
            }
            for (k, vb) in b {
                if !a.contains_key(k) {
                    path.push(Segment::Key(k.clone()));
                    ptr.push_back(k.as_str());
                    added(vb, path, ptr, out);
                    ptr.pop_back();
                    path.pop();
                }
            }
        }
        (Value::Array(a), Value::Array(b)) => {
            let items = node.and_then(Node::items);
            let keyed = match node.and_then(|n| n.sem.as_ref()) {
                Some(Sem::ListMap(keys)) => item_keys(a, keys).zip(item_keys(b, keys)),
                Some(Sem::Set) => set_keys(a).zip(set_keys(b)),
                _ => None,
            };
            match keyed {
                Some((ka, kb)) => keyed_arrays(a, &ka, b, &kb, items, path, ptr, out),
                None => indexed_arrays(a, b, items, path, ptr, out),
            }
        }
        _ => {
            out.changes.push(FieldChange { path: path.clone(), old: Some(old.clone()), new: Some(new.clone()) });
            out.patch.push(PatchOperation::Replace(ReplaceOperation { path: ptr.clone(), value: new.clone() }));
        }
    }
}

/// An item's identity in a keyed list: how it is shown (`Segment`), how its key reads in an
/// order change, and the key values it is matched by.
#[derive(Debug, Clone, PartialEq)]
struct ItemKey {
    segment: Option<Segment>,
    label: String,
    values: Vec<Value>,
}

fn scalar_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The keys of every item of a `map` list, or `None` (then it is matched by index) when an item
/// lacks a key field or two items share a key: the API rejects such lists, so they can only come
/// from rules that removed a key field (e.g. `ownerReferences[*].uid`).
fn item_keys(items: &[Value], keys: &[String]) -> Option<Vec<ItemKey>> {
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        let values: Vec<Value> = keys
            .iter()
            .map(|k| item.get(k).filter(|v| !v.is_object() && !v.is_array()).cloned())
            .collect::<Option<_>>()?;
        let (segment, label) = if keys.len() == 1 && keys[0] == "name" {
            let n = scalar_text(&values[0]);
            (Segment::Named(n.clone()), n)
        } else if keys.len() == 1 {
            let t = scalar_text(&values[0]);
            (Segment::Keyed(vec![(keys[0].clone(), t.clone())]), t)
        } else {
            let pairs: Vec<(String, String)> =
                keys.iter().zip(&values).map(|(k, v)| (k.clone(), scalar_text(v))).collect();
            let label = pairs.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(",");
            (Segment::Keyed(pairs), label)
        };
        out.push(ItemKey { segment: Some(segment), label, values });
    }
    unique(out)
}

/// A set's items are their own keys; they are shown by index (a scalar has no fields to diff).
fn set_keys(items: &[Value]) -> Option<Vec<ItemKey>> {
    let out = items
        .iter()
        .map(|v| {
            (!v.is_object() && !v.is_array()).then(|| ItemKey {
                segment: None,
                label: scalar_text(v),
                values: vec![v.clone()],
            })
        })
        .collect::<Option<Vec<_>>>()?;
    unique(out)
}

fn unique(keys: Vec<ItemKey>) -> Option<Vec<ItemKey>> {
    let mut seen: Vec<&Vec<Value>> = keys.iter().map(|k| &k.values).collect();
    seen.sort_by_key(|v| serde_json::to_string(v).unwrap_or_default());
    seen.windows(2).all(|w| w[0] != w[1]).then_some(keys)
}

fn indexed_arrays(
    a: &[Value],
    b: &[Value],
    items: Option<&Node>,
    path: &mut Vec<Segment>,
    ptr: &mut PointerBuf,
    out: &mut ValueDiff,
) {
    let common = a.len().min(b.len());
    for i in 0..common {
        path.push(Segment::Index(i));
        ptr.push_back(i);
        walk(&a[i], &b[i], items, path, ptr, out);
        ptr.pop_back();
        path.pop();
    }
    // Removals from the end backwards, so each index is valid when its op applies.
    for i in (common..a.len()).rev() {
        path.push(Segment::Index(i));
        ptr.push_back(i);
        removed(&a[i], path, ptr, out);
        ptr.pop_back();
        path.pop();
    }
    for (i, item) in b.iter().enumerate().skip(common) {
        path.push(Segment::Index(i));
        ptr.push_back(i);
        added(item, path, ptr, out);
        ptr.pop_back();
        path.pop();
    }
}

/// Items matched by key. Ops, each valid after the ones before it: removals (highest old index
/// first); moves putting the remaining items in NEW's relative order; additions at their index
/// in NEW (ascending); then changes inside items present on both sides, at their index in NEW.
#[allow(clippy::too_many_arguments)] // the walk's state, threaded as in `walk`
fn keyed_arrays(
    a: &[Value],
    ka: &[ItemKey],
    b: &[Value],
    kb: &[ItemKey],
    items: Option<&Node>,
    path: &mut Vec<Segment>,
    ptr: &mut PointerBuf,
    out: &mut ValueDiff,
) {
    let pos_in = |keys: &[ItemKey], k: &ItemKey| keys.iter().position(|x| x.values == k.values);
    let item_seg = |k: &ItemKey, i: usize| k.segment.clone().unwrap_or(Segment::Index(i));
    for (i, k) in ka.iter().enumerate().rev() {
        if pos_in(kb, k).is_none() {
            path.push(item_seg(k, i));
            ptr.push_back(i);
            removed(&a[i], path, ptr, out);
            ptr.pop_back();
            path.pop();
        }
    }
    // The items both sides hold, in OLD's order as the patch now has them, and in NEW's.
    let mut current: Vec<usize> = (0..ka.len()).filter(|&i| pos_in(kb, &ka[i]).is_some()).collect();
    let target: Vec<usize> = kb.iter().filter_map(|k| pos_in(ka, k)).collect();
    if current != target {
        let labels = |keys: &[ItemKey]| Value::Array(keys.iter().map(|k| Value::String(k.label.clone())).collect());
        path.push(Segment::Order);
        out.changes.push(FieldChange { path: path.clone(), old: Some(labels(ka)), new: Some(labels(kb)) });
        path.pop();
        for (p, want) in target.iter().enumerate() {
            let Some(c) = current.iter().position(|x| x == want) else { continue };
            if c != p {
                let mut from = ptr.clone();
                from.push_back(c);
                let mut to = ptr.clone();
                to.push_back(p);
                out.patch.push(PatchOperation::Move(MoveOperation { from, path: to }));
                let item = current.remove(c);
                current.insert(p, item);
            }
        }
    }
    for (j, k) in kb.iter().enumerate() {
        if pos_in(ka, k).is_none() {
            path.push(item_seg(k, j));
            ptr.push_back(j);
            added(&b[j], path, ptr, out);
            ptr.pop_back();
            path.pop();
        }
    }
    for (j, k) in kb.iter().enumerate() {
        if let Some(i) = pos_in(ka, k) {
            path.push(item_seg(k, j));
            ptr.push_back(j);
            walk(&a[i], &b[j], items, path, ptr, out);
            ptr.pop_back();
            path.pop();
        }
    }
}

fn removed(old: &Value, path: &[Segment], ptr: &PointerBuf, out: &mut ValueDiff) {
    out.changes.push(FieldChange { path: path.to_vec(), old: Some(old.clone()), new: None });
    out.patch.push(PatchOperation::Remove(RemoveOperation { path: ptr.clone() }));
}

fn added(new: &Value, path: &[Segment], ptr: &PointerBuf, out: &mut ValueDiff) {
    out.changes.push(FieldChange { path: path.to_vec(), old: None, new: Some(new.clone()) });
    out.patch.push(PatchOperation::Add(AddOperation { path: ptr.clone(), value: new.clone() }));
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema() -> Node {
        Node::from_paths([
            ("/c", Sem::ListMap(vec!["name".into()])),
            ("/ports", Sem::ListMap(vec!["containerPort".into(), "protocol".into()])),
            ("/mounts", Sem::ListMap(vec!["mountPath".into()])),
            ("/f", Sem::Set),
            ("/r", Sem::Atomic),
        ])
    }

    /// Diffs under `schema()`, checks the patch really turns old into new, and returns the
    /// displayed changes.
    fn check(old: Value, new: Value, expected: &[&str]) {
        let d = diff_with(&old, &new, Some(&schema()));
        let mut patched = old.clone();
        json_patch::patch(&mut patched, &d.patch)
            .unwrap_or_else(|e| panic!("patch does not apply: {e}\n{:?}", d.patch));
        assert_eq!(patched, new, "patch result");
        let shown: Vec<String> =
            d.changes.iter().map(|c| format!("{}: {} → {}", c.display_path(), fmt(&c.old), fmt(&c.new))).collect();
        assert_eq!(shown, expected);
    }

    fn fmt(v: &Option<Value>) -> String {
        v.as_ref().map_or("(absent)".into(), |v| v.to_string())
    }

    #[test]
    fn scalar_and_map_changes() {
        check(
            json!({"a": 1, "b": {"c": "x"}}),
            json!({"a": 2, "b": {"d": "y"}}),
            &["a: 1 → 2", "b.c: \"x\" → (absent)", "b.d: (absent) → \"y\""],
        );
        check(
            json!({"metadata": {"labels": {"app.kubernetes.io/name": "a"}}}),
            json!({"metadata": {"labels": {"app.kubernetes.io/name": "b"}}}),
            &["metadata.labels[\"app.kubernetes.io/name\"]: \"a\" → \"b\""],
        );
    }

    #[test]
    fn keyed_lists_match_by_their_declared_key() {
        // One item inserted in the middle is one change, not three.
        check(
            json!({"c": [{"name": "a", "image": "1"}, {"name": "c", "image": "3"}]}),
            json!({"c": [{"name": "a", "image": "1"}, {"name": "b", "image": "2"}, {"name": "c", "image": "4"}]}),
            &["c[name=b]: (absent) → {\"image\":\"2\",\"name\":\"b\"}", "c[name=c].image: \"3\" → \"4\""],
        );
        check(
            json!({"c": [{"name": "a"}, {"name": "b"}, {"name": "c", "v": 1}]}),
            json!({"c": [{"name": "c", "v": 2}]}),
            &["c[name=b]: {\"name\":\"b\"} → (absent)", "c[name=a]: {\"name\":\"a\"} → (absent)", "c[name=c].v: 1 → 2"],
        );
        // A key that is not `name`.
        check(
            json!({"mounts": [{"mountPath": "/a", "name": "x"}, {"mountPath": "/b", "name": "x"}]}),
            json!({"mounts": [{"mountPath": "/a", "name": "x"}, {"mountPath": "/b", "name": "y"}]}),
            &["mounts[mountPath=/b].name: \"x\" → \"y\""],
        );
    }

    #[test]
    fn composite_keys_tell_same_port_different_protocol_apart() {
        check(
            json!({"ports": [{"containerPort": 53, "protocol": "TCP", "name": "dns-tcp"}, {"containerPort": 53, "protocol": "UDP", "name": "dns"}]}),
            json!({"ports": [{"containerPort": 53, "protocol": "TCP", "name": "dns-tcp"}, {"containerPort": 53, "protocol": "UDP", "name": "dns-udp"}]}),
            &["ports[containerPort=53,protocol=UDP].name: \"dns\" → \"dns-udp\""],
        );
    }

    #[test]
    fn a_reorder_is_one_order_change_with_move_ops() {
        check(
            json!({"c": [{"name": "migrate"}, {"name": "verify"}]}),
            json!({"c": [{"name": "verify"}, {"name": "migrate"}]}),
            &["c order: [\"migrate\",\"verify\"] → [\"verify\",\"migrate\"]"],
        );
        // Reorder, removal, addition and a change at once.
        check(
            json!({"c": [{"name": "a"}, {"name": "b"}, {"name": "c", "v": 1}, {"name": "d"}]}),
            json!({"c": [{"name": "d"}, {"name": "e"}, {"name": "c", "v": 2}, {"name": "a"}]}),
            &[
                "c[name=b]: {\"name\":\"b\"} → (absent)",
                "c order: [\"a\",\"b\",\"c\",\"d\"] → [\"d\",\"e\",\"c\",\"a\"]",
                "c[name=e]: (absent) → {\"name\":\"e\"}",
                "c[name=c].v: 1 → 2",
            ],
        );
        // An insertion alone is no reorder.
        check(
            json!({"c": [{"name": "b"}, {"name": "a"}]}),
            json!({"c": [{"name": "x"}, {"name": "b"}, {"name": "a"}]}),
            &["c[name=x]: (absent) → {\"name\":\"x\"}"],
        );
    }

    #[test]
    fn sets_match_by_value_and_report_their_order() {
        check(json!({"f": ["a", "b"]}), json!({"f": ["b", "a"]}), &["f order: [\"a\",\"b\"] → [\"b\",\"a\"]"]);
        check(
            json!({"f": ["a", "b"]}),
            json!({"f": ["c", "b"]}),
            &["f[0]: \"a\" → (absent)", "f[0]: (absent) → \"c\""],
        );
    }

    #[test]
    fn atomic_unknown_and_unkeyable_lists_match_by_index() {
        check(json!({"r": [1, 2, 3]}), json!({"r": [1, 5]}), &["r[1]: 2 → 5", "r[2]: 3 → (absent)"]);
        check(json!({"x": [1]}), json!({"x": [1, 2, 3]}), &["x[1]: (absent) → 2", "x[2]: (absent) → 3"]);
        // Items keyed by `name` in a list the schema does not key: order is compared by index.
        check(
            json!({"x": [{"name": "a"}, {"name": "b"}]}),
            json!({"x": [{"name": "b"}, {"name": "a"}]}),
            &["x[0].name: \"a\" → \"b\"", "x[1].name: \"b\" → \"a\""],
        );
        // A key field removed by a rule: matched by index rather than guessed.
        check(
            json!({"c": [{"image": "1"}, {"name": "b"}]}),
            json!({"c": [{"image": "2"}, {"name": "b"}]}),
            &["c[0].image: \"1\" → \"2\""],
        );
    }

    #[test]
    fn type_changes_replace() {
        check(json!({"a": [1]}), json!({"a": {"x": 1}}), &["a: [1] → {\"x\":1}"]);
    }
}
