//! `/sync` with a second, independent automerge-repo implementation: the `samod` crate (pinned
//! in the workspace), dialling Cairn over a plain tokio-tungstenite WebSocket.

use std::convert::Infallible;
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};

// samod's documents are the newer automerge's; Cairn's code reads them from their saved bytes.
use automerge_latest::transaction::Transactable;
use automerge_latest::{Automerge, AutomergeError, ROOT, ReadDoc};
use cairn_shared::plan::read_title;
use cairn_tests::sync_client::WAIT;
use cairn_tests::{Session, TestApp};
use futures_util::future::{BoxFuture, ready};
use futures_util::{FutureExt, SinkExt, StreamExt};
use samod::{
    AutomergeUrl, BackoffConfig, DialError, Dialer, DialerHandle, DocHandle, DocumentId, Repo,
    Transport,
};
use serde_json::json;
use tokio_tungstenite::tungstenite::{self, Message as Frame};

/// Dials Cairn's `/sync` with an access token in the query, as a browser would, and hands samod
/// the binary frames as byte vectors.
struct CairnDialer {
    ws_url: String,
}

impl Dialer for CairnDialer {
    type Error = Infallible;

    fn url(&self) -> samod::Url {
        // Only for samod's logs: leave the token out.
        let mut url = samod::Url::parse(&self.ws_url).expect("a valid ws:// URL");
        url.set_query(None);
        url
    }

    fn connect(&self) -> BoxFuture<'static, Result<Transport, DialError<Infallible>>> {
        let ws_url = self.ws_url.clone();
        async move {
            let (socket, _) = tokio_tungstenite::connect_async(ws_url.as_str())
                .await
                .map_err(DialError::transient)?;
            let (frames_out, frames_in) = socket.split();
            // Binary frames are protocol messages; pings, pongs and the close frame are the
            // WebSocket's own business (tungstenite answers pings while the stream is read).
            let inbound = frames_in.filter_map(|frame| {
                ready(match frame {
                    Ok(Frame::Binary(bytes)) => Some(Ok(bytes.to_vec())),
                    Ok(_) => None,
                    Err(err) => Some(Err(err)),
                })
            });
            let outbound = frames_out.with(|bytes: Vec<u8>| {
                ready(Ok::<_, tungstenite::Error>(Frame::Binary(bytes.into())))
            });
            Ok(Transport::new(inbound, outbound))
        }
        .boxed()
    }
}

/// A fresh in-memory samod repo connected to Cairn as `session`.
async fn samod_repo(app: &TestApp, session: &Session) -> (Repo, DialerHandle<Infallible>) {
    let repo = Repo::build_tokio().load().await;
    let backoff = BackoffConfig {
        initial_delay: Duration::from_millis(50),
        max_delay: Duration::from_millis(500),
        max_retries: Some(3),
    };
    let dialer = repo
        .dial(
            backoff,
            Arc::new(CairnDialer {
                ws_url: app.ws_url(session.token()),
            }),
        )
        .expect("repo is running");
    let peer = tokio::time::timeout(WAIT, dialer.established())
        .await
        .expect("samod connects to Cairn in time")
        .expect("samod completes the handshake with Cairn");
    assert!(
        peer.peer_id.as_str().starts_with("cairn-"),
        "Cairn's peer id: {}",
        peer.peer_id
    );
    assert!(peer.storage_id.is_some(), "Cairn announces a storage id");
    (repo, dialer)
}

async fn find(repo: &Repo, document: &DocumentId) -> Option<DocHandle> {
    tokio::time::timeout(WAIT, repo.find(document.clone()))
        .await
        .expect("samod's find resolves in time")
        .expect("repo is running")
}

fn put(handle: &DocHandle, key: &str, value: &str) {
    handle
        .with_document(|doc: &mut Automerge| {
            doc.transact::<_, _, AutomergeError>(|tx| tx.put(ROOT, key, value))
                .map(|_| ())
                .map_err(|failure| failure.error)
        })
        .expect("local edit");
}

fn note(handle: &DocHandle, key: &str) -> Option<String> {
    handle.with_document(|doc| match doc.get(ROOT, key).ok().flatten() {
        Some((automerge_latest::Value::Scalar(s), _)) => s.as_str().map(str::to_owned),
        _ => None,
    })
}

