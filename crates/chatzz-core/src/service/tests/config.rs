//! The service's settings: defaults, the socket cap and the rate of every event.

use crate::service::SendRequest;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use futures_executor::block_on;

use crate::error::{ChatError, ErrorCode};
use crate::message::{Inserted, MessageStatus};
use crate::ports::{MockChatStore, MockClock, MockPresenceRegistry, MockUserDirectory};
use crate::rate::{Rate, RatedEvent};
use crate::service::{ChatService, Config, Session};
use crate::user::LinkOutcome;

use super::support::*;

use MessageStatus::{NotSent, Read};

#[test]
fn default_config_matches_the_protocol() {
    let config = Config::default();
    assert_eq!(config.max_message_chars, 4096);
    assert_eq!(config.missed_messages_per_sender, 500);
    assert_eq!(config.missed_messages_total, 500);
    assert_eq!(config.max_reply_bytes, 1_048_576);
    assert_eq!(config.default_history_limit, 50);
    assert_eq!(config.max_history_limit, 500);
}

#[test]
fn send_beyond_the_rate_is_rate_limited_and_stores_nothing() {
    let mut store = unblocked_store();
    store
        .expect_find_room()
        .returning(|a, b| Ok(Some(room_of(a.as_str(), b.as_str()))));
    store.expect_insert_message().times(2).returning(|m| {
        let stored = stored("m", m.from.as_str(), m.to.as_str(), NotSent);
        Ok(Inserted {
            message: stored,
            created: true,
        })
    });
    let config = Config {
        send_rate: chatzz_core_rate(1.0, 2.0),
        ..Config::default()
    };
    let service = ChatService::new(Arc::new(store), Arc::new(clock_at(NOW)), config);
    let alice = session("alice", "a1");
    for _ in 0..2 {
        assert!(block_on(service.send(&alice, SendRequest::new(&user("bob"), "hi", None))).is_ok());
    }
    // insert_message is expected exactly twice: the third send never reaches the store.
    assert_eq!(
        code(block_on(
            service.send(&alice, SendRequest::new(&user("bob"), "hi", None))
        )),
        ErrorCode::RateLimited
    );
}

fn chatzz_core_rate(per_second: f64, burst: f64) -> crate::rate::SendRate {
    crate::rate::SendRate { per_second, burst }
}

#[test]
fn connect_beyond_the_socket_limit_is_refused_and_changes_nothing() {
    let mut store = unblocked_store();
    store
        .expect_register_user()
        .returning(|_| Ok(chat_user("alice", None)));
    store.expect_contacts().returning(|_| Ok(vec![]));
    store.expect_undelivered().returning(|_, _, _| Ok(vec![]));
    let config = Config {
        max_sockets_per_user: 2,
        ..Config::default()
    };
    let service = ChatService::new(Arc::new(store), Arc::new(unread_clock()), config);
    assert!(block_on(service.connect(&session("alice", "a1"))).is_ok());
    assert!(block_on(service.connect(&session("alice", "a2"))).is_ok());
    assert_eq!(
        code(block_on(service.connect(&session("alice", "a3")))),
        ErrorCode::RateLimited
    );
    assert!(
        block_on(service.connect(&session("alice", "a2"))).is_ok(),
        "a registered socket may register again"
    );
}

// ---------------------------------------------------------------------------------------
// Rates of the other events (send-message has its own test above)
// ---------------------------------------------------------------------------------------

/// The default config with `event` at `burst` at once, then one a second.
fn rating(event: RatedEvent, burst: f64) -> Config {
    let mut config = Config::default();
    config.set_rate(
        event,
        Rate {
            per_second: 1.0,
            burst,
        },
    );
    config
}

fn assert_rate_limited<T: std::fmt::Debug>(result: Result<T, ChatError>, event: RatedEvent) {
    let err = result.unwrap_err();
    assert_eq!(err.code, ErrorCode::RateLimited, "{event}: {err:?}");
    assert!(
        err.message.contains(event.name()),
        "the message names the event: {}",
        err.message
    );
}

/// Runs `event` for `who` with made-up arguments, reply dropped.
fn run(service: &ChatService, who: &Session, event: RatedEvent) -> Result<(), ChatError> {
    match event {
        RatedEvent::ConnectUser => block_on(service.connect(who)).map(drop),
        RatedEvent::AddChatUser => block_on(service.add_contact(who, &user("bob"))).map(drop),
        RatedEvent::GetOldMessages => {
            block_on(service.history(who, history_request("bob"))).map(drop)
        }
        RatedEvent::MessageRead => block_on(service.mark_read(who, &msg_id("m1"))).map(drop),
        RatedEvent::SendMessage => {
            block_on(service.send(who, SendRequest::new(&user("bob"), "hi", None))).map(drop)
        }
        RatedEvent::Typing => block_on(service.typing(who, &user("bob"), true)).map(drop),
    }
}

