//! Plans and membership. Every member has the same rights on a plan's content; only the owner
//! invites, removes others and deletes. Anyone who is not a member (admins included) learns
//! nothing about a plan: not even that it exists.

use std::collections::HashMap;
use std::net::IpAddr;

use automerge::{ActorId, AutoSerde, Automerge};
use cairn_shared::api::{AccountKind, Invitation, PlanDetail, PlanMember, PlanRole, PlanSummary};
use cairn_shared::plan::{new_plan_document, read_title};
use cairn_shared::{PlanId, UserId};
use chrono::Utc;
use tracing::instrument;

use super::Services;
use super::access_log::{record, record_done};
use crate::auth::limits::RateLimited;
use crate::auth::secrets::{CODE_LENGTH, human_code, normalize_code};
use crate::domain::{
    AccessEvent, Caller, InvitationOutcome, Membership, Plan, PlanTitle, StoredChange,
};
use crate::store::StoreError;
use crate::sync::HubError;

/// Why a plan operation was refused.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    /// No such plan, or the caller is not a member.
    #[error("plan not found")]
    NotFound,
    /// Only the owner may do this.
    #[error("only the plan's owner can do this")]
    OwnerOnly,
    /// Admin accounts cannot own, join or read plans.
    #[error("admin accounts manage accounts; they cannot own, join or read plans")]
    AdminCannotUsePlans,
    /// A field is not acceptable.
    #[error("{0}")]
    InvalidInput(String),
    /// The caller owns as many plans as the server allows.
    #[error("you already have {0} plans, the most this server allows; delete one to start another")]
    PlanLimitReached(u64),
    /// Unknown invitation code.
    #[error("no invitation has this code")]
    InvitationNotFound,
    /// Expired invitation code.
    #[error("this invitation has expired; ask for a new one")]
    InvitationExpired,
    /// Used invitation code.
    #[error("this invitation has already been used")]
    InvitationUsed,
    /// Too many wrong codes from this account or address.
    #[error(transparent)]
    RateLimited(#[from] RateLimited),
    /// The caller is already a member.
    #[error("you are already a member of this plan")]
    AlreadyMember,
    /// The owner tried to leave or be removed.
    #[error("the owner cannot leave their own plan; they can delete it instead")]
    OwnerCannotLeave,
    /// The person is not a supporter of the plan.
    #[error("that person is not a member of this plan")]
    MemberNotFound,
    /// The stored document could not be built or read. Never answered with an empty plan.
    #[error("the plan document could not be loaded: {0}")]
    Document(String),
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

const MAX_TITLE_CHARS: usize = 200;

fn refuse_admins(caller: &Caller) -> Result<(), PlanError> {
    match caller.user.kind {
        AccountKind::Admin => Err(PlanError::AdminCannotUsePlans),
        AccountKind::Member => Ok(()),
    }
}

/// The caller's role on the plan; `NotFound` if they are not a member.
pub(crate) async fn role_on(
    services: &Services,
    caller: &Caller,
    plan: PlanId,
) -> Result<PlanRole, PlanError> {
    let role = services.store.role_of(plan, caller.user.id).await?;
    if role.is_none() {
        tracing::info!(plan.id = %plan, user.id = %caller.user.id, "plan access refused: not a member");
    }
    role.ok_or(PlanError::NotFound)
}

async fn require_owner(
    services: &Services,
    caller: &Caller,
    plan: PlanId,
) -> Result<(), PlanError> {
    match role_on(services, caller, plan).await? {
        PlanRole::Owner => Ok(()),
        PlanRole::Supporter => {
            tracing::warn!(plan.id = %plan, user.id = %caller.user.id, "owner-only action refused for a supporter");
            Err(PlanError::OwnerOnly)
        }
    }
}

fn summary(plan: &Plan, role: PlanRole, members: Vec<Membership>) -> PlanSummary {
    let (title, unavailable) = match &plan.title {
        PlanTitle::Known(title) => (title.clone(), false),
        PlanTitle::NotRecorded => (String::new(), false),
        PlanTitle::Unreadable => (String::new(), true),
    };
    PlanSummary {
        id: plan.id,
        document_id: plan.id.document_id(),
        url: plan.id.automerge_url(),
        title,
        role,
        members: members
            .into_iter()
            .map(|m| PlanMember {
                user_id: m.user_id,
                display_name: m.display_name,
                role: m.role,
                joined_at: m.joined_at,
                disabled: m.disabled,
                actors: Vec::new(),
            })
            .collect(),
        created_at: plan.created_at,
        last_changed_at: plan.last_change.map(|(at, _)| at),
        last_changed_by: plan.last_change.map(|(_, by)| by),
        schema_issue: plan.schema_issue.clone(),
        unavailable,
    }
}

/// Summaries of plans from their rows and members alone: no document is loaded.
async fn summaries(
    services: &Services,
    plans: Vec<(Plan, PlanRole)>,
) -> Result<Vec<PlanSummary>, PlanError> {
    let ids: Vec<PlanId> = plans.iter().map(|(p, _)| p.id).collect();
    let mut members: HashMap<PlanId, Vec<Membership>> = services.store.members_of(&ids).await?;
    Ok(plans
        .into_iter()
        .map(|(plan, role)| {
            let plan_members = members.remove(&plan.id).unwrap_or_default();
            summary(&plan, role, plan_members)
        })
        .collect())
}

async fn one_summary(
    services: &Services,
    caller: &Caller,
    plan_id: PlanId,
) -> Result<PlanSummary, PlanError> {
    let role = role_on(services, caller, plan_id).await?;
    let plan = services
        .store
        .plan(plan_id)
        .await?
        .ok_or(PlanError::NotFound)?;
    summaries(services, vec![(plan, role)])
        .await?
        .pop()
        .ok_or(PlanError::NotFound)
}

/// Read the plan's document as the caller, a member, sees it now: from the document the sync
/// hub holds (loaded once for everyone asking at the same time, under its bound on concurrent
/// loads), never a load of its own per request.
pub(crate) async fn read_document<T: Send + 'static>(
    services: &Services,
    caller: &Caller,
    plan: PlanId,
    read: impl FnOnce(&Automerge) -> T + Send + 'static,
) -> Result<T, PlanError> {
    services
        .hub
        .read(plan, caller.user.id, read)
        .await
        .map_err(|err| match err {
            HubError::NotFound => PlanError::NotFound,
            other => PlanError::Document(other.to_string()),
        })
}

