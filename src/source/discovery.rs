//! Discovers every listable resource type: aggregated discovery (one request each for `/api`
//! and `/apis`) where served, per-group discovery otherwise. A failing or `Stale` group-version
//! becomes an incomplete entry with its reason; it never aborts the run and is never dropped.
//!
//! Every served resource is read once, as `kubectl api-resources` lists it: in its group's
//! preferred version where that version serves it, otherwise in the best version that does
//! (GA over beta over alpha, newest first). A group's preferred version does not serve every
//! resource of the group (Gateway API's ReferenceGrant in v1beta1 beside v1 routes, an operator's
//! alpha kind beside its v1 ones): reading only the preferred version would never see them.

use futures::StreamExt;
use kube::core::discovery::v2::{ACCEPT_AGGREGATED_DISCOVERY_V2, APIGroupDiscovery, APIGroupDiscoveryList};
use serde::Deserialize;
use tokio::time::Instant;

use super::http::{ApiClient, Failure};
use crate::model::{ApiType, IncompleteReason, TypeRef};

const JSON: &str = "application/json";

/// What discovery found.
#[derive(Debug, Default)]
pub struct Discovered {
    /// Every listable resource once, in the version it is read in by default: the group's
    /// preferred version where it serves the resource, else the best version that does.
    pub preferred: Vec<ApiType>,
    /// Every listable type in every served version: for API differences.
    pub served: Vec<ApiType>,
    /// Group-versions that could not be discovered, with why.
    pub failed: Vec<(TypeRef, IncompleteReason)>,
}

// --- aggregated discovery (apidiscovery.k8s.io/v2) ---------------------------------------------
// kube-core's v2 types; only the `kind` is read beside them, to tell an aggregated answer from a
// server that ignored the Accept header and sent the legacy document.

#[derive(Deserialize)]
struct GroupDiscoveryList {
    kind: Option<String>,
    #[serde(flatten)]
    list: APIGroupDiscoveryList,
}

// --- legacy per-group discovery ----------------------------------------------------------------
// Declared here rather than taken from k8s-openapi: its `APIResource` and `APIVersions` require
// fields (`singularName`, `serverAddressByClientCIDRs`) that older and aggregated servers omit,
// and one missing field would leave a whole group-version unread. Only what is used is decoded.

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
    // v2, then v2beta1 (same shape, servers 1.26 to 1.29), then the legacy document.
    let core = api.get("/api", ACCEPT_AGGREGATED_DISCOVERY_V2, deadline).await?;
    let groups = api.get("/apis", ACCEPT_AGGREGATED_DISCOVERY_V2, deadline).await?;
    let aggregated = |b: &[u8]| -> Option<GroupDiscoveryList> {
        serde_json::from_slice::<GroupDiscoveryList>(b)
            .ok()
            .filter(|l| l.kind.as_deref() == Some("APIGroupDiscoveryList"))
    };
    let mut out = Discovered::default();
    match (aggregated(&core), aggregated(&groups)) {
        (Some(core), Some(groups)) => {
            for g in core.list.items.into_iter().chain(groups.list.items) {
                add_aggregated_group(g, skip_group, &mut out);
            }
        }
        _ => legacy(api, &core, &groups, deadline, concurrency, skip_group, &mut out).await?,
    }
    Ok(out)
}

fn add_aggregated_group(g: APIGroupDiscovery, skip_group: &(dyn Fn(&str) -> bool + Sync), out: &mut Discovered) {
    let group = g.metadata.and_then(|m| m.name).unwrap_or_default();
    let mut group_types = Vec::new();
    // Aggregated discovery lists a group's versions in preference order: the first is preferred.
    let preferred_version = g.versions.first().map(|v| v.version.clone().unwrap_or_default());
    // A group-version that may serve resources nobody can see is unread, unless the rules
    // exclude its whole group.
    let mut unread = |version: &str, reason: IncompleteReason| {
        if !skip_group(&group) {
            let type_ref = TypeRef { group: group.clone(), version: version.to_string(), resource: None, kind: None };
            out.failed.push((type_ref, reason));
        }
    };
    for v in g.versions {
        let version = v.version.unwrap_or_default();
        if v.freshness.as_deref() == Some("Stale") {
            // Any stale version may serve resources no other version does: unknown, so unread.
            unread(
                &version,
                IncompleteReason::Unavailable(
                    "aggregated discovery marks this group-version Stale: its API service is not answering".into(),
                ),
            );
            continue;
        }
        for r in v.resources {
            let resource = r.resource.unwrap_or_default();
            if resource.is_empty() && r.verbs.iter().any(|v| v == "list") {
                // A listable resource without a name cannot be read: unread, never dropped.
                unread(
                    &version,
                    IncompleteReason::Decode("aggregated discovery lists a resource without a name".into()),
                );
                continue;
            }
            if !listable(&resource, &r.verbs) {
                continue;
            }
            let ty = ApiType {
                group: group.clone(),
                version: version.clone(),
                kind: r.response_kind.and_then(|k| k.kind).unwrap_or_default(),
                resource,
                namespaced: r.scope.as_deref() == Some("Namespaced"),
            };
            group_types.push(ty);
        }
    }
    out.preferred.extend(read_versions(&group_types, preferred_version.as_deref()));
    out.served.extend(group_types);
}

