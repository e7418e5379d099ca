use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};

use chatzz_core::{ChatStore, StoreNames, UserId};
use chatzz_store_sql::testing::linked_at;

use super::{MAX_CONNECTIONS, SqliteStore};

/// A fresh database file under the system's temp directory.
pub(crate) fn fresh_path() -> PathBuf {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let dir = std::env::temp_dir().join(format!("chatzz-sqlite-tests-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir.join(format!("{}.db", NEXT.fetch_add(1, Ordering::SeqCst)))
}

pub(crate) async fn fresh_store() -> SqliteStore {
    let url = format!("sqlite://{}", fresh_path().display());
    SqliteStore::connect(&url, StoreNames::default())
        .await
        .expect("open SQLite")
}

chatzz_core::chat_store_conformance!(fresh_store);

#[tokio::test]
async fn data_survives_reopening_and_migrations_run_once() {
    let url = format!("sqlite://{}", fresh_path().display());
    let alice = UserId::parse("alice").expect("id");
    let bob = UserId::parse("bob").expect("id");
    let room = {
        let store = SqliteStore::connect(&url, StoreNames::default())
            .await
            .expect("open");
        store.register_user(&alice).await.expect("register");
        let room = store
            .link(&alice, &bob, linked_at())
            .await
            .expect("link")
            .room;
        store.pool().close().await;
        room
    };
    let store = SqliteStore::connect(&url, StoreNames::default())
        .await
        .expect("reopen");
    assert_eq!(
        store.find_room(&bob, &alice).await.expect("find_room"),
        Some(room)
    );
    assert!(store.find_user(&alice).await.expect("find_user").is_some());
}

#[tokio::test]
async fn table_names_follow_the_configured_prefix() {
    let url = format!("sqlite://{}", fresh_path().display());
    let names = StoreNames::with_prefix("app_chat_").expect("prefix");
    let store = SqliteStore::connect(&url, names).await.expect("open");
    store
        .register_user(&UserId::parse("alice").expect("id"))
        .await
        .expect("register");
    let tables: Vec<String> =
        sqlx::query_scalar("SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'app_chat_%' ORDER BY name")
            .fetch_all(store.pool())
            .await
            .expect("tables");
    assert_eq!(
        tables,
        vec![
            "app_chat_blocks",
            "app_chat_messages",
            "app_chat_migrations",
            "app_chat_read_positions",
            "app_chat_rooms",
            "app_chat_users"
        ]
    );
    let users: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM app_chat_users")
        .fetch_one(store.pool())
        .await
        .expect("count");
    assert_eq!(users, 1);
}

#[tokio::test]
async fn a_bad_url_is_an_error_not_a_panic() {
    let err = SqliteStore::connect(
        "sqlite:///nonexistent-dir/for/sure/x.db",
        StoreNames::default(),
    )
    .await;
    assert!(err.is_err());
}

mod batching;
mod directory;
mod inbox;

/// Missed messages on connect: the window walks the partial index of undelivered
/// messages alone and only the rows chosen are read, by key, never the whole table.
#[tokio::test]
async fn undelivered_walks_the_partial_index_and_reads_rows_by_key() {
    let store = fresh_store().await;
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "EXPLAIN QUERY PLAN {}",
        store.statements().undelivered
    )))
    .bind("alice")
    .bind(500_i64)
    .bind(500_i64)
    .fetch_all(store.pool())
    .await
    .expect("explain");
    let plan: Vec<String> = rows
        .iter()
        .map(|row| sqlx::Row::get::<String, _>(row, "detail"))
        .collect();
    let plan = plan.join("\n");
    assert!(
        plan.contains("COVERING INDEX chatzz_messages_undelivered"),
        "{plan}"
    );
    assert!(plan.contains("INTEGER PRIMARY KEY"), "{plan}");
    assert!(!plan.contains("SCAN chatzz_messages"), "{plan}");
}

/// Every connection of the pool, the writer's too, runs with the page cache and the
/// checkpoint interval the writer's throughput depends on (docs/benchmarks.md).
#[tokio::test]
async fn connections_keep_a_large_page_cache_and_checkpoint_every_ten_thousand_pages() {
    let store = fresh_store().await;
    let mut held = Vec::new();
    for _ in 0..MAX_CONNECTIONS {
        let mut conn = store.pool().acquire().await.expect("connection");
        let cache: i64 = sqlx::query_scalar("PRAGMA cache_size")
            .fetch_one(&mut *conn)
            .await
            .expect("cache_size");
        assert_eq!(cache, -65_536, "KiB");
        let checkpoint: i64 = sqlx::query_scalar("PRAGMA wal_autocheckpoint")
            .fetch_one(&mut *conn)
            .await
            .expect("wal_autocheckpoint");
        assert_eq!(checkpoint, 10_000, "pages");
        held.push(conn);
    }
}
