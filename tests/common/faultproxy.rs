//! A fault-injecting HTTP proxy between kparity and a real test apiserver.
//!
//! kparity talks plain HTTP to the proxy (a kubeconfig context written by `kubeconfig()`); the
//! proxy forwards each GET to the real apiserver over TLS with that context's own credentials,
//! unless a rule of its script says to answer with a fault instead. The HTTP server side is
//! written by hand on a raw socket on purpose: resets mid-body, stalls, truncated bodies and slow
//! trickles need control of every byte, which a full HTTP server library hides.
//!
//! A script is one rule per line, `WHERE TARGET FAULT TIMES`, first matching rule with budget
//! left wins, `#` starts a comment:
//!
//! ```text
//! first-page configmaps 503 x2      # the first page of configmaps answers 503, twice
//! continue   configmaps 410 always  # every continue page of configmaps answers 410 Gone
//! discovery  /apis      stall x1    # the first /apis request never answers
//! any        *          html always # an HTML page instead of every answer
//! ```
//!
//! - WHERE: `discovery` (`/version`, `/api`, `/apis`, a group-version document), `first-page`
//!   (the first request of a type's read: a list request without `continue`, or a watch-list
//!   stream), `watch` (a watch-list stream only), `continue` (a list request with one), `any`.
//! - TARGET: a resource's plural name (`configmaps`), an exact path (`/apis`), or `*`.
//! - FAULT: `429` (with `Retry-After: 1`, or `429=N` seconds), `500`, `503`, `504`, `401`, `403`,
//!   `405`, `410`, `422` (as a server without the WatchList feature answers a watch-list),
//!   `reset` (half the body, then a TCP reset), `stall` (no answer for `stall=DURATION`, default
//!   an hour), `truncate` (a well-framed response whose JSON stops halfway), `trickle` (the body
//!   in small pieces spread over `trickle=DURATION`, default 4s), `html` (a 200 HTML page),
//!   `object` (a 200 JSON answer that is not a list: a `Status` without `items`), `repeat` (the
//!   request forwarded without its `continue` token: the first page again, as a broken cache or
//!   proxy would repeat it).
//! - TIMES: `xN` (transient: the first N matching requests) or `always` (persistent).
//!
//! `FaultProxy::start` relays plain bodies, so `reset`, `truncate` and `trickle` cut bytes of
//! JSON. `FaultProxy::start_compressed` answers a request that accepts gzip as the API server
//! answers a watch: the body as a series of gzip members (one per 32 KiB of JSON), so those
//! faults cut compressed bytes, mid-member or between members.
#![allow(dead_code)] // each test binary uses a different part of this module

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::BodyExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Where in a read a request falls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Where {
    Discovery,
    FirstPage,
    Continue,
    /// A watch request (kparity's watch-list streams).
    Watch,
    Any,
}

/// What the proxy answers instead of the real response.
#[derive(Debug, Clone, PartialEq)]
pub enum Fault {
    Status { code: u16, retry_after: Option<u64> },
    Reset,
    Stall(Duration),
    Truncate,
    Trickle(Duration),
    Html,
    NotAList,
    Repeat,
}

/// One line of a script.
#[derive(Debug)]
pub struct Rule {
    pub when: Where,
    /// `None` matches any request.
    pub target: Option<String>,
    pub fault: Fault,
    /// `None`: always. `Some(n)`: the first n matching requests.
    pub times: Option<u32>,
    /// How many requests this rule answered.
    pub hits: AtomicU32,
}

impl Rule {
    fn matches(&self, req: &RequestInfo) -> bool {
        let where_ok = match self.when {
            Where::Any => true,
            Where::Discovery => req.place == Where::Discovery,
            Where::FirstPage => matches!(req.place, Where::FirstPage | Where::Watch),
            Where::Continue => req.place == Where::Continue,
            Where::Watch => req.place == Where::Watch,
        };
        let target_ok = match &self.target {
            None => true,
            Some(t) if t.starts_with('/') => &req.path == t,
            Some(t) => req.resource.as_deref() == Some(t.as_str()),
        };
        where_ok && target_ok
    }

    /// Takes one unit of budget if the rule still has any.
    fn take(&self) -> bool {
        match self.times {
            None => {
                self.hits.fetch_add(1, Ordering::SeqCst);
                true
            }
            Some(n) => self
                .hits
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |h| if h < n { Some(h + 1) } else { None })
                .is_ok(),
        }
    }
}

