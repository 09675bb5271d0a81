//! Finds and reads kubeconfig the way kubectl does (`--kubeconfig`, then `$KUBECONFIG` as a
//! list of files merged in order, then `~/.kube/config`, then in-cluster service-account config)
//! and builds a kube client for one context, with kube's own retry layer turned off: kparity
//! retries deliberately (see `http.rs`).

use std::path::{Path, PathBuf};
use std::time::Duration;

use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};

use super::SourceError;

/// The kubeconfig files in effect, merged.
#[derive(Debug, Clone)]
pub struct Kubeconfigs {
    pub paths: Vec<PathBuf>,
    pub merged: Option<Kubeconfig>,
}

impl Kubeconfigs {
    fn describe(&self) -> String {
        match self.paths.as_slice() {
            [] => "(no kubeconfig)".to_string(),
            [one] => one.display().to_string(),
            many => many.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(":"),
        }
    }

    pub fn context_names(&self) -> Vec<String> {
        self.merged.as_ref().map(|k| k.contexts.iter().map(|c| c.name.clone()).collect()).unwrap_or_default()
    }
}

/// Locates and parses the kubeconfig files. `explicit` is `--kubeconfig`.
pub fn load(explicit: Option<&Path>) -> Result<Kubeconfigs, SourceError> {
    let paths: Vec<PathBuf> = if let Some(p) = explicit {
        if !p.exists() {
            return Err(SourceError::KubeconfigMissing { path: p.to_path_buf() });
        }
        vec![p.to_path_buf()]
    } else if let Some(v) = std::env::var_os("KUBECONFIG").filter(|v| !v.is_empty()) {
        // kubectl ignores listed files that do not exist, and fails only if none does.
        let listed: Vec<PathBuf> = std::env::split_paths(&v).filter(|p| !p.as_os_str().is_empty()).collect();
        let existing: Vec<PathBuf> = listed.iter().filter(|p| p.exists()).cloned().collect();
        if existing.is_empty() {
            return Err(SourceError::KubeconfigMissing { path: PathBuf::from(v) });
        }
        existing
    } else {
        match home_kubeconfig() {
            Some(p) if p.exists() => vec![p],
            _ => Vec::new(),
        }
    };
    let mut merged: Option<Kubeconfig> = None;
    for p in &paths {
        let one = Kubeconfig::read_from(p).map_err(|e| SourceError::KubeconfigInvalid {
            path: p.clone(),
            message: first_line(&kube_error_text(&e)),
        })?;
        merged = Some(match merged {
            None => one,
            Some(m) => {
                m.merge(one).map_err(|e| SourceError::KubeconfigInvalid { path: p.clone(), message: e.to_string() })?
            }
        });
    }
    Ok(Kubeconfigs { paths, merged })
}

fn home_kubeconfig() -> Option<PathBuf> {
    std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".kube").join("config"))
}

use super::http::error_chain as kube_error_text;

/// kubectl's global transport flags, as kparity takes them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Transport {
    /// `--as`: the user to impersonate (overrides the kubeconfig user's `as`).
    pub impersonate: Option<String>,
    /// `--as-group` (repeatable; overrides the kubeconfig user's `as-groups`).
    pub impersonate_groups: Vec<String>,
    /// `--request-timeout`: the bound of one request; `Some(ZERO)` means none (as kubectl's
    /// `0`), `None` lets kparity derive it from the type deadline.
    pub request_timeout: Option<Duration>,
    /// The largest response body accepted, counted after decompression.
    pub max_response_bytes: u64,
    /// Whether to ask for gzip (`--disable-compression` turns it off).
    pub compression: bool,
}

/// Settings of the HTTP client that kparity controls.
#[derive(Debug, Clone)]
pub struct ClientSettings {
    pub connect_timeout: Duration,
    pub transport: Transport,
}

/// A connection to one context: the kube client, the configuration it was built from (to
/// rebuild it when credentials must be fetched again), and the credentials to keep out of every
/// message.
#[derive(Clone)]
pub struct Connection {
    pub client: Client,
    pub config: Config,
    pub server: String,
    pub redactor: Redactor,
    pub max_response_bytes: u64,
    /// Whether requests ask for gzip.
    pub compression: bool,
}

/// Removes credentials (proxy user info, tokens, passwords, client keys) from text before it is
/// shown or logged: error messages of the HTTP stack may quote a proxy URL whole.
#[derive(Clone, Debug, Default)]
pub struct Redactor(std::sync::Arc<Vec<String>>);

