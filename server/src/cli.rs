//! The `cairn` command line: `serve` (the default), `admin create`, `keys rotate`, `keys
//! generate`, `healthcheck`, `backup` and `restore`.

use std::io::{BufRead, IsTerminal, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use cairn_shared::api::{AccountKind, AdminAction};
use clap::{Parser, Subcommand};
use secrecy::SecretString;

use crate::config::Settings;
use crate::services::accounts::create_account;
use crate::services::activity::admin_act;
use crate::startup::{Application, open_store};

/// Cairn: a self-hostable sync server for shared recovery plans.
#[derive(Debug, Parser)]
#[command(name = "cairn", version, about)]
pub struct Cli {
    /// A TOML settings file; `CAIRN_*` environment variables override it.
    #[arg(long, global = true, env = "CAIRN_CONFIG")]
    pub config: Option<PathBuf>,
    /// What to do (default: serve).
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server.
    Serve,
    /// Manage accounts from the server's own machine.
    Admin {
        /// What to do.
        #[command(subcommand)]
        command: AdminCommand,
    },
    /// Manage the master key that wraps every plan's data key.
    Keys {
        /// What to do.
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Exit 0 if the server on this machine answers `GET /healthz` (for container health checks).
    Healthcheck {
        /// The address to check; default: the configured listen address, on loopback.
        #[arg(long)]
        address: Option<SocketAddr>,
    },
    /// Write an encrypted backup of the whole database while the server runs (every change
    /// acknowledged before it started is in it), or check one with `--verify`.
    Backup {
        /// The file to write; default: a new `cairn-<time>.backup` in `backup_dir`, keeping the
        /// newest `backup_keep` there.
        #[arg(long, short)]
        output: Option<PathBuf>,
        /// Check this backup file whole, without restoring it, and print what it holds.
        #[arg(long, value_name = "FILE", conflicts_with = "output")]
        verify: Option<PathBuf>,
    },
    /// Restore a backup into an empty database (stop the servers first), then delete again
    /// every plan and account the deletion ledger lists.
    Restore {
        /// The backup file.
        file: PathBuf,
        /// Replace what the database holds (accounts, plans, logs) with the backup.
        #[arg(long)]
        force: bool,
    },
}

/// Account management commands.
#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Create an admin account. The password is asked for (or read from stdin); there is never
    /// a default password.
    Create {
        /// Login name.
        #[arg(long)]
        username: String,
        /// Name shown to others (default: the username).
        #[arg(long)]
        display_name: Option<String>,
        /// Read the password from the first line of standard input instead of prompting.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Remove an account's second factor and end its sessions: the way back for the last admin
    /// who lost their authenticator app (another admin can do it over the API). Recorded in the
    /// admin audit and the account's activity.
    ResetSecondFactor {
        /// Login name.
        #[arg(long)]
        username: String,
    },
}

/// Master key commands.
#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Re-wrap every plan's data key under a new master key (the key file) or under the
    /// configured `master_key`, while servers keep running. Plan content is not rewritten.
    Rotate {
        /// Seconds to wait for servers that may be wrapping a new plan's key under the old
        /// master key right now, before the old key leaves the key file.
        #[arg(long, default_value_t = 5)]
        settle_secs: u64,
    },
    /// Print a new random master key (base64), for `CAIRN_MASTER_KEY`.
    Generate,
}

/// Run the parsed command line.
pub async fn run(cli: Cli, settings: Settings) -> anyhow::Result<()> {
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(settings).await,
        Command::Admin {
            command:
                AdminCommand::Create {
                    username,
                    display_name,
                    password_stdin,
                },
        } => {
            let password = read_password(password_stdin)?;
            let store = open_store(&settings).await?;
            let display_name = display_name.unwrap_or_else(|| username.clone());
            let user = create_account(
                &store,
                &username,
                &display_name,
                password,
                AccountKind::Admin,
            )
            .await
            .context("could not create the admin account")?;
            // The command line on the server is an admin act of its own (no admin account).
            admin_act(
                &store,
                None,
                AdminAction::AccountCreated,
                Some(user.id),
                None,
            )
            .await
            .context("could not record the act in the admin audit")?;
            println!("Created admin account '{}' ({})", user.username, user.id);
            store.close().await?;
            Ok(())
        }
        Command::Admin {
            command: AdminCommand::ResetSecondFactor { username },
        } => {
            let store = open_store(&settings).await?;
            let user = match crate::services::accounts::normalize_username(&username) {
                Ok(name) => store.user_by_username(&name).await?,
                Err(_) => None,
            };
            let Some(user) = user else {
                bail!("no account is named '{username}'");
            };
            if !store.remove_second_factor(user.id).await? {
                bail!("'{}' has no second factor", user.username);
            }
            let now = chrono::Utc::now();
            for session in store.active_sessions(user.id, now).await? {
                store.revoke_session(user.id, session.id, now).await?;
            }
            admin_act(
                &store,
                None,
                AdminAction::SecondFactorReset,
                Some(user.id),
                Some("totp".into()),
            )
            .await
            .context("could not record the act in the admin audit")?;
            println!(
                "Removed the second factor of '{}' and ended its sessions; they can add a new \
                 one after signing in with their password.",
                user.username
            );
            store.close().await?;
            Ok(())
        }
        Command::Keys {
            command: KeysCommand::Rotate { settle_secs },
        } => {
            let store = open_store(&settings).await?;
            let report = crate::services::keys::rotate(&store, Duration::from_secs(settle_secs))
                .await
                .context("key rotation failed")?;
            admin_act(
                &store,
                None,
                AdminAction::KeysRotated,
                None,
                Some(format!(
                    "{} plan keys re-wrapped under master key {}",
                    report.rewrapped, report.current_key_id
                )),
            )
            .await
            .context("could not record the rotation in the admin audit")?;
            println!(
                "Re-wrapped {} plan keys under master key {}.",
                report.rewrapped, report.current_key_id
            );
            if !report.retired_key_ids.is_empty() {
                println!(
                    "Removed the old master key(s) {} from the key file.",
                    report.retired_key_ids.join(", ")
                );
            }
            store.close().await?;
            if report.remaining > 0 {
                bail!(
                    "{} plan keys are wrapped under a master key this keyring does not hold; \
                     add it to previous_master_keys and run again",
                    report.remaining
                );
            }
            if settings.master_key.is_some() {
                println!("Every plan key is under master_key now: previous_master_keys can go.");
            }
            Ok(())
        }
        Command::Keys {
            command: KeysCommand::Generate,
        } => {
            use secrecy::ExposeSecret;
            println!(
                "{}",
                crate::crypto::MasterKey::generate()
                    .to_base64()
                    .expose_secret()
            );
            Ok(())
        }
        Command::Healthcheck { address } => healthcheck(address.unwrap_or(settings.listen)),
        Command::Backup {
            verify: Some(file), ..
        } => {
            let keyring = crate::startup::load_keyring(&settings)?;
            let summary = crate::services::backup::verify(&file, &settings, &keyring)
                .with_context(|| format!("{} does not verify", file.display()))?;
            print!("{summary}");
            println!("OK: every chunk, record and count checks out.");
            Ok(())
        }
        Command::Backup {
            output,
            verify: None,
        } => backup(&settings, output.as_deref()).await,
        Command::Restore { file, force } => restore(&settings, &file, force).await,
    }
}

