//! History in words (issue 28): the plan's history read as sessions of editing, each member's
//! run of changes said in the product's words, from two real sync clients' edits.

use automerge::transaction::Transactable;
use automerge::{AutoCommit, ReadDoc};
use cairn_shared::api::HistorySession;
use cairn_shared::changes_in_words::ChangeKind;
use cairn_shared::plan::{Goal, GoalStatus, Step, StepWho, write};
use cairn_tests::sync_client::SyncClient;
use cairn_tests::{Session, TestApp};

pub(crate) async fn joined(app: &TestApp, who: &Session, document: &str) -> SyncClient {
    let mut client = app.sync_client(who).await;
    client.track(document, AutoCommit::new());
    client.sync_doc(document, true).await;
    client
}

pub(crate) async fn edit(
    client: &mut SyncClient,
    document: &str,
    change: impl FnOnce(&mut AutoCommit),
) {
    let doc = &mut client.docs.get_mut(document).expect("tracked").doc;
    change(doc);
    doc.commit();
    client.sync_doc(document, false).await;
}

#[tokio::test]
async fn each_members_session_is_said_in_words() {
    let app = TestApp::spawn().await;
    let maria = app.register("maria").await;
    let sam = app.register("sam").await;
    let (plan, document) = app.plan_with_document(&maria, "Moving on").await;
    app.add_supporter(&maria, &plan, &sam).await;

    let mut marias = joined(&app, &maria, &document).await;
    edit(&mut marias, &document, |doc| {
        let goal = Goal {
            id: "g1".into(),
            text: "Get my own place".into(),
            status: GoalStatus::Thinking,
            steps: Vec::new(),
            created_by: maria.user_id().to_string(),
            created_at: "2026-03-02T10:00:00Z".into(),
            agreement: Default::default(),
        };
        write::add_goal(doc, &goal).expect("goal");
        let step = Step {
            id: "s1".into(),
            text: "Call the housing office".into(),
            who: StepWho::Me,
            done: false,
            due: None,
        };
        write::add_step(doc, "g1", &step).expect("step");
    })
    .await;
    let mut sams = joined(&app, &sam, &document).await;
    edit(&mut sams, &document, |doc| {
        write::set_step_done(doc, "g1", "s1", true).expect("done");
        write::set_goal_status(doc, "g1", GoalStatus::Working).expect("status");
    })
    .await;
    edit(&mut sams, &document, |doc| {
        let goals = doc
            .get(automerge::ROOT, "goals")
            .expect("read")
            .expect("goals")
            .1;
        let goal = write::find_item(doc, &goals, "g1").expect("goal");
        let text = doc.get(&goal, "text").expect("read").expect("text").1;
        doc.splice_text(&text, 0, 16, "Get a place near my sister")
            .expect("type");
    })
    .await;

    let answer = app
        .get(
            &format!("/api/v1/plans/{plan}/history/sessions"),
            maria.token(),
        )
        .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let sessions: Vec<HistorySession> = answer.json();
    let told: Vec<(String, Vec<String>)> = sessions
        .iter()
        .map(|session| (session.author_name.clone(), session.sentences.clone()))
        .collect();
    assert_eq!(
        told,
        vec![
            (
                "Maria".to_owned(),
                vec![
                    "Maria named the plan ‘Moving on’".to_owned(),
                    "Maria added the goal ‘Get my own place’".to_owned(),
                    "Maria added the step ‘Call the housing office’ to ‘Get my own place’"
                        .to_owned(),
                ]
            ),
            (
                "Sam".to_owned(),
                vec![
                    "Sam changed the goal ‘Get my own place’ to ‘Get a place near my sister’"
                        .to_owned(),
                    "Sam set the goal ‘Get a place near my sister’ to ‘Working on it’".to_owned(),
                    "Sam marked ‘Call the housing office’ done".to_owned(),
                ]
            ),
        ],
        "{sessions:#?}"
    );
    // Sam's two changes are one session; the parts say it for clients in other languages.
    assert_eq!(sessions[1].changes, 2);
    assert_eq!(sessions[1].said[2].kind, ChangeKind::StepDone);
    // As the per-change history: every change is in exactly one session.
    let entries = app
        .get(&format!("/api/v1/plans/{plan}/history"), sam.token())
        .await;
    let total: u64 = sessions.iter().map(|session| session.changes).sum();
    assert_eq!(Some(total as usize), entries.body.as_array().map(Vec::len));

    // A stranger gets nothing.
    let eve = app.register("eve").await;
    app.get(
        &format!("/api/v1/plans/{plan}/history/sessions"),
        eve.token(),
    )
    .await
    .assert_error(404, cairn_shared::ErrorCode::PlanNotFound);
}

#[tokio::test]
async fn only_the_newest_sessions_are_said_so_alternating_edits_stay_cheap() {
    use cairn_server::services::history::SESSIONS_IN_WORDS;
    let app = TestApp::spawn().await;
    let maria = app.register("maria").await;
    let sam = app.register("sam").await;
    let plan = app.create_plan(&maria, "Moving on").await;
    app.add_supporter(&maria, &plan, &sam).await;
    // Maria and Sam take turns over HTTP sync, one strength each: every change its own session.
    let mut doc = AutoCommit::load(&app.plan_changes(maria.token(), &plan).await).expect("load");
    let actors = [automerge::ActorId::random(), automerge::ActorId::random()];
    let turns = SESSIONS_IN_WORDS + 4;
    for turn in 0..turns {
        let who = if turn % 2 == 0 { &maria } else { &sam };
        doc.set_actor(actors[turn % 2].clone());
        let since = doc.get_heads();
        let strength = cairn_shared::plan::Strength {
            id: format!("s{turn}"),
            text: format!("Strength {turn}"),
            added_by: None,
        };
        write::add_strength(&mut doc, &strength).expect("strength");
        doc.commit();
        let change: Vec<u8> = doc
            .get_changes(&since)
            .iter()
            .flat_map(|c| c.raw_bytes().to_vec())
            .collect();
        let uploaded = app.upload_changes(who.token(), &plan, change).await;
        assert_eq!(uploaded.status, 200, "{}", uploaded.body);
    }
    let answer = app
        .get(
            &format!("/api/v1/plans/{plan}/history/sessions"),
            maria.token(),
        )
        .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let sessions: Vec<HistorySession> = answer.json();
    assert!(sessions.len() > SESSIONS_IN_WORDS, "{}", sessions.len());
    let said = sessions.iter().filter(|s| !s.said.is_empty()).count();
    assert_eq!(said, SESSIONS_IN_WORDS);
    assert!(
        sessions[0].said.is_empty(),
        "the oldest keep only who, when and how many"
    );
    let last = sessions.last().expect("a session");
    assert_eq!(
        last.sentences,
        vec![format!("Sam added a strength: ‘Strength {}’", turns - 1)]
    );
}
