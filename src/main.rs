//! `mesher`: parse the command line, load settings, start logging, run one command.

use clap::Parser;

// The ingest path allocates and frees many small JSON values per event across threads;
// glibc malloc showed ~10% of server CPU there under load (docs/benchmarks.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
use mesher::cli::{self, Cli};
use mesher::config::Settings;

fn main() -> std::process::ExitCode {
    // `RUST_BACKTRACE=1` is for panics. Errors (anyhow's) would capture a backtrace each,
    // which costs memory and time on every expected failure (a 503 during an outage) and is
    // never printed (errors are logged with `{:#}`); `RUST_LIB_BACKTRACE=1` still asks for it.
    if std::env::var_os("RUST_LIB_BACKTRACE").is_none() {
        // SAFETY: no other thread exists yet (the runtime starts below).
        unsafe { std::env::set_var("RUST_LIB_BACKTRACE", "0") };
    }
    run()
}

#[actix_web::main]
async fn run() -> std::process::ExitCode {
    let cli = Cli::parse();
    let settings = match Settings::load() {
        Ok(settings) => settings,
        Err(e) => {
            eprintln!("mesher: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    mesher::telemetry::init(&settings.log);
    match cli::run(cli, settings).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = format!("{e:#}"), "command failed");
            eprintln!("mesher: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
