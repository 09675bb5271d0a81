//! The normalized dump of one side: every object read, normalized and indexed by key, with what
//! could not be read and what was left out on purpose. The hand-off between reading and diffing.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Mutex;

use serde_json::Value;

use crate::model::{ApiType, Excluded, Incomplete, IncompleteReason, ObjectKey, TypeRef};
use crate::normalize::{Normalized, normalize_under};
use crate::rules::{RuleCounts, RuleId, RuleSet};
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
    /// How many objects each rule took effect on.
    pub rule_hits: RuleCounts,
    /// Rules that removed a whole type before listing.
    pub type_skips: BTreeSet<RuleId>,
    /// Every discovered resource and what became of it: read, excluded or incomplete.
    pub coverage: Vec<TypeCoverage>,
    /// Filter values known to match nothing on this side.
    pub filter_misses: crate::source::FilterMisses,
    /// What explains the comparison without being compared: who wrote each object, what the
    /// rules removed, and (when asked) the objects as read.
    pub provenance: Provenance,
}

/// What a side keeps to explain its comparison, apart from what is compared.
#[derive(Debug, Clone, Default)]
pub struct Provenance {
    /// Who wrote each object (`attribution`), for the objects read with a record.
    pub attribution: BTreeMap<ObjectKey, RecordRef>,
    /// How many fields each rule dropped (or rewrote).
    pub fields_dropped: RuleCounts,
    /// The objects as read (secret values already digested), kept only when a report explains
    /// objects one by one (`--show-suppressed`, `kparity explain`).
    pub as_read: BTreeMap<ObjectKey, CanonicalJson>,
}

/// What became of one discovered resource (or of a whole group-version whose discovery failed,
/// then `type_ref.resource` is `None`) on one side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TypeCoverage {
    /// The version it was read in (or would have been).
    pub type_ref: TypeRef,
    pub status: CoverageStatus,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CoverageStatus {
    /// Read completely: this many objects (after the namespace and label filters), at the list's
    /// resourceVersion when the type was read as one list (`None` when read in several parts,
    /// one per `-n` namespace, or from an archive of an older kparity).
    Read { objects: usize, read_at: Option<String> },
    /// Left out on purpose: `rule NAME`, `--kinds`, `--exclude-kinds`, ...
    Excluded { by: String },
    /// Not read completely: why.
    Incomplete { reason: String },
}

impl CoverageStatus {
    pub fn as_str(&self) -> &'static str {
        match self {
            CoverageStatus::Read { .. } => "read",
            CoverageStatus::Excluded { .. } => "excluded",
            CoverageStatus::Incomplete { .. } => "incomplete",
        }
    }
}

/// Counts of one side's coverage, for the one-line summaries.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CoverageSummary {
    pub types: usize,
    pub read: usize,
    pub objects: usize,
    pub excluded_by_rules: usize,
    pub excluded_by_filters: usize,
    pub incomplete: usize,
}

impl CoverageSummary {
    pub fn of(coverage: &[TypeCoverage]) -> Self {
        let mut s = CoverageSummary { types: coverage.len(), ..Default::default() };
        for c in coverage {
            match &c.status {
                CoverageStatus::Read { objects, .. } => {
                    s.read += 1;
                    s.objects += objects;
                }
                CoverageStatus::Excluded { by } if by.starts_with("rule ") => s.excluded_by_rules += 1,
                CoverageStatus::Excluded { .. } => s.excluded_by_filters += 1,
                CoverageStatus::Incomplete { .. } => s.incomplete += 1,
            }
        }
        s
    }

    /// `57 of 67 types read (1234 objects), 8 excluded by rules, 2 excluded by filters, 0 incomplete`.
    pub fn line(&self) -> String {
        format!(
            "{} of {} types read ({} objects), {} excluded by rules, {} excluded by filters, {} incomplete",
            self.read, self.types, self.objects, self.excluded_by_rules, self.excluded_by_filters, self.incomplete
        )
    }
}

