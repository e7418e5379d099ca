//! The [`ChatStore`] port implemented on the collections.

use std::collections::HashMap;

use async_trait::async_trait;
use chatzz_core::notification::{NotificationClaim, PendingNotification};
use chatzz_core::{
    Blocks, ChatRoomId, ChatStore, ChatUser, ContactRecord, HistoryQuery, Inserted, LinkOutcome,
    LinkedUser, MessageId, MessageStatus, MessageText, NewMessage, StoreError, StoredMessage,
    Timestamp, UserId, sequence,
};
use futures_util::future::try_join;
use futures_util::{StreamExt, TryStreamExt, stream};
use mongodb::bson::{Bson, Document, doc};
use mongodb::options::{ReadPreference, ReturnDocument};

use crate::documents::{
    self, BlockDoc, MessageDoc, Numbered, ReadPositionDoc, RoomDoc, UserDoc, field,
};
use crate::error::{self, doing, is_duplicate_key};
use crate::schema::{all_owed, not_read, owed};
use crate::{CONCURRENCY, MongoStore, ROOMS, room_lock};

impl MongoStore {
    /// `me`'s rooms in creation order (through `(a, seq)` and `(b, seq)`), and the other
    /// member of each.
    async fn rooms_of(&self, me: &str) -> Result<(Vec<RoomDoc>, Vec<UserId>), StoreError> {
        let rooms: Vec<RoomDoc> = self
            .rooms
            .find(doc! { "$or": [ { field::A: me }, { field::B: me } ] })
            .sort(doc! { field::SEQ: 1 })
            .await
            .map_err(doing("listing rooms"))?
            .try_collect()
            .await
            .map_err(doing("reading rooms"))?;
        let others = rooms
            .iter()
            .map(|room| room.other(me))
            .collect::<Result<_, _>>()?;
        Ok((rooms, others))
    }

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

    /// Where `user` stands in `room`: how many messages to `user` above its read position
    /// (`position`, a `seq`) are neither read nor deleted, and the room's newest message.
    /// Both are index range reads: the count walks the `unread` index (which holds only
    /// messages not read yet) from the position on, the newest message is the end of
    /// `(chatRoomId, seq)`; neither grows with the room's history.
    async fn room_summary(
        &self,
        user: &str,
        room: &str,
        position: Option<i64>,
    ) -> Result<(u64, Option<StoredMessage>), StoreError> {
        let count = async {
            self.messages
                .count_documents(unread_filter(user, room, position))
                .await
                .map_err(doing("counting unread messages"))
        };
        let newest = async {
            self.messages
                .find_one(doc! { field::ROOM: room })
                .sort(doc! { field::SEQ: -1 })
                .await
                .map_err(doing("reading a room's newest message"))?
                .map(MessageDoc::into_message)
                .transpose()
        };
        try_join(count, newest).await
    }

    /// Raises `reader`'s read position in `room` to `seq`, never lowering it (`$max`),
    /// creating it if it is the first.
    async fn raise_read_position(
        &self,
        reader: &UserId,
        room: &ChatRoomId,
        seq: i64,
    ) -> Result<(), StoreError> {
        let filter = doc! { field::READER: reader.as_str(), field::ROOM: room.as_str() };
        let update = doc! { "$max": { field::UP_TO: seq } };
        match self
            .reads
            .update_one(filter.clone(), update.clone())
            .upsert(true)
            .await
        {
            Ok(_) => Ok(()),
            // Two first reads racing to create the position: the server retries such an
            // upsert itself (4.2+), but should one still lose, the position now exists.
            Err(e) if is_duplicate_key(&e) => self
                .reads
                .update_one(filter, update)
                .await
                .map(|_| ())
                .map_err(doing("moving a read position")),
            Err(e) => Err(error::store_error("moving a read position", e)),
        }
    }

