//! Secret values never leave the process in clear: the first stage that sees a Secret replaces
//! each value with a keyed digest (HMAC-SHA256). Equal values under the same key give equal
//! digests, which is all a comparison needs; without the key a digest reveals nothing usable.

use base64::Engine as _;
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::{Digest, Sha256};

type HmacSha256 = Hmac<Sha256>;

/// Prefix of every digest, so a digested value is recognizable in an archive.
pub const DIGEST_PREFIX: &str = "hmac-sha256:";

/// The key secret values are digested under.
#[derive(Clone)]
pub struct SecretKey {
    bytes: Vec<u8>,
    /// `Some` for a user-supplied key (recorded in snapshots, comparable across runs); `None` for
    /// a throwaway random key whose digests can be compared within this run only.
    fingerprint: Option<String>,
}

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print key material.
        write!(f, "SecretKey {{ fingerprint: {:?} }}", self.fingerprint)
    }
}

/// What a reader knows about the key behind a side's digests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyInfo {
    /// A key identified by its fingerprint (a user key, or this run's random key).
    Keyed { fingerprint: String },
    /// Digests under a discarded random key: comparable to nothing.
    Unkeyed,
}

impl SecretKey {
    /// A user-supplied key (from `KPARITY_SECRET_KEY` or `--secret-key-file`).
    pub fn from_user(material: &[u8]) -> Result<Self, String> {
        let trimmed = trim_ascii(material);
        if trimmed.len() < 16 {
            return Err(format!(
                "the secret key is {} bytes long; use at least 16 bytes of random data",
                trimmed.len()
            ));
        }
        Ok(SecretKey { fingerprint: Some(fingerprint(trimmed)), bytes: trimmed.to_vec() })
    }

    /// A random key for this run only.
    pub fn random() -> Self {
        let bytes: [u8; 32] = rand::random();
        SecretKey { fingerprint: None, bytes: bytes.to_vec() }
    }

    /// The key info of digests made under this key *within this run*: live sides of one run
    /// share the random key, so they are comparable with each other.
    pub fn run_info(&self) -> KeyInfo {
        KeyInfo::Keyed {
            fingerprint: self.fingerprint.clone().unwrap_or_else(|| format!("run:{}", fingerprint(&self.bytes))),
        }
    }

    /// The key info recorded in an archive: a random key is gone once the run ends.
    pub fn archive_info(&self) -> KeyInfo {
        match &self.fingerprint {
            Some(f) => KeyInfo::Keyed { fingerprint: f.clone() },
            None => KeyInfo::Unkeyed,
        }
    }

    /// An HMAC under a key derived from this one for `domain`, so different uses of one key
    /// (value digests, archive seals) never produce comparable outputs.
    pub fn mac_for(&self, domain: &str) -> HmacSha256 {
        let mut derive =
            HmacSha256::new_from_slice(&self.bytes).unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
        derive.update(domain.as_bytes());
        let sub = derive.finalize().into_bytes();
        HmacSha256::new_from_slice(&sub).unwrap_or_else(|_| unreachable!("HMAC takes any key length"))
    }

    pub fn digest(&self, bytes: &[u8]) -> String {
        // HMAC accepts keys of any length; new_from_slice cannot fail for it.
        let mut mac =
            HmacSha256::new_from_slice(&self.bytes).unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
        mac.update(bytes);
        format!("{DIGEST_PREFIX}{}", hex::encode(mac.finalize().into_bytes()))
    }
}

fn trim_ascii(b: &[u8]) -> &[u8] {
    let start = b.iter().position(|c| !c.is_ascii_whitespace()).unwrap_or(b.len());
    let end = b.iter().rposition(|c| !c.is_ascii_whitespace()).map_or(start, |e| e + 1);
    &b[start..end]
}

/// A short public identifier of a key: SHA-256 over a domain tag and the key, truncated.
pub fn fingerprint(key: &[u8]) -> String {
    let mut h = Sha256::new();
    h.update(b"kparity secret-key fingerprint v1\0");
    h.update(key);
    format!("sha256:{}", &hex::encode(h.finalize())[..16])
}

/// Why digests of two sides cannot prove equality, or `None` when they can.
pub fn comparable(a: &KeyInfo, b: &KeyInfo) -> Option<String> {
    match (a, b) {
        (KeyInfo::Keyed { fingerprint: x }, KeyInfo::Keyed { fingerprint: y }) if x == y => None,
        (KeyInfo::Keyed { fingerprint: x }, KeyInfo::Keyed { fingerprint: y }) => Some(format!(
            "secret values were digested under different keys (old {x}, new {y}), so equal values cannot be proven equal; \
             pass the same KPARITY_SECRET_KEY for both, or --ignore-secret-values to compare Secrets without their values"
        )),
        _ => Some(
            "secret values of a snapshot taken without a secret key cannot be compared; \
             take snapshots with KPARITY_SECRET_KEY (or --secret-key-file) set, or pass --ignore-secret-values"
                .to_string(),
        ),
    }
}

