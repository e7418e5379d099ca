//! The migration check both SQL stores run on a database written by protocol version 1
//! (the fixtures made with `tests/migration/write-v1-data.mjs`): opened by the current
//! code, it keeps every user, room, message, status and client message id, the new
//! columns are empty, unread counts are the messages not read, and the new operations
//! work on the old rows.

use std::collections::BTreeMap;

use chatzz_core::{
    ChatRoomId, ChatStore, ClientMessageId, MessageId, MessageStatus, MessageText, NewMessage,
    StoredMessage, Timestamp, UserId,
};
use serde_json::Value;

use super::{at, everything, user};

/// A message as the fixture's summary lists it.
#[derive(Debug, Clone)]
struct Expected {
    id: MessageId,
    room: ChatRoomId,
    from: UserId,
    to: UserId,
    text: String,
    status: MessageStatus,
    created_at: Timestamp,
    read_at: Option<Timestamp>,
    client_id: Option<ClientMessageId>,
}

impl Expected {
    fn of(m: &Value) -> Self {
        let text = |key: &str| {
            m[key]
                .as_str()
                .unwrap_or_else(|| panic!("{key} of {m}"))
                .to_owned()
        };
        let time = |key: &str| {
            m[key]
                .as_str()
                .map(|t| Timestamp::parse_iso(t).expect("an ISO time"))
        };
        Self {
            id: MessageId::new(text("id")),
            room: ChatRoomId::new(text("chatRoomId")),
            from: user(&text("from")),
            to: user(&text("to")),
            text: text("message"),
            status: match text("status").as_str() {
                "not_sent" => MessageStatus::NotSent,
                "sent" => MessageStatus::Sent,
                "read" => MessageStatus::Read,
                other => panic!("status {other}"),
            },
            created_at: time("createdAt").expect("createdAt"),
            read_at: time("readAt"),
            client_id: m["clientMessageId"]
                .as_str()
                .map(|c| ClientMessageId::parse(c).expect("client id")),
        }
    }

    fn stored(&self) -> StoredMessage {
        StoredMessage {
            id: self.id.clone(),
            room: self.room.clone(),
            from: self.from.clone(),
            to: self.to.clone(),
            text: self.text.clone(),
            status: self.status,
            created_at: self.created_at,
            read_at: self.read_at,
            client_message_id: self.client_id.clone(),
            edited_at: None,
            deleted_at: None,
        }
    }
}

/// Which schema the fixture database was written with: the script only speaks
/// version 1's protocol, but a server of schema 2 (protocol 1.1) dates the rooms it
/// creates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WrittenBy {
    /// Protocol 1.0, schema 1: rooms have no creation time.
    V1,
    /// Protocol 1.1, schema 2 (the inbox): every room has its creation time.
    V2,
}

/// Checks `store`, opened (and so migrated) on the fixture database whose summary is
/// `summary` (the JSON the fixture script wrote), then uses the new operations on it.
pub async fn v1_data_is_kept_and_works(store: &impl ChatStore, summary: &str) {
    data_is_kept_and_works(store, summary, WrittenBy::V1).await;
}

