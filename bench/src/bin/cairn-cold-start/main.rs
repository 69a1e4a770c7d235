//! `cairn-cold-start`: the cold start of a large plan. It writes a plan of N separate Automerge
//! changes the way people make them (a person typing goals, what matters and check-ins character
//! by character, their supporter adding and ticking off steps; each keystroke or tap its own
//! change), stores it through the real Cairn (in this process, on a temporary SQLite database or
//! the Postgres database given) with compaction off, so it is stored as N change rows, and then
//! measures against automerge's own figures for the same bytes:
//!
//! - the cold load: after the plan has left memory, a fresh client connecting and asking for it
//!   until it holds the whole plan (heads equal), and the server-side load alone;
//! - compaction: Cairn restarted on the same database folds the N changes into a snapshot when
//!   the next edit arrives (the plan's worker does it, as it does in production);
//! - the cold load again after compaction.
//!
//! It fails when the fresh client's plan differs from the one uploaded, or when anything is
//! missing after compaction. Every wait is bounded, and the whole run has a deadline.

mod measure;
mod report;
mod writer;

use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use automerge::{AutoCommit, Automerge};
use cairn_bench::stats::{median, mib_from_bytes, mib_from_kib, ms, ratio};
use cairn_server::Settings;
use cairn_shared::PlanId;
use cairn_tests::TestApp;
use clap::Parser;
use reqwest::StatusCode;
use secrecy::SecretString;

use crate::measure::{
    Loads, StoredPlan, cold_sync_on, edits_beside_a_cold_sync, sealed_bytes, sorted, sqlite_size,
    time_runs, wait_evicted,
};
use crate::report::{MemoryMark, print_memory, print_resident, print_secs, process_peak_kib};
use crate::writer::{PlanWriter, tick_first_step};

// The allocator of the `cairn` binary, so memory and time are the server's own. Its settings
// (`MIMALLOC_*`, as `cairn` sets them: freed memory goes back at once) come from the environment;
// scripts/bench-cold-start sets them.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Measure the cold start of a plan with many changes against automerge's own load.
#[derive(Debug, Parser)]
#[command(name = "cairn-cold-start")]
struct Args {
    /// Changes in the plan (its skeleton included), each stored as its own row.
    #[arg(long, default_value_t = 100_000)]
    changes: usize,
    /// Timed repetitions of each measurement; the median is printed.
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// A Postgres database of its own for the run (migrated, and left holding the plan).
    /// Without it: a fresh SQLite file, or a fresh database on `TEST_DATABASE_URL`'s server.
    #[arg(long)]
    database_url: Option<String>,
    /// Give up after this many seconds.
    #[arg(long, default_value_t = 540)]
    deadline_secs: u64,
    /// Seed of the edit sequence (the same seed writes the same plan).
    #[arg(long, default_value_t = 7)]
    seed: u64,
}

/// How long one sync message or one eviction may take before the run fails.
const PATIENCE: Duration = Duration::from_secs(120);

#[tokio::main(flavor = "multi_thread")]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    ensure!(args.changes >= 2, "--changes must be at least 2");
    ensure!(args.runs >= 1, "--runs must be at least 1");
    let deadline = Duration::from_secs(args.deadline_secs);
    match tokio::time::timeout(deadline, run(&args)).await {
        Ok(result) => result,
        Err(_) => bail!("gave up after the {}-second deadline", args.deadline_secs),
    }
}

