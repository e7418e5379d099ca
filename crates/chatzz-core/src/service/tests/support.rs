//! What every use case's tests share: ids, messages and events made short, mocked ports
//! set up the common way, and the service built on them.

use crate::service::SendRequest;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use futures_executor::block_on;
use mockall::predicate::eq;
use serde_json::{Map, Value};

use crate::error::{ChatError, ErrorCode};
use crate::event::{Audience, Delivery, ServerEvent, StatusChange};
use crate::id::{ChatRoomId, ClientMessageId, MessageId, SocketId, UserId};
use crate::message::{Inserted, Message, MessageStatus, StoredMessage};
use crate::ports::{MockChatStore, MockClock, MockUserDirectory, StoreError};
use crate::service::{ChatService, Config, HistoryRequest, Session};
use crate::time::Timestamp;
use crate::user::{ChatUser, ContactRecord, PresenceStatus, UserDetails};

use MessageStatus::{Read, Sent};

/// A store in which nobody blocks anybody (asked any number of times).
pub(super) fn unblocked_store() -> MockChatStore {
    let mut store = MockChatStore::new();
    store
        .expect_blocks_between()
        .returning(|_, _| Ok(crate::user::Blocks::default()));
    store
}

/// What the mocked clock says it is.
pub(super) const NOW: i64 = 1_767_323_045_678;
/// When a user last went offline, in tests that need one.
pub(super) const EARLIER: i64 = 1_767_000_000_000;

pub(super) fn user(id: &str) -> UserId {
    UserId::parse(id).unwrap()
}

pub(super) fn socket(id: &str) -> SocketId {
    SocketId::new(id)
}

pub(super) fn session(user_id: &str, socket_id: &str) -> Session {
    Session {
        user: user(user_id),
        socket: socket(socket_id),
    }
}

pub(super) fn at(millis: i64) -> Timestamp {
    Timestamp::from_millis(millis).unwrap()
}

pub(super) fn msg_id(id: &str) -> MessageId {
    MessageId::new(id)
}

pub(super) fn client_id(id: &str) -> ClientMessageId {
    ClientMessageId::parse(id).unwrap()
}

/// The room of a pair, whichever way round it is named.
pub(super) fn room_of(a: &str, b: &str) -> ChatRoomId {
    let (a, b) = if a <= b { (a, b) } else { (b, a) };
    ChatRoomId::new(format!("room-{a}-{b}"))
}

pub(super) fn stored(id: &str, from: &str, to: &str, status: MessageStatus) -> StoredMessage {
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
        edited_at: None,
        deleted_at: None,
    }
}

/// The same message after a status change.
pub(super) fn moved(message: &StoredMessage, status: MessageStatus) -> StoredMessage {
    let mut message = message.clone();
    message.status = status;
    if status == Read {
        message.read_at = Some(at(NOW));
    }
    message
}

/// A stored message as the wire shows it when no directory is configured.
pub(super) fn wire(message: &StoredMessage) -> Message {
    Message {
        id: message.id.clone(),
        chat_room_id: message.room.clone(),
        created_at: message.created_at,
        from: UserDetails::bare(&message.from),
        to: UserDetails::bare(&message.to),
        message: message.text.clone(),
        status: message.status,
        read_at: message.read_at,
        edited_at: message.edited_at,
        deleted_at: message.deleted_at,
    }
}

pub(super) fn fields(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        other => panic!("directory fields must be an object, got {other}"),
    }
}

pub(super) fn details(id: &str, value: Value) -> UserDetails {
    UserDetails::from_fields(&user(id), fields(value))
}

pub(super) fn chat_user(id: &str, last_online: Option<i64>) -> ChatUser {
    ChatUser {
        id: user(id),
        last_online: last_online.map(at),
    }
}

/// `contact` as a contact of `owner`.
pub(super) fn record(contact: &str, owner: &str, last_online: Option<i64>) -> ContactRecord {
    ContactRecord {
        user: user(contact),
        room: room_of(contact, owner),
        last_online: last_online.map(at),
        since: None,
        unread: 0,
        last_message: None,
        blocked: false,
        blocked_by: false,
    }
}

/// `contact` as a presence change sees it, not blocked.
pub(super) fn linked_user(contact: &str) -> crate::user::LinkedUser {
    crate::user::LinkedUser {
        user: user(contact),
        blocked: false,
    }
}

pub(super) fn same_pair(x: &UserId, y: &UserId, a: &str, b: &str) -> bool {
    (x.as_str() == a && y.as_str() == b) || (x.as_str() == b && y.as_str() == a)
}

