//! The plan document, schema v1: one Automerge document per plan, written together by the
//! person (its owner) and their supporters. Every field is in the product's words; there are no
//! diagnosis, risk, compliance or staff-only fields, and none may be added (a document with
//! unknown fields does not fit the schema and is flagged).
//!
//! Shape (JSON names):
//! - `schemaVersion`: 1.
//! - `title`, `whatMatters`: Automerge text, in the person's own words.
//! - `strengths`, `goals`, `supports`, `checkIns`: lists of maps, each with a string `id`, so
//!   concurrent edits merge by identity, never by position.
//! - A goal's `text` is Automerge text in the person's own words, never rewritten; its `status`
//!   is plain language; its `steps` say `who` does them: `me`, `supporter` or `together`.
//!
//! Reading and writing: reads go through `automerge::AutoSerde` and serde into the types below
//! (Automerge text reads as a string), so these types are the single definition that the
//! generated JSON Schema and TypeScript come from. Writes are a few hand-written helpers rather
//! than autosurgeon: the server only ever writes the skeleton, tests and tools write a handful of
//! items, and explicit helpers keep Automerge text (for character-level merging of the person's
//! words) visible instead of hiding it behind a wrapper type in the contract.
//!
//! Only one side ever initialises a document's skeleton (the server for REST-created plans, the
//! client for plans created offline): two skeletons written independently would create two
//! conflicting list objects and hide each other's items.

use automerge::transaction::Transactable;
use automerge::{
    ActorId, AutoCommit, AutoSerde, ObjId, ObjType, ROOT, ReadDoc, ScalarValue, Value,
};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The schema version this build writes and reads natively.
pub const SCHEMA_VERSION: i64 = 1;

/// The root list keys of a v1 plan.
pub const LIST_KEYS: [&str; 4] = ["strengths", "goals", "supports", "checkIns"];

/// A whole plan, as its members write it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PlanDocument {
    /// Always 1 for this version of the schema.
    #[schemars(extend("const" = 1))]
    pub schema_version: i64,
    /// The plan's name, in the person's words.
    #[serde(default)]
    pub title: String,
    /// What matters to the person: their vision, in their own words.
    #[serde(default)]
    pub what_matters: String,
    /// "What's strong right now?"
    #[serde(default)]
    pub strengths: Vec<Strength>,
    /// "What would you like to do moving forward?"
    #[serde(default)]
    pub goals: Vec<Goal>,
    /// "Who helps?": people, places and resources.
    #[serde(default)]
    pub supports: Vec<Support>,
    /// Check-ins: how it went and what we learned.
    #[serde(default)]
    pub check_ins: Vec<CheckIn>,
}

/// Something strong in the person's life right now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Strength {
    /// Stable id of this item (any unique string, e.g. a UUID).
    pub id: String,
    /// The strength, in the person's words.
    pub text: String,
    /// Account id of whoever wrote it down.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub added_by: Option<String>,
}

/// Something the person would like to do moving forward.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Goal {
    /// Stable id of this goal.
    pub id: String,
    /// The goal in the person's own words (Automerge text), never rewritten.
    pub text: String,
    /// Where it stands, in plain language.
    pub status: GoalStatus,
    /// Next steps towards it.
    #[serde(default)]
    pub steps: Vec<Step>,
    /// Account id of whoever wrote the goal down.
    pub created_by: String,
    /// When it was written down (RFC 3339).
    #[schemars(extend("format" = "date-time"))]
    #[serde(deserialize_with = "formats::date_time")]
    pub created_at: String,
}

/// Where a goal stands. Plain language, never compliance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum GoalStatus {
    /// Thinking about it.
    Thinking,
    /// Working on it.
    Working,
    /// Taking a break from it.
    Paused,
    /// Done.
    Done,
    /// Let it go: the person decided it no longer fits.
    LetGo,
}

