//! Measuring a stored plan's loads: automerge's own load of the same bytes, Cairn's server-side
//! load, cold syncs to fresh clients (and another plan's edits meanwhile), each timed over
//! several runs, with what the server holds in memory and on disk.

use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use automerge::sync::{self, SyncDoc};
use automerge::transaction::Transactable;
use automerge::{AutoCommit, AutoSerde, Automerge, ChangeHash, ROOT};
use cairn_bench::stats::{median, mib_from_bytes, ratio};
use cairn_server::sync::load_document_counted;
use cairn_shared::PlanId;
use cairn_shared::protocol::Message;
use cairn_tests::sync_client::SyncClient;
use cairn_tests::{Session, TestApp};
use sea_orm::{ConnectionTrait, Database, Statement};

use crate::PATIENCE;
use crate::report::{MemoryMark, print_memory, print_secs};

/// A plan as stored, and the server that holds it.
pub struct StoredPlan<'a> {
    pub app: &'a TestApp,
    pub plan: PlanId,
    pub document_id: &'a str,
    /// What is stored (its change rows, or its snapshot), as automerge loads it.
    pub bytes: &'a [u8],
    /// Its heads, sorted.
    pub heads: &'a [ChangeHash],
}

/// A stored plan's loads, each printed with this process's memory during it.
pub struct Loads {
    /// automerge's own load of the stored bytes.
    pub automerge: Duration,
    /// Cairn's server-side load.
    pub server: ServerLoad,
    /// Fresh clients' cold syncs.
    pub cold: ColdSyncs,
}

impl Loads {
    /// Measure and print the three loads of `stored`, the cold syncs by `session`'s fresh
    /// clients; with `rows`, the server's reading of the change rows is printed on its own. Fails
    /// when a load does not give the stored plan.
    pub async fn measure(
        stored: &StoredPlan<'_>,
        session: &Session,
        runs: usize,
        automerge_label: &str,
        rows: bool,
    ) -> anyhow::Result<Self> {
        let memory = MemoryMark::set();
        let (automerge, reloaded) = time_runs(runs, || Automerge::load(stored.bytes))?;
        let automerge_memory = memory.peak();
        ensure!(
            sorted(reloaded.get_heads()) == stored.heads,
            "automerge's load of what is stored does not have the plan's heads"
        );
        let expected_json = serde_json::to_value(AutoSerde::from(&reloaded))?;
        drop(reloaded);
        print_secs(automerge_label, runs, automerge);
        print_memory(automerge_memory);

        let memory = MemoryMark::set();
        let server = time_server_load(stored.app, stored.plan, runs, stored.heads).await?;
        let server_memory = memory.peak();
        print_secs(
            "cairn server-side load (load_document_counted)",
            runs,
            server.total,
        );
        if rows {
            print_secs(
                "  of which reading and opening the rows (Store::stored_bytes)",
                runs,
                server.reading,
            );
        }
        print_memory(server_memory);

        let memory = MemoryMark::set();
        let cold = cold_syncs(stored, session, runs).await?;
        let cold_memory = memory.peak();
        cold.print("cairn cold sync to a fresh client", runs);
        print_memory(cold_memory);
        ensure!(
            cold.json == expected_json,
            "the fresh client's plan differs from the stored one"
        );
        Ok(Self {
            automerge,
            server,
            cold,
        })
    }

    pub fn print_ratios(&self) {
        println!(
            "ratio cold sync / automerge load: {:.2}",
            ratio(self.cold.total, self.automerge)
        );
        println!(
            "ratio server-side load / automerge load: {:.2}",
            ratio(self.server.total, self.automerge)
        );
    }
}

/// Run `work` `runs` times; the median time and the last result.
pub fn time_runs<T, E>(
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

pub struct ServerLoad {
    total: Duration,
    reading: Duration,
}

/// `load_document_counted` on the server's store (what a plan's worker does first), and the
/// storage read inside it alone.
pub async fn time_server_load(
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
pub struct ColdSync {
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

/// Medians of several cold loads, and the last client's plan as JSON.
pub struct ColdSyncs {
    pub total: Duration,
    connect: Duration,
    first_message: Duration,
    applying: Duration,
    messages: usize,
    bytes: usize,
    json: serde_json::Value,
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
            mib_from_bytes(self.bytes)
        );
    }
}

/// `runs` cold loads, each by a fresh client after the plan has left the server's memory.
async fn cold_syncs(
    stored: &StoredPlan<'_>,
    session: &Session,
    runs: usize,
) -> anyhow::Result<ColdSyncs> {
    let app = stored.app;
    let mut all = Vec::new();
    let mut last = None;
    for _ in 0..runs {
        wait_evicted(app).await?;
        let started = Instant::now();
        let mut client = app.sync_client(session).await;
        let connect = started.elapsed();
        let mut cold = cold_sync_on(&mut client, stored.document_id, stored.heads).await?;
        cold.connect = connect;
        cold.total += connect;
        cold.first_message += connect;
        all.push(cold);
        last = client
            .docs
            .remove(stored.document_id)
            .map(|tracked| tracked.doc);
    }
    let doc = last.context("no cold load ran")?;
    let json = serde_json::to_value(AutoSerde::from(&doc))?;
    drop(doc);
    wait_evicted(app).await?;
    Ok(ColdSyncs {
        total: median(all.iter().map(|c| c.total).collect()),
        connect: median(all.iter().map(|c| c.connect).collect()),
        first_message: median(all.iter().map(|c| c.first_message).collect()),
        applying: median(all.iter().map(|c| c.applying).collect()),
        messages: all.last().map_or(0, |c| c.messages),
        bytes: all.last().map_or(0, |c| c.bytes),
        json,
    })
}

/// Another plan's edits, made while a fresh client cold-loads the large one.
pub struct EditsBeside {
    /// Each edit's round trip: the change sent until the server's answer arrived.
    pub round_trips: Vec<Duration>,
    /// How long the cold sync took meanwhile.
    pub cold: Duration,
}

/// Someone editing a small plan of their own while `cold_session`'s fresh client cold-loads the
/// large plan: their edits wait only if loading the large plan holds up the thread that serves
/// them (one HTTP worker here, as by default on 2 cores, so both connections share it).
pub async fn edits_beside_a_cold_sync(
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
pub async fn cold_sync_on(
    client: &mut SyncClient,
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
pub async fn wait_evicted(app: &TestApp) -> anyhow::Result<()> {
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
pub async fn sealed_bytes(database_url: &str) -> anyhow::Result<usize> {
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
pub fn sqlite_size(app: &TestApp) -> Option<usize> {
    if !app.database_url.starts_with("sqlite") {
        return None;
    }
    let file = app.data_dir().join("cairn.db");
    let main = std::fs::metadata(&file).ok()?.len();
    let wal = std::fs::metadata(file.with_extension("db-wal")).map_or(0, |m| m.len());
    usize::try_from(main + wal).ok()
}

/// Change hashes in order, to compare heads.
pub fn sorted(mut heads: Vec<ChangeHash>) -> Vec<ChangeHash> {
    heads.sort();
    heads
}
