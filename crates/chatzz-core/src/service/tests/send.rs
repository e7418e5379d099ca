//! `send-message`: validation, storing first, delivery, retries, failures.

use crate::service::SendRequest;
use futures_executor::block_on;
use futures_util::FutureExt;
use mockall::Sequence;
use mockall::predicate::eq;
use serde_json::json;

use crate::error::ErrorCode;
use crate::id::{MessageId, UserId};
use crate::message::{Inserted, MessageStatus, NewMessage, StoredMessage};
use crate::ports::{MockUserDirectory, PresenceRegistry};
use crate::presence::LocalPresence;
use std::sync::Arc;

use super::support::*;

use MessageStatus::{NotSent, Read, Sent};

#[test]
fn send_to_yourself_is_invalid_and_stores_nothing() {
    let mut store = unblocked_store();
    store.expect_find_room().never();
    store.expect_insert_message().never();
    let service = service(store, unread_clock());

    let result = block_on(service.send(
        &session("alice", "a1"),
        SendRequest::new(&user("alice"), "hi", None),
    ));

    assert_eq!(code(result), ErrorCode::InvalidArgument);
}

#[test]
fn send_rejects_bad_text_before_touching_the_store() {
    let mut store = unblocked_store();
    store.expect_find_room().never();
    store.expect_insert_message().never();
    let service = service(store, clock_at(NOW));
    online(&service, &[("alice", "a1"), ("bob", "b1")]);

    for bad in [
        String::new(),
        " ".into(),
        " \n\t\r ".into(),
        "\u{3000}\u{a0}".into(),
        "a\0b".into(),
        "\0".into(),
        "x".repeat(4097),
        "😀".repeat(4097),
    ] {
        let shown = format!("{:?}", bad.chars().take(8).collect::<String>());
        let result = block_on(service.send(
            &session("alice", "a1"),
            SendRequest::new(&user("bob"), bad, None),
        ));
        assert_eq!(code(result), ErrorCode::InvalidArgument, "text {shown}");
    }
}

#[test]
fn send_accepts_text_up_to_the_limit_in_code_points_and_stores_it_untrimmed() {
    let texts = [
        "  hello  ".to_owned(),
        "x".repeat(4096),
        "😀".repeat(4096),
        "é".repeat(4096),
    ];
    for text in texts {
        let mut store = unblocked_store();
        store
            .expect_find_room()
            .returning(|_, _| Ok(Some(room_of("alice", "bob"))));
        let expected = text.clone();
        store
            .expect_insert_message()
            .withf(move |new: &NewMessage| new.text.as_str() == expected)
            .times(1)
            .returning(|new| {
                let mut message = stored("m1", "alice", "bob", NotSent);
                message.text = new.text.into_string();
                Ok(Inserted {
                    message,
                    created: true,
                })
            });
        store.expect_mark_sent().never();
        let service = service(store, clock_at(NOW));

        let out = send(&service, &text, None).unwrap();
        assert_eq!(out.reply.message, text);
    }
}

#[test]
fn send_to_a_user_without_a_shared_room_is_not_a_contact() {
    let mut store = unblocked_store();
    store
        .expect_find_room()
        .withf(|a: &UserId, b: &UserId| same_pair(a, b, "alice", "bob"))
        .times(1)
        .returning(|_, _| Ok(None));
    store.expect_insert_message().never();
    let service = service(store, clock_at(NOW));
    online(&service, &[("bob", "b1")]);

    assert_eq!(code(send(&service, "hi", None)), ErrorCode::NotAContact);
}

#[test]
fn send_when_the_store_fails_to_insert_is_unavailable_and_emits_nothing() {
    let mut store = unblocked_store();
    store
        .expect_find_room()
        .returning(|_, _| Ok(Some(room_of("alice", "bob"))));
    store
        .expect_insert_message()
        .times(1)
        .returning(|_| Err(unavailable()));
    store.expect_mark_sent().never();
    let service = service(store, clock_at(NOW));
    online(&service, &[("bob", "b1")]);

    assert_eq!(
        code(send(&service, "hi", Some("c1"))),
        ErrorCode::Unavailable
    );
}

