//! The archive format, version 2: one zstd stream (with frame checksum) of JSON lines.
//!
//! ```text
//! {"kparity.snapshot": HEADER}            format version, tool, context, server, version, time,
//!                                         served API resources, filters, secret-key fingerprint
//! {"kparity.semantics": SCHEMAS}          optional, right after the header: the field semantics
//!                                         of the types read (list types and keys, maps,
//!                                         quantities), from the server's OpenAPI v3, so an
//!                                         archive diffs offline exactly as live. Absent in
//!                                         archives of older kparity: their types compare
//!                                         conservatively (order kept, index matching)
//! {"kparity.type": TYPE}                  a resource type, types in sorted order, each once;
//! OBJECT                                  its objects follow, one per line, sorted by (namespace,
//! ...                                     name), each key once: the object as read (managedFields
//!                                         removed, secret values digested), canonical JSON
//! {"kparity.manifest": [ENTRY, ...]}      every object's key and the SHA-256 of its line, in file
//! ...                                     order, in chunks of at most 1000 entries
//! {"kparity.trailer": TRAILER}            per-type completeness and object counts, excluded types,
//!                                         the total object count
//! {"kparity.seal": {"sha256": H, "hmac_sha256": M}}
//!                                         H = SHA-256 of every byte before this line; M = HMAC-SHA256
//!                                         of the same bytes under the seal key (HKDF-derived from the
//!                                         user's key), present when the archive was taken with a key
//! ```
//! An archive may also be signed: `ARCHIVE.sig` beside it, an SSH signature (SSHSIG, namespace
//! `kparity-archive`) over the archive file's exact bytes, which `ssh-keygen -Y verify` checks.
//!
//! Version 1 (still read): the manifest is inside the trailer, objects are in list order, secret
//! digests are HMACs under the raw key and not bound to their Secret, the fingerprint is a
//! truncated SHA-256 of the key (`sha256:...`), and the seal key is derived with a plain HMAC.
//!
//! Every line is bounded (`ReadLimits`), so no line of a hostile archive can exhaust memory.
//! New optional fields are added with `#[serde(default)]` so older archives still parse.
//! `zstdcat FILE` shows it as plain NDJSON: an auditor needs nothing but standard tools.

use serde::{Deserialize, Serialize};

use crate::model::ApiType;

pub const FORMAT_NAME: &str = "kparity-snapshot";
pub const FORMAT_VERSION: u32 = 2;
/// The oldest format version still read (and verified, reported as its older scheme).
pub const OLDEST_READABLE_VERSION: u32 = 1;
/// Manifest entries per `kparity.manifest` line (format 2).
pub const MANIFEST_CHUNK: usize = 1000;
/// The SSH signature namespace of archive signatures (`ssh-keygen -Y ... -n kparity-archive`).
pub const SIGNATURE_NAMESPACE: &str = "kparity-archive";

pub const HEADER_KEY: &str = "kparity.snapshot";
pub const TYPE_KEY: &str = "kparity.type";
/// The line after the header recording `schema::SchemaRecord` (optional).
pub const SEMANTICS_KEY: &str = "kparity.semantics";
pub const TRAILER_KEY: &str = "kparity.trailer";
pub const SEAL_KEY: &str = "kparity.seal";
pub const MANIFEST_KEY: &str = "kparity.manifest";

/// Placeholder for secret values of a snapshot taken without a key: nothing about the value is
/// recorded, so two such snapshots of the same cluster stay identical.
pub const UNKEYED_SECRET_VALUE: &str = "(not recorded: snapshot taken without a secret key)";

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Header {
    pub format: String,
    pub version: u32,
    pub tool_version: String,
    pub context: String,
    pub server: String,
    pub kubernetes_version: Option<String>,
    /// RFC 3339.
    pub captured_at: String,
    /// Fingerprint of the key secret values were digested under; `None` when no key was given.
    pub secret_key_fingerprint: Option<String>,
    pub filters: FiltersRecord,
    /// Every listable type served (all versions), for API differences.
    pub api_resources: Vec<TypeRecord>,
    /// Rules are applied when the archive is diffed, so newer rules apply to older archives.
    pub normalization: String,
    /// The users' `digest` rules applied at capture: the fields they designate hold keyed
    /// digests, not values. Absent when none applied.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub redactions: Vec<RedactionRecord>,
}

/// A `digest` rule applied at capture, as recorded in an archive header.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RedactionRecord {
    /// The rule's name.
    pub rule: String,
    /// The rules file it came from.
    pub origin: String,
    /// What it matches, as `kparity rules` prints it (YAML).
    pub rule_text: String,
    /// The JSON pointers it digests.
    pub digest: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct FiltersRecord {
    pub namespaces: Vec<String>,
    pub exclude_namespaces: Vec<String>,
    pub kinds: Vec<String>,
    pub exclude_kinds: Vec<String>,
    pub selector: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, PartialOrd, Ord)]
#[serde(deny_unknown_fields)]
pub struct TypeRecord {
    pub group: String,
    pub version: String,
    pub resource: String,
    pub kind: String,
    pub namespaced: bool,
}

impl From<&ApiType> for TypeRecord {
    fn from(t: &ApiType) -> Self {
        TypeRecord {
            group: t.group.clone(),
            version: t.version.clone(),
            resource: t.resource.clone(),
            kind: t.kind.clone(),
            namespaced: t.namespaced,
        }
    }
}

impl From<&TypeRecord> for ApiType {
    fn from(t: &TypeRecord) -> Self {
        ApiType {
            group: t.group.clone(),
            version: t.version.clone(),
            resource: t.resource.clone(),
            kind: t.kind.clone(),
            namespaced: t.namespaced,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Trailer {
    pub types: Vec<TypeStatus>,
    /// Group-versions whose discovery failed: their types are unknown, and unread.
    pub incomplete_groups: Vec<IncompleteGroup>,
    pub excluded: Vec<ExcludedRecord>,
    pub object_count: u64,
    /// Format 1: one entry per object line, in file order. Format 2 writes the manifest in
    /// `kparity.manifest` lines instead (each line stays small); the reader fills this in.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub manifest: Vec<ManifestEntry>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TypeStatus {
    #[serde(flatten)]
    pub ty: TypeRecord,
    pub count: u64,
    /// `None` when complete; otherwise why not.
    pub incomplete: Option<IncompleteRecord>,
    /// The resourceVersion the type was listed at, when read as one list (archives of kparity
    /// before 0.2 hold none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_version: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct IncompleteRecord {
    pub reason: String,
    pub message: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct IncompleteGroup {
    pub group: String,
    pub version: String,
    pub reason: String,
    pub message: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ExcludedRecord {
    pub group: String,
    pub kind: String,
    pub by: String,
}

/// `[group, kind, namespace, name, sha256]`: compact, since there is one per object.
/// Hashes are lowercase hex of SHA-256 over the object's line including its newline.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ManifestEntry(pub String, pub String, pub Option<String>, pub String, pub String);

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Seal {
    /// SHA-256 of every byte before the seal line.
    pub sha256: String,
    /// HMAC-SHA256 of the same bytes under the secret key, when one was given: proves the
    /// archive unmodified to key holders even against someone who recomputes every hash.
    pub hmac_sha256: Option<String>,
}
