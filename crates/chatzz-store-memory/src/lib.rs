//! An in-memory [`ChatStore`] for chatzz: everything behind one lock, so every rule of
//! the port holds trivially; gone when the process exits. Good for tests, demos and
//! single-process deployments that need no history across restarts.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Mutex;

use async_trait::async_trait;
use chatzz_core::{
    ChatRoomId, ChatStore, ChatUser, ClientMessageId, ContactRecord, HistoryQuery, Inserted,
    LinkOutcome, MessageId, MessageStatus, NewMessage, StoreError, StoredMessage, Timestamp,
    UserId,
};

use chatzz_core::sequence;

#[derive(Debug, Default)]
struct State {
    users: HashMap<UserId, Option<Timestamp>>,
    /// Keyed by the pair in sorted order.
    rooms: HashMap<(UserId, UserId), ChatRoomId>,
    /// Each user's contacts in room creation order.
    contacts: HashMap<UserId, Vec<(UserId, ChatRoomId)>>,
    messages: BTreeMap<MessageId, StoredMessage>,
    by_room: HashMap<ChatRoomId, Vec<MessageId>>,
    by_client_id: HashMap<(UserId, ClientMessageId), MessageId>,
    /// Each recipient's `not_sent` messages, so a connect does not scan all messages.
    undelivered: HashMap<UserId, BTreeSet<MessageId>>,
    next_room: u64,
    next_message: u64,
}

impl State {
    fn forget_undelivered(&mut self, message: &StoredMessage) {
        if let Some(waiting) = self.undelivered.get_mut(&message.to) {
            waiting.remove(&message.id);
            if waiting.is_empty() {
                self.undelivered.remove(&message.to);
            }
        }
    }
}

/// The in-memory store.
#[derive(Debug, Default)]
pub struct MemoryStore {
    state: Mutex<State>,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    fn with<T>(&self, f: impl FnOnce(&mut State) -> T) -> Result<T, StoreError> {
        let mut state = self
            .state
            .lock()
            .map_err(|_| StoreError::Internal("memory store lock poisoned".into()))?;
        Ok(f(&mut state))
    }
}

fn pair(a: &UserId, b: &UserId) -> (UserId, UserId) {
    if a <= b {
        (a.clone(), b.clone())
    } else {
        (b.clone(), a.clone())
    }
}

#[async_trait]
impl ChatStore for MemoryStore {
    /// Each process has its own: never the store of a cluster.
    fn is_shared(&self) -> bool {
        false
    }

    async fn register_user(&self, user: &UserId) -> Result<ChatUser, StoreError> {
        self.with(|s| {
            let last_online = *s.users.entry(user.clone()).or_insert(None);
            ChatUser {
                id: user.clone(),
                last_online,
            }
        })
    }

    async fn find_user(&self, user: &UserId) -> Result<Option<ChatUser>, StoreError> {
        self.with(|s| {
            s.users.get(user).map(|last_online| ChatUser {
                id: user.clone(),
                last_online: *last_online,
            })
        })
    }

    async fn set_last_online(&self, user: &UserId, at: Timestamp) -> Result<(), StoreError> {
        self.with(|s| {
            s.users.insert(user.clone(), Some(at));
        })
    }

    async fn link(&self, a: &UserId, b: &UserId) -> Result<LinkOutcome, StoreError> {
        self.with(|s| {
            let key = pair(a, b);
            if let Some(room) = s.rooms.get(&key) {
                return LinkOutcome {
                    room: room.clone(),
                    created: false,
                };
            }
            s.next_room += 1;
            let room = ChatRoomId::new(sequence::encode(s.next_room));
            s.rooms.insert(key, room.clone());
            s.contacts
                .entry(a.clone())
                .or_default()
                .push((b.clone(), room.clone()));
            s.contacts
                .entry(b.clone())
                .or_default()
                .push((a.clone(), room.clone()));
            LinkOutcome {
                room,
                created: true,
            }
        })
    }

    async fn find_room(&self, a: &UserId, b: &UserId) -> Result<Option<ChatRoomId>, StoreError> {
        self.with(|s| s.rooms.get(&pair(a, b)).cloned())
    }

    async fn contacts(&self, user: &UserId) -> Result<Vec<ContactRecord>, StoreError> {
        self.with(|s| {
            s.contacts
                .get(user)
                .map(|list| {
                    list.iter()
                        .map(|(other, room)| ContactRecord {
                            user: other.clone(),
                            room: room.clone(),
                            last_online: s.users.get(other).copied().flatten(),
                        })
                        .collect()
                })
                .unwrap_or_default()
        })
    }

