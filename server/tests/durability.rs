//! Nothing acknowledged is lost: several clients stream edits into one plan through the real
//! `cairn` binary, which is SIGKILLed in the middle; after a restart every change that any client
//! saw in the server's heads is stored, and the clients re-converge. With two instances on one
//! Postgres, one is killed mid-stream while the other keeps serving.

// Tests may panic on a broken set-up; the no-unwrap rule is for request paths.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashSet;
use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use automerge::transaction::Transactable;
use automerge::{AutoCommit, ChangeHash, ROOT, ReadDoc};
use cairn_tests::sync_client::SyncClient;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

const CAIRN: &str = env!("CARGO_BIN_EXE_cairn");

async fn start(data_dir: &Path, db: Option<&str>) -> (Child, String) {
    start_with(data_dir, db, &[]).await
}

async fn start_with(data_dir: &Path, db: Option<&str>, env: &[(&str, &str)]) -> (Child, String) {
    let mut command = Command::new(CAIRN);
    command
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("CAIRN_DATA_DIR", data_dir)
        .env("CAIRN_LISTEN", "127.0.0.1:0")
        .env("CAIRN_REGISTRATION", "open")
        .env("RUST_LOG", "warn")
        .env("CAIRN_COMPACT_AFTER_CHANGES", "25")
        .kill_on_drop(true)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    if let Some(url) = db {
        command.env("CAIRN_DATABASE_URL", url);
    }
    command.envs(env.iter().copied());
    let mut child = command.arg("serve").spawn().expect("spawn cairn");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let address = tokio::time::timeout(Duration::from_secs(60), async {
        while let Ok(Some(line)) = lines.next_line().await {
            if let Some(address) = line.strip_prefix("Cairn listening on ") {
                return address.to_owned();
            }
        }
        panic!("cairn exited before listening");
    })
    .await
    .expect("cairn listens");
    (child, address)
}

