//! The PostgreSQL storage adapter of chatzz, for several server processes sharing one
//! database. Every rule lives in the database and holds for every connection: one room
//! per pair and one message per sender and client message id are unique indexes hit by
//! `INSERT ... ON CONFLICT DO NOTHING`, status changes are single conditional `UPDATE`s,
//! and an insert holds its room's row lock while it takes its id and writes, so ids
//! within a room are committed in id order and a client catching up with `after` never
//! skips one. `insert_message`, `mark_sent` and `mark_read` are group-committed:
//! concurrent calls share one transaction (`writer.rs`). The schema is in `migrations/`, applied at
//! startup (under an advisory lock, so concurrent starts are safe) with table names from
//! [`StoreNames`]; PostgreSQL folds them to lower case.

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
use chatzz_group_commit::{Done, KnownRooms, Op};
use sqlx::migrate::{MigrateError, Migration, MigrationType, Migrator};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions, PgRow};
use sqlx::{AssertSqlSafe, Row, SqlSafeStr};

pub use directory::PostgresUserDirectory;
use writer::Writers;

/// The schema, oldest first; `{prefix}` stands for the table prefix.
const MIGRATIONS: &[(i64, &str, &str)] =
    &[(1, "init", include_str!("../migrations/0001_init.sql"))];

/// Pool connections per server process.
const MAX_CONNECTIONS: u32 = 10;

/// How long a call waits for a connection before reporting the store unavailable.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);

/// The PostgreSQL store. Clones share one pool and one set of writers.
#[derive(Debug, Clone)]
pub struct PostgresStore {
    pool: PgPool,
    sql: Arc<Queries>,
    writer: Writers,
    rooms: Arc<KnownRooms>,
}

/// A pool of at most `max_connections` for `url`, as every PostgreSQL pool of chatzz
/// opens one.
pub(crate) async fn connect_pool(url: &str, max_connections: u32) -> Result<PgPool, StoreError> {
    // The URL may hold a password: keep it out of the error.
    let mut options = PgConnectOptions::from_str(url)
        .map_err(|e| StoreError::Internal(format!("bad PostgreSQL URL: {e}")))?;
    if options.get_application_name().is_none() {
        options = options.application_name("chatzz");
    }
    PgPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .connect_with(options)
        .await
        .map_err(store_error)
}

impl PostgresStore {
    /// Connects to the database at `url` (`postgres://user:password@host:port/database`;
    /// the database must exist) and brings its schema up to date.
    pub async fn connect(url: &str, names: StoreNames) -> Result<Self, StoreError> {
        Self::new(connect_pool(url, MAX_CONNECTIONS).await?, names).await
    }

    /// Uses an existing pool and brings its schema up to date. Must run inside a tokio
    /// runtime: it starts the tasks that commit `insert_message`, `mark_sent` and
    /// `mark_read` in batches (see `writer.rs`), which live as long as the store and its
    /// clones.
    pub async fn new(pool: PgPool, names: StoreNames) -> Result<Self, StoreError> {
        migrate(&pool, &names).await?;
        let sql = Arc::new(Queries::new(&names));
        let writer = Writers::spawn(pool.clone(), writer_pool(&pool), Arc::clone(&sql));
        Ok(Self {
            pool,
            sql,
            writer,
            rooms: Arc::default(),
        })
    }

    /// The pool, for closing it or sharing it with the host application.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// How many batches the group commit has written so far (one transaction or
    /// statement each, whatever number of `insert_message`, `mark_sent` and `mark_read`
    /// calls it carried).
    pub fn write_batches(&self) -> u64 {
        self.writer.batches()
    }
}

/// The writers' own connections (see `writer.rs`), opened as `pool` opens its own, at
/// most one per writer, with generic plans: the batch statement costs more to plan than
/// to run, and left to itself PostgreSQL plans it afresh for every batch. Only the
/// writers' statements run there, and each has a plan that is right for any data,
/// even the empty tables of a new database (tested).
fn writer_pool(pool: &PgPool) -> PgPool {
    let mut options = (*pool.connect_options()).clone();
    if !options
        .get_options()
        .is_some_and(|set| set.contains("plan_cache_mode"))
    {
        options = options.options([("plan_cache_mode", "force_generic_plan")]);
    }
    PgPoolOptions::new()
        .max_connections(u32::try_from(writer::WRITERS).unwrap_or(u32::MAX))
        .acquire_timeout(pool.options().get_acquire_timeout())
        .connect_lazy_with(options)
}