/// Replaces every value of a Secret with its digest: `data` (decoded from base64 first, so
/// `data` and `stringData` spellings of a value digest alike), `stringData`, and the
/// last-applied-configuration annotation, which `kubectl apply` fills with the whole Secret.
pub fn digest_secret(obj: &mut Value, key: &SecretKey) {
    let engine = base64::engine::general_purpose::STANDARD;
    if let Some(Value::Object(data)) = obj.get_mut("data") {
        for v in data.values_mut() {
            if let Value::String(s) = v {
                let raw = engine.decode(s.as_bytes()).unwrap_or_else(|_| s.as_bytes().to_vec());
                *s = key.digest(&raw);
            } else if !v.is_null() {
                *v = Value::String(key.digest(v.to_string().as_bytes()));
            }
        }
    }
    if let Some(Value::Object(data)) = obj.get_mut("stringData") {
        for v in data.values_mut() {
            let raw = match &*v {
                Value::String(s) => s.as_bytes().to_vec(),
                other => other.to_string().into_bytes(),
            };
            *v = Value::String(key.digest(&raw));
        }
    }
    if let Some(Value::Object(ann)) = obj.pointer_mut("/metadata/annotations") {
        for (k, v) in ann.iter_mut() {
            if k == "kubectl.kubernetes.io/last-applied-configuration" {
                let raw = v.as_str().unwrap_or_default().as_bytes().to_vec();
                *v = Value::String(key.digest(&raw));
            }
        }
    }
}

/// The kind every object of the core `secrets` resource is keyed under.
pub const SECRET_KIND: &str = "Secret";

/// Annotations of a Secret kept in clear, each because its value is an identifier fixed by the
/// tool that writes it, never a credential. Every other annotation of a Secret is digested as
/// soon as it is read: tools store whole objects in annotations (`kubectl.kubernetes.io/
/// last-applied-configuration`, kapp's `kapp.k14s.io/original`, Helm 2's release data...), and
/// kparity cannot know every tool.
pub const SAFE_SECRET_ANNOTATIONS: &[(&str, &str)] = &[
    (
        "kubernetes.io/service-account.name",
        "the name of the ServiceAccount a token Secret belongs to (an object name, set by the user and read by the token controller)",
    ),
    (
        "kubernetes.io/service-account.uid",
        "the uid of that ServiceAccount (a server-assigned identifier, visible to anyone who can read ServiceAccounts)",
    ),
    ("meta.helm.sh/release-name", "the Helm release that manages the Secret (a release name)"),
    ("meta.helm.sh/release-namespace", "the namespace of that Helm release (a namespace name)"),
];

/// True when the value of this annotation of a Secret is kept in clear.
pub fn secret_annotation_is_safe(name: &str) -> bool {
    SAFE_SECRET_ANNOTATIONS.iter().any(|(k, _)| *k == name)
}

/// The top-level fields a Secret has (API `core/v1`). Any other top-level field an odd server
/// returns is digested whole: kparity cannot know what it holds.
const SECRET_FIELDS: &[&str] = &["apiVersion", "kind", "metadata", "type", "immutable", "data", "stringData"];

/// Metadata fields of every object (`ObjectMeta`); any other is digested whole in a Secret.
/// Labels stay in clear: their values are at most 63 characters of `[A-Za-z0-9._-]`, are
/// identifying by API design (selectors, `kubectl get -l`), and rules match on them.
const META_FIELDS: &[&str] = &[
    "name",
    "generateName",
    "namespace",
    "selfLink",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "labels",
    "annotations",
    "ownerReferences",
    "finalizers",
    "managedFields",
];

/// Where a Secret's field would be digested by [`digest_secret_metadata`] and
/// [`digest_secret`]: its values (`data`, `stringData`), every annotation but the allow-listed
/// ones, and fields a Secret does not have. `path` is the field's key path from the object root.
pub fn secret_path_is_digested(path: &[String]) -> bool {
    match path.first().map(String::as_str) {
        None => false,
        Some("data" | "stringData") => true,
        Some("metadata") => match path.get(1).map(String::as_str) {
            Some("annotations") => path.get(2).is_none_or(|a| !secret_annotation_is_safe(a)),
            Some(m) => !META_FIELDS.contains(&m),
            None => false,
        },
        Some(f) => !SECRET_FIELDS.contains(&f),
    }
}

