//! One module per subcommand: orchestration only, wiring sources, stages and reports together.

pub mod completions;
pub mod diff;
pub mod explain;
pub mod keygen;
pub mod man;
pub mod rules;
pub mod snapshot;
pub mod verify;

use crate::cli::KeyArgs;
use crate::error::CommandError;
use crate::secrets::SecretKey;

/// The user's secret key (`--secret-key-file`, then `KPARITY_SECRET_KEY`), if any.
pub fn user_secret_key(args: &KeyArgs) -> Result<Option<SecretKey>, CommandError> {
    let material = if let Some(path) = &args.secret_key_file {
        Some(std::fs::read(path).map_err(|e| CommandError::io("failed to read secret key file", path, e))?)
    } else {
        std::env::var_os("KPARITY_SECRET_KEY").filter(|v| !v.is_empty()).map(|v| v.into_encoded_bytes())
    };
    Ok(material.map(|m| SecretKey::from_user(&m)).transpose()?)
}

/// Today's date (UTC), for waiver expiry.
pub fn today() -> time::Date {
    time::OffsetDateTime::now_utc().date()
}
