//! The plan document, schema v1: one Automerge document per plan.
//!
//! Root keys: `schemaVersion` (1), `title` and `whatMatters` (text, in the person's own words),
//! and the lists `strengths`, `goals`, `supports` and `checkIns`. Every list item is a map with a
//! string `id`, so concurrent edits merge by identity, not by position. The full schema (goal
//! statuses, steps with `who`, check-ins) is documented in `client-schema/`.
//!
//! Only one side ever initialises a document's skeleton (the server for REST-created plans, the
//! client for plans created offline): two skeletons written independently would create two
//! conflicting list objects and hide each other's items.

use automerge::transaction::Transactable;
use automerge::{ActorId, AutoCommit, ObjType, ROOT, ReadDoc, ScalarValue, Value};

/// The schema version this build writes.
pub const SCHEMA_VERSION: i64 = 1;

/// The root list keys of a v1 plan.
pub const LIST_KEYS: [&str; 4] = ["strengths", "goals", "supports", "checkIns"];

/// Build a fresh v1 plan document with the given title, its changes written by `actor`.
pub fn new_plan_document(
    actor: ActorId,
    title: &str,
) -> Result<AutoCommit, automerge::AutomergeError> {
    let mut doc = AutoCommit::new().with_actor(actor);
    doc.put(ROOT, "schemaVersion", SCHEMA_VERSION)?;
    let title_text = doc.put_object(ROOT, "title", ObjType::Text)?;
    doc.splice_text(&title_text, 0, 0, title)?;
    doc.put_object(ROOT, "whatMatters", ObjType::Text)?;
    for key in LIST_KEYS {
        doc.put_object(ROOT, key, ObjType::List)?;
    }
    doc.commit();
    Ok(doc)
}

/// The plan's title as the document holds it now (text or plain string); empty if absent.
pub fn read_title<D: ReadDoc>(doc: &D) -> String {
    match doc.get(ROOT, "title") {
        Ok(Some((Value::Object(ObjType::Text), id))) => doc.text(&id).unwrap_or_default(),
        Ok(Some((Value::Scalar(scalar), _))) => match scalar.as_ref() {
            ScalarValue::Str(text) => text.to_string(),
            _ => String::new(),
        },
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skeleton_has_every_v1_key_and_the_title() -> Result<(), automerge::AutomergeError> {
        let doc = new_plan_document(ActorId::random(), "My way forward")?;
        assert_eq!(read_title(&doc), "My way forward");
        let keys: Vec<String> = doc.keys(ROOT).collect();
        for key in ["schemaVersion", "title", "whatMatters"]
            .iter()
            .chain(LIST_KEYS.iter())
        {
            assert!(keys.iter().any(|k| k == key), "missing {key}");
        }
        Ok(())
    }
}
