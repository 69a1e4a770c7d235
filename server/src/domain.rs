//! Plain records the services work with, free of database and web types.

use cairn_shared::api::{AccessKind, Account, AccountKind, PlanRole};
use cairn_shared::{PlanId, SessionId, UserId};
use chrono::{DateTime, Utc};

/// A stored account.
#[derive(Debug, Clone)]
pub struct User {
    /// Account id.
    pub id: UserId,
    /// Lower-case login name.
    pub username: String,
    /// Name shown to other members.
    pub display_name: String,
    /// argon2id PHC string.
    pub password_hash: String,
    /// Member or admin.
    pub kind: AccountKind,
    /// Set when an admin disabled the account.
    pub disabled_at: Option<DateTime<Utc>>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Set when the person deleted their account ("Leave Cairn"): a tombstone, never signed in
    /// again, shown to others as [`FORMER_MEMBER`].
    pub deleted_at: Option<DateTime<Utc>>,
}

/// How a deleted account is named wherever others see it (history, access logs, members,
/// exports): its display name is wiped, and its id is never given to anyone else.
pub const FORMER_MEMBER: &str = "a former member";

impl User {
    /// The account as the API shows it (no password hash).
    pub fn to_account(&self) -> Account {
        Account {
            id: self.id,
            username: self.username.clone(),
            display_name: self.display_name.clone(),
            kind: self.kind,
            disabled: self.disabled_at.is_some(),
            created_at: self.created_at,
        }
    }
}

/// A new account to store.
#[derive(Debug, Clone)]
pub struct NewUser {
    /// Lower-case login name.
    pub username: String,
    /// What look-alike usernames share (see `services::accounts::username_key`); unique.
    pub username_key: String,
    /// Name shown to other members.
    pub display_name: String,
    /// argon2id PHC string.
    pub password_hash: String,
    /// Member or admin.
    pub kind: AccountKind,
}

/// A stored device session.
#[derive(Debug, Clone)]
pub struct DeviceSession {
    /// Session id (the `sid` claim of its access tokens).
    pub id: SessionId,
    /// Whose session.
    pub user_id: UserId,
    /// Device name given at login.
    pub device_name: String,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// Last login or refresh.
    pub last_used_at: DateTime<Utc>,
    /// When it ends unless refreshed.
    pub expires_at: DateTime<Utc>,
    /// Set when logged out, ended from another device, or ended for refresh-token reuse.
    pub revoked_at: Option<DateTime<Utc>>,
    /// When this session passed a second factor (signed in with one, or confirmed one).
    pub second_factor_at: Option<DateTime<Utc>>,
}

impl DeviceSession {
    /// Whether access tokens of this session are still honoured at `now`.
    pub fn is_active(&self, now: DateTime<Utc>) -> bool {
        self.revoked_at.is_none() && self.expires_at > now
    }
}

/// A stored plan's metadata (its content lives in the plan's Automerge document).
#[derive(Debug, Clone)]
pub struct Plan {
    /// Plan id.
    pub id: PlanId,
    /// The person whose plan it is.
    pub owner_id: UserId,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Where the document does not fit the schema, if it does not.
    pub schema_issue: Option<String>,
    /// The plan's title as last recorded beside the plan row.
    pub title: PlanTitle,
    /// When the newest change to its content was stored, and whose it was (`None` with no
    /// stored change).
    pub last_change: Option<(DateTime<Utc>, UserId)>,
    /// Whether its members set a field differently at once and have not settled it.
    pub open_conflicts: bool,
}

/// A plan's title as recorded (sealed) beside its row, so listing plans never loads a document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlanTitle {
    /// The title the document held when it was last recorded.
    Known(String),
    /// Not recorded yet (a plan stored before titles were kept, until it is first loaded).
    NotRecorded,
    /// Recorded, but it cannot be opened now (its data key or the sealed title is damaged).
    Unreadable,
}

/// One member of a plan, with their display name.
#[derive(Debug, Clone)]
pub struct Membership {
    /// Which plan.
    pub plan_id: PlanId,
    /// Which account.
    pub user_id: UserId,
    /// Their display name.
    pub display_name: String,
    /// Owner or supporter.
    pub role: PlanRole,
    /// When they joined.
    pub joined_at: DateTime<Utc>,
    /// Whether an admin has disabled the account.
    pub disabled: bool,
}

/// One stored Automerge change of a plan, attributed to the account that made it.
#[derive(Debug, Clone)]
pub struct StoredChange {
    /// Hex change hash.
    pub hash: String,
    /// Hex Automerge actor id.
    pub actor: String,
    /// The account the actor is bound to.
    pub author_id: UserId,
    /// The raw change bytes.
    pub data: Vec<u8>,
}

impl StoredChange {
    /// `change`, made by `author`, as it is stored.
    pub fn of(change: &automerge::Change, author: UserId) -> Self {
        // Lowercase hex, as automerge writes hashes and actor ids.
        Self {
            hash: const_hex::encode(change.hash().0),
            actor: const_hex::encode(change.actor_id().to_bytes()),
            author_id: author,
            data: change.raw_bytes().to_vec(),
        }
    }
}

