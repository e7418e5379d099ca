//! The migration test: a database as version 1 (protocol 1, commit d966697) wrote it
//! opens under this code with nothing lost, and the 1.1 operations work on its data;
//! none of its messages owes an offline notification, and new ones can.
//!
//! `fixtures/v1-mongodb.json` is that database (its indexes, then every collection's
//! documents in extended JSON); `fixtures/v1-mongodb-expected.json` is what the version
//! 1 server itself answered about the same data over the wire protocol, so the test
//! holds the store to the old server's view, not to the dump. Likewise
//! `fixtures/v2-mongodb*.json`, a database as protocol 1.1 (main at 465b1ae, before
//! offline notifications) wrote it, with edits, a tombstone, read positions, a block
//! and messages left waiting for an offline recipient. How they were made:
//! `fixtures/README.md`.

use std::collections::BTreeMap;

use chatzz_core::notification::NotificationClaim;
use chatzz_core::{
    ChatRoomId, ChatStore, ClientMessageId, ContactRecord, HistoryQuery, MessageId, MessageStatus,
    MessageText, NewMessage, StoreNames, StoredMessage, Timestamp, UserId,
};
use mongodb::IndexModel;
use mongodb::bson::{Bson, Document};
use mongodb::options::IndexOptions;
use serde_json::{Map, Value};

use super::{Scratch, client, millis, ok, unique_name, user};
use crate::{MongoStore, Transactions};

const FIXTURE: &str = include_str!("fixtures/v1-mongodb.json");
const EXPECTED: &str = include_str!("fixtures/v1-mongodb-expected.json");
const FIXTURE_V2: &str = include_str!("fixtures/v2-mongodb.json");
const EXPECTED_V2: &str = include_str!("fixtures/v2-mongodb-expected.json");

fn object<'a>(value: &'a Value, what: &str) -> &'a Map<String, Value> {
    value
        .as_object()
        .unwrap_or_else(|| panic!("{what} is not an object: {value}"))
}

fn array<'a>(value: &'a Value, what: &str) -> &'a [Value] {
    value
        .as_array()
        .unwrap_or_else(|| panic!("{what} is not an array: {value}"))
}

fn string<'a>(value: &'a Value, what: &str) -> &'a str {
    value
        .as_str()
        .unwrap_or_else(|| panic!("{what} is not a string: {value}"))
}

fn time(value: &Value, what: &str) -> Option<Timestamp> {
    (!value.is_null()).then(|| ok(Timestamp::parse_iso(string(value, what)), what))
}

/// A fresh database holding the fixture as version 1 left it: its indexes first (as
/// its startup created them), then its documents.
async fn v1_database() -> mongodb::Database {
    database_from(FIXTURE).await
}

/// A fresh database holding `fixture` (a dump as `fixtures/dump_v*_mongodb.py` writes
/// it): its indexes first, then its documents.
async fn database_from(fixture: &str) -> mongodb::Database {
    let fixture: Value = ok(serde_json::from_str(fixture), "reading the fixture");
    let db = client().await.database(&unique_name());
    for (collection, specs) in object(&fixture["indexes"], "indexes") {
        let models = array(specs, collection).iter().map(|spec| {
            let spec = ok(
                Document::try_from(object(spec, "an index").clone()),
                "an index",
            );
            let mut options = IndexOptions::default();
            options.name = Some(ok(spec.get_str("name"), "index name").to_owned());
            options.unique = spec.get_bool("unique").ok();
            options.partial_filter_expression =
                spec.get_document("partialFilterExpression").ok().cloned();
            IndexModel::builder()
                .keys(ok(spec.get_document("key"), "index key").clone())
                .options(options)
                .build()
        });
        ok(
            db.collection::<Document>(collection)
                .create_indexes(models)
                .await,
            "creating version 1's indexes",
        );
    }
    for (collection, docs) in object(&fixture["collections"], "collections") {
        let docs: Vec<Document> = array(docs, collection)
            .iter()
            .map(|doc| {
                ok(
                    Document::try_from(object(doc, "a document").clone()),
                    "a document",
                )
            })
            .collect();
        assert!(!docs.is_empty(), "{collection} is empty in the fixture");
        ok(
            db.collection::<Document>(collection)
                .insert_many(docs)
                .await,
            "loading the fixture",
        );
    }
    db
}

