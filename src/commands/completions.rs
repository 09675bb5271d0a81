//! `kparity completions SHELL`: a completion script generated from the clap definition itself,
//! so completions can never offer a flag the parser does not know.

use crate::cli::CompletionsArgs;
use crate::exit::Exit;

pub fn run(args: &CompletionsArgs, quiet: bool) -> Result<Exit, crate::error::CommandError> {
    let script = script(args.shell);
    if !quiet {
        crate::error::write_stdout(&script)?;
    }
    Ok(Exit::Ok)
}

/// The script for `shell`, completing the `kparity` command.
pub fn script(shell: clap_complete::Shell) -> String {
    let mut cmd = crate::cli::command_for("kparity");
    let mut buf = Vec::new();
    clap_complete::generate(shell, &mut cmd, "kparity", &mut buf);
    String::from_utf8_lossy(&buf).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap_complete::Shell;

    #[test]
    fn completions_offer_every_subcommand_and_diff_flag() {
        for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
            let s = script(shell);
            for word in
                ["diff", "snapshot", "verify", "rules", "completions", "man", "metrics-file", "kubeconfig", "junit"]
            {
                assert!(s.contains(word), "{shell} completions lack {word}");
            }
        }
    }
}
