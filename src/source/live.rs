//! Reads a live cluster: connects, discovers, then lists every selected type concurrently with a
//! bounded number of list streams, each type under its own deadline. Whatever cannot be read is
//! recorded as incomplete with its reason; only an unreachable or unauthenticated cluster aborts.

use std::collections::{BTreeSet, HashSet};
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use serde::Deserialize;
use tokio::sync::Semaphore;
use tokio::time::Instant;

use super::discovery::{Discovered, discover};
use super::http::{ApiClient, Failure, RetryPolicy};
use super::kubeconfig::{ClientSettings, Kubeconfigs, client_for};
use super::list::{Delivery, ListContext, ListFilter, Listed, WatchListUse, list_type};
use super::{FilterMisses, ReadOptions, SourceError};
use crate::cpu::Cpu;
use crate::dump::{CoverageStatus, Sink, SourceInfo, SourceKind, TypeCoverage};
use crate::model::{ApiType, Excluded, Incomplete, IncompleteReason, TypeRef};
use crate::progress::SideProgress;
use crate::rules::RuleSet;
use crate::schema::SchemaRecord;
use crate::secrets::{KeyInfo, SecretKey};

/// What reading a live cluster produced besides the objects (which went to the sink).
#[derive(Debug)]
pub struct LiveRead {
    pub info: SourceInfo,
    pub served: Vec<ApiType>,
    /// Every listable resource once, in the version read by default (see `discovery`).
    pub preferred: Vec<ApiType>,
    pub incomplete: Vec<Incomplete>,
    pub excluded: Vec<Excluded>,
    pub type_skips: BTreeSet<crate::rules::RuleId>,
    /// The types that were listed (after filters and skips).
    pub listed: Vec<ApiType>,
    /// Every discovered resource: read (with its object count), excluded, or incomplete.
    pub coverage: Vec<TypeCoverage>,
    pub filter_misses: FilterMisses,
}

#[derive(Deserialize)]
struct VersionInfo {
    #[serde(rename = "gitVersion")]
    git_version: Option<String>,
}

/// A connected and discovered cluster, not yet listed. Splitting reading in two lets a caller
/// look at both sides' discovery before either is listed (to read both in a common version).
pub struct Prepared {
    api: ApiClient,
    context: String,
    server: String,
    version: Option<String>,
    started: time::OffsetDateTime,
    /// Every listable resource once, in the version read by default: the group's preferred
    /// version where it serves the resource, else the best version that does.
    pub preferred: Vec<ApiType>,
    /// Every listable type in every served version.
    pub served: Vec<ApiType>,
    incomplete: Vec<Incomplete>,
    /// Filter values that match nothing here (`-n` namespaces that do not exist, kinds not served).
    pub filter_misses: FilterMisses,
}

impl Prepared {
    /// The server's `gitVersion`, when `/version` answered one.
    pub fn kubernetes_version(&self) -> Option<&str> {
        self.version.as_deref()
    }

    /// Reads the field semantics (OpenAPI v3) of the types of `plan` this side will list (after
    /// filters and type-level skips). Never fails: what cannot be read is recorded unavailable.
    pub async fn read_schemas(&self, plan: &[ApiType], opts: &ReadOptions, rules: &RuleSet) -> SchemaRecord {
        let types: Vec<ApiType> = plan
            .iter()
            .filter(|t| opts.filters.excludes_type(t).is_none() && rules.skipped_type(t).is_none())
            .cloned()
            .collect();
        super::schema::fetch(&self.api, &types, Instant::now() + opts.timeout, opts.concurrency).await.0
    }
}

