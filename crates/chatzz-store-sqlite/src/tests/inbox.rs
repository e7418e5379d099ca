//! Protocol 1.1 on SQLite: a database written by version 1 (and one written by schema 2,
//! before offline notifications) upgrades with nothing lost and owing nothing,
//! deleted text leaves the file, and the inbox's statements walk indexes only.

use chatzz_core::{ChatStore, StoreNames};
use chatzz_store_sql::testing::{self, at, linked_at, message, user};
use sqlx::Row;

use super::{fresh_path, fresh_store};
use crate::SqliteStore;

/// A database file written by the previous main's server through the wire protocol
/// (`tests/migration/write-v1-data.mjs`), checkpointed; and what the script wrote.
const V1_DATABASE: &[u8] = include_bytes!("fixtures/v1.sqlite3");
const V1_SUMMARY: &str = include_str!("fixtures/v1-expected.json");

/// The same, written by the server of schema 2 (protocol 1.1, before offline
/// notifications), checkpointed; and what the script wrote.
const V2_DATABASE: &[u8] = include_bytes!("fixtures/v2.sqlite3");
const V2_SUMMARY: &str = include_str!("fixtures/v2-expected.json");

#[tokio::test]
async fn a_database_of_version_1_keeps_everything_and_takes_the_new_operations() {
    let path = fresh_path();
    std::fs::write(&path, V1_DATABASE).expect("copy the fixture");
    let url = format!("sqlite://{}", path.display());
    let store = SqliteStore::connect(&url, StoreNames::default())
        .await
        .expect("open and migrate");
    let applied: Vec<i64> =
        sqlx::query_scalar("SELECT version FROM chatzz_migrations WHERE success ORDER BY version")
            .fetch_all(store.pool())
            .await
            .expect("migrations");
    assert_eq!(applied, [1, 2, 3]);
    let nulls: (i64, i64, i64) = sqlx::query_as(
        "SELECT (SELECT COUNT(*) FROM chatzz_messages WHERE edited_at_ms IS NULL \
         AND deleted_at_ms IS NULL), (SELECT COUNT(*) FROM chatzz_messages), \
         (SELECT COUNT(*) FROM chatzz_rooms WHERE created_at_ms IS NOT NULL)",
    )
    .fetch_one(store.pool())
    .await
    .expect("count");
    assert_eq!(nulls.0, nulls.1, "the new message columns are NULL");
    assert_eq!(nulls.2, 0, "old rooms have no creation time");
    testing::v2::nothing_is_owed(&store).await;
    testing::v1::v1_data_is_kept_and_works(&store, V1_SUMMARY).await;
    testing::v2::new_sends_are_owed(&store, V1_SUMMARY).await;
    let check: String = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_one(store.pool())
        .await
        .expect("integrity_check");
    assert_eq!(check, "ok");
}

#[tokio::test]
async fn a_database_of_version_2_keeps_everything_and_owes_no_notification() {
    let path = fresh_path();
    std::fs::write(&path, V2_DATABASE).expect("copy the fixture");
    let url = format!("sqlite://{}", path.display());
    let before: Vec<i64> = {
        let pool = sqlx::SqlitePool::connect(&url)
            .await
            .expect("open as it is");
        let applied = sqlx::query_scalar(
            "SELECT version FROM chatzz_migrations WHERE success ORDER BY version",
        )
        .fetch_all(&pool)
        .await
        .expect("migrations");
        pool.close().await;
        applied
    };
    assert_eq!(before, [1, 2], "the fixture is of schema 2");
    let store = SqliteStore::connect(&url, StoreNames::default())
        .await
        .expect("open and migrate");
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
    let check: String = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_one(store.pool())
        .await
        .expect("integrity_check");
    assert_eq!(check, "ok");
}

/// Without `secure_delete`, the tail of a rewritten row stays in the page's free space
/// (checked: with it off, this test fails).
#[tokio::test]
async fn deleted_and_edited_text_is_not_left_in_the_file() {
    let path = fresh_path();
    let url = format!("sqlite://{}", path.display());
    let store = SqliteStore::connect(&url, StoreNames::default())
        .await
        .expect("open");
    text_is_erased(&store, &path).await;
}

