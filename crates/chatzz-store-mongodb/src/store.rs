//! The [`ChatStore`] port implemented on the collections.

use async_trait::async_trait;
use chatzz_core::{
    ChatRoomId, ChatStore, ChatUser, ContactRecord, HistoryQuery, Inserted, LinkOutcome, MessageId,
    MessageStatus, NewMessage, StoreError, StoredMessage, Timestamp, UserId, sequence,
};
use futures_util::{StreamExt, TryStreamExt, stream};
use mongodb::bson::{Document, doc};
use mongodb::options::{ReadPreference, ReturnDocument};

use crate::documents::{self, MessageDoc, Numbered, RoomDoc, UserDoc, field};
use crate::error::{self, doing, is_duplicate_key};
use crate::room_lock;
use crate::{CONCURRENCY, MongoStore, ROOMS};

impl MongoStore {
    pub(crate) async fn find_room_doc(
        &self,
        a: &UserId,
        b: &UserId,
        primary: bool,
    ) -> Result<Option<RoomDoc>, StoreError> {
        let (a, b) = documents::sorted(a, b);
        let mut find = self.rooms.find_one(doc! { field::A: a, field::B: b });
        if primary {
            find = find.selection_criteria(ReadPreference::Primary.into());
        }
        find.await.map_err(doing("finding a room"))
    }

    /// The message `from` sent with client id `client_id`, if any. `primary` reads from
    /// the primary, to see a write that a unique index just reported.
    pub(crate) async fn find_by_client_id(
        &self,
        from: &UserId,
        client_id: &str,
        primary: bool,
    ) -> Result<Option<StoredMessage>, StoreError> {
        let mut find = self.messages.find_one(doc! {
            field::FROM: from.as_str(),
            field::CLIENT_MESSAGE_ID: client_id,
        });
        if primary {
            find = find.selection_criteria(ReadPreference::Primary.into());
        }
        find.await
            .map_err(doing("finding a message by client id"))?
            .map(MessageDoc::into_message)
            .transpose()
    }

    pub(crate) async fn find_messages(
        &self,
        filter: Document,
        sort: Document,
        limit: i64,
    ) -> Result<Vec<StoredMessage>, StoreError> {
        self.messages
            .find(filter)
            .sort(sort)
            .limit(limit)
            .await
            .map_err(doing("finding messages"))?
            .map_err(|e| error::store_error("reading messages", e))
            .and_then(|d| async move { d.into_message() })
            .try_collect()
            .await
    }
}

/// A `usize` count as a positive MongoDB limit; `None` for zero (which MongoDB would
/// read as "no limit").
fn limit(count: usize) -> Option<i64> {
    (count > 0).then(|| i64::try_from(count).unwrap_or(i64::MAX))
}

#[async_trait]
impl ChatStore for MongoStore {
    async fn register_user(&self, user: &UserId) -> Result<ChatUser, StoreError> {
        if let Some(found) = self.find_user(user).await? {
            return Ok(found);
        }
        let fresh = UserDoc {
            id: user.as_str().to_owned(),
            last_online: None,
        };
        match self.users.insert_one(&fresh).await {
            Ok(_) => fresh.into_user(),
            // Registered meanwhile: return it as stored.
            Err(e) if is_duplicate_key(&e) => self
                .users
                .find_one(doc! { field::ID: user.as_str() })
                .selection_criteria(ReadPreference::Primary.into())
                .await
                .map_err(doing("reading a user"))?
                .ok_or_else(|| StoreError::Internal(format!("user {user} vanished")))?
                .into_user(),
            Err(e) => Err(error::store_error("registering a user", e)),
        }
    }

    async fn find_user(&self, user: &UserId) -> Result<Option<ChatUser>, StoreError> {
        self.users
            .find_one(doc! { field::ID: user.as_str() })
            .await
            .map_err(doing("reading a user"))?
            .map(UserDoc::into_user)
            .transpose()
    }

    async fn set_last_online(&self, user: &UserId, at: Timestamp) -> Result<(), StoreError> {
        let filter = doc! { field::ID: user.as_str() };
        let update = doc! { "$set": { field::LAST_ONLINE: at.millis() } };
        match self
            .users
            .update_one(filter.clone(), update.clone())
            .upsert(true)
            .await
        {
            Ok(_) => Ok(()),
            // Two upserts racing to create the user: the server retries these itself
            // (4.2+), but should one still lose, the user now exists.
            Err(e) if is_duplicate_key(&e) => self
                .users
                .update_one(filter, update)
                .await
                .map(|_| ())
                .map_err(doing("setting last online")),
            Err(e) => Err(error::store_error("setting last online", e)),
        }
    }

