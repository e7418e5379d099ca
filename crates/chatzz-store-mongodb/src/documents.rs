//! The documents as stored, and their conversion to and from the domain's types.
//!
//! Ids are strings (`_id`); message and room ids are 20-digit sequence numbers
//! ([`sequence::encode`]) whose number is also kept in `seq`, which every range query
//! and sort uses. Times are epoch milliseconds (`i64`): exact to the millisecond like
//! [`Timestamp`], and compared as plain numbers.

use chatzz_core::notification::PendingNotification;
use chatzz_core::{
    ChatRoomId, ChatUser, ClientMessageId, MessageId, MessageStatus, NewMessage, StoreError,
    StoredMessage, Timestamp, UserId, sequence,
};
use serde::{Deserialize, Serialize};

/// Field names, in one place because filters and updates spell them too.
pub(crate) mod field {
    pub const ID: &str = "_id";
    pub const SEQ: &str = "seq";
    pub const LAST_ONLINE: &str = "lastOnline";
    pub const A: &str = "a";
    pub const B: &str = "b";
    pub const ROOM: &str = "chatRoomId";
    pub const FROM: &str = "from";
    pub const TO: &str = "to";
    pub const STATUS: &str = "status";
    pub const CREATED_AT: &str = "createdAt";
    pub const READ_AT: &str = "readAt";
    pub const CLIENT_MESSAGE_ID: &str = "clientMessageId";
    /// On a message (1.1): when its text was last edited, and when it was deleted
    /// (epoch milliseconds). Absent on messages written before, and until it happens.
    pub const EDITED_AT: &str = "editedAt";
    pub const DELETED_AT: &str = "deletedAt";
    /// The message's text.
    pub const TEXT: &str = "message";
    /// On a read position (`{prefix}read_positions`): whose it is, and the `seq` up to
    /// which that reader has read the room (`chatRoomId`).
    pub const READER: &str = "reader";
    pub const UP_TO: &str = "upTo";
    /// On a block (`{prefix}blocks`): who blocks whom.
    pub const BLOCKER: &str = "blocker";
    pub const BLOCKED: &str = "blocked";
    /// On a room: bumped by every transactional message insert into it. The write itself
    /// is the point: it makes concurrent inserts into one room conflict.
    pub const INSERTS: &str = "inserts";
    /// On a message inserted without a transaction: the `seq` of the message it follows
    /// in its room (0 for a room's first). Unique per room: the fence of such inserts.
    pub const PREV: &str = "prev";
    /// On a room lock (`{prefix}room_locks`): who holds it (absent when free) and until
    /// when (epoch milliseconds; 0 when released).
    pub const OWNER: &str = "owner";
    pub const UNTIL: &str = "until";
    /// On a message (offline notifications): the notification owed about it, kept in the
    /// message's own document so that it is recorded by the insert itself. `notifyDue`
    /// (epoch milliseconds) is when it may next be attempted, and its presence is what
    /// "owed" means: absent (on every message inserted without `notify`, on every
    /// message written before, and once finished) means nothing owed; never `null`.
    /// `notifyAttempts` counts the failed attempts (absent: none); `notifyOwner` and
    /// `notifyLeaseUntil` (epoch milliseconds) are the lease of the server that claimed
    /// it, absent when free.
    pub const NOTIFY_DUE: &str = "notifyDue";
    pub const NOTIFY_ATTEMPTS: &str = "notifyAttempts";
    pub const NOTIFY_OWNER: &str = "notifyOwner";
    pub const NOTIFY_LEASE_UNTIL: &str = "notifyLeaseUntil";
}

/// `{prefix}users`: one per user; `lastOnline` absent until the user first goes offline.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct UserDoc {
    #[serde(rename = "_id")]
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_online: Option<i64>,
}

/// `{prefix}rooms`: one per pair, the pair stored sorted (`a < b`) so that the unique
/// index on `(a, b)` sees `{x, y}` and `{y, x}` as the same key. Transactional message
/// inserts also keep a count, `inserts`, which is not read (see `field::INSERTS`).
/// `createdAt` is absent on rooms created before version 1.1 kept it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct RoomDoc {
    #[serde(rename = "_id")]
    pub id: String,
    pub seq: i64,
    pub a: String,
    pub b: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<i64>,
}

/// `{prefix}messages`. `clientMessageId` is absent (never `null`) when the client sent
/// none, so that the partial unique index on `(from, clientMessageId)` skips it; so is
/// `prev` on a message inserted in a transaction (see `field::PREV`). `editedAt` and
/// `deletedAt` are absent until the message is edited or deleted (and on every message
/// written before version 1.1): filters test them with `null`, which matches both. The
/// `notify*` fields are the notification owed about the message, if any (see
/// `field::NOTIFY_DUE`): absent on messages that owe none.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct MessageDoc {
    #[serde(rename = "_id")]
    pub id: String,
    pub seq: i64,
    pub chat_room_id: String,
    pub from: String,
    pub to: String,
    pub message: String,
    pub status: String,
    pub created_at: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_at: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_message_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prev: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub edited_at: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted_at: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notify_due: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notify_attempts: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notify_owner: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notify_lease_until: Option<i64>,
}

/// `{prefix}counters`: one per sequence (`rooms`, `messages`), holding the last number
/// handed out.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct CounterDoc {
    #[serde(rename = "_id")]
    pub id: String,
    pub seq: i64,
}

/// `{prefix}read_positions`: a reader's read position in a room, the `seq` of the
/// furthest message it has read up to; only ever raised (`$max`). One per (reader,
/// room) that has read since version 1.1, kept unique by an index.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ReadPositionDoc {
    pub reader: String,
    pub chat_room_id: String,
    pub up_to: i64,
}

