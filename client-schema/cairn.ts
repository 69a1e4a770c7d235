// GENERATED from the `cairn-shared` crate by `tests/tests/client_schema` (regenerate with
// `UPDATE_CLIENT_SCHEMA=1 cargo test -p cairn-tests --test client_schema`). Do not edit.
//
// Cairn's client contract in TypeScript: the plan document (schema v1; the same as
// plan.schema.json) and every body of the REST API (the same as openapi.json). Types only: use
// `import type`.

// ---- The plan document (schema v1) -------------------------------------------------

/** A whole plan, as its members write it. */
export interface PlanDocument {
  /** Check-ins: how it went and what we learned. */
  checkIns?: CheckIn[];
  /** "What would you like to do moving forward?" */
  goals?: Goal[];
  /** Always 1 for this version of the schema. */
  schemaVersion: 1;
  /** "What's strong right now?" */
  strengths?: Strength[];
  /** "Who helps?": people, places and resources. */
  supports?: Support[];
  /** The plan's name, in the person's words. */
  title?: string;
  /** What matters to the person: their vision, in their own words. */
  whatMatters?: string;
}

/** One member's stance on a goal, with a note in their own words. */
export interface Agreement {
  /** When they last marked it (RFC 3339). */
  at: string;
  /** Why, in their own words (Automerge text); may be empty. */
  note?: string;
  /** Where they stand. */
  stance: Stance;
}

/** A check-in: how it went and what we learned. */
export interface CheckIn {
  /** Account id of whoever wrote it. */
  by: string;
  /** The day (YYYY-MM-DD). */
  date: string;
  /** How it went. */
  howItWent?: string;
  /** Stable id of this check-in. */
  id: string;
  /** What we learned. */
  whatWeLearned?: string;
}

/** Something the person would like to do moving forward. */
export interface Goal {
  /**
   * Where each member stands on the goal, keyed by their account id (revision 2). New goals
   * start with an empty map; a goal written before revision 2 has none until someone first
   * marks it. Each member writes only their own entry.
   */
  agreement?: { [key: string]: Agreement };
  /** When it was written down (RFC 3339). */
  createdAt: string;
  /** Account id of whoever wrote the goal down. */
  createdBy: string;
  /** Stable id of this goal. */
  id: string;
  /** Where it stands, in plain language. */
  status: GoalStatus;
  /** Next steps towards it. */
  steps?: Step[];
  /** The goal in the person's own words (Automerge text), never rewritten. */
  text: string;
}

/**
 * Where a goal stands. Plain language, never compliance.
 *
 * - `thinking`: Thinking about it.
 * - `working`: Working on it.
 * - `paused`: Taking a break from it.
 * - `done`: Done.
 * - `let-go`: Let it go: the person decided it no longer fits.
 */
export type GoalStatus = "thinking" | "working" | "paused" | "done" | "let-go";

/**
 * A member's stance on a goal.
 *
 * - `agree`: We agree.
 * - `not-yet`: Not yet.
 * - `differ`: I see it differently.
 */
export type Stance = "agree" | "not-yet" | "differ";

/** A next step; it can be the supporter's commitment as much as the person's. */
export interface Step {
  /** Whether it is done. */
  done?: boolean;
  /** When it is meant to happen, if anyone said (YYYY-MM-DD). */
  due?: string | null;
  /** Stable id of this step. */
  id: string;
  /** The step, in the words of whoever wrote it. */
  text: string;
  /** Who does it. */
  who: StepWho;
}

/**
 * Who takes a step.
 *
 * - `me`: The person.
 * - `supporter`: Their supporter.
 * - `together`: Both, together.
 */
export type StepWho = "me" | "supporter" | "together";

/** Something strong in the person's life right now. */
export interface Strength {
  /** Account id of whoever wrote it down. */
  addedBy?: string | null;
  /** Stable id of this item (any unique string, e.g. a UUID). */
  id: string;
  /** The strength, in the person's words. */
  text: string;
}

/** A person, place or resource that helps. */
export interface Support {
  /** How to reach them, if the person wants it written down. */
  contact?: string | null;
  /** Stable id of this support. */
  id: string;
  /** A person, a place or a resource. */
  kind: SupportKind;
  /** Who or what it is. */
  name: string;
  /** Anything else worth remembering about it. */
  note?: string | null;
}

/**
 * What kind of support.
 *
 * - `person`: Someone who helps.
 * - `place`: Somewhere that helps.
 * - `resource`: A service, group, line or other resource.
 */
export type SupportKind = "person" | "place" | "resource";

// ---- The REST API (openapi.json) --------------------------------------------------

/**
 * What an access log entry records.
 *
 * - `plan-created`: The plan was created, over REST or by the first sync of a plan made offline.
 * - `sync-opened`: A device opened a sync session for the plan (once per connection).
 * - `plan-read`: The plan was read over REST (`GET /api/v1/plans/{id}`).
 * - `exported`: The plan was exported; `format` says in which format.
 * - `invited`: The owner created an invitation to the plan. The code is never logged.
 * - `joined`: A supporter joined the plan with an invitation.
 * - `removed`: The owner removed a supporter; `memberId` and `memberName` say whom.
 * - `left`: A supporter left the plan.
 */
export type AccessKind = "plan-created" | "sync-opened" | "plan-read" | "exported" | "invited" | "joined" | "removed" | "left";

/**
 * One entry of a plan's access log (`GET /api/v1/plans/{id}/access-log`), newest first. Every
 * member can read the whole log; it holds no plan content and no invitation codes.
 */
export interface AccessLogEntry {
  /** The account that did it. */
  accountId: UserId;
  /** That account's display name (as it is now). */
  accountName: string;
  /** When it happened. */
  at: string;
  /** For `exported`: the export format (`json`, `markdown`, `fhir`). */
  format: string | null;
  /** What happened. */
  kind: AccessKind;
  /** For `removed`: the supporter who was removed. */
  memberId: UserId | null;
  /** For `removed`: that supporter's display name (as it is now). */
  memberName: string | null;
  /** The device session it came from, where there is one. */
  sessionId: SessionId | null;
}

/** An account as its owner and admins see it. */
export interface Account {
  /** When the account was created. */
  createdAt: string;
  /** Whether an admin has disabled the account. */
  disabled: boolean;
  /** The name other members see. */
  displayName: string;
  /** The account id. */
  id: UserId;
  /** `member` or `admin`. */
  kind: AccountKind;
  /** The login name (lower case). */
  username: string;
}

/**
 * The kind of an account. There is no hierarchy among members: any member can own plans and
 * support others. Admins are agency staff who manage accounts and never see plan content.
 *
 * - `member`: A person who writes plans: their own, and others' as a supporter.
 * - `admin`: Agency staff: creates and disables accounts, issues enrollment codes, sees counts.
 */
export type AccountKind = "member" | "admin";

/**
 * One entry of the caller's account activity (`GET /api/v1/me/activity`), newest first. It
 * holds no secrets and no plan content; client addresses only where the agency records them.
 */
export interface ActivityEntry {
  /** The client's address, only when the agency turned that on (`CAIRN_ACTIVITY_ADDRESSES`). */
  address: string | null;
  /** When it happened. */
  at: string;
  /** Who did it, when it was not the account itself (an admin). */
  byId: UserId | null;
  /** That account's display name. */
  byName: string | null;
  /** More about it: a passkey's name, a second factor's kind. */
  detail: string | null;
  /** The device it happened on, where there is one (a sign-in). */
  deviceName: string | null;
  /** What happened. */
  kind: ActivityKind;
}

/**
 * What an entry of an account's activity records.
 *
 * - `signed-in`: A device signed in (a new device session): `deviceName` says which.
 * - `password-changed`: The password was changed by the account itself.
 * - `password-reset`: The password was set anew with a recovery code or an admin's reset code.
 * - `recovery-codes-created`: A new set of recovery codes was made (the old set no longer works).
 * - `recovery-code-used`: A recovery code was used.
 * - `passkey-added`: A passkey was added; `detail` is its name.
 * - `passkey-removed`: A passkey was removed; `detail` is its name.
 * - `second-factor-added`: A second factor was added; `detail` says which kind.
 * - `second-factor-removed`: A second factor was removed; `detail` says which kind.
 * - `account-created`: An admin (`byId`, `byName`) created this account.
 * - `account-disabled`: An admin disabled this account.
 * - `account-enabled`: An admin enabled this account again.
 * - `reset-code-issued`: An admin issued a password reset code for this account.
 * - `second-factor-reset`: An admin reset this account's second factor.
 */
