//! What a plan's worker is asked to do (its mailbox's [`Command`]s), how it answers, and why an
//! HTTP call of the hub failed ([`HubError`]).

use automerge::{Automerge, ChangeHash};
use cairn_shared::UserId;
use tokio::sync::oneshot;

use super::core::document::{Input, UploadError};
use super::outbox::Outbox;

/// Why an HTTP sync call failed.
#[derive(Debug, thiserror::Error)]
pub enum HubError {
    /// Not a member, or no such plan.
    #[error("plan not found")]
    NotFound,
    /// The upload was refused.
    #[error(transparent)]
    Upload(#[from] UploadError),
    /// The plan could not be loaded or stored.
    #[error("the plan could not be loaded or stored")]
    Unavailable,
}

pub(super) type UploadReply = oneshot::Sender<Result<Vec<ChangeHash>, HubError>>;
pub(super) type ChangesReply = oneshot::Sender<(Vec<u8>, Vec<ChangeHash>)>;
/// A REST read of a plan, run by the plan's worker on the document it holds: called with the
/// document for a member, with an error when the plan could not be loaded, and dropped uncalled
/// for anyone else ("not found").
pub(super) type Reader = Box<dyn FnOnce(Result<&Automerge, HubError>) + Send>;

/// A message for a plan's worker, from the hub or from the fan-out across instances.
pub(super) enum Command {
    /// A protocol message from a connection (with its outbox), or news for the document.
    Input(Input, Option<Outbox>),
    /// Changes uploaded over HTTP by `user`: applied, stored, answered with the plan's heads.
    Upload {
        user: UserId,
        bytes: Vec<u8>,
        reply: UploadReply,
    },
    /// The changes `user` lacks, given the heads it has (an HTTP read).
    Changes {
        user: UserId,
        since: Vec<ChangeHash>,
        reply: ChangesReply,
    },
    /// A REST read (the plan as JSON, an export, its history) of the document held here.
    Read { user: UserId, read: Reader },
    /// Another instance stored something for the plan: read it.
    CatchUp,
}

/// Answer a command the worker will never apply (the plan could not be loaded, or the worker is
/// stopping): a connection is closed with `reason`, an HTTP call gets "unavailable".
pub(super) fn fail_command(command: Command, reason: &str) {
    match command {
        Command::Input(_, Some(outbox)) => {
            outbox.close(reason);
        }
        Command::Upload { reply, .. } => {
            let _ = reply.send(Err(HubError::Unavailable));
        }
        Command::Read { read, .. } => read(Err(HubError::Unavailable)),
        _ => {}
    }
}
