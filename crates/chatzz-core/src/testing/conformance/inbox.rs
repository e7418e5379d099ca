//! The inbox cases of the store conformance suite (protocol 1.1): reading a room up to
//! a message, unread counts and the newest message of each contact, edits and deletes,
//! with the atomicity rules the store must enforce under concurrency.

use super::*;

fn text(value: &str) -> MessageText {
    expect(MessageText::parse(value.to_owned(), 1 << 20), "text")
}

async fn status_of(store: &impl ChatStore, id: &MessageId) -> StoredMessage {
    expect(store.find_message(id).await, "find_message")
        .unwrap_or_else(|| panic!("message {id} vanished"))
}

async fn contact_of(
    store: &impl ChatStore,
    owner: &UserId,
    other: &UserId,
) -> crate::user::ContactRecord {
    expect(store.contacts(owner).await, "contacts")
        .into_iter()
        .find(|c| c.user == *other)
        .unwrap_or_else(|| panic!("{other} is not a contact of {owner}"))
}

pub async fn read_up_to_marks_every_earlier_message_to_the_reader_at_once(store: &impl ChatStore) {
    let (alice, bob, carol) = (user("alice"), user("bob"), user("carol"));
    let room = linked(store, &alice, &bob).await;
    let other = linked(store, &carol, &bob).await;
    // Even indexes alice -> bob, odd bob -> alice.
    let messages = conversation(store, &room, &alice, &bob, 10).await;
    let elsewhere = insert(store, new_message(&other, &carol, &bob, "c", 1_005)).await;
    expect(
        store.mark_sent(&[messages[4].id.clone()]).await,
        "mark_sent",
    );
    // A tombstone is read like any other message.
    expect(
        store.delete_message(&messages[2].id, at(40_000)).await,
        "delete_message",
    );

    let count = expect(
        store
            .read_up_to(&bob, &room, &messages[6].id, at(50_000))
            .await,
        "read_up_to",
    );
    assert_eq!(count, 4, "alice's messages 0, 2, 4 and 6 moved");
    for (i, message) in messages.iter().enumerate() {
        let stored = status_of(store, &message.id).await;
        if i % 2 == 0 && i <= 6 {
            assert_eq!(stored.status, MessageStatus::Read, "message {i}");
            assert_eq!(stored.read_at, Some(at(50_000)), "one readAt for all");
        } else {
            assert_ne!(
                stored.status,
                MessageStatus::Read,
                "message {i}: not addressed to bob, or after the position"
            );
            assert_eq!(stored.read_at, None);
        }
    }
    assert_eq!(
        status_of(store, &elsewhere.id).await.status,
        MessageStatus::NotSent,
        "another room is untouched"
    );
    assert!(
        expect(store.undelivered(&bob, 10, 10).await, "undelivered")
            .iter()
            .all(|m| m.id == messages[8].id || m.id == elsewhere.id),
        "read messages are no longer undelivered"
    );
}

pub async fn read_position_only_moves_forward(store: &impl ChatStore) {
    let (alice, bob) = (user("alice"), user("bob"));
    let room = linked(store, &alice, &bob).await;
    let mut sent = Vec::new();
    for i in 0..5 {
        sent.push(insert(store, new_message(&room, &alice, &bob, "x", 1_000 + i)).await);
    }
    let first = expect(
        store.read_up_to(&bob, &room, &sent[3].id, at(10_000)).await,
        "read_up_to",
    );
    assert_eq!(first, 4);
    let back = expect(
        store.read_up_to(&bob, &room, &sent[1].id, at(20_000)).await,
        "read_up_to",
    );
    assert_eq!(back, 0, "at or before the position: nothing changes");
    assert_eq!(
        status_of(store, &sent[1].id).await.read_at,
        Some(at(10_000)),
        "the first readAt stays"
    );
    assert_eq!(
        status_of(store, &sent[4].id).await.status,
        MessageStatus::NotSent,
        "moving back never reads ahead"
    );
    assert_eq!(contact_of(store, &bob, &alice).await.unread, 1);
    let last = expect(
        store.read_up_to(&bob, &room, &sent[4].id, at(30_000)).await,
        "read_up_to",
    );
    assert_eq!(last, 1);
    assert_eq!(contact_of(store, &bob, &alice).await.unread, 0);
}

