//! Sending through failures, and a store that is down, then back.

use super::*;
use chatzz_core::SendRequest;

// ---------------------------------------------------------------------------------------
// Sending
// ---------------------------------------------------------------------------------------

fn new_message(to: &str, message: &Message) -> Delivery {
    Delivery::new(
        Audience::User(uid(to)),
        ServerEvent::NewMessage(message.clone()),
    )
}

fn status_changed(to: &str, message: &Message) -> Delivery {
    Delivery::new(
        Audience::User(uid(to)),
        ServerEvent::MessageStatusChanged(message.clone()),
    )
}

async fn room_messages(w: &World, a: &str, b: &str) -> Vec<StoredMessage> {
    let store = w.store.inner();
    let room = store.find_room(&uid(a), &uid(b)).await.unwrap().unwrap();
    store.history(&room, &everything()).await.unwrap()
}

#[tokio::test]
async fn a_refused_insert_stores_nothing_and_announces_nothing() {
    let w = World::new().await;
    let before = room_messages(&w, "alice", "bob").await;
    w.plan.fail_next_of(Method::InsertMessage, 1);
    let failed = w.run(Case::SendOnline).await;
    assert_eq!(failed, Err(ErrorCode::Unavailable));
    assert_eq!(room_messages(&w, "alice", "bob").await, before);
    // The failure was one call: the same request now goes through, once.
    let sent = w.message(Case::SendOnline).await.unwrap();
    assert_eq!(sent.reply.status, MessageStatus::Sent);
    assert_eq!(
        room_messages(&w, "alice", "bob").await.len(),
        before.len() + 1
    );
}

#[tokio::test]
async fn an_insert_that_happened_but_failed_is_stored_once_and_delivered_on_retry() {
    let w = World::new().await;
    let before = room_messages(&w, "alice", "bob").await.len();
    w.plan.lose_reply_next(Method::InsertMessage, 1);
    assert_eq!(w.run(Case::SendOnline).await, Err(ErrorCode::Unavailable));
    let stored = room_messages(&w, "alice", "bob").await;
    assert_eq!(stored.len(), before + 1, "the insert happened");
    let pending = stored.last().unwrap();
    // bob was online: stored as delivered, in the one write, but nothing was announced.
    assert_eq!(pending.status, MessageStatus::Sent);

    let retry = w.message(Case::SendOnline).await.unwrap();
    assert_eq!(
        retry.reply.id, pending.id,
        "the retry finds the first insert"
    );
    assert_eq!(retry.reply.status, MessageStatus::Sent);
    assert_eq!(
        retry.deliveries,
        vec![
            new_message("alice", &retry.reply),
            new_message("bob", &retry.reply),
        ],
        "announced now, as stored"
    );
    let stored = room_messages(&w, "alice", "bob").await;
    assert_eq!(stored.len(), before + 1, "stored exactly once");
    assert_eq!(stored.last().unwrap().status, MessageStatus::Sent);

    // Retrying again stores nothing; it announces the message again (clients dedupe by
    // id), since the server cannot tell a lost announcement from a lost ack.
    let again = w.message(Case::SendOnline).await.unwrap();
    assert_eq!(again.reply, retry.reply);
    assert_eq!(again.deliveries, retry.deliveries);
    assert_eq!(room_messages(&w, "alice", "bob").await.len(), before + 1);
}

/// alice's send to bob, stored `not_sent` while bob was offline, its reply lost; then
/// bob's socket is back (without a connect that would hand the message over).
async fn stored_while_bob_was_away(w: &World) -> StoredMessage {
    ok(
        w.service.disconnect(&session("bob", "b1")).await,
        "disconnect",
    );
    w.plan.lose_reply_next(Method::InsertMessage, 1);
    assert_eq!(w.run(Case::SendOnline).await, Err(ErrorCode::Unavailable));
    let pending = room_messages(w, "alice", "bob").await.pop().unwrap();
    assert_eq!(pending.status, MessageStatus::NotSent);
    w.service
        .presence()
        .add_within(&uid("bob"), &SocketId::new("b1"), usize::MAX)
        .await
        .unwrap()
        .unwrap();
    pending
}

