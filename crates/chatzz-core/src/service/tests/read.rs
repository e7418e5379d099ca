//! `message-read`: who may read, receipts, races, failures.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use futures_executor::block_on;
use mockall::predicate::eq;

use crate::error::ErrorCode;
use crate::event::{Audience, Delivery, ServerEvent};
use crate::message::MessageStatus;
use crate::ports::MockChatStore;

use super::support::*;

use MessageStatus::{NotSent, Read, Sent};

#[test]
fn mark_read_of_an_unknown_message_is_not_found() {
    let mut store = MockChatStore::new();
    store
        .expect_find_message()
        .with(eq(msg_id("nope")))
        .times(1)
        .returning(|_| Ok(None));
    store.expect_mark_read().never();
    let service = service(store, unread_clock());

    let result = block_on(service.mark_read(&session("bob", "b1"), &msg_id("nope")));

    assert_eq!(code(result), ErrorCode::NotFound);
}

#[test]
fn mark_read_by_someone_other_than_the_recipient_is_not_found_and_reveals_nothing() {
    let message = stored("m1", "alice", "bob", Sent);
    let mut store = MockChatStore::new();
    store
        .expect_find_message()
        .with(eq(msg_id("m1")))
        .returning(move |_| Ok(Some(message.clone())));
    store
        .expect_find_message()
        .with(eq(msg_id("nope")))
        .returning(|_| Ok(None));
    store.expect_mark_read().never();
    let service = service(store, unread_clock());

    // The sender and a stranger both fail, exactly as for a message that does not exist.
    let by_sender =
        block_on(service.mark_read(&session("alice", "a1"), &msg_id("m1"))).unwrap_err();
    let by_stranger =
        block_on(service.mark_read(&session("eve", "e1"), &msg_id("m1"))).unwrap_err();
    let missing = block_on(service.mark_read(&session("bob", "b1"), &msg_id("nope"))).unwrap_err();

    assert_eq!(by_sender.code, ErrorCode::NotFound);
    assert_eq!(by_sender, missing);
    assert_eq!(by_stranger, missing);
}

#[test]
fn mark_read_of_an_already_read_message_succeeds_and_emits_nothing() {
    let message = stored("m1", "alice", "bob", Read);
    let mut store = MockChatStore::new();
    let found = message.clone();
    store
        .expect_find_message()
        .times(1)
        .returning(move |_| Ok(Some(found.clone())));
    store.expect_mark_read().never();
    let service = service(store, unread_clock());

    let out = block_on(service.mark_read(&session("bob", "b1"), &msg_id("m1"))).unwrap();

    assert_eq!(out.reply, wire(&message));
    assert!(out.deliveries.is_empty());
}

#[test]
fn mark_read_tells_the_sender_and_the_readers_other_sockets() {
    for before in [Sent, NotSent] {
        let message = stored("m1", "alice", "bob", before);
        let read = moved(&message, Read);
        let mut store = MockChatStore::new();
        store
            .expect_find_message()
            .with(eq(msg_id("m1")))
            .times(1)
            .returning(move |_| Ok(Some(message.clone())));
        let marked = read.clone();
        store
            .expect_mark_read()
            .with(eq(msg_id("m1")), eq(at(NOW)))
            .times(1)
            .returning(move |_, _| Ok(Some(marked.clone())));
        let service = service(store, clock_at(NOW));

        let out = block_on(service.mark_read(&session("bob", "b1"), &msg_id("m1"))).unwrap();

        let shown = wire(&read);
        assert_eq!(shown.status, Read);
        assert_eq!(shown.read_at, Some(at(NOW)));
        assert_eq!(out.reply, shown, "from {before:?}");
        assert_eq!(
            out.deliveries,
            vec![
                status_changed("alice", &shown),
                Delivery::new(
                    Audience::OtherSocketsOf(user("bob")),
                    ServerEvent::MessageStatusChanged(shown.clone())
                ),
            ],
            "from {before:?}"
        );
    }
}

#[test]
fn mark_read_that_loses_a_race_replies_the_current_message_and_emits_nothing() {
    let message = stored("m1", "alice", "bob", Sent);
    let current = moved(&message, Read);
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&calls);
    let mut store = MockChatStore::new();
    store.expect_find_message().times(2).returning(move |_| {
        if counter.fetch_add(1, Ordering::SeqCst) == 0 {
            Ok(Some(message.clone()))
        } else {
            Ok(Some(current.clone()))
        }
    });
    store.expect_mark_read().times(1).returning(|_, _| Ok(None));
    let service = service(store, clock_at(NOW));

    let out = block_on(service.mark_read(&session("bob", "b1"), &msg_id("m1"))).unwrap();

    assert_eq!(out.reply.status, Read);
    assert!(out.deliveries.is_empty());
}

#[test]
fn mark_read_when_the_store_fails_is_unavailable() {
    let message = stored("m1", "alice", "bob", Sent);
    let mut store = MockChatStore::new();
    store
        .expect_find_message()
        .returning(move |_| Ok(Some(message.clone())));
    store
        .expect_mark_read()
        .times(1)
        .returning(|_, _| Err(unavailable()));
    let service = service(store, clock_at(NOW));

    let result = block_on(service.mark_read(&session("bob", "b1"), &msg_id("m1")));

    assert_eq!(code(result), ErrorCode::Unavailable);
}