/// Parses a script (see the module doc).
pub fn parse_script(script: &str) -> Result<Vec<Rule>, String> {
    let mut rules = Vec::new();
    for (n, line) in script.lines().enumerate() {
        let line = line.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let err = |m: &str| format!("fault script line {}: {m}: {line:?}", n + 1);
        let words: Vec<&str> = line.split_whitespace().collect();
        let [when, target, fault, times] = words.as_slice() else {
            return Err(err("expected WHERE TARGET FAULT TIMES"));
        };
        let when = match *when {
            "discovery" => Where::Discovery,
            "first-page" => Where::FirstPage,
            "continue" => Where::Continue,
            "watch" => Where::Watch,
            "any" => Where::Any,
            _ => return Err(err("WHERE is discovery, first-page, watch, continue or any")),
        };
        let target = if *target == "*" { None } else { Some(target.to_string()) };
        let (name, arg) = match fault.split_once('=') {
            Some((n, a)) => (n, Some(a)),
            None => (*fault, None),
        };
        let duration = |default: Duration| -> Result<Duration, String> {
            arg.map(|a| kparity::cli::parse_duration(a).map_err(|e| err(&e))).unwrap_or(Ok(default))
        };
        let fault = match name {
            "429" => Fault::Status {
                code: 429,
                retry_after: Some(arg.map(|a| a.parse().map_err(|_| err("bad Retry-After"))).unwrap_or(Ok(1))?),
            },
            "500" | "503" | "504" | "401" | "403" | "405" | "410" | "422" => {
                Fault::Status { code: name.parse().map_err(|_| err("bad status"))?, retry_after: None }
            }
            "reset" => Fault::Reset,
            "stall" => Fault::Stall(duration(Duration::from_secs(3600))?),
            "truncate" => Fault::Truncate,
            "trickle" => Fault::Trickle(duration(Duration::from_secs(4))?),
            "html" => Fault::Html,
            "object" => Fault::NotAList,
            "repeat" => Fault::Repeat,
            _ => return Err(err("unknown fault")),
        };
        let times = match *times {
            "always" => None,
            t => Some(t.strip_prefix('x').and_then(|n| n.parse().ok()).ok_or_else(|| err("TIMES is xN or always"))?),
        };
        rules.push(Rule { when, target, fault, times, hits: AtomicU32::new(0) });
    }
    Ok(rules)
}

/// What the proxy needs to know of a request.
#[derive(Debug, Clone)]
struct RequestInfo {
    path_and_query: String,
    path: String,
    place: Where,
    resource: Option<String>,
    accept: Option<String>,
    /// The request's `Accept-Encoding` names gzip.
    gzip: bool,
}

fn classify(path_and_query: &str) -> (String, Where, Option<String>) {
    let (path, query) = path_and_query.split_once('?').unwrap_or((path_and_query, ""));
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    // /api, /api/v1, /apis, /apis/G, /apis/G/V and /version are discovery documents.
    let discovery = match segs.as_slice() {
        ["version"] | ["api"] | ["apis"] | ["api", _] | ["apis", _] | ["apis", _, _] => true,
        _ => false,
    };
    if discovery {
        return (path.to_string(), Where::Discovery, None);
    }
    let resource = segs.last().map(|s| s.to_string());
    let has = |key: &str| query.split('&').any(|kv| kv.starts_with(key));
    let place = if has("watch=1") || has("watch=true") {
        Where::Watch
    } else if has("continue=") {
        Where::Continue
    } else {
        Where::FirstPage
    };
    (path.to_string(), place, resource)
}

