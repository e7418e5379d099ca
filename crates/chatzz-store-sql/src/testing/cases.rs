//! The group-commit cases every SQL store runs against its own database: concurrent
//! writes share batches and each lands exactly once, in order; a bad entry fails alone;
//! a batch answers each entry as if the entries ran one at a time, in queue order. Each
//! case takes a store on a fresh database; [`group_commit_cases!`](crate::group_commit_cases)
//! wraps each in a `#[tokio::test]` for every SQL store. Also the builders those tests
//! share.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{HashMap, HashSet};

use chatzz_core::{
    ChatRoomId, ChatStore, ClientMessageId, HistoryQuery, MessageId, MessageStatus, MessageText,
    NewMessage, StoreError, StoredMessage, Timestamp, UserId, sequence,
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

/// A `mark_read` of `id` at `at` (epoch milliseconds), as a writer gets it.
pub fn read(id: &MessageId, at: i64) -> Op {
    Op::MarkRead {
        id: row_id(id.as_str()),
        at,
    }
}

/// A read's answer: the message it moved, if any.
pub fn was_read(answer: &Answer) -> Option<StoredMessage> {
    match answer {
        Ok(Done::Read(moved)) => moved.clone(),
        other => panic!("not a read: {other:?}"),
    }
}

/// A `mark_sent`'s answer: the ids it moved.
pub fn marked(answer: &Answer) -> Vec<MessageId> {
    match answer {
        Ok(Done::Marked(moved)) => moved.iter().map(|m| m.id.clone()).collect(),
        other => panic!("not a mark: {other:?}"),
    }
}

fn at(millis: i64) -> Timestamp {
    Timestamp::from_millis(millis).expect("time")
}

/// `count` messages from alice to bob in a fresh room, oldest first.
async fn messages(store: &impl ChatStore, count: usize) -> (ChatRoomId, Vec<StoredMessage>) {
    let (alice, bob) = (user("alice"), user("bob"));
    let room = store.link(&alice, &bob).await.expect("link").room;
    let mut stored = Vec::new();
    for i in 0..count {
        let chatzz_core::Inserted { message: m, .. } = store
            .insert_message(message(&room, &alice, &bob, &format!("m{i}")))
            .await
            .expect("insert");
        stored.push(m);
    }
    (room, stored)
}

async fn stored(store: &impl ChatStore, id: &MessageId) -> StoredMessage {
    store.find_message(id).await.expect("find").expect("stored")
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
    for chatzz_core::Inserted {
        message: stored,
        created,
    } in &results
    {
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
    for (
        sent,
        chatzz_core::Inserted {
            message: stored, ..
        },
    ) in sends.iter().zip(&results)
    {
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
            Ok(chatzz_core::Inserted {
                message: m,
                created: true,
            }) if i % 10 != 5 => {
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
        let chatzz_core::Inserted { message: m, .. } = store
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

/// 240 concurrent `mark_read`s, 6 of each of 40 messages (some `sent`, the others
/// `not_sent`), with an unknown id among them: they share commits (`batches` reads the
/// store's batch count), each message moves exactly once, with the time of the caller
/// it answered, and the unknown id moves nothing.
pub async fn concurrent_mark_read_moves_each_message_once<S>(store: &S, batches: impl Fn(&S) -> u64)
where
    S: ChatStore + Clone,
{
    let (_, messages) = messages(store, 40).await;
    let ids: Vec<MessageId> = messages.iter().map(|m| m.id.clone()).collect();
    let sent = store.mark_sent(&ids[..20]).await.expect("mark_sent");
    assert_eq!(sent.len(), 20);
    let unknown = MessageId::new(sequence::encode(999_999));
    let before = batches(store);
    let tasks: Vec<_> = (0..240)
        .map(|i: i64| {
            let store = store.clone();
            let index = usize::try_from(i).expect("index");
            let id = if i == 100 {
                unknown.clone()
            } else {
                ids[index % ids.len()].clone()
            };
            let read_at = at(100_000 + i);
            tokio::spawn(async move { (id.clone(), read_at, store.mark_read(&id, read_at).await) })
        })
        .collect();
    let mut winners: HashMap<MessageId, Timestamp> = HashMap::new();
    for task in tasks {
        let (id, read_at, got) = task.await.expect("join");
        let Some(moved) = got.expect("mark_read") else {
            continue;
        };
        assert_ne!(id, unknown, "an unknown id moved");
        assert_eq!(moved.id, id, "the caller got its own message");
        assert_eq!(moved.status, MessageStatus::Read);
        assert_eq!(moved.read_at, Some(read_at), "moved with the winner's time");
        assert!(winners.insert(id, read_at).is_none(), "moved twice");
    }
    let taken = batches(store) - before;
    assert!(
        taken < 240,
        "240 concurrent reads took {taken} batches: no group commit"
    );
    assert_eq!(winners.len(), 40, "each message moved once");
    for (id, read_at) in &winners {
        let found = stored(store, id).await;
        assert_eq!(found.status, MessageStatus::Read);
        assert_eq!(found.read_at, Some(*read_at));
    }
    assert_eq!(store.find_message(&unknown).await.expect("find"), None);
}

/// `run` commits batches that read messages among other writes: the first read of a
/// message moves it, with its own time; a second read of it in the batch, a read of a
/// message already read and of an unknown id move nothing; the other entries are
/// answered as usual.
pub async fn a_batch_reads_each_message_once_in_queue_order(
    store: &impl ChatStore,
    run: impl AsyncFn(&[Op]) -> Vec<Answer>,
) {
    let (room, messages) = messages(store, 5).await;
    let ids: Vec<MessageId> = messages.iter().map(|m| m.id.clone()).collect();
    store.mark_sent(&ids[1..2]).await.expect("mark_sent");
    let earlier = store
        .mark_read(&ids[3], at(5_000))
        .await
        .expect("mark_read")
        .expect("moved");
    let ops = [
        read(&ids[0], 10_000),
        insert(&room, "new", None),
        read(&ids[0], 20_000),
        read(&ids[1], 30_000),
        Op::MarkSent(vec![row_id(ids[2].as_str()), row_id(ids[4].as_str())]),
        read(&ids[3], 40_000),
        Op::MarkRead {
            id: 999_999,
            at: 50_000,
        },
        read(&ids[1], 60_000),
    ];
    let answers = run(&ops).await;
    assert_eq!(answers.len(), ops.len());
    let first = was_read(&answers[0]).expect("the first read moves it");
    assert_eq!(first.id, ids[0]);
    assert_eq!(first.text, "m0");
    assert_eq!(first.status, MessageStatus::Read);
    assert_eq!(first.read_at, Some(at(10_000)), "its own time");
    assert_eq!(inserted(&answers[1]).1, "new");
    assert_eq!(was_read(&answers[2]), None, "read twice in one batch");
    let from_sent = was_read(&answers[3]).expect("sent moves to read");
    assert_eq!(
        (from_sent.id.clone(), from_sent.read_at),
        (ids[1].clone(), Some(at(30_000)))
    );
    assert_eq!(marked(&answers[4]), vec![ids[2].clone(), ids[4].clone()]);
    assert_eq!(was_read(&answers[5]), None, "already read");
    assert_eq!(was_read(&answers[6]), None, "unknown");
    assert_eq!(was_read(&answers[7]), None, "read twice in one batch");

    // What each caller got is what is stored.
    assert_eq!(stored(store, &ids[0]).await, first);
    assert_eq!(stored(store, &ids[1]).await, from_sent);
    assert_eq!(stored(store, &ids[2]).await.status, MessageStatus::Sent);
    assert_eq!(
        stored(store, &ids[3]).await,
        earlier,
        "the first read_at kept"
    );
    assert_eq!(stored(store, &ids[4]).await.status, MessageStatus::Sent);

    // A batch of reads alone, one of them again.
    let answers = run(&[read(&ids[2], 70_000), read(&ids[0], 80_000)]).await;
    let moved = was_read(&answers[0]).expect("sent moves to read");
    assert_eq!(moved.read_at, Some(at(70_000)));
    assert_eq!(was_read(&answers[1]), None, "already read");
    assert_eq!(stored(store, &ids[2]).await, moved);
}

/// `run` commits batches that mark one message both sent and read, in either order:
/// each entry gets what it would get one at a time, in queue order. Read first, the
/// message goes to read and `mark_sent` moves nothing of it; sent first, both move it.
pub async fn a_batch_marking_one_message_sent_and_read_keeps_queue_order(
    store: &impl ChatStore,
    run: impl AsyncFn(&[Op]) -> Vec<Answer>,
) {
    let (_, messages) = messages(store, 4).await;
    let ids: Vec<MessageId> = messages.iter().map(|m| m.id.clone()).collect();

    let answers = run(&[
        read(&ids[0], 10_000),
        Op::MarkSent(vec![row_id(ids[0].as_str()), row_id(ids[1].as_str())]),
        read(&ids[0], 20_000),
    ])
    .await;
    let read_first = was_read(&answers[0]).expect("the read moves it");
    assert_eq!(read_first.status, MessageStatus::Read);
    assert_eq!(read_first.read_at, Some(at(10_000)));
    assert_eq!(
        marked(&answers[1]),
        vec![ids[1].clone()],
        "read is past sent"
    );
    assert_eq!(was_read(&answers[2]), None, "already read");
    assert_eq!(stored(store, &ids[0]).await, read_first);
    assert_eq!(stored(store, &ids[1]).await.status, MessageStatus::Sent);

    let answers = run(&[
        Op::MarkSent(vec![row_id(ids[2].as_str())]),
        read(&ids[2], 30_000),
        read(&ids[3], 40_000),
        Op::MarkSent(vec![row_id(ids[3].as_str())]),
    ])
    .await;
    assert_eq!(marked(&answers[0]), vec![ids[2].clone()], "sent first");
    let sent_first = was_read(&answers[1]).expect("then read");
    assert_eq!(sent_first.id, ids[2]);
    assert_eq!(sent_first.status, MessageStatus::Read);
    assert_eq!(sent_first.read_at, Some(at(30_000)));
    let read_first = was_read(&answers[2]).expect("not_sent moves to read");
    assert_eq!(read_first.read_at, Some(at(40_000)));
    assert!(marked(&answers[3]).is_empty(), "read is past sent");
    assert_eq!(stored(store, &ids[2]).await, sent_first);
    assert_eq!(stored(store, &ids[3]).await, read_first);
}
