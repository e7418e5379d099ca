use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use async_trait::async_trait;
use chatzz_core::notification::Notification;
use chatzz_core::{Notifier, NotifyError};

type NotifyFn = dyn Fn(Notification) -> Pin<Box<dyn Future<Output = Result<(), NotifyError>> + Send>>
    + Send
    + Sync;

/// A [`Notifier`] from an async closure given each notification (to send a push through
/// your provider, say); `Ok` accepts it, an error has it retried:
///
/// ```
/// use chatzz::ClosureNotifier;
/// let push = ClosureNotifier::new(|n: chatzz::Notification| async move {
///     println!("{} has a message from {:?}", n.data.to.fields()["_id"], n.data.from.fields()["_id"]);
///     Ok(())
/// });
/// # drop(push);
/// ```
#[derive(Clone)]
pub struct ClosureNotifier(Arc<NotifyFn>);

impl fmt::Debug for ClosureNotifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ClosureNotifier")
    }
}

impl ClosureNotifier {
    /// Wraps `notify`, called with each notification owed.
    pub fn new<F, Fut>(notify: F) -> Self
    where
        F: Fn(Notification) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), NotifyError>> + Send + 'static,
    {
        Self(Arc::new(move |notification| Box::pin(notify(notification))))
    }
}

#[async_trait]
impl Notifier for ClosureNotifier {
    async fn notify(&self, notification: &Notification) -> Result<(), NotifyError> {
        (self.0)(notification.clone()).await
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use chatzz_core::{ChatStore, UserId};
    use chatzz_store_memory::MemoryStore;
    use tokio::sync::mpsc;

    use crate::{Chatzz, ClosureNotifier, NotifyError};

    fn user(id: &str) -> UserId {
        UserId::parse(id).unwrap_or_else(|_| unreachable!())
    }

    #[tokio::test]
    async fn a_registered_closure_hears_of_a_message_to_an_offline_user_and_a_refusal_is_retried() {
        let store = MemoryStore::new();
        for id in ["alice", "bob"] {
            store
                .register_user(&user(id))
                .await
                .unwrap_or_else(|_| unreachable!());
        }
        let (told, mut heard) = mpsc::unbounded_channel();
        let attempts = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counted = attempts.clone();
        let notifier = ClosureNotifier::new(move |n: crate::Notification| {
            let told = told.clone();
            let first = counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 0;
            async move {
                let _ = told.send(n);
                if first {
                    Err(NotifyError("not yet".into()))
                } else {
                    Ok(())
                }
            }
        });
        let (_layer, chat) = Chatzz::builder()
            .store(store)
            .trust_client_user_ids()
            .notifier(notifier)
            .notification_poll(Duration::from_millis(20))
            .build()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        chat.add_contact(&user("alice"), &user("bob"))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let sent = chat
            .send_message(&user("alice"), &user("bob"), "psst", None)
            .await
            .unwrap_or_else(|e| panic!("{e}"));

        let within = Duration::from_secs(5);
        let first = tokio::time::timeout(within, heard.recv())
            .await
            .ok()
            .flatten();
        let second = tokio::time::timeout(within, heard.recv())
            .await
            .ok()
            .flatten();
        let (Some(first), Some(second)) = (first, second) else {
            panic!("the notifier was not called twice");
        };
        assert_eq!(first.data, sent);
        assert_eq!(first.kind, "message.undelivered");
        assert_eq!(second.id, first.id, "the same delivery id on the retry");
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(heard.try_recv().is_err(), "accepted: never offered again");
        chat.close().await;
    }
}
