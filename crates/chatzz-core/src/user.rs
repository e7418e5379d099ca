//! Chat users, their details as the host application describes them, and contacts.

use serde::Serialize;
use serde_json::{Map, Value};

use crate::id::{ChatRoomId, UserId};
use crate::time::Timestamp;

/// What the host application says about a user: a JSON object whose `_id` is always
/// the user id.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(transparent)]
pub struct UserDetails(Map<String, Value>);

impl UserDetails {
    /// The details of a user the directory says nothing more about: `{ "_id": id }`.
    pub fn bare(id: &UserId) -> Self {
        Self::from_fields(id, Map::new())
    }

    /// Takes the directory's fields and sets `_id` to the user id, whatever they said.
    pub fn from_fields(id: &UserId, mut fields: Map<String, Value>) -> Self {
        fields.insert("_id".to_owned(), Value::String(id.as_str().to_owned()));
        Self(fields)
    }

    pub fn fields(&self) -> &Map<String, Value> {
        &self.0
    }
}

/// A user as chatzz stores it: known since it first connected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatUser {
    pub id: UserId,
    /// When the user last went offline; `None` if never.
    pub last_online: Option<Timestamp>,
}

/// A stored link between two users: the other user and their shared room.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContactRecord {
    pub user: UserId,
    pub room: ChatRoomId,
    /// When that user last went offline; `None` if never.
    pub last_online: Option<Timestamp>,
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
}
