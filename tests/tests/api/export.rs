//! `GET /api/v1/plans/{id}/export?format=json|markdown|fhir`: a plan written together by the
//! person and their supporter (over HTTP sync, with Automerge changes each signed by their own
//! actor) comes out with everyone's words verbatim and their names resolved; the FHIR Bundle
//! passes existing FHIR R4 validators (`tests/fhir/`); a document that does not fit the schema
//! still exports; and only members export, only the owner to FHIR.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use automerge::transaction::Transactable;
use automerge::{ActorId, AutoCommit, ObjId, ObjType, ROOT, ReadDoc, Value as AmValue};
use cairn_shared::ErrorCode;
use cairn_tests::{Session, TestApp};
use reqwest::Method;
use serde_json::{Value, json};

const WHAT_MATTERS: &str =
    "My kids — Léa & Tomás.\n# Not a heading, just how I feel\n\n- not a list: 100% me";
const GOAL_WORKING: &str = "Get back to the allotment — *my* way";
const GOAL_LET_GO: &str = "Rebuild things with Dad 🙏";
const STEP_DONE: &str = "Call the council_office [today]";
const STEP_SUPPORTER: &str = "I'll find the housing office hours";
const STEP_TOGETHER: &str = "Walk by the canal 🌳 <together>";
const CHECK_IN_HOW: &str = "Good — *really* good.\n1. Slept\n2. Ate";
const CHECK_IN_LEARNED: &str = "Mornings work better than evenings";

// ----- editing a plan over HTTP sync, as a client would -----

/// Apply `edit` to the plan as `who` (a fresh actor, so it is bound to them) and upload it.
async fn edit(app: &TestApp, who: &Session, plan: &str, edit: impl FnOnce(&mut AutoCommit)) {
    let url = format!("{}/api/v1/plans/{plan}/changes", app.address);
    let current = reqwest::Client::new()
        .get(&url)
        .bearer_auth(who.token())
        .send()
        .await
        .expect("get changes");
    assert_eq!(current.status(), 200);
    let bytes = current.bytes().await.expect("changes body");
    let mut doc = AutoCommit::load(&bytes)
        .expect("load plan")
        .with_actor(ActorId::random());
    let before = doc.get_heads();
    edit(&mut doc);
    doc.commit();
    let changes: Vec<u8> = doc
        .get_changes(&before)
        .iter()
        .flat_map(|change| change.raw_bytes().to_vec())
        .collect();
    let posted = app
        .send_raw(
            Method::POST,
            &format!("/api/v1/plans/{plan}/changes"),
            Some(who.token()),
            "application/octet-stream",
            changes,
        )
        .await;
    assert_eq!(posted.status, 200, "upload: {}", posted.body);
}

fn object(doc: &AutoCommit, parent: &ObjId, key: &str) -> ObjId {
    match doc.get(parent, key).expect("get") {
        Some((AmValue::Object(_), id)) => id,
        other => panic!("{key} is not an object: {other:?}"),
    }
}

fn put_text(doc: &mut AutoCommit, map: &ObjId, key: &str, words: &str) {
    let text = doc.put_object(map, key, ObjType::Text).expect("text");
    doc.splice_text(&text, 0, 0, words).expect("splice");
}

fn push_map(doc: &mut AutoCommit, list: &ObjId, id: &str) -> ObjId {
    let at = doc.length(list);
    let item = doc.insert_object(list, at, ObjType::Map).expect("item");
    doc.put(&item, "id", id).expect("id");
    item
}

fn goal_steps(doc: &AutoCommit, goal_id: &str) -> ObjId {
    let goals = object(doc, &ROOT, "goals");
    for index in 0..doc.length(&goals) {
        if let Some((AmValue::Object(ObjType::Map), goal)) = doc.get(&goals, index).expect("goal")
            && let Some((AmValue::Scalar(id), _)) = doc.get(&goal, "id").expect("id")
            && id.to_str() == Some(goal_id)
        {
            return object(doc, &goal, "steps");
        }
    }
    panic!("no goal {goal_id}")
}

fn add_goal(
    doc: &mut AutoCommit,
    id: &str,
    words: &str,
    status: &str,
    by: &Session,
    at: &str,
) -> ObjId {
    let goals = object(doc, &ROOT, "goals");
    let goal = push_map(doc, &goals, id);
    put_text(doc, &goal, "text", words);
    doc.put(&goal, "status", status).expect("status");
    doc.put(&goal, "createdBy", by.user_id().to_string())
        .expect("createdBy");
    doc.put(&goal, "createdAt", at).expect("createdAt");
    doc.put_object(&goal, "steps", ObjType::List)
        .expect("steps");
    goal
}