export type ActivityKind = "signed-in" | "password-changed" | "password-reset" | "recovery-codes-created" | "recovery-code-used" | "passkey-added" | "passkey-removed" | "second-factor-added" | "second-factor-removed" | "account-created" | "account-disabled" | "account-enabled" | "reset-code-issued" | "second-factor-reset";

/**
 * What an admin did, in the admin audit.
 *
 * - `account-created`: Created an account (`targetId`).
 * - `account-disabled`: Disabled an account.
 * - `account-enabled`: Enabled an account again.
 * - `reset-code-issued`: Issued a password reset code for an account (never the code).
 * - `enrollment-code-issued`: Issued an enrollment code (never the code); `detail` says how many uses.
 * - `second-factor-reset`: Reset an account's second factor.
 * - `keys-rotated`: Rotated the master key from the server's command line.
 * - `enrollment-code-revoked`: Revoked an enrollment code (never the code); `detail` has its label, if any.
 */
export type AdminAction = "account-created" | "account-disabled" | "account-enabled" | "reset-code-issued" | "enrollment-code-issued" | "second-factor-reset" | "keys-rotated" | "enrollment-code-revoked";

/** `GET /api/v1/admin/health`: how the server is doing, for the admin console. No content. */
export interface AdminHealth {
  /** The database it uses. */
  database: DatabaseKind;
  /** Whether the database answered just now. */
  databaseReachable: boolean;
  /**
   * Cairn instances that said they were up within the last `instancesWindowMinutes`
   * (this one included).
   */
  instancesSeen: number;
  /** The window for `instancesSeen`, in minutes. */
  instancesWindowMinutes: number;
  /** When the last backup was taken; `null` if none is recorded. */
  lastBackup: string | null;
  /** Migrations applied to the database. */
  migrationsApplied: number;
  /** Migrations this version knows (more than applied: some are pending). */
  migrationsKnown: number;
  /** This server's version (`cairn --version`). */
  version: string;
}

/**
 * One act of an admin (`GET /api/v1/admin/audit`), newest first. Append-only; it holds no plan
 * content and no secrets.
 */
export interface AuditEntry {
  /** What was done. */
  action: AdminAction;
  /** The admin who did it; none for an act from the server's command line. */
  adminId: UserId | null;
  /** That admin's display name. */
  adminName: string | null;
  /** When. */
  at: string;
  /** More about it (an enrollment code's number of uses). */
  detail: string | null;
  /** Its place in the audit (for paging: `?before=`). */
  id: number;
  /** The account it was done to, where there is one. */
  targetId: UserId | null;
  /** That account's display name. */
  targetName: string | null;
}

/** A page of the admin audit, newest first. */
export interface AuditPage {
  /** The entries. */
  entries: AuditEntry[];
  /** Ask with `?before=` this for the next (older) page; none at the end. */
  nextBefore: number | null;
}

/** The answer to register, login and refresh: a short-lived access token and the next refresh token. */
export interface AuthTokens {
  /** A JWT to send as `Authorization: Bearer <token>`. */
  accessToken: string;
  /** The account. */
  account: Account;
  /** Seconds until the access token expires. */
  expiresIn: number;
  /**
   * Only in the answer to registration: the account's recovery codes, shown this once
   * (stored only as hashes). Each sets a new password once with `POST /api/v1/auth/recover`.
   */
  recoveryCodes?: string[] | null;
  /** When the refresh token (and with it this device session) expires unless used. */
  refreshExpiresAt: string;
  /** An opaque single-use token to get the next access token with. */
  refreshToken: string;
  /** The device session these tokens belong to. */
  sessionId: SessionId;
  /** Always `Bearer`. */
  tokenType: "Bearer";
}

/**
 * The kinds of change the history names.
 *
 * - `title-changed`: The plan's name changed (`from`, `to`).
 * - `what-matters-changed`: What matters was rewritten (`to`).
 * - `strength-added`: A strength was added (`item`).
 * - `strength-removed`: A strength was removed (`item`).
 * - `strength-changed`: A strength's words changed (`from`, `to`).
 * - `goal-added`: A goal was added (`item`).
 * - `goal-removed`: A goal was removed (`item`).
 * - `goal-changed`: A goal's words changed (`from`, `to`).
 * - `goal-status-changed`: Where a goal stands changed (`item`, `from`, `to`: status values).
 * - `step-added`: A step was added to a goal (`item`, `goal`).
 * - `step-removed`: A step was removed (`item`, `goal`).
 * - `step-changed`: A step's words changed (`from`, `to`, `goal`).
 * - `step-done`: A step was marked done (`item`).
 * - `step-undone`: A step was marked not done again (`item`).
 * - `step-who-changed`: Who takes a step changed (`item`, `from`, `to`: `me`, `supporter`, `together`).
 * - `step-due-changed`: A step's day changed (`item`, `to`; `to` absent when the day was taken away).
 * - `support-added`: A support was added (`item`).
 * - `support-removed`: A support was removed (`item`).
 * - `support-changed`: A support was changed (its name, kind, contact or note; `item`).
 * - `check-in-added`: A check-in was added (`item`: its day).
 * - `check-in-removed`: A check-in was removed (`item`).
 * - `check-in-changed`: A check-in's words changed (`item`).
 */
export type ChangeKind = "title-changed" | "what-matters-changed" | "strength-added" | "strength-removed" | "strength-changed" | "goal-added" | "goal-removed" | "goal-changed" | "goal-status-changed" | "step-added" | "step-removed" | "step-changed" | "step-done" | "step-undone" | "step-who-changed" | "step-due-changed" | "support-added" | "support-removed" | "support-changed" | "check-in-added" | "check-in-removed" | "check-in-changed";

/** `POST /api/v1/me/password`: change the caller's password, knowing the current one. */
export interface ChangePasswordRequest {
  /** The password the account has now. */
  currentPassword: string;
  /** The new password: the same rules as at registration. */
  newPassword: string;
}

/** One thing that changed. */
export interface ChangeSaid {
  /** The value before (words, a status), where the kind has one. */
  from?: string | null;
  /** The goal a step belongs to, in its words. */
  goal?: string | null;
  /**
   * The item's words (a goal's, step's or strength's text, a support's name, a check-in's
   * day), as they read after the change (before it, for a removal).
   */
  item?: string | null;
  /** What kind of change. */
  kind: ChangeKind;
  /** The value after. */
  to?: string | null;
}

/** One value of a `PlanConflict`, and who chose it. */
export interface ConflictingValue {
  /** The account whose change wrote it, when known. */
  authorId?: UserId | null;
  /** That account's display name ("a former member" once they left Cairn). */
  authorName?: string | null;
  /** The value as the document holds it (a status like `let-go`, `true`, a date, words). */
  value: unknown;
}

/** `GET /api/v1/admin/counts`: numbers only, never content. */
export interface Counts {
  /** Admin accounts. */
  admins: number;
  /** Disabled accounts. */
  disabledAccounts: number;
  /** Member accounts, enabled or not. */
  members: number;
  /** Plans stored. */
  plans: number;
  /** Supporter memberships across all plans. */
  supporterMemberships: number;
}

/** `POST /api/v1/admin/accounts`. */
export interface CreateAccountRequest {
  /** The name other members see. */
  displayName: string;
  /** `member` (default) or `admin`. */
  kind?: AccountKind | null;
  /** An initial password of at least 8 characters, to hand to the person. */
  password: string;
  /** As in `RegisterRequest::username`. */
  username: string;
}

/** `POST /api/v1/admin/enrollment-codes`. */
export interface CreateEnrollmentCodeRequest {
  /** Hours until the code expires (default from the server's configuration, at most 90 days). */
  expiresInHours?: number | null;
  /**
   * The admin's own words for who the code is for ("Tuesday group"), shown in the list of
   * codes (the code itself is not shown again). At most 100 characters.
   */
  label?: string | null;
  /** How many accounts may register with the code (default 1, at most 1000). */
  maxUses?: number | null;
}

