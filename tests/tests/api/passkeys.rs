//! Passkeys: registering, listing, signing in with and removing them, with a software
//! authenticator standing in for the person's phone; and every refusal.

use cairn_shared::ErrorCode;
use cairn_shared::api::{AuthTokens, PasskeyInfo};
use cairn_tests::{Answer, Session, TestApp};
use reqwest::Method;
use serde_json::{Value, json};
use webauthn_authenticator_rs::WebauthnAuthenticator;
use webauthn_authenticator_rs::prelude::Url;
use webauthn_authenticator_rs::softpasskey::SoftPasskey;

/// A phone with a passkey app that verifies its owner (a fingerprint, say).
pub(crate) fn phone() -> SoftPasskey {
    SoftPasskey::new(true)
}

/// The origin the test server's passkeys are bound to (`public_url` unset).
pub(crate) fn origin(app: &TestApp) -> Url {
    Url::parse(&format!("http://localhost:{}", app.port)).expect("an origin")
}

/// Every answer a test saw, to check that no credential ever appears in one.
#[derive(Default)]
pub(crate) struct Seen(Vec<String>);

impl Seen {
    pub(crate) fn keep(&mut self, answer: Answer) -> Answer {
        self.0.push(answer.body.to_string());
        answer
    }
}

pub(crate) async fn register_passkey(
    app: &TestApp,
    session: &Session,
    authenticator: &mut SoftPasskey,
    name: Option<&str>,
    seen: &mut Seen,
) -> Answer {
    let started = seen.keep(
        app.post(
            "/api/v1/me/passkeys/registration",
            session.token(),
            json!({}),
        )
        .await,
    );
    assert_eq!(started.status, 200, "{}", started.body);
    let options = serde_json::from_value(started.body["options"].clone()).expect("options");
    let credential = authenticator
        .do_registration(origin(app), options)
        .expect("the authenticator registers");
    seen.keep(
        app.post(
            "/api/v1/me/passkeys",
            session.token(),
            json!({
                "ceremonyId": started.body["ceremonyId"],
                "name": name,
                "credential": credential,
            }),
        )
        .await,
    )
}

/// Start a sign-in as `username`: the ceremony id and the options for the authenticator.
pub(crate) async fn start_sign_in(
    app: &TestApp,
    username: &str,
    seen: &mut Seen,
) -> (Value, Value) {
    let started = seen.keep(
        app.request(
            Method::POST,
            "/api/v1/auth/passkey/start",
            None,
            Some(&json!({ "username": username })),
        )
        .await,
    );
    assert_eq!(started.status, 200, "{}", started.body);
    (
        started.body["ceremonyId"].clone(),
        started.body["options"].clone(),
    )
}

/// The authenticator's signed answer to sign-in `options`.
pub(crate) fn sign(app: &TestApp, authenticator: &mut SoftPasskey, options: &Value) -> Value {
    let options = serde_json::from_value(options.clone()).expect("options");
    let assertion = authenticator
        .do_authentication(origin(app), options)
        .expect("the authenticator signs");
    serde_json::to_value(assertion).expect("an assertion")
}

async fn finish_sign_in(app: &TestApp, ceremony: &Value, credential: &Value) -> Answer {
    app.request(
        Method::POST,
        "/api/v1/auth/passkey/finish",
        None,
        Some(&json!({
            "ceremonyId": ceremony,
            "credential": credential,
            "deviceName": "tablet",
        })),
    )
    .await
}

async fn sign_in(
    app: &TestApp,
    username: &str,
    authenticator: &mut SoftPasskey,
    seen: &mut Seen,
) -> Answer {
    let (ceremony, options) = start_sign_in(app, username, seen).await;
    let credential = sign(app, authenticator, &options);
    seen.keep(finish_sign_in(app, &ceremony, &credential).await)
}

async fn passkeys(app: &TestApp, session: &Session, seen: &mut Seen) -> Vec<PasskeyInfo> {
    let listed = seen.keep(app.get("/api/v1/me/passkeys", session.token()).await);
    assert_eq!(listed.status, 200, "{}", listed.body);
    for passkey in listed.body.as_array().expect("a list") {
        let mut keys: Vec<_> = passkey.as_object().expect("an object").keys().collect();
        keys.sort();
        assert_eq!(keys, ["createdAt", "id", "lastUsedAt", "name"]);
    }
    listed.json()
}

