//! `connect-user`: the reply, missed messages, presence announcements, the directory, failures.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use futures_executor::block_on;
use mockall::predicate::eq;
use serde_json::json;

use crate::error::ErrorCode;
use crate::id::MessageId;
use crate::message::MessageStatus;
use crate::ports::{DirectoryError, MockChatStore, MockUserDirectory, StoreError};
use crate::service::Config;
use crate::user::{Contact, ContactRecord, PresenceStatus, UserDetails};

use super::support::*;

use MessageStatus::{NotSent, Sent};

#[test]
fn connect_replies_user_details_with_contacts_and_last_online() {
    let mut store = MockChatStore::new();
    store
        .expect_register_user()
        .with(eq(user("alice")))
        .times(1)
        .returning(|_| Ok(chat_user("alice", Some(EARLIER))));
    store
        .expect_contacts()
        .with(eq(user("alice")))
        .times(1)
        .returning(|_| {
            // Bob's room is the more recently active: he comes first.
            Ok(vec![
                ContactRecord {
                    since: Some(at(EARLIER + 100)),
                    ..record("bob", "alice", Some(EARLIER + 1))
                },
                ContactRecord {
                    since: Some(at(EARLIER)),
                    ..record("carol", "alice", None)
                },
            ])
        });
    store
        .expect_undelivered()
        .with(eq(user("alice")), eq(500_usize), eq(500_usize))
        .times(1)
        .returning(|_, _, _| Ok(Vec::new()));
    store.expect_mark_sent().never();
    let service = service(store, unread_clock());
    online(&service, &[("bob", "b1")]);

    let out = block_on(service.connect(&session("alice", "a1"))).unwrap();

    let reply = out.reply;
    assert_eq!(reply.user, UserDetails::bare(&user("alice")));
    assert_eq!(reply.user.fields().get("_id"), Some(&json!("alice")));
    assert_eq!(reply.status, PresenceStatus::Online);
    assert_eq!(reply.last_online, Some(at(EARLIER)));
    assert_eq!(
        reply.connected_users,
        vec![
            Contact {
                details: UserDetails::bare(&user("bob")),
                chat_room_id: room_of("alice", "bob"),
                status: PresenceStatus::Online,
                last_online: Some(at(EARLIER + 1)),
                unread_count: 0,
                last_message: None,
                blocked: false,
            },
            Contact {
                details: UserDetails::bare(&user("carol")),
                chat_room_id: room_of("alice", "carol"),
                status: PresenceStatus::Offline,
                last_online: None,
                unread_count: 0,
                last_message: None,
                blocked: false,
            },
        ]
    );
    assert!(reply.missed_messages.is_empty());
    assert!(block_on(service.presence().is_online(&user("alice"))).unwrap());
}

#[test]
fn connect_hands_over_missed_messages_grouped_by_sender_oldest_first_and_marks_them_sent() {
    let m1 = stored("m1", "bob", "alice", NotSent);
    let m2 = stored("m2", "carol", "alice", NotSent);
    let m3 = stored("m3", "bob", "alice", NotSent);
    let delivered = vec![moved(&m1, Sent), moved(&m2, Sent), moved(&m3, Sent)];

    let mut store = MockChatStore::new();
    store
        .expect_register_user()
        .returning(|_| Ok(chat_user("alice", None)));
    // Read before the hand-over: each newest message is still `not_sent` there.
    let (last_of_bob, last_of_carol) = (m3.clone(), m2.clone());
    store.expect_contacts().returning(move |_| {
        Ok(vec![
            ContactRecord {
                unread: 2,
                last_message: Some(last_of_bob.clone()),
                ..record("bob", "alice", None)
            },
            ContactRecord {
                unread: 1,
                last_message: Some(last_of_carol.clone()),
                ..record("carol", "alice", None)
            },
        ])
    });
    let waiting = vec![m1.clone(), m2.clone(), m3.clone()];
    store
        .expect_undelivered()
        .with(eq(user("alice")), eq(500_usize), eq(500_usize))
        .times(1)
        .returning(move |_, _, _| Ok(waiting.clone()));
    let moved_ones = delivered.clone();
    store
        .expect_mark_sent()
        .withf(|ids: &[MessageId]| ids_are(ids, &["m1", "m2", "m3"]))
        .times(1)
        .returning(move |_| Ok(moved_ones.clone()));
    // Both senders are offline: only the status changes go out, no presence news.
    let service = service(store, unread_clock());

    let out = block_on(service.connect(&session("alice", "a1"))).unwrap();

    let (s1, s2, s3) = (
        wire(&delivered[0]),
        wire(&delivered[1]),
        wire(&delivered[2]),
    );
    let missed = &out.reply.missed_messages;
    assert_eq!(missed.len(), 2);
    assert_eq!(missed[&user("bob")], vec![s1.clone(), s3.clone()]);
    assert_eq!(missed[&user("carol")], vec![s2.clone()]);
    assert!(missed.values().flatten().all(|m| m.status == Sent));
    // One reply, one status per message: the contacts' newest messages were handed
    // over too.
    let newest: Vec<_> = out
        .reply
        .connected_users
        .iter()
        .map(|c| c.last_message.as_deref().cloned())
        .collect();
    assert!(newest.contains(&Some(s3.clone())) && newest.contains(&Some(s2.clone())));
    assert_eq!(
        out.deliveries,
        vec![
            status_changed("bob", &s1),
            status_changed("carol", &s2),
            status_changed("bob", &s3)
        ]
    );
}

