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
    // Registration also made the first set of recovery codes.
    assert_eq!(
        kinds(&activity.body),
        ["signed-in", "signed-in", "recovery-codes-created"]
    );
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
    assert_eq!(kinds(&mine.body).len(), 3);
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

#[tokio::test]
async fn a_reset_by_the_agency_can_never_happen_without_the_person_knowing() {
    let app = TestApp::spawn().await;
    let admin = app.admin("agency").await;
    let maria = app.register("maria").await;
    let issued = app
        .post(
            &format!("/api/v1/admin/accounts/{}/reset-code", maria.user_id()),
            admin.token(),
            json!({}),
        )
        .await;
    assert_eq!(issued.status, 201, "{}", issued.body);
    let code = issued.body["code"].as_str().unwrap_or_default().to_owned();
    let reset = app
        .request(
            reqwest::Method::POST,
            "/api/v1/auth/reset",
            None,
            Some(&json!({"username": "maria", "code": code, "newPassword": "a new kettle for the allotment", "deviceName": "new phone"})),
        )
        .await;
    assert_eq!(reset.status, 200, "{}", reset.body);
    let token = reset.body["accessToken"]
        .as_str()
        .unwrap_or_default()
        .to_owned();

    let activity = app.get("/api/v1/me/activity", &token).await;
    assert_eq!(
        kinds(&activity.body)[..3],
        ["signed-in", "password-reset", "reset-code-issued"]
    );
    for entry in &activity.body.as_array().cloned().unwrap_or_default()[1..3] {
        assert_eq!(entry["byId"], admin.user_id().to_string(), "{entry}");
        assert_eq!(entry["byName"], cairn_tests::display_name("agency"));
    }
    assert!(!activity.body.to_string().contains(&code), "never the code");
    let audit = app.get("/api/v1/admin/audit", admin.token()).await;
    assert_eq!(audit.body["entries"][0]["action"], "reset-code-issued");
    assert_eq!(
        audit.body["entries"][0]["targetId"],
        maria.user_id().to_string()
    );
    assert!(!audit.body.to_string().contains(&code), "never the code");
}

#[tokio::test]
async fn password_changes_and_recovery_codes_show_in_my_activity() {
    let app = TestApp::spawn().await;
    let maria = app.register("maria").await;
    let codes = maria.tokens.recovery_codes.clone().unwrap_or_default();
    assert_eq!(codes.len(), 10, "registration hands out the first set");
    let changed = app
        .post(
            "/api/v1/me/password",
            maria.token(),
            json!({"currentPassword": PASSWORD, "newPassword": "a new kettle for the allotment"}),
        )
        .await;
    assert_eq!(changed.status, 204, "{}", changed.body);
    let recovered = app
        .request(
            reqwest::Method::POST,
            "/api/v1/auth/recover",
            None,
            Some(&json!({"username": "maria", "code": codes[0], "newPassword": "another kettle, another allotment", "deviceName": "borrowed phone"})),
        )
        .await;
    assert_eq!(recovered.status, 200, "{}", recovered.body);
    let token = recovered.body["accessToken"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let activity = app.get("/api/v1/me/activity", &token).await;
    assert_eq!(
        kinds(&activity.body),
        [
            "signed-in",
            "recovery-code-used",
            "password-changed",
            "signed-in",
            "recovery-codes-created",
        ]
    );
    assert_eq!(activity.body[0]["deviceName"], "borrowed phone");
    for code in &codes {
        assert!(!activity.body.to_string().contains(code.as_str()));
    }
}
