//! A `ChatService` over the in-memory store, driven by an arbitrary sequence of client
//! events on a few sockets, each payload built as JSON and decoded by
//! `chatzz_socketio::requests` as the transport does. Nothing may panic, and:
//! - the in-memory store never fails, so no error is `unavailable` or `internal`;
//! - every reply and delivery serializes to JSON;
//! - a history page is oldest first, within its limit and its cursors, of one room, and
//!   exactly the page a model of every message shown to clients gives;
//! - a message's status only moves forward and nothing else about it changes;
//! - a connect hands over everything waiting (up to the per-sender limit);
//! - a retried send returns the first message; a read message is `read`, a sent one is
//!   from the sender, a connected user is online.

#![no_main]

use chatzz_core::SendRequest;
use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, OnceLock};

use arbitrary::Arbitrary;
use chatzz_core::event::Delivery;
use chatzz_core::{
    ChatError, ChatService, ChatStore, ClientMessageId, Clock, Config, ErrorCode, HistoryRequest,
    Message, MessageId, MessageStatus, Rate, SendRate, ServerEvent, Session, SocketId, Timestamp, UserId,
    identify,
};
use chatzz_socketio::requests;
use chatzz_store_memory::MemoryStore;
use futures_executor::block_on;
use libfuzzer_sys::fuzz_target;
use serde_json::{Map, Value, json};

/// When the scenario starts, in epoch milliseconds.
const START: i64 = 1_767_323_045_678;
/// How far the clock may wander from `START`, either way.
const DRIFT: i64 = 1_000_000_000_000;
const SOCKETS: usize = 4;
const USERS: [&str; 4] = ["alice", "bob", "carol", "dave"];

struct FuzzClock(AtomicI64);

impl Clock for FuzzClock {
    fn now(&self) -> Timestamp {
        Timestamp::from_millis(self.0.load(Ordering::SeqCst)).expect("the clock stays in range")
    }
}

#[derive(Arbitrary, Debug)]
struct Scenario {
    config: FuzzConfig,
    steps: Vec<Step>,
}

#[derive(Arbitrary, Debug)]
struct FuzzConfig {
    max_message_chars: u8,
    missed_messages_per_sender: u8,
    default_history_limit: u8,
    max_history_limit: u8,
    /// `None`: unlimited.
    send_rate: Option<(u8, u8)>,
    max_sockets_per_user: u8,
}

impl FuzzConfig {
    fn build(&self) -> Config {
        Config {
            max_message_chars: usize::from(self.max_message_chars) + 1,
            missed_messages_per_sender: usize::from(self.missed_messages_per_sender) + 1,
            default_history_limit: usize::from(self.default_history_limit) + 1,
            max_history_limit: usize::from(self.max_history_limit) + 1,
            send_rate: match self.send_rate {
                None => SendRate::UNLIMITED,
                Some((per_second, burst)) => SendRate {
                    per_second: f64::from(per_second),
                    burst: f64::from(burst),
                },
            },
            max_sockets_per_user: usize::from(self.max_sockets_per_user % 4) + 1,
            // The model below checks hand-overs and history without the byte and total
            // bounds, and every event but send-message unlimited.
            missed_messages_total: usize::MAX,
            max_reply_bytes: usize::MAX,
            connect_user_rate: Rate::UNLIMITED,
            add_chat_user_rate: Rate::UNLIMITED,
            get_old_messages_rate: Rate::UNLIMITED,
            message_read_rate: Rate::UNLIMITED,
            edit_window: Config::default().edit_window,
            typing_rate: Rate::UNLIMITED,
        }
    }
}

#[derive(Arbitrary, Debug)]
struct Step {
    socket: u8,
    event: Event,
}

/// A user id as a client writes it: mostly one of a few users, so that they meet.
#[derive(Arbitrary, Debug)]
enum Name {
    Known(u8),
    Other(String),
}

impl Name {
    fn json(&self) -> Value {
        match self {
            Name::Known(i) => json!(USERS[usize::from(*i) % USERS.len()]),
            Name::Other(text) => json!(text),
        }
    }
}

/// A message id as a client writes it: mostly one the server issued.
#[derive(Arbitrary, Debug)]
enum MessageRef {
    Issued(u8),
    Other(String),
}

