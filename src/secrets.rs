//! Secret values never leave the process in clear: the first stage that sees a Secret replaces
//! each value with a keyed digest (HMAC-SHA256). Equal values under the same key give equal
//! digests, which is all a comparison needs; without the key a digest reveals nothing usable.
//!
//! The user's key is never used directly. Each use gets its own key, derived with HKDF-SHA256
//! (RFC 5869) under a distinct label: value digests, the archive seal and the published
//! fingerprint. So no output of one use (a digest printed into an archive) can ever be the key
//! of another (the seal), whatever value a tenant stores in a Secret. A value digest is also
//! bound to the Secret and data key it belongs to — (namespace, name, data key), not the uid —
//! so the same password in two Secrets gives two unrelated digests, while the same Secret on
//! two clusters still compares equal.
//!
//! Archives of format 1 used the older scheme (see `legacy_*`): kept only to read them.

use base64::Engine as _;
use hkdf::Hkdf;
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::{Digest, Sha256};

type HmacSha256 = Hmac<Sha256>;

/// Prefix of every digest, so a digested value is recognizable in an archive.
pub const DIGEST_PREFIX: &str = "hmac-sha256:";

/// The shortest user key accepted, in bytes (after trimming surrounding whitespace).
pub const MIN_KEY_BYTES: usize = 32;

/// HKDF salt: names the scheme, so keys derived here never collide with another tool's.
const HKDF_SALT: &[u8] = b"kparity secret-key scheme v2";
/// HKDF labels (the `info` input), one per use of the key. Never reuse one for another use.
pub const LABEL_VALUE_DIGEST: &str = "kparity v2 secret-value digest";
pub const LABEL_SEAL: &str = "kparity v2 archive seal";
pub const LABEL_FINGERPRINT: &str = "kparity v2 key fingerprint";
/// Prefix of a scheme-2 fingerprint (format 1 archives carry `sha256:` fingerprints).
pub const FINGERPRINT_PREFIX: &str = "v2:";
/// Data key under which the last-applied-configuration annotation of a Secret is digested.
pub const LAST_APPLIED_DATA_KEY: &str = "metadata.annotations/kubectl.kubernetes.io/last-applied-configuration";

/// Which Secret a value belongs to. Digests are bound to it (and to the data key).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SecretRef<'a> {
    /// `""` for a cluster-scoped object (Secrets are namespaced, but digests of other kinds'
    /// fields may use this too).
    pub namespace: &'a str,
    pub name: &'a str,
}

impl<'a> SecretRef<'a> {
    /// The Secret an object (as read from the API) is.
    pub fn of(obj: &'a Value) -> SecretRef<'a> {
        let s = |k: &str| obj.pointer(&format!("/metadata/{k}")).and_then(Value::as_str).unwrap_or("");
        SecretRef { namespace: s("namespace"), name: s("name") }
    }
}

/// The key secret values are digested under: the keys derived from it, never the material.
#[derive(Clone)]
pub struct SecretKey {
    value_key: [u8; 32],
    seal_key: [u8; 32],
    fingerprint_v2: String,
    /// The trimmed material, kept only to verify format 1 archives (sealed under the raw key).
    legacy_material: Vec<u8>,
    /// True for a user-supplied key (recorded in snapshots, comparable across runs); false for
    /// a throwaway random key whose digests can be compared within this run only.
    user: bool,
}

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print key material.
        write!(f, "SecretKey {{ fingerprint: {:?}, user: {} }}", self.fingerprint_v2, self.user)
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

/// Why a user key is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WeakKey {
    #[error("the secret key is {len} bytes long; at least {MIN_KEY_BYTES} bytes of random data are required")]
    TooShort { len: usize },
    #[error("the secret key uses only {distinct} distinct byte values: it is a pattern, not random data")]
    Pattern { distinct: usize },
}

impl WeakKey {
    /// What the user can do about it.
    pub fn hint(&self) -> &'static str {
        "`kparity keygen -o FILE` writes a random key (mode 0600); pass it with --secret-key-file FILE or \
         KPARITY_SECRET_KEY"
    }
}

