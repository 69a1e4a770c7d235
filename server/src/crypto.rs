//! Encryption at rest: the master keyring and the per-plan data keys.
//!
//! Every stored plan blob (Automerge changes and snapshots) is sealed with AES-256-GCM under a
//! random data key of its own plan. Data keys are stored only wrapped (sealed) by a master key,
//! next to the id of the master key that wrapped them. Deleting a plan's wrapped data key makes
//! every copy of its blobs unreadable (crypto-shredding), backups and free database pages
//! included.
//!
//! The master keyring comes from the settings (`master_key`, plus `previous_master_keys` while a
//! rotation is under way) or, for the embedded default, from `<data dir>/master-key`, created
//! with mode 0600 on first run. The file holds one base64 key per line, the current one first.
//! `cairn keys rotate` puts a new key at the top of that file, re-wraps every data key under it
//! and then drops the old keys; a running server rereads the file when it meets a key id it does
//! not know and before it wraps a new plan's key, so it keeps working through a rotation.
//!
//! Each sealed blob is `1 ‖ nonce (12 bytes) ‖ ciphertext and tag`, with associated data that
//! names what the blob is (a change of plan P with stored id I, the snapshot of plan P, the data
//! key of plan P), so a blob moved to another row or plan fails to open instead of being read as
//! it.
//!
//! A change is stored under a keyed id, never its plain hash: HMAC-SHA256 under a key derived
//! from the plan's data key, over the plan id and the change hash ([`DataKey::change_id`]). A
//! plain hash would let someone holding a copy of the database (but no master key) confirm
//! guesses of tiny changes (one keystroke and its predecessor) by hashing candidates; the keyed
//! id is meaningless without the data key, and so after the plan's key is shredded.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use aes_gcm::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use aes_gcm::{Aes256Gcm, Key};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use cairn_shared::PlanId;
use hkdf::Hkdf;
use hmac::{Hmac, Mac};
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

/// Length of every key (AES-256).
pub const KEY_LEN: usize = 32;
const NONCE_LEN: usize = 12;
/// The first byte of every sealed blob: the format version.
const SEALED_V1: u8 = 1;

/// Why sealing or opening failed.
#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    /// A key in the settings or the key file is not base64 of 32 bytes.
    #[error("a master key must be base64 of {KEY_LEN} bytes")]
    BadKey,
    /// A wrapped data key names a master key the keyring does not hold.
    #[error("master key {0} is not in the keyring")]
    UnknownMasterKey(String),
    /// Encryption refused the input (only past AES-GCM's size bound).
    #[error("the data could not be sealed")]
    Unsealable,
    /// A blob is not in the sealed format, or fails authentication under its key.
    #[error("a sealed blob could not be opened")]
    Unreadable,
    /// The key file could not be read or written.
    #[error("key file: {0}")]
    Io(#[from] std::io::Error),
}

/// A master key: it only wraps and unwraps data keys.
#[derive(Clone)]
pub struct MasterKey {
    id: String,
    cipher: Aes256Gcm,
    encoded: Arc<SecretString>,
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MasterKey").field("id", &self.id).finish()
    }
}

impl MasterKey {
    /// A fresh random key.
    pub fn generate() -> Self {
        let mut bytes = [0u8; KEY_LEN];
        OsRng.fill_bytes(&mut bytes);
        Self::from_bytes(&bytes)
    }

    /// Read a key written as base64 of 32 bytes.
    pub fn parse(text: &str) -> Result<Self, CryptoError> {
        let bytes = STANDARD
            .decode(text.trim())
            .map_err(|_| CryptoError::BadKey)?;
        let bytes: [u8; KEY_LEN] = bytes.try_into().map_err(|_| CryptoError::BadKey)?;
        Ok(Self::from_bytes(&bytes))
    }

