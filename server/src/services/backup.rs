//! Backup and restore: one encrypted, authenticated file holding every table of the database,
//! taken while Cairn runs, restorable into SQLite or Postgres whichever it was taken from.
//!
//! # The file
//!
//! ```text
//! header    "CAIRNBAK" ‖ format version (1) ‖ key kind (1 master, 2 own) ‖ key id (16 hex)
//!           ‖ salt (32 random bytes)                                          58 bytes, clear
//! chunks    u32 big-endian: final flag (top bit) ‖ length; then AES-256-GCM ciphertext of at
//!           most 64 KiB of the content, nonce = chunk index, associated data = header ‖
//!           chunk index ‖ final flag: a chunk moved, dropped, repeated or cut off fails
//! trailer   SHA-256 of every byte before it (a copy damaged in transit shows without a key)
//! ```
//!
//! The file key is HKDF-SHA256 of the backup key with the file's salt: the backup key is
//! `backup_key` (`CAIRN_BACKUP_KEY`) when set, else the current master key (never used
//! directly). The content is a stream of CBOR records: what the backup is (time, version,
//! schema), then each table's rows as [`crate::store::backup`] gives them, then the row count
//! of every table. Plan content is in it only as stored: sealed, under data keys that are
//! themselves wrapped by the master key, so a restore needs the master key too.
//!
//! A restore reads the whole file and checks every chunk before it writes anything, then writes
//! all rows in one transaction, then deletes again whatever the deletion ledger lists.

use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use aes_gcm::aead::{Aead, KeyInit, OsRng, Payload};
use aes_gcm::{Aes256Gcm, Key};
use chrono::{DateTime, Utc};
use rand::RngCore;
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::config::Settings;
use crate::crypto::{Keyring, MasterKey, private_file_options};
use crate::ledger::{self, Deleted};
use crate::store::backup::{
    BackupStoreError, RestoreItem, RowSink, RowSource, StreamError, TableCounts,
};
use crate::store::{Leaving, Store, StoreError};

const MAGIC: &[u8; 8] = b"CAIRNBAK";
/// The format this version writes and reads.
pub const FORMAT_VERSION: u8 = 1;
const KEY_FROM_MASTER: u8 = 1;
const KEY_OWN: u8 = 2;
const KEY_ID_LEN: usize = 16;
const SALT_LEN: usize = 32;
const HEADER_LEN: usize = MAGIC.len() + 2 + KEY_ID_LEN + SALT_LEN;
const CHUNK_BYTES: usize = 64 * 1024;
const TAG_LEN: usize = 16;
const FINAL_FLAG: u32 = 1 << 31;
const FILE_KEY_INFO: &[u8] = b"cairn backup file v1";

/// Why a backup or restore failed. Whatever it is, a restore has written nothing.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    /// Reading or writing a file failed.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// The file does not start as a Cairn backup does.
    #[error("this is not a Cairn backup file")]
    NotABackup,
    /// The file is in a format newer than this version of Cairn reads.
    #[error(
        "this backup is in format {0}, newer than this Cairn reads ({FORMAT_VERSION}); restore it with a newer cairn"
    )]
    NewerFormat(u8),
    /// The key the file was sealed under is not at hand.
    #[error("{0}")]
    MissingKey(String),
    /// The file fails its checks: damaged, cut short or altered.
    #[error("the backup file is damaged, cut short or altered: {0}; nothing was restored")]
    Damaged(String),
    /// The backup comes from a newer database schema than this version knows.
    #[error(
        "the backup's database schema ({0}) is newer than this cairn; restore it with the version that took it or a newer one"
    )]
    NewerSchema(String),
    /// The key in `backup_key` is not base64 of 32 bytes.
    #[error("backup_key (CAIRN_BACKUP_KEY) must be base64 of 32 bytes")]
    BadBackupKey,
    /// The database refused or failed.
    #[error(transparent)]
    Store(#[from] BackupStoreError),
    /// The rows were restored, but deleting again what the ledger lists failed: Cairn must not
    /// start on this database until a restore (`--force`) has finished.
    #[error(
        "the backup was restored, but the deletion ledger could not be applied ({0}): do not start Cairn on this database; fix the cause and run `cairn restore --force` again"
    )]
    LedgerNotApplied(String),
}

impl From<StoreError> for BackupError {
    fn from(err: StoreError) -> Self {
        Self::Store(err.into())
    }
}

