//! Staff sign-in in the tests: a real OpenID provider (panva's certified `oidc-provider`,
//! tests/oidc/provider.mjs, on loopback; `npm ci` in tests/oidc first, as scripts/test does),
//! Cairn configured for it, and a browser's redirects followed by hand with its cookies.

use std::collections::HashMap;
use std::process::Stdio;

use cairn_shared::api::RegistrationMode;
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::TestApp;

static PROVIDER_INSTALL: std::sync::Mutex<bool> = std::sync::Mutex::new(false);

/// `tests/oidc`, with its pinned provider installed (`npm ci` from the lockfile, once; scripts/test
/// installs it before the tests run).
fn provider_dir() -> std::path::PathBuf {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("oidc");
    let mut installed = PROVIDER_INSTALL
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if !*installed && !dir.join("node_modules/oidc-provider").is_dir() {
        let status = std::process::Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
            .current_dir(&dir)
            .status()
            .unwrap_or_else(|err| panic!("the OpenID provider needs Node.js 20+ with npm ({err})"));
        assert!(status.success(), "npm ci in tests/oidc failed");
    }
    *installed = true;
    dir
}

/// The provider, stopped when dropped.
pub struct Provider {
    /// `http://127.0.0.1:<port>`.
    pub issuer: String,
    http: reqwest::Client,
    _child: Child,
    // Kept open: the provider's later writes to a closed pipe would stop it.
    _stdout: BufReader<tokio::process::ChildStdout>,
}

impl Provider {
    /// Start the provider for a client whose callback is `redirect_uri`.
    pub async fn start(redirect_uri: &str) -> Provider {
        let dir = provider_dir();
        let mut child = Command::new("node")
            .arg("provider.mjs")
            .arg(redirect_uri)
            .current_dir(&dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("node runs the provider");
        let stdout = child.stdout.take().expect("the provider's stdout");
        let mut stdout = BufReader::new(stdout);
        let mut line = String::new();
        stdout
            .read_line(&mut line)
            .await
            .expect("the provider says where it listens");
        let started: Value = serde_json::from_str(&line).expect("a JSON line");
        Provider {
            issuer: started["issuer"].as_str().expect("issuer").to_owned(),
            http: reqwest::Client::new(),
            _child: child,
            _stdout: stdout,
        }
    }

    /// One of the provider's test controls (`next-login`, `disable`, `tamper`).
    pub async fn control(&self, what: &str, body: Value) {
        let answer = self
            .http
            .post(format!("{}/test/{what}", self.issuer))
            .json(&body)
            .send()
            .await
            .expect("the provider answers");
        assert_eq!(answer.status(), 204);
    }

    /// Who the next sign-in at the provider is, and the methods they used (`amr`).
    pub async fn next_login(&self, account: &str, amr: &[&str]) {
        self.control("next-login", json!({ "account": account, "amr": amr }))
            .await;
    }
}

/// Cairn with staff sign-in through `provider` (admins: group `cairn-admins`; tenant
/// `agency-tenant` only; registration closed: staff come through the provider), and the
/// provider (started first, told Cairn's callback).
pub async fn cairn_and_provider() -> (TestApp, Provider) {
    cairn_and_provider_with(|settings| settings.registration = RegistrationMode::Closed).await
}

/// [`cairn_and_provider`] with other settings changed by `configure`.
pub async fn cairn_and_provider_with(
    configure: impl FnOnce(&mut cairn_server::Settings),
) -> (TestApp, Provider) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let provider = Provider::start(&format!(
        "http://localhost:{port}/api/v1/auth/oidc/callback"
    ))
    .await;
    let issuer = provider.issuer.clone();
    let app = crate::TestApp::spawn_with(|settings| {
        settings.listen = ([127, 0, 0, 1], port).into();
        settings.oidc_issuer = Some(issuer);
        settings.oidc_client_id = Some("cairn".into());
        settings.oidc_client_secret = Some("cairn-test-secret".to_owned().into());
        settings.oidc_display_name = "Riverside Recovery".into();
        settings.oidc_admin_values = vec!["cairn-admins".into()];
        settings.oidc_allowed_tenants = vec!["agency-tenant".into()];
        // oidc-provider, as the spec says, keeps `offline_access` only with a consent prompt.
        settings.oidc_prompt = Some("consent".into());
        configure(settings);
    })
    .await;
    (app, provider)
}

/// Where a browser's sign-in ended: the PWA address Cairn sent it to, and the callback URL it
/// came through (to replay).
pub struct Landing {
    /// The fragment of the PWA address (`oidc=<code>` or `oidc-error=<code>`).
    pub fragment: String,
    /// The callback URL the browser came through.
    pub callback: String,
}

/// A browser: follows redirects from `/auth/oidc/start` to the PWA, keeping each server's
/// cookies ("localhost" is Cairn on 127.0.0.1).
pub async fn browser_sign_in(app: &TestApp) -> Landing {
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("a client");
    let mut jar: HashMap<String, HashMap<String, String>> = HashMap::new();
    let mut url =
        reqwest::Url::parse(&format!("{}/api/v1/auth/oidc/start", app.address)).expect("a URL");
    let mut callback = String::new();
    for _ in 0..10 {
        if url.host_str() == Some("localhost") {
            url.set_host(Some("127.0.0.1")).expect("a host");
        }
        if url.path() == "/api/v1/auth/oidc/callback" {
            callback = url.to_string();
        }
        let authority = format!(
            "{}:{}",
            url.host_str().unwrap_or_default(),
            url.port().unwrap_or(80)
        );
        let cookies = jar
            .get(&authority)
            .map(|c| {
                c.iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join("; ")
            })
            .unwrap_or_default();
        let mut request = http.get(url.clone());
        if !cookies.is_empty() {
            request = request.header(COOKIE, cookies);
        }
        let answer = request.send().await.expect("an answer");
        for set in answer.headers().get_all(SET_COOKIE) {
            let pair = set
                .to_str()
                .unwrap_or_default()
                .split(';')
                .next()
                .unwrap_or_default();
            if let Some((name, value)) = pair.split_once('=') {
                jar.entry(authority.clone())
                    .or_default()
                    .insert(name.trim().to_owned(), value.to_owned());
            }
        }
        assert!(
            answer.status().is_redirection(),
            "{url}: {} {}",
            answer.status(),
            answer.text().await.unwrap_or_default()
        );
        let location = answer.headers()[LOCATION]
            .to_str()
            .expect("a location")
            .to_owned();
        let next = url.join(&location).expect("a location URL");
        if let Some(fragment) = next.fragment() {
            assert_eq!(next.path(), "/", "Cairn sends the browser back to the PWA");
            assert!(next.query().is_none(), "nothing in the query: {next}");
            return Landing {
                fragment: fragment.to_owned(),
                callback,
            };
        }
        url = next;
    }
    panic!("too many redirects");
}
