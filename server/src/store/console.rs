//! What the admin console reads and changes beyond accounts: searching accounts, the list of
//! enrollment codes and revoking one, and the server's health (which database, migrations, and
//! the instances that said lately that they are up).

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, Func, LikeExpr, OnConflict};
use sea_orm::{
    ColumnTrait, Condition, DbBackend, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
};
use uuid::Uuid;

use super::entities::{enrollment_codes, instances, users};
use super::{Store, StoreError};
use crate::domain::User;

/// An enrollment code as stored, without its hash.
#[derive(Debug, Clone)]
pub struct StoredEnrollmentCode {
    /// Its id.
    pub id: Uuid,
    /// The admin's label.
    pub label: Option<String>,
    /// Accounts registered with it.
    pub uses: u32,
    /// How many may.
    pub max_uses: u32,
    /// When it was made.
    pub created_at: DateTime<Utc>,
    /// When it expires.
    pub expires_at: DateTime<Utc>,
    /// When it was revoked.
    pub revoked_at: Option<DateTime<Utc>>,
}

/// What revoking an enrollment code did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Revocation {
    /// It is revoked now (with its label, for the audit).
    Revoked(Option<String>),
    /// It was revoked before.
    AlreadyRevoked,
    /// There is no such code.
    NotFound,
}

fn count(n: i32) -> u32 {
    u32::try_from(n).unwrap_or(0)
}

impl From<enrollment_codes::Model> for StoredEnrollmentCode {
    fn from(row: enrollment_codes::Model) -> Self {
        Self {
            id: row.id,
            label: row.label,
            uses: count(row.uses),
            max_uses: count(row.max_uses),
            created_at: row.created_at,
            expires_at: row.expires_at,
            revoked_at: row.revoked_at,
        }
    }
}

/// `text` as a `LIKE` pattern matching it anywhere, its own `%`, `_` and `\` taken literally.
fn contains_pattern(text: &str) -> LikeExpr {
    let mut escaped = String::with_capacity(text.len() + 2);
    escaped.push('%');
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped.push('%');
    LikeExpr::new(escaped).escape('\\')
}

impl Store {
    /// Accounts (not deleted) whose username or display name contains `query` (any case; every
    /// account without one), by username, `limit` from `offset`.
    pub async fn search_users(
        &self,
        query: Option<&str>,
        limit: u64,
        offset: u64,
    ) -> Result<Vec<User>, StoreError> {
        let mut select = users::Entity::find().filter(users::Column::DeletedAt.is_null());
        if let Some(query) = query.map(str::trim).filter(|q| !q.is_empty()) {
            let pattern = query.to_lowercase();
            select = select.filter(
                Condition::any()
                    .add(Expr::col(users::Column::Username).like(contains_pattern(&pattern)))
                    .add(
                        Expr::expr(Func::lower(Expr::col(users::Column::DisplayName)))
                            .like(contains_pattern(&pattern)),
                    ),
            );
        }
        select
            .order_by_asc(users::Column::Username)
            .limit(limit)
            .offset(offset)
            .all(&self.db)
            .await?
            .into_iter()
            .map(User::try_from)
            .collect()
    }

    /// Every enrollment code (newest first, at most `limit`), without the codes.
    pub async fn enrollment_codes(
        &self,
        limit: u64,
    ) -> Result<Vec<StoredEnrollmentCode>, StoreError> {
        Ok(enrollment_codes::Entity::find()
            .order_by_desc(enrollment_codes::Column::CreatedAt)
            .limit(limit)
            .all(&self.db)
            .await?
            .into_iter()
            .map(StoredEnrollmentCode::from)
            .collect())
    }

    /// Give a just-made enrollment code its label.
    pub async fn label_enrollment_code(&self, id: Uuid, label: &str) -> Result<(), StoreError> {
        enrollment_codes::Entity::update_many()
            .col_expr(
                enrollment_codes::Column::Label,
                Expr::value(label.to_owned()),
            )
            .filter(enrollment_codes::Column::Id.eq(id))
            .exec(&self.db)
            .await?;
        Ok(())
    }

    /// Revoke an enrollment code: it registers nobody from now on.
    pub async fn revoke_enrollment_code(
        &self,
        id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<Revocation, StoreError> {
        let txn = self.begin_write().await?;
        let Some(row) = enrollment_codes::Entity::find_by_id(id).one(&txn).await? else {
            return Ok(Revocation::NotFound);
        };
        if row.revoked_at.is_some() {
            return Ok(Revocation::AlreadyRevoked);
        }
        enrollment_codes::Entity::update_many()
            .col_expr(enrollment_codes::Column::RevokedAt, Expr::value(now))
            .filter(enrollment_codes::Column::Id.eq(id))
            .exec(&txn)
            .await?;
        txn.commit().await?;
        Ok(Revocation::Revoked(row.label))
    }

    /// This instance is up (`version` running since `started_at`); instances not seen for a day
    /// are forgotten.
    pub async fn record_instance(
        &self,
        version: &str,
        started_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        instances::Entity::insert(instances::ActiveModel {
            id: Set(self.instance),
            version: Set(version.to_owned()),
            started_at: Set(started_at),
            seen_at: Set(now),
        })
        .on_conflict(
            OnConflict::column(instances::Column::Id)
                .update_columns([instances::Column::SeenAt, instances::Column::Version])
                .to_owned(),
        )
        .exec_without_returning(&self.db)
        .await?;
        instances::Entity::delete_many()
            .filter(instances::Column::SeenAt.lt(now - chrono::Duration::days(1)))
            .exec(&self.db)
            .await?;
        Ok(())
    }

    /// How many instances said they were up since `since`.
    pub async fn instances_seen_since(&self, since: DateTime<Utc>) -> Result<u64, StoreError> {
        Ok(instances::Entity::find()
            .filter(instances::Column::SeenAt.gte(since))
            .count(&self.db)
            .await?)
    }

    /// Which database this is.
    pub fn backend(&self) -> DbBackend {
        self.db.get_database_backend()
    }

    /// Whether the database answers.
    pub async fn reachable(&self) -> bool {
        self.db.ping().await.is_ok()
    }
}
