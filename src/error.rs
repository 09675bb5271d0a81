//! The one error a command ends with. Each module keeps its own error type (`SourceError`,
//! `RulesError`, `SnapshotError`...), with its causes as a `#[source]` chain and a `hint()` it
//! owns; `CommandError` gathers them at the boundary, adds the context a command knows (which
//! side, which file), and asks the error itself for its hint. `main` prints the chain on one
//! `error:` line and the hint on a `hint:` line.

use std::borrow::Cow;
use std::path::Path;

use crate::commands::explain::ExplainError;
use crate::platform::PlatformOptionError;
use crate::rules::RulesError;
use crate::secrets::WeakKey;
use crate::snapshot::SnapshotError;
use crate::source::{FilterError, SourceError};

#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    #[error(transparent)]
    Source(#[from] SourceError),
    #[error(transparent)]
    Filter(#[from] FilterError),
    #[error(transparent)]
    Rules(#[from] RulesError),
    #[error(transparent)]
    Snapshot(#[from] SnapshotError),
    #[error(transparent)]
    Platform(#[from] PlatformOptionError),
    #[error(transparent)]
    Explain(#[from] ExplainError),
    #[error("invalid secret key")]
    Key(#[from] WeakKey),
    /// A command-line value clap accepted but the options refused.
    #[error("invalid option: {0}")]
    InvalidOption(String),
    /// A file or stream the command itself reads or writes (the report, a key file, man pages).
    #[error("{what}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    /// A refusal that is complete in itself (`keygen` never overwrites a key).
    #[error("{message}")]
    Refused { message: String, hint: Option<&'static str> },
    /// What the command was doing when `source` happened (`failed to read OLD (blue)`).
    #[error("{context}")]
    Context {
        context: String,
        #[source]
        source: Box<CommandError>,
    },
}

impl CommandError {
    /// What the user can do about it: the hint of the error that happened, whatever context
    /// was added around it.
    pub fn hint(&self) -> Option<Cow<'static, str>> {
        match self {
            CommandError::Source(e) => e.hint().map(Cow::Owned),
            CommandError::Filter(e) => e.hint().map(Cow::Owned),
            CommandError::Rules(e) => Some(Cow::Borrowed(e.hint())),
            CommandError::Snapshot(e) => e.hint().map(Cow::Borrowed),
            CommandError::Platform(e) => Some(Cow::Borrowed(e.hint())),
            CommandError::Explain(e) => Some(Cow::Owned(e.hint())),
            CommandError::Key(e) => Some(Cow::Borrowed(e.hint())),
            CommandError::InvalidOption(_) => Some(Cow::Borrowed("`kparity help` lists the options and their values")),
            CommandError::Io { .. } => None,
            CommandError::Refused { hint, .. } => hint.map(Cow::Borrowed),
            CommandError::Context { source, .. } => source.hint(),
        }
    }

    /// The error and its causes on one line, outermost first: `failed to read OLD (blue):
    /// failed to reach context "blue" at https://…: connection refused`.
    pub fn chain(&self) -> String {
        let mut text = self.to_string();
        let mut cause = std::error::Error::source(self);
        while let Some(e) = cause {
            text.push_str(": ");
            text.push_str(&e.to_string());
            cause = e.source();
        }
        text
    }

    /// An I/O failure on `path`, described by what was being done (`failed to write`).
    pub fn io(action: &str, path: &Path, source: std::io::Error) -> CommandError {
        CommandError::Io { what: format!("{action} {}", path.display()), source }
    }
}

/// Adds what the command was doing to an error, as `anyhow::Context` would, keeping the
/// error's type (and so its hint).
pub trait Context<T> {
    fn context_with(self, context: impl FnOnce() -> String) -> Result<T, CommandError>;
}

impl<T, E: Into<CommandError>> Context<T> for Result<T, E> {
    fn context_with(self, context: impl FnOnce() -> String) -> Result<T, CommandError> {
        self.map_err(|e| CommandError::Context { context: context(), source: Box::new(e.into()) })
    }
}

/// Writing the report to stdout (a closed pipe is not an error, see `report::write_stdout`).
pub fn write_stdout(text: &str) -> Result<(), CommandError> {
    crate::report::write_stdout(text)
        .map_err(|source| CommandError::Io { what: "failed to write to stdout".into(), source })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_chain_reads_outermost_first_and_the_hint_survives_context() {
        let inner = CommandError::from(SnapshotError::Tampered { detail: "seal mismatch".into() });
        let e: Result<(), _> = Err::<(), _>(inner).context_with(|| "refusing a.kparity".into());
        let e = e.unwrap_err();
        assert_eq!(e.chain(), "refusing a.kparity: tampered archive: seal mismatch");
        assert_eq!(e.hint().as_deref(), SnapshotError::Tampered { detail: String::new() }.hint());
    }

    #[test]
    fn a_weak_key_is_named_with_its_reason_and_its_hint() {
        let e = CommandError::from(WeakKey::TooShort { len: 5 });
        assert!(e.chain().starts_with("invalid secret key: the secret key is 5 bytes long"), "{}", e.chain());
        assert!(e.hint().is_some_and(|h| h.contains("kparity keygen")));
    }

    #[test]
    fn io_errors_keep_their_cause() {
        let e = CommandError::io(
            "failed to write",
            Path::new("/x/y"),
            std::io::Error::new(std::io::ErrorKind::NotFound, "no such dir"),
        );
        assert_eq!(e.chain(), "failed to write /x/y: no such dir");
        assert!(e.hint().is_none());
    }
}
