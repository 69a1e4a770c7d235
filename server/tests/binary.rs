//! The real `cairn` binary, as an operator runs it: `admin create`, `serve` on the embedded SQLite
//! database in a data folder (or Postgres when `TEST_DATABASE_URL` is set), a restart that finds
//! everything again, `healthcheck`, and logs that never contain secrets or plan text.
// Tests may panic on a broken set-up; the no-unwrap rule is for request paths.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, Command};

const CAIRN: &str = env!("CARGO_BIN_EXE_cairn");
const ADMIN_PASSWORD: &str = "operator-chosen password 42";
const MEMBER_PASSWORD: &str = "member secret words 7";
const PLAN_TITLE: &str = "Back to the allotment by spring";

fn cairn(data_dir: &Path, database_url: Option<&str>) -> Command {
    configured(Command::new(CAIRN), data_dir, database_url)
}

/// `command` (the binary, or a shell that runs it) with the environment of these tests.
fn configured(mut command: Command, data_dir: &Path, database_url: Option<&str>) -> Command {
    command
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("CAIRN_DATA_DIR", data_dir)
        .env("CAIRN_LISTEN", "127.0.0.1:0")
        .env("CAIRN_REGISTRATION", "enrollment")
        .env("RUST_LOG", "debug")
        .kill_on_drop(true);
    if let Some(url) = database_url {
        command.env("CAIRN_DATABASE_URL", url);
    }
    command
}

async fn admin_create(
    data_dir: &Path,
    db: Option<&str>,
    username: &str,
    stdin: Option<&str>,
) -> std::process::Output {
    let mut command = cairn(data_dir, db);
    command.args([
        "admin",
        "create",
        "--username",
        username,
        "--display-name",
        "Agency Admin",
    ]);
    if stdin.is_some() {
        command.arg("--password-stdin");
    }
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn cairn");
    if let (Some(text), Some(mut pipe)) = (stdin, child.stdin.take()) {
        pipe.write_all(text.as_bytes()).await.expect("write stdin");
    }
    child.wait_with_output().await.expect("cairn exits")
}

struct Server {
    child: Child,
    address: String,
}

async fn serve(data_dir: &Path, db: Option<&str>, log: &Path) -> Server {
    serve_with(data_dir, db, log, &[]).await
}

async fn serve_with(data_dir: &Path, db: Option<&str>, log: &Path, env: &[(&str, &str)]) -> Server {
    let mut command = cairn(data_dir, db);
    command.envs(env.iter().copied());
    start(command, log).await
}

/// `cairn serve` as started by a shell whose umask is `umask`.
async fn serve_under_umask(
    data_dir: &Path,
    db: Option<&str>,
    log: &Path,
    umask: &str,
    env: &[(&str, &str)],
) -> Server {
    let mut shell = Command::new("/bin/sh");
    // `start` adds `serve`, which the shell passes on as "$@".
    shell
        .arg("-c")
        .arg(format!("umask {umask} && exec \"$0\" \"$@\""))
        .arg(CAIRN);
    let mut command = configured(shell, data_dir, db);
    command.envs(env.iter().copied());
    start(command, log).await
}

async fn start(mut command: Command, log: &Path) -> Server {
    let log_file = std::fs::File::create(log).expect("log file");
    let mut child = command
        .arg("serve")
        .stdout(Stdio::piped())
        .stderr(log_file)
        .spawn()
        .expect("spawn cairn serve");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let address = tokio::time::timeout(Duration::from_secs(60), async {
        while let Ok(Some(line)) = lines.next_line().await {
            if let Some(address) = line.strip_prefix("Cairn listening on ") {
                return address.to_owned();
            }
        }
        panic!(
            "cairn exited before listening; log: {}",
            std::fs::read_to_string(log).unwrap_or_default()
        );
    })
    .await
    .expect("cairn starts listening");
    Server { child, address }
}

