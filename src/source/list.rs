//! Lists one resource type completely: pages of `limit` objects following `continue` tokens, the
//! first page without resourceVersion (a consistent read), and on 410 Gone a relist from the
//! start, a bounded number of times. Before a page leaves here, Secret values and annotations are
//! digested and the fields of users' `digest` rules too: no later stage holds them in clear.
//!
//! A type read in several parts (one per `-n` namespace) is one unit: a relist forgets what the
//! sink received for the type, so it rereads every part, never only the one that failed.
//!
//! Where the server serves it, a large type is read as a watch-list stream (`watch_list`): one
//! request per part instead of one per page, at a resourceVersion the server names. With
//! `--list-method auto` a type's first page says whether it is large (`remainingItemCount`).
//! A stream that does not complete is forgotten whole and the type is read with paged lists, so
//! every fault ends in the paged path's retries and reasons.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};

use futures::FutureExt;
use tokio::sync::oneshot;

use kube::core::Request;
use kube::core::params::{ListParams, WatchParams};
use serde::Deserialize;
use serde_json::Value;
use tokio::time::Instant;

use super::ListMethod;
use super::http::{ApiClient, Decoded, Failure, decode_json};
use super::watch_list::{self, Abandoned, Lines};
use crate::cpu::{Cpu, Job};
use crate::dump::{ReadObject, Sink, key_of};
use crate::model::{ApiType, IncompleteReason};
use crate::rules::RuleSet;
use crate::secrets::{SecretKey, digest_field, digest_secret, digest_secret_metadata};

/// How many times a type is relisted from scratch after its continue token expired.
pub const MAX_RELISTS: u32 = 3;

#[derive(Deserialize)]
struct ListPage {
    #[serde(default)]
    metadata: ListMeta,
    /// `None` when the answer has no `items` at all: not a list. `Some(None)`: `"items": null`,
    /// which a Go server writes for an empty list held as a nil slice.
    #[serde(default, deserialize_with = "present")]
    items: Option<Option<Vec<ReadObject>>>,
}

/// Distinguishes a field that is present (even as null) from an absent one.
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<Vec<ReadObject>>>, D::Error> {
    Option::<Vec<ReadObject>>::deserialize(d).map(Some)
}

/// Decodes one page's body (as `list_part` does, in one pass with the JSON check).
#[cfg(test)]
fn parse_page(body: &[u8]) -> Result<Page, String> {
    page_of(serde_json::from_slice(body).map_err(|e| e.to_string())?)
}

/// A decoded answer as a page: a Kubernetes list has `items`; anything else (a `Status` with
/// 200, an object, `{}`) is a decode failure, never an empty list.
fn page_of(page: ListPage) -> Result<Page, String> {
    let Some(items) = page.items else {
        return Err("the answer has no `items`".into());
    };
    Ok(Page {
        items: items.unwrap_or_default(),
        next: page.metadata.continue_token.filter(|t| !t.is_empty()),
        resource_version: page.metadata.resource_version.filter(|v| !v.is_empty()),
        // Only a hint for choosing how to read: a value that is not a count is no count.
        remaining: page.metadata.remaining_item_count.as_ref().and_then(Value::as_u64),
    })
}

/// One decoded page of a list.
struct Page {
    items: Vec<ReadObject>,
    next: Option<String>,
    resource_version: Option<String>,
    /// How many more objects the server says the list holds (`remainingItemCount`): set only on
    /// a page followed by more, and only when the list has no selector.
    remaining: Option<u64>,
}

#[derive(Deserialize, Default)]
struct ListMeta {
    #[serde(default, rename = "continue")]
    continue_token: Option<String>,
    #[serde(default, rename = "resourceVersion")]
    resource_version: Option<String>,
    #[serde(default, rename = "remainingItemCount")]
    remaining_item_count: Option<Value>,
}

/// What reading one type gave: how many objects the filters admitted, and the resourceVersion
/// the list was served at when the type was read as one list. Every page of a paged list is
/// served at its first page's resourceVersion (the continue token carries it), so that one
/// value names a consistent point; a type read in parts (one per `-n` namespace) has none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    pub objects: usize,
    pub read_at: Option<String>,
}

/// Server-side filters of a list request.
#[derive(Debug, Clone, Default)]
pub struct ListFilter {
    pub namespace: Option<String>,
    pub label_selector: Option<String>,
    pub field_selector: Option<String>,
}

