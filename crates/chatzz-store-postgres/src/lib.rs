//! The PostgreSQL storage adapter of chatzz, for several server processes sharing one
//! database. Every rule lives in the database and holds for every connection: one room
//! per pair and one message per sender and client message id are unique indexes hit by
//! `INSERT ... ON CONFLICT DO NOTHING`, status changes are single conditional `UPDATE`s,
//! and an insert holds its room's row lock while it takes its id and writes, so ids
//! within a room are committed in id order and a client catching up with `after` never
//! skips one. `insert_message`, `mark_sent` and `read_up_to` are group-committed:
//! concurrent calls share one transaction (`writer.rs`). The store itself is
//! `chatzz-store-sql`'s, written once for every SQL dialect; this crate supplies
//! PostgreSQL's SQL, its error classification and its writers' fast path. The schema is
//! in `migrations/`, applied at startup (under an advisory lock, so concurrent starts
//! are safe) with table names from [`StoreNames`]; PostgreSQL folds them to lower case.

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
use sqlx::migrate::MigrateError;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions, Postgres};

pub use directory::{PostgresDirectory, PostgresUserDirectory};

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

/// Pool connections per server process.
const MAX_CONNECTIONS: u32 = 10;

/// How long a call waits for a connection before reporting the store unavailable.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);

/// The PostgreSQL store. Clones share one pool and one set of writers.
/// [`PostgresStore::connect`] connects to `postgres://user:password@host:port/database`
/// (the database must exist); [`PostgresStore::new`] uses an existing pool and must run
/// inside a tokio runtime: it starts the tasks that commit `insert_message`,
/// `mark_sent` and `read_up_to` in batches (see `writer.rs`).
pub type PostgresStore = SqlStore<PostgresDialect>;

/// PostgreSQL's part of [`PostgresStore`].
#[derive(Debug, Clone, Copy)]
pub struct PostgresDialect;

impl Dialect for PostgresDialect {
    type Db = Postgres;
    type Status = i16;
    type Extra = Queries;

    const NAME: &'static str = "PostgreSQL";
    const MAX_BATCH: usize = writer::MAX_BATCH;

    /// The SQLSTATEs that say "not now" rather than "never" (`retryable` below).
    fn retryable(err: &dyn DatabaseError) -> bool {
        err.code().is_some_and(|code| retryable(&code))
    }

    fn affected(result: &sqlx::postgres::PgQueryResult) -> u64 {
        result.rows_affected()
    }

    /// A savepoint undoes any failed statement, except when the connection is lost
    /// (class 08) or the server is going away (57P01-57P03).
    fn fatal(err: &dyn DatabaseError) -> bool {
        err.code().is_none_or(|code| {
            code.starts_with("08") || matches!(code.as_ref(), "57P01" | "57P02" | "57P03")
        })
    }

    async fn open(url: &str) -> Result<PgPool, StoreError> {
        connect_pool(url, MAX_CONNECTIONS).await
    }

    async fn migrate(pool: &PgPool, names: &StoreNames) -> Result<(), StoreError> {
        migrate(pool, names).await
    }

    fn statements(names: &StoreNames) -> Statements<Queries> {
        statements(names)
    }

    fn start(pool: &PgPool, sql: &Arc<Statements<Queries>>) -> Result<Writers, StoreError> {
        Ok(writer::spawn(pool.clone(), writer_pool(pool), sql))
    }

    async fn commit(
        conn: &mut PgConnection,
        sql: &Statements<Queries>,
        ops: &[&Op],
    ) -> Result<Vec<Answer>, StoreError> {
        writer::commit(conn, sql, ops).await
    }

