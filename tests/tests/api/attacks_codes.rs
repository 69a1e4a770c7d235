//! Attacks on what can be guessed: invitation and enrollment codes, passwords, and the client
//! address the attempt limits count by. Like `attacks.rs`, each test attacks a running Cairn
//! that holds a real plan (Maria owns it, Sam supports her, both wrote in it), asserts the
//! attacker's answers, then that the stored plan is exactly as before and its members are still
//! served. The members are made by an admin, so that the fixture works in every registration
//! mode and leaves the registration limit untouched.

use std::time::Duration;

use automerge::AutoCommit;
use cairn_shared::ErrorCode;
use cairn_shared::api::RegistrationMode;
use cairn_shared::plan::{Strength, write};
use cairn_tests::{Answer, PASSWORD, Session, TEST_JWT_SECRET, TestApp, display_name};
use hmac::{Hmac, Mac};
use reqwest::Method;
use sea_orm::{ConnectionTrait, Database, Statement};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// What an attack must never change.
#[derive(Debug, PartialEq)]
struct Stored {
    document: Value,
    history: Value,
    members: Value,
}

/// A running Cairn with one real plan, its two members, and an admin.
struct Target {
    app: TestApp,
    admin: Session,
    maria: Session,
    sam: Session,
    plan: String,
    document: String,
    before: Stored,
}

impl Target {
    async fn with(configure: impl FnOnce(&mut cairn_server::Settings)) -> Self {
        let app = TestApp::spawn_with(configure).await;
        let admin = app.admin("agency").await;
        let maria = member(&app, &admin, "maria").await;
        let sam = member(&app, &admin, "sam").await;
        let (plan, document) = app.plan_with_document(&maria, "Back to singing").await;
        app.add_supporter(&maria, &plan, &sam).await;
        for (who, words) in [
            (&maria, "I sing on Sundays"),
            (&sam, "I'll find the choir times"),
        ] {
            let mut client = app.sync_client(who).await;
            client.track(&document, AutoCommit::new());
            client.sync_doc(&document, true).await;
            let tracked = client.docs.get_mut(&document).expect("tracked");
            let strength = Strength {
                id: uuid::Uuid::new_v4().to_string(),
                text: words.into(),
                added_by: Some(who.user_id().to_string()),
            };
            write::add_strength(&mut tracked.doc, &strength).expect("write");
            tracked.doc.commit();
            client.sync_doc(&document, false).await;
        }
        let mut target = Self {
            app,
            admin,
            maria,
            sam,
            plan,
            document,
            before: Stored {
                document: Value::Null,
                history: Value::Null,
                members: Value::Null,
            },
        };
        target.before = target.stored().await;
        target
    }

    async fn stored(&self) -> Stored {
        let owner = self.maria.token();
        let detail = self
            .app
            .get(&format!("/api/v1/plans/{}", self.plan), owner)
            .await;
        assert_eq!(
            detail.status, 200,
            "the owner reads the plan: {}",
            detail.body
        );
        let history = self
            .app
            .get(&format!("/api/v1/plans/{}/history", self.plan), owner)
            .await;
        let members = self
            .app
            .get(&format!("/api/v1/plans/{}/members", self.plan), owner)
            .await;
        Stored {
            document: detail.body["document"].clone(),
            history: history.body,
            members: members.body,
        }
    }

    /// The plan is exactly as before the attack, and the supporter still reads and syncs it.
    async fn assert_unchanged(&self) {
        assert_eq!(self.stored().await, self.before, "the stored plan changed");
        let read = self
            .app
            .get(&format!("/api/v1/plans/{}", self.plan), self.sam.token())
            .await;
        assert_eq!(read.status, 200, "the supporter is served: {}", read.body);
        let mut client = self.app.sync_client(&self.sam).await;
        client.track(&self.document, AutoCommit::new());
        client.sync_doc(&self.document, true).await;
        assert!(!client.refused(&self.document));
        let text = serde_json::to_string(&automerge::AutoSerde::from(
            &client.docs[&self.document].doc,
        ))
        .unwrap_or_default();
        assert!(text.contains("I sing on Sundays") && text.contains("choir times"));
    }

