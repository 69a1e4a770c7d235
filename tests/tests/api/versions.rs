//! Named versions (issue 28): either member names the plan as it stands, the other acknowledges
//! it, both open it read-only with what changed since in words, export it, and restore it as a
//! new change that keeps the whole history, merged with what an offline member wrote meanwhile.

use automerge::transaction::Transactable;
use automerge::{AutoCommit, ROOT, ReadDoc};
use cairn_shared::ErrorCode;
use cairn_shared::api::{PlanVersion, PlanVersionView};
use cairn_shared::plan::{Goal, GoalStatus, Step, StepWho, Strength, write};
use cairn_tests::{Session, TestApp};
use sea_orm::{ConnectionTrait, Database, Statement};
use serde_json::{Value, json};

use crate::export::{download, json_body, validate_fhir};
use crate::history_in_words::{edit, joined};

const AGREED: &str = "what we agreed on 2 March";

fn goal(id: &str, text: &str, by: &Session) -> Goal {
    Goal {
        id: id.into(),
        text: text.into(),
        status: GoalStatus::Thinking,
        steps: Vec::new(),
        created_by: by.user_id().to_string(),
        created_at: "2026-03-02T10:00:00Z".into(),
        agreement: Default::default(),
    }
}

fn strength(id: &str, text: &str) -> Strength {
    Strength {
        id: id.into(),
        text: text.into(),
        added_by: None,
    }
}

/// Remove the item `id` from the top-level list `list`.
fn remove_item(doc: &mut AutoCommit, list: &str, id: &str) {
    let list = doc.get(ROOT, list).expect("read").expect("list").1;
    let index = (0..doc.length(&list))
        .find(|index| {
            let item = doc.get(&list, *index).expect("read").expect("item").1;
            doc.get(&item, "id")
                .expect("read")
                .is_some_and(|(value, _)| value.to_str() == Some(id))
        })
        .expect("the item is there");
    doc.delete(&list, index).expect("delete");
}

async fn name(app: &TestApp, who: &Session, plan: &str, name: &str) -> PlanVersion {
    let answer = app
        .post(
            &format!("/api/v1/plans/{plan}/versions"),
            who.token(),
            json!({ "name": name }),
        )
        .await;
    assert_eq!(answer.status, 201, "{}", answer.body);
    answer.json()
}

async fn plan_document(app: &TestApp, who: &Session, plan: &str) -> Value {
    let detail = app.get(&format!("/api/v1/plans/{plan}"), who.token()).await;
    assert_eq!(detail.status, 200, "{}", detail.body);
    detail.body["document"].clone()
}

