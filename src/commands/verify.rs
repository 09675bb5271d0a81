//! `kparity verify FILE`: checks an archive end to end (compression, structure, every object's
//! digest, the seal, and the HMAC seal when the key is at hand). Exit 0 only if intact.

use crate::cli::VerifyArgs;
use crate::exit::Exit;
use crate::snapshot::read;

pub fn run(args: &VerifyArgs, quiet: bool) -> anyhow::Result<Exit> {
    let key = super::user_secret_key(&crate::cli::KeyArgs { secret_key_file: None })?;
    let v = read::read(&args.file, key.as_ref(), |_| {})
        .map_err(|e| anyhow::Error::new(e).context(format!("refusing {}", args.file.display())))?;
    if !quiet {
        let h = &v.header;
        let incomplete =
            v.trailer.types.iter().filter(|t| t.incomplete.is_some()).count() + v.trailer.incomplete_groups.len();
        let seal = match v.hmac_checked {
            Some(true) => "sha256 and HMAC seal verified",
            _ if h.secret_key_fingerprint.is_some() => {
                "sha256 verified (set KPARITY_SECRET_KEY to check the HMAC seal too)"
            }
            _ => "sha256 verified",
        };
        let text = format!(
            "{}: intact ({seal})\n  kparity archive v{} written by kparity {}\n  context {:?} at {} ({}), captured {}\n  {} objects in {} types; {} incomplete; {} bytes ({} uncompressed)\n  sha256 {}\n",
            args.file.display(),
            h.version,
            h.tool_version,
            h.context,
            h.server,
            h.kubernetes_version.as_deref().unwrap_or("unknown version"),
            h.captured_at,
            v.trailer.object_count,
            v.trailer.types.len(),
            incomplete,
            v.compressed_bytes,
            v.uncompressed_bytes,
            v.sha256
        );
        crate::report::write_stdout(&text)?;
    }
    Ok(Exit::Ok)
}
