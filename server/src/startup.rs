//! Building the application: connect and migrate the database, load keys, bind the listener
//! (port 0 allowed) and return a server ready to run. `main` and the tests both start Cairn here.

use std::net::TcpListener;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use actix_cors::Cors;
use actix_web::dev::Server;
use actix_web::http::{Method, header};
use actix_web::middleware::{Condition, DefaultHeaders};
use actix_web::{App, web};
use anyhow::Context;
use secrecy::ExposeSecret;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing_actix_web::TracingLogger;

use crate::auth::limits::{LimitRates, Limits};
use crate::auth::secrets::{CodeHasher, load_or_create_secret};
use crate::auth::tokens::TokenKeys;
use crate::config::{Settings, redacted_database_url};
use crate::crypto::Keyring;
use crate::routes;
use crate::services::Services;
use crate::store::Store;
use crate::sync::{SyncConfig, SyncHub};
use crate::telemetry::CairnRootSpan;

pub mod upgrade;

/// A built Cairn, bound to its port and ready to run.
pub struct Application {
    port: u16,
    server: Server,
    services: web::Data<Services>,
    background: TaskTracker,
    shutdown: CancellationToken,
}

impl std::fmt::Debug for Application {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Application")
            .field("port", &self.port)
            .finish_non_exhaustive()
    }
}

/// Open the database named by the settings (creating the data folder for SQLite), migrate it,
/// load the master keyring, and finish any plan deletion a crash interrupted (sealing plans
/// stored before encryption at rest, too).
pub async fn open_store(settings: &Settings) -> anyhow::Result<Store> {
    private_data_dir(&settings.data_dir)
        .with_context(|| format!("data folder {}", settings.data_dir.display()))?;
    let keyring = Arc::new(load_keyring(settings)?);
    let url = settings.database_url();
    private_sqlite_files(url.expose_secret()).context("SQLite database files")?;
    tracing::info!(database = %redacted_database_url(&url), "connecting to the database");
    let store = Store::connect(
        &url,
        settings.database_max_connections,
        keyring,
        settings.plans_per_account,
    )
    .await?;
    upgrade::check_before_migrating(&store, &settings.data_dir).await?;
    store.migrate().await?;
    let keyed = crate::services::accounts::key_stored_usernames(&store).await?;
    if keyed > 0 {
        tracing::info!(
            accounts = keyed,
            "keyed usernames stored before look-alike checks"
        );
    }
    let finished = crate::services::leaving::finish_departures(&store).await?;
    if finished > 0 {
        tracing::info!(
            memberships = finished,
            "finished departures left undone (deleted accounts' plans)"
        );
    }
    let sealed = store.prepare_plans_at_rest().await?;
    if sealed > 0 {
        tracing::info!(
            plans = sealed,
            "sealed plans stored before encryption at rest"
        );
    }
    Ok(store)
}

/// Create the data folder if it is missing, and make it Cairn's user's alone (0700) whatever the
/// umask, a folder from before included: it holds the master key, the signing key and, by
/// default, the database. Key files from before are put right too (new ones are created 0600).
fn private_data_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)?;
    set_mode(dir, 0o700)?;
    for key_file in ["master-key", "jwt-secret"] {
        private_file(&dir.join(key_file))?;
    }
    Ok(())
}

/// Make `path` readable and writable by Cairn's user only (0600), if it exists.
fn private_file(path: &Path) -> std::io::Result<()> {
    match set_mode(path, 0o600) {
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(()),
        other => other,
    }
}

/// Set `path`'s mode. A folder or file that is not Cairn's user's own (a volume owned by root
/// and shared through its group, say) cannot be changed: that is said in the log, and Cairn
/// starts all the same, as it did before it set modes.
fn set_mode(path: &Path, mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    match std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)) {
        Err(err) if err.kind() == std::io::ErrorKind::PermissionDenied => {
            tracing::warn!(
                path = %path.display(),
                mode = format!("{mode:o}"),
                "not Cairn's own: its mode cannot be set; make it private to Cairn's user"
            );
            Ok(())
        }
        other => other,
    }
}

/// The file a SQLite database URL names (`sqlite://path?…` or `sqlite:path`); `None` for an
/// in-memory database or another database.
fn sqlite_path(url: &str) -> Option<std::path::PathBuf> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or_default();
    (!path.is_empty() && !path.starts_with(':')).then(|| std::path::PathBuf::from(path))
}

