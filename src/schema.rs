//! Field semantics the API declares in its own OpenAPI v3 schema, reduced to what comparing needs:
//! for each kind, the paths of lists (`x-kubernetes-list-type` atomic/set/map and their
//! `x-kubernetes-list-map-keys`), of maps (`additionalProperties`: an empty one is the same as an
//! absent one) and of quantities (`io.k8s.apimachinery.pkg.api.resource.Quantity`). Pure: the
//! documents are fetched by `source::schema`, the result is recorded in archives, and two sides'
//! records are merged into the `Semantics` both sides are normalized and diffed under.
//!
//! A path absent from the table is *unknown*: its lists keep their order and are matched by
//! index, its empty values are kept, its strings are compared as spelled. That is also what a
//! kind without any schema gets (a group-version whose document could not be read, an archive
//! written before schemas were recorded): unknown never compares more loosely than known.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::model::GroupKind;

/// What the schema says about the field at one path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub enum Sem {
    /// A list replaced as a whole (`x-kubernetes-list-type: atomic`, the default): items are
    /// matched by index.
    Atomic,
    /// A list of unique scalars (`set`): items are matched by value.
    Set,
    /// A list of objects keyed by these fields (`map` + `x-kubernetes-list-map-keys`).
    ListMap(Vec<String>),
    /// An object with arbitrary keys (`additionalProperties`): `{}` means the same as absent.
    Map,
    /// A resource quantity: `1000m` and `1` are the same amount.
    Quantity,
}

impl Sem {
    pub fn is_list(&self) -> bool {
        matches!(self, Sem::Atomic | Sem::Set | Sem::ListMap(_))
    }
}

/// One kind's semantics as read from one server: JSON-pointer-like paths (`*` = any list item or
/// map value) to what the schema declares there. Only paths that carry a fact are listed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KindRecord {
    pub group: String,
    pub kind: String,
    /// The version whose schema this is.
    pub version: String,
    pub paths: BTreeMap<String, Sem>,
}

/// A group-version whose schema could not be read.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Unavailable {
    pub group: String,
    pub version: String,
    pub message: String,
}

/// Everything one side knows about its types' field semantics (recorded as is in archives).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SchemaRecord {
    pub kinds: Vec<KindRecord>,
    #[serde(default)]
    pub unavailable: Vec<Unavailable>,
}

/// The OpenAPI component every built-in quantity field refers to.
const QUANTITY_REF: &str = "io.k8s.apimachinery.pkg.api.resource.Quantity";

/// The pattern controller-gen writes for a `resource.Quantity` field of a CRD (with
/// `x-kubernetes-int-or-string: true` and `anyOf: [integer, string]`). `int-or-string` with some
/// other pattern (versions, ports, percentages) is not a quantity.
pub const CRD_QUANTITY_PATTERN: &str = r"^(\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$";

/// Reads the kinds of one group-version OpenAPI v3 document (`/openapi/v3/apis/GROUP/VERSION`).
/// `wanted` names the kinds to keep; components are found by their
/// `x-kubernetes-group-version-kind`.
pub fn kinds_of_document(doc: &Value, group: &str, version: &str, wanted: &HashSet<String>) -> Vec<KindRecord> {
    let Some(components) = doc.pointer("/components/schemas").and_then(Value::as_object) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (name, schema) in components {
        let Some(gvks) = schema.get("x-kubernetes-group-version-kind").and_then(Value::as_array) else { continue };
        for gvk in gvks {
            let s = |k: &str| gvk.get(k).and_then(Value::as_str).unwrap_or_default();
            if s("group") == group && s("version") == version && wanted.contains(s("kind")) {
                let mut paths = BTreeMap::new();
                let mut stack = vec![name.clone()];
                walk(components, schema, &mut String::new(), &mut stack, &mut paths);
                out.push(KindRecord {
                    group: group.to_string(),
                    kind: s("kind").to_string(),
                    version: version.to_string(),
                    paths,
                });
            }
        }
    }
    out.sort_by(|a, b| a.kind.cmp(&b.kind));
    out.dedup_by(|a, b| a.kind == b.kind);
    out
}

