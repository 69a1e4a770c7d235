//! `cairn-load`: a bounded load generator for an automerge-repo sync server. It runs N pairs of
//! editors (a person and a supporter, each on their own WebSocket, each pair on its own plan),
//! both editing their plan at a steady rate, and prints what a person on a phone would notice:
//! edits per second, and how long an edit takes to reach the partner (p50, p99). Given the
//! server's process id it also prints the server's CPU seconds per 1,000 edits and its peak
//! resident memory.
//!
//! It speaks the protocol through `cairn_shared::protocol`, and only to loopback addresses. Every
//! run is bounded: a number of edits per editor and a deadline.
//!
//! `--server cairn` registers accounts, creates each plan over REST and invites the supporter.
//! `--server reference` (the `@automerge/automerge-repo-sync-server`, which has no accounts)
//! lets the person create the document and the supporter ask for it by id.
//!
//! Optional phases, for the memory targets:
//! - `--touch N` first touches N other plans, each opened by a short-lived connection that makes
//!   one edit and leaves (a day's worth of people noting a check-in), so the server has seen many
//!   plans while only the pairs' plans stay open. Both servers hold the same plan documents:
//!   Cairn's are made by its REST API, the reference's by the device, with the same skeleton;
//! - `--idle N` afterwards holds N idle sync connections (handshake done, authenticated on
//!   Cairn) and prints the server's resident memory per connection.
//!
//! `--partner-url` connects every supporter to a second server (another Cairn instance on the
//! same Postgres), so the latency is that of an edit crossing instances.

mod editor;
mod idle;
mod setup;

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use cairn_bench::process::{Process, busiest_thread};
use cairn_bench::stats::{mib_from_kib, percentile};
use clap::{Parser, ValueEnum};

use crate::editor::edit;
use crate::idle::hold_idle;
use crate::setup::{set_up_pair, touch_plans};

/// Which server is under load.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ServerKind {
    /// Cairn: accounts, plans over REST, invitations.
    Cairn,
    /// The reference automerge-repo sync server: no accounts.
    Reference,
}

/// Load a sync server with pairs of people editing their plans.
#[derive(Debug, Parser)]
#[command(name = "cairn-load")]
struct Args {
    /// The server's base URL (loopback only), e.g. http://127.0.0.1:8080.
    #[arg(long)]
    url: String,
    /// Which server it is.
    #[arg(long, value_enum, default_value_t = ServerKind::Cairn)]
    server: ServerKind,
    /// Pairs editing at once.
    #[arg(long, default_value_t = 10)]
    pairs: usize,
    /// Edits each editor makes.
    #[arg(long, default_value_t = 50)]
    edits: usize,
    /// Milliseconds between one editor's edits.
    #[arg(long, default_value_t = 200)]
    interval_ms: u64,
    /// Give up after this many seconds, whatever is left.
    #[arg(long, default_value_t = 120)]
    deadline_secs: u64,
    /// The server's process id, to read its CPU time and memory from /proc.
    #[arg(long)]
    server_pid: Option<u32>,
    /// Where supporters connect (another instance on the same database); default: `--url`.
    #[arg(long)]
    partner_url: Option<String>,
    /// Plans touched once (synced by a connection that then leaves) before the pairs start.
    #[arg(long, default_value_t = 0)]
    touch: usize,
    /// Idle sync connections held after the pairs finish, to measure memory per connection.
    #[arg(long, default_value_t = 0)]
    idle: usize,
    /// Seconds to wait after touching plans, before the pairs start (a server may let idle
    /// plans leave memory meanwhile, as Cairn does after `CAIRN_SYNC_IDLE_EVICT_SECS`).
    #[arg(long, default_value_t = 0)]
    settle_secs: u64,
}

/// Only loopback servers are loaded.
fn loopback(url: &str) -> anyhow::Result<()> {
    let base = reqwest::Url::parse(url).with_context(|| format!("bad URL {url}"))?;
    let host: IpAddr = base
        .host_str()
        .unwrap_or_default()
        .trim_matches(['[', ']'])
        .parse()
        .context("the URL must name a loopback IP address")?;
    if !host.is_loopback() {
        bail!("cairn-load only loads servers on this machine (loopback), not {host}");
    }
    Ok(())
}

