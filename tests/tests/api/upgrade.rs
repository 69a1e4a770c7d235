//! Upgrades: a database the previous release wrote (`tests/upgrade/fixture/`, made by
//! `tests/upgrade/make-fixture` with that release's own `cairn` binary) is loaded into a fresh
//! database, and this Cairn starts on it (its pending migrations run): every plan, account and
//! log entry is still there. Also: the copy SQLite gets before migrations run, and none for a new
//! database. (A database from a newer Cairn is refused by the binary: `server/tests/upgrade.rs`.)
//!
//! Plans are read over HTTP sync and over the sync WebSocket: the same heads and content.
//!
//! `fill_a_running_previous_release` is not a test of this Cairn: `make-fixture` runs it
//! (ignored otherwise) against the previous release's server to fill the fixture over the API.

use std::path::{Path, PathBuf};

use automerge::{AutoCommit, transaction::Transactable};
use cairn_migrations::{Migrator, MigratorTrait};
use cairn_tests::{PASSWORD, TestApp, totp_code};
use reqwest::Method;
use sea_orm::{ConnectionTrait, Database};
use secrecy::SecretString;
use serde_json::{Value, json};
use webauthn_authenticator_rs::WebauthnAuthenticator;

/// Where the fixture lives, for the backend the tests run on.
fn fixture_dir() -> PathBuf {
    let backend = if cairn_tests::on_postgres() {
        "postgres"
    } else {
        "sqlite"
    };
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("upgrade/fixture")
        .join(backend)
}

/// Load a dump (`sqlite3 .dump`, or `pg_dump --inserts` without psql's `\` lines) into the
/// empty database at `url`, on a connection of its own.
async fn load_dump(url: &str, dump: &str) {
    let db = Database::connect(url).await.expect("connect");
    let sql: String = dump
        .lines()
        .filter(|line| !line.starts_with('\\'))
        .collect::<Vec<_>>()
        .join("\n");
    db.execute_unprepared(&sql).await.expect("load the dump");
    db.close().await.expect("close");
}

/// Every entry of `old` (a list) is in `new`, each with at least the fields it had then.
#[track_caller]
fn keeps_every_entry(what: &str, old: &Value, new: &Value) {
    let new = new.as_array().unwrap_or_else(|| panic!("{what}: {new}"));
    for entry in old.as_array().expect("a list") {
        let fields = entry.as_object().expect("an entry");
        assert!(
            new.iter()
                .any(|candidate| fields.iter().all(|(key, value)| &candidate[key] == value)),
            "{what}: {entry} is missing after the upgrade; now: {new:?}"
        );
    }
}

async fn ok(app: &TestApp, path: &str, token: &str) -> Value {
    let answer = app.get(path, token).await;
    assert_eq!(answer.status, 200, "{path}: {}", answer.body);
    answer.body
}

/// Sign in with the password, and with a TOTP code when the account has an authenticator app;
/// returns the access token.
async fn sign_in(app: &TestApp, account: &Value) -> String {
    let username = account["username"].as_str().expect("username");
    let password = account["password"].as_str().expect("password");
    let answer = app.login_answer(username, password).await;
    assert_eq!(answer.status, 200, "{username}: {}", answer.body);
    let Some(secret) = account["totpSecret"].as_str() else {
        assert!(answer.body.get("secondFactor").is_none(), "{}", answer.body);
        return answer.body["accessToken"]
            .as_str()
            .expect("a token")
            .to_owned();
    };
    let challenge = answer.body["secondFactor"]["challenge"]
        .as_str()
        .unwrap_or_else(|| panic!("{username} kept the second factor: {}", answer.body));
    let passed = app
        .request(
            Method::POST,
            "/api/v1/auth/second-factor",
            None,
            Some(&json!({
                "challenge": challenge,
                // The next step's code (one step of skew is allowed): the fixture's own was
                // this step's when it was made moments ago, and a code is never taken twice.
                "code": totp_code(secret, 1),
                "deviceName": "after the upgrade",
            })),
        )
        .await;
    assert_eq!(passed.status, 200, "{username}: {}", passed.body);
    passed.body["accessToken"]
        .as_str()
        .expect("a token")
        .to_owned()
}