fn add_step(doc: &mut AutoCommit, goal_id: &str, id: &str, words: &str, who: &str, done: bool) {
    let steps = goal_steps(doc, goal_id);
    let step = push_map(doc, &steps, id);
    put_text(doc, &step, "text", words);
    doc.put(&step, "who", who).expect("who");
    doc.put(&step, "done", done).expect("done");
    if done {
        doc.put(&step, "due", "2026-12-01").expect("due");
    }
}

fn add_strength(doc: &mut AutoCommit, id: &str, words: &str, by: &Session) {
    let strengths = object(doc, &ROOT, "strengths");
    let strength = push_map(doc, &strengths, id);
    put_text(doc, &strength, "text", words);
    doc.put(&strength, "addedBy", by.user_id().to_string())
        .expect("addedBy");
}

/// Maria's plan, written by Maria and her supporter Sam, each in their own changes.
async fn plan_written_together(app: &TestApp) -> (Session, Session, String) {
    let maria = app.register("maria").await;
    let sam = app.register("sam").await;
    let plan = app.create_plan(&maria, "#1 plan: *my* way, ça va").await;
    app.add_supporter(&maria, &plan, &sam).await;

    let m = maria.clone();
    edit(app, &maria, &plan, move |doc| {
        let what_matters = object(doc, &ROOT, "whatMatters");
        doc.splice_text(&what_matters, 0, 0, WHAT_MATTERS)
            .expect("what matters");
        add_strength(doc, "s1", "I keep going 💪", &m);
        add_goal(
            doc,
            "g1",
            GOAL_WORKING,
            "working",
            &m,
            "2026-11-21T10:00:00Z",
        );
        add_step(doc, "g1", "t1", STEP_DONE, "me", true);
        add_goal(
            doc,
            "g2",
            "Think about college",
            "thinking",
            &m,
            "2026-11-21T10:05:00Z",
        );
        add_goal(
            doc,
            "g3",
            "Running again",
            "paused",
            &m,
            "2026-11-21T10:06:00Z",
        );
        add_step(doc, "g3", "t3", "Buy shoes", "me", false);
    })
    .await;

    let s = sam.clone();
    edit(app, &sam, &plan, move |doc| {
        add_strength(doc, "s2", "Funny, kind > anything_else", &s);
        add_goal(
            doc,
            "g4",
            "Get my ID back",
            "done",
            &s,
            "2026-11-21T11:00:00Z",
        );
        add_goal(doc, "g5", GOAL_LET_GO, "let-go", &s, "2026-11-21T11:01:00Z");
        add_step(doc, "g1", "t2", STEP_SUPPORTER, "supporter", false);
        add_step(doc, "g1", "t4", STEP_TOGETHER, "together", false);
        let supports = object(doc, &ROOT, "supports");
        let rosa = push_map(doc, &supports, "p1");
        put_text(doc, &rosa, "name", "Rosa (my aunt)");
        doc.put(&rosa, "kind", "person").expect("kind");
        put_text(doc, &rosa, "contact", "555-0134");
        put_text(doc, &rosa, "note", "Call after 6");
        let library = push_map(doc, &supports, "p2");
        put_text(doc, &library, "name", "The library");
        doc.put(&library, "kind", "place").expect("kind");
        let check_ins = object(doc, &ROOT, "checkIns");
        let check_in = push_map(doc, &check_ins, "c1");
        doc.put(&check_in, "date", "2026-11-20").expect("date");
        doc.put(&check_in, "by", s.user_id().to_string())
            .expect("by");
        put_text(doc, &check_in, "howItWent", CHECK_IN_HOW);
        put_text(doc, &check_in, "whatWeLearned", CHECK_IN_LEARNED);
    })
    .await;
    (maria, sam, plan)
}

// ----- fetching exports -----

pub(crate) struct Download {
    status: u16,
    content_type: String,
    disposition: String,
    cache_control: String,
    pub(crate) body: String,
}

