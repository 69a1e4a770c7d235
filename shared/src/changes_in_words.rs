//! What changed between two states of a plan, in the product's words: goals, steps, strengths,
//! supports and check-ins added, removed or edited, a goal's status, a step marked done. Used by
//! the history (each session of editing, said as sentences) and wherever two versions of a plan
//! are compared.
//!
//! It reads the plan as plain JSON (the document as `AutoSerde` gives it), leniently: items are
//! matched by their `id`, whatever else a client wrote is ignored, and nothing here fails.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One thing that changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChangeSaid {
    /// What kind of change.
    pub kind: ChangeKind,
    /// The item's words (a goal's, step's or strength's text, a support's name, a check-in's
    /// day), as they read after the change (before it, for a removal).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item: Option<String>,
    /// The goal a step belongs to, in its words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub goal: Option<String>,
    /// The value before (words, a status), where the kind has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// The value after.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
}

/// The kinds of change the history names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum ChangeKind {
    /// The plan's name changed (`from`, `to`).
    TitleChanged,
    /// What matters was rewritten (`to`).
    WhatMattersChanged,
    /// A strength was added (`item`).
    StrengthAdded,
    /// A strength was removed (`item`).
    StrengthRemoved,
    /// A strength's words changed (`from`, `to`).
    StrengthChanged,
    /// A goal was added (`item`).
    GoalAdded,
    /// A goal was removed (`item`).
    GoalRemoved,
    /// A goal's words changed (`from`, `to`).
    GoalChanged,
    /// Where a goal stands changed (`item`, `from`, `to`: status values).
    GoalStatusChanged,
    /// A step was added to a goal (`item`, `goal`).
    StepAdded,
    /// A step was removed (`item`, `goal`).
    StepRemoved,
    /// A step's words changed (`from`, `to`, `goal`).
    StepChanged,
    /// A step was marked done (`item`).
    StepDone,
    /// A step was marked not done again (`item`).
    StepUndone,
    /// Who takes a step changed (`item`, `from`, `to`: `me`, `supporter`, `together`).
    StepWhoChanged,
    /// A step's day changed (`item`, `to`; `to` absent when the day was taken away).
    StepDueChanged,
    /// A support was added (`item`).
    SupportAdded,
    /// A support was removed (`item`).
    SupportRemoved,
    /// A support was changed (its name, kind, contact or note; `item`).
    SupportChanged,
    /// A check-in was added (`item`: its day).
    CheckInAdded,
    /// A check-in was removed (`item`).
    CheckInRemoved,
    /// A check-in's words changed (`item`).
    CheckInChanged,
}

/// Everything that differs from `before` to `after`, in document order.
pub fn changes_between(before: &Value, after: &Value) -> Vec<ChangeSaid> {
    let mut said = Vec::new();
    let (old_title, new_title) = (text(before, "title"), text(after, "title"));
    if old_title != new_title {
        said.push(ChangeSaid {
            kind: ChangeKind::TitleChanged,
            item: None,
            goal: None,
            from: Some(old_title),
            to: Some(new_title),
        });
    }
    let (old_matters, new_matters) = (text(before, "whatMatters"), text(after, "whatMatters"));
    if old_matters != new_matters {
        said.push(ChangeSaid {
            kind: ChangeKind::WhatMattersChanged,
            item: None,
            goal: None,
            from: Some(old_matters),
            to: Some(new_matters),
        });
    }
    simple_list(
        before,
        after,
        "strengths",
        "text",
        [
            ChangeKind::StrengthAdded,
            ChangeKind::StrengthRemoved,
            ChangeKind::StrengthChanged,
        ],
        &mut said,
    );
    goals(before, after, &mut said);
    supports(before, after, &mut said);
    check_ins(before, after, &mut said);
    said
}

fn text(value: &Value, key: &str) -> String {
    match value.get(key) {
        Some(Value::String(words)) => words.clone(),
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    }
}

fn items<'a>(value: &'a Value, key: &str) -> Vec<(String, &'a Value)> {
    match value.get(key) {
        Some(Value::Array(list)) => list
            .iter()
            .filter_map(|item| {
                let id = item.get("id")?.as_str()?.to_owned();
                Some((id, item))
            })
            .collect(),
        _ => Vec::new(),
    }
}