async fn call(
    method: reqwest::Method,
    url: String,
    token: Option<&str>,
    body: Option<Value>,
) -> (u16, Value) {
    let client = reqwest::Client::new();
    let mut request = client.request(method, url);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("request");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn login(server: &Server, username: &str, password: &str) -> Value {
    let (status, body) = call(
        reqwest::Method::POST,
        format!("{}/api/v1/auth/login", server.address),
        None,
        Some(json!({"username": username, "password": password})),
    )
    .await;
    assert_eq!(status, 200, "login {username}: {body}");
    body
}

fn healthcheck(address: &str) -> bool {
    std::process::Command::new(CAIRN)
        .args([
            "healthcheck",
            "--address",
            address.trim_start_matches("http://"),
        ])
        .stderr(Stdio::null())
        .status()
        .expect("healthcheck runs")
        .success()
}

#[tokio::test]
async fn an_operator_sets_up_cairn_and_a_restart_keeps_everything() {
    let data = tempfile::tempdir().expect("tempdir");
    let data_dir = data.path().join("data");
    let database_url = database_for(data.path()).await;
    let db = database_url.as_deref();

    // There is no default password: without one, no admin is created.
    let refused = admin_create(&data_dir, db, "agency", None).await;
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("--password-stdin"));
    let empty = admin_create(&data_dir, db, "agency", Some("\n")).await;
    assert!(!empty.status.success());
    let weak = admin_create(&data_dir, db, "agency", Some("short\n")).await;
    assert!(!weak.status.success(), "a weak password is refused");
    let common = admin_create(&data_dir, db, "agency", Some("12345678\n")).await;
    assert!(!common.status.success(), "a common password is refused");
    assert!(
        String::from_utf8_lossy(&common.stderr).contains("common and leaked passwords"),
        "{}",
        String::from_utf8_lossy(&common.stderr)
    );

    let created = admin_create(
        &data_dir,
        db,
        "agency",
        Some(&format!("{ADMIN_PASSWORD}\n")),
    )
    .await;
    assert!(
        created.status.success(),
        "{}",
        String::from_utf8_lossy(&created.stderr)
    );
    assert!(String::from_utf8_lossy(&created.stdout).contains("Created admin account 'agency'"));
    if db.is_none() {
        assert!(
            data_dir.join("cairn.db").exists(),
            "the embedded database lives in the data folder"
        );
    }

    let first_log = data.path().join("first.log");
    let mut server = serve(&data_dir, db, &first_log).await;
    assert!(healthcheck(&server.address));

    let admin = login(&server, "agency", ADMIN_PASSWORD).await;
    let admin_token = admin["accessToken"].as_str().unwrap_or_default().to_owned();
    // Admin routes need a second factor: the operator adds an authenticator app first.
    let (status, refused) = call(
        reqwest::Method::GET,
        format!("{}/api/v1/admin/audit", server.address),
        Some(&admin_token),
        None,
    )
    .await;
    assert_eq!(status, 403, "{refused}");
    assert_eq!(refused["error"]["code"], "second_factor_required");
    let (status, enrolment) = call(
        reqwest::Method::POST,
        format!("{}/api/v1/me/second-factor/totp", server.address),
        Some(&admin_token),
        None,
    )
    .await;
    assert_eq!(status, 201, "{enrolment}");
    let totp_secret = enrolment["secret"].as_str().unwrap_or_default().to_owned();
    let (status, confirmed) = call(
        reqwest::Method::POST,
        format!("{}/api/v1/me/second-factor/totp/confirm", server.address),
        Some(&admin_token),
        Some(json!({ "code": cairn_tests::totp_code(&totp_secret, 0) })),
    )
    .await;
    assert_eq!(status, 204, "{confirmed}");
    // The command line's act is in the admin audit, done by no admin account.
    let (status, audit) = call(
        reqwest::Method::GET,
        format!("{}/api/v1/admin/audit", server.address),
        Some(&admin_token),
        None,
    )
    .await;
    assert_eq!(status, 200, "{audit}");
    assert_eq!(audit["entries"][0]["action"], "account-created");
    assert_eq!(audit["entries"][0]["targetName"], "Agency Admin");
    assert!(audit["entries"][0]["adminId"].is_null());
    let (_, code) = call(
        reqwest::Method::POST,
        format!("{}/api/v1/admin/enrollment-codes", server.address),
        Some(&admin_token),
        Some(json!({})),
    )
    .await;
    let code = code["code"].as_str().unwrap_or_default().to_owned();
    let (status, member) = call(
        reqwest::Method::POST,
        format!("{}/api/v1/auth/register", server.address),
        None,
        Some(json!({
            "username": "maria",
            "displayName": "Maria",
            "password": MEMBER_PASSWORD,
            "enrollmentCode": code,
        })),
    )
    .await;
    assert_eq!(status, 201, "{member}");
    let member_token = member["accessToken"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let member_refresh = member["refreshToken"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let (status, plan) = call(
        reqwest::Method::POST,
        format!("{}/api/v1/plans", server.address),
        Some(&member_token),
        Some(json!({"title": PLAN_TITLE})),
    )
    .await;
    assert_eq!(status, 201, "{plan}");

    // Sync it over the WebSocket, token in the query string as browsers send it.
    let ws_url = format!(
        "{}/sync?token={member_token}",
        server.address.replacen("http://", "ws://", 1)
    );
    let mut client = cairn_tests::sync_client::SyncClient::connect(&ws_url, "maria-phone").await;
    let document = plan["documentId"].as_str().unwrap_or_default().to_owned();
    client.track(&document, automerge::AutoCommit::new());
    client.sync_doc(&document, true).await;
    assert_eq!(
        cairn_shared::plan::read_title(&client.docs[&document].doc),
        PLAN_TITLE
    );
    let server_ids = (client.server.clone(), client.server_storage_id.clone());
    drop(client);

    // Refusals are logged, never with the token: a forged one before the upgrade, and an
    // admin's (real) one asking for the plan.
    let forged_token = format!("forged-{}", uuid::Uuid::new_v4());
    let refused = cairn_tests::sync_client::open(&format!(
        "{}/sync?token={forged_token}",
        server.address.replacen("http://", "ws://", 1)
    ))
    .await;
    assert_eq!(refused.err(), Some(401));
    let admin_ws = format!(
        "{}/sync?token={admin_token}",
        server.address.replacen("http://", "ws://", 1)
    );
    let mut snooper = cairn_tests::sync_client::SyncClient::connect(&admin_ws, "agency-pc").await;
    snooper.track(&document, automerge::AutoCommit::new());
    snooper.sync_doc(&document, true).await;
    assert!(snooper.refused(&document));
    drop(snooper);

    // Killed without warning: everything acknowledged is already on disk.
    server.child.start_kill().expect("kill");
    server.child.wait().await.expect("reaped");
    assert!(
        !healthcheck(&server.address),
        "healthcheck fails when nothing answers"
    );

    let second_log = data.path().join("second.log");
    let server = serve(&data_dir, db, &second_log).await;
    // The restarted server is the same peer with the same storage id, so clients that remember
    // what they synced with it need not start over.
    let ws_url = format!(
        "{}/sync?token={member_token}",
        server.address.replacen("http://", "ws://", 1)
    );
    let client = cairn_tests::sync_client::SyncClient::connect(&ws_url, "maria-phone").await;
    assert!(server_ids.1.is_some(), "the server announces a storage id");
    assert_eq!(
        (client.server.clone(), client.server_storage_id.clone()),
        server_ids
    );
    drop(client);
    // The signing key was kept in the data folder: the access token from before still works.
    let (status, plans) = call(
        reqwest::Method::GET,
        format!("{}/api/v1/plans", server.address),
        Some(&member_token),
        None,
    )
    .await;
    assert_eq!(status, 200, "{plans}");
    assert_eq!(plans[0]["title"], PLAN_TITLE);
    assert_eq!(plans[0]["id"], plan["id"]);
    // After the restart the password alone opens a second-factor challenge, not a session.
    let needed = login(&server, "agency", ADMIN_PASSWORD).await;
    assert!(needed["secondFactor"]["challenge"].is_string(), "{needed}");
    drop(server);
    // The last admin lost their phone: the operator resets the second factor on the server.
    let reset = cairn(&data_dir, db)
        .args(["admin", "reset-second-factor", "--username", "agency"])
        .output()
        .await
        .expect("cairn exits");
    assert!(reset.status.success(), "{reset:?}");
    let again = cairn(&data_dir, db)
        .args(["admin", "reset-second-factor", "--username", "agency"])
        .output()
        .await
        .expect("cairn exits");
    assert!(!again.status.success(), "nothing left to reset: {again:?}");

    let mut secrets = vec![
        ADMIN_PASSWORD,
        MEMBER_PASSWORD,
        PLAN_TITLE,
        &admin_token,
        &member_token,
        &member_refresh,
        &code,
        &forged_token,
        &totp_secret,
    ];
    let database_password = db
        .and_then(|url| url.split(':').nth(2))
        .and_then(|rest| rest.split('@').next())
        .unwrap_or_default();
    if !database_password.is_empty() {
        secrets.push(database_password);
    }
    let first = std::fs::read_to_string(&first_log).expect("log");
    for refusal in [
        "sync refused: invalid token",
        "sync refused: admins do not sync plans",
    ] {
        assert!(first.contains(refusal), "the refusal is logged: {refusal}");
    }
    for log in [&first_log, &second_log] {
        let text = std::fs::read_to_string(log).expect("log");
        assert!(text.contains("request finished"), "requests are logged");
        for secret in &secrets {
            assert!(
                !text.contains(secret),
                "the log must not contain {secret:?}"
            );
        }
    }
}

async fn database_for(dir: &Path) -> Option<String> {
    if cairn_tests::on_postgres() {
        Some(
            cairn_tests::fresh_database_url(dir)
                .await
                .expect("postgres database"),
        )
    } else {
        None
    }
}

fn key_lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .expect("master key file")
        .lines()
        .filter(|line| !line.trim().is_empty() && !line.starts_with('#'))
        .map(str::to_owned)
        .collect()
}

async fn create_plan(server: &Server, token: &str, title: &str) {
    let (status, plan) = call(
        reqwest::Method::POST,
        format!("{}/api/v1/plans", server.address),
        Some(token),
        Some(json!({ "title": title })),
    )
    .await;
    assert_eq!(status, 201, "{plan}");
}

async fn plan_titles(server: &Server, token: &str) -> (u16, Vec<String>) {
    let (status, plans) = call(
        reqwest::Method::GET,
        format!("{}/api/v1/plans", server.address),
        Some(token),
        None,
    )
    .await;
    let mut titles: Vec<String> = plans
        .as_array()
        .map(|plans| {
            plans
                .iter()
                .filter_map(|plan| {
                    // A plan whose data cannot be opened is listed, marked unavailable.
                    let title = plan["title"].as_str()?;
                    Some(if plan["unavailable"] == true {
                        format!("(unavailable){title}")
                    } else {
                        title.to_owned()
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    titles.sort();
    (status, titles)
}

#[tokio::test]
async fn keys_rotate_rewraps_every_plan_key_while_the_server_runs() {
    let data = tempfile::tempdir().expect("tempdir");
    let data_dir = data.path().join("data");
    let database_url = database_for(data.path()).await;
    let db = database_url.as_deref();
    let open = [("CAIRN_REGISTRATION", "open")];

    let server = serve_with(&data_dir, db, &data.path().join("first.log"), &open).await;
    let key_file = data_dir.join("master-key");
    let old_keys = key_lines(&key_file);
    assert_eq!(old_keys.len(), 1, "a master key is generated on first run");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key_file)
            .expect("key file")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "the master key file is private");
    }
    let (status, member) = call(
        reqwest::Method::POST,
        format!("{}/api/v1/auth/register", server.address),
        None,
        Some(json!({"username": "maria", "displayName": "Maria", "password": MEMBER_PASSWORD})),
    )
    .await;
    assert_eq!(status, 201, "{member}");
    let token = member["accessToken"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    create_plan(&server, &token, "Made before the rotation").await;

    let rotated = cairn(&data_dir, db)
        .args(["keys", "rotate", "--settle-secs", "1"])
        .output()
        .await
        .expect("cairn keys rotate");
    let stdout = String::from_utf8_lossy(&rotated.stdout);
    assert!(
        rotated.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&rotated.stderr)
    );
    assert!(stdout.contains("Re-wrapped 1 plan keys"), "{stdout}");
    let new_keys = key_lines(&key_file);
    assert_eq!(new_keys.len(), 1, "the old key left the key file");
    assert_ne!(new_keys, old_keys);

    // The running server goes on: it reads the old plan and wraps a new one's key under the
    // new master key, which it finds in the key file.
    create_plan(&server, &token, "Made after the rotation").await;
    let both = vec![
        "Made after the rotation".to_owned(),
        "Made before the rotation".to_owned(),
    ];
    assert_eq!(plan_titles(&server, &token).await, (200, both.clone()));
    drop(server);

    // With only the old master key nothing can be read any more: both plans are listed as
    // unavailable, without titles, and neither opens ...
    let old_only = [
        ("CAIRN_REGISTRATION", "open"),
        ("CAIRN_MASTER_KEY", old_keys[0].as_str()),
    ];
    let server = serve_with(&data_dir, db, &data.path().join("old.log"), &old_only).await;
    let (status, titles) = plan_titles(&server, &token).await;
    assert_eq!(status, 200, "{titles:?}");
    assert_eq!(titles, ["(unavailable)", "(unavailable)"]);
    drop(server);

    // ... and with the new key file everything is there.
    let server = serve_with(&data_dir, db, &data.path().join("second.log"), &open).await;
    assert_eq!(plan_titles(&server, &token).await, (200, both));
    drop(server);
    for log in ["first.log", "old.log", "second.log"] {
        let text = std::fs::read_to_string(data.path().join(log)).expect("log");
        for key in old_keys.iter().chain(&new_keys) {
            assert!(
                !text.contains(key.as_str()),
                "{log} must not contain a master key"
            );
        }
    }
}

/// Names of the running server's threads.
fn thread_names(pid: u32) -> Vec<String> {
    std::fs::read_dir(format!("/proc/{pid}/task"))
        .map(|tasks| {
            tasks
                .flatten()
                .filter_map(|task| std::fs::read_to_string(task.path().join("comm")).ok())
                .map(|name| name.trim().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn a_flood_of_sign_ups_hashes_on_a_few_threads_only() {
    use cairn_server::auth::password::{HASHING_THREAD_NAME, hashing_threads};
    let data = tempfile::tempdir().expect("tempdir");
    let database_url = database_for(data.path()).await;
    let open = [
        ("CAIRN_REGISTRATION", "open"),
        ("CAIRN_LOGIN_ATTEMPTS_PER_ADDRESS_PER_MINUTE", "10000"),
    ];
    let server = serve_with(
        &data.path().join("data"),
        database_url.as_deref(),
        &data.path().join("flood.log"),
        &open,
    )
    .await;
    let pid = server.child.id().expect("running");
    // 40 people sign up at the same moment: each sign-up hashes a password (19 MiB each).
    let mut signups = tokio::task::JoinSet::new();
    for n in 0..40 {
        let url = format!("{}/api/v1/auth/register", server.address);
        signups.spawn(async move {
            call(
                reqwest::Method::POST,
                url,
                None,
                Some(json!({"username": format!("flood{n}"), "displayName": "F", "password": MEMBER_PASSWORD})),
            )
            .await
            .0
        });
    }
    let mut hashing = 0;
    while let Some(status) = signups.join_next().await {
        assert_eq!(status.expect("task"), 201);
        hashing = hashing.max(
            thread_names(pid)
                .iter()
                .filter(|name| name.as_str() == HASHING_THREAD_NAME)
                .count(),
        );
    }
    // Every sign-up went through, hashed on the fixed pool (not one blocking thread each).
    assert_eq!(hashing, hashing_threads(), "{:?}", thread_names(pid));
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let peak = status
        .lines()
        .find(|l| l.starts_with("VmHWM"))
        .unwrap_or_default();
    println!("after 40 simultaneous sign-ups: {peak}");
    // The process serving them (the same pid the operator started) runs with the allocator
    // settings that hand each hash's memory back at once.
    let environment = std::fs::read(format!("/proc/{pid}/environ")).unwrap_or_default();
    let environment = String::from_utf8_lossy(&environment);
    for setting in ["MIMALLOC_PURGE_DELAY=0", "MIMALLOC_PURGE_DECOMMITS=1"] {
        assert!(
            environment.split('\0').any(|entry| entry == setting),
            "{setting} is missing from the server's environment"
        );
    }
}

/// An account on a server with open registration, and its access token.
async fn open_member(server: &Server, username: &str) -> String {
    let (status, member) = call(
        reqwest::Method::POST,
        format!("{}/api/v1/auth/register", server.address),
        None,
        Some(json!({
            "username": username,
            "displayName": username,
            "password": MEMBER_PASSWORD,
        })),
    )
    .await;
    assert_eq!(status, 201, "{member}");
    member["accessToken"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

fn mode_of(path: &Path) -> Option<u32> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .ok()
        .map(|meta| meta.permissions().mode() & 0o777)
}

#[tokio::test]
async fn the_data_folder_and_database_files_are_private_whatever_the_umask() {
    use std::os::unix::fs::PermissionsExt;
    let data = tempfile::tempdir().expect("tempdir");
    let data_dir = data.path().join("data");
    let database_url = database_for(data.path()).await;
    let db = database_url.as_deref();
    let open = [("CAIRN_REGISTRATION", "open")];
    let files: Vec<std::path::PathBuf> = [
        "master-key",
        "jwt-secret",
        "cairn.db",
        "cairn.db-wal",
        "cairn.db-shm",
    ]
    .iter()
    .map(|name| data_dir.join(name))
    .filter(|path| db.is_none() || !path.to_string_lossy().contains("cairn.db"))
    .collect();
    let assert_private = |when: &str| {
        assert_eq!(mode_of(&data_dir), Some(0o700), "{when}: the data folder");
        for file in &files {
            assert_eq!(mode_of(file), Some(0o600), "{when}: {}", file.display());
        }
    };

    // A first start under the usual umask (which leaves new files world-readable).
    let server =
        serve_under_umask(&data_dir, db, &data.path().join("first.log"), "022", &open).await;
    let token = open_member(&server, "maria").await;
    create_plan(&server, &token, PLAN_TITLE).await;
    assert_private("first start");
    let mut server = server;
    server.child.start_kill().expect("kill");
    server.child.wait().await.expect("reaped");

    // Files an older Cairn left world-readable are put right at the next start.
    std::fs::set_permissions(&data_dir, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    for file in &files {
        if file.exists() {
            std::fs::set_permissions(file, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        }
    }
    let server =
        serve_under_umask(&data_dir, db, &data.path().join("second.log"), "022", &open).await;
    create_plan(&server, &token, "Still mine").await;
    assert_private("a start with world-readable files");
    let (status, titles) = plan_titles(&server, &token).await;
    assert_eq!((status, titles.len()), (200, 2));
}

#[tokio::test]
async fn an_ordinary_incremental_upload_logs_no_error() {
    use automerge::transaction::Transactable;
    let data = tempfile::tempdir().expect("tempdir");
    let data_dir = data.path().join("data");
    let database_url = database_for(data.path()).await;
    let db = database_url.as_deref();
    let log = data.path().join("serve.log");
    let server = serve_with(
        &data_dir,
        db,
        &log,
        &[
            ("CAIRN_REGISTRATION", "open"),
            ("CAIRN_LOG_FORMAT", "json"),
            ("RUST_LOG", "info"),
        ],
    )
    .await;
    let token = open_member(&server, "maria").await;
    let (status, plan) = call(
        reqwest::Method::POST,
        format!("{}/api/v1/plans", server.address),
        Some(&token),
        Some(json!({"title": PLAN_TITLE})),
    )
    .await;
    assert_eq!(status, 201, "{plan}");
    let url = format!(
        "{}/api/v1/plans/{}/changes",
        server.address,
        plan["id"].as_str().unwrap_or_default()
    );
    let client = reqwest::Client::new();

    // Two uploads, as an app sends them: only the changes made since what it last had.
    for words in ["Sing again", "Sing again, with Dad"] {
        let current = client
            .get(&url)
            .bearer_auth(&token)
            .send()
            .await
            .expect("get changes");
        assert_eq!(current.status(), 200);
        let bytes = current.bytes().await.expect("body");
        let mut doc = automerge::AutoCommit::load(&bytes)
            .expect("load")
            .with_actor(automerge::ActorId::random());
        let before = doc.get_heads();
        doc.put(automerge::ROOT, "whatMatters", words).expect("put");
        doc.commit();
        let changes: Vec<u8> = doc
            .get_changes(&before)
            .iter()
            .flat_map(|change| change.raw_bytes().to_vec())
            .collect();
        let posted = client
            .post(&url)
            .bearer_auth(&token)
            .header("content-type", "application/octet-stream")
            .body(changes)
            .send()
            .await
            .expect("upload");
        assert_eq!(posted.status(), 200, "the upload is accepted");
    }
    // A damaged upload is refused, and is the uploader's error, not the server's.
    let damaged = client
        .post(&url)
        .bearer_auth(&token)
        .header("content-type", "application/octet-stream")
        .body(vec![0x85, 0x6f, 0x4a, 0x83, 1, 2, 3, 4, 1, 5, 0, 0])
        .send()
        .await
        .expect("upload");
    assert_eq!(damaged.status(), 400);
    let (status, plan_now) = call(
        reqwest::Method::GET,
        format!(
            "{}/api/v1/plans/{}",
            server.address,
            plan["id"].as_str().unwrap_or_default()
        ),
        Some(&token),
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(plan_now["document"]["whatMatters"], "Sing again, with Dad");
    drop(server);

    let text = std::fs::read_to_string(&log).expect("log");
    assert!(text.contains("request finished"), "the log was written");
    let errors: Vec<&str> = text
        .lines()
        .filter(|line| {
            serde_json::from_str::<Value>(line)
                .map_or(line.contains("ERROR"), |entry| entry["level"] == "ERROR")
        })
        .collect();
    assert!(errors.is_empty(), "no ERROR line: {errors:#?}");
}

/// The changes of one upload: a new step written on the device `device` (its own actor), on top
/// of `base`.
fn step_upload(base: &[u8], device: u8, words: &str) -> Vec<u8> {
    use automerge::transaction::Transactable;
    let mut doc = automerge::AutoCommit::load(base)
        .expect("load")
        .with_actor(automerge::ActorId::from([device; 16]));
    let before = doc.get_heads();
    doc.put(automerge::ROOT, format!("note{device}"), words)
        .expect("put");
    doc.commit();
    doc.get_changes(&before)
        .iter()
        .flat_map(|change| change.raw_bytes().to_vec())
        .collect()
}

#[tokio::test]
async fn a_server_told_to_stop_has_stored_every_change_it_acknowledged_and_exits() {
    let data = tempfile::tempdir().expect("tempdir");
    let data_dir = data.path().join("data");
    let database_url = database_for(data.path()).await;
    let db = database_url.as_deref();
    let open = [("CAIRN_REGISTRATION", "open")];
    let mut server = serve_with(&data_dir, db, &data.path().join("first.log"), &open).await;
    let token = open_member(&server, "maria").await;
    let (status, plan) = call(
        reqwest::Method::POST,
        format!("{}/api/v1/plans", server.address),
        Some(&token),
        Some(json!({"title": PLAN_TITLE})),
    )
    .await;
    assert_eq!(status, 201, "{plan}");
    let url = format!(
        "{}/api/v1/plans/{}/changes",
        server.address,
        plan["id"].as_str().unwrap_or_default()
    );
    let client = reqwest::Client::new();
    let base = client
        .get(&url)
        .bearer_auth(&token)
        .send()
        .await
        .expect("get changes")
        .bytes()
        .await
        .expect("body")
        .to_vec();

    // One upload well before the stop...
    let first = client
        .post(&url)
        .bearer_auth(&token)
        .header("content-type", "application/octet-stream")
        .body(step_upload(&base, 99, "Written before the stop"))
        .send()
        .await
        .expect("upload");
    assert_eq!(first.status(), 200);
    // ...then uploads from several devices at once, and the stop signal while they are on their way:
    // on SQLite they wait for the one task that commits them together, which must commit what
    // it holds before it stops, and let the server stop.
    let uploads: Vec<_> = (1..=12u8)
        .map(|device| {
            let (client, url, token) = (client.clone(), url.clone(), token.clone());
            let changes = step_upload(&base, device, &format!("Written on device {device}"));
            tokio::spawn(async move {
                let answer = client
                    .post(&url)
                    .bearer_auth(&token)
                    .header("content-type", "application/octet-stream")
                    .body(changes)
                    .send()
                    .await;
                (
                    device,
                    matches!(answer, Ok(answer) if answer.status() == 200),
                )
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(20)).await;
    let pid = server.child.id().expect("running").to_string();
    let signalled = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill runs");
    assert!(signalled.success());
    let mut acknowledged = vec![99];
    for upload in uploads {
        let (device, ok) = upload.await.expect("upload task");
        if ok {
            acknowledged.push(device);
        }
    }
    let exited = tokio::time::timeout(Duration::from_secs(30), server.child.wait())
        .await
        .expect("the server stops within 30 s of being told to")
        .expect("wait");
    assert!(exited.success(), "a stop is a clean exit: {exited}");

    let server = serve_with(&data_dir, db, &data.path().join("second.log"), &open).await;
    let token = login(&server, "maria", MEMBER_PASSWORD).await["accessToken"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let url = url.replace(
        url.split("/api/").next().unwrap_or_default(),
        &server.address,
    );
    let stored = client
        .get(&url)
        .bearer_auth(&token)
        .send()
        .await
        .expect("get changes")
        .bytes()
        .await
        .expect("body");
    let doc = automerge::AutoCommit::load(&stored).expect("the plan loads after the restart");
    for device in acknowledged {
        let note =
            automerge::ReadDoc::get(&doc, automerge::ROOT, format!("note{device}")).expect("read");
        assert!(
            note.is_some(),
            "device {device}'s upload was acknowledged before the stop, and is stored"
        );
    }
}

/// A string field of a JSON answer.
fn text(body: &Value, pointer: &str) -> String {
    body.pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("no {pointer} in {body}"))
        .to_owned()
}

#[tokio::test]
async fn recovery_and_reset_codes_and_passwords_never_reach_the_debug_log() {
    let data = tempfile::tempdir().expect("tempdir");
    let data_dir = data.path().join("data");
    let database_url = database_for(data.path()).await;
    let db = database_url.as_deref();
    let created = admin_create(
        &data_dir,
        db,
        "agency",
        Some(&format!("{ADMIN_PASSWORD}\n")),
    )
    .await;
    assert!(created.status.success());
    let log = data.path().join("serve.log");
    let server = serve_with(&data_dir, db, &log, &[("CAIRN_REGISTRATION", "open")]).await;
    let api = |path: &str| format!("{}/api/v1{path}", server.address);
    let post = reqwest::Method::POST;

    let (status, maria) = call(
        post.clone(),
        api("/auth/register"),
        None,
        Some(json!({"username": "maria", "displayName": "Maria", "password": MEMBER_PASSWORD})),
    )
    .await;
    assert_eq!(status, 201, "{maria}");
    let mut secrets: Vec<String> = maria["recoveryCodes"]
        .as_array()
        .expect("codes")
        .iter()
        .filter_map(|code| code.as_str().map(str::to_owned))
        .collect();
    let token = text(&maria, "/accessToken");
    let changed = "a changed password for maria";
    let (status, _) = call(
        post.clone(),
        api("/me/password"),
        Some(&token),
        Some(json!({"currentPassword": MEMBER_PASSWORD, "newPassword": changed})),
    )
    .await;
    assert_eq!(status, 204);
    let (status, renewed) = call(
        post.clone(),
        api("/me/recovery-codes"),
        Some(&token),
        Some(json!({ "password": changed })),
    )
    .await;
    assert_eq!(status, 201, "{renewed}");
    secrets.extend(
        renewed["codes"]
            .as_array()
            .expect("codes")
            .iter()
            .filter_map(|code| code.as_str().map(str::to_owned)),
    );
    let recovered_password = "recovered with a code of mine";
    let (status, recovered) = call(
        post.clone(),
        api("/auth/recover"),
        None,
        Some(json!({"username": "maria", "code": secrets[10], "newPassword": recovered_password})),
    )
    .await;
    assert_eq!(status, 200, "{recovered}");

    let admin = login(&server, "agency", ADMIN_PASSWORD).await;
    let admin_token = text(&admin, "/accessToken");
    // Admin routes need the admin's second factor first (its seed must not be logged either).
    let (status, enrolment) = call(
        post.clone(),
        api("/me/second-factor/totp"),
        Some(&admin_token),
        None,
    )
    .await;
    assert_eq!(status, 201, "{enrolment}");
    let seed = text(&enrolment, "/secret");
    let (status, confirmed) = call(
        post.clone(),
        api("/me/second-factor/totp/confirm"),
        Some(&admin_token),
        Some(json!({ "code": cairn_tests::totp_code(&seed, 0) })),
    )
    .await;
    assert_eq!(status, 204, "{confirmed}");
    secrets.push(seed);
    let (status, issued) = call(
        post.clone(),
        api(&format!(
            "/admin/accounts/{}/reset-code",
            text(&maria, "/account/id")
        )),
        Some(&admin_token),
        None,
    )
    .await;
    assert_eq!(status, 201, "{issued}");
    let reset_code = text(&issued, "/code");
    let reset_password = "chosen after the agency helped";
    let (status, reset) = call(
        post,
        api("/auth/reset"),
        None,
        Some(json!({"username": "maria", "code": reset_code, "newPassword": reset_password})),
    )
    .await;
    assert_eq!(status, 200, "{reset}");
    secrets.push(reset_code);

    let logged = std::fs::read_to_string(&log).expect("log");
    assert!(
        logged.contains("reset code issued"),
        "the debug log: {logged}"
    );
    for secret in secrets
        .iter()
        .flat_map(|code| [code.clone(), code.replace('-', "")])
        .chain([changed, recovered_password, reset_password, MEMBER_PASSWORD].map(str::to_owned))
    {
        assert!(!logged.contains(&secret), "{secret} is in the log");
    }
}
