//! Integration tests: each starts the real Cairn on port 0 with its own database (SQLite, or
//! Postgres when `TEST_DATABASE_URL` is set) and drives it over HTTP like a client would.
// Tests may panic on a broken set-up; the no-unwrap rule is for request paths.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod accounts;
mod admin;
mod bad_input;
mod health;
mod migrations;
mod plans;
mod samod;
mod sync;
mod tokens;
