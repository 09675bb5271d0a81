//! Who last wrote each field: a compact record of an object's `metadata.managedFields`, kept
//! beside the object (never compared), and the lookup that names, for a changed field, the field
//! managers that own it or its nearest owned ancestor.
//!
//! managedFields differ on every server and are never compared: `source::object` decodes them
//! straight into the record attribution needs (`Recorded`: per manager its name, operation,
//! subresource, time and the fields it owns, its `fieldsV1` tree compacted), which travels beside
//! the object (`dump::ReadObject`), never in it. Archives hold it in the object's metadata under
//! `x-kparity-attribution` (an archive diff attributes like a live one; archives without it still
//! read, then nothing is attributed); the archive reader takes it out again before the object is
//! collected, so it is never part of what is compared.
//!
//! Attribution also removes one class of noise by principle (rule `hpa-replicas`): a field last
//! written through the `scale` subresource by kube-controller-manager is a HorizontalPodAutoscaler
//! decision (the HPA is the only controller of kube-controller-manager that writes `scale`; the
//! deployment and replicaset controllers update their objects' main resource: in Kubernetes
//! 1.37's `pkg/controller`, `podautoscaler/horizontal.go` holds the only `Scales(..).Update`).
//! Such a replica count is controller state; the HPA objects themselves (min, max, metrics) are
//! still compared. `kubectl scale` patches `scale` without a field manager, so it is recorded as
//! manager `kubectl` (the user agent's first part), operation Update, subresource `scale`.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::diff::{Change, ObjectDiff, Segment};

/// Where `record` keeps the attribution in an object as read (and archived): under `metadata`,
/// which the API server always prunes to ObjectMeta's fields, so no object read from a server can
/// hold a field of that name itself (a custom resource preserving unknown fields could at its top
/// level, and taking that away would hide it from the comparison).
pub const ATTRIBUTION: &str = "x-kparity-attribution";

/// The manager name kube-controller-manager's controllers write under: the API server derives a
/// manager from the client's user agent up to its first `/`, and every controller's client is
/// `kube-controller-manager/VERSION (...)/CONTROLLER`.
pub const CONTROLLER_MANAGER: &str = "kube-controller-manager";

/// The name under which the HPA rule is reported and counted.
pub const HPA_RULE: &str = "hpa-replicas";

/// Why the HPA rule accepts a replica count, as reports print it.
pub const HPA_RULE_WHY: &str = "a replica count last written through the scale subresource by kube-controller-manager is a \
     HorizontalPodAutoscaler decision (controller state); the HPA objects themselves are compared";

/// The operation of a managedFields entry: server-side apply, or any other write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Operation {
    Apply,
    Update,
}

impl Operation {
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Apply => "Apply",
            Operation::Update => "Update",
        }
    }
}

/// One field manager of an object, as recorded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manager {
    pub manager: String,
    pub operation: Operation,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subresource: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time: Option<String>,
    /// The `fieldsV1` tree of the fields it owns (`f:` fields, `k:` keyed items, `.` the node
    /// itself); set items (`v:`) are folded into their list, see `compact_fields`.
    #[serde(default)]
    pub fields: Value,
}

impl Manager {
    /// The manager without its fields: what reports print.
    pub fn writer(&self) -> Writer {
        Writer {
            manager: self.manager.clone(),
            operation: self.operation,
            subresource: self.subresource.clone(),
            time: self.time.clone(),
        }
    }

    /// A write of the HorizontalPodAutoscaler: kube-controller-manager through `scale`. The
    /// manager is named after the binary (`kube-controller-manager`, or e.g.
    /// `kube-controller-manager-1.34` when the binary is renamed), so the prefix decides.
    pub fn is_autoscaler(&self) -> bool {
        self.manager.starts_with(CONTROLLER_MANAGER) && self.subresource.as_deref() == Some("scale")
    }
}

/// Who wrote something, as reports print it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Writer {
    pub manager: String,
    pub operation: Operation,
    pub subresource: Option<String>,
    pub time: Option<String>,
}

