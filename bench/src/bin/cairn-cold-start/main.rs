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

use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use automerge::sync::{self, SyncDoc};
use automerge::transaction::Transactable;
use automerge::{AutoCommit, AutoSerde, Automerge, ChangeHash, ObjId, ObjType, ROOT, ReadDoc};
use cairn_server::Settings;
use cairn_server::services::plans::load_document_counted;
use cairn_shared::PlanId;
use cairn_shared::plan::{CheckIn, Goal, GoalStatus, Step, StepWho, Support, SupportKind, write};
use cairn_shared::protocol::Message;
use cairn_tests::{Session, TestApp};
use clap::Parser;
use reqwest::StatusCode;
use sea_orm::{ConnectionTrait, Database, Statement};
use secrecy::SecretString;

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
        mib(change_bytes.len()),
        mib(sealed),
        sqlite_size(&first)
            .map(|size| format!(", database file {:.1} MiB", mib(size)))
            .unwrap_or_default()
    );
    if change_bytes.len() > Settings::default().max_document_bytes {
        println!(
            "note: the stored changes exceed the default max_document_bytes ({:.0} MiB); this run raises it",
            mib(Settings::default().max_document_bytes)
        );
    }

    println!();
    println!("== before compaction ({n} change rows)");
    let memory = MemoryMark::set();
    let (automerge_load, reloaded) = time_runs(runs, || Automerge::load(&change_bytes))?;
    let automerge_memory = memory.peak();
    ensure!(
        sorted(reloaded.get_heads()) == expected_heads,
        "automerge's load of the stored changes does not have the uploaded heads"
    );
    let expected_json = serde_json::to_value(AutoSerde::from(&reloaded))?;
    drop(reloaded);
    print_secs(
        &format!("automerge load of the {n} stored changes"),
        runs,
        automerge_load,
    );
    print_memory(automerge_memory);
    let memory = MemoryMark::set();
    let server_load = time_server_load(&first, plan, runs, &expected_heads).await?;
    let server_memory = memory.peak();
    print_secs(
        "cairn server-side load (load_document_counted)",
        runs,
        server_load.total,
    );
    print_secs(
        "  of which reading and opening the rows (Store::stored_bytes)",
        runs,
        server_load.reading,
    );
    print_memory(server_memory);
    let memory = MemoryMark::set();
    let cold = cold_syncs(&first, &supporter, &document_id, &expected_heads, runs).await?;
    let cold_memory = memory.peak();
    cold.print("cairn cold sync to a fresh client", runs);
    print_memory(cold_memory);
    let (last_cold, json) = cold.document;
    ensure!(
        json == expected_json,
        "the fresh client's plan differs from the uploaded one"
    );
    drop(last_cold);
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
    println!(
        "ratio cold sync / automerge load: {:.2}",
        ratio(cold.total, automerge_load)
    );
    println!(
        "ratio server-side load / automerge load: {:.2}",
        ratio(server_load.total, automerge_load)
    );

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
    let expected_json = serde_json::to_value(AutoSerde::from(&after))?;
    drop(after);
    let sealed_after = sealed_bytes(&second.database_url).await?;
    println!(
        "stored after compaction: snapshot {:.2} MiB ({:.2} MiB sealed in the database), {} change rows kept for attribution, no change bytes",
        mib(snapshot_bytes.len()),
        mib(sealed_after),
        log.entries.len()
    );

    println!();
    println!("== after compaction (one snapshot)");
    let memory = MemoryMark::set();
    let (automerge_snapshot_load, _) = time_runs(runs, || Automerge::load(&snapshot_bytes))?;
    let automerge_memory = memory.peak();
    print_secs(
        "automerge load of the stored snapshot",
        runs,
        automerge_snapshot_load,
    );
    print_memory(automerge_memory);
    let memory = MemoryMark::set();
    let server_load_after = time_server_load(&second, plan, runs, &final_heads).await?;
    let server_memory = memory.peak();
    print_secs(
        "cairn server-side load (load_document_counted)",
        runs,
        server_load_after.total,
    );
    print_memory(server_memory);
    let memory = MemoryMark::set();
    let cold_after = cold_syncs(&second, &person, &document_id, &final_heads, runs).await?;
    let cold_memory = memory.peak();
    cold_after.print("cairn cold sync to a fresh client", runs);
    print_memory(cold_memory);
    ensure!(
        cold_after.document.1 == expected_json,
        "after compaction, the fresh client's plan differs from the stored one"
    );
    println!(
        "ratio cold sync / automerge load: {:.2}",
        ratio(cold_after.total, automerge_snapshot_load)
    );
    println!(
        "ratio server-side load / automerge load: {:.2}",
        ratio(server_load_after.total, automerge_snapshot_load)
    );
    println!(
        "ratio cold sync after / before compaction: {:.2}",
        ratio(cold_after.total, cold.total)
    );

    println!();
    println!("== summary");
    println!(
        "cold sync of a {n}-change plan, uncompacted (s): {:.3}",
        cold.total.as_secs_f64()
    );
    println!(
        "cold sync of the compacted plan (s): {:.3}",
        cold_after.total.as_secs_f64()
    );
    println!(
        "automerge load of the same bytes, uncompacted / compacted (s): {:.3} / {:.3}",
        automerge_load.as_secs_f64(),
        automerge_snapshot_load.as_secs_f64()
    );
    println!("compaction (s): {:.3}", compaction.as_secs_f64());
    if let Some(peak) = process_peak_kib() {
        println!(
            "peak RSS of this process over the run, servers + clients + writer (MiB): {:.1}",
            peak as f64 / 1024.0
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

// ---------------------------------------------------------------------------------------------
// Writing the plan

/// One sitting of one author: its changes, concatenated, to upload together.
struct Sitting {
    by_person: bool,
    changes: usize,
    bytes: Vec<u8>,
}

/// Writes edits into a plan the way its two members would, one Automerge change per edit.
struct PlanWriter {
    doc: AutoCommit,
    person_actor: automerge::ActorId,
    supporter_actor: automerge::ActorId,
    person_id: String,
    supporter_id: String,
    made: usize,
    target: usize,
    rng: u64,
    /// Goals: id and text object.
    goals: Vec<(String, ObjId)>,
    /// Steps: goal id and step id.
    steps: Vec<(String, String)>,
    check_ins: usize,
    supports: usize,
    typed: usize,
}

const GOALS: &[&str] = &[
    "Walk to the park with my sister every Sunday",
    "Cook a proper meal twice a week",
    "Get back to the allotment before the spring",
    "Phone my brother more often",
    "Find a part-time job in a bookshop",
    "Sleep before midnight on weekdays",
    "Go swimming on Thursday mornings",
    "Learn to drive so I can visit Mum",
    "Save a little each month for a holiday",
    "Join the choir at the community centre",
    "Sort out the letters from the council",
    "Take the dog for longer walks",
];
const STEPS: &[&str] = &[
    "Look up the bus times",
    "Ask Sam to come along the first time",
    "Write a shopping list together",
    "Call the leisure centre about prices",
    "Put the date in my phone",
    "Bring the forms to our next meeting",
    "Try it once and see how it feels",
    "Check the library noticeboard",
];
const CHECK_INS: &[&str] = &[
    "Went twice this week and felt good after. ",
    "Harder than I thought, but I went. ",
    "Missed it, I was too tired; trying again next week. ",
    "Sam came with me, which helped a lot. ",
];
const WHAT_MATTERS: &[&str] = &[
    "Being near my family. ",
    "Having a routine that feels like mine. ",
    "Feeling useful to someone. ",
    "Being outdoors when I can. ",
];
const SUPPORTS: &[&str] = &[
    "Sam (sister)",
    "Community centre",
    "Citizens Advice",
    "Dr Okafor",
];

impl PlanWriter {
    fn new(
        doc: AutoCommit,
        target: usize,
        seed: u64,
        person: &Session,
        supporter: &Session,
    ) -> Self {
        Self {
            doc,
            person_actor: automerge::ActorId::random(),
            supporter_actor: automerge::ActorId::random(),
            person_id: person.user_id().to_string(),
            supporter_id: supporter.user_id().to_string(),
            made: 0,
            target,
            rng: seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1,
            goals: Vec::new(),
            steps: Vec::new(),
            check_ins: 0,
            supports: 0,
            typed: 0,
        }
    }

    /// xorshift64*: the same seed writes the same plan.
    fn next(&mut self, below: usize) -> usize {
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        let value = self.rng.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 33;
        (value % below.max(1) as u64) as usize
    }

    fn full(&self) -> bool {
        self.made >= self.target
    }

    /// Close the current edit as its own change (a tap that changed nothing, such as picking
    /// the status a goal already has, makes none).
    fn commit(&mut self) -> anyhow::Result<()> {
        if self.doc.commit().is_some() {
            self.made += 1;
        }
        Ok(())
    }

    /// Sittings alternate: the person (longer), then the supporter, until the plan is written.
    fn write_all(&mut self) -> anyhow::Result<Vec<Sitting>> {
        let mut sittings = Vec::new();
        let mut by_person = true;
        while !self.full() {
            let before = self.doc.get_heads();
            let made_before = self.made;
            if by_person {
                self.doc.set_actor(self.person_actor.clone());
                let length = 150 + self.next(450);
                self.person_sitting(made_before + length)?;
            } else {
                self.doc.set_actor(self.supporter_actor.clone());
                let length = 100 + self.next(300);
                self.supporter_sitting(made_before + length)?;
            }
            let changes = self.doc.get_changes(&before);
            ensure!(
                changes.len() == self.made - made_before,
                "a sitting's changes went missing"
            );
            sittings.push(Sitting {
                by_person,
                changes: changes.len(),
                bytes: changes
                    .iter()
                    .flat_map(|change| change.raw_bytes().iter().copied())
                    .collect(),
            });
            by_person = !by_person;
        }
        Ok(sittings)
    }

    fn person_sitting(&mut self, until: usize) -> anyhow::Result<()> {
        while self.made < until && !self.full() {
            match self.next(100) {
                0..50 => self.new_goal()?,
                50..65 if !self.goals.is_empty() => self.set_status()?,
                65..85 => {
                    let text = self.root_text("whatMatters")?;
                    let sentence = WHAT_MATTERS[self.next(WHAT_MATTERS.len())];
                    let at = self.doc.length(&text);
                    self.type_into(&text, at, sentence)?;
                }
                _ => self.check_in()?,
            }
        }
        Ok(())
    }

    fn supporter_sitting(&mut self, until: usize) -> anyhow::Result<()> {
        while self.made < until && !self.full() {
            match self.next(100) {
                _ if self.goals.is_empty() => self.support()?,
                0..55 => self.new_step()?,
                55..75 if !self.steps.is_empty() => {
                    let pick = self.next(self.steps.len());
                    let (goal, step) = self.steps[pick].clone();
                    write::set_step_done(&mut self.doc, &goal, &step, true)?;
                    self.commit()?;
                }
                75..85 => self.set_status()?,
                _ => self.support()?,
            }
        }
        Ok(())
    }

    fn new_goal(&mut self) -> anyhow::Result<()> {
        let id = format!("goal-{}", self.goals.len() + 1);
        write::add_goal(
            &mut self.doc,
            &Goal {
                id: id.clone(),
                text: String::new(),
                status: GoalStatus::Thinking,
                steps: Vec::new(),
                created_by: self.person_id.clone(),
                created_at: "2025-03-01T10:00:00Z".into(),
            },
        )?;
        self.commit()?;
        let goals = self.root_list("goals")?;
        let goal = last_item(&self.doc, &goals)?;
        let text = child(&self.doc, &goal, "text")?;
        self.goals.push((id, text.clone()));
        let words = GOALS[self.next(GOALS.len())];
        self.type_into(&text, 0, words)
    }

    fn new_step(&mut self) -> anyhow::Result<()> {
        // Mostly the goals written lately, as in a real conversation.
        let recent = self.goals.len().min(5);
        let back = self.next(recent);
        let goal_id = self.goals[self.goals.len() - 1 - back].0.clone();
        let step_id = format!("step-{}", self.steps.len() + 1);
        let who = [StepWho::Me, StepWho::Supporter, StepWho::Together][self.next(3)];
        write::add_step(
            &mut self.doc,
            &goal_id,
            &Step {
                id: step_id.clone(),
                text: String::new(),
                who,
                done: false,
                due: None,
            },
        )?;
        self.commit()?;
        let goals = self.root_list("goals")?;
        let goal = write::find_item(&self.doc, &goals, &goal_id).context("the goal")?;
        let steps = child(&self.doc, &goal, "steps")?;
        let step = last_item(&self.doc, &steps)?;
        let text = child(&self.doc, &step, "text")?;
        self.steps.push((goal_id, step_id));
        let words = STEPS[self.next(STEPS.len())];
        self.type_into(&text, 0, words)
    }

    fn set_status(&mut self) -> anyhow::Result<()> {
        let pick = self.next(self.goals.len());
        let (goal, _) = self.goals[pick].clone();
        let status = [
            GoalStatus::Thinking,
            GoalStatus::Working,
            GoalStatus::Paused,
            GoalStatus::Done,
            GoalStatus::LetGo,
        ][self.next(5)];
        write::set_goal_status(&mut self.doc, &goal, status)?;
        self.commit()
    }

    fn check_in(&mut self) -> anyhow::Result<()> {
        self.check_ins += 1;
        write::add_check_in(
            &mut self.doc,
            &CheckIn {
                id: format!("check-in-{}", self.check_ins),
                date: "2025-03-08".into(),
                by: self.person_id.clone(),
                how_it_went: String::new(),
                what_we_learned: String::new(),
            },
        )?;
        self.commit()?;
        let list = self.root_list("checkIns")?;
        let item = last_item(&self.doc, &list)?;
        let text = child(&self.doc, &item, "howItWent")?;
        let words = CHECK_INS[self.next(CHECK_INS.len())];
        self.type_into(&text, 0, words)
    }

    fn support(&mut self) -> anyhow::Result<()> {
        self.supports += 1;
        write::add_support(
            &mut self.doc,
            &Support {
                id: format!("support-{}", self.supports),
                name: String::new(),
                kind: SupportKind::Person,
                contact: None,
                note: Some(format!("Added by {}", self.supporter_id)),
            },
        )?;
        self.commit()?;
        let list = self.root_list("supports")?;
        let item = last_item(&self.doc, &list)?;
        let text = child(&self.doc, &item, "name")?;
        let words = SUPPORTS[self.next(SUPPORTS.len())];
        self.type_into(&text, 0, words)
    }

    /// Type `words` at `at`, one character per change, with the odd typo fixed at once.
    fn type_into(&mut self, text: &ObjId, mut at: usize, words: &str) -> anyhow::Result<()> {
        for character in words.chars() {
            if self.full() {
                return Ok(());
            }
            if self.next(25) == 0 && self.target - self.made >= 3 {
                self.doc.splice_text(text, at, 0, "x")?;
                self.commit()?;
                self.doc.splice_text(text, at, 1, "")?;
                self.commit()?;
            }
            self.doc
                .splice_text(text, at, 0, character.encode_utf8(&mut [0; 4]))?;
            self.commit()?;
            self.typed += 1;
            at += 1;
        }
        Ok(())
    }

    fn root_list(&self, key: &str) -> anyhow::Result<ObjId> {
        child(&self.doc, &ROOT, key)
    }

    fn root_text(&self, key: &str) -> anyhow::Result<ObjId> {
        child(&self.doc, &ROOT, key)
    }
}

fn child(doc: &AutoCommit, object: &ObjId, key: &str) -> anyhow::Result<ObjId> {
    match doc.get(object, key)? {
        Some((automerge::Value::Object(_), id)) => Ok(id),
        _ => bail!("the plan has no object at {key}"),
    }
}

fn last_item(doc: &AutoCommit, list: &ObjId) -> anyhow::Result<ObjId> {
    let length = doc.length(list);
    ensure!(length > 0, "an empty list");
    match doc.get(list, length - 1)? {
        Some((automerge::Value::Object(ObjType::Map), id)) => Ok(id),
        _ => bail!("the list's last item is not a map"),
    }
}

/// The fresh client's one edit after loading the plan: tick (or untick) the first step.
fn tick_first_step(doc: &mut AutoCommit) -> anyhow::Result<()> {
    let goals = child(doc, &ROOT, "goals")?;
    for index in 0..doc.length(&goals) {
        let Some((automerge::Value::Object(ObjType::Map), goal)) = doc.get(&goals, index)? else {
            continue;
        };
        let steps = child(doc, &goal, "steps")?;
        if let Some((automerge::Value::Object(ObjType::Map), step)) = doc.get(&steps, 0)? {
            let done = matches!(
                doc.get(&step, "done")?,
                Some((automerge::Value::Scalar(value), _))
                    if matches!(value.as_ref(), automerge::ScalarValue::Boolean(true))
            );
            doc.put(&step, "done", !done)?;
            doc.commit().context("the tick made no change")?;
            return Ok(());
        }
    }
    bail!("the plan has no step to tick")
}

// ---------------------------------------------------------------------------------------------
// Measuring

/// Run `work` `runs` times; the median time and the last result.
fn time_runs<T, E>(
    runs: usize,
    mut work: impl FnMut() -> Result<T, E>,
) -> anyhow::Result<(Duration, T)>
where
    E: std::error::Error + Send + Sync + 'static,
{
    let mut times = Vec::with_capacity(runs);
    let mut last = None;
    for _ in 0..runs {
        // One result alive at a time, so memory figures are those of one run.
        drop(last.take());
        let started = Instant::now();
        let result = work()?;
        times.push(started.elapsed());
        last = Some(result);
    }
    Ok((median(times), last.context("no run")?))
}

struct ServerLoad {
    total: Duration,
    reading: Duration,
}

/// `load_document_counted` on the server's store (what a plan's worker does first), and the
/// storage read inside it alone.
async fn time_server_load(
    app: &TestApp,
    plan: PlanId,
    runs: usize,
    expected: &[ChangeHash],
) -> anyhow::Result<ServerLoad> {
    let mut totals = Vec::new();
    let mut readings = Vec::new();
    for _ in 0..runs {
        let started = Instant::now();
        let loaded = load_document_counted(&app.store, plan).await?;
        totals.push(started.elapsed());
        ensure!(
            sorted(loaded.document.get_heads()) == expected,
            "the server loads other heads than uploaded"
        );
        drop(loaded);
        let started = Instant::now();
        let stored = app.store.stored_bytes(plan).await?;
        readings.push(started.elapsed());
        drop(stored);
    }
    Ok(ServerLoad {
        total: median(totals),
        reading: median(readings),
    })
}

/// One fresh client's cold load of the plan.
struct ColdSync {
    /// Connect + handshake + request until the client holds the whole plan.
    total: Duration,
    /// Connect + handshake.
    connect: Duration,
    /// Until the server's first sync message for the plan arrived.
    first_message: Duration,
    /// The client decoding and applying what it got.
    applying: Duration,
    messages: usize,
    bytes: usize,
}

/// Medians of several cold loads, and the last client's plan (and its JSON).
struct ColdSyncs {
    total: Duration,
    connect: Duration,
    first_message: Duration,
    applying: Duration,
    messages: usize,
    bytes: usize,
    document: (AutoCommit, serde_json::Value),
}

impl ColdSyncs {
    fn print(&self, label: &str, runs: usize) {
        print_secs(label, runs, self.total);
        print_secs("  of which connect and handshake", runs, self.connect);
        print_secs(
            "  of which until the server's first sync message",
            runs,
            self.first_message,
        );
        print_secs("  of which the client applying it", runs, self.applying);
        println!(
            "  server sync messages / bytes to the client: {} / {:.2} MiB",
            self.messages,
            mib(self.bytes)
        );
    }
}

/// `runs` cold loads, each by a fresh client after the plan has left the server's memory.
async fn cold_syncs(
    app: &TestApp,
    session: &Session,
    document_id: &str,
    expected: &[ChangeHash],
    runs: usize,
) -> anyhow::Result<ColdSyncs> {
    let mut all = Vec::new();
    let mut last = None;
    for _ in 0..runs {
        wait_evicted(app).await?;
        let started = Instant::now();
        let mut client = app.sync_client(session).await;
        let connect = started.elapsed();
        let mut cold = cold_sync_on(&mut client, document_id, expected).await?;
        cold.connect = connect;
        cold.total += connect;
        cold.first_message += connect;
        all.push(cold);
        last = client.docs.remove(document_id).map(|tracked| tracked.doc);
    }
    let doc = last.context("no cold load ran")?;
    let json = serde_json::to_value(AutoSerde::from(&doc))?;
    wait_evicted(app).await?;
    Ok(ColdSyncs {
        total: median(all.iter().map(|c| c.total).collect()),
        connect: median(all.iter().map(|c| c.connect).collect()),
        first_message: median(all.iter().map(|c| c.first_message).collect()),
        applying: median(all.iter().map(|c| c.applying).collect()),
        messages: all.last().map_or(0, |c| c.messages),
        bytes: all.last().map_or(0, |c| c.bytes),
        document: (doc, json),
    })
}

/// Another plan's edits, made while a fresh client cold-loads the large one.
struct EditsBeside {
    /// Each edit's round trip: the change sent until the server's answer arrived.
    round_trips: Vec<Duration>,
    /// How long the cold sync took meanwhile.
    cold: Duration,
}

/// Someone editing a small plan of their own while `cold_session`'s fresh client cold-loads the
/// large plan: their edits wait only if loading the large plan holds up the thread that serves
/// them (one HTTP worker here, as by default on 2 cores, so both connections share it).
async fn edits_beside_a_cold_sync(
    app: &TestApp,
    editor: &Session,
    cold_session: &Session,
    document_id: &str,
    expected: &[ChangeHash],
) -> anyhow::Result<EditsBeside> {
    wait_evicted(app).await?;
    let (_, small) = app.plan_with_document(editor, "Another plan").await;
    let mut probe = app.sync_client(editor).await;
    probe.track(&small, AutoCommit::new());
    probe.sync_doc(&small, true).await;
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let edits = tokio::spawn({
        let stop = stop.clone();
        async move {
            let mut round_trips = Vec::new();
            let mut n = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                n += 1;
                let tracked = probe.docs.get_mut(&small).context("the probe's plan")?;
                tracked.doc.put(ROOT, format!("probe-{n}"), n)?;
                let started = Instant::now();
                ensure!(
                    probe.push(&small, false).await,
                    "the probe had nothing to send"
                );
                ensure!(
                    probe.receive_one(PATIENCE).await,
                    "the server did not answer the other plan's edit"
                );
                round_trips.push(started.elapsed());
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            anyhow::Ok(round_trips)
        }
    });
    // Let the probe make a few edits first, so its plan is warm and its figures start early.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let started = Instant::now();
    let mut client = app.sync_client(cold_session).await;
    cold_sync_on(&mut client, document_id, expected).await?;
    let cold = started.elapsed();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let round_trips = edits.await??;
    drop(client);
    wait_evicted(app).await?;
    Ok(EditsBeside { round_trips, cold })
}

/// Ask for the plan on a connected client with nothing, answering the server like a peer, until
/// the client's heads are `expected`. Times from the request (connect is the caller's).
async fn cold_sync_on(
    client: &mut cairn_tests::sync_client::SyncClient,
    document_id: &str,
    expected: &[ChangeHash],
) -> anyhow::Result<ColdSync> {
    client.track(document_id, AutoCommit::new());
    let started = Instant::now();
    client.push(document_id, true).await;
    let mut first_message = None;
    let mut applying = Duration::ZERO;
    let mut messages = 0;
    let mut bytes = 0;
    loop {
        let tracked = client
            .docs
            .get_mut(document_id)
            .context("the client tracks the plan")?;
        if sorted(tracked.doc.get_heads()) == expected {
            break;
        }
        let message = client
            .next_message(PATIENCE)
            .await
            .context("the server went silent or closed during the cold load")?;
        match message {
            Message::Sync {
                document_id: id,
                data,
                ..
            } if id == document_id => {
                first_message.get_or_insert(started.elapsed());
                messages += 1;
                bytes += data.len();
                let applied = Instant::now();
                let decoded = sync::Message::decode(&data)?;
                let tracked = client
                    .docs
                    .get_mut(document_id)
                    .context("the client tracks the plan")?;
                tracked
                    .doc
                    .sync()
                    .receive_sync_message(&mut tracked.state, decoded)?;
                applying += applied.elapsed();
                client.push(document_id, false).await;
            }
            Message::DocUnavailable { .. } => bail!("the server said the plan is unavailable"),
            Message::Error { message } => bail!("the server sent an error: {message}"),
            _ => {}
        }
    }
    let total = started.elapsed();
    // Acknowledge, as a real peer would, so the server's sync state is settled.
    client.push(document_id, false).await;
    Ok(ColdSync {
        total,
        connect: Duration::ZERO,
        first_message: first_message.unwrap_or(total),
        applying,
        messages,
        bytes,
    })
}

/// Wait until the server holds no plan in memory.
async fn wait_evicted(app: &TestApp) -> anyhow::Result<()> {
    let started = Instant::now();
    while app.hub.loaded_documents() > 0 {
        ensure!(
            started.elapsed() < PATIENCE,
            "the plan stayed in memory for {} s with nobody connected",
            PATIENCE.as_secs()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(())
}

/// Sealed bytes of every change row and snapshot in the database (the run's database holds only
/// this plan).
async fn sealed_bytes(database_url: &str) -> anyhow::Result<usize> {
    let db = Database::connect(database_url).await?;
    let backend = db.get_database_backend();
    let mut total = 0usize;
    for table in ["plan_changes", "plan_snapshots"] {
        let row = db
            .query_one_raw(Statement::from_string(
                backend,
                format!("SELECT CAST(COALESCE(SUM(LENGTH(data)), 0) AS BIGINT) FROM {table}"),
            ))
            .await?
            .context("a sum")?;
        let sum: i64 = row.try_get_by_index(0)?;
        total += usize::try_from(sum).unwrap_or(0);
    }
    db.close().await?;
    Ok(total)
}

/// The SQLite database's size on disk (with its write-ahead log), when it is SQLite.
fn sqlite_size(app: &TestApp) -> Option<usize> {
    if !app.database_url.starts_with("sqlite") {
        return None;
    }
    let file = app.data_dir().join("cairn.db");
    let main = std::fs::metadata(&file).ok()?.len();
    let wal = std::fs::metadata(file.with_extension("db-wal")).map_or(0, |m| m.len());
    usize::try_from(main + wal).ok()
}

/// This process's peak resident memory since the mark was last reset, from /proc.
fn peak_rss_kib() -> Option<u64> {
    proc_status_kib("VmHWM:")
}

/// The highest peak resident memory seen over the whole run (across mark resets).
static RUN_PEAK_KIB: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

fn process_peak_kib() -> Option<u64> {
    let peak = peak_rss_kib()?;
    let before = RUN_PEAK_KIB.fetch_max(peak, std::sync::atomic::Ordering::Relaxed);
    Some(before.max(peak))
}

fn print_resident(when: &str) {
    if let (Some(now), Some(peak)) = (proc_status_kib("VmRSS:"), process_peak_kib()) {
        println!(
            "memory {when}, this process (MiB): {:.1} resident, {:.1} peak so far",
            now as f64 / 1024.0,
            peak as f64 / 1024.0
        );
    }
}

fn proc_status_kib(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix(field))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kib| kib.parse().ok())
}

/// The resident memory at the start of a phase, with the peak mark reset (Linux `clear_refs`),
/// so the peak read at its end is the phase's own.
struct MemoryMark {
    before_kib: Option<u64>,
}

impl MemoryMark {
    fn set() -> Self {
        // Keep the run's overall peak before the mark is reset.
        process_peak_kib();
        let reset = std::fs::write("/proc/self/clear_refs", "5").is_ok();
        Self {
            before_kib: if reset {
                proc_status_kib("VmRSS:")
            } else {
                None
            },
        }
    }

    /// The resident memory at the start of the phase and its peak during it, in KiB.
    fn peak(&self) -> Option<(u64, u64)> {
        Some((self.before_kib?, peak_rss_kib()?))
    }
}

fn print_memory(peak: Option<(u64, u64)>) {
    if let Some((before, peak)) = peak {
        println!(
            "  resident memory of this process, start / peak during it (MiB): {:.1} / {:.1}",
            before as f64 / 1024.0,
            peak as f64 / 1024.0
        );
    }
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times.get(times.len() / 2).copied().unwrap_or_default()
}

fn sorted(mut heads: Vec<ChangeHash>) -> Vec<ChangeHash> {
    heads.sort();
    heads
}

fn ratio(a: Duration, b: Duration) -> f64 {
    a.as_secs_f64() / b.as_secs_f64().max(1e-9)
}

fn mib(bytes: usize) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

fn print_secs(label: &str, runs: usize, time: Duration) {
    if runs > 1 {
        println!("{label} (s, median of {runs}): {:.3}", time.as_secs_f64());
    } else {
        println!("{label} (s): {:.3}", time.as_secs_f64());
    }
}

fn ms(time: Duration) -> f64 {
    time.as_secs_f64() * 1000.0
}
