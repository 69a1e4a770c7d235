//! The attack suite, on accounts (issue 26): guessing recovery and reset codes, reusing a reset
//! code, getting past a second factor, and a passkey's answer for another account or played
//! twice. Each runs against the suite's [`Target`] (a real plan written by an owner and a
//! supporter), asserts the attacker's answer, then that the stored plan is exactly as before and
//! its members are still served. The README's "Security" table lists each with its answer.

use cairn_shared::ErrorCode;
use cairn_tests::{Answer, PASSWORD, Session, totp_code};
use reqwest::Method;
use serde_json::json;

use crate::attacks::Target;
use crate::passkeys::{Seen, phone, register_passkey, sign, start_sign_in};

const CHOSEN: &str = "the attacker's own password";

async fn redeem(target: &Target, route: &str, username: &str, code: &str) -> Answer {
    target
        .app
        .request(
            Method::POST,
            route,
            None,
            Some(&json!({ "username": username, "code": code, "newPassword": CHOSEN })),
        )
        .await
}

#[tokio::test]
async fn attack_guessing_the_owners_recovery_and_reset_codes_is_cut_off_even_for_the_right_code() {
    let target = Target::with(|settings| settings.code_attempts_per_account = 3).await;
    let codes = target
        .maria
        .tokens
        .recovery_codes
        .clone()
        .expect("codes at registration");
    for guess in ["ABCD-EFGH", "K7QM-3XPA", "2222-2222"] {
        redeem(&target, "/api/v1/auth/recover", "maria", guess)
            .await
            .assert_error(401, ErrorCode::RecoveryCodeInvalid);
    }
    let limited = redeem(&target, "/api/v1/auth/recover", "maria", "ZZZZ-ZZZZ").await;
    limited.assert_error(429, ErrorCode::RateLimited);
    assert!(limited.headers.contains_key("retry-after"));
    // Reset codes share the allowance; the right recovery code waits too.
    redeem(&target, "/api/v1/auth/reset", "maria", "ABCD-EFGH")
        .await
        .assert_error(429, ErrorCode::RateLimited);
    redeem(&target, "/api/v1/auth/recover", "maria", &codes[0])
        .await
        .assert_error(429, ErrorCode::RateLimited);

    // Maria's password and every one of her codes are as they were.
    target.app.login("maria").await;
    let status = target
        .app
        .get("/api/v1/me/recovery-codes", target.maria.token())
        .await;
    assert_eq!(status.body["remaining"], 10, "{}", status.body);
    target.assert_unchanged().await;
}

#[tokio::test]
async fn attack_a_used_or_another_accounts_reset_code_is_refused() {
    let mut target = Target::new().await;
    let issue = |whom: cairn_shared::UserId| {
        let target = &target;
        async move {
            let issued = target
                .app
                .post(
                    &format!("/api/v1/admin/accounts/{whom}/reset-code"),
                    target.admin.token(),
                    json!({}),
                )
                .await;
            assert_eq!(issued.status, 201, "{}", issued.body);
            issued.body["code"].as_str().unwrap_or_default().to_owned()
        }
    };
    let for_maria = issue(target.maria.user_id()).await;
    let for_eve = issue(target.eve.user_id()).await;

    // Eve's own code does not open Maria's account.
    redeem(&target, "/api/v1/auth/reset", "maria", &for_eve)
        .await
        .assert_error(401, ErrorCode::ResetCodeInvalid);
    // Maria uses hers (she chose the new password: here, CHOSEN); then it is spent.
    let reset = redeem(&target, "/api/v1/auth/reset", "maria", &for_maria).await;
    assert_eq!(reset.status, 200, "{}", reset.body);
    target.maria = Session {
        username: "maria".into(),
        tokens: reset.json(),
    };
    redeem(&target, "/api/v1/auth/reset", "maria", &for_maria)
        .await
        .assert_error(401, ErrorCode::ResetCodeInvalid);
    // The spent code did not change the password again: Maria's new one works.
    let login = target.app.login_answer("maria", CHOSEN).await;
    assert_eq!(login.status, 200, "{}", login.body);
    target.assert_unchanged().await;
}

