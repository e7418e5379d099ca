//! A MongoDB [`ChatStore`] for chatzz (MongoDB 6.0 and later, official `mongodb` 3.x
//! driver): chats survive restarts and any number of server processes can share one
//! database. Every rule of the port about uniqueness is enforced by the server itself —
//! unique indexes, insert-then-catch-duplicate and compare-and-set filters — never by
//! reading first and writing after; order within a room by a transaction or a room lock
//! (see the end).
//!
//! Six collections, named from [`StoreNames`] (default prefix `chatzz_`):
//!
//! - `{prefix}users`: `{_id: userId, lastOnline?: millis}`.
//! - `{prefix}rooms`: `{_id, seq, a, b, createdAt?}` with the pair sorted (`a < b`); a
//!   unique index on `(a, b)` gives each pair one room; `(a, seq)` and `(b, seq)` list a
//!   user's rooms in creation order. `createdAt` is absent on rooms from before 1.1.
//! - `{prefix}messages`: `{_id, seq, chatRoomId, from, to, message, status, createdAt,
//!   readAt?, clientMessageId?, prev?, editedAt?, deletedAt?}`; a unique index on
//!   `(from, clientMessageId)`, partial on `clientMessageId` existing, makes retried
//!   sends idempotent; `(chatRoomId, seq)` serves history and a room's newest message,
//!   `(to, status, from, seq)` the undelivered messages; `(chatRoomId, to, seq)`, partial
//!   on `status` being `not_sent` or `sent`, holds only messages not read yet, so that
//!   unread counts and reading up to a message cost what is unread, not the history; a
//!   unique index on `(chatRoomId, prev)`, partial on `prev` existing, fences inserts
//!   made without a transaction (below). A deleted message keeps its document, with
//!   `message: ""` (the text erased) and `deletedAt` set. The offline notification owed
//!   about a message, if any, is kept on it (`notifyDue?, notifyAttempts?, notifyOwner?,
//!   notifyLeaseUntil?`), so the insert itself records it; `(to, seq)`, partial on
//!   `notifyDue` existing, holds only what is owed (see `claim_notifications` in
//!   `store.rs`).
//! - `{prefix}read_positions`: `{reader, chatRoomId, upTo}`, unique on `(reader,
//!   chatRoomId)`: how far each reader has read each room (the `seq` of a message),
//!   only ever raised with `$max`.
//! - `{prefix}blocks`: `{blocker, blocked, since}`, unique on `(blocker, blocked)` (an
//!   insert that meets the index finds the block there already); `(blocked, blocker)`
//!   finds who blocks a user.
//! - `{prefix}counters`: `{_id: "rooms" | "messages", seq}`, the last number handed out.
//! - `{prefix}room_locks`: `{_id: roomId, owner?, until}`, the lease lock of a room that
//!   has had a message inserted without a transaction.
//!
//! Upgrading: documents written before version 1.1 lack the new fields, which read as
//! absent (`since`, `editedAt`, `deletedAt`: `None`; no read position: every message not
//! `read` is unread; no `notifyDue`: nothing owed); the new indexes and collection are
//! created at startup. Nothing is rewritten.
//!
//! Message and room ids are 20-digit zero-padded sequence numbers
//! ([`chatzz_core::sequence`]) taken from a counter with an atomic `$inc`, so that
//! comparing ids as strings is comparing creation order; the number is also stored as
//! `seq`, and cursors are translated into bounds on it. Times are stored as epoch
//! milliseconds. Counters and indexes are created at startup, idempotently.
//!
//! Order within a room: the port promises each new message an id greater than every id
//! already in its room, so that a client catching up with `after = last id seen` never
//! skips one. A number taken first and inserted afterwards would break that: two
//! concurrent sends into one room could become visible out of number order. On a replica
//! set or behind `mongos` (told apart at startup with `hello`), `insert_message` therefore
//! runs as one multi-document transaction that first writes the room's document (bumping
//! its `inserts`), then takes the number, then inserts. Transactions writing one document
//! conflict, so inserts into one room take turns, and each takes its number only after the
//! previous one has committed, as the PostgreSQL adapter does with a room row lock.
//! Different rooms do not conflict: the counter is advanced outside the transaction (a
//! number spent by an aborted attempt is a harmless gap).
//!
//! A standalone server has no transactions. There `insert_message` takes turns through
//! a lease lock per room, a document in `{prefix}room_locks` taken with one atomic
//! upsert (its `_id` index lets only one acquirer win) and released whatever happens;
//! an insert that finds its room locked retries with jittered backoff for up to 5 s,
//! then fails as `Unavailable`. Holding the lock, it reads the number of the room's last
//! message, takes a number, and inserts the message with `prev` set to that last number.
//! The insert runs in a task of its own, so that a caller giving up (a store timeout)
//! does not leave the lock held. The lease, 30 s, frees the room of a process that died
//! holding it (until then sends into that room fail); it is well above the server's
//! default store timeout (10 s), and a live holder stops by itself before it runs out
//! (it checks before each step, and gives up once 20 s have passed). A holder stalled
//! inside one MongoDB call past its lease would still break the turn-taking, so the
//! insert is also fenced: the unique index on `(chatRoomId, prev)` lets only one message
//! follow each message, and a stale insert is refused and starts again. A message can
//! thus only become visible after the room's last one, under a greater number, whatever
//! the lease and the processes' clocks do ([`Transactions`]).
//!
//! The inbox (protocol 1.1) needs no transaction: reading up to a message is one
//! `update_many` over the room's unread messages to the reader, then a `$max` on the
//! reader's position (see `read_up_to` in `store.rs`); an edit or a delete is one
//! compare-and-set on a message whose `deletedAt` is unset; a contact list reads, per
//! room, an unread count above the position and the newest message, both from indexes.
//!
//! Where things are: `schema.rs` creates the indexes and counters and asks the server
//! whether it runs transactions; `documents.rs` holds the BSON documents and their
//! conversion to the domain's types; `ordered_insert.rs` the two ways of inserting a
//! message in room order, with `room_lock.rs` the lease lock of the one without
//! transactions; `store.rs` implements the [`ChatStore`] port;
//! `directory.rs` is the [`MongoUserDirectory`].
//!
//! [`ChatStore`]: chatzz_core::ChatStore

