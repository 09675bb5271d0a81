//! `kparity diff OLD NEW`: reads both sides concurrently, compares, reports, and maps the
//! verdict to an exit code. Live sides are read in two phases: both are connected and
//! discovered first, so each type can then be listed in a version both sides serve.

use anyhow::Context as _;

use crate::cli::DiffArgs;
use crate::diff::{CompareOptions, compare_with};
use crate::dump::{Collector, Dump, KeepAsRead};
use crate::exit::Exit;
use crate::model::ApiType;
use crate::progress::{Progress, SideProgress};
use crate::report::{Format, RunInfo, junit, metrics, style};
use crate::rules::{self, RuleSet};
use crate::schema::{SchemaRecord, Semantics};
use crate::secrets::SecretKey;
use crate::source::kubeconfig::Kubeconfigs;
use crate::source::{ReadOptions, SourceSpec, kubeconfig, live, plan};

pub async fn run(args: &DiffArgs, kubeconfig_path: Option<&std::path::Path>, quiet: bool) -> anyhow::Result<Exit> {
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
            .with_context(|| format!("failed to write the metrics file {}", path.display()));
        match (&cmp, written) {
            (Ok(_), Err(e)) => return Err(e),
            // The comparison's own error is the one to report; this one is only noted.
            (Err(_), Err(e)) => eprintln!("error: {e:#}"),
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
                crate::report::write_stdout(&xml)?;
            }
            return Err(e);
        }
    };
    if !quiet {
        let mut text = crate::report::render_with(&cmp, args.output, &run);
        if args.output == Format::Table && style::colour_for_stdout() {
            text = style::colour_table(&text, &cmp);
        }
        crate::report::write_stdout(&text)?;
    }
    Ok(Exit::from(cmp.verdict))
}

