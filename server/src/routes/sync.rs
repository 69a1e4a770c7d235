//! `GET /sync`: the automerge-repo WebSocket. Authenticates before the upgrade (a bad token gets
//! 401 and no socket), then hands the socket's messages to the sync hub. Pings every few seconds
//! and drops sockets that stay silent.
//!
//! Frames are read and written with actix-http's WebSocket codec. What goes out is queued in
//! the connection's [`Outbox`], which the response body reads: a worker's message to a member
//! goes straight to the socket, without a stop at the connection's task.

use std::collections::HashSet;
use std::convert::Infallible;
use std::num::NonZeroU32;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use actix_http::ws::{self, CloseCode, CloseReason, Codec, Frame, Item, ProtocolError};
use actix_web::body::{BodyStream, MessageBody};
use actix_web::http::StatusCode;
use actix_web::http::header::AUTHORIZATION;
use actix_web::{HttpRequest, HttpResponse, web};
use bytes::{Bytes, BytesMut};
use cairn_shared::ErrorCode;
use cairn_shared::protocol::Message;
use futures_util::{Stream, StreamExt};
use serde::Deserialize;
use tokio::sync::mpsc;
use tokio_util::codec::{Decoder, Encoder};
use tokio_util::sync::{CancellationToken, DropGuard};
use tracing::Instrument;

use crate::error::AppError;
use crate::services::{Caller, Services, accounts};
use crate::sync::connection::{Action, Connection};
use crate::sync::document::ConnId;
use crate::sync::{Outbox, Outgoing, SyncHub};

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
    let mut response = ws::handshake(req.head())
        .map_err(|err| AppError::bad_request(format!("not a WebSocket upgrade: {err}")))?;
    let (conn, outbox, queue) = services.hub.connect(caller.user.id, caller.session_id);
    // The body is dropped when the socket closes, whoever closed it: the connection's task
    // then stops too.
    let gone = CancellationToken::new();
    let outflow = Outflow {
        queue,
        codec: Codec::new(),
        done: false,
        _gone: gone.clone().drop_guard(),
    };
    let response = match response.message_body(BodyStream::new(outflow).boxed()) {
        Ok(response) => HttpResponse::from(response),
        Err(err) => {
            services.hub.disconnect(conn, &HashSet::new()).await;
            return Err(AppError::bad_request(format!(
                "not a WebSocket upgrade: {err}"
            )));
        }
    };
    let services = services.into_inner();
    let span = tracing::info_span!("sync_connection", user.id = %caller.user.id, conn = conn.0);
    let socket = Socket {
        inflow: Inflow::new(services.settings.max_frame_bytes),
        services,
        caller,
        conn,
        outbox,
        gone,
    };
    actix_web::rt::spawn(socket.run(body).instrument(span));
    Ok(response)
}

/// How a connection ends: quietly (`None`), or with an `error` message saying why.
type Ending = Option<String>;

/// One connection's task: reads the socket, answers the handshake and pings, and routes sync
/// messages to their plans' workers.
struct Socket {
    services: std::sync::Arc<Services>,
    caller: Caller,
    conn: ConnId,
    outbox: Outbox,
    inflow: Inflow,
    /// Cancelled when the socket's response body is dropped (the connection is gone).
    gone: CancellationToken,
}