/// Connects to `context` and runs discovery: the first phase of a read.
pub async fn prepare(
    configs: &Kubeconfigs,
    context: &str,
    opts: &ReadOptions,
    rules: &RuleSet,
) -> Result<Prepared, SourceError> {
    let settings = ClientSettings { connect_timeout: Duration::from_secs(5), transport: opts.transport.clone() };
    let conn = client_for(configs, context, &settings).await?;
    let server = conn.server.clone();
    let request_timeout = match opts.transport.request_timeout {
        None => request_timeout(opts.timeout),
        // kubectl's `--request-timeout 0`: no bound but the type's deadline.
        Some(d) if d.is_zero() => opts.timeout,
        Some(d) => d,
    };
    let policy = RetryPolicy { request_timeout, ..RetryPolicy::default() };
    let api = ApiClient::new(conn, policy);
    let started = time::OffsetDateTime::now_utc();

    // A first, quickly bounded request tells an unreachable cluster from a slow one, so a typo in
    // a server address fails in seconds with one clear line.
    let probe = api.with_policy(RetryPolicy {
        max_attempts: 3,
        request_timeout: request_timeout.min(Duration::from_secs(10)),
        ..policy
    });
    let version_deadline = Instant::now() + opts.timeout.min(Duration::from_secs(15));
    let version = match probe.get("/version", "application/json", version_deadline).await {
        Ok(body) => serde_json::from_slice::<VersionInfo>(&body).ok().and_then(|v| v.git_version),
        Err(f) => return Err(fatal(context, &server, f)),
    };

    let skip_group = |g: &str| rules.skipped_group(g).is_some();
    let discovered = discover(&api, Instant::now() + opts.timeout, opts.concurrency, &skip_group)
        .await
        .map_err(|f| fatal(context, &server, f))?;
    let Discovered { preferred, served, failed } = discovered;
    let mut incomplete: Vec<Incomplete> =
        failed.into_iter().map(|(type_ref, reason)| Incomplete { type_ref, reason }).collect();
    incomplete.extend(unavailable_api_services(&api, &served, &incomplete, rules, opts).await);
    let mut filter_misses = FilterMisses { kinds: opts.filters.kind_misses(&served), ..Default::default() };
    for ns in &opts.filters.namespaces {
        if !namespace_exists(&api, ns, Instant::now() + opts.timeout).await {
            filter_misses.namespaces.insert(ns.clone());
        }
    }
    Ok(Prepared {
        api,
        context: context.to_string(),
        server,
        version,
        started,
        preferred,
        served,
        incomplete,
        filter_misses,
    })
}

/// False only when the server says the namespace does not exist (404), or the name cannot be a
/// namespace at all; any other answer (e.g. forbidden) is not proof of absence.
async fn namespace_exists(api: &ApiClient, ns: &str, deadline: Instant) -> bool {
    let valid = !ns.is_empty()
        && ns.len() <= 63
        && ns.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !ns.starts_with('-')
        && !ns.ends_with('-');
    if !valid {
        return false;
    }
    !matches!(
        api.get(&format!("/api/v1/namespaces/{ns}"), "application/json", deadline).await,
        Err(Failure::Incomplete(IncompleteReason::NotFound(_)))
    )
}

