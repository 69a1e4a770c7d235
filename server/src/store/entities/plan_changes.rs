//! The `plan_changes` table.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "plan_changes")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub plan_id: Uuid,
    /// The change's keyed id (see `crate::crypto::DataKey::change_id`), hex.
    pub hash: String,
    pub actor: String,
    pub author_id: Uuid,
    pub data: Vec<u8>,
    pub created_at: DateTimeUtc,
    pub compacted: bool,
    /// Whether `hash` holds the change's keyed id (every row written since keyed ids), not its
    /// plain hash (rows written before, re-keyed at start-up).
    pub hash_keyed: bool,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
