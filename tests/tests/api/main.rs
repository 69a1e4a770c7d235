//! Integration tests: each starts the real Cairn on port 0 with its own database (SQLite, or
//! Postgres when `TEST_DATABASE_URL` is set) and drives it over HTTP like a client would.
// Tests may panic on a broken set-up; the no-unwrap rule is for request paths.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod access_log;
mod accounts;
mod activity;
mod admin;
mod agreement;
mod at_rest;
mod attacks;
mod attacks_accounts;
mod attacks_codes;
mod attacks_reads;
mod attacks_sync;
mod backup;
mod bad_input;
mod conflicts;
mod console;
mod export;
mod health;
mod history_in_words;
mod leaving;
mod migrations;
mod oidc;
mod passkeys;
mod plans;
mod presence;
mod recovery;
mod samod;
mod scale_out;
mod schema_check;
mod second_factor;
mod security_headers;
mod sync;
mod tokens;
mod tombstones;
mod upgrade;
mod usernames;
mod versions;
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

/// The server's ends of the TCP connections it accepted on `port`, each with whether it sends at
/// once (`TCP_NODELAY`). The test server runs in the test's own process, so its sockets are
/// found in this process's file table (each duplicated through a pidfd, without `unsafe`).
pub(crate) fn accepted_connections(port: u16) -> Vec<(std::net::SocketAddr, bool)> {
    use rustix::process::{PidfdFlags, PidfdGetfdFlags, getpid, pidfd_getfd, pidfd_open};
    let pidfd = pidfd_open(getpid(), PidfdFlags::empty()).expect("a pidfd for this process");
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc/self/fd").expect("this process's file table") {
        let Some(number) = entry
            .ok()
            .and_then(|entry| entry.file_name().to_str()?.parse::<i32>().ok())
        else {
            continue;
        };
        // Not a socket, closed meanwhile, or not a connection: not one of them.
        let Ok(fd) = pidfd_getfd(&pidfd, number, PidfdGetfdFlags::empty()) else {
            continue;
        };
        let local = rustix::net::getsockname(&fd)
            .ok()
            .and_then(|addr| std::net::SocketAddr::try_from(addr).ok());
        let peer = rustix::net::getpeername(&fd)
            .ok()
            .flatten()
            .and_then(|addr| std::net::SocketAddr::try_from(addr).ok());
        if let (Some(local), Some(peer)) = (local, peer)
            && local.port() == port
        {
            let nodelay = rustix::net::sockopt::tcp_nodelay(&fd).expect("a TCP socket's option");
            found.push((peer, nodelay));
        }
    }
    found
}
