//! State-machine tests of the core over the real memory store: random sequences of client
//! requests (connect, disconnect, add contact, send and retried sends, read, history)
//! from 4 users with up to 3 sockets each, run through `ChatService` and checked after
//! every step against a small model of what `docs/protocol.md` promises:
//!
//! - each reply and the exact set of deliveries of each request are what the model says;
//! - no message is lost or duplicated: every room's stored history is exactly the
//!   messages that were acknowledged, with the statuses the model expects, ids ascending
//!   (history order is stable);
//! - a message's status only moves forward, across every status seen in replies and
//!   deliveries;
//! - a user is online exactly while one of its sockets is live, and every online user's
//!   view of its contacts' presence (from `user-details`, `chat-user-added` and the
//!   online/offline deliveries it receives) is right: each delivery is a flip, and no
//!   flip goes unannounced;
//! - a missed message is handed over exactly once: in the `missedMessages` of a connect
//!   of its recipient (oldest first, a few per sender at a time) and never again.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use chatzz_core::{
    Audience, ChatError, ChatService, ChatStore, ClientMessageId, Clock, Config, Contact, Delivery,
    ErrorCode, HistoryQuery, HistoryRequest, Message, MessageId, MessageStatus, Outcome,
    PresenceStatus, ServerEvent, Session, SocketId, StoredMessage, Timestamp, UserDetails, UserId,
};
use chatzz_store_memory::MemoryStore;
use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;

const USERS: usize = 4;
const SOCKETS: usize = 3;
/// Missed messages handed over per sender and connect: small, so that some messages
/// stay `not_sent` while their recipient is online (for history and retries to deliver).
const CAP: usize = 1;
const T0: i64 = 1_767_323_045_000;
const NAMES: [&str; USERS] = ["ann", "ben", "cat", "dan"];
/// A message id the store never issues.
const UNKNOWN_ID: &str = "99999999999999999999";

fn uid(u: usize) -> UserId {
    UserId::parse(NAMES[u]).unwrap()
}

fn session(u: usize, socket: usize) -> Session {
    Session {
        user: uid(u),
        socket: SocketId::new(format!("{}-{socket}", NAMES[u])),
    }
}

fn millis(at: Option<Timestamp>) -> Option<i64> {
    at.map(Timestamp::millis)
}

fn pair(a: usize, b: usize) -> (usize, usize) {
    (a.min(b), a.max(b))
}

macro_rules! ensure {
    ($cond:expr, $($fmt:tt)+) => {
        if !$cond {
            return Err(format!($($fmt)+));
        }
    };
}

macro_rules! ensure_eq {
    ($actual:expr, $expected:expr, $($fmt:tt)+) => {{
        let (actual, expected) = (&$actual, &$expected);
        if actual != expected {
            return Err(format!(
                "{}\n  actual:   {actual:?}\n  expected: {expected:?}",
                format!($($fmt)+)
            ));
        }
    }};
}

// ---------------------------------------------------------------------------------------
// Operations
// ---------------------------------------------------------------------------------------

