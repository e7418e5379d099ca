//! What chatzz's SQL stores share, as tower-sessions-stores' `sqlx-store` does for its
//! stores: the store itself ([`SqlStore`], the `ChatStore` port written once, generic
//! over a [`Dialect`]), the mapping of rows to the port's types (`rows`), group commit
//! with a typed reply per write ([`Writers`], on the writers of `group_commit`) and the parts
//! of a batch both dialects run alike (`batch`), the room cache ([`KnownRooms`]) and
//! the common parts of a user directory (`directory`).
//!
//! A dialect (`chatzz-store-sqlite`, `chatzz-store-postgres`) supplies only its SQL
//! text ([`Statements`]), the classification of its errors, how it opens and migrates a
//! database, and its writers with their fast paths.
//!
//! Every rule of the port lives in the database and holds for every connection: one
//! room per pair and one message per sender and client message id are unique indexes
//! hit by `INSERT ... ON CONFLICT DO NOTHING`, status changes are single conditional
//! `UPDATE`s. `insert_message`, `mark_sent` and `read_up_to` are group-committed:
//! concurrent calls share one transaction. A read position per (reader, room) lives in
//! a table of its own (see the migrations), and unread counts walk a partial index of
//! the messages not read yet, from that position: their cost follows what is unread,
//! not the history. A notification owed about a message (offline notifications) lives on
//! the message's own row, written by the insert that creates it, and is claimed under a
//! lease by one conditional `UPDATE` over a partial index of what is owed.

pub mod batch;
pub mod directory;
mod group_commit;
mod rooms;
pub mod rows;
mod writers;

#[cfg(feature = "testing")]
pub mod testing;

use std::fmt::Debug;
use std::future::Future;
use std::sync::Arc;

use async_trait::async_trait;
use chatzz_core::notification::{NotificationClaim, PendingNotification};
use chatzz_core::{
    Blocks, ChatRoomId, ChatStore, ChatUser, ContactRecord, HistoryQuery, Inserted, LinkOutcome,
    LinkedUser, MessageId, MessageText, NewMessage, StoreError, StoreNames, StoredMessage,
    Timestamp, UserId, sequence,
};
use sqlx::error::DatabaseError;
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::{
    AssertSqlSafe, ColumnIndex, Database, Decode, Encode, Executor, IntoArguments, Pool, Row,
    SqlSafeStr, Type,
};

pub use batch::Failed;
pub use group_commit::{Answer, Committer, Done, Op, Run, StatusChanges, Writer};
pub use rooms::KnownRooms;
pub use writers::{Batches, Writers};

use rows::{bound, messages_from, row_id, seq_id, sorted_pair, time};

/// The columns of a message row, as `rows::message_from` reads them.
pub const MESSAGE_COLUMNS: &str = "id, room_id, sender, recipient, body, status, created_at_ms, \
     read_at_ms, client_message_id, edited_at_ms, deleted_at_ms";

