//! `kparity diff OLD NEW`: reads both sides concurrently, compares, reports, and maps the
//! verdict to an exit code. The story of `read_and_compare`: load the rules, open both sides
//! (a live cluster connects and discovers, an archive gives its header), choose the rules in
//! force between their versions and the version each type is read in, read both, compare,
//! set the platforms' differences apart. Live clusters and archives go through the same phases.

use crate::cli::DiffArgs;
use crate::cpu::Cpu;
use crate::diff::{CompareOptions, compare_with};
use crate::dump::{Collector, Dump, KeepAsRead};
use crate::error::{CommandError, Context as _};
use crate::exit::Exit;
use crate::model::ApiType;
use crate::progress::{Progress, SideProgress};
use crate::report::{Format, RunInfo, junit, metrics, style};
use crate::rules::{self, RuleSet};
use crate::schema::{SchemaRecord, Semantics};
use crate::secrets::SecretKey;
use crate::source::kubeconfig::Kubeconfigs;
use crate::source::{ReadOptions, SourceSpec, kubeconfig, live, plan};

pub async fn run(
    args: &DiffArgs,
    kubeconfig_path: Option<&std::path::Path>,
    quiet: bool,
) -> Result<Exit, CommandError> {
    let started = std::time::Instant::now();
    let keep = if args.show_suppressed { KeepAsRead::All } else { KeepAsRead::Nothing };
    let cmp = read_and_compare(args, kubeconfig_path, quiet, keep).await;
    let run = run_info(started.elapsed());
    if let Some(path) = &args.metrics_file {
        // A run that could not compare still leaves metrics (verdict "error"), so an alert on
        // the verdict fires instead of the last good value going stale.
        let text = match &cmp {
            Ok(c) => metrics::render(c, &run),
            Err(_) => metrics::render_failure(&side_name(&args.old), &side_name(&args.new), &run),
        };
        let written = metrics::write_file(path, &text)
            .map_err(|e| crate::error::CommandError::io("failed to write the metrics file", path, e));
        match (&cmp, written) {
            (Ok(_), Err(e)) => return Err(e),
            // The comparison's own error is the one to report; this one is only noted.
            (Err(_), Err(e)) => eprintln!("error: {}", e.chain()),
            (_, Ok(())) => {}
        }
    }
    let cmp = match cmp {
        Ok(c) => c,
        Err(e) => {
            // A CI job collecting the JUnit file must see the failure, not a missing report.
            if args.output == Format::Junit && !quiet {
                let now = time::OffsetDateTime::now_utc()
                    .format(&time::format_description::well_known::Rfc3339)
                    .unwrap_or_default();
                let xml =
                    junit::render_failure(&side_name(&args.old), &side_name(&args.new), &error_text(&e), &run, &now);
                crate::error::write_stdout(&xml)?;
            }
            return Err(e);
        }
    };
    if !quiet {
        let mut text = crate::report::render_with(&cmp, args.output, &run);
        if args.output == Format::Table && style::colour_for_stdout() {
            text = style::colour_table(&text, &cmp);
        }
        crate::error::write_stdout(&text)?;
    }
    Ok(Exit::from(cmp.verdict))
}

/// The error as main prints it: the chain, then the hint.
fn error_text(e: &crate::error::CommandError) -> String {
    match e.hint() {
        Some(hint) => format!("{}\nhint: {hint}", e.chain()),
        None => e.chain(),
    }
}

/// A side as the reports name it: the context, or the snapshot path as given.
fn side_name(arg: &str) -> String {
    match SourceSpec::parse(arg) {
        SourceSpec::Context(name) => name,
        SourceSpec::Snapshot(path) => path.display().to_string(),
    }
}

/// Facts about this run for the reports: how long it took, on which host, when it ended.
fn run_info(duration: std::time::Duration) -> RunInfo {
    let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".to_string());
    let finished_unix =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or_default();
    RunInfo { duration, hostname, finished_unix }
}

