//! One error type for every HTTP answer: each service error maps to a status and a stable
//! [`ErrorCode`]. 5xx bodies are opaque; their cause chain goes to the log only.

use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use cairn_shared::{ErrorBody, ErrorCode, ErrorDetail};

use crate::auth::limits::RateLimited;
use crate::services::accounts::AccountError;
use crate::services::admin::AdminError;
use crate::services::credentials::CredentialError;
use crate::services::http_sync::HttpSyncError;
use crate::services::leaving::LeavingError;
use crate::services::passkeys::PasskeyError;
use crate::services::plans::PlanError;
use crate::sync::HubError;
use crate::sync::core::document::UploadError;

/// An HTTP error answer.
#[derive(Debug)]
pub struct AppError {
    status: StatusCode,
    code: ErrorCode,
    message: String,
    retry_after: Option<Duration>,
}

impl AppError {
    /// An error with a status, code and message for the client.
    pub fn new(status: StatusCode, code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            retry_after: None,
        }
    }

    /// A 500 whose cause is logged here and never sent to the client.
    pub fn internal(cause: &(dyn std::error::Error + 'static)) -> Self {
        let mut chain = cause.to_string();
        let mut source = cause.source();
        while let Some(next) = source {
            chain.push_str(": ");
            chain.push_str(&next.to_string());
            source = next.source();
        }
        tracing::error!(error = %chain, "request failed");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::Internal,
            "something went wrong on the server",
        )
    }

    /// A 400 for a body, path or query that could not be read.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, ErrorCode::BadRequest, message)
    }

    /// A 429 with `Retry-After`: an attempt limit was reached.
    pub fn rate_limited(limited: &RateLimited) -> Self {
        let mut error = Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            ErrorCode::RateLimited,
            limited.to_string(),
        );
        error.retry_after = Some(limited.wait);
        error
    }

    /// The stable code.
    pub fn code(&self) -> ErrorCode {
        self.code
    }
}

impl std::fmt::Display for AppError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}: {}", self.code, self.message)
    }
}

impl ResponseError for AppError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status);
        if let Some(wait) = self.retry_after {
            let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            response.insert_header((header::RETRY_AFTER, seconds.max(1).to_string()));
        }
        if self.status == StatusCode::UNAUTHORIZED {
            response.insert_header((header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer")));
        }
        response.json(ErrorBody {
            error: ErrorDetail {
                code: self.code,
                message: self.message.clone(),
            },
        })
    }
}

impl From<AccountError> for AppError {
    fn from(err: AccountError) -> Self {
        use AccountError as E;
        let (status, code) = match &err {
            E::InvalidInput(_) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                ErrorCode::ValidationFailed,
            ),
            E::UsernameTaken => (StatusCode::CONFLICT, ErrorCode::UsernameTaken),
            E::RegistrationClosed => (StatusCode::FORBIDDEN, ErrorCode::RegistrationClosed),
            E::EnrollmentCodeInvalid => (StatusCode::FORBIDDEN, ErrorCode::EnrollmentCodeInvalid),
            E::InvalidCredentials => (StatusCode::UNAUTHORIZED, ErrorCode::InvalidCredentials),
            E::AccountDisabled => (StatusCode::FORBIDDEN, ErrorCode::AccountDisabled),
            E::RateLimited(limited) => return AppError::rate_limited(limited),
            E::InvalidToken => (StatusCode::UNAUTHORIZED, ErrorCode::InvalidToken),
            E::InvalidRefreshToken => (StatusCode::UNAUTHORIZED, ErrorCode::InvalidRefreshToken),
            E::RefreshTokenReused => (StatusCode::UNAUTHORIZED, ErrorCode::RefreshTokenReused),
            E::SessionNotFound => (StatusCode::NOT_FOUND, ErrorCode::SessionNotFound),
            E::Store(_) | E::Password(_) | E::Token(_) => return AppError::internal(&err),
            E::ProviderEndedSession => (StatusCode::UNAUTHORIZED, ErrorCode::OidcSessionEnded),
            E::ProviderUnavailable => (
                StatusCode::SERVICE_UNAVAILABLE,
                ErrorCode::OidcProviderUnavailable,
            ),
        };
        AppError::new(status, code, err.to_string())
    }
}

impl From<crate::services::oidc::OidcError> for AppError {
    fn from(err: crate::services::oidc::OidcError) -> Self {
        use crate::services::oidc::OidcError as E;
        let (status, code) = match &err {
            E::NotConfigured => (StatusCode::NOT_FOUND, ErrorCode::OidcNotConfigured),
            E::SignInFailed => (StatusCode::BAD_REQUEST, ErrorCode::OidcSignInFailed),
            E::NotAllowed => (StatusCode::FORBIDDEN, ErrorCode::OidcNotAllowed),
            E::RateLimited(limited) => return AppError::rate_limited(limited),
            E::ProviderUnavailable => (
                StatusCode::SERVICE_UNAVAILABLE,
                ErrorCode::OidcProviderUnavailable,
            ),
            E::Account(_) => match err {
                E::Account(inner) => return inner.into(),
                _ => return AppError::internal(&err),
            },
            E::Store(_) | E::Crypto(_) => return AppError::internal(&err),
        };
        AppError::new(status, code, err.to_string())
    }
}