pub(crate) async fn download(app: &TestApp, who: &Session, plan: &str, query: &str) -> Download {
    let response = reqwest::Client::new()
        .get(format!("{}/api/v1/plans/{plan}/export{query}", app.address))
        .bearer_auth(who.token())
        .send()
        .await
        .expect("export");
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let (content_type, disposition, cache_control) = (
        header("content-type"),
        header("content-disposition"),
        header("cache-control"),
    );
    Download {
        status: response.status().as_u16(),
        content_type,
        disposition,
        cache_control,
        body: response.text().await.expect("body"),
    }
}

pub(crate) fn json_body(download: &Download) -> Value {
    serde_json::from_str(&download.body)
        .unwrap_or_else(|err| panic!("not JSON ({err}): {}", download.body))
}

pub(crate) fn resources<'a>(bundle: &'a Value, kind: &str) -> Vec<&'a Value> {
    bundle["entry"]
        .as_array()
        .expect("entries")
        .iter()
        .map(|entry| &entry["resource"])
        .filter(|resource| resource["resourceType"] == kind)
        .collect()
}

pub(crate) fn goal_with_text<'a>(bundle: &'a Value, words: &str) -> &'a Value {
    resources(bundle, "Goal")
        .into_iter()
        .find(|goal| goal["description"]["text"] == words)
        .unwrap_or_else(|| panic!("no Goal with {words:?}"))
}

// ----- the FHIR validators (tests/fhir) -----

static VALIDATOR_INSTALL: Mutex<bool> = Mutex::new(false);

/// `tests/fhir`, with its pinned validators installed (`npm ci` from the lockfile, once).
fn validator_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fhir");
    let mut installed = VALIDATOR_INSTALL
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if !*installed && !dir.join("node_modules/fhir").is_dir() {
        let status = std::process::Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
            .current_dir(&dir)
            .status()
            .unwrap_or_else(|err| {
                panic!("the FHIR validators need Node.js 20+ with npm ({err}); see tests/fhir/README.md")
            });
        assert!(status.success(), "npm ci in tests/fhir failed");
    }
    *installed = true;
    dir
}

/// Run the validators on a FHIR resource: whether it passed, and their report.
pub(crate) async fn validate_fhir(resource: &Value) -> (bool, String) {
    let dir = validator_dir();
    let file = tempfile::Builder::new()
        .suffix(".fhir.json")
        .tempfile()
        .expect("temp file");
    std::fs::write(
        file.path(),
        serde_json::to_vec_pretty(resource).expect("json"),
    )
    .expect("write bundle");
    let output = tokio::process::Command::new("node")
        .arg(dir.join("validate.cjs"))
        .arg("--strict")
        .arg(file.path())
        .output()
        .await
        .expect("run node tests/fhir/validate.cjs");
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    match output.status.code() {
        Some(0) => (true, report),
        Some(1) => (false, report),
        _ => panic!("the FHIR validator did not run: {report}"),
    }
}

#[track_caller]
fn assert_headers(download: &Download, content_type: &str, extension: &str, plan: &str) {
    assert_eq!(download.status, 200, "{}", download.body);
    assert_eq!(download.content_type, content_type);
    assert_eq!(
        download.disposition,
        format!("attachment; filename=\"cairn-plan-{plan}.{extension}\"")
    );
    assert_eq!(download.cache_control, "no-store");
}

#[tokio::test]
async fn json_export_is_the_document_with_authors_named() {
    let app = TestApp::spawn().await;
    let (maria, sam, plan) = plan_written_together(&app).await;

    for who in [&maria, &sam] {
        let download = download(&app, who, &plan, "?format=json").await;
        assert_headers(&download, "application/json", "json", &plan);
        let export = json_body(&download);
        let document = &export["document"];
        assert_eq!(document["title"], "#1 plan: *my* way, ça va");
        assert_eq!(document["whatMatters"], WHAT_MATTERS);
        assert_eq!(document["goals"][0]["text"], GOAL_WORKING);
        assert_eq!(
            document["goals"][0]["createdBy"],
            maria.user_id().to_string()
        );
        assert_eq!(document["goals"][0]["createdByName"], "Maria");
        assert_eq!(document["goals"][0]["steps"][0]["text"], STEP_DONE);
        assert_eq!(document["goals"][0]["steps"][1]["text"], STEP_SUPPORTER);
        assert_eq!(document["goals"][4]["text"], GOAL_LET_GO);
        assert_eq!(document["goals"][4]["createdByName"], "Sam");
        assert_eq!(document["strengths"][0]["addedByName"], "Maria");
        assert_eq!(
            document["strengths"][1]["text"],
            "Funny, kind > anything_else"
        );
        assert_eq!(document["strengths"][1]["addedByName"], "Sam");
        assert_eq!(document["checkIns"][0]["howItWent"], CHECK_IN_HOW);
        assert_eq!(document["checkIns"][0]["byName"], "Sam");
        assert_eq!(document["supports"][0]["note"], "Call after 6");
        assert_eq!(export["plan"]["id"], plan);
        assert_eq!(
            export["people"],
            json!([
                {"userId": maria.user_id(), "displayName": "Maria", "role": "owner"},
                {"userId": sam.user_id(), "displayName": "Sam", "role": "supporter"},
            ])
        );
        assert_eq!(export["exportedBy"]["userId"], json!(who.user_id()));
    }
}

