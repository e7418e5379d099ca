//! An in-memory [`ChatStore`] for chatzz: everything behind one lock, so every rule of
//! the port holds trivially; gone when the process exits. Good for tests, demos and
//! single-process deployments that need no history across restarts. Notifications owed
//! are kept in memory too: a receiver that is down keeps them here until accepted or
//! dropped, and a restart forgets them with the messages.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Mutex;

use async_trait::async_trait;
use chatzz_core::notification::{NotificationClaim, PendingNotification};
use chatzz_core::{
    Blocks, ChatRoomId, ChatStore, ChatUser, ClientMessageId, ContactRecord, HistoryQuery,
    Inserted, LinkOutcome, LinkedUser, MessageId, MessageStatus, MessageText, NewMessage,
    StoreError, StoredMessage, Timestamp, UserId,
};

use chatzz_core::sequence;

#[derive(Debug, Default)]
struct State {
    users: HashMap<UserId, Option<Timestamp>>,
    /// Keyed by the pair in sorted order.
    rooms: HashMap<(UserId, UserId), ChatRoomId>,
    /// Each user's contacts in room creation order.
    contacts: HashMap<UserId, Vec<(UserId, ChatRoomId)>>,
    /// Looked up by id only (rooms and indexes below keep the orders).
    messages: HashMap<MessageId, StoredMessage>,
    by_room: HashMap<ChatRoomId, Vec<MessageId>>,
    by_client_id: HashMap<(UserId, ClientMessageId), MessageId>,
    /// Each recipient's `not_sent` messages, so a connect does not scan all messages.
    undelivered: HashMap<UserId, BTreeSet<MessageId>>,
    /// When each room was created.
    since: HashMap<ChatRoomId, Timestamp>,
    /// Each (reader, room)'s read position.
    read_up_to: HashMap<(UserId, ChatRoomId), MessageId>,
    /// Each (recipient, room)'s messages not `read` yet, deleted ones too: unread counts
    /// and reads walk these, never a room's whole history.
    not_read: HashMap<(UserId, ChatRoomId), BTreeSet<MessageId>>,
    /// (blocker, blocked) pairs, with when the block began.
    blocks: HashMap<(UserId, UserId), Timestamp>,
    /// Notifications owed, by message (so in store order).
    owed: BTreeMap<MessageId, Owed>,
    next_room: u64,
    next_message: u64,
}

impl State {
    fn record(&self, user: &UserId, other: &UserId, room: &ChatRoomId) -> ContactRecord {
        let key = (user.clone(), room.clone());
        let position = self.read_up_to.get(&key);
        let unread = self.not_read.get(&key).map_or(0, |ids| {
            ids.iter()
                .filter(|id| position.is_none_or(|p| *id > p))
                .filter(|id| self.messages.get(*id).is_some_and(|m| !m.is_deleted()))
                .count()
        });
        ContactRecord {
            user: other.clone(),
            room: room.clone(),
            last_online: self.users.get(other).copied().flatten(),
            since: self.since.get(room).copied(),
            unread: u64::try_from(unread).unwrap_or(u64::MAX),
            last_message: self
                .by_room
                .get(room)
                .and_then(|ids| ids.last())
                .and_then(|id| self.messages.get(id))
                .cloned(),
            blocked: self.blocks.contains_key(&(user.clone(), other.clone())),
            blocked_by: self.blocks.contains_key(&(other.clone(), user.clone())),
        }
    }

    fn forget_undelivered(&mut self, message: &StoredMessage) {
        if let Some(waiting) = self.undelivered.get_mut(&message.to) {
            waiting.remove(&message.id);
            if waiting.is_empty() {
                self.undelivered.remove(&message.to);
            }
        }
    }
}

/// A notification owed about a message.
#[derive(Debug)]
struct Owed {
    recipient: UserId,
    attempts: u32,
    due: Timestamp,
    lease: Option<(String, Timestamp)>,
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

    async fn claim_notifications(
        &self,
        claim: &NotificationClaim,
    ) -> Result<Vec<PendingNotification>, StoreError> {
        self.with(|s| {
            let mut heads = std::collections::HashSet::new();
            let mut claimed = Vec::new();
            for (id, owed) in &mut s.owed {
                if claimed.len() >= claim.limit {
                    break;
                }
                // Only the oldest owed to each recipient may go.
                if !heads.insert(owed.recipient.clone()) {
                    continue;
                }
                let leased = owed
                    .lease
                    .as_ref()
                    .is_some_and(|(_, until)| *until > claim.now);
                if owed.due > claim.now || leased {
                    continue;
                }
                let Some(message) = s.messages.get(id) else {
                    continue;
                };
                owed.lease = Some((claim.owner.clone(), claim.lease_until));
                claimed.push(PendingNotification {
                    message: message.clone(),
                    attempts: owed.attempts,
                });
            }
            claimed
        })
    }

    async fn finish_notification(&self, message: &MessageId) -> Result<(), StoreError> {
        self.with(|s| {
            s.owed.remove(message);
        })
    }

