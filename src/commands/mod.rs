//! One module per subcommand: orchestration only, wiring sources, stages and reports together.

pub mod completions;
pub mod diff;
pub mod explain;
pub mod keygen;
pub mod man;
pub mod rules;
pub mod snapshot;
pub mod verify;

use anyhow::Context as _;

use crate::cli::KeyArgs;
use crate::secrets::SecretKey;

/// The user's secret key (`--secret-key-file`, then `KPARITY_SECRET_KEY`), if any.
pub fn user_secret_key(args: &KeyArgs) -> anyhow::Result<Option<SecretKey>> {
    let material = if let Some(path) = &args.secret_key_file {
        Some(std::fs::read(path).with_context(|| format!("failed to read secret key file {}", path.display()))?)
    } else {
        std::env::var_os("KPARITY_SECRET_KEY").filter(|v| !v.is_empty()).map(|v| v.into_encoded_bytes())
    };
    material
        .map(|m| SecretKey::from_user(&m).map_err(|e| anyhow::Error::new(e).context("invalid secret key")))
        .transpose()
}

/// Today's date (UTC), for waiver expiry.
pub fn today() -> time::Date {
    time::OffsetDateTime::now_utc().date()
}

/// The hint of the first error in the chain that has one.
pub fn hint_for(err: &anyhow::Error) -> Option<String> {
    err.chain().find_map(|e| {
        if let Some(s) = e.downcast_ref::<crate::source::SourceError>() {
            return s.hint();
        }
        if e.downcast_ref::<crate::secrets::WeakKey>().is_some() {
            return Some(
                "`kparity keygen -o FILE` writes a random key (mode 0600); pass it with --secret-key-file FILE or \
                 KPARITY_SECRET_KEY"
                    .into(),
            );
        }
        if let Some(p) = e.downcast_ref::<crate::platform::PlatformOptionError>() {
            return Some(p.hint().into());
        }
        if let Some(s) = e.downcast_ref::<crate::source::FilterError>() {
            return s.hint();
        }
        if let Some(s) = e.downcast_ref::<explain::ExplainError>() {
            return Some(s.hint());
        }
        if let Some(s) = e.downcast_ref::<crate::snapshot::SnapshotError>() {
            return s.hint().map(str::to_string);
        }
        match e.downcast_ref::<crate::rules::RulesError>() {
            Some(crate::rules::RulesError::UnknownProfile { .. }) => {
                return Some("`kparity rules` prints the profiles in effect".into());
            }
            Some(crate::rules::RulesError::Read { .. }) => {
                return Some("check the path given to --rules".into());
            }
            Some(crate::rules::RulesError::Parse { .. } | crate::rules::RulesError::Invalid { .. }) => {
                return Some(
                    "`kparity rules` prints the built-in rules in the file format, a working example to start from"
                        .into(),
                );
            }
            None => {}
        }
        None
    })
}
