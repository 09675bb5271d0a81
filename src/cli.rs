//! Command-line interface: clap types only. Each command converts its arguments once into the
//! validated options the library uses.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::report::Format;
use crate::rules::RuleOptions;
use crate::source::{Filters, KindFilter, ReadOptions};

const ABOUT: &str = "Prove two Kubernetes clusters are equivalent.

kparity reads every listable resource (core, every API group, CRDs and their custom resources,
cluster-scoped and namespaced) from two sources concurrently, normalizes away what legitimately
differs between clusters (uids, timestamps, allocated IPs and ports, controller-made objects,
Velero and Argo CD marks...), and reports count and content differences.

A source is a kubeconfig context or a snapshot archive (`kparity snapshot`).

Exit codes, as diff(1): 0 equivalent, 1 different, 2 trouble (anything not read, or bad input).
kparity never exits 0 when anything could not be read.";

const DIFF_EXAMPLES: &str = "Examples:
  # Pre-cutover gate: DNS is switched only on exit 0
  kparity diff blue green

  # Only some namespaces, as JSON for a pipeline
  kparity diff blue green -n shop -n payments -o json > parity.json

  # Against an archive taken before the migration (same key as the snapshot)
  KPARITY_SECRET_KEY=... kparity diff blue-2026-11-22.kparity green

  # Accept known differences with a waiver file
  kparity diff blue green --rules waivers.yaml";

#[derive(Debug, Parser)]
#[command(name = "kparity", version, about = "Prove two Kubernetes clusters are equivalent", long_about = ABOUT)]
pub struct Cli {
    /// Kubeconfig file [default: $KUBECONFIG (a list of files, merged), then ~/.kube/config]
    #[arg(long, global = true, value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,

    /// Print nothing but errors; the exit code is the answer
    #[arg(short, long, global = true)]
    pub quiet: bool,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Compare two sources (contexts or snapshot files) and report differences
    #[command(after_long_help = DIFF_EXAMPLES)]
    Diff(DiffArgs),
    /// Write a normalized-at-diff-time, integrity-checked archive of a cluster
    Snapshot(SnapshotArgs),
    /// Check an archive's integrity and authenticity; exit 0 only if it is intact
    #[command(after_long_help = VERIFY_EXAMPLES)]
    Verify(VerifyArgs),
    /// Write a new random secret key (32 bytes, hex) to a file readable only by you
    Keygen(KeygenArgs),
    /// Explain one object: as read on each side, each rule's effect, the normalized forms, and
    /// its field differences with who wrote them
    #[command(after_long_help = EXPLAIN_EXAMPLES)]
    Explain(ExplainArgs),
    /// Print the effective normalization rules (built-in profiles plus --rules files), validated
    Rules(RulesArgs),
    /// Print a shell completion script, generated from this very command line definition
    #[command(after_long_help = COMPLETIONS_EXAMPLES)]
    Completions(CompletionsArgs),
    /// Print the man page (or write one page per command with --dir), generated from this definition
    Man(ManArgs),
}

const COMPLETIONS_EXAMPLES: &str = "Examples:
  # bash: load in the current shell, or install for every new one
  source <(kparity completions bash)
  kparity completions bash > ~/.local/share/bash-completion/completions/kparity

  # zsh: a directory on $fpath
  kparity completions zsh > \"${fpath[1]}/_kparity\"

  # fish
  kparity completions fish > ~/.config/fish/completions/kparity.fish";

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete for
    #[arg(value_name = "SHELL", value_enum)]
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Args)]
pub struct ManArgs {
    /// Write kparity.1 and one page per subcommand (kparity-diff.1, ...) into this directory
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

/// The name kubectl gives a plugin's executable: `kubectl parity` runs `kubectl-parity`.
pub const PLUGIN_EXECUTABLE: &str = "kubectl-parity";

/// How the user invoked kparity, as usage lines should show it: `kubectl parity` when the
/// executable is named (or symlinked) `kubectl-parity`, `kparity` otherwise.
pub fn invoked_as(argv0: Option<&std::ffi::OsStr>) -> &'static str {
    let stem = argv0.and_then(|a| std::path::Path::new(a).file_stem()).and_then(|s| s.to_str());
    match stem {
        Some(s) if s == PLUGIN_EXECUTABLE => "kubectl parity",
        _ => "kparity",
    }
}

