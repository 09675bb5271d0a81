//! Helm 3 release Secrets (`type: helm.sh/release.v1`, named `sh.helm.release.v1.NAME.vREVISION`)
//! hold the whole release in one value, `data.release`: base64 (Helm's) of gzip of JSON, with
//! the chart, the user-supplied values, the rendered manifest, the hooks, the status, the
//! revision and the times of the install. Compared as one digest, two installs of the same chart
//! with the same values would differ by their install time alone.
//!
//! `expand` runs in the source stage, *before* the Secret's values are digested: it replaces
//! `data.release` by one entry per part (`release.chart`, `release.config`, `release.manifest`,
//! ...), each the canonical bytes of that part, which `digest_secret` then digests like any
//! Secret value. The times (`info.first_deployed`, `info.last_deployed`, `info.deleted`, each
//! hook's `last_run`) are left out: they record when, not what. Nothing decoded here is kept
//! anywhere else or logged; a value that does not decode as a Helm release is left as it was
//! (and compared whole, failing closed).

use std::io::Read as _;

use base64::Engine as _;
use serde_json::{Map, Value};

/// The Secret type Helm 3 writes its releases as.
pub const RELEASE_TYPE: &str = "helm.sh/release.v1";

/// Largest decompressed release accepted (Helm's own limit for a release is the 1 MiB Secret).
const MAX_RELEASE_BYTES: u64 = 64 << 20;

/// Replaces `data.release` of a Helm release Secret by its parts; any other object is untouched.
pub fn expand(obj: &mut Value) {
    if obj.get("type").and_then(Value::as_str) != Some(RELEASE_TYPE) {
        return;
    }
    let Some(encoded) = obj.pointer("/data/release").and_then(Value::as_str) else {
        return;
    };
    let Some(parts) = decode(encoded) else {
        return;
    };
    let engine = base64::engine::general_purpose::STANDARD;
    if let Some(Value::Object(data)) = obj.get_mut("data") {
        data.remove("release");
        for (name, bytes) in parts {
            data.insert(format!("release.{name}"), Value::String(engine.encode(bytes)));
        }
    }
}

/// The parts of a release, by name, as canonical bytes; `None` when `encoded` is no release.
fn decode(encoded: &str) -> Option<Vec<(&'static str, Vec<u8>)>> {
    let engine = base64::engine::general_purpose::STANDARD;
    // Kubernetes' base64 of the Secret value, then Helm's own base64 of the (gzipped) JSON.
    let helm_text = engine.decode(encoded.as_bytes()).ok()?;
    let packed = engine.decode(trim(&helm_text)).ok()?;
    let json = if packed.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(packed.as_slice()).take(MAX_RELEASE_BYTES).read_to_end(&mut out).ok()?;
        out
    } else {
        packed
    };
    let release: Value = serde_json::from_slice(&json).ok()?;
    let release = release.as_object()?;
    // A release has at least a name and a chart or manifest; anything else is not one.
    if !release.contains_key("name") || !(release.contains_key("chart") || release.contains_key("manifest")) {
        return None;
    }
    let info = release.get("info").and_then(Value::as_object);
    let text = |v: Option<&Value>| -> Vec<u8> {
        match v {
            Some(Value::String(s)) => s.clone().into_bytes(),
            Some(Value::Null) | None => Vec::new(),
            Some(other) => canonical(other),
        }
    };
    let hooks = release.get("hooks").map(|h| {
        let mut h = h.clone();
        if let Value::Array(items) = &mut h {
            for item in items.iter_mut() {
                if let Value::Object(m) = item {
                    m.remove("last_run");
                }
            }
            // Helm stores hooks in the order its renderer met them, which varies between two
            // installs of one chart; it runs them by weight and name, so the order means nothing.
            items.sort_by_cached_key(canonical);
        }
        h
    });
    Some(vec![
        ("name", text(release.get("name"))),
        ("namespace", text(release.get("namespace"))),
        ("revision", text(release.get("version"))),
        ("status", text(info.and_then(|i| i.get("status")))),
        ("description", text(info.and_then(|i| i.get("description")))),
        ("notes", text(info.and_then(|i| i.get("notes")))),
        ("chart", text(release.get("chart"))),
        ("config", text(release.get("config"))),
        ("manifest", text(release.get("manifest"))),
        ("hooks", text(hooks.as_ref())),
    ])
}

fn trim(b: &[u8]) -> &[u8] {
    let end = b.iter().rposition(|c| !c.is_ascii_whitespace()).map_or(0, |e| e + 1);
    &b[..end]
}

