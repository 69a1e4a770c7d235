//! Exports of a plan (`GET /api/v1/plans/{id}/export?format=…`): the document as JSON with its
//! authors' names, a readable and printable Markdown page, or a FHIR R4 Bundle for another
//! care system.
//!
//! Any member may export JSON and Markdown: it is their own plan, written together. FHIR is for
//! handing the plan to a third party, and only the person whose plan it is decides that, so it is
//! owner-only. Every export must work for every stored plan, whatever a client wrote into it:
//! parts that do not fit the schema are shown as such ([`document`]), never the reason for a
//! failed export, and the person's words are always kept verbatim.

mod agreement;
mod document;
mod fhir;
mod markdown;
mod unsettled;

use std::collections::HashMap;
use std::str::FromStr;

use automerge::AutoSerde;
use cairn_shared::api::PlanRole;
use cairn_shared::{PlanId, UserId};
use chrono::{DateTime, Utc};
use serde_json::{Map, Value};
use tracing::instrument;

use super::Services;
use super::access_log;
use super::plans::{PlanError, read_document, role_on};
use crate::domain::{AccessEvent, Caller, Plan};

/// A format a plan can be exported in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    /// The document as plain JSON, with authors' display names added.
    Json,
    /// A readable, printable page.
    Markdown,
    /// A FHIR R4 (4.0.1) Bundle: CarePlan, Goals, the person as Patient, and Provenance.
    Fhir,
}

impl ExportFormat {
    /// The name used in the query string and the access log.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Json => "json",
            Self::Markdown => "markdown",
            Self::Fhir => "fhir",
        }
    }
}

/// A format name that is not one of `json`, `markdown`, `fhir`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("format must be one of json, markdown, fhir")]
pub struct UnknownFormat;

impl FromStr for ExportFormat {
    type Err = UnknownFormat;
    fn from_str(name: &str) -> Result<Self, UnknownFormat> {
        match name {
            "json" => Ok(Self::Json),
            "markdown" => Ok(Self::Markdown),
            "fhir" => Ok(Self::Fhir),
            _ => Err(UnknownFormat),
        }
    }
}

/// An export, ready to send as a download.
#[derive(Debug, Clone)]
pub struct Export {
    /// The media type.
    pub content_type: &'static str,
    /// A file name for `Content-Disposition`: the plan id, never its (personal) title.
    pub file_name: String,
    /// The content.
    pub body: Vec<u8>,
}

/// One person who wrote or may write in the plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Person {
    /// Their account.
    pub id: UserId,
    /// Their display name.
    pub name: String,
    /// Their role now; `None` for someone who wrote in the plan and is no longer a member.
    pub role: Option<PlanRole>,
}

/// Everyone the export may name: the members (owner first) and former members who wrote in the
/// plan. Only these account ids are turned into names, so a client cannot learn an unrelated
/// account's name by writing its id into a plan.
#[derive(Debug, Clone)]
pub(crate) struct People {
    /// Owner first, then supporters in the order they joined, then former members.
    pub everyone: Vec<Person>,
    by_id: HashMap<UserId, usize>,
}

impl People {
    fn new(everyone: Vec<Person>) -> Self {
        let by_id = everyone
            .iter()
            .enumerate()
            .map(|(index, person)| (person.id, index))
            .collect();
        Self { everyone, by_id }
    }

    /// The person an account id written in the document names, if it names one of them.
    pub fn find(&self, written: &str) -> Option<&Person> {
        let id = UserId::from_str(written.trim()).ok()?;
        self.by_id.get(&id).map(|index| &self.everyone[*index])
    }

    /// The owner (always present for a stored plan).
    pub fn owner(&self) -> Option<&Person> {
        self.everyone
            .iter()
            .find(|person| person.role == Some(PlanRole::Owner))
    }

    /// The current supporters.
    pub fn supporters(&self) -> impl Iterator<Item = &Person> {
        self.everyone
            .iter()
            .filter(|person| person.role == Some(PlanRole::Supporter))
    }
}

/// What an export is made from.
#[derive(Debug)]
pub(crate) struct Source<'a> {
    /// The plan's metadata.
    pub plan: &'a Plan,
    /// The document as plain JSON.
    pub document: &'a Value,
    /// Who may be named.
    pub people: &'a People,
    /// Who is exporting.
    pub exported_by: &'a Person,
    /// When.
    pub exported_at: DateTime<Utc>,
    /// Fields the members set differently at once and have not settled.
    pub unsettled: &'a [cairn_shared::api::PlanConflict],
    /// The named version shown, or `None` for the plan as it is now.
    pub version: Option<&'a cairn_shared::api::PlanVersion>,
}

