//! Discovers every listable resource type: aggregated discovery (one request each for `/api`
//! and `/apis`) where served, per-group discovery otherwise. A failing or `Stale` group-version
//! becomes an incomplete entry with its reason; it never aborts the run and is never dropped.

use futures::StreamExt;
use serde::Deserialize;
use tokio::time::Instant;

use super::http::{ApiClient, Failure};
use crate::model::{ApiType, IncompleteReason, TypeRef};

const AGGREGATED_ACCEPT: &str = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json";
const JSON: &str = "application/json";

/// What discovery found.
#[derive(Debug, Default)]
pub struct Discovered {
    /// Listable types in each group's preferred version: what gets listed.
    pub preferred: Vec<ApiType>,
    /// Every listable type in every served version: for API differences.
    pub served: Vec<ApiType>,
    /// Group-versions that could not be discovered, with why.
    pub failed: Vec<(TypeRef, IncompleteReason)>,
}

// --- aggregated discovery (apidiscovery.k8s.io/v2) ---------------------------------------------

#[derive(Deserialize)]
struct GroupDiscoveryList {
    kind: Option<String>,
    #[serde(default)]
    items: Vec<GroupDiscovery>,
}

#[derive(Deserialize)]
struct GroupDiscovery {
    #[serde(default)]
    metadata: NameOnly,
    #[serde(default)]
    versions: Vec<VersionDiscovery>,
}

#[derive(Deserialize, Default)]
struct NameOnly {
    #[serde(default)]
    name: String,
}