/// `--list-method auto` streams a type whose first page says it holds more than this many pages
/// (`remainingItemCount`), and pages on through a smaller one. The first page of a streamed type
/// is dropped (the stream reads the type at a later point), a small cost beside the pages saved.
pub const STREAM_ABOVE_PAGES: u64 = 8;

/// The first page `auto` asks for: small, so that a type it streams wastes little (the page is
/// dropped, and the stream starts only once it is in), while most types (a few dozen objects)
/// are still read whole in it; a type larger than this goes on from its continue token in pages
/// of `--page-size`.
pub const PROBE_PAGE: u32 = 50;

/// How a side's types are read: the method asked for, and whether the server refused streams.
/// A server without the WatchList feature refuses the parameters (422 Invalid, 400 Bad
/// Request) for every type alike, so the first refusal turns streams off for the whole side.
/// A refusal of one type (403 for `watch` where RBAC grants only `list`, 405 where an
/// aggregated API serves no watch) falls back for that type only.
#[derive(Debug)]
pub struct WatchListUse {
    method: ListMethod,
    refused: AtomicBool,
}

impl WatchListUse {
    pub fn new(method: ListMethod) -> Self {
        WatchListUse { method, refused: AtomicBool::new(false) }
    }

    /// How the next type is read: streams are asked for only while the server has not refused
    /// them.
    fn method(&self) -> ListMethod {
        if self.refused.load(Ordering::Relaxed) { ListMethod::Pages } else { self.method }
    }

    /// Whether the server refused watch-list streams for the side (read with paged lists).
    pub fn refused(&self) -> bool {
        self.refused.load(Ordering::Relaxed)
    }
}

/// What turns a page as read into a page as the sink keeps it, on the CPU pool: the filters,
/// the digests and the sink's own preparation. Borrowed for the whole read (`'env`), as a job
/// on the pool needs.
pub struct Delivery<'env, S> {
    pub sink: &'env S,
    /// The rules whose `digest` actions apply as objects are read.
    pub rules: &'env RuleSet,
    /// Applied to every object as well as sent to the server: a server (or proxy) that ignores
    /// a selector cannot widen what is compared.
    pub filters: &'env super::Filters,
    pub secret_key: &'env SecretKey,
}

impl<S> Clone for Delivery<'_, S> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<S> Copy for Delivery<'_, S> {}

impl<S: Sink> Delivery<'_, S> {
    /// Makes a page as read what the sink keeps: the filters first, then Secret values and
    /// `digest` rule fields digested (a Helm release split into its parts first), explicit
    /// Service allocations recorded from the attribution record, and the sink's preparation.
    /// (managedFields never entered the objects: the decoder made them the attribution record,
    /// `source::object`.) Returns how many objects the filters admitted, and the page.
    fn prepare(self, ty: &ApiType, mut items: Vec<ReadObject>) -> Prepared<S::Prepared> {
        // Secrets by resource, whatever kind the server reports (`ApiType::is_secret`).
        let is_secret = ty.is_secret();
        let is_service = ty.group.is_empty() && ty.kind == "Service";
        items.retain(|item| self.filters.admits(ty, &item.object));
        for ReadObject { object: item, attribution } in &mut items {
            if is_secret {
                // A Helm release is split into its parts before its values are digested.
                crate::helm_release::expand(item);
            }
            redact(ty, item, self.rules, self.secret_key);
            if is_service {
                let managers = attribution.as_ref().and_then(|a| a.to_value());
                let managers = managers.as_ref().and_then(Value::as_array).map_or(&[][..], Vec::as_slice);
                crate::normalize::record_explicit_allocations(item, managers);
            }
            strip_type_meta(item);
        }
        Prepared { admitted: items.len(), page: self.sink.prepare(ty, items) }
    }
}

/// A page prepared on the pool: how many objects the filters admitted, and what the sink keeps.
struct Prepared<P> {
    admitted: usize,
    page: P,
}

/// Everything one type listing needs besides the type itself.
pub struct ListContext<'a, 'env, S> {
    pub api: &'a ApiClient,
    pub page_size: u32,
    /// How types are read, and whether the server refused streams.
    pub watch_list: &'a WatchListUse,
    pub delivery: Delivery<'env, S>,
    /// Where parsing and `delivery` run.
    pub cpu: &'a Cpu<'a, 'env>,
    /// The objects kept so far, for the progress display.
    pub counted: &'a crate::progress::Counted<'a>,
}

