//! Transparency: every member can read the whole history of their plan, each change attributed
//! to the account that made it.

use std::collections::HashMap;

use automerge::{AutoSerde, Automerge, Change, ChangeHash, ReadDoc};
use cairn_shared::api::{HistoryEntry, HistorySession};
use cairn_shared::changes_in_words::{changes_between, sentence};
use cairn_shared::{PlanId, UserId};
use chrono::{DateTime, Utc};

use super::Services;
use super::plans::{PlanError, read_document, role_on};
use crate::domain::Caller;
use crate::store::{ChangeLog, LoggedChange};

/// The plan's changes, oldest first, with author names.
pub async fn history(
    services: &Services,
    caller: &Caller,
    plan: PlanId,
) -> Result<Vec<HistoryEntry>, PlanError> {
    role_on(services, caller, plan).await?;
    let log = services.store.change_log(plan).await?;
    // Compacted changes keep their row but not their bytes: read them from the document the
    // sync hub holds. Their rows name them only by keyed id, so the document's changes are
    // named the same way to find them.
    let entries = read_document(services, caller, plan, move |document| {
        decode_log(document, log).map(|decoded| {
            decoded
                .into_iter()
                .map(|(logged, change)| HistoryEntry {
                    hash: const_hex::encode(change.hash().0),
                    author_id: logged.change.author_id,
                    author_name: String::new(),
                    received_at: logged.received_at,
                    made_at: made_at(change.timestamp()),
                    message: change.message().map(|text| text.to_string()),
                    operations: change.len() as u64,
                })
                .collect::<Vec<HistoryEntry>>()
        })
    })
    .await??;
    let mut names: HashMap<UserId, String> = HashMap::new();
    let mut named = Vec::with_capacity(entries.len());
    for mut entry in entries {
        let author = entry.author_id;
        if let std::collections::hash_map::Entry::Vacant(slot) = names.entry(author) {
            let name = services.store.user(author).await?.map(|u| u.display_name);
            slot.insert(name.unwrap_or_default());
        }
        entry.author_name = names.get(&author).cloned().unwrap_or_default();
        named.push(entry);
    }
    Ok(named)
}

/// Every logged change with its decoded Automerge change, in the order stored. Compacted
/// changes keep their row but not their bytes: they are read from the document the sync hub
/// holds, whose changes are named by keyed id the way their rows are.
fn decode_log(
    document: &Automerge,
    log: ChangeLog,
) -> Result<Vec<(LoggedChange, Change)>, PlanError> {
    let by_id: HashMap<String, &Change> = if log
        .entries
        .iter()
        .any(|logged| logged.change.hash.is_empty())
    {
        document
            .get_changes(&[])
            .into_iter()
            .filter_map(|change| {
                let id = log.stored_id(&const_hex::encode(change.hash().0))?;
                Some((id, change))
            })
            .collect()
    } else {
        HashMap::new()
    };
    let mut decoded = Vec::with_capacity(log.entries.len());
    for logged in log.entries.iter().cloned() {
        let held = if logged.change.hash.is_empty() {
            by_id.get(&logged.stored_id).copied()
        } else {
            match logged.change.hash.parse::<ChangeHash>() {
                Ok(hash) => document.get_change_by_hash(&hash),
                Err(_) => None,
            }
        };
        let change = match held {
            Some(change) => change.clone(),
            None if logged.change.data.is_empty() => {
                return Err(PlanError::Document(
                    "a compacted change is not in the document".into(),
                ));
            }
            None => Change::from_bytes(logged.change.data.clone())
                .map_err(|err| PlanError::Document(err.to_string()))?,
        };
        decoded.push((logged, change));
    }
    Ok(decoded)
}

/// One member's run of changes: who, first and last received, the changes.
type Run = (UserId, DateTime<Utc>, DateTime<Utc>, Vec<Change>);

/// How many of the newest sessions are said in words (older ones keep who, when and how many).
pub const SESSIONS_IN_WORDS: usize = 100;

/// Changes by one member with no more than this between them are one session of editing.
const SESSION_GAP_MINUTES: i64 = 30;

/// The plan's history as sessions of editing, oldest first: each member's run of changes (no
/// more than [`SESSION_GAP_MINUTES`] apart), said in the product's words by comparing the plan
/// before and after it.
pub async fn sessions(
    services: &Services,
    caller: &Caller,
    plan: PlanId,
) -> Result<Vec<HistorySession>, PlanError> {
    role_on(services, caller, plan).await?;
    let log = services.store.change_log(plan).await?;
    let found = read_document(services, caller, plan, move |document| {
        let decoded = decode_log(document, log)?;
        let mut runs: Vec<Run> = Vec::new();
        for (logged, change) in decoded {
            let at = logged.received_at;
            match runs.last_mut() {
                Some((author, _, last, changes))
                    if *author == logged.change.author_id
                        && at - *last <= chrono::Duration::minutes(SESSION_GAP_MINUTES) =>
                {
                    *last = at;
                    changes.push(change);
                }
                _ => runs.push((logged.change.author_id, at, at, vec![change])),
            }
        }
        // Saying a session in words reads the whole plan after it; only the newest
        // SESSIONS_IN_WORDS are said, so two members alternating thousands of tiny edits cost
        // one replay of the changes (bounded by the plan's limits) and at most that many reads.
        let first_said = runs.len().saturating_sub(SESSIONS_IN_WORDS);
        let mut replay = Automerge::new();
        let mut before = serde_json::json!({});
        let mut sessions = Vec::with_capacity(runs.len());
        for (index, (author, started_at, ended_at, changes)) in runs.into_iter().enumerate() {
            let count = changes.len() as u64;
            replay
                .apply_changes(changes)
                .map_err(|err| PlanError::Document(err.to_string()))?;
            let said = if index + 1 >= first_said {
                let after = serde_json::to_value(AutoSerde::from(&replay))
                    .map_err(|err| PlanError::Document(err.to_string()))?;
                let said = if index >= first_said {
                    changes_between(&before, &after)
                } else {
                    Vec::new()
                };
                before = after;
                said
            } else {
                Vec::new()
            };
            sessions.push(HistorySession {
                author_id: author,
                author_name: String::new(),
                started_at,
                ended_at,
                changes: count,
                said,
                sentences: Vec::new(),
            });
        }
        Ok::<_, PlanError>(sessions)
    })
    .await??;
    let mut names: HashMap<UserId, String> = HashMap::new();
    let mut named = Vec::with_capacity(found.len());
    for mut session in found {
        let author = session.author_id;
        if let std::collections::hash_map::Entry::Vacant(slot) = names.entry(author) {
            let name = services.store.user(author).await?.map(|u| u.display_name);
            slot.insert(name.unwrap_or_default());
        }
        session.author_name = names.get(&author).cloned().unwrap_or_default();
        session.sentences = session
            .said
            .iter()
            .map(|change| sentence(&session.author_name, change))
            .collect();
        named.push(session);
    }
    Ok(named)
}

/// Automerge clients record the time in milliseconds (JavaScript) or seconds (older clients);
/// zero means none was recorded.
fn made_at(timestamp: i64) -> Option<DateTime<Utc>> {
    match timestamp {
        0 => None,
        t if t > 100_000_000_000 => DateTime::from_timestamp_millis(t),
        t => DateTime::from_timestamp(t, 0),
    }
}
