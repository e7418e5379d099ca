//! The reading cases of the store conformance suite: history pages, undelivered
//! messages, and text that must come back as it went in.

use super::*;

pub async fn history_keeps_the_newest_by_default_oldest_first(store: &impl ChatStore) {
    let (alice, bob, carol) = (user("alice"), user("bob"), user("carol"));
    let room = linked(store, &alice, &bob).await;
    let other = linked(store, &alice, &carol).await;
    let messages = conversation(store, &room, &alice, &bob, 7).await;
    insert(
        store,
        new_message(&other, &carol, &alice, "elsewhere", 1_003),
    )
    .await;
    let all = expect(store.history(&room, &query(500)).await, "history");
    assert_eq!(all, messages, "whole room, oldest first, as stored");
    let newest = expect(store.history(&room, &query(3)).await, "history");
    assert_eq!(ids(&newest), ids(&messages[4..]));
    let empty_room = linked(store, &bob, &carol).await;
    assert!(expect(store.history(&empty_room, &query(10)).await, "history").is_empty());
}

pub async fn history_pages_back_with_before(store: &impl ChatStore) {
    let (alice, bob) = (user("alice"), user("bob"));
    let room = linked(store, &alice, &bob).await;
    let messages = conversation(store, &room, &alice, &bob, 7).await;
    let mut q = query(3);
    q.before = Some(messages[5].id.clone());
    let page = expect(store.history(&room, &q).await, "history");
    assert_eq!(
        ids(&page),
        ids(&messages[2..5]),
        "the newest three older than m5"
    );
    q.before = Some(messages[2].id.clone());
    let page = expect(store.history(&room, &q).await, "history");
    assert_eq!(ids(&page), ids(&messages[0..2]));
    q.before = Some(messages[0].id.clone());
    assert!(expect(store.history(&room, &q).await, "history").is_empty());
}

pub async fn history_catches_up_with_after(store: &impl ChatStore) {
    let (alice, bob) = (user("alice"), user("bob"));
    let room = linked(store, &alice, &bob).await;
    let messages = conversation(store, &room, &alice, &bob, 7).await;
    let mut q = query(2);
    q.after = Some(messages[1].id.clone());
    let page = expect(store.history(&room, &q).await, "history");
    assert_eq!(
        ids(&page),
        ids(&messages[2..4]),
        "the oldest two newer than m1"
    );
    q.after = Some(messages[6].id.clone());
    assert!(expect(store.history(&room, &q).await, "history").is_empty());
}

pub async fn history_combines_cursors_and_since(store: &impl ChatStore) {
    let (alice, bob) = (user("alice"), user("bob"));
    let room = linked(store, &alice, &bob).await;
    let messages = conversation(store, &room, &alice, &bob, 7).await;
    let mut q = query(500);
    q.after = Some(messages[1].id.clone());
    q.before = Some(messages[5].id.clone());
    let page = expect(store.history(&room, &q).await, "history");
    assert_eq!(ids(&page), ids(&messages[2..5]));
    q.limit = 2;
    let page = expect(store.history(&room, &q).await, "history");
    assert_eq!(
        ids(&page),
        ids(&messages[2..4]),
        "with after, the limit keeps the oldest"
    );
    // since is inclusive: m3 was created at 1003 ms.
    let mut q = query(500);
    q.since = Some(at(1_003));
    let page = expect(store.history(&room, &q).await, "history");
    assert_eq!(ids(&page), ids(&messages[3..]));
    q.limit = 2;
    let page = expect(store.history(&room, &q).await, "history");
    assert_eq!(ids(&page), ids(&messages[5..]));
}

pub async fn history_accepts_any_cursor_string(store: &impl ChatStore) {
    let (alice, bob) = (user("alice"), user("bob"));
    let room = linked(store, &alice, &bob).await;
    let messages = conversation(store, &room, &alice, &bob, 3).await;
    let mut all_ids = ids(&messages);
    all_ids.sort_by(|a, b| a.as_str().cmp(b.as_str()));
    for cursor in [
        "",
        "0",
        "zzzz",
        "~",
        "\u{10FFFF}",
        "a\"'\\",
        messages[1].id.as_str(),
    ] {
        let cursor_id = MessageId::new(cursor);
        let mut q = query(500);
        q.before = Some(cursor_id.clone());
        let before = expect(store.history(&room, &q).await, "history");
        let expected: Vec<_> = all_ids
            .iter()
            .filter(|id| id.as_str() < cursor)
            .cloned()
            .collect();
        assert_eq!(ids(&before), expected, "before {cursor:?}");
        let mut q = query(500);
        q.after = Some(cursor_id);
        let after = expect(store.history(&room, &q).await, "history");
        let expected: Vec<_> = all_ids
            .iter()
            .filter(|id| id.as_str() > cursor)
            .cloned()
            .collect();
        assert_eq!(ids(&after), expected, "after {cursor:?}");
    }
}

