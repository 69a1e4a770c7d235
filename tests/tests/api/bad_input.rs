//! Bad input gets a clear JSON error, the server keeps serving, and stored plans are unchanged.

use cairn_shared::ErrorCode;
use cairn_tests::TestApp;
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn malformed_json_gets_a_clear_error_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let maria = app.register("maria").await;
    let plan = app.create_plan(&maria, "Unchanged").await;
    let before = app
        .get(&format!("/api/v1/plans/{plan}"), maria.token())
        .await;

    let bodies: [(&str, &[u8]); 7] = [
        ("/api/v1/auth/login", b"{not json"),
        ("/api/v1/auth/login", b"[]"),
        ("/api/v1/auth/login", br#"{"username": 5, "password": "x"}"#),
        (
            "/api/v1/auth/register",
            br#"{"username":"a","displayName":"b","password":"c","isAdmin":true}"#,
        ),
        ("/api/v1/auth/refresh", b"\xff\xfe\x00garbage"),
        ("/api/v1/plans", b"{\"title\": "),
        ("/api/v1/admin/enrollment-codes", b"{\"maxUses\": -1}"),
    ];
    for (path, body) in bodies {
        let answer = app
            .send_raw(
                Method::POST,
                path,
                Some(maria.token()),
                "application/json",
                body.to_vec(),
            )
            .await;
        answer.assert_error(400, ErrorCode::BadRequest);
        assert!(
            answer.body["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty()),
            "{path}: the message says what is wrong"
        );
    }

    let wrong_type = app
        .send_raw(
            Method::POST,
            "/api/v1/auth/login",
            None,
            "text/plain",
            "username=maria",
        )
        .await;
    wrong_type.assert_error(400, ErrorCode::BadRequest);

    let deep = format!("{}{}", "[".repeat(5000), "]".repeat(5000));
    let deep = app
        .send_raw(
            Method::POST,
            "/api/v1/plans",
            Some(maria.token()),
            "application/json",
            deep,
        )
        .await;
    deep.assert_error(400, ErrorCode::BadRequest);

    let huge = format!(
        r#"{{"username":"maria","password":"{}"}}"#,
        "x".repeat(200_000)
    );
    let huge = app
        .send_raw(
            Method::POST,
            "/api/v1/auth/login",
            None,
            "application/json",
            huge,
        )
        .await;
    huge.assert_error(413, ErrorCode::PayloadTooLarge);

    let title_too_long = app
        .post(
            "/api/v1/plans",
            maria.token(),
            json!({"title": "t".repeat(500)}),
        )
        .await;
    title_too_long.assert_error(422, ErrorCode::ValidationFailed);

    // Still serving, and the plan is exactly as it was.
    let after = app
        .get(&format!("/api/v1/plans/{plan}"), maria.token())
        .await;
    assert_eq!(after.status, 200);
    assert_eq!(before.body, after.body);
    assert_eq!(
        app.get("/api/v1/plans", maria.token())
            .await
            .body
            .as_array()
            .map(Vec::len),
        Some(1)
    );
}

#[tokio::test]
async fn hostile_ids_and_unknown_routes_get_clean_not_found_answers() {
    let app = TestApp::spawn().await;
    let maria = app.register("maria").await;
    let plan = app.create_plan(&maria, "Mine").await;
    for id in [
        "..%2F..%2Fetc%2Fpasswd",
        "1%27%20OR%20%271%27%3D%271",
        "automerge%3Anot-base58-0OIl",
        &"a".repeat(5000),
        "%00",
    ] {
        let answer = app.get(&format!("/api/v1/plans/{id}"), maria.token()).await;
        answer.assert_error(404, ErrorCode::PlanNotFound);
    }
    app.delete(
        &format!("/api/v1/plans/{plan}/members/not-a-user"),
        maria.token(),
    )
    .await
    .assert_error(404, ErrorCode::MemberNotFound);
    app.delete("/api/v1/me/sessions/nope", maria.token())
        .await
        .assert_error(404, ErrorCode::SessionNotFound);
    app.get("/api/v1/nothing-here", maria.token())
        .await
        .assert_error(404, ErrorCode::NotFound);
    app.request(Method::PUT, "/api/v1/plans", Some(maria.token()), None)
        .await
        .assert_error(405, ErrorCode::MethodNotAllowed);
    assert_eq!(
        app.get(&format!("/api/v1/plans/{plan}"), maria.token())
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn oversized_raw_bodies_get_a_json_413_and_big_sync_uploads_fit() {
    let app = TestApp::spawn_with(|s| s.max_frame_bytes = 2 * 1024 * 1024).await;
    let maria = app.register("maria").await;
    let plan = app.create_plan(&maria, "Big").await;
    let path = format!("/api/v1/plans/{plan}/changes");
    // Past the limit: a clear JSON error, nothing stored.
    let huge = app
        .send_raw(
            Method::POST,
            &path,
            Some(maria.token()),
            "application/octet-stream",
            vec![0u8; 3 * 1024 * 1024],
        )
        .await;
    huge.assert_error(413, ErrorCode::PayloadTooLarge);
    // Under it but above actix's default 256 KiB: read and judged on its content.
    let big = app
        .send_raw(
            Method::POST,
            &path,
            Some(maria.token()),
            "application/octet-stream",
            vec![0u8; 1024 * 1024],
        )
        .await;
    big.assert_error(400, ErrorCode::BadRequest);
    let detail = app
        .get(&format!("/api/v1/plans/{plan}"), maria.token())
        .await;
    assert_eq!(detail.body["title"], "Big");
}