impl SecretKey {
    /// A user-supplied key (from `KPARITY_SECRET_KEY` or `--secret-key-file`). Surrounding
    /// whitespace (a trailing newline) is not part of the key. Short or patterned keys are
    /// refused: digests of guessable values (an empty string, "true") under a guessable key
    /// would reveal the key, and with it every other value.
    pub fn from_user(material: &[u8]) -> Result<Self, WeakKey> {
        let trimmed = trim_ascii(material);
        if trimmed.len() < MIN_KEY_BYTES {
            return Err(WeakKey::TooShort { len: trimmed.len() });
        }
        let mut seen = [false; 256];
        trimmed.iter().for_each(|b| seen[usize::from(*b)] = true);
        let distinct = seen.iter().filter(|s| **s).count();
        if distinct < 8 {
            return Err(WeakKey::Pattern { distinct });
        }
        Ok(Self::derive(trimmed, true))
    }

    /// A random key for this run only.
    pub fn random() -> Self {
        let bytes: [u8; 32] = rand::random();
        Self::derive(&bytes, false)
    }

    fn derive(material: &[u8], user: bool) -> Self {
        let hk = Hkdf::<Sha256>::new(Some(HKDF_SALT), material);
        let expand = |label: &str| {
            let mut okm = [0u8; 32];
            // 32 bytes is far below HKDF-SHA256's limit of 255 * 32: expand cannot fail.
            hk.expand(label.as_bytes(), &mut okm).unwrap_or_else(|_| unreachable!("32 bytes is a valid HKDF length"));
            okm
        };
        let fp = expand(LABEL_FINGERPRINT);
        SecretKey {
            value_key: expand(LABEL_VALUE_DIGEST),
            seal_key: expand(LABEL_SEAL),
            // Truncated to 64 bits: enough to tell keys apart, and an HKDF output, so it says
            // nothing about the key beyond what a confirmed guess would.
            fingerprint_v2: format!("{FINGERPRINT_PREFIX}{}", hex::encode(&fp[..8])),
            legacy_material: material.to_vec(),
            user,
        }
    }

    /// True for a key the user supplied (as opposed to this run's random key).
    pub fn is_user(&self) -> bool {
        self.user
    }

    /// The key's published fingerprint (scheme 2), as recorded in archive headers.
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint_v2
    }

    /// The fingerprint a format 1 archive recorded for this key.
    pub fn legacy_fingerprint(&self) -> String {
        legacy_fingerprint(&self.legacy_material)
    }

    /// The key info of digests made under this key *within this run*: live sides of one run
    /// share the random key, so they are comparable with each other.
    pub fn run_info(&self) -> KeyInfo {
        if self.user {
            KeyInfo::Keyed { fingerprint: self.fingerprint_v2.clone() }
        } else {
            KeyInfo::Keyed { fingerprint: format!("run:{}", self.fingerprint_v2) }
        }
    }

    /// The key info recorded in an archive: a random key is gone once the run ends.
    pub fn archive_info(&self) -> KeyInfo {
        if self.user { KeyInfo::Keyed { fingerprint: self.fingerprint_v2.clone() } } else { KeyInfo::Unkeyed }
    }

    /// The HMAC sealing an archive (format 2), under the seal key derived for that use alone.
    pub fn seal_mac(&self) -> HmacSha256 {
        new_mac(&self.seal_key)
    }

    /// The HMAC that sealed a format 1 archive: under a key derived from the raw material with
    /// a plain HMAC — the scheme a Secret value equal to its label could reveal.
    pub fn legacy_seal_mac(&self) -> HmacSha256 {
        let mut derive = new_mac(&self.legacy_material);
        derive.update(b"kparity archive seal v1");
        new_mac(&derive.finalize().into_bytes())
    }

    /// The digest of one value of a Secret, bound to the Secret and the data key it is stored
    /// under. `data` and `stringData` spellings of one entry digest alike (pass the decoded
    /// bytes). Other fields of a Secret (annotations) pass their own data key, e.g.
    /// `metadata.annotations/NAME`, so they can never be confused with a `data` entry.
    pub fn value_digest(&self, object: &SecretRef<'_>, data_key: &str, value: &[u8]) -> String {
        let mut mac = new_mac(&self.value_key);
        // Length-prefixed fields: no two different (namespace, name, key, value) tuples feed the
        // MAC the same bytes.
        for part in [object.namespace.as_bytes(), object.name.as_bytes(), data_key.as_bytes()] {
            mac.update(&(part.len() as u64).to_be_bytes());
            mac.update(part);
        }
        mac.update(value);
        format!("{DIGEST_PREFIX}{}", hex::encode(mac.finalize().into_bytes()))
    }

    /// The derived seal key, for tests that prove no digest can ever equal it.
    #[cfg(test)]
    fn seal_key_bytes(&self) -> [u8; 32] {
        self.seal_key
    }
}

