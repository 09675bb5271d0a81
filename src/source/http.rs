//! GET requests to an API server under kparity's deliberate retry policy: 429 honours
//! `Retry-After`, 5xx and transport errors back off with jitter, attempts are bounded, and no
//! request outlives the deadline of the work it belongs to.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use kube::Client;
use tokio::time::Instant;

use super::encoding::{DecodeError, Decoder, Encoding};
use super::kubeconfig::{Connection, Redactor};
use crate::model::IncompleteReason;

/// How hard to try before calling a request failed.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Attempts for 5xx, transport errors and undecodable bodies.
    pub max_attempts: u32,
    /// Attempts while the server answers 429.
    pub max_throttled_attempts: u32,
    pub base_backoff: Duration,
    pub max_backoff: Duration,
    /// Upper bound of a single request (headers and body), further capped by the deadline.
    pub request_timeout: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 5,
            max_throttled_attempts: 12,
            base_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(5),
            request_timeout: Duration::from_secs(30),
        }
    }
}

impl RetryPolicy {
    /// Exponential backoff with full jitter (AWS style): spreads retries of many clients.
    fn backoff(&self, attempt: u32) -> Duration {
        let exp = self.base_backoff.saturating_mul(1u32 << attempt.min(16));
        let cap = exp.min(self.max_backoff);
        let jitter: f64 = rand::random::<f64>();
        cap.mul_f64(0.5 + jitter / 2.0)
    }
}

/// A request that did not succeed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// 410 Gone: the continue token (or resourceVersion) expired; the caller relists.
    Gone,
    /// The client cannot authenticate at all (exec plugin missing or failing...): no point in
    /// trying other types.
    Auth(String),
    /// Anything else, after retries.
    Incomplete(IncompleteReason),
}

/// The longest `Retry-After` honoured: a server asking for more (or a broken one sending a
/// huge number) gets this wait, and the type's deadline decides what follows.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);

/// The default bound of one response body, after decompression. A page of 500 large objects
/// (CRDs with big schemas, ConfigMaps near the 1 MiB object limit) legitimately weighs tens of
/// MiB; a body beyond this is refused instead of exhausting memory.
pub const DEFAULT_MAX_RESPONSE_BYTES: u64 = 512 * 1024 * 1024;

/// A thin wrapper of a kube client that knows kparity's retry policy.
#[derive(Clone)]
pub struct ApiClient {
    shared: Arc<Shared>,
    policy: RetryPolicy,
}

/// What every clone of an `ApiClient` shares: the client in use (replaced when credentials are
/// fetched again after a 401) and what is needed to rebuild it.
struct Shared {
    /// The client, and how many times it was rebuilt.
    current: Mutex<(u64, Client)>,
    config: Option<kube::Config>,
    redactor: Redactor,
    max_response_bytes: u64,
    /// The `Accept-Encoding` of every request: gzip unless `--disable-compression`.
    accept_encoding: &'static str,
}

/// What a response told us, before deciding to retry. `Ok` carries a successful answer's
/// content type and body, not yet decoded.
enum Outcome {
    Ok(String, Bytes),
    Retry { after: Option<Duration>, reason: IncompleteReason, throttled: bool },
    Fail(Failure),
}

/// A successful answer's body, decoded by the caller's decoder.
pub enum Decoded<T> {
    Value(T),
    /// JSON that stops short or is broken (cut on the way): retried like a transient fault.
    Broken(String),
    /// Not JSON at all (an HTML page, another service on the port): asking again will not help.
    NotJson(String),
    /// Well-formed JSON of another shape than asked for: a failure of this type, not retried.
    Invalid(String),
}

impl<T> Decoded<T> {
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Decoded<U> {
        match self {
            Decoded::Value(v) => Decoded::Value(f(v)),
            Decoded::Broken(e) => Decoded::Broken(e),
            Decoded::NotJson(e) => Decoded::NotJson(e),
            Decoded::Invalid(e) => Decoded::Invalid(e),
        }
    }
}

