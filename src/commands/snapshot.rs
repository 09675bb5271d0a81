//! `kparity snapshot CONTEXT -o FILE`: reads a cluster straight into an archive. Rules are not
//! applied (they are applied when the archive is diffed), so everything listable is kept.

use crate::cli::SnapshotArgs;
use crate::dump::CoverageStatus;
use crate::exit::Exit;
use crate::model::TypeRef;
use crate::progress::Progress;

use crate::secrets::SecretKey;
use crate::snapshot::format::*;
use crate::snapshot::sign;
use crate::snapshot::write::SnapshotWriter;
use crate::source::{kubeconfig, live};

pub async fn run(
    args: &SnapshotArgs,
    kubeconfig_path: Option<&std::path::Path>,
    quiet: bool,
) -> Result<Exit, crate::error::CommandError> {
    let read = args.read.to_options().map_err(crate::error::CommandError::InvalidOption)?;
    let user_key = super::user_secret_key(&args.key)?;
    if user_key.is_none() && !quiet {
        eprintln!(
            "warning: no secret key (KPARITY_SECRET_KEY or --secret-key-file): Secret values are not recorded, \
             so diffs of this archive cannot prove them equal"
        );
    }
    let key = user_key.clone().unwrap_or_else(SecretKey::random);
    // Everything that can be refused without a cluster is refused before reading one.
    check_signing(args)?;
    let writer = SnapshotWriter::with_options(&args.output, user_key.is_some(), args.force)?;
    let configs = kubeconfig::load(kubeconfig_path)?;
    // Only `digest` rules act at capture (credentials must never reach the archive in clear);
    // every other rule applies at diff time, so the archive keeps everything listable.
    let user_rules = crate::rules::load(&crate::rules::RuleOptions {
        no_default_rules: true,
        files: args.rules.clone(),
        ..Default::default()
    })?;
    let no_rules = user_rules.digests_only();
    let progress = Progress::new(quiet);
    let side = progress.side(&args.context);
    let prepared = live::prepare(&configs, &args.context, &read, &no_rules).await?;
    // An archive has no other side to agree a version with: each type in its preferred version.
    let plan = prepared.preferred.clone();
    // The field semantics of what is read travel with the objects, so the archive diffs offline
    // exactly as the live cluster would.
    writer.set_semantics(prepared.read_schemas(&plan, &read, &no_rules).await);
    // The pages are parsed, digested and serialized on the CPU pool, and spooled in the order read.
    let (read_ref, rules_ref, key_ref, writer_ref) = (&read, &no_rules, &key, &writer);
    let live = tokio::task::block_in_place(|| {
        crate::cpu::Cpu::scoped(|cpu| {
            tokio::runtime::Handle::current().block_on(live::list(
                prepared,
                &plan,
                read_ref,
                rules_ref,
                key_ref,
                key_ref.archive_info(),
                writer_ref,
                &side,
                cpu,
            ))
        })
    })?;

    let header = header(args, &live, &key, &no_rules);
    let (statuses, groups, excluded) = records(&live);
    let incomplete_count = unexcused_gaps(&live)?;
    let summary = writer.finish(&args.output, &header, statuses, groups, excluded, user_key.as_ref())?;
    let signed = sign_or_clear(args)?;
    if !quiet {
        crate::error::write_stdout(&written(args, &live, &summary, signed.as_ref()))?;
    }
    if incomplete_count > 0 {
        eprintln!(
            "error: {incomplete_count} type(s) could not be read completely; the archive records them as incomplete"
        );
        return Ok(Exit::Trouble);
    }
    Ok(Exit::Ok)
}

/// Refuses a signing key that cannot sign, or a signature file `--force` does not allow to replace.
fn check_signing(args: &SnapshotArgs) -> Result<(), crate::error::CommandError> {
    if let Some(sign_key) = &args.sign_key {
        sign::check_signing_key(sign_key)?;
        let sig = sign::signature_path(&args.output);
        if !args.force && std::fs::symlink_metadata(&sig).is_ok() {
            return Err(crate::snapshot::SnapshotError::Exists { path: sig }.into());
        }
    }
    Ok(())
}

/// Signs the written archive when asked (the signature's path and the key's fingerprint); else a
/// replaced archive's old signature is removed, so it never vouches for the new one.
fn sign_or_clear(args: &SnapshotArgs) -> Result<Option<(std::path::PathBuf, String)>, crate::error::CommandError> {
    if let Some(sign_key) = &args.sign_key {
        return Ok(Some(sign::sign_archive(&args.output, sign_key, args.force)?));
    }
    let stale = sign::signature_path(&args.output);
    if args.force && std::fs::symlink_metadata(&stale).is_ok() {
        std::fs::remove_file(&stale)
            .map_err(|e| crate::snapshot::SnapshotError::Io { path: stale.clone(), source: e })?;
    }
    Ok(None)
}

