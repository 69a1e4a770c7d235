//! Conflicts shown instead of silently lost (issue 28): two members set one goal's status at
//! the same time while offline; once both have synced, both devices and the server show both
//! values with who chose each; one settles it and it is gone for both.

use automerge::AutoCommit;
use cairn_shared::api::PlanConflict;
use cairn_shared::conflicts::{open_conflicts, settle};
use cairn_shared::plan::{Goal, GoalStatus, write};
use cairn_tests::sync_client::SyncClient;
use cairn_tests::{Session, TestApp};

use crate::export::{download, goal_with_text, json_body, validate_fhir};
use crate::history_in_words::joined;
use serde_json::json;

async fn conflicts(app: &TestApp, session: &Session, plan: &str) -> Vec<PlanConflict> {
    let answer = app
        .get(&format!("/api/v1/plans/{plan}/conflicts"), session.token())
        .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    answer.json()
}

/// `cairn_plans_with_open_conflicts`, once it reads `expected` (or after ten seconds).
async fn open_conflict_plans(app: &TestApp, expected: f64) -> Option<f64> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let now = app.metric("cairn_plans_with_open_conflicts").await;
        if now == Some(expected) || std::time::Instant::now() > deadline {
            return now;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

/// The document a client tracks, to edit it.
pub(crate) fn doc<'a>(client: &'a mut SyncClient, document: &str) -> &'a mut AutoCommit {
    &mut client.docs.get_mut(document).expect("tracked").doc
}