/// The plan's changes over HTTP sync: the heads the server announces, and the document as JSON.
async fn plan_content(app: &TestApp, token: &str, plan: &str) -> (Value, Value) {
    let path = format!("/api/v1/plans/{plan}/changes");
    let answer = app.get(&path, token).await;
    assert_eq!(answer.status, 200, "{path}");
    let heads = answer
        .headers
        .get("x-automerge-heads")
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let doc = AutoCommit::load(&app.plan_changes(token, plan).await).expect("the plan loads");
    let content = serde_json::to_value(automerge::AutoSerde::from(&doc)).expect("json");
    (json!(heads), content)
}

/// Start this Cairn on the previous release's database for this backend, loaded from the
/// fixture, with the fixture's master key.
async fn upgraded() -> (TestApp, Value) {
    let fixture = fixture_dir();
    let expected: Value = serde_json::from_str(
        &std::fs::read_to_string(fixture.join("expected.json")).expect("expected.json"),
    )
    .expect("expected.json is JSON");
    let dir = tempfile::tempdir().expect("tempdir");
    let url = cairn_tests::fresh_database_url(dir.path())
        .await
        .expect("database");
    let dump = std::fs::read_to_string(fixture.join("dump.sql")).expect("dump.sql");
    load_dump(&url, &dump).await;
    let app = TestApp::spawn_with(move |settings| {
        // The data folder as the previous release left it: its master key and server secret
        // (which keys recovery codes, among others).
        for file in ["master-key", "jwt-secret"] {
            std::fs::copy(fixture.join(file), settings.data_dir.join(file)).expect(file);
        }
        settings.jwt_secret = None;
        settings.database_url = Some(SecretString::from(url));
        // The database file stays in `dir` until the test ends.
        std::mem::forget(dir);
    })
    .await;
    (app, expected)
}

