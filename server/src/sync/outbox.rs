//! What goes out on one connection: its bounded queue of frames (by count and by bytes), and the
//! request to close it. Workers queue protocol messages here directly and never wait; the
//! connection's task in `crate::transport` writes the queue to the socket.

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;
use cairn_shared::protocol::Message;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::{gauge_value, lock};

/// How many messages may wait for a slow connection before it is dropped.
pub const OUTBOX_CAPACITY: usize = 512;

/// What goes out on one connection, in order. Workers put protocol messages here directly; the
/// connection's task writes the queue to the socket.
#[derive(Debug)]
pub enum Outgoing {
    /// A protocol message, CBOR-encoded.
    Message(Bytes),
    /// A ping (the connection's task checks the peer is still there).
    Ping,
    /// The answer to the peer's ping.
    Pong(Bytes),
    /// The last frame: close, with this reason (`None`: a normal close).
    Close(Option<String>),
}

/// The way to one connection: its outgoing queue, and the request to close it.
///
/// The queue is bounded twice: by messages ([`OUTBOX_CAPACITY`]) and by bytes. A message counts
/// from when it is queued until the connection's task has written it to the socket, so bytes
/// held in the task's write buffer count too. A connection past either bound is hopelessly slow:
/// it is dropped at once (an interrupted write included), and its queue with it.
#[derive(Debug, Clone)]
pub struct Outbox {
    frames: mpsc::Sender<Outgoing>,
    closing: Arc<Closing>,
}

#[derive(Debug)]
struct Closing {
    /// Why the server closes the connection (the first reason given wins).
    reason: Mutex<Option<String>>,
    /// Cancelled when the connection must close.
    token: CancellationToken,
    /// Cancelled when the connection is dropped as too slow: its task stops writing at once.
    too_slow: CancellationToken,
    /// Bytes of messages queued or being written.
    queued: AtomicUsize,
    /// The most bytes that may wait (one message into an empty queue is always taken).
    limit: usize,
    /// Every connection's waiting bytes (a metric).
    total: prometheus::IntGauge,
}

/// A connection that is gone, or so far behind that it is dropped.
#[derive(Debug)]
pub struct Gone;

impl Outbox {
    /// A new connection's outbox, and the queue its socket sends from. `token` is cancelled
    /// when the connection must close; more than `limit` bytes waiting drops it as too slow;
    /// `total` counts the bytes waiting on every connection.
    pub fn new(
        token: CancellationToken,
        limit: usize,
        total: prometheus::IntGauge,
    ) -> (Self, mpsc::Receiver<Outgoing>) {
        let (frames, queue) = mpsc::channel(OUTBOX_CAPACITY);
        let closing = Arc::new(Closing {
            reason: Mutex::new(None),
            token,
            too_slow: CancellationToken::new(),
            queued: AtomicUsize::new(0),
            limit,
            total,
        });
        (Self { frames, closing }, queue)
    }

    /// Queue a protocol message; [`Gone`] when the connection closed or is too far behind (it
    /// is then dropped as too slow).
    pub fn send(&self, message: &Message) -> Result<(), Gone> {
        self.queue(cairn_shared::protocol::encode(message).into(), true)
    }

    /// Queue the `error` message that ends the connection, past the byte bound (it is small).
    pub fn send_last(&self, message: &Message) -> Result<(), Gone> {
        self.queue(cairn_shared::protocol::encode(message).into(), false)
    }

    fn queue(&self, frame: Bytes, bounded: bool) -> Result<(), Gone> {
        let closing = &self.closing;
        let len = frame.len();
        let before = closing.queued.fetch_add(len, Ordering::AcqRel);
        if bounded && before > 0 && before.saturating_add(len) > closing.limit {
            closing.queued.fetch_sub(len, Ordering::AcqRel);
            self.drop_too_slow(&format!(
                "this connection reads too slowly: more than {} bytes waited to be sent",
                closing.limit
            ));
            return Err(Gone);
        }
        closing.total.add(gauge_value(len));
        match self.frames.try_send(Outgoing::Message(frame)) {
            Ok(()) => Ok(()),
            Err(err) => {
                self.sent(len);
                if matches!(err, mpsc::error::TrySendError::Full(_)) && bounded {
                    self.drop_too_slow(&format!(
                        "this connection reads too slowly: more than {OUTBOX_CAPACITY} messages waited to be sent"
                    ));
                }
                Err(Gone)
            }
        }
    }

    fn drop_too_slow(&self, reason: &str) {
        self.close(reason);
        self.closing.too_slow.cancel();
    }

    /// The connection's task wrote (or threw away) `bytes` of queued messages.
    pub fn sent(&self, bytes: usize) {
        if bytes > 0 {
            self.closing.queued.fetch_sub(bytes, Ordering::AcqRel);
            self.closing.total.sub(gauge_value(bytes));
        }
    }

    /// Cancelled when the connection is dropped as too slow.
    pub fn too_slow(&self) -> &CancellationToken {
        &self.closing.too_slow
    }

    /// Queue a frame if there is room. Never waits: the connection's own task is the one that
    /// empties the queue, and no worker waits for one slow connection.
    pub fn try_send_frame(&self, frame: Outgoing) -> Result<(), Gone> {
        self.frames.try_send(frame).map_err(|_| Gone)
    }

    /// Ask the connection to send an `error` message with `reason` and close.
    pub fn close(&self, reason: &str) {
        lock(&self.closing.reason).get_or_insert_with(|| reason.to_owned());
        self.closing.token.cancel();
    }

    /// Cancelled when the connection must close.
    pub fn closed(&self) -> &CancellationToken {
        &self.closing.token
    }

    /// Why the server closes the connection, if it gave a reason.
    pub fn close_reason(&self) -> Option<String> {
        lock(&self.closing.reason).clone()
    }
}
