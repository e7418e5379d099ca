//! Blocks cached across a cluster: a change is told to the other servers after it is
//! stored (or the client hears `unavailable` and retries), news from them forgets the
//! pair at once, and while news may be missed the cache is trusted only briefly.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use futures_executor::block_on;
use mockall::Sequence;
use mockall::predicate::eq;

use crate::error::ErrorCode;
use crate::ports::{MockChatStore, MockClusterNews, NewsError};
use crate::service::{ChatService, Config};
use crate::typing::BLOCKS_FRESH_MS;
use crate::user::Blocks;

use super::support::*;

/// A store that lists bob as alice's contact at connect, nobody blocking, and counts
/// how often it is asked about blocks since; `blocked` says what it answers then.
fn counting_store(blocked: bool) -> (MockChatStore, Arc<AtomicUsize>) {
    let asked = Arc::new(AtomicUsize::new(0));
    let count = Arc::clone(&asked);
    let mut store = MockChatStore::new();
    store
        .expect_register_user()
        .returning(|_| Ok(chat_user("alice", None)));
    store
        .expect_contacts()
        .returning(|_| Ok(vec![record("bob", "alice", None)]));
    store
        .expect_undelivered()
        .returning(|_, _, _| Ok(Vec::new()));
    store.expect_blocks_between().returning(move |_, _| {
        count.fetch_add(1, Ordering::SeqCst);
        Ok(Blocks {
            a_blocks_b: false,
            b_blocks_a: blocked,
        })
    });
    (store, asked)
}

fn quiet_news() -> MockClusterNews {
    let mut news = MockClusterNews::new();
    news.expect_blocks_changed().returning(|_, _| Ok(()));
    news
}

#[test]
fn a_block_is_told_to_the_other_servers_once_stored() {
    let mut seq = Sequence::new();
    let mut store = MockChatStore::new();
    store
        .expect_find_user()
        .returning(|_| Ok(Some(chat_user("bob", None))));
    store
        .expect_block()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_, _, _| Ok(true));
    let mut news = MockClusterNews::new();
    news.expect_blocks_changed()
        .with(eq(user("alice")), eq(user("bob")))
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_, _| Ok(()));
    store
        .expect_unblock()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_, _| Ok(true));
    news.expect_blocks_changed()
        .with(eq(user("alice")), eq(user("bob")))
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_, _| Ok(()));
    let service = service(store, clock_at(NOW)).with_cluster_news(Arc::new(news));
    let alice = session("alice", "a1");

    assert!(block_on(service.set_blocked(&alice, &user("bob"), true)).is_ok());
    assert!(block_on(service.set_blocked(&alice, &user("bob"), false)).is_ok());
}

#[test]
fn a_block_the_cluster_could_not_hear_of_is_unavailable_and_a_retry_tells_it() {
    let mut store = MockChatStore::new();
    store
        .expect_find_user()
        .returning(|_| Ok(Some(chat_user("bob", None))));
    // Blocking is idempotent: the retry stores it again.
    store.expect_block().times(2).returning(|_, _, _| Ok(true));
    let mut news = MockClusterNews::new();
    let mut seq = Sequence::new();
    news.expect_blocks_changed()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_, _| Err(NewsError("Redis is away".into())));
    news.expect_blocks_changed()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_, _| Ok(()));
    let service = service(store, clock_at(NOW)).with_cluster_news(Arc::new(news));
    let alice = session("alice", "a1");

    assert_eq!(
        code(block_on(service.set_blocked(&alice, &user("bob"), true))),
        ErrorCode::Unavailable
    );
    assert!(block_on(service.set_blocked(&alice, &user("bob"), true)).is_ok());
}

#[test]
fn while_news_is_heard_typing_asks_no_store_however_long_after_connect() {
    let (store, asked) = counting_store(false);
    let (clock, now) = moving_clock(NOW);
    let service = ChatService::new(Arc::new(store), Arc::new(clock), Config::default())
        .with_cluster_news(Arc::new(quiet_news()));
    service.cluster_news_heard();
    let alice = session("alice", "a1");
    block_on(service.connect(&alice)).unwrap();

    for minutes in [0, 1, 60, 24 * 60] {
        now.store(NOW + minutes * 60_000, Ordering::SeqCst);
        assert!(block_on(service.typing(&alice, &user("bob"), true)).is_ok());
    }
    assert_eq!(asked.load(Ordering::SeqCst), 0);
}

