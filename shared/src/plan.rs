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
//! - A goal's optional `agreement` (schema v1, revision 2): where each member stands on the
//!   goal, keyed by account id so two members marking at once never overrule each other.
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
use std::collections::BTreeMap;

/// The schema version this build writes and reads natively.
pub const SCHEMA_VERSION: i64 = 1;

/// The revision of schema v1 this build describes. Revisions only add optional fields, so every
/// v1 document of an earlier revision is a valid document of this one and older clients keep
/// reading and writing v1 (`schemaVersion` stays 1). Revision 2 added a goal's `agreement`.
pub const SCHEMA_REVISION: i64 = 2;

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
    /// Where each member stands on the goal, keyed by their account id (revision 2). New goals
    /// start with an empty map; a goal written before revision 2 has none until someone first
    /// marks it. Each member writes only their own entry.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub agreement: BTreeMap<String, Agreement>,
}

/// One member's stance on a goal, with a note in their own words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Agreement {
    /// Where they stand.
    pub stance: Stance,
    /// Why, in their own words (Automerge text); may be empty.
    #[serde(default)]
    pub note: String,
    /// When they last marked it (RFC 3339).
    #[schemars(extend("format" = "date-time"))]
    #[serde(deserialize_with = "formats::date_time")]
    pub at: String,
}

/// A member's stance on a goal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Stance {
    /// We agree.
    Agree,
    /// Not yet.
    NotYet,
    /// I see it differently.
    Differ,
}

