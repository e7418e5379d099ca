//! The offline notification cases of the store conformance suite: what is owed is
//! stored with the message it is about, claimed under a lease by one server at a time,
//! one per recipient in store order, retried when due, and taken over when a lease ends.

use super::*;
use crate::notification::{NotificationClaim, PendingNotification};

fn claim(owner: &str, now: i64, lease_until: i64, limit: usize) -> NotificationClaim {
    NotificationClaim {
        owner: owner.to_owned(),
        now: at(now),
        lease_until: at(lease_until),
        limit,
    }
}

async fn claimed(store: &impl ChatStore, c: NotificationClaim) -> Vec<PendingNotification> {
    expect(store.claim_notifications(&c).await, "claim_notifications")
}

fn ids(claimed: &[PendingNotification]) -> Vec<MessageId> {
    claimed.iter().map(|p| p.message.id.clone()).collect()
}

async fn owed(
    store: &impl ChatStore,
    room: &ChatRoomId,
    from: &UserId,
    to: &UserId,
    millis: i64,
) -> StoredMessage {
    insert(
        store,
        NewMessage {
            notify: true,
            ..new_message(room, from, to, "are you there?", millis)
        },
    )
    .await
}

async fn pending(store: &impl ChatStore) -> u64 {
    expect(store.pending_notifications().await, "pending_notifications")
}

pub async fn a_notification_is_owed_only_for_messages_inserted_with_notify(store: &impl ChatStore) {
    let (alice, bob) = (user("alice"), user("bob"));
    let room = linked(store, &alice, &bob).await;
    assert!(
        claimed(store, claim("s1", 10_000, 70_000, 10))
            .await
            .is_empty()
    );
    assert_eq!(pending(store).await, 0);
    insert(store, new_message(&room, &alice, &bob, "live", 1_000)).await;
    let message = owed(store, &room, &alice, &bob, 2_000).await;
    assert_eq!(pending(store).await, 1);

    let got = claimed(store, claim("s1", 10_000, 70_000, 10)).await;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].message, message, "the message as stored");
    assert_eq!(got[0].attempts, 0);
    expect(
        store.finish_notification(&message.id).await,
        "finish_notification",
    );
    assert_eq!(pending(store).await, 0);
    assert!(
        claimed(store, claim("s1", 200_000, 260_000, 10))
            .await
            .is_empty(),
        "finished: never claimed again, even after the lease"
    );
    expect(
        store.finish_notification(&message.id).await,
        "finishing again changes nothing",
    );
}

pub async fn a_retried_insert_owes_one_notification(store: &impl ChatStore) {
    let (alice, bob) = (user("alice"), user("bob"));
    let room = linked(store, &alice, &bob).await;
    let keyed = || NewMessage {
        notify: true,
        sent: false,
        client_message_id: Some(expect(ClientMessageId::parse("c-1"), "client id")),
        ..new_message(&room, &alice, &bob, "once", 1_000)
    };
    let first = expect(store.insert_message(keyed()).await, "insert_message");
    let again = expect(store.insert_message(keyed()).await, "insert_message");
    assert!(first.created && !again.created);
    assert_eq!(pending(store).await, 1);
    assert_eq!(
        claimed(store, claim("s1", 5_000, 65_000, 10)).await.len(),
        1
    );
}

pub async fn a_claim_leases_so_no_other_server_gets_it_until_the_lease_ends(
    store: &impl ChatStore,
) {
    let (alice, bob) = (user("alice"), user("bob"));
    let room = linked(store, &alice, &bob).await;
    let message = owed(store, &room, &alice, &bob, 1_000).await;

    assert_eq!(
        ids(&claimed(store, claim("s1", 2_000, 62_000, 10)).await),
        vec![message.id.clone()]
    );
    assert!(
        claimed(store, claim("s2", 3_000, 63_000, 10))
            .await
            .is_empty(),
        "leased to s1"
    );
    assert!(
        claimed(store, claim("s1", 61_999, 121_999, 10))
            .await
            .is_empty(),
        "even to s1 itself"
    );
    // s1 died: its lease ends and s2 takes it over, as it stands (no attempt recorded).
    let taken = claimed(store, claim("s2", 62_000, 122_000, 10)).await;
    assert_eq!(ids(&taken), vec![message.id.clone()]);
    assert_eq!(taken[0].attempts, 0);
    // s1's late failure no longer touches it: s2 holds the lease.
    expect(
        store
            .retry_notification(&message.id, "s1", 1, at(63_000))
            .await,
        "retry_notification",
    );
    assert!(
        claimed(store, claim("s3", 63_000, 123_000, 10))
            .await
            .is_empty()
    );
}