#[test]
fn connect_reports_only_the_messages_mark_sent_actually_moved() {
    // m2 was delivered by someone else between `undelivered` and `mark_sent`.
    let m1 = stored("m1", "bob", "alice", NotSent);
    let m2 = stored("m2", "bob", "alice", NotSent);
    let s1 = moved(&m1, Sent);

    let mut store = MockChatStore::new();
    store
        .expect_register_user()
        .returning(|_| Ok(chat_user("alice", None)));
    store
        .expect_contacts()
        .returning(|_| Ok(vec![record("bob", "alice", None)]));
    store
        .expect_undelivered()
        .returning(move |_, _, _| Ok(vec![m1.clone(), m2.clone()]));
    let only = s1.clone();
    store
        .expect_mark_sent()
        .withf(|ids: &[MessageId]| ids_are(ids, &["m1", "m2"]))
        .times(1)
        .returning(move |_| Ok(vec![only.clone()]));
    let service = service(store, unread_clock());

    let out = block_on(service.connect(&session("alice", "a1"))).unwrap();

    assert_eq!(out.reply.missed_messages[&user("bob")], vec![wire(&s1)]);
    assert_eq!(out.deliveries, vec![status_changed("bob", &wire(&s1))]);
}

#[test]
fn connect_announces_online_on_the_first_socket_to_online_contacts_only() {
    let mut store = MockChatStore::new();
    store
        .expect_register_user()
        .returning(|_| Ok(chat_user("alice", Some(EARLIER))));
    store.expect_contacts().returning(|_| {
        Ok(vec![
            record("bob", "alice", None),
            record("carol", "alice", Some(EARLIER)),
            record("dave", "alice", None),
        ])
    });
    store
        .expect_undelivered()
        .returning(|_, _, _| Ok(Vec::new()));
    store.expect_mark_sent().never();
    let service = service(store, unread_clock());
    online(&service, &[("bob", "b1"), ("dave", "d1"), ("dave", "d2")]);

    let out = block_on(service.connect(&session("alice", "a1"))).unwrap();

    let alice = UserDetails::bare(&user("alice"));
    assert_eq!(
        out.deliveries,
        vec![
            // In contact order: rooms without activity, the newest first.
            presence_changed("dave", alice.clone(), PresenceStatus::Online, Some(EARLIER)),
            presence_changed("bob", alice, PresenceStatus::Online, Some(EARLIER)),
        ]
    );
}

#[test]
fn connect_status_changes_come_before_the_online_announcement() {
    let m1 = stored("m1", "bob", "alice", NotSent);
    let s1 = moved(&m1, Sent);
    let mut store = MockChatStore::new();
    store
        .expect_register_user()
        .returning(|_| Ok(chat_user("alice", None)));
    store
        .expect_contacts()
        .returning(|_| Ok(vec![record("bob", "alice", None)]));
    store
        .expect_undelivered()
        .returning(move |_, _, _| Ok(vec![m1.clone()]));
    let sent = s1.clone();
    store
        .expect_mark_sent()
        .times(1)
        .returning(move |_| Ok(vec![sent.clone()]));
    let service = service(store, unread_clock());
    online(&service, &[("bob", "b1")]);

    let out = block_on(service.connect(&session("alice", "a1"))).unwrap();

    assert_eq!(
        out.deliveries,
        vec![
            status_changed("bob", &wire(&s1)),
            presence_changed(
                "bob",
                UserDetails::bare(&user("alice")),
                PresenceStatus::Online,
                None
            ),
        ]
    );
}