    async fn link(&self, a: &UserId, b: &UserId) -> Result<LinkOutcome, StoreError> {
        if let Some(room) = self.find_room_doc(a, b, false).await? {
            return Ok(LinkOutcome {
                room: room.room(),
                created: false,
            });
        }
        let room = RoomDoc::new(self.next_seq(ROOMS).await?, a, b);
        match self.rooms.insert_one(&room).await {
            Ok(_) => Ok(LinkOutcome {
                room: room.room(),
                created: true,
            }),
            // Another call created the pair's room first: that one is the room.
            Err(e) if is_duplicate_key(&e) => {
                let existing = self.find_room_doc(a, b, true).await?.ok_or_else(|| {
                    StoreError::Internal(format!("room id {} taken twice", room.id))
                })?;
                Ok(LinkOutcome {
                    room: existing.room(),
                    created: false,
                })
            }
            Err(e) => Err(error::store_error("creating a room", e)),
        }
    }

    async fn find_room(&self, a: &UserId, b: &UserId) -> Result<Option<ChatRoomId>, StoreError> {
        Ok(self
            .find_room_doc(a, b, false)
            .await?
            .map(|room| room.room()))
    }

    async fn contacts(&self, user: &UserId) -> Result<Vec<ContactRecord>, StoreError> {
        let me = user.as_str();
        let rooms: Vec<RoomDoc> = self
            .rooms
            .find(doc! { "$or": [ { field::A: me }, { field::B: me } ] })
            .sort(doc! { field::SEQ: 1 })
            .await
            .map_err(doing("listing rooms"))?
            .try_collect()
            .await
            .map_err(doing("reading rooms"))?;
        if rooms.is_empty() {
            return Ok(Vec::new());
        }
        let others: Vec<&str> = rooms
            .iter()
            .map(|r| {
                if r.a == me {
                    r.b.as_str()
                } else {
                    r.a.as_str()
                }
            })
            .collect();
        let users: Vec<UserDoc> = self
            .users
            .find(doc! { field::ID: { "$in": &others[..] } })
            .await
            .map_err(doing("listing contacts"))?
            .try_collect()
            .await
            .map_err(doing("reading contacts"))?;
        let mut last_online = std::collections::HashMap::with_capacity(users.len());
        for found in users {
            let found = found.into_user()?;
            last_online.insert(found.id, found.last_online);
        }
        rooms
            .iter()
            .zip(others)
            .map(|(room, other)| {
                let other = UserId::from_stored(other).map_err(|e| {
                    StoreError::Internal(format!("corrupt room {} in MongoDB: {e}", room.id))
                })?;
                Ok(ContactRecord {
                    last_online: last_online.get(&other).copied().flatten(),
                    user: other,
                    room: room.room(),
                })
            })
            .collect()
    }

    async fn insert_message(&self, message: NewMessage) -> Result<Inserted, StoreError> {
        let client_id = message
            .client_message_id
            .as_ref()
            .map(|c| c.as_str().to_owned());
        let from = message.from.clone();
        // A retry usually finds its message here, without spending a number.
        if let Some(cid) = &client_id
            && let Some(existing) = self.find_by_client_id(&from, cid, false).await?
        {
            return Ok(Inserted {
                message: existing,
                created: false,
            });
        }
        let template = MessageDoc::new(0, message);
        if !self.transactions {
            // In a task of its own: should this call be given up on (a store timeout),
            // the insert still finishes, and releases its room's lock, without waiting
            // for the lease to run out. The task itself ends within the lease.
            let store = self.clone();
            let (message, created) = tokio::spawn(async move {
                let insert = store.insert_taking_turns(&template, &from, client_id.as_deref());
                tokio::time::timeout(room_lock::LEASE, insert)
                    .await
                    .unwrap_or_else(|_| {
                        Err(StoreError::Unavailable(format!(
                            "MongoDB: a message insert outlasted its room lock's lease ({:?})",
                            room_lock::LEASE
                        )))
                    })
            })
            .await
            .map_err(|e| StoreError::Internal(format!("MongoDB, inserting a message: {e}")))??;
            return Ok(Inserted { message, created });
        }
        match self.insert_holding_the_room(&template).await {
            Ok(doc) => Ok(Inserted {
                message: doc.into_message()?,
                created: true,
            }),
            // The unique (from, clientMessageId) index refused it: a concurrent call
            // with the same client id stored the message first. (In a transaction, that
            // aborted it, and with it the room's bump; the number it took stays unused.)
            Err(e) if is_duplicate_key(&e) => {
                let taken_twice = || StoreError::Internal(format!("message id taken twice ({e})"));
                let Some(cid) = &client_id else {
                    return Err(taken_twice());
                };
                let existing = self
                    .find_by_client_id(&from, cid, true)
                    .await?
                    .ok_or_else(taken_twice)?;
                Ok(Inserted {
                    message: existing,
                    created: false,
                })
            }
            Err(e) => Err(match e.get_custom::<StoreError>() {
                Some(inner) => inner.clone(),
                None => error::store_error("inserting a message", e),
            }),
        }
    }

    async fn find_message(&self, id: &MessageId) -> Result<Option<StoredMessage>, StoreError> {
        self.messages
            .find_one(doc! { field::ID: id.as_str() })
            .await
            .map_err(doing("reading a message"))?
            .map(MessageDoc::into_message)
            .transpose()
    }

