//! The use cases over a store that fails: `ChatService` over
//! `FaultyStore<MemoryStore>`. When the store fails, a use case answers `unavailable`
//! and leaves nothing half done, a retry is safe, and the service works again once the
//! store does, without being rebuilt.
//!
//! Two kinds of failure are injected (see `chatzz_core::testing::faulty`):
//! - a *refused* call never reaches the store. Then a use case that answers
//!   `unavailable` must have changed nothing, and the same request retried once the store
//!   is back must give exactly what it gives in a world where nothing failed.
//! - a *lost reply*: the write happened, the service was told `Unavailable` (the
//!   ambiguous case the port documents). Then a retry must converge on the same stored
//!   state as a world where nothing failed and hand the requester the same messages.
//!
//! The sweeps fail each store call of each use case in turn, one per run, in a fixed
//! scenario (`World::new`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use chatzz_core::SendRequest;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use chatzz_core::event::UserDetailsData;
use chatzz_core::testing::faulty::{FaultKind, FaultPlan, FaultyStore, Method};
use chatzz_core::{
    Audience, ChatError, ChatService, ChatStore, ChatUser, ClientMessageId, Clock, Config, Contact,
    ContactRecord, Delivery, ErrorCode, HistoryQuery, HistoryRequest, Message, MessageId,
    MessageStatus, Outcome, ServerEvent, Session, SocketId, StoredMessage, Timestamp, UserId,
};
use chatzz_store_memory::MemoryStore;

// ---------------------------------------------------------------------------------------
// A world: the service over a faulty memory store, in a known state
// ---------------------------------------------------------------------------------------

/// A clock the test sets: [`START`] while the world is set up, a second later while a
/// case runs, so that a case and its retry see the same time.
#[derive(Debug)]
struct TestClock(AtomicI64);

impl Clock for TestClock {
    fn now(&self) -> Timestamp {
        Timestamp::from_millis(self.0.load(Ordering::SeqCst)).unwrap()
    }
}

const START: i64 = 1_767_323_045_000;

fn uid(name: &str) -> UserId {
    UserId::parse(name).unwrap()
}

fn session(user: &str, socket: &str) -> Session {
    Session {
        user: uid(user),
        socket: SocketId::new(socket),
    }
}

fn cid(id: &str) -> Option<ClientMessageId> {
    Some(ClientMessageId::parse(id).unwrap())
}

fn ok<T>(result: Result<T, ChatError>, what: &str) -> T {
    result.unwrap_or_else(|e| panic!("{what} failed: {e}"))
}

/// Everyone the scenario names; `erin` never connects in [`World::new`].
const USERS: [&str; 5] = ["alice", "bob", "carol", "dave", "erin"];

struct World {
    service: ChatService,
    store: Arc<FaultyStore<MemoryStore>>,
    plan: FaultPlan,
    clock: Arc<TestClock>,
    /// bob -> alice, `sent`: what alice reads in [`Case::ReadHello`].
    hello: MessageId,
}

/// What is stored and who is online, read around the faults.
#[derive(Debug, Clone, PartialEq)]
struct Snapshot {
    users: Vec<Option<ChatUser>>,
    contacts: Vec<Vec<ContactRecord>>,
    /// Every pair's room and its whole history.
    rooms: Vec<Option<Vec<StoredMessage>>>,
    online: Vec<bool>,
}

impl Snapshot {
    /// The stored part only.
    fn stored(&self) -> Snapshot {
        Snapshot {
            online: Vec::new(),
            ..self.clone()
        }
    }
}

/// A use case's reply, whatever its type.
#[derive(Debug, Clone, PartialEq)]
enum Reply {
    Details(UserDetailsData),
    Unit,
    Contact(Contact),
    Message(Message),
    Messages(Vec<Message>),
}