/// [`v1_data_is_kept_and_works`] on a fixture written by `by`.
pub async fn data_is_kept_and_works(store: &impl ChatStore, summary: &str, by: WrittenBy) {
    let summary: Value = serde_json::from_str(summary).expect("the summary is JSON");
    let messages: Vec<Expected> = summary["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .map(Expected::of)
        .collect();
    assert!(
        messages.len() >= 8,
        "the fixture holds every kind of message"
    );
    // Under protocol 1.1 a read reads everything up to the message, so the script's
    // one message left `sent` behind a read one is read there too.
    let kinds: &[MessageStatus] = match by {
        WrittenBy::V1 => &[
            MessageStatus::NotSent,
            MessageStatus::Sent,
            MessageStatus::Read,
        ],
        WrittenBy::V2 => &[MessageStatus::NotSent, MessageStatus::Read],
    };
    for status in kinds {
        assert!(messages.iter().any(|m| m.status == *status), "{status:?}");
    }

    // Users, with when they were last seen.
    let users = summary["users"].as_array().expect("users");
    for u in users {
        let id = user(u["id"].as_str().expect("id"));
        let found = store
            .find_user(&id)
            .await
            .expect("find_user")
            .unwrap_or_else(|| panic!("user {id} lost"));
        assert!(found.last_online.is_some(), "{id} went offline once");
        if let Some(seen) = u["lastOnline"].as_str() {
            let seen = Timestamp::parse_iso(seen).expect("time");
            assert_eq!(found.last_online, Some(seen), "{id}");
        }
    }

    // Rooms, each found by its pair, and every message in each, in order.
    let rooms: Vec<(UserId, UserId, ChatRoomId)> = summary["rooms"]
        .as_array()
        .expect("rooms")
        .iter()
        .map(|r| {
            let pair = r["users"].as_array().expect("pair");
            (
                user(pair[0].as_str().expect("id")),
                user(pair[1].as_str().expect("id")),
                ChatRoomId::new(r["chatRoomId"].as_str().expect("room")),
            )
        })
        .collect();
    for (a, b, room) in &rooms {
        assert_eq!(
            store.find_room(b, a).await.expect("find_room"),
            Some(room.clone())
        );
        let expected: Vec<StoredMessage> = messages
            .iter()
            .filter(|m| m.room == *room)
            .map(Expected::stored)
            .collect();
        assert_eq!(
            store.history(room, &everything()).await.expect("history"),
            expected,
            "the history of {a} and {b}"
        );
    }
    for m in &messages {
        assert_eq!(
            store.find_message(&m.id).await.expect("find_message"),
            Some(m.stored()),
            "every field kept, the new ones empty"
        );
    }

    // Contacts: every room of each user, in creation order, with the unread count of
    // what is addressed to the user and not read, and the room's newest message.
    let mut unread: BTreeMap<(UserId, ChatRoomId), u64> = BTreeMap::new();
    for u in users {
        let id = user(u["id"].as_str().expect("id"));
        let mut mine: Vec<(UserId, ChatRoomId)> = rooms
            .iter()
            .filter_map(|(a, b, room)| {
                if *a == id {
                    Some((b.clone(), room.clone()))
                } else if *b == id {
                    Some((a.clone(), room.clone()))
                } else {
                    None
                }
            })
            .collect();
        mine.sort_by_key(|(_, room)| super::row_id(room.as_str()));
        let contacts = store.contacts(&id).await.expect("contacts");
        let listed: Vec<(UserId, ChatRoomId)> = contacts
            .iter()
            .map(|c| (c.user.clone(), c.room.clone()))
            .collect();
        assert_eq!(listed, mine, "the contacts of {id}");
        for contact in &contacts {
            let in_room = || messages.iter().filter(|m| m.room == contact.room);
            let not_read = in_room()
                .filter(|m| m.to == id && m.status != MessageStatus::Read)
                .count();
            assert_eq!(
                contact.unread,
                u64::try_from(not_read).expect("count"),
                "{id}'s unread from {}",
                contact.user
            );
            unread.insert((id.clone(), contact.room.clone()), contact.unread);
            assert_eq!(
                contact.last_message,
                in_room().next_back().map(Expected::stored),
                "the newest message of {id} and {}",
                contact.user
            );
            match by {
                WrittenBy::V1 => assert_eq!(
                    contact.since, None,
                    "rooms of version 1 have no creation time"
                ),
                WrittenBy::V2 => {
                    let since = contact.since.expect("rooms of version 2 are dated");
                    if let Some(first) = in_room().next() {
                        assert!(since <= first.created_at, "linked before the first send");
                    }
                }
            }
            let other = store
                .find_user(&contact.user)
                .await
                .expect("find_user")
                .expect("the contact");
            assert_eq!(contact.last_online, other.last_online);
        }
    }
    assert!(
        unread.values().any(|n| *n > 0),
        "the fixture has unread messages"
    );

    // Reading up to each user's newest message in each room reads exactly what was
    // unread there (legacy messages of every status), and nothing newer.
    for ((reader, room), count) in &unread {
        let Some(newest) = messages
            .iter()
            .rfind(|m| m.room == *room && m.to == *reader)
        else {
            continue;
        };
        let moved = store
            .read_up_to(reader, room, &newest.id, at(4_000_000_000_000))
            .await
            .expect("read_up_to");
        assert_eq!(
            u64::try_from(moved).expect("count"),
            *count,
            "{reader} in {room}"
        );
        let contact = store
            .contacts(reader)
            .await
            .expect("contacts")
            .into_iter()
            .find(|c| c.room == *room)
            .expect("the room");
        assert_eq!(contact.unread, 0);
    }
    for m in &messages {
        let now = store
            .find_message(&m.id)
            .await
            .expect("find")
            .expect("kept");
        assert_eq!(now.status, MessageStatus::Read, "{}", m.id);
        if m.status == MessageStatus::Read {
            assert_eq!(now.read_at, m.read_at, "the first readAt kept");
        } else {
            assert_eq!(now.read_at, Some(at(4_000_000_000_000)));
        }
    }

    // Edit and delete old messages.
    let first = &messages[0];
    let edited = store
        .edit_message(
            &first.id,
            &MessageText::parse("edited after the upgrade".into(), 1000).expect("text"),
            at(4_000_000_000_001),
        )
        .await
        .expect("edit_message")
        .expect("an old message can be edited");
    assert_eq!(edited.text, "edited after the upgrade");
    assert_eq!(edited.edited_at, Some(at(4_000_000_000_001)));
    assert_eq!(edited.created_at, first.created_at);
    let second = &messages[1];
    let tombstone = store
        .delete_message(&second.id, at(4_000_000_000_002))
        .await
        .expect("delete_message")
        .expect("an old message can be deleted");
    assert_eq!(tombstone.text, "");
    assert_eq!(tombstone.deleted_at, Some(at(4_000_000_000_002)));

    // A send retried after the upgrade still finds the message stored before it.
    let keyed = messages
        .iter()
        .find(|m| m.client_id.is_some())
        .expect("a message with a client id");
    let retried = store
        .insert_message(NewMessage {
            room: keyed.room.clone(),
            from: keyed.from.clone(),
            to: keyed.to.clone(),
            text: MessageText::parse(keyed.text.clone(), 10_000).expect("text"),
            created_at: at(4_000_000_000_003),
            client_message_id: keyed.client_id.clone(),
            notify: false,
            sent: false,
        })
        .await
        .expect("insert");
    assert!(!retried.created);
    assert_eq!(retried.message.id, keyed.id);

    // New rows follow the old ones; a new room has its creation time.
    let (a, b, room) = &rooms[0];
    let new = store
        .insert_message(NewMessage {
            room: room.clone(),
            from: a.clone(),
            to: b.clone(),
            text: MessageText::parse("after".into(), 100).expect("text"),
            created_at: at(4_000_000_000_004),
            client_message_id: None,
            notify: false,
            sent: false,
        })
        .await
        .expect("insert")
        .message;
    assert!(messages.iter().all(|m| m.id < new.id), "ids keep growing");
    let again = store.link(a, b, at(4_000_000_000_005)).await.expect("link");
    assert_eq!((again.room, again.created), (room.clone(), false));
    let (x, y) = (user("newcomer"), user(users[0]["id"].as_str().expect("id")));
    store.register_user(&x).await.expect("register");
    let linked = store
        .link(&x, &y, at(4_000_000_000_006))
        .await
        .expect("link");
    assert!(linked.created);
    let contact = store
        .contacts(&x)
        .await
        .expect("contacts")
        .pop()
        .expect("the new room");
    assert_eq!(contact.since, Some(at(4_000_000_000_006)));

    // Nobody blocked anybody before 1.1; blocks between old users work.
    let blocks = store.blocks_between(a, b).await.expect("blocks_between");
    assert!(!blocks.any());
    assert!(
        store
            .block(a, b, at(4_000_000_000_007))
            .await
            .expect("block")
    );
    let entry = store
        .contacts(a)
        .await
        .expect("contacts")
        .into_iter()
        .find(|c| c.user == *b)
        .expect("the old contact");
    assert!(entry.blocked && !entry.blocked_by);
}
