//! Protocol 1.1 on PostgreSQL: a database written by version 1 upgrades with nothing
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

/// The dump without psql's meta-commands (`\restrict`), which only psql understands.
fn dump_sql() -> String {
    V1_DUMP
        .lines()
        .filter(|line| !line.starts_with('\\'))
        .collect::<Vec<_>>()
        .join("\n")
}

/// A fresh database holding the version 1 dump.
async fn version_1_database() -> TestDb {
    let db = TestDb::create().await;
    // The dump empties search_path for its session: a connection of its own.
    let options: PgConnectOptions = db.url.parse().expect("url");
    let mut conn = sqlx::PgConnection::connect_with(&options)
        .await
        .expect("connect");
    sqlx::raw_sql(AssertSqlSafe(dump_sql()))
        .execute(&mut conn)
        .await
        .expect("load the version 1 dump");
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
    assert_eq!(applied, [1, 2]);
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
    testing::v1::v1_data_is_kept_and_works(&store, V1_SUMMARY).await;
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