impl<S: Sink> ListContext<'_, '_, S> {
    /// Forgets what the sink kept of `ty`: it is read again from the start.
    pub fn restart(&self, ty: &ApiType) {
        self.delivery.sink.restart(ty);
        self.counted.restart(ty);
    }

    /// Keeps a prepared page of `ty`; returns how many objects it holds.
    fn keep(&self, ty: &ApiType, prepared: Prepared<S::Prepared>) -> usize {
        self.delivery.sink.keep(ty, prepared.page);
        self.counted.kept(ty, prepared.admitted);
        prepared.admitted
    }
}

/// Why reading one part of a type stopped short.
enum PartError {
    /// A stream did not complete: the type is read again, with paged lists.
    Abandoned(Abandoned),
    /// A page failed (410 Gone included, which relists the type).
    Failed(Failure),
}

impl From<Failure> for PartError {
    fn from(f: Failure) -> Self {
        PartError::Failed(f)
    }
}

/// Lists `ty` into the sink, one part per filter (e.g. one per namespace), and returns the number
/// of objects read. Whatever made the read start over (410 Gone on a page, a stream that did not
/// complete), the sink is told to forget the type and every part is read again, so no part read
/// before is lost or counted twice; after a stream failed, the type is read with pages only.
/// A part keeps its pages itself, in the order read, and none after it returned: a restart is
/// never overtaken by a page prepared before it.
pub async fn list_type<S: Sink>(
    cx: &ListContext<'_, '_, S>,
    ty: &ApiType,
    filters: &[ListFilter],
    deadline: Instant,
) -> Result<Listed, Failure> {
    let mut method = cx.watch_list.method();
    let mut relists = 0;
    'relist: loop {
        let mut count = 0usize;
        let mut read_at = None;
        for filter in filters {
            match read_part(cx, ty, filter, deadline, method).await {
                Ok((n, rv)) => {
                    count += n;
                    read_at = rv;
                }
                Err(PartError::Abandoned(Abandoned(why))) => {
                    tracing::debug!(%ty, why, "watch-list stream abandoned: reading with paged lists");
                    method = ListMethod::Pages;
                    cx.restart(ty);
                    continue 'relist;
                }
                Err(PartError::Failed(Failure::Gone)) => {
                    relists += 1;
                    if relists > MAX_RELISTS {
                        return Err(Failure::Incomplete(IncompleteReason::Gone { relists: MAX_RELISTS }));
                    }
                    tracing::debug!(%ty, relists, "410 Gone: relisting from the start");
                    cx.restart(ty);
                    continue 'relist;
                }
                Err(PartError::Failed(e)) => return Err(e),
            }
        }
        // Every page of a paged list is served at its first page's point, and a stream at its
        // bookmark's: one part has one point; several parts have none in common.
        let read_at = if filters.len() == 1 { read_at } else { None };
        return Ok(Listed { objects: count, read_at });
    }
}

/// One part of a type (one filter) by `method`: streamed, paged, or paged unless its first page
/// says it is large (`auto`). Returns the objects admitted and the point the part was read at.
async fn read_part<S: Sink>(
    cx: &ListContext<'_, '_, S>,
    ty: &ApiType,
    filter: &ListFilter,
    deadline: Instant,
    method: ListMethod,
) -> Result<(usize, Option<String>), PartError> {
    let stream_above = match method {
        ListMethod::Streams => return stream_part(cx, ty, filter, deadline).await.map_err(PartError::Abandoned),
        ListMethod::Pages => None,
        ListMethod::Auto => Some(STREAM_ABOVE_PAGES.saturating_mul(u64::from(cx.page_size))),
    };
    match list_part(cx, ty, filter, deadline, stream_above).await? {
        Part::Read(n, rv) => Ok((n, rv)),
        // The first page was not delivered: the stream reads the whole part at its own point.
        Part::Large => stream_part(cx, ty, filter, deadline).await.map_err(PartError::Abandoned),
    }
}

/// One part of a type as a watch-list stream, bounded by the type's deadline, and by the
/// request timeout only while nothing arrives: a large type streams as long as it flows.
async fn stream_part<S: Sink>(
    cx: &ListContext<'_, '_, S>,
    ty: &ApiType,
    filter: &ListFilter,
    deadline: Instant,
) -> Result<(usize, Option<String>), Abandoned> {
    let now = Instant::now();
    if now >= deadline {
        return Err(Abandoned("the type's deadline passed".into()));
    }
    let left = deadline - now;
    let url = stream_url(ty, filter, left.as_secs() + 1).map_err(Abandoned)?;
    tokio::time::timeout(left, stream_events(cx, ty, &url))
        .await
        .map_err(|_| Abandoned("the type's deadline passed while it streamed".into()))?
}

