//! The use cases against mocked ports: every rule of `docs/protocol.md` that the core
//! decides, with `.times(n)` / `.never()` proving what is and is not called.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use futures_executor::block_on;
use mockall::Sequence;
use mockall::predicate::eq;
use serde_json::{Map, Value, json};

use super::{ChatService, Config, HistoryRequest, Session};
use crate::error::{ChatError, ErrorCode};
use crate::event::{Audience, Delivery, ServerEvent, StatusChange};
use crate::id::{ChatRoomId, ClientMessageId, MessageId, SocketId, UserId};
use crate::message::{HistoryQuery, Message, MessageStatus, NewMessage, StoredMessage};
use crate::ports::{
    DirectoryError, MockChatStore, MockClock, MockPresenceRegistry, MockUserDirectory,
    PresenceError, StoreError, Sweep,
};
use crate::time::Timestamp;
use crate::user::{ChatUser, Contact, ContactRecord, LinkOutcome, PresenceStatus, UserDetails};

use MessageStatus::{NotSent, Read, Sent};

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

/// What the mocked clock says it is.
const NOW: i64 = 1_767_323_045_678;
/// When a user last went offline, in tests that need one.
const EARLIER: i64 = 1_767_000_000_000;

fn user(id: &str) -> UserId {
    UserId::parse(id).unwrap()
}

fn socket(id: &str) -> SocketId {
    SocketId::new(id)
}

fn session(user_id: &str, socket_id: &str) -> Session {
    Session {
        user: user(user_id),
        socket: socket(socket_id),
    }
}

fn at(millis: i64) -> Timestamp {
    Timestamp::from_millis(millis).unwrap()
}

fn msg_id(id: &str) -> MessageId {
    MessageId::new(id)
}

fn client_id(id: &str) -> ClientMessageId {
    ClientMessageId::parse(id).unwrap()
}

/// The room of a pair, whichever way round it is named.
fn room_of(a: &str, b: &str) -> ChatRoomId {
    let (a, b) = if a <= b { (a, b) } else { (b, a) };
    ChatRoomId::new(format!("room-{a}-{b}"))
}

fn stored(id: &str, from: &str, to: &str, status: MessageStatus) -> StoredMessage {
    StoredMessage {
        id: msg_id(id),
        room: room_of(from, to),
        from: user(from),
        to: user(to),
        text: format!("text of {id}"),
        status,
        created_at: at(NOW - 60_000),
        read_at: (status == Read).then(|| at(NOW - 30_000)),
        client_message_id: None,
    }
}

/// The same message after a status change.
fn moved(message: &StoredMessage, status: MessageStatus) -> StoredMessage {
    let mut message = message.clone();
    message.status = status;
    if status == Read {
        message.read_at = Some(at(NOW));
    }
    message
}

/// A stored message as the wire shows it when no directory is configured.
fn wire(message: &StoredMessage) -> Message {
    Message {
        id: message.id.clone(),
        chat_room_id: message.room.clone(),
        created_at: message.created_at,
        from: UserDetails::bare(&message.from),
        to: UserDetails::bare(&message.to),
        message: message.text.clone(),
        status: message.status,
        read_at: message.read_at,
    }
}

fn fields(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        other => panic!("directory fields must be an object, got {other}"),
    }
}

fn details(id: &str, value: Value) -> UserDetails {
    UserDetails::from_fields(&user(id), fields(value))
}

fn chat_user(id: &str, last_online: Option<i64>) -> ChatUser {
    ChatUser {
        id: user(id),
        last_online: last_online.map(at),
    }
}

/// `contact` as a contact of `owner`.
fn record(contact: &str, owner: &str, last_online: Option<i64>) -> ContactRecord {
    ContactRecord {
        user: user(contact),
        room: room_of(contact, owner),
        last_online: last_online.map(at),
    }
}

fn same_pair(x: &UserId, y: &UserId, a: &str, b: &str) -> bool {
    (x.as_str() == a && y.as_str() == b) || (x.as_str() == b && y.as_str() == a)
}

fn ids_are(ids: &[MessageId], expected: &[&str]) -> bool {
    ids.iter()
        .map(MessageId::as_str)
        .eq(expected.iter().copied())
}

fn clock_at(millis: i64) -> MockClock {
    let mut clock = MockClock::new();
    clock.expect_now().return_const(at(millis));
    clock
}

/// A clock only the rate limits may read: the use case stamps nothing with it, and the
/// time it tells (the epoch) would stand out in any reply that used it.
fn unread_clock() -> MockClock {
    let mut clock = MockClock::new();
    clock.expect_now().return_const(at(RATES_ONLY));
    clock
}

/// What [`unread_clock`] says it is.
const RATES_ONLY: i64 = 0;

fn service(store: MockChatStore, clock: MockClock) -> ChatService {
    ChatService::new(Arc::new(store), Arc::new(clock), Config::default())
}

fn service_with_directory(
    store: MockChatStore,
    clock: MockClock,
    directory: MockUserDirectory,
) -> ChatService {
    service(store, clock).with_directory(Arc::new(directory))
}

/// Marks users online without going through `connect`.
fn online(service: &ChatService, users: &[(&str, &str)]) {
    for (user_id, socket_id) in users {
        block_on(
            service
                .presence()
                .add_within(&user(user_id), &socket(socket_id), usize::MAX),
        )
        .unwrap()
        .unwrap();
    }
}

fn to_user(id: &str, event: ServerEvent) -> Delivery {
    Delivery::new(Audience::User(user(id)), event)
}

fn new_message(to: &str, message: &Message) -> Delivery {
    to_user(to, ServerEvent::NewMessage(message.clone()))
}

fn status_changed(to: &str, message: &Message) -> Delivery {
    to_user(to, ServerEvent::MessageStatusChanged(message.clone()))
}

fn presence_changed(
    to: &str,
    who: UserDetails,
    status: PresenceStatus,
    last_online: Option<i64>,
) -> Delivery {
    to_user(
        to,
        ServerEvent::ChatUserStatusChanged(StatusChange {
            user: who,
            status,
            last_online: last_online.map(at),
        }),
    )
}

fn code<T: std::fmt::Debug>(result: Result<T, ChatError>) -> ErrorCode {
    result.unwrap_err().code
}

fn unavailable() -> StoreError {
    StoreError::Unavailable("connection refused".into())
}

/// A store for `connect` without contacts or missed messages.
fn quiet_connect_store(who: &str) -> MockChatStore {
    let mut store = MockChatStore::new();
    let id = who.to_owned();
    store
        .expect_register_user()
        .with(eq(user(who)))
        .times(1)
        .returning(move |_| Ok(chat_user(&id, None)));
    store.expect_contacts().returning(|_| Ok(Vec::new()));
    store
        .expect_undelivered()
        .returning(|_, _, _| Ok(Vec::new()));
    store.expect_mark_sent().never();
    store
}

