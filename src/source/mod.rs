//! Where objects come from: a live cluster (kube client, discovery, paged lists) or a snapshot
//! archive. Both feed the same `Sink`, so everything downstream is indifferent to the origin.
//! The only module that talks to a Kubernetes API server.

pub mod discovery;
pub mod http;
pub mod kubeconfig;
pub mod list;
pub mod live;
pub mod plan;
pub mod schema;

use std::path::PathBuf;
use std::time::Duration;

use crate::model::ApiType;

/// One side of a comparison, as named on the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceSpec {
    Context(String),
    Snapshot(PathBuf),
}

impl SourceSpec {
    /// `ctx:NAME` and `file:PATH` force a reading; otherwise an existing file is a snapshot and
    /// anything else a context name.
    pub fn parse(arg: &str) -> SourceSpec {
        if let Some(name) = arg.strip_prefix("ctx:") {
            SourceSpec::Context(name.to_string())
        } else if let Some(path) = arg.strip_prefix("file:") {
            SourceSpec::Snapshot(PathBuf::from(path))
        } else if std::path::Path::new(arg).is_file() {
            SourceSpec::Snapshot(PathBuf::from(arg))
        } else {
            SourceSpec::Context(arg.to_string())
        }
    }
}

/// A kind named on the command line: `Deployment`, `deployments`, `Deployment.apps`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KindFilter {
    name: String,
    group: Option<String>,
}

impl KindFilter {
    pub fn parse(s: &str) -> Result<Self, String> {
        let s = s.trim();
        if s.is_empty() {
            return Err("empty kind".into());
        }
        Ok(match s.split_once('.') {
            Some((name, group)) => KindFilter { name: name.to_ascii_lowercase(), group: Some(group.to_string()) },
            None => KindFilter { name: s.to_ascii_lowercase(), group: None },
        })
    }

    pub fn matches(&self, group: &str, kind: &str, resource: Option<&str>) -> bool {
        let name_ok =
            kind.eq_ignore_ascii_case(&self.name) || resource.is_some_and(|r| r.eq_ignore_ascii_case(&self.name));
        name_ok && self.group.as_deref().is_none_or(|g| g == group)
    }
}

/// kubectl-like filters of what is read.
#[derive(Debug, Clone, Default)]
pub struct Filters {
    pub namespaces: Vec<String>,
    pub exclude_namespaces: Vec<String>,
    pub kinds: Vec<KindFilter>,
    pub exclude_kinds: Vec<KindFilter>,
    pub selector: Option<String>,
}

impl Filters {
    /// Why a type is left out by the filters, if it is.
    pub fn excludes_type(&self, ty: &ApiType) -> Option<String> {
        if !self.kinds.is_empty() && !self.kinds.iter().any(|k| k.matches(&ty.group, &ty.kind, Some(&ty.resource))) {
            return Some("--kinds".into());
        }
        if self.exclude_kinds.iter().any(|k| k.matches(&ty.group, &ty.kind, Some(&ty.resource))) {
            return Some("--exclude-kinds".into());
        }
        if !self.namespaces.is_empty() && !ty.namespaced && !(ty.group.is_empty() && ty.kind == "Namespace") {
            return Some("--namespace (cluster-scoped)".into());
        }
        None
    }

    /// The same decision for an object already read (a snapshot), by its key.
    pub fn excludes_object(&self, key: &crate::model::ObjectKey) -> bool {
        if !self.kinds.is_empty() && !self.kinds.iter().any(|k| k.matches(&key.group, &key.kind, None)) {
            return true;
        }
        if self.exclude_kinds.iter().any(|k| k.matches(&key.group, &key.kind, None)) {
            return true;
        }
        let ns_of = |key: &crate::model::ObjectKey| -> Option<String> {
            if key.group.is_empty() && key.kind == "Namespace" { Some(key.name.clone()) } else { key.namespace.clone() }
        };
        if !self.namespaces.is_empty() {
            match ns_of(key) {
                Some(ns) if self.namespaces.contains(&ns) => {}
                _ => return true,
            }
        }
        if let Some(ns) = ns_of(key) {
            if self.exclude_namespaces.contains(&ns) {
                return true;
            }
        }
        false
    }

    /// True when any filter is set (recorded in snapshot headers and reports).
    pub fn is_empty(&self) -> bool {
        self.namespaces.is_empty()
            && self.exclude_namespaces.is_empty()
            && self.kinds.is_empty()
            && self.exclude_kinds.is_empty()
            && self.selector.is_none()
    }
}

/// How a live cluster is read.
#[derive(Debug, Clone)]
pub struct ReadOptions {
    pub filters: Filters,
    /// List streams per cluster.
    pub concurrency: usize,
    pub page_size: u32,
    /// Deadline of each type's complete listing.
    pub timeout: Duration,
}