/// Lists the types of `plan` (normally `prepared.preferred`, or the versions chosen by
/// `source::plan` so both sides read a kind in the same version): the second phase of a read.
/// Objects go to `sink` through the CPU pool (`cpu`): parsed, digested and prepared there, kept
/// by the sink in the order read.
#[allow(clippy::too_many_arguments)] // two call sites; a struct would only rename the list
pub async fn list<'env, S: Sink>(
    prepared: Prepared,
    plan: &[ApiType],
    opts: &'env ReadOptions,
    rules: &'env RuleSet,
    secret_key: &'env SecretKey,
    key_info: KeyInfo,
    sink: &'env S,
    progress: &SideProgress,
    cpu: &Cpu<'_, 'env>,
) -> Result<LiveRead, SourceError> {
    let Prepared { api, context, server, version, started, preferred, served, mut incomplete, filter_misses } =
        prepared;
    let context = context.as_str();
    let mut coverage: Vec<TypeCoverage> = incomplete
        .iter()
        .map(|i| TypeCoverage {
            type_ref: i.type_ref.clone(),
            status: CoverageStatus::Incomplete { reason: i.reason.to_string() },
        })
        .collect();
    let Selected { to_list, mut excluded, type_skips, coverage: excluded_coverage } = select(plan, opts, rules);
    coverage.extend(excluded_coverage);
    excluded.sort();
    excluded.dedup();

    progress.set_total(to_list.len());
    // Counted for the progress display as the sink keeps them, relists taken back.
    let counted = crate::progress::Counted::new(progress);
    let watch_list = WatchListUse::new(opts.list_method);
    let cx = ListContext {
        api: &api,
        page_size: opts.page_size,
        watch_list: &watch_list,
        delivery: Delivery { sink, rules, filters: &opts.filters, secret_key },
        cpu,
        counted: &counted,
    };
    let results = read_types(&cx, &to_list, opts, progress).await;
    for (ty, res) in results {
        if res.is_err() {
            // The pages read before the failure are a partial, arbitrary subset: they are
            // forgotten, so an incomplete type makes no claim at all, in a diff or an archive.
            cx.restart(&ty);
        }
        match outcome(&ty, res, opts, context)? {
            Ok(Listed { objects, read_at }) => coverage
                .push(TypeCoverage { type_ref: TypeRef::from(&ty), status: CoverageStatus::Read { objects, read_at } }),
            Err(failed) => {
                coverage.push(TypeCoverage {
                    type_ref: failed.type_ref.clone(),
                    status: CoverageStatus::Incomplete { reason: failed.reason.to_string() },
                });
                incomplete.push(failed);
            }
        }
    }
    incomplete.sort_by(|a, b| a.type_ref.cmp(&b.type_ref));
    coverage.sort_by(|a, b| a.type_ref.cmp(&b.type_ref));
    progress.finish();

    let info = SourceInfo {
        kind: SourceKind::Context,
        name: context.to_string(),
        server,
        kubernetes_version: version,
        time: started.format(&time::format_description::well_known::Rfc3339).unwrap_or_default(),
        secret_key: key_info,
        origin_context: None,
    };
    Ok(LiveRead { info, served, preferred, incomplete, excluded, type_skips, listed: to_list, coverage, filter_misses })
}

/// Reads each type into the context's sink, at most `--concurrency` at a time; each type's
/// deadline starts when it starts, not while it waits for its turn.
async fn read_types<S: Sink>(
    cx: &ListContext<'_, '_, S>,
    to_list: &[ApiType],
    opts: &ReadOptions,
    progress: &SideProgress,
) -> Vec<(ApiType, Result<Listed, Failure>)> {
    let semaphore = Arc::new(Semaphore::new(opts.concurrency.max(1)));
    futures::stream::iter(to_list.iter().cloned())
        .map(|ty| {
            let semaphore = semaphore.clone();
            async move {
                let _permit = semaphore.acquire().await;
                let res = list_filtered(cx, &ty, opts, Instant::now() + opts.timeout).await;
                progress.type_done();
                (ty, res)
            }
        })
        .buffer_unordered(opts.concurrency.max(1))
        .collect()
        .await
}

/// The plan's types a side lists, once each, and those left out before listing (the filters,
/// then a rule's type-level skip: `type_exclusion`).
struct Selected {
    to_list: Vec<ApiType>,
    excluded: Vec<Excluded>,
    type_skips: BTreeSet<crate::rules::RuleId>,
    coverage: Vec<TypeCoverage>,
}

fn select(plan: &[ApiType], opts: &ReadOptions, rules: &RuleSet) -> Selected {
    let mut selected =
        Selected { to_list: Vec::new(), excluded: Vec::new(), type_skips: BTreeSet::new(), coverage: Vec::new() };
    let mut seen = HashSet::new();
    for ty in plan.iter().cloned() {
        if !seen.insert(ty.group_resource()) {
            continue;
        }
        if let Some((by, rule)) = super::type_exclusion(&opts.filters, rules, &ty) {
            selected.type_skips.extend(rule);
            selected.coverage.push(TypeCoverage {
                type_ref: TypeRef::from(&ty),
                status: CoverageStatus::Excluded { by: by.clone() },
            });
            selected.excluded.push(Excluded { group_kind: ty.group_kind(), by });
            continue;
        }
        selected.to_list.push(ty);
    }
    selected
}

