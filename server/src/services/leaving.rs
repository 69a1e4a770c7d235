//! Leaving Cairn: a person deletes their own account. First they see what goes
//! ([`preview`]); then, confirmed by their password or a passkey, [`delete_account`] deletes every plan they
//! own (crypto-shredded and tombstoned, its members' devices told at once), ends their
//! supporter memberships (as leaving a plan does), ends every device session and sync
//! connection, and leaves the account as a tombstone: its id stays so history and other
//! people's access logs stay attributed to it, shown as "a former member", never to anyone new.
//!
//! The username is freed (replaced on the tombstone by one no one can register): no other person
//! ever sees a username (members, history, access logs and exports name accounts by id and
//! display name), so a new account with the same username gets a new id and is never taken for
//! the departed one; and a username is personal data a deleted account should not keep.

use std::net::IpAddr;

use cairn_shared::api::{
    AccountKind, DeleteAccountRequest, LeavingPreview, OwnedPlanLeaving, PasskeyConfirmation,
    PlanRole, SupportedPlanLeaving,
};
use chrono::Utc;
use secrecy::SecretString;
use tracing::instrument;

use super::Services;
use super::passkeys::{self, PasskeyError};
use super::plans::{self, PlanError};
use crate::auth::limits::RateLimited;
use crate::auth::password::{PasswordError, verify_password};
use crate::domain::{AccessEvent, Caller};
use crate::store::{Leaving, Notice, Store, StoreError};

