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

/// What a dump keeps of one normalized object until the diff: its content, how a rule decided it
/// is compared, and who wrote its fields. The record rides with the object (one key per object,
/// which at 100,000 objects is tens of MiB a second map's keys would cost) and is never compared.
#[derive(Debug, Clone)]
pub struct Stored {
    pub kept: Kept,
    content: CanonicalJson,
    attribution: Option<RecordRef>,
}

/// How an object is compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kept {
    /// Compared in full.
    Content,
    /// Only its existence is compared (by this rule), when the rule matches both sides' objects.
    Presence(RuleId),
    /// Not compared (by this rule), when the rule matches both sides' objects (or the other side
    /// has none); reported as excluded.
    Skipped(RuleId),
}

impl Kept {
    fn of(n: Normalized) -> (Kept, Value) {
        match n {
            Normalized::Content(v) => (Kept::Content, v),
            Normalized::Presence(i, v) => (Kept::Presence(i), v),
            Normalized::Skipped(i, v) => (Kept::Skipped(i), v),
        }
    }
}

/// Two objects are the same when compared the same way with the same content; who wrote them
/// explains a difference and never makes one.
impl PartialEq for Stored {
    fn eq(&self, other: &Self) -> bool {
        self.kept == other.kept && self.content == other.content
    }
}

impl Stored {
    pub fn new(kept: Kept, content: CanonicalJson) -> Self {
        Stored { kept, content, attribution: None }
    }

    /// The normalized content, whatever rule matched (compared when a rule matched one side only).
    pub fn content(&self) -> &CanonicalJson {
        &self.content
    }

    /// Who wrote the object's fields, when it was read with managedFields.
    pub fn attribution(&self) -> Option<&RecordRef> {
        self.attribution.as_ref()
    }

    pub fn is_skipped(&self) -> bool {
        matches!(self.kept, Kept::Skipped(_))
    }
}

impl From<Normalized> for Stored {
    /// One object alone (tests, and sides built by hand); a collector packs a page together.
    fn from(n: Normalized) -> Self {
        let (kept, v) = Kept::of(n);
        Stored::new(kept, CanonicalJson::from_value(&v))
    }
}

/// A normalized object serialized once, compactly, with sorted keys (serde_json's map is ordered
/// by key), so equal objects have equal text. A `serde_json::Value` tree takes several times the
/// memory of its JSON text, and both sides of a large cluster are held until the diff: keeping
/// text bounds kparity's memory near the size of what it compares.
///
/// The text is kept packed with its page's other objects (`packed`: a page of one type compresses
/// to a tenth where one object alone compresses to 60%), and objects are compared by the SHA-256
/// digest of their text: equal digests mean equal text (no collision of SHA-256 is known, and
/// kparity already compares secret values by it), so the diff opens only the objects that differ.
#[derive(Clone)]
pub struct CanonicalJson {
    digest: [u8; 32],
    text: Text,
}

#[derive(Clone)]
enum Text {
    /// A lone object, or one whose length did not fit a block's offsets.
    Plain(Box<[u8]>),
    Packed(crate::packed::Slot),
}

impl PartialEq for CanonicalJson {
    fn eq(&self, other: &Self) -> bool {
        self.digest == other.digest
    }
}

impl Eq for CanonicalJson {}

impl CanonicalJson {
    /// One object alone (an explanation's object as read, a test's).
    pub fn from_value(v: &Value) -> Self {
        Self::pack(vec![Self::text_of(v)]).pop().unwrap_or_else(|| Self::plain(Vec::new()))
    }

    /// An object's canonical text. Serializing a Value cannot fail: its map keys are strings and
    /// it holds no non-finite numbers. The empty fallback could never equal a real object's text.
    pub fn text_of(v: &Value) -> Vec<u8> {
        serde_json::to_vec(v).unwrap_or_default()
    }

    /// The objects of one page, from their canonical texts (`text_of`), packed together.
    pub fn pack(texts: Vec<Vec<u8>>) -> Vec<CanonicalJson> {
        let texts: Vec<Option<Vec<u8>>> = texts.into_iter().map(Some).collect();
        let slots = crate::packed::pack(&texts);
        texts
            .into_iter()
            .zip(slots)
            .map(|(text, slot)| {
                let text = text.unwrap_or_default();
                match slot {
                    Some(slot) => CanonicalJson { digest: digest(&text), text: Text::Packed(slot) },
                    None => Self::plain(text),
                }
            })
            .collect()
    }

    fn plain(text: Vec<u8>) -> Self {
        CanonicalJson { digest: digest(&text), text: Text::Plain(text.into_boxed_slice()) }
    }

