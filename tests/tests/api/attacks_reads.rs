//! Attacks on memory through REST reads: a member reading plans over and over, at once. Reads
//! are served from the plan the sync hub holds (one load shared by everyone asking), the plan
//! list never loads a document, and one plan that cannot be read does not fail the others.

use cairn_tests::{Session, TestApp};
use sea_orm::{ConnectionTrait, Database};
use serde_json::Value;

/// How many plans the server has read from storage into memory so far.
async fn plan_loads(app: &TestApp) -> u64 {
    let body = reqwest::get(format!("{}/metrics", app.address))
        .await
        .expect("metrics")
        .text()
        .await
        .expect("metrics text");
    body.lines()
        .find_map(|line| line.strip_prefix("cairn_plan_loads_total "))
        .expect("the metrics count plan loads")
        .trim()
        .parse()
        .expect("a count")
}

async fn get_all(app: &TestApp, who: &Session, paths: &[String]) -> Vec<Value> {
    let answers =
        futures_util::future::join_all(paths.iter().map(|path| app.get(path, who.token()))).await;
    answers
        .into_iter()
        .zip(paths)
        .map(|(answer, path)| {
            assert_eq!(answer.status, 200, "{path}: {:?}", answer.body);
            answer.body
        })
        .collect()
}

#[tokio::test]
async fn reads_at_once_share_one_load_and_the_plan_list_loads_none() {
    let app = TestApp::spawn().await;
    let maria = app.register("maria").await;
    let sam = app.register("sam").await;
    let mut plans = Vec::new();
    for title in ["Back to singing", "A place of my own", "Work again"] {
        let plan = app.create_plan(&maria, title).await;
        app.add_supporter(&maria, &plan, &sam).await;
        plans.push(plan);
    }
    assert_eq!(plan_loads(&app).await, 0, "creating plans loads none");

    // Six lists at once, by both members, and every plan's members: titles without a load.
    let lists: Vec<String> = (0..6).map(|_| "/api/v1/plans".to_owned()).collect();
    for list in get_all(&app, &maria, &lists).await {
        let titles: Vec<&str> = list
            .as_array()
            .expect("a list")
            .iter()
            .map(|plan| plan["title"].as_str().expect("a title"))
            .collect();
        assert_eq!(
            titles,
            ["Back to singing", "A place of my own", "Work again"]
        );
        assert!(
            list.as_array()
                .expect("a list")
                .iter()
                .all(|p| p["unavailable"] == false)
        );
    }
    get_all(&app, &sam, &lists[..3]).await;
    let members: Vec<String> = plans
        .iter()
        .map(|plan| format!("/api/v1/plans/{plan}/members"))
        .collect();
    get_all(&app, &sam, &members).await;
    assert_eq!(
        plan_loads(&app).await,
        0,
        "lists and members load no document"
    );

    // Every kind of read of one plan, several of each, at the same moment: one load.
    let plan = &plans[0];
    let reads: Vec<String> = (0..3)
        .flat_map(|_| {
            [
                format!("/api/v1/plans/{plan}"),
                format!("/api/v1/plans/{plan}/export?format=json"),
                format!("/api/v1/plans/{plan}/export?format=markdown"),
                format!("/api/v1/plans/{plan}/history"),
            ]
        })
        .collect();
    let answers = get_all(&app, &maria, &reads).await;
    assert_eq!(answers[0]["title"], "Back to singing");
    assert_eq!(answers[0]["document"]["title"], "Back to singing");
    assert_eq!(answers[4], answers[0], "the same plan for every reader");
    assert!(!answers[3].as_array().expect("history").is_empty());
    assert_eq!(
        plan_loads(&app).await,
        1,
        "twelve reads at once load the plan once"
    );

    // Reads while the plan is held (by the reads just now) load nothing more; the other member's too.
    get_all(&app, &sam, &reads[..4]).await;
    assert_eq!(plan_loads(&app).await, 1);

    // A stranger's reads are "not found" and load nothing.
    let eve = app.register("eve").await;
    let answer = app
        .get(&format!("/api/v1/plans/{}", plans[1]), eve.token())
        .await;
    assert_eq!(answer.status, 404);
    assert_eq!(plan_loads(&app).await, 1);
}

#[tokio::test]
async fn a_plan_that_cannot_be_read_is_listed_as_unavailable_and_the_others_are_served() {
    use sea_orm::sea_query::{Alias, Expr, ExprTrait, Query};

    let first = TestApp::spawn().await;
    let maria = first.register("maria").await;
    let damaged = first.create_plan(&maria, "Back to singing").await;
    let fine = first.create_plan(&maria, "A place of my own").await;
    let damaged_id: cairn_shared::PlanId = damaged.parse().expect("plan id");

    // The damaged plan's wrapped data key is garbage (a bad restore, a disk error): neither its
    // title nor its document can be opened any more.
    let db = Database::connect(first.database_url.as_str())
        .await
        .expect("connect");
    let builder = db.get_database_backend();
    let garbage = Query::update()
        .table(Alias::new("plan_keys"))
        .value(Alias::new("wrapped_key"), vec![1u8; 60])
        .and_where(Expr::col(Alias::new("plan_id")).eq(damaged_id.0))
        .to_owned();
    db.execute_raw(builder.build(&garbage))
        .await
        .expect("update");
    // A fresh instance on the same database (no data key cached in memory).
    let app = TestApp::spawn_beside(&first).await;

    let list = app.get("/api/v1/plans", maria.token()).await;
    assert_eq!(list.status, 200, "{:?}", list.body);
    let list = list.body.as_array().expect("a list").clone();
    assert_eq!(list.len(), 2);
    assert_eq!(list[0]["id"], damaged.as_str());
    assert_eq!(list[0]["unavailable"], true);
    assert_eq!(list[0]["title"], "");
    assert_eq!(list[1]["title"], "A place of my own");
    assert_eq!(list[1]["unavailable"], false);

    // Reading the damaged plan is a clear server error, never an empty plan; the other is served.
    let answer = app
        .get(&format!("/api/v1/plans/{damaged}"), maria.token())
        .await;
    assert_eq!(answer.status, 500, "{:?}", answer.body);
    assert_eq!(answer.body["document"], Value::Null);
    let answer = app
        .get(&format!("/api/v1/plans/{fine}"), maria.token())
        .await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.body["document"]["title"], "A place of my own");
}

#[tokio::test]
async fn the_plan_list_shows_a_title_changed_over_sync_at_once() {
    use automerge::transaction::Transactable;
    use automerge::{AutoCommit, ObjType, ROOT, ReadDoc};

    let app = TestApp::spawn().await;
    let maria = app.register("maria").await;
    let (plan, document) = app.plan_with_document(&maria, "Back to singing").await;
    let mut client = app.sync_client(&maria).await;
    client.track(&document, AutoCommit::new());
    client.sync_doc(&document, true).await;
    let tracked = client.docs.get_mut(&document).expect("tracked");
    let title = match tracked.doc.get(ROOT, "title").expect("read") {
        Some((automerge::Value::Object(ObjType::Text), title)) => title,
        other => panic!("the skeleton's title is text: {other:?}"),
    };
    let length = tracked.doc.length(&title);
    tracked
        .doc
        .splice_text(&title, 0, length as isize, "Singing again")
        .expect("rename");
    tracked.doc.commit();
    client.sync_doc(&document, false).await;

    // The moment the server has the change, the list (which loads no document) says so.
    let list = app.get("/api/v1/plans", maria.token()).await;
    assert_eq!(list.body[0]["id"], plan.as_str());
    assert_eq!(list.body[0]["title"], "Singing again");
}
