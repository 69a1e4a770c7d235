//! Named versions of a plan (issue 28): either member names the plan as it stands ("what we
//! agreed on 2 March"); the other acknowledges it; both can open it read-only with what changed
//! since, in words, export it, and restore it as a NEW change that keeps the whole history.
//!
//! A version is the document's heads when it was named; its name and heads are sealed with the
//! plan's data key. Restoring computes, on the server, the edits that bring the current document
//! back to the version's content (removed items re-added with their ids, added ones removed,
//! scalars and texts put back) as one Automerge change by a new actor, uploaded through the sync
//! hub as the caller: bound to them, under the plan's limits, stored and sent to everyone syncing.
//! A member who wrote offline meanwhile merges on reconnect like after any other change.

use std::collections::HashMap;

use automerge::transaction::{CommitOptions, Transactable};
use automerge::{
    ActorId, AutoSerde, Automerge, AutomergeError, ChangeHash, ObjId, ObjType, Prop, ROOT, ReadDoc,
    Value,
};
use cairn_shared::api::{PlanVersion, PlanVersionView};
use cairn_shared::changes_in_words::{changes_between, sentence};
use cairn_shared::{PlanId, UserId};
use chrono::{SubsecRound, Utc};
use tracing::instrument;
use uuid::Uuid;

use super::Services;
use super::plans::{PlanError, read_document, role_on};
use crate::domain::Caller;
use crate::store::StoredVersion;
use crate::sync::HubError;

/// The longest name a version can have, in characters.
pub const MAX_VERSION_NAME_CHARS: usize = 200;