impl Reply {
    /// The messages handed to the requester, by id.
    fn handed_over(&self) -> Vec<MessageId> {
        match self {
            Reply::Details(d) => d
                .missed_messages
                .values()
                .flatten()
                .map(|m| m.id.clone())
                .collect(),
            Reply::Message(m) => vec![m.id.clone()],
            Reply::Messages(ms) => ms.iter().map(|m| m.id.clone()).collect(),
            Reply::Unit | Reply::Contact(_) => Vec::new(),
        }
    }
}

type Ran = Result<Outcome<Reply>, ErrorCode>;

fn wrap<T>(result: Result<Outcome<T>, ChatError>, reply: impl FnOnce(T) -> Reply) -> Ran {
    result
        // What clients see; the facts (what metrics count) differ on a retry by design.
        .map(|o| Outcome::new(reply(o.reply), o.deliveries))
        .map_err(|e| e.code)
}

/// The use cases the sweeps fail, each in the state [`World::new`] leaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Case {
    /// carol comes online: one missed message from alice, alice hears she is online.
    ConnectCarol,
    /// A third tab of alice: no presence change.
    ConnectAliceAgain,
    /// erin connects for the first time.
    ConnectNewUser,
    /// bob's last socket goes: alice hears he is offline.
    DisconnectBob,
    /// One of alice's two tabs goes: nothing to announce.
    DisconnectAliceTab,
    /// bob adds dave (online): a new room, dave is told.
    AddDaveToBob,
    /// alice adds bob again: nothing new.
    AddBobAgain,
    /// alice -> bob (online), with a client message id.
    SendOnline,
    /// alice -> carol (offline), with a client message id.
    SendOffline,
    /// bob -> alice without a client message id (not safe to retry after a lost reply).
    SendWithoutId,
    /// alice reads bob's `sent` message.
    ReadHello,
    /// bob reads his history with alice: one message to him is still `not_sent`.
    HistoryBob,
    /// bob edits `hello`: both users hear of it.
    EditHello,
    /// bob deletes `hello`: both users get the tombstone.
    DeleteHello,
}

const CASES: [Case; 14] = [
    Case::ConnectCarol,
    Case::ConnectAliceAgain,
    Case::ConnectNewUser,
    Case::DisconnectBob,
    Case::DisconnectAliceTab,
    Case::AddDaveToBob,
    Case::AddBobAgain,
    Case::SendOnline,
    Case::SendOffline,
    Case::SendWithoutId,
    Case::ReadHello,
    Case::HistoryBob,
    Case::EditHello,
    Case::DeleteHello,
];

impl World {
    /// A service over an empty faulty store; at most one missed message per sender is
    /// handed over on connect, so that some stay `not_sent` while their recipient is online.
    fn empty() -> World {
        let store = Arc::new(FaultyStore::new(MemoryStore::new()));
        let plan = store.plan();
        let clock = Arc::new(TestClock(AtomicI64::new(START)));
        let service = ChatService::new(
            store.clone(),
            clock.clone(),
            Config {
                missed_messages_per_sender: 1,
                ..Config::default()
            },
        );
        World {
            service,
            store,
            plan,
            clock,
            hello: MessageId::new("unset"),
        }
    }

    /// alice online on tabs a1 and a2, bob online on b1, dave online on d1 with no contacts,
    /// carol offline (she has been online), erin unknown. alice-bob and alice-carol are
    /// contacts. alice sent bob
    /// two messages while he was offline; his connect handed over the first, the second
    /// is still `not_sent`. alice sent carol one, `not_sent`. bob sent alice `hello`, `sent`.
    async fn new() -> World {
        let mut w = World::empty();
        let s = &w.service;
        for (user, socket) in [
            ("alice", "a1"),
            ("alice", "a2"),
            ("bob", "b1"),
            ("carol", "c1"),
            ("dave", "d1"),
        ] {
            ok(s.connect(&session(user, socket)).await, "setup connect");
        }
        for other in ["bob", "carol"] {
            ok(
                s.add_contact(&session("alice", "a1"), &uid(other)).await,
                "setup add",
            );
        }
        for (user, socket) in [("bob", "b1"), ("carol", "c1")] {
            ok(
                s.disconnect(&session(user, socket)).await,
                "setup disconnect",
            );
        }
        for (to, text) in [
            ("bob", "to bob 1"),
            ("bob", "to bob 2"),
            ("carol", "to carol"),
        ] {
            ok(
                s.send(
                    &session("alice", "a1"),
                    SendRequest::new(&uid(to), text, None),
                )
                .await,
                "setup send",
            );
        }
        ok(s.connect(&session("bob", "b1")).await, "setup connect");
        let hello = ok(
            s.send(
                &session("bob", "b1"),
                SendRequest::new(&uid("alice"), "hello", None),
            )
            .await,
            "setup send",
        );
        assert_eq!(hello.reply.status, MessageStatus::Sent);
        w.hello = hello.reply.id;
        w
    }

