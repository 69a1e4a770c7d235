//! Identifiers. Each is a UUID newtype so that a plan id can never be passed where a user id is
//! expected. A plan's Automerge document id is the same UUID in automerge-repo's form
//! (bs58check of the 16 UUID bytes), and its URL is `automerge:<document id>`.

use std::fmt;
use std::str::FromStr;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Why a string is not a valid identifier.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    /// The text is neither a UUID nor an automerge-repo document id.
    #[error("not a valid identifier")]
    Malformed,
}

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        impl $name {
            /// A fresh random id.
            pub fn new_random() -> Self {
                Self(Uuid::new_v4())
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl From<Uuid> for $name {
            fn from(id: Uuid) -> Self {
                Self(id)
            }
        }
    };
}

uuid_id!(
    /// An account (a member or an admin).
    UserId
);
uuid_id!(
    /// A device session: one login on one device, holding one rotating refresh token.
    SessionId
);
uuid_id!(
    /// A plan. Its Automerge document id is [`PlanId::document_id`].
    PlanId
);

impl FromStr for UserId {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, IdError> {
        Uuid::parse_str(s).map(Self).map_err(|_| IdError::Malformed)
    }
}

impl FromStr for SessionId {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, IdError> {
        Uuid::parse_str(s).map(Self).map_err(|_| IdError::Malformed)
    }
}

impl PlanId {
    /// The plan's document id in automerge-repo's form.
    pub fn document_id(&self) -> DocumentId {
        DocumentId(self.0)
    }

    /// The `automerge:` URL an automerge-repo client uses to `find` the plan.
    pub fn automerge_url(&self) -> String {
        format!("automerge:{}", self.document_id())
    }
}

/// A plan id is accepted in any of the forms a client may hold: the UUID, the automerge-repo
/// document id, or the whole `automerge:` URL.
impl FromStr for PlanId {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, IdError> {
        if let Ok(id) = Uuid::parse_str(s) {
            return Ok(Self(id));
        }
        let document = s.strip_prefix("automerge:").unwrap_or(s);
        DocumentId::from_str(document).map(|d| Self(d.0))
    }
}

/// An automerge-repo document id: bs58check of the 16 bytes of the plan's UUID.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DocumentId(pub Uuid);

impl fmt::Display for DocumentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&bs58::encode(self.0.as_bytes()).with_check().into_string())
    }
}

impl FromStr for DocumentId {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, IdError> {
        // A 16-byte payload plus a 4-byte checksum never needs more than 28 base58 digits.
        if s.is_empty() || s.len() > 40 {
            return Err(IdError::Malformed);
        }
        let bytes = bs58::decode(s)
            .with_check(None)
            .into_vec()
            .map_err(|_| IdError::Malformed)?;
        Uuid::from_slice(&bytes)
            .map(Self)
            .map_err(|_| IdError::Malformed)
    }
}

impl JsonSchema for DocumentId {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "DocumentId".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "An automerge-repo document id: bs58check of the 16 bytes of the plan's UUID.",
            "type": "string",
            "pattern": "^[1-9A-HJ-NP-Za-km-z]{1,40}$"
        })
    }
}

impl Serialize for DocumentId {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for DocumentId {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn document_id_round_trips_and_rejects_bad_checksums() {
        let plan = PlanId::new_random();
        let document = plan.document_id().to_string();
        assert_eq!(document.parse::<DocumentId>(), Ok(plan.document_id()));
        assert_eq!(document.parse::<PlanId>(), Ok(plan));
        assert_eq!(plan.automerge_url().parse::<PlanId>(), Ok(plan));
        assert_eq!(plan.to_string().parse::<PlanId>(), Ok(plan));

        let mut corrupted = document.into_bytes();
        let last = corrupted.len() - 1;
        corrupted[last] = if corrupted[last] == b'2' { b'3' } else { b'2' };
        let corrupted = String::from_utf8(corrupted).unwrap_or_default();
        assert_eq!(corrupted.parse::<DocumentId>(), Err(IdError::Malformed));
        assert_eq!(
            "../../etc/passwd".parse::<PlanId>(),
            Err(IdError::Malformed)
        );
        assert_eq!("".parse::<PlanId>(), Err(IdError::Malformed));
    }

    #[test]
    fn document_id_matches_automerge_repo() {
        // Computed with automerge-repo 2.5.6: `binaryToDocumentId(parse("8c5f4d1e-..."))`
        // is bs58check of the raw UUID bytes, with no version byte.
        let id = DocumentId(Uuid::from_bytes([0u8; 16]));
        let text = id.to_string();
        let raw = bs58::decode(&text).into_vec().unwrap_or_default();
        assert_eq!(raw.len(), 20, "16 payload bytes plus a 4-byte checksum");
        assert_eq!(&raw[..16], &[0u8; 16]);
    }
}
