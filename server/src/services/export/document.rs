//! A lenient reading of a plan document (as plain JSON) for the Markdown and FHIR exports.
//!
//! Exports must work for every stored plan: one written by a buggy client (a number where text
//! belongs, a map where a list belongs) or by a newer schema version. So nothing here fails:
//! each part that fits schema v1 is read, words found in an unexpected place (a bare string in a
//! list of goals) are still read as words, and whatever cannot be read is kept as
//! [`Unreadable`] with where it was and what it held, for the export to show. The JSON export
//! does not use this: it returns the document itself.

use serde_json::{Map, Value};

/// A part of the document that does not fit schema v1: where it is and what it holds.
#[derive(Debug, Clone, PartialEq)]
pub struct Unreadable {
    /// Where in the document, e.g. `goals[2]` or `goals[0].text`.
    pub path: String,
    /// What is there, as compact JSON.
    pub raw: String,
}

/// A text field: the person's words, or something that is not text.
#[derive(Debug, Clone, PartialEq)]
pub enum Text {
    /// Words (possibly empty). Numbers and booleans where text belongs read as their digits.
    Words(String),
    /// A list or map where text belongs.
    Unreadable(Unreadable),
}

impl Text {
    /// The words, or `None` when the field held no words (absent, empty or unreadable).
    pub fn words(&self) -> Option<&str> {
        match self {
            Text::Words(words) if !words.trim().is_empty() => Some(words),
            _ => None,
        }
    }

    /// The unreadable part, if this field is one.
    pub fn unreadable(&self) -> Option<&Unreadable> {
        match self {
            Text::Unreadable(part) => Some(part),
            Text::Words(_) => None,
        }
    }
}

/// One entry of a list: read, or not.
#[derive(Debug, Clone, PartialEq)]
pub enum Entry<T> {
    /// It fits (leniently).
    Read(T),
    /// It is not something this list can hold (a number in the list of goals).
    Unreadable(Unreadable),
}

/// Where a goal stands, as written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GoalStatus {
    /// `thinking`
    Thinking,
    /// `working`
    Working,
    /// `paused`
    Paused,
    /// `done`
    Done,
    /// `let-go`
    LetGo,
}

impl GoalStatus {
    fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "thinking" => Self::Thinking,
            "working" => Self::Working,
            "paused" => Self::Paused,
            "done" => Self::Done,
            "let-go" => Self::LetGo,
            _ => return None,
        })
    }

    /// How the status reads to people (the same words as the apps use).
    pub fn plain_words(self) -> &'static str {
        match self {
            Self::Thinking => "Thinking about it",
            Self::Working => "Working on it",
            Self::Paused => "Taking a break",
            Self::Done => "Done",
            Self::LetGo => "Let it go",
        }
    }
}

/// A goal's status field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    /// One of the five statuses.
    Known(GoalStatus),
    /// Something else was written (kept to show it).
    Other(String),
    /// None was written.
    Missing,
}

/// Who takes a step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Who {
    /// `me`: the person.
    Me,
    /// `supporter`
    Supporter,
    /// `together`
    Together,
    /// Something else was written (kept to show it).
    Other(String),
    /// Nobody was named.
    Missing,
}

impl Who {
    fn read(value: Option<&Value>) -> Self {
        match scalar(value).as_deref() {
            Some("me") => Self::Me,
            Some("supporter") => Self::Supporter,
            Some("together") => Self::Together,
            Some(other) => Self::Other(other.to_owned()),
            None => Self::Missing,
        }
    }
}

/// Whether a step is done.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Done {
    /// `true`
    Yes,
    /// `false` or absent.
    No,
    /// Something that is not a boolean.
    Unreadable(String),
}

/// "What's strong right now?"
#[derive(Debug, Clone, PartialEq)]
pub struct Strength {
    /// In the words of whoever wrote it.
    pub text: Text,
    /// Account id of whoever wrote it down, as written.
    pub added_by: Option<String>,
}

