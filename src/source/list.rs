//! Lists one resource type completely: pages of `limit` objects following `continue` tokens, the
//! first page without resourceVersion (a consistent read), and on 410 Gone a relist from the
//! start, a bounded number of times. Secret values are digested before a page leaves here.
//!
//! A type read in several parts (one per `-n` namespace) is one unit: a relist forgets what the
//! sink received for the type, so it rereads every part, never only the one that failed.

use serde::Deserialize;
use serde_json::Value;
use tokio::time::Instant;

use super::http::{ApiClient, Failure};
use crate::dump::Sink;
use crate::model::{ApiType, IncompleteReason};
use crate::secrets::{SecretKey, digest_secret};

/// How many times a type is relisted from scratch after its continue token expired.
pub const MAX_RELISTS: u32 = 3;

#[derive(Deserialize)]
struct ListPage {
    #[serde(default)]
    metadata: ListMeta,
    /// `None` when the answer has no `items` at all: not a list. `Some(None)`: `"items": null`,
    /// which a Go server writes for an empty list held as a nil slice.
    #[serde(default, deserialize_with = "present")]
    items: Option<Option<Vec<Value>>>,
}

/// Distinguishes a field that is present (even as null) from an absent one.
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<Vec<Value>>>, D::Error> {
    Option::<Vec<Value>>::deserialize(d).map(Some)
}

/// Decodes one page: a Kubernetes list has `items`; anything else (a `Status` with 200, an
/// object, `{}`) is a decode failure, never an empty list.
fn parse_page(body: &[u8]) -> Result<(Vec<Value>, Option<String>), String> {
    let page: ListPage = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    let Some(items) = page.items else {
        return Err("the answer has no `items`".into());
    };
    Ok((items.unwrap_or_default(), page.metadata.continue_token.filter(|t| !t.is_empty())))
}

#[derive(Deserialize, Default)]
struct ListMeta {
    #[serde(default, rename = "continue")]
    continue_token: Option<String>,
}

/// Server-side filters of a list request.
#[derive(Debug, Clone, Default)]
pub struct ListFilter {
    pub namespace: Option<String>,
    pub label_selector: Option<String>,
    pub field_selector: Option<String>,
}

/// Everything one type listing needs besides the type itself.
pub struct ListContext<'a> {
    pub api: &'a ApiClient,
    pub page_size: u32,
    pub secret_key: &'a SecretKey,
    pub sink: &'a dyn Sink,
    /// Called with the number of objects in each page, for progress.
    pub on_objects: &'a (dyn Fn(usize) + Sync),
}

/// Lists `ty` into the sink, one part per filter (e.g. one per namespace), and returns the number
/// of objects read. On 410 Gone anywhere the whole type is relisted: the sink is told to forget
/// the type and every part is read again, so no part read before the 410 is lost.
pub async fn list_type(
    cx: &ListContext<'_>,
    ty: &ApiType,
    filters: &[ListFilter],
    deadline: Instant,
) -> Result<usize, Failure> {
    let mut relists = 0;
    'relist: loop {
        let mut count = 0usize;
        for filter in filters {
            match list_part(cx, ty, filter, deadline).await {
                Ok(n) => count += n,
                Err(Failure::Gone) => {
                    relists += 1;
                    if relists > MAX_RELISTS {
                        return Err(Failure::Incomplete(IncompleteReason::Gone { relists: MAX_RELISTS }));
                    }
                    tracing::debug!(%ty, relists, "410 Gone: relisting from the start");
                    cx.sink.restart(ty);
                    continue 'relist;
                }
                Err(e) => return Err(e),
            }
        }
        return Ok(count);
    }
}

/// One part of a type (one filter), page by page; 410 Gone is returned to the caller.
async fn list_part(
    cx: &ListContext<'_>,
    ty: &ApiType,
    filter: &ListFilter,
    deadline: Instant,
) -> Result<usize, Failure> {
    let is_secret = ty.group.is_empty() && ty.kind == "Secret";
    let mut count = 0usize;
    let mut token: Option<String> = None;
    loop {
        let url = list_url(ty, filter, cx.page_size, token.as_deref());
        let body = cx.api.get(&url, "application/json", deadline).await?;
        let (mut items, next) = parse_page(&body).map_err(|e| {
            Failure::Incomplete(IncompleteReason::Decode(format!(
                "{} is not a Kubernetes list: {e}",
                ty.list_path(filter.namespace.as_deref())
            )))
        })?;
        if is_secret {
            for item in &mut items {
                digest_secret(item, cx.secret_key);
            }
        }
        for item in &mut items {
            strip_managed_fields(item);
        }
        count += items.len();
        (cx.on_objects)(items.len());
        cx.sink.page(ty, items);
        match next {
            Some(t) => token = Some(t),
            None => return Ok(count),
        }
    }
}

/// managedFields are large, differ on every server, and are never compared: drop them at once.
fn strip_managed_fields(item: &mut Value) {
    if let Some(Value::Object(meta)) = item.get_mut("metadata") {
        meta.remove("managedFields");
    }
}

fn list_url(ty: &ApiType, filter: &ListFilter, limit: u32, token: Option<&str>) -> String {
    let mut url = format!("{}?limit={limit}", ty.list_path(filter.namespace.as_deref()));
    if let Some(sel) = &filter.label_selector {
        url.push_str("&labelSelector=");
        url.push_str(&encode(sel));
    }
    if let Some(sel) = &filter.field_selector {
        url.push_str("&fieldSelector=");
        url.push_str(&encode(sel));
    }
    if let Some(t) = token {
        url.push_str("&continue=");
        url.push_str(&encode(t));
    }
    url
}

/// Percent-encodes a query value (RFC 3986 unreserved characters pass through).
fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_urls_carry_filters_and_tokens() {
        let ty = ApiType {
            group: "apps".into(),
            version: "v1".into(),
            resource: "deployments".into(),
            kind: "Deployment".into(),
            namespaced: true,
        };
        let f = ListFilter {
            namespace: Some("shop".into()),
            label_selector: Some("app in (a,b)".into()),
            field_selector: None,
        };
        assert_eq!(
            list_url(&ty, &f, 500, Some("abc=/+")),
            "/apis/apps/v1/namespaces/shop/deployments?limit=500&labelSelector=app%20in%20%28a%2Cb%29&continue=abc%3D%2F%2B"
        );
    }

    #[test]
    fn an_answer_without_items_is_not_an_empty_list() {
        let ok = |b: &str| parse_page(b.as_bytes()).map(|(items, next)| (items.len(), next));
        assert_eq!(
            ok(r#"{"kind":"ConfigMapList","items":[{"a":1}],"metadata":{"continue":"t"}}"#),
            Ok((1, Some("t".into())))
        );
        assert_eq!(ok(r#"{"kind":"ConfigMapList","items":[],"metadata":{"continue":""}}"#), Ok((0, None)));
        assert_eq!(ok(r#"{"kind":"List","items":null,"metadata":{}}"#), Ok((0, None)));
        for not_a_list in [
            r#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Success"}"#,
            r#"{}"#,
            r#"{"kind":"ConfigMap","metadata":{"name":"x"},"data":{}}"#,
        ] {
            assert!(ok(not_a_list).is_err(), "{not_a_list}");
        }
        assert!(ok("[]").is_err());
        assert!(ok("<html>").is_err());
    }
}
