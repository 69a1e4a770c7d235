//! The WebSocket transport: how a sync connection's bytes reach the sync engine and back. Sits
//! between the routes (which authenticate the handshake) and `sync` (which it hands messages to);
//! knows nothing of the services.
//!
//! - [`server`]: the HTTP server, built so that an upgraded stream goes to its socket.
//! - [`upgrade`]: the handshake's answer written, then the accepted socket run on the stream.
//! - `socket`: one connection's task: reading, routing, writing its outbox, pings, closing.
//! - `frames`: WebSocket frames in (whole messages, fragments joined) and out.

mod frames;
pub mod server;
mod socket;
pub mod upgrade;

pub use server::http_server;
pub use upgrade::{UpgradedSocket, serve_upgrade};