impl Writer {
    /// `kubectl (Update, scale) 03:12`: compact, for the table and markdown.
    pub fn short(&self) -> String {
        let sub = self.subresource.as_deref().map(|s| format!(", {s}")).unwrap_or_default();
        let time = self.time.as_deref().map(|t| format!(" {}", short_time(t))).unwrap_or_default();
        format!("{} ({}{sub}){time}", self.manager, self.operation.as_str())
    }
}

/// `2026-12-03T03:12:45Z` → `03:12`; anything else as is.
fn short_time(t: &str) -> &str {
    t.get(11..16).filter(|_| t.len() >= 16 && t.as_bytes().get(10) == Some(&b'T')).unwrap_or(t)
}

/// The writers of one field (or object) on each side. A side without any attribution record
/// (an older archive) has `None`; a recorded side where nobody owns the field has `Some([])`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WrittenBy {
    pub old: Option<Vec<Writer>>,
    pub new: Option<Vec<Writer>>,
}

impl WrittenBy {
    /// `old: a (Apply) 02:10; new: kubectl (Update, scale) 03:12`, or `None` when nothing is known.
    pub fn short(&self) -> Option<String> {
        if let (Some(o), Some(n)) = (&self.old, &self.new)
            && o == n
            && !o.is_empty()
        {
            return Some(format!("both: {}", o.iter().map(Writer::short).collect::<Vec<_>>().join(", ")));
        }
        let side = |name: &str, w: &Option<Vec<Writer>>| {
            w.as_ref()
                .filter(|w| !w.is_empty())
                .map(|w| format!("{name}: {}", w.iter().map(Writer::short).collect::<Vec<_>>().join(", ")))
        };
        let parts: Vec<String> = [side("old", &self.old), side("new", &self.new)].into_iter().flatten().collect();
        (!parts.is_empty()).then(|| parts.join("; "))
    }
}

/// An object's managers, as recorded.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Attribution {
    pub managers: Vec<Manager>,
}

/// Records the attribution of `obj` from its `metadata.managedFields`, under `ATTRIBUTION`, and
/// drops them, as an archive holds it. An object without managedFields gets no record. Objects
/// read from a server are decoded by `source::object` instead, which builds the same record from
/// the response's bytes (`Recorded`) without making a value tree of the managedFields first;
/// this value path is the reference the decoder's tests compare it with.
#[cfg(test)]
pub fn record(obj: &mut Value) {
    let Some(Value::Object(meta)) = obj.get_mut("metadata") else { return };
    let Some(managed) = meta.remove("managedFields") else { return };
    let Ok(Recorded(Some(record))) = Recorded::deserialize(&managed) else { return };
    if let Some(v) = record.to_value() {
        meta.insert(ATTRIBUTION.into(), v);
    }
}

/// The attribution record of one `metadata.managedFields`, read straight from its JSON: per entry
/// the manager, operation (an entry without one is no write and is left out), a non-empty
/// subresource, the time, and the owned fields compacted (`CompactFields`). `None` when the value
/// is not a list or no entry has an operation. It tolerates any JSON: a server's odd
/// managedFields cost the record, never the object.
///
/// Built as JSON while parsing: this runs for every object read, and the managedFields are near
/// half of most objects' bytes (Deployments, ReplicaSets, Services, EndpointSlices measured on
/// the bench clusters), so building a value tree of them only to compact and drop it cost a
/// fifth of a live read's CPU.
#[derive(Debug, Default, PartialEq)]
pub struct Recorded(pub Option<EncodedRecord>);

/// A record as its JSON text (the list of managers), kept encoded: it is decoded only for an
/// object that differs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodedRecord(Vec<u8>);

impl EncodedRecord {
    fn of(managers: &Value) -> Self {
        // Serializing a value cannot fail (string keys, no non-finite numbers).
        EncodedRecord(serde_json::to_vec(managers).unwrap_or_default())
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    pub fn to_value(&self) -> Option<Value> {
        serde_json::from_slice(&self.0).ok()
    }
}

impl<'de> Deserialize<'de> for Recorded {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let managers = d.deserialize_any(AnyJson(ManagersVisitor))?.unwrap_or_default();
        if managers.is_empty() {
            return Ok(Recorded(None));
        }
        Ok(Recorded(Some(EncodedRecord::of(&Value::Array(managers)))))
    }
}

