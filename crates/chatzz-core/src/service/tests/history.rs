//! `get-old-messages`: limits, filters, receipts, the byte bound of a reply.

use futures_executor::block_on;
use mockall::predicate::eq;

use crate::error::ErrorCode;
use crate::id::{MessageId, UserId};
use crate::message::{HistoryQuery, Message, MessageStatus, StoredMessage};
use crate::ports::MockChatStore;
use crate::service::{Config, HistoryRequest};

use super::support::*;

use MessageStatus::{NotSent, Read, Sent};

#[test]
fn history_with_yourself_is_invalid_and_touches_nothing() {
    let mut store = MockChatStore::new();
    store.expect_find_room().never();
    store.expect_history().never();
    let service = service(store, unread_clock());

    let result = block_on(service.history(&session("alice", "a1"), history_request("alice")));

    assert_eq!(code(result), ErrorCode::InvalidArgument);
}

#[test]
fn history_with_a_limit_out_of_range_is_invalid_without_touching_the_store() {
    let mut store = MockChatStore::new();
    store.expect_find_room().never();
    store.expect_history().never();
    let service = service(store, unread_clock());

    for limit in [0, 501, u64::MAX] {
        let request = HistoryRequest {
            limit: Some(limit),
            ..history_request("bob")
        };
        let result = block_on(service.history(&session("alice", "a1"), request));
        assert_eq!(code(result), ErrorCode::InvalidArgument, "limit {limit}");
    }
}

#[test]
fn history_passes_the_default_limit_and_every_filter_to_the_store() {
    let mut store = MockChatStore::new();
    store
        .expect_find_room()
        .withf(|a: &UserId, b: &UserId| same_pair(a, b, "alice", "bob"))
        .times(1)
        .returning(|_, _| Ok(Some(room_of("alice", "bob"))));
    store
        .expect_history()
        .with(
            eq(room_of("alice", "bob")),
            eq(HistoryQuery {
                since: Some(at(EARLIER)),
                before: Some(msg_id("m9")),
                after: Some(msg_id("m2")),
                limit: 50,
            }),
        )
        .times(1)
        .returning(|_, _| Ok(Vec::new()));
    store.expect_mark_sent().never();
    let service = service(store, unread_clock());

    let request = HistoryRequest {
        with: user("bob"),
        since: Some(at(EARLIER)),
        before: Some(msg_id("m9")),
        after: Some(msg_id("m2")),
        limit: None,
    };
    let out = block_on(service.history(&session("alice", "a1"), request)).unwrap();

    assert!(out.reply.is_empty());
    assert!(out.deliveries.is_empty());
}

#[test]
fn history_accepts_limits_from_1_to_500() {
    for limit in [1_u64, 500] {
        let mut store = MockChatStore::new();
        store
            .expect_find_room()
            .returning(|_, _| Ok(Some(room_of("alice", "bob"))));
        store
            .expect_history()
            .withf(move |_, query: &HistoryQuery| query.limit as u64 == limit)
            .times(1)
            .returning(|_, _| Ok(Vec::new()));
        let service = service(store, unread_clock());

        let request = HistoryRequest {
            limit: Some(limit),
            ..history_request("bob")
        };
        assert!(
            block_on(service.history(&session("alice", "a1"), request)).is_ok(),
            "limit {limit}"
        );
    }
}

#[test]
fn history_with_someone_you_share_no_room_with_is_not_a_contact() {
    let mut store = MockChatStore::new();
    store.expect_find_room().times(1).returning(|_, _| Ok(None));
    store.expect_history().never();
    let service = service(store, unread_clock());

    let result = block_on(service.history(&session("alice", "a1"), history_request("bob")));

    assert_eq!(code(result), ErrorCode::NotAContact);
}