pub async fn concurrent_read_ups_end_at_the_furthest(store: &impl ChatStore) {
    let (alice, bob) = (user("alice"), user("bob"));
    let room = linked(store, &alice, &bob).await;
    for round in 0..5_i64 {
        let mut sent = Vec::new();
        for i in 0..20 {
            sent.push(
                insert(
                    store,
                    new_message(&room, &alice, &bob, "x", 1_000 * round + i),
                )
                .await,
            );
        }
        // Readers at several points, the furthest among them, all at once.
        let points = [19_usize, 4, 11, 0, 16];
        let reads = join_all(
            points
                .iter()
                .map(|&p| store.read_up_to(&bob, &room, &sent[p].id, at(90_000 + round))),
        )
        .await;
        let moved: usize = reads.into_iter().map(|r| expect(r, "read_up_to")).sum();
        assert_eq!(moved, 20, "round {round}: every message moved exactly once");
        for message in &sent {
            assert_eq!(
                status_of(store, &message.id).await.status,
                MessageStatus::Read
            );
        }
        assert_eq!(contact_of(store, &bob, &alice).await.unread, 0);
    }
    let after = insert(store, new_message(&room, &alice, &bob, "new", 99_000)).await;
    assert_eq!(contact_of(store, &bob, &alice).await.unread, 1);
    assert_eq!(
        status_of(store, &after.id).await.status,
        MessageStatus::NotSent
    );
}

pub async fn read_up_to_racing_a_send_never_marks_the_new_message(store: &impl ChatStore) {
    let (alice, bob) = (user("alice"), user("bob"));
    let room = linked(store, &alice, &bob).await;
    let mut last = insert(store, new_message(&room, &alice, &bob, "first", 1_000)).await;
    for i in 0..20 {
        let (read, inserted) = join(
            store.read_up_to(&bob, &room, &last.id, at(50_000 + i)),
            store.insert_message(new_message(&room, &alice, &bob, "next", 2_000 + i)),
        )
        .await;
        assert_eq!(expect(read, "read_up_to"), 1, "round {i}");
        let new = expect(inserted, "insert_message").message;
        assert!(new.id > last.id);
        assert_eq!(
            status_of(store, &new.id).await.status,
            MessageStatus::NotSent,
            "round {i}: a message sent while reading stays unread"
        );
        assert_eq!(status_of(store, &last.id).await.status, MessageStatus::Read);
        last = new;
    }
    assert_eq!(contact_of(store, &bob, &alice).await.unread, 1);
}

pub async fn contacts_count_unread_above_the_read_position(store: &impl ChatStore) {
    let (alice, bob, carol) = (user("alice"), user("bob"), user("carol"));
    let with_bob = linked(store, &alice, &bob).await;
    let with_carol = linked(store, &carol, &alice).await;
    assert_eq!(contact_of(store, &alice, &bob).await.unread, 0);
    let mut from_bob = Vec::new();
    for i in 0..3 {
        from_bob.push(insert(store, new_message(&with_bob, &bob, &alice, "b", 1_000 + i)).await);
        insert(store, new_message(&with_bob, &alice, &bob, "a", 1_100 + i)).await;
    }
    for i in 0..2 {
        insert(
            store,
            new_message(&with_carol, &carol, &alice, "c", 2_000 + i),
        )
        .await;
    }
    assert_eq!(contact_of(store, &alice, &bob).await.unread, 3);
    assert_eq!(contact_of(store, &alice, &carol).await.unread, 2);
    assert_eq!(contact_of(store, &bob, &alice).await.unread, 3, "each way");
    assert_eq!(contact_of(store, &carol, &alice).await.unread, 0);

    // Delivery is not reading; a deleted message is not unread.
    expect(store.mark_sent(&ids(&from_bob)).await, "mark_sent");
    assert_eq!(contact_of(store, &alice, &bob).await.unread, 3);
    expect(
        store.delete_message(&from_bob[2].id, at(3_000)).await,
        "delete_message",
    );
    assert_eq!(contact_of(store, &alice, &bob).await.unread, 2);
    expect(
        store
            .read_up_to(&alice, &with_bob, &from_bob[0].id, at(4_000))
            .await,
        "read_up_to",
    );
    assert_eq!(contact_of(store, &alice, &bob).await.unread, 1);
    assert_eq!(contact_of(store, &alice, &carol).await.unread, 2);
    assert_eq!(contact_of(store, &bob, &alice).await.unread, 3);
}

