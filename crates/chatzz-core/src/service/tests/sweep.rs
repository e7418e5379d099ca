//! Presence sweeps (shared presence: servers that die, servers that come back) and
//! presence outages.

use crate::service::SendRequest;
use std::sync::Arc;

use futures_executor::block_on;
use mockall::predicate::eq;

use crate::error::ErrorCode;
use crate::message::{Inserted, MessageStatus, NewMessage};
use crate::ports::{MockPresenceRegistry, PresenceError, StoreError, Sweep};
use crate::user::{PresenceStatus, UserDetails};

use super::support::*;

use MessageStatus::NotSent;

fn presence_finding(went_offline: &[&str], came_online: &[&str]) -> MockPresenceRegistry {
    let mut presence = MockPresenceRegistry::new();
    let sweep = Sweep {
        went_offline: went_offline.iter().map(|u| user(u)).collect(),
        came_online: came_online.iter().map(|u| user(u)).collect(),
    };
    presence
        .expect_sweep()
        .times(1)
        .returning(move || Ok(sweep.clone()));
    presence
}

/// `online` are online; everyone else is not.
fn presence_with_online(presence: &mut MockPresenceRegistry, online: &'static [&'static str]) {
    presence
        .expect_is_online()
        .returning(move |u| Ok(online.contains(&u.as_str())));
    presence.expect_online_among().returning(move |users| {
        Ok(users
            .iter()
            .filter(|u| online.contains(&u.as_str()))
            .cloned()
            .collect())
    });
}

#[test]
fn a_sweep_announces_users_of_a_dead_server_offline_to_their_online_contacts() {
    let mut presence = presence_finding(&["alice"], &[]);
    presence_with_online(&mut presence, &["bob"]);
    let mut store = unblocked_store();
    store
        .expect_set_last_online()
        .with(eq(user("alice")), eq(at(NOW)))
        .times(1)
        .returning(|_, _| Ok(()));
    store
        .expect_linked_users()
        .with(eq(user("alice")))
        .times(1)
        .returning(|_| Ok(vec![linked_user("bob"), linked_user("carol")]));
    let service = service(store, clock_at(NOW)).with_presence(Arc::new(presence));

    let out = block_on(service.sweep_presence()).unwrap();

    assert_eq!(
        out.deliveries,
        vec![presence_changed(
            "bob",
            UserDetails::bare(&user("alice")),
            PresenceStatus::Offline,
            Some(NOW)
        )]
    );
}

#[test]
fn a_departure_the_store_cannot_record_is_retried_on_the_next_sweep() {
    let mut presence = MockPresenceRegistry::new();
    let mut sweeps = 0;
    presence.expect_sweep().times(2).returning(move || {
        sweeps += 1;
        Ok(Sweep {
            went_offline: if sweeps == 1 {
                vec![user("alice")]
            } else {
                vec![]
            },
            came_online: vec![],
        })
    });
    presence_with_online(&mut presence, &["bob"]);
    let mut store = unblocked_store();
    let mut writes = 0;
    store
        .expect_set_last_online()
        .times(2)
        .returning(move |_, _| {
            writes += 1;
            if writes == 1 {
                Err(StoreError::Unavailable("down".into()))
            } else {
                Ok(())
            }
        });
    store
        .expect_linked_users()
        .times(1)
        .returning(|_| Ok(vec![linked_user("bob")]));
    let service = service(store, clock_at(NOW)).with_presence(Arc::new(presence));

    let first = block_on(service.sweep_presence()).unwrap();
    assert!(
        first.deliveries.is_empty(),
        "nothing announced while unrecorded"
    );
    let second = block_on(service.sweep_presence()).unwrap();
    assert_eq!(
        second.deliveries,
        vec![presence_changed(
            "bob",
            UserDetails::bare(&user("alice")),
            PresenceStatus::Offline,
            Some(NOW)
        )]
    );
}

#[test]
fn a_swept_user_back_online_meanwhile_is_not_announced_offline() {
    let mut presence = presence_finding(&["alice"], &[]);
    presence_with_online(&mut presence, &["alice", "bob"]);
    let mut store = unblocked_store();
    store.expect_set_last_online().never();
    store.expect_linked_users().never();
    let service = service(store, unread_clock()).with_presence(Arc::new(presence));

    let out = block_on(service.sweep_presence()).unwrap();
    assert!(out.deliveries.is_empty());
}

#[test]
fn users_of_a_server_back_from_the_dead_are_announced_online_with_their_last_online() {
    let mut presence = presence_finding(&[], &["alice"]);
    presence_with_online(&mut presence, &["alice", "carol"]);
    let mut store = unblocked_store();
    store
        .expect_find_user()
        .with(eq(user("alice")))
        .times(1)
        .returning(|_| Ok(Some(chat_user("alice", Some(EARLIER)))));
    store
        .expect_linked_users()
        .times(1)
        .returning(|_| Ok(vec![linked_user("bob"), linked_user("carol")]));
    let service = service(store, unread_clock()).with_presence(Arc::new(presence));

    let out = block_on(service.sweep_presence()).unwrap();
    assert_eq!(
        out.deliveries,
        vec![presence_changed(
            "carol",
            UserDetails::bare(&user("alice")),
            PresenceStatus::Online,
            Some(EARLIER)
        )]
    );
}

#[test]
fn a_presence_outage_fails_connect_with_unavailable_and_counts_no_socket() {
    let mut presence = MockPresenceRegistry::new();
    presence
        .expect_add_within()
        .times(1)
        .returning(|_, _, _| Err(PresenceError("redis down".into())));
    presence.expect_remove().never();
    let mut store = unblocked_store();
    store
        .expect_register_user()
        .returning(|u| Ok(chat_user(u.as_str(), None)));
    store.expect_linked_users().never();
    store.expect_undelivered().never();
    let service = service(store, unread_clock()).with_presence(Arc::new(presence));

    let err = block_on(service.connect(&session("alice", "a1"))).unwrap_err();
    assert_eq!(err.code, ErrorCode::Unavailable);
}

#[test]
fn a_presence_outage_after_storing_a_message_still_acks_it_as_not_sent() {
    let mut presence = MockPresenceRegistry::new();
    // Asked before the write (to store it `sent` or not) and after it.
    presence
        .expect_is_online()
        .times(2)
        .returning(|_| Err(PresenceError("redis down".into())));
    let mut store = unblocked_store();
    store
        .expect_find_room()
        .returning(|a, b| Ok(Some(room_of(a.as_str(), b.as_str()))));
    let stored_message = stored("m1", "alice", "bob", NotSent);
    let inserted = stored_message.clone();
    store
        .expect_insert_message()
        .withf(|new: &NewMessage| !new.sent)
        .times(1)
        .returning(move |_| {
            Ok(Inserted {
                message: inserted.clone(),
                created: true,
            })
        });
    store.expect_mark_sent().never();
    let service = service(store, clock_at(NOW)).with_presence(Arc::new(presence));

    let out = block_on(service.send(
        &session("alice", "a1"),
        SendRequest::new(&user("bob"), "hi", None),
    ))
    .unwrap();
    assert_eq!(out.reply.status, NotSent);
    assert_eq!(
        out.deliveries,
        vec![
            new_message("alice", &wire(&stored_message)),
            new_message("bob", &wire(&stored_message)),
        ]
    );
}