    fn from_bytes(bytes: &[u8; KEY_LEN]) -> Self {
        // The id names the key in the database without revealing anything usable about it.
        let digest = Sha256::new()
            .chain_update(b"cairn master key id\0")
            .chain_update(bytes)
            .finalize();
        let id = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
        Self {
            id,
            cipher: Aes256Gcm::new(&Key::<Aes256Gcm>::from(*bytes)),
            encoded: Arc::new(SecretString::from(STANDARD.encode(bytes))),
        }
    }

    /// The key's public id (16 hex digits), stored beside every data key it wraps.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The key as base64, to write into a key file or a secret store.
    pub fn to_base64(&self) -> &SecretString {
        &self.encoded
    }

    /// A key for another purpose derived from this one (HKDF-SHA256 with `salt` and `info`):
    /// backup files are sealed under such a key, never under the master key itself.
    pub fn derive(&self, salt: &[u8], info: &[u8]) -> [u8; KEY_LEN] {
        let mut derived = [0u8; KEY_LEN];
        // `encoded` is always base64 of KEY_LEN bytes (see `from_bytes`).
        let bytes = STANDARD
            .decode(self.encoded.expose_secret())
            .unwrap_or_default();
        // 32 bytes is far below HKDF-SHA256's limit, so `expand` cannot fail.
        let _ = Hkdf::<Sha256>::new(Some(salt), &bytes).expand(info, &mut derived);
        derived
    }

    fn wrap(&self, plan: PlanId, data_key: &[u8; KEY_LEN]) -> Result<Vec<u8>, CryptoError> {
        seal(&self.cipher, &wrap_context(plan, &self.id), data_key)
    }

    fn unwrap(&self, plan: PlanId, wrapped: &[u8]) -> Result<DataKey, CryptoError> {
        let bytes = open(&self.cipher, &wrap_context(plan, &self.id), wrapped)?;
        let bytes: [u8; KEY_LEN] = bytes.try_into().map_err(|_| CryptoError::Unreadable)?;
        Ok(DataKey::from_bytes(&bytes))
    }
}

fn wrap_context(plan: PlanId, master_id: &str) -> Vec<u8> {
    let mut aad = b"cairn plan key\0".to_vec();
    aad.extend_from_slice(plan.0.as_bytes());
    aad.extend_from_slice(master_id.as_bytes());
    aad
}

/// A plan's data key: seals and opens that plan's blobs, and names its changes.
#[derive(Clone)]
pub struct DataKey {
    cipher: Aes256Gcm,
    /// The key of the plan's change ids, derived from the data key (HKDF-SHA256).
    id_key: Hmac<Sha256>,
}

/// The HKDF label of the change id key.
const CHANGE_ID_KEY_INFO: &[u8] = b"cairn change id key v1";

impl std::fmt::Debug for DataKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DataKey(..)")
    }
}

/// A new plan's data key and its wrapped form, to store in the same transaction as the plan.
#[derive(Debug, Clone)]
pub struct NewDataKey {
    /// The key, for sealing the plan's first blobs.
    pub key: DataKey,
    /// The id of the master key that wrapped it.
    pub master_key_id: String,
    /// The key sealed under that master key.
    pub wrapped: Vec<u8>,
}

impl DataKey {
    fn from_bytes(bytes: &[u8; KEY_LEN]) -> Self {
        let mut id_key = [0u8; KEY_LEN];
        // 32 bytes is far below HKDF-SHA256's limit (255 × 32), so `expand` cannot fail.
        let _ = Hkdf::<Sha256>::new(None, bytes).expand(CHANGE_ID_KEY_INFO, &mut id_key);
        Self {
            cipher: Aes256Gcm::new(&Key::<Aes256Gcm>::from(*bytes)),
            id_key: crate::auth::secrets::hmac_with(&id_key),
        }
    }

    /// The id a change of `plan` whose hash is `hash` (hex) is stored under: hex
    /// HMAC-SHA256 over the plan id and the hash, under the plan's change id key. The same
    /// length and alphabet as a hash, so the column and its uniqueness serve both.
    pub fn change_id(&self, plan: PlanId, hash: &str) -> String {
        let mut mac = self.id_key.clone();
        mac.update(plan.0.as_bytes());
        mac.update(hash.as_bytes());
        const_hex::encode(mac.finalize().into_bytes())
    }