impl From<PasskeyError> for AppError {
    fn from(err: PasskeyError) -> Self {
        use PasskeyError as E;
        let (status, code) = match &err {
            E::InvalidInput(_) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                ErrorCode::ValidationFailed,
            ),
            E::NotFound => (StatusCode::NOT_FOUND, ErrorCode::PasskeyNotFound),
            E::RegistrationFailed(_) => (
                StatusCode::BAD_REQUEST,
                ErrorCode::PasskeyRegistrationFailed,
            ),
            E::InvalidCredentials => (StatusCode::UNAUTHORIZED, ErrorCode::InvalidCredentials),
            E::AccountDisabled => (StatusCode::FORBIDDEN, ErrorCode::AccountDisabled),
            E::NoPasskeys => (StatusCode::NOT_FOUND, ErrorCode::PasskeyNotFound),
            E::RateLimited(limited) => return AppError::rate_limited(limited),
            E::Account(_) => match err {
                E::Account(inner) => return inner.into(),
                _ => return AppError::internal(&err),
            },
            E::Store(_) | E::Internal(_) => return AppError::internal(&err),
        };
        AppError::new(status, code, err.to_string())
    }
}

impl From<PlanError> for AppError {
    fn from(err: PlanError) -> Self {
        use PlanError as E;
        let (status, code) = match &err {
            E::NotFound => (StatusCode::NOT_FOUND, ErrorCode::PlanNotFound),
            E::OwnerOnly => (StatusCode::FORBIDDEN, ErrorCode::OwnerOnly),
            E::PlanLimitReached(_) => (StatusCode::FORBIDDEN, ErrorCode::PlanLimitReached),
            E::AdminCannotUsePlans => (StatusCode::FORBIDDEN, ErrorCode::AdminCannotUsePlans),
            E::InvalidInput(_) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                ErrorCode::ValidationFailed,
            ),
            E::InvitationNotFound => (StatusCode::NOT_FOUND, ErrorCode::InvitationNotFound),
            E::InvitationExpired => (StatusCode::GONE, ErrorCode::InvitationExpired),
            E::InvitationUsed => (StatusCode::GONE, ErrorCode::InvitationUsed),
            E::RateLimited(limited) => return AppError::rate_limited(limited),
            E::AlreadyMember => (StatusCode::CONFLICT, ErrorCode::AlreadyMember),
            E::OwnerCannotLeave => (StatusCode::CONFLICT, ErrorCode::OwnerCannotLeave),
            E::MemberNotFound => (StatusCode::NOT_FOUND, ErrorCode::MemberNotFound),
            E::Document(_) | E::Store(_) => return AppError::internal(&err),
        };
        AppError::new(status, code, err.to_string())
    }
}

impl From<AdminError> for AppError {
    fn from(err: AdminError) -> Self {
        let (status, code) = match &err {
            AdminError::AdminOnly => (StatusCode::FORBIDDEN, ErrorCode::AdminOnly),
            AdminError::AccountNotFound => (StatusCode::NOT_FOUND, ErrorCode::AccountNotFound),
            AdminError::InvalidInput(_) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                ErrorCode::ValidationFailed,
            ),
            AdminError::Store(inner) => return AppError::internal(inner),
            AdminError::SecondFactorRequired => {
                (StatusCode::FORBIDDEN, ErrorCode::SecondFactorRequired)
            }
            AdminError::Account(_) => match err {
                AdminError::Account(inner) => return inner.into(),
                _ => unreachable!("matched just above"),
            },
        };
        AppError::new(status, code, err.to_string())
    }
}

impl From<crate::services::console::ConsoleError> for AppError {
    fn from(err: crate::services::console::ConsoleError) -> Self {
        use crate::services::console::ConsoleError as E;
        let (status, code) = match err {
            E::Admin(inner) => return inner.into(),
            E::CodeNotFound => (StatusCode::NOT_FOUND, ErrorCode::EnrollmentCodeNotFound),
            E::AlreadyRevoked => (
                StatusCode::CONFLICT,
                ErrorCode::EnrollmentCodeAlreadyRevoked,
            ),
        };
        AppError::new(status, code, err.to_string())
    }
}

