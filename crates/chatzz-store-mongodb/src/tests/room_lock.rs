//! The room lock of inserts without a transaction (`{prefix}room_locks`), seen from the
//! outside: locks are written here behind the adapter's back, as another process (alive
//! or crashed) would hold them.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::Transactions;
use chatzz_core::{ChatRoomId, ChatStore, StoreError};
use mongodb::bson::{Document, doc};

use super::{Scratch, all_docs, chat, integer, message, ok, scratch_with, user};

fn now_millis() -> i64 {
    let since = ok(SystemTime::now().duration_since(UNIX_EPOCH), "the clock");
    ok(i64::try_from(since.as_millis()), "the time in milliseconds")
}

/// Another process's lease on `room`, lasting until `until` (epoch milliseconds).
async fn hold(scratch: &Scratch, room: &ChatRoomId, owner: &str, until: i64) {
    ok(
        scratch
            .db
            .collection::<Document>("chatzz_room_locks")
            .update_one(
                doc! { "_id": room.as_str() },
                doc! { "$set": { "owner": owner, "until": until } },
            )
            .upsert(true)
            .await,
        "writing a lock",
    );
}

/// What that process does when it is done.
async fn release(scratch: &Scratch, room: &ChatRoomId, owner: &str) {
    ok(
        scratch
            .db
            .collection::<Document>("chatzz_room_locks")
            .update_one(
                doc! { "_id": room.as_str(), "owner": owner },
                doc! { "$set": { "until": 0_i64 }, "$unset": { "owner": "" } },
            )
            .await,
        "releasing a lock",
    );
}

/// The room's lock document.
async fn lock_of(scratch: &Scratch, room: &ChatRoomId) -> Document {
    all_docs(&scratch.db, "chatzz_room_locks")
        .await
        .into_iter()
        .find(|d| d.get_str("_id") == Ok(room.as_str()))
        .unwrap_or_else(|| panic!("no lock for room {room}"))
}

/// Free: nobody owns it and its lease is over.
fn assert_free(lock: &Document) {
    assert!(!lock.contains_key("owner"), "{lock:?}");
    assert!(integer(lock, "until") <= now_millis(), "{lock:?}");
}