/** `POST /api/v1/plans`. */
export interface CreatePlanRequest {
  /** The plan's title, in the person's words. May be left empty and written later. */
  title?: string | null;
}

/**
 * Which database a Cairn server keeps its data in.
 *
 * - `sqlite`: The embedded default: one file in the data folder.
 * - `postgres`: A Postgres server (several instances may share it).
 */
export type DatabaseKind = "sqlite" | "postgres";

/**
 * `DELETE /api/v1/me`: delete the caller's account, confirmed by the person: with the
 * account's password, or with one of its passkeys (exactly one of the two given).
 */
export interface DeleteAccountRequest {
  /** A passkey's answer to `POST /api/v1/me/passkeys/confirmation`. */
  passkey?: PasskeyConfirmation | null;
  /** The account's password. */
  password?: string | null;
}

/** One device session of the caller (`GET /api/v1/me/sessions`). */
export interface DeviceSession {
  /** When the device logged in. */
  createdAt: string;
  /** Whether this is the session making the request. */
  current: boolean;
  /** The device name given at login, or as last renamed. */
  deviceName: string;
  /** When the session ends unless refreshed. */
  expiresAt: string;
  /** The session id, for `DELETE` and `PATCH /api/v1/me/sessions/{id}`. */
  id: SessionId;
  /** When the device last refreshed its tokens. */
  lastUsedAt: string;
}

/** An automerge-repo document id: bs58check of the 16 bytes of the plan's UUID. */
export type DocumentId = string;

/** An enrollment code, shown once to the admin who created it. */
export interface EnrollmentCode {
  /** The code to hand out, like `K7QM-3XPA-Z9RT`. */
  code: string;
  /** When it stops working. */
  expiresAt: string;
  /** The code's id in the list of codes (`GET /api/v1/admin/enrollment-codes`), for revoking it. */
  id: string;
  /** The admin's label for it, if any. */
  label: string | null;
  /** How many accounts may register with it. */
  maxUses: number;
}

/**
 * An enrollment code as listed for admins: never the code itself, which is shown only once,
 * at creation.
 */
export interface EnrollmentCodeInfo {
  /** When it was made. */
  createdAt: string;
  /** When it stops (or stopped) working. */
  expiresAt: string;
  /** Its id, for `DELETE /api/v1/admin/enrollment-codes/{id}`. */
  id: string;
  /** The admin's label for it, if any. */
  label: string | null;
  /** How many accounts may register with it. */
  maxUses: number;
  /** When an admin revoked it, if one did. */
  revokedAt: string | null;
  /** Where it stands. */
  state: EnrollmentCodeState;
  /** Accounts registered with it. */
  uses: number;
}

/**
 * Where an enrollment code stands (`GET /api/v1/admin/enrollment-codes`).
 *
 * - `active`: It registers accounts now.
 * - `used-up`: Every use it had is taken.
 * - `expired`: Its time ran out.
 * - `revoked`: An admin revoked it.
 */
export type EnrollmentCodeState = "active" | "used-up" | "expired" | "revoked";

/** The body of every error response. */
export interface ErrorBody {
  /** What went wrong. */
  error: ErrorDetail;
}

/**
 * A stable, machine-readable reason for a failed request.
 *
 * - `bad_request`: The request body or query could not be read (malformed JSON, wrong content type).
 * - `validation_failed`: The request was readable but a field is not acceptable; the message says which.
 * - `payload_too_large`: The body is larger than the server accepts.
 * - `unauthenticated`: No access token was sent.
 * - `invalid_token`: The access token is invalid, expired, forged or for a session that has ended.
 * - `invalid_credentials`: Wrong username or password.
 * - `account_disabled`: The account has been disabled by an admin.
 * - `rate_limited`: Too many attempts; try again after the `Retry-After` header's seconds.
 * - `invalid_refresh_token`: The refresh token is unknown, expired or its session has ended.
 * - `refresh_token_reused`: A refresh token was used a second time; its whole session has been ended.
 * - `registration_closed`: Registration is closed on this server: an admin creates accounts.
 * - `enrollment_code_invalid`: Registration needs a valid, unexpired enrollment code.
 * - `username_taken`: The username is already taken.
 * - `admin_only`: Only an admin account may do this.
 * - `admin_cannot_use_plans`: Admin accounts manage accounts; they cannot own, join or read plans.
 * - `owner_only`: Only the plan's owner may do this.
 * - `plan_limit_reached`: The account owns as many plans as this server allows (`plans_per_account`).
 * - `plan_not_found`: The plan does not exist, or you are not one of its members (the two are not told apart).
 * - `account_not_found`: No account with that id.
 * - `member_not_found`: The person is not a member of this plan.
 * - `session_not_found`: No device session with that id for this account.
 * - `invitation_not_found`: The invitation code is unknown.
 * - `invitation_expired`: The invitation code has expired; ask the owner for a new one.
 * - `invitation_used`: The invitation code has already been used.
 * - `already_member`: You are already a member of this plan.
 * - `owner_cannot_leave`: The owner cannot leave or be removed from their own plan; they may delete it.
 * - `foreign_author`: A change's author (Automerge actor) belongs to another account.
 * - `not_found`: No such route.
 * - `method_not_allowed`: The route exists but not with this method.
 * - `not_ready`: The server is not ready (database unreachable or migrations pending).
 * - `internal`: Something went wrong on the server; the details are in its log, not in this response.
 * - `wrong_password`: The current password given to change it is wrong.
 * - `recovery_code_invalid`: The username and recovery code do not match an unused recovery code.
 * - `reset_code_invalid`: The username and reset code do not match an unused, unexpired reset code.
 * - `sole_admin`: The only enabled admin account cannot be deleted: the server would have no admin left.
 * - `passkey_not_found`: No passkey with that id on this account.
 * - `passkey_registration_failed`: The passkey registration could not be finished: the ceremony is unknown, expired or
 * already used, or the browser's credential did not verify. Start again.
 * - `second_factor_required`: Admin routes need a second factor, on the account and passed by this session: add one at
 * `/api/v1/me/second-factor/totp`, or sign in again with it.
 * - `second_factor_code_invalid`: The second factor's code is wrong, or was already used.
 * - `second_factor_challenge_invalid`: The sign-in challenge is unknown, used or expired: sign in again with the password.
 * - `second_factor_not_found`: There is no such second factor (none enabled, or no enrolment waiting to be confirmed).
 * - `second_factor_already_enabled`: A second factor is already enabled; remove it before adding another.
 * - `enrollment_code_not_found`: No enrollment code with that id.
 * - `enrollment_code_already_revoked`: The enrollment code was already revoked.
 * - `oidc_not_configured`: Staff sign-in through the agency's identity provider is not configured on this server.
 * - `oidc_sign_in_failed`: The sign-in through the identity provider did not check out (an unknown, used or expired
 * sign-in or handoff code, or an ID token that failed its checks): start again.
 * - `oidc_not_allowed`: The identity provider signed the person in, but their tenant or email domain may not
 * sign in to this server.
 * - `oidc_provider_unavailable`: The identity provider could not be reached; try again in a moment.
 * - `oidc_session_ended`: The identity provider no longer lets this person sign in: the device session has ended.
 * - `version_not_found`: The plan has no named version with that id.
 * - `version_named_by_you`: You named this version: the other member acknowledges it, not the one who named it.
 * - `version_already_acknowledged`: The version was already acknowledged.
 */
export type ErrorCode = "bad_request" | "validation_failed" | "payload_too_large" | "unauthenticated" | "invalid_token" | "invalid_credentials" | "account_disabled" | "rate_limited" | "invalid_refresh_token" | "refresh_token_reused" | "registration_closed" | "enrollment_code_invalid" | "username_taken" | "admin_only" | "admin_cannot_use_plans" | "owner_only" | "plan_limit_reached" | "plan_not_found" | "account_not_found" | "member_not_found" | "session_not_found" | "invitation_not_found" | "invitation_expired" | "invitation_used" | "already_member" | "owner_cannot_leave" | "foreign_author" | "not_found" | "method_not_allowed" | "not_ready" | "internal" | "wrong_password" | "recovery_code_invalid" | "reset_code_invalid" | "sole_admin" | "passkey_not_found" | "passkey_registration_failed" | "second_factor_required" | "second_factor_code_invalid" | "second_factor_challenge_invalid" | "second_factor_not_found" | "second_factor_already_enabled" | "enrollment_code_not_found" | "enrollment_code_already_revoked" | "oidc_not_configured" | "oidc_sign_in_failed" | "oidc_not_allowed" | "oidc_provider_unavailable" | "oidc_session_ended" | "version_not_found" | "version_named_by_you" | "version_already_acknowledged";