impl MessageRef {
    fn json(&self, issued: &[MessageId]) -> Value {
        match self {
            MessageRef::Issued(i) if !issued.is_empty() => {
                json!(issued[usize::from(*i) % issued.len()].as_str())
            }
            MessageRef::Issued(i) => json!(i.to_string()),
            MessageRef::Other(text) => json!(text),
        }
    }
}

#[derive(Arbitrary, Debug)]
enum Since {
    /// Milliseconds before the clock's now.
    Ago(u32),
    Millis(i64),
    Iso(String),
}

#[derive(Arbitrary, Debug)]
enum Event {
    /// `connect-user`, claiming a user or (`None`) none.
    Connect(Option<Name>),
    AddChatUser(Name),
    SendMessage {
        to: Name,
        text: String,
        client_message_id: Option<Name>,
    },
    MessageRead(MessageRef),
    GetOldMessages {
        with: Name,
        since: Option<Since>,
        from_date: bool,
        before: Option<MessageRef>,
        after: Option<MessageRef>,
        limit: Option<u16>,
    },
    /// The socket goes away; its slot is taken by a new socket.
    Disconnect,
    /// The clock moves, backwards too.
    Tick(i32),
}

/// One socket slot: the socket now in it and the user it registered as, if any.
struct Slot {
    socket: SocketId,
    user: Option<UserId>,
    generation: u32,
}

struct Harness {
    service: ChatService,
    store: Arc<MemoryStore>,
    clock: Arc<FuzzClock>,
    slots: Vec<Slot>,
    /// Every message id clients were shown, in the order first shown.
    issued: Vec<MessageId>,
    /// What clients were last shown of each message.
    seen: HashMap<MessageId, Message>,
    /// The message each (sender, client message id) stored.
    client_ids: HashMap<(UserId, ClientMessageId), MessageId>,
}

fn serializes<T: serde::Serialize + std::fmt::Debug>(value: &T) {
    if let Err(err) = serde_json::to_value(value) {
        panic!("{value:?} does not serialize: {err}");
    }
}

fn id_of(details: &chatzz_core::UserDetails) -> Option<&str> {
    details.fields().get("_id").and_then(Value::as_str)
}

/// Checks a step's result and, with `CHATZZ_FUZZ_TRACE` set, prints it: running the
/// corpus that way (`-runs=0`) shows which outcomes the fuzzer reaches.
fn trace(event: &str, result: &Result<String, ChatError>) {
    static ON: OnceLock<bool> = OnceLock::new();
    if let Err(err) = result {
        check_error(event, err);
    }
    if *ON.get_or_init(|| std::env::var_os("CHATZZ_FUZZ_TRACE").is_some()) {
        match result {
            Ok(summary) => eprintln!("step {event}: ok, {summary}"),
            Err(err) => eprintln!("step {event}: {}", err.code),
        }
    }
}

fn check_error(event: &str, err: &ChatError) {
    assert!(
        !matches!(
            err.code,
            ErrorCode::Unavailable | ErrorCode::Internal | ErrorCode::NotConnected
        ),
        "{event} failed with {err} though the memory store never fails"
    );
}

impl Harness {
    fn new(config: Config) -> Self {
        let clock = Arc::new(FuzzClock(AtomicI64::new(START)));
        let store = Arc::new(MemoryStore::new());
        let service = ChatService::new(store.clone(), clock.clone(), config);
        let slots = (0..SOCKETS)
            .map(|i| Slot {
                socket: SocketId::new(format!("s{i}.0")),
                user: None,
                generation: 0,
            })
            .collect();
        Self {
            service,
            store,
            clock,
            slots,
            issued: Vec::new(),
            seen: HashMap::new(),
            client_ids: HashMap::new(),
        }
    }

    /// A message as a client sees it: its status only moves forward, it is `read` exactly
    /// when it has a `readAt`, and nothing else about it ever changes.
    fn observe(&mut self, message: &Message) {
        assert_eq!(
            message.read_at.is_some(),
            message.status == MessageStatus::Read,
            "{message:?}"
        );
        match self.seen.get(&message.id) {
            Some(before) => {
                assert!(
                    message.status >= before.status,
                    "status went back: {before:?} then {message:?}"
                );
                assert_eq!(
                    (
                        &message.chat_room_id,
                        message.created_at,
                        &message.from,
                        &message.to,
                        &message.message
                    ),
                    (
                        &before.chat_room_id,
                        before.created_at,
                        &before.from,
                        &before.to,
                        &before.message
                    ),
                    "a message changed"
                );
                if before.read_at.is_some() {
                    assert_eq!(message.read_at, before.read_at, "read twice");
                }
            }
            None => self.issued.push(message.id.clone()),
        }
        self.seen.insert(message.id.clone(), message.clone());
    }

