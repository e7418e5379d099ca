//! The SQLite storage adapter of chatzz, its embedded default: one database file in WAL
//! mode with `synchronous = FULL`, so a write is on disk before the call returns and an
//! acked message survives a crash or `kill -9`. Uniqueness (one room per pair, one
//! message per sender and client message id) lives in unique indexes and status
//! changes are single conditional `UPDATE`s, so the rules hold for every connection.
//! `insert_message`, `mark_sent` and `mark_read` are group-committed: concurrent calls
//! share one transaction, and so one fsync (`writer.rs`, on the queue of
//! `chatzz-group-commit`).
//! The schema is in `migrations/`, applied at startup with table names from
//! [`StoreNames`].

mod directory;
mod writer;

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chatzz_core::{
    ChatRoomId, ChatStore, ChatUser, ClientMessageId, ContactRecord, HistoryQuery, LinkOutcome,
    MessageId, MessageStatus, NewMessage, StoreError, StoreNames, StoredMessage, Timestamp, UserId,
    sequence,
};
use chatzz_group_commit::{Done, KnownRooms, Op, Writer};
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};
use sqlx::{AssertSqlSafe, Row, SqlSafeStr};

pub use directory::SqliteUserDirectory;

/// The schema, oldest first; `{prefix}` stands for the table prefix.
const MIGRATIONS: &[(i64, &str, &str)] =
    &[(1, "init", include_str!("../migrations/0001_init.sql"))];

/// Pool connections: SQLite writes one at a time, reads run beside it in WAL mode.
const MAX_CONNECTIONS: u32 = 4;

/// The SQLite store. Clones share one pool and one writer.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    sql: Arc<Queries>,
    writer: Writer,
    rooms: Arc<KnownRooms>,
}

impl SqliteStore {
    /// Opens (creating if missing) the database at `url` (`sqlite://PATH` or
    /// `sqlite:PATH`) and brings its schema up to date.
    pub async fn connect(url: &str, names: StoreNames) -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::from_str(url)
            .map_err(|e| StoreError::Internal(format!("bad SQLite URL {url:?}: {e}")))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(5))
            .foreign_keys(true)
            // The writer alone prepares about 140 statements (one per batch chunk size);
            // sqlx's default cache of 100 would keep re-preparing some of them.
            .statement_cache_capacity(256);
        let pool = SqlitePoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .acquire_timeout(Duration::from_secs(5))
            .connect_with(options)
            .await
            .map_err(store_error)?;
        Self::new(pool, names).await
    }

    /// Uses an existing pool and brings its schema up to date. It starts the thread that
    /// commits `insert_message`, `mark_sent` and `mark_read` in batches (see
    /// `writer.rs`), which lives as long as the store and its clones.
    pub async fn new(pool: SqlitePool, names: StoreNames) -> Result<Self, StoreError> {
        migrate(&pool, &names).await?;
        let sql = Arc::new(Queries::new(&names));
        let writer = writer::spawn(pool.clone(), Arc::clone(&sql))?;
        Ok(Self {
            pool,
            sql,
            writer,
            rooms: Arc::default(),
        })
    }

    /// The pool, for closing it or sharing it with the host application.
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// How many batches the group commit has written so far (one transaction each,
    /// whatever number of `insert_message`, `mark_sent` and `mark_read` calls it
    /// carried).
    pub fn write_batches(&self) -> u64 {
        self.writer.batches()
    }
}

async fn migrate(pool: &SqlitePool, names: &StoreNames) -> Result<(), StoreError> {
    let migrations = MIGRATIONS
        .iter()
        .map(|(version, description, sql)| {
            Migration::new(
                *version,
                (*description).into(),
                MigrationType::Simple,
                AssertSqlSafe(names.expand(sql)).into_sql_str(),
                false,
            )
        })
        .collect();
    let mut migrator = Migrator::with_migrations(migrations);
    migrator.dangerous_set_table_name(names.migrations());
    migrator
        .run(pool)
        .await
        .map_err(|e| StoreError::Internal(format!("SQLite migration failed: {e}")))
}

