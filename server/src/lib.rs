//! `cairn-server`: the Cairn sync server for shared recovery plans, as a library (so tests can
//! start the real thing) and the `cairn` binary.
//!
//! # Layout
//!
//! Layers point one way: each imports only from the layers below it, never from a layer above
//! or beside it (`sync` knows nothing of `services`, `routes` or actix; `store` knows nothing of
//! `sync`).
//!
//! ```text
//! main ─► cli ─► startup                  build the app: settings, database, keys, listener
//!                   │
//!        routes ◄───┤                     HTTP only: requests in, service calls, JSON answers
//!          │ error  │                     (one error type, one status map for every service)
//!          │        ▼
//!          │     transport                the WebSocket: server, upgrade, socket loop, frames
//!          ▼        │
//!       services    │                     use cases: plain async functions over domain types
//!          │        │
//!          └─► sync ◄┘                    automerge-repo sync: hub, workers, fan-out, loading
//!               │  └─ sync::core          sans-IO: messages in, messages and storage effects out
//!               ▼
//!             store                       the only module that touches the database
//!
//! leaves any layer may use: domain, config, crypto, ledger, auth, metrics, telemetry
//! ```
//!
//! - [`startup`]: [`Application::build`] over a bound listener; `main` and the tests start Cairn here.
//! - [`cli`]: the `cairn` command line (`serve`, `admin`, `keys`, `healthcheck`, `backup`,
//!   `restore`).
//! - [`routes`]: HTTP handlers; they speak HTTP and nothing else (no SQL, no protocol).
//! - [`error`]: [`error::AppError`], mapping each service error to a status and stable code.
//! - [`transport`]: the sync WebSocket's bytes to and from the sync engine; no services.
//! - [`services`]: what users can do (accounts, plans, HTTP sync, exports, history, access log,
//!   admin, key rotation); no web types.
//! - [`sync`]: the sync engine; it imports only `store`, `domain` and `metrics`,
//!   and its [`sync::core`] imports no I/O at all (no store, no tokio, no actix).
//! - [`store`]: sea-orm over SQLite or Postgres; returns plain records of [`domain`].
//! - [`domain`]: plain records two or more layers share (accounts, plans, changes, accesses).
//! - [`config`], [`crypto`], [`auth`], [`metrics`], [`telemetry`]: settings, encryption at rest,
//!   tokens/passwords/limits, Prometheus metrics, logging.
//! - [`ledger`]: the deletion ledger, a file beside the master key that restores read.

pub mod auth;
pub mod cli;
pub mod config;
pub mod crypto;
pub mod domain;
pub mod error;
pub mod ledger;
pub mod metrics;
pub mod routes;
pub mod services;
pub mod startup;
pub mod store;
pub mod sync;
pub mod telemetry;
pub mod transport;

pub use config::Settings;
pub use startup::Application;