#[tokio::main(flavor = "multi_thread")]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    loopback(&args.url)?;
    if let Some(partner) = &args.partner_url {
        loopback(partner)?;
        if args.server != ServerKind::Cairn {
            bail!("--partner-url is for several Cairn instances on one database");
        }
    }
    let deadline = Instant::now() + Duration::from_secs(args.deadline_secs);
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()?;
    if args.touch > 0 {
        let started = Instant::now();
        touch_plans(&args, &http, deadline).await?;
        println!(
            "plans touched once: {} in {:.1} s",
            args.touch,
            started.elapsed().as_secs_f64()
        );
        tokio::time::sleep(Duration::from_secs(args.settle_secs)).await;
    }

    if args.pairs == 0 {
        if args.idle > 0 {
            hold_idle(&args, &http).await?;
        }
        return Ok(());
    }
    eprintln!("setting up {} pairs on {}", args.pairs, args.url);
    let mut pairs = Vec::new();
    for index in 0..args.pairs {
        pairs.push(set_up_pair(&args, &http, index).await?);
    }
    let server = args.server_pid.map(Process::Id);
    let before = server.map(Process::cpu_seconds).transpose()?;
    let threads_before = server.map(Process::thread_cpu_seconds).transpose()?;
    // The server's resident memory while the pairs edit, sampled (its peak since start also
    // counts set-up work, such as Cairn's password hashing for the sign-ups).
    let most_rss = Arc::new(AtomicU64::new(0));
    let sampling = server.map(|server| {
        let most_rss = most_rss.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(50));
            loop {
                tick.tick().await;
                let Ok(now) = server.resident_kib() else {
                    return;
                };
                most_rss.fetch_max(now, Ordering::Relaxed);
            }
        })
    });
    eprintln!("{} pairs set up: editing", args.pairs);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for (person, supporter) in &pairs {
        for editor in [person.clone(), supporter.clone()] {
            let edits = args.edits;
            let interval = Duration::from_millis(args.interval_ms);
            tasks.push(tokio::spawn(async move {
                edit(editor, edits, interval, deadline).await
            }));
        }
    }
    for task in tasks {
        task.await??;
    }
    // Let the last edits arrive.
    let expected = args.edits;
    while Instant::now() < deadline {
        let mut all = true;
        for (person, supporter) in &pairs {
            all &=
                *person.seen.lock().await >= expected && *supporter.seen.lock().await >= expected;
        }
        if all {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let after = server.map(Process::cpu_seconds).transpose()?;
    let threads_after = server.map(Process::thread_cpu_seconds).transpose()?;
    let rss_while_editing = match (sampling, server) {
        (Some(sampling), Some(server)) => {
            sampling.abort();
            let last = server.resident_kib()?;
            Some(last.max(most_rss.load(Ordering::Relaxed)))
        }
        _ => None,
    };

    let mut latencies = Vec::new();
    let mut arrived = 0usize;
    for (person, supporter) in &pairs {
        for editor in [person, supporter] {
            latencies.extend(editor.latencies.lock().await.iter().copied());
            arrived += *editor.seen.lock().await;
        }
    }
    let made = args.pairs * 2 * args.edits;
    latencies.sort_by(f64::total_cmp);
    println!("server: {:?} at {}", args.server, args.url);
    println!(
        "pairs: {}, edits made: {made}, arrived at the partner: {arrived}",
        args.pairs
    );
    println!("edits per second: {:.1}", made as f64 / elapsed);
    println!(
        "edit-to-partner latency p50 (ms): {:.1}",
        percentile(&latencies, 0.50)
    );
    println!(
        "edit-to-partner latency p99 (ms): {:.1}",
        percentile(&latencies, 0.99)
    );
    if let (Some(before), Some(after), Some(server)) = (before, after, server) {
        println!(
            "server CPU seconds per 1,000 edits: {:.3}",
            (after - before) / made as f64 * 1000.0
        );
        // A server whose work runs on one thread (Node's) cannot use more than one core: near
        // 1.0 it is at its limit, and its CPU per edit is capped by the clock, not by its work.
        println!(
            "server CPU in use while editing (cores): {:.2}",
            (after - before) / elapsed
        );
        if let (Some(before), Some(after)) = (&threads_before, &threads_after) {
            let (name, busy) = busiest_thread(before, after, elapsed);
            // Node runs the sync server's work on its main thread: the nearer that thread is to
            // a whole core, the more messages queue behind each other (and the more each of its
            // wake-ups handles, which makes each edit cheaper for it).
            println!("server busiest thread while editing (share of a core): {busy:.2} ({name})");
        }
        println!(
            "server peak RSS (MiB): {:.1}",
            mib_from_kib(server.peak_resident_kib()?)
        );
    }
    if let Some(kib) = rss_while_editing {
        println!(
            "server RSS while the pairs edit, most (MiB): {:.1}",
            mib_from_kib(kib)
        );
    }
    if args.idle > 0 {
        hold_idle(&args, &http).await?;
    }
    if arrived < made {
        bail!(
            "{} edits never reached the partner before the deadline",
            made - arrived
        );
    }
    Ok(())
}