/// A goal.
#[derive(Debug, Clone, PartialEq)]
pub struct Goal {
    /// Its `id`, as written.
    pub id: Option<String>,
    /// The person's words.
    pub text: Text,
    /// Where it stands.
    pub status: Status,
    /// Its next steps.
    pub steps: Vec<Entry<Step>>,
    /// Account id of whoever wrote it down, as written.
    pub created_by: Option<String>,
    /// When it was written down, as written (RFC 3339 when well formed).
    pub created_at: Option<String>,
    /// A `steps` value that is not a list.
    pub steps_unreadable: Option<Unreadable>,
    /// Where each member stands on the goal (schema v1 revision 2), as written, in the
    /// document's order of account ids.
    pub agreement: Vec<Stand>,
    /// An `agreement` value that is not a map, or an entry of it that is not one.
    pub agreement_unreadable: Vec<Unreadable>,
}

/// One member's stance on a goal, as written.
#[derive(Debug, Clone, PartialEq)]
pub struct Stand {
    /// The account id it is keyed by.
    pub account: String,
    /// Where they stand.
    pub stance: Stance,
    /// Their note.
    pub note: Text,
    /// When they marked it, as written.
    pub at: Option<String>,
}

/// A stance field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stance {
    /// One of the three stances.
    Known(cairn_shared::plan::Stance),
    /// Something else was written (kept to show it).
    Other(String),
    /// None was written.
    Missing,
}

/// A next step.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    /// In the words of whoever wrote it.
    pub text: Text,
    /// Who does it.
    pub who: Who,
    /// Whether it is done.
    pub done: Done,
    /// When it is due, as written (YYYY-MM-DD when well formed).
    pub due: Option<String>,
}

/// "Who helps?"
#[derive(Debug, Clone, PartialEq)]
pub struct Support {
    /// Who or what it is.
    pub name: Text,
    /// `person`, `place` or `resource` as written.
    pub kind: Option<String>,
    /// How to reach them.
    pub contact: Text,
    /// Anything else.
    pub note: Text,
}

/// A check-in.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckIn {
    /// The day, as written (YYYY-MM-DD when well formed).
    pub date: Option<String>,
    /// Account id of whoever wrote it, as written.
    pub by: Option<String>,
    /// How it went.
    pub how_it_went: Text,
    /// What we learned.
    pub what_we_learned: Text,
}

/// The whole plan, read leniently.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// `schemaVersion` as written (`None` when absent or not a number).
    pub schema_version: Option<String>,
    /// The plan's name.
    pub title: Text,
    /// What matters to the person.
    pub what_matters: Text,
    /// Strengths.
    pub strengths: Vec<Entry<Strength>>,
    /// Goals.
    pub goals: Vec<Entry<Goal>>,
    /// Supports.
    pub supports: Vec<Entry<Support>>,
    /// Check-ins.
    pub check_ins: Vec<Entry<CheckIn>>,
    /// Root keys schema v1 does not have, with their values (kept to show them).
    pub other: Vec<(String, Value)>,
    /// A whole document that is not a map.
    pub root_unreadable: Option<Unreadable>,
}

impl Plan {
    /// Whether the document says it is schema v1.
    pub fn is_v1(&self) -> bool {
        self.schema_version.as_deref() == Some("1")
    }

