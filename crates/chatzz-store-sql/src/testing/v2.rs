//! The migration check both SQL stores run on a database written by schema 2 (protocol
//! 1.1, before offline notifications; the fixtures made with
//! `tests/migration/write-v1-data.mjs` against that version's server): opened by the
//! current code, it keeps everything ([`v1::data_is_kept_and_works`], which reads only
//! through the port), owes no notification for any old message, and a new message
//! inserted with `notify` is owed and claimable.

use chatzz_core::notification::NotificationClaim;
use chatzz_core::{ChatStore, MessageText, NewMessage};
use serde_json::Value;

use super::v1::{self, WrittenBy};
use super::{at, user};

/// Checks `store`, opened (and so migrated) on the schema 2 fixture whose summary is
/// `summary`.
pub async fn v2_data_is_kept_and_works(store: &impl ChatStore, summary: &str) {
    nothing_is_owed(store).await;
    v1::data_is_kept_and_works(store, summary, WrittenBy::V2).await;
    new_sends_are_owed(store, summary).await;
}

/// No message stored before the upgrade owes a notification: none pending, and a claim
/// far in the future finds nothing.
pub async fn nothing_is_owed(store: &impl ChatStore) {
    assert_eq!(
        store.pending_notifications().await.expect("pending"),
        0,
        "old messages owe nothing"
    );
    let claimed = store
        .claim_notifications(&NotificationClaim {
            owner: "upgrade-check".into(),
            now: at(9_000_000_000_000),
            lease_until: at(9_000_000_060_000),
            limit: 1000,
        })
        .await
        .expect("claim_notifications");
    assert!(claimed.is_empty(), "old messages owe nothing: {claimed:?}");
}

/// A message inserted with `notify` into the fixture's first room after the upgrade is
/// owed and claimable as stored, the old ones still owe nothing, and finishing it leaves
/// nothing owed.
pub async fn new_sends_are_owed(store: &impl ChatStore, summary: &str) {
    let summary: Value = serde_json::from_str(summary).expect("the summary is JSON");
    let room = &summary["rooms"][0];
    let pair = room["users"].as_array().expect("pair");
    let (a, b) = (
        user(pair[0].as_str().expect("id")),
        user(pair[1].as_str().expect("id")),
    );
    let room = store
        .find_room(&a, &b)
        .await
        .expect("find_room")
        .expect("the fixture's room");
    let sent = at(5_000_000_000_000);
    let inserted = store
        .insert_message(NewMessage {
            room,
            from: a.clone(),
            to: b.clone(),
            text: MessageText::parse("are you there?".into(), 100).expect("text"),
            created_at: sent,
            client_message_id: None,
            notify: true,
            sent: false,
        })
        .await
        .expect("insert");
    assert!(inserted.created);
    assert_eq!(store.pending_notifications().await.expect("pending"), 1);
    let claimed = store
        .claim_notifications(&NotificationClaim {
            owner: "upgrade-check".into(),
            now: sent,
            lease_until: at(5_000_000_060_000),
            limit: 1000,
        })
        .await
        .expect("claim_notifications");
    assert_eq!(claimed.len(), 1, "only the new message: {claimed:?}");
    assert_eq!(claimed[0].message, inserted.message);
    assert_eq!(claimed[0].attempts, 0);
    store
        .finish_notification(&inserted.message.id)
        .await
        .expect("finish_notification");
    assert_eq!(store.pending_notifications().await.expect("pending"), 0);
}
