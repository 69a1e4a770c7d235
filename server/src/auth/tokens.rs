//! Access tokens: HS256 JWTs with `iss`, `aud`, `exp`, `sub` (account) and `sid` (device
//! session). The algorithm is pinned: a token with any other `alg`, `none` included, is refused.

use cairn_shared::{SessionId, UserId};
use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The claims Cairn puts in and requires of an access token.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    /// Issuer.
    pub iss: String,
    /// Audience.
    pub aud: String,
    /// The account.
    pub sub: Uuid,
    /// The device session.
    pub sid: Uuid,
    /// Issued at (seconds since the epoch).
    pub iat: i64,
    /// Expires at (seconds since the epoch).
    pub exp: i64,
}

/// Why a token was refused. Deliberately not more specific: the caller learns only "invalid".
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// Bad signature, algorithm, issuer, audience, expiry or shape.
    #[error("invalid access token")]
    Invalid,
    /// The token could not be signed.
    #[error("could not sign the access token")]
    Signing(#[source] jsonwebtoken::errors::Error),
}

/// The signing key and the rules every access token is checked against.
pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    issuer: String,
    audience: String,
    ttl_secs: i64,
}

impl std::fmt::Debug for TokenKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenKeys")
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .finish_non_exhaustive()
    }
}

impl TokenKeys {
    /// Keys from an HMAC secret.
    pub fn new(secret: &[u8], issuer: &str, audience: &str, ttl_secs: i64) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[issuer]);
        validation.set_audience(&[audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.leeway = 5;
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
            issuer: issuer.to_owned(),
            audience: audience.to_owned(),
            ttl_secs,
        }
    }

    /// Seconds an access token lives.
    pub fn ttl_secs(&self) -> i64 {
        self.ttl_secs
    }

    /// Sign an access token for this account and session.
    pub fn issue(
        &self,
        user: UserId,
        session: SessionId,
        now: DateTime<Utc>,
    ) -> Result<String, TokenError> {
        let claims = Claims {
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            sub: user.0,
            sid: session.0,
            iat: now.timestamp(),
            exp: now.timestamp() + self.ttl_secs,
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(TokenError::Signing)
    }

    /// Check signature, algorithm, issuer, audience and expiry.
    pub fn verify(&self, token: &str) -> Result<Claims, TokenError> {
        jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map(|data| data.claims)
            .map_err(|_| TokenError::Invalid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_tokens_from_another_key_audience_or_algorithm() {
        let keys = TokenKeys::new(&[7u8; 32], "cairn", "cairn", 60);
        let now = Utc::now();
        let user = UserId::new_random();
        let session = SessionId::new_random();
        let good = keys.issue(user, session, now).unwrap_or_default();
        assert_eq!(keys.verify(&good).map(|c| c.sub).ok(), Some(user.0));

        let other_key = TokenKeys::new(&[8u8; 32], "cairn", "cairn", 60);
        assert!(
            keys.verify(&other_key.issue(user, session, now).unwrap_or_default())
                .is_err()
        );
        let other_audience = TokenKeys::new(&[7u8; 32], "cairn", "elsewhere", 60);
        assert!(
            keys.verify(&other_audience.issue(user, session, now).unwrap_or_default())
                .is_err()
        );
        let expired = keys
            .issue(user, session, now - chrono::Duration::hours(1))
            .unwrap_or_default();
        assert!(keys.verify(&expired).is_err());
    }
}
