//! `block-user` / `unblock-user` and what a block does: nothing sent, typed or added
//! between the two either way, the blocker's presence hidden from the blocked, and
//! nothing emitted at the moment of blocking.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use futures_executor::block_on;
use mockall::predicate::eq;

use crate::error::ErrorCode;
use crate::event::ServerEvent;
use crate::id::UserId;
use crate::message::{Inserted, MessageStatus};
use crate::ports::{MockChatStore, MockClusterNews};
use crate::service::{BlockState, SendRequest};
use crate::user::{Blocks, ContactRecord, PresenceStatus};

use super::support::*;

fn blocking(alice_blocks_bob: bool, bob_blocks_alice: bool) -> MockChatStore {
    let mut store = MockChatStore::new();
    store.expect_blocks_between().returning(move |a, _| {
        let (ab, ba) = (alice_blocks_bob, bob_blocks_alice);
        Ok(if a.as_str() == "alice" {
            Blocks {
                a_blocks_b: ab,
                b_blocks_a: ba,
            }
        } else {
            Blocks {
                a_blocks_b: ba,
                b_blocks_a: ab,
            }
        })
    });
    store
}

#[test]
fn blocking_a_known_user_is_stored_replied_and_told_to_nobody() {
    let mut store = MockChatStore::new();
    store
        .expect_find_user()
        .with(eq(user("bob")))
        .returning(|_| Ok(Some(chat_user("bob", None))));
    store
        .expect_block()
        .with(eq(user("alice")), eq(user("bob")), eq(at(NOW)))
        .times(1)
        .returning(|_, _, _| Ok(true));
    store
        .expect_unblock()
        .with(eq(user("alice")), eq(user("bob")))
        .times(1)
        .returning(|_, _| Ok(true));
    let service = service(store, clock_at(NOW));
    let alice = session("alice", "a1");

    let blocked = block_on(service.set_blocked(&alice, &user("bob"), true)).unwrap();
    let unblocked = block_on(service.set_blocked(&alice, &user("bob"), false)).unwrap();

    assert_eq!(
        blocked.reply,
        BlockState {
            user_id: user("bob"),
            blocked: true
        }
    );
    assert!(!unblocked.reply.blocked);
    assert!(blocked.deliveries.is_empty() && unblocked.deliveries.is_empty());
}

#[test]
fn blocking_oneself_or_an_unknown_user_fails_and_stores_nothing() {
    let mut store = MockChatStore::new();
    store.expect_find_user().returning(|_| Ok(None));
    store.expect_block().never();
    let service = service(store, clock_at(NOW));
    let alice = session("alice", "a1");

    assert_eq!(
        code(block_on(service.set_blocked(&alice, &user("alice"), true))),
        ErrorCode::InvalidArgument
    );
    assert_eq!(
        code(block_on(service.set_blocked(&alice, &user("nobody"), true))),
        ErrorCode::UnknownUser
    );
}

#[test]
fn nothing_is_sent_or_added_between_them_either_way() {
    for (ab, ba) in [(true, false), (false, true), (true, true)] {
        let mut store = blocking(ab, ba);
        store.expect_insert_message().never();
        store.expect_link().never();
        store
            .expect_find_user()
            .returning(|u| Ok(Some(chat_user(u.as_str(), None))));
        let service = service(store, clock_at(NOW));
        for (me, other) in [("alice", "bob"), ("bob", "alice")] {
            let who = session(me, "s1");
            let send = block_on(service.send(&who, SendRequest::new(&user(other), "hi", None)));
            assert_eq!(
                code(send),
                ErrorCode::Forbidden,
                "{me} -> {other} ({ab}, {ba})"
            );
            let add = block_on(service.add_contact(&who, &user(other)));
            assert_eq!(code(add), ErrorCode::Forbidden);
            let typing = block_on(service.typing(&who, &user(other), true));
            assert_eq!(code(typing), ErrorCode::Forbidden);
        }
    }
}