#[test]
fn history_marks_messages_to_the_requester_sent_and_tells_their_sender() {
    let h1 = stored("h1", "bob", "alice", NotSent);
    let h2 = stored("h2", "alice", "bob", NotSent); // sent by the requester: left alone
    let h3 = stored("h3", "bob", "alice", Sent);
    let h4 = stored("h4", "bob", "alice", Read);
    let h5 = stored("h5", "bob", "alice", NotSent);
    let page = vec![h1.clone(), h2.clone(), h3.clone(), h4.clone(), h5.clone()];
    let (s1, s5) = (moved(&h1, Sent), moved(&h5, Sent));

    let mut store = MockChatStore::new();
    store
        .expect_find_room()
        .returning(|_, _| Ok(Some(room_of("alice", "bob"))));
    store
        .expect_history()
        .times(1)
        .returning(move |_, _| Ok(page.clone()));
    let marked = vec![s1.clone(), s5.clone()];
    store
        .expect_mark_sent()
        .withf(|ids: &[MessageId]| ids_are(ids, &["h1", "h5"]))
        .times(1)
        .returning(move |_| Ok(marked.clone()));
    let service = service(store, unread_clock());

    let out = block_on(service.history(&session("alice", "a1"), history_request("bob"))).unwrap();

    assert_eq!(
        out.reply,
        vec![wire(&s1), wire(&h2), wire(&h3), wire(&h4), wire(&s5)]
    );
    assert_eq!(
        out.deliveries,
        vec![
            status_changed("bob", &wire(&s1)),
            status_changed("bob", &wire(&s5))
        ]
    );
}

#[test]
fn history_never_marks_messages_the_requester_sent() {
    let page = vec![
        stored("h1", "alice", "bob", NotSent),
        stored("h2", "alice", "bob", NotSent),
        stored("h3", "bob", "alice", Sent),
    ];
    let expected: Vec<Message> = page.iter().map(wire).collect();
    let mut store = MockChatStore::new();
    store
        .expect_find_room()
        .returning(|_, _| Ok(Some(room_of("alice", "bob"))));
    store
        .expect_history()
        .returning(move |_, _| Ok(page.clone()));
    store.expect_mark_sent().never();
    let service = service(store, unread_clock());

    let out = block_on(service.history(&session("alice", "a1"), history_request("bob"))).unwrap();

    assert_eq!(out.reply, expected);
    assert!(out.deliveries.is_empty());
}

#[test]
fn history_only_reports_what_mark_sent_moved() {
    // h1 was delivered by another request in between: it is shown as the page had it
    // and nobody is told twice.
    let h1 = stored("h1", "bob", "alice", NotSent);
    let h2 = stored("h2", "bob", "alice", NotSent);
    let s2 = moved(&h2, Sent);
    let page = vec![h1.clone(), h2.clone()];
    let mut store = MockChatStore::new();
    store
        .expect_find_room()
        .returning(|_, _| Ok(Some(room_of("alice", "bob"))));
    store
        .expect_history()
        .returning(move |_, _| Ok(page.clone()));
    let marked = s2.clone();
    store
        .expect_mark_sent()
        .times(1)
        .returning(move |_| Ok(vec![marked.clone()]));
    let service = service(store, unread_clock());

    let out = block_on(service.history(&session("alice", "a1"), history_request("bob"))).unwrap();

    assert_eq!(out.reply[1], wire(&s2));
    assert_eq!(out.deliveries, vec![status_changed("bob", &wire(&s2))]);
}

#[test]
fn history_cuts_a_page_to_the_byte_bound_keeping_the_newest_and_marks_only_those_sent() {
    // Without `after` the page ends at the newest (or at `before`): the client pages
    // back `before` the oldest it got, so the kept ones are the newest of the page.
    for request in [
        history_request("bob"),
        HistoryRequest {
            before: Some(msg_id("h9")),
            ..history_request("bob")
        },
        HistoryRequest {
            since: Some(at(EARLIER)),
            ..history_request("bob")
        },
    ] {
        let page: Vec<StoredMessage> = ["h1", "h2", "h3", "h4", "h5"]
            .iter()
            .map(|id| big(id, "bob", "alice", NotSent))
            .collect();
        let sent: Vec<StoredMessage> = page[3..].iter().map(|m| moved(m, Sent)).collect();
        let mut store = MockChatStore::new();
        store
            .expect_find_room()
            .returning(|_, _| Ok(Some(room_of("alice", "bob"))));
        store
            .expect_history()
            .times(1)
            .returning(move |_, _| Ok(page.clone()));
        let marked = sent.clone();
        store
            .expect_mark_sent()
            .withf(|ids: &[MessageId]| ids_are(ids, &["h4", "h5"]))
            .times(1)
            .returning(move |_| Ok(marked.clone()));
        let bound = two_big_ones();
        let service = service_bounded(
            store,
            Config {
                max_reply_bytes: bound,
                ..Config::default()
            },
        );

        let out = block_on(service.history(&session("alice", "a1"), request.clone())).unwrap();

        assert_eq!(
            out.reply,
            vec![wire(&sent[0]), wire(&sent[1])],
            "{request:?}"
        );
        assert!(json_len(&out.reply) <= bound);
        assert_eq!(
            out.deliveries,
            vec![
                status_changed("bob", &wire(&sent[0])),
                status_changed("bob", &wire(&sent[1]))
            ]
        );
    }
}

