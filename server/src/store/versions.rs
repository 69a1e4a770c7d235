//! Named versions of a plan: the name and the heads it points at, sealed with the plan's data
//! key (plan content, shredded with the plan), who named it and when, who acknowledged it.

use cairn_shared::{PlanId, UserId};
use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, Set};
use uuid::Uuid;

use super::entities::plan_versions;
use super::{Store, StoreError};

/// A named version, opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredVersion {
    /// Its id.
    pub id: Uuid,
    /// Its name, in the member's words.
    pub name: String,
    /// The document's heads when it was named (hex change hashes).
    pub heads: Vec<String>,
    /// Who named it.
    pub named_by: UserId,
    /// When.
    pub named_at: DateTime<Utc>,
    /// Who acknowledged it, and when.
    pub acknowledged: Option<(UserId, DateTime<Utc>)>,
}

const NAME: &str = "name";
const HEADS: &str = "heads";

impl Store {
    /// Record a named version of `plan`, its name and heads sealed.
    pub async fn insert_version(
        &self,
        plan: PlanId,
        name: &str,
        heads: &[String],
        by: UserId,
        at: DateTime<Utc>,
    ) -> Result<StoredVersion, StoreError> {
        let id = Uuid::new_v4();
        let key = self.plan_key(&self.db, plan).await?;
        let sealed_name = key.seal_version(plan, id, NAME, name.as_bytes())?;
        let sealed_heads = key.seal_version(plan, id, HEADS, heads.join(",").as_bytes())?;
        plan_versions::ActiveModel {
            id: Set(id),
            plan_id: Set(plan.0),
            sealed_name: Set(sealed_name),
            sealed_heads: Set(sealed_heads),
            named_by: Set(by.0),
            named_at: Set(at),
            acknowledged_by: Set(None),
            acknowledged_at: Set(None),
        }
        .insert(&self.db)
        .await?;
        Ok(StoredVersion {
            id,
            name: name.to_owned(),
            heads: heads.to_vec(),
            named_by: by,
            named_at: at,
            acknowledged: None,
        })
    }

    /// The plan's named versions, oldest first.
    pub async fn versions(&self, plan: PlanId) -> Result<Vec<StoredVersion>, StoreError> {
        let rows = plan_versions::Entity::find()
            .filter(plan_versions::Column::PlanId.eq(plan.0))
            .order_by_asc(plan_versions::Column::NamedAt)
            .order_by_asc(plan_versions::Column::Id)
            .all(&self.db)
            .await?;
        let mut opened = Vec::with_capacity(rows.len());
        for row in rows {
            opened.push(self.open_version_row(plan, row).await?);
        }
        Ok(opened)
    }

    /// One named version of the plan, if it has it.
    pub async fn version(
        &self,
        plan: PlanId,
        id: Uuid,
    ) -> Result<Option<StoredVersion>, StoreError> {
        let row = plan_versions::Entity::find_by_id(id)
            .filter(plan_versions::Column::PlanId.eq(plan.0))
            .one(&self.db)
            .await?;
        match row {
            Some(row) => Ok(Some(self.open_version_row(plan, row).await?)),
            None => Ok(None),
        }
    }

    /// Record that `by` acknowledged the version; false if it already was (nothing changes).
    pub async fn acknowledge_version(
        &self,
        plan: PlanId,
        id: Uuid,
        by: UserId,
        at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let done = plan_versions::Entity::update_many()
            .col_expr(plan_versions::Column::AcknowledgedBy, Expr::value(by.0))
            .col_expr(plan_versions::Column::AcknowledgedAt, Expr::value(at))
            .filter(plan_versions::Column::Id.eq(id))
            .filter(plan_versions::Column::PlanId.eq(plan.0))
            .filter(plan_versions::Column::AcknowledgedBy.is_null())
            .exec(&self.db)
            .await?;
        Ok(done.rows_affected == 1)
    }

    async fn open_version_row(
        &self,
        plan: PlanId,
        row: plan_versions::Model,
    ) -> Result<StoredVersion, StoreError> {
        let key = self.plan_key(&self.db, plan).await?;
        let text = |part: &str, blob: &[u8]| -> Result<String, StoreError> {
            let bytes = key.open_version(plan, row.id, part, blob)?;
            String::from_utf8(bytes)
                .map_err(|_| StoreError::Corrupt("a version's sealed text is not UTF-8".into()))
        };
        let name = text(NAME, &row.sealed_name)?;
        let heads = text(HEADS, &row.sealed_heads)?
            .split(',')
            .filter(|hex| !hex.is_empty())
            .map(str::to_owned)
            .collect();
        Ok(StoredVersion {
            id: row.id,
            name,
            heads,
            named_by: UserId(row.named_by),
            named_at: row.named_at,
            acknowledged: match (row.acknowledged_by, row.acknowledged_at) {
                (Some(by), Some(at)) => Some((UserId(by), at)),
                _ => None,
            },
        })
    }
}