/// The clap command, its usage lines naming the executable as it was invoked.
pub fn command_for(invoked_as: &str) -> clap::Command {
    use clap::CommandFactory;
    let cmd = Cli::command().bin_name(invoked_as);
    if invoked_as == "kparity" {
        return cmd;
    }
    // The examples are written for `kparity`; as a plugin they read as the user types them.
    let examples = DIFF_EXAMPLES.replace("  kparity ", &format!("  {invoked_as} "));
    cmd.mut_subcommand("diff", |diff| diff.after_long_help(examples))
}

impl Cli {
    /// Parses the process arguments; help and usage errors name `kubectl parity` when kparity
    /// runs as a kubectl plugin.
    pub fn parse_invocation() -> Cli {
        use clap::FromArgMatches;
        let argv0 = std::env::args_os().next();
        let matches = command_for(invoked_as(argv0.as_deref())).get_matches();
        Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit())
    }
}

#[derive(Debug, Args)]
pub struct DiffArgs {
    /// The reference: a context name, or a snapshot file (force with ctx:NAME or file:PATH)
    #[arg(value_name = "OLD")]
    pub old: String,
    /// The candidate: a context name, or a snapshot file (force with ctx:NAME or file:PATH)
    #[arg(value_name = "NEW")]
    pub new: String,

    /// Report format [default: table]
    #[arg(short, long, value_enum, default_value_t = Format::Table)]
    pub output: Format,

    /// Compare Secrets without their values (when digests cannot be compared, e.g. different keys)
    #[arg(long)]
    pub ignore_secret_values: bool,

    /// Also write the run as Prometheus metrics to FILE, atomically (for the node-exporter
    /// textfile collector: name it *.prom; or push it to a Pushgateway)
    #[arg(long, value_name = "FILE")]
    pub metrics_file: Option<PathBuf>,

    /// Also list, for every object in scope, what each rule removed from it (narrow the scope
    /// with --kinds, -n or -l: every object in scope is kept in memory as read)
    #[arg(long)]
    pub show_suppressed: bool,

    /// Each side's platform instead of detecting it, e.g. old=kubeadm,new=eks (kubeadm, eks,
    /// calico, flannel, cilium, or none; several joined with +, e.g. new=eks+calico)
    #[arg(long, value_name = "SIDE=NAME")]
    pub platform: Vec<String>,

    #[command(flatten)]
    pub read: ReadArgs,
    #[command(flatten)]
    pub rules: RuleArgs,
    #[command(flatten)]
    pub key: KeyArgs,
    #[command(flatten)]
    pub archive: ArchiveLimitArgs,
}

const EXPLAIN_EXAMPLES: &str = "Exit codes, as diff for this one object: 0 equal (or left out by a rule, which
the output names), 1 different, 2 trouble (its kind not read, or the object absent on both sides).

Examples:
  kparity explain blue green Deployment.apps/shop/web
  kparity explain blue.kparity green ConfigMap/shop/settings
  kparity explain blue green ClusterRole.rbac.authorization.k8s.io/view";