/// A `before`/`after` cursor: the id of an acknowledged message (picked modulo their
/// number) or some other string.
#[derive(Debug, Clone, Copy)]
enum Cursor {
    Message(usize),
    Raw(&'static str),
}

/// Who makes a request: mostly one of the users online, or one of those online with a
/// message to them still `not_sent` (picked modulo their number), at times a given user,
/// online or not (the transport refuses any request but `connect-user` from a user
/// without a live socket: such a step does nothing). Who connects: mostly someone
/// offline.
#[derive(Debug, Clone, Copy)]
enum Who {
    Online(usize),
    Waiting(usize),
    Offline(usize),
    User(usize),
}

/// Whom a request names: mostly one of the requester's contacts, one of those offline,
/// one who sent the requester a message still `not_sent`, or someone who ever connected
/// (picked modulo their number), at times anyone (themselves included).
#[derive(Debug, Clone, Copy)]
enum Whom {
    Contact(usize),
    Offline(usize),
    Waiting(usize),
    Known(usize),
    User(usize),
}

#[derive(Debug, Clone)]
enum Op {
    Connect {
        user: Who,
        socket: usize,
    },
    /// One of the user's live sockets goes (picked modulo their number), or, if it has
    /// none, a socket that is not live.
    Disconnect {
        user: Who,
        socket: usize,
    },
    AddContact {
        user: Who,
        other: Whom,
    },
    Send {
        user: Who,
        to: Whom,
        cid: Option<u8>,
    },
    /// Sends again exactly what an earlier send sent (picked modulo their number), or
    /// with `waiting`, preferably a send with a client message id whose message is still
    /// `not_sent`.
    Retry {
        pick: usize,
        waiting: bool,
    },
    /// Marks a message read: an acknowledged one (picked modulo their number) or, with
    /// `None`, an id that does not exist; by its recipient or by `reader`.
    Read {
        pick: Option<usize>,
        by_recipient: bool,
        reader: Who,
    },
    /// Edits (to one of a few texts, the current one included) or deletes a message: an
    /// acknowledged one (picked modulo their number) or, with `None`, an id that does
    /// not exist; by its sender or by `who`.
    Change {
        pick: Option<usize>,
        by_sender: bool,
        who: Who,
        delete: bool,
        text: u8,
    },
    History {
        user: Who,
        with: Whom,
        /// Steps after the start: only messages created then or later.
        since: Option<i64>,
        before: Option<Cursor>,
        after: Option<Cursor>,
        limit: Option<u64>,
    },
}

fn cursor() -> impl Strategy<Value = Cursor> {
    prop_oneof![
        3 => any::<usize>().prop_map(Cursor::Message),
        1 => prop::sample::select(vec!["0", "/", "5", "00000000000000000003", "zzz"])
            .prop_map(Cursor::Raw),
    ]
}

fn who() -> impl Strategy<Value = Who> {
    prop_oneof![
        5 => (0..USERS).prop_map(Who::Online),
        2 => (0..USERS).prop_map(Who::Waiting),
        1 => (0..USERS).prop_map(Who::User),
    ]
}

fn connecting() -> impl Strategy<Value = Who> {
    prop_oneof![
        3 => (0..USERS).prop_map(Who::Offline),
        2 => (0..USERS).prop_map(Who::User),
    ]
}

fn whom() -> impl Strategy<Value = Whom> {
    prop_oneof![
        4 => (0..USERS).prop_map(Whom::Contact),
        2 => (0..USERS).prop_map(Whom::Offline),
        2 => (0..USERS).prop_map(Whom::Waiting),
        2 => (0..USERS).prop_map(Whom::Known),
        1 => (0..USERS).prop_map(Whom::User),
    ]
}

/// How often each kind of step comes up.
#[derive(Debug, Clone, Copy)]
struct Mix {
    connect: u32,
    disconnect: u32,
    add_contact: u32,
    send: u32,
    retry: u32,
    read: u32,
    change: u32,
    history: u32,
}

/// A bit of everything.
const MIXED: Mix = Mix {
    connect: 3,
    disconnect: 2,
    add_contact: 2,
    send: 8,
    retry: 3,
    read: 3,
    change: 2,
    history: 3,
};

/// Users come and go while messages pile up for them: missed messages, the ones left
/// over for history and retries to deliver.
const CHURN: Mix = Mix {
    connect: 4,
    disconnect: 5,
    add_contact: 1,
    send: 8,
    retry: 4,
    read: 1,
    change: 1,
    history: 5,
};

fn op(mix: Mix) -> impl Strategy<Value = Op> {
    let socket = || 0..SOCKETS;
    prop_oneof![
        mix.connect => (connecting(), socket())
            .prop_map(|(user, socket)| Op::Connect { user, socket }),
        mix.disconnect => (who(), socket())
            .prop_map(|(user, socket)| Op::Disconnect { user, socket }),
        mix.add_contact => (who(), whom()).prop_map(|(user, other)| Op::AddContact { user, other }),
        mix.send => (who(), whom(), option::of(0..3u8))
            .prop_map(|(user, to, cid)| Op::Send { user, to, cid }),
        mix.retry => (any::<usize>(), any::<bool>())
            .prop_map(|(pick, waiting)| Op::Retry { pick, waiting }),
        mix.read => (option::weighted(0.9, any::<usize>()), any::<bool>(), who()).prop_map(
            |(pick, by_recipient, reader)| Op::Read { pick, by_recipient, reader }
        ),
        mix.change => (
            option::weighted(0.9, any::<usize>()),
            any::<bool>(),
            who(),
            any::<bool>(),
            0..3u8,
        )
            .prop_map(|(pick, by_sender, who, delete, text)| Op::Change {
                pick,
                by_sender,
                who,
                delete,
                text,
            }),
        mix.history => (
            who(),
            whom(),
            option::weighted(0.3, 0..40i64),
            option::weighted(0.3, cursor()),
            option::weighted(0.3, cursor()),
            option::of(1..=6u64),
        )
            .prop_map(|(user, with, since, before, after, limit)| Op::History {
                user,
                with,
                since,
                before,
                after,
                limit,
            }),
    ]
}

// ---------------------------------------------------------------------------------------
// What the client sees, normalized
// ---------------------------------------------------------------------------------------

/// A message as the model knows it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct M {
    id: String,
    room: String,
    from: usize,
    to: usize,
    text: String,
    status: MessageStatus,
    created_at: i64,
    read_at: Option<i64>,
    edited_at: Option<i64>,
    deleted_at: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Aud {
    User(usize),
    Others(usize),
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Ev {
    New(M),
    Status(M),
    Presence {
        user: usize,
        online: bool,
        last_online: Option<i64>,
    },
    Added {
        user: usize,
        room: String,
        online: bool,
        last_online: Option<i64>,
    },
    /// `messages-read`: (room, reader, up to, read at, count).
    ReadUpTo(String, usize, String, i64, usize),
    /// `message-updated`.
    Updated(M),
}

type D = (Aud, Ev);

fn user_index(id: &UserId) -> Result<usize, String> {
    NAMES
        .iter()
        .position(|n| *n == id.as_str())
        .ok_or_else(|| format!("unknown user {id}"))
}

fn details_index(details: &UserDetails) -> Result<usize, String> {
    (0..USERS)
        .find(|u| *details == UserDetails::bare(&uid(*u)))
        .ok_or_else(|| format!("details of nobody: {details:?}"))
}

fn norm_message(m: &Message) -> Result<M, String> {
    Ok(M {
        id: m.id.as_str().to_owned(),
        room: m.chat_room_id.as_str().to_owned(),
        from: details_index(&m.from)?,
        to: details_index(&m.to)?,
        text: m.message.clone(),
        status: m.status,
        created_at: m.created_at.millis(),
        read_at: millis(m.read_at),
        edited_at: millis(m.edited_at),
        deleted_at: millis(m.deleted_at),
    })
}

fn norm_stored(m: &StoredMessage) -> Result<M, String> {
    Ok(M {
        id: m.id.as_str().to_owned(),
        room: m.room.as_str().to_owned(),
        from: user_index(&m.from)?,
        to: user_index(&m.to)?,
        text: m.text.clone(),
        status: m.status,
        created_at: m.created_at.millis(),
        read_at: millis(m.read_at),
        edited_at: millis(m.edited_at),
        deleted_at: millis(m.deleted_at),
    })
}

/// A contact as (user, room, online, lastOnline, unreadCount, lastMessage).
type C = (usize, String, bool, Option<i64>, u64, Option<M>);

fn norm_contact(c: &Contact) -> Result<C, String> {
    Ok((
        details_index(&c.details)?,
        c.chat_room_id.as_str().to_owned(),
        c.status == PresenceStatus::Online,
        millis(c.last_online),
        c.unread_count,
        c.last_message.as_deref().map(norm_message).transpose()?,
    ))
}

fn norm_delivery(d: &Delivery) -> Result<D, String> {
    let to = match &d.to {
        Audience::User(u) => Aud::User(user_index(u)?),
        Audience::OtherSocketsOf(u) => Aud::Others(user_index(u)?),
    };
    let event = match &d.event {
        ServerEvent::NewMessage(m) => Ev::New(norm_message(m)?),
        ServerEvent::MessageStatusChanged(m) => Ev::Status(norm_message(m)?),
        ServerEvent::ChatUserStatusChanged(change) => Ev::Presence {
            user: details_index(&change.user)?,
            online: change.status == PresenceStatus::Online,
            last_online: millis(change.last_online),
        },
        ServerEvent::MessageUpdated(m) => Ev::Updated(norm_message(m)?),
        ServerEvent::MessagesRead(range) => Ev::ReadUpTo(
            range.chat_room_id.as_str().to_owned(),
            user_index(&range.reader_id)?,
            range.up_to.as_str().to_owned(),
            range.read_at.millis(),
            range.count,
        ),
        ServerEvent::ChatUserAdded(contact) => {
            let (user, room, online, last_online, unread, last) = norm_contact(contact)?;
            if unread != 0 || last.is_some() {
                return Err(format!("a new contact with messages: {contact:?}"));
            }
            Ev::Added {
                user,
                room,
                online,
                last_online,
            }
        }
        other => return Err(format!("unexpected delivery {other:?}")),
    };
    Ok((to, event))
}

fn expect_error<T: std::fmt::Debug>(
    actual: Result<Outcome<T>, ChatError>,
    code: ErrorCode,
) -> Result<(), String> {
    match actual {
        Err(e) if e.code == code => Ok(()),
        other => Err(format!("expected {code}, got {other:?}")),
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

// ---------------------------------------------------------------------------------------
// The model
// ---------------------------------------------------------------------------------------

#[derive(Debug, Default)]
struct Model {
    sockets: [BTreeSet<usize>; USERS],
    registered: [bool; USERS],
    last_online: [Option<i64>; USERS],
    rooms: BTreeMap<(usize, usize), String>,
    /// When each room was created.
    since: HashMap<String, i64>,
    /// Each user's contacts in the order their rooms were created.
    contacts: [Vec<usize>; USERS],
    /// Every acknowledged message, in acknowledgement order.
    messages: Vec<M>,
    /// (sender, client message id) -> message id.
    cids: HashMap<(usize, u8), String>,
    /// Every send attempted, for retries: (sender, recipient, text, client message id).
    sends: Vec<(usize, usize, String, Option<u8>)>,

    // What clients have seen.
    /// The furthest status seen for each message id, in any reply or delivery.
    seen: HashMap<String, MessageStatus>,
    /// Every message ever handed over in `missedMessages`.
    missed_seen: HashSet<String>,
    /// What each online user believes about its contacts' presence.
    views: [BTreeMap<usize, bool>; USERS],
}

/// What one step ran against.
struct Sut<'a> {
    rt: &'a tokio::runtime::Runtime,
    service: &'a ChatService,
    store: &'a MemoryStore,
}

#[path = "model/steps.rs"]
mod steps;

/// A clock the test sets: one second per step.
#[derive(Debug)]
struct StepClock(AtomicI64);

impl Clock for StepClock {
    fn now(&self) -> Timestamp {
        Timestamp::from_millis(self.0.load(Ordering::SeqCst)).unwrap()
    }
}

fn run(ops: &[Op]) -> Result<Model, TestCaseError> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
    let store = Arc::new(MemoryStore::new());
    let clock = Arc::new(StepClock(AtomicI64::new(T0)));
    let service = ChatService::new(
        store.clone(),
        clock.clone(),
        Config {
            missed_messages_per_sender: CAP,
            ..Config::default()
        },
    );
    let sut = Sut {
        rt: &rt,
        service: &service,
        store: &store,
    };
    let mut model = Model::default();
    for (step, op) in ops.iter().enumerate() {
        let now = T0 + (step as i64 + 1) * 1_000;
        clock.0.store(now, Ordering::SeqCst);
        model
            .step(&sut, op, step, now)
            .and_then(|()| model.check_world(&sut))
            .map_err(|e| TestCaseError::fail(format!("step {step}, {op:?}: {e}")))?;
    }
    Ok(model)
}

/// Where a run starts, so that its random steps meet contacts, offline recipients and
/// missed messages from the first one: every user connects, the chosen pairs become
/// contacts, and the chosen users go offline again. These steps are checked like any.
fn prologue() -> impl Strategy<Value = Vec<Op>> {
    let pairs: Vec<(usize, usize)> = (0..USERS)
        .flat_map(|a| (a + 1..USERS).map(move |b| (a, b)))
        .collect();
    let n = pairs.len();
    (
        prop::sample::subsequence(pairs, 0..=n),
        prop::sample::subsequence((0..USERS).collect::<Vec<_>>(), 0..=USERS),
    )
        .prop_map(|(pairs, offline)| {
            let mut ops: Vec<Op> = (0..USERS)
                .map(|user| Op::Connect {
                    user: Who::User(user),
                    socket: 0,
                })
                .collect();
            ops.extend(pairs.into_iter().map(|(a, b)| Op::AddContact {
                user: Who::User(a),
                other: Whom::User(b),
            }));
            ops.extend(offline.into_iter().map(|user| Op::Disconnect {
                user: Who::User(user),
                socket: 0,
            }));
            ops
        })
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 256,
        ..ProptestConfig::default()
    })]

    #[test]
    fn the_core_behaves_like_the_model(start in prologue(), ops in vec(op(MIXED), 1..=40)) {
        run(&[start, ops].concat())?;
    }

    #[test]
    fn the_core_behaves_like_the_model_while_users_come_and_go(
        start in prologue(),
        ops in vec(op(CHURN), 1..=40),
    ) {
        run(&[start, ops].concat())?;
    }
}

