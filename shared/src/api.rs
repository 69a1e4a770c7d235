//! REST API v1 request and response bodies (JSON, camelCase field names).

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::ids::{DocumentId, PlanId, SessionId, UserId};

/// The kind of an account. There is no hierarchy among members: any member can own plans and
/// support others. Admins are agency staff who manage accounts and never see plan content.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AccountKind {
    /// A person who writes plans: their own, and others' as a supporter.
    Member,
    /// Agency staff: creates and disables accounts, issues enrollment codes, sees counts.
    Admin,
}

/// A member's role on one plan. Both roles have the same edit rights on the plan's content.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PlanRole {
    /// The person whose plan it is: invites and removes supporters, exports, deletes.
    Owner,
    /// A co-author the owner invited, usually their peer specialist.
    Supporter,
}

/// How new accounts come to exist on this server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RegistrationMode {
    /// Anyone who can reach the server may register.
    Open,
    /// Registering needs an enrollment code from an admin.
    Enrollment,
    /// Only admins create accounts.
    Closed,
}

/// `POST /api/v1/auth/register`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RegisterRequest {
    /// 3 to 32 characters: letters and digits of any script, `.`, `_`, `-`; compared after
    /// NFKC normalisation and lower-casing (so not case-sensitive). Letters of scripts that
    /// are mixed to make look-alikes (Latin with Cyrillic, say) are refused, and so is a
    /// username that looks like one already taken (same UTS #39 confusable skeleton: `409`).
    pub username: String,
    /// The name other members of a plan see.
    pub display_name: String,
    /// At least 8 characters, not only spaces, and not one of the common and breached
    /// passwords the server refuses.
    pub password: String,
    /// Needed when the server's registration mode is `enrollment`.
    #[serde(default)]
    pub enrollment_code: Option<String>,
    /// A name for this device's session, shown in the session list ("Maria's phone").
    #[serde(default)]
    pub device_name: Option<String>,
}

/// `POST /api/v1/auth/login`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LoginRequest {
    /// The account's username (not case-sensitive).
    pub username: String,
    /// The account's password.
    pub password: String,
    /// A name for this device's session, shown in the session list.
    #[serde(default)]
    pub device_name: Option<String>,
}

/// `POST /api/v1/auth/refresh`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RefreshRequest {
    /// The refresh token from the last login or refresh. It is single-use: the response holds its
    /// replacement, and using it again ends the whole device session.
    pub refresh_token: String,
}

/// The answer to register, login and refresh: a short-lived access token and the next refresh token.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuthTokens {
    /// A JWT to send as `Authorization: Bearer <token>`.
    pub access_token: String,
    /// Always `Bearer`.
    #[schemars(extend("const" = "Bearer"))]
    pub token_type: String,
    /// Seconds until the access token expires.
    pub expires_in: i64,
    /// An opaque single-use token to get the next access token with.
    pub refresh_token: String,
    /// When the refresh token (and with it this device session) expires unless used.
    pub refresh_expires_at: DateTime<Utc>,
    /// The device session these tokens belong to.
    pub session_id: SessionId,
    /// The account.
    pub account: Account,
    /// Only in the answer to registration: the account's recovery codes, shown this once
    /// (stored only as hashes). Each sets a new password once with `POST /api/v1/auth/recover`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recovery_codes: Option<Vec<String>>,
}

/// An account as its owner and admins see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Account {
    /// The account id.
    pub id: UserId,
    /// The login name (lower case).
    pub username: String,
    /// The name other members see.
    pub display_name: String,
    /// `member` or `admin`.
    pub kind: AccountKind,
    /// Whether an admin has disabled the account.
    pub disabled: bool,
    /// When the account was created.
    pub created_at: DateTime<Utc>,
}