/// A host application's own pool, opened without `secure_delete`: edits and deletes
/// still erase.
#[tokio::test]
async fn a_host_pool_without_secure_delete_still_erases() {
    use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions};
    use std::str::FromStr;

    let path = fresh_path();
    let options = SqliteConnectOptions::from_str(&format!("sqlite://{}", path.display()))
        .expect("url")
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .pragma("secure_delete", "OFF");
    let pool = SqlitePoolOptions::new()
        .max_connections(2)
        .connect_with(options)
        .await
        .expect("the host's pool");
    let store = SqliteStore::new(pool, StoreNames::default())
        .await
        .expect("open");
    text_is_erased(&store, &path).await;
}

async fn text_is_erased(store: &SqliteStore, path: &std::path::Path) {
    let (alice, bob) = (user("alice"), user("bob"));
    let room = store
        .link(&alice, &bob, linked_at())
        .await
        .expect("link")
        .room;
    let tail = |i: usize| format!("-the-tail-of-message-{i}-QX7Z");
    let mut ids = Vec::new();
    for i in 0..5 {
        let text = format!("message {i} {}{}", "x".repeat(40), tail(i));
        let stored = store
            .insert_message(message(&room, &alice, &bob, &text))
            .await
            .expect("insert")
            .message;
        ids.push(stored.id);
    }
    let on_disk = |needle: &str| {
        let mut bytes = std::fs::read(path).expect("read the database");
        if let Ok(wal) = std::fs::read(format!("{}-wal", path.display())) {
            bytes.extend(wal);
        }
        bytes.windows(needle.len()).any(|w| w == needle.as_bytes())
    };
    let checkpoint = async || {
        let (busy, _, _): (i64, i64, i64) = sqlx::query_as("PRAGMA wal_checkpoint(TRUNCATE)")
            .fetch_one(store.pool())
            .await
            .expect("checkpoint");
        assert_eq!(busy, 0, "the checkpoint completed");
    };
    checkpoint().await;
    assert!((0..5).all(|i| on_disk(&tail(i))), "written at first");

    for i in [1, 3] {
        store
            .delete_message(&ids[i], at(2_000))
            .await
            .expect("delete")
            .expect("deleted");
    }
    store
        .edit_message(
            &ids[2],
            &chatzz_core::MessageText::parse("short".into(), 100).expect("text"),
            at(2_001),
        )
        .await
        .expect("edit")
        .expect("edited");
    // Nothing more to do: the store emptied the write-ahead log after each of them.
    for i in [1, 2, 3] {
        assert!(
            !on_disk(&tail(i)),
            "text {i} is gone from the file and its log as soon as the call returns"
        );
    }
    checkpoint().await;
    for i in [1, 3] {
        assert!(
            !on_disk(&tail(i)),
            "the text of deleted message {i} is erased"
        );
    }
    assert!(
        !on_disk(&tail(2)),
        "the old text of an edited message is erased"
    );
    assert!(
        on_disk(&tail(0)) && on_disk(&tail(4)),
        "the others are there"
    );
}

/// The plan of `statement` with `args` bound, one line per step.
async fn plan(store: &SqliteStore, statement: &str, args: &[&str]) -> String {
    let mut query = sqlx::query(sqlx::AssertSqlSafe(format!(
        "EXPLAIN QUERY PLAN {statement}"
    )));
    for arg in args {
        query = query.bind(*arg);
    }
    let rows = query.fetch_all(store.pool()).await.expect("explain");
    rows.iter()
        .map(|row| row.get::<String, _>("detail"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// `contacts` reads no history: unread counts walk the covering partial index of
/// unread messages, the newest message is one lookup at the end of the room's index;
/// a read up to a message walks the partial index too.
#[tokio::test]
async fn the_inbox_walks_indexes_only() {
    let store = fresh_store().await;
    let sql = store.statements();
    let contacts = plan(&store, &sql.contacts, &["alice"]).await;
    assert!(
        contacts.contains("COVERING INDEX chatzz_messages_unread"),
        "{contacts}"
    );
    assert!(contacts.contains("chatzz_messages_by_room"), "{contacts}");
    assert!(!contacts.contains("SCAN chatzz_messages"), "{contacts}");
    assert!(!contacts.contains("SCAN m"), "{contacts}");
    let read = plan(&store, &sql.read_up_to, &["1", "bob", "5", "9"]).await;
    assert!(read.contains("INDEX chatzz_messages_unread"), "{read}");
    assert!(!read.contains("SCAN"), "{read}");
}