/// Reads both sides concurrently and compares them, keeping the objects `keep` selects as read.
pub(crate) async fn read_and_compare(
    args: &DiffArgs,
    kubeconfig_path: Option<&std::path::Path>,
    quiet: bool,
    keep: KeepAsRead,
) -> Result<crate::diff::Comparison, CommandError> {
    let all_rules = rules::load(&args.rules.to_options())?;
    let platforms = crate::platform::profile::builtin()?;
    let mut platform_opts = crate::platform::PlatformOptions::parse(&args.platform, &platforms)?;
    let mut read = args.read.to_options().map_err(CommandError::InvalidOption)?;
    platform_opts.scope = crate::platform::MarkerScope {
        namespaces: read.filters.namespaces.clone(),
        exclude_namespaces: read.filters.exclude_namespaces.clone(),
        selector: read.filters.selector.is_some(),
    };
    read.keep_as_read = keep;
    let old_spec = SourceSpec::parse(&args.old);
    let new_spec = SourceSpec::parse(&args.new);
    if matches!(old_spec, SourceSpec::Snapshot(_)) || matches!(new_spec, SourceSpec::Snapshot(_)) {
        // Without a readable kubeconfig there is no context to be confused with.
        let contexts = kubeconfig::load(kubeconfig_path).map(|k| k.context_names()).unwrap_or_default();
        SourceSpec::check_unambiguous(&args.old, &contexts)?;
        SourceSpec::check_unambiguous(&args.new, &contexts)?;
    }
    let (key, unauthenticated) = run_key(args, [&old_spec, &new_spec], quiet)?;

    let needs_kubeconfig = matches!(old_spec, SourceSpec::Context(_)) || matches!(new_spec, SourceSpec::Context(_));
    let configs = if needs_kubeconfig {
        kubeconfig::load(kubeconfig_path)?
    } else {
        Kubeconfigs { paths: Vec::new(), merged: None }
    };

    let progress = Progress::new(quiet);
    let (old_p, new_p) = (progress.side(&format!("old {}", args.old)), progress.side(&format!("new {}", args.new)));
    let (old_name, new_name) = (format!("old ({})", side_name(&args.old)), format!("new ({})", side_name(&args.new)));
    let limits = args.archive.to_limits();
    let failed = |which: &str, arg: &str| format!("failed to read {which} ({arg})");

    // Open both sides: a live side connects and discovers, an archive gives its header.
    let (old, new) = tokio::join!(
        Opened::open(&old_spec, &configs, &read, &all_rules, &limits),
        Opened::open(&new_spec, &configs, &read, &all_rules, &limits),
    );
    let (old, new) = (old.context_with(|| failed("OLD", &args.old))?, new.context_with(|| failed("NEW", &args.new))?);
    // A filter value that matches nothing on either side is refused before anything is listed.
    crate::source::refuse_unmatched(&read.filters, &old.filter_misses(), &new.filter_misses())?;
    // Version-scoped rules (the `upgrade` profile) are in force only between the versions they
    // were measured on, whether a side is live or archived.
    let rules = all_rules.for_versions(old.kubernetes_version(), new.kubernetes_version());
    let plan = Opened::plan(&old, &new);
    // Both sides are normalized and diffed under the semantics both schemas declare.
    let (old_schemas, new_schemas) =
        tokio::join!(old.schemas(&plan.old, &read, &rules), new.schemas(&plan.new, &read, &rules));
    let semantics = Semantics::merge(
        old_schemas.as_ref().map(|s| (old_name.as_str(), s)),
        new_schemas.as_ref().map(|s| (new_name.as_str(), s)),
    );
    let reading = Reading { read: &read, rules: &rules, key: &key, limits: &limits, semantics: &semantics };
    let (old, new) = reading.both((old, &plan.old, &old_p), (new, &plan.new, &new_p));
    let (old, new) = (old.context_with(|| failed("OLD", &args.old))?, new.context_with(|| failed("NEW", &args.new))?);

    crate::source::refuse_unmatched(&read.filters, &old.filter_misses, &new.filter_misses)?;
    for path in unauthenticated {
        eprintln!(
            "note: {} is read without a secret key, so it is NOT authenticated (its checksums are consistent, but \
             anyone can recompute them); pass its key to check the HMAC seal",
            path.display()
        );
    }
    let mut cmp = compare_with(
        &old,
        &new,
        &rules,
        CompareOptions { today: super::today(), ignore_secret_values: args.ignore_secret_values },
        &semantics,
    );
    // What each side's platform wrote is listed apart and does not fail the gate by itself.
    crate::platform::separate(&mut cmp, &old, &new, &platforms, &platform_opts);
    Ok(cmp)
}