#[test]
fn typing_knows_the_blocks_listed_at_connect_without_asking_the_store() {
    let mut store = MockChatStore::new();
    store
        .expect_register_user()
        .returning(|_| Ok(chat_user("bob", None)));
    store.expect_contacts().returning(|_| {
        Ok(vec![ContactRecord {
            blocked_by: true,
            ..record("alice", "bob", None)
        }])
    });
    store
        .expect_undelivered()
        .returning(|_, _, _| Ok(Vec::new()));
    store.expect_blocks_between().never();
    store.expect_find_room().never();
    let service = service(store, clock_at(NOW));
    let bob = session("bob", "b1");
    block_on(service.connect(&bob)).unwrap();

    assert_eq!(
        code(block_on(service.typing(&bob, &user("alice"), true))),
        ErrorCode::Forbidden
    );
}

#[test]
fn a_blocker_is_hidden_from_the_blocked_and_sees_them() {
    // alice blocks bob; both online. bob connects: alice shows offline and never seen.
    let mut store = MockChatStore::new();
    store
        .expect_register_user()
        .returning(|u| Ok(chat_user(u.as_str(), Some(EARLIER))));
    store.expect_contacts().returning(|u| {
        Ok(if u.as_str() == "bob" {
            vec![ContactRecord {
                blocked_by: true,
                ..record("alice", "bob", Some(EARLIER + 1))
            }]
        } else {
            vec![ContactRecord {
                blocked: true,
                ..record("bob", "alice", Some(EARLIER))
            }]
        })
    });
    store
        .expect_undelivered()
        .returning(|_, _, _| Ok(Vec::new()));
    let service = service(store, clock_at(NOW));
    online(&service, &[("alice", "a1")]);

    let bob = block_on(service.connect(&session("bob", "b1"))).unwrap();
    let seen = &bob.reply.connected_users[0];
    assert_eq!(seen.status, PresenceStatus::Offline);
    assert_eq!(seen.last_online, None);
    assert!(!seen.blocked, "bob is not told he is blocked");
    // The blocker still hears that bob came online.
    assert_eq!(bob.deliveries.len(), 1);
    assert_eq!(
        bob.deliveries[0].to,
        crate::event::Audience::User(user("alice"))
    );

    // alice's second socket: she sees bob online and blocked, and bob hears nothing.
    let alice = block_on(service.connect(&session("alice", "a2"))).unwrap();
    let seen = &alice.reply.connected_users[0];
    assert_eq!(seen.status, PresenceStatus::Online);
    assert!(seen.blocked);
    assert!(alice.deliveries.is_empty());
}

#[test]
fn a_block_drops_typing_so_no_stop_reaches_them_when_the_blocker_leaves() {
    let mut store = blocking(false, false);
    store
        .expect_find_room()
        .returning(|_, _| Ok(Some(room_of("alice", "bob"))));
    store
        .expect_find_user()
        .returning(|u| Ok(Some(chat_user(u.as_str(), None))));
    store.expect_block().returning(|_, _, _| Ok(true));
    store.expect_set_last_online().returning(|_, _| Ok(()));
    store.expect_linked_users().returning(|_| {
        Ok(vec![crate::user::LinkedUser {
            blocked: true,
            ..linked_user("bob")
        }])
    });
    let service = service(store, clock_at(NOW));
    online(&service, &[("alice", "a1"), ("bob", "b1")]);
    let alice = session("alice", "a1");
    block_on(service.typing(&alice, &user("bob"), true)).unwrap();
    block_on(service.set_blocked(&alice, &user("bob"), true)).unwrap();

    let out = block_on(service.disconnect(&alice)).unwrap();

    assert!(out.deliveries.is_empty(), "{:?}", out.deliveries);
}

