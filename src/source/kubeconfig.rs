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

/// A context that cannot be turned into a client. kube runs an exec credential plugin while it
/// builds the client: that failure is an authentication problem, not a broken file path.
fn config_error(configs: &Kubeconfigs, context: &str, text: &str) -> SourceError {
    match configs.merged.as_ref().and_then(|kc| exec_command(kc, context)) {
        Some(cmd) if text.contains("exec") => {
            SourceError::Auth { context: context.to_string(), message: exec_failure(&cmd, text) }
        }
        _ => SourceError::ContextConfig { context: context.to_string(), message: first_line(text) },
    }
}

/// The exec credential plugin a context's user runs, if any.
fn exec_command(kc: &Kubeconfig, context: &str) -> Option<String> {
    let user = kc.contexts.iter().find(|c| c.name == context)?.context.as_ref()?.user.clone()?;
    let auth = kc.auth_infos.iter().find(|a| a.name == user)?.auth_info.as_ref()?;
    auth.exec.as_ref()?.command.clone()
}

/// One line about a failed exec plugin: not found, or its exit status and its own first line of
/// stderr (where plugins such as `aws eks get-token` say what to do), instead of kube's dump of
/// the whole process output.
fn exec_failure(command: &str, text: &str) -> String {
    if text.contains("os error 2") || text.contains("No such file") {
        return format!("exec credential plugin {command:?} was not found");
    }
    let status = text
        .split("exit status: ")
        .nth(1)
        .map(|rest| rest.chars().take_while(|c| c.is_ascii_digit() || *c == '-').collect::<String>())
        .filter(|s| !s.is_empty());
    let stderr = text
        .split("stderr: \"")
        .nth(1)
        .and_then(|rest| rest.split("\" }").next())
        .map(|e| e.replace("\\n", "\n"))
        .and_then(|e| e.lines().map(str::trim).find(|l| !l.is_empty()).map(str::to_string));
    match (status, stderr) {
        (Some(s), Some(e)) => format!("exec credential plugin {command:?} failed (exit status {s}): {e}"),
        (Some(s), None) => format!("exec credential plugin {command:?} failed (exit status {s})"),
        _ => format!("exec credential plugin {command:?} failed: {}", first_line(text)),
    }
}

/// The first line of a message: some parsers append a multi-line source excerpt.
fn first_line(text: &str) -> String {
    text.lines().next().unwrap_or("").trim_end().to_string()
}

/// The full chain of a kube error on one line.
fn kube_error_text(e: &dyn std::error::Error) -> String {
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
                .map_err(|e| config_error(configs, context, &kube_error_text(&e)))?
        }
    };
    // kube's default retry layer retries 429/503/504 up to 15 times with long backoff, stalling
    // minutes on a dead aggregated API; our own policy (http.rs) is bounded by a deadline.
    config.default_retry = false;
    config.connect_timeout = Some(settings.connect_timeout);
    // Read timeouts are enforced per request by the caller, bounded by the type's deadline.
    config.read_timeout = None;
    let server = config.cluster_url.to_string().trim_end_matches('/').to_string();
    let client = Client::try_from(config).map_err(|e| config_error(configs, context, &kube_error_text(&e)))?;
    Ok((client, server))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exec_plugin_failures_read_as_one_line() {
        let cmd = "aws";
        assert_eq!(
            exec_failure(cmd, "auth error: unable to run auth exec: No such file or directory (os error 2)"),
            "exec credential plugin \"aws\" was not found"
        );
        let kube_text = r#"auth error: auth exec command 'X="{}" "aws" "eks"' failed with status exit status: 255: Output { status: ExitStatus(unix_wait_status(65280)), stdout: "", stderr: "the SSO session has expired\nrun aws sso login\n" }"#;
        assert_eq!(
            exec_failure(cmd, kube_text),
            "exec credential plugin \"aws\" failed (exit status 255): the SSO session has expired"
        );
    }
}
