//! The PostgreSQL storage adapter of chatzz, for several server processes sharing one
//! database. Every rule lives in the database and holds for every connection: one room
//! per pair and one message per sender and client message id are unique indexes hit by
//! `INSERT ... ON CONFLICT DO NOTHING`, status changes are single conditional `UPDATE`s,
//! and an insert holds its room's row lock while it takes its id and writes, so ids
//! within a room are committed in id order and a client catching up with `after` never
//! skips one. The schema is in `migrations/`, applied at startup (under an advisory lock,
//! so concurrent starts are safe) with table names from [`StoreNames`]; PostgreSQL folds
//! them to lower case.

mod directory;

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use chatzz_core::{
    ChatRoomId, ChatStore, ChatUser, ClientMessageId, ContactRecord, HistoryQuery, LinkOutcome,
    MessageId, MessageStatus, NewMessage, StoreError, StoreNames, StoredMessage, Timestamp, UserId,
    sequence,
};
use sqlx::migrate::{MigrateError, Migration, MigrationType, Migrator};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions, PgRow};
use sqlx::{AssertSqlSafe, Row, SqlSafeStr};

pub use directory::PostgresUserDirectory;

/// The schema, oldest first; `{prefix}` stands for the table prefix.
const MIGRATIONS: &[(i64, &str, &str)] =
    &[(1, "init", include_str!("../migrations/0001_init.sql"))];

/// Pool connections per server process.
const MAX_CONNECTIONS: u32 = 10;

/// How long a call waits for a connection before reporting the store unavailable.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);

/// The PostgreSQL store.
#[derive(Debug, Clone)]
pub struct PostgresStore {
    pool: PgPool,
    sql: Queries,
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

    /// Uses an existing pool and brings its schema up to date.
    pub async fn new(pool: PgPool, names: StoreNames) -> Result<Self, StoreError> {
        migrate(&pool, &names).await?;
        Ok(Self {
            pool,
            sql: Queries::new(&names),
        })
    }

    /// The pool, for closing it or sharing it with the host application.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }
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
    lock_room: String,
    insert_message: String,
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
            lock_room: format!("SELECT id FROM {rooms} WHERE id = $1 FOR UPDATE"),
            insert_message: format!(
                "INSERT INTO {messages} (room_id, sender, recipient, body, created_at_ms, client_message_id) \
                 VALUES ($1, $2, $3, $4, $5, $6) \
                 ON CONFLICT (sender, client_message_id) WHERE client_message_id IS NOT NULL DO NOTHING \
                 RETURNING {cols}"
            ),
            find_by_client_id: format!(
                "SELECT {cols} FROM {messages} WHERE sender = $1 AND client_message_id = $2"
            ),
            find_message: format!("SELECT {cols} FROM {messages} WHERE id = $1"),
            mark_sent: format!(
                "UPDATE {messages} SET status = 1 WHERE status = 0 AND id = ANY($1) RETURNING {cols}"
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
            undelivered: format!(
                "SELECT {cols} FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY sender ORDER BY id) AS nth \
                 FROM {messages} WHERE recipient = $1 AND status = 0) AS pending \
                 WHERE nth <= $2 ORDER BY id"
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
            .and_then(|id| UserId::parse(id).map_err(|e| StoreError::Internal(e.to_string())))
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
            .map(|c| ClientMessageId::parse(c).map_err(|e| StoreError::Internal(e.to_string())))
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
            return Ok(LinkOutcome {
                room: ChatRoomId::new(seq_id(id)?),
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
        let id: Option<i64> = sqlx::query_scalar(sql(&self.sql.find_room))
            .bind(low)
            .bind(high)
            .fetch_optional(&self.pool)
            .await
            .map_err(store_error)?;
        id.map(|id| seq_id(id).map(ChatRoomId::new)).transpose()
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
                    user: UserId::parse(other).map_err(|e| StoreError::Internal(e.to_string()))?,
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
        let client_id = message
            .client_message_id
            .as_ref()
            .map(|c| c.as_str().to_owned());
        let mut tx = self.pool.begin().await.map_err(store_error)?;
        // Inserts into one room queue here, so each takes its id (below) only after the
        // previous one committed: ids within a room become visible in id order.
        let locked: Option<i64> = sqlx::query_scalar(sql(&self.sql.lock_room))
            .bind(room)
            .fetch_optional(&mut *tx)
            .await
            .map_err(store_error)?;
        if locked.is_none() {
            return Err(StoreError::Internal(format!(
                "unknown room {}",
                message.room
            )));
        }
        let inserted = sqlx::query(sql(&self.sql.insert_message))
            .bind(room)
            .bind(message.from.as_str())
            .bind(message.to.as_str())
            .bind(message.text.as_str())
            .bind(message.created_at.millis())
            .bind(client_id.as_deref())
            .fetch_optional(&mut *tx)
            .await
            .map_err(store_error)?;
        let outcome = match inserted {
            Some(row) => (message_from(&row)?, true),
            None => {
                // Only a committed row with this sender and client message id makes the
                // insert do nothing (it waits for one in flight), and this statement's
                // fresh snapshot sees it.
                let row = sqlx::query(sql(&self.sql.find_by_client_id))
                    .bind(message.from.as_str())
                    .bind(client_id.as_deref())
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(store_error)?;
                (message_from(&row)?, false)
            }
        };
        tx.commit().await.map_err(store_error)?;
        Ok(outcome)
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
        let rows = sqlx::query(sql(&self.sql.mark_sent))
            .bind(ids)
            .fetch_all(&self.pool)
            .await
            .map_err(store_error)?;
        let mut moved = messages_from(&rows)?;
        moved.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(moved)
    }

    async fn mark_read(
        &self,
        id: &MessageId,
        at: Timestamp,
    ) -> Result<Option<StoredMessage>, StoreError> {
        let Some(id) = row_id(id.as_str()) else {
            return Ok(None);
        };
        let row = sqlx::query(sql(&self.sql.mark_read))
            .bind(id)
            .bind(at.millis())
            .fetch_optional(&self.pool)
            .await
            .map_err(store_error)?;
        row.as_ref().map(message_from).transpose()
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
    ) -> Result<Vec<StoredMessage>, StoreError> {
        let rows = sqlx::query(sql(&self.sql.undelivered))
            .bind(to.as_str())
            .bind(i64::try_from(per_sender).unwrap_or(i64::MAX))
            .fetch_all(&self.pool)
            .await
            .map_err(store_error)?;
        messages_from(&rows)
    }
}

#[cfg(test)]
mod tests;