/// The component a schema refers to: `{"$ref": ...}` or `{"allOf": [{"$ref": ...}]}` (how
/// OpenAPI v3 attaches a description or default to a reference).
fn ref_name(schema: &Value) -> Option<&str> {
    let r = schema.get("$ref").or_else(|| {
        schema.get("allOf").and_then(Value::as_array).filter(|a| a.len() == 1).and_then(|a| a[0].get("$ref"))
    })?;
    r.as_str()?.strip_prefix("#/components/schemas/")
}

fn is_crd_quantity(schema: &Value) -> bool {
    schema.get("x-kubernetes-int-or-string").and_then(Value::as_bool) == Some(true)
        && schema.get("pattern").and_then(Value::as_str) == Some(CRD_QUANTITY_PATTERN)
}

fn walk(
    components: &serde_json::Map<String, Value>,
    schema: &Value,
    path: &mut String,
    stack: &mut Vec<String>,
    out: &mut BTreeMap<String, Sem>,
) {
    if let Some(name) = ref_name(schema) {
        if name == QUANTITY_REF {
            out.insert(path.clone(), Sem::Quantity);
            return;
        }
        // A type that contains itself (JSONSchemaProps) is known down to its first recurrence;
        // below it, fields are unknown (compared as spelled, lists in order).
        if stack.iter().any(|s| s == name) {
            return;
        }
        let Some(target) = components.get(name) else { return };
        stack.push(name.to_string());
        walk(components, target, path, stack, out);
        stack.pop();
        return;
    }
    if is_crd_quantity(schema) {
        out.insert(path.clone(), Sem::Quantity);
        return;
    }
    if let Some(items) = schema.get("items").filter(|i| i.is_object()) {
        let keys: Option<Vec<String>> = schema
            .get("x-kubernetes-list-map-keys")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).map(str::to_string).collect());
        let sem = match schema.get("x-kubernetes-list-type").and_then(Value::as_str) {
            Some("set") => Sem::Set,
            Some("map") => match keys {
                Some(k) if !k.is_empty() => Sem::ListMap(k),
                // A map without keys is not valid; compare it as atomic rather than guess.
                _ => Sem::Atomic,
            },
            _ => Sem::Atomic,
        };
        out.insert(path.clone(), sem);
        descend(components, items, path, "*", stack, out);
        return;
    }
    if let Some(props) = schema.get("properties").and_then(Value::as_object) {
        for (k, v) in props {
            descend(components, v, path, k, stack, out);
        }
        return;
    }
    if let Some(values) = schema.get("additionalProperties").filter(|v| v.is_object()) {
        out.insert(path.clone(), Sem::Map);
        descend(components, values, path, "*", stack, out);
    }
}

fn descend(
    components: &serde_json::Map<String, Value>,
    schema: &Value,
    path: &mut String,
    segment: &str,
    stack: &mut Vec<String>,
    out: &mut BTreeMap<String, Sem>,
) {
    let len = path.len();
    path.push('/');
    path.push_str(&segment.replace('~', "~0").replace('/', "~1"));
    walk(components, schema, path, stack, out);
    path.truncate(len);
}

/// A path table as a tree, for walking an object and its schema together.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Node {
    pub sem: Option<Sem>,
    fields: HashMap<String, Node>,
    /// Items of a list or values of a map (`*`).
    any: Option<Box<Node>>,
}

impl Node {
    /// The schema of `key` below this node: a named field, else a list item or map value.
    pub fn child(&self, key: &str) -> Option<&Node> {
        self.fields.get(key).or(self.any.as_deref())
    }

    /// The schema of a list's items.
    pub fn items(&self) -> Option<&Node> {
        self.any.as_deref()
    }