async fn serve(settings: Settings) -> anyhow::Result<()> {
    let ip = settings.listen.ip();
    let app = Application::build(settings).await?;
    let address = SocketAddr::new(ip, app.port());
    tracing::info!(%address, "Cairn is listening");
    println!("Cairn listening on http://{address}");
    std::io::stdout().flush()?;
    app.run_until_stopped().await?;
    Ok(())
}

async fn backup(settings: &Settings, output: Option<&std::path::Path>) -> anyhow::Result<()> {
    let keyring = Arc::new(crate::startup::load_keyring(settings)?);
    let store = crate::store::Store::connect(
        &settings.database_url(),
        2,
        keyring.clone(),
        settings.plans_per_account,
    )
    .await?;
    // A backup never changes the database: no migration here. One taken by a cairn of another
    // version than the database's would not restore as it should.
    if !store.is_ready().await {
        bail!(
            "the database is not at this cairn's schema (or does not answer): back it up with \
             the cairn version the server runs"
        );
    }
    let report = crate::services::backup::take_backup(&store, settings, &keyring, output)
        .await
        .context("the backup failed")?;
    store.close().await?;
    let rows: u64 = report.tables.iter().map(|(_, rows)| rows).sum();
    println!(
        "Backup written: {} ({} bytes, {} rows, taken at {})",
        report.path.display(),
        report.bytes,
        rows,
        report.taken_at.to_rfc3339()
    );
    println!("sha256: {}", report.checksum);
    for old in &report.removed {
        println!("Removed an older backup: {}", old.display());
    }
    Ok(())
}