/// What a backup says about itself (inside the encrypted content).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BackupInfo {
    /// When its snapshot was taken: every change acknowledged before this is in it.
    pub taken_at: DateTime<Utc>,
    /// The version of Cairn that took it.
    pub cairn_version: String,
    /// The database it was taken from: `sqlite` or `postgres`.
    pub source: String,
    /// The last migration of the database it was taken from.
    pub schema: String,
}

/// One CBOR record of the content.
#[derive(Debug, Serialize, Deserialize)]
enum Record {
    Begin(BackupInfo),
    Table { name: String, columns: Vec<String> },
    Row(ciborium::Value),
    EndTable { rows: u64 },
    End { tables: TableCounts },
}

/// What a checked backup file holds.
#[derive(Debug, Clone)]
pub struct BackupSummary {
    /// Where the file is.
    pub path: PathBuf,
    /// The file's format version.
    pub format: u8,
    /// What sealed it: `master key <id>` or `backup key <id>`.
    pub sealed_with: String,
    /// What the backup says about itself.
    pub info: BackupInfo,
    /// Rows per table.
    pub tables: TableCounts,
    /// The file's size.
    pub bytes: u64,
    /// Hex SHA-256 of the whole file (what `sha256sum` prints).
    pub checksum: String,
    /// The ids of the master keys the plans' data keys in it are wrapped under: a restore
    /// needs each of them.
    pub master_keys: Vec<String>,
}

impl std::fmt::Display for BackupSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "Cairn backup {}", self.path.display())?;
        writeln!(f, "  format:      {}", self.format)?;
        writeln!(f, "  taken at:    {}", self.info.taken_at.to_rfc3339())?;
        writeln!(
            f,
            "  taken by:    cairn {} from {}",
            self.info.cairn_version, self.info.source
        )?;
        writeln!(f, "  schema:      {}", self.info.schema)?;
        writeln!(f, "  sealed with: {}", self.sealed_with)?;
        writeln!(f, "  size:        {} bytes", self.bytes)?;
        writeln!(f, "  sha256:      {}", self.checksum)?;
        if !self.master_keys.is_empty() {
            let keys = self.master_keys.join(", ");
            writeln!(f, "  plan keys:   wrapped under master key {keys}")?;
        }
        for (table, rows) in &self.tables {
            writeln!(f, "  {table:<26} {rows} rows")?;
        }
        Ok(())
    }
}

impl BackupSummary {
    /// Rows of `table` in the backup.
    pub fn rows(&self, table: &str) -> u64 {
        self.tables
            .iter()
            .find(|(name, _)| name == table)
            .map_or(0, |(_, rows)| *rows)
    }
}

struct Header {
    version: u8,
    key_kind: u8,
    key_id: String,
    salt: [u8; SALT_LEN],
}

impl Header {
    fn bytes(&self) -> Vec<u8> {
        let mut bytes = Vec::with_capacity(HEADER_LEN);
        bytes.extend_from_slice(MAGIC);
        bytes.push(self.version);
        bytes.push(self.key_kind);
        bytes.extend_from_slice(self.key_id.as_bytes());
        bytes.extend_from_slice(&self.salt);
        bytes
    }

    fn read(input: &mut impl Read) -> Result<(Self, Vec<u8>), BackupError> {
        let mut bytes = vec![0u8; HEADER_LEN];
        input
            .read_exact(&mut bytes)
            .map_err(|err| match err.kind() {
                std::io::ErrorKind::UnexpectedEof => BackupError::NotABackup,
                _ => BackupError::Io(err),
            })?;
        if &bytes[..MAGIC.len()] != MAGIC {
            return Err(BackupError::NotABackup);
        }
        let version = bytes[MAGIC.len()];
        if version > FORMAT_VERSION {
            return Err(BackupError::NewerFormat(version));
        }
        if version != FORMAT_VERSION {
            return Err(BackupError::NotABackup);
        }
        let key_kind = bytes[MAGIC.len() + 1];
        let id_start = MAGIC.len() + 2;
        let key_id = std::str::from_utf8(&bytes[id_start..id_start + KEY_ID_LEN])
            .map_err(|_| BackupError::Damaged("the header is unreadable".into()))?
            .to_owned();
        let mut salt = [0u8; SALT_LEN];
        salt.copy_from_slice(&bytes[id_start + KEY_ID_LEN..]);
        Ok((
            Self {
                version,
                key_kind,
                key_id,
                salt,
            },
            bytes,
        ))
    }

