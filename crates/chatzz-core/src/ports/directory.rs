use async_trait::async_trait;
use serde_json::{Map, Value};

use crate::id::UserId;

/// The user directory could not answer (its database is down, say).
#[derive(Debug, thiserror::Error)]
#[error("user directory failed: {0}")]
pub struct DirectoryError(pub String);

/// The host application's users (the seed's `beforeSendingUserDetails`).
#[cfg_attr(any(test, feature = "testing"), mockall::automock)]
#[async_trait]
pub trait UserDirectory: Send + Sync + 'static {
    /// The fields to show for `user`, or `Ok(None)` when the directory does not know it.
    /// chatzz sets `_id` itself. Errors: [`DirectoryError`] when the lookup itself failed;
    /// clients then get `unavailable`.
    async fn details(&self, user: &UserId) -> Result<Option<Map<String, Value>>, DirectoryError>;
}