impl Socket {
    async fn run(mut self, mut payload: web::Payload) {
        let services = self.services.clone();
        let hub = services.hub.clone();
        let settings = &services.settings;
        let kind = self.caller.user.kind;
        tracing::info!("sync connection opened");
        let per_second =
            NonZeroU32::new(settings.max_messages_per_second).unwrap_or(NonZeroU32::MIN);
        let mut connection = Connection::new(
            self.conn,
            self.caller.clone(),
            hub.server_peer(),
            hub.storage_id(),
            per_second,
        );
        let mut plans: HashSet<cairn_shared::PlanId> = HashSet::new();
        let mut ping = tokio::time::interval(Duration::from_secs(settings.ping_interval_secs));
        let timeout = Duration::from_secs(settings.socket_timeout_secs);
        let mut last_heard = Instant::now();
        // One wait for each for the connection's whole life, not a new one per frame.
        let closed_token = self.outbox.closed().clone();
        let gone_token = self.gone.clone();
        let closed = closed_token.cancelled();
        let gone = gone_token.cancelled();
        tokio::pin!(closed, gone);

        let ending: Ending = loop {
            tokio::select! {
                chunk = payload.next() => {
                    // The end of the stream or a read error: the peer went away.
                    let Some(Ok(chunk)) = chunk else { break None };
                    last_heard = Instant::now();
                    self.inflow.extend(&chunk);
                    if let Some(ending) = self
                        .take_messages(&hub, &mut connection, &mut plans, kind)
                        .await
                    {
                        break ending;
                    }
                }
                _ = ping.tick() => {
                    if last_heard.elapsed() > timeout {
                        tracing::info!("sync connection silent too long: dropped");
                        break None;
                    }
                    if self.outbox.send_frame(Outgoing::Ping).await.is_err() { break None }
                }
                () = &mut closed => {
                    // Closed by the server (account disabled, session ended, shutdown, too slow).
                    break Some(self.outbox.close_reason().unwrap_or_else(|| {
                        "the server closed this connection".into()
                    }));
                }
                () = &mut gone => break None,
            }
        };

        hub.disconnect(self.conn, &plans).await;
        if let Some(reason) = &ending {
            tracing::info!(reason = %reason, "sync connection closed with an error");
            let error = Message::Error {
                message: reason.clone(),
            };
            // Best effort: a connection too far behind to take these is closed all the same
            // once its queue is dropped.
            let _ = self.outbox.send(&error);
        } else {
            tracing::info!("sync connection closed");
        }
        let _ = self.outbox.try_send_frame(Outgoing::Close(ending));
    }

    /// Handle every whole message read so far; `Some` when the connection must end.
    async fn take_messages(
        &mut self,
        hub: &SyncHub,
        connection: &mut Connection,
        plans: &mut HashSet<cairn_shared::PlanId>,
        kind: cairn_shared::api::AccountKind,
    ) -> Option<Ending> {
        loop {
            let incoming = match self.inflow.next() {
                Ok(Some(incoming)) => incoming,
                Ok(None) => return None,
                Err(Broken::TooLarge) => {
                    return Some(Some(format!(
                        "message too large: the limit is {} bytes",
                        self.inflow.max
                    )));
                }
                Err(Broken::Protocol(err)) => {
                    return Some(Some(format!("WebSocket protocol error: {err}")));
                }
            };
            match incoming {
                Incoming::Binary(bytes) => match connection.on_frame(&bytes) {
                    Action::Reply(message) => {
                        if self.outbox.send(&message).is_err() {
                            return Some(None);
                        }
                    }
                    Action::Route(plan, input) => {
                        plans.insert(plan);
                        hub.route(plan, input, &self.outbox, kind).await;
                    }
                    Action::Fail(reason) => return Some(Some(reason)),
                    Action::Leave => return Some(None),
                    Action::Ignore => {}
                },
                Incoming::Text => {
                    return Some(Some("this server speaks binary CBOR frames only".into()));
                }
                Incoming::Ping(bytes) => {
                    if self.outbox.send_frame(Outgoing::Pong(bytes)).await.is_err() {
                        return Some(None);
                    }
                }
                Incoming::Pong => {}
                Incoming::Close => return Some(None),
            }
        }
    }
}

/// A whole message from the peer.
enum Incoming {
    Binary(Bytes),
    /// A text message (or the first fragment of one): Cairn speaks binary only.
    Text,
    Ping(Bytes),
    Pong,
    Close,
}

/// Why the socket's bytes cannot be read on.
enum Broken {
    /// A message (a frame, or the fragments of one message together) over the frame limit.
    TooLarge,
    Protocol(ProtocolError),
}

/// Whole messages from the socket's bytes: frames decoded by actix-http's codec, and the
/// fragments of a message joined, up to `max` bytes in all.
struct Inflow {
    codec: Codec,
    buf: BytesMut,
    fragments: Option<BytesMut>,
    max: usize,
}

impl Inflow {
    fn new(max: usize) -> Self {
        Self {
            codec: Codec::new().max_size(max),
            buf: BytesMut::new(),
            fragments: None,
            max,
        }
    }