async fn restore(settings: &Settings, file: &std::path::Path, force: bool) -> anyhow::Result<()> {
    let keyring = crate::startup::load_keyring(settings)?;
    let store = open_store(settings).await?;
    let restored = crate::services::backup::restore(&store, settings, &keyring, file, force).await;
    store.close().await?;
    let report = match restored {
        Ok(report) => report,
        Err(crate::services::backup::BackupError::Store(
            crate::store::backup::BackupStoreError::NotEmpty(table),
        )) => bail!(
            "the database is not empty (table {table} has rows): restore into a fresh one, or \
             pass --force to replace everything in it with the backup; nothing was written"
        ),
        Err(err @ crate::services::backup::BackupError::LedgerNotApplied(_)) => {
            return Err(err.into());
        }
        Err(err) => {
            return Err(anyhow::Error::new(err).context(format!(
                "{} was not restored (nothing was written)",
                file.display()
            )));
        }
    };
    print!("{}", report.summary);
    let ledger = &report.ledger;
    println!(
        "Restored. Deletion ledger: {} plans shredded again, {} more ids tombstoned, {} accounts \
         closed again.",
        ledger.plans_shredded, ledger.plans_tombstoned, ledger.accounts_closed
    );
    if !ledger.unreadable_lines.is_empty() {
        eprintln!(
            "warning: deletion ledger lines {:?} could not be read and were skipped",
            ledger.unreadable_lines
        );
    }
    Ok(())
}

fn read_password(from_stdin: bool) -> anyhow::Result<SecretString> {
    if from_stdin {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
        let password = line.trim_end_matches(['\r', '\n']).to_owned();
        if password.is_empty() {
            bail!("no password on standard input");
        }
        return Ok(SecretString::from(password));
    }
    if !std::io::stdin().is_terminal() {
        bail!("no terminal to ask for a password on: pass --password-stdin and pipe it in");
    }
    let first = rpassword::prompt_password("New admin password: ")?;
    let second = rpassword::prompt_password("Repeat it: ")?;
    if first != second {
        bail!("the two passwords differ");
    }
    Ok(SecretString::from(first))
}

fn healthcheck(mut address: SocketAddr) -> anyhow::Result<()> {
    if address.ip().is_unspecified() {
        address.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
    }
    let timeout = Duration::from_secs(3);
    let mut stream = TcpStream::connect_timeout(&address, timeout)?;
    stream.set_read_timeout(Some(timeout))?;
    stream.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")?;
    let mut answer = String::new();
    stream.take(4096).read_to_string(&mut answer)?;
    let status_line = answer.lines().next().unwrap_or_default();
    if status_line.split_whitespace().nth(1) == Some("200") {
        Ok(())
    } else {
        bail!("unhealthy: {status_line}")
    }
}