    /// Seal one Automerge change of `plan` (its stored id binds the blob to its row).
    pub fn seal_change(
        &self,
        plan: PlanId,
        id: &str,
        change: &[u8],
    ) -> Result<Vec<u8>, CryptoError> {
        seal(&self.cipher, &change_context(plan, id), change)
    }

    /// Open what [`DataKey::seal_change`] sealed.
    pub fn open_change(&self, plan: PlanId, id: &str, blob: &[u8]) -> Result<Vec<u8>, CryptoError> {
        open(&self.cipher, &change_context(plan, id), blob)
    }

    /// Seal the snapshot of `plan`.
    pub fn seal_snapshot(&self, plan: PlanId, snapshot: &[u8]) -> Result<Vec<u8>, CryptoError> {
        seal(&self.cipher, &snapshot_context(plan), snapshot)
    }

    /// Open what [`DataKey::seal_snapshot`] sealed.
    pub fn open_snapshot(&self, plan: PlanId, blob: &[u8]) -> Result<Vec<u8>, CryptoError> {
        open(&self.cipher, &snapshot_context(plan), blob)
    }

    /// Seal the title of `plan` (kept beside the plan row for the plan list).
    pub fn seal_title(&self, plan: PlanId, title: &str) -> Result<Vec<u8>, CryptoError> {
        seal(&self.cipher, &title_context(plan), title.as_bytes())
    }

    /// Open what [`DataKey::seal_title`] sealed.
    pub fn open_title(&self, plan: PlanId, blob: &[u8]) -> Result<String, CryptoError> {
        let bytes = open(&self.cipher, &title_context(plan), blob)?;
        String::from_utf8(bytes).map_err(|_| CryptoError::Unreadable)
    }

    /// Seal a part (`name` or `heads`) of a named version of `plan`: its own context, bound to
    /// the plan and the version, so a sealed name cannot be passed off as another's.
    pub fn seal_version(
        &self,
        plan: PlanId,
        version: uuid::Uuid,
        part: &str,
        bytes: &[u8],
    ) -> Result<Vec<u8>, CryptoError> {
        seal(&self.cipher, &version_context(plan, version, part), bytes)
    }

    /// Open what [`DataKey::seal_version`] sealed.
    pub fn open_version(
        &self,
        plan: PlanId,
        version: uuid::Uuid,
        part: &str,
        blob: &[u8],
    ) -> Result<Vec<u8>, CryptoError> {
        open(&self.cipher, &version_context(plan, version, part), blob)
    }
}

fn change_context(plan: PlanId, id: &str) -> Vec<u8> {
    let mut aad = b"cairn change\0".to_vec();
    aad.extend_from_slice(plan.0.as_bytes());
    aad.extend_from_slice(id.as_bytes());
    aad
}

fn title_context(plan: PlanId) -> Vec<u8> {
    let mut aad = b"cairn title\0".to_vec();
    aad.extend_from_slice(plan.0.as_bytes());
    aad
}

fn version_context(plan: PlanId, version: uuid::Uuid, part: &str) -> Vec<u8> {
    let mut aad = b"cairn version\0".to_vec();
    aad.extend_from_slice(plan.0.as_bytes());
    aad.extend_from_slice(version.as_bytes());
    aad.extend_from_slice(part.as_bytes());
    aad
}

fn snapshot_context(plan: PlanId) -> Vec<u8> {
    let mut aad = b"cairn snapshot\0".to_vec();
    aad.extend_from_slice(plan.0.as_bytes());
    aad
}