    /// A schema from a path table (`/spec/containers` → `ListMap(["name"])`...).
    pub fn from_paths<'a>(paths: impl IntoIterator<Item = (&'a str, Sem)>) -> Node {
        let mut root = Node::default();
        for (p, sem) in paths {
            root.insert(p, sem);
        }
        root
    }

    fn insert(&mut self, path: &str, sem: Sem) {
        let mut node = self;
        for raw in path.split('/').skip(1) {
            node = if raw == "*" {
                node.any.get_or_insert_with(Default::default)
            } else {
                let key = raw.replace("~1", "/").replace("~0", "~");
                node.fields.entry(key).or_default()
            };
        }
        node.sem = Some(sem);
    }
}

/// The semantics a comparison runs under: per kind, what *both* sides declare (a fact one side
/// lacks or states differently is unknown), plus what to tell the reader about missing schemas.
#[derive(Debug, Default, Clone)]
pub struct Semantics {
    kinds: HashMap<GroupKind, Node>,
    /// Sentences for the report: whose schemas were missing and how those types were compared.
    pub warnings: Vec<String>,
}

/// How a type without schema is compared, said once wherever it applies.
pub const CONSERVATIVE: &str =
    "compared with list order kept, list items matched by index, empty values kept and quantities compared as spelled";

impl Semantics {
    /// The schema of objects of `gk`, if known.
    pub fn kind(&self, group: &str, kind: &str) -> Option<&Node> {
        self.kinds.get(&GroupKind { group: group.to_string(), kind: kind.to_string() })
    }

    /// One side alone (a snapshot being written has no other side).
    pub fn single(record: &SchemaRecord) -> Semantics {
        Semantics::merge(Some(("this side", record)), Some(("this side", record)))
    }