#[test]
fn a_single_server_trusts_what_it_knows_for_it_sees_every_change() {
    let (store, asked) = counting_store(false);
    let (clock, now) = moving_clock(NOW);
    let service = ChatService::new(Arc::new(store), Arc::new(clock), Config::default());
    let alice = session("alice", "a1");
    block_on(service.connect(&alice)).unwrap();

    now.store(NOW + 3_600_000, Ordering::SeqCst);
    assert!(block_on(service.typing(&alice, &user("bob"), true)).is_ok());
    assert_eq!(asked.load(Ordering::SeqCst), 0);
}

#[test]
fn news_of_a_block_made_elsewhere_takes_effect_at_the_next_event() {
    // Bob blocked alice through another server; the store says so.
    let (store, asked) = counting_store(true);
    let service = service(store, clock_at(NOW)).with_cluster_news(Arc::new(quiet_news()));
    service.cluster_news_heard();
    let alice = session("alice", "a1");
    block_on(service.connect(&alice)).unwrap();
    assert!(
        block_on(service.typing(&alice, &user("bob"), true)).is_ok(),
        "connect listed no block"
    );

    service.blocks_changed_elsewhere(&user("bob"), &user("alice"));

    assert_eq!(
        code(block_on(service.typing(&alice, &user("bob"), true))),
        ErrorCode::Forbidden
    );
    assert_eq!(asked.load(Ordering::SeqCst), 1);
    assert_eq!(
        code(block_on(service.typing(&alice, &user("bob"), true))),
        ErrorCode::Forbidden
    );
    assert_eq!(asked.load(Ordering::SeqCst), 1, "then known again");
}

#[test]
fn while_news_may_be_missed_what_is_cached_counts_for_a_few_seconds() {
    let (store, asked) = counting_store(false);
    let (clock, now) = moving_clock(NOW);
    let service = ChatService::new(Arc::new(store), Arc::new(clock), Config::default())
        .with_cluster_news(Arc::new(quiet_news()));
    service.cluster_news_heard();
    let alice = session("alice", "a1");
    block_on(service.connect(&alice)).unwrap();

    service.cluster_news_lost();
    now.store(NOW + BLOCKS_FRESH_MS - 1, Ordering::SeqCst);
    assert!(block_on(service.typing(&alice, &user("bob"), true)).is_ok());
    assert_eq!(asked.load(Ordering::SeqCst), 0, "fresh enough");
    now.store(NOW + BLOCKS_FRESH_MS, Ordering::SeqCst);
    assert!(block_on(service.typing(&alice, &user("bob"), true)).is_ok());
    assert_eq!(asked.load(Ordering::SeqCst), 1, "too old: read again");

    // Heard again: what may have been missed is forgotten, read once, then trusted.
    service.cluster_news_heard();
    for later in [1, 2, 3_600] {
        now.store(NOW + later * 1_000 + BLOCKS_FRESH_MS, Ordering::SeqCst);
        assert!(block_on(service.typing(&alice, &user("bob"), true)).is_ok());
    }
    assert_eq!(asked.load(Ordering::SeqCst), 2);
}

#[test]
fn a_server_that_has_not_heard_the_news_yet_trusts_its_cache_briefly() {
    let (store, asked) = counting_store(false);
    let (clock, now) = moving_clock(NOW);
    let service = ChatService::new(Arc::new(store), Arc::new(clock), Config::default())
        .with_cluster_news(Arc::new(quiet_news()));
    let alice = session("alice", "a1");
    block_on(service.connect(&alice)).unwrap();

    now.store(NOW + BLOCKS_FRESH_MS, Ordering::SeqCst);
    assert!(block_on(service.typing(&alice, &user("bob"), true)).is_ok());
    assert_eq!(asked.load(Ordering::SeqCst), 1);
}