/// The managers of a managedFields list, as the JSON a `Manager` serializes to.
struct ManagersVisitor;

impl<'de> Lenient<'de> for ManagersVisitor {
    type Value = Vec<Value>;

    fn seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Option<Vec<Value>>, A::Error> {
        let mut managers = Vec::new();
        while let Some(entry) = seq.next_element_seed(LenientSeed(EntryVisitor))? {
            managers.extend(entry.flatten());
        }
        Ok(Some(managers))
    }
}

/// One managedFields entry as a recorded manager; `None` for an entry with no string operation.
struct EntryVisitor;

impl<'de> Lenient<'de> for EntryVisitor {
    type Value = Option<Value>;

    fn map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Option<Option<Value>>, A::Error> {
        let (mut manager, mut operation, mut subresource, mut time, mut fields) = (None, None, None, None, None);
        // A key given twice counts as its last value, as it would in a parsed JSON object.
        while let Some(Key(key)) = map.next_key::<Key<'de>>()? {
            match key.as_ref() {
                "manager" => manager = map.next_value::<Value>()?.as_str().map(str::to_string),
                "operation" => operation = map.next_value::<Value>()?.as_str().map(str::to_string),
                "subresource" => subresource = map.next_value::<Value>()?.as_str().map(str::to_string),
                "time" => time = map.next_value::<Value>()?.as_str().map(str::to_string),
                "fieldsV1" => fields = Some(map.next_value::<CompactFields>()?.0),
                _ => {
                    map.next_value::<serde::de::IgnoredAny>()?;
                }
            }
        }
        let Some(operation) = operation else { return Ok(Some(None)) };
        let operation = if operation == "Apply" { Operation::Apply } else { Operation::Update };
        let mut m = Map::new();
        m.insert("manager".into(), Value::String(manager.unwrap_or_default()));
        m.insert("operation".into(), Value::String(operation.as_str().into()));
        if let Some(s) = subresource.filter(|s| !s.is_empty()) {
            m.insert("subresource".into(), Value::String(s));
        }
        if let Some(t) = time {
            m.insert("time".into(), Value::String(t));
        }
        m.insert("fields".into(), fields.unwrap_or_else(|| Value::Object(Map::new())));
        Ok(Some(Some(Value::Object(m))))
    }
}

/// A `fieldsV1` tree with set items (`v:VALUE`) and list positions (`i:N`) folded into their list
/// (marked as owned, `.`): a set item's key *is* its value, and a value may be one a `digest` rule
/// protects, so it is never even copied. Nothing else in the tree holds a value: `f:` keys are
/// field names, `k:` keys the key fields of list items (names, ports). Anything but an object
/// is an empty tree.
struct CompactFields(Value);

impl<'de> Deserialize<'de> for CompactFields {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let tree = d.deserialize_any(AnyJson(FieldsVisitor))?;
        Ok(CompactFields(tree.unwrap_or_else(|| Value::Object(Map::new()))))
    }
}

struct FieldsVisitor;

impl<'de> Lenient<'de> for FieldsVisitor {
    type Value = Value;

    fn map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Option<Value>, A::Error> {
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if key.starts_with("v:") || key.starts_with("i:") {
                map.next_value::<serde::de::IgnoredAny>()?;
                out.insert(".".into(), Value::Object(Map::new()));
            } else {
                let sub = map.next_value::<CompactFields>()?;
                out.insert(key, sub.0);
            }
        }
        Ok(Some(Value::Object(out)))
    }
}

/// A visitor of one shape (a map or a list) that accepts any JSON: every other value, and the
/// shape it does not handle, is read through and yields `None`.
trait Lenient<'de>: Sized {
    type Value;

    fn map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Option<Self::Value>, A::Error> {
        while map.next_entry::<serde::de::IgnoredAny, serde::de::IgnoredAny>()?.is_some() {}
        Ok(None)
    }

    fn seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Option<Self::Value>, A::Error> {
        while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {}
        Ok(None)
    }
}

/// Adapts a `Lenient` visitor to serde's `Visitor`, accepting every JSON value.
struct AnyJson<V>(V);