impl GoalStatus {
    /// How the status reads to people.
    pub fn plain_words(self) -> &'static str {
        match self {
            GoalStatus::Thinking => "Thinking about it",
            GoalStatus::Working => "Working on it",
            GoalStatus::Paused => "Taking a break",
            GoalStatus::Done => "Done",
            GoalStatus::LetGo => "Let it go",
        }
    }

    /// The wire value (`let-go`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            GoalStatus::Thinking => "thinking",
            GoalStatus::Working => "working",
            GoalStatus::Paused => "paused",
            GoalStatus::Done => "done",
            GoalStatus::LetGo => "let-go",
        }
    }
}

/// A next step; it can be the supporter's commitment as much as the person's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Step {
    /// Stable id of this step.
    pub id: String,
    /// The step, in the words of whoever wrote it.
    pub text: String,
    /// Who does it.
    pub who: StepWho,
    /// Whether it is done.
    #[serde(default)]
    pub done: bool,
    /// When it is meant to happen, if anyone said (YYYY-MM-DD).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "formats::optional_date"
    )]
    #[schemars(extend("format" = "date"))]
    pub due: Option<String>,
}

/// Who takes a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum StepWho {
    /// The person.
    Me,
    /// Their supporter.
    Supporter,
    /// Both, together.
    Together,
}

impl StepWho {
    /// How it reads to people.
    pub fn plain_words(self) -> &'static str {
        match self {
            StepWho::Me => "Me",
            StepWho::Supporter => "My supporter",
            StepWho::Together => "Together",
        }
    }

    /// The wire value.
    pub fn as_str(self) -> &'static str {
        match self {
            StepWho::Me => "me",
            StepWho::Supporter => "supporter",
            StepWho::Together => "together",
        }
    }
}

/// A person, place or resource that helps.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Support {
    /// Stable id of this support.
    pub id: String,
    /// Who or what it is.
    pub name: String,
    /// A person, a place or a resource.
    pub kind: SupportKind,
    /// How to reach them, if the person wants it written down.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact: Option<String>,
    /// Anything else worth remembering about it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// What kind of support.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum SupportKind {
    /// Someone who helps.
    Person,
    /// Somewhere that helps.
    Place,
    /// A service, group, line or other resource.
    Resource,
}

/// A check-in: how it went and what we learned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CheckIn {
    /// Stable id of this check-in.
    pub id: String,
    /// The day (YYYY-MM-DD).
    #[schemars(extend("format" = "date"))]
    #[serde(deserialize_with = "formats::date")]
    pub date: String,
    /// Account id of whoever wrote it.
    pub by: String,
    /// How it went.
    #[serde(default)]
    pub how_it_went: String,
    /// What we learned.
    #[serde(default)]
    pub what_we_learned: String,
}

/// Dates are kept as the strings the client wrote, but must be what the JSON Schema's `format`
/// says (RFC 3339 `full-date` and `date-time`), so the server's check and the published schema
/// agree on what fits.
mod formats {
    use serde::de::{Deserialize, Deserializer, Error};

    fn is_date(text: &str) -> bool {
        text.len() == 10 && chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d").is_ok()
    }

    pub fn date<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
        let text = String::deserialize(deserializer)?;
        if is_date(&text) {
            Ok(text)
        } else {
            Err(D::Error::custom(format!(
                "{text:?} is not a date (YYYY-MM-DD)"
            )))
        }
    }

    pub fn optional_date<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<String>, D::Error> {
        date(deserializer).map(Some)
    }

    pub fn date_time<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
        let text = String::deserialize(deserializer)?;
        if chrono::DateTime::parse_from_rfc3339(&text).is_ok() {
            Ok(text)
        } else {
            Err(D::Error::custom(format!(
                "{text:?} is not a date and time (RFC 3339)"
            )))
        }
    }
}

