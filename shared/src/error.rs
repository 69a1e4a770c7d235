//! Error responses. Every failed REST call answers `{"error": {"code": "...", "message": "..."}}`
//! where `code` is one of [`ErrorCode`]: stable, so clients may branch on it.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A stable, machine-readable reason for a failed request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The request body or query could not be read (malformed JSON, wrong content type).
    BadRequest,
    /// The request was readable but a field is not acceptable; the message says which.
    ValidationFailed,
    /// The body is larger than the server accepts.
    PayloadTooLarge,
    /// No access token was sent.
    Unauthenticated,
    /// The access token is invalid, expired, forged or for a session that has ended.
    InvalidToken,
    /// Wrong username or password.
    InvalidCredentials,
    /// The account has been disabled by an admin.
    AccountDisabled,
    /// Too many attempts; try again after the `Retry-After` header's seconds.
    RateLimited,
    /// The refresh token is unknown, expired or its session has ended.
    InvalidRefreshToken,
    /// A refresh token was used a second time; its whole session has been ended.
    RefreshTokenReused,
    /// Registration is closed on this server: an admin creates accounts.
    RegistrationClosed,
    /// Registration needs a valid, unexpired enrollment code.
    EnrollmentCodeInvalid,
    /// The username is already taken.
    UsernameTaken,
    /// Only an admin account may do this.
    AdminOnly,
    /// Admin accounts manage accounts; they cannot own, join or read plans.
    AdminCannotUsePlans,
    /// Only the plan's owner may do this.
    OwnerOnly,
    /// The account owns as many plans as this server allows (`plans_per_account`).
    PlanLimitReached,
    /// The plan does not exist, or you are not one of its members (the two are not told apart).
    PlanNotFound,
    /// No account with that id.
    AccountNotFound,
    /// The person is not a member of this plan.
    MemberNotFound,
    /// No device session with that id for this account.
    SessionNotFound,
    /// The invitation code is unknown.
    InvitationNotFound,
    /// The invitation code has expired; ask the owner for a new one.
    InvitationExpired,
    /// The invitation code has already been used.
    InvitationUsed,
    /// You are already a member of this plan.
    AlreadyMember,
    /// The owner cannot leave or be removed from their own plan; they may delete it.
    OwnerCannotLeave,
    /// A change's author (Automerge actor) belongs to another account.
    ForeignAuthor,
    /// No such route.
    NotFound,
    /// The route exists but not with this method.
    MethodNotAllowed,
    /// The server is not ready (database unreachable or migrations pending).
    NotReady,
    /// Something went wrong on the server; the details are in its log, not in this response.
    Internal,
    /// The current password given to change it is wrong.
    WrongPassword,
    /// The username and recovery code do not match an unused recovery code.
    RecoveryCodeInvalid,
    /// The username and reset code do not match an unused, unexpired reset code.
    ResetCodeInvalid,
    /// The only enabled admin account cannot be deleted: the server would have no admin left.
    SoleAdmin,
    /// No passkey with that id on this account.
    PasskeyNotFound,
    /// The passkey registration could not be finished: the ceremony is unknown, expired or
    /// already used, or the browser's credential did not verify. Start again.
    PasskeyRegistrationFailed,
    /// Admin routes need a second factor, on the account and passed by this session: add one at
    /// `/api/v1/me/second-factor/totp`, or sign in again with it.
    SecondFactorRequired,
    /// The second factor's code is wrong, or was already used.
    SecondFactorCodeInvalid,
    /// The sign-in challenge is unknown, used or expired: sign in again with the password.
    SecondFactorChallengeInvalid,
    /// There is no such second factor (none enabled, or no enrolment waiting to be confirmed).
    SecondFactorNotFound,
    /// A second factor is already enabled; remove it before adding another.
    SecondFactorAlreadyEnabled,
    /// No enrollment code with that id.
    EnrollmentCodeNotFound,
    /// The enrollment code was already revoked.
    EnrollmentCodeAlreadyRevoked,
    /// Staff sign-in through the agency's identity provider is not configured on this server.
    OidcNotConfigured,
    /// The sign-in through the identity provider did not check out (an unknown, used or expired
    /// sign-in or handoff code, or an ID token that failed its checks): start again.
    OidcSignInFailed,
    /// The identity provider signed the person in, but their tenant or email domain may not
    /// sign in to this server.
    OidcNotAllowed,
    /// The identity provider could not be reached; try again in a moment.
    OidcProviderUnavailable,
    /// The identity provider no longer lets this person sign in: the device session has ended.
    OidcSessionEnded,
    /// The plan has no named version with that id.
    VersionNotFound,
    /// You named this version: the other member acknowledges it, not the one who named it.
    VersionNamedByYou,
    /// The version was already acknowledged.
    VersionAlreadyAcknowledged,
}

/// The body of every error response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ErrorBody {
    /// What went wrong.
    pub error: ErrorDetail,
}

/// What went wrong: a stable code and a human-readable message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ErrorDetail {
    /// The stable reason.
    pub code: ErrorCode,
    /// A sentence for people; may change between versions.
    pub message: String,
}
