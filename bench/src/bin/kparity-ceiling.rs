//! The raw list ceiling: discovers every listable resource type of each context and lists all of
//! them, all contexts and all types at once, with plain paged GETs (`limit` 500, following
//! `continue`), reading each body and discarding it. No JSON parsing beyond finding the continue
//! token in the list's metadata: this is what the API servers can deliver, the floor for any tool.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context as _, bail};
use clap::Parser;
use futures::StreamExt as _;
use serde::Deserialize;

#[derive(Parser)]
#[command(about = "List every listable type of the given contexts concurrently, discarding bodies")]
struct Args {
    /// Contexts to list (all at once)
    #[arg(required = true)]
    contexts: Vec<String>,
    #[arg(long, default_value = kparity_bench::TEST_KUBECONFIG)]
    kubeconfig: PathBuf,
    #[arg(long, default_value_t = 500)]
    page_size: u32,
    /// Print objects and bytes per type
    #[arg(long)]
    verbose: bool,
}

#[derive(Deserialize)]
struct ResourceList {
    #[serde(rename = "groupVersion")]
    group_version: String,
    resources: Vec<Resource>,
}

#[derive(Deserialize)]
struct Resource {
    name: String,
    #[serde(default)]
    verbs: Vec<String>,
}

#[derive(Deserialize)]
struct GroupList {
    groups: Vec<Group>,
}

#[derive(Deserialize)]
struct Group {
    #[serde(rename = "preferredVersion")]
    preferred: GroupVersion,
}

#[derive(Deserialize)]
struct GroupVersion {
    #[serde(rename = "groupVersion")]
    group_version: String,
}

/// Totals of one type's listing.
struct Listed {
    context: String,
    path: String,
    objects: usize,
    bytes: usize,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let started = Instant::now();
    let mut clients = Vec::new();
    for ctx in &args.contexts {
        clients.push((ctx.clone(), kparity_bench::client(&args.kubeconfig, ctx).await?));
    }
    // Discovery of all contexts at once, then every type of every context at once.
    let discovered = futures::future::try_join_all(clients.iter().map(|(ctx, c)| async move {
        discover(c).await.with_context(|| format!("failed to discover {ctx:?}")).map(|paths| (ctx, c, paths))
    }))
    .await?;
    let jobs: Vec<_> = discovered
        .iter()
        .flat_map(|(ctx, c, paths)| paths.iter().map(move |p| (ctx.to_string(), *c, p.clone())))
        .collect();
    let page_size = args.page_size;
    let listed: Vec<anyhow::Result<Listed>> = futures::stream::iter(jobs)
        .map(|(ctx, c, path)| async move { list_all(c, &ctx, &path, page_size).await })
        .buffer_unordered(usize::MAX)
        .collect()
        .await;
    let listed: Vec<Listed> = listed.into_iter().collect::<anyhow::Result<_>>()?;
    let elapsed = started.elapsed().as_secs_f64();
    for ctx in &args.contexts {
        let mine: Vec<&Listed> = listed.iter().filter(|l| &l.context == ctx).collect();
        if args.verbose {
            for l in &mine {
                eprintln!("{ctx} {} objects={} bytes={}", l.path, l.objects, l.bytes);
            }
        }
        println!(
            "{ctx}: types={} objects={} bytes={}",
            mine.len(),
            mine.iter().map(|l| l.objects).sum::<usize>(),
            mine.iter().map(|l| l.bytes).sum::<usize>()
        );
    }
    println!("elapsed_seconds={elapsed:.3}");
    Ok(())
}

/// Collection paths of every resource (not subresource) that supports `list`, preferred
/// versions only (as `kubectl api-resources` and kparity list them).
async fn discover(c: &kube::Client) -> anyhow::Result<Vec<String>> {
    let mut gvs = vec!["v1".to_string()];
    let (s, body) = kparity_bench::get(c, "/apis").await?;
    if !s.is_success() {
        bail!("GET /apis answered {s}");
    }
    let groups: GroupList = serde_json::from_slice(&body)?;
    gvs.extend(groups.groups.into_iter().map(|g| g.preferred.group_version));
    let lists = futures::future::join_all(gvs.iter().map(|gv| async move {
        let path = if gv == "v1" { "/api/v1".to_string() } else { format!("/apis/{gv}") };
        let (s, body) = kparity_bench::get(c, &path).await?;
        if !s.is_success() {
            bail!("GET {path} answered {s}");
        }
        Ok::<ResourceList, anyhow::Error>(serde_json::from_slice(&body)?)
    }))
    .await;
    let mut paths = Vec::new();
    for list in lists {
        let list = list?;
        let prefix =
            if list.group_version == "v1" { "/api/v1".to_string() } else { format!("/apis/{}", list.group_version) };
        for r in list.resources {
            if !r.name.contains('/') && r.verbs.iter().any(|v| v == "list") {
                paths.push(format!("{prefix}/{}", r.name));
            }
        }
    }
    Ok(paths)
}

async fn list_all(c: &kube::Client, ctx: &str, path: &str, page_size: u32) -> anyhow::Result<Listed> {
    let mut token: Option<String> = None;
    let (mut objects, mut bytes) = (0, 0);
    loop {
        let url = match &token {
            Some(t) => format!("{path}?limit={page_size}&continue={}", encode(t)),
            None => format!("{path}?limit={page_size}"),
        };
        let (s, body) = kparity_bench::get(c, &url).await?;
        if !s.is_success() {
            bail!("GET {url} in {ctx:?} answered {s}");
        }
        bytes += body.len();
        let next = continue_token(&body);
        // Full pages are counted by the page size, so only the last page is scanned for items
        // (without building values): the count is exact whenever the server fills its pages.
        objects += match next {
            Some(_) => page_size as usize,
            None => count_items(&body),
        };
        match next {
            Some(t) => token = Some(t),
            None => return Ok(Listed { context: ctx.to_string(), path: path.to_string(), objects, bytes }),
        }
    }
}

/// The continue token from the list metadata, which the API server writes before `items`.
fn continue_token(body: &[u8]) -> Option<String> {
    let head_end = find(body, b"\"items\":").unwrap_or(body.len());
    let head = &body[..head_end];
    let at = find(head, b"\"continue\":\"")?;
    let rest = &head[at + 12..];
    let end = rest.iter().position(|&b| b == b'"').unwrap_or(rest.len());
    let token = String::from_utf8_lossy(&rest[..end]).into_owned();
    if token.is_empty() { None } else { Some(token) }
}

/// Items on the last page: parsed without building values.
fn count_items(body: &[u8]) -> usize {
    #[derive(Deserialize)]
    struct Items {
        #[serde(default)]
        items: Option<Vec<serde::de::IgnoredAny>>,
    }
    serde_json::from_slice::<Items>(body).ok().and_then(|i| i.items).map_or(0, |v| v.len())
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

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