async fn run(args: &Args) -> anyhow::Result<()> {
    let n = args.changes;
    let runs = args.runs;
    // Compaction off and no size limit while the plan is stored: it must arrive as N rows.
    let database_url = args.database_url.clone();
    let mut first = TestApp::spawn_with(|settings| {
        bench_settings(settings, usize::MAX);
        if let Some(url) = &database_url {
            settings.database_url = Some(SecretString::from(url.clone()));
        }
    })
    .await;
    if let Some(url) = &args.database_url {
        // So the restarted instance below opens the same database.
        first.database_url = url.clone();
    }
    let on_postgres = first.database_url.starts_with("postgres");
    let purging = std::env::var("MIMALLOC_PURGE_DELAY").is_ok_and(|delay| delay == "0");
    println!(
        "allocator: mimalloc, {}",
        if purging {
            "freed memory returned at once (as `cairn` runs)"
        } else {
            "default settings (not as `cairn` runs: use scripts/bench-cold-start)"
        }
    );
    println!(
        "database: {}",
        if on_postgres {
            "Postgres"
        } else {
            "SQLite (temporary file)"
        }
    );

    // The person, their supporter and the plan, as the app sets them up.
    let person = first.register("person").await;
    let supporter = first.register("supporter").await;
    let (plan_text, document_id) = first.plan_with_document(&person, "My plan").await;
    first.add_supporter(&person, &plan_text, &supporter).await;
    let plan: PlanId = plan_text.parse().context("the plan id")?;

    // Write N - 1 edits on top of the skeleton, in sittings that alternate between the two.
    let skeleton = first.plan_changes(person.token(), &plan_text).await;
    let started = Instant::now();
    let mut plan_doc = PlanWriter::new(
        AutoCommit::load(&skeleton).context("the plan's skeleton")?,
        n - 1,
        args.seed,
        &person,
        &supporter,
    );
    let sittings = plan_doc.write_all()?;
    let written_in = started.elapsed();
    let expected_heads = sorted(plan_doc.doc.get_heads());
    let by_person: usize = sittings
        .iter()
        .filter(|s| s.by_person)
        .map(|s| s.changes)
        .sum();
    println!(
        "plan: {n} changes (1 skeleton, {by_person} by the person, {} by the supporter), {} sittings, written in {:.1} s",
        n - 1 - by_person,
        sittings.len(),
        written_in.as_secs_f64()
    );
    println!(
        "plan content: {} goals, {} steps, {} check-ins, {} supports, {} characters typed",
        plan_doc.goals.len(),
        plan_doc.steps.len(),
        plan_doc.check_ins,
        plan_doc.supports,
        plan_doc.typed
    );
    print_resident("after writing the plan");

    // Store it through Cairn: each sitting uploaded by its author over HTTP sync.
    let started = Instant::now();
    for sitting in &sittings {
        let author = if sitting.by_person {
            &person
        } else {
            &supporter
        };
        let answer = first
            .upload_changes(author.token(), &plan_text, sitting.bytes.clone())
            .await;
        ensure!(
            answer.status == StatusCode::OK,
            "upload refused ({}): {}",
            answer.status,
            answer.body
        );
    }
    let uploaded_in = started.elapsed();
    println!(
        "upload: {} HTTP uploads in {:.1} s ({:.0} changes per second)",
        sittings.len(),
        uploaded_in.as_secs_f64(),
        (n - 1) as f64 / uploaded_in.as_secs_f64()
    );
    wait_evicted(&first).await?;
    print_resident("after the upload");

    // What is stored, and the same bytes Cairn loads.
    let stored = first.store.stored_document(plan).await?;
    ensure!(
        stored.snapshot.is_none() && stored.changes.len() == n,
        "expected {n} change rows and no snapshot, found {} rows and {} snapshot",
        stored.changes.len(),
        if stored.snapshot.is_some() { "a" } else { "no" }
    );
    let change_bytes: Vec<u8> = stored
        .changes
        .iter()
        .flat_map(|change| change.data.iter().copied())
        .collect();
    drop(stored);
    let sealed = sealed_bytes(&first.database_url).await?;
    println!(
        "stored: {n} change rows, {:.2} MiB of change bytes, {:.2} MiB sealed{}",
        mib_from_bytes(change_bytes.len()),
        mib_from_bytes(sealed),
        sqlite_size(&first)
            .map(|size| format!(", database file {:.1} MiB", mib_from_bytes(size)))
            .unwrap_or_default()
    );
    if change_bytes.len() > Settings::default().max_document_bytes {
        println!(
            "note: the stored changes exceed the default max_document_bytes ({:.0} MiB); this run raises it",
            mib_from_bytes(Settings::default().max_document_bytes)
        );
    }

    println!();
    println!("== before compaction ({n} change rows)");
    let uncompacted = StoredPlan {
        app: &first,
        plan,
        document_id: &document_id,
        bytes: &change_bytes,
        heads: &expected_heads,
    };
    let before = Loads::measure(
        &uncompacted,
        &supporter,
        runs,
        &format!("automerge load of the {n} stored changes"),
        true,
    )
    .await?;
    let beside =
        edits_beside_a_cold_sync(&first, &person, &supporter, &document_id, &expected_heads)
            .await?;
    println!(
        "another plan's edits while this one cold-loads: {} edits, round trip median {:.1} ms, max {:.1} ms (the cold sync took {:.3} s)",
        beside.round_trips.len(),
        ms(median(beside.round_trips.clone())),
        ms(beside.round_trips.iter().copied().max().unwrap_or_default()),
        beside.cold.as_secs_f64()
    );
    let started = Instant::now();
    let all = first.plan_changes(supporter.token(), &plan_text).await;
    let http_read = started.elapsed();
    ensure!(
        sorted(Automerge::load(&all)?.get_heads()) == expected_heads,
        "GET changes does not hold the whole plan"
    );
    print_secs(
        "cairn cold HTTP read of every change (GET changes)",
        1,
        http_read,
    );
    wait_evicted(&first).await?;
    before.print_ratios();

    // Restart on the same database, compaction on: the next edit folds the N rows.
    println!();
    println!("== compaction");
    let doc = Automerge::load(&change_bytes)?;
    let (automerge_save, _) = time_runs(runs, || {
        Ok::<_, automerge::AutomergeError>(doc.save_with_options(automerge::SaveOptions {
            deflate: true,
            retain_orphans: false,
        }))
    })?;
    // What the plan's worker does besides saving: it lists every change's hash.
    let (listing, _) = time_runs(runs, || {
        Ok::<_, automerge::AutomergeError>(
            doc.get_changes(&[])
                .iter()
                .map(|change| change.hash().to_string())
                .collect::<Vec<_>>(),
        )
    })?;
    drop(doc);
    print_secs(
        "automerge save (deflate) of the same document",
        runs,
        automerge_save,
    );
    print_secs(
        "automerge get_changes of every change, hashes listed (compaction does this)",
        runs,
        listing,
    );
    // The threshold is one above what is stored, so the restarted server's first cold load is
    // measured on its own and the edit after it is what triggers compaction.
    let second =
        TestApp::spawn_beside_with(&first, |settings| bench_settings(settings, n + 1)).await;
    let started = Instant::now();
    let mut client = second.sync_client(&supporter).await;
    cold_sync_on(&mut client, &document_id, &expected_heads).await?;
    print_secs(
        "cairn cold sync after a restart (the new process's first load)",
        1,
        started.elapsed(),
    );
    // One edit by the fresh client: the supporter ticks a box.
    let final_heads = {
        let tracked = client
            .docs
            .get_mut(&document_id)
            .context("the client tracks the plan")?;
        tick_first_step(&mut tracked.doc)?;
        sorted(tracked.doc.get_heads())
    };
    let memory = MemoryMark::set();
    let started = Instant::now();
    client.push(&document_id, false).await;
    let generation = loop {
        let catch_up = second.store.plan_catch_up(plan, i64::MAX, 0).await?;
        if let Some((generation, _)) = catch_up.snapshot {
            break generation;
        }
        ensure!(
            started.elapsed() < PATIENCE,
            "no snapshot {} s after the edit",
            PATIENCE.as_secs()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let compaction = started.elapsed();
    let compaction_memory = memory.peak();
    print_secs(
        &format!(
            "cairn compaction of {} changes (edit sent to snapshot committed)",
            n + 1
        ),
        1,
        compaction,
    );
    print_memory(compaction_memory);
    println!(
        "ratio compaction / automerge save: {:.2}",
        ratio(compaction, automerge_save)
    );
    drop(client);
    wait_evicted(&second).await?;

    // Nothing lost: the snapshot holds every change, every row keeps its author.
    let stored = second.store.stored_document(plan).await?;
    ensure!(
        stored.snapshot_generation == generation && stored.snapshot.is_some(),
        "the snapshot is not the one compaction stored"
    );
    let snapshot_bytes = stored.snapshot.clone().unwrap_or_default();
    let after = Automerge::load(&snapshot_bytes)?;
    ensure!(
        stored.changes.is_empty(),
        "{} changes were left outside the snapshot",
        stored.changes.len()
    );
    ensure!(
        sorted(after.get_heads()) == final_heads && after.get_changes(&[]).len() == n + 1,
        "the compacted plan lacks changes: {} of {}",
        after.get_changes(&[]).len(),
        n + 1
    );
    let log = second.store.change_log(plan).await?;
    ensure!(
        log.entries.len() == n + 1,
        "the change log has {} rows, expected {}",
        log.entries.len(),
        n + 1
    );
    drop(after);
    let sealed_after = sealed_bytes(&second.database_url).await?;
    println!(
        "stored after compaction: snapshot {:.2} MiB ({:.2} MiB sealed in the database), {} change rows kept for attribution, no change bytes",
        mib_from_bytes(snapshot_bytes.len()),
        mib_from_bytes(sealed_after),
        log.entries.len()
    );

    println!();
    println!("== after compaction (one snapshot)");
    let compacted = StoredPlan {
        app: &second,
        plan,
        document_id: &document_id,
        bytes: &snapshot_bytes,
        heads: &final_heads,
    };
    let after = Loads::measure(
        &compacted,
        &person,
        runs,
        "automerge load of the stored snapshot",
        false,
    )
    .await?;
    after.print_ratios();
    println!(
        "ratio cold sync after / before compaction: {:.2}",
        ratio(after.cold.total, before.cold.total)
    );

    println!();
    println!("== summary");
    println!(
        "cold sync of a {n}-change plan, uncompacted (s): {:.3}",
        before.cold.total.as_secs_f64()
    );
    println!(
        "cold sync of the compacted plan (s): {:.3}",
        after.cold.total.as_secs_f64()
    );
    println!(
        "automerge load of the same bytes, uncompacted / compacted (s): {:.3} / {:.3}",
        before.automerge.as_secs_f64(),
        after.automerge.as_secs_f64()
    );
    println!("compaction (s): {:.3}", compaction.as_secs_f64());
    if let Some(peak) = process_peak_kib() {
        println!(
            "peak RSS of this process over the run, servers + clients + writer (MiB): {:.1}",
            mib_from_kib(peak)
        );
    }
    println!("correctness: fresh clients got the uploaded plan; nothing lost in compaction");
    Ok(())
}

/// Settings of both servers: quick eviction so cold loads can be measured, no size or frame
/// limit in the way of a big plan, and the given compaction threshold.
fn bench_settings(settings: &mut Settings, compact_after_changes: usize) {
    // As `cairn` runs on 2 cores by default: every connection on one worker thread.
    settings.http_workers = 1;
    settings.compact_after_changes = compact_after_changes;
    settings.sync_idle_evict_secs = 1;
    settings.max_document_bytes = 1 << 30;
    // Nor does its operation limit stand in the way of the plan this run builds.
    settings.max_document_ops = u64::MAX;
    settings.max_frame_bytes = 256 << 20;
}