impl Redactor {
    pub fn new(mut secrets: Vec<String>) -> Self {
        // Very short strings would blank ordinary words; credentials are longer. Longest
        // first, so a secret containing another is replaced whole.
        secrets.retain(|s| s.len() >= 3);
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        secrets.dedup();
        Redactor(std::sync::Arc::new(secrets))
    }

    pub fn scrub(&self, text: &str) -> String {
        let mut out = text.to_string();
        for s in self.0.iter() {
            if out.contains(s.as_str()) {
                out = out.replace(s.as_str(), "***");
            }
        }
        out
    }
}

/// The strings of a configuration that are credentials, in every spelling an error could quote.
fn credentials_of(config: &Config) -> Vec<String> {
    use secrecy::ExposeSecret as _;
    let mut out = Vec::new();
    if let Some(proxy) = &config.proxy_url {
        out.extend(userinfo_spellings(&proxy.to_string()));
    }
    out.extend(userinfo_spellings(&config.cluster_url.to_string()));
    let a = &config.auth_info;
    if let Some(t) = &a.token {
        out.push(t.expose_secret().to_string());
    }
    if let Some(p) = &a.password {
        out.push(p.expose_secret().to_string());
    }
    if let Some(k) = &a.client_key_data {
        out.push(k.expose_secret().to_string());
    }
    out
}

/// `user:pass` of a URL, its password, their percent-decoded forms, and the Basic credentials
/// a proxy receives.
fn userinfo_spellings(url: &str) -> Vec<String> {
    use base64::Engine as _;
    let Some(rest) = url.split_once("://").map(|(_, r)| r) else { return Vec::new() };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let Some((userinfo, _)) = authority.rsplit_once('@') else { return Vec::new() };
    let decoded = percent_decode(userinfo);
    let mut out = vec![userinfo.to_string(), decoded.clone()];
    if let Some((_, pass)) = userinfo.split_once(':') {
        out.push(pass.to_string());
        out.push(percent_decode(pass));
    }
    out.push(base64::engine::general_purpose::STANDARD.encode(decoded.as_bytes()));
    out
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && let Some(v) = std::str::from_utf8(&b[i + 1..i + 3]).ok().and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The proxy kubectl would use to reach `server`: the cluster's `proxy-url` when the kubeconfig
/// sets one (then the environment is not consulted, as client-go does), otherwise
/// `HTTPS_PROXY`/`https_proxy` (`HTTP_PROXY` for an `http://` server) unless `NO_PROXY` exempts
/// the server, and never for `localhost` or a loopback address (Go's `httpproxy` rules).
pub fn proxy_for(
    cluster_proxy_url: Option<&str>,
    server: &http::Uri,
    env: &dyn Fn(&str) -> Option<String>,
) -> Option<String> {
    if let Some(p) = cluster_proxy_url.filter(|p| !p.trim().is_empty()) {
        return Some(p.trim().to_string());
    }
    let var = |upper: &str| env(upper).or_else(|| env(&upper.to_ascii_lowercase())).filter(|v| !v.trim().is_empty());
    let proxy = if server.scheme_str() == Some("http") { var("HTTP_PROXY") } else { var("HTTPS_PROXY") }?;
    let host = server.host()?.trim_start_matches('[').trim_end_matches(']').to_ascii_lowercase();
    let port = server.port_u16().unwrap_or(if server.scheme_str() == Some("http") { 80 } else { 443 });
    if host == "localhost" || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback()) {
        return None;
    }
    if let Some(no_proxy) = var("NO_PROXY")
        && no_proxy_matches(&no_proxy, &host, port)
    {
        return None;
    }
    let proxy = proxy.trim();
    Some(if proxy.contains("://") { proxy.to_string() } else { format!("http://{proxy}") })
}

/// Go's `NO_PROXY` rules: `*`; an IP or CIDR; a domain matching itself and its subdomains (a
/// leading `.` or `*.` changes nothing); each optionally with `:port`.
fn no_proxy_matches(no_proxy: &str, host: &str, port: u16) -> bool {
    let ip = host.parse::<std::net::IpAddr>().ok();
    no_proxy.split(',').map(str::trim).filter(|e| !e.is_empty()).any(|entry| {
        if entry == "*" {
            return true;
        }
        if let (Some(ip), Ok(net)) = (ip, entry.parse::<ipnet::IpNet>()) {
            return net.contains(&ip);
        }
        if let (Some(ip), Ok(e)) = (ip, entry.trim_start_matches('[').trim_end_matches(']').parse::<std::net::IpAddr>())
        {
            return ip == e;
        }
        let (name, entry_port) = match entry.rsplit_once(':') {
            Some((n, p)) if !n.contains(':') => (n, p.parse::<u16>().ok()),
            _ => (entry, None),
        };
        if entry_port.is_some_and(|p| p != port) {
            return false;
        }
        let name = name.trim_start_matches('*').trim_start_matches('.').to_ascii_lowercase();
        !name.is_empty() && (host == name || host.ends_with(&format!(".{name}")))
    })
}

