//! The FHIR R4 (4.0.1) export: a `collection` Bundle holding the person as a Patient (a display
//! name and an opaque identifier, nothing else), the plan as a CarePlan, one Goal per goal and
//! a Provenance naming everyone who wrote the plan, as equals.
//!
//! Mapping decisions:
//! - CarePlan: `status` active, `intent` plan, `title`, `description` = what matters (verbatim),
//!   `subject` and `author` = the person, `contributor` = every co-author, `goal` = the Goals,
//!   one `activity` per step (`detail.description` verbatim, `detail.goal`, `performer` from
//!   `who`, `scheduledPeriod.end` from `due`, `status` from `done`: completed, or not-started,
//!   on-hold for a paused goal, cancelled for a goal let go). Strengths, supports and check-ins
//!   have no CarePlan element of their own, so they are `note`s (Annotation, markdown: the
//!   words escaped as in the Markdown export), with who wrote them and when.
//! - Goal: `description.text` verbatim; `lifecycleStatus` thinking→proposed, working→active,
//!   paused→on-hold, done→completed, let-go→cancelled (an unknown status: proposed, with a note
//!   saying what was written); `achievementStatus` in-progress for working, achieved for done;
//!   `expressedBy` = whoever wrote it down.
//! - Agreement (a goal's `agreement`): one `goal-acceptance` extension per member who marked
//!   the goal, `individual` referenced as everywhere else in the export (the Patient for the
//!   person, by display name for supporters), `status` agree / disagree (I see it differently) /
//!   pending (not yet). The standard extension has no note, so each member's note is a Goal
//!   `note` attributed to them (`authorString`, `time` when they marked it).
//! - Security labels on the Bundle and every resource (HL7 DS4P): confidentiality `R`
//!   (restricted), the policy `42CFRPart2` and the obligation `NORDSCLCD` (no redisclosure
//!   without consent). Cairn treats every plan as a possible substance-use recovery record
//!   under 42 CFR Part 2 (see the product's principles): the server cannot know whether a
//!   plan holds substance-use information without classifying the person's words, which it
//!   will not do, and over-labelling only makes a receiver more careful. No sensitivity code
//!   (`ETH`, `PSY`, …) is sent: it would say more about the person than the receiver needs, and
//!   the policy label is what obliges the receiver.
//! - Parts of the document that cannot be read become a CarePlan `note` saying where and what
//!   they hold; nothing is dropped silently.

use chrono::{NaiveDate, SecondsFormat};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::document::{self, Done, Entry, GoalStatus, Status, Who};
use super::markdown;
use super::{Person, Source};

const CONFIDENTIALITY: &str = "http://terminology.hl7.org/CodeSystem/v3-Confidentiality";
const ACT_CODE: &str = "http://terminology.hl7.org/CodeSystem/v3-ActCode";
const GOAL_ACHIEVEMENT: &str = "http://terminology.hl7.org/CodeSystem/goal-achievement";
const PARTICIPANT_TYPE: &str = "http://terminology.hl7.org/CodeSystem/provenance-participant-type";
const URI_IDENTIFIER: &str = "urn:ietf:rfc:3986";
const GOAL_ACCEPTANCE: &str = "http://hl7.org/fhir/StructureDefinition/goal-acceptance";

/// Said where FHIR requires words and the person has written none yet.
const NOT_WRITTEN: &str = "(not written yet)";

fn meta() -> Value {
    json!({
        "security": [
            { "system": CONFIDENTIALITY, "code": "R", "display": "restricted" },
            { "system": ACT_CODE, "code": "42CFRPart2", "display": "42 CFR Part2" },
            {
                "system": ACT_CODE,
                "code": "NORDSCLCD",
                "display": "no redisclosure without consent directive"
            }
        ]
    })
}

/// A stable id for a resource of this export, derived from the plan and what the resource is.
fn derived_id(plan: Uuid, what: &str) -> Uuid {
    let mut hash = Sha256::new();
    hash.update(b"cairn fhir export\0");
    hash.update(plan.as_bytes());
    hash.update(what.as_bytes());
    let digest = hash.finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_custom_bytes(bytes).into_uuid()
}