fn new_mac(key: &[u8]) -> HmacSha256 {
    // HMAC accepts keys of any length; new_from_slice cannot fail for it.
    HmacSha256::new_from_slice(key).unwrap_or_else(|_| unreachable!("HMAC takes any key length"))
}

fn trim_ascii(b: &[u8]) -> &[u8] {
    let start = b.iter().position(|c| !c.is_ascii_whitespace()).unwrap_or(b.len());
    let end = b.iter().rposition(|c| !c.is_ascii_whitespace()).map_or(start, |e| e + 1);
    &b[start..end]
}

/// The fingerprint format 1 archives recorded: SHA-256 over a tag and the raw key, truncated.
fn legacy_fingerprint(key: &[u8]) -> String {
    let mut h = Sha256::new();
    h.update(b"kparity secret-key fingerprint v1\0");
    h.update(key);
    format!("sha256:{}", &hex::encode(h.finalize())[..16])
}

/// Why digests of two sides cannot prove equality, or `None` when they can.
pub fn comparable(a: &KeyInfo, b: &KeyInfo) -> Option<String> {
    match (a, b) {
        (KeyInfo::Keyed { fingerprint: x }, KeyInfo::Keyed { fingerprint: y }) if x == y => None,
        (KeyInfo::Keyed { fingerprint: x }, KeyInfo::Keyed { fingerprint: y })
            if x.starts_with("sha256:") != y.starts_with("sha256:") =>
        {
            Some(format!(
                "secret values were digested under different schemes (old {x}, new {y}): a format 1 archive's digests \
                 are not bound to their Secret and use the raw key, so they cannot be compared with today's; \
                 pass --ignore-secret-values to compare Secrets without their values, or take a new snapshot"
            ))
        }
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
    // The object's identity, copied out before its fields are rewritten.
    let (namespace, name) = {
        let r = SecretRef::of(obj);
        (r.namespace.to_string(), r.name.to_string())
    };
    let object = SecretRef { namespace: &namespace, name: &name };
    if let Some(Value::Object(data)) = obj.get_mut("data") {
        for (k, v) in data.iter_mut() {
            if let Value::String(s) = v {
                let raw = engine.decode(s.as_bytes()).unwrap_or_else(|_| s.as_bytes().to_vec());
                *s = key.value_digest(&object, k, &raw);
            } else if !v.is_null() {
                *v = Value::String(key.value_digest(&object, k, v.to_string().as_bytes()));
            }
        }
    }
    if let Some(Value::Object(data)) = obj.get_mut("stringData") {
        for (k, v) in data.iter_mut() {
            let raw = match &*v {
                Value::String(s) => s.as_bytes().to_vec(),
                other => other.to_string().into_bytes(),
            };
            *v = Value::String(key.value_digest(&object, k, &raw));
        }
    }
    if let Some(Value::Object(ann)) = obj.pointer_mut("/metadata/annotations") {
        for (k, v) in ann.iter_mut() {
            if k == "kubectl.kubernetes.io/last-applied-configuration" {
                let raw = v.as_str().unwrap_or_default().as_bytes().to_vec();
                *v = Value::String(key.value_digest(&object, LAST_APPLIED_DATA_KEY, &raw));
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
    (
        "argocd.argoproj.io/tracking-id",
        "Argo CD's tracking id, APP:GROUP/KIND:NS/NAME (an Application's name and an object's identity); kept so the `argocd` profile can leave out the Application's name of a synced Secret's id",
    ),
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
        // `field` is a pointer (`/metadata/annotations/NAME`): a Secret's data keys cannot
        // contain `/`, so it never collides with a `data` entry's digest.
        Value::String(key.value_digest(&SecretRef { namespace: &ns, name: &name }, field, &raw))
    };
    redact_secret_metadata(obj, &mut |field, v| *v = bound(field, v));
}

/// Replaces what [`digest_secret_metadata`] would digest with `placeholder` (an archive taken
/// without a key records nothing of these values).
pub fn blank_secret_metadata(obj: &mut Value, placeholder: &str) {
    redact_secret_metadata(obj, &mut |_, v| *v = Value::String(placeholder.to_string()));
}

fn redact_secret_metadata(obj: &mut Value, f: &mut dyn FnMut(&str, &mut Value)) {
    let (ns, name) = object_name(obj);
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
                if !secret_annotation_is_safe(k) || !safe_value(k, v, &ns, &name) {
                    f(&format!("/metadata/annotations/{k}"), v);
                }
            }
        }
        // Not a map (an odd server): nothing in it can be trusted to be harmless.
        Some(other) if !other.is_null() => f("/metadata/annotations", other),
        _ => {}
    }
}