/// Every statement, with the table names spliced in once.
#[derive(Debug, Clone)]
struct Queries {
    register_user: String,
    find_user: String,
    set_last_online: String,
    link: String,
    find_room: String,
    contacts: String,
    /// `insert_values[n - 1]` inserts `n` messages.
    insert_values: Vec<String>,
    /// `mark_sent[n - 1]` marks `n` ids.
    mark_sent: Vec<String>,
    /// `mark_read_values[n - 1]` reads `n` messages, each with its own time.
    mark_read_values: Vec<String>,
    find_by_client_id: String,
    find_message: String,
    mark_read: String,
    history_newest: String,
    history_oldest: String,
    undelivered: String,
}

const MESSAGE_COLUMNS: &str =
    "id, room_id, sender, recipient, body, status, created_at_ms, read_at_ms, client_message_id";

impl Queries {
    fn new(names: &StoreNames) -> Self {
        let (users, rooms, messages) = (names.users(), names.rooms(), names.messages());
        let cols = MESSAGE_COLUMNS;
        Self {
            register_user: format!(
                "INSERT INTO {users} (id) VALUES (?1) ON CONFLICT (id) DO NOTHING"
            ),
            find_user: format!("SELECT id, last_online_ms FROM {users} WHERE id = ?1"),
            set_last_online: format!(
                "INSERT INTO {users} (id, last_online_ms) VALUES (?1, ?2) \
                 ON CONFLICT (id) DO UPDATE SET last_online_ms = excluded.last_online_ms"
            ),
            link: format!(
                "INSERT INTO {rooms} (user_a, user_b) VALUES (?1, ?2) \
                 ON CONFLICT (user_a, user_b) DO NOTHING RETURNING id"
            ),
            find_room: format!("SELECT id FROM {rooms} WHERE user_a = ?1 AND user_b = ?2"),
            contacts: format!(
                "SELECT r.id, r.other, u.last_online_ms \
                 FROM (SELECT id, CASE WHEN user_a = ?1 THEN user_b ELSE user_a END AS other \
                       FROM {rooms} WHERE user_a = ?1 OR user_b = ?1) r \
                 LEFT JOIN {users} u ON u.id = r.other ORDER BY r.id"
            ),
            // Rows are numbered in the order listed (tested): the writer relies on it.
            insert_values: (1..=writer::INSERT_CHUNK)
                .map(|n| {
                    let rows = vec!["(?, ?, ?, ?, ?, ?)"; n].join(", ");
                    format!(
                        "INSERT INTO {messages} (room_id, sender, recipient, body, created_at_ms, client_message_id) \
                         VALUES {rows} \
                         ON CONFLICT (sender, client_message_id) WHERE client_message_id IS NOT NULL DO NOTHING \
                         RETURNING {cols}"
                    )
                })
                .collect(),
            mark_sent: (1..=writer::MARK_CHUNK)
                .map(|n| {
                    let ids = vec!["?"; n].join(", ");
                    format!(
                        "UPDATE {messages} SET status = 1 WHERE status = 0 AND id IN ({ids}) RETURNING {cols}"
                    )
                })
                .collect(),
            // `UPDATE ... FROM` needs SQLite 3.33 (bundled: 3.51); each row is found by
            // its key.
            mark_read_values: (1..=writer::READ_CHUNK)
                .map(|n| {
                    let reads = vec!["(?, ?)"; n].join(", ");
                    format!(
                        "UPDATE {messages} SET status = 2, read_at_ms = v.column2 \
                         FROM (VALUES {reads}) AS v \
                         WHERE {messages}.id = v.column1 AND {messages}.status < 2 RETURNING {cols}"
                    )
                })
                .collect(),
            find_by_client_id: format!(
                "SELECT {cols} FROM {messages} WHERE sender = ?1 AND client_message_id = ?2"
            ),
            find_message: format!("SELECT {cols} FROM {messages} WHERE id = ?1"),
            mark_read: format!(
                "UPDATE {messages} SET status = 2, read_at_ms = ?2 WHERE id = ?1 AND status < 2 RETURNING {cols}"
            ),
            history_newest: format!(
                "SELECT {cols} FROM {messages} WHERE room_id = ?1 AND id >= ?2 AND id < ?3 \
                 AND created_at_ms >= ?4 ORDER BY id DESC LIMIT ?5"
            ),
            history_oldest: format!(
                "SELECT {cols} FROM {messages} WHERE room_id = ?1 AND id >= ?2 AND id < ?3 \
                 AND created_at_ms >= ?4 ORDER BY id ASC LIMIT ?5"
            ),
            // The window walks the partial index alone (ids only); only the `total`
            // rows chosen are read whole.
            undelivered: format!(
                "SELECT {cols} FROM {messages} WHERE id IN (SELECT id FROM \
                 (SELECT id, ROW_NUMBER() OVER (PARTITION BY sender ORDER BY id) AS nth \
                 FROM {messages} WHERE recipient = ?1 AND status = 0) \
                 WHERE nth <= ?2 ORDER BY id LIMIT ?3) ORDER BY id"
            ),
        }
    }
}

