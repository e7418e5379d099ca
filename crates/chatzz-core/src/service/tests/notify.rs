//! Offline notifications: owed for a message stored while its recipient had no live
//! socket (recorded by the insert itself), handed to the notifier in rounds, finished
//! when accepted, retried on the schedule when not, dropped after a day.

use std::sync::{Arc, Mutex};

use futures_executor::block_on;
use mockall::predicate::eq;

use crate::message::MessageStatus::NotSent;
use crate::message::{Inserted, NewMessage};
use crate::notification::{
    AfterFailure, MESSAGE_UNDELIVERED, Notification, PendingNotification, RetryPolicy,
};
use crate::ports::{MockChatStore, MockNotifier, NotifyError};
use crate::service::{ChatService, Config};

use super::support::*;

const DAY_MS: i64 = 24 * 3600 * 1000;

/// A send store that keeps the `notify` of each insert.
fn recording_store(seen: Arc<Mutex<Vec<bool>>>) -> MockChatStore {
    let mut store = unblocked_store();
    store
        .expect_find_room()
        .returning(|_, _| Ok(Some(room_of("alice", "bob"))));
    store
        .expect_insert_message()
        .returning(move |m: NewMessage| {
            seen.lock().unwrap().push(m.notify);
            Ok(Inserted {
                message: stored("m1", "alice", "bob", NotSent),
                created: true,
            })
        });
    store.expect_mark_sent().returning(|_| {
        Ok(vec![stored(
            "m1",
            "alice",
            "bob",
            crate::message::MessageStatus::Sent,
        )])
    });
    store
}

fn notifying(store: MockChatStore, notifier: MockNotifier, now: i64) -> ChatService {
    ChatService::new(Arc::new(store), Arc::new(clock_at(now)), Config::default())
        .with_notifier(Arc::new(notifier), RetryPolicy::default())
}

#[test]
fn a_message_to_a_user_with_no_live_socket_owes_a_notification_in_its_insert() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let service = notifying(recording_store(seen.clone()), MockNotifier::new(), NOW);
    online(&service, &[("alice", "a1")]);
    send(&service, "hi", None).unwrap();
    online(&service, &[("bob", "b1")]);
    send(&service, "hi again", None).unwrap();
    assert_eq!(*seen.lock().unwrap(), vec![true, false]);
}

#[test]
fn without_a_notifier_nothing_is_owed() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let service = service(recording_store(seen.clone()), clock_at(NOW));
    send(&service, "hi", None).unwrap();
    assert_eq!(*seen.lock().unwrap(), vec![false]);
    assert_eq!(block_on(service.notify_due("s1", 10)).unwrap().claimed, 0);
}

fn pending(id: &str, attempts: u32, created: i64) -> PendingNotification {
    PendingNotification {
        message: crate::message::StoredMessage {
            created_at: at(created),
            ..stored(id, "alice", "bob", NotSent)
        },
        attempts,
    }
}

#[test]
fn a_round_claims_for_the_lease_notifies_and_finishes_what_was_accepted() {
    let mut store = MockChatStore::new();
    store
        .expect_claim_notifications()
        .withf(|c| {
            c.owner == "s1"
                && c.now == at(NOW)
                && c.lease_until == at(NOW + 60_000)
                && c.limit == 10
        })
        .times(1)
        .returning(|_| Ok(vec![pending("m1", 0, NOW - 250)]));
    store
        .expect_finish_notification()
        .with(eq(msg_id("m1")))
        .times(1)
        .returning(|_| Ok(()));
    store.expect_retry_notification().never();
    let told = Arc::new(Mutex::new(Vec::new()));
    let keep = told.clone();
    let mut notifier = MockNotifier::new();
    notifier
        .expect_notify()
        .times(1)
        .returning(move |n: &Notification| {
            keep.lock().unwrap().push(n.clone());
            Ok(())
        });
    let service = notifying(store, notifier, NOW);

    let round = block_on(service.notify_due("s1", 10)).unwrap();

    assert_eq!(
        (round.claimed, round.delivered, round.retried, round.dropped),
        (1, 1, 0, 0)
    );
    assert_eq!(round.latencies, vec![std::time::Duration::from_millis(250)]);
    let told = told.lock().unwrap();
    assert_eq!(told[0].id, "m1");
    assert_eq!(told[0].kind, MESSAGE_UNDELIVERED);
    assert_eq!(told[0].created_at, at(NOW - 250));
    assert_eq!(told[0].data.id, msg_id("m1"));
    assert_eq!(told[0].data.from.fields()["_id"], "alice");
}

#[test]
fn a_refused_notification_is_scheduled_again_by_the_policy_with_one_more_attempt() {
    let policy = RetryPolicy::default();
    let AfterFailure::RetryAt(due) =
        policy.after_failure(&msg_id("m1"), at(NOW - 5_000), 3, at(NOW))
    else {
        panic!("a young notification is retried");
    };
    let mut store = MockChatStore::new();
    store
        .expect_claim_notifications()
        .returning(|_| Ok(vec![pending("m1", 2, NOW - 5_000)]));
    store
        .expect_retry_notification()
        .with(eq(msg_id("m1")), eq("s1"), eq(3u32), eq(due))
        .times(1)
        .returning(|_, _, _, _| Ok(()));
    store.expect_finish_notification().never();
    let mut notifier = MockNotifier::new();
    notifier
        .expect_notify()
        .returning(|_| Err(NotifyError("503".into())));
    let service = notifying(store, notifier, NOW);

    let round = block_on(service.notify_due("s1", 10)).unwrap();
    assert_eq!((round.retried, round.delivered, round.dropped), (1, 0, 0));
}

#[test]
fn a_notification_refused_for_a_day_is_dropped() {
    let mut store = MockChatStore::new();
    store
        .expect_claim_notifications()
        .returning(|_| Ok(vec![pending("m1", 40, NOW - DAY_MS)]));
    store.expect_retry_notification().never();
    store
        .expect_finish_notification()
        .times(1)
        .returning(|_| Ok(()));
    let mut notifier = MockNotifier::new();
    notifier
        .expect_notify()
        .returning(|_| Err(NotifyError("connection refused".into())));
    let service = notifying(store, notifier, NOW);

    let round = block_on(service.notify_due("s1", 10)).unwrap();
    assert_eq!((round.dropped, round.retried), (1, 0));
}

#[test]
fn an_accepted_notification_the_store_cannot_finish_still_counts_and_the_round_goes_on() {
    let mut store = MockChatStore::new();
    store
        .expect_claim_notifications()
        .returning(|_| Ok(vec![pending("m1", 0, NOW), pending("m2", 0, NOW)]));
    store.expect_finish_notification().times(2).returning(|id| {
        if id.as_str() == "m1" {
            Err(unavailable())
        } else {
            Ok(())
        }
    });
    let mut notifier = MockNotifier::new();
    notifier.expect_notify().times(2).returning(|_| Ok(()));
    let service = notifying(store, notifier, NOW);

    let round = block_on(service.notify_due("s1", 10)).unwrap();
    assert_eq!(round.delivered, 2);
}

#[test]
fn a_claim_the_store_cannot_make_fails_the_round_and_notifies_nobody() {
    let mut store = MockChatStore::new();
    store
        .expect_claim_notifications()
        .returning(|_| Err(unavailable()));
    let mut notifier = MockNotifier::new();
    notifier.expect_notify().never();
    let service = notifying(store, notifier, NOW);
    assert!(block_on(service.notify_due("s1", 10)).is_err());
}
