//! Settings, layered: defaults in code, then an optional TOML file, then `CAIRN_*` environment
//! variables (last wins). One database URL chooses SQLite or Postgres. Secrets are
//! [`SecretString`]s and the database URL prints with its password redacted.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use cairn_shared::api::RegistrationMode;
use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

/// Everything Cairn can be configured with. See the README's configuration table.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    /// Address to listen on; port 0 picks a free port.
    pub listen: SocketAddr,
    /// Folder for the embedded database and generated secrets.
    pub data_dir: PathBuf,
    /// The built reference PWA, served at `/` when this folder holds it.
    pub web_dir: PathBuf,
    /// `sqlite://path` or `postgres://…`; unset means `sqlite://<data_dir>/cairn.db`.
    #[serde(skip_serializing)]
    pub database_url: Option<SecretString>,
    /// Maximum database connections in the pool; 0: 4 on SQLite, 10 on Postgres.
    pub database_max_connections: u32,
    /// HMAC key for access tokens (at least 32 bytes); unset means generated into the data folder.
    #[serde(skip_serializing)]
    pub jwt_secret: Option<SecretString>,
    /// Master key that wraps every plan's data key (base64 of 32 bytes); unset means a keyring
    /// generated into `<data_dir>/master-key`. Several instances must share one.
    #[serde(skip_serializing)]
    pub master_key: Option<SecretString>,
    /// Former master keys (comma-separated base64), still accepted for unwrapping while
    /// `cairn keys rotate` re-wraps the data keys under `master_key`.
    #[serde(skip_serializing)]
    pub previous_master_keys: Option<SecretString>,
    /// `iss` claim of access tokens.
    pub jwt_issuer: String,
    /// `aud` claim of access tokens.
    pub jwt_audience: String,
    /// Lifetime of an access token, in seconds.
    pub access_token_ttl_secs: i64,
    /// A device session ends when its refresh token goes unused this many days.
    pub refresh_token_ttl_days: i64,
    /// `open`, `enrollment` or `closed`.
    pub registration: RegistrationMode,
    /// Default lifetime of an enrollment code, in hours.
    pub enrollment_code_ttl_hours: i64,
    /// Lifetime of an invitation code, in minutes.
    pub invitation_ttl_minutes: i64,
    /// Wrong login attempts allowed on one account from one client address per hour (a burst
    /// of that many, then one more every hour / n).
    pub login_attempts_per_account_and_address_per_hour: u32,
    /// Wrong login attempts allowed on one account per hour from all addresses it has not
    /// signed in from in the last 30 days: a ceiling that slows guessing from many addresses
    /// without locking the owner out where they usually sign in.
    pub login_attempts_per_account_per_hour: u32,
    /// Login attempts allowed per client address per minute.
    pub login_attempts_per_address_per_minute: u32,
    /// Registrations (sign-ups, successful or not) allowed per client address per hour.
    pub registrations_per_address_per_hour: u32,
    /// Wrong codes (invitation codes) one account may try per `code_attempts_window_secs`.
    pub code_attempts_per_account: u32,
    /// Wrong codes (invitation and enrollment codes) one client address may try per
    /// `code_attempts_window_secs`.
    pub code_attempts_per_address: u32,
    /// The window of the code attempt limits, in seconds.
    pub code_attempts_window_secs: u64,
    /// Largest JSON body accepted, in bytes.
    pub max_json_body_bytes: usize,
    /// Take the client address from `client_address_header` (only behind a trusted proxy).
    pub trust_proxy: bool,
    /// With `trust_proxy`: the one header the proxy sets to the client's address. Its right-most
    /// entry is used (the one the proxy appended); any other header a client sends, `Forwarded`
    /// included, is ignored.
    pub client_address_header: String,
    /// Log format: `pretty` or `json`.
    pub log_format: LogFormat,
    /// A plan document nobody is syncing leaves memory after this many seconds.
    pub sync_idle_evict_secs: u64,
    /// Plans one account may own.
    pub plans_per_account: u64,
    /// Fold a plan's changes into a snapshot once this many are stored outside it.
    pub compact_after_changes: usize,
    /// Largest WebSocket message accepted, in bytes (a first push of a big plan is large).
    pub max_frame_bytes: usize,
    /// Sync messages allowed per second on one connection (bursts of twice that).
    pub max_messages_per_second: u32,
    /// HTTP worker threads (each runs its share of connections and plan workers); 0: one per
    /// two CPU cores, at least one.
    pub http_workers: usize,
    /// Largest a plan may grow, in stored bytes; changes beyond it are refused.
    pub max_document_bytes: usize,
    /// The most Automerge operations (a character typed is one, a deletion another) a plan may
    /// hold: what a loaded plan costs in memory, about half a KiB each.
    pub max_document_ops: u64,
    /// Plans read from storage into memory at the same time, at most (0 means 1): whatever
    /// sockets and requests ask for, loads beyond it wait their turn.
    pub max_concurrent_loads: usize,
    /// Open sync connections one account may hold at once (its phones, tabs and laptops).
    pub max_connections_per_account: usize,
    /// Seconds between the server's WebSocket pings.
    pub ping_interval_secs: u64,
    /// A socket silent for this many seconds (no pong, no message) is dropped.
    pub socket_timeout_secs: u64,
    /// Longest automerge-repo peer id (`senderId` in `join`), in bytes.
    pub max_peer_id_bytes: usize,
    /// Longest presence `sessionId`, in bytes.
    pub max_presence_session_bytes: usize,
    /// Largest presence `data` of one `ephemeral` message, in bytes.
    pub max_presence_bytes: usize,
    /// Distinct presence sessions one sync connection may use.
    pub max_presence_sessions_per_connection: usize,
    /// Presence sessions from other instances a loaded plan remembers (to drop duplicates).
    pub max_presence_ids_per_plan: usize,
    /// Bytes that may wait to be sent on one sync connection; past it the connection is too
    /// slow and is dropped (one message into an empty queue is always taken).
    pub max_outbox_bytes: usize,
    /// Unknown (not yet stored) document ids one sync connection may sync (offline creation).
    pub max_unclaimed_plans_per_connection: usize,
    /// Distinct document ids one sync connection may name.
    pub max_plans_per_connection: usize,
    /// Whether account activity (sign-ins) records the client's address. Off: a person's
    /// activity says which device and when, never from where.
    pub activity_addresses: bool,
    /// Browser origins (`https://host[:port]`) allowed to call the API cross-origin. Empty means
    /// same-origin only: no CORS headers at all. The environment variable takes a
    /// comma-separated list.
    #[serde(deserialize_with = "origin_list")]
    pub cors_allowed_origins: Vec<String>,
    /// `Content-Security-Policy` of every response that does not set its own; empty sends none.
    pub content_security_policy: String,
    /// `max-age` of `Strict-Transport-Security`, sent only over TLS (built in, or at a proxy when
    /// `trust_proxy` is set); 0 never sends it.
    pub hsts_max_age_secs: u64,
    /// PEM certificate chain; with `tls_key_path`, Cairn serves HTTPS itself.
    pub tls_cert_path: Option<PathBuf>,
    /// PEM private key for `tls_cert_path`.
    pub tls_key_path: Option<PathBuf>,
    /// Lifetime of a password reset code an admin issues, in hours (1 to 24).
    pub reset_code_ttl_hours: i64,
    /// The address people open Cairn at (`https://plans.example.org`): passkeys are bound to its
    /// host (the WebAuthn relying party id) and only this origin may use them. Unset means
    /// `http://localhost:<port>`, for development on one machine.
    pub public_url: Option<String>,
    /// The deletion ledger: an append-only file, beside the master key, listing every deleted
    /// plan and account (id and time, nothing else), which `cairn restore` shreds again. Unset
    /// means `<data_dir>/deletion-ledger`; set it where the master key comes from the
    /// environment, to a volume that outlives the database.
    pub deletion_ledger: Option<PathBuf>,
    /// A key of its own for backup files (base64 of 32 bytes); unset means backups are sealed
    /// under a key derived from the current master key.
    #[serde(skip_serializing)]
    pub backup_key: Option<SecretString>,
    /// Where `cairn backup` writes when no `--output` is given. Unset means `<data_dir>/backups`.
    pub backup_dir: Option<PathBuf>,
    /// How many backups `cairn backup` keeps in `backup_dir` (the newest); 0 keeps them all.
    pub backup_keep: usize,
    /// Staff sign-in with the agency's identity provider (OpenID Connect): the provider's issuer
    /// URL (`https://login.microsoftonline.com/<tenant>/v2.0`, `https://accounts.google.com`).
    /// Unset: off. The redirect URI to register is `<public_url>/api/v1/auth/oidc/callback`.
    pub oidc_issuer: Option<String>,
    /// The client (application) id Cairn has at the provider.
    pub oidc_client_id: Option<String>,
    /// The client secret Cairn has at the provider.
    #[serde(skip_serializing)]
    pub oidc_client_secret: Option<SecretString>,
    /// The name on the sign-in button ("Sign in with <name>").
    pub oidc_display_name: String,
    /// The ID token claim that says who is an admin (a string or a list of strings).
    pub oidc_admin_claim: String,
    /// Values of `oidc_admin_claim` that make someone an admin (comma-separated); empty: every
    /// staff account is a member. Re-evaluated at each sign-in.
    #[serde(deserialize_with = "text_list")]
    pub oidc_admin_values: Vec<String>,
    /// Tenants (the `tid` claim) whose people may sign in (comma-separated).
    #[serde(deserialize_with = "text_list")]
    pub oidc_allowed_tenants: Vec<String>,
    /// Email domains (of the `email` claim) whose people may sign in (comma-separated). With
    /// neither tenants nor domains, anyone the provider signs in for this client may.
    #[serde(deserialize_with = "text_list")]
    pub oidc_allowed_domains: Vec<String>,
    /// Count the provider's multi-factor sign-in (`amr` holding `mfa`) as the second factor
    /// admin routes need; off: staff admins pass Cairn's own second factor as well.
    pub oidc_trust_provider_mfa: bool,
    /// The `prompt` sent to the provider, if any: `consent` for providers that, as the OpenID
    /// spec says, give a refresh token (`offline_access`) only after a consent prompt.
    pub oidc_prompt: Option<String>,
}