pub async fn contacts_carry_the_newest_message_and_when_the_room_was_made(store: &impl ChatStore) {
    let (alice, bob, carol) = (user("alice"), user("bob"), user("carol"));
    for u in [&alice, &bob, &carol] {
        expect(store.register_user(u).await, "register_user");
    }
    let with_bob = expect(store.link(&alice, &bob, at(7_000)).await, "link").room;
    expect(store.link(&carol, &alice, at(8_000)).await, "link");
    let again = expect(store.link(&bob, &alice, at(9_000)).await, "link");
    assert_eq!(again.room, with_bob);
    let listed: Vec<_> = expect(store.contacts(&alice).await, "contacts")
        .into_iter()
        .map(|c| (c.user, c.since, c.last_message))
        .collect();
    assert_eq!(
        listed,
        vec![
            (bob.clone(), Some(at(7_000)), None),
            (carol.clone(), Some(at(8_000)), None)
        ],
        "the first link's time; no messages yet"
    );

    insert(store, new_message(&with_bob, &alice, &bob, "one", 10_000)).await;
    let newest = insert(store, new_message(&with_bob, &bob, &alice, "two", 10_001)).await;
    for (owner, other) in [(&alice, &bob), (&bob, &alice)] {
        let contact = contact_of(store, owner, other).await;
        assert_eq!(
            contact.last_message.as_ref(),
            Some(&newest),
            "either direction"
        );
        assert_eq!(contact.since, Some(at(7_000)));
    }
    assert_eq!(contact_of(store, &alice, &carol).await.last_message, None);

    let edited = expect(
        store
            .edit_message(&newest.id, &text("two, edited"), at(11_000))
            .await,
        "edit_message",
    );
    assert_eq!(
        contact_of(store, &alice, &bob).await.last_message,
        edited,
        "as now stored"
    );
    let tombstone = expect(
        store.delete_message(&newest.id, at(12_000)).await,
        "delete_message",
    );
    let last = contact_of(store, &alice, &bob).await.last_message;
    assert_eq!(
        last, tombstone,
        "a deleted newest message shows as its tombstone"
    );
    assert_eq!(last.map(|m| m.text), Some(String::new()));
}

pub async fn edit_replaces_the_text_unless_deleted(store: &impl ChatStore) {
    let (alice, bob) = (user("alice"), user("bob"));
    let room = linked(store, &alice, &bob).await;
    let message = insert(store, new_message(&room, &alice, &bob, "helo", 1_000)).await;
    expect(
        store.read_up_to(&bob, &room, &message.id, at(2_000)).await,
        "read_up_to",
    );
    let edited = expect(
        store
            .edit_message(&message.id, &text("hello 👋"), at(3_000))
            .await,
        "edit_message",
    )
    .unwrap_or_else(|| panic!("the edit should apply"));
    let mut expected = message.clone();
    expected.text = "hello 👋".into();
    expected.edited_at = Some(at(3_000));
    expected.status = MessageStatus::Read;
    expected.read_at = Some(at(2_000));
    assert_eq!(edited, expected, "only the text and editedAt change");
    assert_eq!(status_of(store, &message.id).await, expected);
    let history = expect(store.history(&room, &query(10)).await, "history");
    assert_eq!(history, vec![expected.clone()]);

    let again = expect(
        store
            .edit_message(&message.id, &text("hi"), at(4_000))
            .await,
        "edit_message",
    );
    assert_eq!(
        again.map(|m| (m.text, m.edited_at)),
        Some(("hi".into(), Some(at(4_000))))
    );
    assert_eq!(
        expect(
            store
                .edit_message(&MessageId::new("unknown"), &text("x"), at(5_000))
                .await,
            "edit_message"
        ),
        None
    );
    expect(
        store.delete_message(&message.id, at(6_000)).await,
        "delete_message",
    );
    assert_eq!(
        expect(
            store
                .edit_message(&message.id, &text("back"), at(7_000))
                .await,
            "edit_message"
        ),
        None,
        "a tombstone is never edited"
    );
    assert_eq!(status_of(store, &message.id).await.text, "");
}

