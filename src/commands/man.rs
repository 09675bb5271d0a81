//! `kparity man`: the man page, generated from the clap definition so help, completions and
//! documentation cannot drift apart.

use crate::cli::ManArgs;
use crate::error::CommandError;
use crate::exit::Exit;

pub fn run(args: &ManArgs, quiet: bool) -> Result<Exit, CommandError> {
    let cmd = crate::cli::command_for("kparity");
    match &args.dir {
        Some(dir) => {
            std::fs::create_dir_all(dir).map_err(|e| CommandError::io("failed to create", dir, e))?;
            clap_mangen::generate_to(cmd, dir)
                .map_err(|e| CommandError::io("failed to write man pages into", dir, e))?;
        }
        None => {
            let page = page(cmd)
                .map_err(|source| CommandError::Io { what: "failed to render the man page".into(), source })?;
            if !quiet {
                crate::error::write_stdout(&page)?;
            }
        }
    }
    Ok(Exit::Ok)
}

/// The roff source of the page of `cmd`.
pub fn page(cmd: clap::Command) -> std::io::Result<String> {
    let mut buf = Vec::new();
    clap_mangen::Man::new(cmd).render(&mut buf)?;
    Ok(String::from_utf8_lossy(&buf).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn man_page_documents_the_commands_and_exit_codes() {
        let page = page(crate::cli::command_for("kparity")).expect("render");
        assert!(page.starts_with(".ie") || page.contains(".TH kparity"), "{page}");
        for word in ["diff", "completions", "Exit codes", "kubeconfig"] {
            assert!(page.contains(word), "man page lacks {word}");
        }
    }

    #[test]
    fn man_dir_gets_one_page_per_command() {
        let dir = tempfile::tempdir().expect("tempdir");
        run(&ManArgs { dir: Some(dir.path().to_path_buf()) }, false).expect("man --dir");
        for page in ["kparity.1", "kparity-diff.1", "kparity-snapshot.1", "kparity-completions.1"] {
            assert!(dir.path().join(page).is_file(), "{page} missing");
        }
    }
}
