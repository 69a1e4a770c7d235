//! `cairn-server`: the Cairn sync server for shared recovery plans, as a library (so tests can
//! start the real thing) and the `cairn` binary.

pub mod auth;
pub mod cli;
pub mod config;
pub mod crypto;
pub mod domain;
pub mod error;
pub mod metrics;
pub mod routes;
pub mod services;
pub mod startup;
pub mod store;
pub mod sync;
pub mod telemetry;

pub use config::Settings;
pub use startup::Application;