/// The JSON Schema of a plan document as the REST API answers it (`PlanDetail::document`): a
/// [`PlanDocument`] when it fits schema v1, otherwise whatever JSON object the document holds
/// (the plan's `schemaIssue` then says where it does not fit). [`PlanDocument`] is described as
/// it is read (the deserialize contract) whatever the generator's contract, because the answer
/// is the document itself, not a serialized `PlanDocument`.
pub fn stored_document_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
    let mut reader = generator
        .settings()
        .clone()
        .for_deserialize()
        .into_generator();
    let plan = reader.subschema_for::<PlanDocument>();
    for (name, schema) in reader.take_definitions(false) {
        generator.definitions_mut().entry(name).or_insert(schema);
    }
    schemars::json_schema!({ "anyOf": [plan, { "type": "object" }] })
}

/// Why a document does not fit the schema: where, and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct SchemaIssue {
    /// Where in the document (`goals[2].status`, or `.` for the root).
    pub path: String,
    /// What is wrong there.
    pub message: String,
}

/// Read a document as a v1 plan, upgrading older schema versions; a document that does not fit
/// says where and why. The document itself is never changed.
pub fn read_plan<D: ReadDoc>(doc: &D) -> Result<PlanDocument, SchemaIssue> {
    let json = serde_json::to_value(AutoSerde::from(doc)).map_err(|err| SchemaIssue {
        path: ".".into(),
        message: err.to_string(),
    })?;
    upgrade(json)
}

/// Upgrade a plan document (as JSON) from whatever schema version it has to the current one.
/// v1 is the only version so far; each future version adds one step here, tested by the
/// migration harness in this module's tests.
pub fn upgrade(document: serde_json::Value) -> Result<PlanDocument, SchemaIssue> {
    let version = document
        .get("schemaVersion")
        .and_then(serde_json::Value::as_i64);
    match version {
        Some(SCHEMA_VERSION) => parse_v1(document),
        Some(other) => Err(SchemaIssue {
            path: "schemaVersion".into(),
            message: format!("schema version {other} is not one this server knows (it knows 1)"),
        }),
        None => Err(SchemaIssue {
            path: "schemaVersion".into(),
            message: "missing or not a whole number".into(),
        }),
    }
}

fn parse_v1(document: serde_json::Value) -> Result<PlanDocument, SchemaIssue> {
    serde_path_to_error::deserialize(document).map_err(|err| SchemaIssue {
        path: err.path().to_string(),
        message: err.inner().to_string(),
    })
}

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

/// Typed writes into a plan document, keeping the schema's conventions: new items get their
/// own `id`, the person's words go into Automerge text. Each helper is one edit; the caller
/// commits.
pub mod write {
    use super::*;
    use automerge::AutomergeError;

    /// Why a write could not be made.
    #[derive(Debug, thiserror::Error)]
    pub enum WriteError {
        /// Automerge refused the operation.
        #[error(transparent)]
        Automerge(#[from] AutomergeError),
        /// The document lacks the list or item the write needs.
        #[error("the plan has no {0}")]
        Missing(String),
    }

    fn list(doc: &AutoCommit, key: &str) -> Result<ObjId, WriteError> {
        match doc.get(ROOT, key)? {
            Some((Value::Object(ObjType::List), id)) => Ok(id),
            _ => Err(WriteError::Missing(format!("list `{key}`"))),
        }
    }

    fn put_text(
        doc: &mut AutoCommit,
        map: &ObjId,
        key: &str,
        text: &str,
    ) -> Result<(), WriteError> {
        let id = doc.put_object(map, key, ObjType::Text)?;
        doc.splice_text(&id, 0, 0, text)?;
        Ok(())
    }

    fn push_map(doc: &mut AutoCommit, list_key: &str, id: &str) -> Result<ObjId, WriteError> {
        let list = list(doc, list_key)?;
        let at = doc.length(&list);
        let item = doc.insert_object(&list, at, ObjType::Map)?;
        doc.put(&item, "id", id)?;
        Ok(item)
    }

    /// The map of the item with this `id` in a list.
    pub fn find_item(doc: &AutoCommit, list: &ObjId, id: &str) -> Option<ObjId> {
        (0..doc.length(list)).find_map(|index| match doc.get(list, index).ok().flatten() {
            Some((Value::Object(ObjType::Map), item)) => {
                let matches = matches!(
                    doc.get(&item, "id").ok().flatten(),
                    Some((Value::Scalar(s), _)) if s.to_str() == Some(id)
                );
                matches.then_some(item)
            }
            _ => None,
        })
    }

