//! The `cairn` binary: parse the command line, load settings, set up logging, run.

use cairn_server::Settings;
use cairn_server::cli::{self, Cli};
use clap::Parser;

// glibc's malloc keeps each argon2id hash's 19 MiB block after it is freed (its mmap threshold
// adapts upwards and the freed blocks fragment), so every sign-up or login grew the server by about
// that much; mimalloc gives such memory back.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc's settings, read from the environment when the process starts: commit arena memory
/// only when it is used, and give freed memory back to the system (`MADV_DONTNEED`, so it leaves
/// the resident set at once) as soon as it is freed (a delay is only honoured when the freeing
/// thread allocates again, which the hashing threads may not do for hours). Without them an idle server held about
/// 34 MiB, and every argon2id hash (19 MiB) stayed resident after it finished. An operator's own
/// `MIMALLOC_*` values (and `GLIBC_TUNABLES`) win.
///
/// The bundled SQLite allocates with the C library's malloc, not mimalloc: glibc is told to use
/// at most two arenas, to map blocks of 128 KiB and more on their own (unmapped when freed,
/// instead of a threshold that creeps up to 32 MiB), and to give the top of its heap back past
/// 1 MiB. Without this a cold load of a 100,000-change plan left about 300 MiB resident.
const ALLOCATOR_SETTINGS: [(&str, &str); 4] = [
    ("MIMALLOC_ARENA_EAGER_COMMIT", "0"),
    ("MIMALLOC_PURGE_DELAY", "0"),
    ("MIMALLOC_PURGE_DECOMMITS", "1"),
    (
        "GLIBC_TUNABLES",
        "glibc.malloc.arena_max=2:glibc.malloc.trim_threshold=1048576:glibc.malloc.mmap_threshold=131072",
    ),
];

/// Set when the process already runs with [`ALLOCATOR_SETTINGS`].
const ALLOCATOR_SET: &str = "CAIRN_ALLOCATOR_SET";

fn main() -> std::process::ExitCode {
    restart_with_allocator_settings();
    run()
}

/// mimalloc reads its settings before `main`, so the only way to set them from here is to
/// start over: replace this process (same pid, arguments and environment) with the same
/// binary, the settings added. If that fails, run on without them.
fn restart_with_allocator_settings() {
    use std::os::unix::process::CommandExt;
    if std::env::var_os(ALLOCATOR_SET).is_some() {
        return;
    }
    let Ok(binary) = std::env::current_exe() else {
        return;
    };
    let mut args = std::env::args_os();
    let mut command = std::process::Command::new(binary);
    if let Some(name) = args.next() {
        command.arg0(name);
    }
    command.args(args).env(ALLOCATOR_SET, "1");
    for (name, value) in ALLOCATOR_SETTINGS {
        if std::env::var_os(name).is_none() {
            command.env(name, value);
        }
    }
    let err = command.exec();
    eprintln!(
        "cairn: could not restart with the allocator's settings ({err}); running without them"
    );
}

#[actix_web::main]
async fn run() -> std::process::ExitCode {
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