/// Decodes a successful answer into `T` in one pass: a syntax error or a cut body is `Broken`
/// (or `NotJson` when it does not look like JSON), JSON of another shape `Invalid`.
pub fn decode_json<T: serde::de::DeserializeOwned>(content_type: &str, body: &[u8]) -> Decoded<T> {
    match serde_json::from_slice::<T>(body) {
        Ok(v) => Decoded::Value(v),
        Err(e) if e.is_data() => Decoded::Invalid(e.to_string()),
        Err(e) => match check_json_error(content_type, body, &e) {
            JsonCheck::NotJson(excerpt) => Decoded::NotJson(excerpt),
            JsonCheck::Ok | JsonCheck::Broken(_) => Decoded::Broken(e.to_string()),
        },
    }
}

impl ApiClient {
    pub fn new(conn: Connection, policy: RetryPolicy) -> Self {
        let Connection { client, config, redactor, max_response_bytes, compression, .. } = conn;
        let accept_encoding = if compression { "gzip" } else { "identity" };
        let shared = Shared {
            current: Mutex::new((0, client)),
            config: Some(config),
            redactor,
            max_response_bytes,
            accept_encoding,
        };
        ApiClient { shared: Arc::new(shared), policy }
    }

    /// A client without credentials to hide or rebuild (tests and tools).
    pub fn from_client(client: Client, policy: RetryPolicy) -> Self {
        let shared = Shared {
            current: Mutex::new((0, client)),
            config: None,
            redactor: Redactor::default(),
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
            accept_encoding: "gzip",
        };
        ApiClient { shared: Arc::new(shared), policy }
    }

    /// The same connection pool under another retry policy.
    pub fn with_policy(&self, policy: RetryPolicy) -> Self {
        ApiClient { shared: self.shared.clone(), policy }
    }

    fn current(&self) -> (u64, Client) {
        let c = self.shared.current.lock().unwrap_or_else(|p| p.into_inner());
        (c.0, c.1.clone())
    }

    /// Fetches credentials again (an exec plugin runs anew) unless another request already did
    /// since `generation` was in use, as client-go does on a 401.
    fn refresh_credentials(&self, generation: u64) -> Result<(), Failure> {
        let Some(config) = &self.shared.config else { return Ok(()) };
        let mut c = self.shared.current.lock().unwrap_or_else(|p| p.into_inner());
        if c.0 != generation {
            return Ok(());
        }
        let client = super::kubeconfig::rebuild(config, &self.shared.redactor).map_err(Failure::Auth)?;
        *c = (generation + 1, client);
        Ok(())
    }

    /// GETs `path_and_query` until it succeeds, fails for good, or `deadline` passes; the body
    /// is checked to be JSON (a broken one is retried).
    pub async fn get(&self, path_and_query: &str, accept: &str, deadline: Instant) -> Result<Bytes, Failure> {
        self.get_decoded(path_and_query, accept, deadline, |content_type, body| {
            std::future::ready(match check_json(&content_type, &body) {
                JsonCheck::Ok => Decoded::Value(body),
                JsonCheck::Broken(e) => Decoded::Broken(e),
                JsonCheck::NotJson(excerpt) => Decoded::NotJson(excerpt),
            })
        })
        .await
    }