#[derive(Deserialize)]
struct VersionDiscovery {
    version: String,
    #[serde(default)]
    resources: Vec<ResourceDiscovery>,
    #[serde(default)]
    freshness: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ResourceDiscovery {
    resource: String,
    #[serde(default)]
    response_kind: Option<Gvk>,
    #[serde(default)]
    scope: String,
    #[serde(default)]
    verbs: Vec<String>,
}

#[derive(Deserialize)]
struct Gvk {
    #[serde(default)]
    kind: String,
}

// --- legacy per-group discovery ----------------------------------------------------------------

#[derive(Deserialize)]
struct ApiGroupList {
    #[serde(default)]
    groups: Vec<ApiGroup>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ApiGroup {
    name: String,
    #[serde(default)]
    versions: Vec<GroupVersionEntry>,
    preferred_version: Option<GroupVersionEntry>,
}

#[derive(Deserialize)]
struct GroupVersionEntry {
    version: String,
}

#[derive(Deserialize)]
struct ApiVersions {
    #[serde(default)]
    versions: Vec<String>,
}

#[derive(Deserialize)]
struct ApiResourceList {
    #[serde(default)]
    resources: Vec<ApiResource>,
}

#[derive(Deserialize)]
struct ApiResource {
    name: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    namespaced: bool,
    #[serde(default)]
    verbs: Vec<String>,
}

fn listable(resource: &str, verbs: &[String]) -> bool {
    !resource.contains('/') && verbs.iter().any(|v| v == "list")
}

/// Runs discovery. `skip_group` says whether a whole group is excluded by the rules, so a failure
/// to discover it (e.g. a broken `metrics.k8s.io`) is not held against the verdict.
pub async fn discover(
    api: &ApiClient,
    deadline: Instant,
    concurrency: usize,
    skip_group: &(dyn Fn(&str) -> bool + Sync),
) -> Result<Discovered, Failure> {
    let core = api.get("/api", AGGREGATED_ACCEPT, deadline).await?;
    let groups = api.get("/apis", AGGREGATED_ACCEPT, deadline).await?;
    let aggregated = |b: &[u8]| -> Option<GroupDiscoveryList> {
        serde_json::from_slice::<GroupDiscoveryList>(b)
            .ok()
            .filter(|l| l.kind.as_deref() == Some("APIGroupDiscoveryList"))
    };
    let mut out = Discovered::default();
    match (aggregated(&core), aggregated(&groups)) {
        (Some(core), Some(groups)) => {
            for g in core.items.into_iter().chain(groups.items) {
                add_aggregated_group(g, skip_group, &mut out);
            }
        }
        _ => legacy(api, &core, &groups, deadline, concurrency, skip_group, &mut out).await?,
    }
    Ok(out)
}

fn add_aggregated_group(g: GroupDiscovery, skip_group: &(dyn Fn(&str) -> bool + Sync), out: &mut Discovered) {
    let group = g.metadata.name;
    for (i, v) in g.versions.into_iter().enumerate() {
        let preferred = i == 0;
        let stale = v.freshness.as_deref() == Some("Stale");
        if stale {
            if preferred && !skip_group(&group) {
                out.failed.push((
                    TypeRef { group: group.clone(), version: v.version.clone(), resource: None, kind: None },
                    IncompleteReason::Unavailable(
                        "aggregated discovery marks this group-version Stale: its API service is not answering".into(),
                    ),
                ));
            }
            continue;
        }
        for r in v.resources {
            if !listable(&r.resource, &r.verbs) {
                continue;
            }
            let ty = ApiType {
                group: group.clone(),
                version: v.version.clone(),
                kind: r.response_kind.map(|k| k.kind).unwrap_or_default(),
                resource: r.resource,
                namespaced: r.scope == "Namespaced",
            };
            if preferred {
                out.preferred.push(ty.clone());
            }
            out.served.push(ty);
        }
    }
}

async fn legacy(
    api: &ApiClient,
    core: &[u8],
    groups: &[u8],
    deadline: Instant,
    concurrency: usize,
    skip_group: &(dyn Fn(&str) -> bool + Sync),
    out: &mut Discovered,
) -> Result<(), Failure> {
    let decode_err = |what: &str, e: serde_json::Error| {
        Failure::Incomplete(IncompleteReason::Decode(format!("{what} is not a Kubernetes discovery document: {e}")))
    };
    let core: ApiVersions = serde_json::from_slice(core).map_err(|e| decode_err("/api", e))?;
    let groups: ApiGroupList = serde_json::from_slice(groups).map_err(|e| decode_err("/apis", e))?;
    // (group, version, preferred)
    let mut gvs: Vec<(String, String, bool)> = Vec::new();
    for (i, v) in core.versions.into_iter().enumerate() {
        gvs.push((String::new(), v, i == 0));
    }
    for g in groups.groups {
        let preferred =
            g.preferred_version.map(|p| p.version).or_else(|| g.versions.first().map(|v| v.version.clone()));
        for v in g.versions {
            let is_pref = preferred.as_deref() == Some(v.version.as_str());
            gvs.push((g.name.clone(), v.version, is_pref));
        }
    }
    let results: Vec<_> = futures::stream::iter(gvs)
        .map(|(group, version, preferred)| async move {
            let path = if group.is_empty() { format!("/api/{version}") } else { format!("/apis/{group}/{version}") };
            let res = api.get(&path, JSON, deadline).await;
            (group, version, preferred, res)
        })
        .buffered(concurrency.max(1))
        .collect()
        .await;
    for (group, version, preferred, res) in results {
        let reason = match res {
            Ok(body) => match serde_json::from_slice::<ApiResourceList>(&body) {
                Ok(list) => {
                    for r in list.resources {
                        if !listable(&r.name, &r.verbs) {
                            continue;
                        }
                        let ty = ApiType {
                            group: group.clone(),
                            version: version.clone(),
                            resource: r.name,
                            kind: r.kind,
                            namespaced: r.namespaced,
                        };
                        if preferred {
                            out.preferred.push(ty.clone());
                        }
                        out.served.push(ty);
                    }
                    continue;
                }
                Err(e) => IncompleteReason::Decode(format!("discovery document: {e}")),
            },
            Err(Failure::Auth(m)) => return Err(Failure::Auth(m)),
            Err(Failure::Gone) => IncompleteReason::ServerError { status: 410, message: "gone".into() },
            Err(Failure::Incomplete(r)) => r,
        };
        if preferred && !skip_group(&group) {
            out.failed.push((TypeRef { group, version, resource: None, kind: None }, reason));
        }
    }
    Ok(())
}