impl Stance {
    /// How the stance reads to people.
    pub fn plain_words(self) -> &'static str {
        match self {
            Stance::Agree => "we agree",
            Stance::NotYet => "not yet",
            Stance::Differ => "I see it differently",
        }
    }

    /// The wire value.
    pub fn as_str(self) -> &'static str {
        match self {
            Stance::Agree => "agree",
            Stance::NotYet => "not-yet",
            Stance::Differ => "differ",
        }
    }
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
    use serde::de::{Deserialize, Deserializer, Error, Unexpected};

    fn is_date(text: &str) -> bool {
        text.len() == 10 && chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d").is_ok()
    }

    // `invalid_value` rather than a message of our own: the schema check records what was
    // expected and drops the value (see `SchemaProblem`).
    pub fn date<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
        let text = String::deserialize(deserializer)?;
        if is_date(&text) {
            Ok(text)
        } else {
            Err(D::Error::invalid_value(
                Unexpected::Str(&text),
                &"a date (YYYY-MM-DD)",
            ))
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
            Err(D::Error::invalid_value(
                Unexpected::Str(&text),
                &"a date and time (RFC 3339)",
            ))
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

/// Why a document does not fit the schema: where, and what kind of thing is wrong there.
///
/// A schema issue is stored in the clear beside the sealed plan (and shown in the plan list), so
/// it never holds anything a member wrote: no value, and no key that is not one of the schema's
/// own field names (see [`SchemaIssue::path`]). Members read the document itself to see what is
/// there.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {problem}")]
pub struct SchemaIssue {
    /// Where in the document (`goals[2].status`, or `.` for the root). Keys that are not field
    /// names of the schema are written `<unknown field>`: a key is written by a member too.
    pub path: String,
    /// What kind of thing is wrong there.
    pub problem: SchemaProblem,
}

/// What kind of thing is wrong in a document that does not fit the schema. Every variant holds
/// only words of the schema (field names, expected kinds, allowed choices), never the document's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SchemaProblem {
    /// A value of another kind than the schema wants (a number where words go, say).
    #[error("expected {expected}, found {found}")]
    WrongType {
        /// What kind of value the document holds there (`a string`, `a number`, …).
        found: &'static str,
        /// What the schema wants there.
        expected: String,
    },
    /// A value of the right kind that the schema does not allow (words that are not a date).
    #[error("the value is not {expected}")]
    BadValue {
        /// What the schema wants there.
        expected: String,
    },
    /// Words that are not one of the schema's choices (an unknown goal status, say).
    #[error("the value is not one of {}", choices(.expected))]
    UnknownChoice {
        /// The choices the schema allows there.
        expected: &'static [&'static str],
    },
    /// A field the schema does not have (its name is not recorded: a member wrote it).
    #[error("a field schema v1 does not have (it has {})", choices(.expected))]
    UnknownField {
        /// The fields the schema allows there.
        expected: &'static [&'static str],
    },
    /// A field the schema requires is missing.
    #[error("missing field `{0}`")]
    MissingField(&'static str),
    /// A field appears twice.
    #[error("field `{0}` appears twice")]
    DuplicateField(&'static str),
    /// A list or tuple of the wrong length.
    #[error("wrong number of items, expected {expected}")]
    WrongLength {
        /// What the schema wants there.
        expected: String,
    },
    /// `schemaVersion` names a version this server does not know.
    #[error("a schema version this server does not know (it knows {SCHEMA_VERSION})")]
    UnknownVersion,
    /// `schemaVersion` is missing or not a whole number.
    #[error("missing or not a whole number")]
    MissingVersion,
    /// The document cannot be read as JSON at all.
    #[error("the document cannot be read as JSON")]
    Unreadable,
    /// Something else does not fit (a rule whose message could hold the value, so it is not
    /// kept).
    #[error("the value does not fit the schema")]
    Other,
}

fn choices(names: &[&str]) -> String {
    match names {
        [] => "none".to_owned(),
        names => names
            .iter()
            .map(|name| format!("`{name}`"))
            .collect::<Vec<_>>()
            .join(", "),
    }
}

/// What kind of value a document holds where it does not fit, without the value.
fn kind_of(unexpected: serde::de::Unexpected<'_>) -> &'static str {
    use serde::de::Unexpected;
    match unexpected {
        Unexpected::Bool(_) => "a boolean",
        Unexpected::Unsigned(_) | Unexpected::Signed(_) | Unexpected::Float(_) => "a number",
        Unexpected::Char(_) | Unexpected::Str(_) => "a string",
        Unexpected::Bytes(_) => "bytes",
        Unexpected::Unit | Unexpected::Option => "null",
        Unexpected::Seq => "a list",
        Unexpected::Map => "a map",
        Unexpected::NewtypeStruct
        | Unexpected::Enum
        | Unexpected::UnitVariant
        | Unexpected::NewtypeVariant
        | Unexpected::TupleVariant
        | Unexpected::StructVariant
        | Unexpected::Other(_) => "another kind of value",
    }
}

impl serde::de::Error for SchemaProblem {
    // A free-form message may quote the value: it is not kept.
    fn custom<T: std::fmt::Display>(_message: T) -> Self {
        SchemaProblem::Other
    }

    fn invalid_type(
        unexpected: serde::de::Unexpected<'_>,
        expected: &dyn serde::de::Expected,
    ) -> Self {
        SchemaProblem::WrongType {
            found: kind_of(unexpected),
            expected: expected.to_string(),
        }
    }

    fn invalid_value(
        _unexpected: serde::de::Unexpected<'_>,
        expected: &dyn serde::de::Expected,
    ) -> Self {
        SchemaProblem::BadValue {
            expected: expected.to_string(),
        }
    }

    fn invalid_length(_len: usize, expected: &dyn serde::de::Expected) -> Self {
        SchemaProblem::WrongLength {
            expected: expected.to_string(),
        }
    }

    fn unknown_variant(_variant: &str, expected: &'static [&'static str]) -> Self {
        SchemaProblem::UnknownChoice { expected }
    }

    fn unknown_field(_field: &str, expected: &'static [&'static str]) -> Self {
        SchemaProblem::UnknownField { expected }
    }

    fn missing_field(field: &'static str) -> Self {
        SchemaProblem::MissingField(field)
    }

    fn duplicate_field(field: &'static str) -> Self {
        SchemaProblem::DuplicateField(field)
    }
}