pub(crate) fn seal(
    cipher: &Aes256Gcm,
    aad: &[u8],
    plaintext: &[u8],
) -> Result<Vec<u8>, CryptoError> {
    // A fresh random nonce from the thread's CSPRNG (ChaCha, seeded and reseeded from the
    // operating system): a system call for every stored change was measurable.
    let nonce = Aes256Gcm::generate_nonce(&mut rand::thread_rng());
    // Encryption with a valid key and nonce cannot fail for inputs below GCM's 64 GiB bound
    // (frames are limited long before); if it ever did, nothing is stored, never an empty blob.
    let ciphertext = cipher
        .encrypt(
            &nonce,
            Payload {
                msg: plaintext,
                aad,
            },
        )
        .map_err(|_| CryptoError::Unsealable)?;
    let mut blob = Vec::with_capacity(1 + NONCE_LEN + ciphertext.len());
    blob.push(SEALED_V1);
    blob.extend_from_slice(&nonce);
    blob.extend_from_slice(&ciphertext);
    Ok(blob)
}

pub(crate) fn open(cipher: &Aes256Gcm, aad: &[u8], blob: &[u8]) -> Result<Vec<u8>, CryptoError> {
    let Some((&SEALED_V1, rest)) = blob.split_first() else {
        return Err(CryptoError::Unreadable);
    };
    if rest.len() < NONCE_LEN {
        return Err(CryptoError::Unreadable);
    }
    let (nonce, ciphertext) = rest.split_at(NONCE_LEN);
    cipher
        .decrypt(
            nonce.into(),
            Payload {
                msg: ciphertext,
                aad,
            },
        )
        .map_err(|_| CryptoError::Unreadable)
}

/// Where the master keys come from.
#[derive(Debug, Clone)]
pub enum KeySource {
    /// From the settings (environment or TOML); rotation means changing the settings.
    Settings,
    /// From a key file in the data folder, which `cairn keys rotate` rewrites.
    File(PathBuf),
}

/// The master keys in force: the current one (which wraps new data keys) first, then older ones
/// still needed to unwrap data keys until a rotation has re-wrapped them.
#[derive(Debug)]
pub struct Keyring {
    source: KeySource,
    keys: RwLock<Vec<MasterKey>>,
}

impl Keyring {
    /// A keyring from configured keys: `current` first, then `previous` (comma-separated).
    pub fn from_settings(
        current: &SecretString,
        previous: Option<&SecretString>,
    ) -> Result<Self, CryptoError> {
        let mut keys = vec![MasterKey::parse(current.expose_secret())?];
        if let Some(previous) = previous {
            for text in previous.expose_secret().split(',') {
                if !text.trim().is_empty() {
                    keys.push(MasterKey::parse(text)?);
                }
            }
        }
        Ok(Self {
            source: KeySource::Settings,
            keys: RwLock::new(keys),
        })
    }

    /// The keyring in `path`, created with one fresh key (mode 0600) if the file is missing.
    pub fn from_file(path: &Path) -> Result<Self, CryptoError> {
        let keys = match read_key_file(path) {
            Ok(keys) => keys,
            Err(CryptoError::Io(err)) if err.kind() == std::io::ErrorKind::NotFound => {
                let key = MasterKey::generate();
                create_key_file(path, std::slice::from_ref(&key))?;
                vec![key]
            }
            Err(err) => return Err(err),
        };
        Ok(Self {
            source: KeySource::File(path.to_owned()),
            keys: RwLock::new(keys),
        })
    }

    /// A keyring of one key held only in memory (tests and tools).
    pub fn ephemeral() -> Self {
        Self {
            source: KeySource::Settings,
            keys: RwLock::new(vec![MasterKey::generate()]),
        }
    }

    /// Where the keys come from.
    pub fn source(&self) -> &KeySource {
        &self.source
    }

    /// The ids of the keys held, the current one first.
    pub fn key_ids(&self) -> Vec<String> {
        self.read_keys().iter().map(|key| key.id.clone()).collect()
    }

    /// The keys held, the current one first.
    pub fn keys(&self) -> Vec<MasterKey> {
        self.read_keys().clone()
    }

    /// The key that wraps new data keys.
    pub fn current(&self) -> MasterKey {
        self.reload_quietly();
        self.read_keys()[0].clone()
    }