/// Where a report must not print a Secret's field at all: what is digested, plus every
/// annotation (allow-listed values included: a report prints no part of a Secret's annotations).
pub fn secret_path_is_hidden(path: &[String]) -> bool {
    secret_path_is_digested(path) || (path.len() >= 2 && path[0] == "metadata" && path[1] == "annotations")
}

/// Digests what [`digest_secret`] leaves: every annotation of a Secret except the allow-listed
/// ones ([`SAFE_SECRET_ANNOTATIONS`]), and any field a Secret does not have. Each digest is bound
/// to the Secret (namespace, name) and the field, so one value stored in two places gives two
/// unrelated digests while the same Secret on two clusters still compares equal.
pub fn digest_secret_metadata(obj: &mut Value, key: &SecretKey) {
    let (ns, name) = object_name(obj);
    let bound = |field: &str, value: &Value| -> Value {
        let raw = match value {
            Value::String(s) => s.as_bytes().to_vec(),
            other => other.to_string().into_bytes(),
        };
        let mut msg = Vec::with_capacity(raw.len() + 64);
        for part in ["kparity secret field v1", &ns, &name, field] {
            msg.extend_from_slice(part.as_bytes());
            msg.push(0);
        }
        msg.extend_from_slice(&raw);
        Value::String(key.digest(&msg))
    };
    redact_secret_metadata(obj, &mut |field, v| *v = bound(field, v));
}

/// Replaces what [`digest_secret_metadata`] would digest with `placeholder` (an archive taken
/// without a key records nothing of these values).
pub fn blank_secret_metadata(obj: &mut Value, placeholder: &str) {
    redact_secret_metadata(obj, &mut |_, v| *v = Value::String(placeholder.to_string()));
}

fn redact_secret_metadata(obj: &mut Value, f: &mut dyn FnMut(&str, &mut Value)) {
    let Value::Object(map) = obj else { return };
    for (k, v) in map.iter_mut() {
        if !SECRET_FIELDS.contains(&k.as_str()) {
            f(&format!("/{k}"), v);
        }
    }
    let Some(Value::Object(meta)) = map.get_mut("metadata") else { return };
    for (k, v) in meta.iter_mut() {
        if !META_FIELDS.contains(&k.as_str()) {
            f(&format!("/metadata/{k}"), v);
        }
    }
    match meta.get_mut("annotations") {
        Some(Value::Object(ann)) => {
            for (k, v) in ann.iter_mut() {
                if !secret_annotation_is_safe(k) {
                    f(&format!("/metadata/annotations/{k}"), v);
                }
            }
        }
        // Not a map (an odd server): nothing in it can be trusted to be harmless.
        Some(other) if !other.is_null() => f("/metadata/annotations", other),
        _ => {}
    }
}

fn object_name(obj: &Value) -> (String, String) {
    let s = |k: &str| obj.pointer(&format!("/metadata/{k}")).and_then(Value::as_str).unwrap_or_default().to_string();
    (s("namespace"), s("name"))
}