/// What `kparity snapshot` says it wrote: the archive, its signature, the types left incomplete.
fn written(
    args: &SnapshotArgs,
    live: &live::LiveRead,
    summary: &crate::snapshot::write::ArchiveSummary,
    signed: Option<&(std::path::PathBuf, String)>,
) -> String {
    let mut text = format!(
        "wrote {}: {} objects of {} types from context {:?} ({}), {} bytes, sha256 {}\n",
        args.output.display(),
        summary.objects,
        live.listed.len(),
        args.context,
        live.info.kubernetes_version.as_deref().unwrap_or("unknown version"),
        summary.bytes,
        summary.sha256
    );
    if let Some((sig, fingerprint)) = signed {
        text.push_str(&format!("signed {} with ed25519 key {fingerprint}\n", sig.display()));
    }
    for i in &live.incomplete {
        text.push_str(&format!("incomplete: {}: {}\n", i.type_ref, i.reason));
    }
    text
}

/// The archive's header: where and when it was taken, under which key and filters, every type
/// served, and the users' `digest` rules applied at capture.
fn header(args: &SnapshotArgs, live: &live::LiveRead, key: &SecretKey, no_rules: &crate::rules::RuleSet) -> Header {
    let f = &args.read;
    let mut api_resources: Vec<TypeRecord> = live.served.iter().map(TypeRecord::from).collect();
    api_resources.sort();
    Header {
        format: FORMAT_NAME.into(),
        version: FORMAT_VERSION,
        tool_version: env!("CARGO_PKG_VERSION").into(),
        context: args.context.clone(),
        server: live.info.server.clone(),
        kubernetes_version: live.info.kubernetes_version.clone(),
        captured_at: live.info.time.clone(),
        secret_key_fingerprint: match key.archive_info() {
            crate::secrets::KeyInfo::Keyed { fingerprint } => Some(fingerprint),
            crate::secrets::KeyInfo::Unkeyed => None,
        },
        filters: FiltersRecord {
            namespaces: f.namespaces.clone(),
            exclude_namespaces: f.exclude_namespaces.clone(),
            kinds: f.kinds.clone(),
            exclude_kinds: f.exclude_kinds.clone(),
            selector: f.selector.as_ref().map(|s| s.as_str().to_string()),
        },
        api_resources,
        normalization: "none at capture: rules are applied when the archive is diffed".into(),
        redactions: no_rules
            .digest_rules()
            .map(|(r, paths)| RedactionRecord {
                rule: r.name.clone(),
                origin: r.origin.to_string(),
                rule_text: crate::rules::render(&[r], &[]),
                digest: paths.iter().map(|p| p.as_str().to_string()).collect(),
            })
            .collect(),
    }
}

/// What the trailer records of the read: each type listed (its incompleteness and read
/// point), the groups whose discovery failed, and the kinds excluded.
fn records(live: &live::LiveRead) -> (Vec<TypeStatus>, Vec<IncompleteGroup>, Vec<ExcludedRecord>) {
    let statuses = live
        .listed
        .iter()
        .map(|ty| TypeStatus {
            ty: TypeRecord::from(ty),
            count: 0,
            incomplete: live
                .incomplete
                .iter()
                .find(|i| i.type_ref.resource.as_deref() == Some(&ty.resource) && i.type_ref.group == ty.group)
                .map(|i| IncompleteRecord { reason: i.reason.code().into(), message: i.reason.to_string() }),
            resource_version: live.coverage.iter().find_map(|c| match &c.status {
                CoverageStatus::Read { read_at, .. } if c.type_ref == TypeRef::from(ty) => read_at.clone(),
                _ => None,
            }),
        })
        .collect();
    let groups = live
        .incomplete
        .iter()
        .filter(|i| i.type_ref.resource.is_none())
        .map(|i| IncompleteGroup {
            group: i.type_ref.group.clone(),
            version: i.type_ref.version.clone(),
            reason: i.reason.code().into(),
            message: i.reason.to_string(),
        })
        .collect();
    let excluded = live
        .excluded
        .iter()
        .map(|e| ExcludedRecord {
            group: e.group_kind.group.clone(),
            kind: e.group_kind.kind.clone(),
            by: e.by.clone(),
        })
        .collect();
    (statuses, groups, excluded)
}

/// The archive records every gap; the exit status counts only gaps the default rules would not
/// excuse at diff time anyway (a broken metrics.k8s.io is skipped there).
fn unexcused_gaps(live: &live::LiveRead) -> Result<usize, crate::error::CommandError> {
    let defaults = crate::rules::load(&crate::rules::RuleOptions::default())?;
    Ok(live
        .incomplete
        .iter()
        .filter(|i| {
            let t = &i.type_ref;
            defaults.skipped_group(&t.group).is_none()
                && t.kind.as_ref().is_none_or(|k| defaults.skipped_group_kind(&t.group, k).is_none())
        })
        .count())
}
