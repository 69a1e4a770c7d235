//! The sans-IO sync core: protocol messages and sync data go in, messages to send, changes to
//! store and plans to create come out, so authorization, authorship and convergence are tested
//! in memory, deterministically.
//!
//! The rule of this layer: no sockets, no database, no clock, no tokio, no actix. It imports
//! nothing from `crate::store`, `crate::services` or `crate::routes`; only `crate::domain`,
//! `cairn_shared` and automerge, with small crates that do no I/O (foldhash, leb128, flate2 on
//! bytes in memory, thiserror, uuid, tracing for log lines). The hub and workers in [`super`]
//! do the I/O around it. One exception: a connection's rate limiter (`governor`) reads the
//! monotonic clock itself, rather than being told the time with each frame.
//!
//! - [`document`]: one plan's sync: members, authorship, size limits, offline creation, presence.
//! - `shortcut`: the everyday exchange (one fresh change, an acknowledgement) without
//!   automerge's general sync machinery, with the same results.
//! - [`changes`]: what a sync message or a document carries: storage chunks, the changes in
//!   them, what a document lacks of them, and whether a peer has anything to hear.
//! - [`connection`]: one socket's protocol state: handshake, checks on every frame, routing.
//! - `upload`: whether an HTTP upload is well-formed Automerge chunks.
//! - [`document_ops`]: how many operations a whole-document chunk holds, read without loading it.

pub mod changes;
pub mod connection;
pub mod document;
pub mod document_ops;
mod shortcut;
mod upload;

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;