impl<'de, V: Lenient<'de>> serde::de::Visitor<'de> for AnyJson<V> {
    type Value = Option<V::Value>;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        self.0.map(map)
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        self.0.seq(seq)
    }
    fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
}

/// A map key, borrowed from the input where it holds no escapes.
struct Key<'de>(std::borrow::Cow<'de, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(std::borrow::Cow::Borrowed(s)))
            }
            fn visit_str<E>(self, s: &str) -> Result<Key<'de>, E> {
                Ok(Key(std::borrow::Cow::Owned(s.to_string())))
            }
            fn visit_string<E>(self, s: String) -> Result<Key<'de>, E> {
                Ok(Key(std::borrow::Cow::Owned(s)))
            }
        }
        d.deserialize_str(V)
    }
}

/// `AnyJson` as a seed, for list elements.
struct LenientSeed<V>(V);

impl<'de, V: Lenient<'de>> serde::de::DeserializeSeed<'de> for LenientSeed<V> {
    type Value = Option<V::Value>;

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(AnyJson(self.0))
    }
}

/// Takes the record out of `obj` (before normalization): `None` when it has none.
pub fn take(obj: &mut Value) -> Option<Attribution> {
    let recorded = obj.get_mut("metadata")?.as_object_mut()?.remove(ATTRIBUTION)?;
    let managers = serde_json::from_value::<Vec<Manager>>(recorded).ok()?;
    Some(Attribution { managers })
}

/// Takes the record out of `obj` (before normalization), encoded for a dump as it was recorded:
/// `None` when it has none or it is not a list (a Secret's, digested whole as an unknown
/// metadata field by an archive reader, is taken out all the same: it is never content). It is
/// decoded (and checked) only for objects that differ (`decode`, which yields nothing for a
/// malformed record), so the objects that compare equal, nearly all of them, are never decoded
/// into `Manager`s.
pub fn take_encoded(obj: &mut Value) -> Option<EncodedRecord> {
    let recorded = obj.get_mut("metadata")?.as_object_mut()?.remove(ATTRIBUTION)?;
    recorded.is_array().then(|| EncodedRecord::of(&recorded))
}

/// Encodes a record compactly for a dump (parsed again only for objects that differ).
pub fn encode(a: &Attribution) -> EncodedRecord {
    EncodedRecord::of(&serde_json::to_value(&a.managers).unwrap_or(Value::Null))
}

pub fn decode(c: &EncodedRecord) -> Option<Attribution> {
    decode_json(c.as_bytes())
}

/// A record's managers from its JSON text; `None` for a malformed record (a hostile archive).
pub fn decode_json(json: &[u8]) -> Option<Attribution> {
    serde_json::from_slice(json).ok().map(|managers| Attribution { managers })
}

impl Attribution {
    /// The managers that own the field at `path`, or, when none does, its nearest owned ancestor.
    /// A manager owning something below the path counts as a writer of the path (a map or list
    /// added whole is written by whoever wrote its entries).
    pub fn owners(&self, path: &[Segment]) -> Vec<&Manager> {
        let depths: Vec<Option<usize>> = self.managers.iter().map(|m| owned_depth(&m.fields, path)).collect();
        let Some(best) = depths.iter().flatten().max().copied() else { return Vec::new() };
        self.managers.iter().zip(&depths).filter(|(_, d)| **d == Some(best)).map(|(m, _)| m).collect()
    }

    pub fn writers(&self) -> Vec<Writer> {
        self.managers.iter().map(Manager::writer).collect()
    }
}

/// How deep along `path` the tree `fields` owns: the full length when it owns the path or
/// something below it, else the depth of the deepest ancestor it owns itself (a leaf `{}` or a
/// node marked `.`), `None` when it owns no ancestor.
fn owned_depth(fields: &Value, path: &[Segment]) -> Option<usize> {
    let mut node = fields;
    let mut owned: Option<usize> = None;
    for (depth, seg) in path.iter().enumerate() {
        let Value::Object(m) = node else { return owned };
        if m.is_empty() && depth > 0 {
            return Some(depth);
        }
        if m.contains_key(".") && depth > 0 {
            owned = Some(depth);
        }
        let child = match seg {
            Segment::Key(k) => m.get(&format!("f:{k}")),
            Segment::Named(n) => keyed_child(m, &[("name".to_string(), n.clone())]),
            Segment::Keyed(kv) => keyed_child(m, kv),
            // An order change is the list's own; an index is not a key the tree uses.
            Segment::Order => return Some(depth).filter(|_| depth > 0).or(owned),
            Segment::Index(_) => None,
        };
        match child {
            Some(c) => node = c,
            None => return owned,
        }
    }
    Some(path.len())
}

