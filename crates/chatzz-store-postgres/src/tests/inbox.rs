//! Protocol 1.1 on PostgreSQL: a database written by version 1 (and one written by schema
//! 2, before offline notifications, owing nothing after) upgrades with nothing
//! lost and takes the new operations; the inbox's statements use their indexes.

use chatzz_core::StoreNames;
use chatzz_store_sql::testing;
use sqlx::postgres::PgConnectOptions;
use sqlx::{AssertSqlSafe, Connection};

use super::{TestDb, fresh_store};
use crate::PostgresStore;

/// `pg_dump --no-owner --no-privileges --inserts` of a database written by the previous
/// main's server through the wire protocol (`tests/migration/write-v1-data.mjs`), and
/// what the script wrote.
const V1_DUMP: &str = include_str!("fixtures/v1.sql");
const V1_SUMMARY: &str = include_str!("fixtures/v1-expected.json");

/// The same, of a database written by the server of schema 2 (protocol 1.1, before
/// offline notifications); and what the script wrote.
const V2_DUMP: &str = include_str!("fixtures/v2.sql");
const V2_SUMMARY: &str = include_str!("fixtures/v2-expected.json");

/// The dump without psql's meta-commands (`\restrict`), which only psql understands.
fn dump_sql(dump: &str) -> String {
    dump.lines()
        .filter(|line| !line.starts_with('\\'))
        .collect::<Vec<_>>()
        .join("\n")
}

/// A fresh database holding the version 1 dump.
async fn version_1_database() -> TestDb {
    database_of(V1_DUMP).await
}

/// A fresh database holding `dump`.
async fn database_of(dump: &str) -> TestDb {
    let db = TestDb::create().await;
    // The dump empties search_path for its session: a connection of its own.
    let options: PgConnectOptions = db.url.parse().expect("url");
    let mut conn = sqlx::PgConnection::connect_with(&options)
        .await
        .expect("connect");
    sqlx::raw_sql(AssertSqlSafe(dump_sql(dump)))
        .execute(&mut conn)
        .await
        .expect("load the dump");
    conn.close().await.expect("close");
    db
}

#[tokio::test]
async fn a_database_of_version_1_keeps_everything_and_takes_the_new_operations() {
    let db = version_1_database().await;
    let store = PostgresStore::connect(&db.url, StoreNames::default())
        .await
        .expect("connect and migrate");
    let applied: Vec<i64> =
        sqlx::query_scalar("SELECT version FROM chatzz_migrations WHERE success ORDER BY version")
            .fetch_all(store.pool())
            .await
            .expect("migrations");
    assert_eq!(applied, [1, 2, 3]);
    let (untouched, all, dated): (i64, i64, i64) = sqlx::query_as(
        "SELECT (SELECT COUNT(*) FROM chatzz_messages WHERE edited_at_ms IS NULL \
         AND deleted_at_ms IS NULL), (SELECT COUNT(*) FROM chatzz_messages), \
         (SELECT COUNT(*) FROM chatzz_rooms WHERE created_at_ms IS NOT NULL)",
    )
    .fetch_one(store.pool())
    .await
    .expect("count");
    assert!(all > 0);
    assert_eq!(untouched, all, "the new message columns are NULL");
    assert_eq!(dated, 0, "old rooms have no creation time");
    testing::v2::nothing_is_owed(&store).await;
    testing::v1::v1_data_is_kept_and_works(&store, V1_SUMMARY).await;
    testing::v2::new_sends_are_owed(&store, V1_SUMMARY).await;
}

#[tokio::test]
async fn a_database_of_version_2_keeps_everything_and_owes_no_notification() {
    let db = database_of(V2_DUMP).await;
    let store = PostgresStore::connect(&db.url, StoreNames::default())
        .await
        .expect("connect and migrate");
    let applied: Vec<i64> =
        sqlx::query_scalar("SELECT version FROM chatzz_migrations WHERE success ORDER BY version")
            .fetch_all(store.pool())
            .await
            .expect("migrations");
    assert_eq!(applied, [1, 2, 3]);
    let (owed, attempts, all): (i64, i64, i64) = sqlx::query_as(
        "SELECT (SELECT COUNT(*) FROM chatzz_messages WHERE notify_due_ms IS NOT NULL \
         OR notify_owner IS NOT NULL OR notify_lease_until_ms IS NOT NULL), \
         (SELECT COUNT(*) FROM chatzz_messages WHERE notify_attempts = 0), \
         (SELECT COUNT(*) FROM chatzz_messages)",
    )
    .fetch_one(store.pool())
    .await
    .expect("count");
    assert!(all > 0);
    assert_eq!((owed, attempts), (0, all), "old messages owe nothing");
    testing::v2::v2_data_is_kept_and_works(&store, V2_SUMMARY).await;
}

