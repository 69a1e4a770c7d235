//! Authentication building blocks, free of web types: access tokens (JWT), password hashing,
//! random secrets and codes, and login rate limits.

pub mod limits;
pub mod password;
pub mod secrets;
pub mod tokens;
pub mod totp;
