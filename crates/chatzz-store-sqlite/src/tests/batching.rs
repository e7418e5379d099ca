//! Group commit on SQLite: the writer's thread of its own. The cases every SQL store
//! runs (`chatzz_store_sql::group_commit_cases!`), a closed pool among them, are in
//! `writer.rs`.

use std::time::Duration;

use chatzz_core::ChatStore;
use chatzz_store_sql::testing::{self, everything, message, user};

use super::fresh_path;
use crate::SqliteDialect;

#[test]
fn the_writer_outlives_the_runtime_that_opened_the_store() {
    let url = format!("sqlite://{}", fresh_path().display());
    let first = tokio::runtime::Runtime::new().expect("runtime");
    let (store, room) = first.block_on(testing::open_with_a_room::<SqliteDialect>(&url));
    // The writer has its own thread: a store handed to another runtime keeps working.
    first.shutdown_timeout(Duration::from_secs(5));
    let second = tokio::runtime::Runtime::new().expect("runtime");
    let chatzz_core::Inserted {
        message: stored, ..
    } = second.block_on(async {
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
