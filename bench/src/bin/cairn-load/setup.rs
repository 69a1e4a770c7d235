//! Setting up the load: accounts, plans and invitations over Cairn's REST API (the reference
//! server has none: its plans are made on the device), the pairs' editors connected and synced,
//! and the `--touch` plans, each synced once by a connection that then leaves.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::bail;
use automerge::transaction::Transactable;
use automerge::{AutoCommit, ROOT};
use cairn_shared::PlanId;
use futures_util::SinkExt;
use serde_json::{Value as Json, json};

use crate::editor::{Editor, connect, now_ms, sync_until_quiet};
use crate::{Args, ServerKind};

/// Register an account on Cairn and return its access token.
pub async fn register(
    http: &reqwest::Client,
    base: &str,
    username: &str,
    display_name: &str,
) -> anyhow::Result<String> {
    let answer = post(
        http,
        format!("{base}/api/v1/auth/register"),
        None,
        json!({
            "username": username,
            "displayName": display_name,
            "password": "load test password",
        }),
    )
    .await?;
    Ok(answer["accessToken"]
        .as_str()
        .unwrap_or_default()
        .to_owned())
}

/// Register a one-off account named after what it is for (`name`) and return its access token.
pub async fn register_one_off(
    http: &reqwest::Client,
    base: &str,
    name: &str,
) -> anyhow::Result<String> {
    let username = format!("{name}-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    register(http, base, &username, name).await
}

async fn post(
    http: &reqwest::Client,
    url: String,
    token: Option<&str>,
    body: Json,
) -> anyhow::Result<Json> {
    let mut request = http.post(&url).json(&body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await?;
    let status = response.status();
    let body: Json = response.json().await.unwrap_or(Json::Null);
    if !status.is_success() {
        bail!("POST {url}: {status} {body}");
    }
    Ok(body)
}

/// Touch `--touch` plans: each is synced once by its own connection, which then closes.
pub async fn touch_plans(
    args: &Args,
    http: &reqwest::Client,
    deadline: Instant,
) -> anyhow::Result<()> {
    use futures_util::stream::{self, TryStreamExt};
    let base = args.url.trim_end_matches('/');
    let ws_base = base.replacen("http", "ws", 1);
    let token = match args.server {
        ServerKind::Cairn => Some(register_one_off(http, base, "toucher").await?),
        ServerKind::Reference => None,
    };
    let token = token.as_deref();
    let ws_base = ws_base.as_str();
    stream::iter((0..args.touch).map(Ok::<usize, anyhow::Error>))
        .try_for_each_concurrent(8, |index| async move {
            if Instant::now() > deadline {
                bail!("the deadline passed while touching plans");
            }
            let (url, document_id, doc) = match token {
                Some(token) => {
                    let plan = post(
                        http,
                        format!("{base}/api/v1/plans"),
                        Some(token),
                        json!({"title": format!("Touched {index}")}),
                    )
                    .await?;
                    (
                        format!("{ws_base}/sync?token={token}"),
                        plan["documentId"].as_str().unwrap_or_default().to_owned(),
                        AutoCommit::new(),
                    )
                }
                None => {
                    // The same plan document Cairn's REST creation makes, made on the device.
                    let doc = cairn_shared::plan::new_plan_document(
                        automerge::ActorId::random(),
                        &format!("Touched {index}"),
                    )?;
                    (
                        format!("{ws_base}/"),
                        PlanId::new_random().document_id().to_string(),
                        doc,
                    )
                }
            };
            let label = format!("t{index}");
            // A server may turn away a connection when many arrive at once: try again, twice.
            let mut attempt = 0;
            let editor = loop {
                attempt += 1;
                match connect(&url, &label, &label, &document_id, doc.clone()).await {
                    Ok(editor) => break editor,
                    Err(err) if attempt < 3 => {
                        eprintln!("touch {index}: {err:#}; trying again");
                        tokio::time::sleep(Duration::from_millis(200)).await;
                    }
                    Err(err) => return Err(err),
                }
            };
            sync_until_quiet(&editor, token.is_some()).await?;
            // The person opened their plan to note how the day went: one edit, synced.
            {
                let mut guard = editor.doc.lock().await;
                guard.0.put(ROOT, "lastCheckIn", now_ms())?;
                guard.0.commit();
            }
            sync_until_quiet(&editor, false).await?;
            editor.sink.lock().await.close().await?;
            Ok(())
        })
        .await
}

/// Pair `index`: a person and their supporter on a plan of their own, both connected and synced.
pub async fn set_up_pair(
    args: &Args,
    http: &reqwest::Client,
    index: usize,
) -> anyhow::Result<(Arc<Editor>, Arc<Editor>)> {
    let base = args.url.trim_end_matches('/');
    let ws_base = base.replacen("http", "ws", 1);
    let run = uuid::Uuid::new_v4().simple().to_string();
    let (person_url, supporter_url, document_id) = match args.server {
        ServerKind::Cairn => {
            let mut tokens = Vec::new();
            for role in ["p", "s"] {
                tokens.push(
                    register(
                        http,
                        base,
                        &format!("load-{role}{index}-{}", &run[..8]),
                        &format!("Load {role}{index}"),
                    )
                    .await?,
                );
            }
            let plan = post(
                http,
                format!("{base}/api/v1/plans"),
                Some(&tokens[0]),
                json!({"title": "Load"}),
            )
            .await?;
            let id = plan["id"].as_str().unwrap_or_default();
            let invitation = post(
                http,
                format!("{base}/api/v1/plans/{id}/invitations"),
                Some(&tokens[0]),
                json!({}),
            )
            .await?;
            let code = invitation["code"].as_str().unwrap_or_default();
            post(
                http,
                format!("{base}/api/v1/invitations/{code}/accept"),
                Some(&tokens[1]),
                json!({}),
            )
            .await?;
            let partner_base = args
                .partner_url
                .as_deref()
                .unwrap_or(base)
                .trim_end_matches('/')
                .replacen("http", "ws", 1);
            (
                format!("{ws_base}/sync?token={}", tokens[0]),
                format!("{partner_base}/sync?token={}", tokens[1]),
                plan["documentId"].as_str().unwrap_or_default().to_owned(),
            )
        }
        ServerKind::Reference => (
            format!("{ws_base}/"),
            format!("{ws_base}/"),
            PlanId::new_random().document_id().to_string(),
        ),
    };
    let person_label = format!("p{index}");
    let supporter_label = format!("s{index}");
    let mut first = AutoCommit::new();
    if args.server == ServerKind::Reference {
        // No server-made skeleton here: the person's device makes the document.
        first.put(ROOT, "title", "Load")?;
        first.commit();
    }
    let person = connect(
        &person_url,
        &person_label,
        &supporter_label,
        &document_id,
        first,
    )
    .await?;
    sync_until_quiet(&person, args.server == ServerKind::Cairn).await?;
    let supporter = connect(
        &supporter_url,
        &supporter_label,
        &person_label,
        &document_id,
        AutoCommit::new(),
    )
    .await?;
    sync_until_quiet(&supporter, true).await?;
    Ok((person, supporter))
}
