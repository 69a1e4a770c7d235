//! `GET /sync`: the automerge-repo WebSocket. Authenticates before the upgrade (a bad token gets
//! 401 and no socket), then hands the socket's messages to the sync hub. Pings every few seconds
//! and drops sockets that stay silent.
//!
//! The handshake is an ordinary request through the app; the server then hands the upgraded
//! stream to the connection's task ([`serve_upgrade`]), which reads and writes its frames with
//! actix-http's WebSocket codec. What goes out is queued in the connection's [`Outbox`], which
//! the task writes to the stream.

use std::collections::HashSet;
use std::num::NonZeroU32;
use std::time::{Duration, Instant};

use actix_http::ws::{self, CloseCode, CloseReason, Codec, Frame, Item, ProtocolError};
use actix_web::http::StatusCode;
use actix_web::http::header::AUTHORIZATION;
use actix_web::{HttpRequest, HttpResponse, web};
use bytes::{Bytes, BytesMut};
use cairn_shared::ErrorCode;
use cairn_shared::protocol::Message;
use futures_util::SinkExt;
use serde::Deserialize;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio_util::codec::{Decoder, Encoder};
use tracing::Instrument;

use crate::domain::Caller;
use crate::error::AppError;
use crate::services::{Services, accounts};
use crate::sync::core::connection::{Action, Connection, Limits};
use crate::sync::core::document::ConnId;
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
    let span = tracing::info_span!("sync_connection", user.id = %caller.user.id, conn = conn.0);
    let socket = Socket {
        inflow: Inflow::new(services.settings.max_frame_bytes),
        services: services.into_inner(),
        caller,
        conn,
        outbox,
    };
    let mut response = HttpResponse::from(response.finish()).map_into_boxed_body();
    // The server hands the upgraded stream to the socket (see `UpgradedSocket`).
    response.extensions_mut().insert(UpgradedSocket {
        socket: Some((socket, queue)),
        span,
    });
    Ok(response)
}

/// A socket accepted by [`upgrade`], carried in its `101 Switching Protocols` answer to the
/// server, which runs it on the upgraded stream once the answer is written ([`serve_upgrade`]).
/// Dropped without running (the stream closed first), it gives its connection back.
pub struct UpgradedSocket {
    socket: Option<(Socket, mpsc::Receiver<Outgoing>)>,
    span: tracing::Span,
}

impl UpgradedSocket {
    async fn run<T: AsyncRead + AsyncWrite + Unpin>(mut self, io: T, read: BytesMut) {
        if let Some((socket, queue)) = self.socket.take() {
            // Boxed, like the app's future in `serve_upgrade`: the connection's task is sized
            // for its largest state, and every HTTP connection's task would take this room.
            Box::pin(socket.run(io, read, queue).instrument(self.span.clone())).await;
        }
    }
}

impl Drop for UpgradedSocket {
    fn drop(&mut self) {
        if let Some((socket, _)) = self.socket.take() {
            socket.services.hub.forget_connection(socket.conn);
        }
    }
}

/// The server's handling of an HTTP/1 upgrade request (every WebSocket handshake, whatever its
/// path): the request goes through the app like any other (routing, middleware, authentication,
/// JSON errors), its answer is written to the stream, and when the answer is `101` with a
/// socket in it, the socket runs on the stream itself. Frames are then read and written by the
/// socket's task alone, not passed through the HTTP/1 dispatcher and a body stream each way.
pub async fn serve_upgrade<T, S, B>(
    app: &S,
    req: actix_http::Request,
    mut framed: actix_codec::Framed<T, actix_http::h1::Codec>,
) -> Result<(), actix_web::Error>
where
    T: AsyncRead + AsyncWrite + Unpin,
    S: actix_service::Service<
            actix_http::Request,
            Response = actix_web::dev::ServiceResponse<B>,
            Error = actix_web::Error,
        >,
    B: actix_web::body::MessageBody + 'static,
{
    // Boxed: the app's future is large, and held inline it would take that room in every
    // open socket's task for the socket's whole life.
    let response: HttpResponse = match Box::pin(app.call(req)).await {
        Ok(response) => response.map_into_boxed_body().into_parts().1,
        Err(err) => err.error_response(),
    };
    let mut response: actix_http::Response<actix_web::body::BoxBody> = response.into();
    let socket = if response.status() == StatusCode::SWITCHING_PROTOCOLS {
        response.extensions_mut().remove::<UpgradedSocket>()
    } else {
        None
    };
    let Some(socket) = socket else {
        // Any other answer is the last on this connection.
        response
            .head_mut()
            .set_connection_type(actix_http::ConnectionType::Close);
        let (head, body) = response.into_parts();
        let body = actix_web::body::to_bytes(body).await.unwrap_or_default();
        framed
            .send(actix_http::h1::Message::Item((
                head,
                actix_web::body::BodySize::Sized(body.len() as u64),
            )))
            .await?;
        if !body.is_empty() {
            framed
                .send(actix_http::h1::Message::Chunk(Some(body)))
                .await?;
        }
        framed.send(actix_http::h1::Message::Chunk(None)).await?;
        return Ok(());
    };
    let (head, _) = response.into_parts();
    framed
        .send(actix_http::h1::Message::Item((
            head,
            actix_web::body::BodySize::None,
        )))
        .await?;
    // The HTTP codec and its write buffer are dropped here, not held for the socket's life.
    let actix_codec::FramedParts { io, read_buf, .. } = framed.into_parts();
    socket.run(io, read_buf).await;
    Ok(())
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
}

