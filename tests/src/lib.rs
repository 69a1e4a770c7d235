//! Test helpers: start the real Cairn on port 0 with its own database (a fresh SQLite file, or
//! a fresh Postgres database when `TEST_DATABASE_URL` is set) and talk to it over HTTP.
// Test support: a broken set-up or a server misbehaving fails the test by panicking.
#![allow(clippy::unwrap_used, clippy::expect_used)]

pub mod oidc;
pub mod sync_client;

use std::time::Duration;

use cairn_server::Settings;
use cairn_server::startup::Application;
use cairn_server::store::Store;
use cairn_shared::api::{AccountKind, AuthTokens, RegistrationMode};
use cairn_shared::{ErrorBody, ErrorCode};
use reqwest::{Method, StatusCode};
use sea_orm::{ConnectionTrait, Database};
use secrecy::SecretString;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use tempfile::TempDir;

/// The JWT signing secret every test server uses, so tests can forge tokens with and without it.
pub const TEST_JWT_SECRET: &str = "test-secret-that-is-long-enough-for-hs256-0123456789";

/// The password test accounts get unless a test says otherwise.
pub const PASSWORD: &str = "a long enough password";

/// A fresh database URL for one test: a new Postgres database on the server named by
/// `TEST_DATABASE_URL`, or an SQLite file in `dir`.
pub async fn fresh_database_url(dir: &std::path::Path) -> anyhow::Result<String> {
    match std::env::var("TEST_DATABASE_URL") {
        Ok(server_url) if !server_url.is_empty() => {
            let name = format!("cairn_test_{}", uuid::Uuid::new_v4().simple());
            let admin = Database::connect(server_url.as_str()).await?;
            admin
                .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
                .await?;
            admin.close().await?;
            let (base, _) = server_url
                .split_once('?')
                .map_or((server_url.as_str(), ""), |(b, q)| (b, q));
            let (server, _) = base
                .rsplit_once('/')
                .ok_or_else(|| anyhow::anyhow!("TEST_DATABASE_URL has no database name"))?;
            Ok(format!("{server}/{name}"))
        }
        _ => Ok(format!(
            "sqlite://{}?mode=rwc",
            dir.join("cairn.db").display()
        )),
    }
}

/// Whether the tests run on Postgres.
pub fn on_postgres() -> bool {
    std::env::var("TEST_DATABASE_URL").is_ok_and(|url| !url.is_empty())
}

/// A running Cairn and an HTTP client for it.
pub struct TestApp {
    /// `http://127.0.0.1:<port>`.
    pub address: String,
    /// The port it listens on.
    pub port: u16,
    /// The database URL the server uses.
    pub database_url: String,
    /// The running server's store, for setting up what only the command line can (the first
    /// admin) and for looking at what is stored.
    pub store: Store,
    /// The running server's sync hub, to observe what is in memory.
    pub hub: cairn_server::sync::SyncHub,
    client: reqwest::Client,
    _data_dir: TempDir,
}

/// A logged-in account.
#[derive(Debug, Clone)]
pub struct Session {
    /// Login name.
    pub username: String,
    /// The tokens from the last login or refresh.
    pub tokens: AuthTokens,
}

impl Session {
    /// The current access token.
    pub fn token(&self) -> &str {
        &self.tokens.access_token
    }
    /// The account id.
    pub fn user_id(&self) -> cairn_shared::UserId {
        self.tokens.account.id
    }
    /// The claims of the access token, as the server issued them.
    pub fn claims(&self) -> Value {
        use base64::Engine;
        let payload = self.token().split('.').nth(1).unwrap_or_default();
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap_or_default();
        serde_json::from_slice(&bytes).unwrap_or(Value::Null)
    }
}

/// A response read whole: status, headers and JSON body.
#[derive(Debug)]
pub struct Answer {
    /// HTTP status.
    pub status: StatusCode,
    /// Headers.
    pub headers: reqwest::header::HeaderMap,
    /// The body as JSON (`Null` when empty or not JSON).
    pub body: Value,
}