/** What went wrong: a stable code and a human-readable message. */
export interface ErrorDetail {
  /** The stable reason. */
  code: ErrorCode;
  /** A sentence for people; may change between versions. */
  message: string;
}

/** `POST /api/v1/plans/{id}/changes` and the `X-Automerge-Heads` of `GET`: the plan's heads. */
export interface Heads {
  /** Hex change hashes of the document's heads after the call. */
  heads: string[];
}

/** `GET /healthz` and `GET /readyz`. */
export interface Health {
  /** `ok` (alive) or `ready` (database reachable, migrations applied). */
  status: "ok" | "ready";
}

/** One change in a plan's history (`GET /api/v1/plans/{id}/history`), oldest first. */
export interface HistoryEntry {
  /** The account that made the change. */
  authorId: UserId;
  /** That account's display name. */
  authorName: string;
  /** The Automerge change hash (hex). */
  hash: string;
  /** When the author's device says it made the change (it may have been offline), if it says. */
  madeAt: string | null;
  /** The change's message, if the client gave one. */
  message: string | null;
  /** How many operations the change holds. */
  operations: number;
  /** When the server received the change. */
  receivedAt: string;
}

/**
 * One member's session of editing a plan (`GET /api/v1/plans/{id}/history/sessions`): their
 * run of changes with no more than half an hour between them, and what it did, in words.
 */
export interface HistorySession {
  /** Whose changes they are. */
  authorId: UserId;
  /** Their display name ("a former member" once they left Cairn). */
  authorName: string;
  /** How many changes the session holds. */
  changes: number;
  /** When it received its last. */
  endedAt: string;
  /** What the session did, item by item (a client says it in its own language). */
  said: ChangeSaid[];
  /** The same in English sentences ("Sam marked ‘Call the housing office’ done"). */
  sentences: string[];
  /** When the server received the session's first change. */
  startedAt: string;
}

/** `POST /api/v1/plans/{id}/invitations`: a code for one supporter to join the plan. */
export interface Invitation {
  /**
   * The code to read aloud, type or show as a QR code, like `K7QM-3XPA-Z9RT`. Single use.
   * Dashes, spaces and letter case do not matter when it is typed back.
   */
  code: string;
  /** When the code stops working. */
  expiresAt: string;
  /** The plan it invites to. */
  planId: PlanId;
}

/**
 * `GET /api/v1/me/leaving`: everything deleting the caller's account would delete or end, so
 * the person can see it before they confirm.
 */
export interface LeavingPreview {
  /** How many device sessions end (every signed-in device). */
  deviceSessions: number;
  /** The plans the caller owns: each is deleted for everyone (its supporters lose it). */
  ownedPlans: OwnedPlanLeaving[];
  /** The plans the caller supports: they leave each; the plan stays with its owner. */
  supportedPlans: SupportedPlanLeaving[];
}

/** `POST /api/v1/auth/login`. */
export interface LoginRequest {
  /** A name for this device's session, shown in the session list. */
  deviceName?: string | null;
  /** The account's password. */
  password: string;
  /** The account's username (not case-sensitive). */
  username: string;
}

/**
 * The answer to `POST /api/v1/auth/login` (200): tokens, or, for an account with a second
 * factor, `{"secondFactor": {...}}` (tell them apart by that key).
 */
export type LoginResponse = AuthTokens | SecondFactorNeeded;

/** `POST /api/v1/plans/{id}/versions`: name the plan as it stands. */
export interface NameVersionRequest {
  /** The name, in the member's words ("what we agreed on 2 March"): 1 to 200 characters. */
  name: string;
}

/**
 * `POST /api/v1/me/recovery-codes`: make a new set of recovery codes, confirmed by the
 * account's password (a phone left unlocked must not be enough to take the account over).
 */
export interface NewRecoveryCodesRequest {
  /** The password the account has now. */
  password: string;
}

/**
 * `POST /api/v1/auth/oidc/exchange`: the handoff code the callback put in the address's
 * fragment (`#oidc=<code>`), single-use and short-lived; answers like a login.
 */
export interface OidcExchangeRequest {
  /** The handoff code. */
  code: string;
  /** A name for the new device session ("Maria's phone"); optional. */
  deviceName?: string | null;
}

/**
 * `GET /api/v1/auth/oidc` (200 when staff sign-in through the agency's identity provider is
 * configured; 404 `oidc_not_configured` when it is not): what the sign-in button says.
 */
export interface OidcSignInOption {
  /** The agency's name for the button ("Sign in with <displayName>"). */
  displayName: string;
  /** Where the browser goes to sign in (`/api/v1/auth/oidc/start`). */
  startPath: string;
}

/** A plan the caller owns, deleted with their account. */
export interface OwnedPlanLeaving {
  /** The plan id. */
  id: PlanId;
  /** How many supporters lose the plan. */
  supporters: number;
  /** The plan's title as last recorded (empty if none was written, or it cannot be read). */
  title: string;
}

/**
 * The answer to `POST /api/v1/me/passkeys/registration`, `POST /api/v1/me/passkeys/confirmation`
 * and `POST /api/v1/auth/passkey/start`:
 * a passkey ceremony begun, for the browser to carry on.
 */
export interface PasskeyChallenge {
  /** Names this ceremony when finishing it; it can be finished once, within five minutes. */
  ceremonyId: string;
  /**
   * The WebAuthn options, as webauthn-rs writes them: for registration a
   * `CreationChallengeResponse` (`{publicKey: …}` for `navigator.credentials.create`), for
   * sign-in a `RequestChallengeResponse` (`{publicKey: …}` for `navigator.credentials.get`).
   * Binary fields (`challenge`, `user.id`, credential ids) are base64url without padding.
   */
  options: unknown;
}

/** A passkey's signed answer confirming an act of the caller's (deleting their account). */
export interface PasskeyConfirmation {
  /** From the confirmation's `PasskeyChallenge`. */
  ceremonyId: string;
  /**
   * The browser's `PublicKeyCredential` from `navigator.credentials.get`, with binary
   * fields in base64url (webauthn-rs's `PublicKeyCredential`).
   */
  credential: unknown;
}

/** A passkey of the caller's account. Its key material is never sent. */
export interface PasskeyInfo {
  /** When it was registered. */
  createdAt: string;
  /** The passkey's id (for removing it). */
  id: string;
  /** When it last signed in, if ever. */
  lastUsedAt: string | null;
  /** The name given when it was registered. */
  name: string;
}

/** `POST /api/v1/auth/passkey/finish`: sign in with the passkey's answer. */
export interface PasskeySignInFinish {
  /** From the sign-in's `PasskeyChallenge`. */
  ceremonyId: string;
  /**
   * The browser's `PublicKeyCredential` from `navigator.credentials.get`, with binary
   * fields in base64url (webauthn-rs's `PublicKeyCredential`).
   */
  credential: unknown;
  /** A name for this device's session, shown in the session list. */
  deviceName?: string | null;
}

/** `POST /api/v1/auth/passkey/start`: begin signing in with a passkey. */
export interface PasskeySignInStart {
  /**
   * The account's username (not case-sensitive). The answer looks the same whether or not
   * it exists or has passkeys.
   */
  username: string;
}

/**
 * A field of a plan where members' concurrent edits left different values
 * (`GET /api/v1/plans/{id}/conflicts`). Every value stays shown, with who chose it, until a
 * member settles it by writing one (an ordinary change, synced as any other).
 */
export interface PlanConflict {
  /** The field's name (`status`, `who`, `done`, `due`, …). */
  field: string;
  /** The id of the goal, step, support or check-in the field belongs to. */
  itemId?: string | null;
  /**
   * Where: keys from the document's root, list items named by their `id`
   * (`goals[<goal id>].steps[<step id>].due`).
   */
  path: string;
  /** Every value still standing, in the same order on every device. */
  values: ConflictingValue[];
}