    /// GETs `path_and_query` as `get` does, decoding a successful body with `decode` once: the
    /// parse that checks the JSON is the one that yields the value. `decode` is given the
    /// content type and the body, and may run elsewhere (a list page is parsed on the CPU pool).
    pub async fn get_decoded<T, F: Future<Output = Decoded<T>>>(
        &self,
        path_and_query: &str,
        accept: &str,
        deadline: Instant,
        decode: impl Fn(String, Bytes) -> F,
    ) -> Result<T, Failure> {
        let mut attempts = 0u32;
        let mut throttled_attempts = 0u32;
        let mut unauthorized_retried = false;
        loop {
            let now = Instant::now();
            if now >= deadline {
                return Err(Failure::Incomplete(IncompleteReason::Timeout(Duration::ZERO)));
            }
            let budget = self.policy.request_timeout.min(deadline - now);
            let (generation, client) = self.current();
            let outcome = match tokio::time::timeout(budget, self.once(&client, path_and_query, accept)).await {
                Ok(o) => o,
                // A stalled or trickling response: the request is abandoned and retried on a
                // fresh connection while the deadline allows; what is left is a timeout.
                Err(_) => Outcome::Retry { after: None, reason: IncompleteReason::Timeout(budget), throttled: false },
            };
            let (after, reason, throttled) = match outcome {
                Outcome::Ok(content_type, body) => match decode(content_type.clone(), body).await {
                    Decoded::Value(v) => return Ok(v),
                    // The server framed a complete response but its JSON stops short or is
                    // broken: a proxy or a restarting server cut it. Another attempt usually
                    // reads it whole.
                    Decoded::Broken(e) => {
                        (None, IncompleteReason::Decode(format!("{path_and_query}: broken JSON body ({e})")), false)
                    }
                    // Not JSON at all (an HTML login page, a web server on the wrong port):
                    // asking again will not change what answers there.
                    Decoded::NotJson(excerpt) => {
                        return Err(Failure::Incomplete(IncompleteReason::Decode(format!(
                            "{path_and_query} answered {content_type:?} instead of JSON: {excerpt}"
                        ))));
                    }
                    Decoded::Invalid(e) => return Err(Failure::Incomplete(IncompleteReason::Decode(e))),
                },
                Outcome::Fail(Failure::Incomplete(IncompleteReason::Unauthorized(m))) if !unauthorized_retried => {
                    // One retry: a short-lived token may have expired between the client
                    // fetching it and the server checking it; the auth layer refreshes it.
                    unauthorized_retried = true;
                    tracing::debug!(path = path_and_query, "401, retrying once with refreshed credentials");
                    self.refresh_credentials(generation)?;
                    (None, IncompleteReason::Unauthorized(m), false)
                }
                Outcome::Fail(f) => return Err(f),
                Outcome::Retry { after, reason, throttled } => (after, reason, throttled),
            };
            let wait = if throttled {
                throttled_attempts += 1;
                if throttled_attempts >= self.policy.max_throttled_attempts {
                    return Err(Failure::Incomplete(IncompleteReason::Throttled(format!(
                        "still 429 after {throttled_attempts} attempts"
                    ))));
                }
                after.unwrap_or_else(|| self.policy.backoff(throttled_attempts))
            } else {
                attempts += 1;
                if attempts >= self.policy.max_attempts {
                    return Err(Failure::Incomplete(reason));
                }
                after.unwrap_or_else(|| self.policy.backoff(attempts))
            };
            if Instant::now() + wait >= deadline {
                return Err(Failure::Incomplete(reason));
            }
            tracing::debug!(path = path_and_query, ?wait, %reason, "retrying");
            tokio::time::sleep(wait).await;
        }
    }

