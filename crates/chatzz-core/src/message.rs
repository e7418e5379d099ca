//! Messages, their text rules and their forward-only status machine.

use serde::Serialize;

use crate::error::ChatError;
use crate::id::{ChatRoomId, ClientMessageId, MessageId, UserId};
use crate::time::Timestamp;
use crate::user::UserDetails;

/// Where a message is on its way: it only ever moves forward.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageStatus {
    /// Stored, not yet on any socket of the recipient.
    NotSent,
    /// Delivered to at least one socket of the recipient.
    Sent,
    /// The recipient marked it read.
    Read,
}

impl MessageStatus {
    /// Whether a message may move from `self` to `next`: forward only, skipping allowed.
    pub fn can_become(self, next: MessageStatus) -> bool {
        next > self
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::NotSent => "not_sent",
            Self::Sent => "sent",
            Self::Read => "read",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "not_sent" => Some(Self::NotSent),
            "sent" => Some(Self::Sent),
            "read" => Some(Self::Read),
            _ => None,
        }
    }
}

/// The text of a message, checked against the protocol's rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageText(String);

impl MessageText {
    /// Accepts text that is not empty after trimming, holds no U+0000 and is at most
    /// `max_chars` Unicode code points. The text is kept exactly as sent.
    pub fn parse(text: String, max_chars: usize) -> Result<Self, ChatError> {
        if text.trim().is_empty() {
            return Err(ChatError::invalid("message must not be empty"));
        }
        if text.contains('\0') {
            return Err(ChatError::invalid("message must not contain U+0000"));
        }
        // Cheap bound first: a code point takes at least one byte.
        if text.len() > max_chars && text.chars().count() > max_chars {
            return Err(ChatError::invalid(format!(
                "message must be at most {max_chars} characters"
            )));
        }
        Ok(Self(text))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

/// A message to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMessage {
    pub room: ChatRoomId,
    pub from: UserId,
    pub to: UserId,
    pub text: MessageText,
    pub created_at: Timestamp,
    pub client_message_id: Option<ClientMessageId>,
    /// Owe the host application a notification about it (its recipient had no live
    /// socket): recorded in the same write as the message, only if this insert creates it.
    pub notify: bool,
    /// Store it as `sent` rather than `not_sent`: its recipient has a live socket it is
    /// about to be handed to, so delivery costs no second write. Never with `notify`.
    pub sent: bool,
}

/// A message as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredMessage {
    pub id: MessageId,
    pub room: ChatRoomId,
    pub from: UserId,
    pub to: UserId,
    pub text: String,
    pub status: MessageStatus,
    pub created_at: Timestamp,
    pub read_at: Option<Timestamp>,
    pub client_message_id: Option<ClientMessageId>,
    /// When its text was last changed; `None` if never.
    pub edited_at: Option<Timestamp>,
    /// When its sender deleted it: its text is then `""`, erased from the store.
    pub deleted_at: Option<Timestamp>,
}

impl StoredMessage {
    pub fn is_deleted(&self) -> bool {
        self.deleted_at.is_some()
    }
}

/// What storing a message did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inserted {
    /// The message as stored: the new one, or the one stored first under the same
    /// (sender, client message id).
    pub message: StoredMessage,
    /// `false` when a message with that client message id was already stored.
    pub created: bool,
}

/// A message as the wire shows it, with both users' details.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Message {
    #[serde(rename = "_id")]
    pub id: MessageId,
    pub chat_room_id: ChatRoomId,
    pub created_at: Timestamp,
    pub from: UserDetails,
    pub to: UserDetails,
    pub message: String,
    pub status: MessageStatus,
    pub read_at: Option<Timestamp>,
    pub edited_at: Option<Timestamp>,
    pub deleted_at: Option<Timestamp>,
}

/// The `data` of a `messages-read` event: every message of the room addressed to
/// `reader_id` with an id up to and including `up_to` is now read.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MessagesRead {
    pub chat_room_id: ChatRoomId,
    pub reader_id: UserId,
    pub up_to: MessageId,
    pub read_at: Timestamp,
    /// How many messages this read moved to `read`.
    pub count: usize,
}

/// Which part of a room's history to read. Results are always oldest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryQuery {
    /// Only messages created at or after this time.
    pub since: Option<Timestamp>,
    /// Only messages whose id is less than this one.
    pub before: Option<MessageId>,
    /// Only messages whose id is greater than this one.
    pub after: Option<MessageId>,
    /// At most this many: the oldest matching when `after` is set, else the newest.
    pub limit: usize,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_moves_forward_only() {
        use MessageStatus::*;
        assert!(NotSent.can_become(Sent));
        assert!(NotSent.can_become(Read));
        assert!(Sent.can_become(Read));
        assert!(!Sent.can_become(NotSent));
        assert!(!Read.can_become(Sent));
        assert!(!Read.can_become(NotSent));
        assert!(!Sent.can_become(Sent));
        assert!(!Read.can_become(Read));
    }

    #[test]
    fn status_names_round_trip() {
        for status in [
            MessageStatus::NotSent,
            MessageStatus::Sent,
            MessageStatus::Read,
        ] {
            assert_eq!(MessageStatus::parse(status.as_str()), Some(status));
        }
        assert_eq!(MessageStatus::parse("delivered"), None);
    }

    #[test]
    fn text_rules() {
        assert!(MessageText::parse("hi".into(), 10).is_ok());
        assert!(MessageText::parse("".into(), 10).is_err());
        assert!(MessageText::parse(" \n\t\u{3000}".into(), 10).is_err());
        assert!(MessageText::parse("a\0b".into(), 10).is_err());
        // Code points, not bytes or UTF-16 units: ten emoji fit in ten characters.
        assert!(MessageText::parse("😀".repeat(10), 10).is_ok());
        assert!(MessageText::parse("😀".repeat(11), 10).is_err());
        assert_eq!(
            MessageText::parse("  keep  ".into(), 10).unwrap().as_str(),
            "  keep  "
        );
    }
}
