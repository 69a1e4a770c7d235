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

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};
use automerge::sync::{self, SyncDoc};
use automerge::transaction::Transactable;
use automerge::{AutoCommit, ROOT, ReadDoc, ScalarValue, Value};
use cairn_shared::PlanId;
use cairn_shared::protocol::{self, Message, PeerId, PeerMetadata};
use clap::{Parser, ValueEnum};
use futures_util::stream::SplitSink;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value as Json, json};
use tokio::net::TcpStream;
use tokio::sync::Mutex;
use tokio_tungstenite::tungstenite::Message as Frame;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;
type Sink = SplitSink<Socket, Frame>;

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

/// One editor's connection and copy of the plan.
struct Editor {
    label: String,
    partner: String,
    document_id: String,
    peer: PeerId,
    server: PeerId,
    doc: Mutex<(AutoCommit, sync::State)>,
    sink: Mutex<Sink>,
    /// Latencies (ms) of the partner's edits as they arrived here.
    latencies: Mutex<Vec<f64>>,
    /// How many of the partner's edits have arrived.
    seen: Mutex<usize>,
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
    let before = args.server_pid.map(cpu_seconds).transpose()?;
    let threads_before = args.server_pid.map(thread_cpu_seconds).transpose()?;
    // The server's resident memory while the pairs edit, sampled (its peak since start also
    // counts set-up work, such as Cairn's password hashing for the sign-ups).
    let most_rss = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let sampling = args.server_pid.map(|pid| {
        let most_rss = most_rss.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(50));
            loop {
                tick.tick().await;
                let Ok(now) = current_rss_kib(pid) else {
                    return;
                };
                most_rss.fetch_max(now, std::sync::atomic::Ordering::Relaxed);
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
    let after = args.server_pid.map(cpu_seconds).transpose()?;
    let threads_after = args.server_pid.map(thread_cpu_seconds).transpose()?;
    let rss_while_editing = match (sampling, args.server_pid) {
        (Some(sampling), Some(pid)) => {
            sampling.abort();
            let last = current_rss_kib(pid)?;
            Some(last.max(most_rss.load(std::sync::atomic::Ordering::Relaxed)))
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
    if let (Some(before), Some(after), Some(pid)) = (before, after, args.server_pid) {
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
            peak_rss_kib(pid)? as f64 / 1024.0
        );
    }
    if let Some(kib) = rss_while_editing {
        println!(
            "server RSS while the pairs edit, most (MiB): {:.1}",
            kib as f64 / 1024.0
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

/// Register an account on Cairn and return its access token.
async fn register(http: &reqwest::Client, base: &str, name: &str) -> anyhow::Result<String> {
    let answer = post(
        http,
        format!("{base}/api/v1/auth/register"),
        None,
        json!({
            "username": format!("{name}-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]),
            "displayName": name,
            "password": "load test password",
        }),
    )
    .await?;
    Ok(answer["accessToken"]
        .as_str()
        .unwrap_or_default()
        .to_owned())
}

/// Touch `--touch` plans: each is synced once by its own connection, which then closes.
async fn touch_plans(args: &Args, http: &reqwest::Client, deadline: Instant) -> anyhow::Result<()> {
    use futures_util::stream::{self, TryStreamExt};
    let base = args.url.trim_end_matches('/');
    let ws_base = base.replacen("http", "ws", 1);
    let token = match args.server {
        ServerKind::Cairn => Some(register(http, base, "toucher").await?),
        ServerKind::Reference => None,
    };
    let token = token.as_deref();
    let ws_base = ws_base.as_str();
    stream::iter((0..args.touch).map(Ok::<usize, anyhow::Error>))
        .try_for_each_concurrent(8, |index| async move {
            if Instant::now() > deadline {
                bail!("the deadline passed while touching plans");
            }
            let (url, document_id, doc) = match token {
                Some(token) => {
                    let plan = post(
                        http,
                        format!("{base}/api/v1/plans"),
                        Some(token),
                        json!({"title": format!("Touched {index}")}),
                    )
                    .await?;
                    (
                        format!("{ws_base}/sync?token={token}"),
                        plan["documentId"].as_str().unwrap_or_default().to_owned(),
                        AutoCommit::new(),
                    )
                }
                None => {
                    // The same plan document Cairn's REST creation makes, made on the device.
                    let doc = cairn_shared::plan::new_plan_document(
                        automerge::ActorId::random(),
                        &format!("Touched {index}"),
                    )?;
                    (
                        format!("{ws_base}/"),
                        PlanId::new_random().document_id().to_string(),
                        doc,
                    )
                }
            };
            let label = format!("t{index}");
            // A server may turn away a connection when many arrive at once: try again, twice.
            let mut attempt = 0;
            let editor = loop {
                attempt += 1;
                match connect(&url, &label, &label, &document_id, doc.clone()).await {
                    Ok(editor) => break editor,
                    Err(err) if attempt < 3 => {
                        eprintln!("touch {index}: {err:#}; trying again");
                        tokio::time::sleep(Duration::from_millis(200)).await;
                    }
                    Err(err) => return Err(err),
                }
            };
            sync_until_quiet(&editor, token.is_some()).await?;
            // The person opened their plan to note how the day went: one edit, synced.
            {
                let mut guard = editor.doc.lock().await;
                guard.0.put(ROOT, "lastCheckIn", now_ms())?;
                guard.0.commit();
            }
            sync_until_quiet(&editor, false).await?;
            editor.sink.lock().await.close().await?;
            Ok(())
        })
        .await
}

fn current_rss_kib(pid: u32) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kib| kib.parse().ok())
        .context("no VmRSS in /proc/<pid>/status")
}

/// Hold `--idle` sync connections open (handshake done) and report the server's memory for them.
async fn hold_idle(args: &Args, http: &reqwest::Client) -> anyhow::Result<()> {
    use futures_util::stream::{self, StreamExt as _};
    let base = args.url.trim_end_matches('/');
    let ws_base = base.replacen("http", "ws", 1);
    let url = match args.server {
        ServerKind::Cairn => format!(
            "{ws_base}/sync?token={}",
            register(http, base, "idle").await?
        ),
        ServerKind::Reference => format!("{ws_base}/"),
    };
    tokio::time::sleep(Duration::from_secs(2)).await;
    let before = args.server_pid.map(current_rss_kib).transpose()?;
    let started = Instant::now();
    let opened: Vec<anyhow::Result<Socket>> = stream::iter(0..args.idle)
        .map(|index| {
            let url = url.clone();
            async move { open_idle(&url, index).await }
        })
        .buffer_unordered(64)
        .collect()
        .await;
    let mut sockets = Vec::with_capacity(opened.len());
    for socket in opened {
        sockets.push(socket?);
    }
    println!(
        "idle connections open: {} (opened in {:.1} s)",
        sockets.len(),
        started.elapsed().as_secs_f64()
    );
    // Let the server settle (and answer pings: the reader keeps the sockets alive).
    tokio::time::sleep(Duration::from_secs(5)).await;
    if let (Some(before), Some(pid)) = (before, args.server_pid) {
        let after = current_rss_kib(pid)?;
        println!(
            "server RSS before / with the idle connections (MiB): {:.1} / {:.1}",
            before as f64 / 1024.0,
            after as f64 / 1024.0
        );
        println!(
            "server memory per idle connection (KiB): {:.1}",
            after.saturating_sub(before) as f64 / sockets.len().max(1) as f64
        );
        println!(
            "server peak RSS (MiB): {:.1}",
            peak_rss_kib(pid)? as f64 / 1024.0
        );
    }
    for mut socket in sockets {
        let _ = socket.close(None).await;
    }
    Ok(())
}

/// One connection that joins and then says nothing.
async fn open_idle(url: &str, index: usize) -> anyhow::Result<Socket> {
    let (mut socket, _) = tokio_tungstenite::connect_async(url)
        .await
        .with_context(|| format!("idle connection {index}"))?;
    let join = Message::Join {
        sender_id: PeerId(format!("idle-{index}")),
        peer_metadata: PeerMetadata {
            storage_id: None,
            is_ephemeral: true,
        },
        supported_protocol_versions: vec!["1".into()],
    };
    socket
        .send(Frame::Binary(protocol::encode(&join).into()))
        .await?;
    loop {
        match tokio::time::timeout(Duration::from_secs(30), socket.next()).await? {
            Some(Ok(Frame::Binary(bytes))) => {
                if let Ok(Message::Peer { .. }) = protocol::decode(&bytes) {
                    return Ok(socket);
                }
            }
            Some(Ok(_)) => {}
            other => bail!("idle connection {index}: no handshake: {other:?}"),
        }
    }
}

fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((sorted.len() as f64 - 1.0) * q).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

/// The process's user + system CPU time, in seconds.
fn cpu_seconds(pid: u32) -> anyhow::Result<f64> {
    Ok(stat_cpu_seconds(&std::fs::read_to_string(format!(
        "/proc/{pid}/stat"
    ))?))
}

/// Each of the process's threads, by thread id: its name and its user + system CPU time, in
/// seconds.
fn thread_cpu_seconds(pid: u32) -> anyhow::Result<HashMap<u32, (String, f64)>> {
    let mut threads = HashMap::new();
    for entry in std::fs::read_dir(format!("/proc/{pid}/task"))? {
        let entry = entry?;
        let Some(tid) = entry.file_name().to_str().and_then(|t| t.parse().ok()) else {
            continue;
        };
        // A thread that ended between the listing and the read is not counted.
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        let name = stat
            .split_once('(')
            .and_then(|(_, rest)| rest.rsplit_once(')'))
            .map(|(name, _)| name.to_owned())
            .unwrap_or_default();
        threads.insert(tid, (name, stat_cpu_seconds(&stat)));
    }
    Ok(threads)
}

/// The thread that used the most CPU between two readings, and its share of a core over
/// `elapsed` seconds.
fn busiest_thread(
    before: &HashMap<u32, (String, f64)>,
    after: &HashMap<u32, (String, f64)>,
    elapsed: f64,
) -> (String, f64) {
    after
        .iter()
        .map(|(tid, (name, seconds))| {
            let earlier = before.get(tid).map_or(0.0, |(_, seconds)| *seconds);
            (name.clone(), (seconds - earlier) / elapsed)
        })
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .unwrap_or_default()
}

/// User + system CPU time, in seconds, from a `/proc/…/stat` line.
fn stat_cpu_seconds(stat: &str) -> f64 {
    // Fields after the command name (which is in parentheses and may hold spaces).
    let rest = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest)
        .unwrap_or_default();
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // utime and stime are fields 14 and 15 of the whole line: 11 and 12 after the name.
    (ticks(11) + ticks(12)) / clock_ticks_per_second()
}

fn clock_ticks_per_second() -> f64 {
    // The kernel's USER_HZ, 100 on every Linux this runs on; `getconf CLK_TCK` says so. Asked
    // once: the threads' times are read one after another.
    static TICKS: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    *TICKS.get_or_init(|| {
        std::process::Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|out| String::from_utf8(out.stdout).ok())
            .and_then(|text| text.trim().parse().ok())
            .unwrap_or(100.0)
    })
}

/// The process's peak resident memory (VmHWM), in KiB.
fn peak_rss_kib(pid: u32) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kib| kib.parse().ok())
        .context("no VmHWM in /proc status")
}

async fn post(
    http: &reqwest::Client,
    url: String,
    token: Option<&str>,
    body: Json,
) -> anyhow::Result<Json> {
    let mut request = http.post(&url).json(&body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await?;
    let status = response.status();
    let body: Json = response.json().await.unwrap_or(Json::Null);
    if !status.is_success() {
        bail!("POST {url}: {status} {body}");
    }
    Ok(body)
}

async fn set_up_pair(
    args: &Args,
    http: &reqwest::Client,
    index: usize,
) -> anyhow::Result<(Arc<Editor>, Arc<Editor>)> {
    let base = args.url.trim_end_matches('/');
    let ws_base = base.replacen("http", "ws", 1);
    let run = uuid::Uuid::new_v4().simple().to_string();
    let (person_url, supporter_url, document_id) = match args.server {
        ServerKind::Cairn => {
            let mut tokens = Vec::new();
            for role in ["p", "s"] {
                let answer = post(
                    http,
                    format!("{base}/api/v1/auth/register"),
                    None,
                    json!({
                        "username": format!("load-{role}{index}-{}", &run[..8]),
                        "displayName": format!("Load {role}{index}"),
                        "password": "load test password",
                    }),
                )
                .await?;
                tokens.push(
                    answer["accessToken"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned(),
                );
            }
            let plan = post(
                http,
                format!("{base}/api/v1/plans"),
                Some(&tokens[0]),
                json!({"title": "Load"}),
            )
            .await?;
            let id = plan["id"].as_str().unwrap_or_default();
            let invitation = post(
                http,
                format!("{base}/api/v1/plans/{id}/invitations"),
                Some(&tokens[0]),
                json!({}),
            )
            .await?;
            let code = invitation["code"].as_str().unwrap_or_default();
            post(
                http,
                format!("{base}/api/v1/invitations/{code}/accept"),
                Some(&tokens[1]),
                json!({}),
            )
            .await?;
            let partner_base = args
                .partner_url
                .as_deref()
                .unwrap_or(base)
                .trim_end_matches('/')
                .replacen("http", "ws", 1);
            (
                format!("{ws_base}/sync?token={}", tokens[0]),
                format!("{partner_base}/sync?token={}", tokens[1]),
                plan["documentId"].as_str().unwrap_or_default().to_owned(),
            )
        }
        ServerKind::Reference => (
            format!("{ws_base}/"),
            format!("{ws_base}/"),
            PlanId::new_random().document_id().to_string(),
        ),
    };
    let person_label = format!("p{index}");
    let supporter_label = format!("s{index}");
    let mut first = AutoCommit::new();
    if args.server == ServerKind::Reference {
        // No server-made skeleton here: the person's device makes the document.
        first.put(ROOT, "title", "Load")?;
        first.commit();
    }
    let person = connect(
        &person_url,
        &person_label,
        &supporter_label,
        &document_id,
        first,
    )
    .await?;
    sync_until_quiet(&person, args.server == ServerKind::Cairn).await?;
    let supporter = connect(
        &supporter_url,
        &supporter_label,
        &person_label,
        &document_id,
        AutoCommit::new(),
    )
    .await?;
    sync_until_quiet(&supporter, true).await?;
    Ok((person, supporter))
}

async fn connect(
    url: &str,
    label: &str,
    partner: &str,
    document_id: &str,
    doc: AutoCommit,
) -> anyhow::Result<Arc<Editor>> {
    let peer = PeerId(format!("load-{label}-{}", uuid::Uuid::new_v4().simple()));
    // A phone whose connection drops before the handshake dials again; so does this, twice.
    let mut attempt = 1;
    let (sink, mut stream, server) = loop {
        match handshake(url, &peer).await {
            Ok(connected) => break connected,
            Err(err) if attempt < 3 => {
                eprintln!("{label}: connection attempt {attempt} failed ({err:#}); dialling again");
                attempt += 1;
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            Err(err) => return Err(err),
        }
    };
    let editor = Arc::new(Editor {
        label: label.to_owned(),
        partner: partner.to_owned(),
        document_id: document_id.to_owned(),
        peer,
        server,
        doc: Mutex::new((doc, sync::State::new())),
        sink: Mutex::new(sink),
        latencies: Mutex::new(Vec::new()),
        seen: Mutex::new(0),
    });
    let reader = editor.clone();
    tokio::spawn(async move {
        while let Some(Ok(frame)) = stream.next().await {
            if let Frame::Binary(bytes) = frame
                && let Ok(Message::Sync { data, .. }) = protocol::decode(&bytes)
            {
                let _ = reader.receive(&data).await;
            }
        }
    });
    Ok(editor)
}

type Stream = futures_util::stream::SplitStream<Socket>;

/// Open a socket and exchange `join` and `peer`: the socket's halves and the server's peer id.
async fn handshake(url: &str, peer: &PeerId) -> anyhow::Result<(Sink, Stream, PeerId)> {
    // Small frames go out at once, as from a browser or Node's `ws` (automerge-repo's clients):
    // with Nagle's algorithm an edit could wait for the server's delayed acknowledgement.
    let (socket, _) = tokio_tungstenite::connect_async_with_config(url, None, true)
        .await
        .context("connect")?;
    let (mut sink, mut stream) = socket.split();
    let join = Message::Join {
        sender_id: peer.clone(),
        peer_metadata: PeerMetadata {
            storage_id: None,
            is_ephemeral: true,
        },
        supported_protocol_versions: vec!["1".into()],
    };
    sink.send(Frame::Binary(protocol::encode(&join).into()))
        .await?;
    loop {
        match tokio::time::timeout(Duration::from_secs(10), stream.next()).await? {
            Some(Ok(Frame::Binary(bytes))) => {
                if let Ok(Message::Peer { sender_id, .. }) = protocol::decode(&bytes) {
                    return Ok((sink, stream, sender_id));
                }
            }
            Some(Ok(_)) => {}
            other => bail!("no handshake: {other:?}"),
        }
    }
}

fn now_ms() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64() * 1000.0)
        .unwrap_or_default()
}

impl Editor {
    /// Apply a sync message from the server, note the partner's new edits, and answer.
    async fn receive(&self, data: &[u8]) -> anyhow::Result<()> {
        let message = sync::Message::decode(data)?;
        let arrived = now_ms();
        let reply = {
            let mut guard = self.doc.lock().await;
            let (doc, state) = &mut *guard;
            doc.sync().receive_sync_message(state, message)?;
            let mut seen = self.seen.lock().await;
            let mut latencies = self.latencies.lock().await;
            while let Ok(Some((Value::Scalar(value), _))) =
                doc.get(ROOT, format!("{}-{}", self.partner, *seen))
            {
                if let ScalarValue::F64(sent) = value.as_ref() {
                    latencies.push(arrived - sent);
                }
                *seen += 1;
            }
            doc.sync().generate_sync_message(state)
        };
        if let Some(reply) = reply {
            self.send_sync(reply.encode()).await?;
        }
        Ok(())
    }

    async fn send_sync(&self, data: Vec<u8>) -> anyhow::Result<()> {
        let message = Message::Sync {
            sender_id: self.peer.clone(),
            target_id: self.server.clone(),
            document_id: self.document_id.clone(),
            data,
        };
        self.sink
            .lock()
            .await
            .send(Frame::Binary(protocol::encode(&message).into()))
            .await?;
        Ok(())
    }

    /// Push whatever this editor has that the server lacks.
    async fn push(&self, as_request: bool) -> anyhow::Result<bool> {
        let message = {
            let mut guard = self.doc.lock().await;
            let (doc, state) = &mut *guard;
            doc.sync().generate_sync_message(state)
        };
        let Some(message) = message else {
            return Ok(false);
        };
        if as_request {
            let request = Message::Request {
                sender_id: self.peer.clone(),
                target_id: self.server.clone(),
                document_id: self.document_id.clone(),
                data: message.encode(),
            };
            self.sink
                .lock()
                .await
                .send(Frame::Binary(protocol::encode(&request).into()))
                .await?;
        } else {
            self.send_sync(message.encode()).await?;
        }
        Ok(true)
    }
}

/// Sync the plan once before the clock starts, until the server has nothing more to say.
async fn sync_until_quiet(editor: &Editor, as_request: bool) -> anyhow::Result<()> {
    editor.push(as_request).await?;
    let mut last = HashMap::new();
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(20)).await;
        let mut guard = editor.doc.lock().await;
        let heads = guard.0.get_heads();
        let theirs = guard.1.their_heads.clone().unwrap_or_default();
        if !heads.is_empty() && heads == theirs {
            return Ok(());
        }
        last.insert(editor.label.clone(), (heads.len(), theirs.len()));
    }
    bail!("{} never synced its plan: {last:?}", editor.label)
}

/// Make `edits` edits, one every `interval`, each sent at once.
async fn edit(
    editor: Arc<Editor>,
    edits: usize,
    interval: Duration,
    deadline: Instant,
) -> anyhow::Result<()> {
    let mut tick = tokio::time::interval(interval);
    for n in 0..edits {
        tick.tick().await;
        if Instant::now() > deadline {
            break;
        }
        {
            let mut guard = editor.doc.lock().await;
            guard
                .0
                .put(ROOT, format!("{}-{n}", editor.label), now_ms())?;
            guard.0.commit();
        }
        editor.push(false).await?;
    }
    Ok(())
}