/// Make the SQLite database files readable by Cairn's user only (0600), whatever the umask.
/// SQLite creates `-wal` and `-shm` with the database file's mode, so the database file is
/// created 0600 before SQLite opens it, and files from before are put right here at start.
fn private_sqlite_files(url: &str) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let Some(path) = sqlite_path(url) else {
        return Ok(());
    };
    // An empty file is a new, empty database to SQLite.
    std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o600)
        .open(&path)?;
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let mut file = path.clone().into_os_string();
        file.push(suffix);
        private_file(Path::new(&file))?;
    }
    Ok(())
}

/// The master keyring: from the settings, else from (or generated into) `<data dir>/master-key`.
pub fn load_keyring(settings: &Settings) -> anyhow::Result<Keyring> {
    let keyring = match &settings.master_key {
        Some(current) => Keyring::from_settings(current, settings.previous_master_keys.as_ref())
            .context("master_key / previous_master_keys")?,
        None => {
            let path = settings.data_dir.join("master-key");
            Keyring::from_file(&path)
                .with_context(|| format!("master key file {}", path.display()))?
        }
    };
    Ok(keyring)
}

/// The WebAuthn relying party for `public_url` (or `http://localhost:<port>`), with the key that
/// makes up credential ids for names without passkeys derived from the server secret.
fn relying_party(
    settings: &Settings,
    codes: &CodeHasher,
    port: u16,
) -> anyhow::Result<crate::services::passkeys::RelyingParty> {
    let origin = settings.public_origin(port)?;
    let fake_key = const_hex::decode(codes.hash("passkey: made-up credential ids"))
        .context("the made-up credential key")?;
    crate::services::passkeys::RelyingParty::new(&origin, &fake_key)
        .map_err(|err| anyhow::anyhow!("public_url {origin}: passkeys cannot use it: {err}"))
}

impl Application {
    /// Connect, migrate, load or generate the signing key, and bind `settings.listen`.
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        settings.validate()?;
        let mut store = open_store(&settings).await?;
        let secret = match &settings.jwt_secret {
            Some(secret) => secret.clone(),
            None => load_or_create_secret(&settings.data_dir.join("jwt-secret"))?,
        };
        let tokens = TokenKeys::new(
            secret.expose_secret().as_bytes(),
            &settings.jwt_issuer,
            &settings.jwt_audience,
            settings.access_token_ttl_secs,
        );
        let limits = Limits::new(LimitRates::from_settings(&settings));
        let codes = CodeHasher::from_server_secret(secret.expose_secret().as_bytes());
        let max_json = settings.max_json_body_bytes;
        let max_upload = settings.max_frame_bytes;
        let background = TaskTracker::new();
        let shutdown = CancellationToken::new();
        // SQLite's group commit, tracked and drained on shutdown with the other background work.
        store.start_group_commit(&background, shutdown.clone());
        let storage_id = store.storage_id().await?;
        let metrics = crate::metrics::Metrics::new();
        let hub = SyncHub::new(
            store.clone(),
            metrics.clone(),
            SyncConfig {
                idle_evict: Duration::from_secs(settings.sync_idle_evict_secs),
                compact_after_changes: settings.compact_after_changes.max(1),
                max_document_bytes: settings.max_document_bytes,
                max_concurrent_loads: settings.max_concurrent_loads,
                max_document_ops: settings.max_document_ops,
                max_outbox_bytes: settings.max_outbox_bytes,
                max_unclaimed_per_connection: settings.max_unclaimed_plans_per_connection,
                max_presence_ids_per_plan: settings.max_presence_ids_per_plan,
            },
            storage_id,
            background.clone(),
            shutdown.clone(),
        );
        // Several instances on one Postgres: changes, removals and sign-outs from the others.
        hub.start_fanout();
        hub.start_title_backfill();
        let listener = TcpListener::bind(settings.listen)?;
        let port = listener.local_addr()?.port();
        let passkeys = relying_party(&settings, &codes, port)?;
        let oidc = crate::services::oidc::IdentityProvider::from_settings(
            &settings,
            settings.public_origin(port)?.as_str(),
            &codes,
        )?;
        let services = web::Data::new(Services {
            store,
            tokens,
            limits,
            codes,
            settings: Arc::new(settings),
            hub,
            metrics,
            http_syncs: Default::default(),
            passkeys,
            oidc,
        });