    fn sealed_with(&self) -> String {
        match self.key_kind {
            KEY_OWN => format!("backup key {}", self.key_id),
            _ => format!("master key {}", self.key_id),
        }
    }
}

fn own_backup_key(settings: &Settings) -> Result<Option<MasterKey>, BackupError> {
    settings
        .backup_key
        .as_ref()
        .filter(|key| !key.expose_secret().trim().is_empty())
        .map(|key| MasterKey::parse(key.expose_secret()).map_err(|_| BackupError::BadBackupKey))
        .transpose()
}

/// The key a new backup is sealed under, and its kind.
fn sealing_key(settings: &Settings, keyring: &Keyring) -> Result<(u8, MasterKey), BackupError> {
    Ok(match own_backup_key(settings)? {
        Some(key) => (KEY_OWN, key),
        None => (KEY_FROM_MASTER, keyring.current()),
    })
}

/// The key that opens a backup with `header`, or why it is not at hand.
fn opening_key(
    header: &Header,
    settings: &Settings,
    keyring: &Keyring,
) -> Result<MasterKey, BackupError> {
    match header.key_kind {
        KEY_OWN => match own_backup_key(settings)? {
            Some(key) if key.id() == header.key_id => Ok(key),
            Some(key) => Err(BackupError::MissingKey(format!(
                "this backup was sealed with backup key {}, but CAIRN_BACKUP_KEY is key {}",
                header.key_id,
                key.id()
            ))),
            None => Err(BackupError::MissingKey(format!(
                "this backup was sealed with backup key {}: set CAIRN_BACKUP_KEY to it",
                header.key_id
            ))),
        },
        KEY_FROM_MASTER => keyring
            .keys()
            .into_iter()
            .find(|key| key.id() == header.key_id)
            .ok_or_else(|| {
                BackupError::MissingKey(format!(
                    "this backup was sealed under master key {}, which this server's keyring \
                     does not hold (set master_key / the master-key file to it)",
                    header.key_id
                ))
            }),
        other => Err(BackupError::Damaged(format!("unknown key kind {other}"))),
    }
}

fn file_cipher(key: &MasterKey, salt: &[u8]) -> Aes256Gcm {
    Aes256Gcm::new(&Key::<Aes256Gcm>::from(key.derive(salt, FILE_KEY_INFO)))
}

fn nonce(index: u64) -> [u8; 12] {
    let mut nonce = [0u8; 12];
    nonce[4..].copy_from_slice(&index.to_be_bytes());
    nonce
}

fn chunk_aad(header: &[u8], index: u64, last: bool) -> Vec<u8> {
    let mut aad = header.to_vec();
    aad.extend_from_slice(&index.to_be_bytes());
    aad.push(u8::from(last));
    aad
}

/// Writes the file: header, sealed chunks, trailer, hashing every byte.
struct BackupWriter {
    out: BufWriter<File>,
    cipher: Aes256Gcm,
    header: Vec<u8>,
    index: u64,
    plain: Vec<u8>,
    /// Every byte so far (the trailer is this, then the whole file's checksum includes it).
    hash: Sha256,
    bytes: u64,
}

impl BackupWriter {
    /// A new file at `path` (mode 0600, never over an existing file) sealed under `key` with
    /// `salt`, its header written.
    fn create(
        path: &Path,
        key_kind: u8,
        key: &MasterKey,
        salt: [u8; SALT_LEN],
    ) -> std::io::Result<Self> {
        let header = Header {
            version: FORMAT_VERSION,
            key_kind,
            key_id: key.id().to_owned(),
            salt,
        }
        .bytes();
        let file = private_file_options().create_new(true).open(path)?;
        let mut writer = Self {
            out: BufWriter::new(file),
            cipher: file_cipher(key, &salt),
            header: header.clone(),
            index: 0,
            plain: Vec::new(),
            hash: Sha256::new(),
            bytes: 0,
        };
        writer.put(&header)?;
        Ok(writer)
    }

    fn put(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.out.write_all(bytes)?;
        self.hash.update(bytes);
        self.bytes += bytes.len() as u64;
        Ok(())
    }

