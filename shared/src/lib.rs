//! `cairn-shared`: the contract between Cairn and its clients.
//!
//! Everything a client can see on the wire is defined here: identifiers, REST request and
//! response types, stable error codes and the plan document skeleton. This crate has no web
//! framework, database or async runtime in it, so clients, tests and generators can use it freely.

pub mod api;
pub mod changes_in_words;
pub mod conflicts;
pub mod error;
pub mod ids;
pub mod plan;
pub mod protocol;

pub use error::{ErrorBody, ErrorCode, ErrorDetail};
pub use ids::{DocumentId, IdError, PlanId, SessionId, UserId};