#[test]
fn send_to_an_online_recipient_stores_it_sent_in_one_write_and_announces_both_steps() {
    let sent = stored("m1", "alice", "bob", Sent);

    let mut store = unblocked_store();
    store
        .expect_find_room()
        .withf(|a: &UserId, b: &UserId| same_pair(a, b, "alice", "bob"))
        .times(1)
        .returning(|_, _| Ok(Some(room_of("alice", "bob"))));
    let inserted = sent.clone();
    store
        .expect_insert_message()
        .withf(|new: &NewMessage| {
            new.room == room_of("alice", "bob")
                && new.text.as_str() == "hello"
                && new.client_message_id == Some(client_id("c1"))
                && new.sent
                && !new.notify
        })
        .times(1)
        .returning(move |_| {
            Ok(Inserted {
                message: inserted.clone(),
                created: true,
            })
        });
    store.expect_mark_sent().never();
    store.expect_find_message().never();
    let service = service(store, clock_at(NOW));
    online(&service, &[("alice", "a1"), ("bob", "b1")]);

    let out = send(&service, "hello", Some("c1")).unwrap();

    // Clients see what they saw when delivery was a second write.
    let delivered = wire(&sent);
    let announced = wire(&stored("m1", "alice", "bob", NotSent));
    assert_eq!(out.reply, delivered);
    assert_eq!(
        out.deliveries,
        vec![
            new_message("alice", &announced),
            new_message("bob", &announced),
            status_changed("alice", &delivered),
            status_changed("bob", &delivered),
        ]
    );
    assert_eq!(out.facts.messages_stored, 1);
    assert_eq!(out.facts.messages_delivered, 1);
}

#[test]
fn send_to_an_offline_recipient_stores_it_not_sent() {
    let mut store = unblocked_store();
    store
        .expect_find_room()
        .returning(|_, _| Ok(Some(room_of("alice", "bob"))));
    store
        .expect_insert_message()
        .withf(|new: &NewMessage| !new.sent && !new.notify)
        .times(1)
        .returning(|_| {
            Ok(Inserted {
                message: stored("m1", "alice", "bob", NotSent),
                created: true,
            })
        });
    store.expect_mark_sent().never();
    let service = service(store, clock_at(NOW));
    online(&service, &[("alice", "a1")]);

    let out = send(&service, "hello", None).unwrap();
    assert_eq!(out.reply.status, NotSent);
    assert_eq!(out.facts.messages_delivered, 0);
}

/// A recipient that connects after the first presence answer, while the insert runs,
/// may have looked for undelivered messages before this one was stored: the send hands
/// it over itself, with a second write.
#[test]
fn a_message_stored_not_sent_to_a_recipient_online_after_the_write_is_marked_sent() {
    let message = stored("m1", "alice", "bob", NotSent);
    let sent = moved(&message, Sent);

    let mut store = unblocked_store();
    let mut seq = Sequence::new();
    store
        .expect_find_room()
        .withf(|a: &UserId, b: &UserId| same_pair(a, b, "alice", "bob"))
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_, _| Ok(Some(room_of("alice", "bob"))));
    let inserted = message.clone();
    // Bob's first socket arrives while the message is being stored.
    let presence = Arc::new(LocalPresence::new());
    let arriving = presence.clone();
    store
        .expect_insert_message()
        .withf(|new: &NewMessage| {
            new.room == room_of("alice", "bob")
                && new.from == user("alice")
                && new.to == user("bob")
                && new.text.as_str() == "hello"
                && new.created_at == at(NOW)
                && new.client_message_id == Some(client_id("c1"))
                && !new.sent
        })
        .times(1)
        .in_sequence(&mut seq)
        .returning(move |_| {
            // Local presence answers at once (and a nested executor is not allowed).
            arriving
                .add_within(&user("bob"), &socket("b1"), usize::MAX)
                .now_or_never()
                .expect("local presence is ready at once")
                .unwrap()
                .unwrap();
            Ok(Inserted {
                message: inserted.clone(),
                created: true,
            })
        });
    let marked = sent.clone();
    store
        .expect_mark_sent()
        .withf(|ids: &[MessageId]| ids_are(ids, &["m1"]))
        .times(1)
        .in_sequence(&mut seq)
        .returning(move |_| Ok(vec![marked.clone()]));
    let service = service(store, clock_at(NOW)).with_presence(presence);
    online(&service, &[("alice", "a1")]);

    let out = send(&service, "hello", Some("c1")).unwrap();

    let (announced, delivered) = (wire(&message), wire(&sent));
    assert_eq!(announced.status, NotSent);
    assert_eq!(out.reply, delivered);
    assert_eq!(
        out.deliveries,
        vec![
            new_message("alice", &announced),
            new_message("bob", &announced),
            status_changed("alice", &delivered),
            status_changed("bob", &delivered),
        ]
    );
}

