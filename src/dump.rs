//! The normalized dump of one side: every object read, normalized and indexed by key, with what
//! could not be read and what was left out on purpose. The hand-off between reading and diffing.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Mutex;

use serde_json::Value;

use crate::model::{ApiType, Excluded, Incomplete, ObjectKey};
use crate::normalize::{Normalized, normalize_with};
use crate::rules::RuleSet;
use crate::schema::Semantics;
use crate::secrets::KeyInfo;

/// Where a side came from, for reports.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceInfo {
    /// `context` or `snapshot`.
    pub kind: SourceKind,
    /// The context name, or the snapshot path as given.
    pub name: String,
    pub server: String,
    pub kubernetes_version: Option<String>,
    /// RFC 3339: when the objects were read.
    pub time: String,
    pub secret_key: KeyInfo,
    /// For a snapshot: the context it was taken from.
    pub origin_context: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceKind {
    Context,
    Snapshot,
}

impl SourceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SourceKind::Context => "context",
            SourceKind::Snapshot => "snapshot",
        }
    }
}

/// One side, read and normalized.
#[derive(Debug, Clone)]
pub struct Dump {
    pub info: SourceInfo,
    pub objects: BTreeMap<ObjectKey, Stored>,
    pub incomplete: Vec<Incomplete>,
    pub excluded: Vec<Excluded>,
    /// Every listable type the server serves, all versions (for API differences).
    pub served: Vec<ApiType>,
    /// The types in each group's preferred version on this side (for API differences).
    pub preferred: Vec<ApiType>,
    /// The types as they were listed, in the version read (for objects compared across versions).
    pub listed: Vec<ApiType>,
    /// How many objects each rule took effect on, by rule index.
    pub rule_hits: Vec<usize>,
    /// Rules that removed a whole type before listing.
    pub type_skips: BTreeSet<usize>,
}

impl Dump {
    pub fn skipped_by_rule(&self, rule: usize) -> bool {
        self.type_skips.contains(&rule)
    }
}

/// What a dump keeps of one normalized object until the diff.
#[derive(Debug, Clone, PartialEq)]
pub enum Stored {
    /// Compared in full.
    Content(CanonicalJson),
    /// Only its existence is compared (rule index).
    Presence(usize),
    /// Not compared (rule index); reported as excluded.
    Skipped(usize),
}

impl From<Normalized> for Stored {
    fn from(n: Normalized) -> Self {
        match n {
            Normalized::Content(v) => Stored::Content(CanonicalJson::from_value(&v)),
            Normalized::Presence(i) => Stored::Presence(i),
            Normalized::Skipped(i) => Stored::Skipped(i),
        }
    }
}

/// A normalized object serialized once, compactly, with sorted keys (serde_json's map is ordered
/// by key), so equal objects have equal bytes. A `serde_json::Value` tree takes several times the
/// memory of its JSON text, and both sides of a large cluster are held until the diff: keeping
/// bytes bounds kparity's memory near the size of what it compares. The diff compares bytes and
/// parses back only the objects that differ.
///
/// Objects above `COMPRESS_ABOVE` bytes (large ConfigMaps, CRDs with their schemas) are kept
/// zstd-compressed. Compression is deterministic for a given input and level, and whether an
/// object is compressed depends only on its length, so equal objects still have equal bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct CanonicalJson {
    compressed: bool,
    bytes: Box<[u8]>,
}

/// Objects smaller than this are kept as plain JSON: compressing them saves little and costs a
/// compression context per object.
const COMPRESS_ABOVE: usize = 2048;
/// zstd's fastest standard level: the point is memory, at a cost well below parsing.
const COMPRESS_LEVEL: i32 = 1;

impl CanonicalJson {
    pub fn from_value(v: &Value) -> Self {
        // Serializing a Value cannot fail: its map keys are strings and it holds no non-finite
        // numbers. The empty fallback could never equal a real object's bytes anyway.
        let plain = serde_json::to_vec(v).unwrap_or_default();
        if plain.len() > COMPRESS_ABOVE {
            if let Ok(z) = zstd::bulk::compress(&plain, COMPRESS_LEVEL) {
                return CanonicalJson { compressed: true, bytes: z.into_boxed_slice() };
            }
        }
        CanonicalJson { compressed: false, bytes: plain.into_boxed_slice() }
    }

    /// The canonical JSON text.
    pub fn json(&self) -> std::io::Result<std::borrow::Cow<'_, [u8]>> {
        if self.compressed {
            zstd::decode_all(&self.bytes[..]).map(std::borrow::Cow::Owned)
        } else {
            Ok(std::borrow::Cow::Borrowed(&self.bytes[..]))
        }
    }

    /// The object back as a value. Fails only if the bytes were not written by `from_value`.
    pub fn to_value(&self) -> Result<Value, serde_json::Error> {
        let json = self.json().map_err(serde_json::Error::io)?;
        serde_json::from_slice(&json)
    }

    /// Bytes held in memory.
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }
}

