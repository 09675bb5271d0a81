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

/// Settings of the HTTP client that kparity controls.
#[derive(Debug, Clone, Copy)]
pub struct ClientSettings {
    pub connect_timeout: Duration,
}

/// Builds a client for `context`. The in-cluster service account is used when no kubeconfig
/// exists and the context is `in-cluster` (a CronJob reading its own cluster).
pub async fn client_for(
    configs: &Kubeconfigs,
    context: &str,
    settings: ClientSettings,
) -> Result<(Client, String), SourceError> {
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
                .map_err(|e| client_error(configs, context, &e))?
        }
    };
    // kube's default retry layer retries 429/503/504 up to 15 times with long backoff, stalling
    // minutes on a dead aggregated API; our own policy (http.rs) is bounded by a deadline.
    config.default_retry = false;
    config.connect_timeout = Some(settings.connect_timeout);
    // Read timeouts are enforced per request by the caller, bounded by the type's deadline.
    config.read_timeout = None;
    let server = config.cluster_url.to_string().trim_end_matches('/').to_string();
    // Building the client runs the context's exec credential plugin, if it has one.
    let client = Client::try_from(config).map_err(|e| client_error(configs, context, &e))?;
    Ok((client, server))
}

/// A context that cannot be turned into a client: a failed exec credential plugin (kube may run
/// it while building the config or the client) is reported as such, anything else on one line.
fn client_error(configs: &Kubeconfigs, context: &str, e: &(dyn std::error::Error + 'static)) -> SourceError {
    match exec_failure(e) {
        Some(message) => SourceError::ExecPlugin {
            context: context.to_string(),
            command: exec_command(configs, context).unwrap_or_else(|| "(exec plugin)".to_string()),
            message,
        },
        None => SourceError::ContextConfig { context: context.to_string(), message: first_line(&kube_error_text(e)) },
    }
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
