//! The deletion ledger: an append-only text file outside the database, beside the master key,
//! with one line per deleted plan or account (`<time> plan <id>` / `<time> account <id>`; no
//! content, no names). A backup taken before a deletion still holds the plan (sealed under a
//! data key the deletion destroyed in the live database, but present in the backup), so
//! `cairn restore` reads this file and deletes again every plan and account it lists.
//!
//! Each line is written with one `write` on a file opened for appending and flushed to disk
//! (`fsync`) before the deletion is answered as done.

use std::io::{BufRead, Write};
use std::path::Path;

use cairn_shared::{PlanId, UserId};
use chrono::{DateTime, SecondsFormat, Utc};

/// What a ledger line records as deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deleted {
    /// A plan, crypto-shredded and tombstoned.
    Plan(PlanId),
    /// An account its person deleted (leaving Cairn).
    Account(UserId),
}

/// One line of the ledger.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LedgerEntry {
    /// When it was deleted.
    pub at: DateTime<Utc>,
    /// What was deleted.
    pub deleted: Deleted,
}

/// What reading a ledger found.
#[derive(Debug, Default)]
pub struct Ledger {
    /// Every well-formed line, in file order.
    pub entries: Vec<LedgerEntry>,
    /// Line numbers that could not be read (a line torn by a crash, say); reported, skipped.
    pub unreadable_lines: Vec<usize>,
}

/// Append `deleted` to the ledger at `path` (created, mode 0600, if missing) and flush it to disk.
pub fn record(path: &Path, deleted: Deleted, at: DateTime<Utc>) -> std::io::Result<()> {
    let (kind, id) = match deleted {
        Deleted::Plan(plan) => ("plan", plan.0),
        Deleted::Account(user) => ("account", user.0),
    };
    let line = format!(
        "{} {kind} {id}\n",
        at.to_rfc3339_opts(SecondsFormat::Micros, true)
    );
    if let Some(parent) = path.parent()
        && !parent.as_os_str().is_empty()
    {
        std::fs::create_dir_all(parent)?;
    }
    let created = !path.exists();
    let mut file = crate::crypto::private_file_options()
        .append(true)
        .create(true)
        .open(path)?;
    file.write_all(line.as_bytes())?;
    file.sync_all()?;
    // A new file's name is on disk only once its folder is.
    if created
        && let Some(parent) = path.parent()
        && let Ok(dir) = std::fs::File::open(if parent.as_os_str().is_empty() {
            Path::new(".")
        } else {
            parent
        })
    {
        dir.sync_all()?;
    }
    Ok(())
}

/// [`record`] off the async executor; a failure is logged (the deletion itself is done and
/// stays done in the database) and returned.
pub async fn record_async(path: &Path, deleted: Deleted, at: DateTime<Utc>) -> std::io::Result<()> {
    let owned = path.to_owned();
    let written = tokio::task::spawn_blocking(move || record(&owned, deleted, at))
        .await
        .unwrap_or_else(|err| Err(std::io::Error::other(err)));
    if let Err(err) = &written {
        tracing::error!(
            ledger = %path.display(),
            error = %err,
            ?deleted,
            "could not write the deletion ledger: a restore from an older backup would bring this back"
        );
    }
    written
}

/// Read the ledger at `path`; a missing file is an empty ledger.
pub fn read(path: &Path) -> std::io::Result<Ledger> {
    let file = match std::fs::File::open(path) {
        Ok(file) => file,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(Ledger::default()),
        Err(err) => return Err(err),
    };
    let mut ledger = Ledger::default();
    for (index, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line = line?;
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        match parse_line(&line) {
            Some(entry) => ledger.entries.push(entry),
            None => ledger.unreadable_lines.push(index + 1),
        }
    }
    Ok(ledger)
}

fn parse_line(line: &str) -> Option<LedgerEntry> {
    let mut parts = line.split_whitespace();
    let at = DateTime::parse_from_rfc3339(parts.next()?)
        .ok()?
        .with_timezone(&Utc);
    let kind = parts.next()?;
    let id = uuid::Uuid::parse_str(parts.next()?).ok()?;
    if parts.next().is_some() {
        return None;
    }
    let deleted = match kind {
        "plan" => Deleted::Plan(PlanId(id)),
        "account" => Deleted::Account(UserId(id)),
        _ => return None,
    };
    Some(LedgerEntry { at, deleted })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_appended_and_read_back_and_torn_ones_skipped() -> std::io::Result<()> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("deletion-ledger");
        assert!(read(&path)?.entries.is_empty(), "a missing ledger is empty");
        let plan = PlanId(uuid::Uuid::new_v4());
        let user = UserId(uuid::Uuid::new_v4());
        let at = Utc::now();
        record(&path, Deleted::Plan(plan), at)?;
        record(&path, Deleted::Account(user), at)?;
        let mut file = std::fs::OpenOptions::new().append(true).open(&path)?;
        file.write_all(b"2026-12-08T00:00:00Z plan 1234")?;
        let ledger = read(&path)?;
        let deleted: Vec<_> = ledger.entries.iter().map(|e| e.deleted).collect();
        assert_eq!(deleted, [Deleted::Plan(plan), Deleted::Account(user)]);
        assert_eq!(ledger.unreadable_lines, [3]);
        let text = std::fs::read_to_string(&path)?;
        assert!(
            text.lines()
                .next()
                .is_some_and(|l| l.ends_with(&format!("plan {}", plan.0)))
        );
        Ok(())
    }
}
