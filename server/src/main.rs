//! The `cairn` binary: parse the command line, load settings, set up logging, run.

use cairn_server::Settings;
use cairn_server::cli::{self, Cli};
use clap::Parser;

// glibc's malloc keeps each argon2id hash's 19 MiB block after it is freed (its mmap threshold
// adapts upwards and the freed blocks fragment), so every sign-up or login grew the server by about
// that much; mimalloc gives such memory back.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[actix_web::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let settings = match Settings::load(cli.config.as_deref()) {
        Ok(settings) => settings,
        Err(err) => {
            eprintln!("cairn: {err}");
            return std::process::ExitCode::from(2);
        }
    };
    cairn_server::telemetry::init(settings.log_format);
    match cli::run(cli, settings).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("cairn: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
