//! The `users` table.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "users")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    #[sea_orm(unique)]
    pub username: String,
    /// The confusable skeleton of the username (unique; see migration 14). Empty only for
    /// accounts stored before it, until the start-up backfill.
    #[sea_orm(unique)]
    pub username_key: Option<String>,
    pub display_name: String,
    pub password_hash: String,
    pub kind: String,
    pub disabled_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    /// Set when the person deleted their account (migration 18): a tombstone from then on.
    pub deleted_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