#[tokio::test]
async fn markdown_export_reads_in_plain_language_with_words_verbatim() {
    let app = TestApp::spawn().await;
    let (_maria, sam, plan) = plan_written_together(&app).await;

    // A supporter may export Markdown: it is their shared plan too.
    let download = download(&app, &sam, &plan, "?format=markdown").await;
    assert_headers(&download, "text/markdown; charset=utf-8", "md", &plan);
    let page = download.body;
    let expected = [
        "# \\#1 plan: \\*my\\* way, ça va\n",
        "by Sam. Written together by Maria (owner), Sam (supporter).*",
        "## What matters to me\n\nMy kids — Léa & Tomás.\\\n\\# Not a heading, just how I feel\n\n\\- not a list: 100% me\n",
        "## What's strong right now\n\n- I keep going 💪 — *added by Maria*\n- Funny, kind > anything\\_else — *added by Sam*\n",
        "### Get back to the allotment — \\*my\\* way\n\n**Working on it** · written by Maria on 2026-11-21\n",
        "- [x] Call the council\\_office \\[today\\] — *Me, by 2026-12-01*\n",
        "- [ ] I'll find the housing office hours — *My supporter*\n",
        "- [ ] Walk by the canal 🌳 \\<together> — *Together*\n",
        "### Think about college\n\n**Thinking about it** · written by Maria",
        "### Running again\n\n**Taking a break**",
        "### Get my ID back\n\n**Done** · written by Sam on 2026-11-21",
        "### Rebuild things with Dad 🙏\n\n**Let it go** · written by Sam",
        "## Who helps\n\n- **Rosa (my aunt)** · a person\\\n  Contact: 555-0134\\\n  Note: Call after 6\n- **The library** · a place\n",
        "### 2026-11-20, by Sam\n\n**How it went:** Good — \\*really\\* good.\\\n1\\. Slept\\\n2\\. Ate\n\n**What we learned:** Mornings work better than evenings",
    ];
    for fragment in expected {
        assert!(page.contains(fragment), "missing {fragment:?} in:\n{page}");
    }
    assert!(!page.contains("could not be read"), "{page}");
}

