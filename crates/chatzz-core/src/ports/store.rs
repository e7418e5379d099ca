use async_trait::async_trait;

use crate::id::{ChatRoomId, MessageId, UserId};
use crate::message::{HistoryQuery, Inserted, MessageText, NewMessage, StoredMessage};
use crate::notification::{NotificationClaim, PendingNotification};
use crate::time::Timestamp;
use crate::user::{Blocks, ChatUser, ContactRecord, LinkOutcome, LinkedUser};

/// Why a store call failed. Every method returns one of these and nothing else.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// The store cannot be reached or timed out; the call may be retried. A write that
    /// reports this may or may not have happened, so writes are idempotent where the
    /// protocol needs retries (`insert_message` with a client message id, `link`).
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// The store answered with something it should never have (corrupt data, a bug).
    #[error("store failed: {0}")]
    Internal(String),
}

/// Where chats live. Every rule about uniqueness and order is the store's to enforce
/// atomically (never read-then-write), so that it holds with many server processes.
/// A method documented as returning "nothing changed" must not fail in that case.
#[cfg_attr(any(test, feature = "testing"), mockall::automock)]
#[async_trait]
pub trait ChatStore: Send + Sync + 'static {
    /// Records that `user` exists (idempotent) and returns it as stored.
    async fn register_user(&self, user: &UserId) -> Result<ChatUser, StoreError>;

    /// The stored user, or `None` if it never registered.
    async fn find_user(&self, user: &UserId) -> Result<Option<ChatUser>, StoreError>;

    /// Sets when `user` last went offline. A user never registered is registered first.
    async fn set_last_online(&self, user: &UserId, at: Timestamp) -> Result<(), StoreError>;

    /// Gives the pair `{a, b}` its one room: creates it (`created: true`, created `at`)
    /// or returns the existing one. Order of `a` and `b` does not matter; concurrent
    /// calls for the same pair create exactly one room. `a != b` is the caller's to check.
    async fn link(&self, a: &UserId, b: &UserId, at: Timestamp) -> Result<LinkOutcome, StoreError>;

    /// The room of the pair `{a, b}`, if linked.
    async fn find_room(&self, a: &UserId, b: &UserId) -> Result<Option<ChatRoomId>, StoreError>;

    /// Everyone `user` shares a room with, in the order the rooms were created, each
    /// with that user's `last_online`, the room's creation time, `user`'s unread count
    /// (messages to `user` not `read` and not deleted), the room's newest message, and
    /// whether `user` blocks that contact and whether it blocks `user`.
    /// Its cost must not grow with the rooms' history: the unread count comes from
    /// `user`'s read position (an index range above it), the newest message from the
    /// end of the room's index.
    async fn contacts(&self, user: &UserId) -> Result<Vec<ContactRecord>, StoreError>;

    /// Everyone `user` shares a room with, in the order the rooms were created, and
    /// whether `user` blocks them: what a presence change needs, without the unread
    /// counts and newest messages of [`contacts`](Self::contacts).
    async fn linked_users(&self, user: &UserId) -> Result<Vec<LinkedUser>, StoreError>;

    /// Stores a message as `not_sent`, or as `sent` if `message.sent` (in the same write:
    /// it never shows as undelivered), assigning an id greater than every id already in
    /// its room. With a client message id that the same sender already used, stores
    /// nothing and returns the first message, not `created`; concurrent calls with the
    /// same (sender, client message id) store exactly one.
    async fn insert_message(&self, message: NewMessage) -> Result<Inserted, StoreError>;

    /// The message with this id, if any.
    async fn find_message(&self, id: &MessageId) -> Result<Option<StoredMessage>, StoreError>;

    /// Moves each listed message that is `not_sent` to `sent` (compare-and-set) and
    /// returns exactly those it moved, as now stored, in id order. Unknown ids and
    /// messages already `sent` or `read` are left alone.
    async fn mark_sent(&self, ids: &[MessageId]) -> Result<Vec<StoredMessage>, StoreError>;

    /// Moves `reader`'s read position in `room` forward to `up_to` (never back) and, in
    /// the same atomic write, moves to `read` with `read_at = at` every message of the
    /// room addressed to `reader` with an id up to and including `up_to` that is not
    /// `read` yet; returns how many it moved (0: nothing changed). Concurrent calls end
    /// at the furthest position; a message inserted while this runs has a greater id
    /// and is never marked. `up_to` is the id of a stored message of `room`.
    async fn read_up_to(
        &self,
        reader: &UserId,
        room: &ChatRoomId,
        up_to: &MessageId,
        at: Timestamp,
    ) -> Result<usize, StoreError>;

    /// Replaces the text of the message and sets `edited_at = at`, unless it is deleted
    /// (compare-and-set against a concurrent delete, so an edit racing a delete ends
    /// deleted); returns it as now stored, `None` when nothing changed (unknown id, or
    /// deleted).
    async fn edit_message(
        &self,
        id: &MessageId,
        text: &MessageText,
        at: Timestamp,
    ) -> Result<Option<StoredMessage>, StoreError>;

    /// Makes the message a tombstone: erases its text from storage (`""`), sets
    /// `deleted_at = at` and keeps everything else; returns it as now stored, `None`
    /// when nothing changed (unknown id, or already deleted).
    async fn delete_message(
        &self,
        id: &MessageId,
        at: Timestamp,
    ) -> Result<Option<StoredMessage>, StoreError>;

    /// The room's messages selected by `query`, oldest first (see [`HistoryQuery`]).
    async fn history(
        &self,
        room: &ChatRoomId,
        query: &HistoryQuery,
    ) -> Result<Vec<StoredMessage>, StoreError>;

    /// Messages addressed to `to` that are still `not_sent`, in id order: per sender at
    /// most `per_sender` of them, the oldest, and of those at most `total`, the lowest
    /// ids. Each sender's share is thus its oldest undelivered messages, so a client can
    /// page the rest `after` the last one without a hole.
    async fn undelivered(
        &self,
        to: &UserId,
        per_sender: usize,
        total: usize,
    ) -> Result<Vec<StoredMessage>, StoreError>;

    /// Records that `blocker` blocks `blocked` (protocol 1.1), whether or not they share
    /// a room; `true` when this call added the block, `false` when it was there already
    /// (concurrent calls add it once). `blocker != blocked` is the caller's to check.
    async fn block(
        &self,
        blocker: &UserId,
        blocked: &UserId,
        at: Timestamp,
    ) -> Result<bool, StoreError>;

    /// Removes `blocker`'s block of `blocked`; `true` when there was one.
    async fn unblock(&self, blocker: &UserId, blocked: &UserId) -> Result<bool, StoreError>;

    /// Who blocks whom between `a` and `b`, each way.
    async fn blocks_between(&self, a: &UserId, b: &UserId) -> Result<Blocks, StoreError>;

    /// Claims the notifications due at `claim.now` (protocol: offline notifications):
    /// those of messages inserted with [`NewMessage::notify`], not finished, scheduled
    /// at or before `now`, whose lease is free or ended at or before `now`. Only the oldest
    /// unfinished notification of each recipient is ever claimable (so they go out in
    /// store order per recipient, one at a time), at most `claim.limit` in message id
    /// order. Each is leased to `claim.owner` until `claim.lease_until` atomically: two
    /// concurrent claims never both get one. Nothing due: an empty list.
    async fn claim_notifications(
        &self,
        claim: &NotificationClaim,
    ) -> Result<Vec<PendingNotification>, StoreError>;

    /// The notification about `message` is done (accepted, or dropped after its
    /// retries): it is never claimed again, whoever holds its lease. Nothing owed
    /// (done already, or never owed): nothing changed.
    async fn finish_notification(&self, message: &MessageId) -> Result<(), StoreError>;

    /// The attempt of `owner` failed: records `attempts` failed attempts so far and
    /// frees the notification to be claimed again at `due`, if `owner` still holds its
    /// lease (else nothing changed: another server took it over).
    async fn retry_notification(
        &self,
        message: &MessageId,
        owner: &str,
        attempts: u32,
        due: Timestamp,
    ) -> Result<(), StoreError>;

    /// How many notifications are owed and not finished (for metrics).
    async fn pending_notifications(&self) -> Result<u64, StoreError>;

    /// Whether other processes see what this store holds (a database), or only this
    /// one (an in-memory store). Servers of one cluster must share their store, so
    /// joining a cluster refuses a store that says `false`.
    fn is_shared(&self) -> bool {
        true
    }
}