/// Why a version operation was refused.
#[derive(Debug, thiserror::Error)]
pub enum VersionError {
    /// Not a member, a bad input, or the plan could not be read or stored.
    #[error(transparent)]
    Plan(#[from] PlanError),
    /// The plan has no such version.
    #[error("this plan has no version with that id")]
    NotFound,
    /// The caller named it: the other member acknowledges it.
    #[error("you named this version; the other member acknowledges it")]
    NamedByYou,
    /// Someone already acknowledged it.
    #[error("this version was already acknowledged")]
    AlreadyAcknowledged,
    /// The sync hub refused the restoring change, or could not store it.
    #[error(transparent)]
    Hub(#[from] HubError),
}

impl From<crate::store::StoreError> for VersionError {
    fn from(err: crate::store::StoreError) -> Self {
        Self::Plan(err.into())
    }
}

/// A version id from the path: anything unreadable is an unknown version.
pub fn version_id(raw: &str) -> Result<Uuid, VersionError> {
    raw.parse().map_err(|_| VersionError::NotFound)
}

/// Name the plan as it stands now.
#[instrument(skip_all, fields(plan.id = %plan, user.id = %caller.user.id))]
pub async fn name_version(
    services: &Services,
    caller: &Caller,
    plan: PlanId,
    name: &str,
) -> Result<PlanVersion, VersionError> {
    role_on(services, caller, plan).await?;
    let name = name.trim();
    if name.is_empty() {
        return Err(PlanError::InvalidInput("name: a version needs a name".into()).into());
    }
    if name.chars().count() > MAX_VERSION_NAME_CHARS {
        return Err(PlanError::InvalidInput(format!(
            "name: at most {MAX_VERSION_NAME_CHARS} characters"
        ))
        .into());
    }
    if name.chars().any(char::is_control) {
        return Err(
            PlanError::InvalidInput("name: no line breaks or control characters".into()).into(),
        );
    }
    let heads = read_document(services, caller, plan, |document| {
        document
            .get_heads()
            .iter()
            .map(|head| const_hex::encode(head.0))
            .collect::<Vec<_>>()
    })
    .await?;
    let stored = services
        .store
        .insert_version(plan, name, &heads, caller.user.id, stored_now())
        .await?;
    tracing::info!(version.id = %stored.id, "plan version named");
    Ok(described(services, stored, &mut HashMap::new()).await?)
}

/// The plan's named versions, oldest first.
#[instrument(skip_all, fields(plan.id = %plan, user.id = %caller.user.id))]
pub async fn list_versions(
    services: &Services,
    caller: &Caller,
    plan: PlanId,
) -> Result<Vec<PlanVersion>, VersionError> {
    role_on(services, caller, plan).await?;
    let mut names = HashMap::new();
    let mut answer = Vec::new();
    for stored in services.store.versions(plan).await? {
        answer.push(described(services, stored, &mut names).await?);
    }
    Ok(answer)
}

/// The other member acknowledges a version (once; never the one who named it).
#[instrument(skip_all, fields(plan.id = %plan, user.id = %caller.user.id, version.id = %version))]
pub async fn acknowledge(
    services: &Services,
    caller: &Caller,
    plan: PlanId,
    version: Uuid,
) -> Result<PlanVersion, VersionError> {
    let stored = find(services, caller, plan, version).await?;
    if stored.named_by == caller.user.id {
        return Err(VersionError::NamedByYou);
    }
    if stored.acknowledged.is_some() {
        return Err(VersionError::AlreadyAcknowledged);
    }
    let now = stored_now();
    if !services
        .store
        .acknowledge_version(plan, version, caller.user.id, now)
        .await?
    {
        return Err(VersionError::AlreadyAcknowledged);
    }
    tracing::info!("plan version acknowledged");
    let stored = StoredVersion {
        acknowledged: Some((caller.user.id, now)),
        ..stored
    };
    Ok(described(services, stored, &mut HashMap::new()).await?)
}

/// The plan as it was at the version, read-only, and what changed since in words.
#[instrument(skip_all, fields(plan.id = %plan, user.id = %caller.user.id, version.id = %version))]
pub async fn open_version(
    services: &Services,
    caller: &Caller,
    plan: PlanId,
    version: Uuid,
) -> Result<PlanVersionView, VersionError> {
    let stored = find(services, caller, plan, version).await?;
    let heads = parse_heads(&stored.heads)?;
    let (then, now) = read_document(services, caller, plan, move |document| {
        let then = document.fork_at(&heads).map_err(document_error)?;
        Ok::<_, PlanError>((to_json(&then)?, to_json(document)?))
    })
    .await??;
    let changed_since = changes_between(&then, &now);
    let sentences = changed_since
        .iter()
        .map(|change| sentence("Someone", change))
        .collect();
    Ok(PlanVersionView {
        version: described(services, stored, &mut HashMap::new()).await?,
        document: then,
        changed_since,
        sentences,
    })
}

/// What an export of a version needs: the version, the document as it was and its open
/// conflicts then.
pub(crate) async fn version_document(
    services: &Services,
    caller: &Caller,
    plan: PlanId,
    version: Uuid,
) -> Result<
    (
        PlanVersion,
        serde_json::Value,
        Vec<cairn_shared::api::PlanConflict>,
    ),
    VersionError,
> {
    let stored = find(services, caller, plan, version).await?;
    let heads = parse_heads(&stored.heads)?;
    let (then, found) = read_document(services, caller, plan, move |document| {
        let then = document.fork_at(&heads).map_err(document_error)?;
        let found = cairn_shared::conflicts::open_conflicts(&then);
        Ok::<_, PlanError>((to_json(&then)?, found))
    })
    .await??;
    let unsettled = super::conflicts::named(services, plan, found).await?;
    Ok((
        described(services, stored, &mut HashMap::new()).await?,
        then,
        unsettled,
    ))
}

/// Restore the version as a new change on top of the whole history: uploaded as the caller,
/// stored and sent to everyone syncing. Answers the plan's heads after it (unchanged if the
/// plan already reads as the version).
#[instrument(skip_all, fields(plan.id = %plan, user.id = %caller.user.id, version.id = %version))]
pub async fn restore(
    services: &Services,
    caller: &Caller,
    plan: PlanId,
    version: Uuid,
) -> Result<Vec<String>, VersionError> {
    let stored = find(services, caller, plan, version).await?;
    let heads = parse_heads(&stored.heads)?;
    let (change, heads_now) = read_document(services, caller, plan, move |document| {
        let then = document.fork_at(&heads).map_err(document_error)?;
        let mut now = document.fork().with_actor(ActorId::random());
        let mut tx = now.transaction();
        restore_object(&then, &ROOT, &mut tx, &ROOT, ObjType::Map).map_err(document_error)?;
        let (hash, _) = tx.commit_with(
            CommitOptions::default()
                .with_message("Restored a named version".to_owned())
                .with_time(Utc::now().timestamp_millis()),
        );
        let change = match hash {
            Some(hash) => now
                .get_change_by_hash(&hash)
                .map(|change| change.raw_bytes().to_vec()),
            None => None,
        };
        Ok::<_, PlanError>((change, document.get_heads()))
    })
    .await??;
    let heads = match change {
        Some(bytes) => services.hub.upload(plan, caller.user.id, bytes).await?,
        None => heads_now,
    };
    tracing::info!("plan version restored");
    Ok(heads.iter().map(|head| const_hex::encode(head.0)).collect())
}

/// Now, to the microsecond both databases keep, so an answer equals what is read back later.
fn stored_now() -> chrono::DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

async fn find(
    services: &Services,
    caller: &Caller,
    plan: PlanId,
    version: Uuid,
) -> Result<StoredVersion, VersionError> {
    role_on(services, caller, plan).await?;
    services
        .store
        .version(plan, version)
        .await?
        .ok_or(VersionError::NotFound)
}

fn parse_heads(heads: &[String]) -> Result<Vec<ChangeHash>, PlanError> {
    heads
        .iter()
        .map(|hex| hex.parse::<ChangeHash>())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| PlanError::Document("a version's heads are not change hashes".into()))
}

fn document_error(err: impl std::fmt::Display) -> PlanError {
    PlanError::Document(err.to_string())
}

fn to_json(document: &Automerge) -> Result<serde_json::Value, PlanError> {
    serde_json::to_value(AutoSerde::from(document)).map_err(document_error)
}

/// The API's shape of a version, with display names (looked up once per person).
async fn described(
    services: &Services,
    stored: StoredVersion,
    names: &mut HashMap<UserId, String>,
) -> Result<PlanVersion, PlanError> {
    let named_by_name = name_of(services, stored.named_by, names).await?;
    let acknowledged_by_name = match stored.acknowledged {
        Some((by, _)) => Some(name_of(services, by, names).await?),
        None => None,
    };
    Ok(PlanVersion {
        id: stored.id,
        name: stored.name,
        named_by: stored.named_by,
        named_by_name,
        named_at: stored.named_at,
        heads: stored.heads,
        acknowledged_by: stored.acknowledged.map(|(by, _)| by),
        acknowledged_by_name,
        acknowledged_at: stored.acknowledged.map(|(_, at)| at),
    })
}

async fn name_of(
    services: &Services,
    user: UserId,
    names: &mut HashMap<UserId, String>,
) -> Result<String, PlanError> {
    if let Some(name) = names.get(&user) {
        return Ok(name.clone());
    }
    let name = services
        .store
        .user(user)
        .await?
        .map(|user| user.display_name)
        .unwrap_or_default();
    names.insert(user, name.clone());
    Ok(name)
}

// Bringing a document back to a version's content, as edits on top of what it holds now.

/// Where a value goes in its parent.
#[derive(Clone)]
enum Place {
    Key(String),
    Index(usize),
}

/// Make `cur` (an object of the document being written) read as `old` (the same object, or
/// one standing for it, in the document at the version).
fn restore_object<T: Transactable + ReadDoc>(
    old_doc: &Automerge,
    old: &ObjId,
    tx: &mut T,
    cur: &ObjId,
    kind: ObjType,
) -> Result<(), AutomergeError> {
    match kind {
        ObjType::Map | ObjType::Table => restore_map(old_doc, old, tx, cur),
        ObjType::List => restore_list(old_doc, old, tx, cur),
        ObjType::Text => {
            let was = old_doc.text(old)?;
            if tx.text(cur)? != was {
                tx.update_text(cur, &was)?;
            }
            Ok(())
        }
    }
}

fn restore_map<T: Transactable + ReadDoc>(
    old_doc: &Automerge,
    old: &ObjId,
    tx: &mut T,
    cur: &ObjId,
) -> Result<(), AutomergeError> {
    let old_keys: Vec<String> = old_doc.keys(old).collect();
    let cur_keys: Vec<String> = tx.keys(cur).collect();
    for key in cur_keys.iter().filter(|key| !old_keys.contains(key)) {
        tx.delete(cur, key.as_str())?;
    }
    for key in old_keys {
        let Some(was) = old_doc.get(old, key.as_str())? else {
            continue;
        };
        let standing = tx.get_all(cur, key.as_str())?;
        let settled = standing.len() <= 1;
        match (&was, standing.first()) {
            ((Value::Object(old_kind), _), Some((Value::Object(cur_kind), cur_id)))
                if old_kind == cur_kind && settled =>
            {
                let cur_id = cur_id.clone();
                restore_object(old_doc, &was.1, tx, &cur_id, *old_kind)?;
            }
            ((Value::Scalar(old_value), _), Some((Value::Scalar(cur_value), _)))
                if old_value == cur_value && settled => {}
            _ => write_copy(old_doc, &was, tx, cur, Place::Key(key))?,
        }
    }
    Ok(())
}

/// The identity of a list element: its `id` field for an item of the plan (goals, steps,
/// strengths, …), else the object itself. Scalars have none.
fn identity<D: ReadDoc>(doc: &D, value: &(Value<'_>, ObjId)) -> Option<String> {
    match value {
        (Value::Object(ObjType::Map), id) => match doc.get(id, "id") {
            Ok(Some((Value::Scalar(scalar), _))) => match scalar.as_ref() {
                automerge::ScalarValue::Str(text) => Some(format!("id:{text}")),
                other => Some(format!("id:{other}")),
            },
            _ => Some(format!("obj:{id}")),
        },
        (Value::Object(_), id) => Some(format!("obj:{id}")),
        (Value::Scalar(_), _) => None,
    }
}

fn list_items<D: ReadDoc>(
    doc: &D,
    list: &ObjId,
) -> Result<Vec<(Value<'static>, ObjId)>, AutomergeError> {
    let mut items = Vec::new();
    for index in 0..doc.length(list) {
        if let Some((value, id)) = doc.get(list, index)? {
            items.push((value.to_owned(), id));
        }
    }
    Ok(items)
}

fn restore_list<T: Transactable + ReadDoc>(
    old_doc: &Automerge,
    old: &ObjId,
    tx: &mut T,
    cur: &ObjId,
) -> Result<(), AutomergeError> {
    let was = list_items(old_doc, old)?;
    let keys_was: Vec<Option<String>> = was.iter().map(|item| identity(old_doc, item)).collect();
    let is = list_items(tx, cur)?;
    let keys_is: Vec<Option<String>> = is.iter().map(|item| identity(tx, item)).collect();
    if keys_was.iter().chain(keys_is.iter()).any(Option::is_none) {
        // A list of plain values: put it back whole if it differs.
        let same = was.len() == is.len() && was.iter().zip(is.iter()).all(|(a, b)| a.0 == b.0);
        if !same {
            for index in (0..is.len()).rev() {
                tx.delete(cur, index)?;
            }
            for (index, item) in was.iter().enumerate() {
                write_copy(old_doc, item, tx, cur, Place::Index(index))?;
            }
        }
        return Ok(());
    }
    // Remove what was added since (or is not in the version).
    for index in (0..is.len()).rev() {
        if !keys_was.contains(&keys_is[index]) {
            tx.delete(cur, index)?;
        }
    }
    // Walk the version's items in order: keep and restore each one still there, put back the
    // ones removed since, and put moved ones back in their place.
    let mut position = 0;
    for (item, key) in was.iter().zip(keys_was.iter()) {
        let here = list_items(tx, cur)?;
        let at = here
            .iter()
            .enumerate()
            .skip(position)
            .find(|(_, candidate)| identity(tx, candidate) == *key)
            .map(|(index, _)| index);
        match (at, &item.0) {
            (Some(index), Value::Object(kind)) if index == position => {
                let cur_kind = match &here[index].0 {
                    Value::Object(cur_kind) => Some(*cur_kind),
                    Value::Scalar(_) => None,
                };
                if cur_kind == Some(*kind) {
                    restore_object(old_doc, &item.1, tx, &here[index].1, *kind)?;
                } else {
                    tx.delete(cur, index)?;
                    write_copy(old_doc, item, tx, cur, Place::Index(index))?;
                }
            }
            (Some(index), _) => {
                tx.delete(cur, index)?;
                write_copy(old_doc, item, tx, cur, Place::Index(position))?;
            }
            (None, _) => write_copy(old_doc, item, tx, cur, Place::Index(position))?,
        }
        position += 1;
    }
    // Whatever is left is a second copy of an item already in place.
    while tx.length(cur) > position {
        tx.delete(cur, position)?;
    }
    Ok(())
}

/// Write a copy of the version's value at `place` in `parent`.
fn write_copy<T: Transactable + ReadDoc>(
    old_doc: &Automerge,
    value: &(Value<'_>, ObjId),
    tx: &mut T,
    parent: &ObjId,
    place: Place,
) -> Result<(), AutomergeError> {
    match &value.0 {
        Value::Scalar(scalar) => {
            let scalar = scalar.as_ref().clone();
            match place {
                Place::Key(key) => tx.put(parent, key, scalar)?,
                Place::Index(index) => tx.insert(parent, index, scalar)?,
            }
        }
        Value::Object(kind) => {
            let made = match place {
                Place::Key(key) => tx.put_object(parent, Prop::Map(key), *kind)?,
                Place::Index(index) => tx.insert_object(parent, index, *kind)?,
            };
            fill(old_doc, &value.1, *kind, tx, &made)?;
        }
    }
    Ok(())
}

/// Fill a new, empty object with a copy of the version's object.
fn fill<T: Transactable + ReadDoc>(
    old_doc: &Automerge,
    old: &ObjId,
    kind: ObjType,
    tx: &mut T,
    made: &ObjId,
) -> Result<(), AutomergeError> {
    match kind {
        ObjType::Map | ObjType::Table => {
            let keys: Vec<String> = old_doc.keys(old).collect();
            for key in keys {
                if let Some(value) = old_doc.get(old, key.as_str())? {
                    write_copy(old_doc, &value, tx, made, Place::Key(key))?;
                }
            }
        }
        ObjType::List => {
            for (index, item) in list_items(old_doc, old)?.iter().enumerate() {
                write_copy(old_doc, item, tx, made, Place::Index(index))?;
            }
        }
        ObjType::Text => {
            let text = old_doc.text(old)?;
            tx.splice_text(made, 0, 0, &text)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use automerge::transaction::Transactable;
    use automerge::{ActorId, AutoSerde, Automerge, ObjType, ROOT, ReadDoc};

    use super::restore_object;

    fn json(doc: &Automerge) -> serde_json::Value {
        serde_json::to_value(AutoSerde::from(doc)).expect("json")
    }

    fn add_item(
        tx: &mut impl Transactable,
        list: &automerge::ObjId,
        at: usize,
        id: &str,
        text: &str,
    ) {
        let item = tx.insert_object(list, at, ObjType::Map).expect("item");
        tx.put(&item, "id", id).expect("id");
        let words = tx.put_object(&item, "text", ObjType::Text).expect("text");
        tx.splice_text(&words, 0, 0, text).expect("words");
        tx.put_object(&item, "steps", ObjType::List).expect("steps");
    }

    fn list(doc: &impl ReadDoc, key: &str) -> automerge::ObjId {
        doc.get(ROOT, key).expect("read").expect("list").1
    }

    /// Whatever happened since (items added, removed, moved and reworded, a scalar changed, a key
    /// added and one removed, a nested list changed), restoring gives back the version's
    /// content, as one change on top of the history.
    #[test]
    fn restoring_gives_back_the_versions_content_whatever_happened_since() {
        let mut doc = Automerge::new().with_actor(ActorId::random());
        let mut tx = doc.transaction();
        let goals = tx.put_object(ROOT, "goals", ObjType::List).expect("goals");
        for (at, id) in ["a", "b", "c", "d"].iter().enumerate() {
            add_item(&mut tx, &goals, at, id, &format!("goal {id}"));
        }
        tx.put(ROOT, "status", "thinking").expect("status");
        tx.put(ROOT, "kept", 1).expect("kept");
        let tags = tx.put_object(ROOT, "tags", ObjType::List).expect("tags");
        tx.insert(&tags, 0, "x").expect("tag");
        tx.commit();
        let version_heads = doc.get_heads();
        let version = json(&doc);

        // Since: b removed, c moved first, a reworded, e added, a step under d, scalars changed.
        let mut tx = doc.transaction();
        let goals = list(&tx, "goals");
        tx.delete(&goals, 1).expect("remove b");
        let c = tx.get(&goals, 1).expect("read").expect("c").1;
        let c_text = tx.get(&c, "text").expect("read").expect("text").1;
        let c_words = tx.text(&c_text).expect("words");
        tx.delete(&goals, 1).expect("move c: remove");
        add_item(&mut tx, &goals, 0, "c", &c_words);
        let a = tx.get(&goals, 1).expect("read").expect("a").1;
        let a_text = tx.get(&a, "text").expect("read").expect("text").1;
        tx.splice_text(&a_text, 0, 4, "a new").expect("reword");
        add_item(&mut tx, &goals, 3, "e", "goal e");
        let d = tx.get(&goals, 2).expect("read").expect("d").1;
        let steps = tx.get(&d, "steps").expect("read").expect("steps").1;
        tx.insert(&steps, 0, "a step").expect("step");
        tx.put(ROOT, "status", "working").expect("status");
        tx.delete(ROOT, "kept").expect("kept");
        tx.put(ROOT, "added", true).expect("added");
        let tags = list(&tx, "tags");
        tx.insert(&tags, 1, "y").expect("tag");
        tx.commit();
        assert_ne!(json(&doc), version);
        let changes_before = doc.get_changes(&[]).len();

        let then = doc.fork_at(&version_heads).expect("fork");
        let mut tx = doc.transaction();
        restore_object(&then, &ROOT, &mut tx, &ROOT, ObjType::Map).expect("restore");
        tx.commit();
        assert_eq!(json(&doc), version);
        assert_eq!(
            doc.get_changes(&[]).len(),
            changes_before + 1,
            "one new change"
        );

        // Already the version: nothing to do.
        let then = doc.fork_at(&version_heads).expect("fork");
        let mut tx = doc.transaction();
        restore_object(&then, &ROOT, &mut tx, &ROOT, ObjType::Map).expect("restore");
        assert_eq!(tx.pending_ops(), 0);
    }
}