    /// Merges the two sides' records (`None`: an archive that records none). `name`s are how the
    /// report names each side.
    pub fn merge(old: Option<(&str, &SchemaRecord)>, new: Option<(&str, &SchemaRecord)>) -> Semantics {
        let mut warnings = Vec::new();
        for (name, side) in [&old, &new].into_iter().flatten().map(|(n, r)| (n, r)) {
            for u in &side.unavailable {
                let gv = if u.group.is_empty() { u.version.clone() } else { format!("{}/{}", u.group, u.version) };
                warnings.push(format!(
                    "the schema of {gv} could not be read on {name} ({}): its types were {CONSERVATIVE}",
                    u.message
                ));
            }
        }
        for (name, side) in [("old", &old), ("new", &new)] {
            if side.is_none() {
                warnings.push(format!(
                    "the {name} archive records no schemas (written by an older kparity): every type was {CONSERVATIVE}"
                ));
            }
        }
        warnings.dedup();
        let (Some((_, a)), Some((_, b))) = (old, new) else {
            return Semantics { kinds: HashMap::new(), warnings };
        };
        let index = |r: &SchemaRecord| -> HashMap<GroupKind, BTreeMap<String, Sem>> {
            r.kinds
                .iter()
                .map(|k| (GroupKind { group: k.group.clone(), kind: k.kind.clone() }, k.paths.clone()))
                .collect()
        };
        let (ia, ib) = (index(a), index(b));
        let mut kinds = HashMap::new();
        for (gk, pa) in ia {
            let Some(pb) = ib.get(&gk) else { continue };
            let mut root = Node::default();
            for (path, sem) in pa {
                if pb.get(&path) == Some(&sem) {
                    root.insert(&path, sem);
                }
            }
            kinds.insert(gk, root);
        }
        Semantics { kinds, warnings }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn doc() -> Value {
        json!({"components": {"schemas": {
            "io.k8s.api.apps.v1.Deployment": {
                "x-kubernetes-group-version-kind": [{"group": "apps", "version": "v1", "kind": "Deployment"}],
                "properties": {
                    "metadata": {"allOf": [{"$ref": "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"}]},
                    "spec": {"$ref": "#/components/schemas/Spec"}
                }
            },
            "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta": {"properties": {
                "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                "finalizers": {"type": "array", "items": {"type": "string"}, "x-kubernetes-list-type": "set"}
            }},
            "Spec": {"properties": {
                "containers": {"type": "array", "items": {"allOf": [{"$ref": "#/components/schemas/Container"}]},
                    "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"]},
                "args": {"type": "array", "items": {"type": "string"}},
                "self": {"$ref": "#/components/schemas/Spec"}
            }},
            "Container": {"properties": {
                "ports": {"type": "array", "items": {"properties": {"containerPort": {"type": "integer"}}},
                    "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["containerPort", "protocol"]},
                "resources": {"properties": {"limits": {"type": "object", "additionalProperties":
                    {"allOf": [{"$ref": "#/components/schemas/io.k8s.apimachinery.pkg.api.resource.Quantity"}]}}}},
                "version": {"type": "string"},
                "size": {"x-kubernetes-int-or-string": true, "anyOf": [{"type": "integer"}, {"type": "string"}], "pattern": CRD_QUANTITY_PATTERN},
                "port": {"x-kubernetes-int-or-string": true, "anyOf": [{"type": "integer"}, {"type": "string"}], "pattern": "^[0-9]+$"}
            }},
            "io.k8s.apimachinery.pkg.api.resource.Quantity": {"type": "string"}
        }}})
    }

    fn check(expected: &[(&str, Sem)]) {
        let wanted: HashSet<String> = ["Deployment".to_string()].into();
        let kinds = kinds_of_document(&doc(), "apps", "v1", &wanted);
        assert_eq!(kinds.len(), 1);
        let got: Vec<(&str, &Sem)> = kinds[0].paths.iter().map(|(p, s)| (p.as_str(), s)).collect();
        let expected: Vec<(&str, &Sem)> = expected.iter().map(|(p, s)| (*p, s)).collect();
        assert_eq!(got, expected);
    }

    #[test]
    fn paths_carry_list_types_keys_maps_and_quantities_through_references() {
        check(&[
            ("/metadata/finalizers", Sem::Set),
            ("/metadata/labels", Sem::Map),
            ("/spec/args", Sem::Atomic),
            ("/spec/containers", Sem::ListMap(vec!["name".into()])),
            ("/spec/containers/*/ports", Sem::ListMap(vec!["containerPort".into(), "protocol".into()])),
            ("/spec/containers/*/resources/limits", Sem::Map),
            ("/spec/containers/*/resources/limits/*", Sem::Quantity),
            // The controller-gen quantity signature, and nothing else int-or-string.
            ("/spec/containers/*/size", Sem::Quantity),
            // A recursive type stops at its first recurrence (`self` is unknown below).
        ]);
    }

    #[test]
    fn merged_semantics_keep_only_what_both_sides_declare() {
        let rec = |paths: &[(&str, Sem)]| SchemaRecord {
            kinds: vec![KindRecord {
                group: "apps".into(),
                kind: "Deployment".into(),
                version: "v1".into(),
                paths: paths.iter().map(|(p, s)| (p.to_string(), s.clone())).collect(),
            }],
            unavailable: Vec::new(),
        };
        let a = rec(&[("/a", Sem::Set), ("/b", Sem::Map), ("/c", Sem::ListMap(vec!["name".into()]))]);
        let b = rec(&[("/a", Sem::Set), ("/c", Sem::ListMap(vec!["id".into()]))]);
        let s = Semantics::merge(Some(("old", &a)), Some(("new", &b)));
        let root = s.kind("apps", "Deployment").unwrap();
        assert_eq!(root.child("a").and_then(|n| n.sem.clone()), Some(Sem::Set));
        assert_eq!(root.child("b").and_then(|n| n.sem.clone()), None);
        assert_eq!(root.child("c").and_then(|n| n.sem.clone()), None);
        assert!(s.warnings.is_empty());
        // An archive without schemas makes every kind unknown, and says so.
        let s = Semantics::merge(None, Some(("new", &b)));
        assert!(s.kind("apps", "Deployment").is_none());
        assert_eq!(
            s.warnings,
            [format!(
                "the old archive records no schemas (written by an older kparity): every type was {CONSERVATIVE}"
            )]
        );
    }
}
