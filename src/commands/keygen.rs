//! `kparity keygen -o FILE`: writes a new secret key — 32 random bytes, hex-encoded — to a file
//! created exclusively with mode 0600, so an existing key is never overwritten (losing a key
//! makes every archive sealed under it unverifiable).

use crate::error::CommandError;

use crate::cli::KeygenArgs;
use crate::exit::Exit;

pub fn run(args: &KeygenArgs, quiet: bool) -> Result<Exit, crate::error::CommandError> {
    use std::io::Write as _;
    let text = crate::secrets::generate_key_text();
    let mut f = crate::snapshot::write::create_private(&args.output).map_err(|e| {
        if e.kind() == std::io::ErrorKind::AlreadyExists {
            CommandError::Refused {
                message: format!(
                    "refusing to write {}: the file exists (a key is never overwritten; archives sealed under it \
                     would become unverifiable)",
                    args.output.display()
                ),
                hint: Some("choose another file name, or move the existing key away first"),
            }
        } else {
            CommandError::io("failed to create", &args.output, e)
        }
    })?;
    f.write_all(text.as_bytes())
        .and_then(|()| f.sync_all())
        .map_err(|e| CommandError::io("failed to write", &args.output, e))?;
    let key = crate::secrets::SecretKey::from_user(text.as_bytes())
        .map_err(|e| CommandError::Refused { message: format!("the generated key was refused: {e}"), hint: None })?;
    if !quiet {
        crate::error::write_stdout(&format!(
            "wrote a new secret key to {} (mode 0600), fingerprint {}\n",
            args.output.display(),
            key.fingerprint()
        ))?;
    }
    Ok(Exit::Ok)
}