impl Answer {
    /// The body as a typed value; panics with the body when it does not fit (test code only).
    pub fn json<T: DeserializeOwned>(&self) -> T {
        match serde_json::from_value(self.body.clone()) {
            Ok(value) => value,
            Err(err) => panic!("unexpected body ({err}): {}", self.body),
        }
    }

    /// The stable error code of an error answer.
    pub fn error_code(&self) -> Option<ErrorCode> {
        serde_json::from_value::<ErrorBody>(self.body.clone())
            .ok()
            .map(|b| b.error.code)
    }

    /// Assert the status and error code of an error answer, with the body in the failure message.
    #[track_caller]
    pub fn assert_error(&self, status: u16, code: ErrorCode) {
        assert_eq!(self.status.as_u16(), status, "body: {}", self.body);
        assert_eq!(self.error_code(), Some(code), "body: {}", self.body);
    }
}

impl TestApp {
    /// Start Cairn with test defaults (open registration).
    pub async fn spawn() -> Self {
        Self::spawn_with(|_| {}).await
    }

    /// Start Cairn with test defaults changed by `configure`.
    pub async fn spawn_with(configure: impl FnOnce(&mut Settings)) -> Self {
        match Self::try_spawn(configure).await {
            Ok(app) => app,
            Err(err) => panic!("could not start Cairn: {err:#}"),
        }
    }

    /// Start another Cairn instance on `other`'s database, with its master key (several
    /// instances behind one load balancer, as in the Compose `scale-out` profile).
    pub async fn spawn_beside(other: &TestApp) -> Self {
        Self::spawn_beside_with(other, |_| {}).await
    }

    /// [`TestApp::spawn_beside`] with test defaults changed by `configure`.
    pub async fn spawn_beside_with(other: &TestApp, configure: impl FnOnce(&mut Settings)) -> Self {
        let key_file = std::fs::read_to_string(other.data_dir().join("master-key"))
            .expect("the first instance generated a master key");
        let master_key = key_file
            .lines()
            .map(str::trim)
            .find(|line| !line.is_empty() && !line.starts_with('#'))
            .expect("a key in the key file")
            .to_owned();
        let database_url = other.database_url.clone();
        let app = Self::try_spawn_on(Some(database_url), move |settings| {
            settings.master_key = Some(SecretString::from(master_key));
            configure(settings);
        })
        .await;
        match app {
            Ok(app) => app,
            Err(err) => panic!("could not start another Cairn: {err:#}"),
        }
    }

    async fn try_spawn(configure: impl FnOnce(&mut Settings)) -> anyhow::Result<Self> {
        Self::try_spawn_on(None, configure).await
    }

    async fn try_spawn_on(
        database_url: Option<String>,
        configure: impl FnOnce(&mut Settings),
    ) -> anyhow::Result<Self> {
        let data_dir = tempfile::tempdir()?;
        let database_url = match database_url {
            Some(url) => url,
            None => fresh_database_url(data_dir.path()).await?,
        };
        let mut settings = Settings {
            listen: "127.0.0.1:0".parse()?,
            data_dir: data_dir.path().to_owned(),
            database_url: Some(SecretString::from(database_url.clone())),
            database_max_connections: 5,
            jwt_secret: Some(SecretString::from(TEST_JWT_SECRET)),
            registration: RegistrationMode::Open,
            // Tests sign in, sign up and join from one address far more than people do; attack
            // tests set the limits they attack.
            login_attempts_per_account_and_address_per_hour: 1_000,
            login_attempts_per_account_per_hour: 1_000,
            login_attempts_per_address_per_minute: 500,
            registrations_per_address_per_hour: 10_000,
            code_attempts_per_account: 1_000,
            code_attempts_per_address: 10_000,
            // Two workers, whatever the machine: a plan's members then often sit on different
            // threads, the harder case for delivery between them.
            http_workers: 2,
            ..Settings::default()
        };
        configure(&mut settings);
        let app = Application::build(settings).await?;
        let port = app.port();
        let address = format!("http://127.0.0.1:{port}");
        let hub = app.hub();
        let store = app.store();
        tokio::spawn(app.run_until_stopped());
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()?;
        Ok(Self {
            address,
            port,
            database_url,
            store,
            hub,
            client,
            _data_dir: data_dir,
        })
    }