/// One device session of the caller (`GET /api/v1/me/sessions`).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeviceSession {
    /// The session id, for `DELETE` and `PATCH /api/v1/me/sessions/{id}`.
    pub id: SessionId,
    /// The device name given at login, or as last renamed.
    pub device_name: String,
    /// When the device logged in.
    pub created_at: DateTime<Utc>,
    /// When the device last refreshed its tokens.
    pub last_used_at: DateTime<Utc>,
    /// When the session ends unless refreshed.
    pub expires_at: DateTime<Utc>,
    /// Whether this is the session making the request.
    pub current: bool,
}

/// `PATCH /api/v1/me/sessions/{id}`: rename one of the caller's device sessions.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RenameSessionRequest {
    /// The device's new name ("Maria's phone"): 1 to 64 characters once surrounding spaces are
    /// trimmed, no control characters.
    pub device_name: String,
}

/// `POST /api/v1/plans`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreatePlanRequest {
    /// The plan's title, in the person's words. May be left empty and written later.
    #[serde(default)]
    pub title: Option<String>,
}

/// A member of a plan, as every member of that plan sees them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PlanMember {
    /// The member's account id.
    pub user_id: UserId,
    /// The member's display name.
    pub display_name: String,
    /// `owner` or `supporter`.
    pub role: PlanRole,
    /// When they became a member.
    pub joined_at: DateTime<Utc>,
    /// `true` when an admin has disabled the member's account: they are still a member, but
    /// cannot sign in or sync until it is enabled again.
    pub disabled: bool,
    /// The Automerge actors (hex) the member's devices write with in this plan, so a client
    /// can name who chose each value of a conflict, offline too. Only in
    /// `GET /api/v1/plans/{id}/members`; empty (absent) in plan lists.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub actors: Vec<String>,
}

/// A plan in the caller's plan list.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PlanSummary {
    /// The plan id (a UUID). The REST API also accepts the document id or URL in its place.
    pub id: PlanId,
    /// The plan's Automerge document id (automerge-repo form).
    pub document_id: DocumentId,
    /// The `automerge:` URL an automerge-repo client passes to `repo.find`.
    pub url: String,
    /// The plan's title as the document holds it now.
    pub title: String,
    /// The caller's role on this plan.
    pub role: PlanRole,
    /// Everyone who can read and edit the plan.
    pub members: Vec<PlanMember>,
    /// When the plan was created.
    pub created_at: DateTime<Utc>,
    /// When the server last stored a change to the plan's content, from any member and by any
    /// path (sync socket or HTTP): order a home screen by it, and compare it with when the
    /// caller last looked to say "changed since". A new plan's skeleton is its first change,
    /// so a plan nobody has edited yet shows its creation time; `null` only for a plan with no
    /// stored change at all.
    pub last_changed_at: Option<DateTime<Utc>>,
    /// The account whose change that was (`null` with `lastChangedAt`): a client can leave its
    /// own edits out of "changed since you last looked".
    pub last_changed_by: Option<UserId>,
    /// `null` when the document fits schema v1; otherwise where it first does not and what kind
    /// of thing is wrong there (`checkIns[0].date: the value is not a date (YYYY-MM-DD)`), in
    /// the schema's words, never the document's: a key that is not a field of the schema reads
    /// `<unknown field>`. The plan is kept and synced as usual, and exports skip the part that
    /// does not fit.
    pub schema_issue: Option<String>,
    /// `true` when the plan's stored data cannot be read at the moment (its `title` is then
    /// empty): the plan is listed, marked unavailable, and the caller's other plans as usual.
    #[serde(default)]
    pub unavailable: bool,
}

/// One plan with its current content (`GET /api/v1/plans/{id}`).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PlanDetail {
    /// The plan's metadata.
    #[serde(flatten)]
    pub summary: PlanSummary,
    /// The plan document as plain JSON.
    #[schemars(schema_with = "crate::plan::stored_document_schema")]
    pub document: serde_json::Value,
}

