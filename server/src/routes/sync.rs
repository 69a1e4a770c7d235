//! `GET /sync`: the automerge-repo WebSocket. Authenticates before the upgrade (a bad token gets
//! 401 and no socket), then shuttles frames between the socket and the sync hub. Pings every few
//! seconds and drops sockets that stay silent.

use std::collections::HashSet;
use std::num::NonZeroU32;
use std::time::{Duration, Instant};

use actix_web::http::StatusCode;
use actix_web::http::header::AUTHORIZATION;
use actix_web::{HttpRequest, HttpResponse, web};
use actix_ws::{AggregatedMessage, CloseCode, CloseReason, Session};
use cairn_shared::ErrorCode;
use cairn_shared::protocol::{self, Message};
use futures_util::StreamExt;
use serde::Deserialize;
use tokio::sync::mpsc;
use tracing::Instrument;

use crate::error::AppError;
use crate::services::{Caller, Services, accounts};
use crate::sync::connection::{Action, Connection};
use crate::sync::{OUTBOX_CAPACITY, Outbound};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/sync").route(web::get().to(upgrade)));
}

#[derive(Debug, Deserialize)]
struct TokenQuery {
    token: Option<String>,
}

async fn upgrade(
    req: HttpRequest,
    body: web::Payload,
    services: web::Data<Services>,
    query: web::Query<TokenQuery>,
) -> Result<HttpResponse, AppError> {
    let header_token = req
        .headers()
        .get(AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim().to_owned());
    let Some(token) = header_token.or_else(|| query.into_inner().token) else {
        tracing::info!("sync refused: no token");
        return Err(AppError::new(
            StatusCode::UNAUTHORIZED,
            ErrorCode::Unauthenticated,
            "send an access token as ?token= or 'Authorization: Bearer'",
        ));
    };
    let caller = match accounts::authenticate(&services, &token).await {
        Ok(caller) => caller,
        Err(err) => {
            tracing::info!("sync refused: invalid token");
            return Err(err.into());
        }
    };
    let limit = services.settings.max_connections_per_account;
    if services.hub.connections_of(caller.user.id) >= limit {
        tracing::info!(user.id = %caller.user.id, "sync refused: too many open connections");
        return Err(AppError::new(
            StatusCode::TOO_MANY_REQUESTS,
            ErrorCode::RateLimited,
            format!("this account already has {limit} open sync connections; close one first"),
        ));
    }
    let (response, session, stream) = actix_ws::handle(&req, body)
        .map_err(|err| AppError::bad_request(format!("not a WebSocket upgrade: {err}")))?;
    let max = services.settings.max_frame_bytes;
    let stream = stream
        .max_frame_size(max)
        .aggregate_continuations()
        .max_continuation_size(max);
    let services = services.into_inner();
    let span = tracing::info_span!("sync_connection", user.id = %caller.user.id, conn = tracing::field::Empty);
    actix_web::rt::spawn(run(services, caller, session, stream).instrument(span));
    Ok(response)
}

async fn run(
    services: std::sync::Arc<Services>,
    caller: Caller,
    mut session: Session,
    mut stream: actix_ws::AggregatedMessageStream,
) {
    let hub = services.hub.clone();
    let settings = &services.settings;
    let (outbox, mut inbox) = mpsc::channel::<Outbound>(OUTBOX_CAPACITY);
    let (conn, cancel) = hub.connect(caller.user.id, caller.session_id, outbox.clone());
    let kind = caller.user.kind;
    tracing::Span::current().record("conn", conn.0);
    tracing::info!("sync connection opened");
    let per_second = NonZeroU32::new(settings.max_messages_per_second).unwrap_or(NonZeroU32::MIN);
    let mut connection = Connection::new(
        conn,
        caller,
        hub.server_peer(),
        hub.storage_id(),
        per_second,
    );
    let mut plans: HashSet<cairn_shared::PlanId> = HashSet::new();
    let mut ping = tokio::time::interval(Duration::from_secs(settings.ping_interval_secs));
    let timeout = Duration::from_secs(settings.socket_timeout_secs);
    let mut last_heard = Instant::now();

    // One wait for cancellation for the connection's whole life, not a new one per frame.
    let cancelled = cancel.cancelled();
    tokio::pin!(cancelled);
    let close_reason: Option<String> = loop {
        tokio::select! {
            frame = stream.next() => {
                let Some(frame) = frame else { break None };
                last_heard = Instant::now();
                match frame {
                    Ok(AggregatedMessage::Binary(bytes)) => match connection.on_frame(&bytes) {
                        Action::Reply(message) => {
                            if session.binary(protocol::encode(&message)).await.is_err() { break None }
                        }
                        Action::Route(plan, input) => {
                            plans.insert(plan);
                            hub.route(plan, input, &outbox, kind).await;
                        }
                        Action::Fail(reason) => break Some(reason),
                        Action::Leave => break None,
                        Action::Ignore => {}
                    },
                    Ok(AggregatedMessage::Text(_)) => {
                        break Some("this server speaks binary CBOR frames only".into())
                    }
                    Ok(AggregatedMessage::Ping(bytes)) => {
                        if session.pong(&bytes).await.is_err() { break None }
                    }
                    Ok(AggregatedMessage::Pong(_)) => {}
                    Ok(AggregatedMessage::Close(_)) => break None,
                    // The peer went away mid-frame: nothing to tell it.
                    Err(actix_ws::ProtocolError::Io(_)) => break None,
                    Err(actix_ws::ProtocolError::Overflow) => break Some(format!(
                        "message too large: the limit is {} bytes", settings.max_frame_bytes
                    )),
                    Err(other) => break Some(format!("WebSocket protocol error: {other}")),
                }
            }
            outbound = inbox.recv() => match outbound {
                Some(Outbound::Message(message)) => {
                    if session.binary(protocol::encode(&message)).await.is_err() { break None }
                }
                Some(Outbound::Close(reason)) => break Some(reason),
                None => break None,
            },
            _ = ping.tick() => {
                if last_heard.elapsed() > timeout {
                    tracing::info!("sync connection silent too long: dropped");
                    break None;
                }
                if session.ping(b"").await.is_err() { break None }
            }
            () = &mut cancelled => {
                // Closed by the server (account disabled, session ended, shutdown, too slow).
                let reason = match inbox.try_recv() {
                    Ok(Outbound::Close(reason)) => reason,
                    _ => "the server closed this connection".into(),
                };
                break Some(reason);
            }
        }
    };

    hub.disconnect(conn, &plans).await;
    match close_reason {
        Some(reason) => {
            tracing::info!(reason = %reason, "sync connection closed with an error");
            let error = Message::Error {
                message: reason.clone(),
            };
            let _ = session.binary(protocol::encode(&error)).await;
            let _ = session
                .close(Some(CloseReason {
                    code: CloseCode::Policy,
                    description: Some(reason),
                }))
                .await;
        }
        None => {
            tracing::info!("sync connection closed");
            let _ = session.close(None).await;
        }
    }
}