    async fn mark_sent(
        conn: &mut PgConnection,
        sql: &Statements<Queries>,
        ids: &[i64],
    ) -> Result<Vec<StoredMessage>, Failed> {
        writer::mark_sent(conn, sql, ids).await
    }
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
    let migrator = chatzz_store_sql::migrator(names, MIGRATIONS);
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

/// The statements only PostgreSQL's writers run.
#[derive(Debug, Clone)]
pub struct Queries {
    lock_rooms: String,
    lock_messages: String,
    positions: String,
    reads: String,
    batch_without_reads: String,
    mark_sent: String,
}

fn statements(names: &StoreNames) -> Statements<Queries> {
    let (users, rooms, messages) = (names.users(), names.rooms(), names.messages());
    let read_positions = names.expand("{prefix}read_positions");
    let blocks = names.expand("{prefix}blocks");
    let cols = MESSAGE_COLUMNS;
    // The same columns of the table aliased `m`, where a join makes names ambiguous.
    let m_cols = MESSAGE_COLUMNS
        .split(", ")
        .map(|col| format!("m.{col} AS {col}"))
        .collect::<Vec<_>>()
        .join(", ");
    // The same columns of the table aliased `t`, named as `rows::message_from` reads them.
    let t_cols = MESSAGE_COLUMNS
        .split(", ")
        .map(|col| format!("t.{col} AS {col}"))
        .collect::<Vec<_>>()
        .join(", ");
    // Both batch statements insert this way: each row locks its room before it
    // takes an id, and ids are taken in the order of the arrays.
    let insert_batch = format!(
        "INSERT INTO {messages} (room_id, sender, recipient, body, created_at_ms, \
           client_message_id, notify_due_ms, status) \
         SELECT b.room_id, b.sender, b.recipient, b.body, b.created_at_ms, b.client_message_id, \
           b.notify_due_ms, b.status \
         FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::text[], \
           $8::bigint[], $9::smallint[]) \
           WITH ORDINALITY AS b (room_id, sender, recipient, body, created_at_ms, \
             client_message_id, notify_due_ms, status, n) \
         LEFT JOIN LATERAL (SELECT r.id FROM {rooms} AS r WHERE r.id = b.room_id FOR UPDATE) AS held ON true \
         ORDER BY b.n \
         ON CONFLICT (sender, client_message_id) WHERE client_message_id IS NOT NULL DO NOTHING \
         RETURNING {cols}"
    );
    Statements {
        register_user: format!("INSERT INTO {users} (id) VALUES ($1) ON CONFLICT (id) DO NOTHING"),
        find_user: format!("SELECT id, last_online_ms FROM {users} WHERE id = $1"),
        set_last_online: format!(
            "INSERT INTO {users} (id, last_online_ms) VALUES ($1, $2) \
             ON CONFLICT (id) DO UPDATE SET last_online_ms = EXCLUDED.last_online_ms"
        ),
        link: format!(
            "INSERT INTO {rooms} (user_a, user_b, created_at_ms) VALUES ($1, $2, $3) \
             ON CONFLICT (user_a, user_b) DO NOTHING RETURNING id"
        ),
        find_room: format!("SELECT id FROM {rooms} WHERE user_a = $1 AND user_b = $2"),
        // Per room: the unread count walks the partial index of unread messages above
        // the reader's position, the newest message is the end of the room's index.
        // Nothing here reads a room's history.
        contacts: format!(
            "SELECT r.id AS room, r.other, u.last_online_ms, r.created_at_ms AS since_ms, \
             (SELECT COUNT(*) FROM {messages} AS c \
              WHERE c.room_id = r.id AND c.recipient = $1 AND c.status <> 2 \
              AND c.id > COALESCE(p.up_to, 0) AND c.deleted_at_ms IS NULL) AS unread, \
             CAST(CASE WHEN EXISTS (SELECT 1 FROM {blocks} WHERE blocker = $1 \
               AND blocked = r.other) THEN 1 ELSE 0 END AS BIGINT) AS blocked, \
             CAST(CASE WHEN EXISTS (SELECT 1 FROM {blocks} WHERE blocker = r.other \
               AND blocked = $1) THEN 1 ELSE 0 END AS BIGINT) AS blocked_by, \
             {m_cols} \
             FROM (SELECT id, created_at_ms, CASE WHEN user_a = $1 THEN user_b ELSE user_a END AS other \
                   FROM {rooms} WHERE user_a = $1 OR user_b = $1) AS r \
             LEFT JOIN {users} AS u ON u.id = r.other \
             LEFT JOIN {read_positions} AS p ON p.room_id = r.id AND p.reader = $1 \
             LEFT JOIN LATERAL (SELECT * FROM {messages} AS l WHERE l.room_id = r.id \
               ORDER BY l.id DESC LIMIT 1) AS m ON true \
             ORDER BY r.id"
        ),
        linked_users: format!(
            "SELECT r.other, CAST(CASE WHEN EXISTS (SELECT 1 FROM {blocks} \
               WHERE blocker = $1 AND blocked = r.other) THEN 1 ELSE 0 END AS BIGINT) AS blocked \
             FROM (SELECT id, CASE WHEN user_a = $1 THEN user_b ELSE user_a END AS other \
                   FROM {rooms} WHERE user_a = $1 OR user_b = $1) AS r \
             ORDER BY r.id"
        ),
        block: format!(
            "INSERT INTO {blocks} (blocker, blocked, since_ms) VALUES ($1, $2, $3) \
             ON CONFLICT (blocker, blocked) DO NOTHING"
        ),
        unblock: format!("DELETE FROM {blocks} WHERE blocker = $1 AND blocked = $2"),
        blocks_between: format!(
            "SELECT CAST(CASE WHEN EXISTS (SELECT 1 FROM {blocks} WHERE blocker = $1 \
               AND blocked = $2) THEN 1 ELSE 0 END AS BIGINT) AS ab, \
             CAST(CASE WHEN EXISTS (SELECT 1 FROM {blocks} WHERE blocker = $2 \
               AND blocked = $1) THEN 1 ELSE 0 END AS BIGINT) AS ba"
        ),
        insert_message: format!(
            "INSERT INTO {messages} (room_id, sender, recipient, body, created_at_ms, \
             client_message_id, notify_due_ms, status) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
             ON CONFLICT (sender, client_message_id) WHERE client_message_id IS NOT NULL DO NOTHING \
             RETURNING {cols}"
        ),
        find_by_client_id: format!(
            "SELECT {cols} FROM {messages} WHERE sender = $1 AND client_message_id = $2"
        ),
        find_message: format!("SELECT {cols} FROM {messages} WHERE id = $1"),
        read_position: format!(
            "INSERT INTO {read_positions} (room_id, reader, up_to) VALUES ($1, $2, $3) \
             ON CONFLICT (reader, room_id) \
             DO UPDATE SET up_to = GREATEST({read_positions}.up_to, EXCLUDED.up_to)"
        ),
        // One statement for any backlog, on the partial index of unread messages.
        read_up_to: format!(
            "UPDATE {messages} SET status = 2, read_at_ms = $4 \
             WHERE room_id = $1 AND recipient = $2 AND id <= $3 AND status <> 2"
        ),
        // The old row version, which holds the old text, stays in the table until
        // VACUUM (autovacuum) reclaims it.
        edit_message: format!(
            "UPDATE {messages} SET body = $2, edited_at_ms = $3 \
             WHERE id = $1 AND deleted_at_ms IS NULL RETURNING {cols}"
        ),
        delete_message: format!(
            "UPDATE {messages} SET body = '', deleted_at_ms = $2 \
             WHERE id = $1 AND deleted_at_ms IS NULL RETURNING {cols}"
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
        // The heads: owed messages with no owed message of the same recipient before
        // them, on the partial index of what is owed (probed per recipient), so a claim
        // costs what is owed, never the history. The inner select locks the rows it
        // picks and skips those another claim (or a writer) holds, so concurrent
        // claims never wait for each other; a row whose claim committed meanwhile is
        // re-read when locked and, leased now, dropped. The outer WHERE checks the
        // lease again on the row it updates, as READ COMMITTED re-evaluates it after
        // any lock wait: two claims never both lease a row.
        // Each recipient's oldest owed message found by skipping through the partial
        // index one recipient at a time (a loose index scan): a round costs a probe per
        // recipient owed something, not a read of everything owed (2.2 s -> 38 ms with
        // 200,000 owed to 1,000 recipients, docs/storage.md).
        claim_notifications: format!(
            "WITH RECURSIVE owed(recipient) AS ( \
               SELECT min(m.recipient) FROM {messages} AS m WHERE m.notify_due_ms IS NOT NULL \
               UNION ALL \
               SELECT (SELECT min(m.recipient) FROM {messages} AS m \
                 WHERE m.notify_due_ms IS NOT NULL AND m.recipient > owed.recipient) \
               FROM owed WHERE owed.recipient IS NOT NULL), \
             heads AS ( \
               SELECT (SELECT min(m.id) FROM {messages} AS m \
                 WHERE m.notify_due_ms IS NOT NULL AND m.recipient = owed.recipient) AS id \
               FROM owed WHERE owed.recipient IS NOT NULL) \
             UPDATE {messages} AS t SET notify_owner = $1, notify_lease_until_ms = $3 \
             FROM (SELECT m.id FROM {messages} AS m JOIN heads ON m.id = heads.id \
               WHERE m.notify_due_ms IS NOT NULL AND m.notify_due_ms <= $2 \
               AND (m.notify_lease_until_ms IS NULL OR m.notify_lease_until_ms <= $2) \
               ORDER BY m.id LIMIT $4 FOR UPDATE OF m SKIP LOCKED) AS picked \
             WHERE t.id = picked.id AND t.notify_due_ms IS NOT NULL AND t.notify_due_ms <= $2 \
             AND (t.notify_lease_until_ms IS NULL OR t.notify_lease_until_ms <= $2) \
             RETURNING {t_cols}, CAST(t.notify_attempts AS BIGINT) AS notify_attempts"
        ),
        finish_notification: format!(
            "UPDATE {messages} SET notify_due_ms = NULL, notify_owner = NULL, \
             notify_lease_until_ms = NULL WHERE id = $1 AND notify_due_ms IS NOT NULL"
        ),
        retry_notification: format!(
            "UPDATE {messages} SET notify_attempts = $3, notify_due_ms = $4, \
             notify_owner = NULL, notify_lease_until_ms = NULL \
             WHERE id = $1 AND notify_owner = $2 AND notify_due_ms IS NOT NULL"
        ),
        pending_notifications: format!(
            "SELECT COUNT(*) AS pending FROM {messages} WHERE notify_due_ms IS NOT NULL"
        ),
        dialect: Queries {
            // In id order, so that two batches never wait for each other's rooms.
            lock_rooms: format!("SELECT id FROM {rooms} WHERE id = ANY($1) ORDER BY id FOR UPDATE"),
            // In id order, after the rooms: the ids marked and the messages each read
            // reaches (an init plan, so the outer scan is by primary key). A read meets
            // no message beyond these: newer ones have greater ids, and nothing becomes
            // unread again.
            lock_messages: format!(
                "SELECT id FROM {messages} WHERE id = ANY($1::bigint[] || ARRAY( \
                   SELECT u.id FROM unnest($2::bigint[], $3::text[], $4::bigint[]) \
                     AS r (room_id, reader, up_to) \
                   CROSS JOIN LATERAL (SELECT m.id FROM {messages} AS m \
                     WHERE m.room_id = r.room_id AND m.recipient = r.reader \
                     AND m.id <= r.up_to AND m.status <> 2 OFFSET 0) AS u)) \
                 ORDER BY id FOR NO KEY UPDATE"
            ),
            // The read positions of a batch, one per (room, reader), in key order.
            positions: format!(
                "INSERT INTO {read_positions} (room_id, reader, up_to) \
                 SELECT * FROM unnest($1::bigint[], $2::text[], $3::bigint[]) \
                 ON CONFLICT (reader, room_id) \
                 DO UPDATE SET up_to = GREATEST({read_positions}.up_to, EXCLUDED.up_to)"
            ),
            // A run of consecutive reads of a batch as one statement (their messages
            // are locked already): each message goes to the first read in queue order
            // that reaches it, with that read's time; the answer is how many each
            // read (by its 1-based place in the arrays) moved.
            reads: format!(
                "WITH r AS (SELECT * FROM unnest($1::bigint[], $2::text[], $3::bigint[], \
                   $4::bigint[]) WITH ORDINALITY AS r (room_id, reader, up_to, at_ms, n)), \
                 pick AS (SELECT DISTINCT ON (u.id) u.id, r.n, r.at_ms FROM r \
                   CROSS JOIN LATERAL (SELECT m.id FROM {messages} AS m \
                     WHERE m.room_id = r.room_id AND m.recipient = r.reader \
                     AND m.id <= r.up_to AND m.status <> 2 OFFSET 0) AS u \
                   ORDER BY u.id, r.n), \
                 moved AS (UPDATE {messages} AS m SET status = 2, read_at_ms = pick.at_ms \
                   FROM pick WHERE m.id = pick.id RETURNING pick.n) \
                 SELECT n, COUNT(*) AS moved FROM moved GROUP BY n"
            ),
            // One statement for a whole batch without reads (see `writer.rs`), every
            // send's: first the marks, then the inserts, each row locking its room
            // before it takes an id; ids are taken in the order of the arrays, which
            // the writer relies on. Its marks need no lock order of their own, and
            // locking each message before the update cost about half again as much PostgreSQL CPU per
            // message (docs/benchmarks.md).
            batch_without_reads: format!(
                "WITH marked AS ( \
                   UPDATE {messages} SET status = 1 WHERE status + 0 = 0 AND id = ANY($7) \
                   RETURNING {cols}), \
                 inserted AS ({insert_batch}) \
                 SELECT true AS inserted, * FROM inserted UNION ALL SELECT false, * FROM marked"
            ),
            // `status + 0`: the plan must look ids up by primary key, never scan the
            // partial index of undelivered messages (which a plan made while the table
            // is empty would).
            mark_sent: format!(
                "UPDATE {messages} SET status = 1 WHERE status + 0 = 0 AND id = ANY($1) RETURNING {cols}"
            ),
        },
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

/// Maps driver errors: what a retry may fix is `Unavailable`, the rest `Internal`.
fn store_error(err: sqlx::Error) -> StoreError {
    PostgresDialect::store_error(err)
}

#[cfg(test)]
mod tests;
