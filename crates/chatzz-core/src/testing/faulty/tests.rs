#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;

use futures_executor::block_on;

use crate::id::ClientMessageId;
use crate::message::{MessageStatus, MessageText};
use crate::ports::MockChatStore;

fn user(name: &str) -> UserId {
    UserId::parse(name).unwrap()
}

fn unavailable(result: Result<impl fmt::Debug, StoreError>) -> bool {
    matches!(result, Err(StoreError::Unavailable(_)))
}

fn new_message() -> NewMessage {
    NewMessage {
        room: ChatRoomId::new("r"),
        from: user("alice"),
        to: user("bob"),
        text: MessageText::parse("hi".into(), 10).unwrap(),
        created_at: Timestamp::from_millis(0).unwrap(),
        client_message_id: Some(ClientMessageId::parse("c1").unwrap()),
        notify: false,
        sent: false,
    }
}

fn stored(message: &NewMessage) -> StoredMessage {
    StoredMessage {
        id: MessageId::new("m1"),
        room: message.room.clone(),
        from: message.from.clone(),
        to: message.to.clone(),
        text: message.text.as_str().to_owned(),
        status: MessageStatus::NotSent,
        created_at: message.created_at,
        read_at: None,
        client_message_id: message.client_message_id.clone(),
        edited_at: None,
        deleted_at: None,
    }
}

/// A store whose `find_user` answers `Ok(None)` exactly `times` times.
fn finding(times: usize) -> FaultyStore<MockChatStore> {
    let mut inner = MockChatStore::new();
    inner
        .expect_find_user()
        .times(times)
        .returning(|_| Ok(None));
    FaultyStore::new(inner)
}

#[test]
fn an_empty_plan_passes_every_call_through() {
    let store = finding(2);
    let alice = user("alice");
    assert_eq!(block_on(store.find_user(&alice)), Ok(None));
    assert_eq!(block_on(store.find_user(&alice)), Ok(None));
    let plan = store.plan();
    assert_eq!(plan.call_count(), 2);
    assert_eq!(plan.injected(), 0);
    assert_eq!(
        plan.calls()[0],
        Call {
            method: Method::FindUser,
            fault: None
        }
    );
}

#[test]
fn fail_next_refuses_calls_before_they_reach_the_store() {
    let store = finding(1);
    let plan = store.plan();
    plan.fail_next(2);
    let alice = user("alice");
    assert!(unavailable(block_on(store.find_user(&alice))));
    assert!(unavailable(block_on(store.find_user(&alice))));
    assert_eq!(block_on(store.find_user(&alice)), Ok(None));
    assert_eq!(plan.injected(), 2);
    assert_eq!(plan.calls()[1].fault, Some(FaultKind::Refuse));
}

#[test]
fn fail_method_fails_only_that_method_until_healed() {
    let mut inner = MockChatStore::new();
    inner.expect_find_room().times(1).returning(|_, _| Ok(None));
    inner.expect_link().times(1).returning(|_, _, _| {
        Ok(LinkOutcome {
            room: ChatRoomId::new("r"),
            created: true,
        })
    });
    let store = FaultyStore::new(inner);
    let plan = store.plan();
    plan.fail_method("link".parse().unwrap());
    let (a, b) = (user("a"), user("b"));
    assert!(unavailable(block_on(store.link(
        &a,
        &b,
        Timestamp::from_millis(0).unwrap_or_else(|| unreachable!())
    ))));
    assert!(unavailable(block_on(store.link(
        &a,
        &b,
        Timestamp::from_millis(0).unwrap_or_else(|| unreachable!())
    ))));
    assert_eq!(block_on(store.find_room(&a, &b)), Ok(None));
    plan.heal();
    assert!(
        block_on(store.link(
            &a,
            &b,
            Timestamp::from_millis(0).unwrap_or_else(|| unreachable!())
        ))
        .is_ok()
    );
    assert_eq!(plan.calls_to(Method::Link), 3);
}

#[test]
fn fail_next_of_and_writes_pick_their_calls() {
    let mut inner = MockChatStore::new();
    inner.expect_find_user().times(2).returning(|_| Ok(None));
    inner.expect_register_user().never();
    let store = FaultyStore::new(inner);
    let plan = store.plan();
    plan.inject(Target::Writes, FaultKind::Refuse, Trigger::Always);
    plan.fail_next_of(Method::FindUser, 1);
    let alice = user("alice");
    assert!(unavailable(block_on(store.register_user(&alice))));
    assert!(unavailable(block_on(store.find_user(&alice))));
    assert_eq!(block_on(store.find_user(&alice)), Ok(None));
    assert_eq!(block_on(store.find_user(&alice)), Ok(None));
}

