//! Integration tests: each starts the real Cairn on port 0 with its own database (SQLite, or
//! Postgres when `TEST_DATABASE_URL` is set) and drives it over HTTP like a client would.

mod accounts;
mod admin;
mod bad_input;
mod health;
mod migrations;
mod plans;
mod tokens;