/// A fixed sequence through every kind of step, so that the model itself is known to
/// accept a run where everything happens.
#[test]
fn a_known_sequence_satisfies_the_model() {
    use Op::*;
    let ops = [
        Connect {
            user: Who::User(0),
            socket: 0,
        },
        Connect {
            user: Who::User(1),
            socket: 0,
        },
        AddContact {
            user: Who::User(0),
            other: Whom::User(1),
        },
        Disconnect {
            user: Who::User(1),
            socket: 0,
        },
        Send {
            user: Who::User(0),
            to: Whom::User(1),
            cid: Some(0),
        },
        Send {
            user: Who::User(0),
            to: Whom::User(1),
            cid: None,
        },
        Send {
            user: Who::User(0),
            to: Whom::User(1),
            cid: Some(1),
        },
        Retry {
            pick: 0,
            waiting: false,
        },
        // ben gets the oldest of the three (one per sender at a time); the retry of the
        // third delivers it, and the history page the second.
        Connect {
            user: Who::User(1),
            socket: 2,
        },
        Retry {
            pick: 2,
            waiting: false,
        },
        Connect {
            user: Who::User(0),
            socket: 1,
        },
        History {
            user: Who::User(1),
            with: Whom::User(0),
            since: None,
            before: None,
            after: Some(Cursor::Message(0)),
            limit: Some(5),
        },
        Read {
            pick: Some(1),
            by_recipient: true,
            reader: Who::User(0),
        },
        Read {
            pick: Some(1),
            by_recipient: false,
            reader: Who::User(0),
        },
        Connect {
            user: Who::User(1),
            socket: 1,
        },
        Disconnect {
            user: Who::User(0),
            socket: 0,
        },
        Disconnect {
            user: Who::User(0),
            socket: 0,
        },
        Connect {
            user: Who::User(0),
            socket: 0,
        },
    ];
    let model = run(&ops).unwrap();
    let statuses: Vec<_> = model.messages.iter().map(|m| m.status).collect();
    let (sent, read) = (MessageStatus::Sent, MessageStatus::Read);
    // Reading the second reads the room up to it: the first too, the third not.
    assert_eq!(statuses, [read, read, sent]);
    assert_eq!(model.missed_seen.len(), 1);
}