fn urn(id: Uuid) -> String {
    format!("urn:uuid:{id}")
}

fn instant(time: chrono::DateTime<chrono::Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// A reference to a person: to the Patient for the person whose plan it is, by display name
/// only for everyone else (supporters are not Practitioners, nor anyone's RelatedPerson).
fn person_reference(person: &Person, patient: &Person, patient_url: &str) -> Value {
    let mut reference = serde_json::Map::new();
    if person.id == patient.id {
        reference.insert("reference".into(), Value::String(patient_url.to_owned()));
    }
    if !person.name.trim().is_empty() {
        reference.insert("display".into(), Value::String(person.name.clone()));
    }
    if reference.is_empty() {
        reference.insert("display".into(), Value::String("a member".into()));
    }
    Value::Object(reference)
}

fn lifecycle_status(status: &Status) -> &'static str {
    match status {
        Status::Known(GoalStatus::Thinking) | Status::Other(_) | Status::Missing => "proposed",
        Status::Known(GoalStatus::Working) => "active",
        Status::Known(GoalStatus::Paused) => "on-hold",
        Status::Known(GoalStatus::Done) => "completed",
        Status::Known(GoalStatus::LetGo) => "cancelled",
    }
}

fn achievement_status(status: &Status) -> Option<Value> {
    let (code, display) = match status {
        Status::Known(GoalStatus::Working) => ("in-progress", "In Progress"),
        Status::Known(GoalStatus::Done) => ("achieved", "Achieved"),
        _ => return None,
    };
    Some(json!({ "coding": [{ "system": GOAL_ACHIEVEMENT, "code": code, "display": display }] }))
}

fn step_status(done: &Done, goal: &Status) -> &'static str {
    match (done, goal) {
        (Done::Yes, _) => "completed",
        (Done::Unreadable(_), _) => "unknown",
        (Done::No, Status::Known(GoalStatus::Paused)) => "on-hold",
        (Done::No, Status::Known(GoalStatus::LetGo)) => "cancelled",
        (Done::No, _) => "not-started",
    }
}

fn is_date(text: &str) -> bool {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").is_ok()
}

fn annotation(author: Option<&Person>, time: Option<&str>, text: String) -> Value {
    let mut note = serde_json::Map::new();
    if let Some(author) = author.filter(|a| !a.name.trim().is_empty()) {
        note.insert("authorString".into(), Value::String(author.name.clone()));
    }
    if let Some(time) = time.filter(|t| is_date(t)) {
        note.insert("time".into(), Value::String(time.to_owned()));
    }
    note.insert("text".into(), Value::String(text));
    Value::Object(note)
}