pub async fn delete_erases_the_text_and_keeps_the_rest(store: &impl ChatStore) {
    let (alice, bob) = (user("alice"), user("bob"));
    let room = linked(store, &alice, &bob).await;
    let mut keyed = new_message(&room, &alice, &bob, "secret", 1_000);
    keyed.client_message_id = Some(expect(ClientMessageId::parse("c-1"), "client id"));
    let message = insert(store, keyed.clone()).await;
    let later = insert(store, new_message(&room, &bob, &alice, "after", 1_001)).await;
    expect(
        store.read_up_to(&bob, &room, &message.id, at(2_000)).await,
        "read_up_to",
    );
    expect(
        store
            .edit_message(&message.id, &text("secret, edited"), at(3_000))
            .await,
        "edit_message",
    );
    let tombstone = expect(
        store.delete_message(&message.id, at(4_000)).await,
        "delete_message",
    )
    .unwrap_or_else(|| panic!("the delete should apply"));
    let mut expected = message.clone();
    expected.text = String::new();
    expected.status = MessageStatus::Read;
    expected.read_at = Some(at(2_000));
    expected.edited_at = Some(at(3_000));
    expected.deleted_at = Some(at(4_000));
    assert_eq!(tombstone, expected, "a tombstone keeps all but its text");
    assert_eq!(status_of(store, &message.id).await, expected);
    assert_eq!(
        expect(store.history(&room, &query(10)).await, "history"),
        vec![expected.clone(), later],
        "in its place in history"
    );
    assert_eq!(
        expect(
            store.delete_message(&message.id, at(5_000)).await,
            "delete_message"
        ),
        None,
        "deleting a tombstone changes nothing"
    );
    assert_eq!(
        status_of(store, &message.id).await.deleted_at,
        Some(at(4_000))
    );
    assert_eq!(
        expect(
            store
                .delete_message(&MessageId::new("unknown"), at(5_000))
                .await,
            "delete_message"
        ),
        None
    );
    // A retried send still finds its message: the tombstone.
    let retried = expect(store.insert_message(keyed).await, "insert_message");
    assert!(!retried.created);
    assert_eq!(retried.message, expected);
}

pub async fn an_edit_racing_a_delete_ends_deleted(store: &impl ChatStore) {
    let (alice, bob) = (user("alice"), user("bob"));
    let room = linked(store, &alice, &bob).await;
    let edit = text("edited");
    for i in 0..30 {
        let message = insert(store, new_message(&room, &alice, &bob, "x", 1_000 + i)).await;
        // Alternate which call is polled first.
        let (edited, deleted) = if i % 2 == 0 {
            join(
                store.edit_message(&message.id, &edit, at(2_000 + i)),
                store.delete_message(&message.id, at(3_000 + i)),
            )
            .await
        } else {
            let (deleted, edited) = join(
                store.delete_message(&message.id, at(3_000 + i)),
                store.edit_message(&message.id, &edit, at(2_000 + i)),
            )
            .await;
            (edited, deleted)
        };
        expect(edited, "edit_message");
        assert!(
            expect(deleted, "delete_message").is_some(),
            "the delete always applies"
        );
        let stored = status_of(store, &message.id).await;
        assert_eq!(stored.text, "", "round {i}: the text is gone");
        assert_eq!(stored.deleted_at, Some(at(3_000 + i)));
    }
}