    async fn mark_sent(&self, ids: &[MessageId]) -> Result<Vec<StoredMessage>, StoreError> {
        // Owned, so that the futures below borrow nothing from the caller.
        let mut ids: Vec<String> = ids.iter().map(|id| id.as_str().to_owned()).collect();
        ids.sort_unstable();
        ids.dedup();
        // One compare-and-set per message: each reports whether this call moved it.
        let moved: Vec<Option<MessageDoc>> = stream::iter(ids)
            .map(|id: String| {
                self.messages
                    .find_one_and_update(
                        doc! { field::ID: id, field::STATUS: MessageStatus::NotSent.as_str() },
                        doc! { "$set": { field::STATUS: MessageStatus::Sent.as_str() } },
                    )
                    .return_document(ReturnDocument::After)
                    .into_future()
            })
            .buffered(CONCURRENCY)
            .try_collect()
            .await
            .map_err(doing("marking messages sent"))?;
        moved
            .into_iter()
            .flatten()
            .map(MessageDoc::into_message)
            .collect()
    }

    async fn mark_read(
        &self,
        id: &MessageId,
        at: Timestamp,
    ) -> Result<Option<StoredMessage>, StoreError> {
        self.messages
            .find_one_and_update(
                doc! {
                    field::ID: id.as_str(),
                    field::STATUS: { "$ne": MessageStatus::Read.as_str() },
                },
                doc! { "$set": {
                    field::STATUS: MessageStatus::Read.as_str(),
                    field::READ_AT: at.millis(),
                } },
            )
            .return_document(ReturnDocument::After)
            .await
            .map_err(doing("marking a message read"))?
            .map(MessageDoc::into_message)
            .transpose()
    }

    async fn history(
        &self,
        room: &ChatRoomId,
        query: &HistoryQuery,
    ) -> Result<Vec<StoredMessage>, StoreError> {
        let Some(limit) = limit(query.limit) else {
            return Ok(Vec::new());
        };
        let mut seq = Document::new();
        if let Some(before) = &query.before {
            // Numbers past i64 are past every stored one: no bound then.
            if let Ok(below) = i64::try_from(sequence::below(before.as_str())) {
                seq.insert("$lt", below);
            }
        }
        if let Some(after) = &query.after {
            match i64::try_from(sequence::above(after.as_str())) {
                Ok(above) => {
                    seq.insert("$gte", above);
                }
                Err(_) => return Ok(Vec::new()),
            }
        }
        let mut filter = doc! { field::ROOM: room.as_str() };
        if !seq.is_empty() {
            filter.insert(field::SEQ, seq);
        }
        if let Some(since) = query.since {
            filter.insert(field::CREATED_AT, doc! { "$gte": since.millis() });
        }
        if query.after.is_some() {
            // Catching up: the oldest after the cursor.
            self.find_messages(filter, doc! { field::SEQ: 1 }, limit)
                .await
        } else {
            // The newest, returned oldest first.
            let mut page = self
                .find_messages(filter, doc! { field::SEQ: -1 }, limit)
                .await?;
            page.reverse();
            Ok(page)
        }
    }

    async fn undelivered(
        &self,
        to: &UserId,
        per_sender: usize,
        total: usize,
    ) -> Result<Vec<StoredMessage>, StoreError> {
        let Some(per_sender) = limit(per_sender.min(total)) else {
            return Ok(Vec::new());
        };
        let waiting = doc! {
            field::TO: to.as_str(),
            field::STATUS: MessageStatus::NotSent.as_str(),
        };
        let senders = self
            .messages
            .distinct(field::FROM, waiting.clone())
            .await
            .map_err(doing("listing senders"))?;
        // First the numbers alone, answered from the `(to, status, from, seq)` index
        // without reading a message; then only the `total` lowest are read whole.
        let numbers = self.messages.clone_with_type::<Numbered>();
        let pages: Vec<Vec<Numbered>> = stream::iter(senders)
            .map(|sender| {
                let mut filter = waiting.clone();
                filter.insert(field::FROM, sender);
                let numbers = &numbers;
                async move {
                    numbers
                        .find(filter)
                        .sort(doc! { field::SEQ: 1 })
                        .limit(per_sender)
                        .projection(doc! { field::ID: 0, field::SEQ: 1 })
                        .await
                        .map_err(doing("listing undelivered messages"))?
                        .map_err(|e| error::store_error("reading undelivered messages", e))
                        .try_collect::<Vec<_>>()
                        .await
                }
            })
            .buffered(CONCURRENCY)
            .try_collect()
            .await?;
        let mut chosen: Vec<i64> = pages.into_iter().flatten().map(|n| n.seq).collect();
        chosen.sort_unstable();
        chosen.truncate(total);
        if chosen.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<String> = chosen
            .iter()
            .filter_map(|seq| u64::try_from(*seq).ok().map(sequence::encode))
            .collect();
        let mut filter = waiting;
        filter.insert(field::ID, doc! { "$in": ids });
        self.find_messages(filter, doc! { field::SEQ: 1 }, 0).await
    }
}