#[test]
fn history_after_a_cursor_cut_to_the_byte_bound_keeps_the_oldest() {
    // Catching up `after` a message: the client goes on `after` the newest it got, so
    // the kept ones are the oldest of the page.
    let page: Vec<StoredMessage> = ["h1", "h2", "h3", "h4"]
        .iter()
        .map(|id| big(id, "bob", "alice", NotSent))
        .collect();
    let sent: Vec<StoredMessage> = page[..2].iter().map(|m| moved(m, Sent)).collect();
    let mut store = MockChatStore::new();
    store
        .expect_find_room()
        .returning(|_, _| Ok(Some(room_of("alice", "bob"))));
    store
        .expect_history()
        .times(1)
        .returning(move |_, _| Ok(page.clone()));
    let marked = sent.clone();
    store
        .expect_mark_sent()
        .withf(|ids: &[MessageId]| ids_are(ids, &["h1", "h2"]))
        .times(1)
        .returning(move |_| Ok(marked.clone()));
    let bound = two_big_ones();
    let service = service_bounded(
        store,
        Config {
            max_reply_bytes: bound,
            ..Config::default()
        },
    );
    let request = HistoryRequest {
        after: Some(msg_id("h0")),
        ..history_request("bob")
    };

    let out = block_on(service.history(&session("alice", "a1"), request)).unwrap();

    assert_eq!(out.reply, vec![wire(&sent[0]), wire(&sent[1])]);
    assert!(json_len(&out.reply) <= bound);
    assert_eq!(out.deliveries.len(), 2);
}

#[test]
fn history_keeps_one_message_bigger_than_the_byte_bound() {
    // Paging must go on: the message next to the cursor comes whatever its size.
    let page = vec![
        big("h1", "bob", "alice", Sent),
        big("h2", "bob", "alice", Sent),
    ];
    let expected = vec![wire(&page[1])];
    let mut store = MockChatStore::new();
    store
        .expect_find_room()
        .returning(|_, _| Ok(Some(room_of("alice", "bob"))));
    store
        .expect_history()
        .returning(move |_, _| Ok(page.clone()));
    store.expect_mark_sent().never();
    let service = service_bounded(
        store,
        Config {
            max_reply_bytes: 10,
            ..Config::default()
        },
    );

    let out = block_on(service.history(&session("alice", "a1"), history_request("bob"))).unwrap();

    assert_eq!(out.reply, expected);
}

#[test]
fn history_within_the_byte_bound_is_not_cut() {
    let page: Vec<StoredMessage> = ["h1", "h2", "h3"]
        .iter()
        .map(|id| big(id, "bob", "alice", Sent))
        .collect();
    let expected: Vec<Message> = page.iter().map(wire).collect();
    let mut store = MockChatStore::new();
    store
        .expect_find_room()
        .returning(|_, _| Ok(Some(room_of("alice", "bob"))));
    store
        .expect_history()
        .returning(move |_, _| Ok(page.clone()));
    // Exactly the JSON of the three: the bound is inclusive.
    let service = service_bounded(
        store,
        Config {
            max_reply_bytes: json_len(&expected),
            ..Config::default()
        },
    );

    let out = block_on(service.history(&session("alice", "a1"), history_request("bob"))).unwrap();

    assert_eq!(out.reply, expected);
}

#[test]
fn history_when_the_store_fails_is_unavailable() {
    let mut store = MockChatStore::new();
    store
        .expect_find_room()
        .returning(|_, _| Ok(Some(room_of("alice", "bob"))));
    store.expect_history().returning(|_, _| Err(unavailable()));
    store.expect_mark_sent().never();
    let service = service(store, unread_clock());

    let result = block_on(service.history(&session("alice", "a1"), history_request("bob")));

    assert_eq!(code(result), ErrorCode::Unavailable);
}