fn sql(text: &str) -> AssertSqlSafe<String> {
    // Table names come from a validated `StoreNames`; values are always bound.
    AssertSqlSafe(text.to_owned())
}

/// Maps driver errors: what a retry may fix is `Unavailable`, the rest `Internal`.
fn store_error(err: sqlx::Error) -> StoreError {
    match &err {
        sqlx::Error::Io(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => StoreError::Unavailable(err.to_string()),
        sqlx::Error::Database(db)
            if db
                .code()
                .is_some_and(|code| matches!(code.as_ref(), "5" | "6" | "261" | "517")) =>
        {
            // SQLITE_BUSY, SQLITE_LOCKED and their extended codes.
            StoreError::Unavailable(err.to_string())
        }
        _ => StoreError::Internal(err.to_string()),
    }
}

fn status_code(status: MessageStatus) -> i64 {
    match status {
        MessageStatus::NotSent => 0,
        MessageStatus::Sent => 1,
        MessageStatus::Read => 2,
    }
}

fn status_of(code: i64) -> Result<MessageStatus, StoreError> {
    [
        MessageStatus::NotSent,
        MessageStatus::Sent,
        MessageStatus::Read,
    ]
    .into_iter()
    .find(|s| status_code(*s) == code)
    .ok_or_else(|| StoreError::Internal(format!("unknown message status {code}")))
}

fn time(millis: i64) -> Result<Timestamp, StoreError> {
    Timestamp::from_millis(millis)
        .ok_or_else(|| StoreError::Internal(format!("bad timestamp {millis}")))
}

fn seq_id(id: i64) -> Result<String, StoreError> {
    u64::try_from(id)
        .map(sequence::encode)
        .map_err(|_| StoreError::Internal(format!("negative id {id}")))
}

/// A client's id to a row id; `None` for an id this store never issued.
fn row_id(id: &str) -> Option<i64> {
    sequence::decode(id).and_then(|n| i64::try_from(n).ok())
}

fn bound(n: u128) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn message_from(row: &SqliteRow) -> Result<StoredMessage, StoreError> {
    let get_i64 = |col: &str| row.try_get::<i64, _>(col).map_err(store_error);
    let get_text = |col: &str| row.try_get::<String, _>(col).map_err(store_error);
    let user = |col: &str| {
        get_text(col)
            .and_then(|id| UserId::from_stored(id).map_err(|e| StoreError::Internal(e.to_string())))
    };
    let read_at: Option<i64> = row.try_get("read_at_ms").map_err(store_error)?;
    let client_id: Option<String> = row.try_get("client_message_id").map_err(store_error)?;
    Ok(StoredMessage {
        id: MessageId::new(seq_id(get_i64("id")?)?),
        room: ChatRoomId::new(seq_id(get_i64("room_id")?)?),
        from: user("sender")?,
        to: user("recipient")?,
        text: get_text("body")?,
        status: status_of(get_i64("status")?)?,
        created_at: time(get_i64("created_at_ms")?)?,
        read_at: read_at.map(time).transpose()?,
        client_message_id: client_id
            .map(|c| {
                ClientMessageId::from_stored(c).map_err(|e| StoreError::Internal(e.to_string()))
            })
            .transpose()?,
    })
}

fn messages_from(rows: &[SqliteRow]) -> Result<Vec<StoredMessage>, StoreError> {
    rows.iter().map(message_from).collect()
}

fn sorted_pair<'a>(a: &'a UserId, b: &'a UserId) -> (&'a str, &'a str) {
    if a.as_str() <= b.as_str() {
        (a.as_str(), b.as_str())
    } else {
        (b.as_str(), a.as_str())
    }
}