async fn migrate(pool: &PgPool, names: &StoreNames) -> Result<(), StoreError> {
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
    migrator.run(pool).await.map_err(|e| match e {
        // A lost connection or a timeout is worth a retry like any other call.
        MigrateError::Execute(err) | MigrateError::ExecuteMigration(err, _) => {
            match store_error(err) {
                StoreError::Unavailable(m) => {
                    StoreError::Unavailable(format!("PostgreSQL migration failed: {m}"))
                }
                StoreError::Internal(m) => {
                    StoreError::Internal(format!("PostgreSQL migration failed: {m}"))
                }
            }
        }
        other => StoreError::Internal(format!("PostgreSQL migration failed: {other}")),
    })
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
    lock_rooms: String,
    lock_messages: String,
    insert_message: String,
    batch: String,
    batch_without_reads: String,
    find_by_client_id: String,
    find_message: String,
    mark_sent: String,
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
        // The same columns of the table aliased `m`, where a join makes names ambiguous.
        let m_cols = MESSAGE_COLUMNS
            .split(", ")
            .map(|col| format!("m.{col}"))
            .collect::<Vec<_>>()
            .join(", ");
        // Both batch statements insert this way: each row locks its room before it
        // takes an id, and ids are taken in the order of the arrays.
        let insert_batch = format!(
            "INSERT INTO {messages} (room_id, sender, recipient, body, created_at_ms, client_message_id) \
             SELECT b.room_id, b.sender, b.recipient, b.body, b.created_at_ms, b.client_message_id \
             FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::text[]) \
               WITH ORDINALITY AS b (room_id, sender, recipient, body, created_at_ms, client_message_id, n) \
             LEFT JOIN LATERAL (SELECT r.id FROM {rooms} AS r WHERE r.id = b.room_id FOR UPDATE) AS held ON true \
             ORDER BY b.n \
             ON CONFLICT (sender, client_message_id) WHERE client_message_id IS NOT NULL DO NOTHING \
             RETURNING {cols}"
        );
        Self {
            register_user: format!(
                "INSERT INTO {users} (id) VALUES ($1) ON CONFLICT (id) DO NOTHING"
            ),
            find_user: format!("SELECT id, last_online_ms FROM {users} WHERE id = $1"),
            set_last_online: format!(
                "INSERT INTO {users} (id, last_online_ms) VALUES ($1, $2) \
                 ON CONFLICT (id) DO UPDATE SET last_online_ms = EXCLUDED.last_online_ms"
            ),
            link: format!(
                "INSERT INTO {rooms} (user_a, user_b) VALUES ($1, $2) \
                 ON CONFLICT (user_a, user_b) DO NOTHING RETURNING id"
            ),
            find_room: format!("SELECT id FROM {rooms} WHERE user_a = $1 AND user_b = $2"),
            contacts: format!(
                "SELECT r.id, r.other, u.last_online_ms \
                 FROM (SELECT id, CASE WHEN user_a = $1 THEN user_b ELSE user_a END AS other \
                       FROM {rooms} WHERE user_a = $1 OR user_b = $1) AS r \
                 LEFT JOIN {users} AS u ON u.id = r.other ORDER BY r.id"
            ),
            // In id order, so that two batches never wait for each other's rooms.
            lock_rooms: format!("SELECT id FROM {rooms} WHERE id = ANY($1) ORDER BY id FOR UPDATE"),
            // In id order, after the rooms, as the batch statement locks them.
            lock_messages: format!(
                "SELECT id FROM {messages} WHERE id = ANY($1) ORDER BY id FOR NO KEY UPDATE"
            ),
            insert_message: format!(
                "INSERT INTO {messages} (room_id, sender, recipient, body, created_at_ms, client_message_id) \
                 VALUES ($1, $2, $3, $4, $5, $6) \
                 ON CONFLICT (sender, client_message_id) WHERE client_message_id IS NOT NULL DO NOTHING \
                 RETURNING {cols}"
            ),
            // One statement for a whole batch (see `writer.rs`). First the inserts, each
            // row locking its room before it takes an id; ids are taken in the order of
            // the arrays, which the writer relies on. Then the status changes: `held`
            // locks their messages in id order (rows are locked after the sort), read as
            // far as `changed` needs before it touches a row, so `changed` only ever
            // updates rows it holds. The main query reads `inserted` first, so rooms are
            // locked before messages, as on the careful path.
            batch: format!(
                "WITH inserted AS ({insert_batch}), \
                 held AS MATERIALIZED ( \
                   SELECT m.id FROM {messages} AS m WHERE m.id = ANY($7) ORDER BY m.id FOR NO KEY UPDATE), \
                 changed AS ( \
                   UPDATE {messages} AS m \
                   SET status = h.status, read_at_ms = COALESCE(h.read_at_ms, m.read_at_ms) \
                   FROM unnest($7::bigint[], $8::smallint[], $9::bigint[]) AS h (id, status, read_at_ms) \
                   WHERE m.id = ANY($7) AND m.id = h.id AND m.status + 0 < h.status \
                   AND EXISTS (SELECT FROM held WHERE held.id = m.id) \
                   RETURNING {m_cols}) \
                 SELECT true AS inserted, * FROM inserted UNION ALL SELECT false, * FROM changed"
            ),
            // A batch without reads (every send's): its marks need no lock order of their
            // own, and locking each message before the update cost about half again as
            // much PostgreSQL CPU per message (docs/benchmarks.md). The marks come first.
            batch_without_reads: format!(
                "WITH marked AS ( \
                   UPDATE {messages} SET status = 1 WHERE status + 0 = 0 AND id = ANY($7) \
                   RETURNING {cols}), \
                 inserted AS ({insert_batch}) \
                 SELECT true AS inserted, * FROM inserted UNION ALL SELECT false, * FROM marked"
            ),
            find_by_client_id: format!(
                "SELECT {cols} FROM {messages} WHERE sender = $1 AND client_message_id = $2"
            ),
            find_message: format!("SELECT {cols} FROM {messages} WHERE id = $1"),
            // `status + 0`: the plan must look ids up by primary key, never scan the
            // partial index of undelivered messages (which a plan made while the table
            // is empty would).
            mark_sent: format!(
                "UPDATE {messages} SET status = 1 WHERE status + 0 = 0 AND id = ANY($1) RETURNING {cols}"
            ),
            mark_read: format!(
                "UPDATE {messages} SET status = 2, read_at_ms = $2 WHERE id = $1 AND status < 2 \
                 RETURNING {cols}"
            ),
            history_newest: format!(
                "SELECT {cols} FROM {messages} WHERE room_id = $1 AND id >= $2 AND id < $3 \
                 AND created_at_ms >= $4 ORDER BY id DESC LIMIT $5"
            ),
            history_oldest: format!(
                "SELECT {cols} FROM {messages} WHERE room_id = $1 AND id >= $2 AND id < $3 \
                 AND created_at_ms >= $4 ORDER BY id ASC LIMIT $5"
            ),
            // The window walks the partial index alone (ids only); only the `total`
            // rows chosen are read whole, by primary key.
            undelivered: format!(
                "SELECT {cols} FROM {messages} WHERE id IN (SELECT id FROM \
                 (SELECT id, ROW_NUMBER() OVER (PARTITION BY sender ORDER BY id) AS nth \
                 FROM {messages} WHERE recipient = $1 AND status = 0) AS pending \
                 WHERE nth <= $2 ORDER BY id LIMIT $3) ORDER BY id"
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
        sqlx::Error::Database(db) if db.code().is_some_and(|code| retryable(&code)) => {
            StoreError::Unavailable(err.to_string())
        }
        _ => StoreError::Internal(err.to_string()),
    }
}

/// SQLSTATEs that say "not now" rather than "never": connection exceptions (class 08),
/// the server shutting down or starting (57P01-57P03), serialization failures and
/// deadlocks (40001, 40P01), insufficient resources (class 53), and the two timeouts a
/// server may be configured with: `statement_timeout` (57014) and `lock_timeout` (55P03).
fn retryable(sqlstate: &str) -> bool {
    sqlstate.starts_with("08")
        || sqlstate.starts_with("53")
        || matches!(
            sqlstate,
            "57P01" | "57P02" | "57P03" | "40001" | "40P01" | "57014" | "55P03"
        )
}

fn status_code(status: MessageStatus) -> i16 {
    match status {
        MessageStatus::NotSent => 0,
        MessageStatus::Sent => 1,
        MessageStatus::Read => 2,
    }
}

fn status_of(code: i16) -> Result<MessageStatus, StoreError> {
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

fn message_from(row: &PgRow) -> Result<StoredMessage, StoreError> {
    let get_i64 = |col: &str| row.try_get::<i64, _>(col).map_err(store_error);
    let get_text = |col: &str| row.try_get::<String, _>(col).map_err(store_error);
    let user = |col: &str| {
        get_text(col)
            .and_then(|id| UserId::from_stored(id).map_err(|e| StoreError::Internal(e.to_string())))
    };
    let status: i16 = row.try_get("status").map_err(store_error)?;
    let read_at: Option<i64> = row.try_get("read_at_ms").map_err(store_error)?;
    let client_id: Option<String> = row.try_get("client_message_id").map_err(store_error)?;
    Ok(StoredMessage {
        id: MessageId::new(seq_id(get_i64("id")?)?),
        room: ChatRoomId::new(seq_id(get_i64("room_id")?)?),
        from: user("sender")?,
        to: user("recipient")?,
        text: get_text("body")?,
        status: status_of(status)?,
        created_at: time(get_i64("created_at_ms")?)?,
        read_at: read_at.map(time).transpose()?,
        client_message_id: client_id
            .map(|c| {
                ClientMessageId::from_stored(c).map_err(|e| StoreError::Internal(e.to_string()))
            })
            .transpose()?,
    })
}

fn messages_from(rows: &[PgRow]) -> Result<Vec<StoredMessage>, StoreError> {
    rows.iter().map(message_from).collect()
}

/// The pair in byte order, which is the order of the `COLLATE "C"` columns.
fn sorted_pair<'a>(a: &'a UserId, b: &'a UserId) -> (&'a str, &'a str) {
    if a.as_str() <= b.as_str() {
        (a.as_str(), b.as_str())
    } else {
        (b.as_str(), a.as_str())
    }
}

#[async_trait]
impl ChatStore for PostgresStore {
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
        // A concurrent insert of the pair makes this one wait for it and then do nothing.
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
