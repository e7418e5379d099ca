use async_trait::async_trait;

use crate::id::UserId;

/// The contact policy could not answer (its database is down, say).
#[derive(Debug, thiserror::Error)]
#[error("contact policy failed: {0}")]
pub struct PolicyError(pub String);

/// The host application's say over who may become whose contact (the seed let it shape
/// user details; this lets it shape who talks to whom: one organisation, friends only).
#[cfg_attr(any(test, feature = "testing"), mockall::automock)]
#[async_trait]
pub trait ContactPolicy: Send + Sync + 'static {
    /// Whether `requester` may link with `other` in a chat room. Asked by every
    /// client's `add-chat-user` before it links (both users exist, and differ; the host
    /// application's own calls are not asked); `Ok(false)` refuses it with `forbidden`
    /// and changes nothing. Errors: [`PolicyError`] when the policy
    /// could not decide; clients then get `unavailable`, and nothing is linked.
    async fn may_link(&self, requester: &UserId, other: &UserId) -> Result<bool, PolicyError>;
}
