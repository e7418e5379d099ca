//! What the server tells clients, and to whom.

use serde::Serialize;
use std::collections::BTreeMap;

use crate::error::ErrorCode;
use crate::id::UserId;
use crate::message::{Message, MessagesRead};
use crate::time::Timestamp;
use crate::user::{Contact, PresenceStatus, UserDetails};

/// The `data` of a `user-details` event (and the `connect-user` ack).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UserDetailsData {
    pub user: UserDetails,
    pub status: PresenceStatus,
    pub last_online: Option<Timestamp>,
    pub connected_users: Vec<Contact>,
    /// Keyed by sender id; each list oldest first.
    pub missed_messages: BTreeMap<UserId, Vec<Message>>,
}

/// The `data` of a `chat-user-status-changed` event.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StatusChange {
    pub user: UserDetails,
    pub status: PresenceStatus,
    pub last_online: Option<Timestamp>,
}

/// The `data` of a `typing` event: `user_id` started (or stopped) typing to the
/// receiver in `chat_room_id`; a start holds for `expires_in_ms` unless renewed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TypingData {
    pub user_id: UserId,
    pub chat_room_id: crate::id::ChatRoomId,
    pub typing: bool,
    pub expires_in_ms: i64,
}

impl TypingData {
    /// `user_id` stopped typing in `chat_room_id`.
    pub fn stopped(user_id: UserId, chat_room_id: crate::id::ChatRoomId) -> Self {
        Self {
            user_id,
            chat_room_id,
            typing: false,
            expires_in_ms: 0,
        }
    }
}

/// The `data` of an `error` event.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ErrorData {
    pub event: String,
    pub code: ErrorCode,
    pub message: String,
}

/// One `chatzz` event: serialized as `{ "type": ..., "data": ... }`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", content = "data", rename_all = "kebab-case")]
pub enum ServerEvent {
    UserDetails(UserDetailsData),
    ChatUserStatusChanged(StatusChange),
    ChatUserAdded(Contact),
    NewMessage(Message),
    MessageStatusChanged(Message),
    OldMessages(Vec<Message>),
    /// The `get-contacts` reply without a callback.
    Contacts(Vec<Contact>),
    /// A message was edited or deleted (then it is a tombstone).
    MessageUpdated(Message),
    /// A reader read a room up to a message.
    MessagesRead(MessagesRead),
    /// A contact started or stopped typing.
    Typing(TypingData),
    Error(ErrorData),
}

/// Who gets an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Audience {
    /// Every live socket of the user.
    User(UserId),
    /// Every live socket of the user except the one that made the request.
    OtherSocketsOf(UserId),
}

/// An event for an audience.
#[derive(Debug, Clone, PartialEq)]
pub struct Delivery {
    pub to: Audience,
    pub event: ServerEvent,
}

impl Delivery {
    pub fn new(to: Audience, event: ServerEvent) -> Self {
        Self { to, event }
    }
}

/// A use case's result: the reply to the requester, the deliveries to emit, in order,
/// and what happened, so that nobody re-derives it from the events.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome<T> {
    pub reply: T,
    pub deliveries: Vec<Delivery>,
    pub facts: Facts,
}

/// What a use case changed, as counted by metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Facts {
    /// Messages this call stored (a retried send stores none).
    pub messages_stored: usize,
    /// Messages this call moved to `sent`: they reached their recipient.
    pub messages_delivered: usize,
}

impl<T> Outcome<T> {
    /// A reply and its deliveries; nothing stored or delivered.
    pub fn new(reply: T, deliveries: Vec<Delivery>) -> Self {
        Self {
            reply,
            deliveries,
            facts: Facts::default(),
        }
    }

    pub fn with_facts(mut self, facts: Facts) -> Self {
        self.facts = facts;
        self
    }
}

impl Outcome<()> {
    /// Nothing to reply and nobody to tell.
    pub fn nothing() -> Self {
        Self::new((), Vec::new())
    }
}

/// The length of `value`'s JSON in bytes, counted without building it (bounds on replies
/// are in bytes of JSON); `None` if it does not serialize.
pub fn json_len<T: Serialize + ?Sized>(value: &T) -> Option<usize> {
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0 += bytes.len();
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut count = Count(0);
    serde_json::to_writer(&mut count, value)
        .ok()
        .map(|()| count.0)
}

#[cfg(test)]
mod json_len_tests {
    #[test]
    fn json_len_is_the_length_of_the_json() {
        let value = serde_json::json!({"a": "é\n\u{1}", "b": [1, 2, 3]});
        let text = serde_json::to_string(&value).unwrap_or_default();
        assert_eq!(super::json_len(&value), Some(text.len()));
    }
}
