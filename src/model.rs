//! The vocabulary shared by every stage: object identity, resource types, sides, and the
//! completeness of a read. Kept free of I/O so every later stage is testable with plain values.

use std::fmt;
use std::sync::Arc;

/// Which of the two compared sources something belongs to. `Old` is the reference (Blue, the
/// archive); `New` is the candidate (Green). Named once here and used everywhere.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Side {
    Old,
    New,
}

impl Side {
    pub fn as_str(self) -> &'static str {
        match self {
            Side::Old => "old",
            Side::New => "new",
        }
    }
}

impl fmt::Display for Side {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Identity of an object across clusters: (API group, kind, namespace, name).
///
/// The API *version* is deliberately absent: the same Deployment served as `apps/v1` on both sides
/// is one object whatever version a client asked for, and an upgrade that moves the preferred
/// version must not turn every object into "removed + added".
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ObjectKey {
    pub group: String,
    pub kind: String,
    pub namespace: Option<String>,
    pub name: String,
}

impl ObjectKey {
    /// The kind with its group, as kubectl spells it: `Deployment.apps`, `ConfigMap` for core.
    pub fn group_kind(&self) -> GroupKind {
        GroupKind { group: self.group.clone(), kind: self.kind.clone() }
    }
}

impl fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", GroupKind { group: self.group.clone(), kind: self.kind.clone() })?;
        match &self.namespace {
            Some(ns) => write!(f, " {ns}/{}", self.name),
            None => write!(f, " {}", self.name),
        }
    }
}

/// A kind qualified by its group; ordering groups core first, then by group name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct GroupKind {
    pub group: String,
    pub kind: String,
}

impl fmt::Display for GroupKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.group.is_empty() { f.write_str(&self.kind) } else { write!(f, "{}.{}", self.kind, self.group) }
    }
}

/// A resource qualified by its group, whatever version it is served in (`deployments.apps`):
/// what stays the same across versions, so plans and archives key types by it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct GroupResource {
    pub group: String,
    pub resource: String,
}

impl fmt::Display for GroupResource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.group.is_empty() { f.write_str(&self.resource) } else { write!(f, "{}.{}", self.resource, self.group) }
    }
}

/// A group and one of its versions (`apps`, `v1`), as discovery serves them.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct GroupVersion {
    pub group: String,
    pub version: String,
}

/// A listable resource type as discovery reports it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ApiType {
    pub group: String,
    pub version: String,
    /// The plural resource name used in URLs (`deployments`).
    pub resource: String,
    pub kind: String,
    pub namespaced: bool,
}

impl ApiType {
    /// True for the core `secrets` resource. Decided by the resource, which is what the URL reads,
    /// not only by the kind discovery reports: an odd or hostile server could report another kind
    /// for `/api/v1/secrets`, and everything read from there must still be treated as a Secret.
    /// A core type reporting kind `Secret` under another resource name is treated as one too
    /// (failing safe: its values are digested).
    pub fn is_secret(&self) -> bool {
        self.group.is_empty() && (self.resource == "secrets" || self.kind == "Secret")
    }

    pub fn group_kind(&self) -> GroupKind {
        GroupKind { group: self.group.clone(), kind: self.kind.clone() }
    }

    pub fn group_resource(&self) -> GroupResource {
        GroupResource { group: self.group.clone(), resource: self.resource.clone() }
    }

    pub fn group_version(&self) -> GroupVersion {
        GroupVersion { group: self.group.clone(), version: self.version.clone() }
    }

    /// `apps/v1`, or `v1` for the core group.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() { self.version.clone() } else { format!("{}/{}", self.group, self.version) }
    }

    /// URL path of the collection, optionally inside one namespace.
    pub fn list_path(&self, namespace: Option<&str>) -> String {
        let base = if self.group.is_empty() {
            format!("/api/{}", self.version)
        } else {
            format!("/apis/{}/{}", self.group, self.version)
        };
        match namespace {
            Some(ns) if self.namespaced => format!("{base}/namespaces/{ns}/{}", self.resource),
            _ => format!("{base}/{}", self.resource),
        }
    }
}

impl fmt::Display for ApiType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.api_version(), self.resource)
    }
}