async fn post(address: &str, path: &str, token: Option<&str>, body: Value) -> Value {
    let mut request = reqwest::Client::new()
        .post(format!("{address}{path}"))
        .json(&body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.expect("request");
    assert!(
        response.status().is_success(),
        "{path}: {}",
        response.status()
    );
    response.json().await.unwrap_or(Value::Null)
}

struct Member {
    token: String,
    user_id: String,
}

async fn register(address: &str, name: &str) -> Member {
    let body = post(
        address,
        "/api/v1/auth/register",
        None,
        json!({"username": name, "displayName": name, "password": "a long enough password"}),
    )
    .await;
    Member {
        token: body["accessToken"].as_str().unwrap_or_default().to_owned(),
        user_id: body["account"]["id"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
    }
}

fn ws(address: &str, token: &str) -> String {
    format!(
        "{}/sync?token={token}",
        address.replacen("http://", "ws://", 1)
    )
}

/// Changes of `doc` that are ancestors of (or equal to) `heads`.
fn covered(doc: &AutoCommit, heads: &[ChangeHash]) -> HashSet<ChangeHash> {
    let mut doc = doc.clone();
    let all: HashSet<ChangeHash> = doc.get_changes(&[]).iter().map(|c| c.hash()).collect();
    let after: HashSet<ChangeHash> = doc.get_changes(heads).iter().map(|c| c.hash()).collect();
    all.difference(&after).copied().collect()
}

/// What an editor watches for: edits by the editors named `from` (by key prefix) all reaching
/// it, which it then says in `seen`.
#[derive(Clone, Default)]
struct Watch {
    from: Vec<String>,
    seen: Arc<AtomicBool>,
}

/// Edit and sync until the connection dies (or `stop` is set); return every own change the server
/// acknowledged.
async fn edit_until_killed(
    url: String,
    name: String,
    document: String,
    acknowledged_total: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    watch: Watch,
) -> (AutoCommit, HashSet<ChangeHash>) {
    let mut client = SyncClient::connect(&url, &name).await;
    client.track(&document, AutoCommit::new());
    client.sync_doc(&document, true).await;
    let mut mine: HashSet<ChangeHash> = HashSet::new();
    let mut acknowledged: HashSet<ChangeHash> = HashSet::new();
    for n in 0..10_000u32 {
        let tracked = client.docs.get_mut(&document).expect("tracked");
        tracked
            .doc
            .put(ROOT, format!("{name}-{n}"), i64::from(n))
            .expect("put");
        tracked.doc.commit();
        mine.extend(tracked.doc.get_heads());
        client.push(&document, false).await;
        if !client.receive_one(Duration::from_secs(5)).await {
            break;
        }
        let tracked = &client.docs[&document];
        if !watch.from.is_empty()
            && watch.from.iter().all(|other| {
                tracked
                    .doc
                    .keys(ROOT)
                    .any(|key| key.starts_with(other.as_str()))
            })
        {
            watch.seen.store(true, Ordering::Relaxed);
        }
        let server_has = covered(&tracked.doc, &tracked.server_heads);
        for hash in mine.intersection(&server_has) {
            if acknowledged.insert(*hash) {
                acknowledged_total.fetch_add(1, Ordering::Relaxed);
            }
        }
        if client.closed() || stop.load(Ordering::Relaxed) {
            break;
        }
    }
    (
        client.docs.remove(&document).expect("tracked").doc,
        acknowledged,
    )
}

#[tokio::test]
async fn sigkill_mid_stream_loses_nothing_acknowledged() {
    let data = tempfile::tempdir().expect("tempdir");
    let data_dir = data.path().join("data");
    let database_url = if cairn_tests::on_postgres() {
        Some(
            cairn_tests::fresh_database_url(data.path())
                .await
                .expect("database"),
        )
    } else {
        None
    };
    let db = database_url.as_deref();
    let (mut server, address) = start(&data_dir, db).await;

    let owner = register(&address, "owner").await;
    let plan = post(
        &address,
        "/api/v1/plans",
        Some(&owner.token),
        json!({"title": "Stream"}),
    )
    .await;
    let plan_id = plan["id"].as_str().unwrap_or_default().to_owned();
    let document = plan["documentId"].as_str().unwrap_or_default().to_owned();
    let mut members = vec![owner];
    for name in ["sup-a", "sup-b"] {
        let member = register(&address, name).await;
        let invitation = post(
            &address,
            &format!("/api/v1/plans/{plan_id}/invitations"),
            Some(&members[0].token),
            json!({}),
        )
        .await;
        let code = invitation["code"].as_str().unwrap_or_default();
        post(
            &address,
            &format!("/api/v1/invitations/{code}/accept"),
            Some(&member.token),
            json!({}),
        )
        .await;
        members.push(member);
    }

    let acknowledged_total = Arc::new(AtomicUsize::new(0));
    let mut editors = Vec::new();
    for (i, member) in members.iter().enumerate() {
        editors.push(tokio::spawn(edit_until_killed(
            ws(&address, &member.token),
            format!("editor{i}-{}", &member.user_id[..8]),
            document.clone(),
            acknowledged_total.clone(),
            Arc::new(AtomicBool::new(false)),
            Watch::default(),
        )));
    }
    // Kill the server once the clients are well into their streams.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while acknowledged_total.load(Ordering::Relaxed) < 60 && tokio::time::Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    server.start_kill().expect("SIGKILL");
    server.wait().await.expect("reaped");

    let mut results = Vec::new();
    for editor in editors {
        results.push(editor.await.expect("editor task"));
    }
    let acknowledged: HashSet<ChangeHash> = results
        .iter()
        .flat_map(|(_, acked)| acked.iter().copied())
        .collect();
    assert!(
        acknowledged.len() >= 60,
        "the stream was under way: {} acknowledged",
        acknowledged.len()
    );

    // Restart on the same storage: every acknowledged change is there.
    let (_server, address) = start(&data_dir, db).await;
    let stored = reqwest::Client::new()
        .get(format!("{address}/api/v1/plans/{plan_id}/changes"))
        .bearer_auth(&members[0].token)
        .send()
        .await
        .expect("get changes");
    assert_eq!(stored.status(), 200);
    let stored = automerge::Automerge::load(&stored.bytes().await.expect("body"))
        .expect("stored plan loads");
    let missing: Vec<&ChangeHash> = acknowledged
        .iter()
        .filter(|h| stored.get_change_by_hash(h).is_none())
        .collect();
    assert!(
        missing.is_empty(),
        "{} acknowledged changes were lost",
        missing.len()
    );

    // The clients reconnect with their own copies (holding unacknowledged edits too) and converge.
    let mut clients = Vec::new();
    for ((doc, _), member) in results.into_iter().zip(&members) {
        let mut client = SyncClient::connect(
            &ws(&address, &member.token),
            &format!("again-{}", &member.user_id[..8]),
        )
        .await;
        client.track(&document, doc);
        client.sync_doc(&document, false).await;
        clients.push(client);
    }
    for client in &mut clients {
        client.sync_doc(&document, false).await;
    }
    let expected = {
        let response = reqwest::Client::new()
            .get(format!("{address}/api/v1/plans/{plan_id}/changes"))
            .bearer_auth(&members[0].token)
            .send()
            .await
            .expect("get");
        let mut doc = AutoCommit::load(&response.bytes().await.expect("body")).expect("loads");
        let mut heads = doc.get_heads();
        heads.sort();
        heads
    };
    for client in &mut clients {
        let mut heads = client
            .docs
            .get_mut(&document)
            .expect("tracked")
            .doc
            .get_heads();
        heads.sort();
        assert_eq!(heads, expected, "every client re-converged with the server");
    }
}

/// Every change of `acknowledged` that the plan as `address` serves it lacks.
async fn missing_from(
    address: &str,
    plan_id: &str,
    token: &str,
    acknowledged: &HashSet<ChangeHash>,
) -> usize {
    let stored = reqwest::Client::new()
        .get(format!("{address}/api/v1/plans/{plan_id}/changes"))
        .bearer_auth(token)
        .send()
        .await
        .expect("get changes");
    assert_eq!(stored.status(), 200);
    let stored = automerge::Automerge::load(&stored.bytes().await.expect("body"))
        .expect("stored plan loads");
    acknowledged
        .iter()
        .filter(|h| stored.get_change_by_hash(h).is_none())
        .count()
}

#[tokio::test]
async fn an_instance_killed_mid_stream_loses_nothing_and_the_other_serves_on() {
    if !cairn_tests::on_postgres() {
        eprintln!("skipped: several instances share a Postgres database (run scripts/test)");
        return;
    }
    let data = tempfile::tempdir().expect("tempdir");
    let url = cairn_tests::fresh_database_url(data.path())
        .await
        .expect("database");
    let (dir_a, dir_b) = (data.path().join("a"), data.path().join("b"));
    let (mut server_a, address_a) = start(&dir_a, Some(&url)).await;
    // The second instance shares the first one's secrets, as replicas behind a proxy do.
    std::fs::create_dir_all(&dir_b).expect("dir");
    for file in ["master-key", "jwt-secret"] {
        std::fs::copy(dir_a.join(file), dir_b.join(file)).expect("copy secret");
    }
    let (_server_b, address_b) = start(&dir_b, Some(&url)).await;

    let owner = register(&address_a, "owner").await;
    let plan = post(
        &address_a,
        "/api/v1/plans",
        Some(&owner.token),
        json!({"title": "Two instances"}),
    )
    .await;
    let plan_id = plan["id"].as_str().unwrap_or_default().to_owned();
    let document = plan["documentId"].as_str().unwrap_or_default().to_owned();
    let mut members = vec![owner];
    for name in ["sup-a", "sup-b"] {
        let member = register(&address_b, name).await;
        let invitation = post(
            &address_a,
            &format!("/api/v1/plans/{plan_id}/invitations"),
            Some(&members[0].token),
            json!({}),
        )
        .await;
        let code = invitation["code"].as_str().unwrap_or_default();
        post(
            &address_b,
            &format!("/api/v1/invitations/{code}/accept"),
            Some(&member.token),
            json!({}),
        )
        .await;
        members.push(member);
    }

    // Editors 0 and 2 on instance A, editor 1 on instance B.
    let acknowledged_total = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    // The editor on B says when edits from both editors on A have reached it.
    let crossed = Watch {
        from: vec!["editor0".into(), "editor2".into()],
        seen: Arc::new(AtomicBool::new(false)),
    };
    let mut editors = Vec::new();
    for (i, member) in members.iter().enumerate() {
        let address = if i == 1 { &address_b } else { &address_a };
        editors.push(tokio::spawn(edit_until_killed(
            ws(address, &member.token),
            format!("editor{i}"),
            document.clone(),
            acknowledged_total.clone(),
            stop.clone(),
            if i == 1 {
                crossed.clone()
            } else {
                Watch::default()
            },
        )));
    }
    // Kill A once the stream is under way and edits through A have crossed to B (the check
    // after the kill fails if they never do: the wait gives up after 30 s).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while (acknowledged_total.load(Ordering::Relaxed) < 60 || !crossed.seen.load(Ordering::Relaxed))
        && tokio::time::Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    server_a.start_kill().expect("SIGKILL");
    server_a.wait().await.expect("reaped");
    // B keeps serving its editor after A is gone.
    let at_kill = acknowledged_total.load(Ordering::Relaxed);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while acknowledged_total.load(Ordering::Relaxed) < at_kill + 10
        && tokio::time::Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stop.store(true, Ordering::Relaxed);

    let mut results = Vec::new();
    for editor in editors {
        results.push(editor.await.expect("editor task"));
    }
    assert!(
        results[1].1.len() >= 10,
        "instance B kept acknowledging its editor after A died: {}",
        results[1].1.len()
    );
    let acknowledged: HashSet<ChangeHash> = results
        .iter()
        .flat_map(|(_, acked)| acked.iter().copied())
        .collect();
    assert!(
        acknowledged.len() >= 60,
        "the stream was under way: {} acknowledged",
        acknowledged.len()
    );
    // Edits made through A reached B's editor live, before A was killed.
    let on_b = &results[1].0;
    for editor in ["editor0", "editor2"] {
        assert!(
            on_b.keys(ROOT).any(|key| key.starts_with(editor)),
            "{editor}'s edits through A reached the editor on B"
        );
    }
    // Everything any instance acknowledged is served by the survivor.
    let missing = missing_from(&address_b, &plan_id, &members[0].token, &acknowledged).await;
    assert_eq!(missing, 0, "acknowledged changes were lost");

    // A's clients reconnect to B with their own copies and everyone converges.
    let mut clients = Vec::new();
    for ((doc, _), member) in results.into_iter().zip(&members) {
        let mut client = SyncClient::connect(
            &ws(&address_b, &member.token),
            &format!("again-{}", member.user_id),
        )
        .await;
        client.track(&document, doc);
        client.sync_doc(&document, false).await;
        clients.push(client);
    }
    for client in &mut clients {
        client.sync_doc(&document, false).await;
    }
    let mut heads: Vec<Vec<ChangeHash>> = clients
        .iter_mut()
        .map(|client| {
            let mut heads = client
                .docs
                .get_mut(&document)
                .expect("tracked")
                .doc
                .get_heads();
            heads.sort();
            heads
        })
        .collect();
    heads.dedup();
    assert_eq!(heads.len(), 1, "every client converged: {heads:?}");
}