    /// Replace what matters (the person's vision) with `text`, as a splice so concurrent
    /// typing merges.
    pub fn set_what_matters(doc: &mut AutoCommit, text: &str) -> Result<(), WriteError> {
        let id = match doc.get(ROOT, "whatMatters")? {
            Some((Value::Object(ObjType::Text), id)) => id,
            _ => return Err(WriteError::Missing("text `whatMatters`".into())),
        };
        let length = doc.length(&id);
        doc.splice_text(&id, 0, length as isize, text)?;
        Ok(())
    }

    /// Add a strength.
    pub fn add_strength(doc: &mut AutoCommit, strength: &Strength) -> Result<(), WriteError> {
        let item = push_map(doc, "strengths", &strength.id)?;
        put_text(doc, &item, "text", &strength.text)?;
        if let Some(by) = &strength.added_by {
            doc.put(&item, "addedBy", by.as_str())?;
        }
        Ok(())
    }

    /// Add a goal with its steps.
    pub fn add_goal(doc: &mut AutoCommit, goal: &Goal) -> Result<(), WriteError> {
        let item = push_map(doc, "goals", &goal.id)?;
        put_text(doc, &item, "text", &goal.text)?;
        doc.put(&item, "status", goal.status.as_str())?;
        doc.put(&item, "createdBy", goal.created_by.as_str())?;
        doc.put(&item, "createdAt", goal.created_at.as_str())?;
        doc.put_object(&item, "steps", ObjType::List)?;
        for step in &goal.steps {
            add_step(doc, &goal.id, step)?;
        }
        Ok(())
    }

    fn goal(doc: &AutoCommit, goal_id: &str) -> Result<ObjId, WriteError> {
        let goals = list(doc, "goals")?;
        find_item(doc, &goals, goal_id)
            .ok_or_else(|| WriteError::Missing(format!("goal `{goal_id}`")))
    }

    /// Add a step to a goal.
    pub fn add_step(doc: &mut AutoCommit, goal_id: &str, step: &Step) -> Result<(), WriteError> {
        let goal = goal(doc, goal_id)?;
        let steps = match doc.get(&goal, "steps")? {
            Some((Value::Object(ObjType::List), id)) => id,
            _ => doc.put_object(&goal, "steps", ObjType::List)?,
        };
        let at = doc.length(&steps);
        let item = doc.insert_object(&steps, at, ObjType::Map)?;
        doc.put(&item, "id", step.id.as_str())?;
        put_text(doc, &item, "text", &step.text)?;
        doc.put(&item, "who", step.who.as_str())?;
        doc.put(&item, "done", step.done)?;
        if let Some(due) = &step.due {
            doc.put(&item, "due", due.as_str())?;
        }
        Ok(())
    }

    /// Change where a goal stands.
    pub fn set_goal_status(
        doc: &mut AutoCommit,
        goal_id: &str,
        status: GoalStatus,
    ) -> Result<(), WriteError> {
        let goal = goal(doc, goal_id)?;
        doc.put(&goal, "status", status.as_str())?;
        Ok(())
    }

    /// Mark a step done or not done.
    pub fn set_step_done(
        doc: &mut AutoCommit,
        goal_id: &str,
        step_id: &str,
        done: bool,
    ) -> Result<(), WriteError> {
        let goal = goal(doc, goal_id)?;
        let steps = match doc.get(&goal, "steps")? {
            Some((Value::Object(ObjType::List), id)) => id,
            _ => return Err(WriteError::Missing(format!("steps of goal `{goal_id}`"))),
        };
        let step = find_item(doc, &steps, step_id)
            .ok_or_else(|| WriteError::Missing(format!("step `{step_id}`")))?;
        doc.put(&step, "done", done)?;
        Ok(())
    }