/// The `proxy-url` of `context`'s cluster in the kubeconfig.
fn cluster_proxy_url(configs: &Kubeconfigs, context: &str) -> Option<String> {
    let kc = configs.merged.as_ref()?;
    let cluster = kc.contexts.iter().find(|c| c.name == context)?.context.as_ref()?.cluster.clone();
    kc.clusters.iter().find(|c| c.name == cluster)?.cluster.as_ref()?.proxy_url.clone()
}

/// Builds a client for `context`. The in-cluster service account is used when no kubeconfig
/// exists and the context is `in-cluster` (a CronJob reading its own cluster).
pub async fn client_for(
    configs: &Kubeconfigs,
    context: &str,
    settings: &ClientSettings,
) -> Result<Connection, SourceError> {
    let mut config = match &configs.merged {
        None if context == "in-cluster" => Config::incluster()
            .map_err(|e| SourceError::ContextConfig { context: context.to_string(), message: kube_error_text(&e) })?,
        None => return Err(SourceError::NoKubeconfig { context: context.to_string() }),
        Some(kc) => {
            if !kc.contexts.iter().any(|c| c.name == context) {
                return Err(SourceError::UnknownContext {
                    context: context.to_string(),
                    kubeconfig: configs.describe(),
                    available: configs.context_names(),
                });
            }
            let options = KubeConfigOptions { context: Some(context.to_string()), ..Default::default() };
            Config::from_custom_kubeconfig(kc.clone(), &options)
                .await
                .map_err(|e| client_error(configs, context, &e, &Redactor::new(kubeconfig_credentials(kc, context))))?
        }
    };
    // kube's default retry layer retries 429/503/504 up to 15 times with long backoff, stalling
    // minutes on a dead aggregated API; our own policy (http.rs) is bounded by a deadline.
    config.default_retry = false;
    config.connect_timeout = Some(settings.connect_timeout);
    // Read timeouts are enforced per request by the caller, bounded by the type's deadline.
    config.read_timeout = None;
    // The proxy kubectl would use (kube's own choice applies NO_PROXY to a kubeconfig
    // proxy-url and proxies loopback servers, unlike client-go).
    let env = |name: &str| std::env::var(name).ok();
    let proxy = proxy_for(cluster_proxy_url(configs, context).as_deref(), &config.cluster_url, &env);
    let mut secrets = proxy.as_deref().map(userinfo_spellings).unwrap_or_default();
    // kube's SOCKS5 connector sends no credentials: refuse them rather than connect without.
    if let Some(p) = &proxy
        && p.starts_with("socks5")
        && !secrets.is_empty()
    {
        return Err(SourceError::ContextConfig {
            context: context.to_string(),
            message: format!(
                "the SOCKS5 proxy {} carries credentials, which kparity cannot send to a SOCKS5 proxy; use an HTTP(S) proxy with credentials, or a SOCKS5 proxy without",
                Redactor::new(secrets.clone()).scrub(p)
            ),
        });
    }
    config.proxy_url = match proxy {
        None => None,
        Some(p) => Some(p.parse::<http::Uri>().map_err(|e| SourceError::ContextConfig {
            context: context.to_string(),
            message: format!("invalid proxy URL {:?}: {e}", Redactor::new(secrets.clone()).scrub(&p)),
        })?),
    };
    let t = &settings.transport;
    impersonate(&mut config, t, context)?;
    secrets.extend(credentials_of(&config));
    let redactor = Redactor::new(secrets);
    let server = redactor.scrub(config.cluster_url.to_string().trim_end_matches('/'));
    // Building the client runs the context's exec credential plugin, if it has one.
    let client = Client::try_from(config.clone()).map_err(|e| client_error(configs, context, &e, &redactor))?;
    Ok(Connection {
        client,
        config,
        server,
        redactor,
        max_response_bytes: t.max_response_bytes,
        compression: t.compression,
    })
}