/// The error as main prints it: the chain, then the hint.
fn error_text(e: &anyhow::Error) -> String {
    match super::hint_for(e) {
        Some(hint) => format!("{e:#}\nhint: {hint}"),
        None => format!("{e:#}"),
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
) -> anyhow::Result<crate::diff::Comparison> {
    let all_rules = rules::load(&args.rules.to_options())?;
    let platforms = crate::platform::profile::builtin()?;
    let platform_opts = crate::platform::PlatformOptions::parse(&args.platform, &platforms)?;
    let mut read = args.read.to_options().map_err(|e| anyhow::anyhow!("invalid option: {e}"))?;
    read.keep_as_read = keep;
    let old_spec = SourceSpec::parse(&args.old);
    let new_spec = SourceSpec::parse(&args.new);
    if matches!(old_spec, SourceSpec::Snapshot(_)) || matches!(new_spec, SourceSpec::Snapshot(_)) {
        // Without a readable kubeconfig there is no context to be confused with.
        let contexts = kubeconfig::load(kubeconfig_path).map(|k| k.context_names()).unwrap_or_default();
        SourceSpec::check_unambiguous(&args.old, &contexts)?;
        SourceSpec::check_unambiguous(&args.new, &contexts)?;
    }
    let user_key = super::user_secret_key(&args.key)?;
    // Said once the archives have been read (a refused one gets its error alone).
    let unauthenticated: Vec<std::path::PathBuf> = [&old_spec, &new_spec]
        .into_iter()
        .filter_map(|s| match s {
            SourceSpec::Snapshot(p) if user_key.is_none() && !quiet => Some(p.clone()),
            _ => None,
        })
        .collect();
    // Live sides of one run share one key, so their digests are comparable with each other;
    // the user's key makes them comparable with snapshots taken under it too.
    let key = user_key.unwrap_or_else(SecretKey::random);

    let needs_kubeconfig = matches!(old_spec, SourceSpec::Context(_)) || matches!(new_spec, SourceSpec::Context(_));
    let configs = if needs_kubeconfig {
        kubeconfig::load(kubeconfig_path)?
    } else {
        Kubeconfigs { paths: Vec::new(), merged: None }
    };

    let progress = Progress::new(quiet);
    let (old_p, new_p) = (progress.side(&format!("old {}", args.old)), progress.side(&format!("new {}", args.new)));
    let (old_name, new_name) = (format!("old ({})", side_name(&args.old)), format!("new ({})", side_name(&args.new)));
    let (old, new, rules, semantics) =
        if let (SourceSpec::Context(old_ctx), SourceSpec::Context(new_ctx)) = (&old_spec, &new_spec) {
            let (old, new) = tokio::join!(
                live::prepare(&configs, old_ctx, &read, &all_rules),
                live::prepare(&configs, new_ctx, &read, &all_rules),
            );
            let (old, new) = (
                old.with_context(|| format!("failed to read OLD ({})", args.old))?,
                new.with_context(|| format!("failed to read NEW ({})", args.new))?,
            );
            // A filter value that matches nothing on either side is refused before anything is listed.
            crate::source::refuse_unmatched(&read.filters, &old.filter_misses, &new.filter_misses)?;
            // Version-scoped rules (the `upgrade` profile) are in force only between the versions
            // they were measured on; both sides' versions are known once both are prepared.
            let rules = all_rules.for_versions(old.kubernetes_version(), new.kubernetes_version());
            let plan = plan::reconcile(
                plan::Discovery { preferred: &old.preferred, served: &old.served },
                plan::Discovery { preferred: &new.preferred, served: &new.served },
            );
            // Both sides are normalized and diffed under the semantics both schemas declare.
            let (old_schemas, new_schemas) =
                tokio::join!(old.read_schemas(&plan.old, &read, &rules), new.read_schemas(&plan.new, &read, &rules),);
            let semantics = Semantics::merge(Some((&old_name, &old_schemas)), Some((&new_name, &new_schemas)));
            let (old, new) = tokio::join!(
                list_side(old, &plan.old, &read, &rules, &key, &old_p, &semantics),
                list_side(new, &plan.new, &read, &rules, &key, &new_p, &semantics),
            );
            (
                old.with_context(|| format!("failed to read OLD ({})", args.old))?,
                new.with_context(|| format!("failed to read NEW ({})", args.new))?,
                rules,
                semantics,
            )
        } else {
            // A snapshot's version is known only once it is read: version-scoped rules stay off, so
            // such differences are reported rather than excused on a guess.
            let rules = all_rules.for_versions(None, None);
            let limits = args.archive.to_limits();
            let (old, new) = tokio::join!(
                open_side(&old_spec, &configs, &read, &rules, &limits),
                open_side(&new_spec, &configs, &read, &rules, &limits),
            );
            let (old, new) = (
                old.with_context(|| format!("failed to read OLD ({})", args.old))?,
                new.with_context(|| format!("failed to read NEW ({})", args.new))?,
            );
            let semantics = Semantics::merge(
                old.schemas.as_ref().map(|s| (old_name.as_str(), s)),
                new.schemas.as_ref().map(|s| (new_name.as_str(), s)),
            );
            let (old, new) = tokio::join!(
                read_opened(old, &read, &rules, &key, &limits, &old_p, &semantics),
                read_opened(new, &read, &rules, &key, &limits, &new_p, &semantics),
            );
            (
                old.with_context(|| format!("failed to read OLD ({})", args.old))?,
                new.with_context(|| format!("failed to read NEW ({})", args.new))?,
                rules,
                semantics,
            )
        };

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

/// A side connected and discovered (live) or located (archive), with its schemas, not yet read.
struct Opened {
    source: OpenedSource,
    /// `None`: an archive of an older kparity, which records none.
    schemas: Option<SchemaRecord>,
}

enum OpenedSource {
    Live(Box<live::Prepared>),
    Archive(std::path::PathBuf),
}

async fn open_side(
    spec: &SourceSpec,
    configs: &Kubeconfigs,
    read: &ReadOptions,
    rules: &RuleSet,
    limits: &crate::snapshot::read::ReadLimits,
) -> anyhow::Result<Opened> {
    match spec {
        SourceSpec::Context(ctx) => {
            let prepared = live::prepare(configs, ctx, read, rules).await?;
            let schemas = prepared.read_schemas(&prepared.preferred, read, rules).await;
            Ok(Opened { source: OpenedSource::Live(Box::new(prepared)), schemas: Some(schemas) })
        }
        SourceSpec::Snapshot(path) => {
            let schemas = crate::snapshot::read::read_semantics(path, *limits);
            Ok(Opened { source: OpenedSource::Archive(path.clone()), schemas })
        }
    }
}

async fn read_opened(
    opened: Opened,
    read: &ReadOptions,
    rules: &RuleSet,
    key: &SecretKey,
    limits: &crate::snapshot::read::ReadLimits,
    progress: &SideProgress,
    semantics: &Semantics,
) -> anyhow::Result<Dump> {
    match opened.source {
        OpenedSource::Live(prepared) => {
            let plan = prepared.preferred.clone();
            list_side(*prepared, &plan, read, rules, key, progress, semantics).await
        }
        OpenedSource::Archive(path) => {
            // With the user's key, an archive not sealed under it is refused, as `verify` does.
            let archive = crate::snapshot::read::ReadOptions { key: key.is_user().then_some(key), limits: *limits };
            crate::snapshot::read_dump_with(&path, read, rules, key, &archive, semantics)
        }
    }
}

/// Lists a prepared live side in the versions of `plan` into a normalized dump.
async fn list_side(
    prepared: live::Prepared,
    plan: &[ApiType],
    read: &ReadOptions,
    rules: &RuleSet,
    key: &SecretKey,
    progress: &SideProgress,
    semantics: &Semantics,
) -> anyhow::Result<Dump> {
    let collector = Collector::with_semantics(rules, semantics).keeping_as_read(read.keep_as_read.clone());
    let live = live::list(prepared, plan, read, rules, key, key.run_info(), &collector, progress).await?;
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
