//! Integration tests: each starts the real Cairn on port 0 with its own database (SQLite, or
//! Postgres when `TEST_DATABASE_URL` is set) and drives it over HTTP like a client would.
// Tests may panic on a broken set-up; the no-unwrap rule is for request paths.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod access_log;
mod accounts;
mod admin;
mod at_rest;
mod attacks;
mod bad_input;
mod export;
mod health;
mod load;
mod migrations;
mod plans;
mod samod;
mod scale_out;
mod schema_check;
mod security_headers;
mod sync;
mod tokens;
mod tombstones;
mod web_app;
