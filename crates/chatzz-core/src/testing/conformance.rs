//! The conformance suite of [`ChatStore`]: each case is an async function taking a
//! fresh, empty store. [`chat_store_conformance!`](crate::chat_store_conformance) turns
//! them into one `#[tokio::test]` per case for a given store factory, so every adapter
//! is held to exactly the same contract.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};

use futures_util::future::{join, join_all};

use crate::id::{ChatRoomId, ClientMessageId, MessageId, UserId};
use crate::message::{
    HistoryQuery, Inserted, MessageStatus, MessageText, NewMessage, StoredMessage,
};
use crate::ports::ChatStore;
use crate::time::Timestamp;

mod blocks;
mod inbox;
mod notifications;
mod reads;
pub use blocks::*;
pub use inbox::*;
pub use notifications::*;
pub use reads::*;

/// Expands to one `#[tokio::test]` per conformance case. `$factory` is an async fn (or
/// closure) returning a fresh, empty store; the calling crate needs `tokio` with the
/// `macros` and `rt-multi-thread` features as a dev-dependency.
///
/// `chat_store_conformance!(factory, ignore [case, ...] = "why")` generates the listed
/// cases as `#[ignore = "why"]`: for a store configuration known not to pass them where
/// the suite runs (say, a stand-in server that lacks a feature). They then show as
/// ignored, never as passed, and `--include-ignored` runs them.
#[macro_export]
macro_rules! chat_store_conformance {
    ($factory:expr) => {
        $crate::chat_store_conformance!($factory, ignore [] = "");
    };
    ($factory:expr, ignore [$($ignored:ident),* $(,)?] = $why:literal) => {
        $crate::chat_store_conformance!(@define ($) $factory; [$($ignored),*]; $why);
        $crate::chat_store_conformance!(@each
            register_user_is_idempotent,
            set_last_online_registers_and_overwrites,
            link_creates_one_room_per_pair_in_either_order,
            concurrent_links_create_one_room,
            contacts_list_rooms_in_creation_order_with_last_online,
            message_ids_grow_within_a_room_as_strings,
            inserted_message_round_trips,
            client_message_id_makes_insert_idempotent_per_sender,
            concurrent_inserts_with_one_client_message_id_store_one,
            concurrent_inserts_keep_a_catching_up_reader_complete,
            mark_sent_moves_only_not_sent_messages,
            a_message_inserted_as_sent_is_delivered_already,
            read_up_to_is_compare_and_set,
            read_up_to_marks_every_earlier_message_to_the_reader_at_once,
            read_position_only_moves_forward,
            concurrent_read_ups_end_at_the_furthest,
            read_up_to_racing_a_send_never_marks_the_new_message,
            contacts_count_unread_above_the_read_position,
            contacts_carry_the_newest_message_and_when_the_room_was_made,
            edit_replaces_the_text_unless_deleted,
            delete_erases_the_text_and_keeps_the_rest,
            an_edit_racing_a_delete_ends_deleted,
            a_block_is_added_once_and_unblock_removes_it,
            blocks_each_way_are_independent,
            blocks_need_no_room_and_show_in_both_contact_lists,
            concurrent_blocks_add_one,
            linked_users_are_the_contacts_with_their_blocks,
            status_never_moves_backwards,
            history_keeps_the_newest_by_default_oldest_first,
            history_pages_back_with_before,
            history_catches_up_with_after,
            history_combines_cursors_and_since,
            history_accepts_any_cursor_string,
            undelivered_caps_per_sender_oldest_first,
            undelivered_bounds_the_total_by_lowest_ids_across_senders,
            awkward_text_round_trips,
            a_notification_is_owed_only_for_messages_inserted_with_notify,
            a_retried_insert_owes_one_notification,
            a_claim_leases_so_no_other_server_gets_it_until_the_lease_ends,
            a_failed_notification_waits_until_due_and_counts_its_attempts,
            notifications_go_one_at_a_time_per_recipient_in_store_order,
            claims_are_limited_oldest_first_and_concurrent_claims_never_share,
        );
    };
    // A local macro that generates one case, ignored if listed (`$d` is a `$`, so that
    // the local macro can have a metavariable of its own).
    (@define ($d:tt) $factory:expr; [$($ignored:ident),*]; $why:literal) => {
        macro_rules! chatzz_conformance_case {
            $(
                ($ignored) => {
                    $crate::chat_store_conformance!(@case $factory; [#[ignore = $why]]; $ignored);
                };
            )*
            ($d case:ident) => {
                $crate::chat_store_conformance!(@case $factory; []; $d case);
            };
        }
    };
    (@each $($case:ident),* $(,)?) => {
        $(
            chatzz_conformance_case!($case);
        )*
    };
    (@case $factory:expr; [$(#[$attr:meta])*]; $case:ident) => {
        #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
        $(#[$attr])*
        async fn $case() {
            let store = ($factory)().await;
            $crate::testing::conformance::$case(&store).await;
        }
    };
}

fn user(name: &str) -> UserId {
    UserId::parse(name).unwrap_or_else(|e| panic!("bad test user id {name:?}: {e}"))
}

fn at(millis: i64) -> Timestamp {
    Timestamp::from_millis(millis).unwrap_or_else(|| panic!("bad test time {millis}"))
}

fn expect<T, E: std::fmt::Display>(result: Result<T, E>, what: &str) -> T {
    result.unwrap_or_else(|e| panic!("{what} failed: {e}"))
}

fn new_message(
    room: &ChatRoomId,
    from: &UserId,
    to: &UserId,
    text: &str,
    millis: i64,
) -> NewMessage {
    NewMessage {
        room: room.clone(),
        from: from.clone(),
        to: to.clone(),
        text: expect(MessageText::parse(text.to_owned(), 1 << 20), "text"),
        created_at: at(millis),
        client_message_id: None,
        notify: false,
        sent: false,
    }
}

async fn linked(store: &impl ChatStore, a: &UserId, b: &UserId) -> ChatRoomId {
    expect(store.register_user(a).await, "register_user");
    expect(store.register_user(b).await, "register_user");
    expect(store.link(a, b, at(500)).await, "link").room
}

async fn insert(store: &impl ChatStore, message: NewMessage) -> StoredMessage {
    let Inserted {
        message: stored,
        created,
    } = expect(store.insert_message(message).await, "insert_message");
    assert!(created, "a message without client id is always new");
    stored
}

/// Inserts `count` messages alternating direction, 1 ms apart from `start`.
async fn conversation(
    store: &impl ChatStore,
    room: &ChatRoomId,
    a: &UserId,
    b: &UserId,
    count: usize,
) -> Vec<StoredMessage> {
    let mut out = Vec::with_capacity(count);
    for i in 0..count {
        let (from, to) = if i % 2 == 0 { (a, b) } else { (b, a) };
        out.push(
            insert(
                store,
                new_message(room, from, to, &format!("m{i}"), 1_000 + i as i64),
            )
            .await,
        );
    }
    out
}

fn ids(messages: &[StoredMessage]) -> Vec<MessageId> {
    messages.iter().map(|m| m.id.clone()).collect()
}

fn query(limit: usize) -> HistoryQuery {
    HistoryQuery {
        since: None,
        before: None,
        after: None,
        limit,
    }
}

pub async fn register_user_is_idempotent(store: &impl ChatStore) {
    let alice = user("alice");
    assert_eq!(expect(store.find_user(&alice).await, "find_user"), None);
    let first = expect(store.register_user(&alice).await, "register_user");
    assert_eq!(first.id, alice);
    assert_eq!(first.last_online, None);
    let again = expect(store.register_user(&alice).await, "register_user");
    assert_eq!(again, first);
    assert_eq!(
        expect(store.find_user(&alice).await, "find_user"),
        Some(first)
    );
}

pub async fn set_last_online_registers_and_overwrites(store: &impl ChatStore) {
    let alice = user("alice");
    expect(
        store.set_last_online(&alice, at(5_000)).await,
        "set_last_online",
    );
    let found = expect(store.find_user(&alice).await, "find_user");
    assert_eq!(found.map(|u| u.last_online), Some(Some(at(5_000))));
    expect(
        store.set_last_online(&alice, at(7_000)).await,
        "set_last_online",
    );
    // Registering again keeps what is stored.
    let again = expect(store.register_user(&alice).await, "register_user");
    assert_eq!(again.last_online, Some(at(7_000)));
}

pub async fn link_creates_one_room_per_pair_in_either_order(store: &impl ChatStore) {
    let (alice, bob, carol) = (user("alice"), user("bob"), user("carol"));
    assert_eq!(
        expect(store.find_room(&alice, &bob).await, "find_room"),
        None
    );
    let first = expect(store.link(&alice, &bob, at(100)).await, "link");
    assert!(first.created);
    let again = expect(store.link(&bob, &alice, at(200)).await, "link");
    assert!(!again.created);
    assert_eq!(again.room, first.room);
    assert_eq!(
        expect(store.find_room(&bob, &alice).await, "find_room"),
        Some(first.room.clone())
    );
    let other = expect(store.link(&alice, &carol, at(300)).await, "link");
    assert!(other.created);
    assert_ne!(other.room, first.room);
    assert_eq!(
        expect(store.find_room(&bob, &carol).await, "find_room"),
        None
    );
}

pub async fn concurrent_links_create_one_room(store: &impl ChatStore) {
    let (alice, bob) = (user("alice"), user("bob"));
    let calls = (0..20).map(|i| {
        let (a, b) = if i % 2 == 0 {
            (&alice, &bob)
        } else {
            (&bob, &alice)
        };
        store.link(a, b, at(100 + i))
    });
    let outcomes: Vec<_> = join_all(calls)
        .await
        .into_iter()
        .map(|r| expect(r, "concurrent link"))
        .collect();
    assert_eq!(
        outcomes.iter().filter(|o| o.created).count(),
        1,
        "exactly one call creates"
    );
    let rooms: HashSet<_> = outcomes.iter().map(|o| o.room.clone()).collect();
    assert_eq!(rooms.len(), 1, "every call sees the same room");
    assert_eq!(expect(store.contacts(&alice).await, "contacts").len(), 1);
    assert_eq!(expect(store.contacts(&bob).await, "contacts").len(), 1);
}

pub async fn contacts_list_rooms_in_creation_order_with_last_online(store: &impl ChatStore) {
    let (alice, bob, carol, dave) = (user("alice"), user("bob"), user("carol"), user("dave"));
    assert!(expect(store.contacts(&alice).await, "contacts").is_empty());
    let with_carol = linked(store, &alice, &carol).await;
    let with_bob = linked(store, &bob, &alice).await;
    linked(store, &bob, &dave).await;
    expect(
        store.set_last_online(&carol, at(9_000)).await,
        "set_last_online",
    );
    let contacts = expect(store.contacts(&alice).await, "contacts");
    let listed: Vec<_> = contacts
        .iter()
        .map(|c| (c.user.clone(), c.room.clone(), c.last_online))
        .collect();
    assert_eq!(
        listed,
        vec![
            (carol.clone(), with_carol, Some(at(9_000))),
            (bob.clone(), with_bob, None)
        ]
    );
    let of_bob: Vec<_> = expect(store.contacts(&bob).await, "contacts")
        .into_iter()
        .map(|c| c.user)
        .collect();
    assert_eq!(of_bob, vec![alice, dave]);
}

pub async fn message_ids_grow_within_a_room_as_strings(store: &impl ChatStore) {
    let (alice, bob, carol) = (user("alice"), user("bob"), user("carol"));
    let room = linked(store, &alice, &bob).await;
    let other = linked(store, &alice, &carol).await;
    let mut all = Vec::new();
    // More than ten, so a bare decimal counter ("10" < "9") would fail.
    for i in 0..12 {
        all.push(
            insert(store, new_message(&room, &alice, &bob, "x", 1_000))
                .await
                .id,
        );
        insert(
            store,
            new_message(&other, &carol, &alice, &format!("noise {i}"), 1_000),
        )
        .await;
    }
    let mut sorted = all.clone();
    sorted.sort_by(|a, b| a.as_str().cmp(b.as_str()));
    assert_eq!(sorted, all, "ids compare as strings in creation order");
    let unique: HashSet<_> = all.iter().collect();
    assert_eq!(unique.len(), all.len());
}

pub async fn inserted_message_round_trips(store: &impl ChatStore) {
    let (alice, bob) = (user("alice"), user("bob"));
    let room = linked(store, &alice, &bob).await;
    let mut message = new_message(&room, &alice, &bob, "hello", 1_234_567);
    message.client_message_id = Some(expect(ClientMessageId::parse("c-1"), "client id"));
    let stored = insert(store, message).await;
    assert_eq!(stored.room, room);
    assert_eq!((stored.from.clone(), stored.to.clone()), (alice, bob));
    assert_eq!(stored.text, "hello");
    assert_eq!(stored.status, MessageStatus::NotSent);
    assert_eq!(stored.created_at, at(1_234_567));
    assert_eq!(stored.read_at, None);
    assert_eq!(
        stored.client_message_id.as_ref().map(|c| c.as_str()),
        Some("c-1")
    );
    let found = expect(store.find_message(&stored.id).await, "find_message");
    assert_eq!(found, Some(stored));
    let missing = expect(
        store.find_message(&MessageId::new("no-such-id")).await,
        "find_message",
    );
    assert_eq!(missing, None);
}

pub async fn client_message_id_makes_insert_idempotent_per_sender(store: &impl ChatStore) {
    let (alice, bob) = (user("alice"), user("bob"));
    let room = linked(store, &alice, &bob).await;
    let cid = expect(ClientMessageId::parse("retry-me"), "client id");
    let mut first = new_message(&room, &alice, &bob, "first", 1_000);
    first.client_message_id = Some(cid.clone());
    let Inserted {
        message: stored,
        created,
    } = expect(store.insert_message(first).await, "insert_message");
    assert!(created);
    let mut retry = new_message(&room, &alice, &bob, "changed text", 2_000);
    retry.client_message_id = Some(cid.clone());
    let Inserted {
        message: again,
        created,
    } = expect(store.insert_message(retry).await, "insert_message");
    assert!(!created);
    assert_eq!(
        again, stored,
        "the retry returns the first message as stored"
    );
    // The same client id from the other sender is another message.
    let mut from_bob = new_message(&room, &bob, &alice, "bob's", 3_000);
    from_bob.client_message_id = Some(cid);
    let Inserted {
        message: bobs,
        created,
    } = expect(store.insert_message(from_bob).await, "insert_message");
    assert!(created);
    assert_ne!(bobs.id, stored.id);
    assert_eq!(
        expect(store.history(&room, &query(500)).await, "history").len(),
        2
    );
}

pub async fn concurrent_inserts_with_one_client_message_id_store_one(store: &impl ChatStore) {
    let (alice, bob) = (user("alice"), user("bob"));
    let room = linked(store, &alice, &bob).await;
    let cid = expect(ClientMessageId::parse("burst"), "client id");
    let calls = (0..20).map(|i| {
        let mut message = new_message(&room, &alice, &bob, &format!("try {i}"), 1_000 + i);
        message.client_message_id = Some(cid.clone());
        store.insert_message(message)
    });
    let results: Vec<_> = join_all(calls)
        .await
        .into_iter()
        .map(|r| expect(r, "concurrent insert_message"))
        .collect();
    assert_eq!(results.iter().filter(|r| r.created).count(), 1);
    let ids: HashSet<_> = results.iter().map(|r| r.message.id.clone()).collect();
    assert_eq!(ids.len(), 1, "every call returns the one stored message");
    assert_eq!(
        expect(store.history(&room, &query(500)).await, "history").len(),
        1
    );
}

/// Lets the other futures of a `join` run: a reader of a store that never waits (the
/// memory store) would otherwise starve the writers it runs beside.
async fn yield_now() {
    struct YieldNow(bool);
    impl Future for YieldNow {
        type Output = ();
        fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
            if self.0 {
                return Poll::Ready(());
            }
            self.0 = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }
    YieldNow(false).await
}

/// Several senders insert into one room at once while a client catches up with
/// `after = last id seen`, page by page. The port promises each new id is greater than
/// every id already in the room, so an id the reader has passed can never appear later:
/// at the end the reader has seen every message exactly once, in id order. (A store that
/// takes its number before inserting, without holding the room, lets a higher id become
/// visible first, and the reader skips the lower one for good.)
pub async fn concurrent_inserts_keep_a_catching_up_reader_complete(store: &impl ChatStore) {
    const WRITERS: usize = 6;
    const PER_WRITER: usize = 25;
    const PAGE: usize = 7;
    let (alice, bob) = (user("alice"), user("bob"));
    let room = linked(store, &alice, &bob).await;
    // The client has seen the room's first message and waits for the rest.
    let first = insert(store, new_message(&room, &alice, &bob, "start", 1_000)).await;
    let finished = AtomicUsize::new(0);
    let writers = join_all((0..WRITERS).map(|w| {
        let (room, alice, bob, finished) = (&room, &alice, &bob, &finished);
        async move {
            for i in 0..PER_WRITER {
                let (from, to) = if (w + i) % 2 == 0 {
                    (alice, bob)
                } else {
                    (bob, alice)
                };
                let text = format!("w{w} m{i}");
                insert(store, new_message(room, from, to, &text, 2_000)).await;
            }
            finished.fetch_add(1, Ordering::SeqCst);
        }
    }));
    let reader = async {
        let mut seen: Vec<MessageId> = Vec::new();
        let mut last = first.id.clone();
        loop {
            // Read before paging: once every writer is done, one more full pass sees all.
            let all_written = finished.load(Ordering::SeqCst) == WRITERS;
            loop {
                let mut q = query(PAGE);
                q.after = Some(last.clone());
                let page = expect(store.history(&room, &q).await, "history");
                let full = page.len() == PAGE;
                for message in page {
                    last = message.id.clone();
                    seen.push(message.id);
                }
                if !full {
                    break;
                }
            }
            if all_written {
                return seen;
            }
            yield_now().await;
        }
    };
    let (_, seen) = join(writers, reader).await;
    let all = ids(&expect(
        store.history(&room, &query(1_000)).await,
        "history",
    ));
    assert_eq!(all.len(), 1 + WRITERS * PER_WRITER, "every insert stored");
    assert_eq!(all[0], first.id);
    assert!(
        all.windows(2).all(|w| w[0].as_str() < w[1].as_str()),
        "history is in id order"
    );
    let missed: Vec<_> = all[1..].iter().filter(|id| !seen.contains(id)).collect();
    assert!(
        missed.is_empty(),
        "the catching-up reader never saw {} of {} messages: {missed:?}",
        missed.len(),
        all.len() - 1
    );
    assert_eq!(
        seen,
        all[1..],
        "the catching-up reader saw every message once, in id order"
    );
}

pub async fn mark_sent_moves_only_not_sent_messages(store: &impl ChatStore) {
    let (alice, bob) = (user("alice"), user("bob"));
    let room = linked(store, &alice, &bob).await;
    let messages = conversation(store, &room, &alice, &bob, 4).await;
    assert!(expect(store.mark_sent(&[]).await, "mark_sent").is_empty());
    let read = expect(
        store
            .read_up_to(&bob, &room, &messages[0].id, at(50_000))
            .await,
        "read_up_to",
    );
    assert_eq!(read, 1);
    // Ask in reverse order, with an unknown id and a duplicate.
    let ask = vec![
        messages[2].id.clone(),
        MessageId::new("unknown"),
        messages[1].id.clone(),
        messages[0].id.clone(),
        messages[1].id.clone(),
    ];
    let moved = expect(store.mark_sent(&ask).await, "mark_sent");
    assert_eq!(
        ids(&moved),
        vec![messages[1].id.clone(), messages[2].id.clone()],
        "in id order"
    );
    assert!(moved.iter().all(|m| m.status == MessageStatus::Sent));
    assert_eq!(moved[0].text, "m1");
    assert!(
        expect(store.mark_sent(&ask).await, "mark_sent").is_empty(),
        "nothing moves twice"
    );
    let first = expect(store.find_message(&messages[0].id).await, "find_message");
    assert_eq!(
        first.map(|m| m.status),
        Some(MessageStatus::Read),
        "read stays read"
    );
    let last = expect(store.find_message(&messages[3].id).await, "find_message");
    assert_eq!(
        last.map(|m| m.status),
        Some(MessageStatus::NotSent),
        "unasked stays"
    );
}

pub async fn a_message_inserted_as_sent_is_delivered_already(store: &impl ChatStore) {
    let (alice, bob) = (user("alice"), user("bob"));
    let room = linked(store, &alice, &bob).await;
    let waiting = insert(store, new_message(&room, &alice, &bob, "later", 1_000)).await;
    let handed = insert(
        store,
        NewMessage {
            sent: true,
            ..new_message(&room, &alice, &bob, "now", 2_000)
        },
    )
    .await;
    assert_eq!(handed.status, MessageStatus::Sent, "as inserted");
    assert_eq!(handed.read_at, None);
    assert!(handed.id > waiting.id);
    let found = expect(store.find_message(&handed.id).await, "find_message");
    assert_eq!(
        found.map(|m| m.status),
        Some(MessageStatus::Sent),
        "as stored"
    );
    let undelivered = expect(store.undelivered(&bob, 10, 10).await, "undelivered");
    assert_eq!(
        ids(&undelivered),
        vec![waiting.id.clone()],
        "only the other"
    );
    let moved = expect(
        store
            .mark_sent(&[waiting.id.clone(), handed.id.clone()])
            .await,
        "mark_sent",
    );
    assert_eq!(
        ids(&moved),
        vec![waiting.id.clone()],
        "it has nothing to move"
    );
    // Unread until read, like any delivered message.
    let contacts = expect(store.contacts(&bob).await, "contacts");
    assert_eq!(contacts.len(), 1);
    assert_eq!(contacts[0].unread, 2);
    let read = expect(
        store.read_up_to(&bob, &room, &handed.id, at(3_000)).await,
        "read_up_to",
    );
    assert_eq!(read, 2);
    let found = expect(store.find_message(&handed.id).await, "find_message");
    assert_eq!(found.map(|m| m.status), Some(MessageStatus::Read));
}

pub async fn read_up_to_is_compare_and_set(store: &impl ChatStore) {
    let (alice, bob) = (user("alice"), user("bob"));
    let room = linked(store, &alice, &bob).await;
    let messages = conversation(store, &room, &alice, &bob, 3).await;
    expect(
        store.mark_sent(&[messages[0].id.clone()]).await,
        "mark_sent",
    );
    // From sent, and straight from not_sent; each reader reads what is addressed to it.
    for message in &messages {
        let (reader, room) = (&message.to, &message.room);
        let read = expect(
            store
                .read_up_to(reader, room, &message.id, at(60_000))
                .await,
            "read_up_to",
        );
        assert!(read >= 1, "{} should become read", message.id);
        let stored = expect(store.find_message(&message.id).await, "find_message")
            .unwrap_or_else(|| panic!("{} vanished", message.id));
        assert_eq!(stored.status, MessageStatus::Read);
        assert_eq!(stored.read_at, Some(at(60_000)));
        assert_eq!(stored.text, message.text);
        let again = expect(
            store
                .read_up_to(reader, room, &message.id, at(70_000))
                .await,
            "read_up_to",
        );
        assert_eq!(again, 0, "already read: nothing changes");
        let stored = expect(store.find_message(&message.id).await, "find_message");
        assert_eq!(
            stored.and_then(|m| m.read_at),
            Some(at(60_000)),
            "first readAt kept"
        );
    }
    // Concurrent reads of one message: exactly one moves it.
    let third = insert(store, new_message(&room, &alice, &bob, "race", 3_000)).await;
    let races =
        join_all((0..10).map(|i| store.read_up_to(&bob, &room, &third.id, at(80_000 + i)))).await;
    let moved: usize = races.into_iter().map(|r| expect(r, "read_up_to")).sum();
    assert_eq!(moved, 1);
}

pub async fn status_never_moves_backwards(store: &impl ChatStore) {
    let (alice, bob) = (user("alice"), user("bob"));
    let room = linked(store, &alice, &bob).await;
    let message = insert(store, new_message(&room, &alice, &bob, "x", 1_000)).await;
    expect(
        store.read_up_to(&bob, &room, &message.id, at(2_000)).await,
        "read_up_to",
    );
    assert!(
        expect(
            store.mark_sent(std::slice::from_ref(&message.id)).await,
            "mark_sent"
        )
        .is_empty()
    );
    let stored = expect(store.find_message(&message.id).await, "find_message");
    assert_eq!(stored.map(|m| m.status), Some(MessageStatus::Read));
    let undelivered = expect(store.undelivered(&bob, 10, 10).await, "undelivered");
    assert!(undelivered.is_empty());
}