/// Poll the samod document until `key` appears (samod applies sync messages in the background).
async fn wait_for_note(handle: &DocHandle, key: &str) -> Option<String> {
    let deadline = Instant::now() + WAIT;
    loop {
        if let Some(value) = note(handle, key) {
            return Some(value);
        }
        if Instant::now() > deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn shut_down(repo: Repo, dialer: DialerHandle<Infallible>) {
    dialer.close();
    tokio::time::timeout(WAIT, repo.stop())
        .await
        .expect("samod stops in time");
}

/// Cairn notices that the samod repos hung up.
async fn wait_for_no_connections(app: &TestApp) {
    let deadline = Instant::now() + WAIT;
    while app.hub.open_connections() > 0 {
        assert!(
            Instant::now() < deadline,
            "Cairn still holds {} sync connections",
            app.hub.open_connections()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn samod_repos_sync_a_rest_created_plan_through_cairn() {
    let app = TestApp::spawn().await;
    let maria = app.register("maria").await;
    let sam = app.register("sam").await;
    let created = app
        .post(
            "/api/v1/plans",
            maria.token(),
            json!({ "title": "Back to the allotment" }),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let plan = created.body["id"].as_str().expect("id").to_owned();
    let document = DocumentId::from_str(created.body["documentId"].as_str().expect("documentId"))
        .expect("Cairn's document id is one samod understands");
    let url = AutomergeUrl::from_str(created.body["url"].as_str().expect("url"))
        .expect("Cairn's automerge: URL is one samod understands");
    assert_eq!(url.document_id(), &document);
    app.add_supporter(&maria, &plan, &sam).await;

    // The owner's samod repo finds the plan and reads the server's schema-v1 skeleton.
    let (maria_repo, maria_dialer) = samod_repo(&app, &maria).await;
    let maria_doc = find(&maria_repo, &document)
        .await
        .expect("the owner finds her plan");
    assert_eq!(
        maria_doc.with_document(|doc| read_title(
            &automerge::Automerge::load(&doc.save()).expect("loads")
        )),
        "Back to the allotment"
    );

    // The supporter's separate samod repo (its own peer id, socket and account) finds it too.
    let (sam_repo, sam_dialer) = samod_repo(&app, &sam).await;
    assert_ne!(maria_repo.peer_id(), sam_repo.peer_id());
    let sam_doc = find(&sam_repo, &document)
        .await
        .expect("the supporter finds the plan");
    assert_eq!(
        sam_doc.with_document(|doc| read_title(
            &automerge::Automerge::load(&doc.save()).expect("loads")
        )),
        "Back to the allotment"
    );

    // Edits flow both ways live, through Cairn.
    put(&maria_doc, "fromMaria", "Ask about a plot in spring");
    assert_eq!(
        wait_for_note(&sam_doc, "fromMaria").await.as_deref(),
        Some("Ask about a plot in spring"),
        "the supporter sees the owner's samod edit"
    );
    put(&sam_doc, "fromSam", "I'll bring the seed catalogue");
    assert_eq!(
        wait_for_note(&maria_doc, "fromSam").await.as_deref(),
        Some("I'll bring the seed catalogue"),
        "the owner's samod repo sees the supporter's edit"
    );

    // Cairn stored both (it persists before advertising heads) and attributes each to its author.
    let detail = app
        .get(&format!("/api/v1/plans/{plan}"), maria.token())
        .await;
    assert_eq!(detail.status, 200, "{}", detail.body);
    assert_eq!(detail.body["title"], "Back to the allotment");
    assert_eq!(
        detail.body["document"]["fromMaria"],
        "Ask about a plot in spring"
    );
    assert_eq!(
        detail.body["document"]["fromSam"],
        "I'll bring the seed catalogue"
    );
    let history = app
        .get(&format!("/api/v1/plans/{plan}/history"), sam.token())
        .await;
    assert_eq!(history.status, 200, "{}", history.body);
    let authors: Vec<(&str, &str)> = history
        .body
        .as_array()
        .map(|entries| {
            entries
                .iter()
                .map(|e| {
                    (
                        e["authorName"].as_str().unwrap_or_default(),
                        e["authorId"].as_str().unwrap_or_default(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let maria_id = maria.user_id().to_string();
    let sam_id = sam.user_id().to_string();
    assert_eq!(
        authors,
        [
            ("Maria", maria_id.as_str()),
            ("Maria", maria_id.as_str()),
            ("Sam", sam_id.as_str())
        ],
        "skeleton, Maria's samod edit, Sam's samod edit: {}",
        history.body
    );

    // Both repos agree with the server on the final heads.
    let maria_heads = maria_doc.with_document(|doc| doc.get_heads());
    let deadline = Instant::now() + WAIT;
    while sam_doc.with_document(|doc| doc.get_heads()) != maria_heads {
        assert!(Instant::now() < deadline, "the repos converge");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    shut_down(sam_repo, sam_dialer).await;
    shut_down(maria_repo, maria_dialer).await;
    wait_for_no_connections(&app).await;
}

#[tokio::test]
async fn a_samod_repo_of_a_non_member_finds_nothing_quickly() {
    let app = TestApp::spawn().await;
    let maria = app.register("maria").await;
    let stranger = app.register("stranger").await;
    let created = app
        .post(
            "/api/v1/plans",
            maria.token(),
            json!({ "title": "Private words" }),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let document = DocumentId::from_str(created.body["documentId"].as_str().expect("documentId"))
        .expect("document id");

    let (repo, dialer) = samod_repo(&app, &stranger).await;
    let started = Instant::now();
    let found = find(&repo, &document).await;
    let took = started.elapsed();
    assert!(found.is_none(), "a non-member must not get the plan");
    assert!(took < Duration::from_secs(1), "took {took:?}");
    // The connection survives the refusal: samod did not have to reconnect.
    assert!(dialer.is_connected());
    shut_down(repo, dialer).await;
    wait_for_no_connections(&app).await;

    let plan = app.get("/api/v1/plans", maria.token()).await;
    assert_eq!(plan.body[0]["title"], "Private words");
}
