use cairn_shared::ErrorCode;
use cairn_shared::plan::read_title;
use cairn_shared::{DocumentId, PlanId};
use cairn_tests::TestApp;
use serde_json::json;

#[tokio::test]
async fn creating_a_plan_stores_the_v1_skeleton_and_returns_its_automerge_url() {
    let app = TestApp::spawn().await;
    let maria = app.register("maria").await;
    let created = app
        .post(
            "/api/v1/plans",
            maria.token(),
            json!({"title": "My way forward"}),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let id: PlanId = created.body["id"]
        .as_str()
        .unwrap_or_default()
        .parse()
        .expect("plan id");
    let document_id = created.body["documentId"].as_str().unwrap_or_default();
    // The document id is bs58check of the plan's 16 UUID bytes, as automerge-repo makes them.
    let raw = bs58::decode(document_id)
        .with_check(None)
        .into_vec()
        .expect("bs58check");
    assert_eq!(raw, id.0.as_bytes());
    assert_eq!(document_id.parse::<DocumentId>().map(|d| d.0), Ok(id.0));
    assert_eq!(created.body["url"], format!("automerge:{document_id}"));
    assert_eq!(created.body["role"], "owner");
    assert_eq!(created.body["title"], "My way forward");

    let detail = app.get(&format!("/api/v1/plans/{id}"), maria.token()).await;
    assert_eq!(detail.status, 200);
    assert_eq!(detail.headers["cache-control"], "no-store");
    let document = &detail.body["document"];
    assert_eq!(document["schemaVersion"], 1);
    assert_eq!(document["title"], "My way forward");
    assert_eq!(document["whatMatters"], "");
    for list in ["strengths", "goals", "supports", "checkIns"] {
        assert_eq!(document[list], json!([]), "{list} starts as an empty list");
    }

    // The same plan can be addressed by its document id or its automerge URL.
    for alias in [document_id.to_owned(), format!("automerge:{document_id}")] {
        let by_alias = app
            .get(
                &format!("/api/v1/plans/{}", urlencode(&alias)),
                maria.token(),
            )
            .await;
        assert_eq!(by_alias.status, 200, "{alias}: {}", by_alias.body);
        assert_eq!(by_alias.body["id"], id.to_string());
    }
}

fn urlencode(text: &str) -> String {
    text.replace(':', "%3A")
}

#[tokio::test]
async fn the_stored_document_is_a_real_automerge_document() {
    let app = TestApp::spawn().await;
    let maria = app.register("maria").await;
    let id: PlanId = app
        .create_plan(&maria, "Títulos y más ✨")
        .await
        .parse()
        .expect("id");
    let (snapshot, changes) = app.store.plan_document(id).await.expect("stored");
    assert!(snapshot.is_none());
    assert_eq!(changes.len(), 1, "the skeleton is one change");
    assert_eq!(
        changes[0].author_id,
        maria.user_id(),
        "attributed to the owner"
    );
    let mut doc = automerge::AutoCommit::load(&changes[0].data).expect("loads");
    assert_eq!(read_title(&doc), "Títulos y más ✨");
    assert_eq!(doc.get_heads()[0].to_string(), changes[0].hash);
}

#[tokio::test]
async fn my_plans_list_shows_my_role_and_everyones_names() {
    let app = TestApp::spawn().await;
    let maria = app.register("maria").await;
    let sam = app.register("sam").await;
    let own = app.create_plan(&maria, "Maria's plan").await;
    let sams = app.create_plan(&sam, "Sam's plan").await;
    app.add_supporter(&sam, &sams, &maria).await;

    let list = app.get("/api/v1/plans", maria.token()).await;
    assert_eq!(list.status, 200);
    let plans = list.body.as_array().cloned().unwrap_or_default();
    assert_eq!(plans.len(), 2);
    let mine = plans
        .iter()
        .find(|p| p["id"] == own.as_str())
        .expect("own plan listed");
    assert_eq!(mine["role"], "owner");
    assert_eq!(mine["title"], "Maria's plan");
    assert_eq!(mine["members"].as_array().map(Vec::len), Some(1));
    let theirs = plans
        .iter()
        .find(|p| p["id"] == sams.as_str())
        .expect("supported plan listed");
    assert_eq!(theirs["role"], "supporter");
    let names: Vec<(&str, &str)> = theirs["members"]
        .as_array()
        .map(|m| {
            m.iter()
                .map(|m| {
                    (
                        m["displayName"].as_str().unwrap_or(""),
                        m["role"].as_str().unwrap_or(""),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(names, [("Sam", "owner"), ("Maria", "supporter")]);

    let others = app.register("lee").await;
    assert_eq!(
        app.get("/api/v1/plans", others.token()).await.body,
        json!([])
    );
}

#[tokio::test]
async fn non_members_learn_nothing_about_a_plan() {
    let app = TestApp::spawn().await;
    let maria = app.register("maria").await;
    let stranger = app.register("stranger").await;
    let plan = app.create_plan(&maria, "Private words").await;
    let missing = uuid::Uuid::new_v4();
    for path in [
        format!("/api/v1/plans/{plan}"),
        format!("/api/v1/plans/{missing}"),
    ] {
        let answer = app.get(&path, stranger.token()).await;
        answer.assert_error(404, ErrorCode::PlanNotFound);
        assert!(!answer.body.to_string().contains("Private words"));
    }
    // The same answer for a plan that exists and one that does not.
    let existing = app
        .get(&format!("/api/v1/plans/{plan}/members"), stranger.token())
        .await;
    let absent = app
        .get(
            &format!("/api/v1/plans/{missing}/members"),
            stranger.token(),
        )
        .await;
    assert_eq!(existing.body, absent.body);
    app.post(
        &format!("/api/v1/plans/{plan}/invitations"),
        stranger.token(),
        json!({}),
    )
    .await
    .assert_error(404, ErrorCode::PlanNotFound);
    app.delete(&format!("/api/v1/plans/{plan}"), stranger.token())
        .await
        .assert_error(404, ErrorCode::PlanNotFound);
    app.delete(
        &format!("/api/v1/plans/{plan}/members/{}", maria.user_id()),
        stranger.token(),
    )
    .await
    .assert_error(404, ErrorCode::PlanNotFound);
    // Still there for its owner.
    assert_eq!(
        app.get(&format!("/api/v1/plans/{plan}"), maria.token())
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn the_owner_deletes_a_plan_and_it_is_gone_for_everyone() {
    let app = TestApp::spawn().await;
    let maria = app.register("maria").await;
    let sam = app.register("sam").await;
    let plan = app.create_plan(&maria, "To delete").await;
    let keep = app.create_plan(&maria, "To keep").await;
    app.add_supporter(&maria, &plan, &sam).await;

    app.delete(&format!("/api/v1/plans/{plan}"), sam.token())
        .await
        .assert_error(403, ErrorCode::OwnerOnly);
    assert_eq!(
        app.get(&format!("/api/v1/plans/{plan}"), sam.token())
            .await
            .status,
        200
    );

    assert_eq!(
        app.delete(&format!("/api/v1/plans/{plan}"), maria.token())
            .await
            .status,
        204
    );
    app.get(&format!("/api/v1/plans/{plan}"), maria.token())
        .await
        .assert_error(404, ErrorCode::PlanNotFound);
    app.get(&format!("/api/v1/plans/{plan}"), sam.token())
        .await
        .assert_error(404, ErrorCode::PlanNotFound);
    let id: PlanId = plan.parse().expect("id");
    let (snapshot, changes) = app.store.plan_document(id).await.expect("query");
    assert!(
        snapshot.is_none() && changes.is_empty(),
        "its document is deleted too"
    );
    assert_eq!(
        app.get(&format!("/api/v1/plans/{keep}"), maria.token())
            .await
            .body["title"],
        "To keep"
    );
    app.delete(&format!("/api/v1/plans/{plan}"), maria.token())
        .await
        .assert_error(404, ErrorCode::PlanNotFound);
}

#[tokio::test]
async fn an_invited_supporter_joins_with_a_single_use_code() {
    let app = TestApp::spawn().await;
    let maria = app.register("maria").await;
    let sam = app.register("sam").await;
    let lee = app.register("lee").await;
    let plan = app.create_plan(&maria, "Together").await;

    let invitation = app
        .post(
            &format!("/api/v1/plans/{plan}/invitations"),
            maria.token(),
            json!({}),
        )
        .await;
    assert_eq!(invitation.status, 201, "{}", invitation.body);
    let code = invitation.body["code"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert_eq!(code.len(), 14, "short enough to read aloud: {code}");
    assert!(
        code.chars()
            .all(|c| c == '-' || c.is_ascii_uppercase() || c.is_ascii_digit())
    );
    assert!(invitation.body["expiresAt"].is_string());

    // Typed on a phone: lower case, no dash.
    let typed = code.replace('-', "").to_lowercase();
    let joined = app
        .post(
            &format!("/api/v1/invitations/{typed}/accept"),
            sam.token(),
            json!({}),
        )
        .await;
    assert_eq!(joined.status, 200, "{}", joined.body);
    assert_eq!(joined.body["role"], "supporter");
    assert_eq!(joined.body["id"], plan.as_str());

    let members = app
        .get(&format!("/api/v1/plans/{plan}/members"), sam.token())
        .await;
    let roles: Vec<(&str, &str)> = members
        .body
        .as_array()
        .map(|m| {
            m.iter()
                .map(|m| {
                    (
                        m["displayName"].as_str().unwrap_or(""),
                        m["role"].as_str().unwrap_or(""),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(roles, [("Maria", "owner"), ("Sam", "supporter")]);
    // The supporter reads the whole plan, like the owner.
    let as_supporter = app.get(&format!("/api/v1/plans/{plan}"), sam.token()).await;
    let as_owner = app
        .get(&format!("/api/v1/plans/{plan}"), maria.token())
        .await;
    assert_eq!(as_supporter.body["document"], as_owner.body["document"]);

    app.post(
        &format!("/api/v1/invitations/{code}/accept"),
        lee.token(),
        json!({}),
    )
    .await
    .assert_error(410, ErrorCode::InvitationUsed);
    app.post(
        "/api/v1/invitations/ZZZZ-ZZZZ/accept",
        lee.token(),
        json!({}),
    )
    .await
    .assert_error(404, ErrorCode::InvitationNotFound);
    app.get(&format!("/api/v1/plans/{plan}"), lee.token())
        .await
        .assert_error(404, ErrorCode::PlanNotFound);

    // Already a member: a second code does not add them twice.
    let again = app
        .post(
            &format!("/api/v1/plans/{plan}/invitations"),
            maria.token(),
            json!({}),
        )
        .await;
    let again = again.body["code"].as_str().unwrap_or_default().to_owned();
    app.post(
        &format!("/api/v1/invitations/{again}/accept"),
        sam.token(),
        json!({}),
    )
    .await
    .assert_error(409, ErrorCode::AlreadyMember);
    app.post(
        &format!("/api/v1/invitations/{again}/accept"),
        maria.token(),
        json!({}),
    )
    .await
    .assert_error(409, ErrorCode::AlreadyMember);
    // ...and that refusal did not use the code up.
    assert_eq!(
        app.post(
            &format!("/api/v1/invitations/{again}/accept"),
            lee.token(),
            json!({})
        )
        .await
        .status,
        200
    );
}

#[tokio::test]
async fn an_expired_invitation_cannot_be_used() {
    let app = TestApp::spawn_with(|s| s.invitation_ttl_minutes = 0).await;
    let maria = app.register("maria").await;
    let sam = app.register("sam").await;
    let plan = app.create_plan(&maria, "Later").await;
    let invitation = app
        .post(
            &format!("/api/v1/plans/{plan}/invitations"),
            maria.token(),
            json!({}),
        )
        .await;
    let code = invitation.body["code"].as_str().unwrap_or_default();
    app.post(
        &format!("/api/v1/invitations/{code}/accept"),
        sam.token(),
        json!({}),
    )
    .await
    .assert_error(410, ErrorCode::InvitationExpired);
    app.get(&format!("/api/v1/plans/{plan}"), sam.token())
        .await
        .assert_error(404, ErrorCode::PlanNotFound);
}

#[tokio::test]
async fn supporters_cannot_do_what_only_the_owner_may() {
    let app = TestApp::spawn().await;
    let maria = app.register("maria").await;
    let sam = app.register("sam").await;
    let lee = app.register("lee").await;
    let plan = app.create_plan(&maria, "Mine").await;
    app.add_supporter(&maria, &plan, &sam).await;
    app.add_supporter(&maria, &plan, &lee).await;

    app.post(
        &format!("/api/v1/plans/{plan}/invitations"),
        sam.token(),
        json!({}),
    )
    .await
    .assert_error(403, ErrorCode::OwnerOnly);
    app.delete(
        &format!("/api/v1/plans/{plan}/members/{}", lee.user_id()),
        sam.token(),
    )
    .await
    .assert_error(403, ErrorCode::OwnerOnly);
    app.delete(
        &format!("/api/v1/plans/{plan}/members/{}", maria.user_id()),
        sam.token(),
    )
    .await
    .assert_error(403, ErrorCode::OwnerOnly);
    app.delete(&format!("/api/v1/plans/{plan}"), sam.token())
        .await
        .assert_error(403, ErrorCode::OwnerOnly);
    let members = app
        .get(&format!("/api/v1/plans/{plan}/members"), maria.token())
        .await;
    assert_eq!(
        members.body.as_array().map(Vec::len),
        Some(3),
        "nobody was removed"
    );
}

#[tokio::test]
async fn the_owner_removes_a_supporter_and_a_supporter_can_leave() {
    let app = TestApp::spawn().await;
    let maria = app.register("maria").await;
    let sam = app.register("sam").await;
    let lee = app.register("lee").await;
    let plan = app.create_plan(&maria, "Mine").await;
    app.add_supporter(&maria, &plan, &sam).await;
    app.add_supporter(&maria, &plan, &lee).await;

    let removed = app
        .delete(
            &format!("/api/v1/plans/{plan}/members/{}", sam.user_id()),
            maria.token(),
        )
        .await;
    assert_eq!(removed.status, 204, "{}", removed.body);
    app.get(&format!("/api/v1/plans/{plan}"), sam.token())
        .await
        .assert_error(404, ErrorCode::PlanNotFound);
    assert_eq!(app.get("/api/v1/plans", sam.token()).await.body, json!([]));

    let left = app
        .delete(
            &format!("/api/v1/plans/{plan}/members/{}", lee.user_id()),
            lee.token(),
        )
        .await;
    assert_eq!(left.status, 204);
    app.get(&format!("/api/v1/plans/{plan}"), lee.token())
        .await
        .assert_error(404, ErrorCode::PlanNotFound);

    app.delete(
        &format!("/api/v1/plans/{plan}/members/{}", maria.user_id()),
        maria.token(),
    )
    .await
    .assert_error(409, ErrorCode::OwnerCannotLeave);
    app.delete(
        &format!("/api/v1/plans/{plan}/members/{}", sam.user_id()),
        maria.token(),
    )
    .await
    .assert_error(404, ErrorCode::MemberNotFound);
    let members = app
        .get(&format!("/api/v1/plans/{plan}/members"), maria.token())
        .await;
    assert_eq!(members.body.as_array().map(Vec::len), Some(1));
}

#[tokio::test]
async fn an_account_owns_at_most_its_limit_of_plans_over_rest_and_sync() {
    use automerge::ActorId;
    let app = TestApp::spawn_with(|s| s.plans_per_account = 2).await;
    let maria = app.register("maria").await;
    let sam = app.register("sam").await;
    let first = app.create_plan(&maria, "One").await;
    app.create_plan(&maria, "Two").await;
    let third = app
        .post("/api/v1/plans", maria.token(), json!({ "title": "Three" }))
        .await;
    third.assert_error(403, ErrorCode::PlanLimitReached);

    // A plan made offline is refused the same way when it first syncs, and nothing is stored.
    let offline = cairn_shared::PlanId::new_random().document_id().to_string();
    let mut phone = app.sync_client(&maria).await;
    phone.track(
        &offline,
        cairn_shared::plan::new_plan_document(ActorId::random(), "Made on the bus").expect("doc"),
    );
    phone.sync_doc(&offline, false).await;
    assert!(
        phone
            .wait_until(cairn_tests::sync_client::WAIT, |c| c.closed())
            .await,
        "{:?}",
        phone.events
    );
    assert!(
        phone.error().is_some_and(|e| e.contains("limit of plans")),
        "{:?}",
        phone.events
    );
    let listed = app.get("/api/v1/plans", maria.token()).await;
    assert_eq!(listed.body.as_array().map(Vec::len), Some(2));

    // Supporting others' plans does not count; deleting one frees a place.
    app.add_supporter(&maria, &first, &sam).await;
    app.create_plan(&sam, "Sam's own").await;
    let deleted = app
        .delete(&format!("/api/v1/plans/{first}"), maria.token())
        .await;
    assert_eq!(deleted.status, 204);
    app.create_plan(&maria, "Three, now").await;
}

#[tokio::test]
async fn many_plans_created_at_once_all_succeed() {
    // SQLite allows one writer at a time: every write waits its turn instead of failing with
    // "database is locked" (which a transaction that read before writing used to do).
    let app = TestApp::spawn_with(|s| s.plans_per_account = 1_000).await;
    let maria = app.register("maria").await;
    let sam = app.register("sam").await;
    let creations = (0..24).map(|n| {
        let (app, owner) = (&app, if n % 2 == 0 { &maria } else { &sam });
        async move {
            app.post(
                "/api/v1/plans",
                owner.token(),
                json!({ "title": format!("Plan {n}") }),
            )
            .await
        }
    });
    let answers = futures_util::future::join_all(creations).await;
    for answer in &answers {
        assert_eq!(answer.status, 201, "{}", answer.body);
    }
    let listed = app.get("/api/v1/plans", maria.token()).await;
    assert_eq!(listed.body.as_array().map(Vec::len), Some(12));
}

#[tokio::test]
async fn my_plans_say_when_and_by_whom_they_last_changed() {
    use automerge::transaction::Transactable;
    let app = TestApp::spawn().await;
    let maria = app.register("maria").await;
    let sam = app.register("sam").await;
    let quiet = app.create_plan(&maria, "Quiet plan").await;
    let busy = app.create_plan(&maria, "Busy plan").await;
    app.add_supporter(&maria, &busy, &sam).await;
    let listed = |list: &serde_json::Value, plan: &str| {
        list.as_array()
            .expect("plans")
            .iter()
            .find(|p| p["id"] == plan)
            .cloned()
            .expect("listed")
    };

    // A new plan's skeleton is its first change: made by its owner when it was created.
    let before = app.get("/api/v1/plans", sam.token()).await.body;
    let untouched = listed(&before, &busy);
    assert_eq!(untouched["lastChangedAt"], untouched["createdAt"]);
    assert_eq!(untouched["lastChangedBy"], maria.user_id().to_string());

    // Sam writes in the busy plan.
    let mut doc =
        automerge::AutoCommit::load(&app.plan_changes(sam.token(), &busy).await).expect("load");
    let since = doc.get_heads();
    doc.put(automerge::ROOT, "whatMatters", "my kids")
        .expect("put");
    doc.commit();
    let change: Vec<u8> = doc
        .get_changes(&since)
        .iter()
        .flat_map(|c| c.raw_bytes().to_vec())
        .collect();
    assert_eq!(
        app.upload_changes(sam.token(), &busy, change).await.status,
        200
    );

    let after = app.get("/api/v1/plans", maria.token()).await.body;
    let (busy_now, quiet_now) = (listed(&after, &busy), listed(&after, &quiet));
    let at = |plan: &serde_json::Value| {
        chrono::DateTime::parse_from_rfc3339(plan["lastChangedAt"].as_str().expect("a time"))
            .expect("RFC 3339")
    };
    assert!(at(&busy_now) > at(&untouched), "{busy_now}");
    assert_eq!(busy_now["lastChangedBy"], sam.user_id().to_string());
    assert!(at(&busy_now) > at(&quiet_now), "the busy plan sorts first");
    assert_eq!(quiet_now["lastChangedBy"], maria.user_id().to_string());
    // The plan's own page says the same.
    let detail = app
        .get(&format!("/api/v1/plans/{busy}"), maria.token())
        .await;
    assert_eq!(detail.body["lastChangedAt"], busy_now["lastChangedAt"]);
}