fn find<'a>(list: &'a [(String, &'a Value)], id: &str) -> Option<&'a Value> {
    list.iter()
        .find(|(other, _)| other == id)
        .map(|(_, item)| *item)
}

fn said(kind: ChangeKind, item: String) -> ChangeSaid {
    ChangeSaid {
        kind,
        item: Some(item),
        goal: None,
        from: None,
        to: None,
    }
}

/// A list of items with one words field: added, removed, words changed.
fn simple_list(
    before: &Value,
    after: &Value,
    key: &str,
    words: &str,
    [added, removed, changed]: [ChangeKind; 3],
    out: &mut Vec<ChangeSaid>,
) {
    let (old, new) = (items(before, key), items(after, key));
    for (id, item) in &new {
        match find(&old, id) {
            None => out.push(said(added, text(item, words))),
            Some(was) if text(was, words) != text(item, words) => out.push(ChangeSaid {
                kind: changed,
                item: Some(text(item, words)),
                goal: None,
                from: Some(text(was, words)),
                to: Some(text(item, words)),
            }),
            Some(_) => {}
        }
    }
    for (id, was) in &old {
        if find(&new, id).is_none() {
            out.push(said(removed, text(was, words)));
        }
    }
}

fn goals(before: &Value, after: &Value, out: &mut Vec<ChangeSaid>) {
    let (old, new) = (items(before, "goals"), items(after, "goals"));
    for (id, goal) in &new {
        let words = text(goal, "text");
        let Some(was) = find(&old, id) else {
            out.push(said(ChangeKind::GoalAdded, words.clone()));
            // Its steps are new too.
            steps(&serde_json::json!({}), goal, &words, out);
            continue;
        };
        if text(was, "text") != words {
            out.push(ChangeSaid {
                kind: ChangeKind::GoalChanged,
                item: Some(words.clone()),
                goal: None,
                from: Some(text(was, "text")),
                to: Some(words.clone()),
            });
        }
        if text(was, "status") != text(goal, "status") {
            out.push(ChangeSaid {
                kind: ChangeKind::GoalStatusChanged,
                item: Some(words.clone()),
                goal: None,
                from: Some(text(was, "status")),
                to: Some(text(goal, "status")),
            });
        }
        steps(was, goal, &words, out);
    }
    for (id, was) in &old {
        if find(&new, id).is_none() {
            out.push(said(ChangeKind::GoalRemoved, text(was, "text")));
        }
    }
}

fn steps(before: &Value, after: &Value, goal: &str, out: &mut Vec<ChangeSaid>) {
    let (old, new) = (items(before, "steps"), items(after, "steps"));
    let of_goal = |mut said: ChangeSaid| {
        said.goal = Some(goal.to_owned());
        said
    };
    for (id, step) in &new {
        let words = text(step, "text");
        let Some(was) = find(&old, id) else {
            out.push(of_goal(said(ChangeKind::StepAdded, words)));
            continue;
        };
        if text(was, "text") != words {
            out.push(of_goal(ChangeSaid {
                kind: ChangeKind::StepChanged,
                item: Some(words.clone()),
                goal: None,
                from: Some(text(was, "text")),
                to: Some(words.clone()),
            }));
        }
        let done = |value: &Value| value.get("done").and_then(Value::as_bool).unwrap_or(false);
        if done(was) != done(step) {
            let kind = if done(step) {
                ChangeKind::StepDone
            } else {
                ChangeKind::StepUndone
            };
            out.push(of_goal(said(kind, words.clone())));
        }
        if text(was, "who") != text(step, "who") {
            out.push(of_goal(ChangeSaid {
                kind: ChangeKind::StepWhoChanged,
                item: Some(words.clone()),
                goal: None,
                from: Some(text(was, "who")),
                to: Some(text(step, "who")),
            }));
        }
        if text(was, "due") != text(step, "due") {
            let due = text(step, "due");
            out.push(of_goal(ChangeSaid {
                kind: ChangeKind::StepDueChanged,
                item: Some(words.clone()),
                goal: None,
                from: Some(text(was, "due")).filter(|day| !day.is_empty()),
                to: Some(due).filter(|day| !day.is_empty()),
            }));
        }
    }
    for (id, was) in &old {
        if find(&new, id).is_none() {
            out.push(of_goal(said(ChangeKind::StepRemoved, text(was, "text"))));
        }
    }
}

fn supports(before: &Value, after: &Value, out: &mut Vec<ChangeSaid>) {
    let (old, new) = (items(before, "supports"), items(after, "supports"));
    for (id, support) in &new {
        let name = text(support, "name");
        match find(&old, id) {
            None => out.push(said(ChangeKind::SupportAdded, name)),
            Some(was)
                if ["name", "kind", "contact", "note"]
                    .iter()
                    .any(|key| text(was, key) != text(support, key)) =>
            {
                out.push(said(ChangeKind::SupportChanged, name));
            }
            Some(_) => {}
        }
    }
    for (id, was) in &old {
        if find(&new, id).is_none() {
            out.push(said(ChangeKind::SupportRemoved, text(was, "name")));
        }
    }
}

fn check_ins(before: &Value, after: &Value, out: &mut Vec<ChangeSaid>) {
    let (old, new) = (items(before, "checkIns"), items(after, "checkIns"));
    for (id, check_in) in &new {
        let day = text(check_in, "date");
        match find(&old, id) {
            None => out.push(said(ChangeKind::CheckInAdded, day)),
            Some(was)
                if ["date", "howItWent", "whatWeLearned"]
                    .iter()
                    .any(|key| text(was, key) != text(check_in, key)) =>
            {
                out.push(said(ChangeKind::CheckInChanged, day));
            }
            Some(_) => {}
        }
    }
    for (id, was) in &old {
        if find(&new, id).is_none() {
            out.push(said(ChangeKind::CheckInRemoved, text(was, "date")));
        }
    }
}

/// The change as an English sentence with its author's name: "Sam marked ‘Call the housing
/// office’ done". (Clients in other languages build their own from the same fields.)
pub fn sentence(who: &str, change: &ChangeSaid) -> String {
    let item = change.item.as_deref().unwrap_or_default();
    let from = change.from.as_deref().unwrap_or_default();
    let to = change.to.as_deref().unwrap_or_default();
    let goal = change.goal.as_deref().unwrap_or_default();
    match change.kind {
        ChangeKind::TitleChanged if from.is_empty() => format!("{who} named the plan ‘{to}’"),
        ChangeKind::TitleChanged => format!("{who} renamed the plan ‘{from}’ to ‘{to}’"),
        ChangeKind::WhatMattersChanged if from.is_empty() => format!("{who} wrote what matters"),
        ChangeKind::WhatMattersChanged => format!("{who} rewrote what matters"),
        ChangeKind::StrengthAdded => format!("{who} added a strength: ‘{item}’"),
        ChangeKind::StrengthRemoved => format!("{who} removed the strength ‘{item}’"),
        ChangeKind::StrengthChanged => format!("{who} changed the strength ‘{from}’ to ‘{to}’"),
        ChangeKind::GoalAdded => format!("{who} added the goal ‘{item}’"),
        ChangeKind::GoalRemoved => format!("{who} removed the goal ‘{item}’"),
        ChangeKind::GoalChanged => format!("{who} changed the goal ‘{from}’ to ‘{to}’"),
        ChangeKind::GoalStatusChanged => {
            format!("{who} set the goal ‘{item}’ to ‘{}’", status_words(to))
        }
        ChangeKind::StepAdded => format!("{who} added the step ‘{item}’ to ‘{goal}’"),
        ChangeKind::StepRemoved => format!("{who} removed the step ‘{item}’ from ‘{goal}’"),
        ChangeKind::StepChanged => format!("{who} changed the step ‘{from}’ to ‘{to}’"),
        ChangeKind::StepDone => format!("{who} marked ‘{item}’ done"),
        ChangeKind::StepUndone => format!("{who} marked ‘{item}’ not done"),
        ChangeKind::StepWhoChanged => {
            format!("{who} changed who takes ‘{item}’ to ‘{}’", who_words(to))
        }
        ChangeKind::StepDueChanged if to.is_empty() => {
            format!("{who} took the day off ‘{item}’")
        }
        ChangeKind::StepDueChanged => format!("{who} set ‘{item}’ for {to}"),
        ChangeKind::SupportAdded => format!("{who} added ‘{item}’ to who helps"),
        ChangeKind::SupportRemoved => format!("{who} removed ‘{item}’ from who helps"),
        ChangeKind::SupportChanged => format!("{who} changed ‘{item}’ in who helps"),
        ChangeKind::CheckInAdded => format!("{who} added a check-in for {item}"),
        ChangeKind::CheckInRemoved => format!("{who} removed the check-in of {item}"),
        ChangeKind::CheckInChanged => format!("{who} changed the check-in of {item}"),
    }
}

fn status_words(value: &str) -> &str {
    serde_json::from_value::<crate::plan::GoalStatus>(Value::String(value.to_owned()))
        .map(crate::plan::GoalStatus::plain_words)
        .unwrap_or(value)
}

fn who_words(value: &str) -> &str {
    match value {
        "me" => "the person",
        "supporter" => "the supporter",
        "together" => "together",
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn each_kind_of_edit_is_said_in_words() {
        let before = json!({
            "title": "Moving on",
            "strengths": [{"id": "s1", "text": "I keep going"}],
            "goals": [{"id": "g1", "text": "Get my own place", "status": "thinking",
                "steps": [{"id": "p1", "text": "Call the housing office", "who": "me", "done": false}]}],
            "supports": [], "checkIns": []
        });
        let after = json!({
            "title": "Moving on",
            "strengths": [{"id": "s1", "text": "I keep going"}, {"id": "s2", "text": "My humour"}],
            "goals": [{"id": "g1", "text": "Get a place near my sister", "status": "working",
                "steps": [{"id": "p1", "text": "Call the housing office", "who": "me", "done": true}]}],
            "supports": [{"id": "u1", "name": "My sister", "kind": "person"}],
            "checkIns": []
        });
        let words: Vec<String> = changes_between(&before, &after)
            .iter()
            .map(|change| sentence("River", change))
            .collect();
        assert_eq!(
            words,
            vec![
                "River added a strength: ‘My humour’",
                "River changed the goal ‘Get my own place’ to ‘Get a place near my sister’",
                "River set the goal ‘Get a place near my sister’ to ‘Working on it’",
                "River marked ‘Call the housing office’ done",
                "River added ‘My sister’ to who helps",
            ]
        );
        assert!(changes_between(&after, &after).is_empty());
        let back: Vec<ChangeKind> = changes_between(&after, &before)
            .iter()
            .map(|change| change.kind)
            .collect();
        assert!(
            back.contains(&ChangeKind::StrengthRemoved)
                && back.contains(&ChangeKind::SupportRemoved)
        );
    }
}