    /// The canonical JSON text.
    pub fn json(&self) -> std::io::Result<std::borrow::Cow<'_, [u8]>> {
        match &self.text {
            Text::Plain(t) => Ok(std::borrow::Cow::Borrowed(&t[..])),
            Text::Packed(slot) => slot.text().map(std::borrow::Cow::Owned),
        }
    }

    /// The object back as a value. Fails only if the text was not written by `text_of`.
    pub fn to_value(&self) -> Result<Value, serde_json::Error> {
        let json = self.json().map_err(serde_json::Error::io)?;
        serde_json::from_slice(&json)
    }
}

fn digest(text: &[u8]) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(text).into()
}

impl std::fmt::Debug for CanonicalJson {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.json() {
            Ok(json) => f.write_str(&String::from_utf8_lossy(&json)),
            Err(e) => write!(f, "(unreadable packed object: {e})"),
        }
    }
}

/// Where one object's attribution record is: a range of its page's records, packed together. A
/// record is read only for an object that differs, yet records are near half of what a side holds
/// per object: the records of one type repeat the same managers and field names, so a page of
/// them compresses about 30 times where one record alone compresses twice (measured on the bench
/// clusters' archives).
#[derive(Debug, Clone)]
pub struct RecordRef(crate::packed::Slot);

impl RecordRef {
    /// Packs the records of one page; `None` where an object has no record.
    fn pack(records: Vec<Option<crate::attribution::EncodedRecord>>) -> Vec<Option<RecordRef>> {
        let texts: Vec<Option<&[u8]>> = records.iter().map(|r| r.as_ref().map(|r| r.as_bytes())).collect();
        crate::packed::pack(&texts).into_iter().map(|s| s.map(RecordRef)).collect()
    }