/// `POST /api/v1/plans/{id}/invitations`: a code for one supporter to join the plan.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Invitation {
    /// The code to read aloud, type or show as a QR code, like `K7QM-3XPA-Z9RT`. Single use.
    /// Dashes, spaces and letter case do not matter when it is typed back.
    pub code: String,
    /// The plan it invites to.
    pub plan_id: PlanId,
    /// When the code stops working.
    pub expires_at: DateTime<Utc>,
}

/// `POST /api/v1/admin/accounts`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateAccountRequest {
    /// As in [`RegisterRequest::username`].
    pub username: String,
    /// The name other members see.
    pub display_name: String,
    /// An initial password of at least 8 characters, to hand to the person.
    pub password: String,
    /// `member` (default) or `admin`.
    #[serde(default)]
    pub kind: Option<AccountKind>,
}

/// `POST /api/v1/admin/enrollment-codes`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateEnrollmentCodeRequest {
    /// How many accounts may register with the code (default 1, at most 1000).
    #[serde(default)]
    pub max_uses: Option<u32>,
    /// Hours until the code expires (default from the server's configuration, at most 90 days).
    #[serde(default)]
    pub expires_in_hours: Option<u32>,
    /// The admin's own words for who the code is for ("Tuesday group"), shown in the list of
    /// codes (the code itself is not shown again). At most 100 characters.
    #[serde(default)]
    pub label: Option<String>,
}

/// An enrollment code, shown once to the admin who created it.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct EnrollmentCode {
    /// The code's id in the list of codes (`GET /api/v1/admin/enrollment-codes`), for revoking it.
    pub id: uuid::Uuid,
    /// The code to hand out, like `K7QM-3XPA-Z9RT`.
    pub code: String,
    /// The admin's label for it, if any.
    pub label: Option<String>,
    /// How many accounts may register with it.
    pub max_uses: u32,
    /// When it stops working.
    pub expires_at: DateTime<Utc>,
}

/// `GET /api/v1/admin/counts`: numbers only, never content.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Counts {
    /// Member accounts, enabled or not.
    pub members: u64,
    /// Admin accounts.
    pub admins: u64,
    /// Disabled accounts.
    pub disabled_accounts: u64,
    /// Plans stored.
    pub plans: u64,
    /// Supporter memberships across all plans.
    pub supporter_memberships: u64,
}

/// `GET /healthz` and `GET /readyz`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Health {
    /// `ok` (alive) or `ready` (database reachable, migrations applied).
    #[schemars(extend("enum" = ["ok", "ready"]))]
    pub status: String,
}

/// One change in a plan's history (`GET /api/v1/plans/{id}/history`), oldest first.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HistoryEntry {
    /// The Automerge change hash (hex).
    pub hash: String,
    /// The account that made the change.
    pub author_id: UserId,
    /// That account's display name.
    pub author_name: String,
    /// When the server received the change.
    pub received_at: DateTime<Utc>,
    /// When the author's device says it made the change (it may have been offline), if it says.
    pub made_at: Option<DateTime<Utc>>,
    /// The change's message, if the client gave one.
    pub message: Option<String>,
    /// How many operations the change holds.
    pub operations: u64,
}

/// One member's session of editing a plan (`GET /api/v1/plans/{id}/history/sessions`): their
/// run of changes with no more than half an hour between them, and what it did, in words.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HistorySession {
    /// Whose changes they are.
    pub author_id: UserId,
    /// Their display name ("a former member" once they left Cairn).
    pub author_name: String,
    /// When the server received the session's first change.
    pub started_at: DateTime<Utc>,
    /// When it received its last.
    pub ended_at: DateTime<Utc>,
    /// How many changes the session holds.
    pub changes: u64,
    /// What the session did, item by item (a client says it in its own language).
    pub said: Vec<crate::changes_in_words::ChangeSaid>,
    /// The same in English sentences ("Sam marked ‘Call the housing office’ done").
    pub sentences: Vec<String>,
}