    fn seal_chunk(&mut self, last: bool) -> std::io::Result<()> {
        let take = self.plain.len().min(CHUNK_BYTES);
        let chunk: Vec<u8> = self.plain.drain(..take).collect();
        let aad = chunk_aad(&self.header, self.index, last);
        let sealed = self
            .cipher
            .encrypt(
                &nonce(self.index).into(),
                Payload {
                    msg: &chunk,
                    aad: &aad,
                },
            )
            .map_err(|_| std::io::Error::other("a backup chunk could not be sealed"))?;
        let mut prefix = u32::try_from(sealed.len()).map_err(std::io::Error::other)?;
        if last {
            prefix |= FINAL_FLAG;
        }
        self.put(&prefix.to_be_bytes())?;
        self.put(&sealed)?;
        self.index += 1;
        Ok(())
    }

    fn record(&mut self, record: &Record) -> Result<(), StreamError> {
        ciborium::into_writer(record, &mut self.plain)?;
        while self.plain.len() > CHUNK_BYTES {
            self.seal_chunk(false)?;
        }
        Ok(())
    }

    /// Seal the rest as the final chunk, write the trailer and flush to disk: (size, checksum).
    fn finish(mut self) -> std::io::Result<(u64, String)> {
        while self.plain.len() > CHUNK_BYTES {
            self.seal_chunk(false)?;
        }
        self.seal_chunk(true)?;
        let trailer = self.hash.clone().finalize();
        self.put(&trailer)?;
        let file = self.out.into_inner().map_err(|err| err.into_error())?;
        file.sync_all()?;
        Ok((self.bytes, const_hex::encode(self.hash.finalize())))
    }
}

impl RowSink for BackupWriter {
    fn table(&mut self, name: &str, columns: &[String]) -> Result<(), StreamError> {
        self.record(&Record::Table {
            name: name.to_owned(),
            columns: columns.to_vec(),
        })
    }

    fn row(&mut self, row: ciborium::Value) -> Result<(), StreamError> {
        self.record(&Record::Row(row))
    }

    fn end_table(&mut self, rows: u64) -> Result<(), StreamError> {
        self.record(&Record::EndTable { rows })
    }
}

/// Reads the content back, opening and checking one chunk at a time.
struct BackupReader {
    input: BufReader<File>,
    cipher: Aes256Gcm,
    header: Vec<u8>,
    index: u64,
    plain: Vec<u8>,
    position: usize,
    finished: bool,
    hash: Sha256,
    bytes: u64,
}

fn damaged(why: impl Into<String>) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, why.into())
}

impl BackupReader {
    fn read_exact_hashed(&mut self, buf: &mut [u8], what: &str) -> std::io::Result<()> {
        self.input.read_exact(buf).map_err(|err| match err.kind() {
            std::io::ErrorKind::UnexpectedEof => damaged(format!("the file ends inside {what}")),
            _ => err,
        })?;
        self.hash.update(&*buf);
        self.bytes += buf.len() as u64;
        Ok(())
    }

    fn next_chunk(&mut self) -> std::io::Result<()> {
        let mut prefix = [0u8; 4];
        self.read_exact_hashed(&mut prefix, &format!("chunk {}", self.index))?;
        let prefix = u32::from_be_bytes(prefix);
        let last = prefix & FINAL_FLAG != 0;
        let len = (prefix & !FINAL_FLAG) as usize;
        if !(TAG_LEN..=CHUNK_BYTES + TAG_LEN).contains(&len) {
            return Err(damaged(format!(
                "chunk {} has an impossible length",
                self.index
            )));
        }
        let mut sealed = vec![0u8; len];
        self.read_exact_hashed(&mut sealed, &format!("chunk {}", self.index))?;
        let aad = chunk_aad(&self.header, self.index, last);
        self.plain = self
            .cipher
            .decrypt(
                &nonce(self.index).into(),
                Payload {
                    msg: &sealed,
                    aad: &aad,
                },
            )
            .map_err(|_| damaged(format!("chunk {} fails authentication", self.index)))?;
        self.position = 0;
        self.index += 1;
        self.finished = last;
        Ok(())
    }

    /// After the last record: nothing may be left but the trailer, and it must match.
    fn finish(mut self) -> std::io::Result<(u64, String)> {
        if self.position < self.plain.len() || !self.finished {
            return Err(damaged("there is content after the end"));
        }
        let expected = self.hash.clone().finalize();
        let mut trailer = [0u8; 32];
        self.read_exact_hashed(&mut trailer, "the trailer")?;
        if trailer[..] != expected[..] {
            return Err(damaged("the checksum does not match"));
        }
        let mut more = [0u8; 1];
        if self.input.read(&mut more)? != 0 {
            return Err(damaged("there are bytes after the trailer"));
        }
        Ok((self.bytes, const_hex::encode(self.hash.finalize())))
    }