/** One plan with its current content (`GET /api/v1/plans/{id}`). */
export interface PlanDetail {
  /** When the plan was created. */
  createdAt: string;
  /** The plan document as plain JSON. */
  document: PlanDocument | { [key: string]: unknown };
  /** The plan's Automerge document id (automerge-repo form). */
  documentId: DocumentId;
  /** The plan id (a UUID). The REST API also accepts the document id or URL in its place. */
  id: PlanId;
  /**
   * When the server last stored a change to the plan's content, from any member and by any
   * path (sync socket or HTTP): order a home screen by it, and compare it with when the
   * caller last looked to say "changed since". A new plan's skeleton is its first change,
   * so a plan nobody has edited yet shows its creation time; `null` only for a plan with no
   * stored change at all.
   */
  lastChangedAt: string | null;
  /**
   * The account whose change that was (`null` with `lastChangedAt`): a client can leave its
   * own edits out of "changed since you last looked".
   */
  lastChangedBy: UserId | null;
  /** Everyone who can read and edit the plan. */
  members: PlanMember[];
  /** The caller's role on this plan. */
  role: PlanRole;
  /**
   * `null` when the document fits schema v1; otherwise where it first does not and what kind
   * of thing is wrong there (`checkIns[0].date: the value is not a date (YYYY-MM-DD)`), in
   * the schema's words, never the document's: a key that is not a field of the schema reads
   * `<unknown field>`. The plan is kept and synced as usual, and exports skip the part that
   * does not fit.
   */
  schemaIssue: string | null;
  /** The plan's title as the document holds it now. */
  title: string;
  /**
   * `true` when the plan's stored data cannot be read at the moment (its `title` is then
   * empty): the plan is listed, marked unavailable, and the caller's other plans as usual.
   */
  unavailable: boolean;
  /** The `automerge:` URL an automerge-repo client passes to `repo.find`. */
  url: string;
}

/** A plan. Its Automerge document id is `PlanId::document_id`. */
export type PlanId = string;

/** A member of a plan, as every member of that plan sees them. */
export interface PlanMember {
  /**
   * The Automerge actors (hex) the member's devices write with in this plan, so a client
   * can name who chose each value of a conflict, offline too. Only in
   * `GET /api/v1/plans/{id}/members`; empty (absent) in plan lists.
   */
  actors?: string[];
  /**
   * `true` when an admin has disabled the member's account: they are still a member, but
   * cannot sign in or sync until it is enabled again.
   */
  disabled: boolean;
  /** The member's display name. */
  displayName: string;
  /** When they became a member. */
  joinedAt: string;
  /** `owner` or `supporter`. */
  role: PlanRole;
  /** The member's account id. */
  userId: UserId;
}

/**
 * A member's role on one plan. Both roles have the same edit rights on the plan's content.
 *
 * - `owner`: The person whose plan it is: invites and removes supporters, exports, deletes.
 * - `supporter`: A co-author the owner invited, usually their peer specialist.
 */
export type PlanRole = "owner" | "supporter";

/** A plan in the caller's plan list. */
export interface PlanSummary {
  /** When the plan was created. */
  createdAt: string;
  /** The plan's Automerge document id (automerge-repo form). */
  documentId: DocumentId;
  /** The plan id (a UUID). The REST API also accepts the document id or URL in its place. */
  id: PlanId;
  /**
   * When the server last stored a change to the plan's content, from any member and by any
   * path (sync socket or HTTP): order a home screen by it, and compare it with when the
   * caller last looked to say "changed since". A new plan's skeleton is its first change,
   * so a plan nobody has edited yet shows its creation time; `null` only for a plan with no
   * stored change at all.
   */
  lastChangedAt: string | null;
  /**
   * The account whose change that was (`null` with `lastChangedAt`): a client can leave its
   * own edits out of "changed since you last looked".
   */
  lastChangedBy: UserId | null;
  /** Everyone who can read and edit the plan. */
  members: PlanMember[];
  /** The caller's role on this plan. */
  role: PlanRole;
  /**
   * `null` when the document fits schema v1; otherwise where it first does not and what kind
   * of thing is wrong there (`checkIns[0].date: the value is not a date (YYYY-MM-DD)`), in
   * the schema's words, never the document's: a key that is not a field of the schema reads
   * `<unknown field>`. The plan is kept and synced as usual, and exports skip the part that
   * does not fit.
   */
  schemaIssue: string | null;
  /** The plan's title as the document holds it now. */
  title: string;
  /**
   * `true` when the plan's stored data cannot be read at the moment (its `title` is then
   * empty): the plan is listed, marked unavailable, and the caller's other plans as usual.
   */
  unavailable: boolean;
  /** The `automerge:` URL an automerge-repo client passes to `repo.find`. */
  url: string;
}

/**
 * A named version of a plan: the plan as it stood when a member named it. The name is plan
 * content (sealed at rest, shredded with the plan).
 */
export interface PlanVersion {
  /** When they acknowledged it. */
  acknowledgedAt: string | null;
  /** The other member who acknowledged it, if one has. */
  acknowledgedBy: UserId | null;
  /** Their display name. */
  acknowledgedByName: string | null;
  /** The document's heads it points at (hex change hashes). */
  heads: string[];
  /** The version's id. */
  id: string;
  /** Its name, in the member's words. */
  name: string;
  /** When. */
  namedAt: string;
  /** Who named it. */
  namedBy: UserId;
  /** Their display name. */
  namedByName: string;
}

/**
 * `GET /api/v1/plans/{id}/versions/{version}`: the plan as it was, read-only, and what changed
 * since, in words.
 */
export interface PlanVersionView {
  /** What changed since, item by item (a client says it in its own language). */
  changedSince: ChangeSaid[];
  /**
   * The plan document as it was at the version (the same shape as a JSON export's
   * `document`).
   */
  document: unknown;
  /** The same in English sentences. */
  sentences: string[];
  /** The version. */
  version: PlanVersion;
}

/**
 * What is known about the caller's recovery codes (`GET /api/v1/me/recovery-codes`); never
 * the codes themselves.
 */
export interface RecoveryCodeStatus {
  /** When the current set was made; `null` if the account has none. */
  createdAt: string | null;
  /** Codes of the current set not used yet. */
  remaining: number;
}

/**
 * A new set of recovery codes (`POST /api/v1/me/recovery-codes`), shown this once: each sets
 * a new password once with `POST /api/v1/auth/recover`. The server keeps only their hashes.
 */
export interface RecoveryCodes {
  /** The codes, like `K7QM-3XPA-Z9RT` (dashes, spaces and case do not matter when typed). */
  codes: string[];
}

/**
 * `POST /api/v1/auth/recover` (with a recovery code) and `POST /api/v1/auth/reset` (with a
 * reset code from an admin): choose a new password and sign in.
 */
export interface RedeemCodeRequest {
  /** The code (dashes, spaces and case do not matter). */
  code: string;
  /** A name for this device's session, shown in the session list. */
  deviceName?: string | null;
  /** The new password: the same rules as at registration. */
  newPassword: string;
  /** The account's username (not case-sensitive). */
  username: string;
}

/** `POST /api/v1/auth/refresh`. */
export interface RefreshRequest {
  /**
   * The refresh token from the last login or refresh. It is single-use: the response holds its
   * replacement, and using it again ends the whole device session.
   */
  refreshToken: string;
}

/** `POST /api/v1/me/passkeys`: finish registering a passkey. */
export interface RegisterPasskeyRequest {
  /** From the registration's `PasskeyChallenge`. */
  ceremonyId: string;
  /**
   * The browser's `PublicKeyCredential` from `navigator.credentials.create`, with binary
   * fields in base64url (webauthn-rs's `RegisterPublicKeyCredential`).
   */
  credential: unknown;
  /** A name for the passkey (the device or password manager holding it); default "Passkey". */
  name?: string | null;
}