/// A group-version that could not be read at all, or a single resource type within it.
/// `resource` is `None` when discovery of the whole group-version failed, so its resources are
/// not even known; the gate must still count it as unread.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TypeRef {
    pub group: String,
    pub version: String,
    pub resource: Option<String>,
    pub kind: Option<String>,
}

impl From<&ApiType> for TypeRef {
    fn from(t: &ApiType) -> Self {
        TypeRef {
            group: t.group.clone(),
            version: t.version.clone(),
            resource: Some(t.resource.clone()),
            kind: Some(t.kind.clone()),
        }
    }
}

impl fmt::Display for TypeRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let gv = if self.group.is_empty() { self.version.clone() } else { format!("{}/{}", self.group, self.version) };
        match &self.resource {
            Some(r) => write!(f, "{gv} {r}"),
            None => write!(f, "{gv} (whole group-version)"),
        }
    }
}

/// Why a type could not be read completely. Each reason is specific so a user can act on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IncompleteReason {
    /// 403: the credentials may not list this type.
    Forbidden(String),
    /// 401 even after refreshing credentials.
    Unauthorized(String),
    /// Discovery or list answered 503, or aggregated discovery marked the group `Stale`:
    /// typically an aggregated API whose backend is down.
    Unavailable(String),
    /// The per-type deadline passed before the last page was read.
    Timeout(std::time::Duration),
    /// `410 Gone` on a continue token, on every one of the allowed relists.
    Gone { relists: u32 },
    /// 429 kept coming after the allowed attempts.
    Throttled(String),
    /// 5xx after retries.
    ServerError { status: u16, message: String },
    /// Connection reset, refused, truncated body... after retries.
    Transport(String),
    /// The server answered something that is not a Kubernetes list.
    Decode(String),
    /// The type disappeared (404) while it was being read, e.g. a CRD deleted mid-run.
    NotFound(String),
    /// The read contradicts itself, e.g. the same object key came back twice.
    Inconsistent(String),
    /// Recorded as incomplete in a snapshot archive, under the code (`forbidden`, `timeout`...)
    /// and message the capturing run wrote: the code round-trips, so a JSON report or an alert
    /// on an archive diff says `forbidden` as the live diff did.
    Archived { code: String, message: String },
    /// The archive itself lacks something (a served type it holds no record of, filters wider
    /// than at capture): there was no read to recall.
    Recorded(String),
}

/// Every code [`IncompleteReason::code`] gives for a read of this version.
pub const READ_REASON_CODES: &[&str] = &[
    "forbidden",
    "unauthorized",
    "unavailable",
    "timeout",
    "gone",
    "throttled",
    "server_error",
    "transport",
    "decode",
    "not_found",
    "inconsistent",
];

impl fmt::Display for IncompleteReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IncompleteReason::Forbidden(m) => write!(f, "forbidden: {m}"),
            IncompleteReason::Unauthorized(m) => write!(f, "unauthorized: {m}"),
            IncompleteReason::Unavailable(m) => write!(f, "unavailable: {m}"),
            IncompleteReason::Timeout(d) => write!(f, "timeout: not read completely within {}s", d.as_secs()),
            IncompleteReason::Gone { relists } => {
                write!(f, "gone: continue token expired (410) on {relists} consecutive relists")
            }
            IncompleteReason::Throttled(m) => write!(f, "throttled: {m}"),
            IncompleteReason::ServerError { status, message } => write!(f, "server error {status}: {message}"),
            IncompleteReason::Transport(m) => write!(f, "transport error: {m}"),
            IncompleteReason::Decode(m) => write!(f, "undecodable response: {m}"),
            IncompleteReason::NotFound(m) => write!(f, "not found: {m}"),
            IncompleteReason::Inconsistent(m) => write!(f, "inconsistent read: {m}"),
            IncompleteReason::Archived { code, message } => write!(f, "recorded in the archive as {code}: {message}"),
            IncompleteReason::Recorded(m) => f.write_str(m),
        }
    }
}

