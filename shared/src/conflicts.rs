//! Conflicts: where members' concurrent edits left different values on one field of a plan.
//!
//! Automerge merges concurrent edits, but a single value (a goal's status, a step's `who`,
//! `done` or due date) keeps one winner and hides the others. They are still in the document
//! (`get_all`), so Cairn shows every value still standing, with the actor that wrote each, until
//! a member settles the field by writing one: an ordinary change, which supersedes every value
//! it saw, so the conflict is gone on every device once they have synced.
//!
//! Text (the person's words) never conflicts: Automerge merges it character by character. The
//! walk reads only the document, so a member's device, the server and any client that has
//! synced the same changes find the same conflicts, in the same order.

use automerge::{ObjId, ObjType, ReadDoc, ScalarValue, Value};
use serde_json::Value as Json;

/// A field where concurrent edits left more than one value.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldConflict {
    /// Where: the keys from the root, list items named by their `id`
    /// (`goals[<goal id>].steps[<step id>].due`), or by position when they have none.
    pub path: String,
    /// The field's name (`status`, `who`, `done`, `due`, …).
    pub field: String,
    /// The id of the list item the field belongs to (a goal, a step, …), if any.
    pub item_id: Option<String>,
    /// The map or list holding the field (the same id on every device).
    pub object: ObjId,
    /// Every value still standing, in Automerge's order (the same on every device).
    pub values: Vec<StandingValue>,
}

/// One of a conflict's values, and who wrote it.
#[derive(Debug, Clone, PartialEq)]
pub struct StandingValue {
    /// The value, as JSON (text as a string).
    pub value: Json,
    /// The hex id of the Automerge actor whose change wrote it.
    pub actor: String,
}

/// Every field of the document with more than one value standing, in document order.
pub fn open_conflicts<D: ReadDoc>(doc: &D) -> Vec<FieldConflict> {
    let mut found = Vec::new();
    walk_map(doc, &automerge::ROOT, "", None, &mut found);
    found
}

fn walk_map<D: ReadDoc>(
    doc: &D,
    map: &ObjId,
    path: &str,
    item_id: Option<&str>,
    found: &mut Vec<FieldConflict>,
) {
    for key in doc.keys(map) {
        let here = if path.is_empty() {
            key.clone()
        } else {
            format!("{path}.{key}")
        };
        let standing = doc.get_all(map, key.as_str()).unwrap_or_default();
        if let Some(values) = differing(doc, &standing) {
            found.push(FieldConflict {
                path: here.clone(),
                field: key.clone(),
                item_id: item_id.map(str::to_owned),
                object: map.clone(),
                values,
            });
        }
        // Inside, only the value Automerge shows (the others are whole objects, shown above).
        match doc.get(map, key.as_str()) {
            Ok(Some((Value::Object(ObjType::Map), id))) => walk_map(doc, &id, &here, None, found),
            Ok(Some((Value::Object(ObjType::List), id))) => walk_list(doc, &id, &here, found),
            _ => {}
        }
    }
}

fn walk_list<D: ReadDoc>(doc: &D, list: &ObjId, path: &str, found: &mut Vec<FieldConflict>) {
    for index in 0..doc.length(list) {
        let Ok(Some((value, id))) = doc.get(list, index) else {
            continue;
        };
        let item_id = match &value {
            Value::Object(ObjType::Map) => item_id_of(doc, &id),
            _ => None,
        };
        let here = match &item_id {
            Some(item) => format!("{path}[{item}]"),
            None => format!("{path}[{index}]"),
        };
        let standing = doc.get_all(list, index).unwrap_or_default();
        if let Some(values) = differing(doc, &standing) {
            found.push(FieldConflict {
                path: here.clone(),
                field: index.to_string(),
                item_id: None,
                object: list.clone(),
                values,
            });
        }
        match value {
            Value::Object(ObjType::Map) => walk_map(doc, &id, &here, item_id.as_deref(), found),
            Value::Object(ObjType::List) => walk_list(doc, &id, &here, found),
            _ => {}
        }
    }
}