#[test]
fn send_to_an_offline_recipient_announces_new_message_only_and_never_marks_sent() {
    let message = stored("m1", "alice", "bob", NotSent);
    let mut store = send_store(message.clone(), true);
    store.expect_mark_sent().never();
    store.expect_find_message().never();
    let service = service(store, clock_at(NOW));
    online(&service, &[("alice", "a1")]);

    let out = send(&service, "hello", None).unwrap();

    let announced = wire(&message);
    assert_eq!(out.reply, announced);
    assert_eq!(out.reply.status, NotSent);
    assert_eq!(
        out.deliveries,
        vec![
            new_message("alice", &announced),
            new_message("bob", &announced)
        ]
    );
}

/// The first attempt may have stored the message `sent` and failed before announcing
/// it (its reply lost, say): the retry announces it again, as stored.
#[test]
fn send_retry_of_a_sent_message_announces_it_again_as_stored() {
    let message = stored("m1", "alice", "bob", Sent);
    let mut store = send_store(message.clone(), false);
    store.expect_mark_sent().never();
    let service = service(store, clock_at(NOW));
    online(&service, &[("alice", "a1"), ("bob", "b1")]);

    let out = send(&service, "hello", Some("c1")).unwrap();

    let again = wire(&message);
    assert_eq!(out.reply, again);
    assert_eq!(
        out.deliveries,
        vec![new_message("alice", &again), new_message("bob", &again)]
    );
    assert_eq!(out.facts.messages_stored, 0);
    assert_eq!(out.facts.messages_delivered, 0);
}

#[test]
fn send_retry_of_a_sent_message_while_the_recipient_is_offline_emits_nothing() {
    let message = stored("m1", "alice", "bob", Sent);
    let mut store = send_store(message.clone(), false);
    store.expect_mark_sent().never();
    let service = service(store, clock_at(NOW));
    online(&service, &[("alice", "a1")]);

    let out = send(&service, "hello", Some("c1")).unwrap();

    assert_eq!(out.reply, wire(&message));
    assert!(out.deliveries.is_empty());
}

#[test]
fn send_retry_of_a_read_message_returns_it_and_emits_nothing() {
    let message = stored("m1", "alice", "bob", Read);
    let mut store = send_store(message.clone(), false);
    store.expect_mark_sent().never();
    let service = service(store, clock_at(NOW));
    online(&service, &[("bob", "b1")]);

    let out = send(&service, "hello", Some("c1")).unwrap();

    assert_eq!(out.reply.status, Read);
    assert!(out.deliveries.is_empty());
}

#[test]
fn send_retry_of_a_not_sent_message_while_the_recipient_is_offline_emits_nothing() {
    let message = stored("m1", "alice", "bob", NotSent);
    let mut store = send_store(message.clone(), false);
    store.expect_mark_sent().never();
    let service = service(store, clock_at(NOW));
    online(&service, &[("alice", "a1")]);

    let out = send(&service, "hello", Some("c1")).unwrap();

    assert_eq!(out.reply, wire(&message));
    assert!(out.deliveries.is_empty());
}