impl Dump {
    /// A side with nothing read, for tests.
    #[cfg(test)]
    pub fn empty() -> Dump {
        Dump {
            info: SourceInfo {
                kind: SourceKind::Context,
                name: "c".into(),
                server: "s".into(),
                kubernetes_version: None,
                time: String::new(),
                secret_key: crate::secrets::KeyInfo::Keyed { fingerprint: "run:x".into() },
                origin_context: None,
            },
            objects: BTreeMap::new(),
            incomplete: Vec::new(),
            excluded: Vec::new(),
            served: Vec::new(),
            preferred: Vec::new(),
            listed: Vec::new(),
            rule_hits: RuleCounts::default(),
            type_skips: BTreeSet::new(),
            coverage: Vec::new(),
            filter_misses: Default::default(),
            provenance: Provenance::default(),
        }
    }

    pub fn skipped_by_rule(&self, rule: RuleId) -> bool {
        self.type_skips.contains(&rule)
    }
}

/// What a dump keeps of one normalized object until the diff.
#[derive(Debug, Clone, PartialEq)]
pub enum Stored {
    /// Compared in full.
    Content(CanonicalJson),
    /// Only its existence is compared (by this rule), when the rule matches both sides' objects.
    Presence(RuleId, CanonicalJson),
    /// Not compared (by this rule), when the rule matches both sides' objects (or the other side
    /// has none); reported as excluded.
    Skipped(RuleId, CanonicalJson),
}

impl Stored {
    /// The normalized content, whatever rule matched (compared when a rule matched one side only).
    pub fn content(&self) -> &CanonicalJson {
        match self {
            Stored::Content(c) | Stored::Presence(_, c) | Stored::Skipped(_, c) => c,
        }
    }
}