/// What the pool made of a batch of a stream's lines: the objects before the event that ends
/// the batch, prepared, and how the stream ends there (`watch_list::events`).
struct StreamBatch<P> {
    prepared: Prepared<P>,
    end: Option<Result<Option<String>, Abandoned>>,
}

/// One part of a type as a stream: its lines are handed to the pool in batches of up to a page
/// of events, each parsed and prepared there while the next arrives, and kept in order up to
/// the bookmark that ends the initial events. Returns the objects admitted and the bookmark's
/// resourceVersion.
async fn stream_events<S: Sink>(
    cx: &ListContext<'_, '_, S>,
    ty: &ApiType,
    url: &str,
) -> Result<(usize, Option<String>), Abandoned> {
    let idle = cx.api.request_timeout();
    let quiet = || Abandoned(format!("nothing arrived for {}s", idle.as_secs_f32()));
    let opened = tokio::time::timeout(idle, cx.api.open_stream(url, "application/json")).await.map_err(|_| quiet())?;
    let mut body = opened.map_err(|r| {
        if matches!(r.status, Some(400 | 422)) {
            cx.watch_list.refused.store(true, Ordering::Relaxed);
        }
        let status = r.status.map_or_else(|| "no answer".to_string(), |s| s.to_string());
        Abandoned(format!("{status}: {}", r.message))
    })?;
    tracing::debug!(resource = %ty.resource, encoding = ?body.encoding(), "streaming the initial events");
    // --max-response-bytes bounds the whole stream as it bounds a page (the body counts what it
    // decodes), and so the longest line: a larger type is paged, where it bounds each page.
    let mut lines = Lines::new(usize::try_from(cx.api.max_response_bytes()).unwrap_or(usize::MAX));
    let page = usize::try_from(cx.page_size).unwrap_or(500).max(1);
    let (mut batch, mut batched, mut count) = (Vec::new(), 0usize, 0usize);
    let mut jobs: VecDeque<Job<StreamBatch<S::Prepared>>> = VecDeque::new();
    let mut ended = false;
    loop {
        let next = tokio::select! {
            biased;
            done = async { jobs.front_mut().expect("awaited only while a job is out").await }, if !jobs.is_empty() => {
                jobs.pop_front();
                count += cx.keep(ty, done.prepared);
                match done.end {
                    Some(end) => return end.map(|rv| (count, rv)),
                    None if ended && jobs.is_empty() => return Err(ended_early(&lines)),
                    None => continue,
                }
            }
            next = tokio::time::timeout(idle, body.chunk()), if !ended && jobs.len() <= crate::cpu::threads() => next,
        };
        let chunk = next.map_err(|_| quiet())?.map_err(|e| Abandoned(format!("the stream {e}")))?;
        let last = match &chunk {
            Some(chunk) => {
                let from = batch.len();
                batched += lines.take(chunk, &mut batch)?;
                batched >= page || watch_list::may_end(&batch[from..])
            }
            None => {
                ended = true;
                true
            }
        };
        if ended && batched == 0 && jobs.is_empty() {
            return Err(ended_early(&lines));
        }
        if last && batched > 0 {
            let (lines_of, delivery, ty) = (std::mem::take(&mut batch), cx.delivery, ty.clone());
            batched = 0;
            jobs.push_back(
                cx.cpu
                    .run_bounded(move || {
                        let (objects, end) = watch_list::events(&lines_of);
                        StreamBatch { prepared: delivery.prepare(&ty, objects), end }
                    })
                    .await,
            );
        }
    }
}

/// Why a stream that ended before its bookmark did is abandoned.
fn ended_early(lines: &Lines) -> Abandoned {
    let at = if lines.has_partial() { "inside an event" } else { "before the initial events did" };
    Abandoned(format!("the stream ended {at}"))
}

/// What paging one part gave.
enum Part {
    /// Read whole: the objects admitted and the point of its first page.
    Read(usize, Option<String>),
    /// Its first page says it holds more objects than the caller wanted paged; nothing was
    /// delivered.
    Large,
}

