//! `message-read`: who may read, reading up to a message, receipts, races, failures.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use futures_executor::block_on;
use mockall::predicate::eq;

use crate::error::ErrorCode;
use crate::event::{Audience, Delivery, ServerEvent};
use crate::message::{MessageStatus, MessagesRead, StoredMessage};
use crate::ports::MockChatStore;

use super::support::*;

use MessageStatus::{NotSent, Read, Sent};

/// A store whose `find_message` answers `before` first and `after` from then on.
fn finding(store: &mut MockChatStore, before: StoredMessage, after: StoredMessage) {
    let calls = Arc::new(AtomicUsize::new(0));
    store.expect_find_message().returning(move |_| {
        if calls.fetch_add(1, Ordering::SeqCst) == 0 {
            Ok(Some(before.clone()))
        } else {
            Ok(Some(after.clone()))
        }
    });
}

#[test]
fn mark_read_of_an_unknown_message_is_not_found() {
    let mut store = MockChatStore::new();
    store
        .expect_find_message()
        .with(eq(msg_id("nope")))
        .times(1)
        .returning(|_| Ok(None));
    store.expect_read_up_to().never();
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
    store.expect_read_up_to().never();
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
fn naming_a_message_at_or_before_the_read_position_succeeds_and_emits_nothing() {
    let message = stored("m1", "alice", "bob", Read);
    let mut store = MockChatStore::new();
    finding(&mut store, message.clone(), message.clone());
    store
        .expect_read_up_to()
        .times(1)
        .returning(|_, _, _, _| Ok(0));
    let service = service(store, clock_at(NOW));

    let out = block_on(service.mark_read(&session("bob", "b1"), &msg_id("m1"))).unwrap();

    assert_eq!(out.reply, wire(&message));
    assert!(out.deliveries.is_empty());
}

#[test]
fn mark_read_reads_the_room_up_to_the_message_in_one_store_call() {
    for before in [Sent, NotSent] {
        let message = stored("m1", "alice", "bob", before);
        let read = moved(&message, Read);
        let mut store = MockChatStore::new();
        // Looked up once, before: nothing after the write can fail and lose the receipts.
        let found = message.clone();
        store
            .expect_find_message()
            .times(1)
            .returning(move |_| Ok(Some(found.clone())));
        store
            .expect_read_up_to()
            .with(
                eq(user("bob")),
                eq(message.room.clone()),
                eq(msg_id("m1")),
                eq(at(NOW)),
            )
            .times(1)
            .returning(|_, _, _, _| Ok(7));
        let service = service(store, clock_at(NOW));

        let out = block_on(service.mark_read(&session("bob", "b1"), &msg_id("m1"))).unwrap();

        let shown = wire(&read);
        assert_eq!(shown.status, Read);
        assert_eq!(shown.read_at, Some(at(NOW)));
        assert_eq!(out.reply, shown, "from {before:?}");
        let range = ServerEvent::MessagesRead(MessagesRead {
            chat_room_id: message.room.clone(),
            reader_id: user("bob"),
            up_to: msg_id("m1"),
            read_at: at(NOW),
            count: 7,
        });
        let others = Audience::OtherSocketsOf(user("bob"));
        assert_eq!(
            out.deliveries,
            vec![
                status_changed("alice", &shown),
                Delivery::new(Audience::User(user("alice")), range.clone()),
                Delivery::new(
                    others.clone(),
                    ServerEvent::MessageStatusChanged(shown.clone())
                ),
                Delivery::new(others, range),
            ],
            "from {before:?}: the sender and the reader's other sockets, never the reader's own"
        );
    }
}

#[test]
fn mark_read_that_loses_a_race_replies_the_current_message_and_emits_nothing() {
    let message = stored("m1", "alice", "bob", Sent);
    let current = moved(&message, Read);
    let mut store = MockChatStore::new();
    finding(&mut store, message, current);
    store
        .expect_read_up_to()
        .times(1)
        .returning(|_, _, _, _| Ok(0));
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
        .expect_read_up_to()
        .times(1)
        .returning(|_, _, _, _| Err(unavailable()));
    let service = service(store, clock_at(NOW));

    let result = block_on(service.mark_read(&session("bob", "b1"), &msg_id("m1")));

    assert_eq!(code(result), ErrorCode::Unavailable);
}