    /// Every part that could not be read, in document order.
    pub fn unreadable_parts(&self) -> Vec<&Unreadable> {
        let mut parts: Vec<&Unreadable> = Vec::new();
        parts.extend(self.root_unreadable.iter());
        parts.extend(self.title.unreadable());
        parts.extend(self.what_matters.unreadable());
        for strength in &self.strengths {
            match strength {
                Entry::Read(s) => parts.extend(s.text.unreadable()),
                Entry::Unreadable(part) => parts.push(part),
            }
        }
        for goal in &self.goals {
            match goal {
                Entry::Read(goal) => {
                    parts.extend(goal.text.unreadable());
                    parts.extend(goal.steps_unreadable.iter());
                    parts.extend(goal.agreement_unreadable.iter());
                    for stand in &goal.agreement {
                        parts.extend(stand.note.unreadable());
                    }
                    for step in &goal.steps {
                        match step {
                            Entry::Read(step) => parts.extend(step.text.unreadable()),
                            Entry::Unreadable(part) => parts.push(part),
                        }
                    }
                }
                Entry::Unreadable(part) => parts.push(part),
            }
        }
        for support in &self.supports {
            match support {
                Entry::Read(s) => {
                    parts.extend(s.name.unreadable());
                    parts.extend(s.contact.unreadable());
                    parts.extend(s.note.unreadable());
                }
                Entry::Unreadable(part) => parts.push(part),
            }
        }
        for check_in in &self.check_ins {
            match check_in {
                Entry::Read(c) => {
                    parts.extend(c.how_it_went.unreadable());
                    parts.extend(c.what_we_learned.unreadable());
                }
                Entry::Unreadable(part) => parts.push(part),
            }
        }
        parts
    }
}

const V1_ROOT_KEYS: [&str; 7] = [
    "schemaVersion",
    "title",
    "whatMatters",
    "strengths",
    "goals",
    "supports",
    "checkIns",
];

/// Read a plan document (as `AutoSerde` gives it) without ever failing.
pub fn read(document: &Value) -> Plan {
    let empty = Map::new();
    let (root, root_unreadable) = match document {
        Value::Object(map) => (map, None),
        other => (&empty, Some(unreadable(".", other))),
    };
    Plan {
        schema_version: scalar(root.get("schemaVersion")),
        title: text(root.get("title"), "title"),
        what_matters: text(root.get("whatMatters"), "whatMatters"),
        strengths: list(root.get("strengths"), "strengths", "text", read_strength),
        goals: list(root.get("goals"), "goals", "text", read_goal),
        supports: list(root.get("supports"), "supports", "name", read_support),
        check_ins: list(root.get("checkIns"), "checkIns", "howItWent", read_check_in),
        other: root
            .iter()
            .filter(|(key, _)| !V1_ROOT_KEYS.contains(&key.as_str()))
            .map(|(key, value)| (key.clone(), value.clone()))
            .collect(),
        root_unreadable,
    }
}

fn unreadable(path: &str, value: &Value) -> Unreadable {
    Unreadable {
        path: path.to_owned(),
        raw: value.to_string(),
    }
}

/// A scalar as text: strings as they are, numbers and booleans as written; else `None`.
fn scalar(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::String(text) => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        Value::Bool(flag) => Some(flag.to_string()),
        _ => None,
    }
}

fn text(value: Option<&Value>, path: &str) -> Text {
    match value {
        None | Some(Value::Null) => Text::Words(String::new()),
        Some(value @ (Value::Array(_) | Value::Object(_))) => {
            Text::Unreadable(unreadable(path, value))
        }
        Some(_) => Text::Words(scalar(value).unwrap_or_default()),
    }
}

/// The entries of a list. Leniently: a map whose values are all maps is read as a list of them
/// (items keyed by id); a single map or a bare string is read as one entry (a string becomes its
/// `words_key`, so the words are kept); a number or boolean is one unreadable entry.
fn list<T>(
    value: Option<&Value>,
    path: &str,
    words_key: &str,
    read_item: fn(&Map<String, Value>, &str) -> T,
) -> Vec<Entry<T>> {
    let read_one = |item: &Value, at: String| match item {
        Value::Object(map) => Entry::Read(read_item(map, &at)),
        Value::String(words) => {
            let mut map = Map::new();
            map.insert(words_key.to_owned(), Value::String(words.clone()));
            Entry::Read(read_item(&map, &at))
        }
        other => Entry::Unreadable(unreadable(&at, other)),
    };
    match value {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(index, item)| read_one(item, format!("{path}[{index}]")))
            .collect(),
        Some(Value::Object(map)) if !map.is_empty() && map.values().all(Value::is_object) => map
            .iter()
            .map(|(key, item)| read_one(item, format!("{path}.{key}")))
            .collect(),
        Some(other) => vec![read_one(other, path.to_owned())],
    }
}