    /// Deliveries serialize, and the messages they carry are observed in order.
    fn deliver(&mut self, deliveries: &[Delivery]) {
        for delivery in deliveries {
            serializes(&delivery.event);
            match &delivery.event {
                ServerEvent::NewMessage(message) | ServerEvent::MessageStatusChanged(message) => {
                    self.observe(message)
                }
                ServerEvent::OldMessages(messages) => messages.iter().for_each(|m| self.observe(m)),
                ServerEvent::UserDetails(data) => data
                    .missed_messages
                    .values()
                    .flatten()
                    .for_each(|m| self.observe(m)),
                // This target sends no edits or deletes, so nothing is ever updated.
                ServerEvent::MessageUpdated(message) => {
                    panic!("updated without an edit or delete: {message:?}")
                }
                ServerEvent::ChatUserStatusChanged(_)
                | ServerEvent::ChatUserAdded(_)
                | ServerEvent::MessagesRead(_)
                | ServerEvent::Contacts(_)
                | ServerEvent::Typing(_)
                | ServerEvent::Error(_) => {}
            }
        }
    }

    fn now(&self) -> i64 {
        self.clock.0.load(Ordering::SeqCst)
    }

    fn session(&self, slot: usize) -> Option<Session> {
        let slot = &self.slots[slot];
        Some(Session {
            user: slot.user.clone()?,
            socket: slot.socket.clone(),
        })
    }

    fn step(&mut self, step: Step) {
        let slot = usize::from(step.socket) % SOCKETS;
        match step.event {
            Event::Tick(ms) => {
                let now = (self.now() + i64::from(ms)).clamp(START - DRIFT, START + DRIFT);
                self.clock.0.store(now, Ordering::SeqCst);
            }
            Event::Connect(name) => {
                let payload = match name {
                    Some(name) => json!({ "userId": name.json() }),
                    None => json!({}),
                };
                let result = self.connect(slot, payload);
                trace("connect-user", &result);
            }
            Event::Disconnect => {
                let result = self.disconnect(slot);
                trace("disconnect", &result);
            }
            event => {
                // Every other event needs a registered socket (the transport answers
                // `not-connected` before decoding).
                let Some(session) = self.session(slot) else {
                    return;
                };
                let (name, result) = self.request(&session, event);
                trace(name, &result);
            }
        }
    }

    /// `connect-user` as the transport runs it, unauthenticated.
    fn connect(&mut self, slot: usize, payload: Value) -> Result<String, ChatError> {
        let user = identify(requests::connect_user(payload)?, None)?;
        if self.slots[slot].user.as_ref().is_some_and(|u| *u != user) {
            return Err(ChatError::new(ErrorCode::Forbidden, "another user"));
        }
        let session = Session {
            user: user.clone(),
            socket: self.slots[slot].socket.clone(),
        };
        let outcome = block_on(self.service.connect(&session))?;
        serializes(&outcome.reply);
        self.deliver(&outcome.deliveries);
        outcome
            .reply
            .missed_messages
            .values()
            .flatten()
            .for_each(|m| self.observe(m));
        assert_eq!(id_of(&outcome.reply.user), Some(user.as_str()));
        assert!(block_on(self.service.presence().is_online(&user)).expect("local presence"));
        for (sender, messages) in &outcome.reply.missed_messages {
            for message in messages {
                assert_eq!(id_of(&message.from), Some(sender.as_str()));
                assert_eq!(id_of(&message.to), Some(user.as_str()));
                assert_eq!(message.status, MessageStatus::Sent, "handed over, so sent");
            }
        }
        // Every message waiting for the user was handed over, up to the limit per sender.
        let cap = self.service.config().missed_messages_per_sender;
        let left = block_on(self.store.undelivered(&user, usize::MAX, usize::MAX)).expect("memory store");
        for message in left {
            let handed = outcome
                .reply
                .missed_messages
                .get(&message.from)
                .map_or(0, Vec::len);
            assert_eq!(
                handed, cap,
                "{message:?} was not handed over, though under the limit"
            );
        }
        // The same, against what clients were shown: nothing to the user is left
        // `not_sent`, unless its sender reached the limit.
        for message in self.seen.values() {
            if id_of(&message.to) == Some(user.as_str()) && message.status == MessageStatus::NotSent
            {
                let sender = id_of(&message.from).and_then(|id| UserId::parse(id).ok());
                let handed = sender
                    .and_then(|sender| outcome.reply.missed_messages.get(&sender))
                    .map_or(0, Vec::len);
                assert_eq!(
                    handed, cap,
                    "{message:?} is still not_sent, though under the limit"
                );
            }
        }
        self.slots[slot].user = Some(user);
        Ok(format!(
            "{} contacts, {} missed",
            outcome.reply.connected_users.len(),
            outcome
                .reply
                .missed_messages
                .values()
                .map(Vec::len)
                .sum::<usize>()
        ))
    }

