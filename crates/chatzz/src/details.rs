//! User details: a closure as the directory (the seed's `beforeSendingUserDetails`),
//! and a bounded cache in front of any directory.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chatzz_core::{DirectoryError, UserDirectory, UserId};
use moka::future::Cache;
use serde_json::{Map, Value};

type Fields = Option<Map<String, Value>>;
type DetailsFn = dyn Fn(UserId) -> Pin<Box<dyn Future<Output = Result<Fields, DirectoryError>> + Send>>
    + Send
    + Sync;

/// A user directory from an async closure: `Ok(Some(fields))` for a known user,
/// `Ok(None)` for an unknown one. chatzz sets `_id` itself.
///
/// ```
/// use chatzz::ClosureDirectory;
/// use serde_json::{json, Map, Value};
/// let directory = ClosureDirectory::new(|id: chatzz::UserId| async move {
///     let mut fields = Map::new();
///     fields.insert("name".into(), json!(format!("User {id}")));
///     Ok(Some(fields))
/// });
/// # drop(directory);
/// ```
#[derive(Clone)]
pub struct ClosureDirectory(Arc<DetailsFn>);

impl fmt::Debug for ClosureDirectory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ClosureDirectory")
    }
}

impl ClosureDirectory {
    /// Wraps `details`, called with the id of the user to describe.
    pub fn new<F, Fut>(details: F) -> Self
    where
        F: Fn(UserId) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Fields, DirectoryError>> + Send + 'static,
    {
        Self(Arc::new(move |id| Box::pin(details(id))))
    }
}

#[async_trait]
impl UserDirectory for ClosureDirectory {
    async fn details(&self, user: &UserId) -> Result<Fields, DirectoryError> {
        (self.0)(user.clone()).await
    }
}

/// Remembers another directory's answers, so that a busy chat does not ask the host's
/// database on every message: at most `capacity` users, each for at most `ttl`.
/// Failures are not remembered. Concurrent lookups of one user make one call.
#[derive(Clone)]
pub struct CachedDirectory {
    inner: Arc<dyn UserDirectory>,
    cache: Cache<UserId, Fields>,
}

impl fmt::Debug for CachedDirectory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CachedDirectory")
            .field("entries", &self.cache.entry_count())
            .finish_non_exhaustive()
    }
}

impl CachedDirectory {
    /// Caches `inner`'s answers.
    pub fn new(inner: Arc<dyn UserDirectory>, capacity: u64, ttl: Duration) -> Self {
        Self {
            inner,
            cache: Cache::builder()
                .max_capacity(capacity)
                .time_to_live(ttl)
                .build(),
        }
    }

    /// Forgets what is cached about `user` (after it changed its profile, say).
    pub async fn invalidate(&self, user: &UserId) {
        self.cache.invalidate(user).await;
    }
}

#[async_trait]
impl UserDirectory for CachedDirectory {
    async fn details(&self, user: &UserId) -> Result<Fields, DirectoryError> {
        let inner = self.inner.clone();
        let id = user.clone();
        self.cache
            .try_get_with(user.clone(), async move { inner.details(&id).await })
            .await
            .map_err(|e| DirectoryError(e.0.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn id(s: &str) -> UserId {
        UserId::parse(s).unwrap()
    }

    #[tokio::test]
    async fn the_cache_asks_once_per_user_and_does_not_keep_failures() {
        let calls = Arc::new(AtomicUsize::new(0));
        let counted = calls.clone();
        let flaky_calls = Arc::new(AtomicUsize::new(0));
        let inner = ClosureDirectory::new(move |user: UserId| {
            counted.fetch_add(1, Ordering::SeqCst);
            let first_flaky =
                user.as_str() == "flaky" && flaky_calls.fetch_add(1, Ordering::SeqCst) == 0;
            async move {
                match user.as_str() {
                    "flaky" if first_flaky => Err(DirectoryError("down".into())),
                    "ghost" => Ok(None),
                    _ => Ok(Some(Map::from_iter([(
                        "name".to_owned(),
                        Value::from(user.as_str()),
                    )]))),
                }
            }
        });
        let cached = CachedDirectory::new(Arc::new(inner), 100, Duration::from_secs(60));
        for _ in 0..5 {
            let details = cached.details(&id("alice")).await.unwrap();
            assert_eq!(
                details.and_then(|f| f.get("name").cloned()),
                Some(Value::from("alice"))
            );
            assert_eq!(cached.details(&id("ghost")).await.unwrap(), None);
        }
        assert_eq!(
            calls.load(Ordering::SeqCst),
            2,
            "one call for alice, one for ghost"
        );
        assert!(cached.details(&id("flaky")).await.is_err());
        assert!(
            cached.details(&id("flaky")).await.unwrap().is_some(),
            "the failure was not cached"
        );
        assert_eq!(
            calls.load(Ordering::SeqCst),
            4,
            "flaky asked twice, then cached"
        );
        cached.details(&id("flaky")).await.unwrap();
        cached.invalidate(&id("alice")).await;
        cached.details(&id("alice")).await.unwrap();
        assert_eq!(
            calls.load(Ordering::SeqCst),
            5,
            "asked again after invalidate"
        );
    }
}