/// Read a document as a v1 plan, upgrading older schema versions; a document that does not fit
/// says where and what kind of thing is wrong. The document itself is never changed.
pub fn read_plan<D: ReadDoc>(doc: &D) -> Result<PlanDocument, SchemaIssue> {
    let json = serde_json::to_value(AutoSerde::from(doc)).map_err(|_| SchemaIssue {
        path: ".".into(),
        problem: SchemaProblem::Unreadable,
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
        Some(_) => Err(SchemaIssue {
            path: "schemaVersion".into(),
            problem: SchemaProblem::UnknownVersion,
        }),
        None => Err(SchemaIssue {
            path: "schemaVersion".into(),
            problem: SchemaProblem::MissingVersion,
        }),
    }
}

fn parse_v1(document: serde_json::Value) -> Result<PlanDocument, SchemaIssue> {
    serde_path_to_error::deserialize(json_reader::Json(document)).map_err(|err| SchemaIssue {
        path: schema_path(err.path()),
        problem: err.into_inner(),
    })
}

/// Every field name the schema has, at any depth: the only keys a schema issue's path shows.
fn schema_field_names() -> &'static std::collections::HashSet<String> {
    static NAMES: std::sync::OnceLock<std::collections::HashSet<String>> =
        std::sync::OnceLock::new();
    NAMES.get_or_init(|| {
        fn collect(schema: &serde_json::Value, into: &mut std::collections::HashSet<String>) {
            match schema {
                serde_json::Value::Object(map) => {
                    if let Some(serde_json::Value::Object(properties)) = map.get("properties") {
                        into.extend(properties.keys().cloned());
                    }
                    map.values().for_each(|value| collect(value, into));
                }
                serde_json::Value::Array(items) => {
                    items.iter().for_each(|value| collect(value, into))
                }
                _ => {}
            }
        }
        let mut names = std::collections::HashSet::new();
        collect(schemars::schema_for!(PlanDocument).as_value(), &mut names);
        names
    })
}

/// A path as `goals[2].status`, with keys that are not schema field names replaced: a key is
/// written by a member, so it is content too.
fn schema_path(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    let mut out = String::new();
    for segment in path.iter() {
        match segment {
            Segment::Seq { index } => {
                out.push('[');
                out.push_str(&index.to_string());
                out.push(']');
            }
            Segment::Map { key } | Segment::Enum { variant: key } => {
                if !out.is_empty() {
                    out.push('.');
                }
                if schema_field_names().contains(key.as_str()) {
                    out.push_str(key);
                } else {
                    out.push_str("<unknown field>");
                }
            }
            Segment::Unknown => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push('?');
            }
        }
    }
    if out.is_empty() { ".".to_owned() } else { out }
}

/// A deserializer over a JSON value whose errors are [`SchemaProblem`]s, so that what serde
/// reports (a value, an unknown key) is reduced to its kind before anything is formatted.
/// (`serde_json::Value` deserializes with `serde_json::Error`, whose messages quote values.)
mod json_reader {
    use serde::de::value::{MapDeserializer, SeqDeserializer};
    use serde::de::{Error as _, IntoDeserializer, Unexpected, Visitor};
    use serde::forward_to_deserialize_any;
    use serde_json::Value;

    use super::SchemaProblem;

    /// One JSON value to read.
    pub(super) struct Json(pub(super) Value);