/// An allow-listed annotation whose value has a known shape is kept in clear only when the value
/// has it: Argo CD's tracking id only when it names this very Secret and its Application part is
/// an object name (`[a-z0-9._-]`, Argo CD's `NS_APP` included), so free text put under that name
/// is digested like any other annotation.
fn safe_value(annotation: &str, v: &Value, ns: &str, name: &str) -> bool {
    if annotation != ARGOCD_TRACKING_ID {
        return true;
    }
    let Some(s) = v.as_str() else { return false };
    let Some((app, rest)) = s.split_once(':') else { return false };
    let app_ok = !app.is_empty()
        && app.len() <= 253
        && app.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'-' | b'_'));
    app_ok && rest == format!("/{SECRET_KIND}:{ns}/{name}")
}

/// Argo CD's resource tracking annotation (`normalize::tracking_id`).
const ARGOCD_TRACKING_ID: &str = "argocd.argoproj.io/tracking-id";

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
pub fn digest_field(identity: &[&str; 4], path: &str, value: &Value, key: &SecretKey) -> Value {
    let raw = match value {
        Value::String(s) => s.as_bytes().to_vec(),
        other => other.to_string().into_bytes(),
    };
    // Bound like a Secret's values: (namespace, name) as the object, and the group, kind and
    // pointer as the data key (which, holding `/`, never collides with a Secret data key).
    let [group, kind, namespace, name] = identity;
    let data_key = format!("digest-rule:{group}/{kind}:{path}");
    Value::String(key.value_digest(&SecretRef { namespace, name }, &data_key, &raw))
}

