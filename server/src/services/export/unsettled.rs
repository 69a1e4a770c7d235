//! Unsettled fields in exports: where the members' concurrent edits left different values, an
//! export says so, naming every value and who chose it, instead of showing the one Automerge
//! happens to display as if it had won.

use cairn_shared::api::{ConflictingValue, PlanConflict};
use cairn_shared::plan::{GoalStatus, StepWho};
use serde_json::Value;

/// The field's conflict, if the item with `item_id` has one on `field`.
pub fn on<'a>(
    conflicts: &'a [PlanConflict],
    item_id: Option<&str>,
    field: &str,
) -> Option<&'a PlanConflict> {
    let item_id = item_id?;
    conflicts
        .iter()
        .find(|c| c.item_id.as_deref() == Some(item_id) && c.field == field)
}

/// "Let it go (Maria) or Working on it (Sam)": every value, in words, with who chose it.
pub fn choices(conflict: &PlanConflict) -> String {
    conflict
        .values
        .iter()
        .map(|value| match &value.author_name {
            Some(name) => format!("{} ({name})", value_words(&conflict.field, value)),
            None => value_words(&conflict.field, value),
        })
        .collect::<Vec<_>>()
        .join(" or ")
}

/// A value in the product's words: statuses and who does a step as people read them.
fn value_words(field: &str, value: &ConflictingValue) -> String {
    let text = match &value.value {
        Value::String(text) => text.clone(),
        Value::Bool(true) => return "done".to_owned(),
        Value::Bool(false) => return "not done".to_owned(),
        Value::Null => return "nothing".to_owned(),
        other => other.to_string(),
    };
    let known = match field {
        "status" => serde_json::from_value::<GoalStatus>(Value::String(text.clone()))
            .ok()
            .map(GoalStatus::plain_words),
        "who" => serde_json::from_value::<StepWho>(Value::String(text.clone()))
            .ok()
            .map(StepWho::plain_words),
        _ => None,
    };
    known.map_or(text, str::to_owned)
}

/// What the field is, in words ("where it stands").
fn field_words(field: &str) -> &str {
    match field {
        "status" => "where it stands",
        "who" => "who does it",
        "done" => "whether it is done",
        "due" => "when",
        "kind" => "what kind of support it is",
        "date" => "the day",
        "title" => "the plan's name",
        "contact" => "how to reach them",
        other => other,
    }
}

/// The words of the item a conflict is on (a goal's or step's text, a support's name), found
/// in the document by its id.
fn item_words(document: &Value, item_id: &str) -> Option<String> {
    fn find<'a>(value: &'a Value, item_id: &str) -> Option<&'a Value> {
        match value {
            Value::Object(map) => {
                if map.get("id").and_then(Value::as_str) == Some(item_id) {
                    return Some(value);
                }
                map.values().find_map(|inner| find(inner, item_id))
            }
            Value::Array(items) => items.iter().find_map(|inner| find(inner, item_id)),
            _ => None,
        }
    }
    let item = find(document, item_id)?;
    ["text", "name", "date"]
        .iter()
        .find_map(|key| item.get(*key).and_then(Value::as_str))
        .map(|words| words.trim().to_owned())
        .filter(|words| !words.is_empty())
}

/// One sentence per conflict: "“Get my own place”: where it stands is not settled: Let it go
/// (Maria) or Working on it (Sam)."
pub fn sentences(conflicts: &[PlanConflict], document: &Value) -> Vec<String> {
    conflicts
        .iter()
        .map(|conflict| {
            let what = field_words(&conflict.field);
            let choices = choices(conflict);
            match conflict
                .item_id
                .as_deref()
                .and_then(|id| item_words(document, id))
            {
                Some(item) => format!("“{item}”: {what} is not settled: {choices}."),
                None => format!("{}: not settled: {choices}.", capitalised(what)),
            }
        })
        .collect()
}

fn capitalised(words: &str) -> String {
    let mut chars = words.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// The JSON export's `unsettled` list: each conflict with its values and who chose them.
pub fn json(conflicts: &[PlanConflict]) -> Value {
    serde_json::to_value(conflicts).unwrap_or(Value::Array(Vec::new()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn status_conflict() -> PlanConflict {
        PlanConflict {
            path: "goals[g1].status".into(),
            field: "status".into(),
            item_id: Some("g1".into()),
            values: vec![
                ConflictingValue {
                    value: json!("let-go"),
                    author_id: None,
                    author_name: Some("Maria".into()),
                },
                ConflictingValue {
                    value: json!("working"),
                    author_id: None,
                    author_name: Some("Sam".into()),
                },
            ],
        }
    }

    #[test]
    fn a_conflict_reads_as_a_sentence_naming_the_goal_every_value_and_who_chose_it() {
        let document =
            json!({"goals": [{"id": "g1", "text": "Get my own place", "status": "working"}]});
        assert_eq!(
            sentences(&[status_conflict()], &document),
            vec![
                "“Get my own place”: where it stands is not settled: Let it go (Maria) or Working on it (Sam)."
            ]
        );
        assert!(on(&[status_conflict()], Some("g1"), "status").is_some());
        assert!(on(&[status_conflict()], Some("g2"), "status").is_none());
        assert!(on(&[status_conflict()], None, "status").is_none());
    }
}