/// Failures that prevent reading a side at all (as opposed to one type: that is incomplete).
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("kubeconfig {} does not exist", path.display())]
    KubeconfigMissing { path: PathBuf },
    #[error("failed to parse kubeconfig {}: {message}", path.display())]
    KubeconfigInvalid { path: PathBuf, message: String },
    #[error("no kubeconfig found for context {context:?} (looked at --kubeconfig, $KUBECONFIG, ~/.kube/config)")]
    NoKubeconfig { context: String },
    #[error("context {context:?} not found in kubeconfig {kubeconfig}")]
    UnknownContext { context: String, kubeconfig: String, available: Vec<String> },
    #[error("failed to configure context {context:?}: {message}")]
    ContextConfig { context: String, message: String },
    #[error("failed to get credentials for context {context:?} from exec plugin {command:?}: {message}")]
    ExecPlugin { context: String, command: String, message: String },
    #[error("failed to reach context {context:?} at {server}: {message}")]
    Unreachable { context: String, server: String, message: String },
    #[error("failed to authenticate to context {context:?}: {message}")]
    Auth { context: String, message: String },
    #[error("failed to discover the APIs of context {context:?} at {server}: {message}")]
    Discovery { context: String, server: String, message: String },
    #[error("context {context:?} at {server} does not answer like a Kubernetes API server: {message}")]
    NotKubernetes { context: String, server: String, message: String },
}

impl SourceError {
    /// What the user can do about it.
    pub fn hint(&self) -> Option<String> {
        match self {
            SourceError::KubeconfigMissing { .. } => Some("pass --kubeconfig FILE or set KUBECONFIG".into()),
            SourceError::NoKubeconfig { .. } => Some(
                "pass --kubeconfig FILE or set KUBECONFIG; inside a pod, the context `in-cluster` reads the pod's own cluster with its service account".into(),
            ),
            SourceError::UnknownContext { context, .. } if context.contains('/') || context.ends_with(".kparity") => {
                Some(format!("no file {context:?} exists either; a snapshot argument must name an existing file (or use file:PATH)"))
            }
            SourceError::UnknownContext { available, .. } if available.is_empty() => {
                Some("the kubeconfig defines no contexts".into())
            }
            SourceError::UnknownContext { available, .. } => Some(format!("available contexts: {}", available.join(", "))),
            SourceError::KubeconfigInvalid { .. } => {
                Some("fix the YAML at the position shown; `kubectl config view` shows how kubectl reads the file".into())
            }
            SourceError::ContextConfig { context, .. } if context == "in-cluster" => Some(
                "`in-cluster` works only inside a pod: KUBERNETES_SERVICE_HOST set and a service account token mounted".into(),
            ),
            SourceError::ContextConfig { .. } => {
                Some("check the certificate, key and token files named by this context's cluster and user".into())
            }
            SourceError::ExecPlugin { command, .. } => Some(format!(
                "run `{command}` by hand to see why it fails (kubectl would fail the same way); it must be on PATH and print an ExecCredential"
            )),
            SourceError::Unreachable { .. } => Some("check the server address and that the cluster is up (`kubectl --context NAME version`)".into()),
            SourceError::Auth { .. } => Some("check the user of this context; an exec plugin (e.g. `aws eks get-token`) must be installed and on PATH".into()),
            SourceError::NotKubernetes { .. } => Some("the kubeconfig's server address may point at the wrong port or a proxy".into()),
            SourceError::Discovery { .. } => {
                Some("the API server answered but could not list its APIs; retry, or check its health (`kubectl get --raw /readyz`)".into())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_resolve_to_contexts_or_snapshots() {
        assert_eq!(SourceSpec::parse("blue"), SourceSpec::Context("blue".into()));
        assert_eq!(SourceSpec::parse("ctx:Cargo.toml"), SourceSpec::Context("Cargo.toml".into()));
        assert_eq!(SourceSpec::parse("file:x.kparity"), SourceSpec::Snapshot("x.kparity".into()));
        assert_eq!(SourceSpec::parse("Cargo.toml"), SourceSpec::Snapshot("Cargo.toml".into()));
    }

    #[test]
    fn kind_filters_accept_kubectl_spellings() {
        let ty = ApiType {
            group: "apps".into(),
            version: "v1".into(),
            resource: "deployments".into(),
            kind: "Deployment".into(),
            namespaced: true,
        };
        for s in ["Deployment", "deployment", "deployments", "Deployment.apps", "deployments.apps"] {
            let f = Filters { kinds: vec![KindFilter::parse(s).unwrap()], ..Default::default() };
            assert_eq!(f.excludes_type(&ty), None, "{s}");
        }
        let f = Filters { kinds: vec![KindFilter::parse("Deployment.extensions").unwrap()], ..Default::default() };
        assert!(f.excludes_type(&ty).is_some());
        let f = Filters { exclude_kinds: vec![KindFilter::parse("deployments").unwrap()], ..Default::default() };
        assert!(f.excludes_type(&ty).is_some());
    }
}