/// One SQL database's part of the store.
pub trait Dialect: Debug + Clone + Send + Sync + 'static {
    /// The sqlx driver.
    type Db: Database;
    /// The column type of `status`.
    type Status: for<'r> Decode<'r, Self::Db> + Type<Self::Db> + Into<i64>;
    /// The statements only this dialect runs (its writers' fast paths).
    type Extra: Debug + Send + Sync + 'static;

    /// Named in errors ("the SQLite writer has stopped").
    const NAME: &'static str;

    /// Most writes committed in one batch.
    const MAX_BATCH: usize;

    /// A statement run on the connection of each edit and delete before it, so that the
    /// text it replaces is erased from the database file (SQLite's `secure_delete`): the
    /// store may run on a pool the host application opened without it.
    const BEFORE_ERASE: Option<&'static str> = None;

    /// A statement run on the same connection after each edit and delete that changed
    /// something, so that the replaced text leaves the write-ahead log too (SQLite's
    /// `wal_checkpoint(TRUNCATE)`); its failure is logged, the edit stands.
    const AFTER_ERASE: Option<&'static str> = None;

    /// Whether a database error says "not now" rather than "never".
    fn retryable(err: &dyn DatabaseError) -> bool;

    /// Maps driver errors: what a retry may fix (I/O, the pool, and the database errors
    /// [`retryable`](Self::retryable) accepts) is `Unavailable`, the rest `Internal`.
    fn store_error(err: sqlx::Error) -> StoreError {
        match &err {
            sqlx::Error::Io(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed => StoreError::Unavailable(err.to_string()),
            sqlx::Error::Database(db) if Self::retryable(&**db) => {
                StoreError::Unavailable(err.to_string())
            }
            _ => StoreError::Internal(err.to_string()),
        }
    }

    /// The rows a statement changed.
    fn affected(result: &<Self::Db as Database>::QueryResult) -> u64;

    /// Whether a database error of one entry of a batch may have ended the transaction
    /// (or the connection), so that nothing after it can be trusted.
    fn fatal(err: &dyn DatabaseError) -> bool;

    /// A pool for `url`, as [`SqlStore::connect`] opens one.
    fn open(url: &str) -> impl Future<Output = Result<Pool<Self::Db>, StoreError>> + Send;

    /// Brings the schema of `pool`'s database up to date.
    fn migrate(
        pool: &Pool<Self::Db>,
        names: &StoreNames,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Every statement, with the table names spliced in once.
    fn statements(names: &StoreNames) -> Statements<Self::Extra>;

    /// Starts the writers that group-commit `insert_message`, `mark_sent` and
    /// `read_up_to` over `pool`; they live as long as the store and its clones.
    fn start(
        pool: &Pool<Self::Db>,
        sql: &Arc<Statements<Self::Extra>>,
    ) -> Result<Writers, StoreError>;

    /// Commits `ops` (one batch) and answers each, in order; `Err` when the whole batch
    /// failed, and then `conn` is not used again.
    fn commit(
        conn: &mut <Self::Db as Database>::Connection,
        sql: &Statements<Self::Extra>,
        ops: &[&Op],
    ) -> impl Future<Output = Result<Vec<Answer>, StoreError>> + Send;

    /// One `mark_sent` entry on its own (a batch's careful path), or a run of them
    /// merged (a batch with reads, in queue order): moves those of `ids` (sorted, no
    /// duplicates) that are `not_sent`, and returns them in id order.
    fn mark_sent(
        conn: &mut <Self::Db as Database>::Connection,
        sql: &Statements<Self::Extra>,
        ids: &[i64],
    ) -> impl Future<Output = Result<Vec<StoredMessage>, Failed>> + Send;
}

/// Every statement of a store, with the table names spliced in once: those the shared
/// code runs, and the dialect's own (`dialect`).
#[derive(Debug)]
pub struct Statements<X> {
    pub register_user: String,
    pub find_user: String,
    pub set_last_online: String,
    /// Inserts the sorted pair created at `?3`, returning the new room's `id`, or nothing.
    pub link: String,
    pub find_room: String,
    /// One row per room of a user, in creation order: `room`, `other`,
    /// `last_online_ms`, `since_ms` (the room's `created_at_ms`), `unread`, `blocked`
    /// and `blocked_by` (1 or 0), and the room's newest message as `MESSAGE_COLUMNS`
    /// (all NULL when it has none).
    pub contacts: String,
    /// One row per room of user `?1`, in creation order: `other`, and `blocked` (1 or
    /// 0) whether `?1` blocks them.
    pub linked_users: String,
    /// Adds the block of `?2` by `?1` since `?3` unless there is one (1 row changed
    /// when added).
    pub block: String,
    /// Removes the block of `?2` by `?1` (1 row changed when there was one).
    pub unblock: String,
    /// `ab` and `ba` (1 or 0): whether `?1` blocks `?2`, and `?2` blocks `?1`.
    pub blocks_between: String,
    /// One message (room, sender, recipient, body, created_at_ms, client_message_id,
    /// notify_due_ms: `batch::notify_due`), returning its row, or nothing for a known
    /// client message id.
    pub insert_message: String,
    pub find_by_client_id: String,
    pub find_message: String,
    /// Moves the position of (room `?1`, reader `?2`) to `?3` unless it is further.
    pub read_position: String,
    /// Reads at `?4` the messages of room `?1` to `?2` with ids up to `?3` not read yet.
    pub read_up_to: String,
    /// Sets the text (`?2`) and `edited_at_ms` (`?3`) of message `?1` unless deleted,
    /// returning its row.
    pub edit_message: String,
    /// Erases the text of message `?1` and sets `deleted_at_ms` (`?2`) unless deleted,
    /// returning its row.
    pub delete_message: String,
    pub history_newest: String,
    pub history_oldest: String,
    pub undelivered: String,
    /// Leases to owner `?1` until `?3` the notifications due at `?2` (at most `?4`, the
    /// oldest owed of each recipient, lease free or ended), in one statement, returning
    /// `MESSAGE_COLUMNS` and `notify_attempts` (a 64-bit integer).
    pub claim_notifications: String,
    /// Clears the notification owed about message `?1`, whoever holds its lease.
    pub finish_notification: String,
    /// Sets the failed attempts (`?3`) and the due time (`?4`) of the notification about
    /// message `?1` and frees its lease, if owner `?2` holds it.
    pub retry_notification: String,
    /// `pending` (a 64-bit integer): how many notifications are owed.
    pub pending_notifications: String,
    pub dialect: X,
}

/// `text` as a statement: table names come from a validated `StoreNames`, values are
/// always bound.
pub fn sql(text: &str) -> AssertSqlSafe<String> {
    AssertSqlSafe(text.to_owned())
}

/// The migrator of `migrations` (version, description, SQL with `{prefix}` for the
/// table prefix), recording them in the table `names` gives.
pub fn migrator(names: &StoreNames, migrations: &[(i64, &str, &str)]) -> Migrator {
    let migrations = migrations
        .iter()
        .map(|(version, description, sql)| {
            Migration::new(
                *version,
                (*description).to_owned().into(),
                MigrationType::Simple,
                AssertSqlSafe(names.expand(sql)).into_sql_str(),
                false,
            )
        })
        .collect();
    let mut migrator = Migrator::with_migrations(migrations);
    migrator.dangerous_set_table_name(names.migrations());
    migrator
}

/// A store on an SQL database. Clones share one pool and one set of writers.
#[derive(Debug)]
pub struct SqlStore<D: Dialect> {
    pool: Pool<D::Db>,
    sql: Arc<Statements<D::Extra>>,
    writer: Writers,
    rooms: Arc<KnownRooms>,
}

impl<D: Dialect> Clone for SqlStore<D> {
    fn clone(&self) -> Self {
        Self {
            pool: self.pool.clone(),
            sql: Arc::clone(&self.sql),
            writer: self.writer.clone(),
            rooms: Arc::clone(&self.rooms),
        }
    }
}

impl<D: Dialect> SqlStore<D> {
    /// Opens the database at `url` (a pool as the dialect opens one) and brings its
    /// schema up to date.
    pub async fn connect(url: &str, names: StoreNames) -> Result<Self, StoreError> {
        Self::new(D::open(url).await?, names).await
    }

    /// Uses an existing pool and brings its schema up to date. It starts the writers
    /// that commit `insert_message`, `mark_sent` and `read_up_to` in batches, which live
    /// as long as the store and its clones (PostgreSQL's run on the current tokio
    /// runtime, so this must run inside one; SQLite's has a thread of its own).
    pub async fn new(pool: Pool<D::Db>, names: StoreNames) -> Result<Self, StoreError> {
        D::migrate(&pool, &names).await?;
        let sql = Arc::new(D::statements(&names));
        let writer = D::start(&pool, &sql)?;
        Ok(Self {
            pool,
            sql,
            writer,
            rooms: Arc::default(),
        })
    }

    /// The pool, for closing it or sharing it with the host application.
    pub fn pool(&self) -> &Pool<D::Db> {
        &self.pool
    }

    /// How many batches the group commit has written so far (one transaction or
    /// statement each, whatever number of `insert_message`, `mark_sent` and `read_up_to`
    /// calls it carried).
    pub fn write_batches(&self) -> u64 {
        self.writer.batches()
    }

    /// The store's statements, for the dialect's tests.
    #[doc(hidden)]
    pub fn statements(&self) -> &Statements<D::Extra> {
        &self.sql
    }
}

impl<D: Dialect> SqlStore<D>
where
    for<'c> &'c mut <D::Db as Database>::Connection: Executor<'c, Database = D::Db>,
    <D::Db as Database>::Arguments: IntoArguments<D::Db>,
{
    /// A connection of the pool, set up by [`Dialect::BEFORE_ERASE`] to erase what it
    /// overwrites.
    async fn erasing_connection(&self) -> Result<sqlx::pool::PoolConnection<D::Db>, StoreError> {
        let mut conn = self.pool.acquire().await.map_err(D::store_error)?;
        if let Some(statement) = D::BEFORE_ERASE {
            sqlx::query(sql(statement))
                .execute(&mut *conn)
                .await
                .map_err(D::store_error)?;
        }
        Ok(conn)
    }

    /// Runs [`Dialect::AFTER_ERASE`] on `conn`, which just overwrote a text.
    async fn erased(conn: &mut sqlx::pool::PoolConnection<D::Db>) {
        if let Some(statement) = D::AFTER_ERASE
            && let Err(err) = sqlx::query(sql(statement)).execute(&mut **conn).await
        {
            tracing::warn!(error = %err, "the old text may stay in the write-ahead log");
        }
    }
}

#[async_trait]
impl<D: Dialect> ChatStore for SqlStore<D>
where
    for<'c> &'c mut <D::Db as Database>::Connection: Executor<'c, Database = D::Db>,
    for<'q> i64: Encode<'q, D::Db> + Decode<'q, D::Db> + Type<D::Db>,
    for<'q> &'q str: Encode<'q, D::Db> + Type<D::Db> + ColumnIndex<<D::Db as Database>::Row>,
    for<'r> String: Decode<'r, D::Db> + Type<D::Db>,
    for<'q> Option<&'q str>: Encode<'q, D::Db> + Type<D::Db>,
    <D::Db as Database>::Arguments: IntoArguments<D::Db>,
{
    async fn register_user(&self, user: &UserId) -> Result<ChatUser, StoreError> {
        sqlx::query(sql(&self.sql.register_user))
            .bind(user.as_str())
            .execute(&self.pool)
            .await
            .map_err(D::store_error)?;
        self.find_user(user)
            .await?
            .ok_or_else(|| StoreError::Internal(format!("user {user} vanished after insert")))
    }

    async fn find_user(&self, user: &UserId) -> Result<Option<ChatUser>, StoreError> {
        let row = sqlx::query(sql(&self.sql.find_user))
            .bind(user.as_str())
            .fetch_optional(&self.pool)
            .await
            .map_err(D::store_error)?;
        row.map(|row| {
            let last_online: Option<i64> = row.try_get("last_online_ms").map_err(D::store_error)?;
            Ok(ChatUser {
                id: user.clone(),
                last_online: last_online.map(time).transpose()?,
            })
        })
        .transpose()
    }

    async fn set_last_online(&self, user: &UserId, at: Timestamp) -> Result<(), StoreError> {
        sqlx::query(sql(&self.sql.set_last_online))
            .bind(user.as_str())
            .bind(at.millis())
            .execute(&self.pool)
            .await
            .map_err(D::store_error)?;
        Ok(())
    }

    async fn link(&self, a: &UserId, b: &UserId, at: Timestamp) -> Result<LinkOutcome, StoreError> {
        let (low, high) = sorted_pair(a, b);
        // A concurrent insert of the pair makes this one wait for it and then do nothing.
        let created = sqlx::query(sql(&self.sql.link))
            .bind(low)
            .bind(high)
            .bind(at.millis())
            .fetch_optional(&self.pool)
            .await
            .map_err(D::store_error)?;
        if let Some(row) = created {
            let id: i64 = row.try_get("id").map_err(D::store_error)?;
            let room = ChatRoomId::new(seq_id(id)?);
            self.rooms.remember(low, high, &room);
            return Ok(LinkOutcome {
                room,
                created: true,
            });
        }
        let room = self
            .find_room(a, b)
            .await?
            .ok_or_else(|| StoreError::Internal(format!("room of {a} and {b} vanished")))?;
        Ok(LinkOutcome {
            room,
            created: false,
        })
    }

    async fn find_room(&self, a: &UserId, b: &UserId) -> Result<Option<ChatRoomId>, StoreError> {
        let (low, high) = sorted_pair(a, b);
        if let Some(room) = self.rooms.get(low, high) {
            return Ok(Some(room));
        }
        let row = sqlx::query(sql(&self.sql.find_room))
            .bind(low)
            .bind(high)
            .fetch_optional(&self.pool)
            .await
            .map_err(D::store_error)?;
        let id: Option<i64> = row
            .map(|row| row.try_get("id"))
            .transpose()
            .map_err(D::store_error)?;
        let room = id.map(|id| seq_id(id).map(ChatRoomId::new)).transpose()?;
        if let Some(room) = &room {
            self.rooms.remember(low, high, room);
        }
        Ok(room)
    }

    async fn contacts(&self, user: &UserId) -> Result<Vec<ContactRecord>, StoreError> {
        let rows = sqlx::query(sql(&self.sql.contacts))
            .bind(user.as_str())
            .fetch_all(&self.pool)
            .await
            .map_err(D::store_error)?;
        rows.iter().map(rows::contact_from::<D>).collect()
    }

    async fn linked_users(&self, user: &UserId) -> Result<Vec<LinkedUser>, StoreError> {
        let rows = sqlx::query(sql(&self.sql.linked_users))
            .bind(user.as_str())
            .fetch_all(&self.pool)
            .await
            .map_err(D::store_error)?;
        rows.iter()
            .map(|row| {
                let other: String = row.try_get("other").map_err(D::store_error)?;
                let blocked: i64 = row.try_get("blocked").map_err(D::store_error)?;
                Ok(LinkedUser {
                    user: rows::user_of(other)?,
                    blocked: blocked != 0,
                })
            })
            .collect()
    }

    async fn block(
        &self,
        blocker: &UserId,
        blocked: &UserId,
        at: Timestamp,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(sql(&self.sql.block))
            .bind(blocker.as_str())
            .bind(blocked.as_str())
            .bind(at.millis())
            .execute(&self.pool)
            .await
            .map_err(D::store_error)?;
        Ok(D::affected(&done) > 0)
    }

    async fn unblock(&self, blocker: &UserId, blocked: &UserId) -> Result<bool, StoreError> {
        let done = sqlx::query(sql(&self.sql.unblock))
            .bind(blocker.as_str())
            .bind(blocked.as_str())
            .execute(&self.pool)
            .await
            .map_err(D::store_error)?;
        Ok(D::affected(&done) > 0)
    }

    // Notifications are rare next to sends and touch few rows: straight to the pool,
    // as `block` and edits are, not through the writers. A claim is one statement, so
    // its lease is taken atomically (see the dialects' SQL for how concurrent claims
    // never share a row).
    async fn claim_notifications(
        &self,
        claim: &NotificationClaim,
    ) -> Result<Vec<PendingNotification>, StoreError> {
        if claim.limit == 0 {
            return Ok(Vec::new());
        }
        let rows = sqlx::query(sql(&self.sql.claim_notifications))
            .bind(claim.owner.as_str())
            .bind(claim.now.millis())
            .bind(claim.lease_until.millis())
            .bind(i64::try_from(claim.limit).unwrap_or(i64::MAX))
            .fetch_all(&self.pool)
            .await
            .map_err(D::store_error)?;
        let mut claimed = rows
            .iter()
            .map(|row| {
                let attempts: i64 = row.try_get("notify_attempts").map_err(D::store_error)?;
                Ok(PendingNotification {
                    message: rows::message_from::<D>(row)?,
                    attempts: u32::try_from(attempts).map_err(|_| {
                        StoreError::Internal(format!("bad notification attempts {attempts}"))
                    })?,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        // RETURNING promises no order.
        claimed.sort_by(|a, b| a.message.id.cmp(&b.message.id));
        Ok(claimed)
    }

    async fn finish_notification(&self, message: &MessageId) -> Result<(), StoreError> {
        let Some(id) = row_id(message.as_str()) else {
            return Ok(());
        };
        sqlx::query(sql(&self.sql.finish_notification))
            .bind(id)
            .execute(&self.pool)
            .await
            .map_err(D::store_error)?;
        Ok(())
    }

    async fn retry_notification(
        &self,
        message: &MessageId,
        owner: &str,
        attempts: u32,
        due: Timestamp,
    ) -> Result<(), StoreError> {
        let Some(id) = row_id(message.as_str()) else {
            return Ok(());
        };
        // The column is a 32-bit integer on PostgreSQL; no schedule gets near it.
        let attempts = i64::from(attempts).min(i64::from(i32::MAX));
        sqlx::query(sql(&self.sql.retry_notification))
            .bind(id)
            .bind(owner)
            .bind(attempts)
            .bind(due.millis())
            .execute(&self.pool)
            .await
            .map_err(D::store_error)?;
        Ok(())
    }

    async fn pending_notifications(&self) -> Result<u64, StoreError> {
        let row = sqlx::query(sql(&self.sql.pending_notifications))
            .fetch_one(&self.pool)
            .await
            .map_err(D::store_error)?;
        let pending: i64 = row.try_get("pending").map_err(D::store_error)?;
        u64::try_from(pending)
            .map_err(|_| StoreError::Internal(format!("negative notification count {pending}")))
    }

    async fn blocks_between(&self, a: &UserId, b: &UserId) -> Result<Blocks, StoreError> {
        let row = sqlx::query(sql(&self.sql.blocks_between))
            .bind(a.as_str())
            .bind(b.as_str())
            .fetch_one(&self.pool)
            .await
            .map_err(D::store_error)?;
        let flag = |col: &str| row.try_get::<i64, _>(col).map(|v| v != 0);
        Ok(Blocks {
            a_blocks_b: flag("ab").map_err(D::store_error)?,
            b_blocks_a: flag("ba").map_err(D::store_error)?,
        })
    }

    async fn insert_message(&self, message: NewMessage) -> Result<Inserted, StoreError> {
        let room = row_id(message.room.as_str())
            .ok_or_else(|| StoreError::Internal(format!("unknown room {}", message.room)))?;
        let (message, created) = self.writer.insert(room, message).await?;
        Ok(Inserted { message, created })
    }

    async fn find_message(&self, id: &MessageId) -> Result<Option<StoredMessage>, StoreError> {
        let Some(id) = row_id(id.as_str()) else {
            return Ok(None);
        };
        let row = sqlx::query(sql(&self.sql.find_message))
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(D::store_error)?;
        row.as_ref().map(rows::message_from::<D>).transpose()
    }

    async fn mark_sent(&self, ids: &[MessageId]) -> Result<Vec<StoredMessage>, StoreError> {
        let mut ids: Vec<i64> = ids.iter().filter_map(|id| row_id(id.as_str())).collect();
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        ids.sort_unstable();
        ids.dedup();
        self.writer.mark_sent(ids).await
    }

    async fn read_up_to(
        &self,
        reader: &UserId,
        room: &ChatRoomId,
        up_to: &MessageId,
        at: Timestamp,
    ) -> Result<usize, StoreError> {
        let (Some(room), Some(up_to)) = (row_id(room.as_str()), row_id(up_to.as_str())) else {
            return Ok(0);
        };
        self.writer
            .read_up_to(room, reader.clone(), up_to, at.millis())
            .await
    }

    // Edits and deletes are rare and touch one row: straight to the pool, not through
    // the writers. Each is one conditional `UPDATE`, so an edit racing a delete either
    // runs first (and the delete then erases it) or finds the row deleted.
    async fn edit_message(
        &self,
        id: &MessageId,
        text: &MessageText,
        at: Timestamp,
    ) -> Result<Option<StoredMessage>, StoreError> {
        let Some(id) = row_id(id.as_str()) else {
            return Ok(None);
        };
        let mut conn = self.erasing_connection().await?;
        let row = sqlx::query(sql(&self.sql.edit_message))
            .bind(id)
            .bind(text.as_str())
            .bind(at.millis())
            .fetch_optional(&mut *conn)
            .await
            .map_err(D::store_error)?;
        if row.is_some() {
            Self::erased(&mut conn).await;
        }
        row.as_ref().map(rows::message_from::<D>).transpose()
    }

    async fn delete_message(
        &self,
        id: &MessageId,
        at: Timestamp,
    ) -> Result<Option<StoredMessage>, StoreError> {
        let Some(id) = row_id(id.as_str()) else {
            return Ok(None);
        };
        let mut conn = self.erasing_connection().await?;
        let row = sqlx::query(sql(&self.sql.delete_message))
            .bind(id)
            .bind(at.millis())
            .fetch_optional(&mut *conn)
            .await
            .map_err(D::store_error)?;
        if row.is_some() {
            Self::erased(&mut conn).await;
        }
        row.as_ref().map(rows::message_from::<D>).transpose()
    }

    async fn history(
        &self,
        room: &ChatRoomId,
        query: &HistoryQuery,
    ) -> Result<Vec<StoredMessage>, StoreError> {
        let Some(room) = row_id(room.as_str()) else {
            return Ok(Vec::new());
        };
        let low = query
            .after
            .as_ref()
            .map_or(0, |after| bound(sequence::above(after.as_str())));
        let high = query
            .before
            .as_ref()
            .map_or(i64::MAX, |before| bound(sequence::below(before.as_str())));
        let since = query.since.map_or(i64::MIN, Timestamp::millis);
        let statement = if query.after.is_some() {
            &self.sql.history_oldest
        } else {
            &self.sql.history_newest
        };
        let rows = sqlx::query(sql(statement))
            .bind(room)
            .bind(low)
            .bind(high)
            .bind(since)
            .bind(i64::try_from(query.limit).unwrap_or(i64::MAX))
            .fetch_all(&self.pool)
            .await
            .map_err(D::store_error)?;
        let mut page = messages_from::<D>(&rows)?;
        if query.after.is_none() {
            page.reverse();
        }
        Ok(page)
    }

    async fn undelivered(
        &self,
        to: &UserId,
        per_sender: usize,
        total: usize,
    ) -> Result<Vec<StoredMessage>, StoreError> {
        let rows = sqlx::query(sql(&self.sql.undelivered))
            .bind(to.as_str())
            .bind(i64::try_from(per_sender).unwrap_or(i64::MAX))
            .bind(i64::try_from(total).unwrap_or(i64::MAX))
            .fetch_all(&self.pool)
            .await
            .map_err(D::store_error)?;
        messages_from::<D>(&rows)
    }
}
