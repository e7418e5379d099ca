//! `edit-message` and `delete-message`: who may, the edit window, tombstones, races,
//! and who hears of it.

use futures_executor::block_on;
use mockall::predicate::eq;

use crate::error::ErrorCode;
use crate::event::ServerEvent;
use crate::message::{MessageStatus, MessageText, StoredMessage};
use crate::ports::MockChatStore;
use crate::service::Config;

use super::support::*;

use MessageStatus::Sent;

const HOUR: i64 = 3_600_000;

/// A message alice sent bob, created `age` milliseconds before `NOW`.
fn aged(age: i64) -> StoredMessage {
    let mut message = stored("m1", "alice", "bob", Sent);
    message.created_at = at(NOW - age);
    message
}

fn tombstone_of(message: &StoredMessage, when: i64) -> StoredMessage {
    let mut gone = message.clone();
    gone.text = String::new();
    gone.deleted_at = Some(at(when));
    gone
}

fn finding(store: &mut MockChatStore, message: StoredMessage) {
    store
        .expect_find_message()
        .with(eq(message.id.clone()))
        .returning(move |_| Ok(Some(message.clone())));
}

fn updated_to_both(message: &crate::message::Message) -> Vec<crate::event::Delivery> {
    vec![
        to_user("alice", ServerEvent::MessageUpdated(message.clone())),
        to_user("bob", ServerEvent::MessageUpdated(message.clone())),
    ]
}

#[test]
fn the_sender_edits_within_the_window_and_both_users_hear_of_it() {
    let message = aged(47 * HOUR);
    let mut edited = message.clone();
    edited.text = "fixed".into();
    edited.edited_at = Some(at(NOW));
    let mut store = MockChatStore::new();
    finding(&mut store, message);
    let answer = edited.clone();
    store
        .expect_edit_message()
        .withf(|id, text: &MessageText, when| {
            *id == msg_id("m1") && text.as_str() == "fixed" && *when == at(NOW)
        })
        .times(1)
        .returning(move |_, _, _| Ok(Some(answer.clone())));
    let service = service(store, clock_at(NOW));

    let out =
        block_on(service.edit_message(&session("alice", "a1"), &msg_id("m1"), "fixed".into()))
            .unwrap();

    let shown = wire(&edited);
    assert_eq!(shown.edited_at, Some(at(NOW)));
    assert_eq!(out.reply, shown);
    assert_eq!(out.deliveries, updated_to_both(&shown));
}

#[test]
fn past_the_window_an_edit_is_forbidden_and_changes_nothing() {
    let mut store = MockChatStore::new();
    finding(&mut store, aged(48 * HOUR + 1));
    store.expect_edit_message().never();
    let service = service(store, clock_at(NOW));

    let result =
        block_on(service.edit_message(&session("alice", "a1"), &msg_id("m1"), "late".into()));

    assert_eq!(code(result), ErrorCode::Forbidden);
}

#[test]
fn the_window_is_configurable() {
    let mut store = MockChatStore::new();
    finding(&mut store, aged(61_000));
    store.expect_edit_message().never();
    let config = Config {
        edit_window: std::time::Duration::from_secs(60),
        ..Config::default()
    };
    let service = service_bounded(store, config);

    let result =
        block_on(service.edit_message(&session("alice", "a1"), &msg_id("m1"), "late".into()));

    assert_eq!(code(result), ErrorCode::Forbidden);
}

#[test]
fn only_the_sender_edits_or_deletes_and_others_learn_nothing() {
    let mut store = MockChatStore::new();
    finding(&mut store, aged(HOUR));
    store
        .expect_find_message()
        .with(eq(msg_id("nope")))
        .returning(|_| Ok(None));
    store.expect_edit_message().never();
    store.expect_delete_message().never();
    let service = service(store, clock_at(NOW));

    for who in [session("bob", "b1"), session("eve", "e1")] {
        let edit = block_on(service.edit_message(&who, &msg_id("m1"), "mine now".into()));
        assert_eq!(code(edit), ErrorCode::NotFound);
        let delete = block_on(service.delete_message(&who, &msg_id("m1")));
        assert_eq!(code(delete), ErrorCode::NotFound);
    }
    let missing =
        block_on(service.edit_message(&session("alice", "a1"), &msg_id("nope"), "x".into()));
    assert_eq!(code(missing), ErrorCode::NotFound);
}

#[test]
fn an_edit_follows_the_text_rules_of_a_send_and_asks_nothing_first() {
    let mut store = MockChatStore::new();
    store.expect_find_message().never();
    store.expect_edit_message().never();
    let config = Config {
        max_message_chars: 5,
        ..Config::default()
    };
    let service = service_bounded(store, config);
    let alice = session("alice", "a1");

    for text in ["", "  \n", "a\0b", "toolong"] {
        let result = block_on(service.edit_message(&alice, &msg_id("m1"), text.into()));
        assert_eq!(code(result), ErrorCode::InvalidArgument, "{text:?}");
    }
}

