//! TOTP (RFC 6238) second factors: SHA-1, six digits, 30-second steps, as every authenticator
//! app accepts, with one step of clock skew either way. Seeds are 160 random bits, stored
//! sealed (AES-256-GCM, bound to the account) under a key derived from the server secret, so a
//! copy of the database alone does not give anyone's codes.

use aes_gcm::{Aes256Gcm, Key, KeyInit};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use cairn_shared::UserId;
use rand::RngCore;
use rand::rngs::OsRng;
use totp_rs::{Algorithm, Builder, Secret, Totp};

use super::secrets::CodeHasher;
use crate::crypto::{CryptoError, open, seal};

/// The HKDF `info` that separates the seed-sealing key from every other use of the secret.
const SEED_KEY_INFO: &[u8] = b"cairn: totp seeds v1";
/// Seconds per code.
pub const STEP_SECS: u64 = 30;
/// Digits per code.
const DIGITS: u8 = 6;
/// Steps either side of now that are accepted (a phone's clock a little off).
const SKEW: u16 = 1;
/// Bytes of seed (160 bits, RFC 4226's recommendation).
const SEED_BYTES: usize = 20;

/// A new random seed.
pub fn new_seed() -> Vec<u8> {
    let mut seed = vec![0u8; SEED_BYTES];
    OsRng.fill_bytes(&mut seed);
    seed
}

fn cipher(codes: &CodeHasher) -> Aes256Gcm {
    Aes256Gcm::new(&Key::<Aes256Gcm>::from(codes.derive_key(SEED_KEY_INFO)))
}

fn context(user: UserId) -> Vec<u8> {
    let mut aad = b"cairn totp\0".to_vec();
    aad.extend_from_slice(user.0.as_bytes());
    aad
}

/// The stored form of `user`'s seed: base64 of the sealed bytes.
pub fn seal_seed(codes: &CodeHasher, user: UserId, seed: &[u8]) -> Result<String, CryptoError> {
    Ok(STANDARD.encode(seal(&cipher(codes), &context(user), seed)?))
}

/// `user`'s seed back from its stored form.
pub fn open_seed(codes: &CodeHasher, user: UserId, sealed: &str) -> Result<Vec<u8>, CryptoError> {
    let blob = STANDARD
        .decode(sealed)
        .map_err(|_| CryptoError::Unreadable)?;
    open(&cipher(codes), &context(user), &blob)
}

fn totp(seed: &[u8]) -> Option<Totp> {
    Builder::new()
        .with_algorithm(Algorithm::SHA1)
        .with_digits(DIGITS)
        .with_skew(SKEW)
        .with_step_duration(STEP_SECS)
        .with_secret(seed.to_vec())
        .build()
        .ok()
}

/// The seed in base32 (what a person types into an app).
pub fn base32(seed: &[u8]) -> String {
    Secret::from(seed.to_vec()).to_base32()
}

/// The time step `code` is right for at `unix_secs` (within the skew), if any. Spaces in the
/// code are ignored; anything but six digits is wrong.
pub fn check(seed: &[u8], code: &str, unix_secs: u64) -> Option<u64> {
    let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    if code.len() != usize::from(DIGITS) || !code.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    totp(seed)?.check(&code, unix_secs)
}

/// The code for `seed` at `unix_secs` (tests, and clients written in Rust).
pub fn code_at(seed: &[u8], unix_secs: u64) -> Option<String> {
    Some(totp(seed)?.generate(unix_secs).to_string())
}

/// The code for a base32 seed (as the enrolment answer gives it) at `unix_secs`: what an
/// authenticator app shows (tests, and clients written in Rust).
pub fn code_for_base32(secret: &str, unix_secs: u64) -> Option<String> {
    let seed = Secret::try_from_base32(secret).ok()?;
    code_at(&seed, unix_secs)
}

fn uri_component(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The `otpauth://` URI an authenticator app reads (as a QR code) to add the account.
pub fn otpauth_uri(issuer: &str, account: &str, secret_base32: &str) -> String {
    let issuer = uri_component(issuer);
    format!(
        "otpauth://totp/{issuer}:{account}?secret={secret_base32}&issuer={issuer}\
         &algorithm=SHA1&digits={DIGITS}&period={STEP_SECS}",
        account = uri_component(account),
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn rfc_6238_sha1_vectors_and_one_step_of_skew() {
        let seed = b"12345678901234567890";
        // RFC 6238 appendix B, SHA-1, last six digits.
        assert_eq!(code_at(seed, 59).unwrap(), "287082");
        assert_eq!(code_at(seed, 1111111109).unwrap(), "081804");
        assert_eq!(check(seed, "081804", 1111111109), Some(1111111109 / 30));
        assert_eq!(
            check(seed, "081 804", 1111111109 + 30),
            Some(1111111109 / 30)
        );
        assert_eq!(check(seed, "081804", 1111111109 + 90), None);
        assert_eq!(check(seed, "08180", 1111111109), None);
        assert_eq!(check(seed, "abcdef", 1111111109), None);
    }

    #[test]
    fn seeds_are_sealed_to_their_account() {
        let codes = CodeHasher::from_server_secret(b"secret");
        let seed = new_seed();
        let alice = UserId(uuid::Uuid::new_v4());
        let sealed = seal_seed(&codes, alice, &seed).unwrap();
        assert!(!sealed.contains(&base32(&seed)));
        assert_eq!(open_seed(&codes, alice, &sealed).unwrap(), seed);
        assert!(open_seed(&codes, UserId(uuid::Uuid::new_v4()), &sealed).is_err());
        let other = CodeHasher::from_server_secret(b"other");
        assert!(open_seed(&other, alice, &sealed).is_err());
    }
}