async fn message_count(scratch: &Scratch) -> usize {
    all_docs(&scratch.db, "chatzz_messages").await.len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_insert_takes_the_lock_and_releases_it() {
    let scratch = scratch_with(Transactions::Never).await;
    let (room, first) = chat(&scratch).await;
    let lock = lock_of(&scratch, &room).await;
    assert_free(&lock);
    // The message follows the room's previous last one.
    let (alice, bob) = (user("alice"), user("bob"));
    let chatzz_core::Inserted {
        message: second, ..
    } = ok(
        scratch
            .insert_message(message(&room, &bob, &alice, "again"))
            .await,
        "insert_message",
    );
    let docs = all_docs(&scratch.db, "chatzz_messages").await;
    let second_doc = docs
        .iter()
        .find(|d| d.get_str("_id") == Ok(second.id.as_str()))
        .unwrap();
    let first_doc = docs
        .iter()
        .find(|d| d.get_str("_id") == Ok(first.id.as_str()))
        .unwrap();
    assert_eq!(integer(second_doc, "prev"), integer(first_doc, "seq"));
    assert_free(&lock_of(&scratch, &room).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crashed_holders_expired_lease_is_taken_over() {
    let scratch = scratch_with(Transactions::Never).await;
    let (room, first) = chat(&scratch).await;
    // A process took the lock and died: its lease ran out a moment ago.
    hold(&scratch, &room, "crashed", now_millis() - 1).await;
    let (alice, bob) = (user("alice"), user("bob"));
    let started = Instant::now();
    let chatzz_core::Inserted {
        message: second,
        created,
    } = ok(
        scratch
            .insert_message(message(&room, &bob, &alice, "after the crash"))
            .await,
        "insert_message",
    );
    assert!(created);
    assert!(second.id > first.id);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "taken over at once, not after waiting: {:?}",
        started.elapsed()
    );
    assert_free(&lock_of(&scratch, &room).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_lease_blocks_inserts_until_it_is_released() {
    let scratch = scratch_with(Transactions::Never).await;
    let (room, first) = chat(&scratch).await;
    hold(&scratch, &room, "alive", now_millis() + 60_000).await;
    let store = scratch.store.clone();
    let (alice, bob) = (user("alice"), user("bob"));
    let waiting = message(&room, &bob, &alice, "waits");
    let insert = tokio::spawn(async move { store.insert_message(waiting).await });
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert!(!insert.is_finished(), "the insert waits for the lock");
    assert_eq!(message_count(&scratch).await, 1, "and has inserted nothing");
    assert_eq!(lock_of(&scratch, &room).await.get_str("owner"), Ok("alive"));
    release(&scratch, &room, "alive").await;
    let chatzz_core::Inserted {
        message: second,
        created,
    } = ok(
        tokio::time::timeout(Duration::from_secs(3), insert)
            .await
            .expect("the insert goes ahead once the lock is released")
            .unwrap(),
        "insert_message",
    );
    assert!(created);
    assert!(second.id > first.id);
    assert_free(&lock_of(&scratch, &room).await);
    // Another room was never blocked by this one's lock.
    let carol = user("carol");
    ok(scratch.register_user(&carol).await, "register_user");
    let other = ok(
        scratch.link(&alice, &carol, super::millis(600)).await,
        "link",
    )
    .room;
    hold(&scratch, &room, "alive", now_millis() + 60_000).await;
    let started = Instant::now();
    ok(
        scratch
            .insert_message(message(&other, &alice, &carol, "elsewhere"))
            .await,
        "insert_message",
    );
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lease_never_released_makes_the_insert_unavailable_and_is_left_alone() {
    let scratch = scratch_with(Transactions::Never).await;
    let (room, _) = chat(&scratch).await;
    let until = now_millis() + 60_000;
    hold(&scratch, &room, "alive", until).await;
    let (alice, bob) = (user("alice"), user("bob"));
    let started = Instant::now();
    let err = scratch
        .insert_message(message(&room, &bob, &alice, "gives up"))
        .await
        .unwrap_err();
    let waited = started.elapsed();
    assert!(
        matches!(&err, StoreError::Unavailable(m) if m.contains("locked")),
        "{err:?}"
    );
    assert!(
        waited >= Duration::from_secs(4) && waited < Duration::from_secs(9),
        "gave up after a bounded wait: {waited:?}"
    );
    assert_eq!(message_count(&scratch).await, 1);
    let lock = lock_of(&scratch, &room).await;
    assert_eq!(lock.get_str("owner"), Ok("alive"), "{lock:?}");
    assert_eq!(integer(&lock, "until"), until);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_insert_given_up_on_midway_still_releases_the_lock() {
    let scratch = scratch_with(Transactions::Never).await;
    let (room, _) = chat(&scratch).await;
    let (alice, bob) = (user("alice"), user("bob"));
    // Give up on inserts ever later, as a store timeout would: some while they acquire
    // the lock, some while they hold it, some after.
    for micros in (0..60_000).step_by(1_500) {
        let insert = scratch.insert_message(message(&room, &alice, &bob, "cancelled"));
        let _ = tokio::time::timeout(Duration::from_micros(micros), insert).await;
        // The insert finishes in the background and releases the lock: the room is not
        // left locked until the lease runs out.
        let deadline = Instant::now() + Duration::from_secs(2);
        loop {
            let locks = all_docs(&scratch.db, "chatzz_room_locks").await;
            if locks.iter().all(|l| !l.contains_key("owner")) {
                break;
            }
            assert!(Instant::now() < deadline, "left locked: {locks:?}");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
    let started = Instant::now();
    ok(
        scratch
            .insert_message(message(&room, &bob, &alice, "goes through"))
            .await,
        "insert_message",
    );
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_insert_cannot_follow_a_message_twice() {
    // What a holder that stalled past its lease would insert, after another insert
    // took the lock over: it followed the room's last message as it was back then.
    let scratch = scratch_with(Transactions::Never).await;
    let (room, first) = chat(&scratch).await;
    let (alice, bob) = (user("alice"), user("bob"));
    ok(
        scratch
            .insert_message(message(&room, &bob, &alice, "on time"))
            .await,
        "insert_message",
    );
    let first_seq = integer(
        &all_docs(&scratch.db, "chatzz_messages")
            .await
            .into_iter()
            .find(|d| d.get_str("_id") == Ok(first.id.as_str()))
            .unwrap(),
        "seq",
    );
    let late = doc! {
        "_id": "late", "seq": 999_i64, "chatRoomId": room.as_str(), "from": "alice",
        "to": "bob", "message": "late", "status": "not_sent", "createdAt": 1_000_i64,
        "prev": first_seq,
    };
    let refused = scratch
        .db
        .collection::<Document>("chatzz_messages")
        .insert_one(late)
        .await;
    assert!(refused.is_err(), "refused by the (chatRoomId, prev) index");
    assert_eq!(message_count(&scratch).await, 2);
}