#[tokio::test]
async fn concurrent_statuses_are_shown_to_both_with_who_chose_each_until_one_settles_them() {
    let app = TestApp::spawn().await;
    let maria = app.register("maria").await;
    let sam = app.register("sam").await;
    let (plan, document) = app.plan_with_document(&maria, "Moving on").await;
    app.add_supporter(&maria, &plan, &sam).await;

    // Maria writes a goal; both have it.
    let mut marias = joined(&app, &maria, &document).await;
    let goal = Goal {
        id: "goal-1".into(),
        text: "Get my own place".into(),
        status: GoalStatus::Thinking,
        steps: Vec::new(),
        created_by: maria.user_id().to_string(),
        created_at: "2026-03-02T10:00:00Z".into(),
        agreement: Default::default(),
    };
    write::add_goal(doc(&mut marias, &document), &goal).expect("goal");
    doc(&mut marias, &document).commit();
    marias.sync_doc(&document, false).await;
    let mut sams = joined(&app, &sam, &document).await;
    assert!(conflicts(&app, &maria, &plan).await.is_empty());

    // Offline, Maria lets it go while Sam marks it "working on it"; then both sync.
    write::set_goal_status(doc(&mut marias, &document), "goal-1", GoalStatus::LetGo).expect("set");
    doc(&mut marias, &document).commit();
    write::set_goal_status(doc(&mut sams, &document), "goal-1", GoalStatus::Working).expect("set");
    doc(&mut sams, &document).commit();
    marias.sync_doc(&document, false).await;
    sams.sync_doc(&document, false).await;
    marias.sync_doc(&document, false).await;

    let on_marias = open_conflicts(doc(&mut marias, &document));
    let on_sams = open_conflicts(doc(&mut sams, &document));
    assert_eq!(on_marias, on_sams, "both phones see the same conflict");
    assert_eq!(on_marias.len(), 1);
    for reader in [&maria, &sam] {
        let open = conflicts(&app, reader, &plan).await;
        assert_eq!(open.len(), 1, "{open:?}");
        assert_eq!(open[0].path, "goals[goal-1].status");
        assert_eq!(open[0].field, "status");
        assert_eq!(open[0].item_id.as_deref(), Some("goal-1"));
        let mut chosen: Vec<_> = open[0]
            .values
            .iter()
            .map(|v| (v.value.clone(), v.author_id, v.author_name.clone()))
            .collect();
        chosen.sort_by_key(|(value, _, _)| value.to_string());
        assert_eq!(
            chosen,
            vec![
                (
                    json!("let-go"),
                    Some(maria.user_id()),
                    Some("Maria".to_owned())
                ),
                (
                    json!("working"),
                    Some(sam.user_id()),
                    Some("Sam".to_owned())
                ),
            ]
        );
    }
    // Both values stay in the plan as read over REST (the document shows one of them).
    let detail = app.get(&format!("/api/v1/plans/{plan}"), sam.token()).await;
    assert!(
        ["let-go", "working"].contains(
            &detail.body["document"]["goals"][0]["status"]
                .as_str()
                .unwrap_or_default()
        )
    );

    // `/metrics` counts the plan (no id) once it has been quiet for a moment.
    assert_eq!(open_conflict_plans(&app, 1.0).await, Some(1.0));

    // Every export says it is not settled, naming both choices, rather than showing one.
    let json = json_body(&download(&app, &sam, &plan, "?format=json").await);
    assert_eq!(json["unsettled"][0]["path"], "goals[goal-1].status");
    assert_eq!(
        json["unsettled"][0]["values"].as_array().map(Vec::len),
        Some(2)
    );
    let markdown = download(&app, &sam, &plan, "?format=markdown").await.body;
    assert!(
        markdown.contains("Not settled yet")
            && markdown.contains("Let it go (Maria)")
            && markdown.contains("Working on it (Sam)"),
        "{markdown}"
    );
    let bundle = json_body(&download(&app, &maria, &plan, "?format=fhir").await);
    let goal = goal_with_text(&bundle, "Get my own place");
    assert_eq!(goal["lifecycleStatus"], "proposed");
    assert!(goal.get("achievementStatus").is_none());
    assert!(
        goal["note"][0]["text"]
            .as_str()
            .unwrap_or_default()
            .contains("not settled")
    );
    let (valid, report) = validate_fhir(&bundle).await;
    assert!(valid, "{report}");

    // Sam settles it by choosing Maria's "let it go": an ordinary change, gone for both.
    settle(doc(&mut sams, &document), &on_sams[0], &json!("let-go")).expect("settle");
    doc(&mut sams, &document).commit();
    sams.sync_doc(&document, false).await;
    marias.sync_doc(&document, false).await;
    assert!(open_conflicts(doc(&mut marias, &document)).is_empty());
    assert!(open_conflicts(doc(&mut sams, &document)).is_empty());
    assert!(conflicts(&app, &maria, &plan).await.is_empty());
    let detail = app
        .get(&format!("/api/v1/plans/{plan}"), maria.token())
        .await;
    assert_eq!(detail.body["document"]["goals"][0]["status"], "let-go");
    let json = json_body(&download(&app, &sam, &plan, "?format=json").await);
    assert_eq!(json["unsettled"], json!([]));
    assert_eq!(open_conflict_plans(&app, 0.0).await, Some(0.0));
    let markdown = download(&app, &sam, &plan, "?format=markdown").await.body;
    assert!(!markdown.contains("Not settled yet") && markdown.contains("**Let it go**"));
    // The settling is in the history as Sam's change.
    let history = app
        .get(&format!("/api/v1/plans/{plan}/history"), maria.token())
        .await;
    let last = history
        .body
        .as_array()
        .and_then(|h| h.last())
        .cloned()
        .unwrap_or_default();
    assert_eq!(last["authorName"], "Sam");
}

#[tokio::test]
async fn a_stranger_gets_no_conflicts_of_a_plan() {
    let app = TestApp::spawn().await;
    let maria = app.register("maria").await;
    let eve = app.register("eve").await;
    let plan = app.create_plan(&maria, "Mine").await;
    app.get(&format!("/api/v1/plans/{plan}/conflicts"), eve.token())
        .await
        .assert_error(404, cairn_shared::ErrorCode::PlanNotFound);
    app.get("/api/v1/plans/not-a-plan/conflicts", maria.token())
        .await
        .assert_error(404, cairn_shared::ErrorCode::PlanNotFound);
}