/// Applies kubectl's `--as`/`--as-group`, which replace the kubeconfig user's `as`/`as-groups`
/// (kube sends the Impersonate-User/-Group headers of the configuration's user).
fn impersonate(config: &mut Config, t: &Transport, context: &str) -> Result<(), SourceError> {
    let user = t.impersonate.clone().or_else(|| config.auth_info.impersonate.clone());
    let groups = if t.impersonate_groups.is_empty() {
        config.auth_info.impersonate_groups.clone().unwrap_or_default()
    } else {
        t.impersonate_groups.clone()
    };
    let refuse = |message: String| SourceError::ContextConfig { context: context.to_string(), message };
    if user.is_none() && !groups.is_empty() {
        return Err(refuse("impersonating groups (--as-group) needs a user to impersonate (--as)".into()));
    }
    if let Some(value) = user.iter().chain(&groups).find(|v| http::HeaderValue::from_str(v).is_err()) {
        return Err(refuse(format!("cannot impersonate {value:?}: not a valid HTTP header value")));
    }
    config.auth_info.impersonate = user;
    config.auth_info.impersonate_groups = if groups.is_empty() { None } else { Some(groups) };
    Ok(())
}

/// Builds a fresh client from `config`, fetching credentials again (an exec plugin runs anew):
/// what client-go does when a server answers 401 to credentials it had cached.
pub fn rebuild(config: &Config, redactor: &Redactor) -> Result<Client, String> {
    Client::try_from(config.clone()).map_err(|e| match exec_failure(&e) {
        Some(m) => redactor.scrub(&format!("exec credential plugin: {m}")),
        None => redactor.scrub(&first_line(&kube_error_text(&e))),
    })
}