mod directory;
mod documents;
mod error;
mod ordered_insert;
mod room_lock;
mod schema;
mod store;
#[cfg(test)]
mod tests;

use chatzz_core::{StoreError, StoreNames};
use mongodb::options::ClientOptions;
use mongodb::{Client, Collection, Database};

use crate::documents::{BlockDoc, CounterDoc, MessageDoc, ReadPositionDoc, RoomDoc, UserDoc};
use crate::error::doing;
use crate::room_lock::RoomLocks;
use crate::schema::supports_transactions;

pub use directory::MongoUserDirectory;

/// How many single-document operations one call keeps in flight at once.
const CONCURRENCY: usize = 8;

/// The counters' ids.
const ROOMS: &str = "rooms";
const MESSAGES: &str = "messages";

/// Whether `insert_message` runs in a transaction that holds the message's room (see the
/// crate documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Transactions {
    /// Ask the server at startup (`hello`): a replica set member (`setName`) or a
    /// `mongos` (`msg: "isdbgrid"`) gets transactions; a standalone server does not, and
    /// takes turns through a lease lock per room instead.
    #[default]
    Detect,
    /// Always: the server must support multi-document transactions.
    Always,
    /// Never: inserts into one room take turns through the room's lease lock in
    /// `{prefix}room_locks`, fenced by the unique index on `(chatRoomId, prev)` (see the
    /// crate documentation). Every process sharing a database must take the same path.
    Never,
}

/// The MongoDB store. Cheap to clone: the driver's handles share one connection pool.
#[derive(Debug, Clone)]
pub struct MongoStore {
    client: Client,
    users: Collection<UserDoc>,
    rooms: Collection<RoomDoc>,
    messages: Collection<MessageDoc>,
    counters: Collection<CounterDoc>,
    reads: Collection<ReadPositionDoc>,
    blocks: Collection<BlockDoc>,
    locks: RoomLocks,
    transactions: bool,
}

impl MongoStore {
    /// Connects to `url` (`mongodb://host:port/DBNAME`, any driver option in the query
    /// string) and uses the database its path names; then as [`MongoStore::new`].
    pub async fn connect(url: &str, names: StoreNames) -> Result<Self, StoreError> {
        // The URL is not echoed in errors: it may hold a password.
        let options = ClientOptions::parse(url)
            .await
            .map_err(doing("reading the connection URL"))?;
        let Some(database) = options.default_database.clone() else {
            return Err(StoreError::Internal(
                "the MongoDB URL names no database: use mongodb://host:port/DBNAME".into(),
            ));
        };
        let client = Client::with_options(options).map_err(doing("creating the client"))?;
        Self::new(client.database(&database), names).await
    }

    /// Uses the collections of `db` named by `names`, creating their indexes and
    /// counters if they are missing (safe to run from many processes at once), and uses
    /// transactions if the server supports them ([`Transactions::Detect`]).
    pub async fn new(db: Database, names: StoreNames) -> Result<Self, StoreError> {
        Self::with_transactions(db, names, Transactions::Detect).await
    }

    /// As [`MongoStore::new`], with the choice of transactions made by the caller.
    pub async fn with_transactions(
        db: Database,
        names: StoreNames,
        transactions: Transactions,
    ) -> Result<Self, StoreError> {
        let mut store = Self {
            client: db.client().clone(),
            users: db.collection(&names.users()),
            rooms: db.collection(&names.rooms()),
            messages: db.collection(&names.messages()),
            counters: db.collection(&names.expand("{prefix}counters")),
            reads: db.collection(&names.expand("{prefix}read_positions")),
            blocks: db.collection(&names.expand("{prefix}blocks")),
            locks: RoomLocks::new(db.collection(&names.expand("{prefix}room_locks"))),
            transactions: false,
        };
        store.create_indexes().await?;
        store.create_counter(ROOMS, &store.rooms).await?;
        store.create_counter(MESSAGES, &store.messages).await?;
        store.transactions = match transactions {
            Transactions::Detect => supports_transactions(&db).await?,
            Transactions::Always => true,
            Transactions::Never => false,
        };
        if !store.transactions {
            tracing::info!(
                database = db.name(),
                locks = names.expand("{prefix}room_locks"),
                "MongoDB without transactions (a standalone server, or turned off): message \
                 inserts into one room take turns through a lease lock per room. A process \
                 that dies while holding one blocks sends into that room for up to {:?}; \
                 see docs/storage.md.",
                room_lock::LEASE
            );
        }
        Ok(store)
    }

    /// Whether `insert_message` runs in a transaction holding the room, rather than
    /// holding the room's lease lock (see [`Transactions`]).
    pub fn uses_transactions(&self) -> bool {
        self.transactions
    }
}
