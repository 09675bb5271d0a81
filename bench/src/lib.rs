//! Shared plumbing of the benchmark tools: a kube client for one kubeconfig context, and raw
//! GET/POST helpers that report the status and body without interpreting them.

use std::path::Path;

use anyhow::Context as _;
use http_body_util::BodyExt as _;
use kube::config::{KubeConfigOptions, Kubeconfig};

/// A client for `context` of the kubeconfig at `path`.
pub async fn client(path: &Path, context: &str) -> anyhow::Result<kube::Client> {
    let kc = Kubeconfig::read_from(path).with_context(|| format!("failed to read kubeconfig {}", path.display()))?;
    let opts = KubeConfigOptions { context: Some(context.to_string()), ..Default::default() };
    let mut config = kube::Config::from_custom_kubeconfig(kc, &opts)
        .await
        .with_context(|| format!("failed to configure context {context:?}"))?;
    // Benchmarks move large lists; the default read timeout is generous already, but a loader
    // under heavy etcd load must not give up on a slow write.
    config.read_timeout = Some(std::time::Duration::from_secs(120));
    kube::Client::try_from(config).with_context(|| format!("failed to build a client for context {context:?}"))
}

/// Sends a request and returns its status and the whole body, decompressed.
pub async fn send(client: &kube::Client, req: http::Request<Vec<u8>>) -> anyhow::Result<(http::StatusCode, Vec<u8>)> {
    let uri = req.uri().clone();
    let resp = client.send(req.map(Into::into)).await.with_context(|| format!("failed to send {uri}"))?;
    let status = resp.status();
    let gzip =
        resp.headers().get(http::header::CONTENT_ENCODING).is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"gzip"));
    let body = resp.into_body().collect().await.with_context(|| format!("failed to read the body of {uri}"))?;
    let body = body.to_bytes();
    if !gzip {
        return Ok((status, body.to_vec()));
    }
    let mut plain = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::MultiGzDecoder::new(&body[..]), &mut plain)
        .with_context(|| format!("failed to decompress the body of {uri}"))?;
    Ok((status, plain))
}

/// GET `path` as JSON, compressed on the wire as kubectl and kparity ask for it.
pub async fn get(client: &kube::Client, path: &str) -> anyhow::Result<(http::StatusCode, Vec<u8>)> {
    let req = http::Request::get(path)
        .header("Accept", "application/json")
        .header("Accept-Encoding", "gzip")
        .body(Vec::new())?;
    send(client, req).await
}

/// The default kubeconfig of the test clusters, relative to the repository root.
pub const TEST_KUBECONFIG: &str = "target/test-cluster/kubeconfig";