/// What the version 1 server said it stored.
struct Expected {
    /// Each user, with its last online time when the server reported it.
    users: Vec<(UserId, Option<Option<Timestamp>>)>,
    /// Each room with its pair, in creation order.
    rooms: Vec<(ChatRoomId, UserId, UserId)>,
    /// Every message, in id order, as the new code must return it.
    messages: Vec<StoredMessage>,
}

fn expected() -> Expected {
    let summary: Value = ok(serde_json::from_str(EXPECTED), "reading the summary");
    let users = array(&summary["users"], "users")
        .iter()
        .map(|u| {
            let id = user(string(&u["id"], "user id"));
            let observed = u["lastOnlineObserved"].as_bool() == Some(true);
            (id, observed.then(|| time(&u["lastOnline"], "lastOnline")))
        })
        .collect();
    let rooms = array(&summary["rooms"], "rooms")
        .iter()
        .map(|r| {
            let pair = array(&r["users"], "room users");
            (
                ChatRoomId::new(string(&r["chatRoomId"], "chatRoomId")),
                user(string(&pair[0], "room user")),
                user(string(&pair[1], "room user")),
            )
        })
        .collect();
    let messages = array(&summary["messages"], "messages")
        .iter()
        .map(|m| StoredMessage {
            id: MessageId::new(string(&m["id"], "id")),
            room: ChatRoomId::new(string(&m["chatRoomId"], "chatRoomId")),
            from: user(string(&m["from"], "from")),
            to: user(string(&m["to"], "to")),
            text: string(&m["message"], "message").to_owned(),
            status: MessageStatus::parse(string(&m["status"], "status"))
                .unwrap_or_else(|| panic!("bad status in {m}")),
            created_at: time(&m["createdAt"], "createdAt")
                .unwrap_or_else(|| panic!("no createdAt in {m}")),
            read_at: time(&m["readAt"], "readAt"),
            client_message_id: m["clientMessageId"]
                .as_str()
                .map(|c| ok(ClientMessageId::parse(c), "clientMessageId")),
            edited_at: None,
            deleted_at: None,
        })
        .collect();
    Expected {
        users,
        rooms,
        messages,
    }
}

impl Expected {
    fn message(&self, text: &str) -> &StoredMessage {
        self.messages
            .iter()
            .find(|m| m.text == text)
            .unwrap_or_else(|| panic!("no message {text:?} in the summary"))
    }

    fn room_of(&self, a: &UserId, b: &UserId) -> ChatRoomId {
        self.rooms
            .iter()
            .find(|(_, x, y)| (x == a && y == b) || (x == b && y == a))
            .map(|(room, ..)| room.clone())
            .unwrap_or_else(|| panic!("no room of {a} and {b} in the summary"))
    }

    /// `owner`'s contacts as the new code must list them, from what version 1 stored:
    /// rooms in creation order, no creation time, unread = not read and to `owner`,
    /// the newest message either way. `last_online` holds each user's as stored.
    fn contacts(
        &self,
        owner: &UserId,
        last_online: &BTreeMap<UserId, Option<Timestamp>>,
    ) -> Vec<ContactRecord> {
        self.rooms
            .iter()
            .filter(|(_, a, b)| a == owner || b == owner)
            .map(|(room, a, b)| {
                let other = if a == owner { b } else { a };
                let in_room: Vec<&StoredMessage> =
                    self.messages.iter().filter(|m| m.room == *room).collect();
                ContactRecord {
                    user: other.clone(),
                    room: room.clone(),
                    last_online: last_online.get(other).copied().flatten(),
                    since: None,
                    unread: in_room
                        .iter()
                        .filter(|m| m.to == *owner && m.status != MessageStatus::Read)
                        .count() as u64,
                    last_message: in_room.last().map(|m| (*m).clone()),
                    // Version 1 had no blocks.
                    blocked: false,
                    blocked_by: false,
                }
            })
            .collect()
    }
}

/// A claim of every notification due at `now`, for a minute.
fn notify_claim(now: i64) -> NotificationClaim {
    NotificationClaim {
        owner: "upgraded".to_owned(),
        now: millis(now),
        lease_until: millis(now + 60_000),
        limit: 100,
    }
}

