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
        notify: false,
        sent: false,
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

/// When the test rooms are linked.
pub fn linked_at() -> Timestamp {
    at(500)
}

/// bob's `read_up_to` in `room` up to `id` at `at` (epoch milliseconds), as a writer
/// gets it.
pub fn read(room: &ChatRoomId, id: &MessageId, at: i64) -> Op {
    Op::ReadUpTo {
        room: row_id(room.as_str()),
        reader: user("bob"),
        up_to: row_id(id.as_str()),
        at,
    }
}

/// A read's answer: how many messages it moved.
pub fn moved_by(answer: &Answer) -> usize {
    match answer {
        Ok(Done::ReadUpTo(count)) => *count,
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

pub fn at(millis: i64) -> Timestamp {
    Timestamp::from_millis(millis).expect("time")
}

/// `count` messages from alice to bob in a fresh room, oldest first.
async fn messages(store: &impl ChatStore, count: usize) -> (ChatRoomId, Vec<StoredMessage>) {
    let (alice, bob) = (user("alice"), user("bob"));
    let room = store
        .link(&alice, &bob, linked_at())
        .await
        .expect("link")
        .room;
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
        .link(&user("alice"), &user("bob"), linked_at())
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
        rooms.push(
            store
                .link(&pair[0], &pair[1], linked_at())
                .await
                .expect("link")
                .room,
        );
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
    let room = store
        .link(&alice, &bob, linked_at())
        .await
        .expect("link")
        .room;
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
    let room = store
        .link(&alice, &bob, linked_at())
        .await
        .expect("link")
        .room;
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

/// 240 concurrent `read_up_to`s by bob, 6 up to each of 40 messages (some `sent`, the
/// others `not_sent`): they share commits (`batches` reads the store's batch count),
/// each message moves exactly once, with the time of a read that reached it.
pub async fn concurrent_read_ups_move_each_message_once<S>(store: &S, batches: impl Fn(&S) -> u64)
where
    S: ChatStore + Clone,
{
    let (room, messages) = messages(store, 40).await;
    let ids: Vec<MessageId> = messages.iter().map(|m| m.id.clone()).collect();
    let sent = store.mark_sent(&ids[..20]).await.expect("mark_sent");
    assert_eq!(sent.len(), 20);
    let before = batches(store);
    let tasks: Vec<_> = (0..240)
        .map(|i: i64| {
            let (store, room) = (store.clone(), room.clone());
            let index = usize::try_from(i).expect("index");
            let id = ids[index % ids.len()].clone();
            let read_at = at(100_000 + i);
            tokio::spawn(async move {
                let moved = store.read_up_to(&user("bob"), &room, &id, read_at).await;
                (id, read_at, moved)
            })
        })
        .collect();
    let mut reached: HashMap<Timestamp, MessageId> = HashMap::new();
    let mut total = 0;
    for task in tasks {
        let (id, read_at, moved) = task.await.expect("join");
        total += moved.expect("read_up_to");
        reached.insert(read_at, id);
    }
    let taken = batches(store) - before;
    assert!(
        taken < 240,
        "240 concurrent reads took {taken} batches: no group commit"
    );
    assert_eq!(total, 40, "each message moved once");
    for id in &ids {
        let found = stored(store, id).await;
        assert_eq!(found.status, MessageStatus::Read);
        let by = found
            .read_at
            .and_then(|t| reached.get(&t))
            .unwrap_or_else(|| panic!("{id}: read at {:?}, by no read", found.read_at));
        assert!(by >= id, "{id} was read by a read up to {by} only");
    }
}

/// 500 unread messages read at once: one write, one batch.
pub async fn a_read_over_a_backlog_is_one_write<S>(store: &S, batches: impl Fn(&S) -> u64)
where
    S: ChatStore + Clone,
{
    let (alice, bob) = (user("alice"), user("bob"));
    let room = store
        .link(&alice, &bob, linked_at())
        .await
        .expect("link")
        .room;
    let tasks: Vec<_> = (0..500)
        .map(|i| {
            let store = store.clone();
            let m = message(&room, &alice, &bob, &format!("m{i}"));
            tokio::spawn(async move { store.insert_message(m).await })
        })
        .collect();
    let mut newest = None;
    for task in tasks {
        let id = task.await.expect("join").expect("insert").message.id;
        newest = newest.max(Some(id));
    }
    let newest = newest.expect("messages");
    let before = batches(store);
    let moved = store
        .read_up_to(&bob, &room, &newest, at(9_000))
        .await
        .expect("read_up_to");
    assert_eq!(moved, 500);
    assert_eq!(batches(store) - before, 1, "one write");
    let history = store.history(&room, &everything()).await.expect("history");
    assert_eq!(history.len(), 500);
    assert!(
        history
            .iter()
            .all(|m| m.status == MessageStatus::Read && m.read_at == Some(at(9_000)))
    );
    let contacts = store.contacts(&bob).await.expect("contacts");
    assert_eq!(contacts.len(), 1);
    assert_eq!(contacts[0].unread, 0);
    assert_eq!(
        contacts[0].last_message.as_ref().map(|m| &m.id),
        Some(&newest)
    );
}

/// `run` commits batches that read a room up to messages among other writes, in queue
/// order: a read moves what is addressed to bob up to its message and not read yet,
/// with its own time; a read behind an earlier one moves nothing; a `mark_sent` after
/// a read finds the messages it read past `sent`; a message inserted in the batch is
/// never read by it.
pub async fn a_batch_reads_in_queue_order(
    store: &impl ChatStore,
    run: impl AsyncFn(&[Op]) -> Vec<Answer>,
) {
    let (room, messages) = messages(store, 6).await;
    let ids: Vec<MessageId> = messages.iter().map(|m| m.id.clone()).collect();
    store.mark_sent(&ids[1..2]).await.expect("mark_sent");
    let earlier = store
        .read_up_to(&user("bob"), &room, &ids[0], at(5_000))
        .await
        .expect("read_up_to");
    assert_eq!(earlier, 1);
    let ops = [
        read(&room, &ids[2], 10_000),
        insert(&room, "new", None),
        read(&room, &ids[1], 20_000),
        Op::MarkSent(vec![row_id(ids[3].as_str()), row_id(ids[5].as_str())]),
        read(&room, &ids[4], 40_000),
        Op::MarkSent(vec![row_id(ids[4].as_str()), row_id(ids[5].as_str())]),
        read(&room, &ids[4], 60_000),
    ];
    let answers = run(&ops).await;
    assert_eq!(answers.len(), ops.len());
    assert_eq!(moved_by(&answers[0]), 2, "ids 1 (sent) and 2 (not_sent)");
    let (new_id, text, _) = inserted(&answers[1]);
    assert_eq!(text, "new");
    assert_eq!(moved_by(&answers[2]), 0, "behind the position");
    assert_eq!(marked(&answers[3]), vec![ids[3].clone(), ids[5].clone()]);
    assert_eq!(moved_by(&answers[4]), 2, "ids 3 (sent) and 4");
    assert!(marked(&answers[5]).is_empty(), "read is past sent");
    assert_eq!(moved_by(&answers[6]), 0, "already read");

    let read_at = |i: usize| {
        let id = ids[i].clone();
        async move { stored(store, &id).await.read_at }
    };
    assert_eq!(read_at(0).await, Some(at(5_000)), "the first readAt kept");
    assert_eq!(read_at(1).await, Some(at(10_000)));
    assert_eq!(read_at(2).await, Some(at(10_000)));
    assert_eq!(read_at(3).await, Some(at(40_000)));
    assert_eq!(read_at(4).await, Some(at(40_000)));
    assert_eq!(stored(store, &ids[5]).await.status, MessageStatus::Sent);
    let new_id = MessageId::new(new_id);
    assert_eq!(stored(store, &new_id).await.status, MessageStatus::NotSent);

    // A batch of reads alone, one of them again.
    let answers = run(&[read(&room, &ids[5], 70_000), read(&room, &ids[5], 80_000)]).await;
    assert_eq!(moved_by(&answers[0]), 1);
    assert_eq!(moved_by(&answers[1]), 0, "already read");
    assert_eq!(read_at(5).await, Some(at(70_000)));
    assert_eq!(
        stored(store, &new_id).await.status,
        MessageStatus::NotSent,
        "a newer message is never read"
    );
}

/// `run` commits batches that mark one message both sent and read, in either order:
/// each entry gets what it would get one at a time, in queue order. Read first, the
/// message goes to read and `mark_sent` moves nothing of it; sent first, both move it.
pub async fn a_batch_marking_one_message_sent_and_read_keeps_queue_order(
    store: &impl ChatStore,
    run: impl AsyncFn(&[Op]) -> Vec<Answer>,
) {
    let (room, messages) = messages(store, 4).await;
    let ids: Vec<MessageId> = messages.iter().map(|m| m.id.clone()).collect();

    let answers = run(&[
        read(&room, &ids[0], 10_000),
        Op::MarkSent(vec![row_id(ids[0].as_str()), row_id(ids[1].as_str())]),
        read(&room, &ids[0], 20_000),
    ])
    .await;
    assert_eq!(moved_by(&answers[0]), 1);
    assert_eq!(
        marked(&answers[1]),
        vec![ids[1].clone()],
        "read is past sent"
    );
    assert_eq!(moved_by(&answers[2]), 0, "already read");
    let first = stored(store, &ids[0]).await;
    assert_eq!(
        (first.status, first.read_at),
        (MessageStatus::Read, Some(at(10_000)))
    );
    assert_eq!(stored(store, &ids[1]).await.status, MessageStatus::Sent);

    let answers = run(&[
        Op::MarkSent(vec![row_id(ids[2].as_str())]),
        read(&room, &ids[2], 30_000),
        read(&room, &ids[3], 40_000),
        Op::MarkSent(vec![row_id(ids[3].as_str())]),
    ])
    .await;
    assert_eq!(marked(&answers[0]), vec![ids[2].clone()], "sent first");
    assert_eq!(
        moved_by(&answers[1]),
        2,
        "then read, with the sent one before"
    );
    assert_eq!(moved_by(&answers[2]), 1, "not_sent moves to read");
    assert!(marked(&answers[3]).is_empty(), "read is past sent");
    for (i, time) in [(1, 30_000), (2, 30_000), (3, 40_000)] {
        let m = stored(store, &ids[i]).await;
        assert_eq!(
            (m.status, m.read_at),
            (MessageStatus::Read, Some(at(time))),
            "{i}"
        );
    }
}

/// `run` commits one batch of inserts, some with `notify`: each insert that creates its
/// message owes what it asked for, in the same write; a repeat of a client id (within
/// the batch, or of a message stored before) creates nothing and owes nothing new. The
/// notifications then go out one at a time per recipient, in store order.
pub async fn a_batch_records_what_each_insert_owes(
    store: &impl ChatStore,
    run: impl AsyncFnOnce(&[Op]) -> Vec<Answer>,
) {
    use chatzz_core::notification::NotificationClaim;
    let room = store
        .link(&user("alice"), &user("bob"), linked_at())
        .await
        .expect("link")
        .room;
    let Op::Insert { message: known, .. } = insert(&room, "known", Some("k0")) else {
        unreachable!()
    };
    store.insert_message(known).await.expect("insert");
    let owing = |text: &str, client_id: Option<&str>| {
        let mut op = insert(&room, text, client_id);
        if let Op::Insert { message, .. } = &mut op {
            message.notify = true;
        }
        op
    };
    let ops = [
        owing("a", None),
        insert(&room, "b", None),
        owing("c", Some("c1")),
        owing("c", Some("c1")),
        owing("known", Some("k0")),
    ];
    let answers = run(&ops).await;
    let created: Vec<bool> = answers.iter().map(|a| inserted(a).2).collect();
    assert_eq!(created, [true, true, true, false, false]);
    assert_eq!(
        store.pending_notifications().await.expect("pending"),
        2,
        "a and c owe, once each"
    );
    let claim = |now: i64| NotificationClaim {
        owner: "s1".into(),
        now: at(now),
        lease_until: at(now + 60_000),
        limit: 10,
    };
    for (expected, now) in [(0, 2_000), (2, 2_001)] {
        let claimed = store
            .claim_notifications(&claim(now))
            .await
            .expect("claim_notifications");
        let ids: Vec<String> = claimed.iter().map(|p| p.message.id.to_string()).collect();
        assert_eq!(
            ids,
            [inserted(&answers[expected]).0],
            "bob's oldest owed, alone"
        );
        assert_eq!(claimed[0].attempts, 0);
        store
            .finish_notification(&claimed[0].message.id)
            .await
            .expect("finish_notification");
    }
    assert_eq!(store.pending_notifications().await.expect("pending"), 0);
}