impl From<Normalized> for Stored {
    fn from(n: Normalized) -> Self {
        match n {
            Normalized::Content(v) => Stored::Content(CanonicalJson::from_value(&v)),
            Normalized::Presence(i, v) => Stored::Presence(i, CanonicalJson::from_value(&v)),
            Normalized::Skipped(i, v) => Stored::Skipped(i, CanonicalJson::from_value(&v)),
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

/// Objects smaller than this are kept as plain JSON: compressing them saves little. Above it, an
/// object alone compresses to about 60% (a Deployment, a ReplicaSet without managedFields), and
/// the objects are most of what a side holds.
const COMPRESS_ABOVE: usize = 256;
/// zstd's fastest standard level: the point is memory, at a cost well below parsing.
const COMPRESS_LEVEL: i32 = 1;

/// Compresses with this thread's compression context: setting one up per object cost more than
/// compressing a small object. A frame depends only on its input and the level, never on what the
/// context compressed before, so equal objects still have equal bytes.
fn compress(plain: &[u8]) -> Option<Vec<u8>> {
    thread_local! {
        static CONTEXT: std::cell::RefCell<Option<zstd::bulk::Compressor<'static>>> =
            const { std::cell::RefCell::new(None) };
    }
    CONTEXT.with(|c| {
        let mut c = c.borrow_mut();
        if c.is_none() {
            *c = zstd::bulk::Compressor::new(COMPRESS_LEVEL).ok();
        }
        c.as_mut()?.compress(plain).ok()
    })
}

/// Decompresses a frame `compress` wrote, with this thread's decompression context: objects are
/// read back one at a time (those that differ, those a platform or an explanation looks at), and
/// setting up a context per object cost more than decompressing it.
fn decompress(z: &[u8]) -> std::io::Result<Vec<u8>> {
    thread_local! {
        static CONTEXT: std::cell::RefCell<Option<zstd::bulk::Decompressor<'static>>> =
            const { std::cell::RefCell::new(None) };
    }
    // `compress` records the content size in each frame.
    let Some(size) = zstd::zstd_safe::get_frame_content_size(z).ok().flatten().and_then(|n| usize::try_from(n).ok())
    else {
        return zstd::decode_all(z);
    };
    CONTEXT.with(|c| {
        let mut c = c.borrow_mut();
        if c.is_none() {
            *c = Some(zstd::bulk::Decompressor::new()?);
        }
        match c.as_mut() {
            Some(d) => d.decompress(z, size),
            None => zstd::decode_all(z),
        }
    })
}

impl CanonicalJson {
    pub fn from_value(v: &Value) -> Self {
        // Serializing a Value cannot fail: its map keys are strings and it holds no non-finite
        // numbers. The empty fallback could never equal a real object's bytes anyway.
        let plain = serde_json::to_vec(v).unwrap_or_default();
        if plain.len() > COMPRESS_ABOVE
            && let Some(z) = compress(&plain)
        {
            return CanonicalJson { compressed: true, bytes: z.into_boxed_slice() };
        }
        CanonicalJson { compressed: false, bytes: plain.into_boxed_slice() }
    }

    /// The canonical JSON text.
    pub fn json(&self) -> std::io::Result<std::borrow::Cow<'_, [u8]>> {
        if self.compressed {
            decompress(&self.bytes).map(std::borrow::Cow::Owned)
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

/// The attribution records of one page, compressed together. A record is read only for an object
/// that differs, yet records are near half of what a side holds per object: the records of one
/// type repeat the same managers and field names, so a page of them compresses about 30 times
/// where one record alone compresses twice (measured on the bench clusters' archives).
#[derive(Debug)]
struct RecordBlock(Box<[u8]>);

/// Where one object's attribution record is: a range of its page's block.
#[derive(Debug, Clone)]
pub struct RecordRef {
    block: std::sync::Arc<RecordBlock>,
    start: u32,
    len: u32,
}

impl RecordRef {
    /// Packs the records of one page into one block; `None` where an object has no record (or
    /// the page's records do not fit the block's offsets, then none is kept: they explain,
    /// never decide).
    fn pack(records: Vec<Option<crate::attribution::EncodedRecord>>) -> Vec<Option<RecordRef>> {
        let mut plain = Vec::new();
        let mut ranges = Vec::with_capacity(records.len());
        for r in &records {
            let range = r.as_ref().map(|r| r.as_bytes()).and_then(|json| {
                let start = u32::try_from(plain.len()).ok()?;
                let len = u32::try_from(json.len()).ok()?;
                plain.extend_from_slice(json);
                Some((start, len))
            });
            ranges.push(range);
        }
        if plain.is_empty() || u32::try_from(plain.len()).is_err() {
            return vec![None; records.len()];
        }
        let Some(z) = compress(&plain) else { return vec![None; records.len()] };
        let block = std::sync::Arc::new(RecordBlock(z.into_boxed_slice()));
        ranges.into_iter().map(|r| r.map(|(start, len)| RecordRef { block: block.clone(), start, len })).collect()
    }

    /// The record's JSON text. The block last opened on this thread is kept open: objects are
    /// compared in key order, the order a server lists them in, so the records of consecutive
    /// differing objects mostly share a block.
    pub fn json(&self) -> Option<Vec<u8>> {
        thread_local! {
            static OPEN: std::cell::RefCell<Option<(std::sync::Arc<RecordBlock>, Vec<u8>)>> =
                const { std::cell::RefCell::new(None) };
        }
        OPEN.with(|open| {
            let mut open = open.borrow_mut();
            if !open.as_ref().is_some_and(|(b, _)| std::sync::Arc::ptr_eq(b, &self.block)) {
                let plain = decompress(&self.block.0).ok()?;
                *open = Some((self.block.clone(), plain));
            }
            let (_, plain) = open.as_ref()?;
            let start = usize::try_from(self.start).ok()?;
            let end = start.checked_add(usize::try_from(self.len).ok()?)?;
            plain.get(start..end).map(<[u8]>::to_vec)
        })
    }
}

/// One object as a source delivers it: its content, and the record of who wrote its fields
/// (`attribution`, from its managedFields), kept beside it and never compared. Read from a server
/// by `source::object`'s decoder; from an archive, where the record is held in the object's
/// metadata, by taking it out (`attribution::take_encoded`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ReadObject {
    pub object: Value,
    pub attribution: Option<crate::attribution::EncodedRecord>,
}

impl From<Value> for ReadObject {
    /// An object without an attribution record.
    fn from(object: Value) -> Self {
        ReadObject { object, attribution: None }
    }
}

/// Receives objects as a source reads them, page by page.
pub trait Sink: Send + Sync {
    /// A page of objects of `ty`, as read (secret values already digested).
    fn page(&self, ty: &ApiType, items: Vec<ReadObject>);
    /// `ty` is being relisted from the start (410 Gone): forget what was received for it.
    fn restart(&self, ty: &ApiType);
}

/// Object identity from a type and an object's metadata. An object of the core `secrets`
/// resource is keyed as kind `Secret` whatever kind discovery reported, so every later stage
/// (normalization, diff, reports) that recognizes Secrets by key recognizes it.
pub fn key_of(ty: &ApiType, obj: &Value) -> ObjectKey {
    let meta = obj.get("metadata");
    let s = |k: &str| meta.and_then(|m| m.get(k)).and_then(Value::as_str).map(str::to_string);
    ObjectKey {
        group: ty.group.clone(),
        kind: if ty.is_secret() { crate::secrets::SECRET_KIND.to_string() } else { ty.kind.clone() },
        namespace: if ty.namespaced { s("namespace") } else { None },
        name: s("name").unwrap_or_default(),
    }
}

/// The identity an object is compared under: its key, except for a dynamically provisioned
/// PersistentVolume bound to a claim. Its name (`pvc-<claim uid>`) is generated in each cluster,
/// so it is identified by its claim, `claim:NAMESPACE/NAME` (a name no PersistentVolume can have,
/// since names hold no `/` or `:`), and its own settings are still compared. A claim binds one
/// volume at a time, so no two bound volumes share this identity.
pub fn compare_key_of(ty: &ApiType, obj: &Value) -> ObjectKey {
    let mut key = key_of(ty, obj);
    if key.group.is_empty() && key.kind == "PersistentVolume" {
        let provisioned = obj.pointer("/metadata/annotations/pv.kubernetes.io~1provisioned-by").is_some();
        let bound = obj.pointer("/status/phase").and_then(Value::as_str) == Some("Bound");
        let claim = |f: &str| obj.pointer(&format!("/spec/claimRef/{f}")).and_then(Value::as_str);
        if let (true, true, Some(ns), Some(name)) = (provisioned, bound, claim("namespace"), claim("name")) {
            key.name = format!("claim:{ns}/{name}");
        }
    }
    if let Some(identity) = generated_identity(obj) {
        key.name = identity;
    }
    key
}

/// How many random characters an API server appends to `metadata.generateName`, and the longest
/// prefix it keeps (`k8s.io/apiserver/pkg/storage/names`: `SimpleNameGenerator`, 5 of 63).
const GENERATED_SUFFIX: usize = 5;
const GENERATED_PREFIX_MAX: usize = 63 - GENERATED_SUFFIX;

/// Marks a name made by kparity for an object named by `generateName` (`<` is never part of a
/// Kubernetes name, so it cannot equal a real one).
pub const GENERATED_MARK: &str = "<generated";

/// The identity of an object whose name the API server generated from `metadata.generateName`:
/// its random suffix differs per cluster, so it is `PREFIX<generated>` (or `PREFIX<generated by
/// KIND/NAME>` when a controller owns it, since two owners often share a prefix). Objects that
/// still share it are told apart by content in `Collector::finish`. An object given an explicit
/// name beside a `generateName` keeps its name.
fn generated_identity(obj: &Value) -> Option<String> {
    let prefix = obj.pointer("/metadata/generateName").and_then(Value::as_str).filter(|p| !p.is_empty())?;
    let name = obj.pointer("/metadata/name").and_then(Value::as_str)?;
    let kept = prefix.get(..prefix.len().min(GENERATED_PREFIX_MAX))?;
    let suffix = name.strip_prefix(kept)?;
    if suffix.len() != GENERATED_SUFFIX || !suffix.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()) {
        return None;
    }
    let owner = obj
        .pointer("/metadata/ownerReferences")
        .and_then(Value::as_array)
        .and_then(|refs| refs.iter().find(|r| r.get("controller").and_then(Value::as_bool) == Some(true)))
        .and_then(|r| Some((r.get("kind")?.as_str()?, r.get("name")?.as_str()?)));
    Some(match owner {
        Some((kind, owner)) => format!("{prefix}{GENERATED_MARK} by {kind}/{owner}>"),
        None => format!("{prefix}{GENERATED_MARK}>"),
    })
}

/// Numbers the objects of one type that share a generated identity (`generated_identity`): each
/// gets ` #N` by the order of its normalized content, so equal sets pair up equal (a side with
/// one more run has one extra object), and a difference in one of them shows as a change or an
/// extra object rather than hiding behind a random name. A lone one is `#1` too, so it pairs
/// with the first of several on the other side.
fn number_generated(items: &mut [Entry]) {
    let mut groups: BTreeMap<ObjectKey, Vec<usize>> = BTreeMap::new();
    for (i, Entry { key, .. }) in items.iter().enumerate() {
        if key.name.contains(GENERATED_MARK) {
            groups.entry(key.clone()).or_default().push(i);
        }
    }
    for (_, mut members) in groups {
        let text = |i: usize| items[i].stored.content().json().map(|c| c.into_owned()).unwrap_or_default();
        members.sort_by_cached_key(|&i| text(i));
        for (n, i) in members.into_iter().enumerate() {
            items[i].key.name = format!("{} #{}", items[i].key.name, n + 1);
        }
    }
}

/// A sink that normalizes each object as it arrives and keeps only the normalized form.
pub struct Collector<'r> {
    rules: &'r RuleSet,
    /// The field semantics of each kind (`None`: every kind compared conservatively).
    semantics: Option<&'r Semantics>,
    /// Which objects to keep as read too (`Provenance::as_read`); none by default.
    keep_as_read: KeepAsRead,
    state: Mutex<CollectorState>,
}

/// Which objects a collector keeps as read, to explain them one by one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum KeepAsRead {
    /// None: a plain diff holds only the normalized objects.
    #[default]
    Nothing,
    /// Every object in scope (`--show-suppressed`: the filters bound what is read).
    All,
    /// One object (`kparity explain`): its kind as kubectl spells it, namespace and name.
    One { kind: crate::source::KindFilter, namespace: Option<String>, name: String },
}

impl KeepAsRead {
    pub fn keeps(&self, ty: &ApiType, key: &ObjectKey) -> bool {
        match self {
            KeepAsRead::Nothing => false,
            KeepAsRead::All => true,
            KeepAsRead::One { kind, namespace, name } => {
                kind.matches(&ty.group, &ty.kind, Some(&ty.resource))
                    && key.namespace.as_deref() == namespace.as_deref()
                    && key.name == *name
            }
        }
    }
}

#[derive(Default)]
struct CollectorState {
    by_type: HashMap<ApiType, Vec<Entry>>,
}

/// One object as the collector keeps it until `finish`.
struct Entry {
    key: ObjectKey,
    stored: Stored,
    hits: Vec<RuleId>,
    dropped: Vec<(RuleId, usize)>,
    attribution: Option<RecordRef>,
    as_read: Option<CanonicalJson>,
}

impl<'r> Collector<'r> {
    pub fn new(rules: &'r RuleSet) -> Self {
        Collector {
            rules,
            semantics: None,
            keep_as_read: KeepAsRead::Nothing,
            state: Mutex::new(CollectorState::default()),
        }
    }

