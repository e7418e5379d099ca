//! `add-chat-user`: rooms, contacts, the directory, failures.

use futures_executor::block_on;
use mockall::predicate::eq;
use serde_json::json;

use crate::error::ErrorCode;
use crate::event::{Audience, ServerEvent};
use crate::id::UserId;
use crate::message::MessageStatus::Sent;
use std::sync::Arc;

use crate::ports::{
    DirectoryError, MockChatStore, MockContactPolicy, MockUserDirectory, PolicyError,
};
use crate::user::{ChatUser, Contact, ContactRecord, LinkOutcome, PresenceStatus, UserDetails};

use super::support::*;

#[test]
fn add_contact_of_yourself_is_invalid_and_touches_nothing() {
    let mut store = unblocked_store();
    store.expect_find_user().never();
    store.expect_link().never();
    let service = service(store, unread_clock());

    let result = block_on(service.add_contact(&session("alice", "a1"), &user("alice")));

    assert_eq!(code(result), ErrorCode::InvalidArgument);
}

#[test]
fn add_contact_of_yourself_with_a_directory_is_invalid_and_asks_nobody() {
    let mut store = unblocked_store();
    store.expect_link().never();
    let mut directory = MockUserDirectory::new();
    directory.expect_details().never();
    let service = service_with_directory(store, unread_clock(), directory);

    let result = block_on(service.add_contact(&session("alice", "a1"), &user("alice")));

    assert_eq!(code(result), ErrorCode::InvalidArgument);
}

#[test]
fn add_contact_of_a_user_who_never_connected_without_directory_is_unknown_user() {
    let mut store = unblocked_store();
    store
        .expect_find_user()
        .with(eq(user("ghost")))
        .times(1)
        .returning(|_| Ok(None));
    store.expect_link().never();
    let service = service(store, unread_clock());

    let result = block_on(service.add_contact(&session("alice", "a1"), &user("ghost")));

    assert_eq!(code(result), ErrorCode::UnknownUser);
}

#[test]
fn add_contact_of_a_user_the_directory_does_not_know_is_unknown_user() {
    let mut store = unblocked_store();
    store.expect_find_user().never();
    store.expect_link().never();
    let mut directory = MockUserDirectory::new();
    directory
        .expect_details()
        .with(eq(user("ghost")))
        .times(1)
        .returning(|_| Ok(None));
    let service = service_with_directory(store, unread_clock(), directory);

    let result = block_on(service.add_contact(&session("alice", "a1"), &user("ghost")));

    assert_eq!(code(result), ErrorCode::UnknownUser);
}

#[test]
fn add_contact_when_the_directory_fails_is_unavailable() {
    let mut store = unblocked_store();
    store.expect_link().never();
    let mut directory = MockUserDirectory::new();
    directory
        .expect_details()
        .returning(|_| Err(DirectoryError("down".into())));
    let service = service_with_directory(store, unread_clock(), directory);

    let result = block_on(service.add_contact(&session("alice", "a1"), &user("bob")));

    assert_eq!(code(result), ErrorCode::Unavailable);
}

#[test]
fn add_contact_creating_the_room_replies_the_contact_and_tells_them_once() {
    let mut store = unblocked_store();
    store
        .expect_find_user()
        .with(eq(user("bob")))
        .returning(|_| Ok(Some(chat_user("bob", Some(EARLIER)))));
    store
        .expect_find_user()
        .with(eq(user("alice")))
        .times(1)
        .returning(|_| Ok(Some(chat_user("alice", Some(EARLIER + 5)))));
    store
        .expect_link()
        .withf(|a: &UserId, b: &UserId, _| same_pair(a, b, "alice", "bob"))
        .times(1)
        .returning(|_, _, _| {
            Ok(LinkOutcome {
                room: room_of("alice", "bob"),
                created: true,
            })
        });
    let service = service(store, unread_clock());
    online(&service, &[("alice", "a1"), ("bob", "b1")]);

    let out = block_on(service.add_contact(&session("alice", "a1"), &user("bob"))).unwrap();

    assert_eq!(
        out.reply,
        Contact {
            details: UserDetails::bare(&user("bob")),
            chat_room_id: room_of("alice", "bob"),
            status: PresenceStatus::Online,
            last_online: Some(at(EARLIER)),
            unread_count: 0,
            last_message: None,
            blocked: false,
        }
    );
    assert_eq!(
        out.deliveries,
        vec![to_user(
            "bob",
            ServerEvent::ChatUserAdded(Contact {
                details: UserDetails::bare(&user("alice")),
                chat_room_id: room_of("alice", "bob"),
                status: PresenceStatus::Online,
                last_online: Some(at(EARLIER + 5)),
                unread_count: 0,
                last_message: None,
                blocked: false,
            })
        )]
    );
}

