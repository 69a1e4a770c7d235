//! The upgrade: a WebSocket handshake goes through the app like any other request (routing,
//! middleware, authentication, JSON errors); when its answer is `101` with an accepted socket
//! in it, the socket runs on the upgraded stream itself ([`serve_upgrade`]), so that its frames
//! are not passed through the HTTP/1 dispatcher and a body stream each way.

use std::sync::Arc;

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use bytes::BytesMut;
use futures_util::SinkExt;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::mpsc;
use tracing::Instrument;

use super::frames::Inflow;
use super::socket::Socket;
use crate::config::Settings;
use crate::domain::Caller;
use crate::sync::{Outgoing, SyncHub};

/// A socket accepted by the `/sync` route, carried in its `101 Switching Protocols` answer to the
/// server, which runs it on the upgraded stream once the answer is written ([`serve_upgrade`]).
/// Dropped without running (the stream closed first), it gives its connection back.
pub struct UpgradedSocket {
    socket: Option<(Socket, mpsc::Receiver<Outgoing>)>,
    span: tracing::Span,
}

impl UpgradedSocket {
    /// Accept a socket for `caller`: its connection is registered with the hub now (so it
    /// counts against the account's open connections), and runs once the stream is handed over.
    pub fn accept(hub: &SyncHub, settings: Arc<Settings>, caller: Caller) -> Self {
        let (conn, outbox, queue) = hub.connect(caller.user.id, caller.session_id);
        let span = tracing::info_span!("sync_connection", user.id = %caller.user.id, conn = conn.0);
        let socket = Socket {
            inflow: Inflow::new(settings.max_frame_bytes),
            hub: hub.clone(),
            settings,
            caller,
            conn,
            outbox,
        };
        Self {
            socket: Some((socket, queue)),
            span,
        }
    }

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
            socket.hub.forget_connection(socket.conn);
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
