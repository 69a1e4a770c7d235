use cairn_shared::ErrorCode;
use cairn_tests::{PASSWORD, TestApp};
use serde_json::json;

#[tokio::test]
async fn an_admin_creates_members_and_admins() {
    let app = TestApp::spawn().await;
    let admin = app.admin("agency").await;
    let created = app
        .post(
            "/api/v1/admin/accounts",
            admin.token(),
            json!({"username": "Jordan", "displayName": "Jordan P.", "password": PASSWORD}),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    assert_eq!(created.body["kind"], "member");
    assert_eq!(created.body["username"], "jordan");
    assert_eq!(
        app.login("jordan").await.tokens.account.display_name,
        "Jordan P."
    );

    let second_admin = app
        .post(
            "/api/v1/admin/accounts",
            admin.token(),
            json!({"username": "staff2", "displayName": "Staff", "password": PASSWORD, "kind": "admin"}),
        )
        .await;
    assert_eq!(second_admin.body["kind"], "admin");

    let duplicate = app
        .post(
            "/api/v1/admin/accounts",
            admin.token(),
            json!({"username": "jordan", "displayName": "J", "password": PASSWORD}),
        )
        .await;
    duplicate.assert_error(409, ErrorCode::UsernameTaken);

    let list = app.get("/api/v1/admin/accounts", admin.token()).await;
    let names: Vec<&str> = list
        .body
        .as_array()
        .map(|a| a.iter().filter_map(|u| u["username"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(names, ["agency", "jordan", "staff2"]);
    assert!(
        list.body.to_string().find("argon2").is_none(),
        "no password hashes are listed"
    );
}

#[tokio::test]
async fn disabling_an_account_signs_it_out_everywhere_and_blocks_login() {
    let app = TestApp::spawn().await;
    let admin = app.admin("agency").await;
    let maria = app.register("maria").await;
    let disabled = app
        .post(
            &format!("/api/v1/admin/accounts/{}/disable", maria.user_id()),
            admin.token(),
            json!({}),
        )
        .await;
    assert_eq!(disabled.status, 200, "{}", disabled.body);
    assert_eq!(disabled.body["disabled"], true);

    app.get("/api/v1/me", maria.token())
        .await
        .assert_error(401, ErrorCode::InvalidToken);
    app.login_answer("maria", cairn_tests::PASSWORD)
        .await
        .assert_error(403, ErrorCode::AccountDisabled);
    let refresh = app
        .request(
            reqwest::Method::POST,
            "/api/v1/auth/refresh",
            None,
            Some(&json!({"refreshToken": maria.tokens.refresh_token})),
        )
        .await;
    assert_eq!(refresh.status, 401, "{}", refresh.body);

    let enabled = app
        .post(
            &format!("/api/v1/admin/accounts/{}/enable", maria.user_id()),
            admin.token(),
            json!({}),
        )
        .await;
    assert_eq!(enabled.body["disabled"], false);
    assert_eq!(app.login_answer("maria", PASSWORD).await.status, 200);

    app.post(
        &format!("/api/v1/admin/accounts/{}/disable", admin.user_id()),
        admin.token(),
        json!({}),
    )
    .await
    .assert_error(422, ErrorCode::ValidationFailed);
    app.post(
        &format!("/api/v1/admin/accounts/{}/disable", uuid::Uuid::new_v4()),
        admin.token(),
        json!({}),
    )
    .await
    .assert_error(404, ErrorCode::AccountNotFound);
    app.post(
        "/api/v1/admin/accounts/not-a-uuid/disable",
        admin.token(),
        json!({}),
    )
    .await
    .assert_error(404, ErrorCode::AccountNotFound);
}

#[tokio::test]
async fn members_cannot_use_admin_routes() {
    let app = TestApp::spawn().await;
    let maria = app.register("maria").await;
    app.get("/api/v1/admin/accounts", maria.token())
        .await
        .assert_error(403, ErrorCode::AdminOnly);
    app.get("/api/v1/admin/counts", maria.token())
        .await
        .assert_error(403, ErrorCode::AdminOnly);
    app.post("/api/v1/admin/enrollment-codes", maria.token(), json!({}))
        .await
        .assert_error(403, ErrorCode::AdminOnly);
    app.post(
        "/api/v1/admin/accounts",
        maria.token(),
        json!({"username": "x-user", "displayName": "X", "password": PASSWORD, "kind": "admin"}),
    )
    .await
    .assert_error(403, ErrorCode::AdminOnly);
    app.post(
        &format!("/api/v1/admin/accounts/{}/disable", maria.user_id()),
        maria.token(),
        json!({}),
    )
    .await
    .assert_error(403, ErrorCode::AdminOnly);
}

#[tokio::test]
async fn admins_see_counts_but_never_plan_content() {
    let app = TestApp::spawn().await;
    let admin = app.admin("agency").await;
    let maria = app.register("maria").await;
    let sam = app.register("sam").await;
    let plan = app.create_plan(&maria, "Getting back to work").await;
    app.add_supporter(&maria, &plan, &sam).await;

    let counts = app.get("/api/v1/admin/counts", admin.token()).await;
    assert_eq!(counts.status, 200);
    assert_eq!(
        counts.body,
        json!({"members": 2, "admins": 1, "disabledAccounts": 0, "plans": 1, "supporterMemberships": 1})
    );

    app.get(&format!("/api/v1/plans/{plan}"), admin.token())
        .await
        .assert_error(404, ErrorCode::PlanNotFound);
    app.get(&format!("/api/v1/plans/{plan}/members"), admin.token())
        .await
        .assert_error(404, ErrorCode::PlanNotFound);
    app.get("/api/v1/plans", admin.token())
        .await
        .assert_error(403, ErrorCode::AdminCannotUsePlans);
    app.post("/api/v1/plans", admin.token(), json!({"title": "x"}))
        .await
        .assert_error(403, ErrorCode::AdminCannotUsePlans);
    app.delete(&format!("/api/v1/plans/{plan}"), admin.token())
        .await
        .assert_error(404, ErrorCode::PlanNotFound);
    // An admin cannot join a plan by invitation either.
    let invitation = app
        .post(
            &format!("/api/v1/plans/{plan}/invitations"),
            maria.token(),
            json!({}),
        )
        .await;
    let code = invitation.body["code"].as_str().unwrap_or_default();
    app.post(
        &format!("/api/v1/invitations/{code}/accept"),
        admin.token(),
        json!({}),
    )
    .await
    .assert_error(403, ErrorCode::AdminCannotUsePlans);
    // No admin answer carries the plan's words.
    let accounts = app.get("/api/v1/admin/accounts", admin.token()).await;
    assert!(!accounts.body.to_string().contains("Getting back to work"));
    assert!(!counts.body.to_string().contains("Getting back to work"));
}

#[tokio::test]
async fn the_plans_members_show_an_account_an_admin_disabled() {
    let app = TestApp::spawn().await;
    let admin = app.admin("agency").await;
    let maria = app.register("maria").await;
    let sam = app.register("sam").await;
    let plan = app.create_plan(&maria, "My plan").await;
    app.add_supporter(&maria, &plan, &sam).await;
    let disabled_by_name = |members: &serde_json::Value| -> Vec<(String, bool)> {
        members
            .as_array()
            .expect("members")
            .iter()
            .map(|m| {
                (
                    m["displayName"].as_str().unwrap_or_default().to_owned(),
                    m["disabled"].as_bool().expect("disabled is a boolean"),
                )
            })
            .collect()
    };
    let members = app
        .get(&format!("/api/v1/plans/{plan}/members"), maria.token())
        .await;
    assert_eq!(
        disabled_by_name(&members.body),
        [("Maria".to_owned(), false), ("Sam".to_owned(), false)]
    );

    for (act, disabled) in [("disable", true), ("enable", false)] {
        let answer = app
            .post(
                &format!("/api/v1/admin/accounts/{}/{act}", sam.user_id()),
                admin.token(),
                json!({}),
            )
            .await;
        assert_eq!(answer.status, 200, "{}", answer.body);
        let members = app
            .get(&format!("/api/v1/plans/{plan}/members"), maria.token())
            .await;
        assert_eq!(
            disabled_by_name(&members.body),
            [("Maria".to_owned(), false), ("Sam".to_owned(), disabled)]
        );
        let list = app.get("/api/v1/plans", maria.token()).await;
        assert_eq!(
            disabled_by_name(&list.body[0]["members"]),
            [("Maria".to_owned(), false), ("Sam".to_owned(), disabled)]
        );
    }
}
