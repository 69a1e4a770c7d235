//! The `plans` table.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "plans")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub owner_id: Uuid,
    pub created_at: DateTimeUtc,
    pub schema_issue: Option<String>,
    /// The title, sealed with the plan's data key (`None` until first recorded).
    pub sealed_title: Option<Vec<u8>>,
    /// When the newest change was stored, and whose it was; kept by a trigger on
    /// `plan_changes` (migration 15), never written here.
    pub last_changed_at: Option<DateTimeUtc>,
    pub last_changed_by: Option<Uuid>,
    /// Whether members set a field differently at once and have not settled it (migration
    /// 24); recorded by the sync worker when the plan is quiet.
    pub open_conflicts: bool,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(has_many = "super::plan_members::Entity")]
    Members,
}

impl Related<super::plan_members::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Members.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
