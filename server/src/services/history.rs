//! Transparency: every member can read the whole history of their plan, each change attributed
//! to the account that made it.

use std::borrow::Cow;
use std::collections::HashMap;

use automerge::{Change, ChangeHash, ReadDoc};
use cairn_shared::api::HistoryEntry;
use cairn_shared::{PlanId, UserId};
use chrono::{DateTime, Utc};

use super::Services;
use super::plans::{PlanError, read_document, role_on};
use crate::domain::Caller;

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
        log.entries
            .into_iter()
            .map(|logged| {
                let held = if logged.change.hash.is_empty() {
                    by_id.get(&logged.stored_id).copied()
                } else {
                    match logged.change.hash.parse::<ChangeHash>() {
                        Ok(hash) => document.get_change_by_hash(&hash),
                        Err(_) => None,
                    }
                };
                let decoded = match held {
                    Some(change) => Cow::Borrowed(change),
                    None if logged.change.data.is_empty() => {
                        return Err(PlanError::Document(
                            "a compacted change is not in the document".into(),
                        ));
                    }
                    None => Cow::Owned(
                        Change::from_bytes(logged.change.data)
                            .map_err(|err| PlanError::Document(err.to_string()))?,
                    ),
                };
                Ok(HistoryEntry {
                    hash: const_hex::encode(decoded.hash().0),
                    author_id: logged.change.author_id,
                    author_name: String::new(),
                    received_at: logged.received_at,
                    made_at: made_at(decoded.timestamp()),
                    message: decoded.message().map(|text| text.to_string()),
                    operations: decoded.len() as u64,
                })
            })
            .collect::<Result<Vec<HistoryEntry>, PlanError>>()
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

/// Automerge clients record the time in milliseconds (JavaScript) or seconds (older clients);
/// zero means none was recorded.
fn made_at(timestamp: i64) -> Option<DateTime<Utc>> {
    match timestamp {
        0 => None,
        t if t > 100_000_000_000 => DateTime::from_timestamp_millis(t),
        t => DateTime::from_timestamp(t, 0),
    }
}