/// A field of a plan where members' concurrent edits left different values
/// (`GET /api/v1/plans/{id}/conflicts`). Every value stays shown, with who chose it, until a
/// member settles it by writing one (an ordinary change, synced as any other).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PlanConflict {
    /// Where: keys from the document's root, list items named by their `id`
    /// (`goals[<goal id>].steps[<step id>].due`).
    pub path: String,
    /// The field's name (`status`, `who`, `done`, `due`, …).
    pub field: String,
    /// The id of the goal, step, support or check-in the field belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item_id: Option<String>,
    /// Every value still standing, in the same order on every device.
    pub values: Vec<ConflictingValue>,
}

/// One value of a [`PlanConflict`], and who chose it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConflictingValue {
    /// The value as the document holds it (a status like `let-go`, `true`, a date, words).
    pub value: serde_json::Value,
    /// The account whose change wrote it, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author_id: Option<UserId>,
    /// That account's display name ("a former member" once they left Cairn).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author_name: Option<String>,
}

/// `POST /api/v1/plans/{id}/changes` and the `X-Automerge-Heads` of `GET`: the plan's heads.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Heads {
    /// Hex change hashes of the document's heads after the call.
    pub heads: Vec<String>,
}

/// What an access log entry records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum AccessKind {
    /// The plan was created, over REST or by the first sync of a plan made offline.
    PlanCreated,
    /// A device opened a sync session for the plan (once per connection).
    SyncOpened,
    /// The plan was read over REST (`GET /api/v1/plans/{id}`).
    PlanRead,
    /// The plan was exported; `format` says in which format.
    Exported,
    /// The owner created an invitation to the plan. The code is never logged.
    Invited,
    /// A supporter joined the plan with an invitation.
    Joined,
    /// The owner removed a supporter; `memberId` and `memberName` say whom.
    Removed,
    /// A supporter left the plan.
    Left,
}

/// One entry of a plan's access log (`GET /api/v1/plans/{id}/access-log`), newest first. Every
/// member can read the whole log; it holds no plan content and no invitation codes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AccessLogEntry {
    /// What happened.
    pub kind: AccessKind,
    /// The account that did it.
    pub account_id: UserId,
    /// That account's display name (as it is now).
    pub account_name: String,
    /// The device session it came from, where there is one.
    pub session_id: Option<SessionId>,
    /// When it happened.
    pub at: DateTime<Utc>,
    /// For `removed`: the supporter who was removed.
    pub member_id: Option<UserId>,
    /// For `removed`: that supporter's display name (as it is now).
    pub member_name: Option<String>,
    /// For `exported`: the export format (`json`, `markdown`, `fhir`).
    pub format: Option<String>,
}

/// What an entry of an account's activity records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum ActivityKind {
    /// A device signed in (a new device session): `deviceName` says which.
    SignedIn,
    /// The password was changed by the account itself.
    PasswordChanged,
    /// The password was set anew with a recovery code or an admin's reset code.
    PasswordReset,
    /// A new set of recovery codes was made (the old set no longer works).
    RecoveryCodesCreated,
    /// A recovery code was used.
    RecoveryCodeUsed,
    /// A passkey was added; `detail` is its name.
    PasskeyAdded,
    /// A passkey was removed; `detail` is its name.
    PasskeyRemoved,
    /// A second factor was added; `detail` says which kind.
    SecondFactorAdded,
    /// A second factor was removed; `detail` says which kind.
    SecondFactorRemoved,
    /// An admin (`byId`, `byName`) created this account.
    AccountCreated,
    /// An admin disabled this account.
    AccountDisabled,
    /// An admin enabled this account again.
    AccountEnabled,
    /// An admin issued a password reset code for this account.
    ResetCodeIssued,
    /// An admin reset this account's second factor.
    SecondFactorReset,
}