#[test]
fn send_retry_of_a_not_sent_message_while_the_recipient_is_online_delivers_it() {
    let message = stored("m1", "alice", "bob", NotSent);
    let sent = moved(&message, Sent);
    let mut store = send_store(message.clone(), false);
    let marked = sent.clone();
    store
        .expect_mark_sent()
        .withf(|ids: &[MessageId]| ids_are(ids, &["m1"]))
        .times(1)
        .returning(move |_| Ok(vec![marked.clone()]));
    let service = service(store, clock_at(NOW));
    online(&service, &[("bob", "b1")]);

    let out = send(&service, "hello", Some("c1")).unwrap();

    let (announced, delivered) = (wire(&message), wire(&sent));
    assert_eq!(out.reply, delivered);
    assert_eq!(
        out.deliveries,
        vec![
            new_message("alice", &announced),
            new_message("bob", &announced),
            status_changed("alice", &delivered),
            status_changed("bob", &delivered),
        ]
    );
}

#[test]
fn send_when_mark_sent_fails_after_insert_still_succeeds_as_not_sent() {
    let message = stored("m1", "alice", "bob", NotSent);
    let mut store = send_store(message.clone(), true);
    store
        .expect_mark_sent()
        .times(1)
        .returning(|_| Err(unavailable()));
    let service = service(store, clock_at(NOW));
    online(&service, &[("bob", "b1")]);

    let out = send(&service, "hello", Some("c1")).unwrap();

    let announced = wire(&message);
    assert_eq!(out.reply, announced);
    assert_eq!(out.reply.status, NotSent);
    assert_eq!(
        out.deliveries,
        vec![
            new_message("alice", &announced),
            new_message("bob", &announced)
        ]
    );
}

#[test]
fn send_when_someone_else_delivered_it_first_replies_the_current_state_without_status_news() {
    let message = stored("m1", "alice", "bob", NotSent);
    let current = moved(&message, Sent);
    let mut store = send_store(message.clone(), true);
    store
        .expect_mark_sent()
        .times(1)
        .returning(|_| Ok(Vec::new()));
    let now_stored = current.clone();
    store
        .expect_find_message()
        .with(eq(msg_id("m1")))
        .times(1)
        .returning(move |_| Ok(Some(now_stored.clone())));
    let service = service(store, clock_at(NOW));
    online(&service, &[("bob", "b1")]);

    let out = send(&service, "hello", None).unwrap();

    let announced = wire(&message);
    assert_eq!(out.reply, wire(&current));
    assert_eq!(
        out.deliveries,
        vec![
            new_message("alice", &announced),
            new_message("bob", &announced)
        ]
    );
}

#[test]
fn send_with_a_directory_shows_both_users_details() {
    let message = stored("m1", "alice", "bob", NotSent);
    let mut store = send_store(message, true);
    store.expect_mark_sent().never();
    let mut directory = MockUserDirectory::new();
    directory
        .expect_details()
        .with(eq(user("alice")))
        .times(1)
        .returning(|_| Ok(Some(fields(json!({ "name": "Alice" })))));
    directory
        .expect_details()
        .with(eq(user("bob")))
        .times(1)
        .returning(|_| Ok(Some(fields(json!({ "name": "Bob" })))));
    let service = service_with_directory(store, clock_at(NOW), directory);

    let out = send(&service, "hello", None).unwrap();

    assert_eq!(out.reply.from, details("alice", json!({ "name": "Alice" })));
    assert_eq!(out.reply.to, details("bob", json!({ "name": "Bob" })));
}

#[test]
fn send_retry_of_an_edited_or_deleted_message_emits_nothing() {
    for touched in [
        StoredMessage {
            edited_at: Some(at(NOW)),
            ..stored("m1", "alice", "bob", Sent)
        },
        StoredMessage {
            deleted_at: Some(at(NOW)),
            text: String::new(),
            ..stored("m1", "alice", "bob", Sent)
        },
    ] {
        let mut store = send_store(touched.clone(), false);
        store.expect_mark_sent().never();
        let service = service(store, clock_at(NOW));
        online(&service, &[("alice", "a1"), ("bob", "b1")]);

        let out = send(&service, "hello", Some("c1")).unwrap();

        assert_eq!(out.reply, wire(&touched));
        assert!(out.deliveries.is_empty(), "both sides have had it");
    }
}