    /// Add a support.
    pub fn add_support(doc: &mut AutoCommit, support: &Support) -> Result<(), WriteError> {
        let item = push_map(doc, "supports", &support.id)?;
        put_text(doc, &item, "name", &support.name)?;
        doc.put(
            &item,
            "kind",
            match support.kind {
                SupportKind::Person => "person",
                SupportKind::Place => "place",
                SupportKind::Resource => "resource",
            },
        )?;
        if let Some(contact) = &support.contact {
            put_text(doc, &item, "contact", contact)?;
        }
        if let Some(note) = &support.note {
            put_text(doc, &item, "note", note)?;
        }
        Ok(())
    }

    /// Add a check-in.
    pub fn add_check_in(doc: &mut AutoCommit, check_in: &CheckIn) -> Result<(), WriteError> {
        let item = push_map(doc, "checkIns", &check_in.id)?;
        doc.put(&item, "date", check_in.date.as_str())?;
        doc.put(&item, "by", check_in.by.as_str())?;
        put_text(doc, &item, "howItWent", &check_in.how_it_went)?;
        put_text(doc, &item, "whatWeLearned", &check_in.what_we_learned)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::write::*;
    use super::*;

    fn sample_goal() -> Goal {
        Goal {
            id: "g1".into(),
            text: "Get back to the allotment — *my* way".into(),
            status: GoalStatus::Working,
            steps: vec![Step {
                id: "s1".into(),
                text: "I'll find the housing office hours".into(),
                who: StepWho::Supporter,
                done: false,
                due: Some("2026-12-01".into()),
            }],
            created_by: "7d1c0e1e-0000-4000-8000-000000000001".into(),
            created_at: "2026-11-21T10:00:00Z".into(),
        }
    }

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
        let plan = read_plan(&doc).expect("the skeleton fits the schema");
        assert_eq!(plan.title, "My way forward");
        assert!(plan.goals.is_empty());
        Ok(())
    }

    #[test]
    fn typed_writes_read_back_exactly() -> Result<(), Box<dyn std::error::Error>> {
        let mut doc = new_plan_document(ActorId::random(), "Plan")?;
        set_what_matters(&mut doc, "My kids. Staying well.")?;
        add_strength(
            &mut doc,
            &Strength {
                id: "st1".into(),
                text: "I keep showing up".into(),
                added_by: None,
            },
        )?;
        add_goal(&mut doc, &sample_goal())?;
        add_step(
            &mut doc,
            "g1",
            &Step {
                id: "s2".into(),
                text: "Call Dee".into(),
                who: StepWho::Me,
                done: false,
                due: None,
            },
        )?;
        set_step_done(&mut doc, "g1", "s2", true)?;
        set_goal_status(&mut doc, "g1", GoalStatus::LetGo)?;
        add_support(
            &mut doc,
            &Support {
                id: "p1".into(),
                name: "Dee".into(),
                kind: SupportKind::Person,
                contact: None,
                note: Some("Tuesdays".into()),
            },
        )?;
        add_check_in(
            &mut doc,
            &CheckIn {
                id: "c1".into(),
                date: "2026-11-20".into(),
                by: "x".into(),
                how_it_went: "Good".into(),
                what_we_learned: "Mornings work".into(),
            },
        )?;
        doc.commit();
        let plan = read_plan(&doc)?;
        assert_eq!(plan.what_matters, "My kids. Staying well.");
        assert_eq!(plan.goals[0].text, "Get back to the allotment — *my* way");
        assert_eq!(plan.goals[0].status, GoalStatus::LetGo);
        assert_eq!(plan.goals[0].steps.len(), 2);
        assert!(plan.goals[0].steps[1].done);
        assert_eq!(plan.goals[0].steps[0].who, StepWho::Supporter);
        assert_eq!(plan.supports[0].note.as_deref(), Some("Tuesdays"));
        assert_eq!(plan.check_ins[0].what_we_learned, "Mornings work");
        assert!(matches!(
            set_goal_status(&mut doc, "nope", GoalStatus::Done),
            Err(WriteError::Missing(_))
        ));
        Ok(())
    }