/// Accept a list as a sequence (TOML) or one comma-separated string (environment), trimmed, the
/// empty entries dropped.
fn text_list<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    Ok(list_items(deserializer)?
        .iter()
        .map(|text| text.trim().to_owned())
        .filter(|text| !text.is_empty())
        .collect())
}

/// The items of a list given as a sequence (TOML) or one comma-separated string (environment).
fn list_items<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Items {
        One(String),
        Many(Vec<String>),
    }
    Ok(match Items::deserialize(deserializer)? {
        Items::One(list) => list.split(',').map(str::to_owned).collect(),
        Items::Many(list) => list,
    })
}

/// The default `Content-Security-Policy`: an API serves no active content and is never framed.
pub const API_CONTENT_SECURITY_POLICY: &str = "default-src 'none'; frame-ancestors 'none'";

/// Accept a list of origins as a sequence (TOML) or one comma-separated string (environment),
/// trimmed, lower-cased and without a trailing slash, as browsers send them in `Origin`.
fn origin_list<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    Ok(list_items(deserializer)?
        .iter()
        .map(|origin| origin.trim().trim_end_matches('/').to_ascii_lowercase())
        .filter(|origin| !origin.is_empty())
        .collect())
}

/// Whether `origin` is a plain `http(s)://host[:port]` origin (no path, wildcard or credentials).
fn is_valid_origin(origin: &str) -> bool {
    let Some(rest) = origin
        .strip_prefix("https://")
        .or_else(|| origin.strip_prefix("http://"))
    else {
        return false;
    };
    !rest.is_empty()
        && rest
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'))
        && actix_web::http::header::HeaderValue::from_str(origin).is_ok()
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    /// Human-readable lines, for a terminal.
    Pretty,
    /// One JSON object per line, for log collectors.
    Json,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir: PathBuf::from("data"),
            web_dir: PathBuf::from("web/dist"),
            database_url: None,
            database_max_connections: 0,
            jwt_secret: None,
            master_key: None,
            previous_master_keys: None,
            jwt_issuer: "cairn".into(),
            jwt_audience: "cairn".into(),
            access_token_ttl_secs: 15 * 60,
            refresh_token_ttl_days: 30,
            registration: RegistrationMode::Enrollment,
            enrollment_code_ttl_hours: 7 * 24,
            invitation_ttl_minutes: 48 * 60,
            login_attempts_per_account_and_address_per_hour: 10,
            login_attempts_per_account_per_hour: 100,
            login_attempts_per_address_per_minute: 30,
            registrations_per_address_per_hour: 60,
            code_attempts_per_account: 10,
            code_attempts_per_address: 30,
            code_attempts_window_secs: 3600,
            max_json_body_bytes: 64 * 1024,
            trust_proxy: false,
            client_address_header: "X-Forwarded-For".into(),
            log_format: LogFormat::Pretty,
            sync_idle_evict_secs: 30,
            plans_per_account: 100,
            compact_after_changes: 500,
            max_frame_bytes: 16 * 1024 * 1024,
            max_messages_per_second: 100,
            http_workers: 0,
            max_document_bytes: 10 * 1024 * 1024,
            max_concurrent_loads: 2,
            max_document_ops: 250_000,
            max_connections_per_account: 20,
            ping_interval_secs: 10,
            socket_timeout_secs: 30,
            max_peer_id_bytes: 128,
            max_presence_session_bytes: 128,
            max_presence_bytes: 4 * 1024,
            max_presence_sessions_per_connection: 8,
            max_presence_ids_per_plan: 1024,
            max_outbox_bytes: 16 * 1024 * 1024,
            max_unclaimed_plans_per_connection: 16,
            max_plans_per_connection: 100,
            activity_addresses: false,
            cors_allowed_origins: Vec::new(),
            content_security_policy: API_CONTENT_SECURITY_POLICY.into(),
            hsts_max_age_secs: 365 * 24 * 60 * 60,
            tls_cert_path: None,
            tls_key_path: None,
            reset_code_ttl_hours: 24,
            public_url: None,
            deletion_ledger: None,
            backup_key: None,
            backup_dir: None,
            backup_keep: 0,
            oidc_issuer: None,
            oidc_client_id: None,
            oidc_client_secret: None,
            oidc_display_name: "your agency".into(),
            oidc_admin_claim: "groups".into(),
            oidc_admin_values: Vec::new(),
            oidc_allowed_tenants: Vec::new(),
            oidc_allowed_domains: Vec::new(),
            oidc_trust_provider_mfa: true,
            oidc_prompt: None,
        }
    }
}

