//! The REST API as OpenAPI 3.1: Cairn's own table of routes (paths, methods, bodies, statuses
//! and the error codes each can answer, read off `server/src/routes` and the services behind
//! them), with component schemas generated from `cairn-shared` by schemars.

use cairn_shared::ErrorCode;
use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use crate::render::error_code_docs;

/// Who may call a route, and how they say who they are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Auth {
    /// Anyone.
    None,
    /// `Authorization: Bearer <access token>`.
    Bearer,
    /// A bearer token, or `?token=` (browsers cannot set headers on a WebSocket).
    BearerOrQueryToken,
}

/// What a request carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Request {
    /// Nothing (a body, if sent, is ignored).
    None,
    /// A JSON body of this component schema.
    Json(&'static str),
    /// A JSON body of this component schema, or no body at all (then the defaults apply).
    OptionalJson(&'static str),
    /// Concatenated Automerge change bytes.
    Changes,
}

/// What a successful call answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Success {
    /// This status with a JSON body of this component schema.
    Json(u16, &'static str),
    /// 200 with a JSON array of this component schema.
    List(&'static str),
    /// 204, no body.
    NoContent,
    /// 200 with concatenated Automerge change bytes and the plan's heads in a header.
    Changes,
    /// 200 with the plan as a file in the asked format.
    Export,
    /// 200 with Prometheus text.
    Metrics,
    /// 101: the WebSocket upgrade.
    Upgrade,
    /// 302 to the address in `Location` (a browser navigation, not a fetch).
    Redirect,
}

/// A parameter in the path or the query.
#[derive(Debug, Clone, Copy)]
pub struct Param {
    /// Its name.
    pub name: &'static str,
    /// `path` or `query`.
    pub place: &'static str,
    /// Whether it must be given.
    pub required: bool,
    /// What it is.
    pub description: &'static str,
    /// Its schema, as JSON text.
    pub schema: &'static str,
}

/// One route and method.
#[derive(Debug, Clone)]
pub struct Operation {
    /// `get`, `post`, `delete`.
    pub method: &'static str,
    /// The route template as the server registers it, e.g. `/api/v1/plans/{plan}`.
    pub path: &'static str,
    /// The OpenAPI `operationId`.
    pub id: &'static str,
    /// The group it belongs to.
    pub tag: &'static str,
    /// One line.
    pub summary: &'static str,
    /// More, in the product's words.
    pub description: &'static str,
    /// Who may call it.
    pub auth: Auth,
    /// Path and query parameters.
    pub params: Vec<Param>,
    /// The request body.
    pub request: Request,
    /// The successful answer.
    pub success: Success,
    /// The error codes this route can answer besides the ones that follow from `auth` and
    /// `request` (see [`Operation::error_codes`]).
    pub errors: Vec<ErrorCode>,
}

impl Operation {
    /// `GET /api/v1/plans/{plan}`.
    pub fn key(&self) -> String {
        format!("{} {}", self.method.to_uppercase(), self.path)
    }

    /// Every error code this route can answer.
    pub fn error_codes(&self) -> Vec<ErrorCode> {
        let mut codes = Vec::new();
        match self.request {
            Request::Json(_) => codes.extend([ErrorCode::BadRequest, ErrorCode::PayloadTooLarge]),
            Request::OptionalJson(_) | Request::Changes => codes.push(ErrorCode::BadRequest),
            Request::None => {}
        }
        if self.auth != Auth::None {
            codes.extend([
                ErrorCode::Unauthenticated,
                ErrorCode::InvalidToken,
                ErrorCode::AccountDisabled,
            ]);
        }
        codes.extend(self.errors.iter().copied());
        // Every admin route needs a second factor passed in the session (`require_admin`).
        if self.path.starts_with("/api/v1/admin/") {
            codes.push(ErrorCode::SecondFactorRequired);
        }
        // Everything that touches the database can fail there; only `/healthz` does not.
        if self.path != "/healthz" && self.path != "/readyz" {
            codes.push(ErrorCode::Internal);
        }
        let mut unique = Vec::new();
        for code in codes {
            if !unique.contains(&code) {
                unique.push(code);
            }
        }
        unique
    }
}

/// The HTTP status Cairn answers each error code with (`server/src/error.rs`).
pub fn status_of(code: ErrorCode) -> u16 {
    use ErrorCode as E;
    match code {
        E::BadRequest | E::PasskeyRegistrationFailed | E::OidcSignInFailed => 400,
        E::Unauthenticated
        | E::InvalidToken
        | E::InvalidCredentials
        | E::InvalidRefreshToken
        | E::RefreshTokenReused
        | E::RecoveryCodeInvalid
        | E::ResetCodeInvalid
        | E::SecondFactorChallengeInvalid
        | E::OidcSessionEnded => 401,
        E::AccountDisabled
        | E::RegistrationClosed
        | E::EnrollmentCodeInvalid
        | E::AdminOnly
        | E::AdminCannotUsePlans
        | E::OwnerOnly
        | E::PlanLimitReached
        | E::ForeignAuthor
        | E::WrongPassword
        | E::SecondFactorRequired
        | E::SecondFactorCodeInvalid
        | E::OidcNotAllowed => 403,
        E::PlanNotFound
        | E::AccountNotFound
        | E::MemberNotFound
        | E::SessionNotFound
        | E::InvitationNotFound
        | E::NotFound
        | E::PasskeyNotFound
        | E::SecondFactorNotFound
        | E::EnrollmentCodeNotFound
        | E::VersionNotFound => 404,
        E::OidcNotConfigured => 404,
        E::MethodNotAllowed => 405,
        E::UsernameTaken
        | E::AlreadyMember
        | E::OwnerCannotLeave
        | E::SoleAdmin
        | E::SecondFactorAlreadyEnabled
        | E::EnrollmentCodeAlreadyRevoked
        | E::VersionNamedByYou
        | E::VersionAlreadyAcknowledged => 409,
        E::InvitationExpired | E::InvitationUsed => 410,
        E::PayloadTooLarge => 413,
        E::ValidationFailed => 422,
        E::RateLimited => 429,
        E::Internal => 500,
        E::NotReady | E::OidcProviderUnavailable => 503,
    }
}

/// The wire name of an error code (`plan_not_found`).
pub fn code_name(code: ErrorCode) -> String {
    serde_json::to_value(code)
        .ok()
        .and_then(|value| value.as_str().map(str::to_owned))
        .unwrap_or_default()
}

const PLAN: Param = Param {
    name: "plan",
    place: "path",
    required: true,
    description: "The plan: its id (UUID), its automerge-repo document id, or its whole \
                  `automerge:` URL. A plan the caller is not a member of is answered exactly \
                  like one that does not exist.",
    schema: r#"{"type": "string"}"#,
};

const ACCOUNT: Param = Param {
    name: "id",
    place: "path",
    required: true,
    description: "The account id (UUID).",
    schema: r#"{"type": "string", "format": "uuid"}"#,
};

fn op(
    method: &'static str,
    path: &'static str,
    id: &'static str,
    tag: &'static str,
    summary: &'static str,
    description: &'static str,
) -> Operation {
    Operation {
        method,
        path,
        id,
        tag,
        summary,
        description,
        auth: Auth::Bearer,
        params: Vec::new(),
        request: Request::None,
        success: Success::NoContent,
        errors: Vec::new(),
    }
}

impl Operation {
    fn anyone(mut self) -> Self {
        self.auth = Auth::None;
        self
    }
    fn token_in_query_too(mut self) -> Self {
        self.auth = Auth::BearerOrQueryToken;
        self
    }
    fn params(mut self, params: &[Param]) -> Self {
        self.params = params.to_vec();
        self
    }
    fn request(mut self, request: Request) -> Self {
        self.request = request;
        self
    }
    fn answers(mut self, success: Success) -> Self {
        self.success = success;
        self
    }
    fn errors(mut self, errors: &[ErrorCode]) -> Self {
        self.errors = errors.to_vec();
        self
    }
}

/// Every route of the REST API and the sync endpoint, in the order the README lists them.
pub fn operations() -> Vec<Operation> {
    use ErrorCode as E;
    vec![
        op(
            "post",
            "/api/v1/auth/register",
            "register",
            "auth",
            "Register a member account and log it in",
            "Open to anyone, by enrollment code, or closed, as the server's `CAIRN_REGISTRATION` \
             says. Starts a device session and answers with its tokens. Sign-ups are rate \
             limited per client address, and wrong enrollment codes too.",
        )
        .anyone()
        .request(Request::Json("RegisterRequest"))
        .answers(Success::Json(201, "AuthTokens"))
        .errors(&[
            E::RegistrationClosed,
            E::EnrollmentCodeInvalid,
            E::ValidationFailed,
            E::UsernameTaken,
            E::RateLimited,
        ]),
        op(
            "post",
            "/api/v1/auth/login",
            "login",
            "auth",
            "Log in: a new device session",
            "A short-lived access token (JWT) and a single-use refresh token bound to a new \
             device session. Attempts are rate limited per account and client address, per \
             client address, and by a ceiling per account. For an account with a second \
             factor, a right password answers `{\"secondFactor\": {challenge, methods, \
             expiresAt}}` instead: answer it at `POST /api/v1/auth/second-factor` within 5 \
             minutes.",
        )
        .anyone()
        .request(Request::Json("LoginRequest"))
        .answers(Success::Json(200, "LoginResponse"))
        .errors(&[E::InvalidCredentials, E::AccountDisabled, E::RateLimited]),
        op(
            "post",
            "/api/v1/auth/refresh",
            "refresh",
            "auth",
            "Trade a refresh token for new tokens",
            "The old refresh token stops working; presenting it again ends the whole device \
             session (it may have been stolen).",
        )
        .anyone()
        .request(Request::Json("RefreshRequest"))
        .answers(Success::Json(200, "AuthTokens"))
        .errors(&[
            E::InvalidRefreshToken,
            E::RefreshTokenReused,
            E::AccountDisabled,
            E::OidcSessionEnded,
            E::OidcProviderUnavailable,
        ]),
        op(
            "post",
            "/api/v1/auth/logout",
            "logout",
            "auth",
            "Log out: end the current device session",
            "Its refresh token stops working and its sync connections close.",
        ),
        op(
            "get",
            "/api/v1/me",
            "getMe",
            "me",
            "The caller's account",
            "",
        )
        .answers(Success::Json(200, "Account")),
        op(
            "get",
            "/api/v1/me/leaving",
            "previewLeaving",
            "me",
            "What deleting the caller's account would delete",
            "Before \"Leave Cairn\": the plans the caller owns (each deleted for everyone, with \
             how many supporters lose it), the plans they support (they leave each; it stays \
             with its owner) and how many device sessions end. Nothing changes.",
        )
        .answers(Success::Json(200, "LeavingPreview")),
        op(
            "delete",
            "/api/v1/me",
            "deleteAccount",
            "me",
            "Delete the caller's account (\"Leave Cairn\")",
            "Confirmed by the account's password or by a passkey's answer to `POST \
             /api/v1/me/passkeys/confirmation`, exactly one of them (a wrong one is 401 \
             `invalid_credentials`, limited as logins are, and changes nothing). Every plan the caller owns is deleted \
             as `DELETE /api/v1/plans/{id}` deletes it (members' devices lose it at once); they \
             leave every plan they support; every device session and sync connection ends at \
             once and the account never signs in again. Its id stays, so what it wrote in other \
             people's plans stays attributed to it, shown everywhere as \"a former member\"; \
             its display name and password are wiped and its username is free again. The only \
             enabled admin account cannot leave (409 `sole_admin`). Answers 204.",
        )
        .request(Request::Json("DeleteAccountRequest"))
        .answers(Success::NoContent)
        .errors(&[
            E::ValidationFailed,
            E::InvalidCredentials,
            E::RateLimited,
            E::SoleAdmin,
        ]),
        op(
            "get",
            "/api/v1/me/sessions",
            "listSessions",
            "me",
            "The caller's device sessions",
            "Every active login of the account, to spot and end a lost phone's.",
        )
        .answers(Success::List("DeviceSession")),
        op(
            "get",
            "/api/v1/me/activity",
            "getActivity",
            "me",
            "What happened to the caller's account",
            "Newest first: sign-ins (device and time; the address only where the agency turned \
             that on), password, passkey and code changes, and every act an admin did to the \
             account, with who did it. No secrets, no plan content.",
        )
        .params(&[Param {
            name: "limit",
            place: "query",
            required: false,
            description: "How many entries, newest first.",
            schema: r#"{"type": "integer", "minimum": 1, "maximum": 200, "default": 50}"#,
        }])
        .answers(Success::List("ActivityEntry"))
        .errors(&[E::BadRequest]),
        op(
            "delete",
            "/api/v1/me/sessions/{id}",
            "endSession",
            "me",
            "End one of the caller's device sessions",
            "Its refresh token stops working, its access tokens are refused and its sync \
             connections close.",
        )
        .params(&[Param {
            name: "id",
            place: "path",
            required: true,
            description: "The device session's id (UUID).",
            schema: r#"{"type": "string", "format": "uuid"}"#,
        }])
        .errors(&[E::SessionNotFound]),
        op(
            "patch",
            "/api/v1/me/sessions/{id}",
            "renameSession",
            "me",
            "Rename one of the caller's device sessions",
            "Give a device a name its owner will recognise in the session list (\"Maria's \
             phone\"): 1 to 64 characters once trimmed, no control characters (422 otherwise). \
             Another account's session, or one that has ended, is 404 `session_not_found`. \
             Answers the session as it is now.",
        )
        .params(&[Param {
            name: "id",
            place: "path",
            required: true,
            description: "The device session's id (UUID).",
            schema: r#"{"type": "string", "format": "uuid"}"#,
        }])
        .request(Request::Json("RenameSessionRequest"))
        .answers(Success::Json(200, "DeviceSession"))
        .errors(&[E::SessionNotFound, E::ValidationFailed]),
        op(
            "post",
            "/api/v1/plans",
            "createPlan",
            "plans",
            "Create a plan",
            "A new plan with the schema-v1 skeleton (see `PlanDocument`); the caller owns it. \
             The body may be left out. The answer's `url` is what an automerge-repo client \
             passes to `repo.find`. An account that owns as many plans as the server allows \
             (`CAIRN_PLANS_PER_ACCOUNT`) gets 403 `plan_limit_reached`.",
        )
        .request(Request::OptionalJson("CreatePlanRequest"))
        .answers(Success::Json(201, "PlanSummary"))
        .errors(&[
            E::AdminCannotUsePlans,
            E::ValidationFailed,
            E::PlanLimitReached,
        ]),
        op(
            "get",
            "/api/v1/plans",
            "listPlans",
            "plans",
            "The caller's plans",
            "Every plan the caller owns or supports, with their role and every member's name.",
        )
        .answers(Success::List("PlanSummary"))
        .errors(&[E::AdminCannotUsePlans]),
        op(
            "get",
            "/api/v1/plans/{plan}",
            "getPlan",
            "plans",
            "One plan with its document as JSON",
            "Members only. The read is recorded in the plan's access log.",
        )
        .params(&[PLAN])
        .answers(Success::Json(200, "PlanDetail"))
        .errors(&[E::PlanNotFound]),
        op(
            "delete",
            "/api/v1/plans/{plan}",
            "deletePlan",
            "plans",
            "Delete a plan",
            "Owner only. Deletes the plan and everything stored for it; everyone syncing it is \
             told it is gone.",
        )
        .params(&[PLAN])
        .errors(&[E::PlanNotFound, E::OwnerOnly]),
        op(
            "post",
            "/api/v1/plans/{plan}/invitations",
            "invite",
            "members",
            "Invite a supporter",
            "Owner only. A short single-use code like `K7QM-3XPA-Z9RT` with an expiry, to read \
             aloud, type or show as a QR code.",
        )
        .params(&[PLAN])
        .answers(Success::Json(201, "Invitation"))
        .errors(&[E::PlanNotFound, E::OwnerOnly]),
        op(
            "post",
            "/api/v1/invitations/{code}/accept",
            "acceptInvitation",
            "members",
            "Join a plan as a supporter",
            "With the code the owner gave. Case, spaces and dashes in the code do not matter. \
             A supporter has the same edit rights on the plan's content as the owner. Wrong \
             codes are rate limited per account and per client address.",
        )
        .params(&[Param {
            name: "code",
            place: "path",
            required: true,
            description: "The invitation code, as typed.",
            schema: r#"{"type": "string"}"#,
        }])
        .answers(Success::Json(200, "PlanSummary"))
        .errors(&[
            E::AdminCannotUsePlans,
            E::InvitationNotFound,
            E::InvitationExpired,
            E::InvitationUsed,
            E::AlreadyMember,
            E::RateLimited,
        ]),
        op(
            "get",
            "/api/v1/plans/{plan}/members",
            "listMembers",
            "members",
            "The plan's members",
            "Owner first, then supporters.",
        )
        .params(&[PLAN])
        .answers(Success::List("PlanMember"))
        .errors(&[E::PlanNotFound]),
        op(
            "delete",
            "/api/v1/plans/{plan}/members/{user}",
            "removeMember",
            "members",
            "Remove a supporter, or leave",
            "The owner removes any supporter; a supporter may remove only themself. Their open \
             sync of the plan stops at once. The owner cannot leave their own plan.",
        )
        .params(&[
            PLAN,
            Param {
                name: "user",
                place: "path",
                required: true,
                description: "The member's account id (UUID).",
                schema: r#"{"type": "string", "format": "uuid"}"#,
            },
        ])
        .errors(&[
            E::PlanNotFound,
            E::OwnerOnly,
            E::OwnerCannotLeave,
            E::MemberNotFound,
        ]),
        op(
            "get",
            "/api/v1/plans/{plan}/history",
            "getHistory",
            "transparency",
            "Every change to the plan",
            "Oldest first: hash, author (account and display name), when it was received and \
             made, how many operations.",
        )
        .params(&[PLAN])
        .answers(Success::List("HistoryEntry"))
        .errors(&[E::PlanNotFound]),
        op(
            "get",
            "/api/v1/plans/{plan}/history/sessions",
            "getHistorySessions",
            "transparency",
            "The history in words",
            "Oldest first: each member's sessions of editing (their changes no more than half an \
             hour apart), with what each did item by item (`said`: goals, steps, strengths, \
             supports and check-ins added, removed or changed, a status set, a step marked done) \
             and the same as English sentences (\"Sam marked ‘Call the housing office’ done\").",
        )
        .params(&[PLAN])
        .answers(Success::List("HistorySession"))
        .errors(&[E::PlanNotFound]),
        op(
            "get",
            "/api/v1/plans/{plan}/conflicts",
            "getConflicts",
            "plans",
            "Fields the members set differently at the same time",
            "Where concurrent edits left different values on one field (a goal's status, a \
             step's `who`, `done` or due date, …): every value still standing, with the account \
             that chose it, in the same order on every device. A member settles one by writing \
             the value they choose, an ordinary change; it is then gone for everyone. Text in \
             people's words never conflicts: it merges.",
        )
        .params(&[PLAN])
        .answers(Success::List("PlanConflict"))
        .errors(&[E::PlanNotFound]),
        op(
            "get",
            "/api/v1/plans/{plan}/export",
            "exportPlan",
            "transparency",
            "Export the plan",
            "As JSON (the document with its authors' names), a printable Markdown page, or a \
             FHIR R4 Bundle (CarePlan and Goals) for another care system. Any member may \
             export JSON and Markdown; FHIR is the owner's decision alone. Every export is \
             recorded in the access log.",
        )
        .params(&[
            PLAN,
            Param {
                name: "format",
                place: "query",
                required: true,
                description: "The format of the file.",
                schema: r#"{"type": "string", "enum": ["json", "markdown", "fhir"]}"#,
            },
            Param {
                name: "version",
                place: "query",
                required: false,
                description: "A named version's id: export it instead of the plan as it is \
                              now. Every export says which version it shows.",
                schema: r#"{"type": "string"}"#,
            },
        ])
        .answers(Success::Export)
        .errors(&[
            E::BadRequest,
            E::PlanNotFound,
            E::OwnerOnly,
            E::VersionNotFound,
        ]),
        op(
            "get",
            "/api/v1/plans/{plan}/access-log",
            "getAccessLog",
            "transparency",
            "Who accessed the plan",
            "Newest first: reads, syncs, exports, invitations, joins and removals, each with \
             the account, device session and time. Every member reads all of it; it holds no \
             plan content and no invitation codes.",
        )
        .params(&[
            PLAN,
            Param {
                name: "limit",
                place: "query",
                required: false,
                description: "How many entries, newest first.",
                schema: r#"{"type": "integer", "minimum": 1, "maximum": 500, "default": 100}"#,
            },
        ])
        .answers(Success::List("AccessLogEntry"))
        .errors(&[E::BadRequest, E::PlanNotFound]),
        op(
            "get",
            "/api/v1/plans/{plan}/changes",
            "getChanges",
            "sync",
            "HTTP sync: the changes the caller lacks",
            "For service workers and simple clients. Same membership checks as the sync socket.",
        )
        .params(&[
            PLAN,
            Param {
                name: "since",
                place: "query",
                required: false,
                description: "The heads the caller has, as comma-separated hex change hashes; \
                              left out, every change is sent.",
                schema: r#"{"type": "string", "pattern": "^([0-9a-f]{64}(,[0-9a-f]{64})*)?$"}"#,
            },
        ])
        .answers(Success::Changes)
        .errors(&[E::BadRequest, E::PlanNotFound]),
        op(
            "post",
            "/api/v1/plans/{plan}/changes",
            "uploadChanges",
            "sync",
            "HTTP sync: send changes",
            "Stored durably, then sent to everyone syncing the plan. The same authorship rule as \
             the socket: a change whose Automerge actor belongs to another account is refused, \
             and nothing of the upload is applied. Changes that would take the plan past its \
             size limit are refused (413) and nothing is applied.",
        )
        .params(&[PLAN])
        .request(Request::Changes)
        .answers(Success::Json(200, "Heads"))
        .errors(&[E::PlanNotFound, E::ForeignAuthor, E::PayloadTooLarge]),
        op(
            "get",
            "/sync",
            "sync",
            "sync",
            "The automerge-repo sync WebSocket",
            "Upgrades to a WebSocket speaking the automerge-repo network protocol v1 (binary \
             CBOR frames: `join`/`peer`, `sync`, `request`, `doc-unavailable`, `ephemeral`, \
             `error`), so any automerge-repo 2.x client syncs unchanged. The token is checked \
             before the upgrade; every message is then checked against the plan's members \
             (anyone else gets `doc-unavailable`, as for a plan that does not exist). An \
             account already holding its limit of open sync connections gets 429.",
        )
        .params(&[Param {
            name: "token",
            place: "query",
            required: false,
            description: "The access token, for clients that cannot set headers on a \
                              WebSocket (browsers). Or send `Authorization: Bearer`.",
            schema: r#"{"type": "string"}"#,
        }])
        .token_in_query_too()
        .answers(Success::Upgrade)
        .errors(&[E::BadRequest, E::RateLimited]),
        op(
            "get",
            "/api/v1/admin/accounts",
            "listAccounts",
            "admin",
            "Every account, or a search a page at a time",
            "Admins only. No plan content. Without parameters, every account by creation; with              any of `q`, `limit`, `offset`, the accounts whose username or display name              contains `q` (any case), by username, a page at a time.",
        )
        .params(&[
            Param {
                name: "q",
                place: "query",
                required: false,
                description: "Words in the username or display name (at most 200 characters).",
                schema: r#"{"type": "string"}"#,
            },
            Param {
                name: "limit",
                place: "query",
                required: false,
                description: "How many accounts on a page.",
                schema: r#"{"type": "integer", "minimum": 1, "maximum": 200, "default": 50}"#,
            },
            Param {
                name: "offset",
                place: "query",
                required: false,
                description: "How many accounts to skip (the pages before).",
                schema: r#"{"type": "integer", "minimum": 0, "default": 0}"#,
            },
        ])
        .answers(Success::List("Account"))
        .errors(&[E::BadRequest, E::AdminOnly, E::ValidationFailed]),
        op(
            "post",
            "/api/v1/admin/accounts",
            "createAccount",
            "admin",
            "Create an account",
            "Admins only. A member (default) or another admin, with an initial password to hand \
             to the person.",
        )
        .request(Request::Json("CreateAccountRequest"))
        .answers(Success::Json(201, "Account"))
        .errors(&[E::AdminOnly, E::ValidationFailed, E::UsernameTaken]),
        op(
            "post",
            "/api/v1/admin/accounts/{id}/disable",
            "disableAccount",
            "admin",
            "Disable an account",
            "Admins only. Ends every session of the account at once and closes its sync \
             connections. An admin cannot disable their own account.",
        )
        .params(&[ACCOUNT])
        .answers(Success::Json(200, "Account"))
        .errors(&[E::AdminOnly, E::AccountNotFound, E::ValidationFailed]),
        op(
            "post",
            "/api/v1/admin/accounts/{id}/enable",
            "enableAccount",
            "admin",
            "Enable an account again",
            "Admins only.",
        )
        .params(&[ACCOUNT])
        .answers(Success::Json(200, "Account"))
        .errors(&[E::AdminOnly, E::AccountNotFound]),
        op(
            "post",
            "/api/v1/admin/enrollment-codes",
            "createEnrollmentCode",
            "admin",
            "Issue an enrollment code",
            "Admins only. A code for registering member accounts when registration is by \
             enrollment; shown once. The body may be left out.",
        )
        .request(Request::OptionalJson("CreateEnrollmentCodeRequest"))
        .answers(Success::Json(201, "EnrollmentCode"))
        .errors(&[E::AdminOnly, E::ValidationFailed]),
        op(
            "get",
            "/api/v1/admin/enrollment-codes",
            "listEnrollmentCodes",
            "admin",
            "Every enrollment code, never the code",
            "Admins only. Newest first: label, uses, expiry and state (active, used up,              expired, revoked). The code itself is shown only once, when it is made.",
        )
        .answers(Success::List("EnrollmentCodeInfo"))
        .errors(&[E::AdminOnly]),
        op(
            "delete",
            "/api/v1/admin/enrollment-codes/{id}",
            "revokeEnrollmentCode",
            "admin",
            "Revoke an enrollment code",
            "Admins only. Nobody registers with it from now on (accounts it registered stay).              Recorded in the audit. Revoking it again is 409.",
        )
        .params(&[Param {
            name: "id",
            place: "path",
            required: true,
            description: "The enrollment code's id (UUID), from the list.",
            schema: r#"{"type": "string", "format": "uuid"}"#,
        }])
        .errors(&[
            E::AdminOnly,
            E::EnrollmentCodeNotFound,
            E::EnrollmentCodeAlreadyRevoked,
        ]),
        op(
            "get",
            "/api/v1/admin/health",
            "getAdminHealth",
            "admin",
            "How the server is doing",
            "Admins only. Version, database kind and reachability, migrations applied and known,              instances seen lately, the last backup.",
        )
        .answers(Success::Json(200, "AdminHealth"))
        .errors(&[E::AdminOnly]),
        op(
            "get",
            "/api/v1/admin/counts",
            "getCounts",
            "admin",
            "Numbers of accounts, plans and memberships",
            "Admins only. Numbers, never content.",
        )
        .answers(Success::Json(200, "Counts"))
        .errors(&[E::AdminOnly]),
        op(
            "get",
            "/api/v1/admin/audit",
            "getAudit",
            "admin",
            "Every act of an admin",
            "Admins only. Newest first, a page at a time: accounts created, disabled and \
             enabled, reset, enrollment and second-factor acts, key rotations from the command \
             line; who, what, whom and when. Append-only; no plan content, no codes.",
        )
        .params(&[
            Param {
                name: "before",
                place: "query",
                required: false,
                description: "The `nextBefore` of the previous page; left out, the newest.",
                schema: r#"{"type": "integer"}"#,
            },
            Param {
                name: "limit",
                place: "query",
                required: false,
                description: "How many acts on a page.",
                schema: r#"{"type": "integer", "minimum": 1, "maximum": 200, "default": 50}"#,
            },
        ])
        .answers(Success::Json(200, "AuditPage"))
        .errors(&[E::BadRequest, E::AdminOnly]),
        op(
            "post",
            "/api/v1/me/password",
            "changePassword",
            "me",
            "Change the caller's password",
            "Needs the current password (a wrong one is 403 `wrong_password`; guesses are rate \
             limited like logins). The new password follows the registration rules (422). Every \
             other device session of the account ends at once, its sync connections closed; \
             this one continues.",
        )
        .request(Request::Json("ChangePasswordRequest"))
        .errors(&[E::WrongPassword, E::ValidationFailed, E::RateLimited]),
        op(
            "get",
            "/api/v1/me/recovery-codes",
            "getRecoveryCodeStatus",
            "me",
            "How many recovery codes the caller has left",
            "How many codes of the current set are unused and when the set was made; never the \
             codes.",
        )
        .answers(Success::Json(200, "RecoveryCodeStatus")),
        op(
            "post",
            "/api/v1/me/recovery-codes",
            "newRecoveryCodes",
            "me",
            "A new set of recovery codes",
            "Ten one-time codes like `K7QM-3XPA`, shown this once (the server keeps only their \
             hashes); the previous set stops working. Confirmed by the account's password (a \
             wrong one is `403 wrong_password`, limited as logins are, and changes nothing).",
        )
        .request(Request::Json("NewRecoveryCodesRequest"))
        .answers(Success::Json(201, "RecoveryCodes"))
        .errors(&[E::WrongPassword, E::RateLimited]),
        op(
            "post",
            "/api/v1/auth/recover",
            "recover",
            "auth",
            "Set a new password with a recovery code, and sign in",
            "The code is used up and every device session of the account ends (sync \
             connections closed); answers tokens for a new session. A used code, another \
             account's code and an unknown username get the same 401 \
             `recovery_code_invalid`. Guesses are rate limited per account and per address.",
        )
        .anyone()
        .request(Request::Json("RedeemCodeRequest"))
        .answers(Success::Json(200, "AuthTokens"))
        .errors(&[
            E::RecoveryCodeInvalid,
            E::ValidationFailed,
            E::AccountDisabled,
            E::RateLimited,
        ]),
        op(
            "post",
            "/api/v1/auth/second-factor",
            "signInSecondFactor",
            "auth",
            "Answer a login's second-factor challenge",
            "The challenge from the login answer and a current code from the authenticator \
             app: a new device session that passed the second factor. The challenge is single \
             use and lasts 5 minutes; a code is accepted once; wrong codes are rate limited per \
             account and client address.",
        )
        .anyone()
        .request(Request::Json("SecondFactorSignIn"))
        .answers(Success::Json(200, "AuthTokens"))
        .errors(&[
            E::SecondFactorChallengeInvalid,
            E::SecondFactorCodeInvalid,
            E::AccountDisabled,
            E::RateLimited,
        ]),
        op(
            "get",
            "/api/v1/me/second-factor",
            "getSecondFactor",
            "me",
            "The caller's second factors",
            "Which are enabled, and whether an enrolment waits for its code; never a secret.",
        )
        .answers(Success::Json(200, "SecondFactorStatus")),
        op(
            "post",
            "/api/v1/me/second-factor/totp",
            "startTotp",
            "me",
            "Add an authenticator app (TOTP)",
            "A new seed (base32, and as an `otpauth://` URI for a QR code), shown this once; \
             pending until confirmed with a code. A new start replaces a pending one.",
        )
        .answers(Success::Json(201, "TotpEnrolment"))
        .errors(&[E::SecondFactorAlreadyEnabled]),
        op(
            "post",
            "/api/v1/me/second-factor/totp/confirm",
            "confirmTotp",
            "me",
            "Confirm the authenticator app with a code",
            "Enables the pending TOTP factor; this session counts as having passed it (admin \
             routes need that). Wrong codes are rate limited.",
        )
        .request(Request::Json("SecondFactorCode"))
        .errors(&[
            E::SecondFactorCodeInvalid,
            E::SecondFactorNotFound,
            E::RateLimited,
        ]),
        op(
            "delete",
            "/api/v1/me/second-factor/totp",
            "removeTotp",
            "me",
            "Remove the authenticator app",
            "Needs a current code. No session counts as having passed a second factor after.",
        )
        .request(Request::Json("SecondFactorCode"))
        .errors(&[
            E::SecondFactorCodeInvalid,
            E::SecondFactorNotFound,
            E::RateLimited,
        ]),
        op(
            "post",
            "/api/v1/auth/reset",
            "resetPassword",
            "auth",
            "Set a new password with a reset code from an admin, and sign in",
            "As `recover`, with a reset code an admin issued (one-time, expires within a day). \
             A used, expired, voided or another account's code and an unknown username get the \
             same 401 `reset_code_invalid`.",
        )
        .anyone()
        .request(Request::Json("RedeemCodeRequest"))
        .answers(Success::Json(200, "AuthTokens"))
        .errors(&[
            E::ResetCodeInvalid,
            E::ValidationFailed,
            E::AccountDisabled,
            E::RateLimited,
        ]),
        op(
            "post",
            "/api/v1/admin/accounts/{id}/reset-code",
            "issueResetCode",
            "admin",
            "Issue a password reset code for an account",
            "Admins only, for another account (member or admin; never their own: 422), not a \
             disabled one (422). A one-time code like `K7QM-3XPA` to hand to the person, who \
             chooses a new password with it; it expires after `CAIRN_RESET_CODE_TTL_HOURS` \
             (default 24) and a new one voids the previous one. The admin never learns the \
             password. The body is ignored.",
        )
        .params(&[ACCOUNT])
        .answers(Success::Json(201, "ResetCode"))
        .errors(&[E::AdminOnly, E::AccountNotFound, E::ValidationFailed]),
        op(
            "post",
            "/api/v1/admin/accounts/{id}/second-factor/reset",
            "resetSecondFactor",
            "admin",
            "Reset an account's lost second factor",
            "Admins only. Removes the account's second factor and ends its sessions; recorded \
             in the audit and the account's activity. Not one's own (422): another admin does \
             that.",
        )
        .params(&[ACCOUNT])
        .errors(&[
            E::AdminOnly,
            E::AccountNotFound,
            E::ValidationFailed,
            E::SecondFactorNotFound,
        ]),
        op("get", "/healthz", "healthz", "operations", "Alive", "")
            .anyone()
            .answers(Success::Json(200, "Health")),
        op(
            "get",
            "/readyz",
            "readyz",
            "operations",
            "Ready",
            "The database is reachable and every migration is applied.",
        )
        .anyone()
        .answers(Success::Json(200, "Health"))
        .errors(&[E::NotReady]),
        op(
            "get",
            "/metrics",
            "metrics",
            "operations",
            "Prometheus metrics",
            "Counts and gauges for operators; never content.",
        )
        .anyone()
        .answers(Success::Metrics),
        op(
            "post",
            "/api/v1/me/passkeys/registration",
            "startPasskeyRegistration",
            "me",
            "Begin registering a passkey",
            "Answers a ceremony id and the options for `navigator.credentials.create` (binary \
             fields base64url). Finish within five minutes with `POST /api/v1/me/passkeys`.",
        )
        .answers(Success::Json(200, "PasskeyChallenge"))
        .errors(&[E::ValidationFailed]),
        op(
            "post",
            "/api/v1/me/passkeys/confirmation",
            "startPasskeyConfirmation",
            "me",
            "Begin confirming with a passkey",
            "For confirming an act of the caller's with one of their passkeys instead of their \
             password (today: `DELETE /api/v1/me`). Answers a ceremony id and the options for \
             `navigator.credentials.get`; the signed answer goes in the act's `passkey` field \
             within five minutes. `404 passkey_not_found` when the account has no passkey.",
        )
        .answers(Success::Json(200, "PasskeyChallenge"))
        .errors(&[E::PasskeyNotFound]),
        op(
            "post",
            "/api/v1/me/passkeys",
            "registerPasskey",
            "me",
            "Finish registering a passkey",
            "The browser's new credential for the registration's ceremony; the ceremony is used \
             up whether or not it verifies (`400 passkey_registration_failed`: start again).",
        )
        .request(Request::Json("RegisterPasskeyRequest"))
        .answers(Success::Json(201, "PasskeyInfo"))
        .errors(&[E::PasskeyRegistrationFailed, E::ValidationFailed]),
        op(
            "get",
            "/api/v1/me/passkeys",
            "listPasskeys",
            "me",
            "The caller's passkeys",
            "Names and dates only; key material is never sent.",
        )
        .answers(Success::List("PasskeyInfo")),
        op(
            "delete",
            "/api/v1/me/passkeys/{id}",
            "removePasskey",
            "me",
            "Remove one of the caller's passkeys",
            "It can no longer sign in. Another account's passkey is 404 `passkey_not_found`.",
        )
        .params(&[Param {
            name: "id",
            place: "path",
            required: true,
            description: "The passkey's id (UUID).",
            schema: r#"{"type": "string", "format": "uuid"}"#,
        }])
        .errors(&[E::PasskeyNotFound]),
        op(
            "post",
            "/api/v1/auth/passkey/start",
            "startPasskeySignIn",
            "auth",
            "Begin signing in with a passkey",
            "Answers a ceremony id and the options for `navigator.credentials.get`. The answer \
             looks the same whether or not the username exists or has passkeys.",
        )
        .anyone()
        .request(Request::Json("PasskeySignInStart"))
        .answers(Success::Json(200, "PasskeyChallenge")),
        op(
            "post",
            "/api/v1/auth/passkey/finish",
            "finishPasskeySignIn",
            "auth",
            "Sign in with a passkey: a new device session",
            "The browser's signed answer for the sign-in's ceremony; the same tokens as a \
             password login. The ceremony is used up whether or not it verifies. Attempts are \
             rate limited like logins.",
        )
        .anyone()
        .request(Request::Json("PasskeySignInFinish"))
        .answers(Success::Json(200, "AuthTokens"))
        .errors(&[E::InvalidCredentials, E::AccountDisabled, E::RateLimited]),
        op(
            "get",
            "/api/v1/auth/oidc",
            "getOidcSignIn",
            "auth",
            "Whether staff can sign in with the agency's identity provider",
            "The name for the sign-in button and where it leads; 404 `oidc_not_configured` when \
             staff sign-in is off.",
        )
        .anyone()
        .answers(Success::Json(200, "OidcSignInOption"))
        .errors(&[E::OidcNotConfigured]),
        op(
            "get",
            "/api/v1/auth/oidc/start",
            "startOidcSignIn",
            "auth",
            "Begin staff sign-in at the agency's identity provider (a browser navigation)",
            "Redirects the browser to the provider (authorization code flow with PKCE) and sets \
             a short-lived cookie binding the sign-in to this browser. Limited per client \
             address like registrations.",
        )
        .anyone()
        .answers(Success::Redirect)
        .errors(&[
            E::OidcNotConfigured,
            E::OidcProviderUnavailable,
            E::RateLimited,
        ]),
        op(
            "get",
            "/api/v1/auth/oidc/callback",
            "finishOidcSignIn",
            "auth",
            "Where the identity provider sends the browser back",
            "Checks the sign-in and its ID token, links or creates the staff account, and \
             redirects to the PWA with `#oidc=<handoff code>` (trade it at `POST \
             /api/v1/auth/oidc/exchange`) or `#oidc-error=<error code>`. Never tokens in an \
             address.",
        )
        .anyone()
        .params(&[
            Param {
                name: "code",
                place: "query",
                required: false,
                description: "The provider's authorization code.",
                schema: r#"{"type": "string"}"#,
            },
            Param {
                name: "state",
                place: "query",
                required: false,
                description: "The state the sign-in began with.",
                schema: r#"{"type": "string"}"#,
            },
            Param {
                name: "error",
                place: "query",
                required: false,
                description: "The provider's error, when it refused.",
                schema: r#"{"type": "string"}"#,
            },
        ])
        .answers(Success::Redirect)
        .errors(&[E::OidcNotConfigured]),
        op(
            "post",
            "/api/v1/auth/oidc/exchange",
            "exchangeOidcHandoff",
            "auth",
            "Trade a staff sign-in's handoff code for a device session",
            "The code from `#oidc=` works once, for two minutes. Answers like a login: tokens, \
             or, for an account with Cairn's own second factor when the provider did not report \
             a multi-factor sign-in, its challenge.",
        )
        .anyone()
        .request(Request::Json("OidcExchangeRequest"))
        .answers(Success::Json(200, "LoginResponse"))
        .errors(&[
            E::OidcNotConfigured,
            E::OidcSignInFailed,
            E::AccountDisabled,
        ]),
        op(
            "post",
            "/api/v1/plans/{plan}/versions",
            "nameVersion",
            "plans",
            "Name the plan as it stands",
            "Either member names the plan as it is now (\"what we agreed on 2 March\"): the \
             document's heads, with the name (1 to 200 characters, no line breaks; sealed at \
             rest like all plan content), who and when. The other member may acknowledge it.",
        )
        .params(&[PLAN])
        .request(Request::Json("NameVersionRequest"))
        .answers(Success::Json(201, "PlanVersion"))
        .errors(&[E::PlanNotFound, E::ValidationFailed]),
        op(
            "get",
            "/api/v1/plans/{plan}/versions",
            "listVersions",
            "plans",
            "The plan's named versions",
            "Oldest first: name, who named it and when, who acknowledged it and when.",
        )
        .params(&[PLAN])
        .answers(Success::List("PlanVersion"))
        .errors(&[E::PlanNotFound]),
        op(
            "get",
            "/api/v1/plans/{plan}/versions/{version}",
            "openVersion",
            "plans",
            "Open a named version",
            "The plan document as it was at the version (read-only), and what changed since, \
             item by item (`changedSince`) and in English sentences.",
        )
        .params(&[PLAN, VERSION])
        .answers(Success::Json(200, "PlanVersionView"))
        .errors(&[E::PlanNotFound, E::VersionNotFound]),
        op(
            "post",
            "/api/v1/plans/{plan}/versions/{version}/acknowledge",
            "acknowledgeVersion",
            "plans",
            "Acknowledge a named version",
            "The other member says they have seen it; once, and never by the one who named it.",
        )
        .params(&[PLAN, VERSION])
        .answers(Success::Json(200, "PlanVersion"))
        .errors(&[
            E::PlanNotFound,
            E::VersionNotFound,
            E::VersionNamedByYou,
            E::VersionAlreadyAcknowledged,
        ]),
        op(
            "post",
            "/api/v1/plans/{plan}/versions/{version}/restore",
            "restoreVersion",
            "plans",
            "Restore a named version",
            "Brings the plan back to the version's content as ONE new change by the caller, on \
             top of the whole history (nothing is rewritten or truncated): items removed since \
             are put back with their ids, items added since are removed, words and values put \
             back. Stored and sent to everyone syncing like an upload (same limits); what an \
             offline member wrote meanwhile merges when they reconnect. Answers the heads.",
        )
        .params(&[PLAN, VERSION])
        .answers(Success::Json(200, "Heads"))
        .errors(&[
            E::PlanNotFound,
            E::VersionNotFound,
            E::ForeignAuthor,
            E::PayloadTooLarge,
        ]),
    ]
}

const VERSION: Param = Param {
    name: "version",
    place: "path",
    required: true,
    description: "The named version's id (UUID).",
    schema: r#"{"type": "string"}"#,
};

/// The documented response of an operation for a status, following a `$ref` to a shared one:
/// its JSON pointer in the document, and the response.
pub fn documented_response<'a>(
    document: &'a Value,
    operation: &Operation,
    status: &str,
) -> Option<(String, &'a Value)> {
    let pointer = format!(
        "/paths/{}/{}/responses/{status}",
        pointer_segment(operation.path),
        operation.method
    );
    let response = document.pointer(&pointer)?;
    match response.get("$ref").and_then(Value::as_str) {
        Some(reference) => {
            let pointer = reference.trim_start_matches('#').to_owned();
            document.pointer(&pointer).map(|shared| (pointer, shared))
        }
        None => Some((pointer, response)),
    }
}

/// A JSON pointer segment (`/` and `~` escaped).
pub fn pointer_segment(segment: &str) -> String {
    segment.replace('~', "~0").replace('/', "~1")
}

fn schema_ref(name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

fn parse(schema: &str) -> Value {
    match serde_json::from_str(schema) {
        Ok(value) => value,
        Err(err) => panic!("a parameter schema in the route table is not JSON: {err}: {schema}"),
    }
}

/// The error codes of one route by status.
fn errors_by_status(operation: &Operation) -> BTreeMap<u16, Vec<String>> {
    let mut by_status: BTreeMap<u16, Vec<String>> = BTreeMap::new();
    for code in operation.error_codes() {
        by_status
            .entry(status_of(code))
            .or_default()
            .push(code_name(code));
    }
    by_status
}

/// The name of a shared error response: its codes in PascalCase (`PlanNotFound`,
/// `UnauthenticatedOrInvalidToken`). Each code has one status, so the name is unique.
fn error_response_name(codes: &[String]) -> String {
    codes
        .iter()
        .map(|code| {
            code.split('_')
                .map(|word| {
                    let mut chars = word.chars();
                    chars
                        .next()
                        .map(|first| first.to_uppercase().chain(chars).collect::<String>())
                        .unwrap_or_default()
                })
                .collect::<String>()
        })
        .collect::<Vec<_>>()
        .join("Or")
}

/// An error answer with these codes, each explained.
fn error_response(status: u16, codes: &[String], docs: &BTreeMap<String, String>) -> Value {
    let description = codes
        .iter()
        .map(|code| format!("- `{code}`: {}", docs.get(code).map_or("", String::as_str)))
        .collect::<Vec<_>>()
        .join("\n");
    let mut response = json!({
        "description": description,
        "content": { "application/json": { "schema": {
            "allOf": [schema_ref("ErrorBody")],
            "properties": { "error": { "properties": { "code": { "enum": codes } } } }
        } } }
    });
    let headers = match status {
        401 => Some(json!({ "WWW-Authenticate": {
            "description": "Always `Bearer`.",
            "schema": { "type": "string" }
        } })),
        429 => Some(json!({ "Retry-After": {
            "description": "Seconds to wait before trying again.",
            "schema": { "type": "integer", "minimum": 1 }
        } })),
        _ => None,
    };
    if let Some(headers) = headers {
        response["headers"] = headers;
    }
    response
}

fn success_response(success: Success) -> (String, Value) {
    let json_body = |schema: Value| json!({ "application/json": { "schema": schema } });
    match success {
        Success::Json(status, name) => (
            status.to_string(),
            json!({
                "description": if status == 201 { "Created." } else { "OK." },
                "content": json_body(schema_ref(name)),
            }),
        ),
        Success::List(name) => (
            "200".into(),
            json!({
                "description": "OK.",
                "content": json_body(json!({ "type": "array", "items": schema_ref(name) })),
            }),
        ),
        Success::NoContent => ("204".into(), json!({ "description": "Done; no content." })),
        Success::Changes => (
            "200".into(),
            json!({
                "description": "The changes the caller lacks, as concatenated Automerge change \
                                bytes (empty when it lacks none), oldest first, ready for \
                                `Automerge.loadIncremental`.",
                "headers": { "X-Automerge-Heads": {
                    "description": "The plan's heads after these changes: comma-separated \
                                    hex change hashes, to send as `since` next time.",
                    "required": true,
                    "schema": { "type": "string" }
                } },
                "content": { "application/octet-stream": {} },
            }),
        ),
        Success::Export => (
            "200".into(),
            json!({
                "description": "The plan as a file, named after its id (never its title).",
                "headers": { "Content-Disposition": {
                    "description": "`attachment; filename=\"cairn-plan-<id>.<ext>\"`.",
                    "required": true,
                    "schema": { "type": "string" }
                } },
                "content": {
                    "application/json": { "schema": { "type": "object" } },
                    "text/markdown": { "schema": { "type": "string" } },
                    "application/fhir+json": { "schema": {
                        "type": "object",
                        "description": "A FHIR R4 (4.0.1) Bundle."
                    } }
                },
            }),
        ),
        Success::Metrics => (
            "200".into(),
            json!({
                "description": "Prometheus text exposition format 0.0.4.",
                "content": { "text/plain": { "schema": { "type": "string" } } },
            }),
        ),
        Success::Redirect => (
            "302".into(),
            json!({
                "description": "Found: the browser goes on to the address in `Location`.",
                "headers": { "Location": { "schema": { "type": "string" } } },
            }),
        ),
        Success::Upgrade => (
            "101".into(),
            json!({
                "description": "Switching Protocols: the connection is now the sync WebSocket. \
                                The server pings every few seconds and drops silent sockets; \
                                oversized frames, floods and malformed messages get an \
                                `error` message and a close.",
                "headers": { "Upgrade": { "schema": { "const": "websocket" } } },
            }),
        ),
    }
}

fn request_body(request: Request) -> Option<Value> {
    match request {
        Request::None => None,
        Request::Json(name) => Some(json!({
            "required": true,
            "content": { "application/json": { "schema": schema_ref(name) } }
        })),
        Request::OptionalJson(name) => Some(json!({
            "required": false,
            "content": { "application/json": { "schema": schema_ref(name) } }
        })),
        Request::Changes => Some(json!({
            "required": true,
            "description": "Automerge changes, concatenated (as `Automerge.getChanges` gives \
                            them, or a saved document).",
            "content": { "application/octet-stream": {} }
        })),
    }
}

fn security(auth: Auth) -> Value {
    match auth {
        Auth::None => json!([]),
        Auth::Bearer => json!([{ "bearer": [] }]),
        Auth::BearerOrQueryToken => json!([{ "bearer": [] }, { "queryToken": [] }]),
    }
}

/// The whole OpenAPI document.
pub fn document(components: &Map<String, Value>) -> Value {
    let docs = error_code_docs();
    // Error answers that several routes share are described once, in `components/responses`.
    let mut uses: BTreeMap<(u16, Vec<String>), usize> = BTreeMap::new();
    for operation in operations() {
        for (status, codes) in errors_by_status(&operation) {
            *uses.entry((status, codes)).or_default() += 1;
        }
    }
    let mut shared_responses = Map::new();
    for ((status, codes), count) in &uses {
        if *count > 1 {
            shared_responses.insert(
                error_response_name(codes),
                error_response(*status, codes, &docs),
            );
        }
    }
    let mut paths = Map::new();
    for operation in operations() {
        let mut responses = Map::new();
        let (status, success) = success_response(operation.success);
        responses.insert(status, success);
        for (status, codes) in errors_by_status(&operation) {
            let response = if uses[&(status, codes.clone())] > 1 {
                json!({ "$ref": format!("#/components/responses/{}", error_response_name(&codes)) })
            } else {
                error_response(status, &codes, &docs)
            };
            responses.insert(status.to_string(), response);
        }
        let mut entry = json!({
            "operationId": operation.id,
            "tags": [operation.tag],
            "summary": operation.summary,
            "security": security(operation.auth),
            "responses": responses,
        });
        if !operation.description.is_empty() {
            entry["description"] = operation.description.into();
        }
        if !operation.params.is_empty() {
            entry["parameters"] = operation
                .params
                .iter()
                .map(|param| {
                    json!({
                        "name": param.name,
                        "in": param.place,
                        "required": param.required,
                        "description": param.description,
                        "schema": parse(param.schema),
                    })
                })
                .collect();
        }
        if let Some(body) = request_body(operation.request) {
            entry["requestBody"] = body;
        }
        let item = paths
            .entry(operation.path)
            .or_insert_with(|| Value::Object(Map::new()));
        item[operation.method] = entry;
    }

    json!({
        "openapi": "3.1.1",
        "info": {
            "title": "Cairn",
            "version": env!("CARGO_PKG_VERSION"),
            "summary": "Sync server for shared recovery plans.",
            "description": INFO,
            "license": { "name": "AGPL-3.0-or-later", "identifier": "AGPL-3.0-or-later" },
        },
        "tags": [
            { "name": "auth", "description": "Accounts and device sessions: register, log in, refresh, log out." },
            { "name": "me", "description": "The caller's account and device sessions." },
            { "name": "plans", "description": "Plans: create, list, read, delete." },
            { "name": "members", "description": "Who writes a plan: invitations, members, leaving." },
            { "name": "transparency", "description": "Every member sees the plan's history, access log and exports." },
            { "name": "sync", "description": "Syncing plans: the automerge-repo WebSocket, and HTTP sync for service workers." },
            { "name": "admin", "description": "Agency staff: accounts, enrollment codes, counts. Never plan content." },
            { "name": "operations", "description": "Probes and metrics for operators." },
        ],
        "paths": paths,
        "components": {
            "schemas": components,
            "responses": shared_responses,
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "JWT",
                    "description": "An access token from register, login or refresh.",
                },
                "queryToken": {
                    "type": "apiKey",
                    "in": "query",
                    "name": "token",
                    "description": "The same access token in the query string: only `GET /sync` \
                                    takes it (browsers cannot set headers on a WebSocket).",
                },
            },
        },
    })
}

const INFO: &str = "The REST API of Cairn, a sync server for shared recovery plans. A plan is an \
Automerge document that a person (its owner) and their supporters write together; the plan \
document's schema is `PlanDocument` (also `plan.schema.json`).

Every error is answered as `{\"error\": {\"code\": \"...\", \"message\": \"...\"}}` (`ErrorBody`) \
with a stable `code`; each operation lists the codes it can answer. Every route can also answer \
`404 not_found` (no such route) and `405 method_not_allowed`; 5xx answers say nothing about the \
cause.

Whoever is not a member of a plan (admins included) gets `404 plan_not_found` for it, the same \
answer as for a plan that does not exist. Wherever a plan id is expected, its document id or its \
`automerge:` URL is accepted too.

Plans sync over `GET /sync` (automerge-repo's WebSocket protocol) or over HTTP with \
`/api/v1/plans/{plan}/changes`.";