/// 32 random bytes, hex-encoded (64 characters and a newline): what `kparity keygen` writes.
/// Text, so the same key works as a file and as `KPARITY_SECRET_KEY`.
pub fn generate_key_text() -> String {
    let bytes: [u8; 32] = rand::random();
    format!("{}\n", hex::encode(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const K1: &[u8] = b"0123456789abcdef0123456789abcdef-one";
    const K2: &[u8] = b"fedcba9876543210fedcba9876543210-two";

    fn secret(ns: &str, name: &str, data: Value) -> Value {
        json!({"metadata": {"namespace": ns, "name": name}, "data": data})
    }

    #[test]
    fn data_and_string_data_spellings_digest_alike() {
        let key = SecretKey::from_user(K1).unwrap();
        let mut a = json!({"metadata": {"namespace": "shop", "name": "db"}, "data": {"p": "aHVudGVyMg=="}});
        let mut b = json!({"metadata": {"namespace": "shop", "name": "db"}, "stringData": {"p": "hunter2"}});
        digest_secret(&mut a, &key);
        digest_secret(&mut b, &key);
        assert_eq!(a["data"]["p"], b["stringData"]["p"]);
        assert!(a["data"]["p"].as_str().unwrap().starts_with(DIGEST_PREFIX));
        assert!(!a.to_string().contains("hunter2") && !a.to_string().contains("aHVudGVyMg"));
    }

    #[test]
    fn digests_are_bound_to_the_secret_and_data_key() {
        let key = SecretKey::from_user(K1).unwrap();
        let d = |ns: &str, name: &str, k: &str| {
            let mut s = secret(ns, name, json!({ k: "aHVudGVyMg==" }));
            digest_secret(&mut s, &key);
            s["data"][k].as_str().unwrap().to_string()
        };
        let base = d("shop", "db", "password");
        // The same password in another Secret, namespace or data key: unrelated digests.
        assert_ne!(base, d("shop", "cache", "password"));
        assert_ne!(base, d("payments", "db", "password"));
        assert_ne!(base, d("shop", "db", "token"));
        // Length prefixes: moving bytes between fields changes the digest.
        assert_ne!(d("shop", "dbx", "y"), d("shop", "db", "xy"));
        // The same Secret read again (on another cluster: another uid) compares equal.
        let mut other_cluster = secret("shop", "db", json!({"password": "aHVudGVyMg=="}));
        other_cluster["metadata"]["uid"] = json!("b7e1-other-cluster");
        digest_secret(&mut other_cluster, &key);
        assert_eq!(other_cluster["data"]["password"], base);
    }

    /// The attack format 1 allowed: a tenant stores the seal-derivation label as a Secret value;
    /// its digest, printed into every keyed archive, was the seal key. No label, old or new,
    /// stored under any name, may digest to a key of another use.
    #[test]
    fn no_secret_value_digests_to_the_seal_key() {
        let key = SecretKey::from_user(K1).unwrap();
        let seal = hex::encode(key.seal_key_bytes());
        let legacy_seal = {
            let mut derive = new_mac(&key.legacy_material);
            derive.update(b"kparity archive seal v1");
            hex::encode(derive.finalize().into_bytes())
        };
        for label in [LABEL_SEAL, LABEL_VALUE_DIGEST, LABEL_FINGERPRINT, "kparity archive seal v1", ""] {
            for (ns, name, k) in [("tenant", "x", "v"), ("", "", ""), ("a", "b", "c")] {
                let digest = key.value_digest(&SecretRef { namespace: ns, name }, k, label.as_bytes());
                let hex = digest.trim_start_matches(DIGEST_PREFIX);
                assert_ne!(hex, seal, "{label:?} digested to the seal key");
                assert_ne!(hex, legacy_seal, "{label:?} digested to the legacy seal key");
                assert!(!key.fingerprint().contains(&hex[..16]));
            }
        }
    }

    #[test]
    fn derived_keys_are_distinct_and_not_the_material() {
        let key = SecretKey::from_user(K1).unwrap();
        assert_ne!(key.value_key, key.seal_key);
        assert!(!key.fingerprint().contains(&hex::encode(&key.seal_key[..8])));
        assert!(!key.fingerprint().contains(&hex::encode(&key.value_key[..8])));
        assert!(key.fingerprint().starts_with(FINGERPRINT_PREFIX) && key.fingerprint().len() == 3 + 16);
        // Surrounding whitespace (a trailing newline in a key file) is not part of the key.
        let with_newline = [K1, b"\n"].concat();
        assert_eq!(SecretKey::from_user(&with_newline).unwrap().fingerprint(), key.fingerprint());
    }

    #[test]
    fn weak_keys_are_refused() {
        assert_eq!(SecretKey::from_user(b"short").unwrap_err(), WeakKey::TooShort { len: 5 });
        assert_eq!(SecretKey::from_user(&[b'a'; 31]).unwrap_err(), WeakKey::TooShort { len: 31 });
        assert!(matches!(SecretKey::from_user(&[b'a'; 64]), Err(WeakKey::Pattern { distinct: 1 })));
        assert!(matches!(SecretKey::from_user(b"abababababababababababababababab"), Err(WeakKey::Pattern { .. })));
        assert!(SecretKey::from_user(generate_key_text().as_bytes()).is_ok());
        let text = generate_key_text();
        assert_eq!(text.len(), 65);
        assert_ne!(text, generate_key_text());
    }

    #[test]
    fn last_applied_annotation_of_a_secret_is_digested() {
        let key = SecretKey::random();
        let mut s = json!({"metadata": {"name": "db", "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{\"data\":{\"p\":\"aHVudGVyMg==\"}}", "other": "kept"}}});
        digest_secret(&mut s, &key);
        assert!(!s.to_string().contains("aHVudGVyMg=="));
        assert_eq!(s["metadata"]["annotations"]["other"], "kept");
    }

    #[test]
    fn keys_decide_comparability() {
        let k1 = SecretKey::from_user(K1).unwrap();
        let k2 = SecretKey::from_user(K2).unwrap();
        assert!(comparable(&k1.archive_info(), &k1.archive_info()).is_none());
        assert!(comparable(&k1.archive_info(), &k2.archive_info()).is_some());
        assert!(comparable(&KeyInfo::Unkeyed, &k1.archive_info()).is_some());
        let legacy = KeyInfo::Keyed { fingerprint: k1.legacy_fingerprint() };
        let why = comparable(&legacy, &k1.archive_info()).unwrap();
        assert!(why.contains("different schemes"), "{why}");
        let r = SecretKey::random();
        assert!(comparable(&r.run_info(), &r.run_info()).is_none());
        assert_eq!(r.archive_info(), KeyInfo::Unkeyed);
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
    fn argocd_tracking_id_is_clear_only_when_it_names_the_secret_itself() {
        let key = SecretKey::from_user(K1).unwrap();
        let with = |id: &str| {
            let mut s = json!({"metadata": {"namespace": "shop", "name": "db",
                "annotations": {"argocd.argoproj.io/tracking-id": id}}, "data": {}});
            digest_secret_metadata(&mut s, &key);
            s["metadata"]["annotations"]["argocd.argoproj.io/tracking-id"].as_str().unwrap().to_string()
        };
        // Argo CD's own id for this Secret: an Application name and the Secret's identity.
        assert_eq!(with("guestbook-blue:/Secret:shop/db"), "guestbook-blue:/Secret:shop/db");
        assert_eq!(with("argocd_guestbook:/Secret:shop/db"), "argocd_guestbook:/Secret:shop/db");
        // Free text under that name, an id naming another object, or a password-like app part:
        // digested like any other annotation.
        for hostile in [
            "hunter2",
            "app:/Secret:shop/other",
            "app:apps/Deployment:shop/db",
            "Hunter2!:/Secret:shop/db",
            "a b:/Secret:shop/db",
            ":/Secret:shop/db",
        ] {
            let out = with(hostile);
            assert!(out.starts_with(DIGEST_PREFIX), "{hostile:?} kept in clear: {out}");
            assert!(!out.contains(hostile), "{hostile:?}");
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

    #[test]
    fn legacy_fingerprint_is_format_1s() {
        // The value the example archives (format 1) recorded for their demo key: unchanged, so
        // old archives still match the key that wrote them.
        let k = SecretKey::from_user(b"kparity-example-demo-key-do-not-use").unwrap();
        assert_eq!(k.legacy_fingerprint(), "sha256:ed578d75778cfd4d");
        assert_ne!(k.fingerprint(), k.legacy_fingerprint());
    }
}
