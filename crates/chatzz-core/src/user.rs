//! Chat users, their details as the host application describes them, and contacts.

use std::sync::Arc;

use serde::Serialize;
use serde_json::{Map, Value};

use crate::id::{ChatRoomId, UserId};
use crate::message::{Message, StoredMessage};
use crate::time::Timestamp;

/// What the host application says about a user: a JSON object whose `_id` is always
/// the user id. Shared, not copied, by every message that names the user: a message
/// is cloned for each event that carries it, and copying two JSON objects each time
/// was a tenth of the server's work per message (docs/benchmarks.md, "How this
/// compares").
#[derive(Debug, Clone, PartialEq)]
pub struct UserDetails(Arc<Map<String, Value>>);

impl UserDetails {
    /// The details of a user the directory says nothing more about: `{ "_id": id }`.
    pub fn bare(id: &UserId) -> Self {
        Self::from_fields(id, Map::new())
    }

    /// Takes the directory's fields and sets `_id` to the user id, whatever they said.
    pub fn from_fields(id: &UserId, mut fields: Map<String, Value>) -> Self {
        fields.insert("_id".to_owned(), Value::String(id.as_str().to_owned()));
        Self(Arc::new(fields))
    }

    pub fn fields(&self) -> &Map<String, Value> {
        &self.0
    }
}

impl Serialize for UserDetails {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(serializer)
    }
}

/// A user as chatzz stores it: known since it first connected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatUser {
    pub id: UserId,
    /// When the user last went offline; `None` if never.
    pub last_online: Option<Timestamp>,
}

/// A stored link between two users, as one of them sees it: the other user, their
/// shared room and where the conversation stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContactRecord {
    pub user: UserId,
    pub room: ChatRoomId,
    /// When that user last went offline; `None` if never.
    pub last_online: Option<Timestamp>,
    /// When the room was created; `None` for rooms stored before version 1.1 kept it.
    pub since: Option<Timestamp>,
    /// Messages of the room addressed to the viewer that are not `read` and not deleted.
    pub unread: u64,
    /// The room's newest message in either direction (a tombstone if it was deleted).
    pub last_message: Option<StoredMessage>,
    /// Whether the viewer blocks this contact.
    pub blocked: bool,
    /// Whether this contact blocks the viewer.
    pub blocked_by: bool,
}

/// A user one shares a room with, as a presence change needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkedUser {
    pub user: UserId,
    /// Whether the one asking blocks this user (then it hears nothing of their presence).
    pub blocked: bool,
}

/// Who blocks whom between two users `a` and `b` (as a store was asked about them).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Blocks {
    pub a_blocks_b: bool,
    pub b_blocks_a: bool,
}

impl Blocks {
    /// Whether either blocks the other.
    pub fn any(self) -> bool {
        self.a_blocks_b || self.b_blocks_a
    }
}

impl ContactRecord {
    /// When the conversation was last active: its newest message's creation, else the
    /// room's. Edits and deletes are not activity.
    pub fn last_activity(&self) -> Option<Timestamp> {
        self.last_message
            .as_ref()
            .map(|m| m.created_at)
            .or(self.since)
    }
}

/// Orders records by last activity, newest first; records with none (rooms from
/// before 1.1 without messages) go last. Ties keep the newer room first: `records`
/// come in room creation order.
pub fn by_last_activity(mut records: Vec<ContactRecord>) -> Vec<ContactRecord> {
    records.reverse();
    // Stable: among equal activity, the reversed creation order stands.
    records.sort_by_key(|record| std::cmp::Reverse(record.last_activity()));
    records
}

/// What linking two users did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkOutcome {
    pub room: ChatRoomId,
    /// `false` when the pair already had its room.
    pub created: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PresenceStatus {
    Online,
    Offline,
}

impl PresenceStatus {
    pub fn of(online: bool) -> Self {
        if online { Self::Online } else { Self::Offline }
    }
}

/// A contact as the wire shows it: details plus room and presence.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Contact {
    #[serde(flatten)]
    pub details: UserDetails,
    pub chat_room_id: ChatRoomId,
    pub status: PresenceStatus,
    pub last_online: Option<Timestamp>,
    /// Messages from this contact to me that are not `read` (deleted ones excluded).
    pub unread_count: u64,
    /// The room's newest message, either way; `null` if none.
    pub last_message: Option<Box<Message>>,
    /// Whether I block this contact.
    pub blocked: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::{MessageStatus, StoredMessage};

    fn at(millis: i64) -> Timestamp {
        Timestamp::from_millis(millis).unwrap_or_else(|| unreachable!())
    }

    fn record(name: &str, since: Option<i64>, last: Option<i64>) -> ContactRecord {
        let user = UserId::parse(name).unwrap_or_else(|_| unreachable!());
        let room = ChatRoomId::new(format!("room-{name}"));
        ContactRecord {
            last_message: last.map(|millis| StoredMessage {
                id: crate::id::MessageId::new(format!("m-{name}")),
                room: room.clone(),
                from: user.clone(),
                to: user.clone(),
                text: String::new(),
                status: MessageStatus::Sent,
                created_at: at(millis),
                read_at: None,
                client_message_id: None,
                edited_at: None,
                deleted_at: None,
            }),
            user,
            room,
            last_online: None,
            since: since.map(at),
            unread: 0,
            blocked: false,
            blocked_by: false,
        }
    }

    fn names(records: Vec<ContactRecord>) -> Vec<String> {
        by_last_activity(records)
            .into_iter()
            .map(|r| r.user.as_str().to_owned())
            .collect()
    }

    #[test]
    fn newest_message_wins_over_room_creation_and_rooms_without_time_go_last() {
        let records = vec![
            record("old-room-new-message", Some(1), Some(500)),
            record("legacy-a", None, None),
            record("new-room", Some(400), None),
            record("legacy-b", None, None),
            record("old-message", Some(2), Some(300)),
            record("legacy-with-message", None, Some(450)),
        ];
        assert_eq!(
            names(records),
            [
                "old-room-new-message",
                "legacy-with-message",
                "new-room",
                "old-message",
                // Ties (no activity at all): the newer room first.
                "legacy-b",
                "legacy-a",
            ]
        );
    }

    #[test]
    fn equal_activity_keeps_the_newer_room_first() {
        let records = vec![
            record("first", Some(5), None),
            record("second", Some(5), None),
        ];
        assert_eq!(names(records), ["second", "first"]);
    }
}