/// One part of a type (one filter), page by page; 410 Gone is returned to the caller. With
/// `stream_above`, the first page is a small one (`PROBE_PAGE`), and a part it counts at more
/// objects than that (the page's items and its `remainingItemCount`) is left to a stream:
/// `Part::Large`. A server that does not count (a selector, or an older server) is paged on.
/// Each page is parsed on the pool, then prepared there while the next is fetched; the pages
/// are kept in order.
async fn list_part<S: Sink>(
    cx: &ListContext<'_, '_, S>,
    ty: &ApiType,
    filter: &ListFilter,
    deadline: Instant,
    stream_above: Option<u64>,
) -> Result<Part, Failure> {
    let mut count = 0usize;
    let mut token: Option<String> = None;
    let mut read_at: Option<String> = None;
    let mut jobs: VecDeque<Job<Option<Prepared<S::Prepared>>>> = VecDeque::new();
    let path = ty.list_path(filter.namespace.as_deref());
    loop {
        // A page size may change from one page to the next; the continue token keeps the point.
        let limit = match (token.is_none(), stream_above) {
            (true, Some(_)) => cx.page_size.min(PROBE_PAGE),
            _ => cx.page_size,
        };
        let url = list_url(ty, filter, limit, token.as_deref())
            .map_err(|e| Failure::Incomplete(IncompleteReason::Transport(e)))?;
        let probe = if token.is_none() { stream_above } else { None };
        // The body is parsed once, into the page, on the pool: the parse that proves it JSON is
        // the decode. Its objects are prepared by the same job, after it said what follows.
        let (head, job) = cx
            .api
            .get_decoded(&url, "application/json", deadline, |ct, body| {
                let (delivery, ty, path) = (cx.delivery, ty.clone(), path.clone());
                async move {
                    let (said, head) = oneshot::channel();
                    let job =
                        cx.cpu.run_bounded(move || read_page(delivery, &ty, &path, (&ct, &body), probe, said)).await;
                    head.await.expect("a page's job says what it read before it ends").map(|head| (head, job))
                }
            })
            .await?;
        if head.large {
            return Ok(Part::Large);
        }
        if read_at.is_none() {
            read_at = head.resource_version;
        }
        jobs.push_back(job);
        // Pages already prepared are kept now, the others while the next page is fetched; a
        // part holds at most as many prepared pages as the pool has threads.
        while let Some(done) = jobs.front_mut().and_then(|j| j.now_or_never()) {
            jobs.pop_front();
            count += done.map_or(0, |p| cx.keep(ty, p));
        }
        if jobs.len() > crate::cpu::threads()
            && let Some(oldest) = jobs.pop_front()
        {
            count += oldest.await.map_or(0, |p| cx.keep(ty, p));
        }
        if head.next.is_none() {
            for job in jobs {
                count += job.await.map_or(0, |p| cx.keep(ty, p));
            }
            return Ok(Part::Read(count, read_at));
        }
        token = head.next;
    }
}

/// What a page says of the list it belongs to, told by its job before its objects are prepared.
struct PageHead {
    next: Option<String>,
    resource_version: Option<String>,
    /// A first page whose list holds more objects than `probe` (`larger_than`): its objects are
    /// not prepared, the part is streamed instead.
    large: bool,
}

/// A page's job on the pool: parses `body`, says through `said` what it read (or why it is not
/// a page, which `get_decoded` judges: a broken body is fetched again), then prepares its
/// objects unless the list is left to a stream. A value tree is parsed, normalized and dropped
/// on one thread.
fn read_page<S: Sink>(
    delivery: Delivery<'_, S>,
    ty: &ApiType,
    path: &str,
    (content_type, body): (&str, &[u8]),
    probe: Option<u64>,
    said: oneshot::Sender<Decoded<PageHead>>,
) -> Option<Prepared<S::Prepared>> {
    let not_a_list = |e: &str| Decoded::Invalid(format!("{path} is not a Kubernetes list: {e}"));
    let page = match decode_json::<ListPage>(content_type, body) {
        Decoded::Value(page) => page_of(page),
        Decoded::Invalid(e) => Err(e),
        Decoded::Broken(e) => {
            let _ = said.send(Decoded::Broken(e));
            return None;
        }
        Decoded::NotJson(e) => {
            let _ = said.send(Decoded::NotJson(e));
            return None;
        }
    };
    let Page { items, next, resource_version, remaining } = match page {
        Ok(page) => page,
        Err(e) => {
            let _ = said.send(not_a_list(&e));
            return None;
        }
    };
    let large = next.is_some() && larger_than(items.len(), remaining, probe);
    // A reader that stopped waiting (its deadline passed) keeps nothing more: nothing to prepare.
    let heard = said.send(Decoded::Value(PageHead { next, resource_version, large })).is_ok();
    (heard && !large).then(|| delivery.prepare(ty, items))
}