    /// A fresh data key for `plan`, wrapped under the current master key.
    pub fn new_data_key(&self, plan: PlanId) -> Result<NewDataKey, CryptoError> {
        let mut bytes = [0u8; KEY_LEN];
        OsRng.fill_bytes(&mut bytes);
        let master = self.current();
        Ok(NewDataKey {
            key: DataKey::from_bytes(&bytes),
            master_key_id: master.id.clone(),
            wrapped: master.wrap(plan, &bytes)?,
        })
    }

    /// Unwrap a stored data key, rereading the key file once if its master key is unknown.
    pub fn unwrap(
        &self,
        plan: PlanId,
        master_id: &str,
        wrapped: &[u8],
    ) -> Result<DataKey, CryptoError> {
        if let Some(key) = self.find(master_id) {
            return key.unwrap(plan, wrapped);
        }
        self.reload_quietly();
        match self.find(master_id) {
            Some(key) => key.unwrap(plan, wrapped),
            None => Err(CryptoError::UnknownMasterKey(master_id.to_owned())),
        }
    }

    /// Re-wrap a stored data key under `target`.
    pub fn rewrap(
        &self,
        plan: PlanId,
        master_id: &str,
        wrapped: &[u8],
        target: &MasterKey,
    ) -> Result<Vec<u8>, CryptoError> {
        let master = self
            .find(master_id)
            .ok_or_else(|| CryptoError::UnknownMasterKey(master_id.to_owned()))?;
        let bytes = open(&master.cipher, &wrap_context(plan, master_id), wrapped)?;
        let bytes: [u8; KEY_LEN] = bytes.try_into().map_err(|_| CryptoError::Unreadable)?;
        target.wrap(plan, &bytes)
    }

    /// Replace the keys (and the key file, when there is one) with `keys`, current first.
    pub fn replace(&self, keys: Vec<MasterKey>) -> Result<(), CryptoError> {
        if keys.is_empty() {
            return Err(CryptoError::BadKey);
        }
        if let KeySource::File(path) = &self.source {
            replace_key_file(path, &keys)?;
        }
        *self.keys.write().unwrap_or_else(|e| e.into_inner()) = keys;
        Ok(())
    }

    fn find(&self, id: &str) -> Option<MasterKey> {
        self.read_keys().iter().find(|key| key.id == id).cloned()
    }

    fn read_keys(&self) -> std::sync::RwLockReadGuard<'_, Vec<MasterKey>> {
        self.keys.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Reread the key file (another process may have rotated it); keep what we hold on failure.
    fn reload_quietly(&self) {
        let KeySource::File(path) = &self.source else {
            return;
        };
        match read_key_file(path) {
            Ok(keys) => *self.keys.write().unwrap_or_else(|e| e.into_inner()) = keys,
            Err(err) => tracing::warn!(error = %err, "could not reread the master key file"),
        }
    }
}

fn read_key_file(path: &Path) -> Result<Vec<MasterKey>, CryptoError> {
    let text = std::fs::read_to_string(path)?;
    let keys = text
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .map(MasterKey::parse)
        .collect::<Result<Vec<_>, _>>()?;
    if keys.is_empty() {
        return Err(CryptoError::BadKey);
    }
    Ok(keys)
}

fn key_file_text(keys: &[MasterKey]) -> String {
    let mut text =
        String::from("# Cairn master keys: the current one first. Keep this file secret.\n");
    for key in keys {
        text.push_str(key.to_base64().expose_secret());
        text.push('\n');
    }
    text
}

fn create_key_file(path: &Path, keys: &[MasterKey]) -> Result<(), CryptoError> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let mut file = private_file_options().create_new(true).open(path)?;
    file.write_all(key_file_text(keys).as_bytes())?;
    file.sync_all()?;
    Ok(())
}