#[tokio::test]
async fn attack_the_second_factor_cannot_be_skipped() {
    let target = Target::with(|settings| settings.code_attempts_per_account = 3).await;
    let secret = target.app.enrol_totp(&target.maria).await;

    // The password alone answers a challenge, never tokens.
    let login = target.app.login_answer("maria", PASSWORD).await;
    assert_eq!(login.status, 200, "{}", login.body);
    assert!(login.body.get("accessToken").is_none(), "{}", login.body);
    let challenge = login.body["secondFactor"]["challenge"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let answer = |challenge: String, code: String| {
        let target = &target;
        async move {
            target
                .app
                .request(
                    Method::POST,
                    "/api/v1/auth/second-factor",
                    None,
                    Some(&json!({ "challenge": challenge, "code": code })),
                )
                .await
        }
    };
    // A made-up challenge, then wrong codes until the limit, the right code included.
    answer("not-a-challenge".into(), totp_code(&secret, 1))
        .await
        .assert_error(401, ErrorCode::SecondFactorChallengeInvalid);
    let mut refusals = Vec::new();
    for guess in ["000000", "123456", "999999", "111111"] {
        refusals.push(
            answer(challenge.clone(), guess.into())
                .await
                .status
                .as_u16(),
        );
    }
    assert_eq!(refusals.last(), Some(&429), "{refusals:?}");
    assert!(refusals.iter().all(|status| [403, 429].contains(status)));
    answer(challenge, totp_code(&secret, 1))
        .await
        .assert_error(429, ErrorCode::RateLimited);

    // An admin whose session has not passed a second factor gets no admin route.
    cairn_server::services::accounts::create_account(
        &target.app.store,
        "newstaff",
        "New Staff",
        secrecy::SecretString::from(PASSWORD),
        cairn_shared::api::AccountKind::Admin,
    )
    .await
    .expect("an admin");
    let staff = target.app.login("newstaff").await;
    for route in ["/api/v1/admin/accounts", "/api/v1/admin/audit"] {
        target
            .app
            .get(route, staff.token())
            .await
            .assert_error(403, ErrorCode::SecondFactorRequired);
    }
    target.assert_unchanged().await;
}

#[tokio::test]
async fn attack_a_passkey_answer_for_another_account_or_played_twice_is_refused() {
    let target = Target::new().await;
    let app = &target.app;
    let mut seen = Seen::default();
    let mut maria_phone = phone();
    let mut eve_phone = phone();
    for (session, authenticator) in [
        (&target.maria, &mut maria_phone),
        (&target.eve, &mut eve_phone),
    ] {
        let added = register_passkey(app, session, authenticator, None, &mut seen).await;
        assert_eq!(added.status, 201, "{}", added.body);
    }
    let finish = |ceremony: serde_json::Value, credential: serde_json::Value| async move {
        app.request(
            Method::POST,
            "/api/v1/auth/passkey/finish",
            None,
            Some(&json!({ "ceremonyId": ceremony, "credential": credential })),
        )
        .await
    };

    // Eve's passkey answers a sign-in she started as Maria: its challenge, her credential.
    let (as_maria, _) = start_sign_in(app, "maria", &mut seen).await;
    let (as_eve, options) = start_sign_in(app, "eve", &mut seen).await;
    let eves_answer = sign(app, &mut eve_phone, &options);
    finish(as_maria, eves_answer.clone())
        .await
        .assert_error(401, ErrorCode::InvalidCredentials);
    // Eve's own sign-in works once; the same answer again is refused.
    assert_eq!(
        finish(as_eve.clone(), eves_answer.clone()).await.status,
        200
    );
    finish(as_eve, eves_answer.clone())
        .await
        .assert_error(401, ErrorCode::InvalidCredentials);
    // Eve's answer to her own confirmation does not delete Maria's account.
    let started = app
        .post(
            "/api/v1/me/passkeys/confirmation",
            target.eve.token(),
            json!({}),
        )
        .await;
    let confirmation = sign(app, &mut eve_phone, &started.body["options"]);
    app.request(
        Method::DELETE,
        "/api/v1/me",
        Some(target.maria.token()),
        Some(&json!({ "passkey": {
            "ceremonyId": started.body["ceremonyId"],
            "credential": confirmation,
        } })),
    )
    .await
    .assert_error(401, ErrorCode::InvalidCredentials);
    target.assert_unchanged().await;
}