    /// The person's words are Automerge text, so two people editing the same goal at once both
    /// keep their edits (a plain string would keep only one of them).
    #[test]
    fn words_are_text_and_concurrent_edits_to_them_both_survive()
    -> Result<(), Box<dyn std::error::Error>> {
        let mut person = new_plan_document(ActorId::random(), "Plan")?;
        add_goal(&mut person, &sample_goal())?;
        add_strength(
            &mut person,
            &Strength {
                id: "st1".into(),
                text: "I keep showing up".into(),
                added_by: None,
            },
        )?;
        person.commit();
        let goals = person.get(ROOT, "goals")?.ok_or("no goals")?.1;
        let goal = find_item(&person, &goals, "g1").ok_or("no goal")?;
        let strengths = person.get(ROOT, "strengths")?.ok_or("no strengths")?.1;
        let strength = find_item(&person, &strengths, "st1").ok_or("no strength")?;
        for (map, key) in [(&goal, "text"), (&strength, "text"), (&ROOT, "whatMatters")] {
            assert!(
                matches!(
                    person.get(map, key)?,
                    Some((Value::Object(ObjType::Text), _))
                ),
                "{key} is Automerge text"
            );
        }
        let mut supporter = person.fork().with_actor(ActorId::random());
        let text = person.get(&goal, "text")?.ok_or("no text")?.1;
        person.splice_text(&text, 0, 0, "Slowly: ")?;
        let length = supporter.length(&text);
        supporter.splice_text(&text, length, 0, " (together)")?;
        person.merge(&mut supporter)?;
        assert_eq!(
            read_plan(&person)?.goals[0].text,
            "Slowly: Get back to the allotment — *my* way (together)"
        );
        Ok(())
    }

    #[test]
    fn documents_that_do_not_fit_say_where() -> Result<(), Box<dyn std::error::Error>> {
        let mut doc = new_plan_document(ActorId::random(), "Plan")?;
        add_goal(&mut doc, &sample_goal())?;
        let goals = match doc.get(ROOT, "goals")? {
            Some((_, id)) => id,
            None => return Err("no goals".into()),
        };
        let goal = find_item(&doc, &goals, "g1").ok_or("no goal")?;
        doc.put(&goal, "status", "maybe")?;
        doc.commit();
        let issue = read_plan(&doc).expect_err("an unknown status does not fit");
        assert_eq!(issue.path, "goals[0].status");

        let mut risky = new_plan_document(ActorId::random(), "Plan")?;
        risky.put(ROOT, "riskScore", 7)?;
        risky.commit();
        let issue = read_plan(&risky).expect_err("fields outside the schema do not fit");
        assert!(issue.message.contains("riskScore"), "{issue}");

        let mut future = new_plan_document(ActorId::random(), "Plan")?;
        future.put(ROOT, "schemaVersion", 2)?;
        future.commit();
        assert_eq!(
            read_plan(&future).expect_err("unknown version").path,
            "schemaVersion"
        );
        Ok(())
    }

    /// The migration harness: every (version, document) pair here must upgrade to a current plan.
    /// When v2 arrives, add v1 fixtures that must upgrade to v2, and v2 fixtures.
    #[test]
    fn every_known_version_upgrades_to_the_current_one() {
        let fixtures = [(
            1,
            serde_json::json!({
                "schemaVersion": 1, "title": "T", "whatMatters": "", "strengths": [],
                "goals": [{"id": "g", "text": "x", "status": "thinking", "steps": [],
                           "createdBy": "u", "createdAt": "2026-01-01T00:00:00Z"}],
                "supports": [], "checkIns": []
            }),
        )];
        for (version, fixture) in fixtures {
            let plan = upgrade(fixture).unwrap_or_else(|issue| panic!("v{version}: {issue}"));
            assert_eq!(plan.schema_version, SCHEMA_VERSION);
        }
    }
}