/// What listing a type came to: read, or incomplete with its reason. Credentials refused in
/// the middle of a read end the whole side (`SourceError::Auth`), as at its start.
fn outcome(
    ty: &ApiType,
    res: Result<Listed, Failure>,
    opts: &ReadOptions,
    context: &str,
) -> Result<Result<Listed, Incomplete>, SourceError> {
    let reason = match res {
        Ok(listed) => return Ok(Ok(listed)),
        Err(Failure::Auth(m)) => return Err(SourceError::Auth { context: context.to_string(), message: m }),
        Err(Failure::Gone) => IncompleteReason::Gone { relists: super::list::MAX_RELISTS },
        Err(Failure::Incomplete(IncompleteReason::Timeout(_))) => IncompleteReason::Timeout(opts.timeout),
        Err(Failure::Incomplete(reason)) => reason,
    };
    Ok(Err(Incomplete { type_ref: TypeRef::from(ty), reason }))
}

/// The bound of one request within a type's deadline: a third of it (between 1 s and 30 s), so
/// one stalled or trickling connection leaves time for fresh attempts before the deadline,
/// instead of consuming the type's whole budget on its own.
fn request_timeout(type_deadline: Duration) -> Duration {
    (type_deadline / 3).clamp(Duration::from_secs(1), Duration::from_secs(30))
}

/// Lists one type under the namespace filters: per namespace when `-n` is given, otherwise
/// cluster-wide with excluded namespaces filtered out by a field selector.
async fn list_filtered<S: Sink>(
    cx: &ListContext<'_, '_, S>,
    ty: &ApiType,
    opts: &ReadOptions,
    deadline: Instant,
) -> Result<Listed, Failure> {
    let f = &opts.filters;
    let label_selector = f.selector.as_ref().map(|s| s.as_str().to_string());
    if !f.namespaces.is_empty() {
        // One part per namespace, read as one unit (a 410 in any part relists them all).
        let parts: Vec<ListFilter> = f
            .namespaces
            .iter()
            .map(|ns| {
                if ty.namespaced {
                    ListFilter {
                        namespace: Some(ns.clone()),
                        label_selector: label_selector.clone(),
                        field_selector: None,
                    }
                } else {
                    // Only Namespace objects get here with -n: read the named ones.
                    ListFilter {
                        namespace: None,
                        label_selector: label_selector.clone(),
                        field_selector: Some(format!("metadata.name={ns}")),
                    }
                }
            })
            .collect();
        return list_type(cx, ty, &parts, deadline).await;
    }
    let field_selector = if f.exclude_namespaces.is_empty() {
        None
    } else if ty.namespaced {
        Some(f.exclude_namespaces.iter().map(|n| format!("metadata.namespace!={n}")).collect::<Vec<_>>().join(","))
    } else if ty.group.is_empty() && ty.kind == "Namespace" {
        Some(f.exclude_namespaces.iter().map(|n| format!("metadata.name!={n}")).collect::<Vec<_>>().join(","))
    } else {
        None
    };
    list_type(cx, ty, &[ListFilter { namespace: None, label_selector, field_selector }], deadline).await
}

#[derive(Deserialize)]
struct ApiServiceList {
    #[serde(default)]
    items: Vec<ApiService>,
}

#[derive(Deserialize)]
struct ApiService {
    #[serde(default)]
    metadata: Meta,
    #[serde(default)]
    spec: ApiServiceSpec,
    #[serde(default)]
    status: Option<ApiServiceStatus>,
}

#[derive(Deserialize, Default)]
struct Meta {
    #[serde(default)]
    name: String,
}