/// Why settings could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    /// The TOML file or an environment variable has a bad value.
    #[error("invalid configuration: {0}")]
    Invalid(#[from] Box<figment::Error>),
    /// A value parsed but is not acceptable.
    #[error("invalid configuration: {0}")]
    Rejected(String),
}

impl Settings {
    /// Load defaults, then `config_file` if given, then `CAIRN_*` environment variables.
    pub fn load(config_file: Option<&Path>) -> Result<Self, SettingsError> {
        let mut figment = Figment::from(Serialized::defaults(Settings::default()));
        if let Some(path) = config_file {
            figment = figment.merge(Toml::file_exact(path));
        }
        let settings: Settings = figment
            .merge(Env::prefixed("CAIRN_"))
            .extract()
            .map_err(Box::new)?;
        settings.validate()?;
        Ok(settings)
    }

    /// Refuse settings that would make Cairn unsafe or unusable.
    pub fn validate(&self) -> Result<(), SettingsError> {
        let previous_keys = self
            .previous_master_keys
            .as_ref()
            .is_some_and(|keys| !keys.expose_secret().trim().is_empty());
        if self.master_key.is_none() && previous_keys {
            return Err(SettingsError::Rejected(
                "previous_master_keys needs master_key (the key to rotate to)".into(),
            ));
        }
        if let Some(secret) = &self.jwt_secret
            && secret.expose_secret().len() < 32
        {
            return Err(SettingsError::Rejected(
                "jwt_secret must be at least 32 bytes".into(),
            ));
        }
        if self.access_token_ttl_secs <= 0 || self.refresh_token_ttl_days <= 0 {
            return Err(SettingsError::Rejected(
                "token lifetimes must be positive".into(),
            ));
        }
        if self.max_messages_per_second == 0
            || self.ping_interval_secs == 0
            || self.max_frame_bytes < 1024
        {
            return Err(SettingsError::Rejected(
                "max_messages_per_second and ping_interval_secs must be positive, max_frame_bytes at least 1024".into(),
            ));
        }
        if self.max_peer_id_bytes == 0
            || self.max_presence_session_bytes == 0
            || self.max_presence_sessions_per_connection == 0
            || self.max_presence_ids_per_plan == 0
            || self.max_unclaimed_plans_per_connection == 0
            || self.max_plans_per_connection == 0
            || self.max_outbox_bytes < 64 * 1024
        {
            return Err(SettingsError::Rejected(
                "the sync limits (peer id, presence, plans per connection) must be at least 1, max_outbox_bytes at least 65536".into(),
            ));
        }
        if self.login_attempts_per_account_and_address_per_hour == 0
            || self.login_attempts_per_account_per_hour == 0
            || self.login_attempts_per_address_per_minute == 0
            || self.registrations_per_address_per_hour == 0
            || self.code_attempts_per_account == 0
            || self.code_attempts_per_address == 0
            || self.code_attempts_window_secs == 0
        {
            return Err(SettingsError::Rejected(
                "login, registration and code attempt limits (and the code window) must be at least 1".into(),
            ));
        }
        if actix_web::http::header::HeaderName::from_bytes(self.client_address_header.as_bytes())
            .is_err()
        {
            return Err(SettingsError::Rejected(format!(
                "client_address_header: {:?} is not a header name",
                self.client_address_header
            )));
        }
        if let Some(origin) = self
            .cors_allowed_origins
            .iter()
            .find(|origin| !is_valid_origin(origin))
        {
            return Err(SettingsError::Rejected(format!(
                "cors_allowed_origins: {origin:?} is not an origin like https://plans.example.org (no path, no wildcard)"
            )));
        }
        if !(1..=24).contains(&self.reset_code_ttl_hours) {
            return Err(SettingsError::Rejected(
                "reset_code_ttl_hours must be between 1 and 24".into(),
            ));
        }
        if self.tls_cert_path.is_some() != self.tls_key_path.is_some() {
            return Err(SettingsError::Rejected(
                "tls_cert_path and tls_key_path must be set together".into(),
            ));
        }
        if actix_web::http::header::HeaderValue::from_str(&self.content_security_policy).is_err() {
            return Err(SettingsError::Rejected(
                "content_security_policy must be one line of visible ASCII".into(),
            ));
        }
        self.public_origin(self.listen.port())?;
        if self.oidc_issuer.is_some()
            && (self.oidc_client_id.is_none() || self.oidc_client_secret.is_none())
        {
            return Err(SettingsError::Rejected(
                "oidc_issuer needs oidc_client_id and oidc_client_secret (from the app \
                 registered at the identity provider)"
                    .into(),
            ));
        }
        Ok(())
    }

