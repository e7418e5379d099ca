//! Protocol 1.1's inbox as stored: the new fields of the documents, the read positions,
//! contact lists longer than the reads kept in flight, and (on a real MongoDB) that the
//! unread counts, reads up to a message and newest messages are index range reads.

use chatzz_core::{ChatRoomId, ChatStore, MessageId, MessageStatus, MessageText, UserId};
use mongodb::bson::{Bson, Document, doc};

use super::{Scratch, all_docs, chat, integer, message, millis, ok, scratch, user};
use crate::store::{to_read_filter, unread_filter};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_fields_are_stored_as_documented() {
    let scratch = scratch().await;
    let (room, first) = chat(&scratch).await;
    let (alice, bob) = (user("alice"), user("bob"));
    let rooms = all_docs(&scratch.db, "chatzz_rooms").await;
    assert_eq!(integer(&rooms[0], "createdAt"), 500, "the link's time");
    let fresh = &all_docs(&scratch.db, "chatzz_messages").await[0];
    for absent in ["editedAt", "deletedAt", "readAt"] {
        assert!(!fresh.contains_key(absent), "{absent} absent: {fresh:?}");
    }

    let second = ok(
        scratch
            .insert_message(message(&room, &alice, &bob, "second"))
            .await,
        "insert_message",
    )
    .message;
    let moved = ok(
        scratch
            .read_up_to(&bob, &room, &first.id, millis(7_000))
            .await,
        "read_up_to",
    );
    assert_eq!(moved, 1);
    let positions = all_docs(&scratch.db, "chatzz_read_positions").await;
    assert_eq!(positions.len(), 1, "{positions:?}");
    assert_eq!(positions[0].get_str("reader"), Ok("bob"));
    assert_eq!(positions[0].get_str("chatRoomId"), Ok(room.as_str()));
    let first_seq = integer(&all_docs(&scratch.db, "chatzz_messages").await[0], "seq");
    assert_eq!(integer(&positions[0], "upTo"), first_seq);
    // Back to an earlier message (or any id below): the position stays.
    ok(
        scratch
            .read_up_to(&bob, &room, &MessageId::new("0"), millis(8_000))
            .await,
        "read_up_to",
    );
    let positions = all_docs(&scratch.db, "chatzz_read_positions").await;
    assert_eq!(integer(&positions[0], "upTo"), first_seq);

    let text = ok(MessageText::parse("edited".to_owned(), 100), "text");
    ok(
        scratch.edit_message(&second.id, &text, millis(9_000)).await,
        "edit_message",
    );
    ok(
        scratch.delete_message(&second.id, millis(9_500)).await,
        "delete_message",
    );
    let messages = all_docs(&scratch.db, "chatzz_messages").await;
    let read = &messages[0];
    assert_eq!(read.get_str("status"), Ok(MessageStatus::Read.as_str()));
    assert_eq!(integer(read, "readAt"), 7_000);
    let tombstone = &messages[1];
    assert_eq!(
        tombstone.get_str("message"),
        Ok(""),
        "the text is erased from the document"
    );
    assert_eq!(integer(tombstone, "editedAt"), 9_000);
    assert_eq!(integer(tombstone, "deletedAt"), 9_500);
    let raw = format!("{tombstone:?}");
    assert!(
        !raw.contains("\"edited\"") && !raw.contains("\"second\""),
        "no copy of the text is left: {raw}"
    );
}

/// More rooms than the contact list reads at once: each room keeps its own count and
/// newest message, in creation order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_contact_list_keeps_each_room_its_own() {
    let scratch = scratch().await;
    let me = user("me");
    ok(scratch.register_user(&me).await, "register_user");
    let mut rooms: Vec<(UserId, ChatRoomId)> = Vec::new();
    for i in 0..30 {
        let other = user(&format!("user{i:02}"));
        ok(scratch.register_user(&other).await, "register_user");
        let room = ok(scratch.link(&other, &me, millis(1_000 + i)).await, "link").room;
        // Room i gets i % 4 messages to me.
        for _ in 0..i % 4 {
            ok(
                scratch
                    .insert_message(message(&room, &other, &me, &format!("from {i}")))
                    .await,
                "insert_message",
            );
        }
        rooms.push((other, room));
    }
    let contacts = ok(scratch.contacts(&me).await, "contacts");
    assert_eq!(contacts.len(), 30);
    for (i, (contact, (other, room))) in contacts.iter().zip(&rooms).enumerate() {
        assert_eq!(
            (&contact.user, &contact.room),
            (other, room),
            "order at {i}"
        );
        assert_eq!(contact.unread, (i % 4) as u64, "{other}");
        assert_eq!(contact.since, Some(millis(1_000 + i as i64)), "{other}");
        assert_eq!(
            contact.last_message.as_ref().map(|m| m.text.clone()),
            (i % 4 > 0).then(|| format!("from {i}")),
            "{other}"
        );
    }
}