    async fn once(&self, client: &Client, path_and_query: &str, accept: &str) -> Outcome {
        let req = match Request::get(path_and_query)
            .header(header::ACCEPT, accept)
            .header(header::ACCEPT_ENCODING, self.shared.accept_encoding)
            .body(kube::client::Body::empty())
        {
            Ok(r) => r,
            Err(e) => {
                return Outcome::Fail(Failure::Incomplete(IncompleteReason::Decode(format!("bad request path: {e}"))));
            }
        };
        let resp = match client.send(req).await {
            Ok(r) => r,
            Err(e) => return classify_client_error(e, &self.shared.redactor),
        };
        let status = resp.status();
        let content_type =
            resp.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
        let retry_after = retry_after(resp.headers());
        let limit = self.shared.max_response_bytes;
        let too_big = || {
            Outcome::Fail(Failure::Incomplete(IncompleteReason::Decode(format!(
                "{path_and_query}: the response body is larger than {limit} bytes, the most kparity accepts \
                 (--max-response-bytes); lower --page-size, or raise the limit"
            ))))
        };
        let announced = resp.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
        if announced.is_some_and(|n| n > limit) {
            return too_big();
        }
        let encoding = match Encoding::of(resp.headers()) {
            Ok(e) => e,
            Err(e) => {
                return Outcome::Fail(Failure::Incomplete(IncompleteReason::Decode(format!("{path_and_query}: {e}"))));
            }
        };
        // Counted as the decoded body arrives: an oversized or endless body (or a small one
        // that decompresses to gigabytes) is cut at the limit, never held whole.
        let decoder = Decoder::new(encoding, usize::try_from(limit).unwrap_or(usize::MAX));
        let body = match read_whole(resp.into_body(), decoder).await {
            Ok(Ok(b)) => Bytes::from(b),
            Err(e) => {
                return Outcome::Retry {
                    after: None,
                    reason: IncompleteReason::Transport(format!(
                        "connection broke while reading the body: {}",
                        self.shared.redactor.scrub(&e)
                    )),
                    throttled: false,
                };
            }
            Ok(Err(DecodeError::TooLarge)) => return too_big(),
            // Damaged or cut on the way, like a broken JSON body: another attempt usually reads
            // it whole.
            Ok(Err(DecodeError::Corrupt(e))) => {
                return Outcome::Retry {
                    after: None,
                    reason: IncompleteReason::Decode(format!("{path_and_query}: damaged gzip body ({e})")),
                    throttled: false,
                };
            }
        };
        if status.is_success() {
            return Outcome::Ok(content_type, body);
        }
        let message = status_message(&body).unwrap_or_else(|| status.canonical_reason().unwrap_or("").to_string());
        refused(status, message, retry_after)
    }
}

/// Reads a body to its end through `decoder`: the transport's error (its chain, not yet
/// scrubbed), or what decoding made of it.
async fn read_whole(
    mut body: kube::client::Body,
    mut decoder: Decoder,
) -> Result<Result<Vec<u8>, DecodeError>, String> {
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| error_chain(&e))?;
        if let Some(Err(e)) = frame.data_ref().map(|data| decoder.push(data)) {
            return Ok(Err(e));
        }
    }
    Ok(decoder.finish())
}

/// A streaming request the server did not start: its status (`None` when no answer came) and
/// what it said. The caller decides what a refusal means; nothing here retries.
#[derive(Debug)]
pub struct Refused {
    pub status: Option<u16>,
    pub message: String,
}

/// The body of a streaming answer, read and decoded as it arrives.
pub struct StreamBody {
    body: kube::client::Body,
    decoder: Decoder,
    redactor: Redactor,
}

impl StreamBody {
    /// The next decoded piece of the body; `Ok(None)` when the server ended it. The whole
    /// stream, decoded, is bounded by `--max-response-bytes`. An error completes the sentence
    /// "the stream ...".
    pub async fn chunk(&mut self) -> Result<Option<Vec<u8>>, String> {
        loop {
            match self.body.frame().await {
                None => return Ok(None),
                Some(Ok(frame)) => {
                    let Some(data) = frame.data_ref() else { continue };
                    if let Err(e) = self.decoder.push(data) {
                        return Err(match e {
                            DecodeError::TooLarge => {
                                format!("is larger than {} bytes (--max-response-bytes)", self.decoder.limit())
                            }
                            DecodeError::Corrupt(e) => format!("has a damaged gzip encoding ({e})"),
                        });
                    }
                    let piece = self.decoder.take();
                    if !piece.is_empty() {
                        return Ok(Some(piece));
                    }
                }
                Some(Err(e)) => return Err(format!("broke: {}", self.redactor.scrub(&error_chain(&e)))),
            }
        }
    }

    /// How the server encoded the stream.
    pub fn encoding(&self) -> Encoding {
        self.decoder.encoding()
    }
}

