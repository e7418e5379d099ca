//! The group-commit cases every SQL store runs against its own database (feature
//! `testing`), as the [`group_commit_cases!`](crate::group_commit_cases) macro, and the
//! builders its stores' own tests share.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod cases;
pub mod directory;
pub mod v1;
pub mod v2;

pub use cases::*;

use crate::{Answer, Done, Op};

/// Defines, in the module it is invoked in, one `#[tokio::test]` per group-commit case
/// that every SQL store runs, like `chatzz_core::chat_store_conformance!`:
///
/// - `fresh`: an async function that opens a store on a fresh database (or something
///   that holds one, kept alive through the test);
/// - `store`: how to get the `&SqlStore` out of what `fresh` gave;
/// - `run`, `run_fast`, `run_careful`: async functions `(&store, &[Op]) ->
///   Vec<Answer>` that commit one batch through the dialect's `commit`, only its fast
///   path (which must not fail), and only its careful path;
/// - `boom`: an async function that makes the database refuse a message text `boom`
///   (say, with a trigger) and returns `true`, or returns `false` where it cannot.
///
/// ```ignore
/// chatzz_store_sql::group_commit_cases! {
///     fresh: fresh_store,
///     store: |test| &test.store,
///     run: run,
///     run_fast: run_fast,
///     run_careful: run_careful,
///     boom: refuse_boom,
/// }
/// ```
#[macro_export]
macro_rules! group_commit_cases {
    (
        fresh: $fresh:expr,
        store: |$test:ident| $store:expr,
        run: $run:expr,
        run_fast: $fast:expr,
        run_careful: $careful:expr,
        boom: $boom:expr $(,)?
    ) => {
        #[::tokio::test]
        async fn a_closed_pool_is_unavailable() {
            let $test = ($fresh)().await;
            $crate::testing::a_closed_pool_is_unavailable($store).await;
        }

        #[::tokio::test]
        async fn a_bad_entry_fails_alone_and_the_rest_still_commit_together() {
            let $test = ($fresh)().await;
            let store = $store;
            let boom = ($boom)(store).await;
            $crate::testing::a_bad_entry_fails_alone_and_the_rest_still_commit_together(
                store,
                boom,
                async |ops| ($run)(store, ops).await,
            )
            .await;
        }

        #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn concurrent_inserts_share_commits_and_each_lands_once_in_order() {
            let $test = ($fresh)().await;
            $crate::testing::concurrent_inserts_share_commits_and_each_lands_once_in_order(
                $store,
                $crate::SqlStore::write_batches,
            )
            .await;
        }

        #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn a_failing_entry_fails_alone() {
            let $test = ($fresh)().await;
            $crate::testing::a_failing_entry_fails_alone($store).await;
        }

        #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn concurrent_mark_sent_moves_each_message_once() {
            let $test = ($fresh)().await;
            $crate::testing::concurrent_mark_sent_moves_each_message_once($store).await;
        }

        #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn concurrent_read_ups_move_each_message_once() {
            let $test = ($fresh)().await;
            $crate::testing::concurrent_read_ups_move_each_message_once(
                $store,
                $crate::SqlStore::write_batches,
            )
            .await;
        }

        #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn a_read_over_a_backlog_is_one_write() {
            let $test = ($fresh)().await;
            $crate::testing::a_read_over_a_backlog_is_one_write(
                $store,
                $crate::SqlStore::write_batches,
            )
            .await;
        }

        #[::tokio::test]
        async fn a_batch_reads_in_queue_order() {
            let $test = ($fresh)().await;
            let store = $store;
            $crate::testing::a_batch_reads_in_queue_order(store, async |ops| {
                ($run)(store, ops).await
            })
            .await;
        }

        #[::tokio::test]
        async fn reads_take_the_fast_path() {
            let $test = ($fresh)().await;
            let store = $store;
            $crate::testing::a_batch_reads_in_queue_order(store, async |ops| {
                ($fast)(store, ops).await
            })
            .await;
        }

        #[::tokio::test]
        async fn the_careful_path_reads_as_the_fast_one() {
            let $test = ($fresh)().await;
            let store = $store;
            $crate::testing::a_batch_reads_in_queue_order(store, async |ops| {
                ($careful)(store, ops).await
            })
            .await;
        }

        #[::tokio::test]
        async fn a_batch_records_what_each_insert_owes() {
            let $test = ($fresh)().await;
            let store = $store;
            $crate::testing::a_batch_records_what_each_insert_owes(store, async |ops| {
                ($run)(store, ops).await
            })
            .await;
        }

        #[::tokio::test]
        async fn the_fast_path_records_what_each_insert_owes() {
            let $test = ($fresh)().await;
            let store = $store;
            $crate::testing::a_batch_records_what_each_insert_owes(store, async |ops| {
                ($fast)(store, ops).await
            })
            .await;
        }

        #[::tokio::test]
        async fn the_careful_path_records_what_each_insert_owes() {
            let $test = ($fresh)().await;
            let store = $store;
            $crate::testing::a_batch_records_what_each_insert_owes(store, async |ops| {
                ($careful)(store, ops).await
            })
            .await;
        }

        #[::tokio::test]
        async fn a_batch_marking_one_message_sent_and_read_keeps_queue_order() {
            let $test = ($fresh)().await;
            let store = $store;
            $crate::testing::a_batch_marking_one_message_sent_and_read_keeps_queue_order(
                store,
                async |ops| ($run)(store, ops).await,
            )
            .await;
        }

        #[::tokio::test]
        async fn a_batch_numbers_rows_in_queue_order_and_answers_repeats_with_the_first() {
            let $test = ($fresh)().await;
            let store = $store;
            $crate::testing::a_batch_numbers_rows_in_queue_order_and_answers_repeats_with_the_first(
                                                        store,
                                                        async |ops| ($run)(store, ops).await,
                                                    )
                                                    .await;
            assert_eq!(store.write_batches(), 0, "commit() was called directly");
        }
    };
}