    async fn snapshot(&self) -> Snapshot {
        let store = self.store.inner();
        let mut snapshot = Snapshot {
            users: Vec::new(),
            contacts: Vec::new(),
            rooms: Vec::new(),
            online: Vec::new(),
        };
        for (i, name) in USERS.iter().enumerate() {
            let user = uid(name);
            snapshot.users.push(store.find_user(&user).await.unwrap());
            snapshot.contacts.push(store.contacts(&user).await.unwrap());
            snapshot
                .online
                .push(self.service.presence().is_online(&user).await.unwrap());
            for other in &USERS[i + 1..] {
                let room = store.find_room(&user, &uid(other)).await.unwrap();
                let messages = match room {
                    Some(room) => Some(store.history(&room, &everything()).await.unwrap()),
                    None => None,
                };
                snapshot.rooms.push(messages);
            }
        }
        snapshot
    }

    async fn run(&self, case: Case) -> Ran {
        self.clock.0.store(START + 1_000, Ordering::SeqCst);
        let s = &self.service;
        match case {
            Case::ConnectCarol => wrap(s.connect(&session("carol", "c1")).await, Reply::Details),
            Case::ConnectAliceAgain => {
                wrap(s.connect(&session("alice", "a3")).await, Reply::Details)
            }
            Case::ConnectNewUser => wrap(s.connect(&session("erin", "e1")).await, Reply::Details),
            Case::DisconnectBob => {
                wrap(s.disconnect(&session("bob", "b1")).await, |()| Reply::Unit)
            }
            Case::DisconnectAliceTab => wrap(s.disconnect(&session("alice", "a2")).await, |()| {
                Reply::Unit
            }),
            Case::AddDaveToBob => wrap(
                s.add_contact(&session("bob", "b1"), &uid("dave")).await,
                Reply::Contact,
            ),
            Case::AddBobAgain => wrap(
                s.add_contact(&session("alice", "a1"), &uid("bob")).await,
                Reply::Contact,
            ),
            Case::SendOnline => wrap(
                s.send(
                    &session("alice", "a1"),
                    SendRequest::new(&uid("bob"), "are you there?", cid("k-online")),
                )
                .await,
                Reply::Message,
            ),
            Case::SendOffline => wrap(
                s.send(
                    &session("alice", "a2"),
                    SendRequest::new(&uid("carol"), "call me", cid("k-offline")),
                )
                .await,
                Reply::Message,
            ),
            Case::SendWithoutId => wrap(
                s.send(
                    &session("bob", "b1"),
                    SendRequest::new(&uid("alice"), "yes", None),
                )
                .await,
                Reply::Message,
            ),
            Case::ReadHello => wrap(
                s.mark_read(&session("alice", "a1"), &self.hello).await,
                Reply::Message,
            ),
            Case::EditHello => wrap(
                s.edit_message(&session("bob", "b1"), &self.hello, "hello!".into())
                    .await,
                Reply::Message,
            ),
            Case::DeleteHello => wrap(
                s.delete_message(&session("bob", "b1"), &self.hello).await,
                Reply::Message,
            ),
            Case::HistoryBob => wrap(
                s.history(
                    &session("bob", "b1"),
                    HistoryRequest {
                        with: uid("alice"),
                        since: None,
                        before: None,
                        after: None,
                        limit: None,
                    },
                )
                .await,
                Reply::Messages,
            ),
        }
    }