/// The Bundle.
pub fn bundle(source: &Source<'_>) -> Value {
    let plan = document::read(source.document);
    let people = source.people;
    let patient = people.owner().unwrap_or(source.exported_by);
    let plan_id = source.plan.id.0;
    let patient_url = urn(patient.id.0);
    let care_plan_url = urn(plan_id);
    let patient_reference = person_reference(patient, patient, &patient_url);
    let supporters: Vec<Value> = people
        .supporters()
        .map(|s| person_reference(s, patient, &patient_url))
        .collect();
    let find = |written: Option<&str>| written.and_then(|w| people.find(w));

    let mut goals = Vec::new();
    let mut activities = Vec::new();
    for (index, goal) in plan.goals.iter().enumerate() {
        let Entry::Read(goal) = goal else { continue };
        let goal_id = derived_id(
            plan_id,
            &format!("goal {index} {}", goal.id.as_deref().unwrap_or("")),
        );
        let goal_url = urn(goal_id);
        let description = match (&goal.text, goal.text.words()) {
            (_, Some(words)) => words.to_owned(),
            (document::Text::Unreadable(_), _) => "(could not be read)".to_owned(),
            _ => NOT_WRITTEN.to_owned(),
        };
        let unsettled = super::unsettled::on(source.unsettled, goal.id.as_deref(), "status");
        let mut resource = json!({
            "resourceType": "Goal",
            "id": goal_id,
            "meta": meta(),
            // An unsettled status is not one of its values: the goal is proposed, with a note.
            "lifecycleStatus": if unsettled.is_some() { "proposed" } else { lifecycle_status(&goal.status) },
            "description": { "text": description },
            "subject": patient_reference,
        });
        if let Some(achievement) = achievement_status(&goal.status).filter(|_| unsettled.is_none())
        {
            resource["achievementStatus"] = achievement;
        }
        if let Some(author) = find(goal.created_by.as_deref()) {
            resource["expressedBy"] = person_reference(author, patient, &patient_url);
        }
        if let Some(conflict) = unsettled {
            resource["note"] = json!([annotation(
                None,
                None,
                format!(
                    "Where it stands is not settled yet: {}",
                    super::unsettled::choices(conflict)
                ),
            )]);
        } else if let Status::Other(written) = &goal.status {
            resource["note"] = json!([annotation(
                None,
                None,
                format!(
                    "Status written in the plan: {}",
                    markdown::code_span(written)
                ),
            )]);
        }
        let mut acceptance = Vec::new();
        let mut stance_notes = Vec::new();
        for (person, stand) in super::agreement::stands(goal, people) {
            let individual = match person {
                Some(person) => person_reference(person, patient, &patient_url),
                None => json!({ "display": "someone who is not a member of this plan" }),
            };
            acceptance.push(json!({
                "url": GOAL_ACCEPTANCE,
                "extension": [
                    { "url": "individual", "valueReference": individual },
                    { "url": "status", "valueCode": super::agreement::fhir_status(&stand.stance) },
                ],
            }));
            let words = match &stand.note {
                document::Text::Unreadable(part) => Some(markdown::unreadable_note(part)),
                note => note.words().map(|w| markdown::block(w, "")),
            };
            let said = format!(
                "Where {} stands: {}",
                person.map_or("someone who is not a member of this plan", |p| p
                    .name
                    .as_str()),
                super::agreement::stance_words(&stand.stance)
            );
            let mut note = annotation(
                person,
                None,
                match words {
                    Some(words) => format!("{said}: {words}"),
                    None => said,
                },
            );
            if let Some(at) = stand
                .at
                .as_deref()
                .filter(|at| chrono::DateTime::parse_from_rfc3339(at).is_ok())
            {
                note["time"] = Value::String(at.to_owned());
            }
            stance_notes.push(note);
        }
        if !acceptance.is_empty() {
            resource["extension"] = Value::Array(acceptance);
        }
        if !stance_notes.is_empty() {
            match resource.get_mut("note") {
                Some(Value::Array(notes)) => notes.extend(stance_notes),
                _ => resource["note"] = Value::Array(stance_notes),
            }
        }
        for step in &goal.steps {
            let Entry::Read(step) = step else { continue };
            let mut detail = json!({
                "status": step_status(&step.done, &goal.status),
                "goal": [{ "reference": goal_url }],
            });
            if let Some(words) = step.text.words() {
                detail["description"] = Value::String(words.to_owned());
            }
            let performers: Vec<Value> = match step.who {
                Who::Me => vec![patient_reference.clone()],
                Who::Supporter if supporters.is_empty() => {
                    vec![json!({ "display": "a supporter" })]
                }
                Who::Supporter => supporters.clone(),
                Who::Together => std::iter::once(patient_reference.clone())
                    .chain(supporters.iter().cloned())
                    .collect(),
                Who::Other(_) | Who::Missing => Vec::new(),
            };
            if !performers.is_empty() {
                detail["performer"] = Value::Array(performers);
            }
            match step.due.as_deref().map(str::trim) {
                Some(due) if is_date(due) => detail["scheduledPeriod"] = json!({ "end": due }),
                Some(due) if !due.is_empty() => {
                    detail["scheduledString"] = Value::String(due.to_owned())
                }
                _ => {}
            }
            activities.push(json!({ "detail": detail }));
        }
        goals.push((goal_url, resource));
    }

    let mut notes = Vec::new();
    for sentence in super::unsettled::sentences(source.unsettled, source.document) {
        notes.push(annotation(
            None,
            None,
            format!("Not settled yet: {sentence}"),
        ));
    }
    if !plan.is_v1() {
        notes.push(annotation(
            None,
            None,
            format!(
                "This plan says it is written in schema version {}; it was read as version 1.",
                markdown::code_span(plan.schema_version.as_deref().unwrap_or("none"))
            ),
        ));
    }
    for strength in &plan.strengths {
        let Entry::Read(strength) = strength else {
            continue;
        };
        if let Some(words) = strength.text.words() {
            notes.push(annotation(
                find(strength.added_by.as_deref()),
                None,
                format!("What's strong: {}", markdown::block(words, "")),
            ));
        }
    }
    for support in &plan.supports {
        if let Entry::Read(_) = support {
            notes.push(annotation(
                None,
                None,
                format!("Who helps: {}", markdown::support_item(support)),
            ));
        }
    }
    for check_in in &plan.check_ins {
        let Entry::Read(check_in) = check_in else {
            continue;
        };
        let how = check_in.how_it_went.words().map(|w| markdown::block(w, ""));
        let learned = check_in
            .what_we_learned
            .words()
            .map(|w| markdown::block(w, ""));
        if how.is_none() && learned.is_none() {
            continue;
        }
        notes.push(annotation(
            find(check_in.by.as_deref()),
            check_in.date.as_deref(),
            format!(
                "Check-in. How it went: {}\n\nWhat we learned: {}",
                how.as_deref().unwrap_or("-"),
                learned.as_deref().unwrap_or("-")
            ),
        ));
    }
    for part in plan.unreadable_parts() {
        notes.push(annotation(None, None, markdown::unreadable_note(part)));
    }
    // Which version this is: a named one, or the plan as it is now.
    notes.push(annotation(None, None, source.version_words()));

    let mut care_plan = json!({
        "resourceType": "CarePlan",
        "id": plan_id,
        "meta": meta(),
        "identifier": [{ "system": URI_IDENTIFIER, "value": care_plan_url }],
        "status": "active",
        "intent": "plan",
        "subject": patient_reference,
        "created": instant(source.plan.created_at),
        "author": patient_reference,
    });
    if let Some(title) = plan.title.words() {
        care_plan["title"] = Value::String(title.to_owned());
    }
    if let Some(what_matters) = plan.what_matters.words() {
        care_plan["description"] = Value::String(what_matters.to_owned());
    }
    let contributors: Vec<Value> = people
        .everyone
        .iter()
        .map(|person| person_reference(person, patient, &patient_url))
        .collect();
    if !contributors.is_empty() {
        care_plan["contributor"] = Value::Array(contributors);
    }
    if !goals.is_empty() {
        care_plan["goal"] = goals
            .iter()
            .map(|(url, _)| json!({ "reference": url }))
            .collect();
    }
    if !activities.is_empty() {
        care_plan["activity"] = Value::Array(activities);
    }
    if !notes.is_empty() {
        care_plan["note"] = Value::Array(notes);
    }

    let mut authors: Vec<&Person> = people.everyone.iter().collect();
    if authors.is_empty() {
        authors.push(patient);
    }
    let provenance_id = derived_id(plan_id, "provenance");
    let provenance = json!({
        "resourceType": "Provenance",
        "id": provenance_id,
        "meta": meta(),
        "target": std::iter::once(json!({ "reference": care_plan_url }))
            .chain(goals.iter().map(|(url, _)| json!({ "reference": url })))
            .collect::<Vec<_>>(),
        "recorded": instant(source.exported_at),
        "agent": authors.iter().map(|person| json!({
            "type": { "coding": [{ "system": PARTICIPANT_TYPE, "code": "author", "display": "Author" }] },
            "role": [{ "text": super::role_name(person.role) }],
            "who": person_reference(person, patient, &patient_url),
        })).collect::<Vec<_>>(),
    });

    let patient_resource = json!({
        "resourceType": "Patient",
        "id": patient.id.0,
        "meta": meta(),
        "identifier": [{ "system": URI_IDENTIFIER, "value": patient_url }],
        "name": [{ "text": if patient.name.trim().is_empty() { "(no name)" } else { patient.name.as_str() } }],
    });

    let mut entries = vec![
        json!({ "fullUrl": patient_url, "resource": patient_resource }),
        json!({ "fullUrl": care_plan_url, "resource": care_plan }),
    ];
    entries.extend(
        goals
            .into_iter()
            .map(|(url, resource)| json!({ "fullUrl": url, "resource": resource })),
    );
    entries.push(json!({ "fullUrl": urn(provenance_id), "resource": provenance }));
    let bundle_id = Uuid::new_v4();
    let mut bundle = json!({
        "resourceType": "Bundle",
        "id": bundle_id,
        "meta": meta(),
        "identifier": { "system": URI_IDENTIFIER, "value": urn(bundle_id) },
        "type": "collection",
        "timestamp": instant(source.exported_at),
        "entry": entries,
    });
    remove_control_characters(&mut bundle);
    bundle
}