#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// The reference: a context name, or a snapshot file (force with ctx:NAME or file:PATH)
    #[arg(value_name = "OLD")]
    pub old: String,
    /// The candidate: a context name, or a snapshot file (force with ctx:NAME or file:PATH)
    #[arg(value_name = "NEW")]
    pub new: String,
    /// The object: KIND[.GROUP]/NAMESPACE/NAME, or KIND[.GROUP]/NAME for a cluster-scoped one
    #[arg(value_name = "KIND[.GROUP]/[NAMESPACE/]NAME")]
    pub object: String,
    /// Compare Secrets without their values (when digests cannot be compared, e.g. different keys)
    #[arg(long)]
    pub ignore_secret_values: bool,
    /// Each side's platform instead of detecting it, e.g. old=kubeadm,new=eks (kubeadm, eks,
    /// calico, flannel, cilium, or none; several joined with +, e.g. new=eks+calico)
    #[arg(long, value_name = "SIDE=NAME")]
    pub platform: Vec<String>,

    #[command(flatten)]
    pub read: ReadArgs,
    #[command(flatten)]
    pub rules: RuleArgs,
    #[command(flatten)]
    pub key: KeyArgs,
    #[command(flatten)]
    pub archive: ArchiveLimitArgs,
}

#[derive(Debug, Args)]
pub struct SnapshotArgs {
    /// The context to archive
    #[arg(value_name = "CONTEXT")]
    pub context: String,
    /// The archive to write (refused if it exists, unless --force)
    #[arg(short, long, value_name = "FILE")]
    pub output: PathBuf,
    /// A rules file whose `digest` rules apply at capture (repeatable); its other rules apply
    /// when the archive is diffed, with the same --rules
    #[arg(long = "rules", value_name = "FILE")]
    pub rules: Vec<PathBuf>,
    /// Replace an existing archive (and its .sig) at the output path
    #[arg(long)]
    pub force: bool,
    /// Also sign the archive with this OpenSSH ed25519 private key: FILE.sig beside the
    /// archive, checked by `ssh-keygen -Y verify -n kparity-archive` or `kparity verify --allowed-signers`
    #[arg(long, value_name = "KEYFILE")]
    pub sign_key: Option<PathBuf>,
    #[command(flatten)]
    pub read: ReadArgs,
    #[command(flatten)]
    pub key: KeyArgs,
}

const VERIFY_EXAMPLES: &str = "What verify proves:
  with the key (KPARITY_SECRET_KEY or --secret-key-file): the HMAC seal checks out, so a key
    holder wrote the archive and nobody changed it since; any other key, or a missing seal, exits 2
  with --allowed-signers: ARCHIVE.sig is an SSH signature over the exact bytes by an allowed key
  with neither: only that the checksums are consistent; anyone who edits the archive can
    recompute them, so it is reported as NOT authenticated (--require-auth makes that exit 2)

Examples:
  KPARITY_SECRET_KEY=... kparity verify blue.kparity
  kparity verify blue.kparity --allowed-signers allowed_signers --require-signature
  ssh-keygen -Y verify -f allowed_signers -I auditor@example.com -n kparity-archive \\
    -s blue.kparity.sig < blue.kparity";

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The archive to check
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// Exit 2 unless the archive is authenticated (HMAC under the given key, or a signature by
    /// an allowed signer), not merely consistent
    #[arg(long)]
    pub require_auth: bool,
    /// Check the archive's SSH signature (FILE.sig) against this allowed_signers file (the
    /// format of ssh-keygen -Y verify)
    #[arg(long, value_name = "FILE")]
    pub allowed_signers: Option<PathBuf>,
    /// With --allowed-signers: the principal the signer must be allowed as (ssh-keygen's -I);
    /// by default any principal of the file
    #[arg(long, value_name = "PRINCIPAL", requires = "allowed_signers")]
    pub identity: Option<String>,
    /// The signature file [default: FILE.sig]
    #[arg(long, value_name = "SIG", requires = "allowed_signers")]
    pub signature: Option<PathBuf>,
    /// Exit 2 when the signature file is missing (needs --allowed-signers)
    #[arg(long, requires = "allowed_signers")]
    pub require_signature: bool,
    #[command(flatten)]
    pub key: KeyArgs,
    #[command(flatten)]
    pub archive: ArchiveLimitArgs,
}