        let app_services = services.clone();
        let make_app = move || {
            let settings = &app_services.settings;
            // The last `wrap` runs first: logging sees everything, security headers land on every
            // answer (CORS refusals and JSON error pages included), CORS answers preflights
            // before routing.
            App::new()
                .wrap(routes::json_error_pages())
                .wrap(Condition::new(
                    !settings.cors_allowed_origins.is_empty(),
                    cors(settings),
                ))
                .wrap(security_headers(settings))
                .wrap(TracingLogger::<CairnRootSpan>::new())
                .app_data(app_services.clone())
                .configure(|cfg| routes::configure(cfg, max_json, max_upload, &settings.web_dir))
                .default_service(web::to(routes::not_found))
        };
        let server = crate::transport::http_server(listener, &services.settings, make_app)?;

        background.spawn(forget_idle_login_counters(
            services.clone(),
            shutdown.clone(),
        ));
        // Each instance says now and then that it is up (the admin console counts them).
        let started_at = chrono::Utc::now();
        crate::services::console::record_up(&services.store, started_at).await;
        background.spawn(crate::services::console::heartbeat(
            services.store.clone(),
            started_at,
            shutdown.clone(),
        ));
        Ok(Self {
            port,
            server,
            services,
            background,
            shutdown,
        })
    }

    /// The sync hub (for tests and operations: how many plans are in memory, and so on).
    pub fn hub(&self) -> crate::sync::SyncHub {
        self.services.hub.clone()
    }

    /// The server's store (for tests that look at what is stored).
    pub fn store(&self) -> Store {
        self.services.store.clone()
    }

    /// The bound port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Serve until the server stops (SIGINT/SIGTERM), then drain background work and close
    /// the database.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let result = self.server.await;
        self.shutdown.cancel();
        self.background.close();
        self.background.wait().await;
        tracing::info!("stopped");
        drop(self.services);
        result
    }
}

/// Headers every answer carries unless its handler set its own (`DefaultHeaders` never
/// overwrites): a future web app at `/` can wrap its scope in its own `DefaultHeaders` with a page
/// CSP and cache policy, and those win over these API defaults.
fn security_headers(settings: &Settings) -> DefaultHeaders {
    let mut headers = DefaultHeaders::new()
        .add((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .add((header::X_FRAME_OPTIONS, "DENY"))
        .add((header::REFERRER_POLICY, "no-referrer"))
        .add((
            header::PERMISSIONS_POLICY,
            "camera=(), microphone=(), geolocation=(), payment=(), usb=()",
        ))
        .add((header::CROSS_ORIGIN_OPENER_POLICY, "same-origin"))
        .add((header::CROSS_ORIGIN_RESOURCE_POLICY, "same-origin"))
        // Plans and tokens must never sit in a shared or browser cache.
        .add((header::CACHE_CONTROL, "no-store"));
    if !settings.content_security_policy.is_empty() {
        // Checked by `Settings::validate`, so `add` cannot panic.
        headers = headers.add((
            header::CONTENT_SECURITY_POLICY,
            settings.content_security_policy.as_str(),
        ));
    }
    // HSTS only over TLS: Cairn's own, or a proxy's in front of it.
    if (settings.tls_enabled() || settings.trust_proxy) && settings.hsts_max_age_secs > 0 {
        headers = headers.add((
            header::STRICT_TRANSPORT_SECURITY,
            format!("max-age={}", settings.hsts_max_age_secs),
        ));
    }
    headers
}

/// Cross-origin access for the configured origins only (validated by `Settings::validate`).
/// Bearer tokens, not cookies, so no credentials.
fn cors(settings: &Settings) -> Cors {
    let mut cors = Cors::default()
        .allowed_methods([Method::GET, Method::POST, Method::DELETE])
        .allowed_headers([header::AUTHORIZATION, header::CONTENT_TYPE, header::ACCEPT])
        .expose_headers([
            header::HeaderName::from_static("x-automerge-heads"),
            header::CONTENT_DISPOSITION,
            header::RETRY_AFTER,
        ])
        .max_age(3600);
    for origin in &settings.cors_allowed_origins {
        cors = cors.allowed_origin(origin);
    }
    cors
}

async fn forget_idle_login_counters(services: web::Data<Services>, shutdown: CancellationToken) {
    let mut every = tokio::time::interval(Duration::from_secs(60));
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = every.tick() => services.limits.forget_idle(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::sqlite_path;

    #[test]
    fn sqlite_urls_name_their_file() {
        assert_eq!(
            sqlite_path("sqlite://data/cairn.db?mode=rwc"),
            Some("data/cairn.db".into())
        );
        assert_eq!(sqlite_path("sqlite:/srv/c.db"), Some("/srv/c.db".into()));
        assert_eq!(sqlite_path("sqlite::memory:"), None);
        assert_eq!(sqlite_path("sqlite://:memory:"), None);
        assert_eq!(sqlite_path("postgres://u:p@h/db"), None);
    }
}