#[tokio::test]
async fn fhir_export_is_a_valid_r4_bundle_with_statuses_mapped() {
    let app = TestApp::spawn().await;
    let (maria, sam, plan) = plan_written_together(&app).await;

    let download = download(&app, &maria, &plan, "?format=fhir").await;
    assert_headers(&download, "application/fhir+json", "fhir.json", &plan);
    let bundle = json_body(&download);
    let (valid, report) = validate_fhir(&bundle).await;
    assert!(valid, "the FHIR validators refused the export:\n{report}");

    assert_eq!(bundle["resourceType"], "Bundle");
    assert_eq!(bundle["type"], "collection");
    let labels: Vec<(&str, &str)> = bundle["meta"]["security"]
        .as_array()
        .expect("labels")
        .iter()
        .map(|c| (c["system"].as_str().unwrap(), c["code"].as_str().unwrap()))
        .collect();
    assert!(labels.contains(&(
        "http://terminology.hl7.org/CodeSystem/v3-Confidentiality",
        "R"
    )));
    assert!(labels.contains(&(
        "http://terminology.hl7.org/CodeSystem/v3-ActCode",
        "42CFRPart2"
    )));
    for entry in bundle["entry"].as_array().expect("entries") {
        assert_eq!(
            entry["resource"]["meta"], bundle["meta"],
            "every resource is labelled"
        );
    }

    // The person: a name and an opaque identifier, nothing else.
    let patients = resources(&bundle, "Patient");
    assert_eq!(patients.len(), 1);
    let mut fields: Vec<&str> = patients[0]
        .as_object()
        .expect("patient")
        .keys()
        .map(String::as_str)
        .collect();
    fields.sort_unstable();
    assert_eq!(fields, ["id", "identifier", "meta", "name", "resourceType"]);
    assert_eq!(patients[0]["name"][0]["text"], "Maria");
    let patient_url = format!("urn:uuid:{}", maria.user_id());

    let care_plans = resources(&bundle, "CarePlan");
    assert_eq!(care_plans.len(), 1);
    let care_plan = care_plans[0];
    assert_eq!(care_plan["status"], "active");
    assert_eq!(care_plan["intent"], "plan");
    assert_eq!(care_plan["title"], "#1 plan: *my* way, ça va");
    assert_eq!(care_plan["description"], WHAT_MATTERS);
    assert_eq!(care_plan["subject"]["reference"], patient_url);
    assert_eq!(care_plan["goal"].as_array().expect("goals").len(), 5);

    for (words, lifecycle, achievement) in [
        (GOAL_WORKING, "active", Some("in-progress")),
        ("Think about college", "proposed", None),
        ("Running again", "on-hold", None),
        ("Get my ID back", "completed", Some("achieved")),
        (GOAL_LET_GO, "cancelled", None),
    ] {
        let goal = goal_with_text(&bundle, words);
        assert_eq!(goal["lifecycleStatus"], lifecycle, "{words}");
        assert_eq!(
            goal["achievementStatus"]["coding"][0]["code"].as_str(),
            achievement,
            "{words}"
        );
        assert_eq!(goal["subject"]["reference"], patient_url);
    }
    assert_eq!(
        goal_with_text(&bundle, GOAL_WORKING)["expressedBy"]["reference"],
        patient_url
    );
    assert_eq!(
        goal_with_text(&bundle, GOAL_LET_GO)["expressedBy"]["display"],
        "Sam"
    );

    let activities = care_plan["activity"].as_array().expect("activities");
    let step = |words: &str| {
        activities
            .iter()
            .map(|a| &a["detail"])
            .find(|d| d["description"] == words)
            .unwrap_or_else(|| panic!("no activity {words:?}"))
    };
    let goal_url = |words: &str| {
        bundle["entry"]
            .as_array()
            .expect("entries")
            .iter()
            .find(|e| e["resource"]["description"]["text"] == words)
            .map(|e| e["fullUrl"].clone())
            .expect("goal entry")
    };
    assert_eq!(step(STEP_DONE)["status"], "completed");
    assert_eq!(step(STEP_DONE)["scheduledPeriod"]["end"], "2026-12-01");
    assert_eq!(
        step(STEP_DONE)["goal"][0]["reference"],
        goal_url(GOAL_WORKING)
    );
    assert_eq!(step(STEP_DONE)["performer"][0]["reference"], patient_url);
    assert_eq!(step(STEP_SUPPORTER)["status"], "not-started");
    assert_eq!(
        step(STEP_SUPPORTER)["performer"],
        json!([{ "display": "Sam" }])
    );
    assert_eq!(
        step(STEP_TOGETHER)["performer"].as_array().map(Vec::len),
        Some(2)
    );
    assert_eq!(step("Buy shoes")["status"], "on-hold");

    let notes: Vec<&str> = care_plan["note"]
        .as_array()
        .expect("notes")
        .iter()
        .map(|n| n["text"].as_str().unwrap_or_default())
        .collect();
    assert!(
        notes.contains(&"What's strong: I keep going 💪"),
        "{notes:?}"
    );
    assert!(
        notes
            .iter()
            .any(|n| n.contains("Mornings work better than evenings")),
        "{notes:?}"
    );

    let provenance = resources(&bundle, "Provenance");
    assert_eq!(provenance.len(), 1);
    let agents: Vec<&str> = provenance[0]["agent"]
        .as_array()
        .expect("agents")
        .iter()
        .map(|a| a["who"]["display"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(agents, ["Maria", "Sam"]);

    // The validators are real: the same Bundle with a wrong status and empty words is refused.
    let mut broken = bundle.clone();
    for entry in broken["entry"].as_array_mut().expect("entries") {
        if entry["resource"]["resourceType"] == "Goal" {
            entry["resource"]["lifecycleStatus"] = json!("working");
            entry["resource"]["description"]["text"] = json!("");
        }
    }
    let (valid, report) = validate_fhir(&broken).await;
    assert!(!valid, "a broken Bundle passed:\n{report}");
    assert!(report.contains("lifecycleStatus"), "{report}");
    let _ = sam;
}

#[tokio::test]
async fn a_document_that_does_not_fit_still_exports_with_the_rest_intact() {
    let app = TestApp::spawn().await;
    let maria = app.register("maria").await;
    let plan = app.create_plan(&maria, "Plan").await;
    let m = maria.clone();
    edit(&app, &maria, &plan, move |doc| {
        doc.put(ROOT, "schemaVersion", 2).expect("version");
        doc.put(
            ROOT,
            "futureNote",
            "Words in a field this server does not know",
        )
        .expect("future");
        add_goal(
            doc,
            "g1",
            GOAL_WORKING,
            "working",
            &m,
            "2026-11-21T10:00:00Z",
        );
        add_step(doc, "g1", "t1", STEP_DONE, "me", true);
        let goals = object(doc, &ROOT, "goals");
        // A buggy client: words as a list, a number for a status, steps as a string, a
        // string for `done`, and a bare number as a goal.
        let bad = push_map(doc, &goals, "g2");
        let text = doc.put_object(&bad, "text", ObjType::List).expect("list");
        doc.insert(&text, 0, "Find work").expect("insert");
        doc.put(&bad, "status", 7).expect("status");
        doc.put(&bad, "steps", "Phone Rosa").expect("steps");
        doc.put(&bad, "createdAt", "yesterday").expect("createdAt");
        let at = doc.length(&goals);
        doc.insert(&goals, at, 42).expect("number");
        let steps = goal_steps(doc, "g1");
        let odd = push_map(doc, &steps, "t2");
        put_text(doc, &odd, "text", "Ask about the bus pass");
        doc.put(&odd, "done", "yes").expect("done");
        doc.put(&odd, "due", "next week").expect("due");
    })
    .await;

    let json = json_body(&download(&app, &maria, &plan, "?format=json").await);
    assert_eq!(json["document"]["goals"][1]["text"], json!(["Find work"]));
    assert_eq!(json["document"]["goals"][2], 42);
    assert_eq!(json["document"]["goals"][0]["createdByName"], "Maria");
    assert_eq!(
        json["document"]["futureNote"],
        "Words in a field this server does not know"
    );

    let download_md = download(&app, &maria, &plan, "?format=markdown").await;
    assert_eq!(download_md.status, 200);
    let page = download_md.body;
    for fragment in [
        "schema version `2`",
        "### Get back to the allotment — \\*my\\* way\n\n**Working on it** · written by Maria",
        "- [x] Call the council\\_office \\[today\\] — *Me, by 2026-12-01*",
        "- [ ] Ask about the bus pass — *by next week, done: `\"yes\"`*",
        "### Goal 2\n\n*(This could not be read: `goals[1].text` holds `[\"Find work\"]`.)*",
        "**Status: 7** · written on yesterday",
        "- [ ] Phone Rosa",
        "### Goal 3\n\n*(This could not be read: `goals[2]` holds `42`.)*",
        "### futureNote\n\nWords in a field this server does not know",
    ] {
        assert!(page.contains(fragment), "missing {fragment:?} in:\n{page}");
    }

    let bundle = json_body(&download(&app, &maria, &plan, "?format=fhir").await);
    let (valid, report) = validate_fhir(&bundle).await;
    assert!(valid, "the FHIR validators refused the export:\n{report}");
    assert_eq!(
        goal_with_text(&bundle, GOAL_WORKING)["lifecycleStatus"],
        "active"
    );
    let unreadable = goal_with_text(&bundle, "(could not be read)");
    assert_eq!(unreadable["lifecycleStatus"], "proposed");
    let care_plan = resources(&bundle, "CarePlan")[0];
    let notes = care_plan["note"].to_string();
    assert!(notes.contains("goals[1].text"), "{notes}");
    assert!(notes.contains("Find work"), "the words are kept: {notes}");
    assert!(notes.contains("goals[2]"), "{notes}");
    let activities = care_plan["activity"].as_array().expect("activities");
    assert!(
        activities
            .iter()
            .any(|a| a["detail"]["description"] == "Phone Rosa"),
        "{activities:?}"
    );
    assert!(activities.iter().any(
        |a| a["detail"]["status"] == "unknown" && a["detail"]["scheduledString"] == "next week"
    ));
}

#[tokio::test]
async fn only_members_export_and_only_the_owner_to_fhir() {
    let app = TestApp::spawn().await;
    let maria = app.register("maria").await;
    let sam = app.register("sam").await;
    let stranger = app.register("stranger").await;
    let admin = app.admin("agency").await;
    let plan = app.create_plan(&maria, "Private").await;
    app.add_supporter(&maria, &plan, &sam).await;
    let path = |query: &str| format!("/api/v1/plans/{plan}/export{query}");

    app.get(&path("?format=fhir"), sam.token())
        .await
        .assert_error(403, ErrorCode::OwnerOnly);
    for format in ["json", "markdown", "fhir"] {
        for outsider in [&stranger, &admin] {
            app.get(&path(&format!("?format={format}")), outsider.token())
                .await
                .assert_error(404, ErrorCode::PlanNotFound);
        }
    }
    app.get(
        &format!("/api/v1/plans/{}/export?format=json", uuid::Uuid::new_v4()),
        maria.token(),
    )
    .await
    .assert_error(404, ErrorCode::PlanNotFound);
    for query in ["?format=pdf", "?format=JSON", "", "?format="] {
        app.get(&path(query), maria.token())
            .await
            .assert_error(400, ErrorCode::BadRequest);
    }
    let unauthenticated = app
        .request(Method::GET, &path("?format=json"), None, None)
        .await;
    assert_eq!(unauthenticated.status, 401);

    // Exports are in the access log, which every member reads; refusals are not exports.
    assert_eq!(
        download(&app, &sam, &plan, "?format=markdown").await.status,
        200
    );
    assert_eq!(
        download(&app, &maria, &plan, "?format=fhir").await.status,
        200
    );
    let log = app
        .get(&format!("/api/v1/plans/{plan}/access-log"), sam.token())
        .await;
    assert_eq!(log.status, 200, "{}", log.body);
    let exports: Vec<(String, String)> = log
        .body
        .as_array()
        .expect("entries")
        .iter()
        .filter(|entry| entry["kind"] == "exported")
        .map(|entry| {
            (
                entry["accountName"].as_str().unwrap_or_default().to_owned(),
                entry["format"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        exports,
        [
            ("Maria".to_owned(), "fhir".to_owned()),
            ("Sam".to_owned(), "markdown".to_owned())
        ]
    );
}

#[tokio::test]
async fn former_members_keep_their_names_and_strangers_get_none() {
    let app = TestApp::spawn().await;
    let maria = app.register("maria").await;
    let sam = app.register("sam").await;
    let stranger = app.register("stranger").await;
    let plan = app.create_plan(&maria, "Plan").await;
    app.add_supporter(&maria, &plan, &sam).await;
    let s = sam.clone();
    edit(&app, &sam, &plan, move |doc| {
        add_strength(doc, "s1", "Shows up every week", &s);
    })
    .await;
    // A client may write any id; only the plan's own people are ever named.
    let outsider = stranger.clone();
    edit(&app, &maria, &plan, move |doc| {
        add_goal(
            doc,
            "g1",
            "Sleep better",
            "working",
            &outsider,
            "2026-11-21T10:00:00Z",
        );
    })
    .await;
    let removed = app
        .delete(
            &format!("/api/v1/plans/{plan}/members/{}", sam.user_id()),
            maria.token(),
        )
        .await;
    assert_eq!(removed.status, 204, "{}", removed.body);

    let export = json_body(&download(&app, &maria, &plan, "?format=json").await);
    assert_eq!(export["document"]["strengths"][0]["addedByName"], "Sam");
    assert!(
        export["document"]["goals"][0]
            .get("createdByName")
            .is_none(),
        "{}",
        export["document"]
    );
    assert_eq!(
        export["people"],
        json!([
            {"userId": maria.user_id(), "displayName": "Maria", "role": "owner"},
            {"userId": sam.user_id(), "displayName": "Sam", "role": "former member"},
        ])
    );
    assert!(!export.to_string().contains("Stranger"));

    let page = download(&app, &maria, &plan, "?format=markdown").await.body;
    assert!(
        page.contains("- Shows up every week — *added by Sam*"),
        "{page}"
    );
    assert!(
        page.contains("**Working on it** · written by someone who is not a member of this plan"),
        "{page}"
    );
    assert!(page.contains("Written together by Maria (owner), Sam (former member)."));

    let bundle = json_body(&download(&app, &maria, &plan, "?format=fhir").await);
    let (valid, report) = validate_fhir(&bundle).await;
    assert!(valid, "the FHIR validators refused the export:\n{report}");
    let provenance = resources(&bundle, "Provenance")[0];
    assert_eq!(provenance["agent"][1]["who"]["display"], "Sam");
    assert_eq!(provenance["agent"][1]["role"][0]["text"], "former member");
    assert!(
        goal_with_text(&bundle, "Sleep better")
            .get("expressedBy")
            .is_none()
    );
    assert!(!bundle.to_string().contains("Stranger"));
}

/// Every string in a JSON value, with where it is.
fn strings_in<'a>(value: &'a Value, at: String, into: &mut Vec<(String, &'a str)>) {
    match value {
        Value::String(text) => into.push((at, text)),
        Value::Array(items) => {
            for (index, item) in items.iter().enumerate() {
                strings_in(item, format!("{at}[{index}]"), into);
            }
        }
        Value::Object(fields) => {
            for (key, item) in fields {
                strings_in(item, format!("{at}.{key}"), into);
            }
        }
        _ => {}
    }
}

#[tokio::test]
async fn no_line_break_or_control_character_in_a_members_words_shapes_an_export() {
    let app = TestApp::spawn().await;
    let maria = app.register("maria").await;
    let sam = app.register("sam").await;
    let plan = app.create_plan(&maria, "Plan").await;
    app.add_supporter(&maria, &plan, &sam).await;
    // Words with every kind of line break before Markdown structure, and control characters.
    let what_matters = "Fine\r- injected item\r\n> injected quote\u{2028}1. injected list\u{2029}=== \
                        \u{85}[injected link](https://example.org)";
    let goal = "Cook\r# for the kids";
    let controlled = "Sing\u{7} again\u{1b}[0m\u{85}with\u{0} Dad\u{9f}\u{b}today";
    let m = maria.clone();
    edit(&app, &sam, &plan, move |doc| {
        let text = object(doc, &ROOT, "whatMatters");
        doc.splice_text(&text, 0, 0, what_matters).expect("splice");
        add_goal(doc, "g1", goal, "working", &m, "2026-11-21T10:00:00Z");
        add_goal(
            doc,
            "g2",
            controlled,
            "thinking",
            &m,
            "2026-11-21T10:01:00Z",
        );
        add_step(doc, "g2", "t1", "\u{1}\u{2}", "me", false);
    })
    .await;

    let page = download(&app, &sam, &plan, "?format=markdown").await;
    assert_eq!(page.status, 200);
    let page = page.body;
    for line_break in ['\r', '\u{2028}', '\u{2029}', '\u{85}'] {
        assert!(
            !page.contains(line_break),
            "{line_break:?} left in:\n{page:?}"
        );
    }
    for fragment in [
        "Fine\\\n\\- injected item\\\n\\> injected quote\\\n1\\. injected list\\\n\\===\\\n\\[injected link\\](https://example.org)",
        "### Goal 1\n\nCook\\\n\\# for the kids\n",
    ] {
        assert!(page.contains(fragment), "missing {fragment:?} in:\n{page}");
    }

    let fhir = download(&app, &maria, &plan, "?format=fhir").await;
    assert_eq!(fhir.status, 200, "{}", fhir.body);
    let bundle = json_body(&fhir);
    let mut strings = Vec::new();
    strings_in(&bundle, String::new(), &mut strings);
    for (at, text) in &strings {
        assert!(
            text.chars()
                .all(|c| !c.is_control() || matches!(c, '\t' | '\n' | '\r')),
            "{at} holds a control character FHIR R4 forbids: {text:?}"
        );
    }
    assert_eq!(
        goal_with_text(&bundle, "Sing again[0m\nwith Dad today")["lifecycleStatus"],
        "proposed"
    );
    let (valid, report) = validate_fhir(&bundle).await;
    assert!(valid, "the FHIR validators refused the export:\n{report}");

    // The plan itself is unchanged: every word as written, for both members.
    for who in [&maria, &sam] {
        let detail = app.get(&format!("/api/v1/plans/{plan}"), who.token()).await;
        assert_eq!(detail.status, 200);
        assert_eq!(detail.body["document"]["whatMatters"], what_matters);
        assert_eq!(detail.body["document"]["goals"][1]["text"], controlled);
    }
}