    /// The origin passkeys are bound to: `public_url`, or `http://localhost:<port>` when unset.
    pub fn public_origin(&self, port: u16) -> Result<webauthn_rs::prelude::Url, SettingsError> {
        use webauthn_rs::prelude::Url;
        let Some(public_url) = &self.public_url else {
            return Url::parse(&format!("http://localhost:{port}")).map_err(|err| {
                SettingsError::Rejected(format!("public_url: the default is not valid: {err}"))
            });
        };
        let rejected = |why: &str| {
            SettingsError::Rejected(format!(
                "public_url: {public_url:?} {why}; it should be the address people open Cairn \
                 at, like https://plans.example.org"
            ))
        };
        let url = Url::parse(public_url.trim()).map_err(|_| rejected("is not a URL"))?;
        if !matches!(url.scheme(), "https" | "http") {
            return Err(rejected(
                "must start with https:// (or http:// for localhost)",
            ));
        }
        if url.domain().is_none() {
            return Err(rejected(
                "must name a host by its domain name (passkeys cannot be bound to an IP address)",
            ));
        }
        if url.scheme() == "http" && url.domain() != Some("localhost") {
            return Err(rejected(
                "must use https:// (browsers allow passkeys over http only on localhost)",
            ));
        }
        if !matches!(url.path(), "" | "/")
            || url.query().is_some()
            || url.fragment().is_some()
            || !url.username().is_empty()
            || url.password().is_some()
        {
            return Err(rejected(
                "must be just an origin (no path, query or credentials)",
            ));
        }
        Ok(url)
    }