pub(super) fn ids_are(ids: &[MessageId], expected: &[&str]) -> bool {
    ids.iter()
        .map(MessageId::as_str)
        .eq(expected.iter().copied())
}

/// A clock the test moves.
pub(super) fn moving_clock(start: i64) -> (MockClock, Arc<AtomicI64>) {
    let now = Arc::new(AtomicI64::new(start));
    let read = Arc::clone(&now);
    let mut clock = MockClock::new();
    clock
        .expect_now()
        .returning(move || at(read.load(Ordering::SeqCst)));
    (clock, now)
}

pub(super) fn clock_at(millis: i64) -> MockClock {
    let mut clock = MockClock::new();
    clock.expect_now().return_const(at(millis));
    clock
}

/// A clock only the rate limits may read: the use case stamps nothing with it, and the
/// time it tells (the epoch) would stand out in any reply that used it.
pub(super) fn unread_clock() -> MockClock {
    let mut clock = MockClock::new();
    clock.expect_now().return_const(at(RATES_ONLY));
    clock
}

/// What [`unread_clock`] says it is.
pub(super) const RATES_ONLY: i64 = 0;

pub(super) fn service(store: MockChatStore, clock: MockClock) -> ChatService {
    ChatService::new(Arc::new(store), Arc::new(clock), Config::default())
}

pub(super) fn service_with_directory(
    store: MockChatStore,
    clock: MockClock,
    directory: MockUserDirectory,
) -> ChatService {
    service(store, clock).with_directory(Arc::new(directory))
}

/// Marks users online without going through `connect`.
pub(super) fn online(service: &ChatService, users: &[(&str, &str)]) {
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

pub(super) fn to_user(id: &str, event: ServerEvent) -> Delivery {
    Delivery::new(Audience::User(user(id)), event)
}

pub(super) fn new_message(to: &str, message: &Message) -> Delivery {
    to_user(to, ServerEvent::NewMessage(message.clone()))
}

pub(super) fn status_changed(to: &str, message: &Message) -> Delivery {
    to_user(to, ServerEvent::MessageStatusChanged(message.clone()))
}

pub(super) fn presence_changed(
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

pub(super) fn code<T: std::fmt::Debug>(result: Result<T, ChatError>) -> ErrorCode {
    result.unwrap_err().code
}

pub(super) fn unavailable() -> StoreError {
    StoreError::Unavailable("connection refused".into())
}

/// A store for `connect` without contacts or missed messages.
pub(super) fn quiet_connect_store(who: &str) -> MockChatStore {
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

/// A message of 500 control characters: 3,000 bytes of JSON text (`\u0001` each).
pub(super) fn big(id: &str, from: &str, to: &str, status: MessageStatus) -> StoredMessage {
    StoredMessage {
        text: "\u{1}".repeat(500),
        ..stored(id, from, to, status)
    }
}

/// The bytes of `messages` as one JSON array.
pub(super) fn json_len(messages: &[Message]) -> usize {
    serde_json::to_vec(messages).unwrap().len()
}

/// A byte bound that holds two of the `big` messages as shown, not three.
pub(super) fn two_big_ones() -> usize {
    let one = json_len(&[wire(&big("h1", "bob", "alice", Sent))]);
    assert!(one > 3_000, "control characters are counted escaped");
    2 * one + one / 2
}

pub(super) fn service_bounded(store: MockChatStore, config: Config) -> ChatService {
    ChatService::new(Arc::new(store), Arc::new(clock_at(NOW)), config)
}

/// A store where alice and bob share a room and `insert_message` answers `answer`.
pub(super) fn send_store(answer: StoredMessage, created: bool) -> MockChatStore {
    let mut store = unblocked_store();
    store
        .expect_find_room()
        .withf(|a: &UserId, b: &UserId| same_pair(a, b, "alice", "bob"))
        .returning(|_, _| Ok(Some(room_of("alice", "bob"))));
    store.expect_insert_message().times(1).returning(move |_| {
        Ok(Inserted {
            message: answer.clone(),
            created,
        })
    });
    store
}

pub(super) fn send(
    service: &ChatService,
    text: &str,
    client: Option<&str>,
) -> Result<crate::event::Outcome<Message>, ChatError> {
    block_on(service.send(
        &session("alice", "a1"),
        SendRequest::new(&user("bob"), text.to_owned(), client.map(client_id)),
    ))
}

pub(super) fn history_request(with: &str) -> HistoryRequest {
    HistoryRequest {
        with: user(with),
        since: None,
        before: None,
        after: None,
        limit: None,
    }
}
