use async_trait::async_trait;

use crate::id::UserId;

/// The other servers could not be told (Redis is away, say).
#[derive(Debug, thiserror::Error)]
#[error("cluster news not sent: {0}")]
pub struct NewsError(pub String);

/// What one server of a cluster tells the others so that what they cache stays true.
/// A single server needs none: every change passes through it.
#[cfg_attr(any(test, feature = "testing"), mockall::automock)]
#[async_trait]
pub trait ClusterNews: Send + Sync + 'static {
    /// Tells every other server that the blocks between `a` and `b` changed (stored
    /// already), so that each forgets what it cached of the pair; they hear it through
    /// [`ChatService::blocks_changed_elsewhere`](crate::ChatService::blocks_changed_elsewhere).
    /// Errors: [`NewsError`] when it could not be sent; the client then gets
    /// `unavailable` and retries (blocking is idempotent).
    async fn blocks_changed(&self, a: &UserId, b: &UserId) -> Result<(), NewsError>;
}
