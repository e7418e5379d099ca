//! Group commit on PostgreSQL with two stores (two server processes) on one database;
//! writers gone with their runtime or their pool; the writers' plans. The cases every
//! SQL store runs (`chatzz_store_sql::group_commit_cases!`) are in `writer.rs`.

use std::collections::HashMap;
use std::time::Duration;

use chatzz_core::{
    ChatStore, ClientMessageId, MessageId, MessageStatus, MessageText, StoreError, StoreNames,
    Timestamp,
};
use chatzz_store_sql::testing::{self, everything, linked_at, message, user};
use sqlx::AssertSqlSafe;

use super::{TestDb, fresh_store};
use crate::{PostgresDialect, PostgresStore};

/// Two server processes (four writers) mark overlapping lists sent and read the room up
/// to messages at once, their batches locking the same rows: none waits on another for
/// long (a deadlock would fail a batch after `deadlock_timeout`), every message is read
/// once in all, and in the end every message up to the furthest read is read.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn writers_changing_the_same_messages_never_deadlock() {
    let db = TestDb::create().await;
    let stores = [
        PostgresStore::connect(&db.url, StoreNames::default())
            .await
            .expect("connect"),
        PostgresStore::connect(&db.url, StoreNames::default())
            .await
            .expect("connect"),
    ];
    let (alice, bob) = (user("alice"), user("bob"));
    let room = stores[0]
        .link(&alice, &bob, linked_at())
        .await
        .expect("link")
        .room;
    let other = stores[0]
        .link(&bob, &user("carol"), linked_at())
        .await
        .expect("link")
        .room;
    let mut ids = Vec::new();
    for i in 0..60 {
        // Every third message in another room, so that reads of both rooms interleave.
        let (r, from) = if i % 3 == 0 {
            (&other, user("carol"))
        } else {
            (&room, alice.clone())
        };
        let chatzz_core::Inserted { message: m, .. } = stores[0]
            .insert_message(message(r, &from, &bob, &format!("m{i}")))
            .await
            .expect("insert");
        ids.push((r.clone(), m.id));
    }
    let mut read = 0;
    for round in 0..3 {
        let tasks: Vec<_> = (0..240_usize)
            .map(|i| {
                let store = stores[i % 2].clone();
                // Lists that start on either side of one another, spread over the
                // messages, and reads walking them backwards.
                let mine: Vec<MessageId> = (0..6)
                    .map(|k| ids[(i * 7 + k * 11 + round) % ids.len()].1.clone())
                    .collect();
                let (room, up_to) = ids[ids.len() - 1 - (i + round) % ids.len()].clone();
                let at =
                    Timestamp::from_millis(1_000 + i64::try_from(i).expect("i")).expect("time");
                tokio::spawn(async move {
                    if i % 3 == 0 {
                        let moved = store.read_up_to(&user("bob"), &room, &up_to, at).await?;
                        Ok::<_, StoreError>((Vec::new(), moved))
                    } else {
                        Ok((store.mark_sent(&mine).await?, 0))
                    }
                })
            })
            .collect();
        for task in tasks {
            let (sent, moved) = tokio::time::timeout(Duration::from_secs(20), task)
                .await
                .expect("answered")
                .expect("join")
                .expect("no batch failed");
            assert!(sent.iter().all(|m| m.status == MessageStatus::Sent));
            read += moved;
        }
    }
    assert_eq!(read, ids.len(), "each message read once");
    for (_, id) in &ids {
        let stored = stores[1].find_message(id).await.expect("find");
        assert_eq!(stored.map(|m| m.status), Some(MessageStatus::Read));
    }
}
/// Two server processes (two stores, each with its own writers) insert into the same
/// rooms at once, with client ids that both of them receive, while a client catches up
/// with `after`: it sees every message once, in order, and each client id is stored once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_batching_into_one_room_keep_order_and_idempotency() {
    let db = TestDb::create().await;
    let first = PostgresStore::connect(&db.url, StoreNames::default())
        .await
        .expect("connect");
    let second = PostgresStore::connect(&db.url, StoreNames::default())
        .await
        .expect("connect");
    let (alice, bob) = (user("alice"), user("bob"));
    let room = first
        .link(&alice, &bob, linked_at())
        .await
        .expect("link")
        .room;
    // The client has seen the room's first message and waits for the rest.
    let chatzz_core::Inserted { message: start, .. } = first
        .insert_message(message(&room, &alice, &bob, "start"))
        .await
        .expect("insert");
    let writers: Vec<_> = (0..200)
        .map(|i| {
            let store = if i % 2 == 0 {
                first.clone()
            } else {
                second.clone()
            };
            let mut m = message(&room, &alice, &bob, &format!("m{i}"));
            if i % 4 < 2 {
                // Sends i and i + 1 are one send retried on the other process.
                m.client_message_id =
                    Some(ClientMessageId::parse(format!("c{}", i / 4)).expect("id"));
                m.text = MessageText::parse(format!("c{}", i / 4), 1000).expect("text");
            }
            tokio::spawn(async move { store.insert_message(m).await })
        })
        .collect();
    let mut seen: Vec<MessageId> = Vec::new();
    let mut page = everything();
    page.limit = 7;
    page.after = Some(start.id.clone());
    let mut done = false;
    while !done {
        done = writers.iter().all(|w| w.is_finished());
        loop {
            let got = second.history(&room, &page).await.expect("history");
            let full = got.len() == page.limit;
            for m in got {
                seen.push(m.id.clone());
                page.after = Some(m.id);
            }
            if !full {
                break;
            }
        }
    }
    let mut created = HashMap::new();
    for writer in writers {
        let chatzz_core::Inserted {
            message: m,
            created: fresh,
        } = writer.await.expect("join").expect("insert");
        if let Some(c) = m.client_message_id {
            *created.entry(c.as_str().to_owned()).or_insert(0) += usize::from(fresh);
        }
    }
    assert_eq!(created.len(), 50);
    assert!(created.values().all(|n| *n == 1), "{created:?}");
    let all: Vec<MessageId> = first
        .history(&room, &everything())
        .await
        .expect("history")
        .into_iter()
        .map(|m| m.id)
        .collect();
    assert_eq!(all.len(), 151);
    assert_eq!(all[0], start.id);
    assert_eq!(
        seen,
        all[1..],
        "the catching-up client saw every message once"
    );
}

