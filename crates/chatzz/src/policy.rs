//! The host application's contact policy as a closure.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use async_trait::async_trait;
use chatzz_core::{ContactPolicy, PolicyError, UserId};

type MayLinkFn = dyn Fn(UserId, UserId) -> Pin<Box<dyn Future<Output = Result<bool, PolicyError>> + Send>>
    + Send
    + Sync;

/// A [`ContactPolicy`] from an async closure given the requester and the user to add:
///
/// ```
/// use chatzz::ClosurePolicy;
/// // Only users of one organisation (the part of the id before `/`) may talk.
/// let same_org = ClosurePolicy::new(|requester: chatzz::UserId, other: chatzz::UserId| async move {
///     let org = |id: &chatzz::UserId| id.as_str().split('/').next().unwrap_or("").to_owned();
///     Ok(org(&requester) == org(&other))
/// });
/// # drop(same_org);
/// ```
#[derive(Clone)]
pub struct ClosurePolicy(Arc<MayLinkFn>);

impl fmt::Debug for ClosurePolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ClosurePolicy")
    }
}

impl ClosurePolicy {
    /// Wraps `may_link`, called with the requester and the user it would add.
    pub fn new<F, Fut>(may_link: F) -> Self
    where
        F: Fn(UserId, UserId) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<bool, PolicyError>> + Send + 'static,
    {
        Self(Arc::new(move |requester, other| {
            Box::pin(may_link(requester, other))
        }))
    }
}

#[async_trait]
impl ContactPolicy for ClosurePolicy {
    async fn may_link(&self, requester: &UserId, other: &UserId) -> Result<bool, PolicyError> {
        (self.0)(requester.clone(), other.clone()).await
    }
}