#[derive(Debug, Args)]
pub struct KeygenArgs {
    /// The key file to create (refused if it exists; created with mode 0600)
    #[arg(short, long, value_name = "FILE")]
    pub output: PathBuf,
}

/// Bounds on reading archives, so a hostile file cannot exhaust memory.
#[derive(Debug, Args, Clone)]
pub struct ArchiveLimitArgs {
    /// Refuse an archive with a line longer than this (e.g. 64M)
    #[arg(long, value_name = "SIZE", default_value = "64M", value_parser = crate::snapshot::read::parse_size)]
    pub archive_max_line: u64,
    /// Refuse an archive that decompresses to more than this (e.g. 8G)
    #[arg(long, value_name = "SIZE", default_value = "8G", value_parser = crate::snapshot::read::parse_size)]
    pub archive_max_size: u64,
}

impl ArchiveLimitArgs {
    pub fn to_limits(&self) -> crate::snapshot::read::ReadLimits {
        crate::snapshot::read::ReadLimits { max_line: self.archive_max_line, max_total: self.archive_max_size }
    }
}

#[derive(Debug, Args)]
pub struct RulesArgs {
    #[command(flatten)]
    pub rules: RuleArgs,
    /// Print a Markdown table of the rules (name, action, match, why) instead of YAML
    #[arg(long)]
    pub markdown: bool,
    /// Print the built-in platform profiles (kubeadm, eks, calico, flannel, cilium): their
    /// markers and the objects each platform writes, with why and source
    #[arg(long, conflicts_with = "markdown")]
    pub platforms: bool,
}

/// How a live side reads a type (`--list-method`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ListMethod {
    /// Paged lists for a type of a few pages, a watch-list stream for a larger one.
    Auto,
    /// Paged lists only.
    Pages,
    /// A watch-list stream for every type where the server serves them.
    Streams,
}

impl From<ListMethod> for crate::source::ListMethod {
    fn from(m: ListMethod) -> Self {
        match m {
            ListMethod::Auto => crate::source::ListMethod::Auto,
            ListMethod::Pages => crate::source::ListMethod::Pages,
            ListMethod::Streams => crate::source::ListMethod::Streams,
        }
    }
}

/// What to read, and how hard to push the API servers.
#[derive(Debug, Clone, Args)]
pub struct ReadArgs {
    /// Only these namespaces (repeatable, or comma-separated); cluster-scoped types are then left out
    #[arg(short, long = "namespace", value_name = "NS", value_delimiter = ',')]
    pub namespaces: Vec<String>,
    /// Leave these namespaces out (repeatable, or comma-separated)
    #[arg(long = "exclude-namespace", value_name = "NS", value_delimiter = ',')]
    pub exclude_namespaces: Vec<String>,
    /// Only these kinds: Kind, kind.group or plural resource (repeatable, or comma-separated)
    #[arg(long, value_name = "KIND", value_delimiter = ',')]
    pub kinds: Vec<String>,
    /// Leave these kinds out, reported as excluded (repeatable, or comma-separated)
    #[arg(long = "exclude-kinds", value_name = "KIND", value_delimiter = ',')]
    pub exclude_kinds: Vec<String>,
    /// Only objects matching this label selector (as kubectl -l)
    #[arg(short = 'l', long, value_name = "SELECTOR")]
    pub selector: Option<String>,
    /// Concurrent list requests per cluster
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub concurrency: u16,
    /// Objects per list page
    #[arg(long, default_value_t = 500, value_parser = clap::value_parser!(u32).range(1..=10000))]
    pub page_size: u32,
    /// How each type is read: `auto` pages a type of a few pages and streams a larger one as one
    /// watch-list (the server's state and the resourceVersion it describes; Kubernetes 1.34+)
    /// where the server serves that; `streams` streams every type; `pages` reads paged lists
    /// only (e.g. behind a proxy that breaks streams). A stream that fails is paged instead
    #[arg(long, value_enum, default_value_t = ListMethod::Auto, value_name = "METHOD")]
    pub list_method: ListMethod,
    /// Deadline for reading each resource type completely (e.g. 60s, 5m)
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    pub timeout: Duration,
    /// Bound of a single request, as kubectl's (e.g. 10s; 0: no bound but --timeout)
    /// [default: a third of --timeout, between 1s and 30s]
    #[arg(long, value_name = "DURATION", value_parser = parse_request_timeout)]
    pub request_timeout: Option<Duration>,
    /// Impersonate this user, as kubectl --as (replaces the kubeconfig user's `as`)
    #[arg(long = "as", value_name = "USER")]
    pub impersonate: Option<String>,
    /// Impersonate this group, as kubectl --as-group (repeatable; needs --as)
    #[arg(long = "as-group", value_name = "GROUP", requires = "impersonate")]
    pub impersonate_groups: Vec<String>,
    /// Largest server response body accepted, after decompression (bytes, or with Ki, Mi, Gi);
    /// a type whose page is larger is incomplete
    #[arg(long, value_name = "SIZE", env = "KPARITY_MAX_RESPONSE_BYTES", default_value = "512Mi", value_parser = parse_size)]
    pub max_response_bytes: u64,
    /// Ask for uncompressed responses, as kubectl --disable-compression. Compression (gzip, the
    /// default) sends a fraction of the bytes and costs the API server CPU to encode: turn it
    /// off on a fast network to a busy server
    #[arg(long)]
    pub disable_compression: bool,
}

