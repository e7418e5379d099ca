//! A MongoDB [`ChatStore`] for chatzz (MongoDB 6.0 and later, official `mongodb` 3.x
//! driver): chats survive restarts and any number of server processes can share one
//! database. Every rule of the port about uniqueness is enforced by the server itself —
//! unique indexes, insert-then-catch-duplicate and compare-and-set filters — never by
//! reading first and writing after; order within a room by a transaction or a room lock
//! (see the end).
//!
//! Five collections, named from [`StoreNames`] (default prefix `chatzz_`):
//!
//! - `{prefix}users`: `{_id: userId, lastOnline?: millis}`.
//! - `{prefix}rooms`: `{_id, seq, a, b}` with the pair sorted (`a < b`); a unique index
//!   on `(a, b)` gives each pair one room; `(a, seq)` and `(b, seq)` list a user's rooms
//!   in creation order.
//! - `{prefix}messages`: `{_id, seq, chatRoomId, from, to, message, status, createdAt,
//!   readAt?, clientMessageId?, prev?}`; a unique index on `(from, clientMessageId)`,
//!   partial on `clientMessageId` existing, makes retried sends idempotent;
//!   `(chatRoomId, seq)` serves history and `(to, status, from, seq)` the undelivered
//!   messages; a unique index on `(chatRoomId, prev)`, partial on `prev` existing, fences
//!   inserts made without a transaction (below).
//! - `{prefix}counters`: `{_id: "rooms" | "messages", seq}`, the last number handed out.
//! - `{prefix}room_locks`: `{_id: roomId, owner?, until}`, the lease lock of a room that
//!   has had a message inserted without a transaction.
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

mod directory;
mod docs;
mod error;
mod room_lock;

use std::time::Instant;

use async_trait::async_trait;
use chatzz_core::{
    ChatRoomId, ChatStore, ChatUser, ContactRecord, HistoryQuery, LinkOutcome, MessageId,
    MessageStatus, NewMessage, StoreError, StoreNames, StoredMessage, Timestamp, UserId, sequence,
};
use futures_util::{StreamExt, TryStreamExt, stream};
use mongodb::bson::{Document, doc};
use mongodb::options::{
    ClientOptions, IndexOptions, ReadConcern, ReadPreference, ReturnDocument, TransactionOptions,
    WriteConcern,
};
use mongodb::{Client, ClientSession, Collection, Database, IndexModel};

