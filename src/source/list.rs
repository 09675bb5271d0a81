//! Lists one resource type completely: pages of `limit` objects following `continue` tokens, the
//! first page without resourceVersion (a consistent read), and on 410 Gone a relist from the
//! start, a bounded number of times. Secret values are digested before a page leaves here.

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
    #[serde(default)]
    items: Option<Vec<Value>>,
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

/// Lists `ty` (within `filter`) into the sink; returns the number of objects read.
pub async fn list_type(
    cx: &ListContext<'_>,
    ty: &ApiType,
    filter: &ListFilter,
    deadline: Instant,
) -> Result<usize, Failure> {
    let is_secret = ty.group.is_empty() && ty.kind == "Secret";
    let mut relists = 0;
    'relist: loop {
        let mut count = 0usize;
        let mut token: Option<String> = None;
        loop {
            let url = list_url(ty, filter, cx.page_size, token.as_deref());
            let body = match cx.api.get(&url, "application/json", deadline).await {
                Ok(b) => b,
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
            };
            let page: ListPage = match serde_json::from_slice(&body) {
                Ok(p) => p,
                Err(e) => {
                    return Err(Failure::Incomplete(IncompleteReason::Decode(format!(
                        "{} is not a Kubernetes list: {e}",
                        ty.list_path(filter.namespace.as_deref())
                    ))));
                }
            };
            let mut items = page.items.unwrap_or_default();
            if is_secret {
                for item in &mut items {
                    // A Helm release is split into its parts before its values are digested.
                    crate::helm_release::expand(item);
                    digest_secret(item, cx.secret_key);
                }
            }
            let is_service = ty.group.is_empty() && ty.kind == "Service";
            for item in &mut items {
                if is_service {
                    crate::normalize::record_explicit_allocations(item);
                }
                strip_managed_fields(item);
            }
            count += items.len();
            (cx.on_objects)(items.len());
            cx.sink.page(ty, items);
            match page.metadata.continue_token.filter(|t| !t.is_empty()) {
                Some(t) => token = Some(t),
                None => return Ok(count),
            }
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
}