// ---------------------------------------------------------------------------------------
// connect-user
// ---------------------------------------------------------------------------------------

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
            Ok(vec![
                record("bob", "alice", Some(EARLIER + 1)),
                record("carol", "alice", None),
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
            },
            Contact {
                details: UserDetails::bare(&user("carol")),
                chat_room_id: room_of("alice", "carol"),
                status: PresenceStatus::Offline,
                last_online: None,
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
    store.expect_contacts().returning(|_| {
        Ok(vec![
            record("bob", "alice", None),
            record("carol", "alice", None),
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
            presence_changed("bob", alice.clone(), PresenceStatus::Online, Some(EARLIER)),
            presence_changed("dave", alice, PresenceStatus::Online, Some(EARLIER)),
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
    assert_eq!(out.reply.connected_users[0].details, bob);
    assert_eq!(
        out.reply.connected_users[1].details,
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

// ---------------------------------------------------------------------------------------
// add-chat-user
// ---------------------------------------------------------------------------------------

#[test]
fn add_contact_of_yourself_is_invalid_and_touches_nothing() {
    let mut store = MockChatStore::new();
    store.expect_find_user().never();
    store.expect_link().never();
    let service = service(store, unread_clock());

    let result = block_on(service.add_contact(&session("alice", "a1"), &user("alice")));

    assert_eq!(code(result), ErrorCode::InvalidArgument);
}

#[test]
fn add_contact_of_yourself_with_a_directory_is_invalid_and_asks_nobody() {
    let mut store = MockChatStore::new();
    store.expect_link().never();
    let mut directory = MockUserDirectory::new();
    directory.expect_details().never();
    let service = service_with_directory(store, unread_clock(), directory);

    let result = block_on(service.add_contact(&session("alice", "a1"), &user("alice")));

    assert_eq!(code(result), ErrorCode::InvalidArgument);
}

#[test]
fn add_contact_of_a_user_who_never_connected_without_directory_is_unknown_user() {
    let mut store = MockChatStore::new();
    store
        .expect_find_user()
        .with(eq(user("ghost")))
        .times(1)
        .returning(|_| Ok(None));
    store.expect_link().never();
    let service = service(store, unread_clock());

    let result = block_on(service.add_contact(&session("alice", "a1"), &user("ghost")));

    assert_eq!(code(result), ErrorCode::UnknownUser);
}

#[test]
fn add_contact_of_a_user_the_directory_does_not_know_is_unknown_user() {
    let mut store = MockChatStore::new();
    store.expect_find_user().never();
    store.expect_link().never();
    let mut directory = MockUserDirectory::new();
    directory
        .expect_details()
        .with(eq(user("ghost")))
        .times(1)
        .returning(|_| Ok(None));
    let service = service_with_directory(store, unread_clock(), directory);

    let result = block_on(service.add_contact(&session("alice", "a1"), &user("ghost")));

    assert_eq!(code(result), ErrorCode::UnknownUser);
}

#[test]
fn add_contact_when_the_directory_fails_is_unavailable() {
    let mut store = MockChatStore::new();
    store.expect_link().never();
    let mut directory = MockUserDirectory::new();
    directory
        .expect_details()
        .returning(|_| Err(DirectoryError("down".into())));
    let service = service_with_directory(store, unread_clock(), directory);

    let result = block_on(service.add_contact(&session("alice", "a1"), &user("bob")));

    assert_eq!(code(result), ErrorCode::Unavailable);
}

#[test]
fn add_contact_creating_the_room_replies_the_contact_and_tells_them_once() {
    let mut store = MockChatStore::new();
    store
        .expect_find_user()
        .with(eq(user("bob")))
        .returning(|_| Ok(Some(chat_user("bob", Some(EARLIER)))));
    store
        .expect_find_user()
        .with(eq(user("alice")))
        .times(1)
        .returning(|_| Ok(Some(chat_user("alice", Some(EARLIER + 5)))));
    store
        .expect_link()
        .withf(|a: &UserId, b: &UserId| same_pair(a, b, "alice", "bob"))
        .times(1)
        .returning(|_, _| {
            Ok(LinkOutcome {
                room: room_of("alice", "bob"),
                created: true,
            })
        });
    let service = service(store, unread_clock());
    online(&service, &[("alice", "a1"), ("bob", "b1")]);

    let out = block_on(service.add_contact(&session("alice", "a1"), &user("bob"))).unwrap();

    assert_eq!(
        out.reply,
        Contact {
            details: UserDetails::bare(&user("bob")),
            chat_room_id: room_of("alice", "bob"),
            status: PresenceStatus::Online,
            last_online: Some(at(EARLIER)),
        }
    );
    assert_eq!(
        out.deliveries,
        vec![to_user(
            "bob",
            ServerEvent::ChatUserAdded(Contact {
                details: UserDetails::bare(&user("alice")),
                chat_room_id: room_of("alice", "bob"),
                status: PresenceStatus::Online,
                last_online: Some(at(EARLIER + 5)),
            })
        )]
    );
}

#[test]
fn add_contact_of_an_existing_contact_returns_the_same_room_and_emits_nothing() {
    let mut store = MockChatStore::new();
    store
        .expect_find_user()
        .with(eq(user("bob")))
        .returning(|_| Ok(Some(chat_user("bob", None))));
    // Read before linking, so that a failure leaves no room behind.
    store
        .expect_find_user()
        .with(eq(user("alice")))
        .times(1)
        .returning(|_| Ok(Some(chat_user("alice", None))));
    store.expect_link().times(1).returning(|_, _| {
        Ok(LinkOutcome {
            room: room_of("alice", "bob"),
            created: false,
        })
    });
    let service = service(store, unread_clock());
    online(&service, &[("alice", "a1"), ("bob", "b1")]);

    let out = block_on(service.add_contact(&session("alice", "a1"), &user("bob"))).unwrap();

    assert_eq!(out.reply.chat_room_id, room_of("alice", "bob"));
    assert!(out.deliveries.is_empty());
}

#[test]
fn add_contact_of_an_offline_user_says_offline_and_when_last_seen() {
    let mut store = MockChatStore::new();
    store
        .expect_find_user()
        .with(eq(user("bob")))
        .returning(|_| Ok(Some(chat_user("bob", Some(EARLIER)))));
    store
        .expect_find_user()
        .with(eq(user("alice")))
        .returning(|_| Ok(Some(chat_user("alice", None))));
    store.expect_link().returning(|_, _| {
        Ok(LinkOutcome {
            room: room_of("alice", "bob"),
            created: true,
        })
    });
    let service = service(store, unread_clock());

    let out = block_on(service.add_contact(&session("alice", "a1"), &user("bob"))).unwrap();

    assert_eq!(out.reply.status, PresenceStatus::Offline);
    assert_eq!(out.reply.last_online, Some(at(EARLIER)));
    // Announced to bob anyway: the transport reaches only live sockets.
    assert_eq!(out.deliveries.len(), 1);
    assert_eq!(out.deliveries[0].to, Audience::User(user("bob")));
}

#[test]
fn add_contact_with_a_directory_uses_its_details_on_both_sides() {
    let mut store = MockChatStore::new();
    // Bob is known to the host app but never connected: no stored record.
    store
        .expect_find_user()
        .with(eq(user("bob")))
        .returning(|_| Ok(None));
    store
        .expect_find_user()
        .with(eq(user("alice")))
        .returning(|_| Ok(Some(chat_user("alice", None))));
    store.expect_link().times(1).returning(|_, _| {
        Ok(LinkOutcome {
            room: room_of("alice", "bob"),
            created: true,
        })
    });
    let mut directory = MockUserDirectory::new();
    directory
        .expect_details()
        .with(eq(user("bob")))
        .returning(|_| Ok(Some(fields(json!({ "name": "Bob" })))));
    directory
        .expect_details()
        .with(eq(user("alice")))
        .returning(|_| Ok(Some(fields(json!({ "name": "Alice" })))));
    let service = service_with_directory(store, unread_clock(), directory);
    online(&service, &[("alice", "a1")]);

    let out = block_on(service.add_contact(&session("alice", "a1"), &user("bob"))).unwrap();

    assert_eq!(
        out.reply,
        Contact {
            details: details("bob", json!({ "name": "Bob" })),
            chat_room_id: room_of("alice", "bob"),
            status: PresenceStatus::Offline,
            last_online: None,
        }
    );
    let ServerEvent::ChatUserAdded(me) = &out.deliveries[0].event else {
        panic!("expected chat-user-added, got {:?}", out.deliveries);
    };
    assert_eq!(me.details, details("alice", json!({ "name": "Alice" })));
    assert_eq!(me.status, PresenceStatus::Online);
}

#[test]
fn add_contact_when_link_fails_is_unavailable() {
    let mut store = MockChatStore::new();
    store.expect_find_user().returning(|u| {
        Ok(Some(ChatUser {
            id: u.clone(),
            last_online: None,
        }))
    });
    store
        .expect_link()
        .times(1)
        .returning(|_, _| Err(unavailable()));
    let service = service(store, unread_clock());

    let result = block_on(service.add_contact(&session("alice", "a1"), &user("bob")));

    assert_eq!(code(result), ErrorCode::Unavailable);
}

// ---------------------------------------------------------------------------------------
// send-message
// ---------------------------------------------------------------------------------------

/// A store where alice and bob share a room and `insert_message` answers `answer`.
fn send_store(answer: StoredMessage, created: bool) -> MockChatStore {
    let mut store = MockChatStore::new();
    store
        .expect_find_room()
        .withf(|a: &UserId, b: &UserId| same_pair(a, b, "alice", "bob"))
        .returning(|_, _| Ok(Some(room_of("alice", "bob"))));
    store
        .expect_insert_message()
        .times(1)
        .returning(move |_| Ok((answer.clone(), created)));
    store
}

fn send(
    service: &ChatService,
    text: &str,
    client: Option<&str>,
) -> Result<crate::event::Outcome<Message>, ChatError> {
    block_on(service.send(
        &session("alice", "a1"),
        &user("bob"),
        text.to_owned(),
        client.map(client_id),
    ))
}

#[test]
fn send_to_yourself_is_invalid_and_stores_nothing() {
    let mut store = MockChatStore::new();
    store.expect_find_room().never();
    store.expect_insert_message().never();
    let service = service(store, unread_clock());

    let result = block_on(service.send(&session("alice", "a1"), &user("alice"), "hi".into(), None));

    assert_eq!(code(result), ErrorCode::InvalidArgument);
}

#[test]
fn send_rejects_bad_text_before_touching_the_store() {
    let mut store = MockChatStore::new();
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
        let result = block_on(service.send(&session("alice", "a1"), &user("bob"), bad, None));
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
        let mut store = MockChatStore::new();
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
                Ok((message, true))
            });
        store.expect_mark_sent().never();
        let service = service(store, clock_at(NOW));

        let out = send(&service, &text, None).unwrap();
        assert_eq!(out.reply.message, text);
    }
}

#[test]
fn send_to_a_user_without_a_shared_room_is_not_a_contact() {
    let mut store = MockChatStore::new();
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
    let mut store = MockChatStore::new();
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
fn send_to_an_online_recipient_stores_first_then_announces_then_marks_sent() {
    let message = stored("m1", "alice", "bob", NotSent);
    let sent = moved(&message, Sent);

    let mut store = MockChatStore::new();
    let mut seq = Sequence::new();
    store
        .expect_find_room()
        .withf(|a: &UserId, b: &UserId| same_pair(a, b, "alice", "bob"))
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_, _| Ok(Some(room_of("alice", "bob"))));
    let inserted = message.clone();
    store
        .expect_insert_message()
        .withf(|new: &NewMessage| {
            new.room == room_of("alice", "bob")
                && new.from == user("alice")
                && new.to == user("bob")
                && new.text.as_str() == "hello"
                && new.created_at == at(NOW)
                && new.client_message_id == Some(client_id("c1"))
        })
        .times(1)
        .in_sequence(&mut seq)
        .returning(move |_| Ok((inserted.clone(), true)));
    let marked = sent.clone();
    store
        .expect_mark_sent()
        .withf(|ids: &[MessageId]| ids_are(ids, &["m1"]))
        .times(1)
        .in_sequence(&mut seq)
        .returning(move |_| Ok(vec![marked.clone()]));
    let service = service(store, clock_at(NOW));
    online(&service, &[("alice", "a1"), ("bob", "b1")]);

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

#[test]
fn send_retry_of_an_already_sent_message_returns_it_and_emits_nothing() {
    let message = stored("m1", "alice", "bob", Sent);
    let mut store = send_store(message.clone(), false);
    store.expect_mark_sent().never();
    let service = service(store, clock_at(NOW));
    online(&service, &[("alice", "a1"), ("bob", "b1")]);

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

// ---------------------------------------------------------------------------------------
// message-read
// ---------------------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------------------
// get-old-messages
// ---------------------------------------------------------------------------------------

fn history_request(with: &str) -> HistoryRequest {
    HistoryRequest {
        with: user(with),
        since: None,
        before: None,
        after: None,
        limit: None,
    }
}

#[test]
fn history_with_yourself_is_invalid_and_touches_nothing() {
    let mut store = MockChatStore::new();
    store.expect_find_room().never();
    store.expect_history().never();
    let service = service(store, unread_clock());

    let result = block_on(service.history(&session("alice", "a1"), history_request("alice")));

    assert_eq!(code(result), ErrorCode::InvalidArgument);
}

#[test]
fn history_with_a_limit_out_of_range_is_invalid_without_touching_the_store() {
    let mut store = MockChatStore::new();
    store.expect_find_room().never();
    store.expect_history().never();
    let service = service(store, unread_clock());

    for limit in [0, 501, u64::MAX] {
        let request = HistoryRequest {
            limit: Some(limit),
            ..history_request("bob")
        };
        let result = block_on(service.history(&session("alice", "a1"), request));
        assert_eq!(code(result), ErrorCode::InvalidArgument, "limit {limit}");
    }
}

#[test]
fn history_passes_the_default_limit_and_every_filter_to_the_store() {
    let mut store = MockChatStore::new();
    store
        .expect_find_room()
        .withf(|a: &UserId, b: &UserId| same_pair(a, b, "alice", "bob"))
        .times(1)
        .returning(|_, _| Ok(Some(room_of("alice", "bob"))));
    store
        .expect_history()
        .with(
            eq(room_of("alice", "bob")),
            eq(HistoryQuery {
                since: Some(at(EARLIER)),
                before: Some(msg_id("m9")),
                after: Some(msg_id("m2")),
                limit: 50,
            }),
        )
        .times(1)
        .returning(|_, _| Ok(Vec::new()));
    store.expect_mark_sent().never();
    let service = service(store, unread_clock());

    let request = HistoryRequest {
        with: user("bob"),
        since: Some(at(EARLIER)),
        before: Some(msg_id("m9")),
        after: Some(msg_id("m2")),
        limit: None,
    };
    let out = block_on(service.history(&session("alice", "a1"), request)).unwrap();

    assert!(out.reply.is_empty());
    assert!(out.deliveries.is_empty());
}

#[test]
fn history_accepts_limits_from_1_to_500() {
    for limit in [1_u64, 500] {
        let mut store = MockChatStore::new();
        store
            .expect_find_room()
            .returning(|_, _| Ok(Some(room_of("alice", "bob"))));
        store
            .expect_history()
            .withf(move |_, query: &HistoryQuery| query.limit as u64 == limit)
            .times(1)
            .returning(|_, _| Ok(Vec::new()));
        let service = service(store, unread_clock());

        let request = HistoryRequest {
            limit: Some(limit),
            ..history_request("bob")
        };
        assert!(
            block_on(service.history(&session("alice", "a1"), request)).is_ok(),
            "limit {limit}"
        );
    }
}

#[test]
fn history_with_someone_you_share_no_room_with_is_not_a_contact() {
    let mut store = MockChatStore::new();
    store.expect_find_room().times(1).returning(|_, _| Ok(None));
    store.expect_history().never();
    let service = service(store, unread_clock());

    let result = block_on(service.history(&session("alice", "a1"), history_request("bob")));

    assert_eq!(code(result), ErrorCode::NotAContact);
}

#[test]
fn history_marks_messages_to_the_requester_sent_and_tells_their_sender() {
    let h1 = stored("h1", "bob", "alice", NotSent);
    let h2 = stored("h2", "alice", "bob", NotSent); // sent by the requester: left alone
    let h3 = stored("h3", "bob", "alice", Sent);
    let h4 = stored("h4", "bob", "alice", Read);
    let h5 = stored("h5", "bob", "alice", NotSent);
    let page = vec![h1.clone(), h2.clone(), h3.clone(), h4.clone(), h5.clone()];
    let (s1, s5) = (moved(&h1, Sent), moved(&h5, Sent));

    let mut store = MockChatStore::new();
    store
        .expect_find_room()
        .returning(|_, _| Ok(Some(room_of("alice", "bob"))));
    store
        .expect_history()
        .times(1)
        .returning(move |_, _| Ok(page.clone()));
    let marked = vec![s1.clone(), s5.clone()];
    store
        .expect_mark_sent()
        .withf(|ids: &[MessageId]| ids_are(ids, &["h1", "h5"]))
        .times(1)
        .returning(move |_| Ok(marked.clone()));
    let service = service(store, unread_clock());

    let out = block_on(service.history(&session("alice", "a1"), history_request("bob"))).unwrap();

    assert_eq!(
        out.reply,
        vec![wire(&s1), wire(&h2), wire(&h3), wire(&h4), wire(&s5)]
    );
    assert_eq!(
        out.deliveries,
        vec![
            status_changed("bob", &wire(&s1)),
            status_changed("bob", &wire(&s5))
        ]
    );
}

#[test]
fn history_never_marks_messages_the_requester_sent() {
    let page = vec![
        stored("h1", "alice", "bob", NotSent),
        stored("h2", "alice", "bob", NotSent),
        stored("h3", "bob", "alice", Sent),
    ];
    let expected: Vec<Message> = page.iter().map(wire).collect();
    let mut store = MockChatStore::new();
    store
        .expect_find_room()
        .returning(|_, _| Ok(Some(room_of("alice", "bob"))));
    store
        .expect_history()
        .returning(move |_, _| Ok(page.clone()));
    store.expect_mark_sent().never();
    let service = service(store, unread_clock());

    let out = block_on(service.history(&session("alice", "a1"), history_request("bob"))).unwrap();

    assert_eq!(out.reply, expected);
    assert!(out.deliveries.is_empty());
}

#[test]
fn history_only_reports_what_mark_sent_moved() {
    // h1 was delivered by another request in between: it is shown as the page had it
    // and nobody is told twice.
    let h1 = stored("h1", "bob", "alice", NotSent);
    let h2 = stored("h2", "bob", "alice", NotSent);
    let s2 = moved(&h2, Sent);
    let page = vec![h1.clone(), h2.clone()];
    let mut store = MockChatStore::new();
    store
        .expect_find_room()
        .returning(|_, _| Ok(Some(room_of("alice", "bob"))));
    store
        .expect_history()
        .returning(move |_, _| Ok(page.clone()));
    let marked = s2.clone();
    store
        .expect_mark_sent()
        .times(1)
        .returning(move |_| Ok(vec![marked.clone()]));
    let service = service(store, unread_clock());

    let out = block_on(service.history(&session("alice", "a1"), history_request("bob"))).unwrap();

    assert_eq!(out.reply[1], wire(&s2));
    assert_eq!(out.deliveries, vec![status_changed("bob", &wire(&s2))]);
}

/// A message of 500 control characters: 3,000 bytes of JSON text (`\u0001` each).
fn big(id: &str, from: &str, to: &str, status: MessageStatus) -> StoredMessage {
    StoredMessage {
        text: "\u{1}".repeat(500),
        ..stored(id, from, to, status)
    }
}

/// The bytes of `messages` as one JSON array.
fn json_len(messages: &[Message]) -> usize {
    serde_json::to_vec(messages).unwrap().len()
}

/// A byte bound that holds two of the `big` messages as shown, not three.
fn two_big_ones() -> usize {
    let one = json_len(&[wire(&big("h1", "bob", "alice", Sent))]);
    assert!(one > 3_000, "control characters are counted escaped");
    2 * one + one / 2
}

fn service_bounded(store: MockChatStore, config: Config) -> ChatService {
    ChatService::new(Arc::new(store), Arc::new(clock_at(NOW)), config)
}

#[test]
fn history_cuts_a_page_to_the_byte_bound_keeping_the_newest_and_marks_only_those_sent() {
    // Without `after` the page ends at the newest (or at `before`): the client pages
    // back `before` the oldest it got, so the kept ones are the newest of the page.
    for request in [
        history_request("bob"),
        HistoryRequest {
            before: Some(msg_id("h9")),
            ..history_request("bob")
        },
        HistoryRequest {
            since: Some(at(EARLIER)),
            ..history_request("bob")
        },
    ] {
        let page: Vec<StoredMessage> = ["h1", "h2", "h3", "h4", "h5"]
            .iter()
            .map(|id| big(id, "bob", "alice", NotSent))
            .collect();
        let sent: Vec<StoredMessage> = page[3..].iter().map(|m| moved(m, Sent)).collect();
        let mut store = MockChatStore::new();
        store
            .expect_find_room()
            .returning(|_, _| Ok(Some(room_of("alice", "bob"))));
        store
            .expect_history()
            .times(1)
            .returning(move |_, _| Ok(page.clone()));
        let marked = sent.clone();
        store
            .expect_mark_sent()
            .withf(|ids: &[MessageId]| ids_are(ids, &["h4", "h5"]))
            .times(1)
            .returning(move |_| Ok(marked.clone()));
        let bound = two_big_ones();
        let service = service_bounded(
            store,
            Config {
                max_reply_bytes: bound,
                ..Config::default()
            },
        );

        let out = block_on(service.history(&session("alice", "a1"), request.clone())).unwrap();

        assert_eq!(
            out.reply,
            vec![wire(&sent[0]), wire(&sent[1])],
            "{request:?}"
        );
        assert!(json_len(&out.reply) <= bound);
        assert_eq!(
            out.deliveries,
            vec![
                status_changed("bob", &wire(&sent[0])),
                status_changed("bob", &wire(&sent[1]))
            ]
        );
    }
}

#[test]
fn history_after_a_cursor_cut_to_the_byte_bound_keeps_the_oldest() {
    // Catching up `after` a message: the client goes on `after` the newest it got, so
    // the kept ones are the oldest of the page.
    let page: Vec<StoredMessage> = ["h1", "h2", "h3", "h4"]
        .iter()
        .map(|id| big(id, "bob", "alice", NotSent))
        .collect();
    let sent: Vec<StoredMessage> = page[..2].iter().map(|m| moved(m, Sent)).collect();
    let mut store = MockChatStore::new();
    store
        .expect_find_room()
        .returning(|_, _| Ok(Some(room_of("alice", "bob"))));
    store
        .expect_history()
        .times(1)
        .returning(move |_, _| Ok(page.clone()));
    let marked = sent.clone();
    store
        .expect_mark_sent()
        .withf(|ids: &[MessageId]| ids_are(ids, &["h1", "h2"]))
        .times(1)
        .returning(move |_| Ok(marked.clone()));
    let bound = two_big_ones();
    let service = service_bounded(
        store,
        Config {
            max_reply_bytes: bound,
            ..Config::default()
        },
    );
    let request = HistoryRequest {
        after: Some(msg_id("h0")),
        ..history_request("bob")
    };

    let out = block_on(service.history(&session("alice", "a1"), request)).unwrap();

    assert_eq!(out.reply, vec![wire(&sent[0]), wire(&sent[1])]);
    assert!(json_len(&out.reply) <= bound);
    assert_eq!(out.deliveries.len(), 2);
}

#[test]
fn history_keeps_one_message_bigger_than_the_byte_bound() {
    // Paging must go on: the message next to the cursor comes whatever its size.
    let page = vec![
        big("h1", "bob", "alice", Sent),
        big("h2", "bob", "alice", Sent),
    ];
    let expected = vec![wire(&page[1])];
    let mut store = MockChatStore::new();
    store
        .expect_find_room()
        .returning(|_, _| Ok(Some(room_of("alice", "bob"))));
    store
        .expect_history()
        .returning(move |_, _| Ok(page.clone()));
    store.expect_mark_sent().never();
    let service = service_bounded(
        store,
        Config {
            max_reply_bytes: 10,
            ..Config::default()
        },
    );

    let out = block_on(service.history(&session("alice", "a1"), history_request("bob"))).unwrap();

    assert_eq!(out.reply, expected);
}

#[test]
fn history_within_the_byte_bound_is_not_cut() {
    let page: Vec<StoredMessage> = ["h1", "h2", "h3"]
        .iter()
        .map(|id| big(id, "bob", "alice", Sent))
        .collect();
    let expected: Vec<Message> = page.iter().map(wire).collect();
    let mut store = MockChatStore::new();
    store
        .expect_find_room()
        .returning(|_, _| Ok(Some(room_of("alice", "bob"))));
    store
        .expect_history()
        .returning(move |_, _| Ok(page.clone()));
    // Exactly the JSON of the three: the bound is inclusive.
    let service = service_bounded(
        store,
        Config {
            max_reply_bytes: json_len(&expected),
            ..Config::default()
        },
    );

    let out = block_on(service.history(&session("alice", "a1"), history_request("bob"))).unwrap();

    assert_eq!(out.reply, expected);
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

#[test]
fn history_when_the_store_fails_is_unavailable() {
    let mut store = MockChatStore::new();
    store
        .expect_find_room()
        .returning(|_, _| Ok(Some(room_of("alice", "bob"))));
    store.expect_history().returning(|_, _| Err(unavailable()));
    store.expect_mark_sent().never();
    let service = service(store, unread_clock());

    let result = block_on(service.history(&session("alice", "a1"), history_request("bob")));

    assert_eq!(code(result), ErrorCode::Unavailable);
}

// ---------------------------------------------------------------------------------------
// disconnect
// ---------------------------------------------------------------------------------------

#[test]
fn disconnect_of_one_of_several_sockets_announces_nothing() {
    let mut store = MockChatStore::new();
    store.expect_set_last_online().never();
    store.expect_contacts().never();
    let service = service(store, unread_clock());
    online(&service, &[("alice", "a1"), ("alice", "a2"), ("bob", "b1")]);

    let out = block_on(service.disconnect(&session("alice", "a1"))).unwrap();

    assert!(out.deliveries.is_empty());
    assert!(block_on(service.presence().is_online(&user("alice"))).unwrap());
}

#[test]
fn disconnect_of_a_socket_that_never_connected_does_nothing() {
    let mut store = MockChatStore::new();
    store.expect_set_last_online().never();
    store.expect_contacts().never();
    let service = service(store, unread_clock());
    online(&service, &[("alice", "a1")]);

    let out = block_on(service.disconnect(&session("alice", "stray"))).unwrap();
    assert!(out.deliveries.is_empty());
    let out = block_on(service.disconnect(&session("nobody", "n1"))).unwrap();
    assert!(out.deliveries.is_empty());
    assert!(block_on(service.presence().is_online(&user("alice"))).unwrap());
}

#[test]
fn disconnect_of_the_last_socket_goes_offline_now_and_tells_online_contacts_only() {
    let mut store = MockChatStore::new();
    store
        .expect_set_last_online()
        .with(eq(user("alice")), eq(at(NOW)))
        .times(1)
        .returning(|_, _| Ok(()));
    store
        .expect_contacts()
        .with(eq(user("alice")))
        .times(1)
        .returning(|_| {
            Ok(vec![
                record("bob", "alice", None),
                record("carol", "alice", None),
                record("dave", "alice", None),
            ])
        });
    let service = service(store, clock_at(NOW));
    online(&service, &[("alice", "a1"), ("bob", "b1"), ("dave", "d1")]);

    let out = block_on(service.disconnect(&session("alice", "a1"))).unwrap();

    let alice = UserDetails::bare(&user("alice"));
    assert_eq!(
        out.deliveries,
        vec![
            presence_changed("bob", alice.clone(), PresenceStatus::Offline, Some(NOW)),
            presence_changed("dave", alice, PresenceStatus::Offline, Some(NOW)),
        ]
    );
    assert!(!block_on(service.presence().is_online(&user("alice"))).unwrap());
}

#[test]
fn disconnect_that_cannot_store_last_online_changes_nothing_and_can_be_retried() {
    let mut store = MockChatStore::new();
    let mut attempts = 0;
    store
        .expect_set_last_online()
        .times(2)
        .returning(move |_, _| {
            attempts += 1;
            if attempts == 1 {
                Err(unavailable())
            } else {
                Ok(())
            }
        });
    store
        .expect_contacts()
        .times(1)
        .returning(|_| Ok(vec![record("bob", "alice", None)]));
    let service = service(store, clock_at(NOW));
    online(&service, &[("alice", "a1"), ("bob", "b1")]);

    assert_eq!(
        code(block_on(service.disconnect(&session("alice", "a1")))),
        ErrorCode::Unavailable
    );
    assert!(
        block_on(service.presence().is_online(&user("alice"))).unwrap(),
        "nothing changed"
    );

    let out = block_on(service.disconnect(&session("alice", "a1"))).unwrap();
    assert_eq!(
        out.deliveries,
        vec![presence_changed(
            "bob",
            UserDetails::bare(&user("alice")),
            PresenceStatus::Offline,
            Some(NOW)
        )]
    );
    assert!(!block_on(service.presence().is_online(&user("alice"))).unwrap());
}

#[test]
fn disconnect_with_a_directory_announces_its_details() {
    let mut store = MockChatStore::new();
    store.expect_set_last_online().returning(|_, _| Ok(()));
    store
        .expect_contacts()
        .returning(|_| Ok(vec![record("bob", "alice", None)]));
    let mut directory = MockUserDirectory::new();
    directory
        .expect_details()
        .with(eq(user("alice")))
        .times(1)
        .returning(|_| Ok(Some(fields(json!({ "name": "Alice" })))));
    let service = service_with_directory(store, clock_at(NOW), directory);
    online(&service, &[("alice", "a1"), ("bob", "b1")]);

    let out = block_on(service.disconnect(&session("alice", "a1"))).unwrap();

    assert_eq!(
        out.deliveries,
        vec![presence_changed(
            "bob",
            details("alice", json!({ "name": "Alice" })),
            PresenceStatus::Offline,
            Some(NOW)
        )]
    );
}

#[test]
fn connect_then_disconnect_flips_presence_once_each_way() {
    let mut store = MockChatStore::new();
    store
        .expect_register_user()
        .times(2)
        .returning(|_| Ok(chat_user("alice", None)));
    store
        .expect_contacts()
        .returning(|_| Ok(vec![record("bob", "alice", None)]));
    store
        .expect_undelivered()
        .returning(|_, _, _| Ok(Vec::new()));
    store
        .expect_set_last_online()
        .with(eq(user("alice")), eq(at(NOW)))
        .times(1)
        .returning(|_, _| Ok(()));
    let service = service(store, clock_at(NOW));
    online(&service, &[("bob", "b1")]);
    let alice = UserDetails::bare(&user("alice"));

    let first = block_on(service.connect(&session("alice", "a1"))).unwrap();
    let second = block_on(service.connect(&session("alice", "a2"))).unwrap();
    let drop_one = block_on(service.disconnect(&session("alice", "a1"))).unwrap();
    let drop_last = block_on(service.disconnect(&session("alice", "a2"))).unwrap();

    assert_eq!(
        first.deliveries,
        vec![presence_changed(
            "bob",
            alice.clone(),
            PresenceStatus::Online,
            None
        )]
    );
    assert!(second.deliveries.is_empty());
    assert!(drop_one.deliveries.is_empty());
    assert_eq!(
        drop_last.deliveries,
        vec![presence_changed(
            "bob",
            alice,
            PresenceStatus::Offline,
            Some(NOW)
        )]
    );
    assert_eq!(block_on(service.presence().online_users()).unwrap(), 1);
}

#[test]
fn default_config_matches_the_protocol() {
    let config = Config::default();
    assert_eq!(config.max_message_chars, 4096);
    assert_eq!(config.missed_messages_per_sender, 500);
    assert_eq!(config.missed_messages_total, 500);
    assert_eq!(config.max_reply_bytes, 1_048_576);
    assert_eq!(config.default_history_limit, 50);
    assert_eq!(config.max_history_limit, 500);
}

#[test]
fn send_beyond_the_rate_is_rate_limited_and_stores_nothing() {
    let mut store = MockChatStore::new();
    store
        .expect_find_room()
        .returning(|a, b| Ok(Some(room_of(a.as_str(), b.as_str()))));
    store.expect_insert_message().times(2).returning(|m| {
        let stored = stored("m", m.from.as_str(), m.to.as_str(), NotSent);
        Ok((stored, true))
    });
    let config = Config {
        send_rate: chatzz_core_rate(1.0, 2.0),
        ..Config::default()
    };
    let service = ChatService::new(Arc::new(store), Arc::new(clock_at(NOW)), config);
    let alice = session("alice", "a1");
    for _ in 0..2 {
        assert!(block_on(service.send(&alice, &user("bob"), "hi".into(), None)).is_ok());
    }
    // insert_message is expected exactly twice: the third send never reaches the store.
    assert_eq!(
        code(block_on(service.send(
            &alice,
            &user("bob"),
            "hi".into(),
            None
        ))),
        ErrorCode::RateLimited
    );
}

fn chatzz_core_rate(per_second: f64, burst: f64) -> crate::rate::SendRate {
    crate::rate::SendRate { per_second, burst }
}

#[test]
fn connect_beyond_the_socket_limit_is_refused_and_changes_nothing() {
    let mut store = MockChatStore::new();
    store
        .expect_register_user()
        .returning(|_| Ok(chat_user("alice", None)));
    store.expect_contacts().returning(|_| Ok(vec![]));
    store.expect_undelivered().returning(|_, _, _| Ok(vec![]));
    let config = Config {
        max_sockets_per_user: 2,
        ..Config::default()
    };
    let service = ChatService::new(Arc::new(store), Arc::new(unread_clock()), config);
    assert!(block_on(service.connect(&session("alice", "a1"))).is_ok());
    assert!(block_on(service.connect(&session("alice", "a2"))).is_ok());
    assert_eq!(
        code(block_on(service.connect(&session("alice", "a3")))),
        ErrorCode::RateLimited
    );
    assert!(
        block_on(service.connect(&session("alice", "a2"))).is_ok(),
        "a registered socket may register again"
    );
}

// ---------------------------------------------------------------------------------------
// Rates of the other events (send-message has its own test above)
// ---------------------------------------------------------------------------------------

use crate::rate::{Rate, RatedEvent};

/// The default config with `event` at `burst` at once, then one a second.
fn rating(event: RatedEvent, burst: f64) -> Config {
    let mut config = Config::default();
    config.set_rate(
        event,
        Rate {
            per_second: 1.0,
            burst,
        },
    );
    config
}

fn assert_rate_limited<T: std::fmt::Debug>(result: Result<T, ChatError>, event: RatedEvent) {
    let err = result.unwrap_err();
    assert_eq!(err.code, ErrorCode::RateLimited, "{event}: {err:?}");
    assert!(
        err.message.contains(event.name()),
        "the message names the event: {}",
        err.message
    );
}

/// Runs `event` for `who` with made-up arguments, reply dropped.
fn run(service: &ChatService, who: &Session, event: RatedEvent) -> Result<(), ChatError> {
    match event {
        RatedEvent::ConnectUser => block_on(service.connect(who)).map(drop),
        RatedEvent::AddChatUser => block_on(service.add_contact(who, &user("bob"))).map(drop),
        RatedEvent::GetOldMessages => {
            block_on(service.history(who, history_request("bob"))).map(drop)
        }
        RatedEvent::MessageRead => block_on(service.mark_read(who, &msg_id("m1"))).map(drop),
        RatedEvent::SendMessage => {
            block_on(service.send(who, &user("bob"), "hi".into(), None)).map(drop)
        }
    }
}

#[test]
fn default_rates_are_far_below_send_for_contacts_and_history() {
    let config = Config::default();
    let rate = |per_second, burst| Rate { per_second, burst };
    assert_eq!(config.send_rate, rate(20.0, 100.0));
    assert_eq!(config.connect_user_rate, rate(10.0, 30.0));
    assert_eq!(config.add_chat_user_rate, rate(2.0, 20.0));
    assert_eq!(config.get_old_messages_rate, rate(5.0, 20.0));
    assert_eq!(config.message_read_rate, rate(50.0, 500.0));
    for event in RatedEvent::ALL {
        let mut changed = Config::default();
        changed.set_rate(event, rate(1.0, 1.0));
        assert_eq!(changed.rate(event), rate(1.0, 1.0));
        let others_unchanged = RatedEvent::ALL
            .iter()
            .filter(|&&e| e != event)
            .all(|&e| changed.rate(e) == config.rate(e));
        assert!(others_unchanged, "{event}");
    }
}

#[test]
fn every_event_over_its_rate_is_refused_before_any_port() {
    for event in RatedEvent::ALL {
        // Mocks without expectations: any call to a port panics.
        let service = ChatService::new(
            Arc::new(MockChatStore::new()),
            Arc::new(clock_at(NOW)),
            rating(event, 0.0),
        )
        .with_directory(Arc::new(MockUserDirectory::new()))
        .with_presence(Arc::new(MockPresenceRegistry::new()));
        assert_rate_limited(run(&service, &session("alice", "a1"), event), event);
    }
}

#[test]
fn unlimited_rates_never_read_the_clock() {
    let mut config = Config::default();
    for event in RatedEvent::ALL {
        config.set_rate(event, Rate::UNLIMITED);
    }
    let mut clock = MockClock::new();
    clock.expect_now().never();
    let service = ChatService::new(
        Arc::new(quiet_connect_store("alice")),
        Arc::new(clock),
        config,
    );
    assert!(block_on(service.connect(&session("alice", "a1"))).is_ok());
}

#[test]
fn connect_beyond_its_rate_is_rate_limited_and_changes_nothing() {
    // register_user is expected once: the refused connect never reaches the store.
    let service = ChatService::new(
        Arc::new(quiet_connect_store("alice")),
        Arc::new(clock_at(NOW)),
        rating(RatedEvent::ConnectUser, 1.0),
    );
    assert!(block_on(service.connect(&session("alice", "a1"))).is_ok());
    assert_rate_limited(
        block_on(service.connect(&session("alice", "a2"))),
        RatedEvent::ConnectUser,
    );
    assert!(
        block_on(service.presence().remove(&user("alice"), &socket("a1"))).unwrap(),
        "a1 was alice's last socket: the refused one was never counted live"
    );
}

#[test]
fn add_contact_beyond_its_rate_is_rate_limited_and_links_nothing() {
    let mut store = MockChatStore::new();
    // Three lookups (the other user, their record, mine) and one link per add.
    store
        .expect_find_user()
        .times(6)
        .returning(|u| Ok(Some(chat_user(u.as_str(), None))));
    store.expect_link().times(2).returning(|a, b| {
        Ok(LinkOutcome {
            room: room_of(a.as_str(), b.as_str()),
            created: false,
        })
    });
    let service = ChatService::new(
        Arc::new(store),
        Arc::new(clock_at(NOW)),
        rating(RatedEvent::AddChatUser, 2.0),
    );
    let alice = session("alice", "a1");
    for other in ["bob", "carol"] {
        assert!(block_on(service.add_contact(&alice, &user(other))).is_ok());
    }
    assert_rate_limited(
        block_on(service.add_contact(&alice, &user("dave"))),
        RatedEvent::AddChatUser,
    );
    // Adding yourself is refused as invalid before the rate is asked: it costs nothing.
    assert_eq!(
        code(block_on(service.add_contact(&alice, &user("alice")))),
        ErrorCode::InvalidArgument
    );
}

#[test]
fn history_beyond_its_rate_is_rate_limited_and_reads_nothing() {
    let mut store = MockChatStore::new();
    store
        .expect_find_room()
        .times(2)
        .returning(|a, b| Ok(Some(room_of(a.as_str(), b.as_str()))));
    store
        .expect_history()
        .times(2)
        .returning(|_, _| Ok(Vec::new()));
    let service = ChatService::new(
        Arc::new(store),
        Arc::new(clock_at(NOW)),
        rating(RatedEvent::GetOldMessages, 2.0),
    );
    let alice = session("alice", "a1");
    for _ in 0..2 {
        assert_eq!(
            block_on(service.history(&alice, history_request("bob")))
                .unwrap()
                .reply,
            vec![]
        );
    }
    assert_rate_limited(
        block_on(service.history(&alice, history_request("bob"))),
        RatedEvent::GetOldMessages,
    );
}

/// A store where `m1` is a message to alice she already read.
fn read_store(finds: usize) -> MockChatStore {
    let mut store = MockChatStore::new();
    store
        .expect_find_message()
        .times(finds)
        .returning(|_| Ok(Some(stored("m1", "bob", "alice", Read))));
    store.expect_mark_read().never();
    store
}

#[test]
fn mark_read_beyond_its_rate_is_rate_limited_and_reads_nothing() {
    let service = ChatService::new(
        Arc::new(read_store(2)),
        Arc::new(clock_at(NOW)),
        rating(RatedEvent::MessageRead, 2.0),
    );
    let alice = session("alice", "a1");
    for _ in 0..2 {
        assert!(block_on(service.mark_read(&alice, &msg_id("m1"))).is_ok());
    }
    assert_rate_limited(
        block_on(service.mark_read(&alice, &msg_id("m1"))),
        RatedEvent::MessageRead,
    );
}

#[test]
fn each_user_and_each_event_has_its_own_bucket_refilled_with_time() {
    let mut store = read_store(3);
    store
        .expect_find_room()
        .times(1)
        .returning(|a, b| Ok(Some(room_of(a.as_str(), b.as_str()))));
    store
        .expect_history()
        .times(1)
        .returning(|_, _| Ok(Vec::new()));
    let now = Arc::new(std::sync::atomic::AtomicI64::new(NOW));
    let mut clock = MockClock::new();
    let read_now = now.clone();
    clock
        .expect_now()
        .returning(move || at(read_now.load(Ordering::SeqCst)));
    let mut config = rating(RatedEvent::MessageRead, 1.0);
    config.set_rate(
        RatedEvent::GetOldMessages,
        Rate {
            per_second: 1.0,
            burst: 1.0,
        },
    );
    let service = ChatService::new(Arc::new(store), Arc::new(clock), config);
    let (alice, mallory) = (session("alice", "a1"), session("mallory", "m1"));

    assert!(run(&service, &alice, RatedEvent::MessageRead).is_ok());
    assert_rate_limited(
        run(&service, &alice, RatedEvent::MessageRead),
        RatedEvent::MessageRead,
    );
    // Another user's bucket is full; `m1` is not addressed to mallory.
    assert_eq!(
        code(run(&service, &mallory, RatedEvent::MessageRead)),
        ErrorCode::NotFound
    );
    // Another event's bucket is full.
    assert!(run(&service, &alice, RatedEvent::GetOldMessages).is_ok());
    // One token a second.
    now.store(NOW + 999, Ordering::SeqCst);
    assert_rate_limited(
        run(&service, &alice, RatedEvent::MessageRead),
        RatedEvent::MessageRead,
    );
    now.store(NOW + 1_000, Ordering::SeqCst);
    assert!(run(&service, &alice, RatedEvent::MessageRead).is_ok());
}

// ---------------------------------------------------------------------------------------
// Presence sweeps (shared presence: servers that die, servers that come back)
// ---------------------------------------------------------------------------------------

fn presence_finding(went_offline: &[&str], came_online: &[&str]) -> MockPresenceRegistry {
    let mut presence = MockPresenceRegistry::new();
    let sweep = Sweep {
        went_offline: went_offline.iter().map(|u| user(u)).collect(),
        came_online: came_online.iter().map(|u| user(u)).collect(),
    };
    presence
        .expect_sweep()
        .times(1)
        .returning(move || Ok(sweep.clone()));
    presence
}

/// `online` are online; everyone else is not.
fn presence_with_online(presence: &mut MockPresenceRegistry, online: &'static [&'static str]) {
    presence
        .expect_is_online()
        .returning(move |u| Ok(online.contains(&u.as_str())));
    presence.expect_online_among().returning(move |users| {
        Ok(users
            .iter()
            .filter(|u| online.contains(&u.as_str()))
            .cloned()
            .collect())
    });
}

#[test]
fn a_sweep_announces_users_of_a_dead_server_offline_to_their_online_contacts() {
    let mut presence = presence_finding(&["alice"], &[]);
    presence_with_online(&mut presence, &["bob"]);
    let mut store = MockChatStore::new();
    store
        .expect_set_last_online()
        .with(eq(user("alice")), eq(at(NOW)))
        .times(1)
        .returning(|_, _| Ok(()));
    store
        .expect_contacts()
        .with(eq(user("alice")))
        .times(1)
        .returning(|_| {
            Ok(vec![
                record("bob", "alice", None),
                record("carol", "alice", None),
            ])
        });
    let service = service(store, clock_at(NOW)).with_presence(Arc::new(presence));

    let out = block_on(service.sweep_presence()).unwrap();

    assert_eq!(
        out.deliveries,
        vec![presence_changed(
            "bob",
            UserDetails::bare(&user("alice")),
            PresenceStatus::Offline,
            Some(NOW)
        )]
    );
}

#[test]
fn a_departure_the_store_cannot_record_is_retried_on_the_next_sweep() {
    let mut presence = MockPresenceRegistry::new();
    let mut sweeps = 0;
    presence.expect_sweep().times(2).returning(move || {
        sweeps += 1;
        Ok(Sweep {
            went_offline: if sweeps == 1 {
                vec![user("alice")]
            } else {
                vec![]
            },
            came_online: vec![],
        })
    });
    presence_with_online(&mut presence, &["bob"]);
    let mut store = MockChatStore::new();
    let mut writes = 0;
    store
        .expect_set_last_online()
        .times(2)
        .returning(move |_, _| {
            writes += 1;
            if writes == 1 {
                Err(StoreError::Unavailable("down".into()))
            } else {
                Ok(())
            }
        });
    store
        .expect_contacts()
        .times(1)
        .returning(|_| Ok(vec![record("bob", "alice", None)]));
    let service = service(store, clock_at(NOW)).with_presence(Arc::new(presence));

    let first = block_on(service.sweep_presence()).unwrap();
    assert!(
        first.deliveries.is_empty(),
        "nothing announced while unrecorded"
    );
    let second = block_on(service.sweep_presence()).unwrap();
    assert_eq!(
        second.deliveries,
        vec![presence_changed(
            "bob",
            UserDetails::bare(&user("alice")),
            PresenceStatus::Offline,
            Some(NOW)
        )]
    );
}

#[test]
fn a_swept_user_back_online_meanwhile_is_not_announced_offline() {
    let mut presence = presence_finding(&["alice"], &[]);
    presence_with_online(&mut presence, &["alice", "bob"]);
    let mut store = MockChatStore::new();
    store.expect_set_last_online().never();
    store.expect_contacts().never();
    let service = service(store, unread_clock()).with_presence(Arc::new(presence));

    let out = block_on(service.sweep_presence()).unwrap();
    assert!(out.deliveries.is_empty());
}

#[test]
fn users_of_a_server_back_from_the_dead_are_announced_online_with_their_last_online() {
    let mut presence = presence_finding(&[], &["alice"]);
    presence_with_online(&mut presence, &["alice", "carol"]);
    let mut store = MockChatStore::new();
    store
        .expect_find_user()
        .with(eq(user("alice")))
        .times(1)
        .returning(|_| Ok(Some(chat_user("alice", Some(EARLIER)))));
    store.expect_contacts().times(1).returning(|_| {
        Ok(vec![
            record("bob", "alice", None),
            record("carol", "alice", None),
        ])
    });
    let service = service(store, unread_clock()).with_presence(Arc::new(presence));

    let out = block_on(service.sweep_presence()).unwrap();
    assert_eq!(
        out.deliveries,
        vec![presence_changed(
            "carol",
            UserDetails::bare(&user("alice")),
            PresenceStatus::Online,
            Some(EARLIER)
        )]
    );
}

#[test]
fn a_presence_outage_fails_connect_with_unavailable_and_counts_no_socket() {
    let mut presence = MockPresenceRegistry::new();
    presence
        .expect_add_within()
        .times(1)
        .returning(|_, _, _| Err(PresenceError("redis down".into())));
    presence.expect_remove().never();
    let mut store = MockChatStore::new();
    store
        .expect_register_user()
        .returning(|u| Ok(chat_user(u.as_str(), None)));
    store.expect_contacts().never();
    store.expect_undelivered().never();
    let service = service(store, unread_clock()).with_presence(Arc::new(presence));

    let err = block_on(service.connect(&session("alice", "a1"))).unwrap_err();
    assert_eq!(err.code, ErrorCode::Unavailable);
}

#[test]
fn a_presence_outage_after_storing_a_message_still_acks_it_as_not_sent() {
    let mut presence = MockPresenceRegistry::new();
    presence
        .expect_is_online()
        .times(1)
        .returning(|_| Err(PresenceError("redis down".into())));
    let mut store = MockChatStore::new();
    store
        .expect_find_room()
        .returning(|a, b| Ok(Some(room_of(a.as_str(), b.as_str()))));
    let stored_message = stored("m1", "alice", "bob", NotSent);
    let inserted = stored_message.clone();
    store
        .expect_insert_message()
        .times(1)
        .returning(move |_| Ok((inserted.clone(), true)));
    store.expect_mark_sent().never();
    let service = service(store, clock_at(NOW)).with_presence(Arc::new(presence));

    let out =
        block_on(service.send(&session("alice", "a1"), &user("bob"), "hi".into(), None)).unwrap();
    assert_eq!(out.reply.status, NotSent);
    assert_eq!(
        out.deliveries,
        vec![
            new_message("alice", &wire(&stored_message)),
            new_message("bob", &wire(&stored_message)),
        ]
    );
}
