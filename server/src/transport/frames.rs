//! Frames: whole messages read from the socket's bytes with actix-http's WebSocket codec (the
//! fragments of one message joined, up to the frame limit), and what the connection's outbox
//! queues written out as frames, up to the close frame.

use std::time::Duration;

use actix_http::ws::{self, CloseCode, CloseReason, Codec, Frame, Item, ProtocolError};
use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio_util::codec::{Decoder, Encoder};

use crate::sync::Outgoing;

/// A whole message from the peer.
pub(super) enum Incoming {
    Binary(Bytes),
    /// A text message (or the first fragment of one): Cairn speaks binary only.
    Text,
    Ping(Bytes),
    Pong,
    Close,
}

/// Why the socket's bytes cannot be read on.
pub(super) enum Broken {
    /// A message (a frame, or the fragments of one message together) over the frame limit.
    TooLarge,
    Protocol(ProtocolError),
}

/// Whole messages from the socket's bytes: frames decoded by actix-http's codec, and the
/// fragments of a message joined, up to `max` bytes in all.
pub(super) struct Inflow {
    codec: Codec,
    pub(super) buf: BytesMut,
    fragments: Option<BytesMut>,
    pub(super) max: usize,
}

impl Inflow {
    pub(super) fn new(max: usize) -> Self {
        Self {
            codec: Codec::new().max_size(max),
            buf: BytesMut::new(),
            fragments: None,
            max,
        }
    }

    /// The next whole message, `None` until more bytes arrive.
    pub(super) fn next(&mut self) -> Result<Option<Incoming>, Broken> {
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
pub(super) fn throw_away(queue: &mut mpsc::Receiver<Outgoing>) -> usize {
    let mut bytes = 0;
    while let Ok(outgoing) = queue.try_recv() {
        if let Outgoing::Message(message) = outgoing {
            bytes += message.len();
        }
    }
    bytes
}

/// What the connection's [`crate::sync::Outbox`] queues, as WebSocket frames, until the close frame.
pub(super) struct Outflow {
    codec: Codec,
    buf: BytesMut,
    /// The close frame is written: nothing more is.
    pub(super) done: bool,
    /// A write was given up half-way (the connection was too slow): nothing more is written.
    pub(super) abandoned: bool,
    /// Bytes of queued messages framed into `buf` (the outbox counts them until written).
    framed: usize,
}

/// RFC 6455: a control frame carries at most 125 bytes; a close frame's reason, after its
/// 2-byte code, at most 123.
const MAX_CONTROL_PAYLOAD: usize = 125;

impl Outflow {
    pub(super) fn new() -> Self {
        Self {
            codec: Codec::new(),
            buf: BytesMut::new(),
            done: false,
            abandoned: false,
            framed: 0,
        }
    }

    /// The bytes of queued messages framed since the last call (written or thrown away since).
    pub(super) fn take_written(&mut self) -> usize {
        std::mem::take(&mut self.framed)
    }

    /// Give up a write half-way: the stream may end inside a frame, so nothing more is written.
    pub(super) fn abandon(&mut self) {
        self.abandoned = true;
        self.buf = BytesMut::new();
    }

    /// Frame `first` and whatever else is queued now, up to a close frame.
    pub(super) fn take(&mut self, first: Outgoing, queue: &mut mpsc::Receiver<Outgoing>) {
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
    pub(super) async fn write_to<T: AsyncWrite + Unpin>(
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
