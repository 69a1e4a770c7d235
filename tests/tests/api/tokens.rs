//! Access tokens that must be refused: each is a real token with exactly one thing wrong.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use cairn_shared::ErrorCode;
use cairn_tests::{TEST_JWT_SECRET, TestApp};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::Method;
use serde_json::Value;

fn sign(claims: &Value, algorithm: Algorithm, secret: &str) -> String {
    jsonwebtoken::encode(
        &Header::new(algorithm),
        claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap_or_default()
}

async fn assert_refused(app: &TestApp, token: &str, what: &str) {
    let answer = app.get("/api/v1/me", token).await;
    assert_eq!(
        answer.status, 401,
        "{what} must be refused: {}",
        answer.body
    );
    assert_eq!(
        answer.error_code(),
        Some(ErrorCode::InvalidToken),
        "{what}: {}",
        answer.body
    );
}

#[tokio::test]
async fn a_resigned_copy_of_a_good_token_is_accepted() {
    // The control for the refusals below: re-signing unchanged claims with the server's key works,
    // so each refusal is caused by the one thing that test changes.
    let app = TestApp::spawn().await;
    let maria = app.register("maria").await;
    let copy = sign(&maria.claims(), Algorithm::HS256, TEST_JWT_SECRET);
    assert_eq!(app.get("/api/v1/me", &copy).await.status, 200);
}

#[tokio::test]
async fn expired_forged_and_misaddressed_tokens_are_refused() {
    let app = TestApp::spawn().await;
    let maria = app.register("maria").await;
    let claims = maria.claims();
    let now = chrono::Utc::now().timestamp();

    let mut expired = claims.clone();
    expired["iat"] = (now - 7200).into();
    expired["exp"] = (now - 3600).into();
    assert_refused(
        &app,
        &sign(&expired, Algorithm::HS256, TEST_JWT_SECRET),
        "an expired token",
    )
    .await;

    let forged = sign(
        &claims,
        Algorithm::HS256,
        "another-secret-of-sufficient-length-0123456789",
    );
    assert_refused(&app, &forged, "a token signed with another key").await;

    let mut audience = claims.clone();
    audience["aud"] = "some-other-service".into();
    assert_refused(
        &app,
        &sign(&audience, Algorithm::HS256, TEST_JWT_SECRET),
        "a wrong audience",
    )
    .await;

    let mut issuer = claims.clone();
    issuer["iss"] = "someone-else".into();
    assert_refused(
        &app,
        &sign(&issuer, Algorithm::HS256, TEST_JWT_SECRET),
        "a wrong issuer",
    )
    .await;

    let mut no_expiry = claims.clone();
    no_expiry.as_object_mut().map(|c| c.remove("exp"));
    assert_refused(
        &app,
        &sign(&no_expiry, Algorithm::HS256, TEST_JWT_SECRET),
        "a token without exp",
    )
    .await;

    let other_algorithm = sign(&claims, Algorithm::HS512, TEST_JWT_SECRET);
    assert_refused(&app, &other_algorithm, "HS512 with the right key").await;

    // alg: none, no signature at all.
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
    let body = URL_SAFE_NO_PAD.encode(claims.to_string());
    assert_refused(&app, &format!("{header}.{body}."), "alg none").await;

    // A tampered payload under the original signature.
    let original_signature = maria.token().rsplit('.').next().unwrap_or_default();
    let mut tampered = claims.clone();
    tampered["exp"] = (now + 86400 * 365).into();
    let tampered_body = URL_SAFE_NO_PAD.encode(tampered.to_string());
    let real_header = maria.token().split('.').next().unwrap_or_default();
    assert_refused(
        &app,
        &format!("{real_header}.{tampered_body}.{original_signature}"),
        "a tampered payload",
    )
    .await;

    // A valid signature for another account's id but a session that is not theirs.
    let sam = app.register("sam").await;
    let mut swapped = claims.clone();
    swapped["sub"] = sam.user_id().to_string().into();
    assert_refused(
        &app,
        &sign(&swapped, Algorithm::HS256, TEST_JWT_SECRET),
        "a session of another account",
    )
    .await;

    assert_refused(&app, "not-a-jwt", "garbage").await;
    // The genuine token still works after all that.
    assert_eq!(app.get("/api/v1/me", maria.token()).await.status, 200);
}

#[tokio::test]
async fn requests_without_a_token_are_unauthenticated() {
    let app = TestApp::spawn().await;
    let answer = app.request(Method::GET, "/api/v1/plans", None, None).await;
    answer.assert_error(401, ErrorCode::Unauthenticated);
    assert_eq!(answer.headers["www-authenticate"], "Bearer");
    let basic = app
        .send_raw(Method::GET, "/api/v1/me", None, "application/json", "")
        .await;
    basic.assert_error(401, ErrorCode::Unauthenticated);
}
