//! Passkeys and the passkey ceremonies in progress.

use cairn_shared::UserId;
use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder, Set,
};
use uuid::Uuid;

use super::entities::{passkey_ceremonies, passkeys};
use super::{Store, StoreError};

/// A stored passkey.
#[derive(Debug, Clone)]
pub struct StoredPasskey {
    /// Its id in Cairn.
    pub id: Uuid,
    /// Whose passkey.
    pub user_id: UserId,
    /// The name its owner gave it.
    pub name: String,
    /// webauthn-rs's serialised `Passkey` (credential id, public key, counter): never sent out.
    pub credential: String,
    /// When it was registered.
    pub created_at: DateTime<Utc>,
    /// When it last signed someone in.
    pub last_used_at: Option<DateTime<Utc>>,
}

impl From<passkeys::Model> for StoredPasskey {
    fn from(row: passkeys::Model) -> Self {
        StoredPasskey {
            id: row.id,
            user_id: UserId(row.user_id),
            name: row.name,
            credential: row.credential,
            created_at: row.created_at,
            last_used_at: row.last_used_at,
        }
    }
}

/// A registration or sign-in between its start and its finish.
#[derive(Debug, Clone)]
pub struct PasskeyCeremony {
    /// Its id, handed to the client.
    pub id: Uuid,
    /// The account it is for; none for a sign-in started for an unknown name.
    pub user_id: Option<UserId>,
    /// `registration` or `authentication`.
    pub kind: String,
    /// webauthn-rs's serialised state; none when the ceremony can never finish.
    pub state: Option<String>,
    /// After this it is refused.
    pub expires_at: DateTime<Utc>,
}

impl From<passkey_ceremonies::Model> for PasskeyCeremony {
    fn from(row: passkey_ceremonies::Model) -> Self {
        PasskeyCeremony {
            id: row.id,
            user_id: row.user_id.map(UserId),
            kind: row.kind,
            state: row.state,
            expires_at: row.expires_at,
        }
    }
}

impl Store {
    /// The account's passkeys, oldest first.
    pub async fn passkeys_of(&self, user_id: UserId) -> Result<Vec<StoredPasskey>, StoreError> {
        Ok(passkeys::Entity::find()
            .filter(passkeys::Column::UserId.eq(user_id.0))
            .order_by_asc(passkeys::Column::CreatedAt)
            .order_by_asc(passkeys::Column::Id)
            .all(&self.db)
            .await?
            .into_iter()
            .map(StoredPasskey::from)
            .collect())
    }

    /// The passkey whose credential id (base64url) this is.
    pub async fn passkey_by_credential_id(
        &self,
        credential_id: &str,
    ) -> Result<Option<StoredPasskey>, StoreError> {
        Ok(passkeys::Entity::find()
            .filter(passkeys::Column::CredentialId.eq(credential_id))
            .one(&self.db)
            .await?
            .map(StoredPasskey::from))
    }

    /// Store a new passkey; [`StoreError::Conflict`] when the credential is already registered.
    pub async fn insert_passkey(
        &self,
        user_id: UserId,
        name: &str,
        credential_id: &str,
        credential: &str,
        now: DateTime<Utc>,
    ) -> Result<StoredPasskey, StoreError> {
        let row = passkeys::ActiveModel {
            id: Set(Uuid::new_v4()),
            user_id: Set(user_id.0),
            name: Set(name.to_owned()),
            credential_id: Set(credential_id.to_owned()),
            credential: Set(credential.to_owned()),
            created_at: Set(now),
            last_used_at: Set(None),
        };
        Ok(row.insert(&self.db).await?.into())
    }

    /// After a sign-in: the updated credential (counter) and when it was used.
    pub async fn passkey_used(
        &self,
        id: Uuid,
        credential: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        if let Some(row) = passkeys::Entity::find_by_id(id).one(&self.db).await? {
            let mut row = row.into_active_model();
            row.credential = Set(credential.to_owned());
            row.last_used_at = Set(Some(now));
            row.update(&self.db).await?;
        }
        Ok(())
    }

    /// Remove one of the account's passkeys; false when it has none with this id.
    pub async fn delete_passkey(&self, user_id: UserId, id: Uuid) -> Result<bool, StoreError> {
        let result = passkeys::Entity::delete_many()
            .filter(passkeys::Column::Id.eq(id))
            .filter(passkeys::Column::UserId.eq(user_id.0))
            .exec(&self.db)
            .await?;
        Ok(result.rows_affected == 1)
    }

    /// Keep a ceremony until it finishes or expires; expired ones are cleared out meanwhile.
    pub async fn insert_passkey_ceremony(
        &self,
        user_id: Option<UserId>,
        kind: &str,
        state: Option<&str>,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Result<Uuid, StoreError> {
        passkey_ceremonies::Entity::delete_many()
            .filter(passkey_ceremonies::Column::ExpiresAt.lte(now))
            .exec(&self.db)
            .await?;
        let id = Uuid::new_v4();
        let row = passkey_ceremonies::ActiveModel {
            id: Set(id),
            user_id: Set(user_id.map(|user| user.0)),
            kind: Set(kind.to_owned()),
            state: Set(state.map(str::to_owned)),
            expires_at: Set(expires_at),
        };
        row.insert(&self.db).await?;
        Ok(id)
    }

    /// Forget the account's ceremonies of this kind (a new registration replaces the one before).
    pub async fn drop_passkey_ceremonies(
        &self,
        user_id: UserId,
        kind: &str,
    ) -> Result<(), StoreError> {
        passkey_ceremonies::Entity::delete_many()
            .filter(passkey_ceremonies::Column::UserId.eq(user_id.0))
            .filter(passkey_ceremonies::Column::Kind.eq(kind))
            .exec(&self.db)
            .await?;
        Ok(())
    }

    /// Take a ceremony: it is deleted here, so only one caller ever gets it (whether or not what
    /// it finishes with verifies). Expired ones are deleted too and not returned.
    pub async fn take_passkey_ceremony(
        &self,
        id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<Option<PasskeyCeremony>, StoreError> {
        let Some(row) = passkey_ceremonies::Entity::find_by_id(id)
            .one(&self.db)
            .await?
        else {
            return Ok(None);
        };
        let deleted = passkey_ceremonies::Entity::delete_many()
            .filter(passkey_ceremonies::Column::Id.eq(id))
            .exec(&self.db)
            .await?;
        // Another request (on this instance or another) took it first.
        if deleted.rows_affected != 1 || row.expires_at <= now {
            return Ok(None);
        }
        Ok(Some(row.into()))
    }
}
