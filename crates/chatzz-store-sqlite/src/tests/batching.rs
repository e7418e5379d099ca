//! Group commit: concurrent writes share transactions and each lands exactly once.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use chatzz_core::{
    ChatRoomId, ChatStore, ClientMessageId, HistoryQuery, MessageStatus, MessageText, NewMessage,
    StoreError, Timestamp, UserId, sequence,
};

use super::{fresh_path, fresh_store};
use crate::SqliteStore;

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
    let store = fresh_store().await;
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

    // Each client id stored once; both sends got the same message, one of them created.
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
    for (client_id, outcomes) in &by_client {
        let ids: HashSet<_> = outcomes.iter().map(|(id, _)| id).collect();
        assert_eq!(ids.len(), 1, "{client_id}: one message");
        assert_eq!(
            outcomes.iter().filter(|(_, created)| *created).count(),
            1,
            "{client_id}: created once"
        );
    }
    // Every answer is what the database holds under that id.
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
    // Stored exactly once: 400 sends without a client id and 100 client ids.
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
    let store = fresh_store().await;
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
    let store = fresh_store().await;
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
    let store = fresh_store().await;
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
    // Overlapping lists: every message is asked for by several callers at once.
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
        let store = SqliteStore::connect(&url, chatzz_core::StoreNames::default())
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