impl std::fmt::Debug for CanonicalJson {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.json() {
            Ok(json) => f.write_str(&String::from_utf8_lossy(&json)),
            Err(e) => write!(f, "(unreadable compressed object: {e})"),
        }
    }
}

/// Receives objects as a source reads them, page by page.
pub trait Sink: Send + Sync {
    /// A page of objects of `ty`, as read (secret values already digested).
    fn page(&self, ty: &ApiType, items: Vec<Value>);
    /// `ty` is being relisted from the start (410 Gone): forget what was received for it.
    fn restart(&self, ty: &ApiType);
}

/// Object identity from a type and an object's metadata.
pub fn key_of(ty: &ApiType, obj: &Value) -> ObjectKey {
    let meta = obj.get("metadata");
    let s = |k: &str| meta.and_then(|m| m.get(k)).and_then(Value::as_str).map(str::to_string);
    ObjectKey {
        group: ty.group.clone(),
        kind: ty.kind.clone(),
        namespace: if ty.namespaced { s("namespace") } else { None },
        name: s("name").unwrap_or_default(),
    }
}

/// A sink that normalizes each object as it arrives and keeps only the normalized form.
pub struct Collector<'r> {
    rules: &'r RuleSet,
    /// The field semantics of each kind (`None`: every kind compared conservatively).
    semantics: Option<&'r Semantics>,
    state: Mutex<CollectorState>,
}

#[derive(Default)]
struct CollectorState {
    by_type: HashMap<ApiType, Vec<(ObjectKey, Stored, Vec<usize>)>>,
}

impl<'r> Collector<'r> {
    pub fn new(rules: &'r RuleSet) -> Self {
        Collector { rules, semantics: None, state: Mutex::new(CollectorState::default()) }
    }

    /// A collector normalizing each kind under its schema's semantics.
    pub fn with_semantics(rules: &'r RuleSet, semantics: &'r Semantics) -> Self {
        Collector { rules, semantics: Some(semantics), state: Mutex::new(CollectorState::default()) }
    }

    /// The objects and per-rule hit counts collected so far.
    pub fn finish(self) -> (BTreeMap<ObjectKey, Stored>, Vec<usize>) {
        let state = self.state.into_inner().unwrap_or_else(|e| e.into_inner());
        let mut objects = BTreeMap::new();
        let mut hits = vec![0usize; self.rules.rules.len()];
        for (_, items) in state.by_type {
            for (key, n, h) in items {
                for i in h {
                    hits[i] += 1;
                }
                objects.insert(key, n);
            }
        }
        (objects, hits)
    }
}

impl Sink for Collector<'_> {
    fn page(&self, ty: &ApiType, items: Vec<Value>) {
        // Normalize (and serialize) outside the lock: it is the CPU-heavy part and is
        // independent per object. Each value tree is dropped as soon as its bytes exist.
        let schema = self.semantics.and_then(|s| s.kind(&ty.group, &ty.kind));
        let normalized: Vec<_> = items
            .into_iter()
            .map(|obj| {
                let key = key_of(ty, &obj);
                let out = normalize_with(&key, obj, self.rules, schema);
                (key, Stored::from(out.normalized), out.rule_hits)
            })
            .collect();
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.by_type.entry(ty.clone()).or_default().extend(normalized);
    }

    fn restart(&self, ty: &ApiType) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.by_type.remove(ty);
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn equal_objects_have_equal_canonical_bytes_whatever_their_key_order() {
        let a: Value = serde_json::from_str(r#"{"b": 1, "a": {"y": [1, 2], "x": "s"}}"#).unwrap();
        let b: Value = serde_json::from_str(r#"{"a": {"x": "s", "y": [1, 2]}, "b": 1}"#).unwrap();
        assert_eq!(CanonicalJson::from_value(&a), CanonicalJson::from_value(&b));
        assert_ne!(
            CanonicalJson::from_value(&a),
            CanonicalJson::from_value(&json!({"b": 2, "a": {"x": "s", "y": [1, 2]}}))
        );
    }

    #[test]
    fn large_objects_are_kept_compressed_and_still_compare_by_bytes() {
        let big = |tail: &str| json!({"data": {"dashboard.json": format!("{}{tail}", "panel ".repeat(2000))}});
        let (a, b, c) = (
            CanonicalJson::from_value(&big("x")),
            CanonicalJson::from_value(&big("x")),
            CanonicalJson::from_value(&big("y")),
        );
        assert!(a.len() < 2000, "a 12 KB object is held compressed, got {} bytes", a.len());
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(c.to_value().unwrap(), big("y"));
    }

    #[test]
    fn canonical_bytes_give_the_same_object_back() {
        let v = json!({"spec": {"replicas": 3, "ratio": 0.5, "big": 18446744073709551615u64, "neg": -1}, "s": "é\n"});
        assert_eq!(CanonicalJson::from_value(&v).to_value().unwrap(), v);
    }
}
