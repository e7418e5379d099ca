//! `disconnect`: going offline on the last socket, retries, announcements.

use futures_executor::block_on;
use mockall::predicate::eq;
use serde_json::json;

use crate::error::ErrorCode;
use crate::ports::{MockChatStore, MockUserDirectory};
use crate::user::{PresenceStatus, UserDetails};

use super::support::*;

#[test]
fn disconnect_of_one_of_several_sockets_announces_nothing() {
    let mut store = MockChatStore::new();
    store.expect_set_last_online().never();
    store.expect_linked_users().never();
    let service = service(store, unread_clock());
    online(&service, &[("alice", "a1"), ("alice", "a2"), ("bob", "b1")]);

    let out = block_on(service.disconnect(&session("alice", "a1"))).unwrap();

    assert!(out.deliveries.is_empty());
    assert!(block_on(service.presence().is_online(&user("alice"))).unwrap());
}

#[test]
fn disconnect_of_a_socket_that_never_connected_does_nothing() {
    let mut store = MockChatStore::new();
    store.expect_set_last_online().never();
    store.expect_linked_users().never();
    let service = service(store, unread_clock());
    online(&service, &[("alice", "a1")]);

    let out = block_on(service.disconnect(&session("alice", "stray"))).unwrap();
    assert!(out.deliveries.is_empty());
    let out = block_on(service.disconnect(&session("nobody", "n1"))).unwrap();
    assert!(out.deliveries.is_empty());
    assert!(block_on(service.presence().is_online(&user("alice"))).unwrap());
}

#[test]
fn disconnect_of_the_last_socket_goes_offline_now_and_tells_online_contacts_only() {
    let mut store = MockChatStore::new();
    store
        .expect_set_last_online()
        .with(eq(user("alice")), eq(at(NOW)))
        .times(1)
        .returning(|_, _| Ok(()));
    store
        .expect_linked_users()
        .with(eq(user("alice")))
        .times(1)
        .returning(|_| {
            Ok(vec![
                linked_user("bob"),
                linked_user("carol"),
                linked_user("dave"),
            ])
        });
    let service = service(store, clock_at(NOW));
    online(&service, &[("alice", "a1"), ("bob", "b1"), ("dave", "d1")]);

    let out = block_on(service.disconnect(&session("alice", "a1"))).unwrap();

    let alice = UserDetails::bare(&user("alice"));
    assert_eq!(
        out.deliveries,
        vec![
            presence_changed("bob", alice.clone(), PresenceStatus::Offline, Some(NOW)),
            presence_changed("dave", alice, PresenceStatus::Offline, Some(NOW)),
        ]
    );
    assert!(!block_on(service.presence().is_online(&user("alice"))).unwrap());
}

#[test]
fn disconnect_that_cannot_store_last_online_changes_nothing_and_can_be_retried() {
    let mut store = MockChatStore::new();
    let mut attempts = 0;
    store
        .expect_set_last_online()
        .times(2)
        .returning(move |_, _| {
            attempts += 1;
            if attempts == 1 {
                Err(unavailable())
            } else {
                Ok(())
            }
        });
    store
        .expect_linked_users()
        .times(1)
        .returning(|_| Ok(vec![linked_user("bob")]));
    let service = service(store, clock_at(NOW));
    online(&service, &[("alice", "a1"), ("bob", "b1")]);

    assert_eq!(
        code(block_on(service.disconnect(&session("alice", "a1")))),
        ErrorCode::Unavailable
    );
    assert!(
        block_on(service.presence().is_online(&user("alice"))).unwrap(),
        "nothing changed"
    );

    let out = block_on(service.disconnect(&session("alice", "a1"))).unwrap();
    assert_eq!(
        out.deliveries,
        vec![presence_changed(
            "bob",
            UserDetails::bare(&user("alice")),
            PresenceStatus::Offline,
            Some(NOW)
        )]
    );
    assert!(!block_on(service.presence().is_online(&user("alice"))).unwrap());
}

#[test]
fn disconnect_with_a_directory_announces_its_details() {
    let mut store = MockChatStore::new();
    store.expect_set_last_online().returning(|_, _| Ok(()));
    store
        .expect_linked_users()
        .returning(|_| Ok(vec![linked_user("bob")]));
    let mut directory = MockUserDirectory::new();
    directory
        .expect_details()
        .with(eq(user("alice")))
        .times(1)
        .returning(|_| Ok(Some(fields(json!({ "name": "Alice" })))));
    let service = service_with_directory(store, clock_at(NOW), directory);
    online(&service, &[("alice", "a1"), ("bob", "b1")]);

    let out = block_on(service.disconnect(&session("alice", "a1"))).unwrap();

    assert_eq!(
        out.deliveries,
        vec![presence_changed(
            "bob",
            details("alice", json!({ "name": "Alice" })),
            PresenceStatus::Offline,
            Some(NOW)
        )]
    );
}

#[test]
fn connect_then_disconnect_flips_presence_once_each_way() {
    let mut store = MockChatStore::new();
    store
        .expect_register_user()
        .times(2)
        .returning(|_| Ok(chat_user("alice", None)));
    store
        .expect_contacts()
        .returning(|_| Ok(vec![record("bob", "alice", None)]));
    store
        .expect_linked_users()
        .returning(|_| Ok(vec![linked_user("bob")]));
    store
        .expect_undelivered()
        .returning(|_, _, _| Ok(Vec::new()));
    store
        .expect_set_last_online()
        .with(eq(user("alice")), eq(at(NOW)))
        .times(1)
        .returning(|_, _| Ok(()));
    let service = service(store, clock_at(NOW));
    online(&service, &[("bob", "b1")]);
    let alice = UserDetails::bare(&user("alice"));

    let first = block_on(service.connect(&session("alice", "a1"))).unwrap();
    let second = block_on(service.connect(&session("alice", "a2"))).unwrap();
    let drop_one = block_on(service.disconnect(&session("alice", "a1"))).unwrap();
    let drop_last = block_on(service.disconnect(&session("alice", "a2"))).unwrap();

    assert_eq!(
        first.deliveries,
        vec![presence_changed(
            "bob",
            alice.clone(),
            PresenceStatus::Online,
            None
        )]
    );
    assert!(second.deliveries.is_empty());
    assert!(drop_one.deliveries.is_empty());
    assert_eq!(
        drop_last.deliveries,
        vec![presence_changed(
            "bob",
            alice,
            PresenceStatus::Offline,
            Some(NOW)
        )]
    );
    assert_eq!(block_on(service.presence().online_users()).unwrap(), 1);
}