use crate::docs::{CounterDoc, MessageDoc, Numbered, RoomDoc, UserDoc, field};
use crate::error::{doing, is_duplicate_key};
use crate::room_lock::{Lease, RoomLocks};

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

    async fn create_indexes(&self) -> Result<(), StoreError> {
        let index = |name: &str, keys: Document, unique: bool| {
            IndexModel::builder()
                .keys(keys)
                .options(
                    IndexOptions::builder()
                        .name(name.to_owned())
                        .unique(unique.then_some(true))
                        .build(),
                )
                .build()
        };
        self.rooms
            .create_indexes([
                index("pair", doc! { field::A: 1, field::B: 1 }, true),
                index("a_seq", doc! { field::A: 1, field::SEQ: 1 }, false),
                index("b_seq", doc! { field::B: 1, field::SEQ: 1 }, false),
            ])
            .await
            .map_err(doing("creating the rooms' indexes"))?;
        // The fence of inserts made without a transaction: one successor per message.
        let chain = IndexModel::builder()
            .keys(doc! { field::ROOM: 1, field::PREV: 1 })
            .options(
                IndexOptions::builder()
                    .name("chatRoomId_prev".to_owned())
                    .unique(true)
                    .partial_filter_expression(doc! { field::PREV: { "$exists": true } })
                    .build(),
            )
            .build();
        let client_id = IndexModel::builder()
            .keys(doc! { field::FROM: 1, field::CLIENT_MESSAGE_ID: 1 })
            .options(
                IndexOptions::builder()
                    .name("from_clientMessageId".to_owned())
                    .unique(true)
                    .partial_filter_expression(
                        doc! { field::CLIENT_MESSAGE_ID: { "$exists": true } },
                    )
                    .build(),
            )
            .build();
        self.messages
            .create_indexes([
                client_id,
                chain,
                index(
                    "chatRoomId_seq",
                    doc! { field::ROOM: 1, field::SEQ: 1 },
                    false,
                ),
                index(
                    "to_status_from_seq",
                    doc! { field::TO: 1, field::STATUS: 1, field::FROM: 1, field::SEQ: 1 },
                    false,
                ),
            ])
            .await
            .map_err(doing("creating the messages' indexes"))?;
        Ok(())
    }

    /// Makes sure counter `name` exists and is at least the highest `seq` in `numbered`,
    /// so that a lost or restored counter never hands out a number twice.
    async fn create_counter<T: Send + Sync>(
        &self,
        name: &str,
        numbered: &Collection<T>,
    ) -> Result<(), StoreError> {
        let fresh = CounterDoc {
            id: name.to_owned(),
            seq: 0,
        };
        match self.counters.insert_one(&fresh).await {
            Ok(_) => {}
            Err(e) if is_duplicate_key(&e) => {}
            Err(e) => return Err(error::store_error("creating a counter", e)),
        }
        // Ids are the zero-padded numbers, so the greatest `_id` has the greatest `seq`,
        // and the `_id` index finds it without a scan.
        let highest = numbered
            .clone_with_type::<Numbered>()
            .find_one(doc! {})
            .sort(doc! { field::ID: -1 })
            .projection(doc! { field::SEQ: 1 })
            .await
            .map_err(doing("reading the highest sequence number"))?;
        if let Some(Numbered { seq: highest }) = highest {
            self.counters
                .update_one(
                    doc! { field::ID: name },
                    doc! { "$max": { field::SEQ: highest } },
                )
                .await
                .map_err(doing("raising a counter"))?;
        }
        Ok(())
    }

    /// The next number of counter `name`: one atomic `$inc` on the server.
    async fn next_seq(&self, name: &str) -> Result<i64, StoreError> {
        let counter = self
            .counters
            .find_one_and_update(
                doc! { field::ID: name },
                doc! { "$inc": { field::SEQ: 1_i64 } },
            )
            .upsert(true)
            .return_document(ReturnDocument::After)
            .await
            .map_err(doing("taking a sequence number"))?
            .ok_or_else(|| StoreError::Internal(format!("counter {name:?} vanished")))?;
        if counter.seq <= 0 {
            return Err(StoreError::Internal(format!(
                "counter {name:?} is at {}",
                counter.seq
            )));
        }
        Ok(counter.seq)
    }

    /// Inserts `template` under a fresh number in one transaction that first writes the
    /// room's document. A concurrent insert into the same room writes that document too,
    /// so the server lets only one of them hold it until it commits or aborts; the other
    /// fails with a write conflict (`TransientTransactionError`) and the driver's
    /// convenient-transaction loop retries it with backoff, as it does a commit whose
    /// result is unknown (`UnknownTransactionCommitResult`). The number is taken after
    /// the room is held, so it is greater than that of every message already committed
    /// to the room, and every message still to come takes a greater one. The counter is
    /// advanced outside the transaction, so that inserts into different rooms never
    /// conflict; an attempt that aborts leaves a gap in the numbers, which is harmless.
    /// Errors of the adapter's own come back as [`mongodb::error::Error::custom`].
    async fn insert_holding_the_room(
        &self,
        template: &MessageDoc,
    ) -> Result<MessageDoc, mongodb::error::Error> {
        let mut session = self.client.start_session().await?;
        let options = TransactionOptions::builder()
            .read_concern(ReadConcern::snapshot())
            .write_concern(WriteConcern::majority())
            .build();
        session
            .start_transaction()
            .with_options(options)
            .and_run(
                (self, template),
                |session: &mut ClientSession, (store, template)| {
                    Box::pin(async move {
                        let held = store
                            .rooms
                            .update_one(
                                doc! { field::ID: template.chat_room_id.as_str() },
                                doc! { "$inc": { field::INSERTS: 1_i64 } },
                            )
                            .session(&mut *session)
                            .await?;
                        if held.matched_count == 0 {
                            return Err(mongodb::error::Error::custom(StoreError::Internal(
                                format!("no room {:?} to insert into", template.chat_room_id),
                            )));
                        }
                        let seq = store
                            .next_seq(MESSAGES)
                            .await
                            .map_err(mongodb::error::Error::custom)?;
                        let doc = template.numbered(seq);
                        store
                            .messages
                            .insert_one(&doc)
                            .session(&mut *session)
                            .await?;
                        Ok(doc)
                    })
                },
            )
            .await
    }

    /// Inserts `template` under a fresh number without a transaction, taking turns with
    /// every other insert into its room through the room's lease lock
    /// ([`room_lock`]): holding it, reads the number of the room's last message, then
    /// takes a number, then inserts the message as that one's successor (`prev`), and
    /// releases the lock whatever happened. The unique index on `(chatRoomId, prev)`
    /// fences the insert: should another insert have followed the same message meanwhile
    /// (this one's lease ran out while it stalled, or a clock running ahead took it over),
    /// this one is refused and starts again, so a message can only ever become visible
    /// after the room's last one, under a greater number. A duplicate client id returns
    /// the first message with `false`, as on the transactional path.
    async fn insert_taking_turns(
        &self,
        template: &MessageDoc,
        from: &UserId,
        client_id: Option<&str>,
    ) -> Result<(StoredMessage, bool), StoreError> {
        let room = template.chat_room_id.as_str();
        let deadline = Instant::now() + room_lock::WAIT;
        loop {
            let lease = self.locks.acquire(room, deadline).await?;
            let attempt = self.insert_after_the_last(template, &lease).await;
            lease.release().await;
            let (error, prev) = match attempt {
                Ok(doc) => return Ok((doc.into_message()?, true)),
                Err(Refused::Store(e)) => return Err(e),
                Err(Refused::Duplicate(error, prev)) => (error, prev),
            };
            // The unique (from, clientMessageId) index refused it: a concurrent call
            // with the same client id stored the message first.
            if let Some(cid) = client_id
                && let Some(existing) = self.find_by_client_id(from, cid, true).await?
            {
                return Ok((existing, false));
            }
            // The fence refused it: start again after the room's new last message.
            if self.has_successor(room, prev).await? {
                if Instant::now() >= deadline {
                    return Err(StoreError::Unavailable(format!(
                        "MongoDB: inserts into room {room} kept overtaking this one"
                    )));
                }
                tracing::debug!(room, prev, "a message insert was fenced off; retrying");
                continue;
            }
            return Err(StoreError::Internal(format!(
                "message id taken twice ({error})"
            )));
        }
    }

    /// One attempt of [`MongoStore::insert_taking_turns`], holding `lease`. The room's
    /// last message is read before the number is taken: a message already visible has
    /// had its number, so the new one is greater.
    async fn insert_after_the_last(
        &self,
        template: &MessageDoc,
        lease: &Lease,
    ) -> Result<MessageDoc, Refused> {
        lease.check()?;
        let last = self
            .messages
            .clone_with_type::<Numbered>()
            .find_one(doc! { field::ROOM: template.chat_room_id.as_str() })
            .sort(doc! { field::SEQ: -1 })
            .projection(doc! { field::SEQ: 1 })
            .selection_criteria(ReadPreference::Primary.into())
            .await
            .map_err(doing("reading a room's last message"))?;
        let prev = last.map_or(0, |Numbered { seq }| seq);
        let seq = self.next_seq(MESSAGES).await?;
        lease.check()?;
        let doc = template.following(prev, seq);
        match self.messages.insert_one(&doc).await {
            Ok(_) => Ok(doc),
            Err(e) if is_duplicate_key(&e) => Err(Refused::Duplicate(e, prev)),
            Err(e) => Err(Refused::Store(error::store_error("inserting a message", e))),
        }
    }

    /// Whether a message of `room` follows the one numbered `prev` (read from the primary,
    /// to see the write that a unique index just reported).
    async fn has_successor(&self, room: &str, prev: i64) -> Result<bool, StoreError> {
        let found = self
            .messages
            .clone_with_type::<Document>()
            .find_one(doc! { field::ROOM: room, field::PREV: prev })
            .projection(doc! { field::ID: 1 })
            .selection_criteria(ReadPreference::Primary.into())
            .await
            .map_err(doing("finding a message by its predecessor"))?;
        Ok(found.is_some())
    }

    async fn find_room_doc(
        &self,
        a: &UserId,
        b: &UserId,
        primary: bool,
    ) -> Result<Option<RoomDoc>, StoreError> {
        let (a, b) = docs::sorted(a, b);
        let mut find = self.rooms.find_one(doc! { field::A: a, field::B: b });
        if primary {
            find = find.selection_criteria(ReadPreference::Primary.into());
        }
        find.await.map_err(doing("finding a room"))
    }

    /// The message `from` sent with client id `client_id`, if any. `primary` reads from
    /// the primary, to see a write that a unique index just reported.
    async fn find_by_client_id(
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

    async fn find_messages(
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

/// Why one attempt of a message insert without a transaction failed.
enum Refused {
    /// A unique index refused the message, which followed the message numbered `.1`.
    Duplicate(mongodb::error::Error, i64),
    Store(StoreError),
}

impl From<StoreError> for Refused {
    fn from(e: StoreError) -> Self {
        Self::Store(e)
    }
}

/// Whether the server behind `db` runs multi-document transactions: a replica set member
/// answers `hello` with its `setName`, a `mongos` with `msg: "isdbgrid"`; a standalone
/// server with neither.
async fn supports_transactions(db: &Database) -> Result<bool, StoreError> {
    let hello = db
        .run_command(doc! { "hello": 1 })
        .await
        .map_err(doing("asking the server what it is (hello)"))?;
    Ok(hello.get_str("setName").is_ok() || hello.get_str("msg") == Ok("isdbgrid"))
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

    async fn insert_message(
        &self,
        message: NewMessage,
    ) -> Result<(StoredMessage, bool), StoreError> {
        let client_id = message
            .client_message_id
            .as_ref()
            .map(|c| c.as_str().to_owned());
        let from = message.from.clone();
        // A retry usually finds its message here, without spending a number.
        if let Some(cid) = &client_id
            && let Some(existing) = self.find_by_client_id(&from, cid, false).await?
        {
            return Ok((existing, false));
        }
        let template = MessageDoc::new(0, message);
        if !self.transactions {
            // In a task of its own: should this call be given up on (a store timeout),
            // the insert still finishes, and releases its room's lock, without waiting
            // for the lease to run out. The task itself ends within the lease.
            let store = self.clone();
            return tokio::spawn(async move {
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
            .map_err(|e| StoreError::Internal(format!("MongoDB, inserting a message: {e}")))?;
        }
        match self.insert_holding_the_room(&template).await {
            Ok(doc) => Ok((doc.into_message()?, true)),
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
                Ok((existing, false))
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