    fn record(&mut self) -> Result<Record, BackupError> {
        ciborium::from_reader(&mut *self).map_err(|err| match err {
            ciborium::de::Error::Io(err) => io_to_backup(err),
            other => BackupError::Damaged(format!("a record is malformed: {other}")),
        })
    }
}

fn io_to_backup(err: std::io::Error) -> BackupError {
    if err.kind() == std::io::ErrorKind::InvalidData {
        BackupError::Damaged(err.to_string())
    } else {
        BackupError::Io(err)
    }
}

impl Read for BackupReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.position == self.plain.len() {
            if self.finished {
                return Ok(0);
            }
            self.next_chunk()?;
        }
        let n = buf.len().min(self.plain.len() - self.position);
        buf[..n].copy_from_slice(&self.plain[self.position..self.position + n]);
        self.position += n;
        Ok(n)
    }
}

/// Open `path` and check its header; the reader is ready for the first record.
fn open_backup(
    path: &Path,
    settings: &Settings,
    keyring: &Keyring,
) -> Result<(BackupReader, Header), BackupError> {
    let mut input = BufReader::new(File::open(path)?);
    let (header, header_bytes) = Header::read(&mut input)?;
    let key = opening_key(&header, settings, keyring)?;
    let mut hash = Sha256::new();
    hash.update(&header_bytes);
    let reader = BackupReader {
        input,
        cipher: file_cipher(&key, &header.salt),
        header: header_bytes,
        index: 0,
        plain: Vec::new(),
        position: 0,
        finished: false,
        hash,
        bytes: HEADER_LEN as u64,
    };
    Ok((reader, header))
}

/// Check a whole backup file without restoring it: every chunk, every record, the counts and
/// the checksum. Memory stays small whatever its size.
pub fn verify(
    path: &Path,
    settings: &Settings,
    keyring: &Keyring,
) -> Result<BackupSummary, BackupError> {
    let (mut reader, header) = open_backup(path, settings, keyring)?;
    let Record::Begin(info) = reader.record()? else {
        return Err(BackupError::Damaged(
            "it does not begin as a backup does".into(),
        ));
    };
    let mut tables: TableCounts = Vec::new();
    let mut master_keys = std::collections::BTreeSet::new();
    loop {
        match reader.record()? {
            Record::Table { name, columns } => {
                // The column naming the master key each plan's data key is wrapped under.
                let master_key_column = (name == "plan_keys")
                    .then(|| columns.iter().position(|c| c == "master_key_id"))
                    .flatten();
                let mut rows = 0u64;
                loop {
                    match reader.record()? {
                        Record::Row(row) => {
                            rows += 1;
                            if let (Some(index), ciborium::Value::Array(cells)) =
                                (master_key_column, row)
                                && let Some(ciborium::Value::Array(cell)) = cells.get(index)
                                && let Some(ciborium::Value::Text(id)) = cell.get(1)
                            {
                                master_keys.insert(id.clone());
                            }
                        }
                        Record::EndTable { rows: said } if said == rows => break,
                        _ => {
                            return Err(BackupError::Damaged(format!(
                                "table {name} does not hold what it says"
                            )));
                        }
                    }
                }
                tables.push((name, rows));
            }
            Record::End { tables: said } if said == tables => break,
            _ => return Err(BackupError::Damaged("the tables are out of order".into())),
        }
    }
    let (bytes, checksum) = reader.finish().map_err(io_to_backup)?;
    Ok(BackupSummary {
        path: path.to_owned(),
        format: header.version,
        sealed_with: header.sealed_with(),
        info,
        tables,
        bytes,
        checksum,
        master_keys: master_keys.into_iter().collect(),
    })
}

/// The name of the last migration this version of Cairn has.
fn latest_schema() -> String {
    use cairn_migrations::MigratorTrait;
    cairn_migrations::Migrator::migrations()
        .last()
        .map(|m| m.name().to_owned())
        .unwrap_or_default()
}

fn known_schema(name: &str) -> bool {
    use cairn_migrations::MigratorTrait;
    cairn_migrations::Migrator::migrations()
        .iter()
        .any(|m| m.name() == name)
}

/// A backup that was written.
#[derive(Debug, Clone)]
pub struct BackupReport {
    /// Where it is.
    pub path: PathBuf,
    /// Its size.
    pub bytes: u64,
    /// Hex SHA-256 of the file.
    pub checksum: String,
    /// When its snapshot was taken.
    pub taken_at: DateTime<Utc>,
    /// Rows per table.
    pub tables: TableCounts,
    /// Older backups removed from the backup folder (`backup_keep`).
    pub removed: Vec<PathBuf>,
}

