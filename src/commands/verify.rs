//! `kparity verify FILE`: checks an archive end to end (compression, structure, every object's
//! digest, per-type counts, the seal) and says plainly what that proves: with the key, the HMAC
//! seal authenticates it; with `--allowed-signers`, its SSH signature does; with neither, the
//! checksums are only consistent — anyone who edits the file can recompute them.

use crate::cli::VerifyArgs;
use crate::exit::Exit;
use crate::snapshot::read::{self, Authentication};
use crate::snapshot::sign;

pub fn run(args: &VerifyArgs, quiet: bool) -> Result<Exit, crate::error::CommandError> {
    let key = super::user_secret_key(&args.key)?;
    let opts = read::ReadOptions { key: key.as_ref(), limits: args.archive.to_limits() };
    let refuse = |e: crate::snapshot::SnapshotError| crate::error::CommandError::Context {
        context: format!("refusing {}", args.file.display()),
        source: Box::new(e.into()),
    };
    // The signature first: it is over the file's exact bytes, so its verdict is the most precise
    // about a file changed after signing.
    let mut missing_signature = None;
    let signer = match &args.allowed_signers {
        None => None,
        Some(allowed) => {
            let sig_path = args.signature.clone().unwrap_or_else(|| sign::signature_path(&args.file));
            if sig_path.exists() {
                Some(sign::verify_signature(&args.file, &sig_path, allowed, args.identity.as_deref()).map_err(refuse)?)
            } else if args.require_signature {
                return Err(refuse(crate::snapshot::SnapshotError::Signature {
                    detail: format!("the signature file {} is missing (--require-signature)", sig_path.display()),
                }));
            } else {
                missing_signature = Some(sig_path);
                None
            }
        }
    };
    let v = read::read_with(&args.file, &opts, |_| {}).map_err(refuse)?;

    let (proofs, strong) = proofs(&v, signer.as_ref());
    let status = if proofs.is_empty() {
        "intact but NOT authenticated: its SHA-256 checksums are consistent, but anyone who edits the archive can \
         recompute them; pass its key (KPARITY_SECRET_KEY or --secret-key-file) to check the HMAC seal, or \
         --allowed-signers to check its signature"
            .to_string()
    } else {
        format!("intact and authenticated: {}", proofs.join("; "))
    };
    let missing = missing_signature
        .map(|p| format!("\n  no signature file {} (--require-signature makes that an error)", p.display()))
        .unwrap_or_default();
    let scheme = if v.format_version() < 2 {
        "\n  format 1 (older scheme): not authenticated with HKDF-derived keys (its seal key is derived from the raw \
         key, which a Secret value could reveal); secret digests not bound to their Secret; take a new snapshot for \
         today's guarantees"
    } else {
        ""
    };
    if !quiet {
        crate::error::write_stdout(&summary(args, &v, &format!("{status}{missing}{scheme}")))?;
    }
    if args.require_auth && strong == 0 {
        if proofs.is_empty() {
            eprintln!(
                "error: {} is not authenticated (--require-auth): consistent checksums alone prove nothing about who wrote it",
                args.file.display()
            );
        } else {
            eprintln!(
                "error: {} is authenticated only by a format 1 HMAC seal (--require-auth): that scheme's seal key could \
                 be revealed by a Secret value, so it does not count",
                args.file.display()
            );
        }
        eprintln!("hint: pass the archive's key (KPARITY_SECRET_KEY or --secret-key-file), or --allowed-signers FILE");
        return Ok(Exit::Trouble);
    }
    Ok(Exit::Ok)
}

/// What proves the archive's origin, and how many of those proofs `--require-auth` accepts. A
/// format 1 HMAC is reported but not counted: its seal key was derived so that a Secret value
/// could reveal it, so it proves less than it says.
fn proofs(v: &read::Verified, signer: Option<&sign::Signer>) -> (Vec<String>, usize) {
    let mut proofs = Vec::new();
    let mut strong = 0;
    if let Authentication::Hmac { fingerprint } = &v.authentication {
        if v.format_version() >= 2 {
            strong += 1;
            proofs.push(format!("HMAC seal verified under key {fingerprint}"));
        } else {
            proofs.push(format!("HMAC seal verified under key {fingerprint} (format 1 scheme, see below)"));
        }
    }
    if let Some(s) = signer {
        strong += 1;
        proofs.push(format!("SSH signature by {} ({}) verified", s.fingerprint, s.principals));
    }
    (proofs, strong)
}

/// The report of a verified archive: its status, then what its header and trailer say.
fn summary(args: &VerifyArgs, v: &read::Verified, status: &str) -> String {
    let h = &v.header;
    let incomplete =
        v.trailer.types.iter().filter(|t| t.incomplete.is_some()).count() + v.trailer.incomplete_groups.len();
    format!(
        "{}: {status}\n  kparity archive v{} written by kparity {}\n  context {:?} at {} ({}), captured {}\n  {} objects in {} types; {} incomplete; {} bytes ({} uncompressed)\n  key fingerprint {}\n  sha256 {}\n",
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
        h.secret_key_fingerprint.as_deref().unwrap_or("none (taken without a secret key: no HMAC seal)"),
        v.sha256
    )
}