/** `POST /api/v1/auth/register`. */
export interface RegisterRequest {
  /** A name for this device's session, shown in the session list ("Maria's phone"). */
  deviceName?: string | null;
  /** The name other members of a plan see. */
  displayName: string;
  /** Needed when the server's registration mode is `enrollment`. */
  enrollmentCode?: string | null;
  /**
   * At least 8 characters, not only spaces, and not one of the common and breached
   * passwords the server refuses.
   */
  password: string;
  /**
   * 3 to 32 characters: letters and digits of any script, `.`, `_`, `-`; compared after
   * NFKC normalisation and lower-casing (so not case-sensitive). Letters of scripts that
   * are mixed to make look-alikes (Latin with Cyrillic, say) are refused, and so is a
   * username that looks like one already taken (same UTS #39 confusable skeleton: `409`).
   */
  username: string;
}

/** `PATCH /api/v1/me/sessions/{id}`: rename one of the caller's device sessions. */
export interface RenameSessionRequest {
  /**
   * The device's new name ("Maria's phone"): 1 to 64 characters once surrounding spaces are
   * trimmed, no control characters.
   */
  deviceName: string;
}

/**
 * A reset code an admin issued for an account (`POST /api/v1/admin/accounts/{id}/reset-code`),
 * shown this once: the person uses it with `POST /api/v1/auth/reset` to choose a new password.
 */
export interface ResetCode {
  /** The code, like `K7QM-3XPA-Z9RT`, to read aloud or hand over. */
  code: string;
  /** When it stops working. */
  expiresAt: string;
}

/**
 * What a right password opens for an account with a second factor: a challenge to answer at
 * `POST /api/v1/auth/second-factor`.
 */
export interface SecondFactorChallenge {
  /** The challenge (single use, bound to the account). */
  challenge: string;
  /** When the challenge stops working (5 minutes after the password). */
  expiresAt: string;
  /** The second factors the account can answer with. */
  methods: SecondFactorMethod[];
}

/**
 * `POST /api/v1/me/second-factor/totp/confirm` and `DELETE /api/v1/me/second-factor/totp`:
 * a current code from the authenticator app.
 */
export interface SecondFactorCode {
  /** The six digits the app shows now (spaces are ignored). */
  code: string;
}

/**
 * A kind of second factor.
 *
 * - `totp`: A six-digit code from an authenticator app (TOTP: SHA-1, 30 s steps).
 */
export type SecondFactorMethod = "totp";

/**
 * The answer to a right password for an account with a second factor:
 * `{"secondFactor": {...}}` instead of tokens.
 */
export interface SecondFactorNeeded {
  /** The challenge to answer. */
  secondFactor: SecondFactorChallenge;
}

/** `POST /api/v1/auth/second-factor`: the login's challenge and a code; answers with tokens. */
export interface SecondFactorSignIn {
  /** The challenge from the login answer. */
  challenge: string;
  /** The six digits the authenticator app shows now. */
  code: string;
  /** A name for this device's session, shown in the session list. */
  deviceName?: string | null;
}

/** `GET /api/v1/me/second-factor`: which second factors the account has (never a secret). */
export interface SecondFactorStatus {
  /** When the enabled TOTP factor was confirmed. */
  enabledAt: string | null;
  /** The enabled second factors; empty if none. */
  methods: SecondFactorMethod[];
  /** Whether a TOTP enrolment waits for its confirming code. */
  pending: boolean;
}

/** A device session: one login on one device, holding one rotating refresh token. */
export type SessionId = string;

/** A plan the caller supports, which they leave with their account. */
export interface SupportedPlanLeaving {
  /** The plan id. */
  id: PlanId;
  /** The display name of the person whose plan it is. */
  ownerName: string;
  /** The plan's title as last recorded (empty if none was written, or it cannot be read). */
  title: string;
}

/**
 * The answer to `POST /api/v1/me/second-factor/totp`: the new seed, shown this once. It is
 * pending until `POST /api/v1/me/second-factor/totp/confirm` with a code from the app.
 */
export interface TotpEnrolment {
  /** `otpauth://totp/...` (to show as a QR code for the app to scan). */
  otpauthUri: string;
  /** The seed, base32 (to type into the app). */
  secret: string;
}

/** An account (a member or an admin). */
export type UserId = string;

// ---- Every operation ---------------------------------------------------------------

/**
 * Every operation of the API by method and route template (as in openapi.json): its
 * request body, the status and body of its successful answer, and the error codes it can
 * answer (`ErrorBody.error.code`). Binary bodies are Automerge change bytes.
 */