    fn unexpected(value: &Value) -> Unexpected<'static> {
        match value {
            Value::Null => Unexpected::Unit,
            Value::Bool(_) => Unexpected::Bool(false),
            Value::Number(_) => Unexpected::Signed(0),
            Value::String(_) => Unexpected::Str(""),
            Value::Array(_) => Unexpected::Seq,
            Value::Object(_) => Unexpected::Map,
        }
    }

    impl<'de> IntoDeserializer<'de, SchemaProblem> for Json {
        type Deserializer = Self;

        fn into_deserializer(self) -> Self {
            self
        }
    }

    impl<'de> serde::Deserializer<'de> for Json {
        type Error = SchemaProblem;

        fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, SchemaProblem> {
            match self.0 {
                Value::Null => visitor.visit_unit(),
                Value::Bool(value) => visitor.visit_bool(value),
                Value::Number(number) => {
                    if let Some(value) = number.as_u64() {
                        visitor.visit_u64(value)
                    } else if let Some(value) = number.as_i64() {
                        visitor.visit_i64(value)
                    } else {
                        visitor.visit_f64(number.as_f64().unwrap_or(f64::NAN))
                    }
                }
                Value::String(text) => visitor.visit_string(text),
                Value::Array(items) => {
                    let mut seq = SeqDeserializer::new(items.into_iter().map(Json));
                    let value = visitor.visit_seq(&mut seq)?;
                    seq.end()?;
                    Ok(value)
                }
                Value::Object(fields) => {
                    let mut map = MapDeserializer::new(
                        fields.into_iter().map(|(key, value)| (key, Json(value))),
                    );
                    let value = visitor.visit_map(&mut map)?;
                    map.end()?;
                    Ok(value)
                }
            }
        }

        fn deserialize_option<V: Visitor<'de>>(
            self,
            visitor: V,
        ) -> Result<V::Value, SchemaProblem> {
            match self.0 {
                Value::Null => visitor.visit_none(),
                other => visitor.visit_some(Json(other)),
            }
        }

        fn deserialize_enum<V: Visitor<'de>>(
            self,
            _name: &'static str,
            _variants: &'static [&'static str],
            visitor: V,
        ) -> Result<V::Value, SchemaProblem> {
            // The schema's choices are words (unit variants).
            match self.0 {
                Value::String(text) => visitor.visit_enum(text.into_deserializer()),
                other => Err(SchemaProblem::invalid_type(unexpected(&other), &visitor)),
            }
        }

        fn deserialize_newtype_struct<V: Visitor<'de>>(
            self,
            _name: &'static str,
            visitor: V,
        ) -> Result<V::Value, SchemaProblem> {
            visitor.visit_newtype_struct(self)
        }

        forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
            unit unit_struct seq tuple tuple_struct map struct identifier ignored_any
        }
    }
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
        // Every member's stance goes into this one map (created with the goal, so no two
        // members ever create it at once).
        let agreement = doc.put_object(&item, "agreement", ObjType::Map)?;
        for (account, stand) in &goal.agreement {
            let entry = doc.put_object(&agreement, account.as_str(), ObjType::Map)?;
            doc.put(&entry, "stance", stand.stance.as_str())?;
            doc.put(&entry, "at", stand.at.as_str())?;
            put_text(doc, &entry, "note", &stand.note)?;
        }
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

    /// Mark where a member (`account_id`) stands on a goal, with a note in their own words. The
    /// member's entry of the goal's `agreement` map is their own, so two members marking at once
    /// both keep theirs. The stance and time (now) are scalars; the note is Automerge text,
    /// edited in place.
    ///
    /// New goals are written with an empty `agreement` map ([`add_goal`]). A goal written before
    /// revision 2 gains it when first marked; if two members first mark such a goal at once,
    /// each creates a map and Automerge shows one of them: the next mark (by either) heals that
    /// by writing one map holding every entry still standing (the latest `at` per member).
    pub fn set_agreement(
        doc: &mut AutoCommit,
        goal_id: &str,
        account_id: &str,
        stance: Stance,
        note: &str,
    ) -> Result<(), WriteError> {
        let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        set_agreement_at(doc, goal_id, account_id, stance, note, &now)
    }

    /// [`set_agreement`] with the time of marking given (RFC 3339), for tools and examples.
    pub fn set_agreement_at(
        doc: &mut AutoCommit,
        goal_id: &str,
        account_id: &str,
        stance: Stance,
        note: &str,
        at: &str,
    ) -> Result<(), WriteError> {
        let goal = goal(doc, goal_id)?;
        let standing: Vec<ObjId> = doc
            .get_all(&goal, "agreement")?
            .into_iter()
            .filter_map(|(value, id)| matches!(value, Value::Object(ObjType::Map)).then_some(id))
            .collect();
        let agreement = match standing.as_slice() {
            [one] => one.clone(),
            [] => doc.put_object(&goal, "agreement", ObjType::Map)?,
            several => {
                let mut entries: BTreeMap<String, (String, String, String)> = BTreeMap::new();
                for map in several {
                    for account in doc.keys(map).collect::<Vec<_>>() {
                        if let Some((Value::Object(ObjType::Map), entry)) =
                            doc.get(map, account.as_str())?
                        {
                            let read = |key: &str| match doc.get(&entry, key) {
                                Ok(Some((Value::Object(ObjType::Text), text))) => {
                                    doc.text(&text).unwrap_or_default()
                                }
                                Ok(Some((Value::Scalar(value), _))) => {
                                    value.to_str().unwrap_or_default().to_owned()
                                }
                                _ => String::new(),
                            };
                            let found = (read("at"), read("stance"), read("note"));
                            let later = entries.get(&account).is_none_or(|kept| found.0 > kept.0);
                            if later {
                                entries.insert(account, found);
                            }
                        }
                    }
                }
                let healed = doc.put_object(&goal, "agreement", ObjType::Map)?;
                for (account, (at, stance, note)) in entries {
                    let entry = doc.put_object(&healed, account.as_str(), ObjType::Map)?;
                    doc.put(&entry, "stance", stance.as_str())?;
                    doc.put(&entry, "at", at.as_str())?;
                    put_text(doc, &entry, "note", &note)?;
                }
                healed
            }
        };
        let entry = match doc.get(&agreement, account_id)? {
            Some((Value::Object(ObjType::Map), id)) => id,
            _ => doc.put_object(&agreement, account_id, ObjType::Map)?,
        };
        doc.put(&entry, "stance", stance.as_str())?;
        doc.put(&entry, "at", at)?;
        match doc.get(&entry, "note")? {
            Some((Value::Object(ObjType::Text), text)) => {
                let length = doc.length(&text);
                doc.splice_text(&text, 0, length as isize, note)?;
            }
            _ => put_text(doc, &entry, "note", note)?,
        }
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
            agreement: BTreeMap::new(),
        }
    }

    /// Two members marking the same goal at once both keep their stance and note.
    #[test]
    fn agreement_is_per_member_and_concurrent_marks_both_survive()
    -> Result<(), Box<dyn std::error::Error>> {
        let mut person = new_plan_document(ActorId::random(), "Plan")?;
        add_goal(&mut person, &sample_goal())?;
        person.commit();
        assert!(read_plan(&person)?.goals[0].agreement.is_empty());
        let mut supporter = person.fork().with_actor(ActorId::random());
        set_agreement(&mut person, "g1", "maria", Stance::Agree, "It's mine")?;
        set_agreement(
            &mut supporter,
            "g1",
            "sam",
            Stance::NotYet,
            "Let's talk Tuesday",
        )?;
        person.merge(&mut supporter)?;
        supporter.merge(&mut person)?;
        for doc in [&person, &supporter] {
            let agreement = &read_plan(doc)?.goals[0].agreement;
            assert_eq!(agreement.len(), 2, "{agreement:?}");
            assert_eq!(agreement["maria"].stance, Stance::Agree);
            assert_eq!(agreement["sam"].stance, Stance::NotYet);
            assert_eq!(agreement["sam"].note, "Let's talk Tuesday");
        }
        set_agreement(&mut person, "g1", "maria", Stance::Differ, "")?;
        let plan = read_plan(&person)?;
        assert_eq!(plan.goals[0].agreement["maria"].stance, Stance::Differ);
        assert_eq!(plan.goals[0].agreement["maria"].note, "");
        assert!(matches!(
            set_agreement(&mut person, "nope", "maria", Stance::Agree, ""),
            Err(WriteError::Missing(_))
        ));
        Ok(())
    }

    /// A goal written before revision 2 has no `agreement`: it reads as before, gains the map
    /// when first marked, and when two members first mark it at once, the next mark keeps both.
    #[test]
    fn goals_written_before_agreement_gain_it_and_a_first_mark_race_heals()
    -> Result<(), Box<dyn std::error::Error>> {
        let mut person = new_plan_document(ActorId::random(), "Plan")?;
        add_goal(&mut person, &sample_goal())?;
        let goals = person.get(ROOT, "goals")?.ok_or("no goals")?.1;
        let goal = find_item(&person, &goals, "g1").ok_or("no goal")?;
        person.delete(&goal, "agreement")?;
        person.commit();
        let json = serde_json::to_value(AutoSerde::from(&person))?;
        assert!(json["goals"][0].get("agreement").is_none());
        assert!(read_plan(&person)?.goals[0].agreement.is_empty());
        let mut supporter = person.fork().with_actor(ActorId::random());
        set_agreement(&mut person, "g1", "maria", Stance::Agree, "Mine")?;
        set_agreement(&mut supporter, "g1", "sam", Stance::Differ, "Smaller first")?;
        person.merge(&mut supporter)?;
        supporter.merge(&mut person)?;
        assert_eq!(
            read_plan(&person)?.goals[0].agreement.len(),
            1,
            "one map shows"
        );
        set_agreement(&mut supporter, "g1", "sam", Stance::NotYet, "Smaller first")?;
        person.merge(&mut supporter)?;
        for doc in [&person, &supporter] {
            let agreement = &read_plan(doc)?.goals[0].agreement;
            assert_eq!(agreement["maria"].stance, Stance::Agree, "{agreement:?}");
            assert_eq!(agreement["maria"].note, "Mine");
            assert_eq!(agreement["sam"].stance, Stance::NotYet);
        }
        assert!(crate::conflicts::open_conflicts(&person).is_empty());
        Ok(())
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
        assert!(matches!(issue.problem, SchemaProblem::UnknownChoice { .. }));
        assert!(!issue.to_string().contains("maybe"), "{issue}");

        let mut risky = new_plan_document(ActorId::random(), "Plan")?;
        risky.put(ROOT, "riskScore", 7)?;
        risky.commit();
        let issue = read_plan(&risky).expect_err("fields outside the schema do not fit");
        assert_eq!(issue.path, "<unknown field>");
        assert!(matches!(issue.problem, SchemaProblem::UnknownField { .. }));
        assert!(!issue.to_string().contains("riskScore"), "{issue}");

        let mut future = new_plan_document(ActorId::random(), "Plan")?;
        future.put(ROOT, "schemaVersion", 2)?;
        future.commit();
        assert_eq!(
            read_plan(&future).expect_err("unknown version").path,
            "schemaVersion"
        );
        Ok(())
    }

    #[test]
    fn schema_issues_never_hold_the_documents_words() {
        let goal = serde_json::json!({"id": "g", "text": "x", "status": "thinking", "steps": [],
                                      "createdBy": "u", "createdAt": "2026-01-01T00:00:00Z"});
        let plan = |field: &str, value: serde_json::Value| {
            let mut plan = serde_json::json!({
                "schemaVersion": 1, "title": "T", "whatMatters": "", "strengths": [],
                "goals": [goal.clone()], "supports": [], "checkIns": []
            });
            plan[field] = value;
            plan
        };
        let secret = "the day after court";
        let check_in =
            |date: serde_json::Value| serde_json::json!([{"id": "c", "date": date, "by": "u"}]);
        let mut bad_goal = goal.clone();
        bad_goal["status"] = secret.into();
        let mut odd_key = goal.clone();
        odd_key[secret] = "x".into();
        let mut bad_time = goal.clone();
        bad_time["createdAt"] = secret.into();
        let cases = [
            (
                plan("checkIns", check_in(secret.into())),
                "checkIns[0].date",
                "a date",
            ),
            (
                plan("checkIns", check_in(7.into())),
                "checkIns[0].date",
                "found a number",
            ),
            (
                plan("goals", serde_json::json!([bad_goal])),
                "goals[0].status",
                "`thinking`",
            ),
            (
                plan("goals", serde_json::json!([odd_key])),
                "goals[0].<unknown field>",
                "`text`",
            ),
            (
                plan("goals", serde_json::json!([bad_time])),
                "goals[0].createdAt",
                "RFC 3339",
            ),
            (plan(secret, "x".into()), "<unknown field>", "`goals`"),
            (
                plan("title", serde_json::json!([secret])),
                "title",
                "found a list",
            ),
            (
                plan("strengths", secret.into()),
                "strengths",
                "found a string",
            ),
            (
                plan("schemaVersion", 12345.into()),
                "schemaVersion",
                "it knows 1",
            ),
        ];
        for (document, path, says) in cases {
            let issue = upgrade(document).expect_err("does not fit");
            let text = issue.to_string();
            assert_eq!(issue.path, path, "{text}");
            assert!(text.contains(says), "{text}");
            for word in ["day after court", "12345"] {
                assert!(!text.contains(word), "{text}");
            }
        }
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