/// The file name backups get in the backup folder; names sort by time.
const BACKUP_PREFIX: &str = "cairn-";
const BACKUP_SUFFIX: &str = ".backup";

/// Take a backup of `store` into `output`, or a new file in the backup folder (then keeping only
/// the newest `backup_keep` there). The file is written beside its final name and renamed into
/// place once complete and on disk, so a file with that name is always whole.
pub async fn take_backup(
    store: &Store,
    settings: &Settings,
    keyring: &Keyring,
    output: Option<&Path>,
) -> Result<BackupReport, BackupError> {
    let taken_at = Utc::now();
    let (path, in_backup_dir) = match output {
        Some(path) => (path.to_owned(), false),
        None => {
            let dir = settings.backup_dir_path();
            create_private_dir(&dir)?;
            let name = format!(
                "{BACKUP_PREFIX}{}{BACKUP_SUFFIX}",
                taken_at.format("%Y%m%dT%H%M%S%.6fZ")
            );
            (dir.join(name), true)
        }
    };
    let partial = partial_path(&path);
    let (key_kind, key) = sealing_key(settings, keyring)?;
    let mut salt = [0u8; SALT_LEN];
    OsRng.fill_bytes(&mut salt);
    let _ = std::fs::remove_file(&partial);
    let mut writer = BackupWriter::create(&partial, key_kind, &key, salt)?;
    let written = async {
        let backend = if settings
            .database_url()
            .expose_secret()
            .starts_with("postgres")
        {
            "postgres"
        } else {
            "sqlite"
        };
        writer
            .record(&Record::Begin(BackupInfo {
                taken_at,
                cairn_version: env!("CARGO_PKG_VERSION").to_owned(),
                source: backend.to_owned(),
                schema: latest_schema(),
            }))
            .map_err(|err| BackupError::Io(std::io::Error::other(err)))?;
        let tables = store.dump_tables(&mut writer).await?;
        writer
            .record(&Record::End {
                tables: tables.clone(),
            })
            .map_err(|err| BackupError::Io(std::io::Error::other(err)))?;
        let (bytes, checksum) = writer.finish()?;
        Ok::<_, BackupError>((tables, bytes, checksum))
    }
    .await;
    let (tables, bytes, checksum) = match written {
        Ok(done) => done,
        Err(err) => {
            let _ = std::fs::remove_file(&partial);
            return Err(err);
        }
    };
    std::fs::rename(&partial, &path)?;
    if let Some(parent) = path.parent()
        && let Ok(dir) = File::open(if parent.as_os_str().is_empty() {
            Path::new(".")
        } else {
            parent
        })
    {
        let _ = dir.sync_all();
    }
    store.record_backup(taken_at, bytes, &checksum).await?;
    let removed = if in_backup_dir && settings.backup_keep > 0 {
        prune(&settings.backup_dir_path(), settings.backup_keep)?
    } else {
        Vec::new()
    };
    Ok(BackupReport {
        path,
        bytes,
        checksum,
        taken_at,
        tables,
        removed,
    })
}

fn partial_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".partial");
    PathBuf::from(name)
}

fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

/// Keep the newest `keep` backups in `dir` (by name, which is by time); remove the others.
fn prune(dir: &Path, keep: usize) -> std::io::Result<Vec<PathBuf>> {
    let mut backups: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| {
            path.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(BACKUP_PREFIX) && n.ends_with(BACKUP_SUFFIX))
        })
        .collect();
    backups.sort();
    let excess = backups.len().saturating_sub(keep);
    let removed: Vec<PathBuf> = backups.into_iter().take(excess).collect();
    for path in &removed {
        std::fs::remove_file(path)?;
    }
    Ok(removed)
}

/// What the deletion ledger made a restore delete again.
#[derive(Debug, Clone, Default)]
pub struct LedgerReport {
    /// Plans in the backup that the ledger lists: shredded and tombstoned again.
    pub plans_shredded: u64,
    /// Plans the ledger lists that the backup did not hold: tombstoned, so no device brings
    /// them back.
    pub plans_tombstoned: u64,
    /// Accounts the ledger lists that the backup held alive: closed again.
    pub accounts_closed: u64,
    /// Ledger lines that could not be read (skipped).
    pub unreadable_lines: Vec<usize>,
}