#[tokio::test]
async fn a_database_from_the_previous_release_upgrades_with_everything_in_it() {
    let (app, expected) = upgraded().await;
    let ready = app.request(Method::GET, "/readyz", None, None).await.status;
    assert_eq!(ready, 200, "every migration applied");
    // SQLite kept a copy if migrations ran (once this code has migrations the fixture lacks).
    let dump = std::fs::read_to_string(fixture_dir().join("dump.sql")).expect("dump.sql");
    let behind = dump.matches("INSERT INTO seaql_migrations").count()
        + dump.matches("INSERT INTO public.seaql_migrations").count()
        < Migrator::migrations().len();
    let copies = std::fs::read_dir(app.data_dir().join("backups")).map_or(0, |dir| dir.count());
    let copied = behind && !cairn_tests::on_postgres();
    assert_eq!(copies, usize::from(copied), "a copy before migrating");

    // Every account signs in (with its authenticator app where it had one); a disabled one
    // is still refused.
    let mut tokens = std::collections::HashMap::new();
    for account in expected["accounts"].as_array().expect("accounts") {
        let username = account["username"].as_str().expect("username").to_owned();
        if let Some(refused) = account.get("refused") {
            let answer = app
                .login_answer(&username, account["password"].as_str().expect("password"))
                .await;
            assert_eq!(answer.status.as_u16(), refused["status"], "{username}");
            assert_eq!(answer.body["error"]["code"], refused["code"], "{username}");
            continue;
        }
        let token = sign_in(&app, account).await;
        let me = ok(&app, "/api/v1/me", &token).await;
        assert_eq!(me["id"], account["id"], "{username}");
        assert_eq!(me["kind"], account["kind"], "{username}");
        let activity = ok(&app, "/api/v1/me/activity?limit=200", &token).await;
        keeps_every_entry(
            &format!("{username}'s activity"),
            &account["activity"],
            &activity,
        );
        if let Some(passkeys) = account.get("passkeys") {
            let now = ok(&app, "/api/v1/me/passkeys", &token).await;
            keeps_every_entry(&format!("{username}'s passkeys"), passkeys, &now);
        }
        tokens.insert(username, (token, account.clone()));
    }

    // Every plan: its title, members, the same heads and content, its history and access log.
    for plan in expected["plans"].as_array().expect("plans") {
        let id = plan["id"].as_str().expect("id");
        let (token, _) = &tokens[plan["owner"].as_str().expect("owner")];
        let shown = ok(&app, &format!("/api/v1/plans/{id}"), token).await;
        assert_eq!(shown["title"], plan["title"], "{id}");
        let members = ok(&app, &format!("/api/v1/plans/{id}/members"), token).await;
        keeps_every_entry("members", &plan["members"], &members);
        for reader in plan["readers"].as_array().expect("readers") {
            let (token, _) = &tokens[reader.as_str().expect("a name")];
            let (heads, content) = plan_content(&app, token, id).await;
            assert_eq!(heads, plan["heads"], "{id}: the same heads");
            assert_eq!(content, plan["content"], "{id}: the same content");
        }
        // And over the sync WebSocket, as the app syncs it.
        let document = shown["documentId"].as_str().expect("a document id");
        let mut phone =
            cairn_tests::sync_client::SyncClient::connect(&app.ws_url(token), "upgraded").await;
        phone.track(document, AutoCommit::new());
        phone.sync_doc(document, true).await;
        let synced = &mut phone.docs.get_mut(document).expect("tracked").doc;
        let heads: Vec<String> = synced.get_heads().iter().map(ToString::to_string).collect();
        assert_eq!(json!(heads.join(",")), plan["heads"], "{id}: synced heads");
        let content = serde_json::to_value(automerge::AutoSerde::from(&*synced)).expect("json");
        assert_eq!(content, plan["content"], "{id}: synced content");
        let history = ok(&app, &format!("/api/v1/plans/{id}/history"), token).await;
        keeps_every_entry("history", &plan["history"], &history);
        let log = ok(
            &app,
            &format!("/api/v1/plans/{id}/access-log?limit=500"),
            token,
        )
        .await;
        keeps_every_entry("access log", &plan["accessLog"], &log);
    }
    // The deleted plan stays deleted.
    let (token, _) = &tokens["maria"];
    for deleted in expected["deletedPlans"].as_array().expect("deleted") {
        let answer = app
            .get(
                &format!("/api/v1/plans/{}", deleted["id"].as_str().expect("id")),
                token,
            )
            .await;
        assert_eq!(answer.status.as_u16(), deleted["status"], "{}", answer.body);
        let id: uuid::Uuid = deleted["id"].as_str().expect("id").parse().expect("a uuid");
        let tombstone = app.store.is_tombstoned(cairn_shared::PlanId(id)).await;
        assert!(tombstone.expect("tombstones"), "its tombstone is kept");
    }

    // The admin audit, as the admin with the second factor passed reads it.
    let (token, _) = &tokens["agency"];
    let audit = ok(&app, "/api/v1/admin/audit?limit=200", token).await;
    keeps_every_entry("admin audit", &expected["audit"], &audit["entries"]);

    // Recovery codes still work: an unused one sets a new password.
    let (_, maria) = &tokens["maria"];
    let code = maria["unusedRecoveryCodes"][0].as_str().expect("a code");
    let recovered = app
        .request(
            Method::POST,
            "/api/v1/auth/recover",
            None,
            Some(&json!({
                "username": "maria",
                "code": code,
                "newPassword": "a new password after the upgrade",
                "deviceName": "after the upgrade",
            })),
        )
        .await;
    assert_eq!(recovered.status, 200, "{}", recovered.body);
}