export interface Operations {
  /** Register a member account and log it in. */
  "POST /api/v1/auth/register": {
    request: RegisterRequest;
    status: 201;
    response: AuthTokens;
    errors: "bad_request" | "payload_too_large" | "registration_closed" | "enrollment_code_invalid" | "validation_failed" | "username_taken" | "rate_limited" | "internal";
  };
  /** Log in: a new device session. */
  "POST /api/v1/auth/login": {
    request: LoginRequest;
    status: 200;
    response: LoginResponse;
    errors: "bad_request" | "payload_too_large" | "invalid_credentials" | "account_disabled" | "rate_limited" | "internal";
  };
  /** Trade a refresh token for new tokens. */
  "POST /api/v1/auth/refresh": {
    request: RefreshRequest;
    status: 200;
    response: AuthTokens;
    errors: "bad_request" | "payload_too_large" | "invalid_refresh_token" | "refresh_token_reused" | "account_disabled" | "oidc_session_ended" | "oidc_provider_unavailable" | "internal";
  };
  /** Log out: end the current device session. */
  "POST /api/v1/auth/logout": {
    request: undefined;
    status: 204;
    response: undefined;
    errors: "unauthenticated" | "invalid_token" | "account_disabled" | "internal";
  };
  /** The caller's account. */
  "GET /api/v1/me": {
    request: undefined;
    status: 200;
    response: Account;
    errors: "unauthenticated" | "invalid_token" | "account_disabled" | "internal";
  };
  /** What deleting the caller's account would delete. */
  "GET /api/v1/me/leaving": {
    request: undefined;
    status: 200;
    response: LeavingPreview;
    errors: "unauthenticated" | "invalid_token" | "account_disabled" | "internal";
  };
  /** Delete the caller's account ("Leave Cairn"). */
  "DELETE /api/v1/me": {
    request: DeleteAccountRequest;
    status: 204;
    response: undefined;
    errors: "bad_request" | "payload_too_large" | "unauthenticated" | "invalid_token" | "account_disabled" | "validation_failed" | "invalid_credentials" | "rate_limited" | "sole_admin" | "internal";
  };
  /** The caller's device sessions. */
  "GET /api/v1/me/sessions": {
    request: undefined;
    status: 200;
    response: DeviceSession[];
    errors: "unauthenticated" | "invalid_token" | "account_disabled" | "internal";
  };
  /** What happened to the caller's account. */
  "GET /api/v1/me/activity": {
    request: undefined;
    status: 200;
    response: ActivityEntry[];
    errors: "unauthenticated" | "invalid_token" | "account_disabled" | "bad_request" | "internal";
  };
  /** End one of the caller's device sessions. */
  "DELETE /api/v1/me/sessions/{id}": {
    request: undefined;
    status: 204;
    response: undefined;
    errors: "unauthenticated" | "invalid_token" | "account_disabled" | "session_not_found" | "internal";
  };
  /** Rename one of the caller's device sessions. */
  "PATCH /api/v1/me/sessions/{id}": {
    request: RenameSessionRequest;
    status: 200;
    response: DeviceSession;
    errors: "bad_request" | "payload_too_large" | "unauthenticated" | "invalid_token" | "account_disabled" | "session_not_found" | "validation_failed" | "internal";
  };
  /** Create a plan. */
  "POST /api/v1/plans": {
    request: CreatePlanRequest | undefined;
    status: 201;
    response: PlanSummary;
    errors: "bad_request" | "unauthenticated" | "invalid_token" | "account_disabled" | "admin_cannot_use_plans" | "validation_failed" | "plan_limit_reached" | "internal";
  };
  /** The caller's plans. */
  "GET /api/v1/plans": {
    request: undefined;
    status: 200;
    response: PlanSummary[];
    errors: "unauthenticated" | "invalid_token" | "account_disabled" | "admin_cannot_use_plans" | "internal";
  };
  /** One plan with its document as JSON. */
  "GET /api/v1/plans/{plan}": {
    request: undefined;
    status: 200;
    response: PlanDetail;
    errors: "unauthenticated" | "invalid_token" | "account_disabled" | "plan_not_found" | "internal";
  };
  /** Delete a plan. */
  "DELETE /api/v1/plans/{plan}": {
    request: undefined;
    status: 204;
    response: undefined;
    errors: "unauthenticated" | "invalid_token" | "account_disabled" | "plan_not_found" | "owner_only" | "internal";
  };
  /** Invite a supporter. */
  "POST /api/v1/plans/{plan}/invitations": {
    request: undefined;
    status: 201;
    response: Invitation;
    errors: "unauthenticated" | "invalid_token" | "account_disabled" | "plan_not_found" | "owner_only" | "internal";
  };
  /** Join a plan as a supporter. */
  "POST /api/v1/invitations/{code}/accept": {
    request: undefined;
    status: 200;
    response: PlanSummary;
    errors: "unauthenticated" | "invalid_token" | "account_disabled" | "admin_cannot_use_plans" | "invitation_not_found" | "invitation_expired" | "invitation_used" | "already_member" | "rate_limited" | "internal";
  };
  /** The plan's members. */
  "GET /api/v1/plans/{plan}/members": {
    request: undefined;
    status: 200;
    response: PlanMember[];
    errors: "unauthenticated" | "invalid_token" | "account_disabled" | "plan_not_found" | "internal";
  };
  /** Remove a supporter, or leave. */
  "DELETE /api/v1/plans/{plan}/members/{user}": {
    request: undefined;
    status: 204;
    response: undefined;
    errors: "unauthenticated" | "invalid_token" | "account_disabled" | "plan_not_found" | "owner_only" | "owner_cannot_leave" | "member_not_found" | "internal";
  };
  /** Every change to the plan. */
  "GET /api/v1/plans/{plan}/history": {
    request: undefined;
    status: 200;
    response: HistoryEntry[];
    errors: "unauthenticated" | "invalid_token" | "account_disabled" | "plan_not_found" | "internal";
  };
  /** The history in words. */
  "GET /api/v1/plans/{plan}/history/sessions": {
    request: undefined;
    status: 200;
    response: HistorySession[];
    errors: "unauthenticated" | "invalid_token" | "account_disabled" | "plan_not_found" | "internal";
  };
  /** Fields the members set differently at the same time. */
  "GET /api/v1/plans/{plan}/conflicts": {
    request: undefined;
    status: 200;
    response: PlanConflict[];
    errors: "unauthenticated" | "invalid_token" | "account_disabled" | "plan_not_found" | "internal";
  };
  /** Export the plan. */
  "GET /api/v1/plans/{plan}/export": {
    request: undefined;
    status: 200;
    response: Uint8Array;
    errors: "unauthenticated" | "invalid_token" | "account_disabled" | "bad_request" | "plan_not_found" | "owner_only" | "version_not_found" | "internal";
  };
  /** Who accessed the plan. */
  "GET /api/v1/plans/{plan}/access-log": {
    request: undefined;
    status: 200;
    response: AccessLogEntry[];
    errors: "unauthenticated" | "invalid_token" | "account_disabled" | "bad_request" | "plan_not_found" | "internal";
  };
  /** HTTP sync: the changes the caller lacks. */
  "GET /api/v1/plans/{plan}/changes": {
    request: undefined;
    status: 200;
    response: Uint8Array;
    errors: "unauthenticated" | "invalid_token" | "account_disabled" | "bad_request" | "plan_not_found" | "internal";
  };
  /** HTTP sync: send changes. */
  "POST /api/v1/plans/{plan}/changes": {
    request: Uint8Array;
    status: 200;
    response: Heads;
    errors: "bad_request" | "unauthenticated" | "invalid_token" | "account_disabled" | "plan_not_found" | "foreign_author" | "payload_too_large" | "internal";
  };
  /** The automerge-repo sync WebSocket. */
  "GET /sync": {
    request: undefined;
    status: 101;
    response: never;
    errors: "unauthenticated" | "invalid_token" | "account_disabled" | "bad_request" | "rate_limited" | "internal";
  };
  /** Every account, or a search a page at a time. */
  "GET /api/v1/admin/accounts": {
    request: undefined;
    status: 200;
    response: Account[];
    errors: "unauthenticated" | "invalid_token" | "account_disabled" | "bad_request" | "admin_only" | "validation_failed" | "second_factor_required" | "internal";
  };
  /** Create an account. */
  "POST /api/v1/admin/accounts": {
    request: CreateAccountRequest;
    status: 201;
    response: Account;
    errors: "bad_request" | "payload_too_large" | "unauthenticated" | "invalid_token" | "account_disabled" | "admin_only" | "validation_failed" | "username_taken" | "second_factor_required" | "internal";
  };
  /** Disable an account. */
  "POST /api/v1/admin/accounts/{id}/disable": {
    request: undefined;
    status: 200;
    response: Account;
    errors: "unauthenticated" | "invalid_token" | "account_disabled" | "admin_only" | "account_not_found" | "validation_failed" | "second_factor_required" | "internal";
  };
  /** Enable an account again. */
  "POST /api/v1/admin/accounts/{id}/enable": {
    request: undefined;
    status: 200;
    response: Account;
    errors: "unauthenticated" | "invalid_token" | "account_disabled" | "admin_only" | "account_not_found" | "second_factor_required" | "internal";
  };
  /** Issue an enrollment code. */
  "POST /api/v1/admin/enrollment-codes": {
    request: CreateEnrollmentCodeRequest | undefined;
    status: 201;
    response: EnrollmentCode;
    errors: "bad_request" | "unauthenticated" | "invalid_token" | "account_disabled" | "admin_only" | "validation_failed" | "second_factor_required" | "internal";
  };
  /** Every enrollment code, never the code. */
  "GET /api/v1/admin/enrollment-codes": {
    request: undefined;
    status: 200;
    response: EnrollmentCodeInfo[];
    errors: "unauthenticated" | "invalid_token" | "account_disabled" | "admin_only" | "second_factor_required" | "internal";
  };
  /** Revoke an enrollment code. */
  "DELETE /api/v1/admin/enrollment-codes/{id}": {
    request: undefined;
    status: 204;
    response: undefined;
    errors: "unauthenticated" | "invalid_token" | "account_disabled" | "admin_only" | "enrollment_code_not_found" | "enrollment_code_already_revoked" | "second_factor_required" | "internal";
  };
  /** How the server is doing. */
  "GET /api/v1/admin/health": {
    request: undefined;
    status: 200;
    response: AdminHealth;
    errors: "unauthenticated" | "invalid_token" | "account_disabled" | "admin_only" | "second_factor_required" | "internal";
  };
  /** Numbers of accounts, plans and memberships. */
  "GET /api/v1/admin/counts": {
    request: undefined;
    status: 200;
    response: Counts;
    errors: "unauthenticated" | "invalid_token" | "account_disabled" | "admin_only" | "second_factor_required" | "internal";
  };
  /** Every act of an admin. */
  "GET /api/v1/admin/audit": {
    request: undefined;
    status: 200;
    response: AuditPage;
    errors: "unauthenticated" | "invalid_token" | "account_disabled" | "bad_request" | "admin_only" | "second_factor_required" | "internal";
  };
  /** Change the caller's password. */
  "POST /api/v1/me/password": {
    request: ChangePasswordRequest;
    status: 204;
    response: undefined;
    errors: "bad_request" | "payload_too_large" | "unauthenticated" | "invalid_token" | "account_disabled" | "wrong_password" | "validation_failed" | "rate_limited" | "internal";
  };
  /** How many recovery codes the caller has left. */
  "GET /api/v1/me/recovery-codes": {
    request: undefined;
    status: 200;
    response: RecoveryCodeStatus;
    errors: "unauthenticated" | "invalid_token" | "account_disabled" | "internal";
  };
  /** A new set of recovery codes. */
  "POST /api/v1/me/recovery-codes": {
    request: NewRecoveryCodesRequest;
    status: 201;
    response: RecoveryCodes;
    errors: "bad_request" | "payload_too_large" | "unauthenticated" | "invalid_token" | "account_disabled" | "wrong_password" | "rate_limited" | "internal";
  };
  /** Set a new password with a recovery code, and sign in. */
  "POST /api/v1/auth/recover": {
    request: RedeemCodeRequest;
    status: 200;
    response: AuthTokens;
    errors: "bad_request" | "payload_too_large" | "recovery_code_invalid" | "validation_failed" | "account_disabled" | "rate_limited" | "internal";
  };
  /** Answer a login's second-factor challenge. */
  "POST /api/v1/auth/second-factor": {
    request: SecondFactorSignIn;
    status: 200;
    response: AuthTokens;
    errors: "bad_request" | "payload_too_large" | "second_factor_challenge_invalid" | "second_factor_code_invalid" | "account_disabled" | "rate_limited" | "internal";
  };
  /** The caller's second factors. */
  "GET /api/v1/me/second-factor": {
    request: undefined;
    status: 200;
    response: SecondFactorStatus;
    errors: "unauthenticated" | "invalid_token" | "account_disabled" | "internal";
  };
  /** Add an authenticator app (TOTP). */
  "POST /api/v1/me/second-factor/totp": {
    request: undefined;
    status: 201;
    response: TotpEnrolment;
    errors: "unauthenticated" | "invalid_token" | "account_disabled" | "second_factor_already_enabled" | "internal";
  };
  /** Confirm the authenticator app with a code. */
  "POST /api/v1/me/second-factor/totp/confirm": {
    request: SecondFactorCode;
    status: 204;
    response: undefined;
    errors: "bad_request" | "payload_too_large" | "unauthenticated" | "invalid_token" | "account_disabled" | "second_factor_code_invalid" | "second_factor_not_found" | "rate_limited" | "internal";
  };
  /** Remove the authenticator app. */
  "DELETE /api/v1/me/second-factor/totp": {
    request: SecondFactorCode;
    status: 204;
    response: undefined;
    errors: "bad_request" | "payload_too_large" | "unauthenticated" | "invalid_token" | "account_disabled" | "second_factor_code_invalid" | "second_factor_not_found" | "rate_limited" | "internal";
  };
  /** Set a new password with a reset code from an admin, and sign in. */
  "POST /api/v1/auth/reset": {
    request: RedeemCodeRequest;
    status: 200;
    response: AuthTokens;
    errors: "bad_request" | "payload_too_large" | "reset_code_invalid" | "validation_failed" | "account_disabled" | "rate_limited" | "internal";
  };
  /** Issue a password reset code for an account. */
  "POST /api/v1/admin/accounts/{id}/reset-code": {
    request: undefined;
    status: 201;
    response: ResetCode;
    errors: "unauthenticated" | "invalid_token" | "account_disabled" | "admin_only" | "account_not_found" | "validation_failed" | "second_factor_required" | "internal";
  };
  /** Reset an account's lost second factor. */
  "POST /api/v1/admin/accounts/{id}/second-factor/reset": {
    request: undefined;
    status: 204;
    response: undefined;
    errors: "unauthenticated" | "invalid_token" | "account_disabled" | "admin_only" | "account_not_found" | "validation_failed" | "second_factor_not_found" | "second_factor_required" | "internal";
  };
  /** Alive. */
  "GET /healthz": {
    request: undefined;
    status: 200;
    response: Health;
    errors: never;
  };
  /** Ready. */
  "GET /readyz": {
    request: undefined;
    status: 200;
    response: Health;
    errors: "not_ready";
  };
  /** Prometheus metrics. */
  "GET /metrics": {
    request: undefined;
    status: 200;
    response: string;
    errors: "internal";
  };
  /** Begin registering a passkey. */
  "POST /api/v1/me/passkeys/registration": {
    request: undefined;
    status: 200;
    response: PasskeyChallenge;
    errors: "unauthenticated" | "invalid_token" | "account_disabled" | "validation_failed" | "internal";
  };
  /** Begin confirming with a passkey. */
  "POST /api/v1/me/passkeys/confirmation": {
    request: undefined;
    status: 200;
    response: PasskeyChallenge;
    errors: "unauthenticated" | "invalid_token" | "account_disabled" | "passkey_not_found" | "internal";
  };
  /** Finish registering a passkey. */
  "POST /api/v1/me/passkeys": {
    request: RegisterPasskeyRequest;
    status: 201;
    response: PasskeyInfo;
    errors: "bad_request" | "payload_too_large" | "unauthenticated" | "invalid_token" | "account_disabled" | "passkey_registration_failed" | "validation_failed" | "internal";
  };
  /** The caller's passkeys. */
  "GET /api/v1/me/passkeys": {
    request: undefined;
    status: 200;
    response: PasskeyInfo[];
    errors: "unauthenticated" | "invalid_token" | "account_disabled" | "internal";
  };
  /** Remove one of the caller's passkeys. */
  "DELETE /api/v1/me/passkeys/{id}": {
    request: undefined;
    status: 204;
    response: undefined;
    errors: "unauthenticated" | "invalid_token" | "account_disabled" | "passkey_not_found" | "internal";
  };
  /** Begin signing in with a passkey. */
  "POST /api/v1/auth/passkey/start": {
    request: PasskeySignInStart;
    status: 200;
    response: PasskeyChallenge;
    errors: "bad_request" | "payload_too_large" | "internal";
  };
  /** Sign in with a passkey: a new device session. */
  "POST /api/v1/auth/passkey/finish": {
    request: PasskeySignInFinish;
    status: 200;
    response: AuthTokens;
    errors: "bad_request" | "payload_too_large" | "invalid_credentials" | "account_disabled" | "rate_limited" | "internal";
  };
  /** Whether staff can sign in with the agency's identity provider. */
  "GET /api/v1/auth/oidc": {
    request: undefined;
    status: 200;
    response: OidcSignInOption;
    errors: "oidc_not_configured" | "internal";
  };
  /** Begin staff sign-in at the agency's identity provider (a browser navigation). */
  "GET /api/v1/auth/oidc/start": {
    request: undefined;
    status: 302;
    response: undefined;
    errors: "oidc_not_configured" | "oidc_provider_unavailable" | "rate_limited" | "internal";
  };
  /** Where the identity provider sends the browser back. */
  "GET /api/v1/auth/oidc/callback": {
    request: undefined;
    status: 302;
    response: undefined;
    errors: "oidc_not_configured" | "internal";
  };
  /** Trade a staff sign-in's handoff code for a device session. */
  "POST /api/v1/auth/oidc/exchange": {
    request: OidcExchangeRequest;
    status: 200;
    response: LoginResponse;
    errors: "bad_request" | "payload_too_large" | "oidc_not_configured" | "oidc_sign_in_failed" | "account_disabled" | "internal";
  };
  /** Name the plan as it stands. */
  "POST /api/v1/plans/{plan}/versions": {
    request: NameVersionRequest;
    status: 201;
    response: PlanVersion;
    errors: "bad_request" | "payload_too_large" | "unauthenticated" | "invalid_token" | "account_disabled" | "plan_not_found" | "validation_failed" | "internal";
  };
  /** The plan's named versions. */
  "GET /api/v1/plans/{plan}/versions": {
    request: undefined;
    status: 200;
    response: PlanVersion[];
    errors: "unauthenticated" | "invalid_token" | "account_disabled" | "plan_not_found" | "internal";
  };
  /** Open a named version. */
  "GET /api/v1/plans/{plan}/versions/{version}": {
    request: undefined;
    status: 200;
    response: PlanVersionView;
    errors: "unauthenticated" | "invalid_token" | "account_disabled" | "plan_not_found" | "version_not_found" | "internal";
  };
  /** Acknowledge a named version. */
  "POST /api/v1/plans/{plan}/versions/{version}/acknowledge": {
    request: undefined;
    status: 200;
    response: PlanVersion;
    errors: "unauthenticated" | "invalid_token" | "account_disabled" | "plan_not_found" | "version_not_found" | "version_named_by_you" | "version_already_acknowledged" | "internal";
  };
  /** Restore a named version. */
  "POST /api/v1/plans/{plan}/versions/{version}/restore": {
    request: undefined;
    status: 200;
    response: Heads;
    errors: "unauthenticated" | "invalid_token" | "account_disabled" | "plan_not_found" | "version_not_found" | "foreign_author" | "payload_too_large" | "internal";
  };
}