impl ApiClient {
    /// Opens a GET whose body is a stream (a watch): one attempt, no retries, the body left to
    /// the caller. Used only where a failure has a fallback (watch-list reading).
    pub async fn open_stream(&self, path_and_query: &str, accept: &str) -> Result<StreamBody, Refused> {
        let refused = |status, message| Refused { status, message };
        let req = Request::get(path_and_query)
            .header(header::ACCEPT, accept)
            .header(header::ACCEPT_ENCODING, self.shared.accept_encoding)
            .body(kube::client::Body::empty())
            .map_err(|e| refused(None, format!("bad request path: {e}")))?;
        let (_, client) = self.current();
        let resp = client.send(req).await.map_err(|e| refused(None, self.shared.redactor.scrub(&error_chain(&e))))?;
        let status = resp.status();
        let encoding = Encoding::of(resp.headers()).map_err(|e| refused(Some(status.as_u16()), e))?;
        let limit = usize::try_from(self.shared.max_response_bytes).unwrap_or(usize::MAX);
        if status.is_success() {
            let (decoder, redactor) = (Decoder::new(encoding, limit), self.shared.redactor.clone());
            return Ok(StreamBody { body: resp.into_body(), decoder, redactor });
        }
        // An error answer is a small Status: read whole up to a bound for the message (without
        // it, the status's own reason).
        let body = match read_whole(resp.into_body(), Decoder::new(encoding, 64 * 1024)).await {
            Ok(Ok(b)) => b,
            _ => Vec::new(),
        };
        let message = status_message(&body).unwrap_or_else(|| status.canonical_reason().unwrap_or("").to_string());
        Err(refused(Some(status.as_u16()), message))
    }

    /// The bound of one request (a whole stream included).
    pub fn request_timeout(&self) -> Duration {
        self.policy.request_timeout
    }

    /// The largest response body (or stream event) accepted.
    pub fn max_response_bytes(&self) -> u64 {
        self.shared.max_response_bytes
    }
}

/// What a successful response's body turned out to be.
#[derive(Debug, PartialEq)]
enum JsonCheck {
    Ok,
    /// Announced (or looking like) JSON but not parseable: cut or damaged on the way.
    Broken(String),
    /// Something else altogether; an excerpt for the message.
    NotJson(String),
}

/// Every successful answer kparity asks for is JSON; checking it here lets a damaged body be
/// retried like any transient fault instead of failing the type at its first decode.
fn check_json(content_type: &str, body: &[u8]) -> JsonCheck {
    match serde_json::from_slice::<serde::de::IgnoredAny>(body) {
        Ok(_) => JsonCheck::Ok,
        Err(e) => check_json_error(content_type, body, &e),
    }
}