/// The `k:{...}` child whose key fields equal `kv` (values compared as they print).
fn keyed_child<'a>(m: &'a Map<String, Value>, kv: &[(String, String)]) -> Option<&'a Value> {
    m.iter().find_map(|(k, v)| {
        let key: Value = serde_json::from_str(k.strip_prefix("k:")?).ok()?;
        let all = kv.iter().all(|(f, want)| {
            key.get(f).is_some_and(|got| match got {
                Value::String(s) => s == want,
                other => other.to_string() == *want,
            })
        });
        all.then_some(v)
    })
}

/// Attributes a difference: each changed field gets its writers on each side; a missing or extra
/// object its managers. With `hpa_rule`, a field the HPA wrote on one side (and no one else wrote
/// through `scale` on the other) is accepted as controller state. Returns how many fields the rule
/// accepted on each side it acted on (old, new).
pub fn attribute(
    d: &mut ObjectDiff,
    old: Option<&Attribution>,
    new: Option<&Attribution>,
    hpa_rule: bool,
) -> (usize, usize) {
    let mut accepted = (0, 0);
    match d.change {
        Change::Missing | Change::Extra => {
            d.written_by = WrittenBy { old: old.map(Attribution::writers), new: new.map(Attribution::writers) };
        }
        Change::Changed => {
            for f in &mut d.fields {
                let (o, n) = (old.map(|a| a.owners(&f.change.path)), new.map(|a| a.owners(&f.change.path)));
                if hpa_rule && f.waived.is_none() {
                    let by_hpa =
                        |s: &Option<Vec<&Manager>>| s.as_ref().is_some_and(|w| w.iter().any(|m| m.is_autoscaler()));
                    // Someone else scaling by hand (`kubectl scale`) is a human decision: reported.
                    let by_hand = |s: &Option<Vec<&Manager>>| {
                        s.as_ref().is_some_and(|w| {
                            w.iter().any(|m| m.subresource.as_deref() == Some("scale") && !m.is_autoscaler())
                        })
                    };
                    let replicas = matches!(f.change.path.as_slice(), [Segment::Key(a), Segment::Key(b)] if a == "spec" && b == "replicas");
                    if replicas && (by_hpa(&o) || by_hpa(&n)) && !by_hand(&o) && !by_hand(&n) {
                        let side = match (by_hpa(&o), by_hpa(&n)) {
                            (true, true) => "both sides",
                            (true, false) => "old",
                            _ => "new",
                        };
                        accepted.0 += usize::from(by_hpa(&o));
                        accepted.1 += usize::from(by_hpa(&n));
                        f.waived = Some(format!(
                            "rule {HPA_RULE}: controller state, written by the HorizontalPodAutoscaler \
                             ({CONTROLLER_MANAGER} through scale) on {side}"
                        ));
                    }
                }
                f.written_by = WrittenBy {
                    old: o.map(|w| w.into_iter().map(Manager::writer).collect()),
                    new: n.map(|w| w.into_iter().map(Manager::writer).collect()),
                };
            }
        }
    }
    accepted
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diff::{FieldDiff, value::FieldChange};
    use crate::model::ObjectKey;
    use serde_json::json;

    fn deployment(managed: Value) -> Value {
        json!({"metadata": {"name": "web", "namespace": "shop", "managedFields": managed}, "spec": {"replicas": 3}})
    }

    fn entry(manager: &str, op: &str, sub: Option<&str>, fields: Value) -> Value {
        let mut e = json!({"manager": manager, "operation": op, "apiVersion": "apps/v1", "time": "2026-12-03T03:12:45Z", "fieldsType": "FieldsV1", "fieldsV1": fields});
        if let Some(s) = sub {
            e["subresource"] = json!(s);
        }
        e
    }

    fn recorded(managed: Value) -> Attribution {
        let mut d = deployment(managed);
        record(&mut d);
        take(&mut d).expect("recorded")
    }

    fn path(p: &str) -> Vec<Segment> {
        p.split('.').map(|s| Segment::Key(s.to_string())).collect()
    }

    fn names(owners: Vec<&Manager>) -> Vec<String> {
        owners.into_iter().map(|m| m.writer().short()).collect()
    }

    #[test]
    fn the_record_survives_an_archive_round_trip_and_leaves_nothing_behind() {
        let mut d =
            deployment(json!([entry("kubectl", "Update", Some("scale"), json!({"f:spec": {"f:replicas": {}}}))]));
        record(&mut d);
        let line = serde_json::to_string(&d).unwrap();
        let mut back: Value = serde_json::from_str(&line).unwrap();
        let a = take(&mut back).unwrap();
        assert!(back["metadata"].get(ATTRIBUTION).is_none());
        assert_eq!(names(a.owners(&path("spec.replicas"))), ["kubectl (Update, scale) 03:12"]);
        assert_eq!(decode(&encode(&a)), Some(a.clone()));
        // Taken encoded, the record decodes to the same managers.
        let mut again: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(take_encoded(&mut again).as_ref().and_then(decode), Some(a));
        assert!(again["metadata"].get(ATTRIBUTION).is_none());
        // A malformed record (a hostile archive) decodes to nothing, as `take` gives nothing.
        let mut odd = json!({"metadata": {"name": "x", ATTRIBUTION: [{"manager": 7}]}});
        assert_eq!(take_encoded(&mut odd).as_ref().and_then(decode), None);
        let mut digested = json!({"metadata": {"name": "x", ATTRIBUTION: "hmac-sha256:00"}});
        assert!(take_encoded(&mut digested).is_none());
        assert!(digested["metadata"].get(ATTRIBUTION).is_none(), "never left to be compared");
        // An object read from an older archive has no record.
        assert_eq!(take(&mut json!({"metadata": {"name": "x"}})), None);
        // A custom resource's own top-level field of that name is content, never taken away.
        let mut cr = json!({"metadata": {"name": "x"}, ATTRIBUTION: [{"manager": "m", "operation": "Update"}]});
        assert_eq!(take(&mut cr), None);
        assert!(cr.get(ATTRIBUTION).is_some());
    }

    #[test]
    fn owners_are_the_managers_of_the_field_or_its_nearest_owned_ancestor() {
        let a = recorded(json!([
            entry(
                "helm",
                "Apply",
                None,
                json!({"f:metadata": {"f:labels": {"f:app": {}}}, "f:spec": {"f:template": {"f:spec": {"f:containers": {"k:{\"name\":\"app\"}": {".": {}, "f:image": {}, "f:name": {}}}}}}})
            ),
            entry("kubectl-patch", "Update", None, json!({"f:metadata": {"f:labels": {"f:team": {}}}})),
            entry("kube-controller-manager", "Update", Some("status"), json!({"f:status": {"f:replicas": {}}})),
        ]));
        let containers = |rest: &[&str]| {
            let mut p = path("spec.template.spec.containers");
            p.push(Segment::Named("app".into()));
            p.extend(rest.iter().map(|s| Segment::Key(s.to_string())));
            p
        };
        assert_eq!(names(a.owners(&containers(&["image"]))), ["helm (Apply) 03:12"]);
        // A field nobody owns inside an owned list item: the item's owner.
        assert_eq!(names(a.owners(&containers(&["resources"]))), ["helm (Apply) 03:12"]);
        assert_eq!(names(a.owners(&path("metadata.labels.team"))), ["kubectl-patch (Update) 03:12"]);
        // A map written by two managers: both.
        assert_eq!(names(a.owners(&path("metadata.labels"))).len(), 2);
        assert_eq!(names(a.owners(&path("status.replicas"))), ["kube-controller-manager (Update, status) 03:12"]);
        // No owned ancestor at all.
        assert!(a.owners(&path("spec.paused")).is_empty());
    }

    #[test]
    fn set_items_are_folded_into_their_list_so_no_value_is_recorded() {
        let mut d = deployment(json!([entry(
            "m",
            "Update",
            None,
            json!({"f:metadata": {"f:finalizers": {".": {}, "v:\"canary-value\"": {}}}})
        )]));
        record(&mut d);
        let rec = &d["metadata"][ATTRIBUTION];
        assert!(!rec.to_string().contains("canary-value"), "{rec}");
        let a = take(&mut d).unwrap();
        assert_eq!(a.owners(&path("metadata.finalizers")).len(), 1);
    }

    fn replicas_diff(old: i64, new: i64) -> ObjectDiff {
        ObjectDiff {
            key: ObjectKey {
                group: "apps".into(),
                kind: "Deployment".into(),
                namespace: Some("shop".into()),
                name: "web".into(),
            },
            change: Change::Changed,
            fields: vec![FieldDiff {
                change: FieldChange { path: path("spec.replicas"), old: Some(json!(old)), new: Some(json!(new)) },
                waived: None,
                hidden: false,
                written_by: WrittenBy::default(),
            }],
            patch: Vec::new(),
            waived: None,
            written_by: WrittenBy::default(),
            explained: None,
        }
    }

    fn replicas_by(manager: &str, sub: Option<&str>) -> Attribution {
        recorded(json!([entry(manager, "Update", sub, json!({"f:spec": {"f:replicas": {}}}))]))
    }

    #[test]
    fn hpa_written_replicas_are_accepted_and_manual_scales_are_reported() {
        let hpa = replicas_by(CONTROLLER_MANAGER, Some("scale"));
        let apply = replicas_by("kubectl-client-side-apply", None);
        let scale = replicas_by("kubectl", Some("scale"));
        // The HPA on one side, a manifest on the other: controller state.
        let mut d = replicas_diff(2, 5);
        assert_eq!(attribute(&mut d, Some(&apply), Some(&hpa), true), (0, 1));
        assert!(d.fields[0].waived.as_deref().is_some_and(|w| w.contains(HPA_RULE)), "{:?}", d.fields[0].waived);
        assert_eq!(
            d.fields[0].written_by.short().unwrap(),
            "old: kubectl-client-side-apply (Update) 03:12; new: kube-controller-manager (Update, scale) 03:12"
        );
        // A manual scale on either side is reported, naming who did it.
        let mut d = replicas_diff(2, 5);
        assert_eq!(attribute(&mut d, Some(&hpa), Some(&scale), true), (0, 0));
        assert_eq!(d.fields[0].waived, None);
        assert!(d.fields[0].written_by.short().unwrap().contains("new: kubectl (Update, scale)"));
        // Anyone else writing replicas on both sides: reported.
        let mut d = replicas_diff(2, 5);
        attribute(&mut d, Some(&apply), Some(&replicas_by("argocd-controller", None)), true);
        assert_eq!(d.fields[0].waived, None);
        // kube-controller-manager writing the main resource (not through scale) is not the HPA.
        let mut d = replicas_diff(2, 5);
        attribute(&mut d, Some(&apply), Some(&replicas_by(CONTROLLER_MANAGER, None)), true);
        assert_eq!(d.fields[0].waived, None);
        // The rule off (`core` profile off): reported.
        let mut d = replicas_diff(2, 5);
        attribute(&mut d, Some(&apply), Some(&hpa), false);
        assert_eq!(d.fields[0].waived, None);
    }

    #[test]
    fn the_rule_accepts_only_spec_replicas() {
        // The HPA owning spec.replicas does not excuse another field of the object.
        let hpa = recorded(json!([entry(
            CONTROLLER_MANAGER,
            "Update",
            Some("scale"),
            json!({"f:spec": {"f:replicas": {}, "f:paused": {}}})
        )]));
        let mut d = replicas_diff(2, 5);
        d.fields[0].change.path = path("spec.paused");
        attribute(&mut d, None, Some(&hpa), true);
        assert_eq!(d.fields[0].waived, None);
    }

    #[test]
    fn times_are_shown_as_hours_and_minutes() {
        assert_eq!(short_time("2026-12-03T03:12:45Z"), "03:12");
        assert_eq!(short_time("odd"), "odd");
    }
}