#[test]
fn connect_on_a_second_socket_does_not_announce_online() {
    let mut store = MockChatStore::new();
    store
        .expect_register_user()
        .times(1)
        .returning(|_| Ok(chat_user("alice", None)));
    store
        .expect_contacts()
        .returning(|_| Ok(vec![record("bob", "alice", None)]));
    store
        .expect_undelivered()
        .returning(|_, _, _| Ok(Vec::new()));
    store.expect_mark_sent().never();
    let service = service(store, unread_clock());
    online(&service, &[("alice", "a1"), ("bob", "b1")]);

    let out = block_on(service.connect(&session("alice", "a2"))).unwrap();

    assert!(out.deliveries.is_empty());
    assert_eq!(out.reply.connected_users[0].status, PresenceStatus::Online);
    // Both sockets are live: dropping one does not take alice offline.
    assert!(!block_on(service.presence().remove(&user("alice"), &socket("a1"))).unwrap());
    assert!(block_on(service.presence().is_online(&user("alice"))).unwrap());
}

#[test]
fn connect_again_on_the_same_socket_replies_again_and_changes_no_presence() {
    let mut store = MockChatStore::new();
    store
        .expect_register_user()
        .times(1)
        .returning(|_| Ok(chat_user("alice", None)));
    store
        .expect_contacts()
        .returning(|_| Ok(vec![record("bob", "alice", None)]));
    store
        .expect_undelivered()
        .returning(|_, _, _| Ok(Vec::new()));
    store.expect_mark_sent().never();
    let service = service(store, unread_clock());
    online(&service, &[("alice", "a1"), ("bob", "b1")]);

    let out = block_on(service.connect(&session("alice", "a1"))).unwrap();

    assert!(out.deliveries.is_empty());
    assert_eq!(out.reply.user, UserDetails::bare(&user("alice")));
    assert!(block_on(service.presence().remove(&user("alice"), &socket("a1"))).unwrap());
}

#[test]
fn connect_with_a_directory_shows_its_fields_with_id_forced_and_looks_each_user_up_once() {
    let m1 = stored("m1", "bob", "alice", NotSent);
    let s1 = moved(&m1, Sent);
    let mut store = MockChatStore::new();
    store
        .expect_register_user()
        .returning(|_| Ok(chat_user("alice", None)));
    store.expect_contacts().returning(|_| {
        Ok(vec![
            record("bob", "alice", None),
            record("carol", "alice", None),
        ])
    });
    store
        .expect_undelivered()
        .returning(move |_, _, _| Ok(vec![m1.clone()]));
    let sent = s1.clone();
    store
        .expect_mark_sent()
        .returning(move |_| Ok(vec![sent.clone()]));

    let mut directory = MockUserDirectory::new();
    directory
        .expect_details()
        .with(eq(user("alice")))
        .times(1)
        .returning(|_| Ok(Some(fields(json!({ "_id": "spoofed", "name": "Alice" })))));
    directory
        .expect_details()
        .with(eq(user("bob")))
        .times(1)
        .returning(|_| Ok(Some(fields(json!({ "name": "Bob" })))));
    // Known to the store but gone from the host app: still named by its id.
    directory
        .expect_details()
        .with(eq(user("carol")))
        .times(1)
        .returning(|_| Ok(None));
    let service = service_with_directory(store, unread_clock(), directory);
    online(&service, &[("bob", "b1")]);

    let out = block_on(service.connect(&session("alice", "a1"))).unwrap();

    let alice = details("alice", json!({ "name": "Alice" }));
    let bob = details("bob", json!({ "name": "Bob" }));
    assert_eq!(out.reply.user, alice);
    assert_eq!(out.reply.user.fields().get("_id"), Some(&json!("alice")));
    // Neither room has activity: the newer (carol's) comes first.
    assert_eq!(out.reply.connected_users[1].details, bob);
    assert_eq!(
        out.reply.connected_users[0].details,
        UserDetails::bare(&user("carol"))
    );
    let missed = &out.reply.missed_messages[&user("bob")][0];
    assert_eq!(missed.from, bob);
    assert_eq!(missed.to, alice);
    assert_eq!(
        out.deliveries.last(),
        Some(&presence_changed(
            "bob",
            alice,
            PresenceStatus::Online,
            None
        ))
    );
}

#[test]
fn connect_of_a_user_the_directory_does_not_know_is_unknown_user() {
    let mut store = MockChatStore::new();
    store.expect_register_user().never();
    store.expect_contacts().never();
    store.expect_undelivered().never();
    let mut directory = MockUserDirectory::new();
    directory
        .expect_details()
        .with(eq(user("mallory")))
        .times(1)
        .returning(|_| Ok(None));
    let service = service_with_directory(store, unread_clock(), directory);

    let result = block_on(service.connect(&session("mallory", "m1")));

    assert_eq!(code(result), ErrorCode::UnknownUser);
    assert!(!block_on(service.presence().is_online(&user("mallory"))).unwrap());
}