    async fn retry_notification(
        &self,
        message: &MessageId,
        owner: &str,
        attempts: u32,
        due: Timestamp,
    ) -> Result<(), StoreError> {
        self.with(|s| {
            if let Some(owed) = s.owed.get_mut(message)
                && owed
                    .lease
                    .as_ref()
                    .is_some_and(|(holder, _)| holder == owner)
            {
                owed.attempts = attempts;
                owed.due = due;
                owed.lease = None;
            }
        })
    }

    async fn pending_notifications(&self) -> Result<u64, StoreError> {
        self.with(|s| u64::try_from(s.owed.len()).unwrap_or(u64::MAX))
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

    async fn link(&self, a: &UserId, b: &UserId, at: Timestamp) -> Result<LinkOutcome, StoreError> {
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
            s.since.insert(room.clone(), at);
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
                        .map(|(other, room)| s.record(user, other, room))
                        .collect()
                })
                .unwrap_or_default()
        })
    }

    async fn linked_users(&self, user: &UserId) -> Result<Vec<LinkedUser>, StoreError> {
        self.with(|s| {
            s.contacts
                .get(user)
                .map(|list| {
                    list.iter()
                        .map(|(other, _)| LinkedUser {
                            user: other.clone(),
                            blocked: s.blocks.contains_key(&(user.clone(), other.clone())),
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
                status: if message.sent {
                    MessageStatus::Sent
                } else {
                    MessageStatus::NotSent
                },
                created_at: message.created_at,
                read_at: None,
                client_message_id: message.client_message_id,
                edited_at: None,
                deleted_at: None,
            };
            s.by_room
                .entry(stored.room.clone())
                .or_default()
                .push(id.clone());
            if message.notify {
                s.owed.insert(
                    id.clone(),
                    Owed {
                        recipient: stored.to.clone(),
                        attempts: 0,
                        due: stored.created_at,
                        lease: None,
                    },
                );
            }
            if let Some(key) = client_key {
                s.by_client_id.insert(key, id.clone());
            }
            if stored.status == MessageStatus::NotSent {
                s.undelivered
                    .entry(stored.to.clone())
                    .or_default()
                    .insert(id.clone());
            }
            s.not_read
                .entry((stored.to.clone(), stored.room.clone()))
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

    async fn read_up_to(
        &self,
        reader: &UserId,
        room: &ChatRoomId,
        up_to: &MessageId,
        at: Timestamp,
    ) -> Result<usize, StoreError> {
        self.with(|s| {
            let key = (reader.clone(), room.clone());
            let position = s
                .read_up_to
                .entry(key.clone())
                .or_insert_with(|| up_to.clone());
            if *position < *up_to {
                *position = up_to.clone();
            }
            let Some(waiting) = s.not_read.get_mut(&key) else {
                return 0;
            };
            let mut reached = waiting.split_off(up_to);
            if reached.remove(up_to) {
                waiting.insert(up_to.clone());
            }
            // `waiting` now holds the ids up to `up_to`, `reached` the later ones.
            let read = std::mem::replace(waiting, reached);
            if s.not_read.get(&key).is_some_and(BTreeSet::is_empty) {
                s.not_read.remove(&key);
            }
            let mut count = 0;
            for id in read {
                let Some(message) = s.messages.get_mut(&id) else {
                    continue;
                };
                message.status = MessageStatus::Read;
                message.read_at = Some(at);
                let message = message.clone();
                s.forget_undelivered(&message);
                count += 1;
            }
            count
        })
    }

    async fn edit_message(
        &self,
        id: &MessageId,
        text: &MessageText,
        at: Timestamp,
    ) -> Result<Option<StoredMessage>, StoreError> {
        self.with(|s| {
            let message = s.messages.get_mut(id)?;
            if message.is_deleted() {
                return None;
            }
            message.text = text.as_str().to_owned();
            message.edited_at = Some(at);
            Some(message.clone())
        })
    }

    async fn delete_message(
        &self,
        id: &MessageId,
        at: Timestamp,
    ) -> Result<Option<StoredMessage>, StoreError> {
        self.with(|s| {
            let message = s.messages.get_mut(id)?;
            if message.is_deleted() {
                return None;
            }
            message.text = String::new();
            message.deleted_at = Some(at);
            Some(message.clone())
        })
    }

    async fn block(
        &self,
        blocker: &UserId,
        blocked: &UserId,
        at: Timestamp,
    ) -> Result<bool, StoreError> {
        self.with(|s| {
            let key = (blocker.clone(), blocked.clone());
            if s.blocks.contains_key(&key) {
                return false;
            }
            s.blocks.insert(key, at);
            true
        })
    }

    async fn unblock(&self, blocker: &UserId, blocked: &UserId) -> Result<bool, StoreError> {
        self.with(|s| {
            s.blocks
                .remove(&(blocker.clone(), blocked.clone()))
                .is_some()
        })
    }

    async fn blocks_between(&self, a: &UserId, b: &UserId) -> Result<Blocks, StoreError> {
        self.with(|s| Blocks {
            a_blocks_b: s.blocks.contains_key(&(a.clone(), b.clone())),
            b_blocks_a: s.blocks.contains_key(&(b.clone(), a.clone())),
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
