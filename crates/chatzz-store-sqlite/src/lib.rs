//! The SQLite storage adapter of chatzz, its embedded default: one database file in WAL
//! mode with `synchronous = FULL`, so a write is on disk before the call returns and an
//! acked message survives a crash or `kill -9`. Uniqueness (one room per pair, one
//! message per sender and client message id) lives in unique indexes and status
//! changes are single conditional `UPDATE`s, so the rules hold for every connection.
//! `insert_message`, `mark_sent` and `read_up_to` are group-committed: concurrent calls
//! share one transaction, and so one fsync (`writer.rs`). Every connection the store
//! opens runs with `secure_delete`, and every edit and delete sets it on its connection
//! first (a host's own pool may lack it), so the text of a deleted (or edited) message
//! is overwritten with zeros in the file rather than left in free space.
//! The store itself is `chatzz-store-sql`'s, written once for every SQL dialect; this
//! crate supplies SQLite's SQL, its error classification and its writer's fast path.
//! The schema is in `migrations/`, applied at startup with table names from
//! [`StoreNames`].

mod directory;
mod writer;

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use chatzz_core::{StoreError, StoreNames, StoredMessage};
use chatzz_store_sql::{
    Answer, Dialect, Failed, MESSAGE_COLUMNS, Op, SqlStore, Statements, Writers,
};
use sqlx::error::DatabaseError;
use sqlx::sqlite::{
    Sqlite, SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePool,
    SqlitePoolOptions, SqliteSynchronous,
};

pub use directory::{SqliteDirectory, SqliteUserDirectory};

/// The schema, oldest first; `{prefix}` stands for the table prefix.
const MIGRATIONS: &[(i64, &str, &str)] = &[
    (1, "init", include_str!("../migrations/0001_init.sql")),
    (2, "inbox", include_str!("../migrations/0002_inbox.sql")),
    (
        3,
        "notifications",
        include_str!("../migrations/0003_notifications.sql"),
    ),
];

/// Pool connections: SQLite writes one at a time, reads run beside it in WAL mode.
const MAX_CONNECTIONS: u32 = 4;

/// Each connection's page cache, as SQLite's `cache_size` takes it (negative: KiB).
const PAGE_CACHE_KIB: i64 = -64 * 1024;

/// WAL pages (4 KiB each) after which a commit checkpoints: 40 MiB.
const WAL_CHECKPOINT_PAGES: u32 = 10_000;

/// The SQLite store. Clones share one pool and one writer. [`SqliteStore::connect`]
/// opens (creating if missing) the database at `sqlite://PATH` or `sqlite:PATH`;
/// [`SqliteStore::new`] uses an existing pool and starts the thread that commits
/// `insert_message`, `mark_sent` and `read_up_to` in batches (see `writer.rs`).
pub type SqliteStore = SqlStore<SqliteDialect>;

/// SQLite's part of [`SqliteStore`].
#[derive(Debug, Clone, Copy)]
pub struct SqliteDialect;

impl Dialect for SqliteDialect {
    type Db = Sqlite;
    type Status = i64;
    type Extra = Queries;

    const NAME: &'static str = "SQLite";
    const MAX_BATCH: usize = writer::MAX_BATCH;
    const BEFORE_ERASE: Option<&'static str> = Some("PRAGMA secure_delete = ON");
    // Copies the log into the (securely overwritten) file and empties it: the old text
    // leaves the -wal file too. Edits and deletes are rare; this costs one checkpoint.
    const AFTER_ERASE: Option<&'static str> = Some("PRAGMA wal_checkpoint(TRUNCATE)");

    /// SQLITE_BUSY, SQLITE_LOCKED and their extended codes.
    fn retryable(err: &dyn DatabaseError) -> bool {
        err.code()
            .is_some_and(|code| matches!(code.as_ref(), "5" | "6" | "261" | "517"))
    }

    fn affected(result: &sqlx::sqlite::SqliteQueryResult) -> u64 {
        result.rows_affected()
    }