/// Stored `not_sent` while bob was offline, the insert's reply lost; bob's socket is
/// back (without a connect that would hand it over) when alice retries.
#[tokio::test]
async fn an_insert_that_happened_while_the_recipient_was_offline_is_marked_sent_on_retry() {
    let w = World::new().await;
    let pending = stored_while_bob_was_away(&w).await;

    let retry = w.message(Case::SendOnline).await.unwrap();
    assert_eq!(retry.reply.id, pending.id);
    assert_eq!(retry.reply.status, MessageStatus::Sent);
    let mut announced = retry.reply.clone();
    announced.status = MessageStatus::NotSent;
    assert_eq!(
        retry.deliveries,
        vec![
            new_message("alice", &announced),
            new_message("bob", &announced),
            status_changed("alice", &retry.reply),
            status_changed("bob", &retry.reply),
        ]
    );
}

#[tokio::test]
async fn a_lost_insert_retried_while_the_recipient_is_offline_waits_for_their_connect() {
    let w = World::new().await;
    w.plan.lose_reply_next(Method::InsertMessage, 1);
    assert_eq!(w.run(Case::SendOffline).await, Err(ErrorCode::Unavailable));
    let retry = w.message(Case::SendOffline).await.unwrap();
    assert_eq!(retry.reply.status, MessageStatus::NotSent);
    let carol = ok(w.service.connect(&session("carol", "c1")).await, "connect");
    let missed: Vec<_> = carol.reply.missed_messages[&uid("alice")]
        .iter()
        .map(|m| m.message.as_str())
        .collect();
    // One missed message per sender at a time (the world's config): the older one first.
    assert_eq!(missed, ["to carol"]);
    let carol2 = ok(w.service.connect(&session("carol", "c2")).await, "connect");
    let missed: Vec<_> = carol2.reply.missed_messages[&uid("alice")]
        .iter()
        .map(|m| (m.id.clone(), m.status))
        .collect();
    assert_eq!(missed, [(retry.reply.id.clone(), MessageStatus::Sent)]);
    let stored: Vec<_> = room_messages(&w, "alice", "carol")
        .await
        .into_iter()
        .filter(|m| m.text == "call me")
        .collect();
    assert_eq!(stored.len(), 1);
}

/// `mark_sent` runs when the recipient came online after the message was stored
/// `not_sent`: here bob's socket is back (without a connect) when alice retries.
#[tokio::test]
async fn a_failed_mark_sent_acks_not_sent_and_the_recipient_gets_it_on_next_connect() {
    let w = World::new().await;
    stored_while_bob_was_away(&w).await;
    w.plan.fail_next_of(Method::MarkSent, 1);
    let sent = w.message(Case::SendOnline).await.unwrap();
    assert_eq!(sent.reply.status, MessageStatus::NotSent);
    assert_eq!(
        sent.deliveries,
        vec![
            new_message("alice", &sent.reply),
            new_message("bob", &sent.reply)
        ],
        "announced, but not as delivered"
    );
    let stored = w
        .store
        .inner()
        .find_message(&sent.reply.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.status, MessageStatus::NotSent);

    // bob's next connect (a reconnect) hands over what is still `not_sent`, oldest first,
    // at most one per sender in this world: first "to bob 2" from the setup, then this.
    ok(
        w.service.disconnect(&session("bob", "b1")).await,
        "disconnect",
    );
    let mut handed = Vec::new();
    for socket in ["b2", "b3", "b4"] {
        let connected = ok(w.service.connect(&session("bob", socket)).await, "connect");
        for message in connected.reply.missed_messages.values().flatten() {
            assert_eq!(message.status, MessageStatus::Sent);
            handed.push(message.message.clone());
            assert!(
                connected
                    .deliveries
                    .contains(&status_changed("alice", message)),
                "alice hears {} was delivered",
                message.message
            );
        }
    }
    assert_eq!(handed, ["to bob 2", "are you there?"]);
    let stored = w
        .store
        .inner()
        .find_message(&sent.reply.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.status, MessageStatus::Sent);
}