/// Write the keys to a private temporary file beside `path`, then rename it over `path`, so a
/// reader sees the old file or the new one, never half of one.
fn replace_key_file(path: &Path, keys: &[MasterKey]) -> Result<(), CryptoError> {
    let temporary = path.with_extension("new");
    let _ = std::fs::remove_file(&temporary);
    let mut file = private_file_options().create_new(true).open(&temporary)?;
    file.write_all(key_file_text(keys).as_bytes())?;
    file.sync_all()?;
    std::fs::rename(&temporary, path)?;
    if let Some(parent) = path.parent()
        && let Ok(dir) = std::fs::File::open(parent)
    {
        let _ = dir.sync_all();
    }
    Ok(())
}

/// Options that open a file for writing, created readable by Cairn's user only (0600).
pub(crate) fn private_file_options() -> std::fs::OpenOptions {
    let mut options = std::fs::OpenOptions::new();
    options.write(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan() -> PlanId {
        PlanId(uuid::Uuid::new_v4())
    }

    #[test]
    fn sealed_blobs_open_only_in_their_place() -> Result<(), CryptoError> {
        let keyring = Keyring::ephemeral();
        let (a, b) = (plan(), plan());
        let key = keyring.new_data_key(a)?.key;
        let blob = key.seal_change(a, "h1", b"my own words")?;
        assert!(!blob.windows(12).any(|w| w == b"my own words"));
        assert_eq!(key.open_change(a, "h1", &blob)?, b"my own words");
        assert!(key.open_change(a, "h2", &blob).is_err(), "another row");
        assert!(key.open_change(b, "h1", &blob).is_err(), "another plan");
        assert!(key.open_snapshot(a, &blob).is_err(), "another kind");
        let other = keyring.new_data_key(a)?.key;
        assert!(other.open_change(a, "h1", &blob).is_err(), "another key");
        let mut tampered = blob.clone();
        if let Some(last) = tampered.last_mut() {
            *last ^= 1;
        }
        assert!(key.open_change(a, "h1", &tampered).is_err(), "tampered");
        assert!(key.open_change(a, "h1", b"").is_err());
        Ok(())
    }

    #[test]
    fn change_ids_are_keyed_per_plan() -> Result<(), CryptoError> {
        let keyring = Keyring::ephemeral();
        let (a, b) = (plan(), plan());
        let key = keyring.new_data_key(a)?.key;
        let hash = const_hex::encode(Sha256::digest(b"one keystroke"));
        let id = key.change_id(a, &hash);
        assert_eq!(id.len(), 64);
        assert!(id.bytes().all(|c| c.is_ascii_hexdigit()));
        assert_eq!(id, key.change_id(a, &hash), "stable for the same key");
        assert_eq!(id, key.clone().change_id(a, &hash), "and its copies");
        assert_ne!(id, hash, "not the plain hash");
        assert_ne!(id, key.change_id(b, &hash), "another plan");
        assert_ne!(id, key.change_id(a, &"0".repeat(64)), "another change");
        let other = keyring.new_data_key(a)?.key;
        assert_ne!(id, other.change_id(a, &hash), "another key");
        Ok(())
    }

    #[test]
    fn data_keys_unwrap_after_rotation_and_not_without_their_master() -> Result<(), CryptoError> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("master-key");
        let keyring = Keyring::from_file(&path)?;
        let p = plan();
        let fresh = keyring.new_data_key(p)?;
        let blob = fresh.key.seal_snapshot(p, b"plan")?;

        // Another process (`cairn keys rotate`) rotates the file; this keyring rereads it.
        let rotator = Keyring::from_file(&path)?;
        let old = rotator.current();
        let new = MasterKey::generate();
        rotator.replace(vec![new.clone(), old.clone()])?;
        let rewrapped = rotator.rewrap(p, &fresh.master_key_id, &fresh.wrapped, &new)?;
        rotator.replace(vec![new.clone()])?;

        let key = keyring.unwrap(p, new.id(), &rewrapped)?;
        assert_eq!(key.open_snapshot(p, &blob)?, b"plan");
        assert_eq!(keyring.current().id(), new.id());
        assert!(matches!(
            keyring.unwrap(p, old.id(), &fresh.wrapped),
            Err(CryptoError::UnknownMasterKey(_))
        ));
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
