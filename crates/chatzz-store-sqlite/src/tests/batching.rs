//! Group commit on SQLite: the cases every SQL store runs (`chatzz_group_commit::testing`),
//! a closed pool, and the writer's thread of its own.

use std::time::Duration;

use chatzz_core::{ChatStore, StoreError, StoreNames};
use chatzz_group_commit::testing::{self, everything, message, user};

use super::{fresh_path, fresh_store};
use crate::SqliteStore;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_inserts_share_commits_and_each_lands_once_in_order() {
    let store = fresh_store().await;
    testing::concurrent_inserts_share_commits_and_each_lands_once_in_order(
        &store,
        SqliteStore::write_batches,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_entry_fails_alone() {
    testing::a_failing_entry_fails_alone(&fresh_store().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_mark_sent_moves_each_message_once() {
    testing::concurrent_mark_sent_moves_each_message_once(&fresh_store().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_mark_read_moves_each_message_once() {
    let store = fresh_store().await;
    testing::concurrent_mark_read_moves_each_message_once(&store, SqliteStore::write_batches).await;
}

#[tokio::test]
async fn a_closed_pool_is_unavailable() {
    let store = fresh_store().await;
    let (alice, bob) = (user("alice"), user("bob"));
    let room = store.link(&alice, &bob).await.expect("link").room;
    store.pool().close().await;
    let err = store
        .insert_message(message(&room, &alice, &bob, "late"))
        .await
        .expect_err("closed");
    assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
}

#[test]
fn the_writer_outlives_the_runtime_that_opened_the_store() {
    let url = format!("sqlite://{}", fresh_path().display());
    let first = tokio::runtime::Runtime::new().expect("runtime");
    let (store, room) = first.block_on(async {
        let store = SqliteStore::connect(&url, StoreNames::default())
            .await
            .expect("open");
        let room = store
            .link(&user("alice"), &user("bob"))
            .await
            .expect("link")
            .room;
        (store, room)
    });
    // The writer has its own thread: a store handed to another runtime keeps working.
    first.shutdown_timeout(Duration::from_secs(5));
    let second = tokio::runtime::Runtime::new().expect("runtime");
    let (stored, _) = second.block_on(async {
        tokio::time::timeout(
            Duration::from_secs(10),
            store.insert_message(message(&room, &user("alice"), &user("bob"), "x")),
        )
        .await
        .expect("answered, not hung")
        .expect("stored")
    });
    let page = second
        .block_on(store.history(&room, &everything()))
        .expect("read");
    assert_eq!(page.last().map(|m| &m.id), Some(&stored.id));
}
