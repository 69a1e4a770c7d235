//! sea-orm entities, one per table. They never leave `store`: the rest of the server sees the
//! plain records in `crate::domain`.

pub mod access_log;
pub mod account_activity;
pub mod actor_bindings;
pub mod admin_audit;
pub mod backups;
pub mod device_sessions;
pub mod enrollment_codes;
pub mod instances;
pub mod invitations;
pub mod oidc_handoffs;
pub mod oidc_identities;
pub mod oidc_logins;
pub mod passkey_ceremonies;
pub mod passkeys;
pub mod plan_changes;
pub mod plan_keys;
pub mod plan_members;
pub mod plan_snapshots;
pub mod plan_tombstones;
pub mod plan_versions;
pub mod plans;
pub mod recovery_codes;
pub mod reset_codes;
pub mod second_factor_challenges;
pub mod second_factors;
pub mod server_settings;
pub mod users;