/// `{prefix}blocks`: `blocker` blocks `blocked` since `since` (epoch milliseconds). One
/// per pair, kept unique by an index; removed by an unblock.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct BlockDoc {
    pub blocker: String,
    pub blocked: String,
    pub since: i64,
}

/// Just the number of a room or message.
#[derive(Debug, Clone, Copy, Deserialize)]
pub(crate) struct Numbered {
    pub seq: i64,
}

fn corrupt(what: &str, detail: impl std::fmt::Display) -> StoreError {
    StoreError::Internal(format!("corrupt {what} in MongoDB: {detail}"))
}

fn timestamp(what: &str, millis: i64) -> Result<Timestamp, StoreError> {
    Timestamp::from_millis(millis).ok_or_else(|| corrupt(what, format!("time {millis} ms")))
}

fn user_id(what: &str, value: String) -> Result<UserId, StoreError> {
    UserId::from_stored(value).map_err(|e| corrupt(what, e))
}

impl UserDoc {
    pub fn into_user(self) -> Result<ChatUser, StoreError> {
        Ok(ChatUser {
            id: user_id("user", self.id)?,
            last_online: self
                .last_online
                .map(|millis| timestamp("user", millis))
                .transpose()?,
        })
    }
}

impl RoomDoc {
    /// The room of the pair, sorted.
    pub fn new(seq: i64, a: &UserId, b: &UserId, created_at: Timestamp) -> Self {
        let (a, b) = sorted(a, b);
        Self {
            id: encode(seq),
            seq,
            a: a.to_owned(),
            b: b.to_owned(),
            created_at: Some(created_at.millis()),
        }
    }

    pub fn room(&self) -> ChatRoomId {
        ChatRoomId::new(self.id.clone())
    }

    /// When the room was created, if it was created by version 1.1 or later.
    pub fn since(&self) -> Result<Option<Timestamp>, StoreError> {
        self.created_at
            .map(|millis| timestamp("room", millis))
            .transpose()
    }

    /// The other member of the room, seen from `me`.
    pub fn other(&self, me: &str) -> Result<UserId, StoreError> {
        let other = if self.a == me { &self.b } else { &self.a };
        user_id("room", other.clone())
    }
}

impl MessageDoc {
    /// The message to insert; it owes a notification, due at once, if `message.notify`,
    /// and is `sent` already if `message.sent`.
    pub fn new(seq: i64, message: NewMessage) -> Self {
        let created_at = message.created_at.millis();
        let status = if message.sent {
            MessageStatus::Sent
        } else {
            MessageStatus::NotSent
        };
        Self {
            id: encode(seq),
            seq,
            chat_room_id: message.room.into_string(),
            from: message.from.into_string(),
            to: message.to.into_string(),
            message: message.text.into_string(),
            status: status.as_str().to_owned(),
            created_at,
            read_at: None,
            client_message_id: message.client_message_id.map(ClientMessageId::into_string),
            prev: None,
            edited_at: None,
            deleted_at: None,
            notify_due: message.notify.then_some(created_at),
            notify_attempts: None,
            notify_owner: None,
            notify_lease_until: None,
        }
    }

    /// The notification owed about this message, as a claim hands it out.
    pub fn into_pending(self) -> Result<PendingNotification, StoreError> {
        let attempts = self.notify_attempts.unwrap_or(0);
        let attempts = u32::try_from(attempts)
            .map_err(|_| corrupt("message", format!("{attempts} notification attempts")))?;
        Ok(PendingNotification {
            message: self.into_message()?,
            attempts,
        })
    }

    /// The same message under another number.
    pub fn numbered(&self, seq: i64) -> Self {
        Self {
            id: encode(seq),
            seq,
            ..self.clone()
        }
    }

    /// The same message under another number, following the message numbered `prev`
    /// in its room.
    pub fn following(&self, prev: i64, seq: i64) -> Self {
        Self {
            prev: Some(prev),
            ..self.numbered(seq)
        }
    }

    pub fn into_message(self) -> Result<StoredMessage, StoreError> {
        let status = MessageStatus::parse(&self.status)
            .ok_or_else(|| corrupt("message", format!("status {:?}", self.status)))?;
        Ok(StoredMessage {
            id: MessageId::new(self.id),
            room: ChatRoomId::new(self.chat_room_id),
            from: user_id("message", self.from)?,
            to: user_id("message", self.to)?,
            text: self.message,
            status,
            created_at: timestamp("message", self.created_at)?,
            read_at: self
                .read_at
                .map(|millis| timestamp("message", millis))
                .transpose()?,
            client_message_id: self
                .client_message_id
                .map(ClientMessageId::from_stored)
                .transpose()
                .map_err(|e| corrupt("message", e))?,
            edited_at: self
                .edited_at
                .map(|millis| timestamp("message", millis))
                .transpose()?,
            deleted_at: self
                .deleted_at
                .map(|millis| timestamp("message", millis))
                .transpose()?,
        })
    }
}

/// The pair in the order rooms store it.
pub(crate) fn sorted<'a>(a: &'a UserId, b: &'a UserId) -> (&'a str, &'a str) {
    if a.as_str() <= b.as_str() {
        (a.as_str(), b.as_str())
    } else {
        (b.as_str(), a.as_str())
    }
}

/// Sequence numbers are positive `i64`s in the database, and so always encodable.
fn encode(seq: i64) -> String {
    sequence::encode(seq.unsigned_abs())
}