/// A character of a member's words as FHIR R4 allows it in a string, whose regex is
/// `[ \r\n\t\S]+`: of the whitespace only space, tab, line feed and carriage return. Validators
/// read `\s` as ECMAScript does (Unicode spaces and line separators included), so line and
/// paragraph separators and NEL become line feeds, other spaces plain spaces, and the other
/// control characters (and the zero-width no-break space) go.
fn fhir_string_char(c: char) -> Option<char> {
    match c {
        ' ' | '\t' | '\n' | '\r' => Some(c),
        '\u{85}' | '\u{2028}' | '\u{2029}' => Some('\n'),
        c if c.is_whitespace() => Some(' '),
        c if c.is_control() || c == '\u{feff}' => None,
        c => Some(c),
    }
}

/// Put every string of the export in the form FHIR allows (see [`fhir_string_char`]): a
/// member's words may hold any character. A string left with nothing says so rather than being
/// empty, which FHIR forbids too.
fn remove_control_characters(value: &mut Value) {
    match value {
        Value::String(text) if text.chars().any(|c| fhir_string_char(c) != Some(c)) => {
            *text = text.chars().filter_map(fhir_string_char).collect();
            if text.trim().is_empty() {
                *text = NOT_WRITTEN.to_owned();
            }
        }
        Value::Array(items) => items.iter_mut().for_each(remove_control_characters),
        Value::Object(fields) => fields.values_mut().for_each(remove_control_characters),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_map_to_fhir_codes() {
        let cases = [
            (GoalStatus::Thinking, "proposed", "not-started"),
            (GoalStatus::Working, "active", "not-started"),
            (GoalStatus::Paused, "on-hold", "on-hold"),
            (GoalStatus::Done, "completed", "not-started"),
            (GoalStatus::LetGo, "cancelled", "cancelled"),
        ];
        for (status, lifecycle, open_step) in cases {
            let status = Status::Known(status);
            assert_eq!(lifecycle_status(&status), lifecycle);
            assert_eq!(step_status(&Done::No, &status), open_step);
            assert_eq!(step_status(&Done::Yes, &status), "completed");
        }
        assert_eq!(lifecycle_status(&Status::Other("soon".into())), "proposed");
        assert_eq!(
            step_status(&Done::Unreadable("1".into()), &Status::Missing),
            "unknown"
        );
    }

    #[test]
    fn control_characters_fhir_forbids_are_removed_from_every_string() {
        let mut value = json!({
            "a": "Walk\u{0}\u{7}\u{1b}[31m by\tthe\r\ncanal\u{7f}\u{85}\u{9f}",
            "b": [{ "c": "\u{1}\u{2}" }, 3, null],
            "d": "Café\u{a0}☕\u{2028}tea\u{2029}\u{feff}cake\u{3000}",
        });
        remove_control_characters(&mut value);
        assert_eq!(
            value,
            json!({
                "a": "Walk[31m by\tthe\r\ncanal\n",
                "b": [{ "c": NOT_WRITTEN }, 3, null],
                "d": "Café ☕\ntea\ncake ",
            })
        );
    }

    #[test]
    fn derived_ids_are_stable_and_distinct() {
        let plan = Uuid::new_v4();
        assert_eq!(derived_id(plan, "goal 0 a"), derived_id(plan, "goal 0 a"));
        assert_ne!(derived_id(plan, "goal 0 a"), derived_id(plan, "goal 1 a"));
        assert_ne!(
            derived_id(plan, "goal 0 a"),
            derived_id(Uuid::new_v4(), "goal 0 a")
        );
    }
}