#[test]
fn connect_without_a_directory_accepts_any_valid_id() {
    let store = quiet_connect_store("newcomer");
    let service = service(store, unread_clock());

    let out = block_on(service.connect(&session("newcomer", "n1"))).unwrap();

    assert_eq!(out.reply.user, UserDetails::bare(&user("newcomer")));
    assert_eq!(out.reply.last_online, None);
    assert!(out.reply.connected_users.is_empty());
    assert!(out.deliveries.is_empty());
}

#[test]
fn connect_when_the_directory_fails_is_unavailable() {
    let mut store = MockChatStore::new();
    store.expect_register_user().never();
    let mut directory = MockUserDirectory::new();
    directory
        .expect_details()
        .returning(|_| Err(DirectoryError("timeout".into())));
    let service = service_with_directory(store, unread_clock(), directory);

    assert_eq!(
        code(block_on(service.connect(&session("alice", "a1")))),
        ErrorCode::Unavailable
    );
    assert!(!block_on(service.presence().is_online(&user("alice"))).unwrap());
}

#[test]
fn connect_when_register_user_fails_is_unavailable_and_not_live() {
    let mut store = MockChatStore::new();
    store
        .expect_register_user()
        .times(1)
        .returning(|_| Err(unavailable()));
    store.expect_contacts().never();
    let service = service(store, unread_clock());

    assert_eq!(
        code(block_on(service.connect(&session("alice", "a1")))),
        ErrorCode::Unavailable
    );
    assert!(!block_on(service.presence().is_online(&user("alice"))).unwrap());
}

#[test]
fn connect_when_contacts_fail_is_unavailable_and_the_socket_is_not_counted_live() {
    let mut store = MockChatStore::new();
    store
        .expect_register_user()
        .returning(|_| Ok(chat_user("alice", None)));
    store
        .expect_contacts()
        .times(1)
        .returning(|_| Err(unavailable()));
    store.expect_undelivered().never();
    store.expect_mark_sent().never();
    let service = service(store, unread_clock());

    assert_eq!(
        code(block_on(service.connect(&session("alice", "a1")))),
        ErrorCode::Unavailable
    );
    assert!(!block_on(service.presence().is_online(&user("alice"))).unwrap());
    assert_eq!(block_on(service.presence().online_users()).unwrap(), 0);
}

#[test]
fn connect_hands_missed_messages_over_even_when_marking_them_sent_fails() {
    let mut store = MockChatStore::new();
    store
        .expect_register_user()
        .returning(|_| Ok(chat_user("alice", None)));
    store
        .expect_contacts()
        .returning(|_| Ok(vec![record("bob", "alice", None)]));
    store
        .expect_undelivered()
        .returning(|_, _, _| Ok(vec![stored("m1", "bob", "alice", NotSent)]));
    store
        .expect_mark_sent()
        .times(1)
        .returning(|_| Err(unavailable()));
    let service = service(store, unread_clock());

    // Whether the store recorded `sent` is unknown: the messages are handed over as they
    // were (a second hand-over is harmless, none would lose them), and no sender is told.
    let out = block_on(service.connect(&session("alice", "a1"))).unwrap();
    let missed = &out.reply.missed_messages[&user("bob")];
    assert_eq!(missed.len(), 1);
    assert_eq!(missed[0].id, MessageId::new("m1"));
    assert_eq!(missed[0].status, NotSent);
    assert!(out.deliveries.is_empty());
    assert!(block_on(service.presence().is_online(&user("alice"))).unwrap());
}

#[test]
fn connect_internal_store_failure_is_internal() {
    let mut store = MockChatStore::new();
    store
        .expect_register_user()
        .returning(|_| Err(StoreError::Internal("corrupt row".into())));
    let service = service(store, unread_clock());

    assert_eq!(
        code(block_on(service.connect(&session("alice", "a1")))),
        ErrorCode::Internal
    );
}

#[test]
fn a_failed_connect_on_a_second_socket_leaves_the_first_socket_live() {
    let mut store = MockChatStore::new();
    store
        .expect_register_user()
        .returning(|_| Ok(chat_user("alice", None)));
    store.expect_contacts().returning(|_| Err(unavailable()));
    let service = service(store, unread_clock());
    online(&service, &[("alice", "a1")]);

    assert_eq!(
        code(block_on(service.connect(&session("alice", "a2")))),
        ErrorCode::Unavailable
    );

    assert!(block_on(service.presence().is_online(&user("alice"))).unwrap());
    // a2 was never counted; a1 is still alice's only socket.
    assert!(!block_on(service.presence().remove(&user("alice"), &socket("a2"))).unwrap());
    assert!(block_on(service.presence().remove(&user("alice"), &socket("a1"))).unwrap());
}