#[tokio::test]
async fn sqlite_keeps_a_copy_before_migrating_and_none_for_a_new_database() {
    if cairn_tests::on_postgres() {
        return;
    }
    // A new database: no copy.
    let fresh = TestApp::spawn().await;
    assert!(!fresh.data_dir().join("backups").exists());

    // A database one migration behind: the copy is the database as it was, before migrating.
    let dir = tempfile::tempdir().expect("tempdir");
    let url = cairn_tests::fresh_database_url(dir.path())
        .await
        .expect("database");
    let db = Database::connect(url.as_str()).await.expect("connect");
    let steps = u32::try_from(Migrator::migrations().len() - 1).expect("steps");
    Migrator::up(&db, Some(steps))
        .await
        .expect("up to the one before last");
    db.close().await.expect("close");
    let app = TestApp::spawn_with(move |settings| {
        settings.database_url = Some(SecretString::from(url));
        std::mem::forget(dir);
    })
    .await;
    let copies: Vec<_> = std::fs::read_dir(app.data_dir().join("backups"))
        .expect("a backups folder")
        .map(|entry| entry.expect("entry").path())
        .collect();
    assert_eq!(copies.len(), 1, "{copies:?}");
    let name = copies[0]
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    assert!(
        name.starts_with("before-upgrade-") && name.ends_with(".db"),
        "{name}"
    );
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&copies[0]).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    let copy = Database::connect(format!("sqlite://{}?mode=ro", copies[0].display()).as_str())
        .await
        .expect("the copy opens");
    let pending = Migrator::get_pending_migrations_read_only(&copy)
        .await
        .expect("its migrations");
    assert_eq!(pending.len(), 1, "the copy is from before the migration");
    assert!(
        app.store.is_ready().await,
        "the database itself was migrated"
    );

    // Started again, nothing is pending: no second copy.
    let url = app.database_url.clone();
    let again = TestApp::spawn_with(move |settings| {
        settings.database_url = Some(SecretString::from(url));
    })
    .await;
    assert!(!again.data_dir().join("backups").exists());
}

// --- Filling the fixture (run by tests/upgrade/make-fixture, not by the suite) ---------------

/// The previous release's server, reached over HTTP.
struct Remote {
    address: String,
    client: reqwest::Client,
}

impl Remote {
    async fn call(&self, method: Method, path: &str, token: Option<&str>, body: Value) -> Value {
        let mut request = self
            .client
            .request(method, format!("{}{path}", self.address));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if !body.is_null() {
            request = request.json(&body);
        }
        let response = request.send().await.expect("the old server answers");
        let status = response.status();
        let heads = response
            .headers()
            .get("x-automerge-heads")
            .and_then(|h| h.to_str().ok())
            .map(str::to_owned);
        let body: Value = response.json().await.unwrap_or(Value::Null);
        assert!(status.is_success(), "{path}: {status} {body}");
        match heads {
            Some(heads) => json!({ "heads": heads }),
            None => body,
        }
    }
    async fn get(&self, path: &str, token: &str) -> Value {
        self.call(Method::GET, path, Some(token), Value::Null).await
    }
    async fn post(&self, path: &str, token: &str, body: Value) -> Value {
        self.call(Method::POST, path, Some(token), body).await
    }
    async fn changes(&self, token: &str, plan: &str) -> Vec<u8> {
        let response = self
            .client
            .get(format!("{}/api/v1/plans/{plan}/changes", self.address))
            .bearer_auth(token)
            .send()
            .await
            .expect("changes");
        assert!(response.status().is_success());
        response.bytes().await.expect("bytes").to_vec()
    }
    /// One change by `token`'s account over HTTP sync: `key` set to `value` at the root.
    async fn write(&self, token: &str, plan: &str, key: &str, value: &str) {
        let mut doc = AutoCommit::load(&self.changes(token, plan).await).expect("load");
        let since = doc.get_heads();
        doc.put(automerge::ROOT, key, value).expect("put");
        doc.commit();
        let change: Vec<u8> = doc
            .get_changes(&since)
            .iter()
            .flat_map(|c| c.raw_bytes().to_vec())
            .collect();
        let response = self
            .client
            .post(format!("{}/api/v1/plans/{plan}/changes", self.address))
            .bearer_auth(token)
            .header("content-type", "application/octet-stream")
            .body(change)
            .send()
            .await
            .expect("upload");
        assert!(response.status().is_success(), "upload");
    }
    /// A plan `owner` creates, and `member` joins by invitation: its id.
    async fn shared_plan(&self, owner: &str, title: &str, member: &str) -> String {
        let created = self
            .post("/api/v1/plans", owner, json!({ "title": title }))
            .await;
        let plan = created["id"].as_str().unwrap().to_owned();
        let invited = self
            .post(
                &format!("/api/v1/plans/{plan}/invitations"),
                owner,
                json!({}),
            )
            .await;
        let code = invited["code"].as_str().unwrap();
        self.post(
            &format!("/api/v1/invitations/{code}/accept"),
            member,
            json!({}),
        )
        .await;
        plan
    }
    async fn register(&self, username: &str) -> Value {
        self.call(
            Method::POST,
            "/api/v1/auth/register",
            None,
            json!({
                "username": username,
                "displayName": cairn_tests::display_name(username),
                "password": PASSWORD,
                "deviceName": "phone",
            }),
        )
        .await
    }
}

