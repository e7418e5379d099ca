//! Offline notifications as stored: the `notify*` fields of a message through a
//! notification's life, on both ways of inserting, and (on a real MongoDB) that a claim
//! and the pending count walk only the `notify_to_seq` index of what is owed.

use chatzz_core::notification::NotificationClaim;
use chatzz_core::{ChatStore, ClientMessageId, MessageId, NewMessage};
use mongodb::bson::{Document, doc};

use super::{Scratch, all_docs, chat, integer, message, millis, ok, scratch, scratch_with, user};
use crate::Transactions;
use crate::schema::{all_owed, owed};

fn claim(owner: &str, now: i64) -> NotificationClaim {
    NotificationClaim {
        owner: owner.to_owned(),
        now: millis(now),
        lease_until: millis(now + 60_000),
        limit: 10,
    }
}

/// The stored document of message `id`.
async fn raw(scratch: &Scratch, id: &MessageId) -> Document {
    all_docs(&scratch.db, "chatzz_messages")
        .await
        .into_iter()
        .find(|d| d.get_str("_id") == Ok(id.as_str()))
        .unwrap_or_else(|| panic!("no message {id}"))
}

fn notify_fields(doc: &Document) -> Vec<&str> {
    doc.keys()
        .map(String::as_str)
        .filter(|key| key.starts_with("notify"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_owed_notification_lives_on_its_message_and_leaves_no_trace() {
    for transactions in [Transactions::Never, Transactions::Always] {
        let scratch = scratch_with(transactions).await;
        let case = format!("{transactions:?}");
        let (room, plain) = chat(&scratch).await;
        let (alice, bob) = (user("alice"), user("bob"));
        assert!(
            notify_fields(&raw(&scratch, &plain.id).await).is_empty(),
            "{case}: a message inserted without notify owes nothing"
        );
        let keyed = || NewMessage {
            notify: true,
            sent: false,
            client_message_id: Some(ok(ClientMessageId::parse("c-9"), "client id")),
            created_at: millis(2_000),
            ..message(&room, &alice, &bob, "owed")
        };
        let owed = ok(scratch.insert_message(keyed()).await, "insert_message").message;
        let stored = raw(&scratch, &owed.id).await;
        assert_eq!(
            notify_fields(&stored),
            vec!["notifyDue"],
            "{case}: {stored:?}"
        );
        assert_eq!(
            integer(&stored, "notifyDue"),
            2_000,
            "{case}: due when stored"
        );
        // A retried send stores nothing new, and owes nothing new.
        let again = ok(scratch.insert_message(keyed()).await, "insert_message");
        assert!(!again.created, "{case}");
        assert_eq!(raw(&scratch, &owed.id).await, stored, "{case}");

        let got = ok(
            scratch.claim_notifications(&claim("s1", 3_000)).await,
            "claim_notifications",
        );
        assert_eq!(got.len(), 1, "{case}");
        let leased = raw(&scratch, &owed.id).await;
        assert_eq!(leased.get_str("notifyOwner"), Ok("s1"), "{case}");
        assert_eq!(integer(&leased, "notifyLeaseUntil"), 63_000, "{case}");

        ok(
            scratch
                .retry_notification(&owed.id, "s1", 3, millis(9_000))
                .await,
            "retry_notification",
        );
        let retried = raw(&scratch, &owed.id).await;
        assert_eq!(
            notify_fields(&retried),
            vec!["notifyDue", "notifyAttempts"],
            "{case}: the lease is cleared: {retried:?}"
        );
        assert_eq!(integer(&retried, "notifyDue"), 9_000, "{case}");
        assert_eq!(integer(&retried, "notifyAttempts"), 3, "{case}");

        ok(
            scratch.finish_notification(&owed.id).await,
            "finish_notification",
        );
        let finished = raw(&scratch, &owed.id).await;
        assert!(notify_fields(&finished).is_empty(), "{case}: {finished:?}");
        let mut before = stored.clone();
        before.remove("notifyDue");
        assert_eq!(finished, before, "{case}: the message itself untouched");
        assert_eq!(
            ok(
                scratch.pending_notifications().await,
                "pending_notifications"
            ),
            0,
            "{case}"
        );
    }
}

/// A notification owed about a message deleted since is still owed, and is handed out
/// as the message now stands (a tombstone): the host application decides what to say.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_message_still_owes_its_notification_as_it_now_stands() {
    let scratch = scratch().await;
    let (room, _) = chat(&scratch).await;
    let (alice, bob) = (user("alice"), user("bob"));
    let owed = ok(
        scratch
            .insert_message(NewMessage {
                notify: true,
                ..message(&room, &alice, &bob, "oops")
            })
            .await,
        "insert_message",
    )
    .message;
    let tombstone = ok(
        scratch.delete_message(&owed.id, millis(1_500)).await,
        "delete_message",
    );
    let got = ok(
        scratch.claim_notifications(&claim("s1", 2_000)).await,
        "claim_notifications",
    );
    assert_eq!(got.len(), 1);
    assert_eq!(Some(got[0].message.clone()), tombstone);
}

/// On a real MongoDB: the owed index exists as designed, holds only what is owed, and
/// a claim's reads and the pending count walk it, not the messages.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a real MongoDB: the nx-27017 stand-in renames indexes, drops their \
            partial filters and explains SQLite plans"]
async fn claims_walk_only_what_is_owed() {
    let scratch = scratch().await;
    let (room, _) = chat(&scratch).await;
    let (alice, bob) = (user("alice"), user("bob"));
    let indexes = ok(
        scratch
            .db
            .run_command(doc! { "listIndexes": "chatzz_messages" })
            .await,
        "listIndexes",
    );
    let listed = format!("{indexes:?}");
    assert!(
        listed.contains("notify_to_seq") && listed.contains("notifyDue"),
        "{indexes:?}"
    );
    for i in 0..200 {
        let notify = i % 50 == 0;
        ok(
            scratch
                .insert_message(NewMessage {
                    notify,
                    ..message(&room, &alice, &bob, "x")
                })
                .await,
            "insert_message",
        );
    }
    let explained = |command: Document| async {
        let explained = ok(
            scratch
                .db
                .run_command(doc! { "explain": command, "verbosity": "executionStats" })
                .await,
            "explain",
        );
        let listed = format!("{explained:?}");
        let stats = ok(explained.get_document("executionStats"), "executionStats");
        (listed, integer(stats, "totalKeysExamined"))
    };
    let (plan, keys) = explained(doc! {
        "distinct": "chatzz_messages", "key": "to", "query": all_owed(),
    })
    .await;
    assert!(plan.contains("notify_to_seq"), "{plan}");
    assert!(keys <= 5, "{keys} keys for 4 owed to one recipient");
    let mut head = owed();
    head.insert("to", "bob");
    let (plan, keys) = explained(doc! {
        "find": "chatzz_messages", "filter": head, "sort": { "seq": 1 }, "limit": 1,
    })
    .await;
    assert!(plan.contains("notify_to_seq"), "{plan}");
    assert!(keys <= 2, "the oldest is the first entry: {keys} keys");
    let (plan, keys) = explained(doc! { "count": "chatzz_messages", "query": all_owed() }).await;
    assert!(plan.contains("notify_to_seq"), "{plan}");
    assert!(keys <= 5, "{keys} keys for 4 owed");
}