#[tokio::test]
async fn a_writer_gone_with_its_runtime_is_unavailable() {
    let db = TestDb::create().await;
    let url = db.url.clone();
    let (store, room) = std::thread::spawn(move || {
        let first = tokio::runtime::Runtime::new().expect("runtime");
        let made = first.block_on(testing::open_with_a_room::<PostgresDialect>(&url));
        // The writers die with the runtime that ran them.
        first.shutdown_timeout(Duration::from_secs(5));
        made
    })
    .join()
    .expect("thread");
    let result = tokio::time::timeout(
        Duration::from_secs(10),
        store.insert_message(message(&room, &user("alice"), &user("bob"), "x")),
    )
    .await;
    let err = result.expect("answered, not hung").expect_err("no writer");
    assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
}

#[tokio::test]
async fn writers_use_generic_plans_unless_the_url_chooses() {
    let test = fresh_store().await;
    let mut conn = crate::writer_pool(test.store.pool())
        .acquire()
        .await
        .expect("connection");
    let mode: String = sqlx::query_scalar("SHOW plan_cache_mode")
        .fetch_one(&mut *conn)
        .await
        .expect("show");
    assert_eq!(mode, "force_generic_plan");
    let main: String = sqlx::query_scalar("SHOW plan_cache_mode")
        .fetch_one(test.store.pool())
        .await
        .expect("show");
    assert_eq!(main, "auto", "the store's own pool is left alone");
    let db = TestDb::create().await;
    let url = format!(
        "{}?options=-c%20plan_cache_mode%3Dforce_custom_plan",
        db.url.split('?').next().unwrap_or_default()
    );
    let store = PostgresStore::connect(&url, StoreNames::default())
        .await
        .expect("connect");
    let mut conn = crate::writer_pool(store.pool())
        .acquire()
        .await
        .expect("connection");
    let mode: String = sqlx::query_scalar("SHOW plan_cache_mode")
        .fetch_one(&mut *conn)
        .await
        .expect("show");
    assert_eq!(mode, "force_custom_plan");
}

/// The writers' generic plans are made when the tables are empty and kept: each must
/// still look rows up by key once the tables are large.
#[tokio::test]
async fn writer_plans_made_on_empty_tables_use_keys() {
    let test = fresh_store().await;
    let mut conn = crate::writer_pool(test.store.pool())
        .acquire()
        .await
        .expect("connection");
    let sql = test.store.statements();
    for (statement, args) in [
        (
            &sql.dialect.batch_without_reads,
            "('{1}', '{a}', '{b}', '{x}', '{1}', '{NULL}', '{1,2}', '{NULL}', '{1}')",
        ),
        (&sql.dialect.mark_sent, "('{1}')"),
        (&sql.read_position, "(1, 'b', 5)"),
        (&sql.read_up_to, "(1, 'b', 5, 9)"),
        (&sql.dialect.positions, "('{1}', '{b}', '{5}')"),
        (&sql.dialect.reads, "('{1}', '{b}', '{5}', '{9}')"),
        (&sql.dialect.lock_rooms, "('{1}')"),
        (&sql.dialect.lock_messages, "('{1}', '{1}', '{b}', '{5}')"),
        (&sql.find_by_client_id, "('a', 'b')"),
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
        assert!(!plan.contains("Seq Scan"), "{statement}:\n{plan}");
        assert!(!plan.contains("undelivered"), "{statement}:\n{plan}");
        sqlx::raw_sql("DEALLOCATE probe")
            .execute(&mut *conn)
            .await
            .expect("deallocate");
    }
}