#[test]
fn a_deleted_message_cannot_be_edited() {
    let mut store = MockChatStore::new();
    finding(&mut store, tombstone_of(&aged(HOUR), NOW - 1));
    store.expect_edit_message().never();
    let service = service(store, clock_at(NOW));

    let result =
        block_on(service.edit_message(&session("alice", "a1"), &msg_id("m1"), "again".into()));

    assert_eq!(code(result), ErrorCode::NotFound);
}

#[test]
fn an_edit_to_the_same_text_replies_and_changes_nothing() {
    let message = aged(HOUR);
    let same = message.text.clone();
    let mut store = MockChatStore::new();
    finding(&mut store, message.clone());
    store.expect_edit_message().never();
    let service = service(store, clock_at(NOW));

    let out = block_on(service.edit_message(&session("alice", "a1"), &msg_id("m1"), same)).unwrap();

    assert_eq!(out.reply, wire(&message));
    assert_eq!(out.reply.edited_at, None);
    assert!(out.deliveries.is_empty());
}

#[test]
fn an_edit_that_loses_to_a_delete_is_not_found() {
    let mut store = MockChatStore::new();
    finding(&mut store, aged(HOUR));
    store
        .expect_edit_message()
        .times(1)
        .returning(|_, _, _| Ok(None));
    let service = service(store, clock_at(NOW));

    let result =
        block_on(service.edit_message(&session("alice", "a1"), &msg_id("m1"), "late".into()));

    assert_eq!(code(result), ErrorCode::NotFound);
}

#[test]
fn the_sender_deletes_at_any_age_and_both_users_get_the_tombstone() {
    let message = aged(1_000 * HOUR);
    let gone = tombstone_of(&message, NOW);
    let mut store = MockChatStore::new();
    finding(&mut store, message);
    let answer = gone.clone();
    store
        .expect_delete_message()
        .with(eq(msg_id("m1")), eq(at(NOW)))
        .times(1)
        .returning(move |_, _| Ok(Some(answer.clone())));
    let service = service(store, clock_at(NOW));

    let out = block_on(service.delete_message(&session("alice", "a1"), &msg_id("m1"))).unwrap();

    let shown = wire(&gone);
    assert_eq!(shown.message, "");
    assert_eq!(shown.deleted_at, Some(at(NOW)));
    assert_eq!(out.reply, shown);
    assert_eq!(out.deliveries, updated_to_both(&shown));
}

#[test]
fn deleting_a_tombstone_again_replies_it_and_emits_nothing() {
    let gone = tombstone_of(&aged(HOUR), NOW - 5);
    let mut store = MockChatStore::new();
    finding(&mut store, gone.clone());
    store.expect_delete_message().never();
    let service = service(store, clock_at(NOW));

    let out = block_on(service.delete_message(&session("alice", "a1"), &msg_id("m1"))).unwrap();

    assert_eq!(out.reply, wire(&gone));
    assert!(out.deliveries.is_empty());
}

#[test]
fn a_delete_that_loses_a_race_replies_the_tombstone_and_emits_nothing() {
    let message = aged(HOUR);
    let gone = tombstone_of(&message, NOW - 1);
    let calls = std::sync::atomic::AtomicUsize::new(0);
    let mut store = MockChatStore::new();
    store.expect_find_message().times(2).returning(move |_| {
        if calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 0 {
            Ok(Some(message.clone()))
        } else {
            Ok(Some(gone.clone()))
        }
    });
    store
        .expect_delete_message()
        .times(1)
        .returning(|_, _| Ok(None));
    let service = service(store, clock_at(NOW));

    let out = block_on(service.delete_message(&session("alice", "a1"), &msg_id("m1"))).unwrap();

    assert_eq!(out.reply.deleted_at, Some(at(NOW - 1)));
    assert!(out.deliveries.is_empty());
}

#[test]
fn edits_and_deletes_count_against_the_send_rate() {
    let mut store = MockChatStore::new();
    finding(&mut store, aged(HOUR));
    store
        .expect_edit_message()
        .times(1)
        .returning(|_, _, _| Ok(Some(aged(HOUR))));
    store.expect_delete_message().never();
    let config = Config {
        send_rate: crate::rate::SendRate {
            per_second: 1.0,
            burst: 1.0,
        },
        ..Config::default()
    };
    let service = service_bounded(store, config);
    let alice = session("alice", "a1");

    assert!(block_on(service.edit_message(&alice, &msg_id("m1"), "one".into())).is_ok());
    assert_eq!(
        code(block_on(service.delete_message(&alice, &msg_id("m1")))),
        ErrorCode::RateLimited
    );
}
