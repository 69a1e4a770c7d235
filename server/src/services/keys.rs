//! Master key rotation (`cairn keys rotate`), safe while servers run on the same database.
//!
//! With the key file of the embedded default, rotation writes a new key at the top of the file
//! (servers reread it when they meet an unknown key id and before wrapping a new plan's key),
//! re-wraps every plan's data key under it, looks again after a pause for keys a server wrapped
//! under the old key just before it saw the new one, and only then removes the old keys from
//! the file. With keys from the settings, the operator first sets the new `master_key` and the
//! old one in `previous_master_keys` on every instance; rotation then re-wraps everything under
//! `master_key`, after which `previous_master_keys` can be removed.

use std::time::Duration;

use crate::crypto::{KeySource, MasterKey};
use crate::store::{RewrapReport, Store, StoreError};

/// What a rotation did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RotationReport {
    /// The id of the master key every data key is now wrapped under.
    pub current_key_id: String,
    /// Ids of the master keys removed from the key file (none with keys from the settings).
    pub retired_key_ids: Vec<String>,
    /// Data keys re-wrapped.
    pub rewrapped: u64,
    /// Data keys still wrapped under a key the keyring does not hold (they cannot be re-wrapped).
    pub remaining: u64,
}

/// Re-wrap every plan's data key under a new master key (key file) or the configured one.
/// `settle` is how long to wait for servers that may be wrapping a new plan's key under the old
/// master key at this very moment, before the old key is dropped.
pub async fn rotate(store: &Store, settle: Duration) -> Result<RotationReport, StoreError> {
    let keyring = store.keyring();
    let old_ids = keyring.key_ids();
    let file = matches!(keyring.source(), KeySource::File(_));
    if file {
        let mut keys = vec![MasterKey::generate()];
        keys.extend(keyring.keys());
        keyring.replace(keys)?;
    }
    let current = keyring.current();
    let mut report = store.rewrap_plan_keys().await?;
    if file {
        tokio::time::sleep(settle).await;
        let late: RewrapReport = store.rewrap_plan_keys().await?;
        report.rewrapped += late.rewrapped;
        report.remaining = late.remaining;
    }
    let mut retired_key_ids = Vec::new();
    if file && report.remaining == 0 {
        keyring.replace(vec![current.clone()])?;
        retired_key_ids = old_ids;
    }
    Ok(RotationReport {
        current_key_id: current.id().to_owned(),
        retired_key_ids,
        rewrapped: report.rewrapped,
        remaining: report.remaining,
    })
}
