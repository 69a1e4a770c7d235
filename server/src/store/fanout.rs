//! Several Cairn instances on one Postgres: notices between them (`LISTEN/NOTIFY`). What a plan's
//! worker then reads to catch up is in `changes` ([`Store::plan_catch_up`]).
//!
//! A notice only says *what* to look at again (a plan, an account, a device session); the facts
//! are always read from the tables, so a notice that is lost (a listener reconnecting) costs a
//! re-read, never a wrong state: the listener reports the gap and every loaded plan is re-read.

use cairn_shared::{PlanId, SessionId, UserId};
use sea_orm::sqlx::postgres::PgListener;
use sea_orm::{ConnectionTrait, DbBackend, Statement};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};

use super::{Store, StoreError};

/// The Postgres channel Cairn's instances talk on.
pub const CHANNEL: &str = "cairn";

/// Something another instance must look at again, or presence to relay.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Notice {
    /// The plan changed: new changes, members, or it was deleted.
    Plan {
        /// The plan.
        plan: PlanId,
    },
    /// The account was disabled or deleted: its sync connections close.
    AccountDisabled {
        /// The account.
        user: UserId,
        /// What its connections are told (one of the server's own sentences, never content);
        /// absent from an instance of an older version, which meant "disabled".
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    /// The device session ended (signed out, ended, or its refresh token reused).
    SessionEnded {
        /// The session.
        session: SessionId,
    },
    /// Presence (an automerge-repo `ephemeral` message) a member sent to another instance, for
    /// the plan's connections here. Never stored; too large a payload is not relayed.
    Presence {
        /// The plan.
        plan: PlanId,
        /// The sender's peer id.
        sender: String,
        /// The sender's session id.
        session_id: String,
        /// The sender's counter.
        count: u64,
        /// The payload, base64.
        data: String,
    },
    /// The account's last connection syncing the plan on the sending instance went: the
    /// plan's connections here hear it is gone, unless it has one here too.
    PresenceGone {
        /// The plan.
        plan: PlanId,
        /// The account.
        user: UserId,
    },
}

/// Postgres refuses notice payloads of 8000 bytes or more.
pub const MAX_NOTICE_BYTES: usize = 7_900;

#[derive(Serialize, Deserialize)]
struct Envelope {
    /// The instance that published it (each ignores its own).
    from: uuid::Uuid,
    #[serde(flatten)]
    notice: Notice,
}

/// What a subscription heard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Heard {
    /// A notice from another instance.
    Notice(Notice),
    /// The connection to Postgres was lost and is back: notices may have been missed.
    Gap,
}

/// Notices from the other instances on the same database.
pub struct Subscription {
    listener: PgListener,
    instance: uuid::Uuid,
}

impl std::fmt::Debug for Subscription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subscription").finish_non_exhaustive()
    }
}

impl Subscription {
    /// The next notice from another instance, or a gap. An error means the connection is gone
    /// and could not be made again; subscribe anew after a pause.
    pub async fn next(&mut self) -> Result<Heard, StoreError> {
        loop {
            let Some(notification) = self
                .listener
                .try_recv()
                .await
                .map_err(|err| StoreError::Database(sea_orm::DbErr::Custom(err.to_string())))?
            else {
                return Ok(Heard::Gap);
            };
            match serde_json::from_str::<Envelope>(notification.payload()) {
                Ok(envelope) if envelope.from == self.instance => {}
                Ok(envelope) => return Ok(Heard::Notice(envelope.notice)),
                Err(err) => tracing::warn!(error = %err, "ignored an unreadable notice"),
            }
        }
    }
}

impl Store {
    /// Whether other instances may share this database (Postgres), so notices are published.
    pub fn is_shared(&self) -> bool {
        self.db.get_database_backend() == DbBackend::Postgres
    }

    /// Tell the other instances on this database to look at something again; nothing on SQLite.
    pub async fn publish(&self, notice: Notice) -> Result<(), StoreError> {
        self.publish_on(&self.db, notice).await
    }

    /// Publish on `conn`: inside a transaction, the notice goes out when (and only if) it commits.
    pub(super) async fn publish_on<C: ConnectionTrait>(
        &self,
        conn: &C,
        notice: Notice,
    ) -> Result<(), StoreError> {
        if !self.is_shared() {
            return Ok(());
        }
        let payload = serde_json::to_string(&Envelope {
            from: self.instance,
            notice,
        })
        .map_err(|err| StoreError::Corrupt(err.to_string()))?;
        if payload.len() > MAX_NOTICE_BYTES {
            return Err(StoreError::Corrupt(
                "the notice is too large for Postgres".into(),
            ));
        }
        conn.execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT pg_notify($1, $2)",
            [CHANNEL.into(), payload.into()],
        ))
        .await?;
        Ok(())
    }

    /// Listen for the other instances' notices (on a connection of its own); `None` on SQLite.
    pub async fn subscribe(&self) -> Result<Option<Subscription>, StoreError> {
        if !self.is_shared() {
            return Ok(None);
        }
        let database_err = |err: sea_orm::sqlx::Error| {
            StoreError::Database(sea_orm::DbErr::Custom(err.to_string()))
        };
        let mut listener = PgListener::connect(self.url.expose_secret())
            .await
            .map_err(database_err)?;
        listener.listen(CHANNEL).await.map_err(database_err)?;
        Ok(Some(Subscription {
            listener,
            instance: self.instance,
        }))
    }
}