/// Why leaving was refused.
#[derive(Debug, thiserror::Error)]
pub enum LeavingError {
    /// The request does not say how the person confirms.
    #[error("{0}")]
    InvalidInput(String),
    /// The confirmation password is wrong. Nothing changed.
    #[error("wrong password")]
    WrongPassword,
    /// The passkey's answer did not confirm it (another account's, replayed, expired). Nothing
    /// changed.
    #[error("the passkey did not confirm it; try again")]
    PasskeyRefused,
    /// Starting or checking the passkey confirmation failed.
    #[error(transparent)]
    Passkey(#[from] PasskeyError),
    /// Too many wrong passwords (the login limits).
    #[error(transparent)]
    RateLimited(#[from] RateLimited),
    /// The caller is the only enabled admin account. Nothing changed.
    #[error("you are the only admin of this server; make another admin first, then leave")]
    SoleAdmin,
    /// The account is already deleted (two requests at once).
    #[error("this account has been deleted")]
    Gone,
    /// Deleting or leaving one of the plans failed (the account is deleted already).
    #[error(transparent)]
    Plan(#[from] PlanError),
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Hashing failed.
    #[error(transparent)]
    Password(#[from] PasswordError),
}

/// The longest password checked (the registration limit); longer is wrong without hashing.
const MAX_PASSWORD_BYTES: usize = 1024;

/// The caller's plans with their role (none for an admin, who has no plans).
async fn plans_of(
    services: &Services,
    caller: &Caller,
) -> Result<Vec<cairn_shared::api::PlanSummary>, PlanError> {
    match caller.user.kind {
        AccountKind::Admin => Ok(Vec::new()),
        AccountKind::Member => plans::list_plans(services, caller).await,
    }
}

/// What deleting the caller's account would delete or end.
#[instrument(skip_all, fields(user.id = %caller.user.id))]
pub async fn preview(services: &Services, caller: &Caller) -> Result<LeavingPreview, LeavingError> {
    let mut owned_plans = Vec::new();
    let mut supported_plans = Vec::new();
    for plan in plans_of(services, caller).await? {
        match plan.role {
            PlanRole::Owner => owned_plans.push(OwnedPlanLeaving {
                id: plan.id,
                supporters: plan
                    .members
                    .iter()
                    .filter(|m| m.role == PlanRole::Supporter)
                    .count() as u64,
                title: plan.title,
            }),
            PlanRole::Supporter => supported_plans.push(SupportedPlanLeaving {
                id: plan.id,
                owner_name: plan
                    .members
                    .iter()
                    .find(|m| m.role == PlanRole::Owner)
                    .map(|m| m.display_name.clone())
                    .unwrap_or_default(),
                title: plan.title,
            }),
        }
    }
    let device_sessions = services
        .store
        .active_sessions(caller.user.id, Utc::now())
        .await?
        .len() as u64;
    Ok(LeavingPreview {
        owned_plans,
        supported_plans,
        device_sessions,
    })
}

/// Check the person's confirmation: their password or one of their passkeys (exactly one),
/// limited as logins are (per account and per address); a right one does not count against them.
async fn confirm(
    services: &Services,
    caller: &Caller,
    request: DeleteAccountRequest,
    address: Option<IpAddr>,
) -> Result<(), LeavingError> {
    let confirmation = match (request.password, request.passkey) {
        (Some(password), None) => Confirmation::Password(password),
        (None, Some(passkey)) => Confirmation::Passkey(passkey),
        (None, None) => {
            return Err(LeavingError::InvalidInput(
                "confirm deleting the account with your password or a passkey".into(),
            ));
        }
        (Some(_), Some(_)) => {
            return Err(LeavingError::InvalidInput(
                "confirm with your password or a passkey, not both".into(),
            ));
        }
    };
    let attempt = services
        .limits
        .login(&caller.user.username, address)
        .map_err(|limited| services.refused(limited))?;
    match confirmation {
        Confirmation::Password(password) => {
            let matches = if password.is_empty() || password.len() > MAX_PASSWORD_BYTES {
                false
            } else {
                services.metrics.password_hashes.inc();
                verify_password(
                    SecretString::from(password),
                    Some(caller.user.password_hash.clone()),
                )
                .await?
            };
            if !matches {
                tracing::info!("account deletion refused: wrong password");
                return Err(LeavingError::WrongPassword);
            }
        }
        Confirmation::Passkey(passkey) => {
            match passkeys::confirm(services, caller, passkey).await {
                Ok(()) => {}
                Err(PasskeyError::InvalidCredentials) => {
                    tracing::info!("account deletion refused: the passkey did not confirm it");
                    return Err(LeavingError::PasskeyRefused);
                }
                Err(err) => return Err(err.into()),
            }
        }
    }
    services.limits.signed_in(attempt);
    Ok(())
}

/// How the person confirms.
enum Confirmation {
    Password(String),
    Passkey(PasskeyConfirmation),
}

/// Delete the caller's account, confirmed by their password or a passkey. The account is closed first (a
/// tombstone, every session ended, every sync connection closed), so no device of theirs can
/// add a plan while their plans go; then each plan they own is deleted as an owner deletes it,
/// and they leave each plan they support as a supporter leaves it.
#[instrument(skip_all, fields(user.id = %caller.user.id))]
pub async fn delete_account(
    services: &Services,
    caller: &Caller,
    request: DeleteAccountRequest,
    address: Option<IpAddr>,
) -> Result<(), LeavingError> {
    confirm(services, caller, request, address).await?;
    let now = Utc::now();
    match services.store.close_account(caller.user.id, now).await? {
        Leaving::Closed => {
            // So a restore from an older backup closes it again (its plans are listed too, as
            // each is deleted below).
            let ledger = services.settings.deletion_ledger_path();
            let deleted = crate::ledger::Deleted::Account(caller.user.id);
            let _ = crate::ledger::record_async(&ledger, deleted, now).await;
        }
        Leaving::SoleAdmin => {
            tracing::info!("account deletion refused: sole admin");
            return Err(LeavingError::SoleAdmin);
        }
        Leaving::Gone => return Err(LeavingError::Gone),
    }
    services
        .hub
        .close_account(caller.user.id, "this account has been deleted");
    tracing::info!("account deleted: sessions ended, personal data wiped");
    // Every plan is attempted; the first failure is answered (and each is logged).
    let mut failed = None;
    for plan in plans_of(services, caller).await? {
        let done = match plan.role {
            PlanRole::Owner => plans::delete_plan(services, caller, plan.id).await,
            PlanRole::Supporter => {
                plans::remove_member(services, caller, plan.id, caller.user.id).await
            }
        };
        match done {
            Ok(()) | Err(PlanError::NotFound | PlanError::MemberNotFound) => {}
            Err(err) => {
                tracing::error!(plan.id = %plan.id, error = %err, "a departing account's plan could not be deleted or left");
                failed.get_or_insert(err);
            }
        }
    }
    match failed {
        None => Ok(()),
        Some(err) => Err(err.into()),
    }
}

/// At start-up, before any connection: finish what a departure left undone (Cairn stopped after
/// closing an account but before all its plans were deleted or left). Plans a deleted account
/// owns are deleted as a deletion does (shredded, tombstoned); its supporter memberships end,
/// logged as its leaving. Returns how many memberships were ended.
pub async fn finish_departures(store: &Store) -> Result<usize, StoreError> {
    let now = Utc::now();
    let left = store.departed_memberships().await?;
    for &(plan, user, role) in &left {
        match role {
            PlanRole::Owner => {
                store.delete_plan(plan, now).await?;
            }
            PlanRole::Supporter => {
                if store.remove_supporter(plan, user).await? {
                    let record = AccessEvent::Left.by(user, None, now);
                    store.insert_accesses(plan, &[record]).await?;
                }
            }
        }
        // Instances already running on the same Postgres may hold the plan or its member's
        // connections: they look at it again (catching up drops a deleted plan or a member).
        if let Err(err) = store.publish(Notice::Plan { plan }).await {
            tracing::warn!(plan.id = %plan, error = %err, "could not tell the other instances");
        }
        tracing::info!(plan.id = %plan, user.id = %user, "a departed account's plan deleted or left");
    }
    Ok(left.len())
}
