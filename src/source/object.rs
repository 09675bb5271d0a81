//! Decodes one object as an API server sends it (a list item, a watch event's object) into a
//! `ReadObject`: its `metadata.managedFields` become the attribution record while they are parsed
//! (`attribution::Recorded`) and never enter the object.
//!
//! managedFields are near half the bytes of most objects and are never compared; building a value
//! tree of them, compacting it into the record and dropping it cost a fifth of a live read's CPU.
//! Everything else is decoded exactly as `serde_json::Value` decodes it, so an object reads the
//! same by this decoder as by any other path (archives, tests): a key given twice keeps its last
//! value, and anything that is not an object (a hostile server's list item) is kept as it came.

use serde::de::value::SeqAccessDeserializer;
use serde::de::{DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value};

use crate::attribution::EncodedRecord;
use crate::attribution::Recorded;
use crate::dump::ReadObject;

impl<'de> Deserialize<'de> for ReadObject {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let (object, attribution) = d.deserialize_any(Level::Object)?;
        Ok(ReadObject { object, attribution })
    }
}

/// Where the decoder is: the object itself, or its `metadata` (where managedFields live).
#[derive(Clone, Copy)]
enum Level {
    Object,
    Metadata,
}

impl<'de> DeserializeSeed<'de> for Level {
    type Value = (Value, Option<EncodedRecord>);

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Level {
    type Value = (Value, Option<EncodedRecord>);

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a Kubernetes object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut out = Map::new();
        let mut record = None;
        while let Some(key) = map.next_key::<String>()? {
            match (self, key.as_str()) {
                (Level::Object, "metadata") => {
                    let (meta, r) = map.next_value_seed(Level::Metadata)?;
                    out.insert(key, meta);
                    record = r;
                }
                (Level::Metadata, "managedFields") => {
                    record = map.next_value::<Recorded>()?.0;
                }
                _ => {
                    let v = map.next_value::<Value>()?;
                    out.insert(key, v);
                }
            }
        }
        Ok((Value::Object(out), record))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        Ok((Value::deserialize(SeqAccessDeserializer::new(seq))?, None))
    }

    fn visit_bool<E>(self, v: bool) -> Result<Self::Value, E> {
        Ok((Value::Bool(v), None))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
        Ok((Value::from(v), None))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
        Ok((Value::from(v), None))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Self::Value, E> {
        Ok((Value::from(v), None))
    }

    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok((Value::String(v.to_string()), None))
    }

    fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
        Ok((Value::String(v), None))
    }

    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok((Value::Null, None))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::attribution::{ATTRIBUTION, record};

    /// The path every other reader takes: parse into a value, record, strip.
    fn as_value_path(text: &str) -> (Value, Option<Value>) {
        let mut v: Value = serde_json::from_str(text).unwrap();
        record(&mut v);
        let rec = v.get_mut("metadata").and_then(Value::as_object_mut).and_then(|m| m.remove(ATTRIBUTION));
        (v, rec)
    }

    fn decoded(text: &str) -> (Value, Option<Value>) {
        let r: ReadObject = serde_json::from_str(text).unwrap();
        (r.object, r.attribution.map(|a| a.to_value().unwrap()))
    }

    #[test]
    fn an_object_decodes_as_a_value_does_with_its_managed_fields_recorded_beside_it() {
        let cases = [
            // A Deployment as a server writes it: set items and list positions never recorded.
            json!({"metadata": {"name": "web", "namespace": "shop", "labels": {"app": "web"}, "managedFields": [
                {"manager": "helm", "operation": "Apply", "apiVersion": "apps/v1", "time": "2026-12-03T03:12:45Z",
                 "fieldsType": "FieldsV1", "fieldsV1": {"f:metadata": {"f:finalizers": {".": {}, "v:\"secret-canary\"": {}}},
                 "f:spec": {"f:template": {"f:spec": {"f:containers": {"k:{\"name\":\"app\"}": {".": {}, "f:image": {}}}}}}}},
                {"manager": "kube-controller-manager", "operation": "Update", "subresource": "status", "time": "2026-12-03T03:12:46Z",
                 "fieldsV1": {"f:status": {"f:conditions": {"i:0": {}}}}},
                {"manager": "no-operation", "fieldsV1": {"f:spec": {}}},
                {"manager": 7, "operation": "Update", "subresource": "", "fieldsV1": "not a tree"},
                "not an entry"
            ]}, "spec": {"replicas": 3, "list": [1, 2.5, "x", null, true, {"a": {}}]}}),
            // Odd managedFields: not a list, empty, only entries without an operation.
            json!({"metadata": {"name": "a", "managedFields": {"manager": "m"}}, "data": {"k": "v"}}),
            json!({"metadata": {"name": "a", "managedFields": []}}),
            json!({"metadata": {"name": "a", "managedFields": [{"manager": "m"}]}}),
            // No metadata, metadata not an object, an object that is not an object.
            json!({"spec": {"managedFields": [{"manager": "m", "operation": "Update"}]}}),
            json!({"metadata": ["managedFields"], "x": -1}),
            json!([{"metadata": {"managedFields": []}}]),
            json!("text"),
            json!(18446744073709551615u64),
            json!(null),
        ];
        for case in cases {
            let text = case.to_string();
            assert_eq!(decoded(&text), as_value_path(&text), "{text}");
        }
        let (object, rec) = decoded(&cases_first());
        assert!(object["metadata"].get("managedFields").is_none());
        let rec = rec.expect("recorded");
        assert!(!rec.to_string().contains("secret-canary"), "{rec}");
        assert_eq!(rec.as_array().map(Vec::len), Some(3), "the entry without an operation is left out: {rec}");
        let a = crate::attribution::decode_json(rec.to_string().as_bytes()).expect("a record that decodes");
        assert_eq!(a.managers.len(), 3);
    }

    fn cases_first() -> String {
        json!({"metadata": {"name": "web", "managedFields": [
            {"manager": "helm", "operation": "Apply", "fieldsV1": {"f:metadata": {"f:finalizers": {"v:\"secret-canary\"": {}}}}},
            {"manager": "kcm", "operation": "Update", "subresource": "status", "fieldsV1": {"f:status": {}}},
            {"manager": 7, "operation": "Update", "fieldsV1": "not a tree"},
            {"manager": "no-operation"}
        ]}})
        .to_string()
    }

    #[test]
    fn a_key_given_twice_keeps_its_last_value_as_in_any_parsed_object() {
        let text = r#"{"metadata": {"name": "a", "managedFields": [{"manager": "first", "operation": "Update"}], "name": "b",
            "managedFields": [{"manager": "second", "operation": "Apply"}]}, "spec": 1, "spec": 2}"#;
        assert_eq!(decoded(text), as_value_path(text));
        let (object, rec) = decoded(text);
        assert_eq!(object, json!({"metadata": {"name": "b"}, "spec": 2}));
        assert_eq!(rec.unwrap()[0]["manager"], "second");
        // A later metadata without managedFields leaves no record of an earlier one.
        let text =
            r#"{"metadata": {"managedFields": [{"manager": "m", "operation": "Update"}]}, "metadata": {"name": "c"}}"#;
        assert_eq!(decoded(text), (json!({"metadata": {"name": "c"}}), None));
    }

    #[test]
    fn escaped_keys_and_strings_decode_as_a_value_does() {
        let text = r#"{"metadata": {"name": "a\u0041", "annotations": {"k\"q": "v\n"}, "managedFields": [
            {"manager": "m\u00e9", "operation": "Update", "fieldsV1": {"f:metadata": {"f:annotations": {"f:k\"q": {}}}}}]}}"#;
        assert_eq!(decoded(text), as_value_path(text));
        // Deep nesting is refused by the parser's recursion limit, as for a value.
        let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
        assert!(serde_json::from_str::<ReadObject>(&deep).is_err());
        assert!(serde_json::from_str::<Value>(&deep).is_err());
    }
}
