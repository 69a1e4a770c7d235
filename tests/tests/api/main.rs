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

/// The text at `key` of the plan's root, if it is a string.
pub(crate) fn note(doc: &automerge::AutoCommit, key: &str) -> Option<String> {
    match automerge::ReadDoc::get(doc, automerge::ROOT, key)
        .ok()
        .flatten()
    {
        Some((automerge::Value::Scalar(s), _)) => s.to_str().map(str::to_owned),
        _ => None,
    }
}

/// Write `value` at `key` of the client's copy of `document`, as one change.
pub(crate) fn put(
    client: &mut cairn_tests::sync_client::SyncClient,
    document: &str,
    key: &str,
    value: &str,
) {
    let tracked = client.docs.get_mut(document).expect("tracked document");
    automerge::transaction::Transactable::put(&mut tracked.doc, automerge::ROOT, key, value)
        .expect("put");
    tracked.doc.commit();
}