/// True when `v` is a digest as kparity writes them (`hmac-sha256:` and 64 hex digits).
pub fn is_digest(v: &Value) -> bool {
    v.as_str()
        .and_then(|s| s.strip_prefix(DIGEST_PREFIX))
        .is_some_and(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// Digests a field a user's `digest` rule designates in an object of any kind, bound to the
/// object's identity and the field's path (as for Secret metadata). A string is digested as its
/// bytes, anything else (a map, a list, a number) as its JSON text.
pub fn digest_field(identity: &[&str], path: &str, value: &Value, key: &SecretKey) -> Value {
    let raw = match value {
        Value::String(s) => s.as_bytes().to_vec(),
        other => other.to_string().into_bytes(),
    };
    let mut msg = Vec::with_capacity(raw.len() + 64);
    msg.extend_from_slice(b"kparity digest rule v1\0");
    for part in identity.iter().chain(std::iter::once(&path)) {
        msg.extend_from_slice(part.as_bytes());
        msg.push(0);
    }
    msg.extend_from_slice(&raw);
    Value::String(key.digest(&msg))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn data_and_string_data_spellings_digest_alike() {
        let key = SecretKey::from_user(b"0123456789abcdef0123").unwrap();
        let mut a = json!({"data": {"p": "aHVudGVyMg=="}});
        let mut b = json!({"stringData": {"p": "hunter2"}});
        digest_secret(&mut a, &key);
        digest_secret(&mut b, &key);
        assert_eq!(a["data"]["p"], b["stringData"]["p"]);
        assert!(a["data"]["p"].as_str().unwrap().starts_with(DIGEST_PREFIX));
        assert!(!a.to_string().contains("hunter2") && !a.to_string().contains("aHVudGVyMg"));
    }

    #[test]
    fn last_applied_annotation_of_a_secret_is_digested() {
        let key = SecretKey::random();
        let mut s = json!({"metadata": {"annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{\"data\":{\"p\":\"aHVudGVyMg==\"}}", "other": "kept"}}});
        digest_secret(&mut s, &key);
        assert!(!s.to_string().contains("aHVudGVyMg=="));
        assert_eq!(s["metadata"]["annotations"]["other"], "kept");
    }

    #[test]
    fn keys_decide_comparability() {
        let k1 = SecretKey::from_user(b"0123456789abcdef").unwrap();
        let k2 = SecretKey::from_user(b"fedcba9876543210").unwrap();
        assert!(comparable(&k1.archive_info(), &k1.archive_info()).is_none());
        assert!(comparable(&k1.archive_info(), &k2.archive_info()).is_some());
        assert!(comparable(&KeyInfo::Unkeyed, &k1.archive_info()).is_some());
        let r = SecretKey::random();
        assert!(comparable(&r.run_info(), &r.run_info()).is_none());
        assert_eq!(r.archive_info(), KeyInfo::Unkeyed);
        assert!(SecretKey::from_user(b"short").is_err());
        assert!(!format!("{k1:?}").contains("0123"));
    }

    #[test]
    fn every_secret_annotation_but_the_allow_list_is_digested() {
        let key = SecretKey::random();
        let mut s = json!({
            "metadata": {"name": "db", "namespace": "shop", "labels": {"app": "db"}, "annotations": {
                "kapp.k14s.io/original": "{\"data\":{\"password\":\"Y2FuYXJ5\"}}",
                "kubectl.kubernetes.io/last-applied-configuration": "{\"stringData\":{\"p\":\"canary\"}}",
                "example.com/token": "canary-token",
                "kubernetes.io/service-account.name": "builder"
            }, "surprise": "canary-meta"},
            "type": "Opaque",
            "extra": {"password": "canary-extra"}
        });
        digest_secret_metadata(&mut s, &key);
        let text = s.to_string();
        for canary in ["Y2FuYXJ5", "canary"] {
            assert!(!text.contains(canary), "{canary} leaked: {text}");
        }
        assert_eq!(s["metadata"]["annotations"]["kubernetes.io/service-account.name"], "builder");
        assert_eq!(s["metadata"]["labels"]["app"], "db");
        assert_eq!(s["type"], "Opaque");
        for p in ["/metadata/annotations/example.com~1token", "/metadata/surprise", "/extra"] {
            assert!(s.pointer(p).and_then(Value::as_str).unwrap().starts_with(DIGEST_PREFIX), "{p}");
        }
    }

    #[test]
    fn annotation_digests_are_bound_to_the_secret_and_stable_across_clusters() {
        let key = SecretKey::from_user(b"0123456789abcdef0123456789abcdef").unwrap();
        let secret = |ns: &str, name: &str| {
            let mut s = json!({"metadata": {"name": name, "namespace": ns, "annotations": {"a": "same"}}});
            digest_secret_metadata(&mut s, &key);
            s["metadata"]["annotations"]["a"].clone()
        };
        assert_eq!(secret("shop", "db"), secret("shop", "db"));
        assert_ne!(secret("shop", "db"), secret("shop", "cache"));
        assert_ne!(secret("shop", "db"), secret("web", "db"));
    }

    #[test]
    fn report_hides_every_secret_value_and_annotation_path() {
        let p = |s: &str| s.split('/').skip(1).map(str::to_string).collect::<Vec<_>>();
        for hidden in
            ["/data/x", "/stringData/x", "/metadata/annotations/a", "/metadata/annotations", "/extra", "/metadata/odd"]
        {
            assert!(secret_path_is_hidden(&p(hidden)), "{hidden}");
        }
        for shown in ["/type", "/immutable", "/metadata/labels/app", "/metadata/name"] {
            assert!(!secret_path_is_hidden(&p(shown)), "{shown}");
        }
        let sa: Vec<String> =
            ["metadata", "annotations", "kubernetes.io/service-account.name"].map(String::from).to_vec();
        assert!(!secret_path_is_digested(&sa));
        assert!(secret_path_is_hidden(&sa));
    }
}