/// Fill the previous release's running server (`CAIRN_FIXTURE_ADDRESS`, its admin `agency`
/// created with `PASSWORD` by `cairn admin create`) over the API and HTTP sync, and write what
/// must be found after an upgrade to `CAIRN_FIXTURE_EXPECTED`.
#[tokio::test]
#[ignore = "run by tests/upgrade/make-fixture against the previous release"]
async fn fill_a_running_previous_release() {
    let address = std::env::var("CAIRN_FIXTURE_ADDRESS").expect("CAIRN_FIXTURE_ADDRESS");
    let out = std::env::var("CAIRN_FIXTURE_EXPECTED").expect("CAIRN_FIXTURE_EXPECTED");
    let old = Remote {
        address: address.clone(),
        client: reqwest::Client::new(),
    };
    let token = |tokens: &Value| tokens["accessToken"].as_str().unwrap().to_owned();

    // The admin adds an authenticator app (its session then counts as having passed it).
    let login = json!({ "username": "agency", "password": PASSWORD, "deviceName": "office" });
    let admin = token(
        &old.call(Method::POST, "/api/v1/auth/login", None, login)
            .await,
    );
    let totp = old
        .post("/api/v1/me/second-factor/totp", &admin, json!({}))
        .await;
    let totp_secret = totp["secret"].as_str().unwrap().to_owned();
    old.post(
        "/api/v1/me/second-factor/totp/confirm",
        &admin,
        json!({ "code": totp_code(&totp_secret, 0) }),
    )
    .await;

    // Members: Maria (recovery codes, one used; a passkey), Sam, and Lee whom the admin creates
    // and later disables.
    let maria_tokens = old.register("maria").await;
    let mut maria_codes: Vec<String> =
        serde_json::from_value(maria_tokens["recoveryCodes"].clone()).unwrap();
    let maria_id = maria_tokens["account"]["id"].clone();
    let used = maria_codes.remove(0);
    let maria_password = "maria's password after a recovery code";
    let maria = token(
        &old.call(
            Method::POST,
            "/api/v1/auth/recover",
            None,
            json!({ "username": "maria", "code": used, "newPassword": maria_password,
                    "deviceName": "borrowed phone" }),
        )
        .await,
    );
    let started = old
        .post("/api/v1/me/passkeys/registration", &maria, json!({}))
        .await;
    let mut phone = webauthn_authenticator_rs::softpasskey::SoftPasskey::new(true);
    let origin =
        webauthn_authenticator_rs::prelude::Url::parse(&address.replace("127.0.0.1", "localhost"))
            .unwrap();
    let credential = phone
        .do_registration(
            origin,
            serde_json::from_value(started["options"].clone()).unwrap(),
        )
        .expect("the authenticator registers");
    old.post(
        "/api/v1/me/passkeys",
        &maria,
        json!({ "ceremonyId": started["ceremonyId"], "name": "Maria's phone",
                "credential": credential }),
    )
    .await;
    let sam_tokens = old.register("sam").await;
    let sam = token(&sam_tokens);
    let lee = old
        .post(
            "/api/v1/admin/accounts",
            &admin,
            json!({ "username": "lee", "displayName": "Lee", "password": PASSWORD,
                    "kind": "member" }),
        )
        .await;
    let lee_id = lee["id"].as_str().unwrap().to_owned();

    // Plans: Maria's with changes by Maria and Sam; Sam's with one by each; one Maria deletes.
    let mut plans = Vec::new();
    let first = old
        .shared_plan(&maria, "Back to the allotment by spring", &sam)
        .await;
    old.write(&maria, &first, "whatMatters", "my daughter, the allotment")
        .await;
    old.write(&sam, &first, "warningSigns", "skipping the Tuesday group")
        .await;
    old.write(
        &maria,
        &first,
        "whatMatters",
        "my daughter, the allotment, my bike",
    )
    .await;
    plans.push((first, "maria", vec!["maria", "sam"]));
    let second = old
        .shared_plan(&sam, "Staying steady at work", &maria)
        .await;
    old.write(&sam, &second, "copingStrategies", "a walk at lunch")
        .await;
    old.write(&maria, &second, "people", "Maria, on Sundays")
        .await;
    plans.push((second, "sam", vec!["sam", "maria"]));
    let created = old
        .post(
            "/api/v1/plans",
            &maria,
            json!({ "title": "A plan that was deleted" }),
        )
        .await;
    let deleted = created["id"].as_str().unwrap().to_owned();
    old.write(&maria, &deleted, "whatMatters", "gone").await;
    old.call(
        Method::DELETE,
        &format!("/api/v1/plans/{deleted}"),
        Some(&maria),
        Value::Null,
    )
    .await;

    // The admin's acts: an enrolment code, a reset code for Sam, Lee disabled.
    old.post(
        "/api/v1/admin/enrollment-codes",
        &admin,
        json!({ "maxUses": 2 }),
    )
    .await;
    let sam_id = sam_tokens["account"]["id"].as_str().unwrap().to_owned();
    old.post(
        &format!("/api/v1/admin/accounts/{sam_id}/reset-code"),
        &admin,
        json!({}),
    )
    .await;
    old.post(
        &format!("/api/v1/admin/accounts/{lee_id}/disable"),
        &admin,
        json!({}),
    )
    .await;
    let refused = old
        .client
        .post(format!("{address}/api/v1/auth/login"))
        .json(&json!({ "username": "lee", "password": PASSWORD, "deviceName": "x" }))
        .send()
        .await
        .unwrap();
    let lee_status = refused.status().as_u16();
    let lee_body: Value = refused.json().await.unwrap();

    // What must be found after an upgrade, read back from the old server.
    let tokens = [("agency", &admin), ("maria", &maria), ("sam", &sam)];
    let mut plans_expected = Vec::new();
    for (id, owner, readers) in &plans {
        let owner_token = tokens.iter().find(|(n, _)| n == owner).unwrap().1;
        let shown = old.get(&format!("/api/v1/plans/{id}"), owner_token).await;
        let heads = old
            .get(&format!("/api/v1/plans/{id}/changes"), owner_token)
            .await;
        let doc = AutoCommit::load(&old.changes(owner_token, id).await).unwrap();
        plans_expected.push(json!({
            "id": id,
            "owner": owner,
            "readers": readers,
            "title": shown["title"],
            "heads": heads["heads"],
            "content": serde_json::to_value(automerge::AutoSerde::from(&doc)).unwrap(),
            "members": old.get(&format!("/api/v1/plans/{id}/members"), owner_token).await,
            "history": old.get(&format!("/api/v1/plans/{id}/history"), owner_token).await,
            "accessLog": old
                .get(&format!("/api/v1/plans/{id}/access-log?limit=500"), owner_token)
                .await,
        }));
    }
    let deleted_status = old
        .client
        .get(format!("{address}/api/v1/plans/{deleted}"))
        .bearer_auth(&maria)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16();
    let activity = "/api/v1/me/activity?limit=200";
    let expected = json!({
        "accounts": [
            { "username": "agency", "password": PASSWORD, "kind": "admin",
              "id": old.get("/api/v1/me", &admin).await["id"],
              "totpSecret": totp_secret, "activity": old.get(activity, &admin).await },
            { "username": "maria", "password": maria_password, "kind": "member", "id": maria_id,
              "unusedRecoveryCodes": maria_codes, "activity": old.get(activity, &maria).await,
              "passkeys": old.get("/api/v1/me/passkeys", &maria).await },
            { "username": "sam", "password": PASSWORD, "kind": "member",
              "id": sam_id, "activity": old.get(activity, &sam).await },
            { "username": "lee", "password": PASSWORD, "kind": "member", "id": lee_id,
              "refused": { "status": lee_status, "code": lee_body["error"]["code"] } },
        ],
        "plans": plans_expected,
        "deletedPlans": [{ "id": deleted, "status": deleted_status }],
        "audit": old.get("/api/v1/admin/audit?limit=200", &admin).await["entries"],
    });
    std::fs::write(
        &out,
        serde_json::to_string_pretty(&expected).unwrap() + "\n",
    )
    .unwrap();
}
