//! The kparity binary: parse arguments, run a command, map the outcome to an exit code.

use std::process::ExitCode;

use kparity::cli::{Cli, Command};
use kparity::exit::Exit;

// Reading a cluster is allocation-bound (every list page becomes a tree of JSON values): with
// glibc's allocator about a third of kparity's CPU went to malloc/free bookkeeping (perf, 10k
// objects, bench/). mimalloc serves these small, short-lived allocations much more cheaply.
// Its v2 line (the `v2` feature) returns freed memory to the system after 10 ms; v3 keeps it a
// second, and with the CPU pool's threads each holding its own freed pages, a 100,000-object
// diff peaked at 267–310 MiB instead of 198–216 MiB (for about 5 % more CPU; bench/results).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse_invocation();
    init_logging();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: failed to start the async runtime: {e}");
            return Exit::Trouble.into();
        }
    };
    let result = runtime.block_on(async {
        match &cli.command {
            Command::Diff(args) => kparity::commands::diff::run(args, cli.kubeconfig.as_deref(), cli.quiet).await,
            Command::Snapshot(args) => {
                kparity::commands::snapshot::run(args, cli.kubeconfig.as_deref(), cli.quiet).await
            }
            Command::Explain(args) => kparity::commands::explain::run(args, cli.kubeconfig.as_deref(), cli.quiet).await,
            Command::Verify(args) => kparity::commands::verify::run(args, cli.quiet),
            Command::Keygen(args) => kparity::commands::keygen::run(args, cli.quiet),
            Command::Rules(args) => kparity::commands::rules::run(args, cli.quiet),
            Command::Completions(args) => kparity::commands::completions::run(args, cli.quiet),
            Command::Man(args) => kparity::commands::man::run(args, cli.quiet),
        }
    });
    match result {
        Ok(exit) => exit.into(),
        Err(err) => {
            eprintln!("error: {}", err.chain());
            if let Some(hint) = err.hint() {
                eprintln!("hint: {hint}");
            }
            Exit::Trouble.into()
        }
    }
}

/// Logs go to stderr, off unless RUST_LOG asks. The HTTP stack's own tracing stays at `info`
/// whatever RUST_LOG says: at trace level it would dump connection internals, never useful here.
fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        // kube logs every failed request at ERROR without context; kparity reports each failure
        // itself, once, with the type and side it belongs to. RUST_LOG brings them back.
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn,kube_client=off"))
        .add_directive("hyper=info".parse().expect("static directive"))
        .add_directive("hyper_util=info".parse().expect("static directive"))
        .add_directive("h2=info".parse().expect("static directive"))
        .add_directive("rustls=info".parse().expect("static directive"))
        // tower-http and kube's client builder log every failed request at ERROR; kparity
        // reports failures itself, once, with context.
        .add_directive("tower_http=off".parse().expect("static directive"))
        .add_directive("kube_client::client::builder=off".parse().expect("static directive"));
    // Coloured as the report is, by the same rule, judged for stderr: a log sent to a file or a
    // CI step reads without escape codes.
    let ansi = kparity::report::style::colour_wanted(
        std::io::IsTerminal::is_terminal(&std::io::stderr()),
        std::env::var_os("NO_COLOR").as_deref(),
    );
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_ansi(ansi)
        .try_init();
}
