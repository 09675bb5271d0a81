//! Field-level diff of two normalized objects: readable field changes and an RFC 6902 patch that
//! turns the normalized OLD into the normalized NEW.
//!
//! Arrays whose items are keyed by `name` are matched by name, not index (the `json-patch`
//! crate's own diff compares arrays strictly by index, so one inserted container would look like
//! every later container changing). The patch is still plain RFC 6902 with index paths, valid
//! against the normalized OLD, which keeps keyed arrays ordered by name.

use json_patch::jsonptr::PointerBuf;
use json_patch::{AddOperation, PatchOperation, RemoveOperation, ReplaceOperation};
use serde_json::Value;

use crate::normalize::keyed_names;

/// One segment of a path into an object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    Key(String),
    Index(usize),
    /// An item of a keyed array, by its name.
    Named(String),
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
    /// `metadata.labels["app.kubernetes.io/name"]`.
    pub fn display_path(&self) -> String {
        display_path(&self.path)
    }

    /// The path's keys as plain strings (indices as numbers), for matching pointer patterns.
    pub fn key_path(&self) -> Vec<String> {
        self.path
            .iter()
            .map(|s| match s {
                Segment::Key(k) | Segment::Named(k) => k.clone(),
                Segment::Index(i) => i.to_string(),
            })
            .collect()
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

/// Diffs two normalized objects.
pub fn diff(old: &Value, new: &Value) -> ValueDiff {
    let mut out = ValueDiff::default();
    walk(old, new, &mut Vec::new(), &mut PointerBuf::new(), &mut out);
    out
}

fn walk(old: &Value, new: &Value, path: &mut Vec<Segment>, ptr: &mut PointerBuf, out: &mut ValueDiff) {
    if old == new {
        return;
    }
    match (old, new) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, va) in a {
                path.push(Segment::Key(k.clone()));
                ptr.push_back(k.as_str());
                match b.get(k) {
                    Some(vb) => walk(va, vb, path, ptr, out),
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
        (Value::Array(a), Value::Array(b)) => match (keyed_names(a), keyed_names(b)) {
            (Some(na), Some(nb)) => keyed_arrays(a, &na, b, &nb, path, ptr, out),
            _ => indexed_arrays(a, b, path, ptr, out),
        },
        _ => {
            out.changes.push(FieldChange { path: path.clone(), old: Some(old.clone()), new: Some(new.clone()) });
            out.patch.push(PatchOperation::Replace(ReplaceOperation { path: ptr.clone(), value: new.clone() }));
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

fn indexed_arrays(a: &[Value], b: &[Value], path: &mut Vec<Segment>, ptr: &mut PointerBuf, out: &mut ValueDiff) {
    let common = a.len().min(b.len());
    for i in 0..common {
        path.push(Segment::Index(i));
        ptr.push_back(i);
        walk(&a[i], &b[i], path, ptr, out);
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

/// Both arrays are ordered by name (normalization guarantees it). Ops: removals (highest old
/// index first), then additions at their index in NEW (ascending), then changes inside items
/// present on both sides at their index in NEW — each op valid after the ones before it.
fn keyed_arrays(
    a: &[Value],
    na: &[&str],
    b: &[Value],
    nb: &[&str],
    path: &mut Vec<Segment>,
    ptr: &mut PointerBuf,
    out: &mut ValueDiff,
) {
    for (i, name) in na.iter().enumerate().rev() {
        if !nb.contains(name) {
            path.push(Segment::Named(name.to_string()));
            ptr.push_back(i);
            removed(&a[i], path, ptr, out);
            ptr.pop_back();
            path.pop();
        }
    }
    for (j, name) in nb.iter().enumerate() {
        if !na.contains(name) {
            path.push(Segment::Named(name.to_string()));
            ptr.push_back(j);
            added(&b[j], path, ptr, out);
            ptr.pop_back();
            path.pop();
        }
    }
    for (j, name) in nb.iter().enumerate() {
        if let Some(i) = na.iter().position(|n| n == name) {
            path.push(Segment::Named(name.to_string()));
            ptr.push_back(j);
            walk(&a[i], &b[j], path, ptr, out);
            ptr.pop_back();
            path.pop();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Diffs, checks the patch really turns old into new, and returns the displayed changes.
    fn check(old: Value, new: Value, expected: &[&str]) {
        let d = diff(&old, &new);
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
    fn keyed_arrays_match_by_name() {
        // One container inserted in the middle is one change, not three.
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
    }

    #[test]
    fn plain_arrays_match_by_index() {
        check(json!({"r": [1, 2, 3]}), json!({"r": [1, 5]}), &["r[1]: 2 → 5", "r[2]: 3 → (absent)"]);
        check(json!({"r": [1]}), json!({"r": [1, 2, 3]}), &["r[1]: (absent) → 2", "r[2]: (absent) → 3"]);
    }

    #[test]
    fn type_changes_replace() {
        check(json!({"a": [1]}), json!({"a": {"x": 1}}), &["a: [1] → {\"x\":1}"]);
    }
}