    /// The record's JSON text (`None` only if its block cannot be read back: records explain,
    /// never decide).
    pub fn json(&self) -> Option<Vec<u8>> {
        self.0.text().ok()
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

/// Receives objects as a source reads them, page by page, in two steps: `prepare` does the
/// CPU-heavy part on the pool (`crate::cpu`), any number of pages at once and in any order;
/// `keep` takes a prepared page on the reading side, in the order the pages were read. So
/// what a sink holds never depends on which job ended first, and a `restart` can never be
/// overtaken by a page read before it.
pub trait Sink: Send + Sync {
    /// A page as the sink keeps it.
    type Prepared: Send;
    /// Prepares a page of objects of `ty`, as read (secret values already digested).
    fn prepare(&self, ty: &ApiType, items: Vec<ReadObject>) -> Self::Prepared;
    /// Keeps a prepared page of `ty`.
    fn keep(&self, ty: &ApiType, page: Self::Prepared);
    /// `ty` is being relisted from the start (410 Gone): forget what was received for it.
    fn restart(&self, ty: &ApiType);
    /// Prepares and keeps a page on the calling thread.
    fn page(&self, ty: &ApiType, items: Vec<ReadObject>) {
        let page = self.prepare(ty, items);
        self.keep(ty, page);
    }
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
    by_type: HashMap<ApiType, TypeRead>,
}

/// What the collector holds of one type until `finish`: forgotten whole when the type is relisted.
#[derive(Default)]
struct TypeRead {
    entries: Vec<Entry>,
    /// How many objects each rule took effect on, and how many fields it dropped: summed per
    /// page rather than kept per object.
    hits: RuleCounts,
    dropped: RuleCounts,
}

/// One object as the collector keeps it until `finish`.
struct Entry {
    key: ObjectKey,
    stored: Stored,
    /// Boxed: kept only when a report explains objects one by one, and a side holds an entry
    /// per object until `finish`.
    as_read: Option<Box<CanonicalJson>>,
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
        let mut provenance = Provenance::default();
        let mut hits = RuleCounts::default();
        let mut counts = HashMap::new();
        // Sorted by type, so which of two colliding types is blamed does not depend on timing.
        let mut by_type: Vec<_> = state.by_type.into_iter().collect();
        by_type.sort_by(|a, b| a.0.cmp(&b.0));
        let mut all: Vec<(usize, Entry)> = Vec::with_capacity(by_type.iter().map(|(_, t)| t.entries.len()).sum());
        let mut types = Vec::with_capacity(by_type.len());
        for (i, (ty, TypeRead { entries: mut items, hits: h, dropped })) in by_type.into_iter().enumerate() {
            number_generated(&mut items);
            counts.insert(ty.clone(), items.len());
            hits.merge(h);
            provenance.fields_dropped.merge(dropped);
            all.extend(items.into_iter().map(|e| (i, e)));
            types.push(ty);
        }
        // By key, and among equal keys by type (the sort is stable and types were taken in
        // order): the first of a key read twice is kept, every later one blames its type.
        all.sort_by(|a, b| a.1.key.cmp(&b.1.key));
        let mut duplicates: BTreeMap<usize, (usize, ObjectKey)> = BTreeMap::new();
        all.dedup_by(|later, kept| {
            let twice = later.1.key == kept.1.key;
            if twice {
                duplicates.entry(later.0).or_insert((0, later.1.key.clone())).0 += 1;
            }
            twice
        });
        for (_, e) in &mut all {
            if let Some(r) = e.as_read.take() {
                provenance.as_read.insert(e.key.clone(), *r);
            }
        }
        // Built from sorted keys at once, the map's nodes are full; inserted one by one in
        // ascending order, they were half empty (a third of what a side held at 100,000 objects).
        let objects: BTreeMap<ObjectKey, Stored> = all.into_iter().map(|(_, e)| (e.key, e.stored)).collect();
        let duplicates = duplicates.into_iter().map(|(i, d)| (&types[i], d));
        let incomplete = duplicates
            .map(|(ty, (n, first))| Incomplete {
                type_ref: TypeRef::from(ty),
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

/// A page as a `Collector` keeps it: its objects normalized and packed, and what the rules did.
pub struct CollectedPage {
    entries: Vec<Entry>,
    hits: RuleCounts,
    dropped: RuleCounts,
}

impl Sink for Collector<'_> {
    type Prepared = CollectedPage;

    fn prepare(&self, ty: &ApiType, items: Vec<ReadObject>) -> CollectedPage {
        let schema = self.semantics.and_then(|s| s.kind(&ty.group, &ty.kind));
        // Every object of the page has the type's group and kind (`key_of`).
        let rules = crate::normalize::rules_for_type(self.rules, &key_of(ty, &Value::Null));
        let (objects, records): (Vec<Value>, Vec<Option<crate::attribution::EncodedRecord>>) =
            items.into_iter().map(|r| (r.object, r.attribution)).unzip();
        // Each value tree is dropped as soon as its text exists; the page's texts are then
        // packed together.
        let mut texts = Vec::with_capacity(objects.len());
        let mut pending = Vec::with_capacity(objects.len());
        let (mut hits, mut dropped) = (RuleCounts::default(), RuleCounts::default());
        for (obj, attribution) in objects.into_iter().zip(RecordRef::pack(records)) {
            let key = compare_key_of(ty, &obj);
            let as_read = self.keep_as_read.keeps(ty, &key).then(|| Box::new(CanonicalJson::from_value(&obj)));
            let out = normalize_under(&key, obj, &rules, schema);
            for rule in out.rule_hits {
                hits.add(rule, 1);
            }
            for (rule, n) in out.fields_dropped {
                dropped.add(rule, n);
            }
            let (kept, v) = Kept::of(out.normalized);
            texts.push(CanonicalJson::text_of(&v));
            pending.push((kept, key, attribution, as_read));
        }
        let entries = pending
            .into_iter()
            .zip(CanonicalJson::pack(texts))
            .map(|((kept, key, attribution, as_read), content)| Entry {
                key,
                stored: Stored { kept, content, attribution },
                as_read,
            })
            .collect();
        CollectedPage { entries, hits, dropped }
    }

    fn keep(&self, ty: &ApiType, page: CollectedPage) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let read = state.by_type.entry(ty.clone()).or_default();
        read.entries.extend(page.entries);
        read.hits.merge(page.hits);
        read.dropped.merge(page.dropped);
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
        let first = &refs[0].as_ref().unwrap().0;
        assert!(refs.iter().flatten().all(|r| r.0.same_block(first)), "one block per page");
        assert!(first.block_len() < 1000, "a 5 KB run of one letter compresses: {}", first.block_len());
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
    fn a_pages_objects_are_packed_together_and_compare_by_their_text() {
        let big = |tail: &str| json!({"data": {"dashboard.json": format!("{}{tail}", "panel ".repeat(2000))}});
        let (a, b, c) = (
            CanonicalJson::from_value(&big("x")),
            CanonicalJson::from_value(&big("x")),
            CanonicalJson::from_value(&big("y")),
        );
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(c.to_value().unwrap(), big("y"));
        // A page packs its objects together; each compares equal to the same object packed in
        // another page (or alone, or on another thread) and unequal to any other, even one that
        // differs in its last byte or only in length.
        let obj = |i: usize| json!({"metadata": {"name": format!("web-{i}"), "namespace": "shop"}, "spec": {"replicas": 2, "image": "web:1.2.3"}});
        let page: Vec<Value> = (0..400).map(obj).collect();
        let packed = CanonicalJson::pack(page.iter().map(CanonicalJson::text_of).collect());
        let Text::Packed(first) = &packed[0].text else { panic!("a page of 400 objects is packed") };
        assert!(first.compressed());
        let shifted = CanonicalJson::pack(page[1..].iter().map(CanonicalJson::text_of).collect());
        let there = std::thread::spawn(move || CanonicalJson::from_value(&obj(7))).join().unwrap();
        assert_eq!(packed[7], there);
        assert_eq!(packed[8], shifted[7]);
        assert_ne!(packed[7], packed[8]);
        let mut longer = CanonicalJson::text_of(&page[7]);
        longer.push(b' ');
        assert_ne!(packed[7], CanonicalJson::pack(vec![longer]).remove(0));
        for (p, v) in packed.iter().zip(&page).rev() {
            assert_eq!(&p.to_value().unwrap(), v);
        }
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

    fn configmaps() -> ApiType {
        ApiType {
            group: String::new(),
            version: "v1".into(),
            resource: "configmaps".into(),
            kind: "ConfigMap".into(),
            namespaced: true,
        }
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
    fn pages_prepared_in_any_order_on_the_pool_are_kept_as_read() {
        let rules = RuleSet::default();
        let ty = configmaps();
        let cm = |name: &str, v: &str| json!({"metadata": {"name": name, "namespace": "n"}, "data": {"k": v}}).into();
        // The second page repeats the first page's key: which read is kept depends on the order
        // the pages are kept in, not on the order their jobs end.
        let pages = || vec![vec![cm("a", "first"), cm("b", "1")], vec![cm("a", "second"), cm("c", "2")]];
        let sequential = Collector::new(&rules);
        for page in pages() {
            sequential.page(&ty, page);
        }
        let pooled = Collector::new(&rules);
        crate::cpu::Cpu::scoped(|cpu| {
            let jobs: Vec<_> = pages()
                .into_iter()
                .enumerate()
                .map(|(i, page)| {
                    let (pooled, ty) = (&pooled, ty.clone());
                    cpu.run(move || {
                        // The first page's job ends last.
                        if i == 0 {
                            std::thread::sleep(std::time::Duration::from_millis(50));
                        }
                        pooled.prepare(&ty, page)
                    })
                })
                .collect();
            for job in jobs {
                pooled.keep(&ty, job.wait());
            }
        });
        let (want, got) = (sequential.finish(), pooled.finish());
        assert_eq!(got.objects, want.objects);
        assert_eq!(got.objects.len(), 3);
        let a = got.objects.iter().find(|(k, _)| k.name == "a").unwrap().1;
        assert_eq!(a.content().to_value().unwrap()["data"]["k"], "first");
        assert_eq!(got.incomplete.len(), 1, "the key read twice still makes its type incomplete");
        assert_eq!(got.counts, want.counts);
    }

    #[test]
    fn a_key_read_twice_makes_its_type_incomplete_instead_of_overwriting() {
        let rules = RuleSet::default();
        let c = Collector::new(&rules);
        let ty = configmaps();
        let cm = |v: &str| json!({"metadata": {"name": "a", "namespace": "n"}, "data": {"k": v}});
        c.page(&ty, vec![cm("1").into(), json!({"metadata": {"name": "b", "namespace": "n"}}).into()]);
        c.page(&ty, vec![cm("2").into()]);
        let got = c.finish();
        assert_eq!(got.objects.len(), 2);
        assert_eq!(got.incomplete.len(), 1);
        assert_eq!(got.incomplete[0].type_ref, TypeRef::from(&ty));
        assert_eq!(got.incomplete[0].reason.code(), "inconsistent");
        assert!(got.incomplete[0].reason.to_string().contains("ConfigMap n/a"), "{}", got.incomplete[0].reason);

        // The first read is the one kept, whatever else its page held.
        assert_eq!(got.objects.values().next().unwrap().content().to_value().unwrap()["data"]["k"], "1");

        // Two resources answering for one kind: the object of the first type (in type order,
        // whichever was read first) is kept and the later type is blamed, every time.
        let other = ApiType { resource: "configmaps-mirror".into(), ..ty.clone() };
        for first_read in [&ty, &other] {
            let c = Collector::new(&rules);
            let second = if first_read == &ty { &other } else { &ty };
            c.page(first_read, vec![cm(&first_read.resource).into()]);
            c.page(
                second,
                vec![cm(&second.resource).into(), json!({"metadata": {"name": "b", "namespace": "n"}}).into()],
            );
            let got = c.finish();
            assert_eq!(got.incomplete.len(), 1);
            assert_eq!(got.incomplete[0].type_ref, TypeRef::from(&other));
            assert!(got.incomplete[0].reason.to_string().contains(": 1 object key(s)"), "{}", got.incomplete[0].reason);
            assert_eq!(got.objects.values().next().unwrap().content().to_value().unwrap()["data"]["k"], "configmaps");
        }

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