/// Delete again everything the deletion ledger at `path` lists, the way deletion does: plans
/// crypto-shredded and tombstoned, accounts closed and their plans deleted or left.
pub async fn apply_ledger(store: &Store, path: &Path) -> Result<LedgerReport, BackupError> {
    apply_ledger_entries(store, ledger::read(path)?).await
}

async fn apply_ledger_entries(
    store: &Store,
    ledger: ledger::Ledger,
) -> Result<LedgerReport, BackupError> {
    let mut report = LedgerReport {
        unreadable_lines: ledger.unreadable_lines,
        ..LedgerReport::default()
    };
    for entry in &ledger.entries {
        match entry.deleted {
            Deleted::Plan(plan) => {
                if store.delete_plan(plan, entry.at).await? {
                    report.plans_shredded += 1;
                } else if !store.is_tombstoned(plan).await? {
                    store.tombstone_absent_plan(plan, entry.at).await?;
                    report.plans_tombstoned += 1;
                }
            }
            Deleted::Account(user) => match store.close_account(user, entry.at).await? {
                Leaving::Closed => report.accounts_closed += 1,
                Leaving::Gone => {}
                Leaving::SoleAdmin => tracing::warn!(
                    user.id = %user,
                    "the deletion ledger lists the only admin of the restored database: left as it is"
                ),
            },
        }
    }
    crate::services::leaving::finish_departures(store).await?;
    Ok(report)
}

/// What a restore did.
#[derive(Debug, Clone)]
pub struct RestoreReport {
    /// The backup, as checked before anything was written.
    pub summary: BackupSummary,
    /// What the deletion ledger deleted again.
    pub ledger: LedgerReport,
}

/// Restore the backup at `path` into `store` (migrated): the whole file is checked first
/// (nothing written if it fails), then every row is written in one transaction, refused on a
/// database that holds accounts or plans unless `force` (which replaces them), then the
/// deletion ledger is applied.
pub async fn restore(
    store: &Store,
    settings: &Settings,
    keyring: &Keyring,
    path: &Path,
    force: bool,
) -> Result<RestoreReport, BackupError> {
    let summary = verify(path, settings, keyring)?;
    if !known_schema(&summary.info.schema) {
        return Err(BackupError::NewerSchema(summary.info.schema.clone()));
    }
    // Restored without its master key, every plan would be there but unreadable.
    let held = keyring.key_ids();
    if let Some(missing) = summary.master_keys.iter().find(|id| !held.contains(id)) {
        return Err(BackupError::MissingKey(format!(
            "the plans in this backup are sealed under master key {missing}, which this \
             server's keyring does not hold (set master_key / the master-key file to it, or add \
             it to previous_master_keys); nothing was restored"
        )));
    }
    // Read before anything is written: a ledger that cannot be read stops the restore.
    let ledger = ledger::read(&settings.deletion_ledger_path())?;
    let (reader, _) = open_backup(path, settings, keyring)?;
    let mut source = FileSource {
        reader: Some(reader),
    };
    store.restore_tables(&mut source, force).await?;
    let ledger = apply_ledger_entries(store, ledger)
        .await
        .map_err(|err| BackupError::LedgerNotApplied(err.to_string()))?;
    Ok(RestoreReport { summary, ledger })
}

/// The rows of a backup file, for [`Store::restore_tables`].
struct FileSource {
    reader: Option<BackupReader>,
}

