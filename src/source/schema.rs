//! Reads the field semantics of the types about to be listed from the server's OpenAPI v3
//! documents: the `/openapi/v3` index, then one document per group-version actually read (CRD
//! group-versions included: the server publishes each CRD's structural schema there, with its
//! `x-kubernetes-*` markers). Fail-closed: a document that cannot be read or parsed is recorded
//! as unavailable, its kinds are compared conservatively and the report says so.

use std::collections::{BTreeMap, HashSet};

use futures::StreamExt;
use serde_json::Value;
use tokio::time::Instant;

use super::http::{ApiClient, Failure, decode_json};
use crate::model::ApiType;
use crate::schema::{SchemaRecord, Unavailable, kinds_of_document};

/// What reading the schemas cost, for `RUST_LOG=info` and the benchmark.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FetchStats {
    pub documents: usize,
    pub bytes: u64,
    pub millis: u128,
}

fn describe(f: &Failure) -> String {
    match f {
        Failure::Gone => "410 gone".into(),
        Failure::Auth(m) => m.clone(),
        Failure::Incomplete(r) => r.to_string(),
    }
}

/// The index key of a group-version: `api/v1`, `apis/apps/v1`.
fn index_key(group: &str, version: &str) -> String {
    if group.is_empty() { format!("api/{version}") } else { format!("apis/{group}/{version}") }
}

/// Where the index says a group-version's document is.
fn document_url(index: &Value, group: &str, version: &str) -> Option<String> {
    index
        .get("paths")
        .and_then(|p| p.get(index_key(group, version)))
        .and_then(|e| e.get("serverRelativeURL"))
        .and_then(Value::as_str)
        .map(str::to_string)
}

/// Records the schemas of `kinds` that a group-version's document holds, and the kinds it
/// lacks as unavailable.
fn add_document(record: &mut SchemaRecord, doc: &Value, group: &str, version: &str, kinds: &HashSet<String>) {
    let found = kinds_of_document(doc, group, version, kinds);
    let mut missing: Vec<&String> = kinds.iter().filter(|k| !found.iter().any(|f| &f.kind == *k)).collect();
    missing.sort();
    if !missing.is_empty() {
        let names: Vec<&str> = missing.iter().map(|s| s.as_str()).collect();
        record.unavailable.push(Unavailable {
            group: group.to_string(),
            version: version.to_string(),
            message: format!("no schema for {}", names.join(", ")),
        });
    }
    record.kinds.extend(found);
}

/// Reads the schemas of `types` (grouped by group-version) under `deadline`, at most
/// `concurrency` documents at a time.
pub async fn fetch(
    api: &ApiClient,
    types: &[ApiType],
    deadline: Instant,
    concurrency: usize,
) -> (SchemaRecord, FetchStats) {
    let started = std::time::Instant::now();
    let mut wanted: BTreeMap<(String, String), HashSet<String>> = BTreeMap::new();
    for t in types {
        wanted.entry((t.group.clone(), t.version.clone())).or_default().insert(t.kind.clone());
    }
    let mut record = SchemaRecord::default();
    let mut stats = FetchStats::default();
    if wanted.is_empty() {
        return (record, stats);
    }
    let unavailable_all = |record: &mut SchemaRecord, message: String| {
        for (group, version) in wanted.keys() {
            record.unavailable.push(Unavailable {
                group: group.clone(),
                version: version.clone(),
                message: message.clone(),
            });
        }
    };
    // Each document is parsed once: the decode is the JSON check (its size kept for the stats).
    let as_json = |ct: String, body: bytes::Bytes| {
        std::future::ready(decode_json::<Value>(&ct, &body).map(|v| (v, body.len() as u64)))
    };
    let index: Value = match api.get_decoded("/openapi/v3", "application/json", deadline, as_json).await {
        Ok((v, bytes)) => {
            stats.bytes += bytes;
            stats.documents += 1;
            v
        }
        Err(f) => {
            unavailable_all(&mut record, format!("/openapi/v3: {}", describe(&f)));
            return (record, stats);
        }
    };
    let results: Vec<_> = futures::stream::iter(wanted.iter())
        .map(|((group, version), kinds)| {
            let url = document_url(&index, group, version);
            async move {
                let Some(url) = url else {
                    return (group, version, kinds, Err("not published in /openapi/v3".to_string()));
                };
                let doc = api.get_decoded(&url, "application/json", deadline, as_json).await.map_err(|f| describe(&f));
                (group, version, kinds, doc)
            }
        })
        .buffer_unordered(concurrency.max(1))
        .collect()
        .await;
    for (group, version, kinds, body) in results {
        match body {
            Ok((doc, bytes)) => {
                stats.documents += 1;
                stats.bytes += bytes;
                add_document(&mut record, &doc, group, version, kinds);
            }
            Err(message) => {
                record.unavailable.push(Unavailable { group: group.clone(), version: version.clone(), message })
            }
        }
    }
    record.kinds.sort_by(|a, b| (&a.group, &a.kind).cmp(&(&b.group, &b.kind)));
    record.unavailable.sort();
    stats.millis = started.elapsed().as_millis();
    tracing::info!(
        documents = stats.documents,
        bytes = stats.bytes,
        millis = stats.millis as u64,
        kinds = record.kinds.len(),
        "read the OpenAPI v3 schemas"
    );
    (record, stats)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_versions_are_found_under_their_index_keys() {
        assert_eq!(index_key("", "v1"), "api/v1");
        assert_eq!(index_key("apps", "v1"), "apis/apps/v1");
    }
}