/// A running proxy; stops when dropped.
pub struct FaultProxy {
    pub port: u16,
    pub rules: Arc<Vec<Rule>>,
    /// Every request seen, as `place path?query`, for failure messages.
    pub log: Arc<Mutex<Vec<String>>>,
    /// How many faults were applied to a gzip-encoded body.
    faulted_compressed: Arc<AtomicU32>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl FaultProxy {
    /// Starts a proxy in front of `upstream_context` of the test clusters' kubeconfig.
    pub fn start(upstream_context: &str, script: &str) -> FaultProxy {
        Self::start_with(upstream_context, script, false)
    }

    /// As `start`, but a body asked for with `Accept-Encoding: gzip` is relayed gzip-encoded, in
    /// members, and the faults cut the encoded bytes.
    pub fn start_compressed(upstream_context: &str, script: &str) -> FaultProxy {
        Self::start_with(upstream_context, script, true)
    }

    fn start_with(upstream_context: &str, script: &str, compress: bool) -> FaultProxy {
        let rules = Arc::new(parse_script(script).unwrap_or_else(|e| panic!("{e}")));
        let runtime =
            tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("proxy runtime");
        let kubeconfig = super::kubeconfig();
        let ctx = upstream_context.to_string();
        let client = runtime.block_on(async move {
            let kc = kube::config::Kubeconfig::read_from(&kubeconfig).expect("read the test clusters' kubeconfig");
            let opts = kube::config::KubeConfigOptions { context: Some(ctx), ..Default::default() };
            let mut config = kube::Config::from_custom_kubeconfig(kc, &opts).await.expect("upstream context");
            config.default_retry = false;
            kube::Client::try_from(config).expect("upstream client")
        });
        let listener = runtime.block_on(TcpListener::bind("127.0.0.1:0")).expect("bind the proxy");
        let port = listener.local_addr().expect("proxy address").port();
        let log = Arc::new(Mutex::new(Vec::new()));
        let faulted_compressed = Arc::new(AtomicU32::new(0));
        let (r, l, f) = (rules.clone(), log.clone(), faulted_compressed.clone());
        runtime.spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else { continue };
                let proxy = Serving {
                    client: client.clone(),
                    rules: r.clone(),
                    log: l.clone(),
                    compress,
                    faulted_compressed: f.clone(),
                };
                tokio::spawn(async move {
                    let _ = serve(stream, proxy).await;
                });
            }
        });
        FaultProxy { port, rules, log, faulted_compressed, runtime: Some(runtime) }
    }

    /// How many faults cut or slowed a gzip-encoded body (with `start_compressed`).
    pub fn faulted_compressed(&self) -> u32 {
        self.faulted_compressed.load(Ordering::SeqCst)
    }

    /// Writes a kubeconfig holding one context `name` that reaches the upstream through the
    /// proxy, and returns a `KUBECONFIG` value listing it after the test clusters' kubeconfig.
    pub fn kubeconfig(&self, dir: &Path, name: &str) -> String {
        let path = dir.join(format!("{name}.kubeconfig"));
        let text = format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: {name}\n  cluster: {{server: \"http://127.0.0.1:{port}\"}}\n\
             users:\n- name: {name}\n  user: {{token: proxy-ignores-this}}\ncontexts:\n- name: {name}\n  \
             context: {{cluster: {name}, user: {name}}}\ncurrent-context: {name}\n",
            port = self.port
        );
        std::fs::write(&path, text).expect("write the proxy kubeconfig");
        std::env::join_paths([super::kubeconfig(), path])
            .expect("join kubeconfig paths")
            .into_string()
            .expect("utf-8 kubeconfig paths")
    }

    /// How many requests each rule answered with its fault.
    pub fn hits(&self) -> Vec<u32> {
        self.rules.iter().map(|r| r.hits.load(Ordering::SeqCst)).collect()
    }

    pub fn requests(&self) -> Vec<String> {
        self.log.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

/// What one connection of the proxy serves with.
struct Serving {
    client: kube::Client,
    rules: Arc<Vec<Rule>>,
    log: Arc<Mutex<Vec<String>>>,
    compress: bool,
    faulted_compressed: Arc<AtomicU32>,
}

/// An upstream answer as the proxy relays it.
struct Answer {
    status: u16,
    content_type: String,
    /// Headers beyond the content type and length: `Content-Encoding` when compressed.
    headers: Vec<(String, String)>,
    body: Bytes,
}

impl Answer {
    fn is_gzip(&self) -> bool {
        self.headers.iter().any(|(k, v)| k.eq_ignore_ascii_case("content-encoding") && v == "gzip")
    }
}

impl Serving {
    /// The upstream answer as relayed: gzip-encoded when the proxy compresses, the request
    /// accepts it and the answer is a success (a refusal's small Status stays plain, as the API
    /// server sends it), with the header that says so.
    async fn answer(&self, req: &RequestInfo) -> Answer {
        let (status, content_type, body) = upstream(&self.client, req).await;
        if !(self.compress && req.gzip && (200..300).contains(&status)) {
            return Answer { status, content_type, headers: Vec::new(), body };
        }
        let headers = vec![("Content-Encoding".to_string(), "gzip".to_string())];
        Answer { status, content_type, headers, body: gzip_members(&body) }
    }

    /// The answer a fault cuts or slows, counted when it is compressed.
    async fn faulted_answer(&self, req: &RequestInfo) -> Answer {
        let answer = self.answer(req).await;
        if answer.is_gzip() {
            self.faulted_compressed.fetch_add(1, Ordering::SeqCst);
        }
        answer
    }
}

/// A body as a series of gzip members, one per 32 KiB of it, as the API server flushes a watch.
fn gzip_members(body: &[u8]) -> Bytes {
    use std::io::Write as _;
    let mut out = Vec::new();
    for piece in body.chunks(32 * 1024) {
        let mut member = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        member.write_all(piece).expect("gzip into memory");
        out.extend_from_slice(&member.finish().expect("gzip into memory"));
    }
    Bytes::from(out)
}

/// Serves one connection: requests one after another (HTTP/1.1 keep-alive, no pipelining).
async fn serve(mut stream: TcpStream, proxy: Serving) -> std::io::Result<()> {
    let mut buf = Vec::with_capacity(4096);
    let Serving { rules, log, .. } = &proxy;
    loop {
        let Some(req) = read_request(&mut stream, &mut buf).await? else { return Ok(()) };
        log.lock().unwrap_or_else(|e| e.into_inner()).push(format!("{:?} {}", req.place, req.path_and_query));
        let fault = rules.iter().find(|r| r.matches(&req) && r.take()).map(|r| r.fault.clone());
        let keep_alive = match fault {
            None => {
                let a = proxy.answer(&req).await;
                write_response(&mut stream, a.status, &a.content_type, &a.headers, &a.body).await?;
                true
            }
            Some(Fault::Status { code, retry_after }) => {
                let extra: Vec<(String, String)> =
                    retry_after.map(|s| ("Retry-After".to_string(), s.to_string())).into_iter().collect();
                let body = status_body(code);
                write_response(&mut stream, code, "application/json", &extra, body.as_bytes()).await?;
                true
            }
            Some(Fault::Html) => {
                let body = b"<!DOCTYPE html>\n<html><head><title>Welcome</title></head><body>It works!</body></html>\n";
                write_response(&mut stream, 200, "text/html", &[], body).await?;
                true
            }
            Some(Fault::NotAList) => {
                let body = br#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Success","code":200}"#;
                write_response(&mut stream, 200, "application/json", &[], body).await?;
                true
            }
            Some(Fault::Repeat) => {
                let (path, query) = req.path_and_query.split_once('?').unwrap_or((&req.path_and_query, ""));
                let query: Vec<&str> = query.split('&').filter(|kv| !kv.starts_with("continue=")).collect();
                let first = RequestInfo { path_and_query: format!("{path}?{}", query.join("&")), ..req.clone() };
                let a = proxy.answer(&first).await;
                write_response(&mut stream, a.status, &a.content_type, &a.headers, &a.body).await?;
                true
            }
            Some(Fault::Reset) => {
                let a = proxy.faulted_answer(&req).await;
                let head = head(a.status, &a.content_type, &a.headers, a.body.len());
                stream.write_all(head.as_bytes()).await?;
                stream.write_all(&a.body[..a.body.len() / 2]).await?;
                stream.flush().await?;
                // SO_LINGER 0 turns the close into a TCP reset, as a dying load balancer does.
                stream.set_zero_linger()?;
                drop(stream);
                return Ok(());
            }
            Some(Fault::Stall(d)) => {
                tokio::time::sleep(d).await;
                return Ok(());
            }
            Some(Fault::Truncate) => {
                let a = proxy.faulted_answer(&req).await;
                let cut = &a.body[..a.body.len() / 2];
                write_response(&mut stream, a.status, &a.content_type, &a.headers, cut).await?;
                true
            }
            Some(Fault::Trickle(total)) => {
                let a = proxy.faulted_answer(&req).await;
                let body = a.body;
                stream.write_all(head(a.status, &a.content_type, &a.headers, body.len()).as_bytes()).await?;
                let pieces = 40usize;
                let step = body.len().div_ceil(pieces).max(1);
                for chunk in body.chunks(step) {
                    stream.write_all(chunk).await?;
                    stream.flush().await?;
                    tokio::time::sleep(total / pieces as u32).await;
                }
                true
            }
        };
        if !keep_alive {
            return Ok(());
        }
    }
}

fn status_body(code: u16) -> String {
    let (reason, message) = match code {
        401 => ("Unauthorized", "Unauthorized"),
        410 => ("Expired", "The provided continue parameter is too old to display a consistent list result."),
        429 => ("TooManyRequests", "too many requests, please try again later"),
        503 => ("ServiceUnavailable", "the server is currently unable to handle the request"),
        504 => ("Timeout", "the server was unable to return a response in the time allotted"),
        _ => ("InternalError", "an error on the server (\"injected by the fault proxy\") has prevented the request"),
    };
    serde_json::json!({
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": message, "reason": reason, "code": code
    })
    .to_string()
}

fn head(status: u16, content_type: &str, extra: &[(String, String)], len: usize) -> String {
    let reason = http::StatusCode::from_u16(status).ok().and_then(|s| s.canonical_reason()).unwrap_or("Unknown");
    let mut h = format!("HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\nContent-Length: {len}\r\n");
    for (k, v) in extra {
        h.push_str(&format!("{k}: {v}\r\n"));
    }
    h.push_str("\r\n");
    h
}

async fn write_response(
    stream: &mut TcpStream,
    status: u16,
    content_type: &str,
    extra: &[(String, String)],
    body: &[u8],
) -> std::io::Result<()> {
    stream.write_all(head(status, content_type, extra, body.len()).as_bytes()).await?;
    stream.write_all(body).await?;
    stream.flush().await
}

/// The real answer, fetched with the upstream context's credentials.
/// The upstream answer to a request, whole. A watch never ends on its own: the proxy reads it up
/// to the bookmark that ends its initial events (what kparity reads of a watch-list) and answers
/// with that much, so every fault applies to a stream as to a page.
async fn upstream(client: &kube::Client, req: &RequestInfo) -> (u16, String, Bytes) {
    let mut builder = http::Request::get(req.path_and_query.as_str());
    if let Some(a) = &req.accept {
        builder = builder.header(http::header::ACCEPT, a);
    }
    if req.place == Where::Watch {
        // Plain, as every answer the proxy relays: its faults cut and damage bytes of JSON.
        builder = builder.header(http::header::ACCEPT_ENCODING, "identity");
    }
    let Ok(request) = builder.body(kube::client::Body::empty()) else {
        return (400, "text/plain".into(), Bytes::from_static(b"bad request"));
    };
    match client.send(request).await {
        Ok(resp) => {
            let status = resp.status().as_u16();
            let ct = resp
                .headers()
                .get(http::header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("application/json")
                .to_string();
            if req.place == Where::Watch && (200..300).contains(&status) {
                return (status, ct, initial_events(resp.into_body()).await);
            }
            match resp.into_body().collect().await {
                Ok(b) => (status, ct, b.to_bytes()),
                Err(e) => (502, "text/plain".into(), Bytes::from(format!("upstream body: {e}"))),
            }
        }
        Err(e) => (502, "text/plain".into(), Bytes::from(format!("upstream: {e}"))),
    }
}

/// A watch stream up to and including the line of the bookmark that ends its initial events,
/// or what came before the stream ended or went quiet for 30 s.
async fn initial_events(mut body: kube::client::Body) -> Bytes {
    let mut out = Vec::new();
    let mut scanned = 0;
    loop {
        let frame = match tokio::time::timeout(Duration::from_secs(30), body.frame()).await {
            Ok(Some(Ok(f))) => f,
            _ => return Bytes::from(out),
        };
        let Ok(data) = frame.into_data() else { continue };
        out.extend_from_slice(&data);
        while let Some(nl) = out[scanned..].iter().position(|&b| b == b'\n') {
            let line = &out[scanned..scanned + nl];
            scanned += nl + 1;
            if line.windows(25).any(|w| w == b"k8s.io/initial-events-end") {
                out.truncate(scanned);
                return Bytes::from(out);
            }
        }
    }
}

/// Reads one request head (GET only: kparity sends no bodies). `None` when the peer closed.
async fn read_request(stream: &mut TcpStream, buf: &mut Vec<u8>) -> std::io::Result<Option<RequestInfo>> {
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).into_owned();
            buf.drain(..end + 4);
            let mut lines = head.split("\r\n");
            let request_line = lines.next().unwrap_or("");
            let target = request_line.split_whitespace().nth(1).unwrap_or("/").to_string();
            let headers: Vec<(&str, &str)> =
                lines.filter_map(|l| l.split_once(':')).map(|(k, v)| (k.trim(), v.trim())).collect();
            let header = |name: &str| headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| *v);
            let accept = header("accept").map(str::to_string);
            let gzip = header("accept-encoding").is_some_and(|v| {
                v.split(',').any(|e| e.split(';').next().unwrap_or("").trim().eq_ignore_ascii_case("gzip"))
            });
            let (path, place, resource) = classify(&target);
            return Ok(Some(RequestInfo { path_and_query: target, path, place, resource, accept, gzip }));
        }
        let mut chunk = [0u8; 4096];
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Ok(None);
        }
        buf.extend_from_slice(&chunk[..n]);
        if buf.len() > 1 << 20 {
            return Ok(None);
        }
    }
}

/// A directory for per-test kubeconfigs that lives as long as the value.
pub fn scratch() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = dir.path().to_path_buf();
    (dir, p)
}
