//! Store call metrics: latency per method and failures, through the `metrics` facade
//! (recorded only if the application installed a recorder, as the binary does).

use std::future::Future;
use std::time::Instant;

use async_trait::async_trait;
use chatzz_core::notification::{NotificationClaim, PendingNotification};
use chatzz_core::{
    ChatRoomId, ChatStore, ChatUser, ContactRecord, HistoryQuery, Inserted, LinkOutcome, MessageId,
    MessageText, NewMessage, StoreError, StoredMessage, Timestamp, UserId,
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
    async fn link(&self, a: &UserId, b: &UserId, at: Timestamp) -> Result<LinkOutcome, StoreError> {
        timed("link", self.timeout, self.inner.link(a, b, at)).await
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
    async fn read_up_to(
        &self,
        reader: &UserId,
        room: &ChatRoomId,
        up_to: &MessageId,
        at: Timestamp,
    ) -> Result<usize, StoreError> {
        timed(
            "read_up_to",
            self.timeout,
            self.inner.read_up_to(reader, room, up_to, at),
        )
        .await
    }
    async fn edit_message(
        &self,
        id: &MessageId,
        text: &MessageText,
        at: Timestamp,
    ) -> Result<Option<StoredMessage>, StoreError> {
        timed(
            "edit_message",
            self.timeout,
            self.inner.edit_message(id, text, at),
        )
        .await
    }
    async fn delete_message(
        &self,
        id: &MessageId,
        at: Timestamp,
    ) -> Result<Option<StoredMessage>, StoreError> {
        timed(
            "delete_message",
            self.timeout,
            self.inner.delete_message(id, at),
        )
        .await
    }
    async fn linked_users(
        &self,
        user: &UserId,
    ) -> Result<Vec<chatzz_core::LinkedUser>, StoreError> {
        timed("linked_users", self.timeout, self.inner.linked_users(user)).await
    }
    async fn block(
        &self,
        blocker: &UserId,
        blocked: &UserId,
        at: Timestamp,
    ) -> Result<bool, StoreError> {
        timed(
            "block",
            self.timeout,
            self.inner.block(blocker, blocked, at),
        )
        .await
    }
    async fn unblock(&self, blocker: &UserId, blocked: &UserId) -> Result<bool, StoreError> {
        timed(
            "unblock",
            self.timeout,
            self.inner.unblock(blocker, blocked),
        )
        .await
    }
    async fn blocks_between(
        &self,
        a: &UserId,
        b: &UserId,
    ) -> Result<chatzz_core::Blocks, StoreError> {
        timed(
            "blocks_between",
            self.timeout,
            self.inner.blocks_between(a, b),
        )
        .await
    }
    async fn claim_notifications(
        &self,
        claim: &NotificationClaim,
    ) -> Result<Vec<PendingNotification>, StoreError> {
        timed(
            "claim_notifications",
            self.timeout,
            self.inner.claim_notifications(claim),
        )
        .await
    }
    async fn finish_notification(&self, message: &MessageId) -> Result<(), StoreError> {
        timed(
            "finish_notification",
            self.timeout,
            self.inner.finish_notification(message),
        )
        .await
    }
    async fn retry_notification(
        &self,
        message: &MessageId,
        owner: &str,
        attempts: u32,
        due: Timestamp,
    ) -> Result<(), StoreError> {
        timed(
            "retry_notification",
            self.timeout,
            self.inner.retry_notification(message, owner, attempts, due),
        )
        .await
    }
    async fn pending_notifications(&self) -> Result<u64, StoreError> {
        timed(
            "pending_notifications",
            self.timeout,
            self.inner.pending_notifications(),
        )
        .await
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

    /// Calls `method` on `store` with throwaway arguments; the answer's error, if any.
    async fn call(store: &InstrumentedStore, method: Method) -> Option<StoreError> {
        let user = UserId::parse("alice").unwrap();
        let other = UserId::parse("bob").unwrap();
        let room = ChatRoomId::new("1");
        let id = MessageId::new("1");
        let at = Timestamp::from_millis(1).unwrap();
        match method {
            Method::RegisterUser => store.register_user(&user).await.err(),
            Method::FindUser => store.find_user(&user).await.err(),
            Method::SetLastOnline => store.set_last_online(&user, at).await.err(),
            Method::Link => store.link(&user, &other, at).await.err(),
            Method::FindRoom => store.find_room(&user, &other).await.err(),
            Method::Contacts => store.contacts(&user).await.err(),
            Method::InsertMessage => store
                .insert_message(NewMessage {
                    room,
                    from: user,
                    to: other,
                    text: MessageText::parse("hi".to_owned(), 10).unwrap(),
                    created_at: at,
                    client_message_id: None,
                    notify: false,
                    sent: false,
                })
                .await
                .err(),
            Method::FindMessage => store.find_message(&id).await.err(),
            Method::MarkSent => store.mark_sent(&[id]).await.err(),
            Method::ReadUpTo => store.read_up_to(&user, &room, &id, at).await.err(),
            Method::EditMessage => {
                let text = MessageText::parse("hi".to_owned(), 10).unwrap();
                store.edit_message(&id, &text, at).await.err()
            }
            Method::DeleteMessage => store.delete_message(&id, at).await.err(),
            Method::LinkedUsers => store.linked_users(&user).await.err(),
            Method::Block => store.block(&user, &other, at).await.err(),
            Method::Unblock => store.unblock(&user, &other).await.err(),
            Method::BlocksBetween => store.blocks_between(&user, &other).await.err(),
            Method::History => {
                let query = HistoryQuery {
                    since: None,
                    before: None,
                    after: None,
                    limit: 1,
                };
                store.history(&room, &query).await.err()
            }
            Method::Undelivered => store.undelivered(&user, 1, 1).await.err(),
            Method::ClaimNotifications => store
                .claim_notifications(&chatzz_core::notification::NotificationClaim {
                    owner: "s".into(),
                    now: at,
                    lease_until: at,
                    limit: 1,
                })
                .await
                .err(),
            Method::FinishNotification => store.finish_notification(&id).await.err(),
            Method::RetryNotification => store.retry_notification(&id, "s", 1, at).await.err(),
            Method::PendingNotifications => store.pending_notifications().await.err(),
        }
    }

    #[tokio::test]
    async fn every_port_method_is_bounded_under_its_own_name() {
        for method in Method::ALL {
            let slow = FaultyStore::new(chatzz_store_memory::MemoryStore::new())
                .with_sleep(|d| Box::pin(tokio::time::sleep(d)));
            slow.plan().delay(method, Duration::from_secs(3600));
            let store = InstrumentedStore {
                inner: Arc::new(slow),
                timeout: Duration::from_millis(10),
            };
            let err = call(&store, method).await;
            let expected = format!("{} timed out", method.name());
            assert!(
                matches!(&err, Some(StoreError::Unavailable(m)) if m.starts_with(&expected)),
                "{method:?}: {err:?}"
            );
        }
    }
}