fn read_strength(map: &Map<String, Value>, path: &str) -> Strength {
    Strength {
        text: text(map.get("text"), &format!("{path}.text")),
        added_by: scalar(map.get("addedBy")),
    }
}

fn read_goal(map: &Map<String, Value>, path: &str) -> Goal {
    let steps_path = format!("{path}.steps");
    let steps_value = map.get("steps");
    // A number or boolean where the steps belong is one unreadable part, not a step.
    let (steps, steps_unreadable) = match steps_value {
        Some(value @ (Value::Number(_) | Value::Bool(_))) => {
            (Vec::new(), Some(unreadable(&steps_path, value)))
        }
        _ => (list(steps_value, &steps_path, "text", read_step), None),
    };
    let (agreement, agreement_unreadable) =
        read_agreement(map.get("agreement"), &format!("{path}.agreement"));
    Goal {
        id: scalar(map.get("id")),
        text: text(map.get("text"), &format!("{path}.text")),
        status: match scalar(map.get("status")) {
            None => Status::Missing,
            Some(written) => match GoalStatus::parse(&written) {
                Some(status) => Status::Known(status),
                None => Status::Other(written),
            },
        },
        steps,
        created_by: scalar(map.get("createdBy")),
        created_at: scalar(map.get("createdAt")),
        steps_unreadable,
        agreement,
        agreement_unreadable,
    }
}

/// A goal's `agreement`: a map of account id → stance; anything else is kept as unreadable.
fn read_agreement(value: Option<&Value>, path: &str) -> (Vec<Stand>, Vec<Unreadable>) {
    let mut stands = Vec::new();
    let mut unreadable_parts = Vec::new();
    match value {
        None | Some(Value::Null) => {}
        Some(Value::Object(entries)) => {
            for (account, entry) in entries {
                let at = format!("{path}.{account}");
                let Value::Object(entry) = entry else {
                    unreadable_parts.push(unreadable(&at, entry));
                    continue;
                };
                let stance = match scalar(entry.get("stance")) {
                    None => Stance::Missing,
                    Some(written) => match serde_json::from_value(Value::String(written.clone())) {
                        Ok(known) => Stance::Known(known),
                        Err(_) => Stance::Other(written),
                    },
                };
                stands.push(Stand {
                    account: account.clone(),
                    stance,
                    note: text(entry.get("note"), &format!("{at}.note")),
                    at: scalar(entry.get("at")),
                });
            }
        }
        Some(other) => unreadable_parts.push(unreadable(path, other)),
    }
    (stands, unreadable_parts)
}

fn read_step(map: &Map<String, Value>, path: &str) -> Step {
    Step {
        text: text(map.get("text"), &format!("{path}.text")),
        who: Who::read(map.get("who")),
        done: match map.get("done") {
            Some(Value::Bool(true)) => Done::Yes,
            None | Some(Value::Null | Value::Bool(false)) => Done::No,
            Some(other) => Done::Unreadable(other.to_string()),
        },
        due: scalar(map.get("due")),
    }
}

fn read_support(map: &Map<String, Value>, path: &str) -> Support {
    Support {
        name: text(map.get("name"), &format!("{path}.name")),
        kind: scalar(map.get("kind")),
        contact: text(map.get("contact"), &format!("{path}.contact")),
        note: text(map.get("note"), &format!("{path}.note")),
    }
}

