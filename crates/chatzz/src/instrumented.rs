//! Store call metrics: latency per method and failures, through the `metrics` facade
//! (recorded only if the application installed a recorder, as the binary does).

use std::future::Future;
use std::time::Instant;

use async_trait::async_trait;
use chatzz_core::{
    ChatRoomId, ChatStore, ChatUser, ContactRecord, HistoryQuery, Inserted, LinkOutcome, MessageId,
    NewMessage, StoreError, StoredMessage, Timestamp, UserId,
};

/// Wraps a store: bounds each call by a timeout (a hung database must not hang the
/// sockets waiting on it: they get `unavailable`), and records
/// `chatzz_store_call_seconds{method}` and `chatzz_store_errors_total{method}`.
pub(crate) struct InstrumentedStore {
    pub inner: std::sync::Arc<dyn ChatStore>,
    pub timeout: std::time::Duration,
}

async fn timed<T>(
    method: &'static str,
    timeout: std::time::Duration,
    call: impl Future<Output = Result<T, StoreError>>,
) -> Result<T, StoreError> {
    let started = Instant::now();
    // As the port documents for `Unavailable`, a write that timed out may still happen.
    let result = tokio::time::timeout(timeout, call)
        .await
        .unwrap_or_else(|_| {
            Err(StoreError::Unavailable(format!(
                "{method} timed out after {timeout:?}"
            )))
        });
    metrics::histogram!("chatzz_store_call_seconds", "method" => method)
        .record(started.elapsed().as_secs_f64());
    if result.is_err() {
        metrics::counter!("chatzz_store_errors_total", "method" => method).increment(1);
    }
    result
}

#[async_trait]
impl ChatStore for InstrumentedStore {
    fn is_shared(&self) -> bool {
        self.inner.is_shared()
    }

    async fn register_user(&self, user: &UserId) -> Result<ChatUser, StoreError> {
        timed(
            "register_user",
            self.timeout,
            self.inner.register_user(user),
        )
        .await
    }
    async fn find_user(&self, user: &UserId) -> Result<Option<ChatUser>, StoreError> {
        timed("find_user", self.timeout, self.inner.find_user(user)).await
    }
    async fn set_last_online(&self, user: &UserId, at: Timestamp) -> Result<(), StoreError> {
        timed(
            "set_last_online",
            self.timeout,
            self.inner.set_last_online(user, at),
        )
        .await
    }
    async fn link(&self, a: &UserId, b: &UserId) -> Result<LinkOutcome, StoreError> {
        timed("link", self.timeout, self.inner.link(a, b)).await
    }
    async fn find_room(&self, a: &UserId, b: &UserId) -> Result<Option<ChatRoomId>, StoreError> {
        timed("find_room", self.timeout, self.inner.find_room(a, b)).await
    }
    async fn contacts(&self, user: &UserId) -> Result<Vec<ContactRecord>, StoreError> {
        timed("contacts", self.timeout, self.inner.contacts(user)).await
    }
    async fn insert_message(&self, message: NewMessage) -> Result<Inserted, StoreError> {
        timed(
            "insert_message",
            self.timeout,
            self.inner.insert_message(message),
        )
        .await
    }
    async fn find_message(&self, id: &MessageId) -> Result<Option<StoredMessage>, StoreError> {
        timed("find_message", self.timeout, self.inner.find_message(id)).await
    }
    async fn mark_sent(&self, ids: &[MessageId]) -> Result<Vec<StoredMessage>, StoreError> {
        timed("mark_sent", self.timeout, self.inner.mark_sent(ids)).await
    }
    async fn mark_read(
        &self,
        id: &MessageId,
        at: Timestamp,
    ) -> Result<Option<StoredMessage>, StoreError> {
        timed("mark_read", self.timeout, self.inner.mark_read(id, at)).await
    }
    async fn history(
        &self,
        room: &ChatRoomId,
        query: &HistoryQuery,
    ) -> Result<Vec<StoredMessage>, StoreError> {
        timed("history", self.timeout, self.inner.history(room, query)).await
    }
    async fn undelivered(
        &self,
        to: &UserId,
        per_sender: usize,
        total: usize,
    ) -> Result<Vec<StoredMessage>, StoreError> {
        timed(
            "undelivered",
            self.timeout,
            self.inner.undelivered(to, per_sender, total),
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::time::Duration;

    use chatzz_core::testing::faulty::{FaultyStore, Method};

    #[tokio::test]
    async fn a_hung_store_call_becomes_unavailable() {
        let slow = FaultyStore::new(chatzz_store_memory::MemoryStore::new())
            .with_sleep(|d| Box::pin(tokio::time::sleep(d)));
        slow.plan()
            .delay(Method::FindUser, Duration::from_secs(3600));
        let store = InstrumentedStore {
            inner: Arc::new(slow),
            timeout: Duration::from_millis(50),
        };
        let alice = UserId::parse("alice").unwrap();
        let started = Instant::now();
        let result = store.find_user(&alice).await;
        assert!(
            matches!(result, Err(StoreError::Unavailable(_))),
            "{result:?}"
        );
        assert!(started.elapsed() < Duration::from_secs(5));
        // Calls that answer in time pass through.
        assert!(store.register_user(&alice).await.is_ok());
    }
}