#[derive(Deserialize, Default)]
struct ApiServiceSpec {
    #[serde(default)]
    group: String,
    #[serde(default)]
    version: String,
    #[serde(default)]
    service: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct ApiServiceStatus {
    #[serde(default)]
    conditions: Vec<Condition>,
}

#[derive(Deserialize)]
struct Condition {
    #[serde(rename = "type")]
    type_: String,
    status: String,
    #[serde(default)]
    message: Option<String>,
}

/// Fail-closed cross-check: an aggregated APIService whose group-version discovery did not
/// report (neither served nor already marked failed) is incomplete, never silently absent.
async fn unavailable_api_services(
    api: &ApiClient,
    served: &[ApiType],
    already: &[Incomplete],
    rules: &RuleSet,
    opts: &ReadOptions,
) -> Vec<Incomplete> {
    let deadline = Instant::now() + opts.timeout;
    let body = match api.get("/apis/apiregistration.k8s.io/v1/apiservices", "application/json", deadline).await {
        Ok(b) => b,
        // Not allowed to list APIServices: discovery's own view is all there is; the type
        // listing of apiservices itself will report the refusal.
        Err(_) => return Vec::new(),
    };
    let Ok(list) = serde_json::from_slice::<ApiServiceList>(&body) else { return Vec::new() };
    let mut out = Vec::new();
    for svc in list.items {
        if svc.spec.service.is_none() || rules.skipped_group(&svc.spec.group).is_some() {
            continue;
        }
        let (g, v) = (&svc.spec.group, &svc.spec.version);
        let known = served.iter().any(|t| &t.group == g && &t.version == v)
            || already.iter().any(|i| &i.type_ref.group == g && &i.type_ref.version == v);
        if known {
            continue;
        }
        let why = svc
            .status
            .and_then(|s| s.conditions.into_iter().find(|c| c.type_ == "Available" && c.status != "True"))
            .and_then(|c| c.message)
            .unwrap_or_else(|| "its group-version is missing from discovery".to_string());
        out.push(Incomplete {
            type_ref: TypeRef { group: g.clone(), version: v.clone(), resource: None, kind: None },
            reason: IncompleteReason::Unavailable(format!("APIService {}: {why}", svc.metadata.name)),
        });
    }
    out
}

/// Turns a failure of the first requests into the one-line error a user sees.
fn fatal(context: &str, server: &str, f: Failure) -> SourceError {
    match f {
        Failure::Auth(m) => SourceError::Auth { context: context.to_string(), message: m },
        Failure::Incomplete(IncompleteReason::Unauthorized(m)) => {
            SourceError::Auth { context: context.to_string(), message: format!("401 unauthorized: {m}") }
        }
        Failure::Incomplete(IncompleteReason::Forbidden(m)) => SourceError::Discovery {
            context: context.to_string(),
            server: server.to_string(),
            message: format!("403 forbidden: {m}"),
        },
        Failure::Incomplete(IncompleteReason::Decode(m)) => {
            SourceError::NotKubernetes { context: context.to_string(), server: server.to_string(), message: m }
        }
        Failure::Incomplete(r @ (IncompleteReason::Transport(_) | IncompleteReason::Timeout(_))) => {
            SourceError::Unreachable {
                context: context.to_string(),
                server: server.to_string(),
                message: r.to_string(),
            }
        }
        Failure::Incomplete(r) => {
            SourceError::Discovery { context: context.to_string(), server: server.to_string(), message: r.to_string() }
        }
        Failure::Gone => SourceError::Discovery {
            context: context.to_string(),
            server: server.to_string(),
            message: "410 gone".into(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_stalled_request_leaves_time_for_retries_within_the_type_deadline() {
        assert_eq!(request_timeout(Duration::from_secs(60)), Duration::from_secs(20));
        assert_eq!(request_timeout(Duration::from_secs(6)), Duration::from_secs(2));
        assert_eq!(request_timeout(Duration::from_secs(600)), Duration::from_secs(30));
        assert_eq!(request_timeout(Duration::from_millis(500)), Duration::from_secs(1));
    }
}
