//! Password hashing with argon2id, always on the blocking pool so a login never stalls the
//! async executor.

use std::sync::OnceLock;

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use rand::rngs::OsRng;
use secrecy::{ExposeSecret, SecretString};

/// Hashing failed, or the blocking task died.
#[derive(Debug, thiserror::Error)]
#[error("password hashing failed: {0}")]
pub struct PasswordError(String);

fn hash_blocking(password: &SecretString) -> Result<String, PasswordError> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.expose_secret().as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|err| PasswordError(err.to_string()))
}

/// Hash a password into an argon2id PHC string.
pub async fn hash_password(password: SecretString) -> Result<String, PasswordError> {
    tokio::task::spawn_blocking(move || hash_blocking(&password))
        .await
        .map_err(|err| PasswordError(err.to_string()))?
}

/// Check a password against a stored hash. With no stored hash (unknown account) a dummy hash is
/// checked instead, so the answer takes as long as for a real account.
pub async fn verify_password(
    password: SecretString,
    stored_hash: Option<String>,
) -> Result<bool, PasswordError> {
    tokio::task::spawn_blocking(move || {
        static DUMMY: OnceLock<Option<String>> = OnceLock::new();
        let (hash, real) = match stored_hash {
            Some(hash) => (hash, true),
            None => {
                let dummy = DUMMY.get_or_init(|| {
                    hash_blocking(&SecretString::from("not a real password at all")).ok()
                });
                (dummy.clone().unwrap_or_default(), false)
            }
        };
        let parsed = PasswordHash::new(&hash).map_err(|err| PasswordError(err.to_string()))?;
        let matches = Argon2::default()
            .verify_password(password.expose_secret().as_bytes(), &parsed)
            .is_ok();
        Ok(real && matches)
    })
    .await
    .map_err(|err| PasswordError(err.to_string()))?
}