/// Every `indexName` in an explained plan.
fn index_names(plan: &Bson, out: &mut Vec<String>) {
    match plan {
        Bson::Document(d) => {
            for (key, value) in d {
                match (key.as_str(), value) {
                    ("indexName", Bson::String(name)) => out.push(name.clone()),
                    _ => index_names(value, out),
                }
            }
        }
        Bson::Array(items) => items.iter().for_each(|item| index_names(item, out)),
        _ => {}
    }
}

/// The winning plan's indexes and the index keys it examined.
async fn explain(scratch: &Scratch, command: Document) -> (Vec<String>, i64) {
    let explained = ok(
        scratch
            .db
            .run_command(doc! { "explain": command, "verbosity": "executionStats" })
            .await,
        "explain",
    );
    let mut names = Vec::new();
    let plan = explained
        .get_document("queryPlanner")
        .ok()
        .and_then(|p| p.get("winningPlan"))
        .unwrap_or_else(|| panic!("no winning plan: {explained:?}"));
    index_names(plan, &mut names);
    // The slot-based engine repeats a plan's stages in more than one form.
    names.sort();
    names.dedup();
    let stats = ok(explained.get_document("executionStats"), "executionStats");
    (names, integer(stats, "totalKeysExamined"))
}

/// On a real MongoDB: the unread index exists as designed, and the inbox's reads walk
/// what is unread or newest, not the room's history.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a real MongoDB: the nx-27017 stand-in renames indexes, drops their \
            partial filters and explains SQLite plans"]
async fn inbox_reads_walk_only_what_is_unread() {
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
    let unread_index = format!("{indexes:?}");
    assert!(
        unread_index.contains("unread_chatRoomId_to_seq")
            && unread_index.contains("partialFilterExpression"),
        "{indexes:?}"
    );

    let mut ids = Vec::new();
    for i in 0..200 {
        let (from, to) = if i % 2 == 0 {
            (&alice, &bob)
        } else {
            (&bob, &alice)
        };
        let sent = ok(
            scratch.insert_message(message(&room, from, to, "x")).await,
            "insert_message",
        );
        ids.push(sent.message);
    }
    // Bob reads up to the 96th of the loop's messages to him: 4 stay unread.
    let up_to = &ids[190];
    ok(
        scratch
            .read_up_to(&bob, &room, &up_to.id, millis(5_000))
            .await,
        "read_up_to",
    );
    let position = ok(
        mongodb::bson::from_bson::<i64>(
            all_docs(&scratch.db, "chatzz_read_positions").await[0]
                .get("upTo")
                .cloned()
                .unwrap_or(Bson::Null),
        ),
        "upTo",
    );
    let (names, keys) = explain(
        &scratch,
        doc! {
            "count": "chatzz_messages",
            "query": unread_filter("bob", room.as_str(), Some(position)),
        },
    )
    .await;
    assert_eq!(names, vec!["unread_chatRoomId_to_seq"]);
    assert!(keys <= 5, "the count examined {keys} keys for 4 unread");
    assert_eq!(ok(scratch.contacts(&bob).await, "contacts")[0].unread, 4);
    // Alice has 100 unread: reading them all is one update through the same index.
    let (names, keys) = explain(
        &scratch,
        doc! {
            "update": "chatzz_messages",
            "updates": [{
                "q": to_read_filter("alice", room.as_str(), i64::MAX),
                "u": { "$set": { "status": "read" } },
                "multi": true,
            }],
        },
    )
    .await;
    assert_eq!(names, vec!["unread_chatRoomId_to_seq"]);
    assert!(keys <= 101, "{keys} keys for 100 unread");
    let (names, keys) = explain(
        &scratch,
        doc! {
            "find": "chatzz_messages",
            "filter": { "chatRoomId": room.as_str() },
            "sort": { "seq": -1 },
            "limit": 1,
        },
    )
    .await;
    assert_eq!(names, vec!["chatRoomId_seq"]);
    assert_eq!(keys, 1, "the newest message is the end of the room's index");
}