    /// A new invitation code to the plan.
    async fn invitation(&self) -> String {
        let invitation = self
            .app
            .post(
                &format!("/api/v1/plans/{}/invitations", self.plan),
                self.maria.token(),
                json!({}),
            )
            .await;
        assert_eq!(invitation.status, 201, "{}", invitation.body);
        invitation.body["code"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// `cairn_rate_limited_total{limit="…"}` from `/metrics`.
    async fn refusals(&self, limit: &str) -> u64 {
        metric(
            &self.app,
            &format!("cairn_rate_limited_total{{limit=\"{limit}\"}}"),
        )
        .await
    }
}

/// A member account made by the admin (the way agencies in closed mode work), logged in.
async fn member(app: &TestApp, admin: &Session, username: &str) -> Session {
    let created = app
        .post(
            "/api/v1/admin/accounts",
            admin.token(),
            json!({ "username": username, "displayName": display_name(username), "password": PASSWORD }),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    app.login(username).await
}

/// The value of one metric line in `/metrics`.
async fn metric(app: &TestApp, name: &str) -> u64 {
    let text = reqwest::get(format!("{}/metrics", app.address))
        .await
        .expect("metrics")
        .text()
        .await
        .expect("metrics text");
    text.lines()
        .find_map(|line| line.strip_prefix(name)?.trim().parse().ok())
        .unwrap_or_else(|| panic!("{name} is not in /metrics:\n{text}"))
}

/// A request with extra headers (those a proxy or a client sets).
async fn send(
    app: &TestApp,
    path: &str,
    token: Option<&str>,
    body: &Value,
    headers: &[(&str, String)],
) -> Answer {
    let mut request = reqwest::Client::new()
        .post(format!("{}{path}", app.address))
        .json(body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    for (name, value) in headers {
        request = request.header(*name, value);
    }
    let response = request.send().await.expect("request");
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.json().await.unwrap_or(Value::Null);
    Answer {
        status,
        headers,
        body,
    }
}

/// `Retry-After` of a 429, in seconds (at least 1).
#[track_caller]
fn retry_after(answer: &Answer) -> u64 {
    answer.assert_error(429, ErrorCode::RateLimited);
    let seconds = answer
        .headers
        .get("retry-after")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok())
        .unwrap_or_else(|| panic!("429 without Retry-After: {:?}", answer.headers));
    assert!(seconds >= 1);
    seconds
}

/// A well-formed code that is (almost certainly) nobody's.
fn random_code() -> String {
    let alphabet = b"23456789ABCDEFGHJKMNPQRSTWXYZ";
    let raw = uuid::Uuid::new_v4().into_bytes();
    raw.iter()
        .take(12)
        .map(|b| alphabet[usize::from(*b) % alphabet.len()] as char)
        .collect()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("any key length");
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().to_vec()
}

/// What Cairn should store for a code, worked out here from the test server's secret:
/// HMAC-SHA256 under HKDF-SHA256(secret, no salt, "cairn: stored codes v1").
fn keyed_hash(code: &str) -> String {
    let normalised: String = code
        .chars()
        .filter(|c| *c != '-')
        .flat_map(char::to_uppercase)
        .collect();
    let prk = hmac_sha256(&[0u8; 32], &[TEST_JWT_SECRET.as_bytes()]);
    let key = hmac_sha256(&prk, &[b"cairn: stored codes v1", &[1]]);
    hex(&hmac_sha256(&key, &[normalised.as_bytes()]))
}

fn plain_sha256(code: &str) -> String {
    let normalised: String = code.chars().filter(|c| *c != '-').collect();
    hex(&Sha256::digest(normalised.as_bytes()))
}

/// Every stored code hash of `table`, read from the database itself.
async fn stored_code_hashes(app: &TestApp, table: &str) -> Vec<String> {
    let db = Database::connect(app.database_url.as_str())
        .await
        .expect("connect");
    let rows = db
        .query_all_raw(Statement::from_string(
            db.get_database_backend(),
            format!("SELECT code_hash FROM {table}"),
        ))
        .await
        .expect("query");
    rows.iter()
        .map(|row| row.try_get::<String>("", "code_hash").expect("code_hash"))
        .collect()
}

#[tokio::test]
async fn attack_guessing_invitation_codes_is_rate_limited_even_for_the_right_code() {
    // Three wrong codes per account, then one more every two seconds.
    let target = Target::with(|s| {
        s.code_attempts_per_account = 3;
        s.code_attempts_window_secs = 6;
    })
    .await;
    let app = &target.app;
    let eve = member(app, &target.admin, "eve").await;
    let code = target.invitation().await;

    let mut wrong = 0;
    let limited = loop {
        let answer = app
            .post(
                &format!("/api/v1/invitations/{}/accept", random_code()),
                eve.token(),
                json!({}),
            )
            .await;
        if answer.status == 429 {
            break answer;
        }
        answer.assert_error(404, ErrorCode::InvitationNotFound);
        wrong += 1;
        assert!(wrong <= 6, "guessing was never limited");
    };
    assert!(
        wrong >= 3,
        "the limit allows three wrong codes, allowed {wrong}"
    );
    assert!(retry_after(&limited) <= 2);
    assert!(
        limited.body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("too many wrong codes")),
        "{}",
        limited.body
    );
    // The right code, at once from the same account: refused like any guess, so a guesser
    // cannot tell a hit from a miss while limited.
    let right = app
        .post(
            &format!("/api/v1/invitations/{code}/accept"),
            eve.token(),
            json!({}),
        )
        .await;
    let wait = retry_after(&right);
    assert!(target.refusals("code_per_account").await >= 2);
    // Another member is not limited by Eve's guesses (the per-address limit is high here).
    let lee = member(app, &target.admin, "lee").await;
    app.post(
        &format!("/api/v1/invitations/{}/accept", random_code()),
        lee.token(),
        json!({}),
    )
    .await
    .assert_error(404, ErrorCode::InvitationNotFound);
    target.assert_unchanged().await;

    // Once the window has let one attempt back, the right code works.
    tokio::time::sleep(Duration::from_secs(wait)).await;
    let joined = app
        .post(
            &format!("/api/v1/invitations/{code}/accept"),
            eve.token(),
            json!({}),
        )
        .await;
    assert_eq!(joined.status, 200, "{}", joined.body);
    let removed = app
        .delete(
            &format!("/api/v1/plans/{}/members/{}", target.plan, eve.user_id()),
            target.maria.token(),
        )
        .await;
    assert_eq!(removed.status, 204, "{}", removed.body);
    target.assert_unchanged().await;
}

#[tokio::test]
async fn attack_a_copy_of_the_database_does_not_give_away_live_codes() {
    let target = Target::with(|_| {}).await;
    let app = &target.app;
    let invitation = target.invitation().await;
    let enrollment = app
        .post(
            "/api/v1/admin/enrollment-codes",
            target.admin.token(),
            json!({}),
        )
        .await;
    assert_eq!(enrollment.status, 201, "{}", enrollment.body);
    let enrollment = enrollment.body["code"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    for code in [&invitation, &enrollment] {
        // 12 characters in three groups: K7QM-3XPA-Z9RT.
        assert_eq!(code.len(), 14, "{code}");
        assert_eq!(code.matches('-').count(), 2, "{code}");
    }

    for (table, code) in [
        ("invitations", &invitation),
        ("enrollment_codes", &enrollment),
    ] {
        let stored = stored_code_hashes(app, table).await;
        assert!(
            !stored.contains(&plain_sha256(code)),
            "{table}: the code is stored as its plain SHA-256"
        );
        assert!(
            stored.contains(&keyed_hash(code)),
            "{table}: the code is not stored as HMAC-SHA256 under the server's key: {stored:?}"
        );
    }

    // An invitation issued before the upgrade (stored as plain SHA-256) still works until it
    // expires.
    let legacy = "K7QM3XPA";
    app.store
        .insert_invitation(
            target.plan.parse().expect("plan id"),
            &plain_sha256(legacy),
            target.maria.user_id(),
            chrono::Utc::now(),
            chrono::Utc::now() + chrono::Duration::hours(1),
        )
        .await
        .expect("legacy invitation");
    let lee = member(app, &target.admin, "lee").await;
    let joined = app
        .post(
            "/api/v1/invitations/k7qm-3xpa/accept",
            lee.token(),
            json!({}),
        )
        .await;
    assert_eq!(joined.status, 200, "{}", joined.body);
    let removed = app
        .delete(
            &format!("/api/v1/plans/{}/members/{}", target.plan, lee.user_id()),
            target.maria.token(),
        )
        .await;
    assert_eq!(removed.status, 204, "{}", removed.body);
    target.assert_unchanged().await;
}

#[tokio::test]
async fn attack_wrong_enrollment_codes_cost_no_password_hashing_and_are_rate_limited() {
    let target = Target::with(|s| {
        s.registration = RegistrationMode::Enrollment;
        s.code_attempts_per_address = 5;
        s.code_attempts_window_secs = 3600;
    })
    .await;
    let app = &target.app;
    let enrollment = app
        .post(
            "/api/v1/admin/enrollment-codes",
            target.admin.token(),
            json!({}),
        )
        .await;
    let code = enrollment.body["code"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let hashes_before = metric(app, "cairn_password_hashes_total").await;

    let register = |username: String, code: String| async move {
        app.request(
            Method::POST,
            "/api/v1/auth/register",
            None,
            Some(&json!({
                "username": username,
                "displayName": "Guesser",
                "password": "a long enough password",
                "enrollmentCode": code,
            })),
        )
        .await
    };
    let mut limited = None;
    for n in 0..10 {
        let answer = register(format!("guess{n}"), random_code()).await;
        if answer.status == 429 {
            limited = Some(answer);
            break;
        }
        answer.assert_error(403, ErrorCode::EnrollmentCodeInvalid);
    }
    let limited = limited.expect("wrong enrollment codes are rate limited");
    retry_after(&limited);
    // Not one of the wrong codes got as far as hashing its password.
    assert_eq!(
        metric(app, "cairn_password_hashes_total").await,
        hashes_before,
        "a password was hashed for a wrong enrollment code"
    );
    // The right code from the same address waits too, and nothing was registered.
    retry_after(&register("newcomer".into(), code.clone()).await);
    assert!(target.refusals("code_per_address").await >= 2);
    assert_eq!(
        app.login_answer("guess0", "a long enough password")
            .await
            .error_code(),
        Some(ErrorCode::InvalidCredentials)
    );
    target.assert_unchanged().await;
}

#[tokio::test]
async fn attack_registrations_are_limited_per_address_in_every_mode() {
    let target = Target::with(|s| s.registrations_per_address_per_hour = 3).await;
    let app = &target.app;
    for name in ["one", "two", "three"] {
        app.register(&format!("newcomer-{name}")).await;
    }
    let limited = app
        .request(
            Method::POST,
            "/api/v1/auth/register",
            None,
            Some(&json!({ "username": "newcomer-four", "displayName": "Four", "password": PASSWORD })),
        )
        .await;
    assert!(
        retry_after(&limited) > 60,
        "one more sign-up every 20 minutes"
    );
    assert_eq!(target.refusals("registration_per_address").await, 1);
    target.assert_unchanged().await;
}

#[tokio::test]
async fn attack_a_client_chosen_forwarded_header_does_not_bypass_per_address_limits() {
    let target = Target::with(|s| {
        s.trust_proxy = true;
        s.login_attempts_per_address_per_minute = 5;
        s.code_attempts_per_address = 4;
    })
    .await;
    let app = &target.app;
    let eve = member(app, &target.admin, "eve").await;
    // The proxy reports Eve's real address last in X-Forwarded-For; she sends a new `Forwarded:
    // for=` and puts a new address of her own before the proxy's entry every time.
    let from_eve = |n: u32| {
        vec![
            ("forwarded", format!("for=10.9.{}.{}", n / 250, n % 250)),
            (
                "x-forwarded-for",
                format!("10.8.0.{}, 203.0.113.66", n % 250),
            ),
        ]
    };
    let mut guesses = 0;
    let limited = loop {
        let answer = send(
            app,
            "/api/v1/auth/login",
            None,
            &json!({ "username": format!("nobody{guesses}"), "password": "guess guess" }),
            &from_eve(guesses),
        )
        .await;
        if answer.status == 429 {
            break answer;
        }
        answer.assert_error(401, ErrorCode::InvalidCredentials);
        guesses += 1;
        assert!(
            guesses <= 20,
            "rotating Forwarded bypassed the per-address login limit"
        );
    };
    retry_after(&limited);
    assert_eq!(guesses, 5);
    assert_eq!(target.refusals("login_per_address").await, 1);

    // Invitation codes: the same rotation, from two of Eve's accounts.
    let mallory = member(app, &target.admin, "mallory").await;
    let mut guesses = 0;
    let limited = loop {
        let who = if guesses % 2 == 0 { &eve } else { &mallory };
        let answer = send(
            app,
            &format!("/api/v1/invitations/{}/accept", random_code()),
            Some(who.token()),
            &json!({}),
            &from_eve(guesses + 100),
        )
        .await;
        if answer.status == 429 {
            break answer;
        }
        answer.assert_error(404, ErrorCode::InvitationNotFound);
        guesses += 1;
        assert!(
            guesses <= 20,
            "rotating Forwarded bypassed the per-address code limit"
        );
    };
    retry_after(&limited);
    assert_eq!(guesses, 4);
    assert_eq!(target.refusals("code_per_address").await, 1);

    // Someone else behind the same proxy is served.
    let sam = send(
        app,
        "/api/v1/auth/login",
        None,
        &json!({ "username": "sam", "password": PASSWORD }),
        &[("x-forwarded-for", "198.51.100.7".to_owned())],
    )
    .await;
    assert_eq!(sam.status, 200, "{}", sam.body);
    target.assert_unchanged().await;
}

#[tokio::test]
async fn attack_hammering_an_account_from_elsewhere_does_not_lock_its_owner_out() {
    let target = Target::with(|s| {
        s.trust_proxy = true;
        s.login_attempts_per_account_and_address_per_hour = 3;
        s.login_attempts_per_account_per_hour = 6;
        s.login_attempts_per_address_per_minute = 100;
    })
    .await;
    let app = &target.app;
    let login_from = |address: String, password: &'static str| async move {
        send(
            app,
            "/api/v1/auth/login",
            None,
            &json!({ "username": "maria", "password": password }),
            &[("x-forwarded-for", address)],
        )
        .await
    };
    // Maria signs in at home, as every day.
    let home = "192.0.2.10".to_owned();
    assert_eq!(login_from(home.clone(), PASSWORD).await.status, 200);

    // From one address elsewhere: three guesses, then that address waits.
    let mut wrong = 0;
    for _ in 0..3 {
        login_from("203.0.113.1".into(), "guess guess")
            .await
            .assert_error(401, ErrorCode::InvalidCredentials);
        wrong += 1;
    }
    let limited = login_from("203.0.113.1".into(), "guess guess").await;
    assert!(
        retry_after(&limited) > 60,
        "then one guess every 20 minutes"
    );
    assert_eq!(target.refusals("login_per_account_and_address").await, 1);
    // She is not locked out by it.
    assert_eq!(login_from(home.clone(), PASSWORD).await.status, 200);

    // From many addresses: the per-account ceiling stops the guessing...
    for n in 2..40 {
        let answer = login_from(format!("203.0.113.{n}"), "guess guess").await;
        if answer.status == 429 {
            continue;
        }
        answer.assert_error(401, ErrorCode::InvalidCredentials);
        wrong += 1;
    }
    assert_eq!(
        wrong, 6,
        "the ceiling allows six wrong guesses an hour in all"
    );
    assert!(target.refusals("login_per_account").await >= 1);
    // ...and holds for a new address even with the right password,
    retry_after(&login_from("198.51.100.50".into(), PASSWORD).await);
    // but Maria at home still signs in, and so do other accounts.
    let maria = login_from(home, PASSWORD).await;
    assert_eq!(maria.status, 200, "the owner is locked out: {}", maria.body);
    app.login("sam").await;
    target.assert_unchanged().await;
}

#[tokio::test]
async fn attack_common_and_blank_passwords_are_refused() {
    let target = Target::with(|_| {}).await;
    let app = &target.app;
    for (n, password) in [
        "12345678",
        "password",
        "PASSWORD",
        "iloveyou",
        "qwertyuiop",
        "        ",
        "\t \u{a0}  \u{3000}  ",
    ]
    .into_iter()
    .enumerate()
    {
        let registered = app
            .request(
                Method::POST,
                "/api/v1/auth/register",
                None,
                Some(&json!({ "username": format!("weak{n}"), "displayName": "Weak", "password": password })),
            )
            .await;
        registered.assert_error(422, ErrorCode::ValidationFailed);
        let message = registered.body["error"]["message"]
            .as_str()
            .unwrap_or_default();
        assert!(
            message.contains("common and leaked passwords") || message.contains("only spaces"),
            "{password:?}: {message}"
        );
        // The same for an account an admin creates.
        app.post(
            "/api/v1/admin/accounts",
            target.admin.token(),
            json!({ "username": format!("weak-admin{n}"), "displayName": "Weak", "password": password }),
        )
        .await
        .assert_error(422, ErrorCode::ValidationFailed);
    }
    // Nothing was created; a password of a few words is fine.
    app.login_answer("weak0", "12345678")
        .await
        .assert_error(401, ErrorCode::InvalidCredentials);
    app.register("strong").await;
    target.assert_unchanged().await;
}