/// The long strings (public key coordinates) of every stored credential: none may be in an answer.
async fn stored_key_material(app: &TestApp, session: &Session) -> Vec<String> {
    fn leaves(value: &Value, out: &mut Vec<String>) {
        match value {
            Value::String(text) if text.len() >= 32 => out.push(text.clone()),
            Value::Array(items) => items.iter().for_each(|item| leaves(item, out)),
            Value::Object(map) => map.values().for_each(|item| leaves(item, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    for stored in app
        .store
        .passkeys_of(session.user_id())
        .await
        .expect("stored passkeys")
    {
        let credential: Value = serde_json::from_str(&stored.credential).expect("JSON");
        let mut material = Vec::new();
        leaves(&credential, &mut material);
        // The credential id is in sign-in options by design; the key material never is.
        let id = credential["cred"]["cred_id"].as_str().unwrap_or_default();
        out.extend(material.into_iter().filter(|text| text != id));
    }
    assert!(!out.is_empty(), "a stored credential holds a public key");
    out
}

#[tokio::test]
async fn a_passkey_is_registered_listed_signs_in_and_is_removed() {
    let app = TestApp::spawn().await;
    let maria = app.register("maria").await;
    let mut maria_phone = phone();
    let mut seen = Seen::default();

    assert!(passkeys(&app, &maria, &mut seen).await.is_empty());
    let registered = register_passkey(
        &app,
        &maria,
        &mut maria_phone,
        Some("  Maria's phone "),
        &mut seen,
    )
    .await;
    assert_eq!(registered.status, 201, "{}", registered.body);
    let passkey: PasskeyInfo = registered.json();
    assert_eq!(passkey.name, "Maria's phone");
    assert_eq!(passkey.last_used_at, None);
    assert_eq!(
        passkeys(&app, &maria, &mut seen).await,
        vec![passkey.clone()]
    );

    // Signing in with it: the same answer as a password login, a new device session.
    let signed_in = sign_in(&app, "Maria", &mut maria_phone, &mut seen).await;
    assert_eq!(signed_in.status, 200, "{}", signed_in.body);
    let tokens: AuthTokens = signed_in.json();
    assert_eq!(tokens.account.username, "maria");
    let me = app.get("/api/v1/me", &tokens.access_token).await;
    assert_eq!(me.status, 200, "the access token works: {}", me.body);
    let sessions = app.get("/api/v1/me/sessions", &tokens.access_token).await;
    assert!(
        sessions.body.to_string().contains("tablet"),
        "the device name given: {}",
        sessions.body
    );
    let listed = passkeys(&app, &maria, &mut seen).await;
    assert!(listed[0].last_used_at.is_some(), "its last use is shown");
    // The counter moved on: a second sign-in works too.
    let again = sign_in(&app, "maria", &mut maria_phone, &mut seen).await;
    assert_eq!(again.status, 200, "{}", again.body);

    // A sign-in signed before the passkey is removed does not finish after.
    let (ceremony, options) = start_sign_in(&app, "maria", &mut seen).await;
    let signed = sign(&app, &mut maria_phone, &options);
    let key_material = stored_key_material(&app, &maria).await;
    let removed = app
        .delete(
            &format!("/api/v1/me/passkeys/{}", passkey.id),
            maria.token(),
        )
        .await;
    assert_eq!(removed.status, 204, "{}", removed.body);
    assert!(passkeys(&app, &maria, &mut seen).await.is_empty());
    seen.keep(finish_sign_in(&app, &ceremony, &signed).await)
        .assert_error(401, ErrorCode::InvalidCredentials);
    app.delete(
        &format!("/api/v1/me/passkeys/{}", passkey.id),
        maria.token(),
    )
    .await
    .assert_error(404, ErrorCode::PasskeyNotFound);

    for answer in &seen.0 {
        for material in &key_material {
            assert!(
                !answer.contains(material.as_str()),
                "an answer holds the credential: {answer}"
            );
        }
    }
}

#[tokio::test]
async fn a_sign_in_is_refused_for_another_accounts_ceremony_a_replay_or_an_unknown_ceremony() {
    let app = TestApp::spawn().await;
    let maria = app.register("maria").await;
    let jon = app.register("jon").await;
    let mut maria_phone = phone();
    let mut jon_phone = phone();
    let mut seen = Seen::default();
    for (session, authenticator) in [(&maria, &mut maria_phone), (&jon, &mut jon_phone)] {
        let registered = register_passkey(&app, session, authenticator, None, &mut seen).await;
        assert_eq!(registered.status, 201, "{}", registered.body);
        assert_eq!(registered.body["name"], "Passkey", "the default name");
    }
    let sessions_before = app.get("/api/v1/me/sessions", maria.token()).await.body;

    // Maria's signed answer, offered for a sign-in started as Jon.
    let (maria_ceremony, options) = start_sign_in(&app, "maria", &mut seen).await;
    let maria_signed = sign(&app, &mut maria_phone, &options);
    let (jon_ceremony, _) = start_sign_in(&app, "jon", &mut seen).await;
    finish_sign_in(&app, &jon_ceremony, &maria_signed)
        .await
        .assert_error(401, ErrorCode::InvalidCredentials);
    // Jon's ceremony was used up by the refusal.
    let (_, jon_options) = start_sign_in(&app, "jon", &mut seen).await;
    let jon_signed = sign(&app, &mut jon_phone, &jon_options);
    finish_sign_in(&app, &jon_ceremony, &jon_signed)
        .await
        .assert_error(401, ErrorCode::InvalidCredentials);

    // An unknown ceremony.
    finish_sign_in(&app, &json!(uuid::Uuid::new_v4()), &maria_signed)
        .await
        .assert_error(401, ErrorCode::InvalidCredentials);
    // An unreadable credential (the ceremony is used up all the same).
    let (ceremony, _) = start_sign_in(&app, "maria", &mut seen).await;
    finish_sign_in(&app, &ceremony, &json!({"id": "nonsense"}))
        .await
        .assert_error(401, ErrorCode::InvalidCredentials);

    // Nothing changed for Maria: no new session, her passkey never used.
    assert_eq!(
        app.get("/api/v1/me/sessions", maria.token()).await.body,
        sessions_before
    );
    assert_eq!(
        passkeys(&app, &maria, &mut seen).await[0].last_used_at,
        None
    );

    // Her own ceremony still works, once.
    let signed_in = finish_sign_in(&app, &maria_ceremony, &maria_signed).await;
    assert_eq!(signed_in.status, 200, "{}", signed_in.body);
    finish_sign_in(&app, &maria_ceremony, &maria_signed)
        .await
        .assert_error(401, ErrorCode::InvalidCredentials);
    // The same signed answer for a new ceremony (another challenge) is refused.
    let (fresh, _) = start_sign_in(&app, "maria", &mut seen).await;
    finish_sign_in(&app, &fresh, &maria_signed)
        .await
        .assert_error(401, ErrorCode::InvalidCredentials);

    // An expired ceremony: the store refuses it and clears it out.
    let (ceremony, options) = start_sign_in(&app, "maria", &mut seen).await;
    let signed = sign(&app, &mut maria_phone, &options);
    let id: uuid::Uuid = serde_json::from_value(ceremony.clone()).expect("a uuid");
    let later = chrono::Utc::now() + chrono::Duration::minutes(6);
    assert!(
        app.store
            .take_passkey_ceremony(id, later)
            .await
            .expect("the store answers")
            .is_none(),
        "five minutes later the ceremony is refused"
    );
    finish_sign_in(&app, &ceremony, &signed)
        .await
        .assert_error(401, ErrorCode::InvalidCredentials);
}

#[tokio::test]
async fn a_sign_in_start_does_not_tell_whether_the_name_exists_or_has_passkeys() {
    let app = TestApp::spawn().await;
    let maria = app.register("maria").await;
    app.register("jon").await;
    let mut seen = Seen::default();
    let registered = register_passkey(&app, &maria, &mut phone(), None, &mut seen).await;
    assert_eq!(registered.status, 201, "{}", registered.body);

    fn shape(options: &Value) -> Vec<String> {
        let mut keys: Vec<String> = options["publicKey"]
            .as_object()
            .expect("publicKey")
            .keys()
            .cloned()
            .collect();
        keys.sort();
        keys
    }
    let (_, real) = start_sign_in(&app, "maria", &mut seen).await;
    for name in ["nobody", "jon", "no such name!"] {
        let (ceremony, made_up) = start_sign_in(&app, name, &mut seen).await;
        assert_eq!(shape(&made_up), shape(&real), "{name}: {made_up}");
        assert_eq!(made_up["publicKey"]["rpId"], real["publicKey"]["rpId"]);
        let (_, again) = start_sign_in(&app, name, &mut seen).await;
        assert_eq!(
            made_up["publicKey"]["allowCredentials"], again["publicKey"]["allowCredentials"],
            "{name}: the same credential ids every time, as for a real account"
        );
        assert_ne!(
            made_up["publicKey"]["challenge"],
            again["publicKey"]["challenge"]
        );
        finish_sign_in(&app, &ceremony, &json!({"id": "x"}))
            .await
            .assert_error(401, ErrorCode::InvalidCredentials);
    }
}

#[tokio::test]
async fn registration_is_refused_for_an_unknown_or_another_accounts_ceremony() {
    let app = TestApp::spawn().await;
    let maria = app.register("maria").await;
    let jon = app.register("jon").await;
    let mut maria_phone = phone();

    // Jon's registration, finished by Maria.
    let started = app
        .post("/api/v1/me/passkeys/registration", jon.token(), json!({}))
        .await;
    let options = serde_json::from_value(started.body["options"].clone()).expect("options");
    let credential = maria_phone
        .do_registration(origin(&app), options)
        .expect("the authenticator registers");
    let body = json!({"ceremonyId": started.body["ceremonyId"], "credential": credential});
    app.post("/api/v1/me/passkeys", maria.token(), body.clone())
        .await
        .assert_error(400, ErrorCode::PasskeyRegistrationFailed);
    // Used up by the refusal: Jon cannot finish it either.
    app.post("/api/v1/me/passkeys", jon.token(), body)
        .await
        .assert_error(400, ErrorCode::PasskeyRegistrationFailed);
    // An unknown ceremony, an unreadable credential, a bad name.
    app.post(
        "/api/v1/me/passkeys",
        maria.token(),
        json!({"ceremonyId": uuid::Uuid::new_v4(), "credential": credential}),
    )
    .await
    .assert_error(400, ErrorCode::PasskeyRegistrationFailed);
    let started = app
        .post("/api/v1/me/passkeys/registration", maria.token(), json!({}))
        .await;
    app.post(
        "/api/v1/me/passkeys",
        maria.token(),
        json!({"ceremonyId": started.body["ceremonyId"], "credential": {"id": 1}}),
    )
    .await
    .assert_error(400, ErrorCode::PasskeyRegistrationFailed);
    app.post(
        "/api/v1/me/passkeys",
        maria.token(),
        json!({"ceremonyId": uuid::Uuid::new_v4(), "name": " ", "credential": {}}),
    )
    .await
    .assert_error(422, ErrorCode::ValidationFailed);
    // A registration started again replaces the one before.
    let first = app
        .post("/api/v1/me/passkeys/registration", maria.token(), json!({}))
        .await;
    let options = serde_json::from_value(first.body["options"].clone()).expect("options");
    let credential = maria_phone
        .do_registration(origin(&app), options)
        .expect("the authenticator registers");
    app.post("/api/v1/me/passkeys/registration", maria.token(), json!({}))
        .await;
    app.post(
        "/api/v1/me/passkeys",
        maria.token(),
        json!({"ceremonyId": first.body["ceremonyId"], "credential": credential}),
    )
    .await
    .assert_error(400, ErrorCode::PasskeyRegistrationFailed);
    // Without a token.
    app.request(Method::POST, "/api/v1/me/passkeys/registration", None, None)
        .await
        .assert_error(401, ErrorCode::Unauthenticated);

    for session in [&maria, &jon] {
        let listed = app.get("/api/v1/me/passkeys", session.token()).await;
        assert_eq!(listed.body, json!([]), "nothing was stored");
    }
}

#[tokio::test]
async fn someone_elses_passkey_cannot_be_removed() {
    let app = TestApp::spawn().await;
    let maria = app.register("maria").await;
    let jon = app.register("jon").await;
    let mut seen = Seen::default();
    let registered = register_passkey(&app, &jon, &mut phone(), None, &mut seen).await;
    let id = registered.body["id"].as_str().expect("an id").to_owned();
    app.delete(&format!("/api/v1/me/passkeys/{id}"), maria.token())
        .await
        .assert_error(404, ErrorCode::PasskeyNotFound);
    app.delete("/api/v1/me/passkeys/not-an-id", maria.token())
        .await
        .assert_error(404, ErrorCode::PasskeyNotFound);
    assert_eq!(
        passkeys(&app, &jon, &mut seen).await.len(),
        1,
        "still there"
    );
}

#[tokio::test]
async fn a_disabled_account_cannot_sign_in_with_its_passkey() {
    let app = TestApp::spawn().await;
    let admin = app.admin("agency").await;
    let maria = app.register("maria").await;
    let mut maria_phone = phone();
    let mut seen = Seen::default();
    register_passkey(&app, &maria, &mut maria_phone, None, &mut seen).await;
    let disabled = app
        .post(
            &format!("/api/v1/admin/accounts/{}/disable", maria.user_id()),
            admin.token(),
            json!({}),
        )
        .await;
    assert_eq!(disabled.status, 200, "{}", disabled.body);
    sign_in(&app, "maria", &mut maria_phone, &mut seen)
        .await
        .assert_error(403, ErrorCode::AccountDisabled);
}

#[tokio::test]
async fn passkey_sign_in_attempts_are_rate_limited_like_logins() {
    let app = TestApp::spawn_with(|settings| {
        settings.login_attempts_per_address_per_minute = 3;
    })
    .await;
    let maria = app.register("maria").await;
    let mut maria_phone = phone();
    let mut seen = Seen::default();
    register_passkey(&app, &maria, &mut maria_phone, None, &mut seen).await;
    let mut limited = None;
    for _ in 0..5 {
        let (ceremony, _) = start_sign_in(&app, "maria", &mut seen).await;
        let answer = finish_sign_in(&app, &ceremony, &json!({"id": "x"})).await;
        if answer.status == 429 {
            limited = Some(answer);
            break;
        }
        answer.assert_error(401, ErrorCode::InvalidCredentials);
    }
    let limited = limited.expect("wrong answers are limited per address");
    limited.assert_error(429, ErrorCode::RateLimited);
    assert!(limited.headers.contains_key("retry-after"));
}

#[tokio::test]
async fn a_ceremony_started_on_one_instance_finishes_on_another() {
    let first = TestApp::spawn().await;
    let public_url = format!("http://localhost:{}", first.port);
    let second = TestApp::spawn_beside_with(&first, |settings| {
        settings.public_url = Some(public_url);
    })
    .await;
    let maria = first.register("maria").await;
    let mut maria_phone = phone();

    let started = first
        .post("/api/v1/me/passkeys/registration", maria.token(), json!({}))
        .await;
    let options = serde_json::from_value(started.body["options"].clone()).expect("options");
    let credential = maria_phone
        .do_registration(origin(&first), options)
        .expect("the authenticator registers");
    let registered = second
        .post(
            "/api/v1/me/passkeys",
            maria.token(),
            json!({"ceremonyId": started.body["ceremonyId"], "credential": credential}),
        )
        .await;
    assert_eq!(registered.status, 201, "{}", registered.body);

    let mut seen = Seen::default();
    let (ceremony, options) = start_sign_in(&second, "maria", &mut seen).await;
    let signed = sign(&first, &mut maria_phone, &options);
    let signed_in = finish_sign_in(&first, &ceremony, &signed).await;
    assert_eq!(signed_in.status, 200, "{}", signed_in.body);
    // Used once, on whichever instance.
    finish_sign_in(&second, &ceremony, &signed)
        .await
        .assert_error(401, ErrorCode::InvalidCredentials);
}

#[test]
fn public_url_is_checked_at_start_up() {
    use cairn_server::Settings;
    for bad in [
        "not a url",
        "ftp://plans.example.org",
        "http://plans.example.org",
        "https://192.0.2.7",
        "https://plans.example.org/cairn",
        "https://user:pw@plans.example.org",
    ] {
        let settings = Settings {
            public_url: Some(bad.into()),
            ..Settings::default()
        };
        let err = settings.validate().expect_err(bad).to_string();
        assert!(err.contains("public_url"), "{bad}: {err}");
    }
    for good in [
        "https://plans.example.org",
        "https://plans.example.org:8443/",
        "http://localhost:8080",
    ] {
        let settings = Settings {
            public_url: Some(good.into()),
            ..Settings::default()
        };
        assert!(settings.validate().is_ok(), "{good}");
    }
}

#[tokio::test]
async fn an_admin_signed_in_with_a_passkey_may_use_the_admin_routes() {
    let app = TestApp::spawn().await;
    let admin = app.admin("agency").await;
    let mut staff_key = phone();
    let mut seen = Seen::default();
    let registered = register_passkey(&app, &admin, &mut staff_key, None, &mut seen).await;
    assert_eq!(registered.status, 201, "{}", registered.body);

    // The password alone is not enough for admin routes (the admin has a second factor)...
    let password = app.login_answer("agency", cairn_tests::PASSWORD).await;
    assert!(password.body["accessToken"].is_null(), "{}", password.body);
    // ...a passkey is: the device and its lock are two factors.
    let signed_in = sign_in(&app, "agency", &mut staff_key, &mut seen).await;
    assert_eq!(signed_in.status, 200, "{}", signed_in.body);
    let token = signed_in.body["accessToken"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let counts = app.get("/api/v1/admin/counts", &token).await;
    assert_eq!(counts.status, 200, "{}", counts.body);

    let activity = app.get("/api/v1/me/activity", &token).await;
    let kinds: Vec<&str> = activity
        .body
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|entry| entry["kind"].as_str())
        .collect();
    assert_eq!(kinds[..2], ["signed-in", "passkey-added"]);
    assert_eq!(activity.body[1]["detail"], "Passkey");
}