impl Source<'_> {
    /// Which version the export shows, in a sentence.
    pub fn version_words(&self) -> String {
        match self.version {
            Some(version) => format!(
                "This is the version ‘{}’, named by {} on {}.",
                version.name,
                version.named_by_name,
                version.named_at.date_naive()
            ),
            None => format!(
                "This is the plan as it was on {}, when it was exported.",
                self.exported_at.date_naive()
            ),
        }
    }
}

/// Export a plan in a format. Members may export JSON and Markdown; FHIR, which is for handing
/// the plan to someone else, is the owner's decision alone.
#[instrument(skip_all, fields(user.id = %caller.user.id, plan.id = %plan, export.format = format.as_str()))]
pub async fn export_plan(
    services: &Services,
    caller: &Caller,
    plan: PlanId,
    format: ExportFormat,
    version: Option<uuid::Uuid>,
) -> Result<Export, super::versions::VersionError> {
    let role = role_on(services, caller, plan).await?;
    if format == ExportFormat::Fhir && role != PlanRole::Owner {
        tracing::warn!("FHIR export refused for a supporter");
        return Err(PlanError::OwnerOnly.into());
    }
    let metadata = services
        .store
        .plan(plan)
        .await?
        .ok_or(PlanError::NotFound)?;
    let (document, unsettled, version) = match version {
        Some(version) => {
            let (version, document, unsettled) =
                super::versions::version_document(services, caller, plan, version).await?;
            (document, unsettled, Some(version))
        }
        None => {
            let document = read_document(services, caller, plan, |document| {
                serde_json::to_value(AutoSerde::from(document))
            })
            .await?
            .map_err(|err| PlanError::Document(err.to_string()))?;
            let unsettled = super::conflicts::conflicts(services, caller, plan).await?;
            (document, unsettled, None)
        }
    };
    let people = people(services, plan).await?;
    let exported_by = people
        .find(&caller.user.id.to_string())
        .cloned()
        .unwrap_or_else(|| Person {
            id: caller.user.id,
            name: caller.user.display_name.clone(),
            role: Some(role),
        });
    let source = Source {
        plan: &metadata,
        document: &document,
        people: &people,
        exported_by: &exported_by,
        exported_at: Utc::now(),
        unsettled: &unsettled,
        version: version.as_ref(),
    };
    let stem = format!("cairn-plan-{plan}");
    let export = match format {
        ExportFormat::Json => Export {
            content_type: "application/json",
            file_name: format!("{stem}.json"),
            body: to_json_bytes(&json_export(&source))?,
        },
        ExportFormat::Markdown => Export {
            content_type: "text/markdown; charset=utf-8",
            file_name: format!("{stem}.md"),
            body: markdown::render(&source).into_bytes(),
        },
        ExportFormat::Fhir => Export {
            content_type: "application/fhir+json",
            file_name: format!("{stem}.fhir.json"),
            body: to_json_bytes(&fhir::bundle(&source))?,
        },
    };
    // Nothing is handed out unrecorded: a failure to log the export fails the export.
    access_log::record(
        services,
        caller,
        plan,
        AccessEvent::Export {
            format: format.as_str().to_owned(),
        },
    )
    .await?;
    tracing::info!("plan exported");
    Ok(export)
}

fn to_json_bytes(value: &Value) -> Result<Vec<u8>, PlanError> {
    serde_json::to_vec_pretty(value).map_err(|err| PlanError::Document(err.to_string()))
}

/// The members, then former members who wrote in the plan (known from the accounts its
/// Automerge actors are bound to).
async fn people(services: &Services, plan: PlanId) -> Result<People, PlanError> {
    let members = services
        .store
        .members_of(&[plan])
        .await?
        .remove(&plan)
        .unwrap_or_default();
    let mut everyone: Vec<Person> = members
        .into_iter()
        .map(|member| Person {
            id: member.user_id,
            name: member.display_name,
            role: Some(member.role),
        })
        .collect();
    let mut authors: Vec<UserId> = services
        .store
        .actor_bindings(plan)
        .await?
        .into_values()
        .collect();
    authors.sort();
    authors.dedup();
    for author in authors {
        if everyone.iter().any(|person| person.id == author) {
            continue;
        }
        if let Some(user) = services.store.user(author).await? {
            everyone.push(Person {
                id: author,
                name: user.display_name,
                role: None,
            });
        }
    }
    Ok(People::new(everyone))
}

fn role_name(role: Option<PlanRole>) -> &'static str {
    match role {
        Some(PlanRole::Owner) => "owner",
        Some(PlanRole::Supporter) => "supporter",
        None => "former member",
    }
}