/// Create a plan owned by the caller, with the schema-v1 skeleton as its first change.
#[instrument(skip_all, fields(user.id = %caller.user.id, plan.id))]
pub async fn create_plan(
    services: &Services,
    caller: &Caller,
    title: Option<&str>,
) -> Result<PlanSummary, PlanError> {
    refuse_admins(caller)?;
    let title = title.unwrap_or_default().trim();
    if title.chars().count() > MAX_TITLE_CHARS {
        return Err(PlanError::InvalidInput(format!(
            "title must be at most {MAX_TITLE_CHARS} characters"
        )));
    }
    let plan_id = PlanId::new_random();
    tracing::Span::current().record("plan.id", tracing::field::display(plan_id));
    let actor = ActorId::random();
    let mut document = new_plan_document(actor.clone(), title)
        .map_err(|err| PlanError::Document(err.to_string()))?;
    let change = document
        .get_last_local_change()
        .ok_or_else(|| PlanError::Document("the skeleton produced no change".into()))?;
    let first_change = StoredChange::of(change, caller.user.id);
    let plan = services
        .store
        .insert_plan(plan_id, caller.user.id, &first_change, Utc::now())
        .await
        .map_err(|err| match err {
            // Counted in the transaction that creates the plan, so concurrent creations hold it.
            StoreError::PlanLimitReached => {
                PlanError::PlanLimitReached(services.settings.plans_per_account)
            }
            other => other.into(),
        })?;
    // For the plan list; if this write fails, the plan's worker records it when first loaded.
    if let Err(err) = services
        .store
        .set_title(plan_id, &read_title(&document))
        .await
    {
        tracing::warn!(error = %err, "could not record the new plan's title");
    }
    tracing::info!("plan created");
    record_done(services, caller, plan.id, AccessEvent::PlanCreated).await;
    let members = services
        .store
        .members_of(&[plan.id])
        .await?
        .remove(&plan.id)
        .unwrap_or_default();
    // The skeleton is the plan's first change, stored with the plan (the row was read back
    // before the change was inserted).
    let plan = Plan {
        last_change: Some((plan.created_at, caller.user.id)),
        ..plan
    };
    let mut created = summary(&plan, PlanRole::Owner, members);
    created.title = read_title(&document);
    Ok(created)
}

/// The caller's plans, with their role and every member's display name.
pub async fn list_plans(
    services: &Services,
    caller: &Caller,
) -> Result<Vec<PlanSummary>, PlanError> {
    refuse_admins(caller)?;
    let plans = services.store.plans_of(caller.user.id).await?;
    summaries(services, plans).await
}

/// One plan with its content as plain JSON. The read is in the plan's access log before any
/// content is answered.
pub async fn get_plan(
    services: &Services,
    caller: &Caller,
    plan: PlanId,
) -> Result<PlanDetail, PlanError> {
    let mut summary = one_summary(services, caller, plan).await?;
    let (title, document) = read_document(services, caller, plan, |document| {
        (
            read_title(document),
            serde_json::to_value(AutoSerde::from(document)),
        )
    })
    .await?;
    let document = document.map_err(|err| PlanError::Document(err.to_string()))?;
    // The title as the document holds it this moment (the recorded one may lag a change).
    summary.title = title;
    summary.unavailable = false;
    record(services, caller, plan, AccessEvent::PlanRead).await?;
    Ok(PlanDetail { summary, document })
}