impl RowSource for FileSource {
    fn next_item(&mut self) -> Result<RestoreItem, StreamError> {
        let Some(reader) = self.reader.as_mut() else {
            return Ok(RestoreItem::End);
        };
        loop {
            return Ok(match reader.record()? {
                Record::Begin(_) => continue,
                Record::Table { name, columns } => RestoreItem::Table { name, columns },
                Record::Row(row) => RestoreItem::Row(row),
                Record::EndTable { .. } => RestoreItem::EndTable,
                Record::End { .. } => {
                    if let Some(reader) = self.reader.take() {
                        reader.finish()?;
                    }
                    RestoreItem::End
                }
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A backup file of one table with `rows` rows of 40 KiB each (several chunks), sealed
    /// under the settings' backup key, written without a database.
    fn write_file(path: &Path, settings: &Settings, keyring: &Keyring, rows: u64) {
        let (key_kind, key) = sealing_key(settings, keyring).expect("key");
        let mut writer = BackupWriter::create(path, key_kind, &key, [7u8; SALT_LEN]).expect("file");
        let info = BackupInfo {
            taken_at: Utc::now(),
            cairn_version: "test".into(),
            source: "sqlite".into(),
            schema: latest_schema(),
        };
        writer.record(&Record::Begin(info)).expect("begin");
        writer.table("notes", &["data".into()]).expect("table");
        for _ in 0..rows {
            let cell = ciborium::Value::Bytes(vec![42; 40 * 1024]);
            writer.row(ciborium::Value::Array(vec![cell])).expect("row");
        }
        writer.end_table(rows).expect("end table");
        let tables = vec![("notes".to_owned(), rows)];
        writer.record(&Record::End { tables }).expect("end");
        writer.finish().expect("finish");
    }

    /// The chunks of a file: (offset, prefix, total length with the prefix).
    fn chunks(bytes: &[u8]) -> Vec<(usize, u32, usize)> {
        let mut at = HEADER_LEN;
        let mut found = Vec::new();
        while at + 4 <= bytes.len() - 32 {
            let prefix = u32::from_be_bytes(bytes[at..at + 4].try_into().expect("4 bytes"));
            let len = 4 + (prefix & !FINAL_FLAG) as usize;
            found.push((at, prefix, len));
            at += len;
        }
        found
    }

    /// `body` with a correct trailer: what someone without the key can always produce.
    fn with_trailer(mut body: Vec<u8>) -> Vec<u8> {
        let sum = Sha256::digest(&body);
        body.extend_from_slice(&sum);
        body
    }

    #[test]
    fn a_file_cut_reordered_or_relabelled_is_refused_even_with_a_fixed_checksum() {
        let dir = tempfile::tempdir().expect("dir");
        let keyring = Keyring::ephemeral();
        let settings = Settings {
            backup_key: Some(MasterKey::generate().to_base64().clone()),
            ..Settings::default()
        };
        let path = dir.path().join("b.backup");
        write_file(&path, &settings, &keyring, 5);
        let summary = verify(&path, &settings, &keyring).expect("an intact file verifies");
        assert_eq!(summary.rows("notes"), 5);
        assert!(summary.sealed_with.starts_with("backup key "));

        let bytes = std::fs::read(&path).expect("read");
        let found = chunks(&bytes);
        assert!(found.len() >= 4, "several chunks: {}", found.len());
        let (last_at, last_prefix, _) = found[found.len() - 1];
        assert!(last_prefix & FINAL_FLAG != 0);
        let body = &bytes[..bytes.len() - 32];
        let (second_at, _, second_len) = found[1];
        let (third_at, _, third_len) = found[2];
        let mut swapped = body[..second_at].to_vec();
        swapped.extend_from_slice(&body[third_at..third_at + third_len]);
        swapped.extend_from_slice(&body[second_at..second_at + second_len]);
        swapped.extend_from_slice(&body[third_at + third_len..]);
        let mut relabelled = body.to_vec();
        relabelled[found[1].0] |= 0x80;
        let mut appended = bytes.clone();
        appended.push(0);
        let cases = [
            (
                "cut before the last chunk",
                with_trailer(body[..last_at].to_vec()),
            ),
            ("two chunks swapped", with_trailer(swapped)),
            ("a chunk marked last", with_trailer(relabelled)),
            ("a byte after the trailer", appended),
            ("the header only", bytes[..HEADER_LEN].to_vec()),
        ];
        for (what, altered) in cases {
            let bad = dir.path().join("bad.backup");
            std::fs::write(&bad, altered).expect("write");
            let refused = verify(&bad, &settings, &keyring);
            assert!(
                matches!(refused, Err(BackupError::Damaged(_))),
                "{what}: {refused:?}"
            );
        }

        let other = Settings {
            backup_key: Some(MasterKey::generate().to_base64().clone()),
            ..Settings::default()
        };
        let refused = verify(&path, &other, &keyring);
        assert!(
            matches!(refused, Err(BackupError::MissingKey(_))),
            "{refused:?}"
        );
        let refused = verify(&path, &Settings::default(), &keyring);
        assert!(
            matches!(refused, Err(BackupError::MissingKey(_))),
            "{refused:?}"
        );
        std::fs::write(
            dir.path().join("x"),
            b"not a backup at all, but long enough to have a header of 58 bytes",
        )
        .expect("write");
        assert!(matches!(
            verify(&dir.path().join("x"), &settings, &keyring),
            Err(BackupError::NotABackup)
        ));
    }
}
