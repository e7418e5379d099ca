//! `typing`: never stored, no store call once the pair's room is known, delivered to
//! the contact only, stopped by the typer's message or departure, rate limited.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use futures_executor::block_on;
use mockall::predicate::eq;

use crate::error::ErrorCode;
use crate::event::{Delivery, ServerEvent, TypingData};
use crate::id::UserId;
use crate::message::MessageStatus::NotSent;
use crate::ports::MockChatStore;
use crate::service::{ChatService, Config, SendRequest};

use super::support::*;

fn typing_to(to: &str, from: &str, typing: bool) -> Delivery {
    let data = if typing {
        TypingData {
            user_id: user(from),
            chat_room_id: room_of(from, to),
            typing: true,
            expires_in_ms: 6_000,
        }
    } else {
        TypingData::stopped(user(from), room_of(from, to))
    };
    to_user(to, ServerEvent::Typing(data))
}

/// A store that knows the room of alice and bob, asked `finds` times.
fn room_store(finds: usize) -> MockChatStore {
    let mut store = unblocked_store();
    store
        .expect_find_room()
        .withf(|a: &UserId, b: &UserId| same_pair(a, b, "alice", "bob"))
        .times(finds)
        .returning(|_, _| Ok(Some(room_of("alice", "bob"))));
    store
}

#[test]
fn typing_reaches_the_contact_only_and_asks_the_store_for_the_room_once() {
    let service = service(room_store(1), clock_at(NOW));
    let alice = session("alice", "a1");

    let started = block_on(service.typing(&alice, &user("bob"), true)).unwrap();
    let again = block_on(service.typing(&alice, &user("bob"), true)).unwrap();
    let stopped = block_on(service.typing(&alice, &user("bob"), false)).unwrap();

    assert_eq!(started.deliveries, vec![typing_to("bob", "alice", true)]);
    assert_eq!(again.deliveries, started.deliveries);
    assert_eq!(stopped.deliveries, vec![typing_to("bob", "alice", false)]);
}

#[test]
fn typing_to_a_non_contact_or_oneself_fails_and_tells_nobody() {
    let mut store = unblocked_store();
    store.expect_find_room().times(1).returning(|_, _| Ok(None));
    let service = service(store, clock_at(NOW));
    let alice = session("alice", "a1");

    assert_eq!(
        code(block_on(service.typing(&alice, &user("carol"), true))),
        ErrorCode::NotAContact
    );
    assert_eq!(
        code(block_on(service.typing(&alice, &user("alice"), true))),
        ErrorCode::InvalidArgument
    );
}

#[test]
fn typing_needs_no_store_for_a_contact_listed_at_connect() {
    let mut store = unblocked_store();
    store
        .expect_register_user()
        .returning(|_| Ok(chat_user("alice", None)));
    store
        .expect_contacts()
        .returning(|_| Ok(vec![record("bob", "alice", None)]));
    store
        .expect_undelivered()
        .returning(|_, _, _| Ok(Vec::new()));
    // The store is down for everything after the connect.
    store
        .expect_find_room()
        .returning(|_, _| Err(unavailable()));
    let service = service(store, clock_at(NOW));
    let alice = session("alice", "a1");
    block_on(service.connect(&alice)).unwrap();

    let out = block_on(service.typing(&alice, &user("bob"), true)).unwrap();

    assert_eq!(out.deliveries, vec![typing_to("bob", "alice", true)]);
}

#[test]
fn a_message_sent_while_typing_stops_it_for_the_recipient_first() {
    let (clock, now) = moving_clock(NOW);
    let mut store = send_store(stored("m1", "alice", "bob", NotSent), true);
    store.expect_mark_sent().never();
    let service = ChatService::new(Arc::new(store), Arc::new(clock), Config::default());
    let alice = session("alice", "a1");
    block_on(service.typing(&alice, &user("bob"), true)).unwrap();
    now.store(NOW + 5_999, Ordering::SeqCst);

    let out = block_on(service.send(&alice, SendRequest::new(&user("bob"), "hi", None))).unwrap();

    assert_eq!(
        out.deliveries.first(),
        Some(&typing_to("bob", "alice", false))
    );
    assert_eq!(
        out.deliveries
            .iter()
            .filter(|d| matches!(d.event, ServerEvent::Typing(_)))
            .count(),
        1
    );
}

#[test]
fn no_stop_is_sent_for_typing_never_said_or_expired() {
    let (clock, now) = moving_clock(NOW);
    let mut store = unblocked_store();
    store
        .expect_find_room()
        .returning(|_, _| Ok(Some(room_of("alice", "bob"))));
    store.expect_insert_message().times(2).returning(|_| {
        Ok(crate::message::Inserted {
            message: stored("m1", "alice", "bob", NotSent),
            created: true,
        })
    });
    let service = ChatService::new(Arc::new(store), Arc::new(clock), Config::default());
    let alice = session("alice", "a1");
    let typed = |out: &crate::event::Outcome<crate::message::Message>| {
        out.deliveries
            .iter()
            .any(|d| matches!(d.event, ServerEvent::Typing(_)))
    };

    let never = block_on(service.send(&alice, SendRequest::new(&user("bob"), "a", None))).unwrap();
    block_on(service.typing(&alice, &user("bob"), true)).unwrap();
    now.store(NOW + 6_000, Ordering::SeqCst);
    let expired =
        block_on(service.send(&alice, SendRequest::new(&user("bob"), "b", None))).unwrap();

    assert!(!typed(&never));
    assert!(
        !typed(&expired),
        "the contact stopped showing it on its own"
    );
}

#[test]
fn the_typers_last_socket_leaving_stops_it_for_its_contacts() {
    let mut store = room_store(1);
    store.expect_set_last_online().returning(|_, _| Ok(()));
    store
        .expect_linked_users()
        .with(eq(user("alice")))
        .returning(|_| Ok(vec![linked_user("bob")]));
    let service = service(store, clock_at(NOW));
    online(&service, &[("alice", "a1")]);
    let alice = session("alice", "a1");
    block_on(service.typing(&alice, &user("bob"), true)).unwrap();

    let out = block_on(service.disconnect(&alice)).unwrap();

    assert_eq!(
        out.deliveries.first(),
        Some(&typing_to("bob", "alice", false))
    );
}

#[test]
fn typing_is_limited_to_five_a_second_per_user() {
    let service = service(room_store(1), clock_at(NOW));
    let alice = session("alice", "a1");
    for _ in 0..5 {
        assert!(block_on(service.typing(&alice, &user("bob"), true)).is_ok());
    }
    assert_eq!(
        code(block_on(service.typing(&alice, &user("bob"), true))),
        ErrorCode::RateLimited
    );
}