#[async_trait]
impl ChatStore for SqliteStore {
    async fn register_user(&self, user: &UserId) -> Result<ChatUser, StoreError> {
        sqlx::query(sql(&self.sql.register_user))
            .bind(user.as_str())
            .execute(&self.pool)
            .await
            .map_err(store_error)?;
        self.find_user(user)
            .await?
            .ok_or_else(|| StoreError::Internal(format!("user {user} vanished after insert")))
    }

    async fn find_user(&self, user: &UserId) -> Result<Option<ChatUser>, StoreError> {
        let row = sqlx::query(sql(&self.sql.find_user))
            .bind(user.as_str())
            .fetch_optional(&self.pool)
            .await
            .map_err(store_error)?;
        row.map(|row| {
            let last_online: Option<i64> = row.try_get("last_online_ms").map_err(store_error)?;
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
            .map_err(store_error)?;
        Ok(())
    }

    async fn link(&self, a: &UserId, b: &UserId) -> Result<LinkOutcome, StoreError> {
        let (low, high) = sorted_pair(a, b);
        let created: Option<i64> = sqlx::query_scalar(sql(&self.sql.link))
            .bind(low)
            .bind(high)
            .fetch_optional(&self.pool)
            .await
            .map_err(store_error)?;
        if let Some(id) = created {
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
        let id: Option<i64> = sqlx::query_scalar(sql(&self.sql.find_room))
            .bind(low)
            .bind(high)
            .fetch_optional(&self.pool)
            .await
            .map_err(store_error)?;
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
            .map_err(store_error)?;
        rows.iter()
            .map(|row| {
                let room: i64 = row.try_get("id").map_err(store_error)?;
                let other: String = row.try_get("other").map_err(store_error)?;
                let last_online: Option<i64> =
                    row.try_get("last_online_ms").map_err(store_error)?;
                Ok(ContactRecord {
                    user: UserId::from_stored(other)
                        .map_err(|e| StoreError::Internal(e.to_string()))?,
                    room: ChatRoomId::new(seq_id(room)?),
                    last_online: last_online.map(time).transpose()?,
                })
            })
            .collect()
    }

    async fn insert_message(
        &self,
        message: NewMessage,
    ) -> Result<(StoredMessage, bool), StoreError> {
        let room = row_id(message.room.as_str())
            .ok_or_else(|| StoreError::Internal(format!("unknown room {}", message.room)))?;
        match self.writer.write(Op::Insert { room, message }).await? {
            Done::Inserted(stored, created) => Ok((stored, created)),
            _ => Err(StoreError::Internal(
                "the writer answered an insert as another write".into(),
            )),
        }
    }

    async fn find_message(&self, id: &MessageId) -> Result<Option<StoredMessage>, StoreError> {
        let Some(id) = row_id(id.as_str()) else {
            return Ok(None);
        };
        let row = sqlx::query(sql(&self.sql.find_message))
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(store_error)?;
        row.as_ref().map(message_from).transpose()
    }

    async fn mark_sent(&self, ids: &[MessageId]) -> Result<Vec<StoredMessage>, StoreError> {
        let mut ids: Vec<i64> = ids.iter().filter_map(|id| row_id(id.as_str())).collect();
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        ids.sort_unstable();
        ids.dedup();
        match self.writer.write(Op::MarkSent(ids)).await? {
            Done::Marked(moved) => Ok(moved),
            _ => Err(StoreError::Internal(
                "the writer answered a mark as another write".into(),
            )),
        }
    }

    async fn mark_read(
        &self,
        id: &MessageId,
        at: Timestamp,
    ) -> Result<Option<StoredMessage>, StoreError> {
        let Some(id) = row_id(id.as_str()) else {
            return Ok(None);
        };
        let at = at.millis();
        match self.writer.write(Op::MarkRead { id, at }).await? {
            Done::Read(moved) => Ok(moved),
            _ => Err(StoreError::Internal(
                "the writer answered a read as another write".into(),
            )),
        }
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
            .map_err(store_error)?;
        let mut page = messages_from(&rows)?;
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
            .map_err(store_error)?;
        messages_from(&rows)
    }
}

#[cfg(test)]
mod tests;