    /// One compare-and-set on a message that is not deleted (`deletedAt` null or absent):
    /// applies `update` and returns the message as now stored, or `None`.
    async fn update_unless_deleted(
        &self,
        id: &MessageId,
        update: Document,
        doing_what: &'static str,
    ) -> Result<Option<StoredMessage>, StoreError> {
        self.messages
            .find_one_and_update(
                doc! { field::ID: id.as_str(), field::DELETED_AT: Bson::Null },
                update,
            )
            .return_document(ReturnDocument::After)
            .await
            .map_err(doing(doing_what))?
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

/// The messages of `room` to `user` above its read position (a `seq`) that are neither
/// read nor deleted. It repeats the `unread` index's filter (`status` in `not_read()`),
/// without which the server would not use that index.
pub(crate) fn unread_filter(user: &str, room: &str, position: Option<i64>) -> Document {
    let mut filter = doc! {
        field::ROOM: room,
        field::TO: user,
        field::STATUS: { "$in": not_read() },
        field::DELETED_AT: Bson::Null,
    };
    if let Some(position) = position {
        filter.insert(field::SEQ, doc! { "$gt": position });
    }
    filter
}

/// The messages of `room` to `reader` numbered below `bound` that are not read yet,
/// through the `unread` index too.
pub(crate) fn to_read_filter(reader: &str, room: &str, bound: i64) -> Document {
    doc! {
        field::ROOM: room,
        field::TO: reader,
        field::STATUS: { "$in": not_read() },
        field::SEQ: { "$lt": bound },
    }
}

/// The oldest message owed to one recipient, as far as a claim needs it.
#[derive(Debug, serde::Deserialize)]
struct OwedHead {
    #[serde(rename = "_id")]
    id: String,
    #[serde(rename = "notifyDue")]
    due: i64,
    #[serde(rename = "notifyLeaseUntil", default)]
    lease_until: Option<i64>,
}

/// Message `id` if it owes a notification that is due at `now` and not leased (never
/// leased, lease cleared, or ended at or before `now`): what a claim checks again as it
/// takes the lease.
fn claimable(id: &str, now: i64) -> Document {
    doc! {
        field::ID: id,
        field::NOTIFY_DUE: { "$lte": now },
        "$or": [
            { field::NOTIFY_LEASE_UNTIL: Bson::Null },
            { field::NOTIFY_LEASE_UNTIL: { "$lte": now } },
        ],
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

    async fn link(&self, a: &UserId, b: &UserId, at: Timestamp) -> Result<LinkOutcome, StoreError> {
        if let Some(room) = self.find_room_doc(a, b, false).await? {
            return Ok(LinkOutcome {
                room: room.room(),
                created: false,
            });
        }
        let room = RoomDoc::new(self.next_seq(ROOMS).await?, a, b, at);
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

    /// Its cost follows the number of rooms and what is unread, never the history:
    /// the user's rooms (through `(a, seq)` and `(b, seq)`), then together the other
    /// members and the user's read positions, then per room an unread count and the
    /// newest message ([`MongoStore::room_summary`]), each an index range read, a few
    /// rooms at a time (`CONCURRENCY` reads in flight, within the driver's default pool
    /// of 10). Per-room reads rather than one aggregation: a `$group` taking each room's
    /// newest message (`$first` after a `$sort`) is not sure to be answered from the
    /// index's ends and may read the rooms whole, and a count above a position that
    /// differs per room does not fit one indexed `$match`.
    async fn contacts(&self, user: &UserId) -> Result<Vec<ContactRecord>, StoreError> {
        let me = user.as_str();
        let (rooms, others) = self.rooms_of(me).await?;
        if rooms.is_empty() {
            return Ok(Vec::new());
        }
        let other_ids: Vec<&str> = others.iter().map(UserId::as_str).collect();
        let users = async {
            self.users
                .find(doc! { field::ID: { "$in": &other_ids[..] } })
                .await
                .map_err(doing("listing contacts"))?
                .try_collect::<Vec<UserDoc>>()
                .await
                .map_err(doing("reading contacts"))
        };
        let positions = async {
            self.reads
                .find(doc! { field::READER: me })
                .await
                .map_err(doing("listing read positions"))?
                .try_collect::<Vec<ReadPositionDoc>>()
                .await
                .map_err(doing("reading read positions"))
        };
        // Who of them I block, and who blocks me: both on the blocks' indexes.
        let blocks = async {
            self.blocks
                .find(doc! { "$or": [
                    { field::BLOCKER: me, field::BLOCKED: { "$in": &other_ids[..] } },
                    { field::BLOCKED: me, field::BLOCKER: { "$in": &other_ids[..] } },
                ] })
                .await
                .map_err(doing("listing blocks"))?
                .try_collect::<Vec<BlockDoc>>()
                .await
                .map_err(doing("reading blocks"))
        };
        let ((users, positions), blocks) = try_join(try_join(users, positions), blocks).await?;
        let mut blocked = std::collections::HashSet::new();
        let mut blocked_by = std::collections::HashSet::new();
        for block in blocks {
            if block.blocker == me {
                blocked.insert(block.blocked);
            } else {
                blocked_by.insert(block.blocker);
            }
        }
        let mut last_online = HashMap::with_capacity(users.len());
        for found in users {
            let found = found.into_user()?;
            last_online.insert(found.id, found.last_online);
        }
        let positions: HashMap<String, i64> = positions
            .into_iter()
            .map(|p| (p.chat_room_id, p.up_to))
            .collect();
        let wanted: Vec<(String, Option<i64>)> = rooms
            .iter()
            .map(|room| (room.id.clone(), positions.get(&room.id).copied()))
            .collect();
        // Each room's two reads run together: CONCURRENCY reads in flight in all.
        let summaries: Vec<(u64, Option<StoredMessage>)> = stream::iter(wanted)
            .map(|(room, position)| async move { self.room_summary(me, &room, position).await })
            .buffered((CONCURRENCY / 2).max(1))
            .try_collect()
            .await?;
        rooms
            .iter()
            .zip(others)
            .zip(summaries)
            .map(|((room, other), (unread, last_message))| {
                Ok(ContactRecord {
                    last_online: last_online.get(&other).copied().flatten(),
                    blocked: blocked.contains(other.as_str()),
                    blocked_by: blocked_by.contains(other.as_str()),
                    user: other,
                    room: room.room(),
                    since: room.since()?,
                    unread,
                    last_message,
                })
            })
            .collect()
    }

    /// The rooms of `user` (on the pair's indexes) and its own blocks among them.
    async fn linked_users(&self, user: &UserId) -> Result<Vec<LinkedUser>, StoreError> {
        let me = user.as_str();
        let (rooms, others) = self.rooms_of(me).await?;
        if rooms.is_empty() {
            return Ok(Vec::new());
        }
        let other_ids: Vec<&str> = others.iter().map(UserId::as_str).collect();
        let blocked: std::collections::HashSet<String> = self
            .blocks
            .find(doc! { field::BLOCKER: me, field::BLOCKED: { "$in": &other_ids[..] } })
            .await
            .map_err(doing("listing blocks"))?
            .try_collect::<Vec<BlockDoc>>()
            .await
            .map_err(doing("reading blocks"))?
            .into_iter()
            .map(|block| block.blocked)
            .collect();
        Ok(others
            .into_iter()
            .map(|other| LinkedUser {
                blocked: blocked.contains(other.as_str()),
                user: other,
            })
            .collect())
    }

    /// Insert-then-catch-duplicate: the unique `(blocker, blocked)` index decides which of
    /// concurrent calls adds the block.
    async fn block(
        &self,
        blocker: &UserId,
        blocked: &UserId,
        at: Timestamp,
    ) -> Result<bool, StoreError> {
        let block = BlockDoc {
            blocker: blocker.as_str().to_owned(),
            blocked: blocked.as_str().to_owned(),
            since: at.millis(),
        };
        match self.blocks.insert_one(block).await {
            Ok(_) => Ok(true),
            Err(e) if is_duplicate_key(&e) => Ok(false),
            Err(e) => Err(doing("adding a block")(e)),
        }
    }

    async fn unblock(&self, blocker: &UserId, blocked: &UserId) -> Result<bool, StoreError> {
        let removed = self
            .blocks
            .delete_one(doc! { field::BLOCKER: blocker.as_str(), field::BLOCKED: blocked.as_str() })
            .await
            .map_err(doing("removing a block"))?;
        Ok(removed.deleted_count > 0)
    }

    /// Per recipient, only the oldest owed message may go: the recipients with one owed
    /// (a distinct scan of the `notify_to_seq` index) and each one's oldest (the first
    /// entry of its range there) are read first; those due and not leased are taken in
    /// id order, up to `limit`, each with one `findOneAndUpdate` whose filter checks
    /// again that it is owed, due and not leased. The server applies it to the one
    /// document atomically, so of concurrent claims exactly one gets it. A recipient's
    /// oldest stays the oldest until it is finished: a later message has a greater id.
    async fn claim_notifications(
        &self,
        claim: &NotificationClaim,
    ) -> Result<Vec<PendingNotification>, StoreError> {
        if claim.limit == 0 {
            return Ok(Vec::new());
        }
        let now = claim.now.millis();
        let recipients = self
            .messages
            .distinct(field::TO, all_owed())
            .await
            .map_err(doing("listing recipients owed a notification"))?;
        let heads = self.messages.clone_with_type::<OwedHead>();
        let heads: Vec<Option<OwedHead>> = stream::iter(recipients)
            .map(|to| {
                let mut filter = owed();
                filter.insert(field::TO, to);
                heads
                    .find_one(filter)
                    .sort(doc! { field::SEQ: 1 })
                    .projection(doc! {
                        field::ID: 1,
                        field::NOTIFY_DUE: 1,
                        field::NOTIFY_LEASE_UNTIL: 1,
                    })
                    .into_future()
            })
            .buffered(CONCURRENCY)
            .try_collect()
            .await
            .map_err(doing("finding the oldest notification owed"))?;
        let mut ready: Vec<String> = heads
            .into_iter()
            .flatten()
            .filter(|head| head.due <= now && head.lease_until.is_none_or(|until| until <= now))
            .map(|head| head.id)
            .collect();
        ready.sort_unstable();
        ready.truncate(claim.limit);
        let lease = doc! { "$set": {
            field::NOTIFY_OWNER: claim.owner.as_str(),
            field::NOTIFY_LEASE_UNTIL: claim.lease_until.millis(),
        } };
        let taken: Vec<Option<MessageDoc>> = stream::iter(ready)
            .map(|id| {
                self.messages
                    .find_one_and_update(claimable(&id, now), lease.clone())
                    .return_document(ReturnDocument::After)
                    .into_future()
            })
            .buffered(CONCURRENCY)
            .try_collect()
            .await
            .map_err(doing("leasing a notification"))?;
        taken
            .into_iter()
            .flatten()
            .map(MessageDoc::into_pending)
            .collect()
    }

    /// Removes every `notify*` field, whoever holds the lease: the message leaves the
    /// `notify_to_seq` index. On a message that owes nothing, a write that changes nothing.
    async fn finish_notification(&self, message: &MessageId) -> Result<(), StoreError> {
        self.messages
            .update_one(
                doc! { field::ID: message.as_str() },
                doc! { "$unset": {
                    field::NOTIFY_DUE: "",
                    field::NOTIFY_ATTEMPTS: "",
                    field::NOTIFY_OWNER: "",
                    field::NOTIFY_LEASE_UNTIL: "",
                } },
            )
            .await
            .map_err(doing("finishing a notification"))?;
        Ok(())
    }

    /// A compare-and-set on the lease's owner (and on the notification being owed), so
    /// that a server whose lease was taken over changes nothing.
    async fn retry_notification(
        &self,
        message: &MessageId,
        owner: &str,
        attempts: u32,
        due: Timestamp,
    ) -> Result<(), StoreError> {
        let mut filter = owed();
        filter.insert(field::ID, message.as_str());
        filter.insert(field::NOTIFY_OWNER, owner);
        self.messages
            .update_one(
                filter,
                doc! {
                    "$set": {
                        field::NOTIFY_ATTEMPTS: i64::from(attempts),
                        field::NOTIFY_DUE: due.millis(),
                    },
                    "$unset": { field::NOTIFY_OWNER: "", field::NOTIFY_LEASE_UNTIL: "" },
                },
            )
            .await
            .map_err(doing("scheduling a notification again"))?;
        Ok(())
    }

    async fn pending_notifications(&self) -> Result<u64, StoreError> {
        self.messages
            .count_documents(all_owed())
            .await
            .map_err(doing("counting notifications owed"))
    }

    async fn blocks_between(&self, a: &UserId, b: &UserId) -> Result<Blocks, StoreError> {
        let (a, b) = (a.as_str(), b.as_str());
        let found: Vec<BlockDoc> = self
            .blocks
            .find(doc! { "$or": [
                { field::BLOCKER: a, field::BLOCKED: b },
                { field::BLOCKER: b, field::BLOCKED: a },
            ] })
            .await
            .map_err(doing("finding blocks"))?
            .try_collect()
            .await
            .map_err(doing("reading blocks"))?;
        Ok(Blocks {
            a_blocks_b: found.iter().any(|x| x.blocker == a && x.blocked == b),
            b_blocks_a: found.iter().any(|x| x.blocker == b && x.blocked == a),
        })
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

    /// First every message of the room to `reader` up to `up_to` that is not read yet,
    /// in one `update_many` through the `unread` index (a backlog is one write, and costs
    /// what is unread); then the read position, with `$max`. Each message moves in one
    /// atomic document write whose filter is checked again as it is written, so
    /// concurrent calls move each message once and the counts add up; the position ends
    /// at the furthest. A message inserted meanwhile has a greater number than `up_to`,
    /// a stored message of the room, and is outside the range. The position is written
    /// second so that it never runs ahead of the messages: an unread count, which reads
    /// above the position, then never misses one, even if this call fails between the
    /// two writes (a retry finishes it). Without a transaction, another reader may see
    /// the messages move one by one; none of them moves back.
    async fn read_up_to(
        &self,
        reader: &UserId,
        room: &ChatRoomId,
        up_to: &MessageId,
        at: Timestamp,
    ) -> Result<usize, StoreError> {
        // Ids up to and including `up_to`, compared as strings, are those numbered below
        // this; a number past i64 is past every stored one.
        let bound = i64::try_from(sequence::above(up_to.as_str())).unwrap_or(i64::MAX);
        if bound <= 0 {
            return Ok(0);
        }
        let moved = self
            .messages
            .update_many(
                to_read_filter(reader.as_str(), room.as_str(), bound),
                doc! { "$set": {
                    field::STATUS: MessageStatus::Read.as_str(),
                    field::READ_AT: at.millis(),
                } },
            )
            .await
            .map_err(doing("marking messages read"))?;
        self.raise_read_position(reader, room, bound - 1).await?;
        Ok(usize::try_from(moved.modified_count).unwrap_or(usize::MAX))
    }

    /// A compare-and-set against `deletedAt`: an edit racing a delete either lands
    /// before it (and the delete then erases the edited text) or finds the message
    /// deleted and changes nothing. Either way it ends deleted.
    async fn edit_message(
        &self,
        id: &MessageId,
        text: &MessageText,
        at: Timestamp,
    ) -> Result<Option<StoredMessage>, StoreError> {
        self.update_unless_deleted(
            id,
            doc! { "$set": { field::TEXT: text.as_str(), field::EDITED_AT: at.millis() } },
            "editing a message",
        )
        .await
    }

    /// The text is overwritten with `""` in the message's document; everything else
    /// (status, readAt, editedAt, clientMessageId) stays, so a retried send still finds
    /// its message.
    async fn delete_message(
        &self,
        id: &MessageId,
        at: Timestamp,
    ) -> Result<Option<StoredMessage>, StoreError> {
        self.update_unless_deleted(
            id,
            doc! { "$set": { field::TEXT: "", field::DELETED_AT: at.millis() } },
            "deleting a message",
        )
        .await
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