#[test]
fn add_contact_of_an_existing_contact_returns_the_same_room_and_emits_nothing() {
    let mut store = unblocked_store();
    store
        .expect_find_user()
        .with(eq(user("bob")))
        .returning(|_| Ok(Some(chat_user("bob", None))));
    // Read before linking, so that a failure leaves no room behind.
    store
        .expect_find_user()
        .with(eq(user("alice")))
        .times(1)
        .returning(|_| Ok(Some(chat_user("alice", None))));
    store.expect_link().times(1).returning(|_, _, _| {
        Ok(LinkOutcome {
            room: room_of("alice", "bob"),
            created: false,
        })
    });
    // Where the conversation stands comes from the store, as in the contact list.
    let last = stored("m9", "bob", "alice", Sent);
    let shown = wire(&last);
    store
        .expect_contacts()
        .with(eq(user("alice")))
        .times(1)
        .returning(move |_| {
            Ok(vec![
                record("carol", "alice", None),
                ContactRecord {
                    unread: 3,
                    last_message: Some(last.clone()),
                    ..record("bob", "alice", None)
                },
            ])
        });
    let service = service(store, unread_clock());
    online(&service, &[("alice", "a1"), ("bob", "b1")]);

    let out = block_on(service.add_contact(&session("alice", "a1"), &user("bob"))).unwrap();

    assert_eq!(out.reply.chat_room_id, room_of("alice", "bob"));
    assert_eq!(out.reply.details, UserDetails::bare(&user("bob")));
    assert_eq!(out.reply.status, PresenceStatus::Online);
    assert_eq!(out.reply.unread_count, 3);
    assert_eq!(out.reply.last_message, Some(Box::new(shown)));
    assert!(out.deliveries.is_empty());
}

#[test]
fn add_contact_of_an_offline_user_says_offline_and_when_last_seen() {
    let mut store = unblocked_store();
    store
        .expect_find_user()
        .with(eq(user("bob")))
        .returning(|_| Ok(Some(chat_user("bob", Some(EARLIER)))));
    store
        .expect_find_user()
        .with(eq(user("alice")))
        .returning(|_| Ok(Some(chat_user("alice", None))));
    store.expect_link().returning(|_, _, _| {
        Ok(LinkOutcome {
            room: room_of("alice", "bob"),
            created: true,
        })
    });
    let service = service(store, unread_clock());

    let out = block_on(service.add_contact(&session("alice", "a1"), &user("bob"))).unwrap();

    assert_eq!(out.reply.status, PresenceStatus::Offline);
    assert_eq!(out.reply.last_online, Some(at(EARLIER)));
    // Announced to bob anyway: the transport reaches only live sockets.
    assert_eq!(out.deliveries.len(), 1);
    assert_eq!(out.deliveries[0].to, Audience::User(user("bob")));
}

#[test]
fn add_contact_with_a_directory_uses_its_details_on_both_sides() {
    let mut store = unblocked_store();
    // Bob is known to the host app but never connected: no stored record.
    store
        .expect_find_user()
        .with(eq(user("bob")))
        .returning(|_| Ok(None));
    store
        .expect_find_user()
        .with(eq(user("alice")))
        .returning(|_| Ok(Some(chat_user("alice", None))));
    store.expect_link().times(1).returning(|_, _, _| {
        Ok(LinkOutcome {
            room: room_of("alice", "bob"),
            created: true,
        })
    });
    let mut directory = MockUserDirectory::new();
    directory
        .expect_details()
        .with(eq(user("bob")))
        .returning(|_| Ok(Some(fields(json!({ "name": "Bob" })))));
    directory
        .expect_details()
        .with(eq(user("alice")))
        .returning(|_| Ok(Some(fields(json!({ "name": "Alice" })))));
    let service = service_with_directory(store, unread_clock(), directory);
    online(&service, &[("alice", "a1")]);

    let out = block_on(service.add_contact(&session("alice", "a1"), &user("bob"))).unwrap();

    assert_eq!(
        out.reply,
        Contact {
            details: details("bob", json!({ "name": "Bob" })),
            chat_room_id: room_of("alice", "bob"),
            status: PresenceStatus::Offline,
            last_online: None,
            unread_count: 0,
            last_message: None,
            blocked: false,
        }
    );
    let ServerEvent::ChatUserAdded(me) = &out.deliveries[0].event else {
        panic!("expected chat-user-added, got {:?}", out.deliveries);
    };
    assert_eq!(me.details, details("alice", json!({ "name": "Alice" })));
    assert_eq!(me.status, PresenceStatus::Online);
}

#[test]
fn add_contact_when_link_fails_is_unavailable() {
    let mut store = unblocked_store();
    store.expect_find_user().returning(|u| {
        Ok(Some(ChatUser {
            id: u.clone(),
            last_online: None,
        }))
    });
    store
        .expect_link()
        .times(1)
        .returning(|_, _, _| Err(unavailable()));
    let service = service(store, unread_clock());

    let result = block_on(service.add_contact(&session("alice", "a1"), &user("bob")));

    assert_eq!(code(result), ErrorCode::Unavailable);
}