/// kubectl's `--request-timeout`: a duration, or `0` for none.
pub fn parse_request_timeout(s: &str) -> Result<Duration, String> {
    if s.trim().trim_end_matches(['s', 'm', 'h']) == "0" {
        return Ok(Duration::ZERO);
    }
    parse_duration(s)
}

/// `1048576`, `64Ki`, `512Mi`, `2Gi`.
pub fn parse_size(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let (num, unit) = s.find(|c: char| !c.is_ascii_digit()).map_or((s, ""), |i| s.split_at(i));
    let n: u64 = num.parse().map_err(|_| format!("invalid size {s:?}: write e.g. 512Mi or 1048576"))?;
    let mult: u64 = match unit {
        "" => 1,
        "Ki" => 1 << 10,
        "Mi" => 1 << 20,
        "Gi" => 1 << 30,
        _ => return Err(format!("invalid size unit in {s:?}: use Ki, Mi or Gi")),
    };
    let bytes = n.checked_mul(mult).ok_or_else(|| format!("size {s:?} is too large"))?;
    if bytes < 1024 {
        return Err(format!("size {s:?} is too small: at least 1Ki"));
    }
    Ok(bytes)
}

#[derive(Debug, Clone, Args)]
pub struct RuleArgs {
    /// A rules file layered over the built-in rules: more rules, waivers (repeatable)
    #[arg(long = "rules", value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Use no built-in profile except those named with --profile
    #[arg(long)]
    pub no_default_rules: bool,
    /// Turn on a built-in profile (e.g. argocd-label-tracking)
    #[arg(long = "profile", value_name = "NAME", value_delimiter = ',')]
    pub profiles: Vec<String>,
    /// Turn off a built-in profile (e.g. velero)
    #[arg(long = "no-profile", value_name = "NAME", value_delimiter = ',')]
    pub no_profiles: Vec<String>,
}

#[derive(Debug, Clone, Args)]
pub struct KeyArgs {
    /// File holding the secret key (at least 32 random bytes; `kparity keygen` writes one):
    /// Secret values are digested and archives sealed under keys derived from it
    /// [default: $KPARITY_SECRET_KEY]
    #[arg(long, value_name = "FILE")]
    pub secret_key_file: Option<PathBuf>,
}

