//! One connection's task: reads the socket, answers pings, hands each protocol message to the
//! sync core's connection state and routes what it accepts to the plans' workers, writes the
//! connection's outbox to the socket, and drops sockets that stay silent or read too slowly.

use std::collections::HashSet;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use cairn_shared::protocol::Message;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;

use super::frames::{Broken, Incoming, Inflow, Outflow, throw_away};
use crate::config::Settings;
use crate::domain::Caller;
use crate::sync::core::connection::{Action, Connection, Limits};
use crate::sync::core::document::ConnId;
use crate::sync::{Outbox, Outgoing, SyncHub};

/// How a connection ends: quietly (`None`), or with an `error` message saying why.
type Ending = Option<String>;

/// One connection's task: reads the socket, answers the handshake and pings, and routes sync
/// messages to their plans' workers.
pub(super) struct Socket {
    pub(super) hub: SyncHub,
    pub(super) settings: Arc<Settings>,
    pub(super) caller: Caller,
    pub(super) conn: ConnId,
    pub(super) outbox: Outbox,
    pub(super) inflow: Inflow,
}

/// Room made in the read buffer before each read: enough for an everyday sync message in one
/// read, little for a connection that sits idle (larger messages take several reads).
const READ_ROOM: usize = 1024;

/// How long a closing connection's last bytes from the peer are read and dropped.
const LINGER: Duration = Duration::from_secs(1);

impl Socket {
    pub(super) async fn run<T: AsyncRead + AsyncWrite + Unpin>(
        mut self,
        mut io: T,
        read: BytesMut,
        mut queue: mpsc::Receiver<Outgoing>,
    ) {
        let hub = self.hub.clone();
        let settings = self.settings.clone();
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
