//! Account activity (`GET /api/v1/me/activity`) and the admin audit (`GET /api/v1/admin/audit`):
//! a person sees every sign-in and every act an admin did to their account; admins see every
//! admin act, paged; neither holds secrets, and addresses only where the agency records them.

use cairn_shared::ErrorCode;
use cairn_tests::{PASSWORD, TestApp};
use serde_json::{Value, json};

fn kinds(entries: &Value) -> Vec<String> {
    entries
        .as_array()
        .map(|entries| {
            entries
                .iter()
                .filter_map(|entry| entry["kind"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn my_activity_shows_each_sign_in_with_its_device_and_no_address() {
    let app = TestApp::spawn().await;
    let maria = app.register("maria").await;
    app.login("maria").await;

    let activity = app.get("/api/v1/me/activity", maria.token()).await;
    assert_eq!(activity.status, 200, "{}", activity.body);
    assert_eq!(kinds(&activity.body), ["signed-in", "signed-in"]);
    // Newest first: the login ("laptop") after the registration ("test phone").
    assert_eq!(activity.body[0]["deviceName"], "laptop");
    assert_eq!(activity.body[1]["deviceName"], "test phone");
    assert!(
        activity.body[0]["address"].is_null(),
        "no address unless the agency turns it on"
    );
    assert!(activity.body[0]["byId"].is_null());

    // Another person's sign-ins are not in mine.
    let sam = app.register("sam").await;
    let mine = app.get("/api/v1/me/activity", maria.token()).await;
    assert_eq!(kinds(&mine.body).len(), 2);
    let theirs = app.get("/api/v1/me/activity?limit=1", sam.token()).await;
    assert_eq!(kinds(&theirs.body), ["signed-in"]);

    // Bad limits get a clear error; no token, no activity.
    app.get("/api/v1/me/activity?limit=0", maria.token())
        .await
        .assert_error(400, ErrorCode::BadRequest);
    app.get("/api/v1/me/activity?limit=201", maria.token())
        .await
        .assert_error(400, ErrorCode::BadRequest);
    let anonymous = app
        .request(reqwest::Method::GET, "/api/v1/me/activity", None, None)
        .await;
    assert_eq!(anonymous.status, 401);
}

#[tokio::test]
async fn an_agency_that_records_addresses_sees_them_in_the_activity() {
    let app = TestApp::spawn_with(|settings| settings.activity_addresses = true).await;
    let maria = app.register("maria").await;
    let activity = app.get("/api/v1/me/activity", maria.token()).await;
    assert_eq!(activity.body[0]["address"], "127.0.0.1");
}

#[tokio::test]
async fn what_an_admin_does_to_an_account_shows_in_its_activity_and_in_the_audit() {
    let app = TestApp::spawn().await;
    let admin = app.admin("agency").await;
    let created = app
        .post(
            "/api/v1/admin/accounts",
            admin.token(),
            json!({"username": "jordan", "displayName": "Jordan", "password": PASSWORD}),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let jordan_id = created.body["id"].as_str().unwrap_or_default().to_owned();
    let disable = format!("/api/v1/admin/accounts/{jordan_id}/disable");
    assert_eq!(
        app.post(&disable, admin.token(), json!({})).await.status,
        200
    );
    let enable = format!("/api/v1/admin/accounts/{jordan_id}/enable");
    assert_eq!(
        app.post(&enable, admin.token(), json!({})).await.status,
        200
    );
    let code = app
        .post(
            "/api/v1/admin/enrollment-codes",
            admin.token(),
            json!({"maxUses": 3}),
        )
        .await;
    assert_eq!(code.status, 201);
    let secret_code = code.body["code"].as_str().unwrap_or_default().to_owned();

    let jordan = app.login("jordan").await;
    let activity = app.get("/api/v1/me/activity", jordan.token()).await;
    assert_eq!(
        kinds(&activity.body),
        [
            "signed-in",
            "account-enabled",
            "account-disabled",
            "account-created"
        ]
    );
    for entry in activity.body.as_array().into_iter().flatten().skip(1) {
        assert_eq!(entry["byId"], admin.user_id().to_string());
        assert_eq!(entry["byName"], cairn_tests::display_name("agency"));
    }

    let audit = app.get("/api/v1/admin/audit", admin.token()).await;
    assert_eq!(audit.status, 200, "{}", audit.body);
    let actions: Vec<&str> = audit.body["entries"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|entry| entry["action"].as_str())
        .collect();
    // The admin itself was made as `cairn admin create` makes one, through the library (the
    // command line records that act itself; see server/tests/binary.rs).
    assert_eq!(
        actions,
        [
            "enrollment-code-issued",
            "account-enabled",
            "account-disabled",
            "account-created",
        ]
    );
    assert_eq!(audit.body["entries"][1]["targetId"], jordan_id.as_str());
    assert_eq!(audit.body["entries"][1]["targetName"], "Jordan");
    assert_eq!(
        audit.body["entries"][1]["adminName"],
        cairn_tests::display_name("agency")
    );
    assert!(
        audit.body["nextBefore"].is_null(),
        "one page holds everything"
    );
    assert!(
        !audit.body.to_string().contains(&secret_code),
        "the audit never holds the enrollment code"
    );

    // Members cannot read the audit.
    app.get("/api/v1/admin/audit", jordan.token())
        .await
        .assert_error(403, ErrorCode::AdminOnly);
}

#[tokio::test]
async fn the_audit_is_read_a_page_at_a_time_newest_first() {
    let app = TestApp::spawn().await;
    let admin = app.admin("agency").await;
    for n in 0..5 {
        let created = app
            .post(
                "/api/v1/admin/accounts",
                admin.token(),
                json!({"username": format!("person{n}"), "displayName": format!("Person {n}"), "password": PASSWORD}),
            )
            .await;
        assert_eq!(created.status, 201);
    }
    let mut names = Vec::new();
    let mut path = "/api/v1/admin/audit?limit=2".to_owned();
    let mut pages = 0;
    loop {
        let page = app.get(&path, admin.token()).await;
        assert_eq!(page.status, 200, "{}", page.body);
        pages += 1;
        for entry in page.body["entries"].as_array().into_iter().flatten() {
            names.push(entry["targetName"].as_str().unwrap_or_default().to_owned());
        }
        match page.body["nextBefore"].as_i64() {
            Some(before) => path = format!("/api/v1/admin/audit?limit=2&before={before}"),
            None => break,
        }
        assert!(pages < 10, "paging ends");
    }
    assert_eq!(
        names,
        ["Person 4", "Person 3", "Person 2", "Person 1", "Person 0"]
    );
    app.get("/api/v1/admin/audit?limit=0", admin.token())
        .await
        .assert_error(400, ErrorCode::BadRequest);
    let bad_before = app
        .get("/api/v1/admin/audit?before=soon", admin.token())
        .await;
    assert_eq!(bad_before.status, 400, "{}", bad_before.body);
}

#[tokio::test]
async fn acts_from_the_servers_command_line_are_in_the_audit_without_an_admin() {
    let app = TestApp::spawn().await;
    let admin = app.admin("agency").await;
    cairn_server::services::activity::admin_act(
        &app.store,
        None,
        cairn_shared::api::AdminAction::KeysRotated,
        None,
        Some("3 plan keys re-wrapped under master key k2".into()),
    )
    .await
    .expect("recorded");
    let audit = app.get("/api/v1/admin/audit", admin.token()).await;
    let newest = &audit.body["entries"][0];
    assert_eq!(newest["action"], "keys-rotated");
    assert!(newest["adminId"].is_null() && newest["adminName"].is_null());
}