#[test]
fn default_rates_are_far_below_send_for_contacts_and_history() {
    let config = Config::default();
    let rate = |per_second, burst| Rate { per_second, burst };
    assert_eq!(config.send_rate, rate(20.0, 100.0));
    assert_eq!(config.connect_user_rate, rate(10.0, 30.0));
    assert_eq!(config.add_chat_user_rate, rate(2.0, 20.0));
    assert_eq!(config.get_old_messages_rate, rate(5.0, 20.0));
    assert_eq!(config.message_read_rate, rate(50.0, 500.0));
    for event in RatedEvent::ALL {
        let mut changed = Config::default();
        changed.set_rate(event, rate(1.0, 1.0));
        assert_eq!(changed.rate(event), rate(1.0, 1.0));
        let others_unchanged = RatedEvent::ALL
            .iter()
            .filter(|&&e| e != event)
            .all(|&e| changed.rate(e) == config.rate(e));
        assert!(others_unchanged, "{event}");
    }
}

#[test]
fn every_event_over_its_rate_is_refused_before_any_port() {
    for event in RatedEvent::ALL {
        // Mocks without expectations: any call to a port panics.
        let service = ChatService::new(
            Arc::new(unblocked_store()),
            Arc::new(clock_at(NOW)),
            rating(event, 0.0),
        )
        .with_directory(Arc::new(MockUserDirectory::new()))
        .with_presence(Arc::new(MockPresenceRegistry::new()));
        assert_rate_limited(run(&service, &session("alice", "a1"), event), event);
    }
}

#[test]
fn unlimited_rates_never_read_the_clock() {
    let mut config = Config::default();
    for event in RatedEvent::ALL {
        config.set_rate(event, Rate::UNLIMITED);
    }
    let mut clock = MockClock::new();
    clock.expect_now().never();
    let service = ChatService::new(
        Arc::new(quiet_connect_store("alice")),
        Arc::new(clock),
        config,
    );
    assert!(block_on(service.connect(&session("alice", "a1"))).is_ok());
}

#[test]
fn connect_beyond_its_rate_is_rate_limited_and_changes_nothing() {
    // register_user is expected once: the refused connect never reaches the store.
    let service = ChatService::new(
        Arc::new(quiet_connect_store("alice")),
        Arc::new(clock_at(NOW)),
        rating(RatedEvent::ConnectUser, 1.0),
    );
    assert!(block_on(service.connect(&session("alice", "a1"))).is_ok());
    assert_rate_limited(
        block_on(service.connect(&session("alice", "a2"))),
        RatedEvent::ConnectUser,
    );
    assert!(
        block_on(service.presence().remove(&user("alice"), &socket("a1"))).unwrap(),
        "a1 was alice's last socket: the refused one was never counted live"
    );
}

#[test]
fn add_contact_beyond_its_rate_is_rate_limited_and_links_nothing() {
    let mut store = unblocked_store();
    // Three lookups (the other user, their record, mine) and one link per add.
    store
        .expect_find_user()
        .times(6)
        .returning(|u| Ok(Some(chat_user(u.as_str(), None))));
    store.expect_link().times(2).returning(|a, b, _| {
        Ok(LinkOutcome {
            room: room_of(a.as_str(), b.as_str()),
            created: true,
        })
    });
    let service = ChatService::new(
        Arc::new(store),
        Arc::new(clock_at(NOW)),
        rating(RatedEvent::AddChatUser, 2.0),
    );
    let alice = session("alice", "a1");
    for other in ["bob", "carol"] {
        assert!(block_on(service.add_contact(&alice, &user(other))).is_ok());
    }
    assert_rate_limited(
        block_on(service.add_contact(&alice, &user("dave"))),
        RatedEvent::AddChatUser,
    );
    // Adding yourself is refused as invalid before the rate is asked: it costs nothing.
    assert_eq!(
        code(block_on(service.add_contact(&alice, &user("alice")))),
        ErrorCode::InvalidArgument
    );
}