/// Whether a first page of `items` with `remaining` more (as the server counts them) holds more
/// than `bound` objects. Unknown when the server does not count: not larger.
fn larger_than(items: usize, remaining: Option<u64>, bound: Option<u64>) -> bool {
    match (remaining, bound) {
        (Some(remaining), Some(bound)) => (items as u64).saturating_add(remaining) > bound,
        _ => false,
    }
}

/// Replaces what must never leave the process in clear by keyed digests: a Secret's values,
/// annotations (but the allow-listed ones) and unknown fields, recognized by resource
/// (`ApiType::is_secret`), and the fields users' `digest` rules designate in any kind.
pub fn redact(ty: &ApiType, item: &mut Value, rules: &RuleSet, key: &SecretKey) {
    if ty.is_secret() {
        digest_secret_metadata(item, key);
        digest_secret(item, key);
    }
    apply_digest_rules(ty, item, rules, key, false);
}

/// Applies users' `digest` rules to an object read from an archive: a field the archive already
/// holds as a digest (digested at capture by the same rule) is kept, so it still compares with a
/// live side digested under the same key; a field in clear (an archive taken without the rule)
/// is digested now, before any report can print it.
pub fn redact_archived(ty: &ApiType, item: &mut Value, rules: &RuleSet, key: &SecretKey) {
    apply_digest_rules(ty, item, rules, key, true);
}

/// Digests the fields users' `digest` rules designate in `item`. Every rule is matched against
/// the object as read, before any of them digests a field another one's match depends on.
/// `keep_digests`: a field already holding a digest (an archive digested at capture) is kept.
fn apply_digest_rules(ty: &ApiType, item: &mut Value, rules: &RuleSet, key: &SecretKey, keep_digests: bool) {
    let mut digests = rules.digest_rules().peekable();
    if digests.peek().is_none() {
        return;
    }
    let object = key_of(ty, item);
    let ns = object.namespace.clone().unwrap_or_default();
    let identity = [object.group.as_str(), object.kind.as_str(), ns.as_str(), object.name.as_str()];
    let matching: Vec<_> = digests.filter(|(rule, _)| rule.matcher.matches_object(&object, item)).collect();
    for (_, paths) in matching {
        for p in paths {
            p.for_each_mut(item, &mut |path, v| {
                if !(keep_digests && crate::secrets::is_digest(v)) {
                    *v = digest_field(&identity, path, v, key);
                }
            });
        }
    }
}

/// An object's `kind` and `apiVersion` say which type it was read as, which the type read
/// already says: a list's items carry none, a watch event's object carries both. Dropped, so a
/// type reads alike by either method (and in archives written from either).
fn strip_type_meta(item: &mut Value) {
    if let Value::Object(o) = item {
        o.remove("kind");
        o.remove("apiVersion");
    }
}

/// A page request, built by kube-core's `Request::list` from its `ListParams` (selectors and the
/// continue token encoded as client-go encodes them). No `resourceVersion`: every page is served
/// from etcd at the point the first page was (the continue token carries it).
fn list_url(ty: &ApiType, filter: &ListFilter, limit: u32, token: Option<&str>) -> Result<String, String> {
    let params = ListParams {
        label_selector: filter.label_selector.clone(),
        field_selector: filter.field_selector.clone(),
        limit: Some(limit),
        continue_token: token.map(str::to_string),
        ..ListParams::default()
    };
    request_url(Request::new(ty.list_path(filter.namespace.as_deref())).list(&params))
}

/// The watch-list request of one part, built by kube-core's `Request::watch` from
/// `WatchParams::streaming_lists` (`sendInitialEvents=true`, `resourceVersionMatch=NotOlderThan`,
/// bookmarks): no `limit` (a stream is not paged), the same filters. The resourceVersion is
/// empty, so the server starts from its most recent state (a consistent read), as a list
/// without one does. `timeoutSeconds` bounds the watch on the server too, should the client
/// vanish (set as a field: kube's builder refuses values above 295 s, and a type's deadline can
/// be longer).
fn stream_url(ty: &ApiType, filter: &ListFilter, timeout_secs: u64) -> Result<String, String> {
    let mut params = WatchParams::streaming_lists();
    params.label_selector = filter.label_selector.clone();
    params.field_selector = filter.field_selector.clone();
    params.timeout = Some(u32::try_from(timeout_secs.max(1)).unwrap_or(u32::MAX));
    request_url(Request::new(ty.list_path(filter.namespace.as_deref())).watch(&params, ""))
}

