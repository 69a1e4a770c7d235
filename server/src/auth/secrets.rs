//! Random secrets and the human-friendly codes Cairn hands out, and how they are stored.
//! Refresh tokens (256 random bits, beyond guessing) are kept as SHA-256 hashes. Codes a person
//! types (invitation and enrollment codes) are short enough that a copy of the database could be
//! searched for every live one by hashing all codes, so they are kept as HMAC-SHA256 under a key
//! derived from the server's secret ([`CodeHasher`]), which is not in the database.

use std::io::Write;
use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use hkdf::Hkdf;
use hmac::{Hmac, Mac};
use rand::Rng;
use rand::RngCore;
use rand::rngs::OsRng;
use secrecy::SecretString;
use sha2::{Digest, Sha256};

/// Letters and digits that cannot be confused when read aloud or typed on a phone
/// (no 0/O, 1/I/L, U/V).
const CODE_ALPHABET: &[u8] = b"23456789ABCDEFGHJKMNPQRSTWXYZ";

/// A new opaque token with 256 bits of randomness (base64url).
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Hex SHA-256, the stored form of tokens and codes.
pub fn sha256_hex(text: &str) -> String {
    let digest = Sha256::digest(text.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Characters in a code Cairn hands out (invitation and enrollment codes): 12 from an alphabet
/// of 29, about 58 bits, shown in three groups (`K7QM-3XPA-Z9RT`). The README works out the
/// guessing bound this gives under the attempt limits.
pub const CODE_LENGTH: usize = 12;

/// The HKDF `info` that separates the code-hashing key from every other use of the secret.
pub const CODE_HASH_KEY_INFO: &[u8] = b"cairn: stored codes v1";

/// Hashes typed codes for storage and lookup: HMAC-SHA256 under a key derived (HKDF-SHA256)
/// from the JWT signing secret, which every instance of a deployment already shares and which
/// is not stored in the database. Without that secret, a copy of the database does not tell
/// which codes are live.
#[derive(Clone)]
pub struct CodeHasher {
    key: [u8; 32],
}

impl std::fmt::Debug for CodeHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CodeHasher").finish_non_exhaustive()
    }
}

impl CodeHasher {
    /// The hasher of a deployment whose server secret is `secret`.
    pub fn from_server_secret(secret: &[u8]) -> Self {
        let mut key = [0u8; 32];
        // 32 bytes is far below HKDF-SHA256's limit (255 × 32), so `expand` cannot fail.
        let _ = Hkdf::<Sha256>::new(None, secret).expand(CODE_HASH_KEY_INFO, &mut key);
        Self { key }
    }

    /// The stored form of a code (already normalised): hex HMAC-SHA256.
    pub fn hash(&self, code: &str) -> String {
        let mut mac = hmac_with(&self.key);
        mac.update(code.as_bytes());
        const_hex::encode(mac.finalize().into_bytes())
    }

    /// Every stored form a live code may have: the keyed hash, and the plain SHA-256 that codes
    /// issued before keyed hashing were stored as. Those are accepted until they expire (an
    /// invitation after `invitation_ttl_minutes`, an enrollment code after at most 90 days);
    /// the two forms cannot be confused (both 64 hex digits, but a collision is as likely as
    /// guessing the key).
    pub fn lookup_hashes(&self, code: &str) -> Vec<String> {
        vec![self.hash(code), sha256_hex(code)]
    }

    /// Another 32-byte key for a separate use (`info` tells them apart), derived (HKDF-SHA256)
    /// from this one and so, like it, from the server secret: TOTP seeds are sealed under one.
    pub fn derive_key(&self, info: &[u8]) -> [u8; 32] {
        let mut key = [0u8; 32];
        let _ = Hkdf::<Sha256>::new(None, &self.key).expand(info, &mut key);
        key
    }
}

/// A code of `length` characters from [`CODE_ALPHABET`], in groups of four: `K7QM-3XPA`.
pub fn human_code(length: usize) -> String {
    let mut rng = OsRng;
    let chars: Vec<char> = (0..length)
        .map(|_| CODE_ALPHABET[rng.gen_range(0..CODE_ALPHABET.len())] as char)
        .collect();
    chars
        .chunks(4)
        .map(|group| group.iter().collect::<String>())
        .collect::<Vec<_>>()
        .join("-")
}

/// A typed-in code in its canonical form: dashes and spaces dropped, upper case.
pub fn normalize_code(input: &str) -> String {
    input
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .flat_map(char::to_uppercase)
        .collect()
}

/// Read the secret stored in `path`, or create it (random, mode 0600) on first run.
pub fn load_or_create_secret(path: &Path) -> std::io::Result<SecretString> {
    match std::fs::read_to_string(path) {
        Ok(text) => return Ok(SecretString::from(text.trim().to_owned())),
        Err(err) if err.kind() != std::io::ErrorKind::NotFound => return Err(err),
        Err(_) => {}
    }
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let mut bytes = [0u8; 48];
    OsRng.fill_bytes(&mut bytes);
    let secret = STANDARD.encode(bytes);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(secret.as_bytes())?;
    file.sync_all()?;
    Ok(SecretString::from(secret))
}

/// HMAC-SHA256 under a 32-byte key, built without a fallible step: HMAC pads a key shorter than
/// SHA-256's 64-byte block with zeros, so this is exactly `Hmac::new_from_slice(key)`.
pub(crate) fn hmac_with(key: &[u8; 32]) -> Hmac<Sha256> {
    use hmac::digest::KeyInit;
    let mut block = [0u8; 64];
    block[..32].copy_from_slice(key);
    <Hmac<Sha256> as KeyInit>::new(&block.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_readable_and_normalise() {
        let code = human_code(8);
        assert_eq!(code.len(), 9);
        assert_eq!(code.as_bytes()[4], b'-');
        assert_eq!(
            normalize_code(&code.to_lowercase().replace('-', " ")),
            code.replace('-', "")
        );
    }

    #[test]
    fn generated_secret_is_private_and_stable() -> std::io::Result<()> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("nested").join("jwt-secret");
        let first = load_or_create_secret(&path)?;
        let second = load_or_create_secret(&path)?;
        use secrecy::ExposeSecret;
        assert_eq!(first.expose_secret(), second.expose_secret());
        assert!(first.expose_secret().len() >= 32);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                std::fs::metadata(&path)?.permissions().mode() & 0o777,
                0o600
            );
        }
        Ok(())
    }
}