/// One entry of the caller's account activity (`GET /api/v1/me/activity`), newest first. It
/// holds no secrets and no plan content; client addresses only where the agency records them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ActivityEntry {
    /// What happened.
    pub kind: ActivityKind,
    /// When it happened.
    pub at: DateTime<Utc>,
    /// The device it happened on, where there is one (a sign-in).
    pub device_name: Option<String>,
    /// Who did it, when it was not the account itself (an admin).
    pub by_id: Option<UserId>,
    /// That account's display name.
    pub by_name: Option<String>,
    /// The client's address, only when the agency turned that on (`CAIRN_ACTIVITY_ADDRESSES`).
    pub address: Option<String>,
    /// More about it: a passkey's name, a second factor's kind.
    pub detail: Option<String>,
}

/// What an admin did, in the admin audit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum AdminAction {
    /// Created an account (`targetId`).
    AccountCreated,
    /// Disabled an account.
    AccountDisabled,
    /// Enabled an account again.
    AccountEnabled,
    /// Issued a password reset code for an account (never the code).
    ResetCodeIssued,
    /// Issued an enrollment code (never the code); `detail` says how many uses.
    EnrollmentCodeIssued,
    /// Reset an account's second factor.
    SecondFactorReset,
    /// Rotated the master key from the server's command line.
    KeysRotated,
    /// Revoked an enrollment code (never the code); `detail` has its label, if any.
    EnrollmentCodeRevoked,
}

/// One act of an admin (`GET /api/v1/admin/audit`), newest first. Append-only; it holds no plan
/// content and no secrets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuditEntry {
    /// Its place in the audit (for paging: `?before=`).
    pub id: i64,
    /// What was done.
    pub action: AdminAction,
    /// When.
    pub at: DateTime<Utc>,
    /// The admin who did it; none for an act from the server's command line.
    pub admin_id: Option<UserId>,
    /// That admin's display name.
    pub admin_name: Option<String>,
    /// The account it was done to, where there is one.
    pub target_id: Option<UserId>,
    /// That account's display name.
    pub target_name: Option<String>,
    /// More about it (an enrollment code's number of uses).
    pub detail: Option<String>,
}

/// A page of the admin audit, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuditPage {
    /// The entries.
    pub entries: Vec<AuditEntry>,
    /// Ask with `?before=` this for the next (older) page; none at the end.
    pub next_before: Option<i64>,
}

/// `POST /api/v1/me/password`: change the caller's password, knowing the current one.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ChangePasswordRequest {
    /// The password the account has now.
    pub current_password: String,
    /// The new password: the same rules as at registration.
    pub new_password: String,
}

/// `POST /api/v1/me/recovery-codes`: make a new set of recovery codes, confirmed by the
/// account's password (a phone left unlocked must not be enough to take the account over).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewRecoveryCodesRequest {
    /// The password the account has now.
    pub password: String,
}

/// A new set of recovery codes (`POST /api/v1/me/recovery-codes`), shown this once: each sets
/// a new password once with `POST /api/v1/auth/recover`. The server keeps only their hashes.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RecoveryCodes {
    /// The codes, like `K7QM-3XPA-Z9RT` (dashes, spaces and case do not matter when typed).
    pub codes: Vec<String>,
}

/// What is known about the caller's recovery codes (`GET /api/v1/me/recovery-codes`); never
/// the codes themselves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RecoveryCodeStatus {
    /// Codes of the current set not used yet.
    pub remaining: u64,
    /// When the current set was made; `null` if the account has none.
    pub created_at: Option<DateTime<Utc>>,
}

/// `POST /api/v1/auth/recover` (with a recovery code) and `POST /api/v1/auth/reset` (with a
/// reset code from an admin): choose a new password and sign in.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RedeemCodeRequest {
    /// The account's username (not case-sensitive).
    pub username: String,
    /// The code (dashes, spaces and case do not matter).
    pub code: String,
    /// The new password: the same rules as at registration.
    pub new_password: String,
    /// A name for this device's session, shown in the session list.
    #[serde(default)]
    pub device_name: Option<String>,
}

