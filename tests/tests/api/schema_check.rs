//! A document that does not fit the schema is kept and synced as usual, and flagged in the
//! plan's metadata and in a metric; fixing it clears the flag.

use std::time::{Duration, Instant};

use automerge::transaction::Transactable;
use automerge::{AutoCommit, ROOT, ReadDoc};
use cairn_shared::plan::write::{add_goal, find_item};
use cairn_shared::plan::{Goal, GoalStatus};
use cairn_tests::{Session, TestApp};
use reqwest::Method;
use serde_json::Value;

async fn schema_issue(app: &TestApp, session: &Session) -> Value {
    app.get("/api/v1/plans", session.token()).await.body[0]["schemaIssue"].clone()
}

async fn wait_for_issue(app: &TestApp, session: &Session, present: bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let issue = schema_issue(app, session).await;
        if issue.is_string() == present || Instant::now() > deadline {
            return issue;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn metric(app: &TestApp, name: &str) -> Option<f64> {
    let text = app.request(Method::GET, "/metrics", None, None).await;
    assert_eq!(text.status, 200);
    let body = reqwest::get(format!("{}/metrics", app.address))
        .await
        .ok()?
        .text()
        .await
        .ok()?;
    body.lines()
        .find(|line| line.starts_with(name) && line[name.len()..].starts_with(' '))
        .and_then(|line| line.rsplit(' ').next())
        .and_then(|value| value.parse().ok())
}

#[tokio::test]
async fn a_plan_that_does_not_fit_is_kept_synced_and_flagged_until_fixed() {
    let app = TestApp::spawn().await;
    let maria = app.register("maria").await;
    let sam = app.register("sam").await;
    let plan = app.create_plan(&maria, "Flag me").await;
    app.add_supporter(&maria, &plan, &sam).await;
    let document = app
        .get(&format!("/api/v1/plans/{plan}"), maria.token())
        .await
        .body["documentId"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert_eq!(
        schema_issue(&app, &maria).await,
        Value::Null,
        "the skeleton fits"
    );

    let mut phone = app.sync_client(&maria).await;
    phone.track(&document, AutoCommit::new());
    phone.sync_doc(&document, true).await;
    {
        let doc = &mut phone.docs.get_mut(&document).expect("tracked").doc;
        let goal = Goal {
            id: "g1".into(),
            text: "Cook for my kids on Sundays".into(),
            status: GoalStatus::Working,
            steps: vec![],
            created_by: maria.user_id().to_string(),
            created_at: "2026-11-21T10:00:00Z".into(),
            agreement: Default::default(),
        };
        add_goal(doc, &goal).expect("goal");
        // A buggy client writes a status the schema does not have.
        let goals = doc.get(ROOT, "goals").expect("get").expect("goals").1;
        let item = find_item(doc, &goals, "g1").expect("goal item");
        doc.put(&item, "status", "maybe-later").expect("put");
        doc.commit();
    }
    phone.sync_doc(&document, false).await;

    let issue = wait_for_issue(&app, &maria, true).await;
    assert!(
        issue
            .as_str()
            .is_some_and(|i| i.contains("goals[0].status")),
        "{issue}"
    );
    assert_eq!(
        metric(&app, "cairn_plans_not_fitting_schema").await,
        Some(1.0)
    );
    assert_eq!(
        metric(&app, "cairn_plan_schema_mismatches_total").await,
        Some(1.0)
    );

    // Kept and synced as usual: the supporter gets the whole document, odd status included.
    let mut laptop = app.sync_client(&sam).await;
    laptop.track(&document, AutoCommit::new());
    laptop.sync_doc(&document, true).await;
    let json = serde_json::to_value(automerge::AutoSerde::from(&laptop.docs[&document].doc))
        .expect("json");
    assert_eq!(json["goals"][0]["status"], "maybe-later");
    assert_eq!(json["goals"][0]["text"], "Cook for my kids on Sundays");

    // Fixing it clears the flag.
    {
        let doc = &mut phone.docs.get_mut(&document).expect("tracked").doc;
        let goals = doc.get(ROOT, "goals").expect("get").expect("goals").1;
        let item = find_item(doc, &goals, "g1").expect("goal item");
        doc.put(&item, "status", "working").expect("put");
        doc.commit();
    }
    phone.sync_doc(&document, false).await;
    assert_eq!(wait_for_issue(&app, &maria, false).await, Value::Null);
    assert_eq!(
        metric(&app, "cairn_plans_not_fitting_schema").await,
        Some(0.0)
    );
}
