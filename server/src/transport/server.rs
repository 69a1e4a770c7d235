//! The server: what actix-web's `HttpServer` builds, made from actix-server and actix-http's
//! `HttpService` so that an accepted WebSocket's upgraded stream is handed to its socket (see
//! [`super::upgrade`]); plain TCP or built-in TLS.

use std::net::TcpListener;
use std::path::Path;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use actix_http::{HttpService, KeepAlive, Request};
use actix_service::{IntoServiceFactory, ServiceFactory, fn_factory, fn_service, map_config};
use actix_web::body::MessageBody;
use actix_web::dev::{AppConfig, Server, ServiceResponse};
use anyhow::Context;

use super::upgrade::serve_upgrade;
use crate::config::Settings;

/// Serve the app `make_app` builds (one per HTTP worker) on `listener`, over TLS when the
/// settings name a certificate and key. The returned server runs once awaited.
pub fn http_server<F, I, S, B>(
    listener: TcpListener,
    settings: &Settings,
    make_app: F,
) -> anyhow::Result<Server>
where
    F: Fn() -> I + Send + Clone + 'static,
    I: IntoServiceFactory<S, Request>,
    S: ServiceFactory<
            Request,
            Config = AppConfig,
            Response = ServiceResponse<B>,
            Error = actix_web::Error,
            InitError = (),
        > + 'static,
    S::Service: 'static,
    B: MessageBody + 'static,
{
    let workers = match settings.http_workers {
        0 => default_http_workers(),
        workers => workers,
    };
    let addr = listener.local_addr()?;
    // What actix-web's `HttpServer` builds (its defaults: keep-alive, request and disconnect
    // timeouts, graceful shutdown), with one addition: an upgrade service, which hands an
    // accepted WebSocket's stream to its socket ([`serve_upgrade`]). A macro, as the
    // stream's type differs with TLS. The app's config is the default one: its host and
    // scheme are only what `connection_info` falls back to, and Cairn reads nothing but
    // the client's address from that.
    let server = actix_server::Server::build()
        .workers(workers)
        .shutdown_timeout(10);
    // On shutdown, idle keep-alive connections are closed at once rather than waited for.
    let stopping = server.graceful_shutdown_signal();
    macro_rules! http_service {
        ($make_app:expr) => {{
            let make_app = $make_app;
            let upgrade_app = make_app.clone();
            let stopping = stopping.clone();
            HttpService::build()
                .graceful_shutdown_signal(move || {
                    let stopping = stopping.clone();
                    async move { stopping.notified().await }
                })
                // Small writes go out at once (no Nagle): actix-web's `HttpServer` leaves
                // this unset now too, and with it an acknowledgement followed closely by a
                // partner's change waited for the phone's delayed ACK (p99 61 ms against
                // 34 ms at 100 editing pairs).
                .tcp_nodelay(true)
                .keep_alive(KeepAlive::default())
                .client_request_timeout(Duration::from_secs(5))
                .client_disconnect_timeout(Duration::from_secs(1))
                .local_addr(addr)
                .upgrade(fn_factory(move || {
                    let app = upgrade_app().into_factory();
                    async move {
                        let app = Rc::new(app.new_service(AppConfig::default()).await?);
                        Ok::<_, ()>(fn_service(move |(req, framed)| {
                            let app = app.clone();
                            async move { serve_upgrade(&*app, req, framed).await }
                        }))
                    }
                }))
                .finish(map_config(make_app(), |()| AppConfig::default()))
        }};
    }
    let server = match (&settings.tls_cert_path, &settings.tls_key_path) {
        (Some(cert), Some(key)) => {
            let tls = tls_config(cert, key)?;
            server.listen("cairn-tls", listener, move || {
                http_service!(make_app.clone()).rustls_0_23(tls.clone())
            })?
        }
        _ => server.listen("cairn", listener, move || {
            http_service!(make_app.clone()).tcp()
        })?,
    }
    .run();
    Ok(server)
}

/// One HTTP worker per two CPUs, at least one. A worker runs its connections and the plans they
/// open; the two members of a plan often sit on different workers, and every message between
/// them then crosses threads (a wake-up each way). Storage and password hashing run on threads
/// of their own, so one worker per CPU leaves those two contending for the same cores. Measured
/// on 2 cores at 100 editing pairs: one worker takes 13 % less CPU per edit than two, and answers
/// sooner.
fn default_http_workers() -> usize {
    std::thread::available_parallelism().map_or(1, |cpus| (cpus.get() / 2).max(1))
}

/// The TLS set-up for built-in HTTPS: the PEM certificate chain and private key, with ring (the
/// provider already linked for the database driver) and rustls' safe defaults.
fn tls_config(cert: &Path, key: &Path) -> anyhow::Result<rustls::ServerConfig> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};

    let chain = CertificateDer::pem_file_iter(cert)
        .and_then(Iterator::collect::<Result<Vec<_>, _>>)
        .with_context(|| format!("reading the TLS certificate {}", cert.display()))?;
    anyhow::ensure!(!chain.is_empty(), "no certificate in {}", cert.display());
    let key = PrivateKeyDer::from_pem_file(key)
        .with_context(|| format!("reading the TLS key {}", key.display()))?;
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()?
    .with_no_client_auth()
    .with_single_cert(chain, key)
    .context("the TLS certificate and key do not fit together")?;
    Ok(config)
}
