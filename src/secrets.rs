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
}