/// The path and query of a request kube-core built. kube-core refuses only parameter
/// combinations kparity never sets (a resourceVersion match without a resourceVersion, initial
/// events without bookmarks); the caller still turns a refusal into a failed read, never a
/// request without its filters.
fn request_url(req: Result<http::Request<Vec<u8>>, kube::core::request::Error>) -> Result<String, String> {
    req.map(|r| r.uri().to_string()).map_err(|e| format!("the request could not be built: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::{Origin, parse_rule_file};
    use serde_json::json;

    fn core(resource: &str, kind: &str) -> ApiType {
        ApiType {
            group: "".into(),
            version: "v1".into(),
            resource: resource.into(),
            kind: kind.into(),
            namespaced: true,
        }
    }

    #[test]
    fn secrets_are_recognized_by_resource_whatever_kind_the_server_reports() {
        let key = SecretKey::random();
        let rules = RuleSet::default();
        for ty in
            [core("secrets", "Secret"), core("secrets", "Sekret"), core("secrets", "ConfigMap"), core("odd", "Secret")]
        {
            let mut s = json!({"metadata": {"name": "a", "annotations": {"kapp.k14s.io/original": "canary"}}, "data": {"p": "Y2FuYXJ5"}});
            redact(&ty, &mut s, &rules, &key);
            assert!(!s.to_string().contains("canary") && !s.to_string().contains("Y2FuYXJ5"), "{ty:?}: {s}");
            assert_eq!(key_of(&ty, &s).kind, "Secret", "{ty:?}");
        }
        let mut cm = json!({"metadata": {"name": "a", "annotations": {"x": "kept"}}, "data": {"p": "kept"}});
        redact(&core("configmaps", "ConfigMap"), &mut cm, &rules, &key);
        assert_eq!(cm["data"]["p"], "kept");
        assert_eq!(cm["metadata"]["annotations"]["x"], "kept");
    }

    #[test]
    fn digest_rules_replace_designated_fields_of_matching_objects_only() {
        let file = parse_rule_file(
            "rules:\n  - name: helm-values\n    why: values hold passwords\n    match: {kind: ConfigMap, labels: owner=helm}\n    digest: [/data/values.yaml, /data/*.pass]\n",
            Origin::File("r.yaml".into()),
        )
        .unwrap();
        let rules = RuleSet::new(file.rules, Vec::new());
        let key = SecretKey::random();
        let ty = core("configmaps", "ConfigMap");
        let obj = |label: &str| {
            json!({"metadata": {"name": "v", "namespace": "n", "labels": {"owner": label}},
                   "data": {"values.yaml": "password: canary", "db.pass": "canary2", "plain": "kept"}})
        };
        let mut helm = obj("helm");
        redact(&ty, &mut helm, &rules, &key);
        assert!(!helm.to_string().contains("canary"), "{helm}");
        assert_eq!(helm["data"]["plain"], "kept");
        // The label a rule matches on is not itself digested, and the same value gives the same
        // digest for the same object and field.
        let mut again = obj("helm");
        redact(&ty, &mut again, &rules, &key);
        assert_eq!(helm, again);
        // An archive holding the digest already keeps it; one holding the value digests it alike.
        let mut archived = helm.clone();
        redact_archived(&ty, &mut archived, &rules, &key);
        assert_eq!(archived, helm);
        let mut clear = obj("helm");
        redact_archived(&ty, &mut clear, &rules, &key);
        assert_eq!(clear, helm);
        let mut other = obj("kustomize");
        redact(&ty, &mut other, &rules, &key);
        assert_eq!(other["data"]["values.yaml"], "password: canary");
    }

    /// A URL's query as decoded pairs, as the API server reads it (`+` is a space).
    fn query(url: &str) -> (String, Vec<(String, String)>) {
        let (path, q) = url.split_once('?').expect("a query");
        let pairs = form_urlencoded::parse(q.as_bytes()).map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
        (path.to_string(), pairs)
    }

    fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
        p.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

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
        let url = list_url(&ty, &f, 500, Some("abc=/+&x")).unwrap();
        // Every reserved character of a value is escaped: a token or selector cannot add a
        // parameter (the pairs below are all the query holds).
        assert!(!url.contains("abc=/") && !url.contains("&x"), "{url}");
        assert_eq!(
            query(&url),
            (
                "/apis/apps/v1/namespaces/shop/deployments".to_string(),
                pairs(&[("labelSelector", "app in (a,b)"), ("limit", "500"), ("continue", "abc=/+&x")])
            )
        );
        // No resourceVersion on a page: each page is read where the continue token says.
        let first = list_url(&ty, &ListFilter::default(), 2, None).unwrap();
        assert_eq!(query(&first), ("/apis/apps/v1/deployments".to_string(), pairs(&[("limit", "2")])));
    }

    #[test]
    fn stream_urls_carry_the_same_filters_and_no_page_limit() {
        let ty = core("configmaps", "ConfigMap");
        let f = ListFilter {
            namespace: Some("shop".into()),
            label_selector: Some("app=a".into()),
            field_selector: Some("metadata.name!=x".into()),
        };
        assert_eq!(
            query(&stream_url(&ty, &f, 21).unwrap()),
            (
                "/api/v1/namespaces/shop/configmaps".to_string(),
                pairs(&[
                    ("watch", "true"),
                    ("timeoutSeconds", "21"),
                    ("fieldSelector", "metadata.name!=x"),
                    ("labelSelector", "app=a"),
                    ("allowWatchBookmarks", "true"),
                    ("sendInitialEvents", "true"),
                    ("resourceVersionMatch", "NotOlderThan"),
                    // Empty: the server's most recent state, as a list without one reads.
                    ("resourceVersion", ""),
                ])
            )
        );
        // A type's deadline longer than kube's builder allows is passed on, never a panic; a
        // deadline already spent still asks for at least a second.
        assert!(query(&stream_url(&ty, &f, 3600).unwrap()).1.contains(&("timeoutSeconds".into(), "3600".into())));
        assert!(query(&stream_url(&ty, &f, 0).unwrap()).1.contains(&("timeoutSeconds".into(), "1".into())));
    }

    #[test]
    fn a_refusal_of_the_parameters_turns_streams_off_for_the_side() {
        for method in [ListMethod::Auto, ListMethod::Streams, ListMethod::Pages] {
            let side = WatchListUse::new(method);
            assert_eq!(side.method(), method);
            assert!(!side.refused());
            side.refused.store(true, Ordering::Relaxed);
            assert_eq!(side.method(), ListMethod::Pages);
            assert!(side.refused());
        }
    }

    #[test]
    fn a_type_is_large_only_when_the_server_counts_more_than_the_bound() {
        // 500 on the page and 3,500 more: 4,000, not more than a bound of 4,000.
        assert!(!larger_than(500, Some(3500), Some(4000)));
        assert!(larger_than(500, Some(3501), Some(4000)));
        // Not counted (a selector, an older server): paged on, however many pages follow.
        assert!(!larger_than(500, None, Some(4000)));
        // No bound (`--list-method pages`): never large.
        assert!(!larger_than(500, Some(u64::MAX), None));
        // A hostile count cannot overflow.
        assert!(larger_than(usize::MAX, Some(u64::MAX), Some(u64::MAX - 1)));
    }

    #[test]
    fn a_first_page_carries_the_servers_count_of_what_follows() {
        let page = |b: &str| parse_page(b.as_bytes()).map(|p| p.remaining);
        assert_eq!(page(r#"{"items":[],"metadata":{"continue":"t","remainingItemCount":12}}"#), Ok(Some(12)));
        assert_eq!(page(r#"{"items":[],"metadata":{"continue":"t"}}"#), Ok(None));
        // A value that is not a count is no count, and no reason to refuse the page.
        for odd in [r#""12""#, "-1", "1.5", "null", "{}"] {
            let body = format!(r#"{{"items":[],"metadata":{{"continue":"t","remainingItemCount":{odd}}}}}"#);
            assert_eq!(page(&body), Ok(None), "{odd}");
        }
    }

    #[test]
    fn an_answer_without_items_is_not_an_empty_list() {
        let ok = |b: &str| parse_page(b.as_bytes()).map(|p| (p.items.len(), p.next));
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