// ---------------------------------------------------------------------------------------
// A store that is down, then back
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn while_the_store_is_down_everything_is_unavailable_and_nothing_changes() {
    let w = World::new().await;
    let before = w.snapshot().await;
    w.plan.fail_all();
    for case in CASES {
        let ran = w.run(case).await;
        if matches!(case, Case::DisconnectBob | Case::DisconnectAliceTab) {
            continue; // checked below: a socket that goes is gone either way
        }
        assert_eq!(ran, Err(ErrorCode::Unavailable), "{case:?}");
    }
    let after = w.snapshot().await;
    assert_eq!(after.stored(), before.stored());
    w.plan.heal();
    // Without being rebuilt, the service works again.
    w.probe().await;
    let carol = w.run(Case::ConnectCarol).await.unwrap();
    assert_eq!(carol.reply.handed_over().len(), 1);
}

/// Random failures (a third of all calls) while users retry each message with its client
/// message id until it is acknowledged: once the store is back, every message is stored
/// exactly once and, its recipient online, delivered.
#[tokio::test]
async fn retrying_through_random_failures_stores_each_message_once() {
    for seed in 0..20 {
        let w = World::new().await;
        let before = room_messages(&w, "alice", "bob").await.len();
        w.plan.fail_randomly(0.35, seed);
        let mut acked = Vec::new();
        for i in 0..10 {
            let alice = session("alice", "a1");
            let mut tries = 0;
            let reply = loop {
                tries += 1;
                assert!(tries < 200, "seed {seed}: message {i} never acknowledged");
                match w
                    .service
                    .send(
                        &alice,
                        SendRequest::new(&uid("bob"), format!("m{i}"), cid(&format!("r{i}"))),
                    )
                    .await
                {
                    Ok(outcome) => break outcome.reply,
                    Err(e) => assert_eq!(e.code, ErrorCode::Unavailable),
                }
            };
            acked.push(reply);
        }
        w.plan.heal();
        let stored = room_messages(&w, "alice", "bob").await;
        let texts: Vec<_> = stored[before..].iter().map(|m| m.text.clone()).collect();
        let expected: Vec<_> = (0..10).map(|i| format!("m{i}")).collect();
        assert_eq!(
            texts, expected,
            "seed {seed}: each message stored once, in order"
        );
        for (reply, stored) in acked.iter().zip(&stored[before..]) {
            assert_eq!(reply.id, stored.id, "seed {seed}");
        }
        // What failed to be marked sent is delivered by retrying once more (bob is online)
        // or on bob's next connect.
        for i in 0..10 {
            ok(
                w.service
                    .send(
                        &session("alice", "a1"),
                        SendRequest::new(&uid("bob"), format!("m{i}"), cid(&format!("r{i}"))),
                    )
                    .await,
                "final retry",
            );
        }
        let stored = room_messages(&w, "alice", "bob").await;
        assert!(
            stored[before..]
                .iter()
                .all(|m| m.status == MessageStatus::Sent),
            "seed {seed}: every message delivered"
        );
        w.probe().await;
    }
}

/// Typing is never stored: with the store down, a user's typing still reaches a contact
/// listed at its connect, and no store call is made for it.
#[tokio::test]
async fn while_the_store_is_down_typing_still_works() {
    let w = World::new().await;
    let calls_before = w.plan.calls().len();
    w.plan.fail_all();
    let out = w
        .service
        .typing(&session("alice", "a1"), &uid("bob"), true)
        .await
        .expect("typing needs no store");
    assert_eq!(out.deliveries.len(), 1);
    assert_eq!(out.deliveries[0].to, Audience::User(uid("bob")));
    assert!(matches!(
        &out.deliveries[0].event,
        ServerEvent::Typing(data) if data.typing && data.user_id == uid("alice")
    ));
    assert_eq!(w.plan.calls().len(), calls_before, "no store call was made");
    w.plan.heal();
}