    /// SQLITE_BUSY, LOCKED, NOMEM, IOERR, FULL may roll the transaction back; a
    /// constraint fails only its own statement.
    fn fatal(err: &dyn DatabaseError) -> bool {
        err.code()
            .and_then(|code| code.parse::<i64>().ok())
            .is_none_or(|code| matches!(code & 0xff, 5 | 6 | 7 | 10 | 13))
    }

    async fn open(url: &str) -> Result<SqlitePool, StoreError> {
        let options = SqliteConnectOptions::from_str(url)
            .map_err(|e| StoreError::Internal(format!("bad SQLite URL {url:?}: {e}")))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(5))
            .foreign_keys(true)
            // Deleted text is zeroed in the file, not left in free space (protocol 1.1:
            // a deleted message's text is erased from storage).
            .pragma("secure_delete", "ON")
            // The writer alone prepares about 140 statements (one per batch chunk size);
            // sqlx's default cache of 100 would keep re-preparing some of them.
            .statement_cache_capacity(256)
            // The writer's inserts touch the newest pages of every index in every busy
            // room; SQLite's default 2 MiB page cache made it read them back from the
            // OS for each batch. Up to 64 MiB per connection, filled only as used.
            .pragma("cache_size", PAGE_CACHE_KIB.to_string())
            // The writer checkpoints the WAL in its own commit once it holds this many
            // pages: at SQLite's default (1,000 pages, 4 MiB) that was every few
            // batches under load, each copying the pages again. Fewer, larger
            // checkpoints copy a page written by many batches once (12,500 msg/s kept
            // up with it, 11,000 without; docs/benchmarks.md). Durability is unchanged:
            // every commit still syncs the WAL.
            .pragma("wal_autocheckpoint", WAL_CHECKPOINT_PAGES.to_string());
        SqlitePoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .acquire_timeout(Duration::from_secs(5))
            .connect_with(options)
            .await
            .map_err(store_error)
    }

    async fn migrate(pool: &SqlitePool, names: &StoreNames) -> Result<(), StoreError> {
        chatzz_store_sql::migrator(names, MIGRATIONS)
            .run(pool)
            .await
            .map_err(|e| StoreError::Internal(format!("SQLite migration failed: {e}")))
    }

    fn statements(names: &StoreNames) -> Statements<Queries> {
        statements(names)
    }

    fn start(pool: &SqlitePool, sql: &Arc<Statements<Queries>>) -> Result<Writers, StoreError> {
        Ok(Writers::new(vec![writer::spawn(
            pool.clone(),
            Arc::clone(sql),
        )?]))
    }

    async fn commit(
        conn: &mut SqliteConnection,
        sql: &Statements<Queries>,
        ops: &[&Op],
    ) -> Result<Vec<Answer>, StoreError> {
        writer::commit(conn, sql, ops).await
    }

    async fn mark_sent(
        conn: &mut SqliteConnection,
        sql: &Statements<Queries>,
        ids: &[i64],
    ) -> Result<Vec<StoredMessage>, Failed> {
        let mut moved = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(writer::MARK_CHUNK) {
            moved.extend(writer::mark_sent(conn, sql, chunk).await?);
        }
        moved.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(moved)
    }
}

/// The statements only SQLite's writer runs.
#[derive(Debug, Clone)]
pub struct Queries {
    /// `insert_values[n - 1]` inserts `n` messages.
    insert_values: Vec<String>,
    /// `mark_sent[n - 1]` marks `n` ids.
    mark_sent: Vec<String>,
}