    fn extend(&mut self, chunk: &[u8]) {
        self.buf.extend_from_slice(chunk);
    }

    /// The next whole message, `None` until more bytes arrive.
    fn next(&mut self) -> Result<Option<Incoming>, Broken> {
        loop {
            let frame = match self.codec.decode(&mut self.buf) {
                Ok(Some(frame)) => frame,
                Ok(None) => {
                    if self.buf.is_empty() {
                        // Hold no buffer while the socket is idle.
                        self.buf = BytesMut::new();
                    }
                    return Ok(None);
                }
                Err(ProtocolError::Overflow) => return Err(Broken::TooLarge),
                Err(err) => return Err(Broken::Protocol(err)),
            };
            return Ok(Some(match frame {
                Frame::Binary(bytes) => Incoming::Binary(bytes),
                Frame::Text(_) | Frame::Continuation(Item::FirstText(_)) => Incoming::Text,
                Frame::Ping(bytes) => Incoming::Ping(bytes),
                Frame::Pong(_) => Incoming::Pong,
                Frame::Close(_) => Incoming::Close,
                Frame::Continuation(Item::FirstBinary(bytes)) => {
                    self.fragments = Some(BytesMut::new());
                    self.append(&bytes)?;
                    continue;
                }
                Frame::Continuation(Item::Continue(bytes)) => {
                    self.append(&bytes)?;
                    continue;
                }
                Frame::Continuation(Item::Last(bytes)) => {
                    self.append(&bytes)?;
                    let whole = self.fragments.take().unwrap_or_default();
                    Incoming::Binary(whole.freeze())
                }
            }));
        }
    }

    fn append(&mut self, bytes: &[u8]) -> Result<(), Broken> {
        // The codec only passes on fragments of a message it saw begin.
        let fragments = self.fragments.get_or_insert_with(BytesMut::new);
        if fragments.len() + bytes.len() > self.max {
            self.fragments = None;
            return Err(Broken::TooLarge);
        }
        fragments.extend_from_slice(bytes);
        Ok(())
    }
}

/// The socket's response body: what the connection's [`Outbox`] queues, as WebSocket frames,
/// until the close frame (or until nothing can queue more).
struct Outflow {
    queue: mpsc::Receiver<Outgoing>,
    codec: Codec,
    done: bool,
    _gone: DropGuard,
}

/// RFC 6455: a control frame carries at most 125 bytes; a close frame's reason, after its
/// 2-byte code, at most 123.
const MAX_CONTROL_PAYLOAD: usize = 125;

impl Outflow {
    fn frame(&mut self, outgoing: Outgoing, buf: &mut BytesMut) {
        let message = match outgoing {
            Outgoing::Message(bytes) => ws::Message::Binary(bytes),
            Outgoing::Ping => ws::Message::Ping(Bytes::new()),
            Outgoing::Pong(bytes) => {
                ws::Message::Pong(bytes.slice(..bytes.len().min(MAX_CONTROL_PAYLOAD)))
            }
            Outgoing::Close(reason) => {
                self.done = true;
                ws::Message::Close(reason.map(|reason| CloseReason {
                    code: CloseCode::Policy,
                    description: Some(truncated(reason, MAX_CONTROL_PAYLOAD - 2)),
                }))
            }
        };
        // Encoding a message into a buffer cannot fail.
        let _ = self.codec.encode(message, buf);
    }
}

impl Stream for Outflow {
    type Item = Result<Bytes, Infallible>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        let mut buf = BytesMut::new();
        while !this.done {
            match this.queue.poll_recv(cx) {
                Poll::Ready(Some(outgoing)) => this.frame(outgoing, &mut buf),
                Poll::Ready(None) => this.done = true,
                Poll::Pending => break,
            }
        }
        if this.done {
            // Nothing is sent after the close frame.
            this.queue.close();
        }
        if !buf.is_empty() {
            Poll::Ready(Some(Ok(buf.freeze())))
        } else if this.done {
            Poll::Ready(None)
        } else {
            Poll::Pending
        }
    }
}

/// `text` cut to at most `max` bytes, at a character boundary.
fn truncated(mut text: String, max: usize) -> String {
    if text.len() > max {
        let mut end = max;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
    text
}