#[test]
fn the_host_applications_own_calls_are_not_rate_limited() {
    let mut store = unblocked_store();
    // Five adds at a rate of one: three lookups and one link each, none refused.
    store
        .expect_find_user()
        .times(15)
        .returning(|u| Ok(Some(chat_user(u.as_str(), None))));
    store.expect_link().times(5).returning(|a, b, _| {
        Ok(LinkOutcome {
            room: room_of(a.as_str(), b.as_str()),
            created: true,
        })
    });
    let service = ChatService::new(
        Arc::new(store),
        Arc::new(clock_at(NOW)),
        rating(RatedEvent::AddChatUser, 1.0),
    );
    let host = Session {
        user: user("alice"),
        socket: crate::id::SocketId::host(),
    };
    for other in ["bob", "carol", "dave", "erin", "frank"] {
        assert!(
            block_on(service.add_contact(&host, &user(other))).is_ok(),
            "{other}"
        );
    }
}

#[test]
fn history_beyond_its_rate_is_rate_limited_and_reads_nothing() {
    let mut store = unblocked_store();
    store
        .expect_find_room()
        .times(2)
        .returning(|a, b| Ok(Some(room_of(a.as_str(), b.as_str()))));
    store
        .expect_history()
        .times(2)
        .returning(|_, _| Ok(Vec::new()));
    let service = ChatService::new(
        Arc::new(store),
        Arc::new(clock_at(NOW)),
        rating(RatedEvent::GetOldMessages, 2.0),
    );
    let alice = session("alice", "a1");
    for _ in 0..2 {
        assert_eq!(
            block_on(service.history(&alice, history_request("bob")))
                .unwrap()
                .reply,
            vec![]
        );
    }
    assert_rate_limited(
        block_on(service.history(&alice, history_request("bob"))),
        RatedEvent::GetOldMessages,
    );
}

/// A store where `m1` is a message to alice she already read, read `reads` times
/// (each looks the message up before and after) and looked up `extra` times more.
fn read_store(reads: usize, extra: usize) -> MockChatStore {
    let mut store = unblocked_store();
    store
        .expect_find_message()
        .times(reads * 2 + extra)
        .returning(|_| Ok(Some(stored("m1", "bob", "alice", Read))));
    store
        .expect_read_up_to()
        .times(reads)
        .returning(|_, _, _, _| Ok(0));
    store
}

#[test]
fn mark_read_beyond_its_rate_is_rate_limited_and_reads_nothing() {
    let service = ChatService::new(
        Arc::new(read_store(2, 0)),
        Arc::new(clock_at(NOW)),
        rating(RatedEvent::MessageRead, 2.0),
    );
    let alice = session("alice", "a1");
    for _ in 0..2 {
        assert!(block_on(service.mark_read(&alice, &msg_id("m1"))).is_ok());
    }
    assert_rate_limited(
        block_on(service.mark_read(&alice, &msg_id("m1"))),
        RatedEvent::MessageRead,
    );
}

#[test]
fn each_user_and_each_event_has_its_own_bucket_refilled_with_time() {
    // Alice reads twice; mallory's attempt only looks the message up.
    let mut store = read_store(2, 1);
    store
        .expect_find_room()
        .times(1)
        .returning(|a, b| Ok(Some(room_of(a.as_str(), b.as_str()))));
    store
        .expect_history()
        .times(1)
        .returning(|_, _| Ok(Vec::new()));
    let now = Arc::new(std::sync::atomic::AtomicI64::new(NOW));
    let mut clock = MockClock::new();
    let read_now = now.clone();
    clock
        .expect_now()
        .returning(move || at(read_now.load(Ordering::SeqCst)));
    let mut config = rating(RatedEvent::MessageRead, 1.0);
    config.set_rate(
        RatedEvent::GetOldMessages,
        Rate {
            per_second: 1.0,
            burst: 1.0,
        },
    );
    let service = ChatService::new(Arc::new(store), Arc::new(clock), config);
    let (alice, mallory) = (session("alice", "a1"), session("mallory", "m1"));

    assert!(run(&service, &alice, RatedEvent::MessageRead).is_ok());
    assert_rate_limited(
        run(&service, &alice, RatedEvent::MessageRead),
        RatedEvent::MessageRead,
    );
    // Another user's bucket is full; `m1` is not addressed to mallory.
    assert_eq!(
        code(run(&service, &mallory, RatedEvent::MessageRead)),
        ErrorCode::NotFound
    );
    // Another event's bucket is full.
    assert!(run(&service, &alice, RatedEvent::GetOldMessages).is_ok());
    // One token a second.
    now.store(NOW + 999, Ordering::SeqCst);
    assert_rate_limited(
        run(&service, &alice, RatedEvent::MessageRead),
        RatedEvent::MessageRead,
    );
    now.store(NOW + 1_000, Ordering::SeqCst);
    assert!(run(&service, &alice, RatedEvent::MessageRead).is_ok());
}