pub async fn a_failed_notification_waits_until_due_and_counts_its_attempts(store: &impl ChatStore) {
    let (alice, bob) = (user("alice"), user("bob"));
    let room = linked(store, &alice, &bob).await;
    let message = owed(store, &room, &alice, &bob, 1_000).await;
    claimed(store, claim("s1", 2_000, 62_000, 10)).await;

    expect(
        store
            .retry_notification(&message.id, "s1", 1, at(4_000))
            .await,
        "retry_notification",
    );
    assert!(
        claimed(store, claim("s2", 3_999, 63_999, 10))
            .await
            .is_empty(),
        "not due yet"
    );
    let again = claimed(store, claim("s2", 4_000, 64_000, 10)).await;
    assert_eq!(ids(&again), vec![message.id.clone()]);
    assert_eq!(again[0].attempts, 1);
    expect(
        store
            .retry_notification(&message.id, "s2", 2, at(5_000))
            .await,
        "retry_notification",
    );
    assert_eq!(
        claimed(store, claim("s1", 5_000, 65_000, 10)).await[0].attempts,
        2
    );
    assert_eq!(pending(store).await, 1);
}

pub async fn notifications_go_one_at_a_time_per_recipient_in_store_order(store: &impl ChatStore) {
    let (alice, bob, carol) = (user("alice"), user("bob"), user("carol"));
    let ab = linked(store, &alice, &bob).await;
    let cb = linked(store, &carol, &bob).await;
    let ac = linked(store, &alice, &carol).await;
    let first = owed(store, &ab, &alice, &bob, 1_000).await;
    let second = owed(store, &cb, &carol, &bob, 1_001).await;
    let to_carol = owed(store, &ac, &alice, &carol, 1_002).await;

    let got = claimed(store, claim("s1", 2_000, 62_000, 10)).await;
    assert_eq!(
        ids(&got),
        vec![first.id.clone(), to_carol.id.clone()],
        "bob's oldest only, and carol's"
    );
    assert!(
        claimed(store, claim("s2", 2_000, 62_000, 10))
            .await
            .is_empty(),
        "bob's second waits for his first"
    );
    // The first fails: the second still waits behind it, however long.
    expect(
        store
            .retry_notification(&first.id, "s1", 1, at(3_000))
            .await,
        "retry_notification",
    );
    assert!(
        claimed(store, claim("s2", 2_500, 62_500, 10))
            .await
            .is_empty()
    );
    assert_eq!(
        ids(&claimed(store, claim("s2", 3_000, 63_000, 10)).await),
        vec![first.id.clone()]
    );
    expect(
        store.finish_notification(&first.id).await,
        "finish_notification",
    );
    assert_eq!(
        ids(&claimed(store, claim("s2", 3_001, 63_001, 10)).await),
        vec![second.id]
    );
}

pub async fn claims_are_limited_oldest_first_and_concurrent_claims_never_share(
    store: &impl ChatStore,
) {
    let (alice, bob) = (user("alice"), user("bob"));
    let room = linked(store, &alice, &bob).await;
    let mut expected = Vec::new();
    // One owed message each to twenty recipients.
    for i in 0..20 {
        let to = user(&format!("r{i:02}"));
        expect(store.register_user(&to).await, "register_user");
        let room_i = expect(store.link(&alice, &to, at(500)).await, "link").room;
        expected.push(owed(store, &room_i, &alice, &to, 1_000 + i).await.id);
    }
    let _ = room;
    let limited = claimed(store, claim("s0", 2_000, 2_001, 3)).await;
    assert_eq!(
        ids(&limited),
        expected[..3].to_vec(),
        "the oldest, in id order"
    );

    let claims = (0..4).map(|k| store.claim_notifications_owned(format!("s{}", k + 1)));
    let mut all: Vec<MessageId> = join_all(claims)
        .await
        .into_iter()
        .flat_map(|got| ids(&got))
        .collect();
    let total = all.len();
    all.sort();
    all.dedup();
    assert_eq!(all.len(), total, "no notification claimed twice");
    assert_eq!(
        total, 20,
        "every one claimed by someone once the first lease ended"
    );
}

/// A claim at 3 s for 60 s by `owner`, as a future the test can run alongside others.
trait ClaimOwned {
    fn claim_notifications_owned(
        &self,
        owner: String,
    ) -> Pin<Box<dyn Future<Output = Vec<PendingNotification>> + Send + '_>>;
}

impl<S: ChatStore> ClaimOwned for S {
    fn claim_notifications_owned(
        &self,
        owner: String,
    ) -> Pin<Box<dyn Future<Output = Vec<PendingNotification>> + Send + '_>> {
        Box::pin(async move { claimed(self, claim(&owner, 3_000, 63_000, 100)).await })
    }
}