#[test]
fn a_retry_after_a_failed_first_connect_still_announces_online() {
    let calls = Arc::new(AtomicUsize::new(0));
    let mut store = MockChatStore::new();
    store
        .expect_register_user()
        .times(2)
        .returning(|_| Ok(chat_user("alice", None)));
    let counter = Arc::clone(&calls);
    store.expect_contacts().times(2).returning(move |_| {
        if counter.fetch_add(1, Ordering::SeqCst) == 0 {
            Err(unavailable())
        } else {
            Ok(vec![record("bob", "alice", None)])
        }
    });
    store
        .expect_undelivered()
        .times(1)
        .returning(|_, _, _| Ok(Vec::new()));
    let service = service(store, unread_clock());
    online(&service, &[("bob", "b1")]);

    assert!(block_on(service.connect(&session("alice", "a1"))).is_err());
    let out = block_on(service.connect(&session("alice", "a1"))).unwrap();

    assert_eq!(
        out.deliveries,
        vec![presence_changed(
            "bob",
            UserDetails::bare(&user("alice")),
            PresenceStatus::Online,
            None
        )]
    );
}

#[test]
fn connect_asks_the_store_for_the_total_bound_and_cuts_missed_messages_to_the_byte_bound() {
    // Oldest first across senders: the newest beyond the bound stay `not_sent` and the
    // client pages them `after` the last one it got from each sender.
    let m1 = big("m1", "bob", "alice", NotSent);
    let m2 = big("m2", "carol", "alice", NotSent);
    let m3 = big("m3", "bob", "alice", NotSent);
    let sent = vec![moved(&m1, Sent), moved(&m2, Sent)];
    let mut store = MockChatStore::new();
    store
        .expect_register_user()
        .returning(|_| Ok(chat_user("alice", None)));
    store.expect_contacts().returning(|_| Ok(Vec::new()));
    let waiting = vec![m1.clone(), m2.clone(), m3.clone()];
    store
        .expect_undelivered()
        .with(eq(user("alice")), eq(7_usize), eq(3_usize))
        .times(1)
        .returning(move |_, _, _| Ok(waiting.clone()));
    let marked = sent.clone();
    store
        .expect_mark_sent()
        .withf(|ids: &[MessageId]| ids_are(ids, &["m1", "m2"]))
        .times(1)
        .returning(move |_| Ok(marked.clone()));
    // Room for two messages and their senders' keys, not for a third.
    let bound = two_big_ones() + 40;
    let service = service_bounded(
        store,
        Config {
            missed_messages_per_sender: 7,
            missed_messages_total: 3,
            max_reply_bytes: bound,
            ..Config::default()
        },
    );

    let out = block_on(service.connect(&session("alice", "a1"))).unwrap();

    let missed = &out.reply.missed_messages;
    assert_eq!(missed.len(), 2);
    assert_eq!(missed[&user("bob")], vec![wire(&sent[0])]);
    assert_eq!(missed[&user("carol")], vec![wire(&sent[1])]);
    assert!(serde_json::to_vec(missed).unwrap().len() <= bound);
    assert_eq!(out.deliveries.len(), 2);
}

#[test]
fn connect_keeps_one_missed_message_bigger_than_the_byte_bound() {
    let m1 = big("m1", "bob", "alice", NotSent);
    let m2 = big("m2", "bob", "alice", NotSent);
    let sent = moved(&m1, Sent);
    let mut store = MockChatStore::new();
    store
        .expect_register_user()
        .returning(|_| Ok(chat_user("alice", None)));
    store.expect_contacts().returning(|_| Ok(Vec::new()));
    store
        .expect_undelivered()
        .returning(move |_, _, _| Ok(vec![m1.clone(), m2.clone()]));
    let marked = sent.clone();
    store
        .expect_mark_sent()
        .withf(|ids: &[MessageId]| ids_are(ids, &["m1"]))
        .times(1)
        .returning(move |_| Ok(vec![marked.clone()]));
    let service = service_bounded(
        store,
        Config {
            max_reply_bytes: 1,
            ..Config::default()
        },
    );

    let out = block_on(service.connect(&session("alice", "a1"))).unwrap();

    assert_eq!(out.reply.missed_messages[&user("bob")], vec![wire(&sent)]);
}