async fn contact(store: &impl ChatStore, owner: &UserId, other: &UserId) -> ContactRecord {
    ok(store.contacts(owner).await, "contacts")
        .into_iter()
        .find(|c| c.user == *other)
        .unwrap_or_else(|| panic!("{other} is no longer a contact of {owner}"))
}

async fn stored(store: &impl ChatStore, id: &MessageId) -> StoredMessage {
    ok(store.find_message(id).await, "find_message")
        .unwrap_or_else(|| panic!("message {id} is gone"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_version_1_database_keeps_everything_and_takes_the_new_operations() {
    let expected = expected();
    assert_eq!(expected.users.len(), 5);
    assert_eq!(expected.rooms.len(), 8);
    assert_eq!(expected.messages.len(), 8);
    // Both ways of inserting: the database does not say which one version 1 took.
    for transactions in [Transactions::Never, Transactions::Always] {
        let db = v1_database().await;
        let store = ok(
            MongoStore::with_transactions(db.clone(), StoreNames::default(), transactions).await,
            "opening a version 1 database",
        );
        let scratch = Scratch { store, db };
        let store = &scratch;
        let case = format!("{transactions:?}");

        // Offline notifications: nothing version 1 stored owes one (not even the
        // messages still waiting for their recipient), and nothing is claimable.
        assert_eq!(
            ok(store.pending_notifications().await, "pending_notifications"),
            0,
            "{case}"
        );
        assert!(
            ok(
                store
                    .claim_notifications(&notify_claim(4_000_000_000_000))
                    .await,
                "claim_notifications"
            )
            .is_empty(),
            "{case}"
        );

        // Every user, with its last online time.
        let mut last_online = BTreeMap::new();
        for (id, seen) in &expected.users {
            let found = ok(store.find_user(id).await, "find_user")
                .unwrap_or_else(|| panic!("{case}: user {id} is gone"));
            match seen {
                Some(last_online) => assert_eq!(found.last_online, *last_online, "{case}: {id}"),
                // Went offline unobserved: known only to be set.
                None => assert!(found.last_online.is_some(), "{case}: {id}"),
            }
            last_online.insert(id.clone(), found.last_online);
        }
        // Every message, field by field, with the new fields absent.
        for message in &expected.messages {
            assert_eq!(
                stored(store, &message.id).await,
                *message,
                "{case}: message {}",
                message.id
            );
        }
        // Every room, its history, and every contact list with its inbox.
        for (room, a, b) in &expected.rooms {
            assert_eq!(
                ok(store.find_room(b, a).await, "find_room").as_ref(),
                Some(room),
                "{case}"
            );
            let history = ok(
                store
                    .history(
                        room,
                        &HistoryQuery {
                            since: None,
                            before: None,
                            after: None,
                            limit: 500,
                        },
                    )
                    .await,
                "history",
            );
            let kept: Vec<&StoredMessage> = expected
                .messages
                .iter()
                .filter(|m| m.room == *room)
                .collect();
            assert_eq!(history.iter().collect::<Vec<_>>(), kept, "{case}: {room}");
        }
        for (id, _) in &expected.users {
            assert_eq!(
                ok(store.contacts(id).await, "contacts"),
                expected.contacts(id, &last_online),
                "{case}: contacts of {id}"
            );
        }
        let (alice, bob, carol) = (user("alice"), user("bob"), user("carol"));
        assert_eq!(contact(store, &alice, &bob).await.unread, 1, "{case}");
        assert_eq!(contact(store, &carol, &alice).await.unread, 2, "{case}");
        let undelivered = ok(store.undelivered(&carol, 10, 10).await, "undelivered");
        assert_eq!(undelivered.len(), 2, "{case}: carol's messages still wait");

        // A retried version 1 send still finds its message.
        let first = expected.message("Hello Bob 👋");
        let mut retry = NewMessage {
            room: first.room.clone(),
            from: first.from.clone(),
            to: first.to.clone(),
            text: ok(MessageText::parse(first.text.clone(), 4096), "text"),
            created_at: millis(2_000_000_000_000),
            client_message_id: first.client_message_id.clone(),
            notify: false,
            sent: false,
        };
        let again = ok(store.insert_message(retry.clone()).await, "insert_message");
        assert!(!again.created, "{case}");
        assert_eq!(again.message, *first, "{case}");

        // Reading up to the newest message marks the one version 1 left unread, and
        // only it; the readAt of those read before stays.
        let room = expected.room_of(&alice, &bob);
        let newest_to_alice = expected.message("read this one, not the one before");
        let moved = ok(
            store
                .read_up_to(
                    &alice,
                    &room,
                    &newest_to_alice.id,
                    millis(2_000_000_000_100),
                )
                .await,
            "read_up_to",
        );
        assert_eq!(moved, 1, "{case}");
        let reply = stored(store, &expected.message("an unread reply").id).await;
        assert_eq!(reply.status, MessageStatus::Read, "{case}");
        assert_eq!(reply.read_at, Some(millis(2_000_000_000_100)), "{case}");
        let read_before = expected.message("Hi!\nLine two\n\ttabbed — ünïcödé 🎉🇫🇷 e\u{301}");
        assert_eq!(stored(store, &read_before.id).await, *read_before, "{case}");
        assert_eq!(contact(store, &alice, &bob).await.unread, 0, "{case}");

        // Edit and delete old messages.
        let text = ok(MessageText::parse("Hello again".to_owned(), 4096), "text");
        let edited = ok(
            store
                .edit_message(&first.id, &text, millis(2_000_000_000_200))
                .await,
            "edit_message",
        )
        .unwrap_or_else(|| panic!("{case}: an old message can be edited"));
        let mut want = first.clone();
        want.text = "Hello again".into();
        want.edited_at = Some(millis(2_000_000_000_200));
        assert_eq!(edited, want, "{case}");
        let to_carol = expected
            .message("Carol, are you there? \"double\" 'single' \\backslash %_ {\"$gt\": \"\"}");
        let tombstone = ok(
            store
                .delete_message(&to_carol.id, millis(2_000_000_000_300))
                .await,
            "delete_message",
        )
        .unwrap_or_else(|| panic!("{case}: an old message can be deleted"));
        assert_eq!(tombstone.text, "", "{case}");
        assert_eq!(tombstone.status, MessageStatus::NotSent, "{case}");
        assert_eq!(contact(store, &carol, &alice).await.unread, 1, "{case}");

        // New messages follow the old ones: counters and rooms carry on.
        retry.client_message_id = None;
        retry.text = ok(
            MessageText::parse("after the upgrade".to_owned(), 4096),
            "text",
        );
        let new = ok(store.insert_message(retry).await, "insert_message").message;
        let highest = expected.messages.iter().map(|m| &m.id).max();
        assert!(
            Some(&new.id) > highest,
            "{case}: {} after {highest:?}",
            new.id
        );
        let bobs = contact(store, &bob, &alice).await;
        assert_eq!(bobs.last_message, Some(new), "{case}");
        assert_eq!(bobs.unread, 2, "{case}: the new one and the one left sent");
        let dave = user("dave");
        let linked = ok(
            store.link(&carol, &dave, millis(2_000_000_000_400)).await,
            "link",
        );
        assert!(linked.created, "{case}");
        let highest_room = expected.rooms.iter().map(|(room, ..)| room).max();
        assert!(Some(&linked.room) > highest_room, "{case}");
        assert_eq!(
            contact(store, &carol, &dave).await.since,
            Some(millis(2_000_000_000_400)),
            "{case}"
        );
        // Stored fields and the raw documents agree: nothing of version 1 rewritten.
        let raw = super::all_docs(&scratch.db, "chatzz_rooms").await;
        assert!(
            raw.iter()
                .filter(|r| r.get("createdAt").is_some())
                .all(|r| r.get("_id") == Some(&Bson::String(linked.room.to_string()))),
            "{case}: only the new room has a creation time"
        );
        // A new message that owes a notification, to a user with old messages waiting,
        // is claimable at once; finished, nothing is owed again.
        let owed = ok(
            store
                .insert_message(NewMessage {
                    room: expected.room_of(&alice, &carol),
                    from: alice.clone(),
                    to: carol.clone(),
                    text: ok(MessageText::parse("owed".to_owned(), 4096), "text"),
                    created_at: millis(2_000_000_000_450),
                    client_message_id: None,
                    notify: true,
                    sent: false,
                })
                .await,
            "insert_message",
        )
        .message;
        assert_eq!(
            ok(store.pending_notifications().await, "pending_notifications"),
            1,
            "{case}"
        );
        let claimed = ok(
            store
                .claim_notifications(&notify_claim(2_000_000_000_450))
                .await,
            "claim_notifications",
        );
        assert_eq!(claimed.len(), 1, "{case}");
        assert_eq!(claimed[0].message, owed, "{case}");
        assert_eq!(claimed[0].attempts, 0, "{case}");
        ok(
            store.finish_notification(&owed.id).await,
            "finish_notification",
        );
        assert_eq!(
            ok(store.pending_notifications().await, "pending_notifications"),
            0,
            "{case}"
        );
        // Only that message ever carried a notification's fields.
        let raw = super::all_docs(&scratch.db, "chatzz_messages").await;
        assert!(
            raw.iter()
                .all(|m| m.keys().all(|key| !key.starts_with("notify"))),
            "{case}: {raw:?}"
        );

        // Nobody blocked anybody before 1.1; blocks between old users work.
        assert!(!ok(store.blocks_between(&bob, &alice).await, "blocks_between").any());
        assert!(ok(
            store.block(&bob, &alice, millis(2_000_000_000_500)).await,
            "block"
        ));
        let blocked = contact(store, &bob, &alice).await;
        assert!(blocked.blocked && !blocked.blocked_by, "{case}");
        assert!(contact(store, &alice, &bob).await.blocked_by, "{case}");
    }
}

/// Every message the fixture holds is in the summary, and the other way round: the two
/// fixtures describe the same database.
#[test]
fn the_fixture_and_its_summary_agree() {
    let fixture: Value = ok(serde_json::from_str(FIXTURE), "reading the fixture");
    let dumped: BTreeMap<&str, &str> =
        array(&fixture["collections"]["chatzz_messages"], "messages")
            .iter()
            .map(|m| (string(&m["_id"], "_id"), string(&m["message"], "message")))
            .collect();
    let summary = expected();
    let summarized: BTreeMap<&str, &str> = summary
        .messages
        .iter()
        .map(|m| (m.id.as_str(), m.text.as_str()))
        .collect();
    assert_eq!(dumped, summarized);
    let rooms = array(&fixture["collections"]["chatzz_rooms"], "rooms").len();
    assert_eq!(rooms, summary.rooms.len());
}

fn message_from(m: &Value) -> StoredMessage {
    StoredMessage {
        id: MessageId::new(string(&m["id"], "id")),
        room: ChatRoomId::new(string(&m["chatRoomId"], "chatRoomId")),
        from: user(string(&m["from"], "from")),
        to: user(string(&m["to"], "to")),
        text: string(&m["message"], "message").to_owned(),
        status: MessageStatus::parse(string(&m["status"], "status"))
            .unwrap_or_else(|| panic!("bad status in {m}")),
        created_at: time(&m["createdAt"], "createdAt")
            .unwrap_or_else(|| panic!("no createdAt in {m}")),
        read_at: time(&m["readAt"], "readAt"),
        client_message_id: m["clientMessageId"]
            .as_str()
            .map(|c| ok(ClientMessageId::parse(c), "clientMessageId")),
        edited_at: time(&m["editedAt"], "editedAt"),
        deleted_at: time(&m["deletedAt"], "deletedAt"),
    }
}

/// A database written by protocol 1.1 (before offline notifications): no message owes
/// one, not even those still waiting for their recipient; every message, edit,
/// tombstone, read position and block reads back as that server reported it; a new
/// message can owe one, and is claimed ahead of nothing old.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_version_2_database_owes_no_notification_and_keeps_everything() {
    let summary: Value = ok(serde_json::from_str(EXPECTED_V2), "reading the summary");
    let messages: Vec<StoredMessage> = array(&summary["messages"], "messages")
        .iter()
        .map(message_from)
        .collect();
    assert_eq!(messages.len(), 8);
    assert!(messages.iter().any(|m| m.edited_at.is_some()));
    assert!(messages.iter().any(|m| m.deleted_at.is_some()));
    for transactions in [Transactions::Never, Transactions::Always] {
        let db = database_from(FIXTURE_V2).await;
        let store = ok(
            MongoStore::with_transactions(db.clone(), StoreNames::default(), transactions).await,
            "opening a version 2 database",
        );
        let scratch = Scratch { store, db };
        let store = &scratch;
        let case = format!("{transactions:?}");

        assert_eq!(
            ok(store.pending_notifications().await, "pending_notifications"),
            0,
            "{case}"
        );
        assert!(
            ok(
                store
                    .claim_notifications(&notify_claim(4_000_000_000_000))
                    .await,
                "claim_notifications"
            )
            .is_empty(),
            "{case}"
        );
        for message in &messages {
            assert_eq!(
                stored(store, &message.id).await,
                *message,
                "{case}: message {}",
                message.id
            );
        }
        // Each contact list as the 1.1 server gave it (the store lists rooms in
        // creation order; the server sorts them by activity).
        for (owner, listed) in object(&summary["contacts"], "contacts") {
            let owner = user(owner);
            let mut want: Vec<(String, String, u64, Option<String>, bool)> =
                array(listed, "a contact list")
                    .iter()
                    .map(|c| {
                        (
                            string(&c["user"], "user").to_owned(),
                            string(&c["chatRoomId"], "chatRoomId").to_owned(),
                            c["unreadCount"].as_u64().unwrap_or_else(|| panic!("{c}")),
                            c["lastMessageId"].as_str().map(str::to_owned),
                            c["blocked"].as_bool() == Some(true),
                        )
                    })
                    .collect();
            want.sort();
            let mut got: Vec<(String, String, u64, Option<String>, bool)> =
                ok(store.contacts(&owner).await, "contacts")
                    .into_iter()
                    .map(|c| {
                        (
                            c.user.to_string(),
                            c.room.to_string(),
                            c.unread,
                            c.last_message.map(|m| m.id.to_string()),
                            c.blocked,
                        )
                    })
                    .collect();
            got.sort();
            assert_eq!(got, want, "{case}: contacts of {owner}");
        }

        // carol, offline since, has two old messages waiting: a new one owes a
        // notification, and is hers to claim at once (nothing old is ahead of it).
        let (alice, carol) = (user("alice"), user("carol"));
        let waiting = ok(store.undelivered(&carol, 10, 10).await, "undelivered");
        assert_eq!(waiting.len(), 2, "{case}");
        let owed = ok(
            store
                .insert_message(NewMessage {
                    room: waiting[0].room.clone(),
                    from: alice.clone(),
                    to: carol.clone(),
                    text: ok(MessageText::parse("owed".to_owned(), 4096), "text"),
                    created_at: millis(2_000_000_000_000),
                    client_message_id: None,
                    notify: true,
                    sent: false,
                })
                .await,
            "insert_message",
        )
        .message;
        assert!(owed.id > messages[messages.len() - 1].id, "{case}");
        let claimed = ok(
            store
                .claim_notifications(&notify_claim(2_000_000_000_000))
                .await,
            "claim_notifications",
        );
        assert_eq!(claimed.len(), 1, "{case}");
        assert_eq!(claimed[0].message, owed, "{case}");
        // A retried 1.1 send still finds its message (a tombstone), and owes nothing.
        let deleted = messages
            .iter()
            .find(|m| m.deleted_at.is_some())
            .unwrap_or_else(|| unreachable!());
        let again = ok(
            store
                .insert_message(NewMessage {
                    room: deleted.room.clone(),
                    from: deleted.from.clone(),
                    to: deleted.to.clone(),
                    text: ok(MessageText::parse("again".to_owned(), 4096), "text"),
                    created_at: millis(2_000_000_000_100),
                    client_message_id: deleted.client_message_id.clone(),
                    notify: true,
                    sent: false,
                })
                .await,
            "insert_message",
        );
        assert!(!again.created, "{case}");
        assert_eq!(again.message, *deleted, "{case}");
        assert_eq!(
            ok(store.pending_notifications().await, "pending_notifications"),
            1,
            "{case}"
        );
        let raw = super::all_docs(&scratch.db, "chatzz_messages").await;
        let carrying: Vec<&str> = raw
            .iter()
            .filter(|m| m.keys().any(|key| key.starts_with("notify")))
            .filter_map(|m| m.get_str("_id").ok())
            .collect();
        assert_eq!(carrying, vec![owed.id.as_str()], "{case}");
    }
}