/// A reset code an admin issued for an account (`POST /api/v1/admin/accounts/{id}/reset-code`),
/// shown this once: the person uses it with `POST /api/v1/auth/reset` to choose a new password.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ResetCode {
    /// The code, like `K7QM-3XPA-Z9RT`, to read aloud or hand over.
    pub code: String,
    /// When it stops working.
    pub expires_at: DateTime<Utc>,
}

/// `GET /api/v1/me/leaving`: everything deleting the caller's account would delete or end, so
/// the person can see it before they confirm.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LeavingPreview {
    /// The plans the caller owns: each is deleted for everyone (its supporters lose it).
    pub owned_plans: Vec<OwnedPlanLeaving>,
    /// The plans the caller supports: they leave each; the plan stays with its owner.
    pub supported_plans: Vec<SupportedPlanLeaving>,
    /// How many device sessions end (every signed-in device).
    pub device_sessions: u64,
}

/// A plan the caller owns, deleted with their account.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OwnedPlanLeaving {
    /// The plan id.
    pub id: PlanId,
    /// The plan's title as last recorded (empty if none was written, or it cannot be read).
    pub title: String,
    /// How many supporters lose the plan.
    pub supporters: u64,
}

/// A plan the caller supports, which they leave with their account.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SupportedPlanLeaving {
    /// The plan id.
    pub id: PlanId,
    /// The plan's title as last recorded (empty if none was written, or it cannot be read).
    pub title: String,
    /// The display name of the person whose plan it is.
    pub owner_name: String,
}

/// `DELETE /api/v1/me`: delete the caller's account, confirmed by the person: with the
/// account's password, or with one of its passkeys (exactly one of the two given).
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DeleteAccountRequest {
    /// The account's password.
    #[serde(default)]
    pub password: Option<String>,
    /// A passkey's answer to `POST /api/v1/me/passkeys/confirmation`.
    #[serde(default)]
    pub passkey: Option<PasskeyConfirmation>,
}

/// A passkey's signed answer confirming an act of the caller's (deleting their account).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PasskeyConfirmation {
    /// From the confirmation's [`PasskeyChallenge`].
    pub ceremony_id: uuid::Uuid,
    /// The browser's `PublicKeyCredential` from `navigator.credentials.get`, with binary
    /// fields in base64url (webauthn-rs's `PublicKeyCredential`).
    pub credential: serde_json::Value,
}

/// The answer to `POST /api/v1/me/passkeys/registration`, `POST /api/v1/me/passkeys/confirmation`
/// and `POST /api/v1/auth/passkey/start`:
/// a passkey ceremony begun, for the browser to carry on.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PasskeyChallenge {
    /// Names this ceremony when finishing it; it can be finished once, within five minutes.
    pub ceremony_id: uuid::Uuid,
    /// The WebAuthn options, as webauthn-rs writes them: for registration a
    /// `CreationChallengeResponse` (`{publicKey: …}` for `navigator.credentials.create`), for
    /// sign-in a `RequestChallengeResponse` (`{publicKey: …}` for `navigator.credentials.get`).
    /// Binary fields (`challenge`, `user.id`, credential ids) are base64url without padding.
    pub options: serde_json::Value,
}

/// `POST /api/v1/me/passkeys`: finish registering a passkey.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RegisterPasskeyRequest {
    /// From the registration's [`PasskeyChallenge`].
    pub ceremony_id: uuid::Uuid,
    /// A name for the passkey (the device or password manager holding it); default "Passkey".
    #[serde(default)]
    pub name: Option<String>,
    /// The browser's `PublicKeyCredential` from `navigator.credentials.create`, with binary
    /// fields in base64url (webauthn-rs's `RegisterPublicKeyCredential`).
    pub credential: serde_json::Value,
}

/// A passkey of the caller's account. Its key material is never sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PasskeyInfo {
    /// The passkey's id (for removing it).
    pub id: uuid::Uuid,
    /// The name given when it was registered.
    pub name: String,
    /// When it was registered.
    pub created_at: DateTime<Utc>,
    /// When it last signed in, if ever.
    pub last_used_at: Option<DateTime<Utc>>,
}