#[test]
fn the_blocked_hear_nothing_when_the_blocker_goes_offline() {
    let mut store = MockChatStore::new();
    store.expect_set_last_online().returning(|_, _| Ok(()));
    store
        .expect_linked_users()
        .with(eq(user("alice")))
        .returning(|_| {
            Ok(vec![
                crate::user::LinkedUser {
                    blocked: true,
                    ..linked_user("bob")
                },
                linked_user("carol"),
            ])
        });
    let service = service(store, clock_at(NOW));
    online(&service, &[("alice", "a1"), ("bob", "b1"), ("carol", "c1")]);

    let out = block_on(service.disconnect(&session("alice", "a1"))).unwrap();

    let told: Vec<UserId> = out
        .deliveries
        .iter()
        .filter(|d| matches!(d.event, ServerEvent::ChatUserStatusChanged(_)))
        .map(|d| match &d.to {
            crate::event::Audience::User(u) | crate::event::Audience::OtherSocketsOf(u) => {
                u.clone()
            }
        })
        .collect();
    assert_eq!(told, vec![user("carol")]);
}

/// A store where alice and bob share a room, that counts how often it is asked about
/// blocks and answers what `alice_blocks_bob` holds (set by its `block`).
fn send_store_counting_blocks() -> (MockChatStore, Arc<AtomicUsize>) {
    let asked = Arc::new(AtomicUsize::new(0));
    let alice_blocks_bob = Arc::new(AtomicBool::new(false));
    let mut store = MockChatStore::new();
    let (count, blocked) = (Arc::clone(&asked), Arc::clone(&alice_blocks_bob));
    store.expect_blocks_between().returning(move |a, _| {
        count.fetch_add(1, Ordering::SeqCst);
        let ab = blocked.load(Ordering::SeqCst);
        Ok(Blocks {
            a_blocks_b: ab && a.as_str() == "alice",
            b_blocks_a: ab && a.as_str() == "bob",
        })
    });
    store
        .expect_block()
        .returning(move |_, _, _| Ok(!alice_blocks_bob.swap(true, Ordering::SeqCst)));
    store
        .expect_find_user()
        .returning(|u| Ok(Some(chat_user(u.as_str(), None))));
    store
        .expect_find_room()
        .returning(|_, _| Ok(Some(room_of("alice", "bob"))));
    store.expect_insert_message().returning(|_| {
        Ok(Inserted {
            message: stored("m1", "alice", "bob", MessageStatus::NotSent),
            created: true,
        })
    });
    (store, asked)
}

#[test]
fn a_single_server_asks_the_store_about_blocks_once_per_pair_until_one_changes() {
    let (store, asked) = send_store_counting_blocks();
    let service = service(store, clock_at(NOW));
    let alice = session("alice", "a1");
    for text in ["one", "two", "three"] {
        block_on(service.send(&alice, SendRequest::new(&user("bob"), text, None))).unwrap();
    }
    assert_eq!(asked.load(Ordering::SeqCst), 1, "then it knows");

    block_on(service.set_blocked(&alice, &user("bob"), true)).unwrap();
    let bob = session("bob", "b1");
    let send = block_on(service.send(&bob, SendRequest::new(&user("alice"), "hi", None)));
    assert_eq!(code(send), ErrorCode::Forbidden, "the block holds at once");
    assert_eq!(
        asked.load(Ordering::SeqCst),
        2,
        "read again after the change"
    );
}

#[test]
fn a_server_of_a_cluster_asks_the_store_about_blocks_on_every_send() {
    let (store, asked) = send_store_counting_blocks();
    let mut news = MockClusterNews::new();
    news.expect_blocks_changed().returning(|_, _| Ok(()));
    let service = service(store, clock_at(NOW)).with_cluster_news(Arc::new(news));
    let alice = session("alice", "a1");
    for text in ["one", "two", "three"] {
        block_on(service.send(&alice, SendRequest::new(&user("bob"), text, None))).unwrap();
    }
    assert_eq!(
        asked.load(Ordering::SeqCst),
        3,
        "a block made through another server must hold at once"
    );
}