fn read_check_in(map: &Map<String, Value>, path: &str) -> CheckIn {
    CheckIn {
        date: scalar(map.get("date")),
        by: scalar(map.get("by")),
        how_it_went: text(map.get("howItWent"), &format!("{path}.howItWent")),
        what_we_learned: text(map.get("whatWeLearned"), &format!("{path}.whatWeLearned")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_v1_document_reads_whole() {
        let plan = read(&json!({
            "schemaVersion": 1,
            "title": "My way",
            "whatMatters": "My kids",
            "strengths": [{"id": "s1", "text": "Stubborn", "addedBy": "u1"}],
            "goals": [{"id": "g1", "text": "Allotment", "status": "let-go", "createdBy": "u1",
                "createdAt": "2026-11-21T10:00:00Z",
                "agreement": {"u1": {"stance": "not-yet", "note": "Soon", "at": "2026-12-08T01:00:00Z"},
                              "u2": {"stance": "maybe"}, "u3": 7},
                "steps": [{"id": "t1", "text": "Call", "who": "together", "done": true, "due": "2026-12-01"}]}],
            "supports": [{"id": "p1", "name": "Rosa", "kind": "person", "contact": "555"}],
            "checkIns": [{"id": "c1", "date": "2026-11-20", "by": "u2", "howItWent": "Fine", "whatWeLearned": "Rest"}]
        }));
        assert!(plan.is_v1());
        assert_eq!(
            plan.unreadable_parts().len(),
            1,
            "the agreement entry that is a number"
        );
        assert!(plan.other.is_empty());
        let Entry::Read(goal) = &plan.goals[0] else {
            panic!("goal not read")
        };
        assert_eq!(goal.agreement.len(), 2);
        assert_eq!(
            goal.agreement[0].stance,
            Stance::Known(cairn_shared::plan::Stance::NotYet)
        );
        assert_eq!(goal.agreement[0].note.words(), Some("Soon"));
        assert_eq!(goal.agreement[1].stance, Stance::Other("maybe".into()));
        assert_eq!(goal.status, Status::Known(GoalStatus::LetGo));
        let Entry::Read(step) = &goal.steps[0] else {
            panic!("step not read")
        };
        assert_eq!(
            (step.who.clone(), step.done.clone()),
            (Who::Together, Done::Yes)
        );
    }

    #[test]
    fn wrong_types_are_kept_as_unreadable_parts_and_words_survive() {
        let plan = read(&json!({
            "schemaVersion": 2,
            "title": ["not", "text"],
            "strengths": "Just one, as a string",
            "goals": [
                42,
                {"text": {"nested": true}, "status": 7, "steps": "Phone Rosa", "createdBy": 5},
                {"text": "Fine goal", "status": "working", "steps": true}
            ],
            "checkIns": {"c1": {"howItWent": "ok"}},
            "futureThing": "kept"
        }));
        assert!(!plan.is_v1());
        let paths: Vec<&str> = plan
            .unreadable_parts()
            .iter()
            .map(|p| p.path.as_str())
            .collect();
        assert_eq!(
            paths,
            ["title", "goals[0]", "goals[1].text", "goals[2].steps"]
        );
        assert_eq!(
            plan.strengths,
            vec![Entry::Read(Strength {
                text: Text::Words("Just one, as a string".into()),
                added_by: None
            })]
        );
        let Entry::Read(goal) = &plan.goals[1] else {
            panic!("goal not read")
        };
        assert_eq!(goal.status, Status::Other("7".into()));
        assert_eq!(goal.steps.len(), 1, "a string of steps is one step's words");
        assert_eq!(plan.check_ins.len(), 1);
        assert_eq!(plan.other, vec![("futureThing".into(), json!("kept"))]);
    }

    #[test]
    fn a_document_that_is_not_a_map_is_one_unreadable_part() {
        let plan = read(&json!("oops"));
        assert_eq!(plan.unreadable_parts().len(), 1);
        assert!(plan.goals.is_empty());
    }
}
