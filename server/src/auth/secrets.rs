//! Random secrets and the human-friendly codes Cairn hands out, and how they are stored:
//! refresh tokens, invitation codes and enrollment codes are kept only as SHA-256 hashes.

use std::io::Write;
use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
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