    /// The server's data folder (the SQLite database and the generated keys live here).
    pub fn data_dir(&self) -> &std::path::Path {
        self._data_dir.path()
    }

    /// Send a request with an optional bearer token and optional JSON body.
    pub async fn request(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> Answer {
        let mut request = self
            .client
            .request(method, format!("{}{}", self.address, path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = match request.send().await {
            Ok(response) => response,
            Err(err) => panic!("request to {path} failed: {err}"),
        };
        Self::read(response).await
    }

    /// Send a raw body with a content type (for malformed-input tests).
    pub async fn send_raw(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        content_type: &str,
        body: impl Into<reqwest::Body>,
    ) -> Answer {
        let mut request = self
            .client
            .request(method, format!("{}{}", self.address, path))
            .header("content-type", content_type)
            .body(body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        match request.send().await {
            Ok(response) => Self::read(response).await,
            Err(err) => panic!("request to {path} failed: {err}"),
        }
    }

    async fn read(response: reqwest::Response) -> Answer {
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.bytes().await.unwrap_or_default();
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Answer {
            status,
            headers,
            body,
        }
    }

    /// HTTP sync read: every change of the plan (concatenated Automerge change bytes).
    pub async fn plan_changes(&self, token: &str, plan: &str) -> Vec<u8> {
        let response = self
            .client
            .get(format!("{}/api/v1/plans/{plan}/changes", self.address))
            .bearer_auth(token)
            .send()
            .await
            .expect("GET changes");
        assert_eq!(response.status(), StatusCode::OK, "GET changes");
        response.bytes().await.expect("changes").to_vec()
    }

    /// HTTP sync write: upload Automerge change bytes to the plan.
    pub async fn upload_changes(&self, token: &str, plan: &str, changes: Vec<u8>) -> Answer {
        self.send_raw(
            Method::POST,
            &format!("/api/v1/plans/{plan}/changes"),
            Some(token),
            "application/octet-stream",
            changes,
        )
        .await
    }

    /// The sync WebSocket URL with a token in the query, as browsers must send it.
    pub fn ws_url(&self, token: &str) -> String {
        format!(
            "{}/sync?token={token}",
            self.address.replacen("http://", "ws://", 1)
        )
    }

    /// The value of a metric in `GET /metrics`, if it is there.
    pub async fn metric(&self, name: &str) -> Option<f64> {
        let body = self
            .client
            .get(format!("{}/metrics", self.address))
            .send()
            .await
            .ok()?
            .text()
            .await
            .ok()?;
        body.lines()
            .filter(|line| !line.starts_with('#'))
            .find_map(|line| {
                let (metric, value) = line.split_once(' ')?;
                (metric == name).then(|| value.trim().parse().ok())?
            })
    }

    /// A connected, joined sync client for `session`.
    pub async fn sync_client(&self, session: &Session) -> sync_client::SyncClient {
        let peer = format!("{}-{}", session.username, uuid::Uuid::new_v4().simple());
        sync_client::SyncClient::connect(&self.ws_url(session.token()), &peer).await
    }

    /// `GET` with a token.
    pub async fn get(&self, path: &str, token: &str) -> Answer {
        self.request(Method::GET, path, Some(token), None).await
    }

    /// `POST` JSON with a token.
    pub async fn post(&self, path: &str, token: &str, body: Value) -> Answer {
        self.request(Method::POST, path, Some(token), Some(&body))
            .await
    }

    /// `DELETE` with a token.
    pub async fn delete(&self, path: &str, token: &str) -> Answer {
        self.request(Method::DELETE, path, Some(token), None).await
    }

    /// Register a member (open registration) and return its session.
    pub async fn register(&self, username: &str) -> Session {
        let answer = self
            .request(
                Method::POST,
                "/api/v1/auth/register",
                None,
                Some(&json!({
                    "username": username,
                    "displayName": display_name(username),
                    "password": PASSWORD,
                    "deviceName": "test phone",
                })),
            )
            .await;
        assert_eq!(
            answer.status,
            StatusCode::CREATED,
            "register: {}",
            answer.body
        );
        Session {
            username: username.to_owned(),
            tokens: answer.json(),
        }
    }

    /// Log in and return the raw answer.
    pub async fn login_answer(&self, username: &str, password: &str) -> Answer {
        self.request(
            Method::POST,
            "/api/v1/auth/login",
            None,
            Some(&json!({ "username": username, "password": password, "deviceName": "laptop" })),
        )
        .await
    }

    /// Log in (must succeed) and return the session.
    pub async fn login(&self, username: &str) -> Session {
        let answer = self.login_answer(username, PASSWORD).await;
        assert_eq!(answer.status, StatusCode::OK, "login: {}", answer.body);
        Session {
            username: username.to_owned(),
            tokens: answer.json(),
        }
    }

    /// Create an admin account the way `cairn admin create` does, and log it in.
    pub async fn admin(&self, username: &str) -> Session {
        let created = cairn_server::services::accounts::create_account(
            &self.store,
            username,
            &display_name(username),
            SecretString::from(PASSWORD),
            AccountKind::Admin,
        )
        .await;
        assert!(created.is_ok(), "admin create: {created:?}");
        let session = self.login(username).await;
        // Admin routes need a second factor passed in the session: add one, as an admin would.
        self.enrol_totp(&session).await;
        session
    }

    /// Add a TOTP second factor to `session`'s account and confirm it from that session (which
    /// then counts as having passed it); returns the base32 seed.
    pub async fn enrol_totp(&self, session: &Session) -> String {
        self.enrol_totp_with(session.token()).await
    }

    /// [`Self::enrol_totp`] for the session of an access token.
    pub async fn enrol_totp_with(&self, token: &str) -> String {
        let answer = self
            .post("/api/v1/me/second-factor/totp", token, json!({}))
            .await;
        assert_eq!(answer.status, StatusCode::CREATED, "enrol: {}", answer.body);
        let secret = answer.body["secret"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let answer = self
            .post(
                "/api/v1/me/second-factor/totp/confirm",
                token,
                json!({ "code": totp_code(&secret, 0) }),
            )
            .await;
        assert_eq!(
            answer.status,
            StatusCode::NO_CONTENT,
            "confirm: {}",
            answer.body
        );
        secret
    }

    /// Create a plan as `owner` and return its id.
    pub async fn create_plan(&self, owner: &Session, title: &str) -> String {
        self.plan_with_document(owner, title).await.0
    }

    /// Create a plan as `owner` over REST: its id and its Automerge document id.
    pub async fn plan_with_document(&self, owner: &Session, title: &str) -> (String, String) {
        let answer = self
            .post("/api/v1/plans", owner.token(), json!({ "title": title }))
            .await;
        assert_eq!(
            answer.status,
            StatusCode::CREATED,
            "create plan: {}",
            answer.body
        );
        let field = |name: &str| answer.body[name].as_str().unwrap_or_default().to_owned();
        (field("id"), field("documentId"))
    }

    /// Invite and accept: `supporter` joins `owner`'s plan.
    pub async fn add_supporter(&self, owner: &Session, plan: &str, supporter: &Session) {
        let invitation = self
            .post(
                &format!("/api/v1/plans/{plan}/invitations"),
                owner.token(),
                json!({}),
            )
            .await;
        assert_eq!(
            invitation.status,
            StatusCode::CREATED,
            "invite: {}",
            invitation.body
        );
        let code = invitation.body["code"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let accepted = self
            .post(
                &format!("/api/v1/invitations/{code}/accept"),
                supporter.token(),
                json!({}),
            )
            .await;
        assert_eq!(accepted.status, StatusCode::OK, "accept: {}", accepted.body);
    }
}

/// The TOTP code for a base32 seed `steps` time steps (30 s) from now, as an app shows it.
pub fn totp_code(secret: &str, steps: i64) -> String {
    let now = chrono::Utc::now().timestamp() + steps * 30;
    cairn_server::auth::totp::code_for_base32(secret, u64::try_from(now).unwrap_or_default())
        .unwrap_or_default()
}

/// "maria" → "Maria": a display name for a test account.
pub fn display_name(username: &str) -> String {
    let mut chars = username.chars();
    chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}
