//! `kparity diff OLD NEW`: reads both sides concurrently, compares, reports, and maps the
//! verdict to an exit code.

use anyhow::Context as _;

use crate::cli::DiffArgs;
use crate::diff::{CompareOptions, compare};
use crate::dump::{Collector, Dump};
use crate::exit::Exit;
use crate::progress::{Progress, SideProgress};
use crate::rules::{self, RuleSet};
use crate::secrets::SecretKey;
use crate::source::kubeconfig::Kubeconfigs;
use crate::source::{ReadOptions, SourceSpec, kubeconfig, live};

pub async fn run(args: &DiffArgs, kubeconfig_path: Option<&std::path::Path>, quiet: bool) -> anyhow::Result<Exit> {
    let rules = rules::load(&args.rules.to_options())?;
    let read = args.read.to_options().map_err(|e| anyhow::anyhow!("invalid option: {e}"))?;
    let old_spec = SourceSpec::parse(&args.old);
    let new_spec = SourceSpec::parse(&args.new);
    let user_key = super::user_secret_key(&args.key)?;
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
    let (old, new) = tokio::join!(
        read_side(&old_spec, &configs, &read, &rules, &key, &old_p),
        read_side(&new_spec, &configs, &read, &rules, &key, &new_p),
    );
    let (old, new) = (
        old.with_context(|| format!("failed to read OLD ({})", args.old))?,
        new.with_context(|| format!("failed to read NEW ({})", args.new))?,
    );

    let cmp = compare(
        &old,
        &new,
        &rules,
        CompareOptions { today: super::today(), ignore_secret_values: args.ignore_secret_values },
    );
    if !quiet {
        crate::report::write_stdout(&crate::report::render(&cmp, args.output))?;
    }
    Ok(Exit::from(cmp.verdict))
}

/// Reads one side into a normalized dump.
pub async fn read_side(
    spec: &SourceSpec,
    configs: &Kubeconfigs,
    read: &ReadOptions,
    rules: &RuleSet,
    key: &SecretKey,
    progress: &SideProgress,
) -> anyhow::Result<Dump> {
    match spec {
        SourceSpec::Context(ctx) => {
            let collector = Collector::new(rules);
            let live = live::read(configs, ctx, read, rules, key, key.run_info(), &collector, progress).await?;
            let (objects, rule_hits) = collector.finish();
            Ok(Dump {
                info: live.info,
                objects,
                incomplete: live.incomplete,
                excluded: live.excluded,
                served: live.served,
                rule_hits,
                type_skips: live.type_skips,
            })
        }
        SourceSpec::Snapshot(path) => crate::snapshot::read_dump(path, read, rules),
    }
}
