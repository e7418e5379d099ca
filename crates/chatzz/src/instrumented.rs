//! Store call metrics: latency per method and failures, through the `metrics` facade
//! (recorded only if the application installed a recorder, as the binary does).

use std::future::Future;
use std::time::Instant;

use async_trait::async_trait;
use chatzz_core::{
    ChatRoomId, ChatStore, ChatUser, ContactRecord, HistoryQuery, LinkOutcome, MessageId,
    NewMessage, StoreError, StoredMessage, Timestamp, UserId,
};

/// Wraps a store and records `chatzz_store_call_seconds{method}` and
/// `chatzz_store_errors_total{method}`.
pub(crate) struct InstrumentedStore(pub std::sync::Arc<dyn ChatStore>);

async fn timed<T>(
    method: &'static str,
    call: impl Future<Output = Result<T, StoreError>>,
) -> Result<T, StoreError> {
    let started = Instant::now();
    let result = call.await;
    metrics::histogram!("chatzz_store_call_seconds", "method" => method)
        .record(started.elapsed().as_secs_f64());
    if result.is_err() {
        metrics::counter!("chatzz_store_errors_total", "method" => method).increment(1);
    }
    result
}

#[async_trait]
impl ChatStore for InstrumentedStore {
    async fn register_user(&self, user: &UserId) -> Result<ChatUser, StoreError> {
        timed("register_user", self.0.register_user(user)).await
    }
    async fn find_user(&self, user: &UserId) -> Result<Option<ChatUser>, StoreError> {
        timed("find_user", self.0.find_user(user)).await
    }
    async fn set_last_online(&self, user: &UserId, at: Timestamp) -> Result<(), StoreError> {
        timed("set_last_online", self.0.set_last_online(user, at)).await
    }
    async fn link(&self, a: &UserId, b: &UserId) -> Result<LinkOutcome, StoreError> {
        timed("link", self.0.link(a, b)).await
    }
    async fn find_room(&self, a: &UserId, b: &UserId) -> Result<Option<ChatRoomId>, StoreError> {
        timed("find_room", self.0.find_room(a, b)).await
    }
    async fn contacts(&self, user: &UserId) -> Result<Vec<ContactRecord>, StoreError> {
        timed("contacts", self.0.contacts(user)).await
    }
    async fn insert_message(
        &self,
        message: NewMessage,
    ) -> Result<(StoredMessage, bool), StoreError> {
        timed("insert_message", self.0.insert_message(message)).await
    }
    async fn find_message(&self, id: &MessageId) -> Result<Option<StoredMessage>, StoreError> {
        timed("find_message", self.0.find_message(id)).await
    }
    async fn mark_sent(&self, ids: &[MessageId]) -> Result<Vec<StoredMessage>, StoreError> {
        timed("mark_sent", self.0.mark_sent(ids)).await
    }
    async fn mark_read(
        &self,
        id: &MessageId,
        at: Timestamp,
    ) -> Result<Option<StoredMessage>, StoreError> {
        timed("mark_read", self.0.mark_read(id, at)).await
    }
    async fn history(
        &self,
        room: &ChatRoomId,
        query: &HistoryQuery,
    ) -> Result<Vec<StoredMessage>, StoreError> {
        timed("history", self.0.history(room, query)).await
    }
    async fn undelivered(
        &self,
        to: &UserId,
        per_sender: usize,
    ) -> Result<Vec<StoredMessage>, StoreError> {
        timed("undelivered", self.0.undelivered(to, per_sender)).await
    }
}