    /// Keeps the objects `keep` selects as read too, to explain them one by one.
    pub fn keeping_as_read(mut self, keep: KeepAsRead) -> Self {
        self.keep_as_read = keep;
        self
    }

    /// A collector normalizing each kind under its schema's semantics.
    pub fn with_semantics(rules: &'r RuleSet, semantics: &'r Semantics) -> Self {
        Collector {
            rules,
            semantics: Some(semantics),
            keep_as_read: KeepAsRead::Nothing,
            state: Mutex::new(CollectorState::default()),
        }
    }

    /// The objects, per-rule hit counts, and the types whose read contradicted itself: an
    /// object key that came back twice (a server or proxy repeating a page, two resources
    /// answering for one kind) is never silently overwritten; its type becomes incomplete.
    pub fn finish(self) -> Collected {
        let state = self.state.into_inner().unwrap_or_else(|e| e.into_inner());
        let mut objects = BTreeMap::new();
        let mut provenance = Provenance::default();
        let mut hits = RuleCounts::default();
        let mut counts = HashMap::new();
        let mut duplicates: BTreeMap<ApiType, (usize, ObjectKey)> = BTreeMap::new();
        // Sorted by type, so which of two colliding types is blamed does not depend on timing.
        let mut by_type: Vec<_> = state.by_type.into_iter().collect();
        by_type.sort_by(|a, b| a.0.cmp(&b.0));
        for (ty, mut items) in by_type {
            number_generated(&mut items);
            counts.insert(ty.clone(), items.len());
            for Entry { key, stored, hits: h, dropped, attribution, as_read } in items {
                for rule in h {
                    hits.add(rule, 1);
                }
                for (rule, n) in dropped {
                    provenance.fields_dropped.add(rule, n);
                }
                if objects.contains_key(&key) {
                    duplicates.entry(ty.clone()).or_insert((0, key.clone())).0 += 1;
                    continue;
                }
                if let Some(a) = attribution {
                    provenance.attribution.insert(key.clone(), a);
                }
                if let Some(r) = as_read {
                    provenance.as_read.insert(key.clone(), r);
                }
                objects.insert(key, stored);
            }
        }
        let incomplete = duplicates
            .into_iter()
            .map(|(ty, (n, first))| Incomplete {
                type_ref: TypeRef::from(&ty),
                reason: IncompleteReason::Inconsistent(format!(
                    "{n} object key(s) read more than once (first: {first}); the read cannot be trusted"
                )),
            })
            .collect();
        Collected { objects, rule_hits: hits, incomplete, counts, provenance }
    }
}

/// What a `Collector` holds at the end of a read.
pub struct Collected {
    pub objects: BTreeMap<ObjectKey, Stored>,
    pub rule_hits: RuleCounts,
    /// Types whose read contradicted itself (duplicate keys).
    pub incomplete: Vec<Incomplete>,
    /// Objects received per type.
    pub counts: HashMap<ApiType, usize>,
    /// Attribution, fields dropped per rule, objects as read.
    pub provenance: Provenance,
}

impl Sink for Collector<'_> {
    fn page(&self, ty: &ApiType, items: Vec<ReadObject>) {
        // Normalize (and serialize) outside the lock: it is the CPU-heavy part and is
        // independent per object. Each value tree is dropped as soon as its bytes exist.
        let schema = self.semantics.and_then(|s| s.kind(&ty.group, &ty.kind));
        // Every object of the page has the type's group and kind (`key_of`).
        let rules = crate::normalize::rules_for_type(self.rules, &key_of(ty, &Value::Null));
        let (objects, records): (Vec<Value>, Vec<Option<crate::attribution::EncodedRecord>>) =
            items.into_iter().map(|r| (r.object, r.attribution)).unzip();
        let normalized: Vec<_> = objects
            .into_iter()
            .zip(RecordRef::pack(records))
            .map(|(obj, attribution)| {
                let key = compare_key_of(ty, &obj);
                let as_read = self.keep_as_read.keeps(ty, &key).then(|| CanonicalJson::from_value(&obj));
                let out = normalize_under(&key, obj, &rules, schema);
                Entry {
                    key,
                    stored: Stored::from(out.normalized),
                    hits: out.rule_hits,
                    dropped: out.fields_dropped,
                    attribution,
                    as_read,
                }
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
    fn a_pages_records_are_kept_in_one_block_and_each_reads_back_whole() {
        let encoded = |v: Value| {
            let mut obj = json!({"metadata": {crate::attribution::ATTRIBUTION: v}});
            crate::attribution::take_encoded(&mut obj)
        };
        let record = |m: &str| encoded(json!([{"manager": m, "operation": "Update", "fields": {"f:spec": {}}}]));
        let big = encoded(json!([{"manager": "x".repeat(5000), "operation": "Apply"}]));
        let records = vec![record("a"), None, big.clone(), record("b")];
        let refs = RecordRef::pack(records.clone());
        assert_eq!(refs.len(), 4);
        assert!(refs[1].is_none());
        for (r, want) in refs.iter().zip(&records) {
            assert_eq!(r.as_ref().and_then(RecordRef::json), want.as_ref().map(|w| w.as_bytes().to_vec()));
        }
        let block = &refs[0].as_ref().unwrap().block;
        assert!(refs.iter().flatten().all(|r| std::sync::Arc::ptr_eq(&r.block, block)), "one block per page");
        assert!(block.0.len() < 1000, "a 5 KB run of one letter compresses: {}", block.0.len());
        // Reading records of two blocks in turn reopens each; a page without records packs none.
        let other = RecordRef::pack(vec![record("c")]);
        for _ in 0..2 {
            assert_eq!(
                other[0].as_ref().and_then(RecordRef::json),
                Some(br#"[{"fields":{"f:spec":{}},"manager":"c","operation":"Update"}]"#.to_vec())
            );
            assert_eq!(refs[3].as_ref().and_then(RecordRef::json), records[3].as_ref().map(|w| w.as_bytes().to_vec()));
        }
        assert!(RecordRef::pack(vec![None, None]).iter().all(Option::is_none));
        assert!(crate::attribution::decode_json(&refs[0].as_ref().unwrap().json().unwrap()).is_some());
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
        // The context compressing each side's objects is its thread's, reused: what it compressed
        // before never changes an object's bytes.
        let small = json!({"metadata": {"name": "web", "namespace": "shop"}, "spec": {"replicas": 2, "image": "web:1.2.3", "ports": [80, 443]}, "x": "y".repeat(200)});
        let here = CanonicalJson::from_value(&small);
        assert!(here.compressed, "an object above {COMPRESS_ABOVE} bytes is compressed");
        let there = std::thread::spawn({
            let small = small.clone();
            move || CanonicalJson::from_value(&small)
        })
        .join()
        .unwrap();
        let _ = CanonicalJson::from_value(&big("z"));
        assert_eq!(here, there);
        assert_eq!(here, CanonicalJson::from_value(&small));
        assert_eq!(here.to_value().unwrap(), small);
    }

    #[test]
    fn a_bound_dynamically_provisioned_volume_is_identified_by_its_claim() {
        let ty = ApiType {
            group: "".into(),
            version: "v1".into(),
            resource: "persistentvolumes".into(),
            kind: "PersistentVolume".into(),
            namespaced: false,
        };
        let pv = |phase: &str, annotated: bool| {
            let mut v = json!({"metadata": {"name": "pvc-1234"}, "spec": {"claimRef": {"namespace": "shop", "name": "data"}}, "status": {"phase": phase}});
            if annotated {
                v["metadata"]["annotations"] = json!({"pv.kubernetes.io/provisioned-by": "ebs.csi.aws.com"});
            }
            v
        };
        assert_eq!(compare_key_of(&ty, &pv("Bound", true)).name, "claim:shop/data");
        // Released (its claim is gone) or statically provisioned: its own name.
        assert_eq!(compare_key_of(&ty, &pv("Released", true)).name, "pvc-1234");
        assert_eq!(compare_key_of(&ty, &pv("Bound", false)).name, "pvc-1234");
    }

    fn job_type() -> ApiType {
        ApiType {
            group: "batch".into(),
            version: "v1".into(),
            resource: "jobs".into(),
            kind: "Job".into(),
            namespaced: true,
        }
    }

    /// A Job as an API server names it from `generateName`, with an optional controller.
    fn generated_job(name: &str, owner: Option<(&str, &str)>, image: &str) -> Value {
        let mut v = json!({"metadata": {"name": name, "generateName": "migrate-", "namespace": "shop"},
                           "spec": {"template": {"spec": {"containers": [{"name": "m", "image": image}]}}}});
        if let Some((kind, owner)) = owner {
            v["metadata"]["ownerReferences"] = json!([{"kind": kind, "name": owner, "controller": true, "uid": "u"}]);
        }
        v
    }

    #[test]
    fn an_object_named_by_generate_name_is_identified_by_its_prefix_and_controller() {
        let ty = job_type();
        assert_eq!(compare_key_of(&ty, &generated_job("migrate-x7k2p", None, "a")).name, "migrate-<generated>");
        assert_eq!(
            compare_key_of(&ty, &generated_job("migrate-x7k2p", Some(("Workflow", "nightly")), "a")).name,
            "migrate-<generated by Workflow/nightly>"
        );
        // A name given explicitly beside generateName, or one that is not prefix + 5 random
        // characters, is the object's own name.
        assert_eq!(compare_key_of(&ty, &generated_job("schema-v2", None, "a")).name, "schema-v2");
        assert_eq!(compare_key_of(&ty, &generated_job("migrate-v2", None, "a")).name, "migrate-v2");
    }

    #[test]
    fn generated_objects_sharing_an_identity_are_numbered_by_content_not_merged() {
        let rules = crate::rules::load(&crate::rules::RuleOptions::default()).unwrap();
        let collect = |jobs: Vec<Value>| {
            let c = Collector::new(&rules);
            c.page(&job_type(), jobs.into_iter().map(ReadObject::from).collect());
            c.finish()
        };
        let old = collect(vec![generated_job("migrate-aaaaa", None, "v1"), generated_job("migrate-bbbbb", None, "v2")]);
        let new = collect(vec![generated_job("migrate-zzzzz", None, "v2"), generated_job("migrate-qqqqq", None, "v1")]);
        assert!(old.incomplete.is_empty(), "two generated objects are not a repeated read");
        let names: Vec<&str> = old.objects.keys().map(|k| k.name.as_str()).collect();
        assert_eq!(names, ["migrate-<generated> #1", "migrate-<generated> #2"]);
        // A lone generated object is #1, so it pairs with the first of several elsewhere.
        let one = collect(vec![generated_job("migrate-eeeee", None, "v1")]);
        assert_eq!(one.objects.keys().next().unwrap().name, "migrate-<generated> #1");
        // Same contents under other random names: the same identities and the same bytes.
        assert_eq!(old.objects, new.objects);
        // One image changed: still two objects, and a pair now differs.
        let changed =
            collect(vec![generated_job("migrate-ccccc", None, "v1"), generated_job("migrate-ddddd", None, "v3")]);
        assert_eq!(changed.objects.len(), 2);
        assert_ne!(old.objects, changed.objects);
    }

    #[test]
    fn a_key_read_twice_makes_its_type_incomplete_instead_of_overwriting() {
        let rules = RuleSet::default();
        let c = Collector::new(&rules);
        let ty = ApiType {
            group: String::new(),
            version: "v1".into(),
            resource: "configmaps".into(),
            kind: "ConfigMap".into(),
            namespaced: true,
        };
        let cm = |v: &str| json!({"metadata": {"name": "a", "namespace": "n"}, "data": {"k": v}});
        c.page(&ty, vec![cm("1").into(), json!({"metadata": {"name": "b", "namespace": "n"}}).into()]);
        c.page(&ty, vec![cm("2").into()]);
        let got = c.finish();
        assert_eq!(got.objects.len(), 2);
        assert_eq!(got.incomplete.len(), 1);
        assert_eq!(got.incomplete[0].type_ref, TypeRef::from(&ty));
        assert_eq!(got.incomplete[0].reason.code(), "inconsistent");
        assert!(got.incomplete[0].reason.to_string().contains("ConfigMap n/a"), "{}", got.incomplete[0].reason);

        // A relist forgets what came before: no duplicate.
        let c = Collector::new(&rules);
        c.page(&ty, vec![cm("1").into()]);
        c.restart(&ty);
        c.page(&ty, vec![cm("1").into()]);
        assert!(c.finish().incomplete.is_empty());
    }

    #[test]
    fn canonical_bytes_give_the_same_object_back() {
        let v = json!({"spec": {"replicas": 3, "ratio": 0.5, "big": 18446744073709551615u64, "neg": -1}, "s": "é\n"});
        assert_eq!(CanonicalJson::from_value(&v).to_value().unwrap(), v);
    }
}