impl IncompleteReason {
    /// A short machine-friendly category for JSON and metrics.
    pub fn code(&self) -> &'static str {
        match self {
            IncompleteReason::Forbidden(_) => "forbidden",
            IncompleteReason::Unauthorized(_) => "unauthorized",
            IncompleteReason::Unavailable(_) => "unavailable",
            IncompleteReason::Timeout(_) => "timeout",
            IncompleteReason::Gone { .. } => "gone",
            IncompleteReason::Throttled(_) => "throttled",
            IncompleteReason::ServerError { .. } => "server_error",
            IncompleteReason::Transport(_) => "transport",
            IncompleteReason::Decode(_) => "decode",
            IncompleteReason::NotFound(_) => "not_found",
            IncompleteReason::Inconsistent(_) => "inconsistent",
            // A code this version does not know (a newer kparity's, or an edited archive) is
            // not passed on as if it were one of ours.
            IncompleteReason::Archived { code, .. } => {
                READ_REASON_CODES.iter().copied().find(|c| c == code).unwrap_or("recorded")
            }
            IncompleteReason::Recorded(_) => "recorded",
        }
    }
}

/// A type that was not (completely) read on one side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Incomplete {
    pub type_ref: TypeRef,
    pub reason: IncompleteReason,
}

/// A type left out on purpose, with the rule or flag responsible.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Excluded {
    pub group_kind: GroupKind,
    pub by: String,
}

/// Shared handle to a type; types are referenced from every object read.
pub type TypeHandle = Arc<ApiType>;

#[cfg(test)]
mod tests {
    use super::*;

    fn ty(group: &str, resource: &str, namespaced: bool) -> ApiType {
        ApiType { group: group.into(), version: "v1".into(), resource: resource.into(), kind: "K".into(), namespaced }
    }

    #[test]
    fn list_paths_follow_the_api_layout() {
        assert_eq!(ty("", "pods", true).list_path(None), "/api/v1/pods");
        assert_eq!(ty("", "pods", true).list_path(Some("a")), "/api/v1/namespaces/a/pods");
        assert_eq!(ty("apps", "deployments", true).list_path(Some("a")), "/apis/apps/v1/namespaces/a/deployments");
        // A namespace filter does not apply to a cluster-scoped type.
        assert_eq!(
            ty("rbac.authorization.k8s.io", "clusterroles", false).list_path(Some("a")),
            "/apis/rbac.authorization.k8s.io/v1/clusterroles"
        );
    }

    #[test]
    fn an_archived_reason_keeps_its_code_and_an_unknown_code_is_not_passed_on() {
        let read = [
            IncompleteReason::Forbidden("m".into()),
            IncompleteReason::Unauthorized("m".into()),
            IncompleteReason::Unavailable("m".into()),
            IncompleteReason::Timeout(std::time::Duration::from_secs(3)),
            IncompleteReason::Gone { relists: 2 },
            IncompleteReason::Throttled("m".into()),
            IncompleteReason::ServerError { status: 500, message: "m".into() },
            IncompleteReason::Transport("m".into()),
            IncompleteReason::Decode("m".into()),
            IncompleteReason::NotFound("m".into()),
            IncompleteReason::Inconsistent("m".into()),
        ];
        assert_eq!(read.len(), READ_REASON_CODES.len());
        for r in &read {
            // What `kparity snapshot` writes (code and message) comes back under the same code.
            let archived = IncompleteReason::Archived { code: r.code().into(), message: r.to_string() };
            assert_eq!(archived.code(), r.code());
            assert_eq!(archived.to_string(), format!("recorded in the archive as {}: {r}", r.code()));
        }
        let odd = IncompleteReason::Archived { code: "made_up".into(), message: "m".into() };
        assert_eq!(odd.code(), "recorded");
        assert_eq!(odd.to_string(), "recorded in the archive as made_up: m");
    }

    #[test]
    fn keys_display_like_kubectl() {
        let k = ObjectKey {
            group: "apps".into(),
            kind: "Deployment".into(),
            namespace: Some("shop".into()),
            name: "web".into(),
        };
        assert_eq!(k.to_string(), "Deployment.apps shop/web");
        let k = ObjectKey { group: "".into(), kind: "Namespace".into(), namespace: None, name: "shop".into() };
        assert_eq!(k.to_string(), "Namespace shop");
    }
}
