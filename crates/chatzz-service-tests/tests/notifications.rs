//! Offline notifications over a real (memory) store that fails: what is owed is never
//! lost to a store failure (at least once), a failed claim notifies nobody, and the
//! leases make a notification whose outcome could not be recorded come back after the
//! lease, with the same delivery id.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chatzz_core::notification::{Notification, RetryPolicy};
use chatzz_core::testing::faulty::{FaultyStore, Method};
use chatzz_core::{
    ChatService, ChatStore, Clock, Config, Notifier, NotifyError, SendRequest, Session, SocketId,
    Timestamp, UserId,
};
use chatzz_store_memory::MemoryStore;

struct TestClock(AtomicI64);

impl Clock for TestClock {
    fn now(&self) -> Timestamp {
        Timestamp::from_millis(self.0.load(Ordering::SeqCst)).unwrap()
    }
}

const START: i64 = 1_767_323_045_000;
const LEASE_MS: i64 = 60_000;

/// Keeps every notification offered; accepts unless told to refuse.
#[derive(Default)]
struct Recorder {
    offered: Mutex<Vec<Notification>>,
    refuse: std::sync::atomic::AtomicBool,
}

#[async_trait::async_trait]
impl Notifier for Recorder {
    async fn notify(&self, notification: &Notification) -> Result<(), NotifyError> {
        self.offered.lock().unwrap().push(notification.clone());
        if self.refuse.load(Ordering::SeqCst) {
            Err(NotifyError("503".into()))
        } else {
            Ok(())
        }
    }
}

impl Recorder {
    fn ids(&self) -> Vec<String> {
        self.offered
            .lock()
            .unwrap()
            .iter()
            .map(|n| n.id.clone())
            .collect()
    }
}

struct World {
    service: ChatService,
    store: Arc<FaultyStore<MemoryStore>>,
    clock: Arc<TestClock>,
    notifier: Arc<Recorder>,
}

fn uid(name: &str) -> UserId {
    UserId::parse(name).unwrap()
}

async fn world() -> World {
    let store = Arc::new(FaultyStore::new(MemoryStore::new()));
    let clock = Arc::new(TestClock(AtomicI64::new(START)));
    let notifier = Arc::new(Recorder::default());
    let service = ChatService::new(store.clone(), clock.clone(), Config::default()).with_notifier(
        notifier.clone(),
        RetryPolicy {
            lease: Duration::from_millis(LEASE_MS as u64),
            ..RetryPolicy::default()
        },
    );
    for user in ["alice", "bob"] {
        store.register_user(&uid(user)).await.unwrap();
    }
    store
        .link(&uid("alice"), &uid("bob"), clock.now())
        .await
        .unwrap();
    World {
        service,
        store,
        clock,
        notifier,
    }
}

impl World {
    async fn send(&self, text: &str) -> Result<chatzz_core::Message, chatzz_core::ChatError> {
        let alice = Session {
            user: uid("alice"),
            socket: SocketId::new("a1"),
        };
        self.service
            .send(&alice, SendRequest::new(&uid("bob"), text, None))
            .await
            .map(|outcome| outcome.reply)
    }

    fn later(&self, millis: i64) {
        self.clock.0.fetch_add(millis, Ordering::SeqCst);
    }

    async fn pending(&self) -> u64 {
        self.store.pending_notifications().await.unwrap()
    }
}

#[tokio::test]
async fn an_acceptance_the_store_could_not_record_is_offered_again_after_the_lease() {
    let w = world().await;
    let message = w.send("psst").await.unwrap();
    w.store.plan().fail_next_of(Method::FinishNotification, 1);

    let round = w.service.notify_due("s1", 10).await.unwrap();
    assert_eq!(round.delivered, 1);
    assert_eq!(w.pending().await, 1, "not recorded: still owed");
    w.later(LEASE_MS - 1);
    assert_eq!(
        w.service.notify_due("s2", 10).await.unwrap().claimed,
        0,
        "leased"
    );
    w.later(1);
    assert_eq!(w.service.notify_due("s2", 10).await.unwrap().delivered, 1);
    assert_eq!(w.pending().await, 0);
    let id = Notification::id_for(&message.id);
    assert_eq!(
        w.notifier.ids(),
        vec![id.clone(), id],
        "at least once, same delivery id"
    );
}

#[tokio::test]
async fn a_claim_the_store_refuses_notifies_nobody_and_the_next_round_delivers() {
    let w = world().await;
    w.send("psst").await.unwrap();
    w.store.plan().fail_next_of(Method::ClaimNotifications, 1);
    assert!(w.service.notify_due("s1", 10).await.is_err());
    assert!(w.notifier.ids().is_empty());
    assert_eq!(w.service.notify_due("s1", 10).await.unwrap().delivered, 1);
    assert_eq!(w.pending().await, 0);
}

#[tokio::test]
async fn a_failure_the_store_could_not_schedule_comes_back_after_the_lease() {
    let w = world().await;
    w.send("psst").await.unwrap();
    w.notifier.refuse.store(true, Ordering::SeqCst);
    w.store.plan().fail_next_of(Method::RetryNotification, 1);
    assert_eq!(w.service.notify_due("s1", 10).await.unwrap().retried, 1);
    w.notifier.refuse.store(false, Ordering::SeqCst);
    w.later(LEASE_MS);
    assert_eq!(w.service.notify_due("s1", 10).await.unwrap().delivered, 1);
    assert_eq!(w.notifier.ids().len(), 2);
}

#[tokio::test]
async fn a_send_the_store_refused_owes_nothing_and_its_retry_owes_one() {
    let w = world().await;
    w.store.plan().fail_next_of(Method::InsertMessage, 1);
    assert!(w.send("psst").await.is_err());
    assert_eq!(w.pending().await, 0);
    w.send("psst").await.unwrap();
    assert_eq!(w.pending().await, 1);
}

#[tokio::test]
async fn a_lost_insert_reply_retried_with_its_client_id_owes_one_notification() {
    let w = world().await;
    let alice = Session {
        user: uid("alice"),
        socket: SocketId::new("a1"),
    };
    let request = || {
        SendRequest::new(
            &uid("bob"),
            "once",
            Some(chatzz_core::ClientMessageId::parse("c-1").unwrap()),
        )
    };
    w.store.plan().lose_reply_next(Method::InsertMessage, 1);
    assert!(w.service.send(&alice, request()).await.is_err());
    w.service.send(&alice, request()).await.unwrap();
    assert_eq!(w.pending().await, 1);
    assert_eq!(w.service.notify_due("s1", 10).await.unwrap().delivered, 1);
    assert_eq!(w.pending().await, 0);
}
