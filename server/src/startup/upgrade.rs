//! Start-up checks before migrating: refuse a database a newer Cairn wrote (touching nothing),
//! and on SQLite keep a copy of an existing database before pending migrations change it.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

use crate::store::Store;

/// The folder of `data_dir` that holds the copies taken before upgrades.
pub fn backups_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("backups")
}

/// Check the database against this binary's migrations before any is applied: a database that
/// lists a migration this binary does not know comes from a newer Cairn, and is refused with
/// nothing written. On SQLite, an existing database with pending migrations is first copied to
/// `<data_dir>/backups/before-upgrade-<time>.db` (none for a brand-new database); returns the
/// copy's path.
pub async fn check_before_migrating(
    store: &Store,
    data_dir: &Path,
) -> anyhow::Result<Option<PathBuf>> {
    let state = store
        .migration_state()
        .await
        .context("reading the database's migrations table")?;
    if !state.unknown.is_empty() {
        bail!(
            "this database was written by a newer Cairn: its migrations table lists {} \
             migration(s) that cairn {} does not know ({}); the newest this binary knows is {}. \
             Nothing was changed. Run the newer Cairn again, or go back to the copy or backup \
             taken before that upgrade (README, \"Upgrading\")",
            state.unknown.len(),
            env!("CARGO_PKG_VERSION"),
            state.unknown.join(", "),
            state.newest_known,
        );
    }
    if state.pending.is_empty() || state.applied == 0 {
        return Ok(None);
    }
    tracing::info!(
        pending = state.pending.len(),
        first = %state.pending[0],
        "the database is from an earlier Cairn: applying its pending migrations"
    );
    if !store.is_sqlite() {
        return Ok(None);
    }
    let copy = copy_before_upgrade(store, data_dir).await?;
    tracing::info!(
        copy = %copy.display(),
        "copied the SQLite database before migrating it; to roll back, stop Cairn, put this \
         file in place of the database (removing its -wal and -shm files) and start the \
         previous version"
    );
    Ok(Some(copy))
}

/// `VACUUM INTO` a new file `before-upgrade-<UTC time>.db` in the backups folder (0700), the
/// file created 0600 first (SQLite accepts an empty file).
async fn copy_before_upgrade(store: &Store, data_dir: &Path) -> anyhow::Result<PathBuf> {
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
    let dir = backups_dir(data_dir);
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&dir)
        .with_context(|| format!("backups folder {}", dir.display()))?;
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%SZ");
    let mut path = dir.join(format!("before-upgrade-{stamp}.db"));
    let mut n = 1;
    while path.exists() {
        n += 1;
        path = dir.join(format!("before-upgrade-{stamp}-{n}.db"));
    }
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .with_context(|| format!("copy before upgrading {}", path.display()))?;
    if let Err(err) = store.copy_sqlite_into(&path).await {
        let _ = std::fs::remove_file(&path);
        return Err(err).with_context(|| {
            format!(
                "could not copy the database to {} before migrating it; nothing was migrated",
                path.display()
            )
        });
    }
    Ok(path)
}