/// `90`, `90s`, `5m`, `1h`, `500ms`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (num, unit) = s.find(|c: char| !c.is_ascii_digit()).map_or((s, ""), |i| s.split_at(i));
    let n: u64 = num.parse().map_err(|_| format!("invalid duration {s:?}: write e.g. 60s or 5m"))?;
    let d = match unit {
        "" | "s" => Duration::from_secs(n),
        "ms" => Duration::from_millis(n),
        "m" => Duration::from_secs(n * 60),
        "h" => Duration::from_secs(n * 3600),
        _ => return Err(format!("invalid duration unit in {s:?}: use ms, s, m or h")),
    };
    if d.is_zero() {
        return Err("the timeout must be positive".into());
    }
    Ok(d)
}

impl ReadArgs {
    pub fn to_options(&self) -> Result<ReadOptions, String> {
        let kinds = |v: &[String]| v.iter().map(|k| KindFilter::parse(k)).collect::<Result<Vec<_>, _>>();
        let selector = self.selector.as_deref().map(crate::rules::pattern::Selector::parse).transpose()?;
        // A namespace named twice is read once: reading it twice would read every key twice.
        let unique = |v: &[String]| {
            let mut out: Vec<String> = Vec::new();
            for s in v {
                if !out.contains(s) {
                    out.push(s.clone());
                }
            }
            out
        };
        Ok(ReadOptions {
            filters: Filters {
                namespaces: unique(&self.namespaces),
                exclude_namespaces: unique(&self.exclude_namespaces),
                kinds: kinds(&self.kinds)?,
                exclude_kinds: kinds(&self.exclude_kinds)?,
                selector,
            },
            concurrency: usize::from(self.concurrency),
            page_size: self.page_size,
            list_method: self.list_method.into(),
            timeout: self.timeout,
            transport: crate::source::kubeconfig::Transport {
                impersonate: self.impersonate.clone(),
                impersonate_groups: self.impersonate_groups.clone(),
                request_timeout: self.request_timeout,
                max_response_bytes: self.max_response_bytes,
                compression: !self.disable_compression,
            },
            keep_as_read: crate::dump::KeepAsRead::Nothing,
        })
    }
}

impl RuleArgs {
    pub fn to_options(&self) -> RuleOptions {
        RuleOptions {
            no_default_rules: self.no_default_rules,
            profiles: self.profiles.clone(),
            no_profiles: self.no_profiles.clone(),
            files: self.files.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn plugin_executable_reads_as_kubectl_parity() {
        use std::ffi::OsStr;
        assert_eq!(invoked_as(Some(OsStr::new("/usr/local/bin/kubectl-parity"))), "kubectl parity");
        assert_eq!(invoked_as(Some(OsStr::new("kubectl-parity.exe"))), "kubectl parity");
        assert_eq!(invoked_as(Some(OsStr::new("./target/debug/kparity"))), "kparity");
        assert_eq!(invoked_as(None), "kparity");
        let help = command_for("kubectl parity").try_get_matches_from(["kubectl-parity", "diff", "--help"]);
        let text = help.map(|_| String::new()).unwrap_or_else(|e| e.to_string());
        assert!(text.contains("Usage: kubectl parity diff"), "{text}");
        assert!(text.contains("  kubectl parity diff blue green\n"), "examples name the plugin: {text}");
        assert!(!text.contains("  kparity diff"), "{text}");
    }

    #[test]
    fn sizes_and_request_timeouts_parse() {
        assert_eq!(parse_size("512Mi"), Ok(512 << 20));
        assert_eq!(parse_size("4096"), Ok(4096));
        assert!(parse_size("1Ti").is_err());
        assert!(parse_size("10").is_err());
        assert!(parse_size("99999999999Gi").is_err());
        assert_eq!(parse_request_timeout("0"), Ok(Duration::ZERO));
        assert_eq!(parse_request_timeout("0s"), Ok(Duration::ZERO));
        assert_eq!(parse_request_timeout("15s"), Ok(Duration::from_secs(15)));
    }

    #[test]
    fn durations_parse_like_kubectl() {
        assert_eq!(parse_duration("90"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("1d").is_err());
        assert!(parse_duration("abc").is_err());
    }
}