    /// Runs a sending (or reading) case, whose reply is a message.
    async fn message(&self, case: Case) -> Result<Outcome<Message>, ErrorCode> {
        self.run(case).await.map(|o| match o.reply {
            Reply::Message(reply) => Outcome::new(reply, o.deliveries),
            other => panic!("{case:?} replied {other:?}"),
        })
    }

    /// The service still works: a new tab of alice connects and alice messages bob.
    async fn probe(&self) {
        ok(
            self.service.connect(&session("alice", "probe")).await,
            "probe connect",
        );
        let sent = ok(
            self.service
                .send(
                    &session("alice", "probe"),
                    SendRequest::new(&uid("bob"), "still there", None),
                )
                .await,
            "probe send",
        );
        let stored = self
            .store
            .inner()
            .find_message(&sent.reply.id)
            .await
            .unwrap();
        assert_eq!(stored.map(|m| m.status), Some(sent.reply.status));
    }
}

fn everything() -> HistoryQuery {
    HistoryQuery {
        since: None,
        before: None,
        after: None,
        limit: usize::MAX,
    }
}

/// Store failures a use case deliberately absorbs, answering `Ok`: a message that is
/// stored and announced stays `not_sent` when its delivery cannot be recorded (send), and
/// a user whose last socket went is announced offline even when `lastOnline` could not
/// be stored (disconnect).
fn absorbed(case: Case, method: Method) -> bool {
    matches!(
        (case, method),
        (
            Case::SendOnline | Case::SendOffline | Case::SendWithoutId,
            Method::MarkSent | Method::FindMessage
        ) | (
            // Missed messages and history pages are handed over even when recording
            // their delivery fails: losing them would be worse than a second hand-over.
            Case::ConnectCarol | Case::HistoryBob,
            Method::MarkSent
        )
    )
}

/// What a run of `case` does in a world where nothing fails: its outcome, the store
/// calls it makes, and the state it leaves.
struct Clean {
    outcome: Outcome<Reply>,
    calls: Vec<Method>,
    after: Snapshot,
}

async fn clean_run(case: Case) -> Clean {
    let w = World::new().await;
    let before = w.plan.call_count();
    let outcome = w
        .run(case)
        .await
        .unwrap_or_else(|code| panic!("{case:?} fails with {code} in a healthy world"));
    let calls = w.plan.calls()[before..].iter().map(|c| c.method).collect();
    Clean {
        outcome,
        calls,
        after: w.snapshot().await,
    }
}

/// An outcome that absorbed a failure still tells the truth: the message in its reply is
/// stored as the reply says (or, after a write that happened although it was reported
/// failed, further on), and every delivery is one that the healthy run makes too (some
/// may be missing: a delivery not recorded is not announced).
async fn check_absorbed(
    w: &World,
    what: &str,
    outcome: &Outcome<Reply>,
    clean: &Clean,
    kind: FaultKind,
) {
    if let Reply::Message(reply) = &outcome.reply {
        let stored = w.store.inner().find_message(&reply.id).await.unwrap();
        let stored = stored.map(|m| m.status);
        match kind {
            FaultKind::Refuse => assert_eq!(
                stored,
                Some(reply.status),
                "{what}: the reply's status is not what is stored"
            ),
            FaultKind::LoseReply => assert!(
                stored >= Some(reply.status),
                "{what}: the reply's status {:?} is ahead of the stored {stored:?}",
                reply.status
            ),
        }
    }
    for delivery in &outcome.deliveries {
        assert!(
            clean.outcome.deliveries.contains(delivery),
            "{what}: {delivery:?} is not a delivery of the healthy run"
        );
    }
    assert_eq!(
        outcome.reply.handed_over(),
        clean.outcome.reply.handed_over(),
        "{what}: other messages handed over than in the healthy run"
    );
}