/// JSON with object keys sorted at every level, so equal content gives equal bytes.
fn canonical(v: &Value) -> Vec<u8> {
    fn sorted(v: &Value) -> Value {
        match v {
            Value::Object(m) => {
                let mut keys: Vec<&String> = m.keys().collect();
                keys.sort();
                let mut out = Map::new();
                for k in keys {
                    out.insert(k.clone(), sorted(&m[k]));
                }
                Value::Object(out)
            }
            Value::Array(a) => Value::Array(a.iter().map(sorted).collect()),
            other => other.clone(),
        }
    }
    sorted(v).to_string().into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::io::Write as _;

    fn secret(release: &Value) -> Value {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(release.to_string().as_bytes()).unwrap();
        let packed = gz.finish().unwrap();
        let engine = base64::engine::general_purpose::STANDARD;
        let helm = engine.encode(packed);
        json!({
            "apiVersion": "v1", "kind": "Secret", "type": RELEASE_TYPE,
            "metadata": {"name": "sh.helm.release.v1.web.v1", "labels": {"owner": "helm"}},
            "data": {"release": engine.encode(helm.as_bytes())}
        })
    }

    fn release(replicas: u32, deployed: &str) -> Value {
        json!({
            "name": "web", "namespace": "shop", "version": 1,
            "info": {"first_deployed": deployed, "last_deployed": deployed, "deleted": "",
                     "description": "Install complete", "status": "deployed", "notes": "hello"},
            "chart": {"metadata": {"name": "podinfo", "version": "6.14.1"},
                      "templates": [{"name": "templates/deployment.yaml", "data": "a2luZDogRGVwbG95bWVudA=="}],
                      "values": {"replicaCount": 1}},
            "config": {"replicaCount": replicas},
            "manifest": format!("kind: Deployment\nspec:\n  replicas: {replicas}\n"),
            "hooks": [{"name": "pre", "last_run": {"started_at": deployed}, "manifest": "kind: Job"}]
        })
    }

    #[test]
    fn the_install_time_is_not_part_of_any_compared_value() {
        let mut a = secret(&release(2, "2026-01-01T10:00:00Z"));
        let mut b = secret(&release(2, "2026-03-04T11:12:13Z"));
        assert_ne!(a, b, "the raw releases differ by their install time");
        expand(&mut a);
        expand(&mut b);
        assert_eq!(a, b);
        assert!(a.pointer("/data/release").is_none());
        assert!(a.pointer("/data/release.manifest").is_some());
    }

    #[test]
    fn a_different_value_shows_in_config_and_manifest_only() {
        let mut a = secret(&release(2, "2026-01-01T10:00:00Z"));
        let mut b = secret(&release(3, "2026-01-01T10:00:00Z"));
        expand(&mut a);
        expand(&mut b);
        let differing: Vec<&String> = a["data"]
            .as_object()
            .unwrap()
            .iter()
            .filter(|(k, v)| b["data"][k.as_str()] != **v)
            .map(|(k, _)| k)
            .collect();
        assert_eq!(differing, vec!["release.config", "release.manifest"]);
    }

    #[test]
    fn key_order_of_the_stored_json_does_not_matter() {
        let r = release(2, "2026-01-01T10:00:00Z");
        let mut a = secret(&r);
        let text = r.to_string().replace(r#""replicaCount":1"#, r#""replicaCount":1,"z":0"#);
        let mut b = secret(&serde_json::from_str(&text).unwrap());
        expand(&mut a);
        expand(&mut b);
        assert_ne!(a["data"]["release.chart"], b["data"]["release.chart"], "a real chart change still shows");
        assert_eq!(a["data"]["release.config"], b["data"]["release.config"]);
    }

    #[test]
    fn hook_order_does_not_matter_but_a_hook_change_does() {
        let mut r1 = release(2, "2026-01-01T10:00:00Z");
        r1["hooks"] = json!([{"name": "a", "manifest": "kind: Pod"}, {"name": "b", "manifest": "kind: Job"}]);
        let mut r2 = r1.clone();
        r2["hooks"] = json!([{"name": "b", "manifest": "kind: Job"}, {"name": "a", "manifest": "kind: Pod"}]);
        let mut r3 = r1.clone();
        r3["hooks"] = json!([{"name": "b", "manifest": "kind: Job"}, {"name": "a", "manifest": "kind: Pod\nx: 1"}]);
        let (mut a, mut b, mut c) = (secret(&r1), secret(&r2), secret(&r3));
        expand(&mut a);
        expand(&mut b);
        expand(&mut c);
        assert_eq!(a["data"]["release.hooks"], b["data"]["release.hooks"]);
        assert_ne!(a["data"]["release.hooks"], c["data"]["release.hooks"]);
    }

    #[test]
    fn other_secrets_and_undecodable_releases_are_left_whole() {
        let mut plain = json!({"type": "Opaque", "data": {"release": "aGVsbG8="}});
        let before = plain.clone();
        expand(&mut plain);
        assert_eq!(plain, before);
        let mut broken = json!({"type": RELEASE_TYPE, "data": {"release": "bm90IGEgcmVsZWFzZQ=="}});
        let before = broken.clone();
        expand(&mut broken);
        assert_eq!(broken, before);
    }
}
