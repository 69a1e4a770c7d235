//! The benchmarks' side of the automerge-repo protocol (v1, through `cairn_shared::protocol`):
//! a WebSocket to a sync server (Cairn's `/sync` or the reference server), the `join`/`peer`
//! handshake, and the messages that carry one document's sync.

use std::time::Duration;

use anyhow::{Context, bail};
use cairn_shared::protocol::{self, Message, PeerId, PeerMetadata};
use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message as Frame;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// A WebSocket to a sync server.
pub type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Open a WebSocket to `url` (`ws://…/sync?token=…` on Cairn, `ws://…/` on the reference).
pub async fn open(url: &str) -> anyhow::Result<Socket> {
    // Small frames go out at once, as from a browser or Node's `ws` (automerge-repo's clients):
    // with Nagle's algorithm an edit could wait for the server's delayed acknowledgement.
    let (socket, _) = tokio_tungstenite::connect_async_with_config(url, None, true)
        .await
        .context("connect")?;
    Ok(socket)
}

/// Say `join` as the ephemeral peer `peer` and wait up to `wait` for the server's `peer`
/// answer: the server's peer id. Anything else first (an `error`, a close) is a refusal.
pub async fn handshake(
    socket: &mut Socket,
    peer: &PeerId,
    wait: Duration,
) -> anyhow::Result<PeerId> {
    let join = Message::Join {
        sender_id: peer.clone(),
        peer_metadata: PeerMetadata {
            storage_id: None,
            is_ephemeral: true,
        },
        supported_protocol_versions: vec!["1".into()],
    };
    send(socket, &join).await?;
    loop {
        match tokio::time::timeout(wait, socket.next())
            .await
            .context("no answer to join")?
        {
            Some(Ok(Frame::Binary(bytes))) => match protocol::decode(&bytes) {
                Ok(Message::Peer { sender_id, .. }) => return Ok(sender_id),
                other => bail!("join refused: {other:?}"),
            },
            Some(Ok(Frame::Ping(_) | Frame::Pong(_))) => {}
            other => bail!("no handshake: {other:?}"),
        }
    }
}

/// Send one protocol message as a binary frame.
pub async fn send<S>(sink: &mut S, message: &Message) -> anyhow::Result<()>
where
    S: futures_util::Sink<Frame, Error = tokio_tungstenite::tungstenite::Error> + Unpin,
{
    sink.send(Frame::Binary(protocol::encode(message).into()))
        .await?;
    Ok(())
}

/// The message that carries a sync message (`data`) for `document_id` from `peer` to `server`:
/// a `request` when the peer asks for a document it lacks, else a `sync`.
pub fn sync_message(
    peer: &PeerId,
    server: &PeerId,
    document_id: &str,
    data: Vec<u8>,
    as_request: bool,
) -> Message {
    let (sender_id, target_id, document_id) =
        (peer.clone(), server.clone(), document_id.to_owned());
    if as_request {
        Message::Request {
            sender_id,
            target_id,
            document_id,
            data,
        }
    } else {
        Message::Sync {
            sender_id,
            target_id,
            document_id,
            data,
        }
    }
}
