//! The group-commit cases every SQL store runs against its own database (feature
//! `testing`): concurrent writes share batches and each lands exactly once, in order; a
//! bad entry fails alone. Each case takes a store on a fresh database; the store's own
//! test wraps it in a `#[tokio::test]`. Also the builders those tests share.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{HashMap, HashSet};

use chatzz_core::{
    ChatRoomId, ChatStore, ClientMessageId, HistoryQuery, MessageStatus, MessageText, NewMessage,
    StoreError, Timestamp, UserId, sequence,
};

use crate::{Answer, Done, Op};

pub fn user(name: &str) -> UserId {
    UserId::parse(name).expect("user id")
}

pub fn message(room: &ChatRoomId, from: &UserId, to: &UserId, text: &str) -> NewMessage {
    NewMessage {
        room: room.clone(),
        from: from.clone(),
        to: to.clone(),
        text: MessageText::parse(text.to_owned(), 1000).expect("text"),
        created_at: Timestamp::from_millis(1_000).expect("time"),
        client_message_id: None,
    }
}

/// A whole room's history.
pub fn everything() -> HistoryQuery {
    HistoryQuery {
        since: None,
        before: None,
        after: None,
        limit: 100_000,
    }
}

/// The row id behind an id the store issued.
pub fn row_id(id: &str) -> i64 {
    sequence::decode(id)
        .and_then(|n| i64::try_from(n).ok())
        .expect("an id the store issued")
}

/// A send from alice to bob, as a writer gets it.
pub fn insert(room: &ChatRoomId, text: &str, client_id: Option<&str>) -> Op {
    let mut message = message(room, &user("alice"), &user("bob"), text);
    message.client_message_id = client_id.map(|c| ClientMessageId::parse(c).expect("id"));
    Op::Insert {
        room: row_id(room.as_str()),
        message,
    }
}

/// An insert's answer: (id, text, created).
pub fn inserted(answer: &Answer) -> (String, String, bool) {
    match answer {
        Ok(Done::Inserted(m, created)) => (m.id.as_str().to_owned(), m.text.clone(), *created),
        other => panic!("not an insert: {other:?}"),
    }
}

/// `run` commits one batch of 40 inserts into one room, every fifth with a client id
/// that comes twice: rows are numbered in queue order and the second of each pair is
/// answered with the first.
pub async fn a_batch_numbers_rows_in_queue_order_and_answers_repeats_with_the_first(
    store: &impl ChatStore,
    run: impl AsyncFnOnce(&[Op]) -> Vec<Answer>,
) {
    let room = store
        .link(&user("alice"), &user("bob"))
        .await
        .expect("link")
        .room;
    let ops: Vec<Op> = (0..40)
        .map(|i| match i % 5 {
            0 => insert(
                &room,
                &format!("k{}", i / 10),
                Some(&format!("k{}", i / 10)),
            ),
            _ => insert(&room, &format!("m{i}"), None),
        })
        .collect();
    let answers = run(&ops).await;
    let mut last = String::new();
    for (i, answer) in answers.iter().enumerate() {
        let (id, text, created) = inserted(answer);
        if i % 5 == 0 {
            assert_eq!(text, format!("k{}", i / 10));
            assert_eq!(created, i % 10 == 0, "the first of the twins is created");
            if i % 10 == 5 {
                assert_eq!(id, inserted(&answers[i - 5]).0, "the twin gets the first");
                continue;
            }
        } else {
            assert_eq!(text, format!("m{i}"));
            assert!(created);
        }
        assert!(id > last, "ids follow the queue");
        last = id;
    }
}

/// 600 concurrent sends over 4 rooms, 100 client ids among them sent twice: they share
/// commits (`batches` reads the store's batch count), each client id is stored once,
/// every answer is what the database holds, and each room is in id order.
pub async fn concurrent_inserts_share_commits_and_each_lands_once_in_order<S>(
    store: &S,
    batches: impl Fn(&S) -> u64,
) where
    S: ChatStore + Clone,
{
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
    let before = batches(store);
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
    let taken = batches(store) - before;
    assert!(
        taken < 300,
        "600 concurrent inserts took {taken} batches: no group commit"
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

/// 60 concurrent sends, every tenth into a room that does not exist: those fail
/// `Internal`, the others are stored.
pub async fn a_failing_entry_fails_alone(store: &(impl ChatStore + Clone)) {
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

/// 40 concurrent `mark_sent`s of overlapping lists: each message moves exactly once,
/// and each caller gets its moved messages in id order.
pub async fn concurrent_mark_sent_moves_each_message_once(store: &(impl ChatStore + Clone)) {
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