    async fn insert_message(&self, message: NewMessage) -> Result<Inserted, StoreError> {
        self.with(|s| {
            let client_key = message
                .client_message_id
                .as_ref()
                .map(|cid| (message.from.clone(), cid.clone()));
            if let Some(existing) = client_key
                .as_ref()
                .and_then(|key| s.by_client_id.get(key))
                .and_then(|id| s.messages.get(id))
            {
                return Inserted {
                    message: existing.clone(),
                    created: false,
                };
            }
            s.next_message += 1;
            let id = MessageId::new(sequence::encode(s.next_message));
            let stored = StoredMessage {
                id: id.clone(),
                room: message.room,
                from: message.from,
                to: message.to,
                text: message.text.into_string(),
                status: MessageStatus::NotSent,
                created_at: message.created_at,
                read_at: None,
                client_message_id: message.client_message_id,
            };
            s.by_room
                .entry(stored.room.clone())
                .or_default()
                .push(id.clone());
            if let Some(key) = client_key {
                s.by_client_id.insert(key, id.clone());
            }
            s.undelivered
                .entry(stored.to.clone())
                .or_default()
                .insert(id.clone());
            s.messages.insert(id, stored.clone());
            Inserted {
                message: stored,
                created: true,
            }
        })
    }

    async fn find_message(&self, id: &MessageId) -> Result<Option<StoredMessage>, StoreError> {
        self.with(|s| s.messages.get(id).cloned())
    }

    async fn mark_sent(&self, ids: &[MessageId]) -> Result<Vec<StoredMessage>, StoreError> {
        self.with(|s| {
            let mut ids = ids.to_vec();
            ids.sort();
            ids.dedup();
            ids.iter()
                .filter_map(|id| {
                    let message = s.messages.get_mut(id)?;
                    if !message.status.can_become(MessageStatus::Sent) {
                        return None;
                    }
                    message.status = MessageStatus::Sent;
                    let message = message.clone();
                    s.forget_undelivered(&message);
                    Some(message)
                })
                .collect()
        })
    }

    async fn mark_read(
        &self,
        id: &MessageId,
        at: Timestamp,
    ) -> Result<Option<StoredMessage>, StoreError> {
        self.with(|s| {
            let message = s.messages.get_mut(id)?;
            if !message.status.can_become(MessageStatus::Read) {
                return None;
            }
            message.status = MessageStatus::Read;
            message.read_at = Some(at);
            let message = message.clone();
            s.forget_undelivered(&message);
            Some(message)
        })
    }

    async fn history(
        &self,
        room: &ChatRoomId,
        query: &HistoryQuery,
    ) -> Result<Vec<StoredMessage>, StoreError> {
        self.with(|s| {
            let Some(ids) = s.by_room.get(room) else {
                return Vec::new();
            };
            // Ids in a room are appended in increasing order: the cursors are a range.
            let start = query
                .after
                .as_ref()
                .map_or(0, |after| ids.partition_point(|id| id <= after));
            let end = query
                .before
                .as_ref()
                .map_or(ids.len(), |before| ids.partition_point(|id| id < before));
            let matching = ids[start..end.max(start)]
                .iter()
                .filter_map(|id| s.messages.get(id))
                .filter(|m| query.since.is_none_or(|since| m.created_at >= since));
            let page: Vec<StoredMessage> = if query.after.is_some() {
                matching.take(query.limit).cloned().collect()
            } else {
                let mut newest: Vec<_> = matching.rev().take(query.limit).cloned().collect();
                newest.reverse();
                newest
            };
            page
        })
    }

    async fn undelivered(
        &self,
        to: &UserId,
        per_sender: usize,
        total: usize,
    ) -> Result<Vec<StoredMessage>, StoreError> {
        self.with(|s| {
            let Some(waiting) = s.undelivered.get(to) else {
                return Vec::new();
            };
            let mut taken: HashMap<&UserId, usize> = HashMap::new();
            // Ids are one sequence: walking them in order and stopping at `total` gives
            // the lowest ids across senders.
            waiting
                .iter()
                .filter_map(|id| s.messages.get(id))
                .filter(|m| {
                    let count = taken.entry(&m.from).or_default();
                    *count += 1;
                    *count <= per_sender
                })
                .take(total)
                .cloned()
                .collect()
        })
    }
}

#[cfg(test)]
mod tests;