/// Fails each store call `case` makes, one per run, by refusing it: an `unavailable`
/// answer changed nothing, and the request retried once the store is back gives exactly
/// the healthy outcome and state. Then the service still works.
async fn sweep_refused(case: Case) {
    let clean = clean_run(case).await;
    for (k, method) in clean.calls.iter().enumerate() {
        let what = format!("{case:?} with call {} ({method}) refused", k + 1);
        let w = World::new().await;
        let before = w.snapshot().await;
        w.plan.fail_call(k as u32 + 1);
        let ran = w.run(case).await;
        w.plan.heal();
        assert_eq!(
            w.plan.injected(),
            1,
            "{what}: the planned call was not made"
        );
        match ran {
            Err(code) => {
                assert_eq!(code, ErrorCode::Unavailable, "{what}");
                let mut after = w.snapshot().await;
                if case == Case::ConnectNewUser {
                    // A failed first connect may leave the user registered: registering is
                    // idempotent, and the retry registers it anyway.
                    after.users[4] = before.users[4].clone();
                }
                let disconnect = matches!(case, Case::DisconnectBob | Case::DisconnectAliceTab);
                let retried = w.run(case).await;
                assert_eq!(
                    retried.as_ref(),
                    Ok(&clean.outcome),
                    "{what}: the retry differs from the healthy run{}",
                    if disconnect {
                        " (the contacts never hear that the user went offline)"
                    } else {
                        ""
                    }
                );
                // A socket that went is gone whatever the store says (and its user's
                // `lastOnline` may be stored): a failed disconnect is not undone, but its
                // retry must still announce what the healthy run announces (above).
                if !disconnect {
                    assert_eq!(after, before, "{what}: a failed request changed something");
                }
                assert_eq!(w.snapshot().await, clean.after, "{what}: after the retry");
            }
            Ok(outcome) => {
                assert!(
                    absorbed(case, *method),
                    "{what}: answered Ok although the store failed: {outcome:?}"
                );
                check_absorbed(&w, &what, &outcome, &clean, FaultKind::Refuse).await;
            }
        }
        w.probe().await;
    }
}

/// Fails each write `case` makes, one per run, by losing its reply: the write happened,
/// the service was told `Unavailable`. The request retried once the store is back leaves
/// the state of the healthy run (nothing stored twice, nothing missing) and hands the
/// requester the same messages. Announcements to others that the lost reply would have
/// triggered are not checked: after an ambiguous write the service cannot know them.
async fn sweep_lost_replies(case: Case) {
    let clean = clean_run(case).await;
    for (k, method) in clean.calls.iter().enumerate() {
        if !method.is_write() {
            continue;
        }
        let what = format!(
            "{case:?} with call {} ({method}) done but reported failed",
            k + 1
        );
        let w = World::new().await;
        w.plan.lose_reply_of_call(k as u32 + 1);
        let ran = w.run(case).await;
        w.plan.heal();
        assert_eq!(
            w.plan
                .calls()
                .iter()
                .filter(|c| c.fault == Some(FaultKind::LoseReply))
                .count(),
            1,
            "{what}: the planned call was not made"
        );
        match ran {
            Err(code) => {
                assert_eq!(code, ErrorCode::Unavailable, "{what}");
                let retried = w
                    .run(case)
                    .await
                    .unwrap_or_else(|code| panic!("{what}: the retry failed with {code}"));
                assert_eq!(w.snapshot().await, clean.after, "{what}: after the retry");
                assert_eq!(
                    retried.reply.handed_over(),
                    clean.outcome.reply.handed_over(),
                    "{what}: the retry hands over other messages than the healthy run"
                );
            }
            Ok(outcome) => {
                assert!(
                    absorbed(case, *method),
                    "{what}: answered Ok although the store failed: {outcome:?}"
                );
                check_absorbed(&w, &what, &outcome, &clean, FaultKind::LoseReply).await;
            }
        }
        w.probe().await;
    }
}

#[path = "faults/sending.rs"]
mod sending;
#[path = "faults/sweeps.rs"]
mod sweeps;
