//! Compaction: a plan's changes folded into a new snapshot, so that loading it reads one blob and
//! few changes; each change's row (its attribution) is kept, its bytes cleared.

use std::collections::HashSet;

use cairn_shared::PlanId;
use chrono::{DateTime, Utc};
use sea_orm::sea_query::OnConflict;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, Set};

use super::super::entities::{plan_changes, plan_snapshots};
use super::super::{Store, StoreError};

impl Store {
    /// Fold a plan's changes into a new snapshot, in one transaction: store the snapshot and mark
    /// the changes it covers as compacted (their bytes cleared, their attribution kept). A crash
    /// before the commit leaves the old snapshot and every change; running it again is harmless.
    ///
    /// `generation` is the generation of the stored snapshot the caller's document includes (0
    /// for none). If another instance compacted since, the snapshot it stored may hold changes
    /// the caller lacks, so nothing is written and the answer is `None`: catch up, then retry.
    /// Otherwise the answer is how many changes were folded and the new generation.
    pub async fn compact(
        &self,
        plan: PlanId,
        snapshot: Vec<u8>,
        covered: &HashSet<String>,
        generation: i64,
        now: DateTime<Utc>,
    ) -> Result<Option<(usize, i64)>, StoreError> {
        use sea_orm::QuerySelect;
        use sea_orm::sea_query::Expr;
        let txn = self.begin_write().await?;
        let key = self.plan_key(&txn, plan).await?;
        let total = plan_changes::Entity::find()
            .filter(plan_changes::Column::PlanId.eq(plan.0))
            .count(&txn)
            .await?;
        let change_count = i64::try_from(total).unwrap_or(i64::MAX);
        let sealed = key.seal_snapshot(plan, &snapshot)?;
        let next = generation + 1;
        // Replace only the snapshot of the expected generation (a row lock in Postgres: a
        // concurrent compaction of the same plan waits, then finds the generation moved on).
        let mut written = plan_snapshots::Entity::update_many()
            .col_expr(plan_snapshots::Column::Data, Expr::value(sealed.clone()))
            .col_expr(
                plan_snapshots::Column::ChangeCount,
                Expr::value(change_count),
            )
            .col_expr(plan_snapshots::Column::UpdatedAt, Expr::value(now))
            .col_expr(plan_snapshots::Column::Generation, Expr::value(next))
            .filter(plan_snapshots::Column::PlanId.eq(plan.0))
            .filter(plan_snapshots::Column::Generation.eq(generation))
            .exec(&txn)
            .await?
            .rows_affected;
        if written == 0 && generation == 0 {
            written = plan_snapshots::Entity::insert(plan_snapshots::ActiveModel {
                plan_id: Set(plan.0),
                data: Set(sealed),
                change_count: Set(change_count),
                updated_at: Set(now),
                generation: Set(next),
            })
            .on_conflict(
                OnConflict::column(plan_snapshots::Column::PlanId)
                    .do_nothing()
                    .to_owned(),
            )
            .exec_without_returning(&txn)
            .await?;
        }
        if written == 0 {
            txn.rollback().await?;
            return Ok(None);
        }
        let pending: Vec<(i64, String)> = plan_changes::Entity::find()
            .select_only()
            .column(plan_changes::Column::Id)
            .column(plan_changes::Column::Hash)
            .filter(plan_changes::Column::PlanId.eq(plan.0))
            .filter(plan_changes::Column::Compacted.eq(false))
            .into_tuple()
            .all(&txn)
            .await?;
        // Only changes the snapshot really holds: another instance may have stored more meanwhile.
        // Rows name changes by keyed id (rows not re-keyed yet, by their plain hash).
        let covered_ids: HashSet<String> = covered
            .iter()
            .map(|hash| key.change_id(plan, hash))
            .collect();
        let ids: Vec<i64> = pending
            .into_iter()
            .filter(|(_, id)| covered_ids.contains(id) || covered.contains(id))
            .map(|(id, _)| id)
            .collect();
        for chunk in ids.chunks(500) {
            plan_changes::Entity::update_many()
                .col_expr(plan_changes::Column::Compacted, Expr::value(true))
                .col_expr(plan_changes::Column::Data, Expr::value(Vec::<u8>::new()))
                .filter(plan_changes::Column::Id.is_in(chunk.iter().copied()))
                .exec(&txn)
                .await?;
        }
        txn.commit().await?;
        Ok(Some((ids.len(), next)))
    }
}
