//! `cairn-attack`: what one member can cost a running Cairn's memory. Runs the memory attacks of
//! issue 23 against a server on loopback (one after another, each bounded in count and time) and
//! prints the server's peak resident memory after each, with how many plans it holds and whether
//! the attacking socket was cut off. `scripts/bench-attacks` starts a release build and runs it;
//! the README's Security section states the bound these figures are held against.
//!
//! ```text
//! cairn-attack --address http://127.0.0.1:8080 --pid <server pid>
//! ```

// A benchmark tool: a broken set-up may stop it with a message.
#![allow(clippy::print_stdout, clippy::expect_used, clippy::unwrap_used)]

mod attacks;
mod harness;

use anyhow::Context;
use cairn_bench::process::Process;
use cairn_bench::stats::mib_from_kib;
use clap::Parser;
use serde_json::{Value as Json, json};

use crate::harness::Bench;

#[derive(Debug, Parser)]
struct Args {
    /// The server's base address.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    address: String,
    /// The server's process id (its memory is read from /proc).
    #[arg(long)]
    pid: u32,
    /// Long plans to create and read.
    #[arg(long, default_value_t = 4)]
    plans: usize,
    /// Characters of each long plan.
    #[arg(long, default_value_t = 1_500_000)]
    characters: usize,
    /// Characters of each long plan when the server refuses `characters` (its operation
    /// limit): the longest plans it accepts, read in the same way.
    #[arg(long, default_value_t = 240_000)]
    fallback_characters: usize,
    /// Seconds the server keeps a plan nobody uses (its CAIRN_SYNC_IDLE_EVICT_SECS).
    #[arg(long, default_value_t = 5)]
    idle_evict_secs: u64,
    /// The server's CAIRN_MAX_DOCUMENT_OPS, for the bound.
    #[arg(long, default_value_t = 250_000)]
    max_document_ops: u64,
    /// Memory per Automerge operation of a loaded plan, as the README states it (0.55 KiB).
    #[arg(long, default_value_t = 563)]
    bytes_per_op: u64,
    /// Memory per sync socket, as the README states it: one incoming message
    /// (CAIRN_MAX_FRAME_BYTES) and what may wait to go out (CAIRN_MAX_OUTBOX_BYTES), in MiB.
    #[arg(long, default_value_t = 32)]
    socket_mib: u64,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let http = reqwest::Client::new();
    let name = format!("attacker{}", std::process::id());
    let registered: Json = http
        .post(format!("{}/api/v1/auth/register", args.address))
        .json(&json!({"username": name, "displayName": "Attacker", "password": "a long pass phrase for the bench"}))
        .send()
        .await?
        .json()
        .await?;
    let token = registered["accessToken"]
        .as_str()
        .context("registration gave no token (run the server with CAIRN_REGISTRATION=open)")?
        .to_owned();
    let ws = format!(
        "{}/sync?token={token}",
        args.address.replacen("http", "ws", 1)
    );
    let bench = Bench {
        args,
        http,
        token,
        ws,
    };
    let idle_kib = Process::Id(bench.args.pid)
        .peak_resident_kib()
        .unwrap_or_default();
    println!(
        "{:<44} peak RSS: {:>8.1} MiB",
        "idle server, one account",
        mib_from_kib(idle_kib)
    );

    let plans = attacks::long_plans(&bench).await?;
    attacks::reads_at_once(&bench, &plans).await;
    let (_, document) = plans.first().cloned().context("no plan")?;

    attacks::presence_with_huge_session_ids(&bench, &document).await;
    attacks::rotating_presence_sessions(&bench, &document).await;
    attacks::presence_to_a_socket_that_never_reads(&bench, &document).await;
    let sockets_at_once = attacks::unknown_document_ids(&bench).await;
    attacks::whole_document(&bench).await?;
    attacks::huge_peer_id(&bench).await;

    // The bound the README states, for what this run held at most at once: its long plans
    // (plus one more for the second copy an upload holds while it is checked) and its sockets.
    let per_plan = bench.args.max_document_ops * bench.args.bytes_per_op;
    let plans_held = plans.len() as u64 + 1;
    let bound_kib = idle_kib
        + plans_held * per_plan / 1024
        + sockets_at_once.max(2) * bench.args.socket_mib * 1024;
    let peak_kib = Process::Id(bench.args.pid)
        .peak_resident_kib()
        .unwrap_or_default();
    println!(
        "peak RSS over the run: {:.1} MiB; documented bound for it: {:.1} MiB (idle {:.1} + {plans_held} plans × {:.1} MiB + {} sockets × {} MiB){}",
        mib_from_kib(peak_kib),
        mib_from_kib(bound_kib),
        mib_from_kib(idle_kib),
        mib_from_kib(per_plan / 1024),
        sockets_at_once.max(2),
        bench.args.socket_mib,
        if peak_kib <= bound_kib {
            ""
        } else {
            "  OVER THE BOUND"
        }
    );
    Ok(())
}