/// `POST /api/v1/auth/passkey/start`: begin signing in with a passkey.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PasskeySignInStart {
    /// The account's username (not case-sensitive). The answer looks the same whether or not
    /// it exists or has passkeys.
    pub username: String,
}

/// `POST /api/v1/auth/passkey/finish`: sign in with the passkey's answer.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PasskeySignInFinish {
    /// From the sign-in's [`PasskeyChallenge`].
    pub ceremony_id: uuid::Uuid,
    /// The browser's `PublicKeyCredential` from `navigator.credentials.get`, with binary
    /// fields in base64url (webauthn-rs's `PublicKeyCredential`).
    pub credential: serde_json::Value,
    /// A name for this device's session, shown in the session list.
    #[serde(default)]
    pub device_name: Option<String>,
}

/// A kind of second factor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum SecondFactorMethod {
    /// A six-digit code from an authenticator app (TOTP: SHA-1, 30 s steps).
    Totp,
}

/// The answer to `POST /api/v1/me/second-factor/totp`: the new seed, shown this once. It is
/// pending until `POST /api/v1/me/second-factor/totp/confirm` with a code from the app.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TotpEnrolment {
    /// The seed, base32 (to type into the app).
    pub secret: String,
    /// `otpauth://totp/...` (to show as a QR code for the app to scan).
    pub otpauth_uri: String,
}

/// `POST /api/v1/me/second-factor/totp/confirm` and `DELETE /api/v1/me/second-factor/totp`:
/// a current code from the authenticator app.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SecondFactorCode {
    /// The six digits the app shows now (spaces are ignored).
    pub code: String,
}

/// `GET /api/v1/me/second-factor`: which second factors the account has (never a secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SecondFactorStatus {
    /// The enabled second factors; empty if none.
    pub methods: Vec<SecondFactorMethod>,
    /// When the enabled TOTP factor was confirmed.
    pub enabled_at: Option<DateTime<Utc>>,
    /// Whether a TOTP enrolment waits for its confirming code.
    pub pending: bool,
}

/// What a right password opens for an account with a second factor: a challenge to answer at
/// `POST /api/v1/auth/second-factor`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SecondFactorChallenge {
    /// The challenge (single use, bound to the account).
    pub challenge: String,
    /// The second factors the account can answer with.
    pub methods: Vec<SecondFactorMethod>,
    /// When the challenge stops working (5 minutes after the password).
    pub expires_at: DateTime<Utc>,
}

/// The answer to a right password for an account with a second factor:
/// `{"secondFactor": {...}}` instead of tokens.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SecondFactorNeeded {
    /// The challenge to answer.
    pub second_factor: SecondFactorChallenge,
}

/// The answer to `POST /api/v1/auth/login` (200): tokens, or, for an account with a second
/// factor, `{"secondFactor": {...}}` (tell them apart by that key).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum LoginResponse {
    /// Signed in.
    Tokens(AuthTokens),
    /// The password was right; the second factor is needed.
    SecondFactor(SecondFactorNeeded),
}

/// `POST /api/v1/auth/second-factor`: the login's challenge and a code; answers with tokens.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SecondFactorSignIn {
    /// The challenge from the login answer.
    pub challenge: String,
    /// The six digits the authenticator app shows now.
    pub code: String,
    /// A name for this device's session, shown in the session list.
    #[serde(default)]
    pub device_name: Option<String>,
}

/// Where an enrollment code stands (`GET /api/v1/admin/enrollment-codes`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum EnrollmentCodeState {
    /// It registers accounts now.
    Active,
    /// Every use it had is taken.
    UsedUp,
    /// Its time ran out.
    Expired,
    /// An admin revoked it.
    Revoked,
}