/// A closed pool: an insert is `Unavailable`, not a hang or an `Internal` error.
pub async fn a_closed_pool_is_unavailable<D: crate::Dialect>(store: &crate::SqlStore<D>)
where
    crate::SqlStore<D>: chatzz_core::ChatStore,
{
    use chatzz_core::{ChatStore, StoreError};
    let (alice, bob) = (user("alice"), user("bob"));
    let room = store
        .link(&alice, &bob, linked_at())
        .await
        .expect("link")
        .room;
    store.pool().close().await;
    let err = store
        .insert_message(message(&room, &alice, &bob, "late"))
        .await
        .expect_err("closed");
    assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
}

/// `run` commits one batch in which an insert into an unknown room fails (and, with
/// `boom`, an insert whose text `boom` the database refuses: a trigger the caller set
/// up), while the rest commit together: the repeat of a client id is answered with its
/// first, the plain insert and the mark go through.
pub async fn a_bad_entry_fails_alone_and_the_rest_still_commit_together(
    store: &impl chatzz_core::ChatStore,
    boom: bool,
    run: impl AsyncFnOnce(&[Op]) -> Vec<Answer>,
) {
    use chatzz_core::{ChatRoomId, MessageStatus, StoreError, sequence};
    let (alice, bob) = (user("alice"), user("bob"));
    let room = store
        .link(&alice, &bob, linked_at())
        .await
        .expect("link")
        .room;
    let chatzz_core::Inserted {
        message: earlier, ..
    } = store
        .insert_message(message(&room, &alice, &bob, "earlier"))
        .await
        .expect("insert");
    let nowhere = ChatRoomId::new(sequence::encode(999));
    let mut ops = vec![
        insert(&room, "first", Some("x")),
        insert(&nowhere, "lost", None),
        insert(&room, "again", Some("x")),
    ];
    if boom {
        ops.push(insert(&room, "boom", None));
    }
    ops.push(insert(&room, "plain", None));
    ops.push(Op::MarkSent(vec![row_id(earlier.id.as_str())]));
    let answers = run(&ops).await;
    let (first, text, created) = inserted(&answers[0]);
    assert_eq!((text.as_str(), created), ("first", true));
    assert!(
        matches!(answers[1], Err(StoreError::Internal(_))),
        "{:?}",
        answers[1]
    );
    assert_eq!(inserted(&answers[2]), (first, "first".to_owned(), false));
    let rest = if boom {
        assert!(
            matches!(&answers[3], Err(StoreError::Internal(e)) if e.contains("boom")),
            "{:?}",
            answers[3]
        );
        &answers[4..]
    } else {
        &answers[3..]
    };
    assert_eq!(inserted(&rest[0]).1, "plain");
    match &rest[1] {
        Ok(Done::Marked(moved)) => {
            assert_eq!(moved.len(), 1);
            assert_eq!(moved[0].id, earlier.id);
            assert_eq!(moved[0].status, MessageStatus::Sent);
        }
        other => panic!("{other:?}"),
    }
    let all = store.history(&room, &everything()).await.expect("history");
    let texts: Vec<_> = all.iter().map(|m| m.text.as_str()).collect();
    assert_eq!(texts, ["earlier", "first", "plain"]);
}

/// A store opened on `url` with the default names, and the room of alice and bob in it.
pub async fn open_with_a_room<D: crate::Dialect>(
    url: &str,
) -> (crate::SqlStore<D>, chatzz_core::ChatRoomId)
where
    crate::SqlStore<D>: chatzz_core::ChatStore,
{
    use chatzz_core::ChatStore;
    let store = crate::SqlStore::<D>::connect(url, chatzz_core::StoreNames::default())
        .await
        .expect("open the store");
    let room = store
        .link(&user("alice"), &user("bob"), linked_at())
        .await
        .expect("link")
        .room;
    (store, room)
}
