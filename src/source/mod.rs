//! Where objects come from: a live cluster (kube client, discovery, paged lists) or a snapshot
//! archive. Both feed the same `Sink`, so everything downstream is indifferent to the origin.
//! The only module that talks to a Kubernetes API server.

pub mod discovery;
pub mod encoding;
pub mod http;
pub mod kubeconfig;
pub mod list;
pub mod live;
pub mod object;
pub mod plan;
pub mod schema;
pub mod watch_list;

use std::collections::BTreeSet;
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

    /// Refuses a bare argument (no `ctx:`/`file:` prefix) that names both an existing file and
    /// a context of the kubeconfig: silently taking the file would replace a live cluster in a
    /// gate with whatever that file holds.
    pub fn check_unambiguous(arg: &str, contexts: &[String]) -> Result<(), SourceError> {
        let prefixed = arg.starts_with("ctx:") || arg.starts_with("file:");
        if !prefixed && std::path::Path::new(arg).is_file() && contexts.iter().any(|c| c == arg) {
            return Err(SourceError::Ambiguous { arg: arg.to_string() });
        }
        Ok(())
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

    /// The filter as kubectl spells it (`deployment.apps`), for messages.
    pub fn text(&self) -> String {
        match &self.group {
            Some(g) => format!("{}.{g}", self.name),
            None => self.name.clone(),
        }
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
    /// `-l`: sent to the API server on a live read, evaluated here on every object (archives
    /// included), so each path keeps exactly the objects `admits` keeps.
    pub selector: Option<crate::rules::pattern::Selector>,
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

    /// Whether an object read (live or from an archive) is in scope: its type (by kind or
    /// resource, as `excludes_type` decides), its namespace and its labels. The one decision
    /// every path applies, so a live diff and a diff of archives of the same state keep the
    /// same objects.
    pub fn admits(&self, ty: &ApiType, obj: &serde_json::Value) -> bool {
        if self.excludes_type(ty).is_some() {
            return false;
        }
        let key = crate::dump::key_of(ty, obj);
        let ns = namespace_filtered_by(&key);
        if !self.namespaces.is_empty() && !ns.is_some_and(|ns| self.namespaces.contains(ns)) {
            return false;
        }
        if ns.is_some_and(|ns| self.exclude_namespaces.contains(ns)) {
            return false;
        }
        self.selector
            .as_ref()
            .is_none_or(|s| s.matches(obj.pointer("/metadata/labels").and_then(serde_json::Value::as_object)))
    }

    /// The `--kinds`/`--exclude-kinds` entries that match none of `served` (every listable type
    /// of a side, all versions). Nothing is known without a list of served types.
    pub fn kind_misses(&self, served: &[ApiType]) -> BTreeSet<String> {
        if served.is_empty() {
            return BTreeSet::new();
        }
        self.kinds
            .iter()
            .chain(&self.exclude_kinds)
            .filter(|k| !served.iter().any(|t| k.matches(&t.group, &t.kind, Some(&t.resource))))
            .map(KindFilter::text)
            .collect()
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

/// The namespace `-n`/`--exclude-namespace` decide an object by: its own, or for a Namespace
/// object its name.
pub fn namespace_filtered_by(key: &crate::model::ObjectKey) -> Option<&String> {
    if key.group.is_empty() && key.kind == "Namespace" { Some(&key.name) } else { key.namespace.as_ref() }
}

/// Why a type is left out before any of its objects is used, with the skip rule when a rule
/// decided (for its accounting): the filters first, then a rule's type-level skip. Every path
/// (a live read, an archive) asks this one question, so both report the same reason for the
/// same type.
pub fn type_exclusion(
    filters: &Filters,
    rules: &crate::rules::RuleSet,
    ty: &ApiType,
) -> Option<(String, Option<crate::rules::RuleId>)> {
    if let Some(by) = filters.excludes_type(ty) {
        return Some((by, None));
    }
    let rule = rules.skipped_type(ty)?;
    Some((format!("rule {}", rule.name), Some(rule.id)))
}

/// Filter values known to match nothing on one side: `-n` namespaces that do not exist there,
/// `--kinds`/`--exclude-kinds` entries that name no type it serves. Unknown is not a miss.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FilterMisses {
    pub namespaces: BTreeSet<String>,
    pub kinds: BTreeSet<String>,
}

/// A filter value that matches nothing on either side: a typo, or the wrong clusters. Comparing
/// anyway would compare nothing and prove nothing.
#[derive(Debug, thiserror::Error)]
pub enum FilterError {
    #[error("namespace {name:?} (-n) exists on neither side")]
    NoSuchNamespace { name: String },
    #[error("kind {name:?} ({flag}) matches no resource type served on either side")]
    NoSuchKind { name: String, flag: &'static str },
}

impl FilterError {
    pub fn hint(&self) -> Option<String> {
        Some(match self {
            FilterError::NoSuchNamespace { .. } => {
                "check the spelling; `kubectl get namespaces` lists the namespaces of a context".into()
            }
            FilterError::NoSuchKind { .. } => {
                "write Kind, kind.group or the plural resource; `kubectl api-resources` lists the served types".into()
            }
        })
    }
}

/// Refuses a filter value that matches nothing on both sides.
pub fn refuse_unmatched(filters: &Filters, old: &FilterMisses, new: &FilterMisses) -> Result<(), FilterError> {
    if let Some(ns) = filters.namespaces.iter().find(|n| old.namespaces.contains(*n) && new.namespaces.contains(*n)) {
        return Err(FilterError::NoSuchNamespace { name: ns.clone() });
    }
    for (list, flag) in [(&filters.kinds, "--kinds"), (&filters.exclude_kinds, "--exclude-kinds")] {
        if let Some(k) = list.iter().map(KindFilter::text).find(|k| old.kinds.contains(k) && new.kinds.contains(k)) {
            return Err(FilterError::NoSuchKind { name: k, flag });
        }
    }
    Ok(())
}

/// How a live side reads a type (`--list-method`). A watch-list stream is one request for the
/// whole type, served from the API server's watch cache; paged lists cost one request per page.
/// Measured (bench/, 2026-12-04): pages are faster while a type is a few pages (10,000 objects
/// per cluster: 0.87 s against 1.28 s), streams once it is many (100,000: 11–16 s against
/// 17–19 s).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListMethod {
    /// Each type's first page (`list::PROBE_PAGE` objects) says how many objects it holds
    /// (`remainingItemCount`): a type of more than `list::STREAM_ABOVE_PAGES` pages is streamed
    /// instead (that page dropped), a smaller one paged on, as is a type the server does not
    /// count (a selector).
    Auto,
    /// Paged lists only.
    Pages,
    /// A stream for every type where the server serves them.
    Streams,
}

/// How a live cluster is read.
#[derive(Debug, Clone)]
pub struct ReadOptions {
    pub filters: Filters,
    /// List streams per cluster.
    pub concurrency: usize,
    pub page_size: u32,
    /// How each type is read: paged lists, watch-list streams, or chosen by the type's size.
    pub list_method: ListMethod,
    /// Deadline of each type's complete listing.
    pub timeout: Duration,
    /// kubectl's transport flags (`--as`, `--as-group`, `--request-timeout`) and the response cap.
    pub transport: kubeconfig::Transport,
    /// Objects kept as read besides their normalized form, to explain them (`--show-suppressed`,
    /// `kparity explain`).
    pub keep_as_read: crate::dump::KeepAsRead,
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
    #[error("{arg:?} is ambiguous: it names both an existing file and a kubeconfig context")]
    Ambiguous { arg: String },
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
            SourceError::Unreachable { message, .. } if message.contains("tunnel error") || message.contains("SOCKS") => Some(
                "the connection goes through a proxy (the cluster's proxy-url, or HTTPS_PROXY/NO_PROXY): check its address and credentials".into(),
            ),
            SourceError::Unreachable { .. } => Some("check the server address and that the cluster is up (`kubectl --context NAME version`)".into()),
            SourceError::Auth { .. } => Some("check the user of this context; an exec plugin (e.g. `aws eks get-token`) must be installed and on PATH".into()),
            SourceError::NotKubernetes { .. } => Some("the kubeconfig's server address may point at the wrong port or a proxy".into()),
            SourceError::Ambiguous { arg } => Some(format!("write file:{arg} for the snapshot file or ctx:{arg} for the context")),
            SourceError::Discovery { .. } => {
                Some("the API server answered but could not list its APIs; retry, or check its health (`kubectl get --raw /readyz`)".into())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn arguments_resolve_to_contexts_or_snapshots() {
        assert_eq!(SourceSpec::parse("blue"), SourceSpec::Context("blue".into()));
        assert_eq!(SourceSpec::parse("ctx:Cargo.toml"), SourceSpec::Context("Cargo.toml".into()));
        assert_eq!(SourceSpec::parse("file:x.kparity"), SourceSpec::Snapshot("x.kparity".into()));
        assert_eq!(SourceSpec::parse("Cargo.toml"), SourceSpec::Snapshot("Cargo.toml".into()));
    }

    #[test]
    fn a_file_named_like_a_context_is_ambiguous() {
        let contexts = vec!["Cargo.toml".to_string(), "blue".to_string()];
        assert!(matches!(SourceSpec::check_unambiguous("Cargo.toml", &contexts), Err(SourceError::Ambiguous { .. })));
        assert!(SourceSpec::check_unambiguous("file:Cargo.toml", &contexts).is_ok());
        assert!(SourceSpec::check_unambiguous("ctx:Cargo.toml", &contexts).is_ok());
        // A context with no such file, and a file with no such context, are not ambiguous.
        assert!(SourceSpec::check_unambiguous("blue", &contexts).is_ok());
        assert!(SourceSpec::check_unambiguous("Cargo.lock", &contexts).is_ok());
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

    #[test]
    fn admits_decides_by_type_namespace_and_labels_alike_for_every_spelling() {
        let ty = |group: &str, resource: &str, kind: &str, namespaced: bool| ApiType {
            group: group.into(),
            version: "v1".into(),
            resource: resource.into(),
            kind: kind.into(),
            namespaced,
        };
        let deploy = ty("apps", "deployments", "Deployment", true);
        let ns_type = ty("", "namespaces", "Namespace", false);
        let web =
            json!({"kind": "Deployment", "metadata": {"name": "web", "namespace": "shop", "labels": {"app": "web"}}});
        let db =
            json!({"kind": "Deployment", "metadata": {"name": "db", "namespace": "shop", "labels": {"app": "db"}}});
        let bare = json!({"kind": "Deployment", "metadata": {"name": "bare", "namespace": "other"}});
        let shop = json!({"kind": "Namespace", "metadata": {"name": "shop"}});
        let sel = |s: &str| Some(crate::rules::pattern::Selector::parse(s).unwrap());
        // A kind filter by resource name admits the type's objects, as it admits the type (an
        // archive's objects were once matched by kind alone, so `--kinds deployments` dropped
        // them all and the type compared as empty on both sides).
        for k in ["deployments", "Deployment", "deployment.apps"] {
            let f = Filters { kinds: vec![KindFilter::parse(k).unwrap()], ..Default::default() };
            assert!(f.admits(&deploy, &web), "{k}");
            let f = Filters { exclude_kinds: vec![KindFilter::parse(k).unwrap()], ..Default::default() };
            assert!(!f.admits(&deploy, &web), "{k}");
        }
        let f = Filters { selector: sel("app=web"), ..Default::default() };
        assert!(f.admits(&deploy, &web));
        assert!(!f.admits(&deploy, &db));
        assert!(!f.admits(&deploy, &bare), "an object without labels has none of the selected ones");
        let f = Filters { selector: sel("app!=web"), ..Default::default() };
        assert!(f.admits(&deploy, &bare), "!= selects objects without the label, as the API server does");
        let f = Filters { namespaces: vec!["shop".into()], ..Default::default() };
        assert!(f.admits(&deploy, &web) && !f.admits(&deploy, &bare));
        assert!(f.admits(&ns_type, &shop), "-n keeps the namespace object itself");
        let f = Filters { exclude_namespaces: vec!["shop".into()], ..Default::default() };
        assert!(!f.admits(&deploy, &web) && f.admits(&deploy, &bare) && !f.admits(&ns_type, &shop));
    }

    #[test]
    fn filter_values_matching_nothing_on_both_sides_are_refused() {
        let ty = ApiType {
            group: "apps".into(),
            version: "v1".into(),
            resource: "deployments".into(),
            kind: "Deployment".into(),
            namespaced: true,
        };
        let kinds = |k: &[&str]| k.iter().map(|k| KindFilter::parse(k).unwrap()).collect::<Vec<_>>();
        let f = Filters {
            namespaces: vec!["shop".into()],
            kinds: kinds(&["Deployment", "Deploymnet", "deployments.apps"]),
            exclude_kinds: kinds(&["Widget"]),
            ..Default::default()
        };
        let misses = f.kind_misses(std::slice::from_ref(&ty));
        assert_eq!(misses.iter().map(String::as_str).collect::<Vec<_>>(), ["deploymnet", "widget"]);
        assert!(f.kind_misses(&[]).is_empty(), "no served list: nothing known");

        let miss = |ns: &[&str], k: &[&str]| FilterMisses {
            namespaces: ns.iter().map(|s| s.to_string()).collect(),
            kinds: k.iter().map(|s| s.to_string()).collect(),
        };
        // Missing on one side only: a real difference to report, not a typo.
        assert!(refuse_unmatched(&f, &miss(&["shop"], &[]), &miss(&[], &[])).is_ok());
        let e = refuse_unmatched(&f, &miss(&["shop"], &[]), &miss(&["shop"], &[])).unwrap_err();
        assert_eq!(e.to_string(), "namespace \"shop\" (-n) exists on neither side");
        let e = refuse_unmatched(&f, &miss(&[], &["deploymnet"]), &miss(&[], &["deploymnet", "widget"])).unwrap_err();
        assert_eq!(e.to_string(), "kind \"deploymnet\" (--kinds) matches no resource type served on either side");
        let e = refuse_unmatched(&f, &miss(&[], &["widget"]), &miss(&[], &["widget"])).unwrap_err();
        assert!(e.to_string().contains("(--exclude-kinds)"), "{e}");
        assert!(e.hint().is_some());
    }
}