/// A context that cannot be turned into a client: a failed exec credential plugin (kube may run
/// it while building the config or the client) is reported as such, anything else on one line.
fn client_error(
    configs: &Kubeconfigs,
    context: &str,
    e: &(dyn std::error::Error + 'static),
    redactor: &Redactor,
) -> SourceError {
    match exec_failure(e) {
        Some(message) => SourceError::ExecPlugin {
            context: context.to_string(),
            command: exec_command(configs, context).unwrap_or_else(|| "(exec plugin)".to_string()),
            message: redactor.scrub(&message),
        },
        None => SourceError::ContextConfig {
            context: context.to_string(),
            message: redactor.scrub(&first_line(&kube_error_text(e))),
        },
    }
}

/// The credentials a context's kubeconfig entries hold, before a client configuration exists
/// (kube may fail while reading them; its message must not quote them).
fn kubeconfig_credentials(kc: &Kubeconfig, context: &str) -> Vec<String> {
    use secrecy::ExposeSecret as _;
    let mut out = Vec::new();
    let Some(ctx) = kc.contexts.iter().find(|c| c.name == context).and_then(|c| c.context.as_ref()) else {
        return out;
    };
    if let Some(c) = kc.clusters.iter().find(|c| c.name == ctx.cluster).and_then(|c| c.cluster.as_ref()) {
        out.extend(c.proxy_url.as_deref().map(userinfo_spellings).unwrap_or_default());
        out.extend(c.server.as_deref().map(userinfo_spellings).unwrap_or_default());
    }
    let user = ctx.user.as_deref().unwrap_or_default();
    if let Some(a) = kc.auth_infos.iter().find(|a| a.name == user).and_then(|a| a.auth_info.as_ref()) {
        out.extend(a.token.as_ref().map(|t| t.expose_secret().to_string()));
        out.extend(a.password.as_ref().map(|t| t.expose_secret().to_string()));
        out.extend(a.client_key_data.as_ref().map(|t| t.expose_secret().to_string()));
    }
    out
}

/// The first line of a message: some parsers append a multi-line source excerpt.
fn first_line(text: &str) -> String {
    text.lines().next().unwrap_or("").trim_end().to_string()
}

/// The exec credential plugin command of `context`'s user, as the kubeconfig names it.
fn exec_command(configs: &Kubeconfigs, context: &str) -> Option<String> {
    let kc = configs.merged.as_ref()?;
    let user = kc.contexts.iter().find(|c| c.name == context)?.context.as_ref()?.user.clone()?;
    let auth = kc.auth_infos.iter().find(|a| a.name == user)?.auth_info.as_ref()?;
    auth.exec.as_ref()?.command.clone()
}

/// What went wrong with an exec credential plugin, in a line a user can act on. kube's own text
/// for a failed plugin is the debug dump of the process output (bytes as numbers, and the
/// command's environment), unreadable and possibly holding credentials; only the plugin's exit
/// status and its stderr are kept here.
fn exec_failure(e: &(dyn std::error::Error + 'static)) -> Option<String> {
    use kube::client::AuthError;
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        if let Some(auth) = err.downcast_ref::<AuthError>() {
            return match auth {
                AuthError::AuthExecRun { out, .. } => {
                    let stderr = String::from_utf8_lossy(&out.stderr);
                    let stderr = stderr.trim();
                    Some(if stderr.is_empty() {
                        format!("the plugin {}", out.status)
                    } else {
                        format!("the plugin {}: {stderr}", out.status)
                    })
                }
                AuthError::AuthExecStart(io) => Some(format!("the plugin could not be started: {io}")),
                AuthError::AuthExecParse(p) => Some(format!("the plugin printed no valid ExecCredential: {p}")),
                AuthError::ExecPluginFailed => Some("the plugin's ExecCredential has no status".to_string()),
                AuthError::MalformedTokenExpirationDate(t) => {
                    Some(format!("the plugin's ExecCredential has an invalid expirationTimestamp: {t}"))
                }
                AuthError::AuthExec(m) => Some(m.clone()),
                _ => None,
            };
        }
        cur = err.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(cluster: Option<&str>, server: &str, env: &[(&str, &str)], expected: Option<&str>) {
        let lookup = |k: &str| env.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string());
        let uri: http::Uri = server.parse().unwrap();
        assert_eq!(proxy_for(cluster, &uri, &lookup).as_deref(), expected, "{cluster:?} {server} {env:?}");
    }

    #[test]
    fn proxies_are_chosen_as_kubectl_chooses_them() {
        let p = Some("http://proxy:3128");
        // The kubeconfig's proxy-url wins, for every server, and the environment is not consulted.
        check(p, "https://127.0.0.1:6443", &[("NO_PROXY", "*")], p);
        check(p, "https://k8s.example.com", &[("HTTPS_PROXY", "http://other:1")], p);
        // The environment: HTTPS_PROXY (either case) for https servers, HTTP_PROXY for http.
        check(None, "https://k8s.example.com", &[("HTTPS_PROXY", "http://env:1")], Some("http://env:1"));
        check(None, "https://k8s.example.com", &[("https_proxy", "env:1")], Some("http://env:1"));
        check(None, "https://k8s.example.com", &[("HTTP_PROXY", "http://env:1")], None);
        check(None, "http://k8s.example.com", &[("HTTP_PROXY", "http://env:1")], Some("http://env:1"));
        check(None, "https://k8s.example.com", &[], None);
        // Never for loopback servers.
        check(None, "https://127.0.0.1:6443", &[("HTTPS_PROXY", "http://env:1")], None);
        check(None, "https://localhost:6443", &[("HTTPS_PROXY", "http://env:1")], None);
        check(None, "https://[::1]:6443", &[("HTTPS_PROXY", "http://env:1")], None);
        // NO_PROXY: domains with their subdomains, IPs, CIDRs, ports, `*`.
        let e = |no: &'static str| [("HTTPS_PROXY", "http://env:1"), ("NO_PROXY", no)];
        check(None, "https://api.k8s.example.com", &e("example.com"), None);
        check(None, "https://api.k8s.example.com", &e(".example.com"), None);
        check(None, "https://api.k8s.example.com", &e("other.com, ample.com"), Some("http://env:1"));
        check(None, "https://10.1.2.3:6443", &e("10.0.0.0/8"), None);
        check(None, "https://10.1.2.3:6443", &e("10.1.2.3"), None);
        check(None, "https://10.1.2.3:6443", &e("10.1.2.4"), Some("http://env:1"));
        check(None, "https://k8s.example.com:6443", &e("k8s.example.com:443"), Some("http://env:1"));
        check(None, "https://k8s.example.com:6443", &e("k8s.example.com:6443"), None);
        check(None, "https://k8s.example.com", &e("*"), None);
    }

    #[test]
    fn credentials_of_a_proxy_url_are_scrubbed_in_every_spelling() {
        let r = Redactor::new(userinfo_spellings("http://kp-user:p%40ss-w0rd@127.0.0.1:3128"));
        for text in [
            "proxy http://kp-user:p%40ss-w0rd@127.0.0.1:3128 failed",
            "password p@ss-w0rd",
            "basic a3AtdXNlcjpwQHNzLXcwcmQ=",
        ] {
            let out = r.scrub(text);
            assert!(!out.contains("w0rd") && !out.contains("a3AtdXNlcjpwQHNzLXcwcmQ="), "{out}");
        }
        assert_eq!(r.scrub("http://kp-user:p%40ss-w0rd@127.0.0.1:3128"), "http://***@127.0.0.1:3128");
        assert!(userinfo_spellings("https://127.0.0.1:6443").is_empty());
    }
}
