//! Exit codes, as diff(1): scripts and pipelines branch on them.

/// The process exit status of a kparity command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Equivalent (diff), intact (verify), success (other commands).
    Ok = 0,
    /// Differences found.
    Different = 1,
    /// Trouble: something could not be read or compared (incomplete), or bad input.
    Trouble = 2,
}

impl From<Exit> for std::process::ExitCode {
    fn from(e: Exit) -> Self {
        std::process::ExitCode::from(e as u8)
    }
}

impl From<crate::diff::Verdict> for Exit {
    fn from(v: crate::diff::Verdict) -> Self {
        match v {
            crate::diff::Verdict::Equivalent => Exit::Ok,
            crate::diff::Verdict::Different => Exit::Different,
            crate::diff::Verdict::Incomplete => Exit::Trouble,
        }
    }
}