/// The key this run digests secret values under, and the archives that will be read without
/// a key (said once they are read: a refused one gets its error alone). Live sides of one run
/// share one key, so their digests are comparable with each other; the user's key makes them
/// comparable with snapshots taken under it too.
fn run_key(
    args: &DiffArgs,
    specs: [&SourceSpec; 2],
    quiet: bool,
) -> Result<(SecretKey, Vec<std::path::PathBuf>), CommandError> {
    let user_key = super::user_secret_key(&args.key)?;
    let unauthenticated = specs
        .into_iter()
        .filter_map(|s| match s {
            SourceSpec::Snapshot(p) if user_key.is_none() && !quiet => Some(p.clone()),
            _ => None,
        })
        .collect();
    Ok((user_key.unwrap_or_else(SecretKey::random), unauthenticated))
}

/// One side of a comparison, opened but not yet read: a live cluster connected and discovered,
/// or an archive whose header was read. Every kind of side goes through the same phases:
/// `open`, then (with the other side) `plan`, `schemas`, and `read` into a `Dump`.
enum Opened {
    Live(Box<live::Prepared>),
    Archive { path: std::path::PathBuf, opening: crate::snapshot::read::Opening },
}

impl Opened {
    async fn open(
        spec: &SourceSpec,
        configs: &Kubeconfigs,
        read: &ReadOptions,
        rules: &RuleSet,
        limits: &crate::snapshot::read::ReadLimits,
    ) -> Result<Opened, crate::error::CommandError> {
        Ok(match spec {
            SourceSpec::Context(ctx) => Opened::Live(Box::new(live::prepare(configs, ctx, read, rules).await?)),
            SourceSpec::Snapshot(path) => {
                let (path, limits) = (path.clone(), *limits);
                let opening = tokio::task::spawn_blocking({
                    let path = path.clone();
                    move || crate::snapshot::read::read_opening(&path, limits)
                })
                .await
                .unwrap_or_default();
                Opened::Archive { path, opening }
            }
        })
    }

    /// The server version the side reports (an archive: the one its header records).
    fn kubernetes_version(&self) -> Option<&str> {
        match self {
            Opened::Live(p) => p.kubernetes_version(),
            Opened::Archive { opening, .. } => opening.kubernetes_version.as_deref(),
        }
    }

    /// Filter values known, once opened, to match nothing here (an archive: none known yet).
    fn filter_misses(&self) -> crate::source::FilterMisses {
        match self {
            Opened::Live(p) => p.filter_misses.clone(),
            Opened::Archive { .. } => Default::default(),
        }
    }

    /// What each side reads: two live sides agree a version per type (`plan::reconcile`); an
    /// archive holds each type in the version it was taken in, so a side beside one reads its
    /// own preferred versions.
    fn plan(old: &Opened, new: &Opened) -> plan::Plan {
        plan::for_sides(old.discovery(), new.discovery())
    }

