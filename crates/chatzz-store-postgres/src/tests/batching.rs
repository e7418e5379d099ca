//! Group commit: concurrent writes share transactions and each lands exactly once, in
//! room order, also with two stores (two server processes) on one database.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use chatzz_core::{
    ChatRoomId, ChatStore, ClientMessageId, HistoryQuery, MessageId, MessageStatus, MessageText,
    NewMessage, StoreError, StoreNames, Timestamp, UserId, sequence,
};

use sqlx::AssertSqlSafe;

use super::{TestDb, fresh_store};
use crate::PostgresStore;

fn user(name: &str) -> UserId {
    UserId::parse(name).expect("user id")
}

fn message(room: &ChatRoomId, from: &UserId, to: &UserId, text: &str) -> NewMessage {
    NewMessage {
        room: room.clone(),
        from: from.clone(),
        to: to.clone(),
        text: MessageText::parse(text.to_owned(), 1000).expect("text"),
        created_at: Timestamp::from_millis(1_000).expect("time"),
        client_message_id: None,
    }
}

fn everything() -> HistoryQuery {
    HistoryQuery {
        since: None,
        before: None,
        after: None,
        limit: 100_000,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_inserts_share_commits_and_each_lands_once_in_order() {
    let test = fresh_store().await;
    let store = test.store.clone();
    let users: Vec<UserId> = (0..8).map(|i| user(&format!("u{i}"))).collect();
    let mut rooms = Vec::new();
    for pair in users.chunks(2) {
        rooms.push(store.link(&pair[0], &pair[1]).await.expect("link").room);
    }
    // 600 sends over 4 rooms: 400 without a client id, and 100 client ids each sent
    // twice by the same sender (as a retry would), the twins far apart in the queue.
    let mut sends: Vec<NewMessage> = (0..400)
        .map(|i| {
            let r = i % rooms.len();
            let (from, to) = if i % 2 == 0 {
                (&users[2 * r], &users[2 * r + 1])
            } else {
                (&users[2 * r + 1], &users[2 * r])
            };
            message(&rooms[r], from, to, &format!("m{i}"))
        })
        .collect();
    for copy in 0..2 {
        for k in 0..100 {
            let r = k % rooms.len();
            let mut m = message(
                &rooms[r],
                &users[2 * r],
                &users[2 * r + 1],
                &format!("c{k}"),
            );
            m.client_message_id = Some(ClientMessageId::parse(format!("c{k}")).expect("id"));
            sends.insert(k * 3 + copy * 150, m);
        }
    }
    let before = store.write_batches();
    let tasks: Vec<_> = sends
        .iter()
        .map(|m| {
            let store = store.clone();
            let m = m.clone();
            tokio::spawn(async move { store.insert_message(m).await })
        })
        .collect();
    let mut results = Vec::new();
    for task in tasks {
        results.push(task.await.expect("join").expect("insert"));
    }
    let batches = store.write_batches() - before;
    assert!(
        batches < 300,
        "600 concurrent inserts took {batches} batches: no group commit"
    );

    let mut by_client: HashMap<String, Vec<(String, bool)>> = HashMap::new();
    for (stored, created) in &results {
        if let Some(c) = &stored.client_message_id {
            by_client
                .entry(c.as_str().to_owned())
                .or_default()
                .push((stored.id.as_str().to_owned(), *created));
        } else {
            assert!(*created);
        }
    }
    assert_eq!(by_client.len(), 100);
    for (client_id, outcomes) in &by_client {
        let ids: HashSet<_> = outcomes.iter().map(|(id, _)| id).collect();
        assert_eq!(ids.len(), 1, "{client_id}: one message");
        assert_eq!(
            outcomes.iter().filter(|(_, created)| *created).count(),
            1,
            "{client_id}: created once"
        );
    }
    for (sent, (stored, _)) in sends.iter().zip(&results) {
        let found = store
            .find_message(&stored.id)
            .await
            .expect("find")
            .expect("stored");
        assert_eq!(&found, stored);
        assert_eq!(found.text, sent.text.as_str());
        assert_eq!(found.room, sent.room);
        assert_eq!(found.status, MessageStatus::NotSent);
    }
    let mut total = 0;
    for room in &rooms {
        let history = store.history(room, &everything()).await.expect("history");
        assert!(history.windows(2).all(|w| w[0].id < w[1].id), "id order");
        total += history.len();
    }
    assert_eq!(total, 400 + 100);
}

#[tokio::test]
async fn a_lone_insert_is_committed_at_once() {
    let test = fresh_store().await;
    let store = &test.store;
    let (alice, bob) = (user("alice"), user("bob"));
    let room = store.link(&alice, &bob).await.expect("link").room;
    let started = std::time::Instant::now();
    let (stored, created) = store
        .insert_message(message(&room, &alice, &bob, "alone"))
        .await
        .expect("insert");
    assert!(created);
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(
        store.history(&room, &everything()).await.expect("history"),
        vec![stored]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_entry_fails_alone() {
    let test = fresh_store().await;
    let store = test.store.clone();
    let (alice, bob) = (user("alice"), user("bob"));
    let room = store.link(&alice, &bob).await.expect("link").room;
    let nowhere = ChatRoomId::new(sequence::encode(999));
    let tasks: Vec<_> = (0..60)
        .map(|i| {
            let store = store.clone();
            let target = if i % 10 == 5 { &nowhere } else { &room };
            let m = message(target, &alice, &bob, &format!("m{i}"));
            tokio::spawn(async move { store.insert_message(m).await })
        })
        .collect();
    let mut stored = 0;
    for (i, task) in tasks.into_iter().enumerate() {
        match task.await.expect("join") {
            Ok((m, true)) if i % 10 != 5 => {
                assert_eq!(m.text, format!("m{i}"));
                stored += 1;
            }
            Err(StoreError::Internal(_)) if i % 10 == 5 => {}
            other => panic!("send {i}: {other:?}"),
        }
    }
    assert_eq!(stored, 54);
    assert_eq!(
        store
            .history(&room, &everything())
            .await
            .expect("history")
            .len(),
        54
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_mark_sent_moves_each_message_once() {
    let test = fresh_store().await;
    let store = test.store.clone();
    let (alice, bob) = (user("alice"), user("bob"));
    let room = store.link(&alice, &bob).await.expect("link").room;
    let mut ids = Vec::new();
    for i in 0..40 {
        let (m, _) = store
            .insert_message(message(&room, &alice, &bob, &format!("m{i}")))
            .await
            .expect("insert");
        ids.push(m.id);
    }
    let tasks: Vec<_> = (0..40)
        .map(|i| {
            let store = store.clone();
            let mine: Vec<_> = (i..i + 5).map(|j| ids[j % 40].clone()).collect();
            tokio::spawn(async move { store.mark_sent(&mine).await })
        })
        .collect();
    let mut moved = Vec::new();
    for task in tasks {
        let got = task.await.expect("join").expect("mark_sent");
        assert!(got.windows(2).all(|w| w[0].id < w[1].id), "id order");
        assert!(got.iter().all(|m| m.status == MessageStatus::Sent));
        moved.extend(got.into_iter().map(|m| m.id));
    }
    moved.sort();
    assert_eq!(moved, ids, "each message moved exactly once");
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
    let room = first.link(&alice, &bob).await.expect("link").room;
    // The client has seen the room's first message and waits for the rest.
    let (start, _) = first
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
        let (m, fresh) = writer.await.expect("join").expect("insert");
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
        let made = first.block_on(async {
            let store = PostgresStore::connect(&url, StoreNames::default())
                .await
                .expect("connect");
            let room = store
                .link(&user("alice"), &user("bob"))
                .await
                .expect("link")
                .room;
            (store, room)
        });
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
    let sql = &test.store.sql;
    for (statement, args) in [
        (
            &sql.batch,
            "('{1}', '{a}', '{b}', '{x}', '{1}', '{NULL}', '{1}')",
        ),
        (&sql.mark_sent, "('{1}')"),
        (&sql.lock_rooms, "('{1}')"),
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

#[tokio::test]
async fn a_closed_pool_stops_the_writers() {
    let test = fresh_store().await;
    let store = test.store.clone();
    let (alice, bob) = (user("alice"), user("bob"));
    let room = store.link(&alice, &bob).await.expect("link").room;
    store.pool().close().await;
    let err = store
        .insert_message(message(&room, &alice, &bob, "late"))
        .await
        .expect_err("closed");
    assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
}