#[test]
fn get_contacts_lists_by_last_activity_with_unread_counts_and_the_newest_message() {
    // Creation order: bob (no messages, room made late), carol (message at -60 s),
    // dave (room made early, no messages), erin (before 1.1: no time, no messages).
    let from_carol = stored("m5", "carol", "alice", Sent);
    let shown = wire(&from_carol);
    let mut store = unblocked_store();
    store
        .expect_contacts()
        .with(eq(user("alice")))
        .times(1)
        .returning(move |_| {
            Ok(vec![
                ContactRecord {
                    since: Some(at(NOW - 10_000)),
                    ..record("bob", "alice", None)
                },
                ContactRecord {
                    since: Some(at(NOW - 900_000)),
                    unread: 4,
                    last_message: Some(from_carol.clone()),
                    ..record("carol", "alice", None)
                },
                ContactRecord {
                    since: Some(at(NOW - 800_000)),
                    ..record("dave", "alice", None)
                },
                record("erin", "alice", None),
            ])
        });
    let service = service(store, clock_at(NOW));
    online(&service, &[("carol", "c1")]);

    let out = block_on(service.get_contacts(&session("alice", "a1"))).unwrap();

    let order: Vec<_> = out
        .reply
        .iter()
        .map(|c| {
            c.details.fields()["_id"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
        .collect();
    assert_eq!(order, ["bob", "carol", "dave", "erin"]);
    let carol = &out.reply[1];
    assert_eq!(carol.unread_count, 4);
    assert_eq!(carol.last_message.as_deref(), Some(&shown));
    assert_eq!(carol.status, PresenceStatus::Online);
    assert!(!carol.blocked);
    assert_eq!(out.reply[0].last_message, None);
    assert!(out.deliveries.is_empty());
}

#[test]
fn get_contacts_counts_against_the_connect_user_rate() {
    let mut store = unblocked_store();
    store
        .expect_contacts()
        .times(1)
        .returning(|_| Ok(Vec::new()));
    let mut config = crate::service::Config::default();
    config.set_rate(
        crate::rate::RatedEvent::ConnectUser,
        crate::rate::Rate {
            per_second: 1.0,
            burst: 1.0,
        },
    );
    let service = service_bounded(store, config);
    let alice = session("alice", "a1");

    assert!(block_on(service.get_contacts(&alice)).is_ok());
    assert_eq!(
        code(block_on(service.get_contacts(&alice))),
        ErrorCode::RateLimited
    );
}

/// A store where alice and bob exist and linking them is watched.
fn policy_store(links: usize) -> MockChatStore {
    let mut store = unblocked_store();
    store
        .expect_find_user()
        .returning(|u| Ok(Some(chat_user(u.as_str(), None))));
    store.expect_link().times(links).returning(|_, _, _| {
        Ok(LinkOutcome {
            room: room_of("alice", "bob"),
            created: true,
        })
    });
    store
}

#[test]
fn a_contact_policy_that_refuses_makes_add_contact_forbidden_and_links_nothing() {
    let mut policy = MockContactPolicy::new();
    policy
        .expect_may_link()
        .withf(|requester: &UserId, other: &UserId| {
            requester.as_str() == "alice" && other.as_str() == "bob"
        })
        .times(1)
        .returning(|_, _| Ok(false));
    let service = service(policy_store(0), unread_clock()).with_contact_policy(Arc::new(policy));
    online(&service, &[("alice", "a1"), ("bob", "b1")]);

    let result = block_on(service.add_contact(&session("alice", "a1"), &user("bob")));

    assert_eq!(code(result), ErrorCode::Forbidden);
}

#[test]
fn a_contact_policy_that_cannot_answer_is_unavailable_and_links_nothing() {
    let mut policy = MockContactPolicy::new();
    policy
        .expect_may_link()
        .times(1)
        .returning(|_, _| Err(PolicyError("the org service is down".into())));
    let service = service(policy_store(0), unread_clock()).with_contact_policy(Arc::new(policy));
    online(&service, &[("alice", "a1")]);

    let result = block_on(service.add_contact(&session("alice", "a1"), &user("bob")));

    assert_eq!(code(result), ErrorCode::Unavailable);
}

#[test]
fn a_contact_policy_that_allows_lets_the_link_happen_and_is_not_asked_about_oneself() {
    let mut policy = MockContactPolicy::new();
    policy.expect_may_link().times(1).returning(|_, _| Ok(true));
    let service = service(policy_store(1), unread_clock()).with_contact_policy(Arc::new(policy));
    online(&service, &[("alice", "a1")]);

    let out = block_on(service.add_contact(&session("alice", "a1"), &user("bob"))).unwrap();
    assert_eq!(out.reply.chat_room_id, room_of("alice", "bob"));
    // A self-add fails as before, without asking the policy.
    assert_eq!(
        code(block_on(
            service.add_contact(&session("alice", "a1"), &user("alice"))
        )),
        ErrorCode::InvalidArgument
    );
}

#[test]
fn the_host_applications_own_add_contact_is_not_asked() {
    let mut policy = MockContactPolicy::new();
    policy.expect_may_link().never();
    let service = service(policy_store(1), unread_clock()).with_contact_policy(Arc::new(policy));

    let host = crate::service::Session {
        user: user("alice"),
        socket: crate::id::SocketId::host(),
    };
    assert!(block_on(service.add_contact(&host, &user("bob"))).is_ok());
}
