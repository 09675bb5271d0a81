//! The normalized dump of one side: every object read, normalized and indexed by key, with what
//! could not be read and what was left out on purpose. The hand-off between reading and diffing.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Mutex;

use serde_json::Value;

use crate::model::{ApiType, Excluded, Incomplete, ObjectKey};
use crate::normalize::{Normalized, normalize};
use crate::rules::RuleSet;
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
    pub objects: BTreeMap<ObjectKey, Normalized>,
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
    state: Mutex<CollectorState>,
}

#[derive(Default)]
struct CollectorState {
    by_type: HashMap<ApiType, Vec<(ObjectKey, Normalized, Vec<usize>)>>,
}

impl<'r> Collector<'r> {
    pub fn new(rules: &'r RuleSet) -> Self {
        Collector { rules, state: Mutex::new(CollectorState::default()) }
    }

    /// The objects and per-rule hit counts collected so far.
    pub fn finish(self) -> (BTreeMap<ObjectKey, Normalized>, Vec<usize>) {
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
        // Normalize outside the lock: it is the CPU-heavy part and is independent per object.
        let normalized: Vec<_> = items
            .into_iter()
            .map(|obj| {
                let key = key_of(ty, &obj);
                let out = normalize(&key, obj, self.rules);
                (key, out.normalized, out.rule_hits)
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
