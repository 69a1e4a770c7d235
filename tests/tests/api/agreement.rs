//! Agreement on each goal (issue 28 item 2): each member marks a goal "we agree", "not yet" or
//! "I see it differently" with a note; both see where each stands, the server's schema check
//! reads it, and every export carries it (FHIR as `goal-acceptance`, valid by the validators).
//! A plan written before the field existed still opens, syncs and exports, and gains the field
//! when first marked.

use std::time::{Duration, Instant};

use automerge::transaction::Transactable;
use automerge::{ROOT, ReadDoc};
use cairn_shared::plan::{Goal, GoalStatus, Stance, read_plan, write};
use cairn_tests::{Session, TestApp};
use serde_json::Value;

use crate::conflicts::doc;
use crate::export::{download, goal_with_text, json_body, validate_fhir};
use crate::history_in_words::joined;

fn goal(id: &str, text: &str, by: &Session) -> Goal {
    Goal {
        id: id.into(),
        text: text.into(),
        status: GoalStatus::Working,
        steps: Vec::new(),
        created_by: by.user_id().to_string(),
        created_at: "2026-03-02T10:00:00Z".into(),
        agreement: Default::default(),
    }
}

/// The plan list's `schemaIssue` for the plan, once it is (or is not) there, or after ten seconds.
async fn schema_issue(app: &TestApp, who: &Session, present: bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let issue = app.get("/api/v1/plans", who.token()).await.body[0]["schemaIssue"].clone();
        if issue.is_string() == present || Instant::now() > deadline {
            return issue;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The `goal-acceptance` extensions of a FHIR Goal as (individual, status).
fn acceptance(goal: &Value) -> Vec<(Value, String)> {
    goal["extension"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["url"] == "http://hl7.org/fhir/StructureDefinition/goal-acceptance")
        .map(|e| {
            let part = |url: &str| {
                e["extension"]
                    .as_array()
                    .and_then(|parts| parts.iter().find(|p| p["url"] == url))
                    .cloned()
                    .unwrap_or_default()
            };
            (
                part("individual")["valueReference"].clone(),
                part("status")["valueCode"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
            )
        })
        .collect()
}

#[tokio::test]
async fn both_mark_a_goal_at_once_both_see_where_each_stands_and_every_export_carries_it() {
    let app = TestApp::spawn().await;
    let maria = app.register("maria").await;
    let sam = app.register("sam").await;
    let (plan, document) = app.plan_with_document(&maria, "Moving on").await;
    app.add_supporter(&maria, &plan, &sam).await;
    let mut marias = joined(&app, &maria, &document).await;
    write::add_goal(
        doc(&mut marias, &document),
        &goal("goal-1", "Get my own place", &maria),
    )
    .expect("goal");
    doc(&mut marias, &document).commit();
    marias.sync_doc(&document, false).await;
    let mut sams = joined(&app, &sam, &document).await;

    // Offline, at the same time: Maria agrees, Sam says "not yet" with a note.
    let (maria_id, sam_id) = (maria.user_id().to_string(), sam.user_id().to_string());
    write::set_agreement(
        doc(&mut marias, &document),
        "goal-1",
        &maria_id,
        Stance::Agree,
        "",
    )
    .expect("mark");
    doc(&mut marias, &document).commit();
    write::set_agreement(
        doc(&mut sams, &document),
        "goal-1",
        &sam_id,
        Stance::NotYet,
        "Let's look at the rent first",
    )
    .expect("mark");
    doc(&mut sams, &document).commit();
    marias.sync_doc(&document, false).await;
    sams.sync_doc(&document, false).await;
    marias.sync_doc(&document, false).await;

    // Both see both, and so does the server.
    for client in [&mut marias, &mut sams] {
        let plan = read_plan(doc(client, &document)).expect("fits the schema");
        let agreement = &plan.goals[0].agreement;
        assert_eq!(agreement[&maria_id].stance, Stance::Agree, "{agreement:?}");
        assert_eq!(agreement[&sam_id].stance, Stance::NotYet);
        assert_eq!(agreement[&sam_id].note, "Let's look at the rent first");
    }
    let detail = app.get(&format!("/api/v1/plans/{plan}"), sam.token()).await;
    let stood = &detail.body["document"]["goals"][0]["agreement"];
    assert_eq!(stood[&maria_id]["stance"], "agree");
    assert_eq!(stood[&sam_id]["note"], "Let's look at the rent first");
    assert_eq!(schema_issue(&app, &maria, false).await, Value::Null);

    // JSON names each member's stance; Markdown says it in words; FHIR carries goal-acceptance.
    let json = json_body(&download(&app, &sam, &plan, "?format=json").await);
    let exported = &json["document"]["goals"][0]["agreement"];
    assert_eq!(exported[&maria_id]["name"], "Maria");
    assert_eq!(exported[&sam_id]["name"], "Sam");
    assert_eq!(exported[&sam_id]["stance"], "not-yet");
    let markdown = download(&app, &sam, &plan, "?format=markdown").await.body;
    assert!(
        markdown.contains(
            "Where we stand: Maria: we agree; Sam: not yet — ‘Let's look at the rent first’"
        ),
        "{markdown}"
    );
    let bundle = json_body(&download(&app, &maria, &plan, "?format=fhir").await);
    let fhir_goal = goal_with_text(&bundle, "Get my own place");
    let accepted = acceptance(fhir_goal);
    assert_eq!(accepted.len(), 2, "{fhir_goal}");
    assert_eq!(
        accepted[0].0["reference"],
        format!("urn:uuid:{}", maria.user_id())
    );
    assert_eq!(accepted[0].1, "agree");
    assert_eq!(accepted[1].0["display"], "Sam");
    assert_eq!(accepted[1].1, "pending");
    let notes: Vec<&Value> = fhir_goal["note"].as_array().into_iter().flatten().collect();
    assert!(
        notes.iter().any(|note| note["authorString"] == "Sam"
            && note["text"]
                .as_str()
                .is_some_and(|t| t.contains("not yet") && t.contains("rent first"))),
        "{fhir_goal}"
    );
    let (valid, report) = validate_fhir(&bundle).await;
    assert!(valid, "{report}");

    // Sam sees it differently now: a member changes only their own stance.
    write::set_agreement(
        doc(&mut sams, &document),
        "goal-1",
        &sam_id,
        Stance::Differ,
        "Near my sister, not the centre",
    )
    .expect("mark");
    doc(&mut sams, &document).commit();
    sams.sync_doc(&document, false).await;
    marias.sync_doc(&document, false).await;
    let seen = read_plan(doc(&mut marias, &document)).expect("fits");
    assert_eq!(seen.goals[0].agreement[&sam_id].stance, Stance::Differ);
    assert_eq!(seen.goals[0].agreement[&maria_id].stance, Stance::Agree);
    let bundle = json_body(&download(&app, &maria, &plan, "?format=fhir").await);
    assert_eq!(
        acceptance(goal_with_text(&bundle, "Get my own place"))[1].1,
        "disagree"
    );

    // A stance outside the three choices does not fit, and the check says where, not what.
    {
        let sams_doc = doc(&mut sams, &document);
        let goals = sams_doc.get(ROOT, "goals").expect("get").expect("goals").1;
        let item = write::find_item(sams_doc, &goals, "goal-1").expect("goal");
        let agreement = sams_doc
            .get(&item, "agreement")
            .expect("get")
            .expect("map")
            .1;
        let entry = sams_doc
            .get(&agreement, sam_id.as_str())
            .expect("get")
            .expect("entry")
            .1;
        sams_doc.put(&entry, "stance", "maybe").expect("put");
        sams_doc.commit();
    }
    sams.sync_doc(&document, false).await;
    let issue = schema_issue(&app, &maria, true).await;
    assert!(
        issue
            .as_str()
            .is_some_and(|issue| issue.contains("agreement")
                && issue.contains("stance")
                && !issue.contains("maybe")),
        "{issue}"
    );
    write::set_agreement(
        doc(&mut sams, &document),
        "goal-1",
        &sam_id,
        Stance::NotYet,
        "",
    )
    .expect("mark");
    doc(&mut sams, &document).commit();
    sams.sync_doc(&document, false).await;
    assert_eq!(schema_issue(&app, &maria, false).await, Value::Null);
}

#[tokio::test]
async fn a_plan_written_before_agreement_opens_syncs_and_exports_and_gains_it_when_marked() {
    let app = TestApp::spawn().await;
    let maria = app.register("maria").await;
    let sam = app.register("sam").await;
    let (plan, document) = app.plan_with_document(&maria, "Written last year").await;
    app.add_supporter(&maria, &plan, &sam).await;

    // A goal as a writer before revision 2 left it: no `agreement` at all.
    let mut marias = joined(&app, &maria, &document).await;
    {
        let marias_doc = doc(&mut marias, &document);
        write::add_goal(marias_doc, &goal("old", "Sleep before midnight", &maria)).expect("goal");
        let goals = marias_doc
            .get(ROOT, "goals")
            .expect("get")
            .expect("goals")
            .1;
        let item = write::find_item(marias_doc, &goals, "old").expect("goal");
        marias_doc.delete(&item, "agreement").expect("delete");
        marias_doc.commit();
    }
    marias.sync_doc(&document, false).await;

    // It opens (over REST and on another phone) and fits the schema as it is.
    let detail = app.get(&format!("/api/v1/plans/{plan}"), sam.token()).await;
    assert_eq!(detail.status, 200, "{}", detail.body);
    assert!(
        detail.body["document"]["goals"][0]
            .get("agreement")
            .is_none()
    );
    let mut sams = joined(&app, &sam, &document).await;
    assert!(
        read_plan(doc(&mut sams, &document)).expect("fits").goals[0]
            .agreement
            .is_empty()
    );
    assert_eq!(schema_issue(&app, &maria, false).await, Value::Null);

    // Every export works, with no stances, and the FHIR export validates.
    let json = json_body(&download(&app, &maria, &plan, "?format=json").await);
    assert!(json["document"]["goals"][0].get("agreement").is_none());
    let markdown = download(&app, &maria, &plan, "?format=markdown").await;
    assert!(
        !markdown.body.contains("Where we stand"),
        "{}",
        markdown.body
    );
    let bundle = json_body(&download(&app, &maria, &plan, "?format=fhir").await);
    assert!(acceptance(goal_with_text(&bundle, "Sleep before midnight")).is_empty());
    let (valid, report) = validate_fhir(&bundle).await;
    assert!(valid, "{report}");

    // Sam marks it: the goal gains the field, on both phones and in the exports.
    let sam_id = sam.user_id().to_string();
    write::set_agreement(
        doc(&mut sams, &document),
        "old",
        &sam_id,
        Stance::Agree,
        "Yes!",
    )
    .expect("mark");
    doc(&mut sams, &document).commit();
    sams.sync_doc(&document, false).await;
    marias.sync_doc(&document, false).await;
    let seen = read_plan(doc(&mut marias, &document)).expect("fits");
    assert_eq!(seen.goals[0].agreement[&sam_id].note, "Yes!");
    let markdown = download(&app, &maria, &plan, "?format=markdown").await.body;
    assert!(
        markdown.contains("Where we stand: Sam: we agree — ‘Yes!’"),
        "{markdown}"
    );
    let bundle = json_body(&download(&app, &maria, &plan, "?format=fhir").await);
    let accepted = acceptance(goal_with_text(&bundle, "Sleep before midnight"));
    assert_eq!(accepted.len(), 1);
    assert_eq!(accepted[0].1, "agree");
    let (valid, report) = validate_fhir(&bundle).await;
    assert!(valid, "{report}");
}
