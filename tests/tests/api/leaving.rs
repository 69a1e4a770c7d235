//! "Leave Cairn": a person deletes their own account. They see first what goes; then, with their
//! password, their plans are deleted for everyone (connected supporters lose them at once),
//! they leave the plans they support, every device and socket of theirs is signed out, and
//! wherever others see what they did, it reads "a former member", never a new person's name.

use automerge::AutoCommit;
use automerge::transaction::Transactable;
use cairn_shared::api::{HistoryEntry, LeavingPreview};
use cairn_shared::{ErrorCode, PlanId};
use cairn_tests::sync_client::WAIT;
use cairn_tests::{PASSWORD, Session, TestApp};
use reqwest::Method;
use serde_json::{Value, json};

const FORMER_MEMBER: &str = "a former member";

async fn leave(app: &TestApp, session: &Session, body: Value) -> cairn_tests::Answer {
    app.request(
        Method::DELETE,
        "/api/v1/me",
        Some(session.token()),
        Some(&body),
    )
    .await
}

fn ids(list: &Value) -> Vec<String> {
    list.as_array()
        .expect("a list")
        .iter()
        .map(|p| p["id"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// `author` writes one change into `plan` over HTTP sync.
async fn write_in(app: &TestApp, author: &Session, plan: &str, text: &str) {
    let mut doc = AutoCommit::load(&app.plan_changes(author.token(), plan).await).expect("load");
    let since = doc.get_heads();
    doc.put(automerge::ROOT, "whatMatters", text).expect("put");
    doc.commit();
    let change: Vec<u8> = doc
        .get_changes(&since)
        .iter()
        .flat_map(|c| c.raw_bytes().to_vec())
        .collect();
    let uploaded = app.upload_changes(author.token(), plan, change).await;
    assert_eq!(uploaded.status, 200, "{}", uploaded.body);
}

async fn history(app: &TestApp, session: &Session, plan: &str) -> Vec<HistoryEntry> {
    let answer = app
        .get(&format!("/api/v1/plans/{plan}/history"), session.token())
        .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    answer.json()
}

/// Of two answers to requests sent at once, exactly one is 204 and the other `status` `code`:
/// whether the first was the one refused.
#[track_caller]
fn one_refused(
    a: &cairn_tests::Answer,
    b: &cairn_tests::Answer,
    status: u16,
    code: ErrorCode,
) -> bool {
    let mut statuses = [a.status.as_u16(), b.status.as_u16()];
    statuses.sort_unstable();
    let mut expected = [204, status];
    expected.sort_unstable();
    assert_eq!(statuses, expected, "{} / {}", a.body, b.body);
    let first_refused = a.status.as_u16() == status;
    (if first_refused { a } else { b }).assert_error(status, code);
    first_refused
}

/// Maria supports Sam's plan and Sam supports hers: (maria, sam, her plan, his plan).
async fn each_in_the_others_plan(app: &TestApp) -> (Session, Session, String, String) {
    let maria = app.register("maria").await;
    let sam = app.register("sam").await;
    let mine = app.create_plan(&maria, "Maria's plan").await;
    app.add_supporter(&maria, &mine, &sam).await;
    let sams = app.create_plan(&sam, "Sam's plan").await;
    app.add_supporter(&sam, &sams, &maria).await;
    (maria, sam, mine, sams)
}

#[tokio::test]
async fn the_preview_lists_what_will_go() {
    let app = TestApp::spawn().await;
    let (maria, sam, mine, sams) = each_in_the_others_plan(&app).await;
    let lee = app.register("lee").await;
    app.add_supporter(&maria, &mine, &lee).await;
    let quiet = app.create_plan(&maria, "Nobody sees this yet").await;
    app.login("maria").await;

    let answer = app.get("/api/v1/me/leaving", maria.token()).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let preview: LeavingPreview = answer.json();
    let owned: Vec<(String, String, u64)> = preview
        .owned_plans
        .iter()
        .map(|p| (p.id.to_string(), p.title.clone(), p.supporters))
        .collect();
    assert_eq!(
        owned,
        vec![
            (mine.clone(), "Maria's plan".to_owned(), 2),
            (quiet, "Nobody sees this yet".to_owned(), 0),
        ]
    );
    assert_eq!(preview.supported_plans.len(), 1);
    assert_eq!(preview.supported_plans[0].id.to_string(), sams);
    assert_eq!(preview.supported_plans[0].title, "Sam's plan");
    assert_eq!(preview.supported_plans[0].owner_name, "Sam");
    assert_eq!(
        preview.device_sessions, 2,
        "registration and a second login"
    );

    // Looking changes nothing.
    assert_eq!(
        app.get("/api/v1/plans", sam.token())
            .await
            .body
            .as_array()
            .map(Vec::len),
        Some(2)
    );
    // A supporter sees no other person's plan titles there: only their own plans' and theirs.
    let lees: LeavingPreview = app.get("/api/v1/me/leaving", lee.token()).await.json();
    assert!(lees.owned_plans.is_empty());
    assert_eq!(lees.supported_plans.len(), 1);
    // Without a token: 401.
    app.request(Method::GET, "/api/v1/me/leaving", None, None)
        .await
        .assert_error(401, ErrorCode::Unauthenticated);
}

#[tokio::test]
async fn a_wrong_password_or_a_bad_body_changes_nothing() {
    let app = TestApp::spawn().await;
    let maria = app.register("maria").await;
    let sam = app.register("sam").await;
    let plan = app.create_plan(&maria, "Maria's plan").await;
    app.add_supporter(&maria, &plan, &sam).await;

    leave(&app, &maria, json!({ "password": "not my password" }))
        .await
        .assert_error(401, ErrorCode::InvalidCredentials);
    leave(&app, &maria, json!({ "password": "" }))
        .await
        .assert_error(401, ErrorCode::InvalidCredentials);
    leave(&app, &maria, json!({}))
        .await
        .assert_error(422, ErrorCode::ValidationFailed);
    leave(&app, &maria, json!({ "password": 12345 }))
        .await
        .assert_error(400, ErrorCode::BadRequest);
    leave(&app, &maria, json!({ "pasword": PASSWORD }))
        .await
        .assert_error(400, ErrorCode::BadRequest);
    app.request(Method::DELETE, "/api/v1/me", Some(maria.token()), None)
        .await
        .assert_error(400, ErrorCode::BadRequest);
    app.send_raw(
        Method::DELETE,
        "/api/v1/me",
        Some(maria.token()),
        "application/json",
        "{",
    )
    .await
    .assert_error(400, ErrorCode::BadRequest);
    app.request(
        Method::DELETE,
        "/api/v1/me",
        None,
        Some(&json!({ "password": PASSWORD })),
    )
    .await
    .assert_error(401, ErrorCode::Unauthenticated);

    // Nothing changed: she is signed in, her plan and its supporter are there, she can log in.
    let me = app.get("/api/v1/me", maria.token()).await;
    assert_eq!(me.status, 200, "{}", me.body);
    assert_eq!(me.body["displayName"], "Maria");
    assert_eq!(
        ids(&app.get("/api/v1/plans", sam.token()).await.body),
        vec![plan.clone()]
    );
    assert_eq!(
        ids(&app.get("/api/v1/plans", maria.token()).await.body),
        vec![plan]
    );
    app.login("maria").await;
}

#[tokio::test]
async fn wrong_passwords_are_limited_like_logins() {
    let app = TestApp::spawn_with(|s| s.login_attempts_per_account_and_address_per_hour = 2).await;
    let maria = app.register("maria").await;
    for _ in 0..2 {
        leave(&app, &maria, json!({ "password": "not my password" }))
            .await
            .assert_error(401, ErrorCode::InvalidCredentials);
    }
    let limited = leave(&app, &maria, json!({ "password": PASSWORD })).await;
    limited.assert_error(429, ErrorCode::RateLimited);
    assert!(limited.headers.contains_key("retry-after"));
    assert_eq!(app.get("/api/v1/me", maria.token()).await.status, 200);
}

#[tokio::test]
async fn leaving_deletes_owned_plans_ends_memberships_and_signs_out_everywhere() {
    let app = TestApp::spawn().await;
    let admin = app.admin("agency").await;
    let maria = app.register("maria").await;
    let sam = app.register("sam").await;
    let (mine, my_document) = app.plan_with_document(&maria, "Maria's plan").await;
    app.add_supporter(&maria, &mine, &sam).await;
    let sams = app.create_plan(&sam, "Sam's plan").await;
    app.add_supporter(&sam, &sams, &maria).await;
    write_in(&app, &maria, &sams, "Maria wrote this for Sam").await;
    let before = history(&app, &sam, &sams).await;
    assert!(before.iter().any(|e| e.author_name == "Maria"));

    // Sam's device holds Maria's plan open; Maria's phone is connected too.
    let mut supporter = app.sync_client(&sam).await;
    supporter.track(&my_document, AutoCommit::new());
    supporter.sync_doc(&my_document, true).await;
    assert!(!supporter.refused(&my_document));
    let mut phone = app.sync_client(&maria).await;
    phone.track(&my_document, AutoCommit::new());
    phone.sync_doc(&my_document, true).await;

    let left = leave(&app, &maria, json!({ "password": PASSWORD })).await;
    assert_eq!(left.status, 204, "{}", left.body);

    // Her plan is gone for everyone at once, and can never come back.
    assert!(
        supporter
            .wait_until(WAIT, |c| c.refused(&my_document))
            .await,
        "the connected supporter loses the plan at once: {:?}",
        supporter.events
    );
    assert!(
        app.store
            .is_tombstoned(PlanId(mine.parse().expect("uuid")))
            .await
            .expect("store")
    );
    assert_eq!(
        ids(&app.get("/api/v1/plans", sam.token()).await.body),
        vec![sams.clone()]
    );
    // Her socket is closed; her access and refresh tokens are refused; she cannot log in.
    assert!(
        phone.wait_until(WAIT, |c| c.closed()).await,
        "her open socket is closed: {:?}",
        phone.events
    );
    app.get("/api/v1/me", maria.token())
        .await
        .assert_error(401, ErrorCode::InvalidToken);
    app.request(
        Method::POST,
        "/api/v1/auth/refresh",
        None,
        Some(&json!({ "refreshToken": maria.tokens.refresh_token })),
    )
    .await
    .assert_error(401, ErrorCode::InvalidRefreshToken);
    app.login_answer("maria", PASSWORD)
        .await
        .assert_error(401, ErrorCode::InvalidCredentials);
    // Deleting twice: the token is no longer anyone's.
    leave(&app, &maria, json!({ "password": PASSWORD }))
        .await
        .assert_error(401, ErrorCode::InvalidToken);

    // Sam's plan stays; she is gone from its members; what she wrote is by "a former member".
    let members = app
        .get(&format!("/api/v1/plans/{sams}/members"), sam.token())
        .await;
    assert_eq!(members.status, 200, "{}", members.body);
    let member_ids: Vec<&str> = members
        .body
        .as_array()
        .expect("members")
        .iter()
        .filter_map(|m| m["userId"].as_str())
        .collect();
    assert_eq!(member_ids, vec![sam.user_id().to_string()]);
    let after = history(&app, &sam, &sams).await;
    assert_eq!(after.len(), before.len(), "history stays whole");
    let hers: Vec<&HistoryEntry> = after
        .iter()
        .filter(|e| e.author_id == maria.user_id())
        .collect();
    assert!(!hers.is_empty());
    assert!(
        hers.iter().all(|e| e.author_name == FORMER_MEMBER),
        "{hers:?}"
    );
    assert!(after.iter().all(|e| e.author_name != "Maria"));
    // The access log names her the same way (her joining and leaving are both there).
    let log = app
        .get(&format!("/api/v1/plans/{sams}/access-log"), sam.token())
        .await;
    assert_eq!(log.status, 200, "{}", log.body);
    let by_her: Vec<&Value> = log
        .body
        .as_array()
        .expect("entries")
        .iter()
        .filter(|e| e["accountId"] == maria.user_id().to_string())
        .collect();
    assert!(by_her.iter().any(|e| e["kind"] == "left"), "{}", log.body);
    assert!(by_her.iter().any(|e| e["kind"] == "joined"), "{}", log.body);
    assert!(
        by_her.iter().all(|e| e["accountName"] == FORMER_MEMBER),
        "{}",
        log.body
    );
    // The export names her as a former member too.
    let export = app
        .get(
            &format!("/api/v1/plans/{sams}/export?format=json"),
            sam.token(),
        )
        .await;
    assert_eq!(export.status, 200, "{}", export.body);
    let people = export.body["people"].as_array().expect("people");
    let her = people
        .iter()
        .find(|p| p["userId"] == maria.user_id().to_string())
        .expect("an author of the plan is among its people");
    assert_eq!(her["displayName"], FORMER_MEMBER, "{her}");
    assert_eq!(her["role"], "former member", "{her}");
    assert!(
        !export.body.to_string().contains("\"Maria\""),
        "{}",
        export.body
    );

    // Her username is free again; the new account is a new person, never the old history's author.
    let again = app.register("maria").await;
    assert_ne!(again.user_id(), maria.user_id());
    let plan_of_new = app.create_plan(&again, "A fresh start").await;
    app.add_supporter(&sam, &sams, &again).await;
    let named = history(&app, &sam, &sams).await;
    assert!(
        named
            .iter()
            .filter(|e| e.author_id == maria.user_id())
            .all(|e| e.author_name == FORMER_MEMBER),
        "{named:?}"
    );
    assert!(named.iter().all(|e| e.author_name != "Maria"));
    let log = app
        .get(&format!("/api/v1/plans/{sams}/access-log"), sam.token())
        .await;
    for entry in log.body.as_array().expect("entries") {
        if entry["accountId"] == maria.user_id().to_string() {
            assert_eq!(entry["accountName"], FORMER_MEMBER, "{entry}");
        }
    }
    assert!(!plan_of_new.is_empty());
    // The departed account is not counted or listed among the server's accounts.
    let counts = app.get("/api/v1/admin/counts", admin.token()).await;
    assert_eq!(counts.body["members"], 2, "{}", counts.body);
    let accounts = app.get("/api/v1/admin/accounts", admin.token()).await;
    assert!(
        accounts
            .body
            .as_array()
            .expect("accounts")
            .iter()
            .all(|a| a["id"] != maria.user_id().to_string()),
        "{}",
        accounts.body
    );
}

#[tokio::test]
async fn a_sole_admin_cannot_leave_but_one_of_two_can() {
    let app = TestApp::spawn().await;
    let first = app.admin("agency").await;
    let preview: LeavingPreview = app.get("/api/v1/me/leaving", first.token()).await.json();
    assert!(preview.owned_plans.is_empty() && preview.supported_plans.is_empty());
    leave(&app, &first, json!({ "password": PASSWORD }))
        .await
        .assert_error(409, ErrorCode::SoleAdmin);
    assert_eq!(app.get("/api/v1/me", first.token()).await.status, 200);

    let second = app.admin("deputy").await;
    let left = leave(&app, &first, json!({ "password": PASSWORD })).await;
    assert_eq!(left.status, 204, "{}", left.body);
    app.get("/api/v1/me", first.token())
        .await
        .assert_error(401, ErrorCode::InvalidToken);
    leave(&app, &second, json!({ "password": PASSWORD }))
        .await
        .assert_error(409, ErrorCode::SoleAdmin);
    assert_eq!(app.get("/api/v1/me", second.token()).await.status, 200);
}

#[tokio::test]
async fn of_two_admins_leaving_at_once_one_stays() {
    let app = TestApp::spawn().await;
    let first = app.admin("agency").await;
    let second = app.admin("deputy").await;
    let confirmed = json!({ "password": PASSWORD });
    let (a, b) = tokio::join!(
        leave(&app, &first, confirmed.clone()),
        leave(&app, &second, confirmed.clone())
    );
    let stayed = if one_refused(&a, &b, 409, ErrorCode::SoleAdmin) {
        &first
    } else {
        &second
    };
    assert_eq!(app.get("/api/v1/me", stayed.token()).await.status, 200);
}

#[tokio::test]
async fn leaving_twice_at_once_deletes_once() {
    let app = TestApp::spawn().await;
    let maria = app.register("maria").await;
    app.create_plan(&maria, "Maria's plan").await;
    let confirmed = json!({ "password": PASSWORD });
    let (a, b) = tokio::join!(
        leave(&app, &maria, confirmed.clone()),
        leave(&app, &maria, confirmed.clone())
    );
    one_refused(&a, &b, 401, ErrorCode::InvalidToken);
    app.get("/api/v1/me", maria.token())
        .await
        .assert_error(401, ErrorCode::InvalidToken);
}

#[tokio::test]
async fn a_departure_cut_short_is_finished_at_start_up() {
    let app = TestApp::spawn().await;
    let (maria, sam, mine, sams) = each_in_the_others_plan(&app).await;
    // Cairn stops right after closing the account, before its plans are dealt with.
    let closed = app
        .store
        .close_account(maria.user_id(), chrono::Utc::now())
        .await
        .expect("store");
    assert_eq!(closed, cairn_server::store::Leaving::Closed);
    assert_eq!(
        app.get("/api/v1/plans", sam.token())
            .await
            .body
            .as_array()
            .map(Vec::len),
        Some(2)
    );

    let database_url = app.database_url.clone();
    let restarted = TestApp::spawn_with(move |s| {
        s.database_url = Some(secrecy::SecretString::from(database_url));
    })
    .await;
    let sam = restarted.login("sam").await;
    assert_eq!(
        ids(&restarted.get("/api/v1/plans", sam.token()).await.body),
        vec![sams.clone()]
    );
    let members = restarted
        .get(&format!("/api/v1/plans/{sams}/members"), sam.token())
        .await;
    assert_eq!(
        members.body.as_array().map(Vec::len),
        Some(1),
        "{}",
        members.body
    );
    let log = restarted
        .get(&format!("/api/v1/plans/{sams}/access-log"), sam.token())
        .await;
    let left = log
        .body
        .as_array()
        .expect("entries")
        .iter()
        .find(|e| e["kind"] == "left")
        .cloned();
    assert_eq!(
        left.map(|e| e["accountName"].clone()),
        Some(json!(FORMER_MEMBER))
    );
    assert!(
        restarted
            .store
            .is_tombstoned(PlanId(mine.parse().expect("uuid")))
            .await
            .expect("store")
    );
}

#[tokio::test]
async fn a_departed_account_keeps_no_codes_second_factor_or_activity() {
    let app = TestApp::spawn().await;
    let admin = app.admin("agency").await;
    let maria = app.register("maria").await;
    app.enrol_totp(&maria).await;
    let issued = app
        .post(
            &format!("/api/v1/admin/accounts/{}/reset-code", maria.user_id()),
            admin.token(),
            json!({}),
        )
        .await;
    assert_eq!(issued.status, 201, "{}", issued.body);
    let store = &app.store;
    assert_eq!(
        store
            .recovery_code_set(maria.user_id())
            .await
            .expect("codes")
            .remaining,
        10
    );
    assert!(
        store
            .second_factor(maria.user_id())
            .await
            .expect("factor")
            .is_some()
    );
    assert!(
        !store
            .activity(maria.user_id(), 50)
            .await
            .expect("activity")
            .is_empty()
    );

    let left = leave(&app, &maria, json!({ "password": PASSWORD })).await;
    assert_eq!(left.status, 204, "{}", left.body);
    assert_eq!(
        store
            .recovery_code_set(maria.user_id())
            .await
            .expect("codes")
            .remaining,
        0
    );
    assert!(
        store
            .second_factor(maria.user_id())
            .await
            .expect("factor")
            .is_none()
    );
    assert!(
        store
            .activity(maria.user_id(), 50)
            .await
            .expect("activity")
            .is_empty()
    );
    // The reset code an admin issued for her is gone too: nobody can take the name back with it.
    let reset = app
        .request(
            Method::POST,
            "/api/v1/auth/reset",
            None,
            Some(&json!({"username": "maria", "code": issued.body["code"], "newPassword": "someone else's kettle now"})),
        )
        .await;
    reset.assert_error(401, ErrorCode::ResetCodeInvalid);
    // What the admin did stays in the audit, naming "a former member".
    let audit = app.get("/api/v1/admin/audit", admin.token()).await;
    assert_eq!(audit.body["entries"][0]["action"], "reset-code-issued");
    assert_eq!(audit.body["entries"][0]["targetName"], "a former member");
}

/// Start a passkey confirmation for `session`: the ceremony id and the options to sign.
async fn start_confirmation(app: &TestApp, session: &Session) -> (Value, Value) {
    let started = app
        .post(
            "/api/v1/me/passkeys/confirmation",
            session.token(),
            json!({}),
        )
        .await;
    assert_eq!(started.status, 200, "{}", started.body);
    (
        started.body["ceremonyId"].clone(),
        started.body["options"].clone(),
    )
}

fn with_passkey(ceremony: &Value, credential: &Value) -> Value {
    json!({ "passkey": { "ceremonyId": ceremony, "credential": credential } })
}

#[tokio::test]
async fn leaving_is_confirmed_with_a_passkey_never_another_accounts_or_an_old_answer() {
    use crate::passkeys::{Seen, phone, register_passkey, sign, start_sign_in};
    let app = TestApp::spawn().await;
    let (maria, sam, mine, _sams) = each_in_the_others_plan(&app).await;
    let eve = app.register("eve").await;
    let mut seen = Seen::default();
    let mut maria_phone = phone();
    let mut eve_phone = phone();

    // Without a passkey there is nothing to confirm with.
    app.post("/api/v1/me/passkeys/confirmation", maria.token(), json!({}))
        .await
        .assert_error(404, ErrorCode::PasskeyNotFound);
    let added = register_passkey(&app, &maria, &mut maria_phone, None, &mut seen).await;
    assert_eq!(added.status, 201, "{}", added.body);
    let added = register_passkey(&app, &eve, &mut eve_phone, None, &mut seen).await;
    assert_eq!(added.status, 201, "{}", added.body);

    // Eve's own confirmation, answered by her passkey, does not delete Maria's account.
    let (eves, options) = start_confirmation(&app, &eve).await;
    let eves_answer = sign(&app, &mut eve_phone, &options);
    leave(&app, &maria, with_passkey(&eves, &eves_answer))
        .await
        .assert_error(401, ErrorCode::InvalidCredentials);
    // Nor does Eve's passkey answering Maria's ceremony (its challenge is Maria's; the
    // credential is not one of hers).
    let (marias, _) = start_confirmation(&app, &maria).await;
    leave(&app, &maria, with_passkey(&marias, &eves_answer))
        .await
        .assert_error(401, ErrorCode::InvalidCredentials);
    // Nor a sign-in ceremony answered by Maria's own passkey.
    let (sign_in, options) = start_sign_in(&app, "maria", &mut seen).await;
    let sign_in_answer = sign(&app, &mut maria_phone, &options);
    leave(&app, &maria, with_passkey(&sign_in, &sign_in_answer))
        .await
        .assert_error(401, ErrorCode::InvalidCredentials);
    // A confirmation replaced by a newer one is void, even answered by her passkey.
    let (older, options) = start_confirmation(&app, &maria).await;
    let older_answer = sign(&app, &mut maria_phone, &options);
    let (newer, options) = start_confirmation(&app, &maria).await;
    let newer_answer = sign(&app, &mut maria_phone, &options);
    leave(&app, &maria, with_passkey(&older, &older_answer))
        .await
        .assert_error(401, ErrorCode::InvalidCredentials);
    // Both ways at once is a bad request, and does not use the confirmation up.
    let mut both = with_passkey(&newer, &newer_answer);
    both["password"] = json!(PASSWORD);
    leave(&app, &maria, both)
        .await
        .assert_error(422, ErrorCode::ValidationFailed);

    // Nothing changed so far: Maria is signed in, her plan and its supporter are there.
    assert_eq!(app.get("/api/v1/me", maria.token()).await.status, 200);
    assert!(ids(&app.get("/api/v1/plans", maria.token()).await.body).contains(&mine));
    assert!(ids(&app.get("/api/v1/plans", sam.token()).await.body).contains(&mine));

    // Her passkey's answer to her newest confirmation deletes the account.
    let left = leave(&app, &maria, with_passkey(&newer, &newer_answer)).await;
    assert_eq!(left.status, 204, "{}", left.body);
    assert!(!ids(&app.get("/api/v1/plans", sam.token()).await.body).contains(&mine));
    app.login_answer("maria", PASSWORD)
        .await
        .assert_error(401, ErrorCode::InvalidCredentials);
}

#[tokio::test]
async fn a_departure_finished_at_start_up_reaches_the_instances_already_running() {
    if !cairn_tests::on_postgres() {
        return; // Instances share a database only on Postgres.
    }
    let app = TestApp::spawn().await;
    let maria = app.register("maria").await;
    let sam = app.register("sam").await;
    let (plan, document) = app.plan_with_document(&maria, "Maria's plan").await;
    app.add_supporter(&maria, &plan, &sam).await;
    let mut sams = app.sync_client(&sam).await;
    sams.track(&document, AutoCommit::new());
    sams.sync_doc(&document, true).await;
    assert!(!sams.refused(&document));
    // An instance stops right after closing Maria's account, before her plan is deleted.
    app.store
        .close_account(maria.user_id(), chrono::Utc::now())
        .await
        .expect("store");

    // Another instance starts and finishes the departure: Sam's phone, connected to the first
    // instance, loses the plan at once.
    let _started = TestApp::spawn_beside(&app).await;
    assert!(
        sams.wait_until(WAIT, |c| c.refused(&document)).await,
        "{:?}",
        sams.events
    );
}