/// A body that did not parse: broken JSON when announced as (or looking like) JSON, else
/// something else altogether, with an excerpt for the message.
fn check_json_error(content_type: &str, body: &[u8], e: &serde_json::Error) -> JsonCheck {
    let ct = content_type.to_ascii_lowercase();
    let looks_json = ct.contains("json") || body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{');
    if looks_json {
        JsonCheck::Broken(e.to_string())
    } else {
        let text = String::from_utf8_lossy(body);
        let one_line: String = text.trim().chars().take(80).map(|c| if c.is_control() { ' ' } else { c }).collect();
        JsonCheck::NotJson(one_line)
    }
}

/// The `message` of a Kubernetes `Status` body, or a short excerpt of whatever else came back.
/// What a status other than success means for the request: 410 Gone goes back to the caller,
/// which relists; a throttled, unavailable or failing server is tried again (after its
/// `Retry-After` where it gives one); a refusal or a missing type, and any other status, leave
/// the type incomplete, never empty.
fn refused(status: StatusCode, message: String, retry_after: Option<Duration>) -> Outcome {
    match status {
        StatusCode::GONE => Outcome::Fail(Failure::Gone),
        StatusCode::TOO_MANY_REQUESTS => Outcome::Retry {
            after: retry_after.or(Some(Duration::from_secs(1))),
            reason: IncompleteReason::Throttled(message),
            throttled: true,
        },
        StatusCode::FORBIDDEN => Outcome::Fail(Failure::Incomplete(IncompleteReason::Forbidden(message))),
        StatusCode::UNAUTHORIZED => Outcome::Fail(Failure::Incomplete(IncompleteReason::Unauthorized(message))),
        StatusCode::NOT_FOUND => Outcome::Fail(Failure::Incomplete(IncompleteReason::NotFound(message))),
        StatusCode::SERVICE_UNAVAILABLE => {
            Outcome::Retry { after: retry_after, reason: IncompleteReason::Unavailable(message), throttled: false }
        }
        s if s.is_server_error() => Outcome::Retry {
            after: retry_after,
            reason: IncompleteReason::ServerError { status: s.as_u16(), message },
            throttled: false,
        },
        s => Outcome::Fail(Failure::Incomplete(IncompleteReason::ServerError { status: s.as_u16(), message })),
    }
}

/// The server's `Retry-After` in seconds, capped at `MAX_RETRY_AFTER`. The HTTP-date form, which
/// the API server does not send, is ignored.
fn retry_after(headers: &http::HeaderMap) -> Option<Duration> {
    headers
        .get(header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(|secs| Duration::from_secs(secs).min(MAX_RETRY_AFTER))
}

fn status_message(body: &[u8]) -> Option<String> {
    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(body) {
        if let Some(m) = v.get("message").and_then(|m| m.as_str()) {
            return Some(m.to_string());
        }
    }
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.is_empty() {
        None
    } else {
        let one_line: String = text.chars().take(120).map(|c| if c.is_control() { ' ' } else { c }).collect();
        Some(format!("unexpected response body: {one_line}"))
    }
}

fn classify_client_error(e: kube::Error, redactor: &Redactor) -> Outcome {
    match e {
        kube::Error::Auth(a) => Outcome::Fail(Failure::Auth(redactor.scrub(&error_chain(&a)))),
        other => {
            let text = redactor.scrub(&error_chain(&other));
            // The auth layer reports exec-plugin failures wrapped in a service error.
            if text.contains("exec") && (text.contains("auth") || text.contains("credential")) {
                return Outcome::Fail(Failure::Auth(text));
            }
            Outcome::Retry { after: None, reason: IncompleteReason::Transport(text), throttled: false }
        }
    }
}

/// An error and its sources on one line, without repeating what an outer message already says.
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let t = c.to_string();
        if !s.contains(&t) {
            s.push_str(": ");
            s.push_str(&t);
        }
        cur = c.source();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        let p = RetryPolicy::default();
        for attempt in 0..20 {
            let b = p.backoff(attempt);
            assert!(b <= p.max_backoff, "{b:?}");
            assert!(b >= p.base_backoff / 2, "{b:?}");
        }
    }

    #[test]
    fn cut_json_is_retryable_and_html_is_not() {
        assert_eq!(check_json("application/json", br#"{"items":[]}"#), JsonCheck::Ok);
        assert!(matches!(check_json("application/json", br#"{"items":[{"a"#), JsonCheck::Broken(_)));
        // A cut body is recognised even when the content type is missing.
        assert!(matches!(check_json("", br#"  {"items":"#), JsonCheck::Broken(_)));
        assert_eq!(
            check_json("text/html", b"<html>\n<body>It works!</body></html>"),
            JsonCheck::NotJson("<html> <body>It works!</body></html>".into())
        );
    }

    #[test]
    fn status_messages_are_extracted_or_excerpted() {
        assert_eq!(status_message(br#"{"kind":"Status","message":"nope"}"#).as_deref(), Some("nope"));
        assert_eq!(
            status_message(b"<html>\n<b>bad gateway</b></html>").as_deref(),
            Some("unexpected response body: <html> <b>bad gateway</b></html>")
        );
        assert_eq!(status_message(b""), None);
    }
}