/// The upgrade docs/storage.md gives for large tables: the column and the index made
/// beforehand, without blocking, while version 1 runs; the migration then finds them.
#[tokio::test]
async fn an_index_built_concurrently_beforehand_is_taken_by_the_migration() {
    let db = version_1_database().await;
    {
        let options: PgConnectOptions = db.url.parse().expect("url");
        let mut conn = sqlx::PgConnection::connect_with(&options)
            .await
            .expect("connect");
        // Outside a transaction, one statement at a time, as CONCURRENTLY requires.
        for statement in [
            "ALTER TABLE chatzz_messages ADD COLUMN IF NOT EXISTS deleted_at_ms BIGINT",
            "CREATE INDEX CONCURRENTLY chatzz_messages_unread ON chatzz_messages \
             (room_id, recipient, id) INCLUDE (deleted_at_ms) WHERE status <> 2",
        ] {
            sqlx::raw_sql(AssertSqlSafe(statement))
                .execute(&mut conn)
                .await
                .unwrap_or_else(|e| panic!("{statement}: {e}"));
        }
        conn.close().await.expect("close");
    }
    let store = PostgresStore::connect(&db.url, StoreNames::default())
        .await
        .expect("connect and migrate");
    let indexes: Vec<String> = sqlx::query_scalar(
        "SELECT indexname::text FROM pg_indexes WHERE tablename = 'chatzz_messages' \
         AND indexname LIKE '%unread%'",
    )
    .fetch_all(store.pool())
    .await
    .expect("indexes");
    assert_eq!(
        indexes,
        ["chatzz_messages_unread"],
        "one unread index, the one built"
    );
    testing::v1::v1_data_is_kept_and_works(&store, V1_SUMMARY).await;
}

/// With sequential scans priced out (as on a large table), `contacts` counts unread
/// messages on the partial index and finds the newest message at the end of the
/// room's index; a read up to a message walks the partial index.
#[tokio::test]
async fn the_inbox_uses_its_indexes() {
    let test = fresh_store().await;
    let mut conn = test.store.pool().acquire().await.expect("connection");
    sqlx::raw_sql("SET enable_seqscan = off")
        .execute(&mut *conn)
        .await
        .expect("set");
    let sql = test.store.statements();
    for (statement, args, index) in [
        (&sql.contacts, "('alice')", "chatzz_messages_unread"),
        (&sql.contacts, "('alice')", "chatzz_messages_by_room"),
        (
            &sql.read_up_to,
            "(1, 'bob', 5, 9)",
            "chatzz_messages_unread",
        ),
    ] {
        sqlx::raw_sql(AssertSqlSafe(format!("PREPARE probe AS {statement}")))
            .execute(&mut *conn)
            .await
            .expect("prepare");
        let plan: Vec<String> = sqlx::query_scalar(AssertSqlSafe(format!(
            "EXPLAIN (COSTS OFF) EXECUTE probe{args}"
        )))
        .fetch_all(&mut *conn)
        .await
        .expect("explain");
        let plan = plan.join("\n");
        assert!(plan.contains(index), "{statement}:\n{plan}");
        assert!(
            !plan.contains("Seq Scan on chatzz_messages"),
            "{statement}:\n{plan}"
        );
        sqlx::raw_sql("DEALLOCATE probe")
            .execute(&mut *conn)
            .await
            .expect("deallocate");
    }
}

/// The upgrade docs/storage.md gives for large tables, for the notifications: the
/// column and the partial index made beforehand, without blocking, while schema 2
/// runs; the migration then finds them.
#[tokio::test]
async fn a_notify_index_built_concurrently_beforehand_is_taken_by_the_migration() {
    let db = database_of(V2_DUMP).await;
    {
        let options: PgConnectOptions = db.url.parse().expect("url");
        let mut conn = sqlx::PgConnection::connect_with(&options)
            .await
            .expect("connect");
        for statement in [
            "ALTER TABLE chatzz_messages ADD COLUMN IF NOT EXISTS notify_due_ms BIGINT",
            "CREATE INDEX CONCURRENTLY chatzz_messages_notify ON chatzz_messages \
             (recipient, id) WHERE notify_due_ms IS NOT NULL",
        ] {
            sqlx::raw_sql(AssertSqlSafe(statement))
                .execute(&mut conn)
                .await
                .unwrap_or_else(|e| panic!("{statement}: {e}"));
        }
        conn.close().await.expect("close");
    }
    let store = PostgresStore::connect(&db.url, StoreNames::default())
        .await
        .expect("connect and migrate");
    let indexes: Vec<String> = sqlx::query_scalar(
        "SELECT indexname::text FROM pg_indexes WHERE tablename = 'chatzz_messages' \
         AND indexname LIKE '%notify%'",
    )
    .fetch_all(store.pool())
    .await
    .expect("indexes");
    assert_eq!(
        indexes,
        ["chatzz_messages_notify"],
        "one notify index, the one built"
    );
    testing::v2::v2_data_is_kept_and_works(&store, V2_SUMMARY).await;
}