/// How accepting an invitation ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InvitationOutcome {
    /// The caller is now a supporter of the plan.
    Joined(PlanId),
    /// No invitation has that code.
    NotFound,
    /// The code is past its expiry.
    Expired,
    /// The code was used already.
    Used,
    /// The caller is already a member of the plan.
    AlreadyMember(PlanId),
}

/// Changes accepted for one plan, to store together.
#[derive(Debug, Default, Clone)]
pub struct ChangeBatch {
    /// Set when the plan does not exist yet: create it, owned by this account.
    pub create_owner: Option<UserId>,
    /// Actors seen for the first time, bound to the account that first used them.
    pub new_bindings: Vec<(String, UserId)>,
    /// The changes, in the order they were applied.
    pub changes: Vec<StoredChange>,
}

impl ChangeBatch {
    /// Whether there is nothing to store.
    pub fn is_empty(&self) -> bool {
        self.create_owner.is_none() && self.new_bindings.is_empty() && self.changes.is_empty()
    }
}

/// The authenticated account behind a request, and the device session it came from.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The account (enabled).
    pub user: User,
    /// The device session (active).
    pub session_id: SessionId,
    /// Whether this session passed a second factor (admin routes need one that did).
    pub second_factor_passed: bool,
}

/// One access to a plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessRecord {
    /// What happened.
    pub kind: AccessKind,
    /// The account that did it.
    pub account: UserId,
    /// The device session it came from, where there is one.
    pub session: Option<SessionId>,
    /// For a removal: the supporter removed.
    pub member: Option<UserId>,
    /// For an export: its format.
    pub format: Option<String>,
    /// When it happened.
    pub at: DateTime<Utc>,
}

/// Something that happened to a plan, for its access log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccessEvent {
    /// The plan was created.
    PlanCreated,
    /// A connection started syncing the plan.
    SyncOpened,
    /// The plan was read over REST.
    PlanRead,
    /// The plan was exported in this format (`json`, `markdown`, `fhir`; at most 32 characters).
    Export {
        /// The export format.
        format: String,
    },
    /// The owner created an invitation (its code is never recorded).
    Invited,
    /// A supporter joined with an invitation.
    Joined,
    /// The owner removed this supporter.
    Removed {
        /// The supporter removed.
        member: UserId,
    },
    /// A supporter left.
    Left,
}

impl AccessEvent {
    /// The event done by `account`, from `session` where there is one, at `at`.
    pub fn by(
        self,
        account: UserId,
        session: Option<SessionId>,
        at: DateTime<Utc>,
    ) -> AccessRecord {
        let (kind, member, format) = match self {
            AccessEvent::PlanCreated => (AccessKind::PlanCreated, None, None),
            AccessEvent::SyncOpened => (AccessKind::SyncOpened, None, None),
            AccessEvent::PlanRead => (AccessKind::PlanRead, None, None),
            AccessEvent::Export { format } => (AccessKind::Exported, None, Some(format)),
            AccessEvent::Invited => (AccessKind::Invited, None, None),
            AccessEvent::Joined => (AccessKind::Joined, None, None),
            AccessEvent::Removed { member } => (AccessKind::Removed, Some(member), None),
            AccessEvent::Left => (AccessKind::Left, None, None),
        };
        AccessRecord {
            kind,
            account,
            session,
            member,
            format,
            at,
        }
    }
}

/// An entry for an account's activity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActivityRecord {
    /// What happened.
    pub kind: cairn_shared::api::ActivityKind,
    /// Who did it when not the account itself (an admin).
    pub by: Option<UserId>,
    /// The device, for a sign-in.
    pub device_name: Option<String>,
    /// The client's address, where the agency records addresses.
    pub address: Option<String>,
    /// A passkey's name, a second factor's kind.
    pub detail: Option<String>,
    /// When.
    pub at: DateTime<Utc>,
}

impl ActivityRecord {
    /// `kind`, done by the account itself now.
    pub fn now(kind: cairn_shared::api::ActivityKind) -> Self {
        Self {
            kind,
            by: None,
            device_name: None,
            address: None,
            detail: None,
            at: Utc::now(),
        }
    }
}

/// An act of an admin, for the admin audit (and the target account's activity).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminAct {
    /// What was done.
    pub action: cairn_shared::api::AdminAction,
    /// The admin; `None` for the server's command line.
    pub admin: Option<UserId>,
    /// The account it was done to.
    pub target: Option<UserId>,
    /// More about it (never a secret).
    pub detail: Option<String>,
    /// When.
    pub at: DateTime<Utc>,
}

/// An account's stored second factor (TOTP): its sealed seed, whether it is confirmed, and the
/// last time step a code was accepted for.
#[derive(Debug, Clone)]
pub struct StoredSecondFactor {
    /// `"totp"`.
    pub method: String,
    /// The seed, sealed (never the clear seed).
    pub sealed_secret: String,
    /// When it was added (the enrolment started).
    pub created_at: DateTime<Utc>,
    /// When a first code confirmed it; `None` while pending.
    pub confirmed_at: Option<DateTime<Utc>>,
    /// The last TOTP time step accepted.
    pub last_used_step: Option<i64>,
}