/// The JSON export: the document exactly as stored, with a `…Name` field next to each author
/// id that names one of the plan's people, wrapped with the plan's metadata and members.
fn json_export(source: &Source<'_>) -> Value {
    let mut document = source.document.clone();
    add_author_names(&mut document, source.people);
    let plan = source.plan;
    serde_json::json!({
        "cairnExport": 1,
        "exportedAt": source.exported_at,
        "exportedBy": { "userId": source.exported_by.id, "displayName": source.exported_by.name },
        "plan": {
            "id": plan.id,
            "documentId": plan.id.document_id().to_string(),
            "url": plan.id.automerge_url(),
            "createdAt": plan.created_at,
        },
        "people": source.people.everyone.iter().map(|person| serde_json::json!({
            "userId": person.id,
            "displayName": person.name,
            "role": role_name(person.role),
        })).collect::<Vec<_>>(),
        "document": document,
        // Where the members chose differently at once: every value and who chose it (the
        // document above shows only one of them).
        "unsettled": unsettled::json(source.unsettled),
        // Which version this is: a named one, or the plan as it is now.
        "version": match source.version {
            Some(version) => serde_json::json!({
                "current": false,
                "id": version.id,
                "name": version.name,
                "namedBy": { "userId": version.named_by, "displayName": version.named_by_name },
                "namedAt": version.named_at,
                "heads": version.heads,
            }),
            None => serde_json::json!({ "current": true }),
        },
    })
}

/// Add `createdByName`, `addedByName` and `byName` next to the author ids of goals, strengths
/// and check-ins. Nothing else is touched, and a name already present is left as it is.
fn add_author_names(document: &mut Value, people: &People) {
    for (list, key) in [
        ("goals", "createdBy"),
        ("strengths", "addedBy"),
        ("checkIns", "by"),
    ] {
        let items: Vec<&mut Value> = match document.get_mut(list) {
            Some(Value::Array(items)) => items.iter_mut().collect(),
            Some(Value::Object(items)) => items.values_mut().collect(),
            _ => continue,
        };
        for item in items {
            if let Value::Object(item) = item {
                name_author(item, key, people);
                if list == "goals" {
                    name_stances(item, people);
                }
            }
        }
    }
}

/// Add `name` to each member's stance in a goal's `agreement` (keyed by account id) that names
/// one of the plan's people.
fn name_stances(goal: &mut Map<String, Value>, people: &People) {
    let Some(Value::Object(agreement)) = goal.get_mut("agreement") else {
        return;
    };
    for (account, stand) in agreement.iter_mut() {
        if let (Value::Object(stand), Some(person)) = (stand, people.find(account)) {
            stand
                .entry("name")
                .or_insert_with(|| Value::String(person.name.clone()));
        }
    }
}

fn name_author(item: &mut Map<String, Value>, key: &str, people: &People) {
    let name_key = format!("{key}Name");
    if item.contains_key(&name_key) {
        return;
    }
    let name = match item.get(key) {
        Some(Value::String(id)) => people.find(id).map(|person| person.name.clone()),
        _ => None,
    };
    if let Some(name) = name {
        item.insert(name_key, Value::String(name));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use uuid::Uuid;

    fn person(role: Option<PlanRole>, name: &str) -> Person {
        Person {
            id: UserId(Uuid::new_v4()),
            name: name.into(),
            role,
        }
    }

    #[test]
    fn author_names_are_added_only_for_the_plans_people() {
        let maria = person(Some(PlanRole::Owner), "Maria");
        let people = People::new(vec![maria.clone()]);
        let stranger = Uuid::new_v4().to_string();
        let mut document = json!({
            "goals": [
                {"createdBy": maria.id.to_string().to_uppercase()},
                {"createdBy": stranger},
                {"createdBy": 12},
                "not a map"
            ],
            "strengths": {"s1": {"addedBy": maria.id.to_string(), "addedByName": "kept"}},
            "checkIns": [{"by": maria.id.to_string()}]
        });
        add_author_names(&mut document, &people);
        assert_eq!(document["goals"][0]["createdByName"], "Maria");
        assert!(document["goals"][1].get("createdByName").is_none());
        assert!(document["goals"][2].get("createdByName").is_none());
        assert_eq!(document["goals"][3], "not a map");
        assert_eq!(document["strengths"]["s1"]["addedByName"], "kept");
        assert_eq!(document["checkIns"][0]["byName"], "Maria");
    }

    #[test]
    fn format_names() {
        assert_eq!("fhir".parse(), Ok(ExportFormat::Fhir));
        assert_eq!("FHIR".parse::<ExportFormat>(), Err(UnknownFormat));
        assert_eq!("".parse::<ExportFormat>(), Err(UnknownFormat));
    }
}