    fn disconnect(&mut self, index: usize) -> Result<String, ChatError> {
        let summary = match self.session(index) {
            Some(session) => {
                let outcome = block_on(self.service.disconnect(&session))?;
                self.deliver(&outcome.deliveries);
                format!("{} deliveries", outcome.deliveries.len())
            }
            None => "unregistered".to_owned(),
        };
        let slot = &mut self.slots[index];
        slot.generation += 1;
        slot.user = None;
        slot.socket = SocketId::new(format!("s{index}.{}", slot.generation));
        Ok(summary)
    }

    fn request(
        &mut self,
        session: &Session,
        event: Event,
    ) -> (&'static str, Result<String, ChatError>) {
        match event {
            Event::AddChatUser(name) => (
                "add-chat-user",
                self.add_chat_user(session, json!({ "userToAdd": name.json() })),
            ),
            Event::SendMessage {
                to,
                text,
                client_message_id,
            } => {
                let mut payload = Map::new();
                payload.insert("userId".into(), to.json());
                payload.insert("message".into(), json!(text));
                if let Some(cid) = client_message_id {
                    payload.insert("clientMessageId".into(), cid.json());
                }
                (
                    "send-message",
                    self.send_message(session, Value::Object(payload)),
                )
            }
            Event::MessageRead(message) => {
                let payload = json!({ "messageId": message.json(&self.issued) });
                ("message-read", self.message_read(session, payload))
            }
            Event::GetOldMessages {
                with,
                since,
                from_date,
                before,
                after,
                limit,
            } => {
                let mut payload = Map::new();
                payload.insert("userId".into(), with.json());
                if let Some(since) = since {
                    let value = match since {
                        Since::Ago(ms) => json!(self.now() - i64::from(ms)),
                        Since::Millis(ms) => json!(ms),
                        Since::Iso(text) => json!(text),
                    };
                    let key = if from_date { "fromDate" } else { "date" };
                    payload.insert(key.into(), value);
                }
                if let Some(before) = before {
                    payload.insert("before".into(), before.json(&self.issued));
                }
                if let Some(after) = after {
                    payload.insert("after".into(), after.json(&self.issued));
                }
                if let Some(limit) = limit {
                    payload.insert("limit".into(), json!(limit));
                }
                (
                    "get-old-messages",
                    self.get_old_messages(session, Value::Object(payload)),
                )
            }
            Event::Connect(_) | Event::Disconnect | Event::Tick(_) => unreachable!(),
        }
    }

    fn add_chat_user(&mut self, session: &Session, payload: Value) -> Result<String, ChatError> {
        let other = requests::add_chat_user(payload)?;
        let outcome = block_on(self.service.add_contact(session, &other))?;
        serializes(&outcome.reply);
        self.deliver(&outcome.deliveries);
        assert_eq!(id_of(&outcome.reply.details), Some(other.as_str()));
        Ok(format!("{} deliveries", outcome.deliveries.len()))
    }

    fn send_message(&mut self, session: &Session, payload: Value) -> Result<String, ChatError> {
        let request = requests::send_message(payload)?;
        let outcome = block_on(self.service.send(session, SendRequest::new(&request.to, request.text, request.client_message_id.clone())))?;
        serializes(&outcome.reply);
        let message = &outcome.reply;
        assert_eq!(id_of(&message.from), Some(session.user.as_str()));
        // A retry (same sender, same client message id) gets the message stored the first
        // time, whatever it now names as recipient and text (docs/protocol.md).
        let key = request
            .client_message_id
            .map(|cid| (session.user.clone(), cid));
        match key.as_ref().and_then(|key| self.client_ids.get(key)) {
            Some(first) => assert_eq!(message.id, *first, "a retry stored anew"),
            None => {
                assert!(
                    !self.seen.contains_key(&message.id),
                    "a new message, an old id"
                );
                assert_eq!(id_of(&message.to), Some(request.to.as_str()));
                if let Some(key) = key {
                    self.client_ids.insert(key, message.id.clone());
                }
            }
        }
        self.deliver(&outcome.deliveries);
        self.observe(message);
        Ok(format!("{:?}", message.status))
    }