impl From<crate::services::second_factor::SecondFactorError> for AppError {
    fn from(err: crate::services::second_factor::SecondFactorError) -> Self {
        use crate::services::second_factor::SecondFactorError as E;
        let message = err.to_string();
        let (status, code) = match err {
            E::CodeInvalid => (StatusCode::FORBIDDEN, ErrorCode::SecondFactorCodeInvalid),
            E::ChallengeInvalid => (
                StatusCode::UNAUTHORIZED,
                ErrorCode::SecondFactorChallengeInvalid,
            ),
            E::NotFound(_) => (StatusCode::NOT_FOUND, ErrorCode::SecondFactorNotFound),
            E::AlreadyEnabled => (StatusCode::CONFLICT, ErrorCode::SecondFactorAlreadyEnabled),
            E::RateLimited(limited) => return AppError::rate_limited(&limited),
            E::Admin(inner) => return inner.into(),
            E::Account(inner) => return inner.into(),
            E::Crypto(inner) => return AppError::internal(&inner),
            E::Store(inner) => return AppError::internal(&inner),
        };
        AppError::new(status, code, message)
    }
}

impl From<HttpSyncError> for AppError {
    fn from(err: HttpSyncError) -> Self {
        match err {
            HttpSyncError::Plan(err) => err.into(),
            HttpSyncError::BadHeads => AppError::bad_request(err.to_string()),
            HttpSyncError::Hub(err) => err.into(),
        }
    }
}

impl From<HubError> for AppError {
    fn from(err: HubError) -> Self {
        match err {
            HubError::NotFound | HubError::Upload(UploadError::NotAMember) => AppError::new(
                StatusCode::NOT_FOUND,
                ErrorCode::PlanNotFound,
                "plan not found",
            ),
            HubError::Upload(UploadError::Unreadable) => AppError::new(
                StatusCode::BAD_REQUEST,
                ErrorCode::BadRequest,
                "the body is not a sequence of Automerge changes",
            ),
            HubError::Upload(UploadError::NotYourActor) => AppError::new(
                StatusCode::FORBIDDEN,
                ErrorCode::ForeignAuthor,
                "refused: a change's author is another account",
            ),
            HubError::Upload(UploadError::TooLarge) => AppError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                ErrorCode::PayloadTooLarge,
                "refused: the plan would grow past its size limit",
            ),
            HubError::Upload(UploadError::TooManyOperations(limit)) => AppError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                ErrorCode::PayloadTooLarge,
                format!("refused: the plan would grow past its limit of {limit} operations"),
            ),
            HubError::Unavailable => AppError::internal(&err),
        }
    }
}

impl From<CredentialError> for AppError {
    fn from(err: CredentialError) -> Self {
        let (status, code) = match err {
            CredentialError::WrongPassword => (StatusCode::FORBIDDEN, ErrorCode::WrongPassword),
            CredentialError::RecoveryCodeInvalid => {
                (StatusCode::UNAUTHORIZED, ErrorCode::RecoveryCodeInvalid)
            }
            CredentialError::ResetCodeInvalid => {
                (StatusCode::UNAUTHORIZED, ErrorCode::ResetCodeInvalid)
            }
            CredentialError::Account(inner) => return inner.into(),
            CredentialError::Admin(inner) => return inner.into(),
        };
        AppError::new(status, code, err.to_string())
    }
}

impl From<LeavingError> for AppError {
    fn from(err: LeavingError) -> Self {
        use LeavingError as E;
        let (status, code) = match &err {
            E::InvalidInput(_) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                ErrorCode::ValidationFailed,
            ),
            E::WrongPassword | E::PasskeyRefused => {
                (StatusCode::UNAUTHORIZED, ErrorCode::InvalidCredentials)
            }
            E::Passkey(_) => match err {
                E::Passkey(inner) => return inner.into(),
                _ => return AppError::internal(&err),
            },
            E::RateLimited(limited) => return AppError::rate_limited(limited),
            E::SoleAdmin => (StatusCode::CONFLICT, ErrorCode::SoleAdmin),
            E::Gone => (StatusCode::UNAUTHORIZED, ErrorCode::InvalidToken),
            E::Plan(_) | E::Store(_) | E::Password(_) => return AppError::internal(&err),
        };
        AppError::new(status, code, err.to_string())
    }
}

impl From<crate::services::versions::VersionError> for AppError {
    fn from(err: crate::services::versions::VersionError) -> Self {
        use crate::services::versions::VersionError as E;
        let (status, code) = match &err {
            E::NotFound => (StatusCode::NOT_FOUND, ErrorCode::VersionNotFound),
            E::NamedByYou => (StatusCode::CONFLICT, ErrorCode::VersionNamedByYou),
            E::AlreadyAcknowledged => (StatusCode::CONFLICT, ErrorCode::VersionAlreadyAcknowledged),
            E::Plan(_) | E::Hub(_) => {
                return match err {
                    E::Plan(inner) => inner.into(),
                    E::Hub(inner) => inner.into(),
                    _ => AppError::internal(&err),
                };
            }
        };
        AppError::new(status, code, err.to_string())
    }
}