    /// Whether Cairn serves HTTPS itself.
    pub fn tls_enabled(&self) -> bool {
        self.tls_cert_path.is_some() && self.tls_key_path.is_some()
    }

    /// The database URL in force: the configured one, or the embedded SQLite file.
    pub fn database_url(&self) -> SecretString {
        match &self.database_url {
            Some(url) => url.clone(),
            None => {
                let path = self.data_dir.join("cairn.db");
                SecretString::from(format!("sqlite://{}?mode=rwc", path.display()))
            }
        }
    }

    /// The deletion ledger in force: `deletion_ledger`, or `<data_dir>/deletion-ledger`.
    pub fn deletion_ledger_path(&self) -> PathBuf {
        self.deletion_ledger
            .clone()
            .unwrap_or_else(|| self.data_dir.join("deletion-ledger"))
    }

    /// Where backups go by default: `backup_dir`, or `<data_dir>/backups`.
    pub fn backup_dir_path(&self) -> PathBuf {
        self.backup_dir
            .clone()
            .unwrap_or_else(|| self.data_dir.join("backups"))
    }
}

/// A database URL with any password replaced, safe to log.
pub fn redacted_database_url(url: &SecretString) -> String {
    let url = url.expose_secret();
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let credentials = &url[scheme_end + 3..at];
            let user = credentials.split(':').next().unwrap_or_default();
            format!("{}://{}:***@{}", &url[..scheme_end], user, &url[at + 1..])
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[allow(clippy::result_large_err)] // figment's Jail API returns its own large error.
    fn sync_limits_load_from_the_environment_and_must_be_sane() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("CAIRN_MAX_OUTBOX_BYTES", "1048576");
            jail.set_env("CAIRN_MAX_UNCLAIMED_PLANS_PER_CONNECTION", "4");
            let settings = Settings::load(None).map_err(|err| err.to_string())?;
            assert_eq!(settings.max_outbox_bytes, 1_048_576);
            assert_eq!(settings.max_unclaimed_plans_per_connection, 4);
            assert_eq!(settings.max_peer_id_bytes, 128);
            Ok(())
        });
        for broken in [
            Settings {
                max_presence_sessions_per_connection: 0,
                ..Settings::default()
            },
            Settings {
                max_outbox_bytes: 1024,
                ..Settings::default()
            },
        ] {
            assert!(broken.validate().is_err());
        }
        assert!(Settings::default().validate().is_ok());
    }

    #[test]
    #[allow(clippy::result_large_err)] // figment's Jail API returns its own large error.
    fn staff_sign_in_loads_from_the_environment_and_needs_its_client() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("CAIRN_OIDC_ISSUER", "https://login.example.org/tenant/v2.0");
            jail.set_env("CAIRN_OIDC_CLIENT_ID", "cairn");
            jail.set_env("CAIRN_OIDC_CLIENT_SECRET", "s3cret");
            jail.set_env("CAIRN_OIDC_ADMIN_VALUES", " admins , ,cairn-admins");
            jail.set_env("CAIRN_OIDC_ALLOWED_DOMAINS", "riverside.example.org");
            let settings = Settings::load(None).map_err(|err| err.to_string())?;
            assert_eq!(settings.oidc_admin_values, ["admins", "cairn-admins"]);
            assert_eq!(settings.oidc_allowed_domains, ["riverside.example.org"]);
            assert!(settings.oidc_allowed_tenants.is_empty());
            assert!(settings.oidc_trust_provider_mfa);
            assert!(!format!("{settings:?}").contains("s3cret"));
            Ok(())
        });
        let without_secret = Settings {
            oidc_issuer: Some("https://login.example.org".into()),
            oidc_client_id: Some("cairn".into()),
            ..Settings::default()
        };
        assert!(without_secret.validate().is_err());
    }

    #[test]
    fn database_password_is_redacted() {
        let url = SecretString::from("postgres://cairn:hunter2@db:5432/cairn");
        assert_eq!(
            redacted_database_url(&url),
            "postgres://cairn:***@db:5432/cairn"
        );
        let url = SecretString::from("sqlite://data/cairn.db");
        assert_eq!(redacted_database_url(&url), "sqlite://data/cairn.db");
    }

    #[test]
    #[allow(clippy::result_large_err)] // figment's Jail API returns its own large error.
    fn cors_origins_load_from_a_comma_separated_variable_or_a_toml_list() {
        figment::Jail::expect_with(|jail| {
            jail.set_env(
                "CAIRN_CORS_ALLOWED_ORIGINS",
                "https://plans.example.org/, HTTP://localhost:5173",
            );
            let settings = Settings::load(None).map_err(|err| err.to_string())?;
            assert_eq!(
                settings.cors_allowed_origins,
                ["https://plans.example.org", "http://localhost:5173"]
            );
            jail.set_env("CAIRN_CORS_ALLOWED_ORIGINS", "https://one.example");
            let settings = Settings::load(None).map_err(|err| err.to_string())?;
            assert_eq!(settings.cors_allowed_origins, ["https://one.example"]);
            jail.set_env("CAIRN_CORS_ALLOWED_ORIGINS", "");
            let settings = Settings::load(None).map_err(|err| err.to_string())?;
            assert!(settings.cors_allowed_origins.is_empty());

            jail.set_env("CAIRN_CORS_ALLOWED_ORIGINS", "https://a.example");
            jail.create_file(
                "cairn.toml",
                r#"cors_allowed_origins = ["https://b.example", "https://c.example"]"#,
            )?;
            // The environment wins over the file.
            let settings =
                Settings::load(Some(Path::new("cairn.toml"))).map_err(|err| err.to_string())?;
            assert_eq!(settings.cors_allowed_origins, ["https://a.example"]);
            Ok(())
        });
    }

    #[test]
    fn cors_origins_must_be_plain_origins() {
        for bad in [
            "*",
            "https://a.example/app",
            "plans.example.org",
            "https://",
        ] {
            let settings = Settings {
                cors_allowed_origins: vec![bad.into()],
                ..Settings::default()
            };
            assert!(settings.validate().is_err(), "{bad} was accepted");
        }
        let settings = Settings {
            cors_allowed_origins: vec!["https://[::1]:8443".into(), "http://localhost:5173".into()],
            ..Settings::default()
        };
        assert!(settings.validate().is_ok());
    }
}
