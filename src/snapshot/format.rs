//! The archive format, version 1: one zstd stream (with frame checksum) of JSON lines.
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
//! {"kparity.type": TYPE}                  a resource type; its objects follow, one per line
//! OBJECT                                  the object as read (managedFields removed, secret values
//! ...                                     digested), canonical JSON (sorted keys)
//! {"kparity.trailer": TRAILER}            per-type completeness, excluded types, and the manifest:
//!                                         every object's key and the SHA-256 of its line
//! {"kparity.seal": {"sha256": H, ...}}    H = SHA-256 of every byte before this line
//! ```
//! `zstdcat FILE` shows it as plain NDJSON: an auditor needs nothing but standard tools.

use serde::{Deserialize, Serialize};

use crate::model::ApiType;

pub const FORMAT_NAME: &str = "kparity-snapshot";
pub const FORMAT_VERSION: u32 = 1;

pub const HEADER_KEY: &str = "kparity.snapshot";
pub const TYPE_KEY: &str = "kparity.type";
/// The line after the header recording `schema::SchemaRecord` (optional).
pub const SEMANTICS_KEY: &str = "kparity.semantics";
pub const TRAILER_KEY: &str = "kparity.trailer";
pub const SEAL_KEY: &str = "kparity.seal";

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
    /// One entry per object line, in file order.
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