/// Room made in the read buffer before each read: enough for an everyday sync message in one
/// read, little for a connection that sits idle (larger messages take several reads).
const READ_ROOM: usize = 1024;

/// How long a closing connection's last bytes from the peer are read and dropped.
const LINGER: Duration = Duration::from_secs(1);

impl Socket {
    async fn run<T: AsyncRead + AsyncWrite + Unpin>(
        mut self,
        mut io: T,
        read: BytesMut,
        mut queue: mpsc::Receiver<Outgoing>,
    ) {
        let services = self.services.clone();
        let hub = services.hub.clone();
        let settings = &services.settings;
        let kind = self.caller.user.kind;
        tracing::info!("sync connection opened");
        let limits = Limits {
            per_second: NonZeroU32::new(settings.max_messages_per_second)
                .unwrap_or(NonZeroU32::MIN),
            max_peer_id_bytes: settings.max_peer_id_bytes,
            max_session_id_bytes: settings.max_presence_session_bytes,
            max_presence_bytes: settings.max_presence_bytes,
            max_presence_sessions: settings.max_presence_sessions_per_connection,
            max_documents: settings.max_plans_per_connection,
        };
        let mut connection = Connection::new(
            self.conn,
            self.caller.clone(),
            hub.server_peer(),
            hub.storage_id(),
            limits,
        );
        let mut plans: HashSet<cairn_shared::PlanId> = HashSet::new();
        let mut ping = tokio::time::interval(Duration::from_secs(settings.ping_interval_secs));
        let timeout = Duration::from_secs(settings.socket_timeout_secs);
        let mut last_heard = Instant::now();
        let mut outflow = Outflow::new();
        // Bytes the client sent right after its handshake, in a buffer of their size (the
        // HTTP reader's own is larger than an idle connection should hold).
        self.inflow.buf = BytesMut::from(&read[..]);
        drop(read);
        // One wait for the connection's whole life, not a new one per frame.
        let closed_token = self.outbox.closed().clone();
        let closed = closed_token.cancelled();
        tokio::pin!(closed);

        let ending: Ending = loop {
            self.inflow.buf.reserve(READ_ROOM);
            tokio::select! {
                read = io.read_buf(&mut self.inflow.buf) => {
                    // The end of the stream or a read error: the peer went away.
                    if !matches!(read, Ok(n) if n > 0) { break None }
                    last_heard = Instant::now();
                    if let Some(ending) = self
                        .take_messages(&hub, &mut connection, &mut plans, kind)
                        .await
                    {
                        break ending;
                    }
                }
                outgoing = queue.recv() => {
                    let Some(outgoing) = outgoing else { break None };
                    outflow.take(outgoing, &mut queue);
                    // A connection dropped as too slow stops writing at once: what it holds is
                    // released now, not when the write times out.
                    let written = tokio::select! {
                        written = outflow.write_to(&mut io, timeout) => Some(written),
                        () = self.outbox.too_slow().cancelled() => None,
                    };
                    self.outbox.sent(outflow.take_written());
                    match written {
                        Some(Ok(())) if !outflow.done => {}
                        Some(_) => break None,
                        None => {
                            outflow.abandon();
                            break Some(self.outbox.close_reason().unwrap_or_else(|| {
                                "this connection reads too slowly".into()
                            }));
                        }
                    }
                }
                _ = ping.tick() => {
                    if last_heard.elapsed() > timeout {
                        tracing::info!("sync connection silent too long: dropped");
                        break None;
                    }
                    // Queued behind what is waiting to go out; a full queue is pinged next time.
                    let _ = self.outbox.try_send_frame(Outgoing::Ping);
                }
                () = &mut closed => {
                    // Closed by the server (account disabled, session ended, shutdown, too slow).
                    break Some(self.outbox.close_reason().unwrap_or_else(|| {
                        "the server closed this connection".into()
                    }));
                }
            }
        };

        let too_slow = self.outbox.too_slow().is_cancelled();
        if too_slow {
            // What waits for a connection that does not read is thrown away now (the queue
            // stays open for the last `error` and close frames).
            self.outbox.sent(throw_away(&mut queue));
        }
        hub.disconnect(self.conn, &plans).await;
        if let Some(reason) = &ending {
            tracing::info!(reason = %reason, "sync connection closed with an error");
            let error = Message::Error {
                message: reason.clone(),
            };
            // Best effort: a connection too far behind to take these is closed all the same.
            let _ = self.outbox.send_last(&error);
        } else {
            tracing::info!("sync connection closed");
        }
        if !outflow.done && !outflow.abandoned {
            let _ = self.outbox.try_send_frame(Outgoing::Close(ending));
            while let Ok(outgoing) = queue.try_recv() {
                outflow.take(outgoing, &mut queue);
            }
            // A slow reader gets a moment for its last frames, not the whole write timeout.
            let within = if too_slow { LINGER } else { timeout };
            let _ = outflow.write_to(&mut io, within).await;
            self.outbox.sent(outflow.take_written());
        }
        queue.close();
        self.outbox.sent(throw_away(&mut queue));
        drop(queue);
        // Close gently: the peer may still be sending, and closing a socket with unread bytes
        // resets the connection, which can throw away the close frame before the peer reads it.
        // So stop writing, then read and drop what still arrives, for a moment at most.
        // (Over TLS the shutdown writes too: a peer that does not read gets a moment, no more.)
        let _ = tokio::time::timeout(LINGER, io.shutdown()).await;
        let _ = tokio::time::timeout(LINGER, async {
            let mut sink = [0u8; 4096];
            while matches!(io.read(&mut sink).await, Ok(n) if n > 0) {}
        })
        .await;
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
                    // This task writes the queue out itself, so it must not wait for room in it.
                    let _ = self.outbox.try_send_frame(Outgoing::Pong(bytes));
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

/// Throw away what waits in the queue; the bytes of the messages thrown away.
fn throw_away(queue: &mut mpsc::Receiver<Outgoing>) -> usize {
    let mut bytes = 0;
    while let Ok(outgoing) = queue.try_recv() {
        if let Outgoing::Message(message) = outgoing {
            bytes += message.len();
        }
    }
    bytes
}

/// What the connection's [`Outbox`] queues, as WebSocket frames, until the close frame.
struct Outflow {
    codec: Codec,
    buf: BytesMut,
    /// The close frame is written: nothing more is.
    done: bool,
    /// A write was given up half-way (the connection was too slow): nothing more is written.
    abandoned: bool,
    /// Bytes of queued messages framed into `buf` (the outbox counts them until written).
    framed: usize,
}

/// RFC 6455: a control frame carries at most 125 bytes; a close frame's reason, after its
/// 2-byte code, at most 123.
const MAX_CONTROL_PAYLOAD: usize = 125;

impl Outflow {
    fn new() -> Self {
        Self {
            codec: Codec::new(),
            buf: BytesMut::new(),
            done: false,
            abandoned: false,
            framed: 0,
        }
    }

    /// The bytes of queued messages framed since the last call (written or thrown away since).
    fn take_written(&mut self) -> usize {
        std::mem::take(&mut self.framed)
    }

    /// Give up a write half-way: the stream may end inside a frame, so nothing more is written.
    fn abandon(&mut self) {
        self.abandoned = true;
        self.buf = BytesMut::new();
    }

    /// Frame `first` and whatever else is queued now, up to a close frame.
    fn take(&mut self, first: Outgoing, queue: &mut mpsc::Receiver<Outgoing>) {
        self.frame(first);
        while !self.done {
            match queue.try_recv() {
                Ok(outgoing) => self.frame(outgoing),
                Err(_) => break,
            }
        }
        if self.done {
            // Nothing is sent after the close frame.
            queue.close();
        }
    }

    fn frame(&mut self, outgoing: Outgoing) {
        if let Outgoing::Message(bytes) = &outgoing {
            // Counted as sent whether framed or thrown away after the close frame.
            self.framed += bytes.len();
        }
        if self.done {
            return;
        }
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
        let _ = self.codec.encode(message, &mut self.buf);
    }

    /// Write the framed bytes, within `within` (a peer that stops reading is dropped).
    async fn write_to<T: AsyncWrite + Unpin>(
        &mut self,
        io: &mut T,
        within: Duration,
    ) -> Result<(), ()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let written = tokio::time::timeout(within, async {
            io.write_all(&self.buf).await?;
            io.flush().await
        })
        .await;
        // Hold no buffer while the socket is idle.
        self.buf = BytesMut::new();
        match written {
            Ok(Ok(())) => Ok(()),
            _ => Err(()),
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