    /// What a live side serves, for the plan; an archive's versions are fixed already.
    fn discovery(&self) -> Option<plan::Discovery<'_>> {
        match self {
            Opened::Live(p) => Some(plan::Discovery { preferred: &p.preferred, served: &p.served }),
            Opened::Archive { .. } => None,
        }
    }

    /// The field semantics of what this side will read: a live side's OpenAPI documents for
    /// `plan`, an archive's record (`None` for an archive of an older kparity).
    async fn schemas(&self, plan: &[ApiType], read: &ReadOptions, rules: &RuleSet) -> Option<SchemaRecord> {
        match self {
            Opened::Live(p) => Some(p.read_schemas(plan, read, rules).await),
            Opened::Archive { opening, .. } => opening.schemas.clone(),
        }
    }
}

/// What both sides are read with.
struct Reading<'a> {
    read: &'a ReadOptions,
    rules: &'a RuleSet,
    key: &'a SecretKey,
    limits: &'a crate::snapshot::read::ReadLimits,
    semantics: &'a Semantics,
}

impl Reading<'_> {
    /// Reads both sides at once, each on its own thread: a side's reading (its requests, its
    /// archive's lines) never waits for the other side's. The CPU work of both (parsing,
    /// digesting, normalizing, packing) runs on the pool of `crate::cpu`, one thread per core.
    /// The HTTP connections stay on the main runtime, where the clients were made.
    fn both(
        &self,
        old: (Opened, &[ApiType], &SideProgress),
        new: (Opened, &[ApiType], &SideProgress),
    ) -> (Result<Dump, CommandError>, Result<Dump, CommandError>) {
        tokio::task::block_in_place(|| {
            std::thread::scope(|scope| {
                let old = scope.spawn(move || self.one(old));
                let new = scope.spawn(move || self.one(new));
                let joined = |h: std::thread::ScopedJoinHandle<'_, Result<Dump, CommandError>>| {
                    h.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))
                };
                (joined(old), joined(new))
            })
        })
    }

    /// Reads one side on the calling thread into a normalized dump: a live side with a runtime
    /// of its own, an archive read, verified and normalized as it is read.
    fn one(&self, (opened, plan, progress): (Opened, &[ApiType], &SideProgress)) -> Result<Dump, CommandError> {
        match opened {
            Opened::Live(prepared) => self.live(*prepared, plan, progress),
            Opened::Archive { path, opening } => {
                // With the user's key, an archive not sealed under it is refused, as `verify` does.
                let key = self.key;
                let archive =
                    crate::snapshot::read::ReadOptions { key: key.is_user().then_some(key), limits: *self.limits };
                Ok(crate::snapshot::read_dump_with(
                    &path,
                    self.read,
                    self.rules,
                    key,
                    &archive,
                    self.semantics,
                    Some(&opening),
                )?)
            }
        }
    }

    /// Lists a prepared live side in the versions of `plan` into a normalized dump.
    fn live(&self, prepared: live::Prepared, plan: &[ApiType], progress: &SideProgress) -> Result<Dump, CommandError> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|source| CommandError::Io { what: "failed to start a reading thread's runtime".into(), source })?;
        let collector =
            Collector::with_semantics(self.rules, self.semantics).keeping_as_read(self.read.keep_as_read.clone());
        let (read, rules, key) = (self.read, self.rules, self.key);
        let live = Cpu::scoped(|cpu| {
            runtime.block_on(live::list(prepared, plan, read, rules, key, key.run_info(), &collector, progress, cpu))
        })?;
        let collected = collector.finish();
        let (mut incomplete, mut coverage) = (live.incomplete, live.coverage);
        // A type whose read contradicted itself (a key read twice) is incomplete, not read.
        for dup in collected.incomplete {
            for c in coverage.iter_mut().filter(|c| c.type_ref == dup.type_ref) {
                c.status = crate::dump::CoverageStatus::Incomplete { reason: dup.reason.to_string() };
            }
            incomplete.push(dup);
        }
        Ok(Dump {
            info: live.info,
            objects: collected.objects,
            incomplete,
            excluded: live.excluded,
            served: live.served,
            preferred: live.preferred,
            listed: live.listed,
            rule_hits: collected.rule_hits,
            type_skips: live.type_skips,
            coverage,
            filter_misses: live.filter_misses,
            provenance: collected.provenance,
        })
    }
}