/// Settle a conflict by choosing `value` (one of those standing, or any other): one ordinary
/// change, which supersedes every value this document has seen there. The caller commits.
pub fn settle(
    doc: &mut automerge::AutoCommit,
    conflict: &FieldConflict,
    value: &Json,
) -> Result<(), automerge::AutomergeError> {
    use automerge::transaction::Transactable;
    let scalar = match value {
        Json::String(text) => ScalarValue::Str(text.as_str().into()),
        Json::Bool(b) => ScalarValue::Boolean(*b),
        Json::Number(n) => match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => ScalarValue::Int(i),
            (None, Some(u)) => ScalarValue::Uint(u),
            _ => ScalarValue::F64(n.as_f64().unwrap_or_default()),
        },
        Json::Null | Json::Array(_) | Json::Object(_) => ScalarValue::Null,
    };
    match conflict.field.parse::<usize>() {
        Ok(index) if doc.object_type(&conflict.object) == Ok(ObjType::List) => {
            doc.put(&conflict.object, index, scalar)
        }
        _ => doc.put(&conflict.object, conflict.field.as_str(), scalar),
    }
}

/// The values standing at one place, when there are several and they are not all the same (two
/// members choosing the same status at once agree: nothing to settle).
fn differing<D: ReadDoc>(doc: &D, standing: &[(Value<'_>, ObjId)]) -> Option<Vec<StandingValue>> {
    if standing.len() < 2 {
        return None;
    }
    let values: Vec<StandingValue> = standing
        .iter()
        .map(|(value, id)| StandingValue {
            value: to_json(doc, value, id),
            actor: actor_of(id),
        })
        .collect();
    let first = &values[0].value;
    if values.iter().all(|standing| &standing.value == first) {
        return None;
    }
    Some(values)
}

/// A list item's `id` field, as text.
fn item_id_of<D: ReadDoc>(doc: &D, item: &ObjId) -> Option<String> {
    match doc.get(item, "id") {
        Ok(Some((Value::Scalar(scalar), _))) => match scalar.as_ref() {
            ScalarValue::Str(text) => Some(text.to_string()),
            _ => None,
        },
        Ok(Some((Value::Object(ObjType::Text), id))) => doc.text(&id).ok(),
        _ => None,
    }
}

/// The actor that wrote an operation, in hex.
fn actor_of(id: &ObjId) -> String {
    match id {
        ObjId::Root => String::new(),
        ObjId::Id(_, actor, _) => actor.to_hex_string(),
    }
}

/// A value as JSON: scalars as themselves, text as its string, maps and lists whole.
pub fn to_json<D: ReadDoc>(doc: &D, value: &Value<'_>, id: &ObjId) -> Json {
    match value {
        Value::Scalar(scalar) => scalar_json(scalar),
        Value::Object(ObjType::Text) => Json::String(doc.text(id).unwrap_or_default()),
        Value::Object(ObjType::Map | ObjType::Table) => Json::Object(
            doc.map_range(id, ..)
                .map(|item| {
                    let value = to_json(doc, &item.value, &item.id);
                    (item.key.to_string(), value)
                })
                .collect(),
        ),
        Value::Object(ObjType::List) => Json::Array(
            doc.list_range(id, ..)
                .map(|item| to_json(doc, &item.value, &item.id))
                .collect(),
        ),
    }
}

fn scalar_json(scalar: &ScalarValue) -> Json {
    match scalar {
        ScalarValue::Str(text) => Json::String(text.to_string()),
        ScalarValue::Int(n) => Json::from(*n),
        ScalarValue::Uint(n) => Json::from(*n),
        ScalarValue::F64(n) => serde_json::Number::from_f64(*n).map_or(Json::Null, Json::Number),
        ScalarValue::Counter(counter) => Json::from(i64::from(counter)),
        ScalarValue::Timestamp(ms) => Json::from(*ms),
        ScalarValue::Boolean(b) => Json::Bool(*b),
        ScalarValue::Null => Json::Null,
        ScalarValue::Bytes(_) | ScalarValue::Unknown { .. } => Json::Null,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{Goal, GoalStatus, new_plan_document, write};
    use automerge::transaction::Transactable;
    use automerge::{ActorId, AutoCommit};

    fn two_members() -> (AutoCommit, AutoCommit, String) {
        let mut person =
            new_plan_document(ActorId::from(b"person".as_slice()), "Moving on").expect("a plan");
        let goal = Goal {
            id: "g1".into(),
            text: "Get my own place".into(),
            status: GoalStatus::Thinking,
            steps: Vec::new(),
            created_by: "someone".into(),
            created_at: "2026-03-02T10:00:00Z".into(),
            agreement: Default::default(),
        };
        write::add_goal(&mut person, &goal).expect("goal");
        person.commit();
        let supporter = person
            .fork()
            .with_actor(ActorId::from(b"supporter".as_slice()));
        (person, supporter, "g1".into())
    }

    #[test]
    fn concurrent_statuses_are_both_shown_with_their_writers_and_a_choice_settles_them() {
        let (mut person, mut supporter, goal) = two_members();
        write::set_goal_status(&mut person, &goal, GoalStatus::LetGo).expect("status");
        write::set_goal_status(&mut supporter, &goal, GoalStatus::Working).expect("status");
        person.merge(&mut supporter).expect("merge");
        supporter.merge(&mut person).expect("merge");
        let seen = open_conflicts(&person);
        assert_eq!(seen, open_conflicts(&supporter), "both see the same");
        assert_eq!(seen.len(), 1, "{seen:?}");
        assert_eq!(seen[0].path, "goals[g1].status");
        assert_eq!(seen[0].field, "status");
        assert_eq!(seen[0].item_id.as_deref(), Some("g1"));
        let mut values: Vec<_> = seen[0]
            .values
            .iter()
            .map(|v| (v.value.clone(), v.actor.clone()))
            .collect();
        values.sort_by(|a, b| a.1.cmp(&b.1));
        assert_eq!(
            values,
            vec![
                (
                    Json::from("let-go"),
                    ActorId::from(b"person".as_slice()).to_hex_string()
                ),
                (
                    Json::from("working"),
                    ActorId::from(b"supporter".as_slice()).to_hex_string()
                ),
            ]
        );

        // The supporter settles it by choosing the person's value: gone for both.
        write::set_goal_status(&mut supporter, &goal, GoalStatus::LetGo).expect("status");
        person.merge(&mut supporter).expect("merge");
        assert!(open_conflicts(&person).is_empty());
        assert!(open_conflicts(&supporter).is_empty());
    }

    #[test]
    fn keeping_the_value_shown_settles_too() {
        let (mut person, mut supporter, goal) = two_members();
        write::set_goal_status(&mut person, &goal, GoalStatus::LetGo).expect("status");
        write::set_goal_status(&mut supporter, &goal, GoalStatus::Working).expect("status");
        person.merge(&mut supporter).expect("merge");
        let conflict = open_conflicts(&person).remove(0);
        let shown = to_json(
            &person,
            &person.get(&conflict.object, "status").unwrap().unwrap().0,
            &conflict.object,
        );
        settle(&mut person, &conflict, &shown).expect("settle");
        person.commit();
        assert!(open_conflicts(&person).is_empty());
        supporter.merge(&mut person).expect("merge");
        assert!(open_conflicts(&supporter).is_empty());
    }

    #[test]
    fn concurrent_typing_and_the_same_choice_are_no_conflict_but_two_whole_titles_are() {
        let (mut person, mut supporter, goal) = two_members();
        // Typing in the same text at once merges character by character.
        let list = person.get(automerge::ROOT, "goals").unwrap().unwrap().1;
        let item = person.get(&list, 0).unwrap().unwrap().1;
        let text = person.get(&item, "text").unwrap().unwrap().1;
        person.splice_text(&text, 0, 0, "Soon: ").expect("type");
        let text_there = supporter.get(&item, "text").unwrap().unwrap().1;
        supporter
            .splice_text(&text_there, 0, 0, "Really ")
            .expect("type");
        assert!(
            open_conflicts(&{
                let mut both = person.fork();
                both.merge(&mut supporter).expect("merge");
                both
            })
            .is_empty()
        );
        // Both choosing the same status at once agree: nothing to settle.
        write::set_goal_status(&mut person, &goal, GoalStatus::Done).expect("status");
        write::set_goal_status(&mut supporter, &goal, GoalStatus::Done).expect("status");
        person.merge(&mut supporter).expect("merge");
        assert!(open_conflicts(&person).is_empty());
        // Two whole objects put at one key at once: shown as their contents.
        let mut a = AutoCommit::new().with_actor(ActorId::from(b"a".as_slice()));
        let mut b = AutoCommit::new().with_actor(ActorId::from(b"b".as_slice()));
        let t = a
            .put_object(automerge::ROOT, "title", ObjType::Text)
            .unwrap();
        a.splice_text(&t, 0, 0, "Ours").unwrap();
        let t = b
            .put_object(automerge::ROOT, "title", ObjType::Text)
            .unwrap();
        b.splice_text(&t, 0, 0, "Mine").unwrap();
        a.merge(&mut b).unwrap();
        let seen = open_conflicts(&a);
        assert_eq!(seen.len(), 1);
        let mut words: Vec<_> = seen[0].values.iter().map(|v| v.value.clone()).collect();
        words.sort_by_key(|v| v.to_string());
        assert_eq!(words, vec![Json::from("Mine"), Json::from("Ours")]);
        drop(goal);
    }
}
