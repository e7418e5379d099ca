//! Against a real Redis (`CHATZZ_TEST_REDIS_URL`, by default the local one): the shared
//! presence suite, then what only a shared registry can do: several servers on one
//! Redis, and servers that die. Each test works under a key prefix of its own. An
//! unreachable Redis fails the tests.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::{ConnectError, RedisPresence, RedisPresenceOptions};
use chatzz_core::ports::{Leaving, PresenceRegistry};
use chatzz_core::{SocketId, UserId};
use futures_util::future::join_all;

fn redis_url() -> String {
    std::env::var("CHATZZ_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

/// A key prefix no other test or run uses.
fn fresh_prefix() -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!(
        "chatzz-test:{}:{nanos}:{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

async fn server(prefix: &str, lease: Duration) -> RedisPresence {
    RedisPresence::connect(
        &redis_url(),
        RedisPresenceOptions {
            prefix: prefix.to_owned(),
            lease,
        },
    )
    .await
    .unwrap_or_else(|e| panic!("Redis at {} (set CHATZZ_TEST_REDIS_URL): {e}", redis_url()))
}

fn user(name: &str) -> UserId {
    UserId::parse(name).unwrap()
}

fn socket(name: &str) -> SocketId {
    SocketId::new(name)
}

const LONG: Duration = Duration::from_secs(60);
const SHORT: Duration = Duration::from_millis(300);

mod conformance {
    chatzz_core::presence_conformance!(|| async {
        super::server(&super::fresh_prefix(), super::LONG).await
    });
}

#[tokio::test]
async fn servers_on_one_redis_share_presence() {
    let prefix = fresh_prefix();
    let (a, b) = (server(&prefix, LONG).await, server(&prefix, LONG).await);
    let alice = user("alice");
    assert!(
        a.add_within(&alice, &socket("s1"), 20)
            .await
            .unwrap()
            .unwrap()
            .came_online
    );
    assert!(b.is_online(&alice).await.unwrap());
    let on_b = b
        .add_within(&alice, &socket("s2"), 20)
        .await
        .unwrap()
        .unwrap();
    assert!(on_b.new_socket && !on_b.came_online);
    assert_eq!(b.online_users().await.unwrap(), 1);
    assert_eq!(
        a.remove_unless_last(&alice, &socket("s1")).await.unwrap(),
        Leaving::Removed
    );
    assert_eq!(
        b.remove_unless_last(&alice, &socket("s2")).await.unwrap(),
        Leaving::Last
    );
    assert!(a.is_online(&alice).await.unwrap());
    assert!(b.remove(&alice, &socket("s2")).await.unwrap());
    assert!(!a.is_online(&alice).await.unwrap());
}

#[tokio::test]
async fn the_socket_limit_counts_every_server() {
    let prefix = fresh_prefix();
    let (a, b) = (server(&prefix, LONG).await, server(&prefix, LONG).await);
    let alice = user("alice");
    assert!(
        a.add_within(&alice, &socket("s1"), 2)
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        b.add_within(&alice, &socket("s2"), 2)
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        a.add_within(&alice, &socket("s3"), 2)
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn a_dead_servers_users_go_offline_and_are_reported_once() {
    let prefix = fresh_prefix();
    let dying = server(&prefix, SHORT).await;
    let (b, c) = (server(&prefix, LONG).await, server(&prefix, LONG).await);
    let (alice, bob) = (user("alice"), user("bob"));
    dying.add_within(&alice, &socket("a1"), 20).await.unwrap();
    dying.add_within(&alice, &socket("a2"), 20).await.unwrap();
    dying.add_within(&bob, &socket("b1"), 20).await.unwrap();
    b.add_within(&bob, &socket("b2"), 20).await.unwrap();
    drop(dying); // no more sweeps: its lease runs out
    tokio::time::sleep(SHORT * 2).await;

    let (from_b, from_c) = tokio::join!(b.sweep(), c.sweep());
    let (from_b, from_c) = (from_b.unwrap(), from_c.unwrap());
    let mut offline = from_b.went_offline;
    offline.extend(from_c.went_offline);
    assert_eq!(
        offline,
        vec![alice.clone()],
        "alice once; bob is still on b"
    );
    assert!(from_b.came_online.is_empty() && from_c.came_online.is_empty());
    assert!(!b.is_online(&alice).await.unwrap());
    assert!(b.is_online(&bob).await.unwrap());
    assert_eq!(
        b.remove_unless_last(&bob, &socket("b2")).await.unwrap(),
        Leaving::Last,
        "the dead server's socket of bob is gone too"
    );
    assert!(
        b.sweep().await.unwrap().went_offline.is_empty(),
        "nothing twice"
    );
}

#[tokio::test]
async fn a_server_that_sweeps_in_time_keeps_its_users() {
    let prefix = fresh_prefix();
    let (a, b) = (server(&prefix, SHORT).await, server(&prefix, LONG).await);
    let alice = user("alice");
    a.add_within(&alice, &socket("a1"), 20).await.unwrap();
    for _ in 0..8 {
        tokio::time::sleep(a.sweep_interval()).await;
        assert_eq!(a.sweep().await.unwrap(), Default::default());
        assert!(b.sweep().await.unwrap().went_offline.is_empty());
    }
    assert!(b.is_online(&alice).await.unwrap());
}

#[tokio::test]
async fn a_server_swept_as_dead_puts_its_sockets_back() {
    let prefix = fresh_prefix();
    let (a, b) = (server(&prefix, SHORT).await, server(&prefix, LONG).await);
    let (alice, bob) = (user("alice"), user("bob"));
    a.add_within(&alice, &socket("a1"), 20).await.unwrap();
    a.add_within(&bob, &socket("b1"), 20).await.unwrap();
    b.add_within(&bob, &socket("b2"), 20).await.unwrap();
    // `a` stalls past its lease (Redis unreachable, say) and is swept.
    tokio::time::sleep(SHORT * 2).await;
    assert_eq!(b.sweep().await.unwrap().went_offline, vec![alice.clone()]);
    assert!(!b.is_online(&alice).await.unwrap());

    let back = a.sweep().await.unwrap();
    assert_eq!(back.came_online, vec![alice.clone()], "bob never left");
    assert!(back.went_offline.is_empty());
    assert!(b.is_online(&alice).await.unwrap());
    assert_eq!(
        a.remove_unless_last(&bob, &socket("b1")).await.unwrap(),
        Leaving::Removed,
        "a's sockets are live again"
    );
    assert!(a.remove(&alice, &socket("a1")).await.unwrap());
}

#[tokio::test]
async fn concurrent_servers_flip_a_user_once_each_way() {
    let prefix = fresh_prefix();
    let (a, b) = (server(&prefix, LONG).await, server(&prefix, LONG).await);
    let alice = user("alice");
    let sockets: Vec<SocketId> = (0..20).map(|i| socket(&format!("tab{i}"))).collect();
    let added = join_all(sockets.iter().enumerate().map(|(i, s)| {
        let on = if i % 2 == 0 { &a } else { &b };
        on.add_within(&alice, s, 20)
    }))
    .await;
    let came = added
        .iter()
        .filter(|r| r.as_ref().unwrap().unwrap().came_online)
        .count();
    assert_eq!(came, 1);
    let removed = join_all(sockets.iter().enumerate().map(|(i, s)| {
        let on = if i % 2 == 0 { &a } else { &b };
        on.remove(&alice, s)
    }))
    .await;
    assert_eq!(removed.iter().filter(|r| *r.as_ref().unwrap()).count(), 1);
}

#[tokio::test]
async fn an_unreachable_redis_is_a_clear_error() {
    let err = RedisPresence::connect("redis://127.0.0.1:1", RedisPresenceOptions::default())
        .await
        .unwrap_err();
    assert!(matches!(err, ConnectError::Unreachable(_)), "{err}");
    let err = RedisPresence::connect("not a url", RedisPresenceOptions::default())
        .await
        .unwrap_err();
    assert!(matches!(err, ConnectError::Url(_)), "{err}");
}
