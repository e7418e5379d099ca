//! The conformance suite of the [`PresenceRegistry`] port: every implementation runs it
//! through [`presence_conformance!`](crate::presence_conformance). Each case gets a fresh,
//! empty registry from the factory.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use futures_util::future::join_all;

use crate::id::{SocketId, UserId};
use crate::ports::{Leaving, PresenceRegistry};

/// Expands to one `#[tokio::test]` per case for registries made by `$factory`, an async
/// closure returning a fresh, empty registry.
#[macro_export]
macro_rules! presence_conformance {
    ($factory:expr) => {
        $crate::presence_conformance!(@cases $factory;
            first_and_last_socket_flip_presence,
            removing_a_socket_that_is_not_live_changes_nothing,
            the_last_socket_stays_until_removed,
            sockets_per_user_are_bounded,
            online_among_names_exactly_the_online_users,
            concurrent_sockets_flip_presence_once_each_way,
            sweeping_a_healthy_registry_finds_nothing,
        );
    };
    (@cases $factory:expr; $($case:ident),* $(,)?) => {
        $(
            #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let presence = ($factory)().await;
                $crate::testing::presence_conformance::$case(&presence).await;
            }
        )*
    };
}

fn user(name: &str) -> UserId {
    UserId::parse(name).unwrap()
}

fn socket(name: &str) -> SocketId {
    SocketId::new(name)
}

pub async fn first_and_last_socket_flip_presence(p: &impl PresenceRegistry) {
    let alice = user("alice");
    assert!(!p.is_online(&alice).await.unwrap());
    let first = p
        .add_within(&alice, &socket("a1"), 20)
        .await
        .unwrap()
        .unwrap();
    assert!(first.new_socket && first.came_online);
    let again = p
        .add_within(&alice, &socket("a1"), 20)
        .await
        .unwrap()
        .unwrap();
    assert!(
        !again.new_socket && !again.came_online,
        "the same socket twice is one"
    );
    let second = p
        .add_within(&alice, &socket("a2"), 20)
        .await
        .unwrap()
        .unwrap();
    assert!(second.new_socket && !second.came_online);
    assert!(p.is_online(&alice).await.unwrap());
    assert_eq!(p.online_users().await.unwrap(), 1);
    assert!(!p.remove(&alice, &socket("a1")).await.unwrap());
    assert!(p.is_online(&alice).await.unwrap());
    assert!(p.remove(&alice, &socket("a2")).await.unwrap());
    assert!(!p.is_online(&alice).await.unwrap());
    assert_eq!(p.online_users().await.unwrap(), 0);
}

pub async fn removing_a_socket_that_is_not_live_changes_nothing(p: &impl PresenceRegistry) {
    let alice = user("alice");
    assert!(!p.remove(&alice, &socket("a1")).await.unwrap());
    p.add_within(&alice, &socket("a1"), 20)
        .await
        .unwrap()
        .unwrap();
    assert!(!p.remove(&alice, &socket("other")).await.unwrap());
    assert!(!p.remove(&user("bob"), &socket("a1")).await.unwrap());
    assert_eq!(
        p.remove_unless_last(&alice, &socket("other"))
            .await
            .unwrap(),
        Leaving::NotPresent
    );
    assert!(p.is_online(&alice).await.unwrap());
}

pub async fn the_last_socket_stays_until_removed(p: &impl PresenceRegistry) {
    let alice = user("alice");
    assert_eq!(
        p.remove_unless_last(&alice, &socket("a1")).await.unwrap(),
        Leaving::NotPresent
    );
    p.add_within(&alice, &socket("a1"), 20)
        .await
        .unwrap()
        .unwrap();
    p.add_within(&alice, &socket("a2"), 20)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        p.remove_unless_last(&alice, &socket("a1")).await.unwrap(),
        Leaving::Removed
    );
    assert_eq!(
        p.remove_unless_last(&alice, &socket("a2")).await.unwrap(),
        Leaving::Last
    );
    assert!(p.is_online(&alice).await.unwrap());
    assert!(p.remove(&alice, &socket("a2")).await.unwrap());
    assert!(!p.is_online(&alice).await.unwrap());
}

pub async fn sockets_per_user_are_bounded(p: &impl PresenceRegistry) {
    let alice = user("alice");
    assert!(
        p.add_within(&alice, &socket("a1"), 2)
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        p.add_within(&alice, &socket("a2"), 2)
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        p.add_within(&alice, &socket("a3"), 2)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        p.add_within(&alice, &socket("a2"), 2)
            .await
            .unwrap()
            .is_some(),
        "a socket already live is fine at the limit"
    );
    assert!(!p.remove(&alice, &socket("a1")).await.unwrap());
    assert!(
        p.add_within(&alice, &socket("a3"), 2)
            .await
            .unwrap()
            .is_some()
    );
    let bob = user("bob");
    assert!(
        p.add_within(&bob, &socket("b1"), 0)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        !p.is_online(&bob).await.unwrap(),
        "a refused first socket leaves no trace"
    );
    assert_eq!(p.online_users().await.unwrap(), 1);
}

pub async fn online_among_names_exactly_the_online_users(p: &impl PresenceRegistry) {
    let (alice, bob, carol) = (user("alice"), user("bob"), user("carol"));
    // Ids that need care in a key-value store.
    let odd = user("dave:{x} \u{1F600}");
    assert!(p.online_among(&[]).await.unwrap().is_empty());
    p.add_within(&alice, &socket("a1"), 20)
        .await
        .unwrap()
        .unwrap();
    p.add_within(&odd, &socket("d1"), 20)
        .await
        .unwrap()
        .unwrap();
    p.add_within(&carol, &socket("c1"), 20)
        .await
        .unwrap()
        .unwrap();
    p.remove(&carol, &socket("c1")).await.unwrap();
    let online = p
        .online_among(&[alice.clone(), bob.clone(), carol.clone(), odd.clone()])
        .await
        .unwrap();
    assert_eq!(online, [alice, odd].into_iter().collect());
    assert_eq!(p.online_users().await.unwrap(), 2);
}

pub async fn concurrent_sockets_flip_presence_once_each_way(p: &impl PresenceRegistry) {
    let alice = user("alice");
    let sockets: Vec<SocketId> = (0..20).map(|i| socket(&format!("tab{i}"))).collect();
    let added = join_all(sockets.iter().map(|s| p.add_within(&alice, s, 20))).await;
    let came_online = added
        .into_iter()
        .map(|a| a.unwrap().unwrap())
        .filter(|a| a.came_online)
        .count();
    assert_eq!(came_online, 1, "exactly one socket brings the user online");
    let removed = join_all(sockets.iter().map(|s| p.remove(&alice, s))).await;
    let went_offline = removed.into_iter().filter(|r| *r.as_ref().unwrap()).count();
    assert_eq!(went_offline, 1, "exactly one socket takes the user offline");
    assert!(!p.is_online(&alice).await.unwrap());
}

pub async fn sweeping_a_healthy_registry_finds_nothing(p: &impl PresenceRegistry) {
    let alice = user("alice");
    p.add_within(&alice, &socket("a1"), 20)
        .await
        .unwrap()
        .unwrap();
    let sweep = p.sweep().await.unwrap();
    assert!(sweep.went_offline.is_empty() && sweep.came_online.is_empty());
    assert!(p.is_online(&alice).await.unwrap());
}