fn texts(document: &Value, list: &str) -> Vec<String> {
    document[list]
        .as_array()
        .map(|items| {
            items
                .iter()
                .map(|item| item["text"].as_str().unwrap_or_default().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// The sealed columns of the plan's version rows, read straight from the database.
async fn version_rows(app: &TestApp, plan: &str) -> Vec<Vec<u8>> {
    let db = Database::connect(app.database_url.as_str())
        .await
        .expect("connect");
    let uuid = plan.parse::<uuid::Uuid>().expect("plan id");
    let rows = db
        .query_all_raw(Statement::from_sql_and_values(
            db.get_database_backend(),
            match db.get_database_backend() {
                sea_orm::DbBackend::Postgres => {
                    "SELECT sealed_name, sealed_heads FROM plan_versions WHERE plan_id = $1"
                }
                _ => "SELECT sealed_name, sealed_heads FROM plan_versions WHERE plan_id = ?",
            },
            [uuid.into()],
        ))
        .await
        .expect("query");
    rows.iter()
        .flat_map(|row| {
            let name: Vec<u8> = row.try_get("", "sealed_name").expect("name");
            let heads: Vec<u8> = row.try_get("", "sealed_heads").expect("heads");
            [name, heads]
        })
        .collect()
}

#[tokio::test]
async fn a_version_is_named_acknowledged_opened_and_exported_with_its_name_sealed() {
    let app = TestApp::spawn().await;
    let maria = app.register("maria").await;
    let sam = app.register("sam").await;
    let (plan, document) = app.plan_with_document(&maria, "Moving on").await;
    app.add_supporter(&maria, &plan, &sam).await;

    let mut marias = joined(&app, &maria, &document).await;
    edit(&mut marias, &document, |doc| {
        write::add_goal(doc, &goal("g1", "Get my own place", &maria)).expect("goal");
    })
    .await;
    let named = name(&app, &maria, &plan, &format!("  {AGREED} ")).await;
    assert_eq!(named.name, AGREED, "kept in her words, trimmed");
    assert_eq!(named.named_by, maria.user_id());
    assert_eq!(named.named_by_name, "Maria");
    assert!(named.acknowledged_by.is_none() && named.acknowledged_at.is_none());

    // Sam moves on from it: a new goal, and the first one under way.
    let mut sams = joined(&app, &sam, &document).await;
    edit(&mut sams, &document, |doc| {
        write::add_goal(doc, &goal("g2", "Learn to drive", &sam)).expect("goal");
        write::set_goal_status(doc, "g1", GoalStatus::Working).expect("status");
    })
    .await;

    // Both see it; Maria cannot acknowledge her own; Sam does, once.
    let listed = app
        .get(&format!("/api/v1/plans/{plan}/versions"), sam.token())
        .await;
    assert_eq!(listed.status, 200, "{}", listed.body);
    let listed: Vec<PlanVersion> = listed.json();
    assert_eq!(listed, vec![named.clone()]);
    let acknowledge = format!("/api/v1/plans/{plan}/versions/{}/acknowledge", named.id);
    app.post(&acknowledge, maria.token(), json!({}))
        .await
        .assert_error(409, ErrorCode::VersionNamedByYou);
    let acknowledged = app.post(&acknowledge, sam.token(), json!({})).await;
    assert_eq!(acknowledged.status, 200, "{}", acknowledged.body);
    let acknowledged: PlanVersion = acknowledged.json();
    assert_eq!(acknowledged.acknowledged_by, Some(sam.user_id()));
    assert_eq!(acknowledged.acknowledged_by_name.as_deref(), Some("Sam"));
    assert!(acknowledged.acknowledged_at.is_some());
    app.post(&acknowledge, sam.token(), json!({}))
        .await
        .assert_error(409, ErrorCode::VersionAlreadyAcknowledged);
    let listed: Vec<PlanVersion> = app
        .get(&format!("/api/v1/plans/{plan}/versions"), maria.token())
        .await
        .json();
    assert_eq!(listed[0].acknowledged_by_name.as_deref(), Some("Sam"));

    // Opened: the plan as it was, and what changed since in words.
    let opened = app
        .get(
            &format!("/api/v1/plans/{plan}/versions/{}", named.id),
            maria.token(),
        )
        .await;
    assert_eq!(opened.status, 200, "{}", opened.body);
    let view: PlanVersionView = opened.json();
    assert_eq!(texts(&view.document, "goals"), vec!["Get my own place"]);
    assert_eq!(view.document["goals"][0]["status"], "thinking");
    assert!(
        view.sentences
            .contains(&"Someone added the goal ‘Learn to drive’".to_owned()),
        "{:?}",
        view.sentences
    );
    assert!(
        view.sentences
            .iter()
            .any(|s| s.starts_with("Someone set the goal ‘Get my own place’ to")),
        "{:?}",
        view.sentences
    );

    // Exports of the version show it and say so; exports of now say they are now.
    let query = format!("?format=json&version={}", named.id);
    let then = json_body(&download(&app, &sam, &plan, &query).await);
    assert_eq!(then["version"]["name"], AGREED);
    assert_eq!(then["version"]["current"], false);
    assert_eq!(texts(&then["document"], "goals"), vec!["Get my own place"]);
    let now = json_body(&download(&app, &sam, &plan, "?format=json").await);
    assert_eq!(now["version"]["current"], true);
    assert_eq!(texts(&now["document"], "goals").len(), 2);
    let query = format!("?format=markdown&version={}", named.id);
    let markdown = download(&app, &sam, &plan, &query).await.body;
    assert!(
        markdown.contains(&format!("This is the version ‘{AGREED}’, named by Maria"))
            && !markdown.contains("Learn to drive"),
        "{markdown}"
    );
    let markdown = download(&app, &sam, &plan, "?format=markdown").await.body;
    assert!(
        markdown.contains("This is the plan as it was on"),
        "{markdown}"
    );
    let query = format!("?format=fhir&version={}", named.id);
    let bundle = json_body(&download(&app, &maria, &plan, &query).await);
    let care_plan = bundle["entry"]
        .as_array()
        .and_then(|entries| {
            entries
                .iter()
                .find(|entry| entry["resource"]["resourceType"] == "CarePlan")
        })
        .expect("a CarePlan")["resource"]
        .clone();
    assert!(
        care_plan["note"]
            .as_array()
            .is_some_and(|notes| notes.iter().any(|note| note["text"]
                .as_str()
                .is_some_and(|text| text.contains(AGREED)))),
        "{care_plan}"
    );
    let (valid, report) = validate_fhir(&bundle).await;
    assert!(valid, "{report}");

    // At rest the name is sealed; deleting the plan deletes its versions.
    let sealed = version_rows(&app, &plan).await;
    assert_eq!(sealed.len(), 2);
    for blob in &sealed {
        assert!(memchr::memmem::find(blob, AGREED.as_bytes()).is_none());
        assert!(memchr::memmem::find(blob, b"agreed").is_none());
    }
    let deleted = app
        .delete(&format!("/api/v1/plans/{plan}"), maria.token())
        .await;
    assert_eq!(deleted.status, 204, "{}", deleted.body);
    assert!(version_rows(&app, &plan).await.is_empty());
}

#[tokio::test]
async fn versions_refuse_strangers_unknown_versions_and_bad_names() {
    let app = TestApp::spawn().await;
    let maria = app.register("maria").await;
    let eve = app.register("eve").await;
    let plan = app.create_plan(&maria, "Mine").await;
    let versions = format!("/api/v1/plans/{plan}/versions");

    for bad in [
        json!({ "name": "" }),
        json!({ "name": "   " }),
        json!({ "name": "a\nb" }),
    ] {
        app.post(&versions, maria.token(), bad)
            .await
            .assert_error(422, ErrorCode::ValidationFailed);
    }
    let too_long = "x".repeat(201);
    app.post(&versions, maria.token(), json!({ "name": too_long }))
        .await
        .assert_error(422, ErrorCode::ValidationFailed);
    app.post(&versions, maria.token(), json!({}))
        .await
        .assert_error(400, ErrorCode::BadRequest);
    let listed = app.get(&versions, maria.token()).await;
    assert_eq!(listed.body, json!([]), "nothing stored on a refusal");
    assert!(version_rows(&app, &plan).await.is_empty());

    let named = name(&app, &maria, &plan, &"y".repeat(200)).await;
    let one = format!("{versions}/{}", named.id);
    // A stranger learns nothing, not even that the plan or version exists.
    app.get(&versions, eve.token())
        .await
        .assert_error(404, ErrorCode::PlanNotFound);
    app.post(&versions, eve.token(), json!({ "name": "mine now" }))
        .await
        .assert_error(404, ErrorCode::PlanNotFound);
    app.get(&one, eve.token())
        .await
        .assert_error(404, ErrorCode::PlanNotFound);
    for action in ["acknowledge", "restore"] {
        app.post(&format!("{one}/{action}"), eve.token(), json!({}))
            .await
            .assert_error(404, ErrorCode::PlanNotFound);
    }
    let query = format!("?format=json&version={}", named.id);
    app.get(&format!("/api/v1/plans/{plan}/export{query}"), eve.token())
        .await
        .assert_error(404, ErrorCode::PlanNotFound);
    // Unknown versions.
    let unknown = uuid::Uuid::new_v4();
    for path in [
        format!("{versions}/{unknown}"),
        format!("{versions}/not-a-version"),
    ] {
        app.get(&path, maria.token())
            .await
            .assert_error(404, ErrorCode::VersionNotFound);
        for action in ["acknowledge", "restore"] {
            app.post(&format!("{path}/{action}"), maria.token(), json!({}))
                .await
                .assert_error(404, ErrorCode::VersionNotFound);
        }
    }
    let other = app.create_plan(&maria, "Another").await;
    app.get(
        &format!("/api/v1/plans/{other}/versions/{}", named.id),
        maria.token(),
    )
    .await
    .assert_error(404, ErrorCode::VersionNotFound);
    let query = format!("?format=json&version={unknown}");
    app.get(
        &format!("/api/v1/plans/{plan}/export{query}"),
        maria.token(),
    )
    .await
    .assert_error(404, ErrorCode::VersionNotFound);
}

#[tokio::test]
async fn a_restored_version_merges_with_what_an_offline_member_wrote_meanwhile() {
    let app = TestApp::spawn().await;
    let maria = app.register("maria").await;
    let sam = app.register("sam").await;
    let (plan, document) = app.plan_with_document(&maria, "Moving on").await;
    app.add_supporter(&maria, &plan, &sam).await;

    let mut marias = joined(&app, &maria, &document).await;
    edit(&mut marias, &document, |doc| {
        write::add_goal(doc, &goal("g1", "Get my own place", &maria)).expect("goal");
        let step = Step {
            id: "s1".into(),
            text: "Call the housing office".into(),
            who: StepWho::Me,
            done: false,
            due: None,
        };
        write::add_step(doc, "g1", &step).expect("step");
        write::add_strength(doc, &strength("st1", "Good at singing")).expect("strength");
    })
    .await;
    let version = name(&app, &maria, &plan, AGREED).await;

    // Maria then changes a lot: the goal's words and status, a new goal, a strength removed,
    // the step marked done.
    edit(&mut marias, &document, |doc| {
        let goals = doc.get(ROOT, "goals").expect("read").expect("goals").1;
        let g1 = write::find_item(doc, &goals, "g1").expect("goal");
        let text = doc.get(&g1, "text").expect("read").expect("text").1;
        doc.splice_text(&text, 0, 16, "Get a place near my sister")
            .expect("type");
        write::set_goal_status(doc, "g1", GoalStatus::LetGo).expect("status");
        write::set_step_done(doc, "g1", "s1", true).expect("done");
        write::add_goal(doc, &goal("g2", "Learn to drive", &maria)).expect("goal");
        remove_item(doc, "strengths", "st1");
    })
    .await;
    let before = app
        .get(&format!("/api/v1/plans/{plan}/history"), maria.token())
        .await
        .body
        .as_array()
        .map(Vec::len)
        .unwrap_or_default();

    // Sam has all of that, then goes offline and adds a strength.
    let mut sams = joined(&app, &sam, &document).await;
    let mut offline = sams.docs.remove(&document).expect("tracked").doc;
    drop(sams);
    write::add_strength(&mut offline, &strength("st2", "Makes people laugh")).expect("strength");
    offline.commit();

    // Maria restores the version: a new change, hers, on top of the whole history.
    let restored = app
        .post(
            &format!("/api/v1/plans/{plan}/versions/{}/restore", version.id),
            maria.token(),
            json!({}),
        )
        .await;
    assert_eq!(restored.status, 200, "{}", restored.body);
    let now = plan_document(&app, &maria, &plan).await;
    assert_eq!(texts(&now, "goals"), vec!["Get my own place"]);
    assert_eq!(now["goals"][0]["status"], "thinking");
    assert_eq!(now["goals"][0]["steps"][0]["done"], false);
    assert_eq!(texts(&now, "strengths"), vec!["Good at singing"]);
    assert_eq!(now["strengths"][0]["id"], "st1", "re-added with its id");
    let history = app
        .get(&format!("/api/v1/plans/{plan}/history"), maria.token())
        .await;
    let history = history.body.as_array().cloned().unwrap_or_default();
    assert_eq!(
        history.len(),
        before + 1,
        "one new change; nothing rewritten"
    );
    assert_eq!(history[history.len() - 1]["authorName"], "Maria");
    // Maria's phone gets it like any change.
    marias.sync_doc(&document, false).await;
    let on_marias = &marias.docs.get(&document).expect("tracked").doc;
    assert_eq!(
        serde_json::to_value(automerge::AutoSerde::from(on_marias)).expect("json"),
        now
    );

    // Sam reconnects: what he wrote is kept, and the restored content is back.
    let mut sams = app.sync_client(&sam).await;
    sams.track(&document, offline);
    sams.sync_doc(&document, false).await;
    let on_sams = serde_json::to_value(automerge::AutoSerde::from(
        &sams.docs.get(&document).expect("tracked").doc,
    ))
    .expect("json");
    let merged = plan_document(&app, &maria, &plan).await;
    assert_eq!(on_sams, merged, "both sides agree");
    assert_eq!(texts(&merged, "goals"), vec!["Get my own place"]);
    let mut strengths = texts(&merged, "strengths");
    strengths.sort();
    assert_eq!(strengths, vec!["Good at singing", "Makes people laugh"]);

    // Restoring it again puts the version back exactly: Sam's strength came after it.
    let again = app
        .post(
            &format!("/api/v1/plans/{plan}/versions/{}/restore", version.id),
            sam.token(),
            json!({}),
        )
        .await;
    assert_eq!(again.status, 200, "{}", again.body);
    let after = plan_document(&app, &maria, &plan).await;
    assert_eq!(texts(&after, "strengths").len(), 1, "{after}");
    assert_eq!(texts(&after, "strengths"), vec!["Good at singing"]);
}

/// Every log line the server writes while the test runs (this process only: nextest runs each
/// test in its own).
#[derive(Clone, Default)]
struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        if let Ok(mut all) = self.0.lock() {
            all.extend_from_slice(bytes);
        }
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn a_versions_name_never_reaches_the_logs() {
    let captured = Captured::default();
    let writer = captured.clone();
    let installed = tracing_subscriber::fmt()
        .with_max_level(tracing_subscriber::filter::LevelFilter::TRACE)
        .with_writer(move || writer.clone())
        .try_init()
        .is_ok();
    let app = TestApp::spawn().await;
    let maria = app.register("maria").await;
    let sam = app.register("sam").await;
    let plan = app.create_plan(&maria, "Mine").await;
    app.add_supporter(&maria, &plan, &sam).await;
    let marker = format!("agreed {}", uuid::Uuid::new_v4().simple());
    let named = name(&app, &maria, &plan, &marker).await;
    let too_long = format!("{marker}{}", "x".repeat(200));
    app.post(
        &format!("/api/v1/plans/{plan}/versions"),
        maria.token(),
        json!({ "name": too_long }),
    )
    .await
    .assert_error(422, ErrorCode::ValidationFailed);
    for action in ["acknowledge", "restore"] {
        let path = format!("/api/v1/plans/{plan}/versions/{}/{action}", named.id);
        assert_eq!(app.post(&path, sam.token(), json!({})).await.status, 200);
    }
    let opened = format!("/api/v1/plans/{plan}/versions/{}", named.id);
    assert_eq!(app.get(&opened, sam.token()).await.status, 200);
    if !installed {
        return; // Another subscriber already holds this process (not under nextest).
    }
    let logs = String::from_utf8_lossy(&captured.0.lock().expect("logs")).into_owned();
    assert!(
        logs.contains("plan version named"),
        "the logs were captured"
    );
    assert!(!logs.contains(&marker), "{logs}");
}