    fn message_read(&mut self, session: &Session, payload: Value) -> Result<String, ChatError> {
        let id = requests::message_read(payload)?;
        let outcome = block_on(self.service.mark_read(session, &id))?;
        serializes(&outcome.reply);
        self.deliver(&outcome.deliveries);
        let message = &outcome.reply;
        assert_eq!(message.id, id);
        assert_eq!(message.status, MessageStatus::Read);
        assert!(message.read_at.is_some());
        assert_eq!(id_of(&message.to), Some(session.user.as_str()));
        self.observe(message);
        Ok(format!("{} deliveries", outcome.deliveries.len()))
    }

    /// The page `history` must return, from every message clients were shown (which is
    /// every message stored: a send's reply shows it): the chat's ids between the
    /// cursors, created since `since`, the oldest `limit` of them after `after`, else the
    /// newest.
    fn expected_page(
        &self,
        session: &Session,
        request: &HistoryRequest,
        limit: usize,
    ) -> Vec<MessageId> {
        let pair = |m: &Message| {
            let (from, to) = (id_of(&m.from), id_of(&m.to));
            let (me, other) = (Some(session.user.as_str()), Some(request.with.as_str()));
            (from, to) == (me, other) || (from, to) == (other, me)
        };
        let mut matching: Vec<&Message> = self
            .seen
            .values()
            .filter(|m| pair(m))
            .filter(|m| request.before.as_ref().is_none_or(|before| m.id < *before))
            .filter(|m| request.after.as_ref().is_none_or(|after| m.id > *after))
            .filter(|m| request.since.is_none_or(|since| m.created_at >= since))
            .collect();
        matching.sort_by(|a, b| a.id.cmp(&b.id));
        let skip = if request.after.is_some() {
            0
        } else {
            matching.len().saturating_sub(limit)
        };
        matching
            .into_iter()
            .skip(skip)
            .take(limit)
            .map(|m| m.id.clone())
            .collect()
    }

    fn get_old_messages(&mut self, session: &Session, payload: Value) -> Result<String, ChatError> {
        let request = requests::get_old_messages(payload)?;
        let limit = request
            .limit
            .map_or(self.service.config().default_history_limit, |n| n as usize);
        let expected = self.expected_page(session, &request, limit);
        let outcome = block_on(self.service.history(session, request.clone()))?;
        serializes(&outcome.reply);
        self.deliver(&outcome.deliveries);
        let page: &[Message] = &outcome.reply;
        assert!(
            page.len() <= limit,
            "{} messages, limit {limit}",
            page.len()
        );
        for pair in page.windows(2) {
            assert!(
                pair[0].id < pair[1].id,
                "history is oldest first: {:?}",
                page
            );
        }
        let me = session.user.as_str();
        let other = request.with.as_str();
        for message in page {
            let (from, to) = (id_of(&message.from), id_of(&message.to));
            assert!(
                (from, to) == (Some(me), Some(other)) || (from, to) == (Some(other), Some(me)),
                "a message of another chat: {message:?}"
            );
            assert_eq!(message.chat_room_id, page[0].chat_room_id);
            if let Some(before) = &request.before {
                assert!(message.id < *before);
            }
            if let Some(after) = &request.after {
                assert!(message.id > *after);
            }
            if let Some(since) = request.since {
                assert!(message.created_at >= since);
            }
            if to == Some(me) {
                assert_ne!(
                    message.status,
                    MessageStatus::NotSent,
                    "read, so sent: {message:?}"
                );
            }
        }
        let ids: Vec<&MessageId> = page.iter().map(|m| &m.id).collect();
        assert_eq!(ids, expected.iter().collect::<Vec<_>>(), "{request:?}");
        page.iter().for_each(|m| self.observe(m));
        Ok(format!("{} messages", page.len()))
    }
}

fuzz_target!(|scenario: Scenario| {
    let mut harness = Harness::new(scenario.config.build());
    for step in scenario.steps {
        harness.step(step);
    }
});