pub async fn undelivered_caps_per_sender_oldest_first(store: &impl ChatStore) {
    let (alice, bob, carol) = (user("alice"), user("bob"), user("carol"));
    let with_bob = linked(store, &alice, &bob).await;
    let with_carol = linked(store, &alice, &carol).await;
    let mut from_bob = Vec::new();
    let mut from_carol = Vec::new();
    for i in 0..4 {
        from_bob.push(
            insert(
                store,
                new_message(&with_bob, &bob, &alice, &format!("b{i}"), 1_000 + i),
            )
            .await,
        );
        from_carol.push(
            insert(
                store,
                new_message(&with_carol, &carol, &alice, &format!("c{i}"), 1_000 + i),
            )
            .await,
        );
        // Alice's own messages are not addressed to her.
        insert(
            store,
            new_message(&with_bob, &alice, &bob, "mine", 1_000 + i),
        )
        .await;
    }
    expect(
        store.mark_sent(&[from_bob[0].id.clone()]).await,
        "mark_sent",
    );
    let waiting = expect(store.undelivered(&alice, 2, 500).await, "undelivered");
    let mut expected = vec![
        from_bob[1].clone(),
        from_bob[2].clone(),
        from_carol[0].clone(),
        from_carol[1].clone(),
    ];
    expected.sort_by(|a, b| a.id.as_str().cmp(b.id.as_str()));
    assert_eq!(waiting, expected);
    let all = expect(store.undelivered(&alice, 500, 500).await, "undelivered");
    assert_eq!(all.len(), 7);
    assert!(expect(store.undelivered(&carol, 500, 500).await, "undelivered").is_empty());
}

pub async fn undelivered_bounds_the_total_by_lowest_ids_across_senders(store: &impl ChatStore) {
    let alice = user("alice");
    let senders = [user("bob"), user("carol"), user("dave")];
    let mut rooms = Vec::new();
    for sender in &senders {
        rooms.push(linked(store, &alice, sender).await);
    }
    // Interleaved: bob 5, carol 2, dave 3.
    let order = [0, 1, 2, 0, 1, 2, 0, 2, 0, 0];
    let mut waiting = Vec::new();
    for (i, &s) in order.iter().enumerate() {
        let message = new_message(&rooms[s], &senders[s], &alice, &format!("n{i}"), 1_000);
        waiting.push(insert(store, message).await);
    }
    // Delivered already: never counted, neither per sender nor in the total.
    expect(
        store.mark_sent(std::slice::from_ref(&waiting[0].id)).await,
        "mark_sent",
    );
    waiting.remove(0);
    waiting.sort_by(|a, b| a.id.as_str().cmp(b.id.as_str()));
    // The contract, spelled out: per sender the oldest `per_sender`, then the `total`
    // lowest ids of those, in id order.
    let oracle = |per_sender: usize, total: usize| {
        let mut taken: HashMap<UserId, usize> = HashMap::new();
        waiting
            .iter()
            .filter(|m| {
                let count = taken.entry(m.from.clone()).or_default();
                *count += 1;
                *count <= per_sender
            })
            .take(total)
            .cloned()
            .collect::<Vec<_>>()
    };
    for (per_sender, total) in [
        (500, 4),
        (2, 100),
        (2, 3),
        (1, 2),
        (500, 500),
        (500, 0),
        (0, 500),
    ] {
        let got = expect(
            store.undelivered(&alice, per_sender, total).await,
            "undelivered",
        );
        assert_eq!(
            ids(&got),
            ids(&oracle(per_sender, total)),
            "per_sender {per_sender}, total {total}"
        );
        assert!(got.len() <= total);
        for sender in &senders {
            let share = got.iter().filter(|m| m.from == *sender).count();
            assert!(share <= per_sender, "{sender}: {share} > {per_sender}");
        }
    }
    assert_eq!(
        expect(store.undelivered(&alice, 500, 500).await, "undelivered"),
        waiting,
        "whole messages, as stored"
    );
}

pub async fn awkward_text_round_trips(store: &impl ChatStore) {
    // Ids stored by versions that took control and format characters still read back.
    let alice = expect(
        UserId::from_stored("o'brien \"q\" \\ $x.y\n\u{202e}"),
        "stored user id",
    );
    let bob = user("זאב");
    let room = linked(store, &alice, &bob).await;
    let texts = [
        "quotes ' \" and backslashes \\ \\\\",
        "emoji 😀👍🏽 👨‍👩‍👧 and flags 🇫🇷",
        "combining e\u{301} a\u{30a} and zero width\u{200b}joiner",
        "right-to-left \u{202e}מימין לשמאל\u{202c} mark\u{200f}",
        "$where: {$ne: null} . dots.and.$dollars",
        "newlines\nand\ttabs\r\n and trailing space ",
        "%_ LIKE wildcards; DROP TABLE messages; --",
    ];
    for (i, text) in texts.iter().enumerate() {
        let mut message = new_message(&room, &alice, &bob, text, 1_000 + i as i64);
        message.client_message_id = Some(expect(
            ClientMessageId::from_stored(format!("{text:.20}")),
            "client id",
        ));
        let stored = insert(store, message).await;
        assert_eq!(stored.text, *text);
        let found = expect(store.find_message(&stored.id).await, "find_message");
        assert_eq!(found.map(|m| m.text), Some((*text).to_owned()));
    }
    let history = expect(store.history(&room, &query(500)).await, "history");
    let read_back: Vec<_> = history.iter().map(|m| m.text.as_str()).collect();
    assert_eq!(read_back, texts);
    let contacts = expect(store.contacts(&bob).await, "contacts");
    assert_eq!(contacts.first().map(|c| c.user.clone()), Some(alice));
}