#[test]
fn fail_call_counts_calls_from_now() {
    let store = finding(3);
    let plan = store.plan();
    let alice = user("alice");
    assert_eq!(block_on(store.find_user(&alice)), Ok(None));
    plan.fail_call(2);
    assert_eq!(block_on(store.find_user(&alice)), Ok(None));
    assert!(unavailable(block_on(store.find_user(&alice))));
    assert_eq!(block_on(store.find_user(&alice)), Ok(None));
    assert_eq!(plan.injected(), 1);
}

#[test]
fn a_lost_reply_runs_the_write_and_reports_unavailable() {
    let message = new_message();
    let answer = stored(&message);
    let mut inner = MockChatStore::new();
    inner.expect_insert_message().times(2).returning(move |_| {
        Ok(Inserted {
            message: answer.clone(),
            created: true,
        })
    });
    let store = FaultyStore::new(inner);
    let plan = store.plan();
    plan.lose_reply_next(Method::InsertMessage, 1);
    assert!(unavailable(block_on(store.insert_message(message.clone()))));
    assert!(block_on(store.insert_message(message)).is_ok());
    assert_eq!(plan.calls()[0].fault, Some(FaultKind::LoseReply));
}

#[test]
fn a_lost_reply_keeps_the_stores_own_error() {
    let mut inner = MockChatStore::new();
    inner
        .expect_mark_sent()
        .times(1)
        .returning(|_| Err(StoreError::Internal("corrupt".into())));
    let store = FaultyStore::new(inner);
    store.plan().lose_reply_of_call(1);
    assert_eq!(
        block_on(store.mark_sent(&[MessageId::new("m1")])),
        Err(StoreError::Internal("corrupt".into()))
    );
}

/// Which of `n` calls fail under `fail_randomly(probability, seed)`.
fn random_pattern(probability: f64, seed: u64, n: usize) -> Vec<bool> {
    let mut inner = MockChatStore::new();
    inner.expect_find_user().returning(|_| Ok(None));
    let store = FaultyStore::new(inner);
    store.plan().fail_randomly(probability, seed);
    let alice = user("alice");
    (0..n)
        .map(|_| block_on(store.find_user(&alice)).is_err())
        .collect()
}

#[test]
fn random_failures_follow_the_seed_and_the_probability() {
    let first = random_pattern(0.3, 7, 2000);
    assert_eq!(first, random_pattern(0.3, 7, 2000));
    assert_ne!(first, random_pattern(0.3, 8, 2000));
    let failed = first.iter().filter(|f| **f).count();
    assert!((500..700).contains(&failed), "{failed} of 2000 failed");
    assert!(random_pattern(0.0, 1, 200).iter().all(|f| !f));
    assert!(random_pattern(1.0, 1, 200).iter().all(|f| *f));
}

#[test]
fn method_names_round_trip() {
    for method in Method::ALL {
        assert_eq!(method.name().parse::<Method>(), Ok(method));
        assert_eq!(method.to_string(), method.name());
    }
    assert_eq!(
        "drop_table".parse::<Method>(),
        Err(UnknownMethod("drop_table".into()))
    );
    let writes: Vec<_> = Method::ALL.into_iter().filter(|m| m.is_write()).collect();
    assert_eq!(writes.len(), 13);
}

#[test]
fn delays_sleep_through_the_injected_function() {
    let slept = Arc::new(Mutex::new(Vec::new()));
    let record = Arc::clone(&slept);
    let store = finding(1).with_sleep(move |d| {
        record.lock().unwrap().push(d);
        Box::pin(std::future::ready(()))
    });
    let plan = store.plan();
    plan.delay(Method::FindUser, Duration::from_millis(250));
    plan.delay(Method::Link, Duration::from_secs(9));
    plan.fail_next(1);
    let alice = user("alice");
    // A refused call is delayed too: a timeout takes time.
    assert!(unavailable(block_on(store.find_user(&alice))));
    assert_eq!(block_on(store.find_user(&alice)), Ok(None));
    assert_eq!(*slept.lock().unwrap(), vec![Duration::from_millis(250); 2]);
}

#[test]
#[should_panic(expected = "no sleep function")]
fn a_delay_without_a_sleep_function_is_a_test_bug() {
    let store = finding(0);
    store.plan().delay(Target::Any, Duration::from_millis(1));
    let _ = block_on(store.find_user(&user("alice")));
}