/// An enrollment code as listed for admins: never the code itself, which is shown only once,
/// at creation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct EnrollmentCodeInfo {
    /// Its id, for `DELETE /api/v1/admin/enrollment-codes/{id}`.
    pub id: uuid::Uuid,
    /// The admin's label for it, if any.
    pub label: Option<String>,
    /// Where it stands.
    pub state: EnrollmentCodeState,
    /// Accounts registered with it.
    pub uses: u32,
    /// How many accounts may register with it.
    pub max_uses: u32,
    /// When it was made.
    pub created_at: DateTime<Utc>,
    /// When it stops (or stopped) working.
    pub expires_at: DateTime<Utc>,
    /// When an admin revoked it, if one did.
    pub revoked_at: Option<DateTime<Utc>>,
}

/// Which database a Cairn server keeps its data in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum DatabaseKind {
    /// The embedded default: one file in the data folder.
    Sqlite,
    /// A Postgres server (several instances may share it).
    Postgres,
}

/// `GET /api/v1/admin/health`: how the server is doing, for the admin console. No content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AdminHealth {
    /// This server's version (`cairn --version`).
    pub version: String,
    /// The database it uses.
    pub database: DatabaseKind,
    /// Whether the database answered just now.
    pub database_reachable: bool,
    /// Migrations applied to the database.
    pub migrations_applied: u32,
    /// Migrations this version knows (more than applied: some are pending).
    pub migrations_known: u32,
    /// Cairn instances that said they were up within the last `instancesWindowMinutes`
    /// (this one included).
    pub instances_seen: u32,
    /// The window for `instancesSeen`, in minutes.
    pub instances_window_minutes: u32,
    /// When the last backup was taken; `null` if none is recorded.
    pub last_backup: Option<DateTime<Utc>>,
}

/// `GET /api/v1/auth/oidc` (200 when staff sign-in through the agency's identity provider is
/// configured; 404 `oidc_not_configured` when it is not): what the sign-in button says.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OidcSignInOption {
    /// The agency's name for the button ("Sign in with <displayName>").
    pub display_name: String,
    /// Where the browser goes to sign in (`/api/v1/auth/oidc/start`).
    pub start_path: String,
}

/// `POST /api/v1/auth/oidc/exchange`: the handoff code the callback put in the address's
/// fragment (`#oidc=<code>`), single-use and short-lived; answers like a login.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OidcExchangeRequest {
    /// The handoff code.
    pub code: String,
    /// A name for the new device session ("Maria's phone"); optional.
    #[serde(default)]
    pub device_name: Option<String>,
}

/// `POST /api/v1/plans/{id}/versions`: name the plan as it stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NameVersionRequest {
    /// The name, in the member's words ("what we agreed on 2 March"): 1 to 200 characters.
    pub name: String,
}

/// A named version of a plan: the plan as it stood when a member named it. The name is plan
/// content (sealed at rest, shredded with the plan).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PlanVersion {
    /// The version's id.
    pub id: uuid::Uuid,
    /// Its name, in the member's words.
    pub name: String,
    /// Who named it.
    pub named_by: UserId,
    /// Their display name.
    pub named_by_name: String,
    /// When.
    pub named_at: DateTime<Utc>,
    /// The document's heads it points at (hex change hashes).
    pub heads: Vec<String>,
    /// The other member who acknowledged it, if one has.
    pub acknowledged_by: Option<UserId>,
    /// Their display name.
    pub acknowledged_by_name: Option<String>,
    /// When they acknowledged it.
    pub acknowledged_at: Option<DateTime<Utc>>,
}

/// `GET /api/v1/plans/{id}/versions/{version}`: the plan as it was, read-only, and what changed
/// since, in words.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PlanVersionView {
    /// The version.
    pub version: PlanVersion,
    /// The plan document as it was at the version (the same shape as a JSON export's
    /// `document`).
    pub document: serde_json::Value,
    /// What changed since, item by item (a client says it in its own language).
    pub changed_since: Vec<crate::changes_in_words::ChangeSaid>,
    /// The same in English sentences.
    pub sentences: Vec<String>,
}