fn statements(names: &StoreNames) -> Statements<Queries> {
    let (users, rooms, messages) = (names.users(), names.rooms(), names.messages());
    let cols = MESSAGE_COLUMNS;
    // Rows are numbered in the order listed (tested): the writer relies on it.
    let insert_values: Vec<String> = (1..=writer::INSERT_CHUNK)
        .map(|n| {
            let rows = vec!["(?, ?, ?, ?, ?, ?, ?, ?)"; n].join(", ");
            format!(
                "INSERT INTO {messages} (room_id, sender, recipient, body, created_at_ms, \
                 client_message_id, notify_due_ms, status) \
                 VALUES {rows} \
                 ON CONFLICT (sender, client_message_id) WHERE client_message_id IS NOT NULL DO NOTHING \
                 RETURNING {cols}"
            )
        })
        .collect();
    let mark_sent: Vec<String> = (1..=writer::MARK_CHUNK)
        .map(|n| {
            let ids = vec!["?"; n].join(", ");
            format!(
                "UPDATE {messages} SET status = 1 WHERE status = 0 AND id IN ({ids}) RETURNING {cols}"
            )
        })
        .collect();
    let read_positions = names.expand("{prefix}read_positions");
    let blocks = names.expand("{prefix}blocks");
    let m_cols = MESSAGE_COLUMNS
        .split(", ")
        .map(|col| format!("m.{col} AS {col}"))
        .collect::<Vec<_>>()
        .join(", ");
    Statements {
        register_user: format!("INSERT INTO {users} (id) VALUES (?1) ON CONFLICT (id) DO NOTHING"),
        find_user: format!("SELECT id, last_online_ms FROM {users} WHERE id = ?1"),
        set_last_online: format!(
            "INSERT INTO {users} (id, last_online_ms) VALUES (?1, ?2) \
             ON CONFLICT (id) DO UPDATE SET last_online_ms = excluded.last_online_ms"
        ),
        link: format!(
            "INSERT INTO {rooms} (user_a, user_b, created_at_ms) VALUES (?1, ?2, ?3) \
             ON CONFLICT (user_a, user_b) DO NOTHING RETURNING id"
        ),
        find_room: format!("SELECT id FROM {rooms} WHERE user_a = ?1 AND user_b = ?2"),
        // Per room: the unread count walks the partial index of unread messages above
        // the reader's position (covering, no row read), the newest message is the end
        // of the room's index. Nothing here reads a room's history.
        contacts: format!(
            "SELECT r.id AS room, r.other, u.last_online_ms, r.created_at_ms AS since_ms, \
             (SELECT COUNT(*) FROM {messages} AS c INDEXED BY {messages}_unread \
              WHERE c.room_id = r.id AND c.recipient = ?1 AND c.status <> 2 \
              AND c.id > COALESCE(p.up_to, 0) AND c.deleted_at_ms IS NULL) AS unread, \
             CAST(EXISTS (SELECT 1 FROM {blocks} WHERE blocker = ?1 AND blocked = r.other) \
               AS INTEGER) AS blocked, \
             CAST(EXISTS (SELECT 1 FROM {blocks} WHERE blocker = r.other AND blocked = ?1) \
               AS INTEGER) AS blocked_by, \
             {m_cols} \
             FROM (SELECT id, created_at_ms, CASE WHEN user_a = ?1 THEN user_b ELSE user_a END AS other \
                   FROM {rooms} WHERE user_a = ?1 OR user_b = ?1) AS r \
             LEFT JOIN {users} AS u ON u.id = r.other \
             LEFT JOIN {read_positions} AS p ON p.room_id = r.id AND p.reader = ?1 \
             LEFT JOIN {messages} AS m ON m.id = \
               (SELECT MAX(l.id) FROM {messages} AS l WHERE l.room_id = r.id) \
             ORDER BY r.id"
        ),
        linked_users: format!(
            "SELECT r.other, CAST(EXISTS (SELECT 1 FROM {blocks} \
               WHERE blocker = ?1 AND blocked = r.other) AS INTEGER) AS blocked \
             FROM (SELECT id, CASE WHEN user_a = ?1 THEN user_b ELSE user_a END AS other \
                   FROM {rooms} WHERE user_a = ?1 OR user_b = ?1) AS r \
             ORDER BY r.id"
        ),
        block: format!(
            "INSERT INTO {blocks} (blocker, blocked, since_ms) VALUES (?1, ?2, ?3) \
             ON CONFLICT (blocker, blocked) DO NOTHING"
        ),
        unblock: format!("DELETE FROM {blocks} WHERE blocker = ?1 AND blocked = ?2"),
        blocks_between: format!(
            "SELECT EXISTS (SELECT 1 FROM {blocks} WHERE blocker = ?1 AND blocked = ?2) AS ab, \
             EXISTS (SELECT 1 FROM {blocks} WHERE blocker = ?2 AND blocked = ?1) AS ba"
        ),
        insert_message: insert_values[0].clone(),
        find_by_client_id: format!(
            "SELECT {cols} FROM {messages} WHERE sender = ?1 AND client_message_id = ?2"
        ),
        find_message: format!("SELECT {cols} FROM {messages} WHERE id = ?1"),
        read_position: format!(
            "INSERT INTO {read_positions} (room_id, reader, up_to) VALUES (?1, ?2, ?3) \
             ON CONFLICT (reader, room_id) DO UPDATE SET up_to = MAX(up_to, excluded.up_to)"
        ),
        // One statement for any backlog, on the partial index of unread messages.
        read_up_to: format!(
            "UPDATE {messages} INDEXED BY {messages}_unread SET status = 2, read_at_ms = ?4 \
             WHERE room_id = ?1 AND recipient = ?2 AND id <= ?3 AND status <> 2"
        ),
        edit_message: format!(
            "UPDATE {messages} SET body = ?2, edited_at_ms = ?3 \
             WHERE id = ?1 AND deleted_at_ms IS NULL RETURNING {cols}"
        ),
        delete_message: format!(
            "UPDATE {messages} SET body = '', deleted_at_ms = ?2 \
             WHERE id = ?1 AND deleted_at_ms IS NULL RETURNING {cols}"
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
        // The heads: owed messages with no owed message of the same recipient before
        // them, found on the partial index of what is owed (probed per recipient), so a
        // claim costs what is owed, never the history. One statement: SQLite runs one
        // writer at a time, so two claims never both lease a row.
        // Each recipient's oldest owed message found by skipping through the partial
        // index one recipient at a time (a loose index scan): a round costs a probe per
        // recipient owed something, not a read of everything owed.
        claim_notifications: format!(
            "UPDATE {messages} SET notify_owner = ?1, notify_lease_until_ms = ?3 \
             WHERE id IN (WITH RECURSIVE owed(recipient) AS ( \
               SELECT (SELECT m.recipient FROM {messages} AS m INDEXED BY {messages}_notify \
                 WHERE m.notify_due_ms IS NOT NULL ORDER BY m.recipient LIMIT 1) \
               UNION ALL \
               SELECT (SELECT m.recipient FROM {messages} AS m INDEXED BY {messages}_notify \
                 WHERE m.notify_due_ms IS NOT NULL AND m.recipient > owed.recipient \
                 ORDER BY m.recipient LIMIT 1) \
               FROM owed WHERE owed.recipient IS NOT NULL) \
             SELECT m.id FROM owed, {messages} AS m \
             WHERE owed.recipient IS NOT NULL \
               AND m.id = (SELECT h.id FROM {messages} AS h INDEXED BY {messages}_notify \
                 WHERE h.notify_due_ms IS NOT NULL AND h.recipient = owed.recipient \
                 ORDER BY h.id LIMIT 1) \
               AND m.notify_due_ms IS NOT NULL AND m.notify_due_ms <= ?2 \
               AND (m.notify_lease_until_ms IS NULL OR m.notify_lease_until_ms <= ?2) \
             ORDER BY m.id LIMIT ?4) \
             RETURNING {cols}, notify_attempts"
        ),
        finish_notification: format!(
            "UPDATE {messages} SET notify_due_ms = NULL, notify_owner = NULL, \
             notify_lease_until_ms = NULL WHERE id = ?1 AND notify_due_ms IS NOT NULL"
        ),
        retry_notification: format!(
            "UPDATE {messages} SET notify_attempts = ?3, notify_due_ms = ?4, \
             notify_owner = NULL, notify_lease_until_ms = NULL \
             WHERE id = ?1 AND notify_owner = ?2 AND notify_due_ms IS NOT NULL"
        ),
        pending_notifications: format!(
            "SELECT COUNT(*) AS pending FROM {messages} INDEXED BY {messages}_notify \
             WHERE notify_due_ms IS NOT NULL"
        ),
        dialect: Queries {
            insert_values,
            mark_sent,
        },
    }
}

#[cfg(test)]
mod tests;

/// Maps driver errors: what a retry may fix is `Unavailable`, the rest `Internal`.
fn store_error(err: sqlx::Error) -> StoreError {
    SqliteDialect::store_error(err)
}