/// Kubernetes' version priority (`k8s.io/apimachinery` `CompareKubeAwareVersionStrings`): GA
/// over beta over alpha, higher numbers first; versions outside that pattern last, by name.
pub(crate) fn version_rank(v: &str) -> (u8, u64, u64, std::cmp::Reverse<String>) {
    let parse = |s: &str| -> Option<(u8, u64, u64)> {
        let rest = s.strip_prefix('v')?;
        let digits = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
        let major: u64 = rest[..digits].parse().ok()?;
        let tail = &rest[digits..];
        if tail.is_empty() {
            return Some((3, major, 0));
        }
        let (level, n) = if let Some(n) = tail.strip_prefix("beta") {
            (2, n)
        } else if let Some(n) = tail.strip_prefix("alpha") {
            (1, n)
        } else {
            return None;
        };
        Some((level, major, n.parse().ok()?))
    };
    match parse(v) {
        Some((level, major, minor)) => (level, major, minor, std::cmp::Reverse(String::new())),
        None => (0, 0, 0, std::cmp::Reverse(v.to_string())),
    }
}

/// Each resource of one group once: in `preferred` where that version serves it, otherwise in
/// the highest-priority version that does.
fn read_versions(group_types: &[ApiType], preferred: Option<&str>) -> Vec<ApiType> {
    let mut best: std::collections::BTreeMap<&str, &ApiType> = std::collections::BTreeMap::new();
    for t in group_types {
        let better = |cur: &ApiType| {
            let is_pref = |x: &ApiType| Some(x.version.as_str()) == preferred;
            (is_pref(t), version_rank(&t.version)) > (is_pref(cur), version_rank(&cur.version))
        };
        match best.get(t.resource.as_str()) {
            Some(cur) if !better(cur) => {}
            _ => {
                best.insert(&t.resource, t);
            }
        }
    }
    // Preferred-version types first, in discovery order, as before; then the others.
    let mut out: Vec<ApiType> = group_types
        .iter()
        .filter(|t| best.get(t.resource.as_str()).is_some_and(|b| std::ptr::eq(*b, *t)))
        .cloned()
        .collect();
    out.sort_by_key(|t| Some(t.version.as_str()) != preferred);
    out
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
    let mut preferred_of: std::collections::HashMap<String, String> = std::collections::HashMap::new();
    for (i, v) in core.versions.into_iter().enumerate() {
        if i == 0 {
            preferred_of.insert(String::new(), v.clone());
        }
        gvs.push((String::new(), v, i == 0));
    }
    for g in groups.groups {
        let preferred =
            g.preferred_version.map(|p| p.version).or_else(|| g.versions.first().map(|v| v.version.clone()));
        if let Some(p) = &preferred {
            preferred_of.insert(g.name.clone(), p.clone());
        }
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
    let mut by_group: std::collections::BTreeMap<String, Vec<ApiType>> = std::collections::BTreeMap::new();
    for (group, version, _preferred, res) in results {
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
                        by_group.entry(group.clone()).or_default().push(ty);
                    }
                    continue;
                }
                Err(e) => IncompleteReason::Decode(format!("discovery document: {e}")),
            },
            Err(Failure::Auth(m)) => return Err(Failure::Auth(m)),
            Err(Failure::Gone) => IncompleteReason::ServerError { status: 410, message: "gone".into() },
            Err(Failure::Incomplete(r)) => r,
        };
        // Any version may serve resources no other version does: a failed one is unread.
        if !skip_group(&group) {
            out.failed.push((TypeRef { group, version, resource: None, kind: None }, reason));
        }
    }
    for (group, types) in by_group {
        out.preferred.extend(read_versions(&types, preferred_of.get(&group).map(String::as_str)));
        out.served.extend(types);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ty(version: &str, resource: &str) -> ApiType {
        ApiType {
            group: "x.io".into(),
            version: version.into(),
            resource: resource.into(),
            kind: resource.into(),
            namespaced: true,
        }
    }

    fn check(served: &[(&str, &str)], preferred: &str, expected: &[&str]) {
        let types: Vec<ApiType> = served.iter().map(|(v, r)| ty(v, r)).collect();
        let got: Vec<String> =
            read_versions(&types, Some(preferred)).iter().map(|t| format!("{}/{}", t.version, t.resource)).collect();
        assert_eq!(got, expected);
    }

    #[test]
    fn every_resource_is_read_once_in_the_preferred_version_else_the_best_serving_one() {
        // ReferenceGrant-like: the group prefers v1, one resource exists only in v1beta1.
        check(
            &[("v1", "routes"), ("v1beta1", "routes"), ("v1beta1", "grants")],
            "v1",
            &["v1/routes", "v1beta1/grants"],
        );
        // GA over beta over alpha, newest first, whatever the discovery order.
        check(
            &[("v1alpha1", "a"), ("v1beta1", "a"), ("v1alpha2", "b"), ("v1alpha1", "b"), ("v2beta1", "c"), ("v1", "c")],
            "v9",
            &["v1beta1/a", "v1alpha2/b", "v1/c"],
        );
        // The preferred version wins even over a higher-priority one.
        check(&[("v2", "a"), ("v1", "a")], "v1", &["v1/a"]);
        // Versions outside Kubernetes' pattern rank last.
        check(&[("foo", "a"), ("v1alpha1", "a")], "v1", &["v1alpha1/a"]);
    }

    #[test]
    fn an_aggregated_document_yields_listable_types_and_unread_versions() {
        let doc: GroupDiscoveryList = serde_json::from_value(serde_json::json!({
            "kind": "APIGroupDiscoveryList",
            "apiVersion": "apidiscovery.k8s.io/v2",
            "items": [{
                "metadata": {"name": "x.io"},
                "versions": [
                    {"version": "v1", "resources": [
                        {"resource": "widgets", "responseKind": {"group": "x.io", "version": "v1", "kind": "Widget"},
                         "scope": "Namespaced", "verbs": ["get", "list", "watch"]},
                        {"resource": "widgets/status", "verbs": ["get", "list"]},
                        {"resource": "reviews", "scope": "Cluster", "verbs": ["create"]},
                        {"verbs": ["list"]}
                    ]},
                    {"version": "v1beta1", "freshness": "Stale", "resources": []}
                ]
            }]
        }))
        .unwrap();
        assert_eq!(doc.kind.as_deref(), Some("APIGroupDiscoveryList"));
        let mut out = Discovered::default();
        for g in doc.list.items {
            add_aggregated_group(g, &|_| false, &mut out);
        }
        let read: Vec<String> = out.preferred.iter().map(|t| format!("{t} {} {}", t.kind, t.namespaced)).collect();
        assert_eq!(read, ["x.io/v1 widgets Widget true"]);
        let failed: Vec<(String, &str)> =
            out.failed.iter().map(|(t, r)| (format!("{}/{}", t.group, t.version), r.code())).collect();
        assert_eq!(failed, [("x.io/v1".to_string(), "decode"), ("x.io/v1beta1".to_string(), "unavailable")]);
        // A group the rules exclude is not held against the verdict.
        let mut skipped = Discovered::default();
        let doc: GroupDiscoveryList = serde_json::from_value(serde_json::json!({"items": [{
            "metadata": {"name": "metrics.k8s.io"},
            "versions": [{"version": "v1beta1", "freshness": "Stale"}]
        }]}))
        .unwrap();
        for g in doc.list.items {
            add_aggregated_group(g, &|g| g == "metrics.k8s.io", &mut skipped);
        }
        assert!(skipped.failed.is_empty() && skipped.preferred.is_empty());
    }

    #[test]
    fn version_priority_follows_kubernetes() {
        let mut v =
            vec!["v1alpha1", "v11alpha2", "foo10", "v10", "v2", "v1", "v10beta3", "v3beta1", "v12alpha1", "foo1"];
        v.sort_by_key(|s| std::cmp::Reverse(version_rank(s)));
        assert_eq!(
            v,
            ["v10", "v2", "v1", "v10beta3", "v3beta1", "v12alpha1", "v11alpha2", "v1alpha1", "foo1", "foo10"]
        );
    }
}