/// Delete a plan and everything stored for it (owner only).
#[instrument(skip_all, fields(user.id = %caller.user.id, plan.id = %plan))]
pub async fn delete_plan(
    services: &Services,
    caller: &Caller,
    plan: PlanId,
) -> Result<(), PlanError> {
    require_owner(services, caller, plan).await?;
    let now = Utc::now();
    if !services.store.delete_plan(plan, now).await? {
        return Err(PlanError::NotFound);
    }
    // So a restore from an older backup deletes it again (a failure is logged there; the plan
    // is deleted all the same).
    let ledger = services.settings.deletion_ledger_path();
    let _ = crate::ledger::record_async(&ledger, crate::ledger::Deleted::Plan(plan), now).await;
    services.hub.plan_deleted(plan).await;
    tracing::info!("plan deleted");
    Ok(())
}

/// Create a single-use invitation code to the plan (owner only).
#[instrument(skip_all, fields(user.id = %caller.user.id, plan.id = %plan))]
pub async fn invite(
    services: &Services,
    caller: &Caller,
    plan: PlanId,
) -> Result<Invitation, PlanError> {
    require_owner(services, caller, plan).await?;
    let now = Utc::now();
    let expires_at = now + chrono::Duration::minutes(services.settings.invitation_ttl_minutes);
    let code = human_code(CODE_LENGTH);
    services
        .store
        .insert_invitation(
            plan,
            &services.codes.hash(&normalize_code(&code)),
            caller.user.id,
            now,
            expires_at,
        )
        .await?;
    tracing::info!("invitation created");
    record_done(services, caller, plan, AccessEvent::Invited).await;
    Ok(Invitation {
        code,
        plan_id: plan,
        expires_at,
    })
}

/// Join a plan as a supporter with an invitation code. Guesses are limited per account and
/// per client address; a code that works does not count.
#[instrument(skip_all, fields(user.id = %caller.user.id, plan.id))]
pub async fn accept_invitation(
    services: &Services,
    caller: &Caller,
    code: &str,
    address: Option<IpAddr>,
) -> Result<PlanSummary, PlanError> {
    refuse_admins(caller)?;
    let attempt = services
        .limits
        .code(Some(caller.user.id), address)
        .map_err(|limited| services.refused(limited))?;
    let code = normalize_code(code);
    if code.is_empty() || code.len() > 64 {
        return Err(PlanError::InvitationNotFound);
    }
    let outcome = services
        .store
        .accept_invitation(
            &services.codes.lookup_hashes(&code),
            caller.user.id,
            Utc::now(),
        )
        .await?;
    if let InvitationOutcome::Joined(_) = outcome {
        services.limits.code_worked(attempt);
    }
    let plan = match outcome {
        InvitationOutcome::Joined(plan) => plan,
        InvitationOutcome::NotFound => return Err(PlanError::InvitationNotFound),
        InvitationOutcome::Expired => return Err(PlanError::InvitationExpired),
        InvitationOutcome::Used => return Err(PlanError::InvitationUsed),
        InvitationOutcome::AlreadyMember(_) => return Err(PlanError::AlreadyMember),
    };
    tracing::Span::current().record("plan.id", tracing::field::display(plan));
    services.hub.member_added(plan, caller.user.id).await;
    tracing::info!("supporter joined");
    record_done(services, caller, plan, AccessEvent::Joined).await;
    one_summary(services, caller, plan).await
}

/// Everyone who can read and edit the plan.
pub async fn members(
    services: &Services,
    caller: &Caller,
    plan: PlanId,
) -> Result<Vec<PlanMember>, PlanError> {
    let mut members = one_summary(services, caller, plan).await?.members;
    let actors = services.store.actor_bindings(plan).await?;
    for member in &mut members {
        member.actors = actors
            .iter()
            .filter(|(_, user)| **user == member.user_id)
            .map(|(actor, _)| actor.clone())
            .collect();
        member.actors.sort();
    }
    Ok(members)
}

/// Remove a member: the owner may remove any supporter; a supporter may remove only themself.
#[instrument(skip_all, fields(user.id = %caller.user.id, plan.id = %plan, member.id = %member))]
pub async fn remove_member(
    services: &Services,
    caller: &Caller,
    plan: PlanId,
    member: UserId,
) -> Result<(), PlanError> {
    let role = role_on(services, caller, plan).await?;
    let removing_self = member == caller.user.id;
    match (role, removing_self) {
        (PlanRole::Owner, true) => return Err(PlanError::OwnerCannotLeave),
        (PlanRole::Supporter, false) => {
            tracing::warn!("supporter tried to remove another member");
            return Err(PlanError::OwnerOnly);
        }
        _ => {}
    }
    if !services.store.remove_supporter(plan, member).await? {
        return Err(PlanError::MemberNotFound);
    }
    services.hub.member_removed(plan, member).await;
    tracing::info!(left = removing_self, "member removed");
    let event = if removing_self {
        AccessEvent::Left
    } else {
        AccessEvent::Removed { member }
    };
    record_done(services, caller, plan, event).await;
    Ok(())
}
