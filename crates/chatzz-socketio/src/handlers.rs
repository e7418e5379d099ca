//! One function per client event, reached through one socket handler: decode, run the
//! use case in order, emit.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use chatzz_core::event::ErrorData;
use chatzz_core::{
    AuthError, Authenticator, ChatError, ChatService, ErrorCode, ServerEvent, Session, SocketId,
    Timestamp, UserId, identify,
};
use serde_json::Value;
use socketioxide::adapter::Adapter;
use socketioxide::extract::{AckSender, SocketRef, TryData};
use socketioxide::handler::ConnectHandler;
use socketioxide::{ParserError, SocketIo};
use socketioxide_core::adapter::DefinedAdapter;

use crate::client_event::{ClientEvent, Named};
use crate::connection::{Arrival, Connection, Place, Turn};
use crate::handshake::{HandshakeCounts, Slot};
use crate::outbound::json_len;
use crate::reply::{Responder, count_facts, deliver, emit_here, user_room};
use crate::requests;

/// Limits the transport itself enforces, before any use case runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TransportLimits {
    /// Most events of one socket that may wait for the ones before them; more fail at
    /// once with `rate-limited`, so that a flooding client holds neither memory nor work.
    pub max_queued_events: u64,
    /// Bytes of large replies (history pages, `user-details`, contact lists) one
    /// connection may have queued for it: at most this many at once, refilled at this
    /// many per 10 s. An event whose reply could overdraw it fails with `rate-limited`
    /// and changes nothing.
    pub max_outbound_bytes: usize,
}

impl Default for TransportLimits {
    fn default() -> Self {
        Self {
            max_queued_events: 64,
            max_outbound_bytes: 4 * 1024 * 1024,
        }
    }
}

/// Serves chatzz on the default namespace of `io`. With an authenticator, a connection
/// whose handshake `auth` does not check out is refused (`connect_error`), and the
/// verified user is the only one its `connect-user` may name. With an adapter that joins
/// several servers (socketioxide's Redis adapter, say), the returned value must be
/// awaited before serving: it subscribes this server to the others.
pub fn attach<A: Adapter + DefinedAdapter>(
    io: &SocketIo<A>,
    service: Arc<ChatService>,
    authenticator: Option<Arc<dyn Authenticator>>,
    limits: TransportLimits,
) -> A::InitRes {
    // socketioxide sends CONNECT before it runs the connect handler in a task of its own,
    // so an event emitted right at connect could beat the handler. Middlewares finish
    // before CONNECT is sent: authentication and the event handlers happen in one.
    let handshakes = HandshakeCounts::default();
    let admit = move |socket: SocketRef<A>, TryData(auth): TryData<Value>| {
        let service = service.clone();
        let authenticator = authenticator.clone();
        let handshakes = handshakes.clone();
        async move {
            let identity = match &authenticator {
                Some(authenticator) => {
                    let auth = auth.unwrap_or(Value::Null);
                    match authenticator.identify(&auth).await {
                        Ok(identity) => Some(identity),
                        Err(err) => {
                            tracing::debug!(socket = %socket.id, error = %err, "connection refused");
                            return Err(err);
                        }
                    }
                }
                None => None,
            };
            // A verified user is known now: a socket over their cap is refused here
            // rather than left open until its `connect-user` fails.
            let slot = match &identity {
                Some(identity) => {
                    let max = service.config().max_sockets_per_user;
                    match handshakes.take(&identity.user, max) {
                        Some(slot) => Some(slot),
                        None => {
                            tracing::debug!(socket = %socket.id, user = %identity.user, "connection refused: too many sockets");
                            return Err(AuthError::Unauthorized(format!(
                                "too many live connections for this user (at most {max})"
                            )));
                        }
                    }
                }
                None => None,
            };
            let expires_at = identity.as_ref().and_then(|i| i.expires_at);
            let connection =
                register_handlers(&socket, service, identity.map(|i| i.user), slot, limits);
            if let Some(expires_at) = expires_at {
                end_at_expiry(&socket, &connection, expires_at);
            }
            Ok(())
        }
    };
    io.ns("/", (async || {}).with(admit))
}

/// Ends the socket when its credential expires: an `error` event saying so, then a
/// server-side disconnect (the client reconnects with a fresh credential).
fn end_at_expiry<A: Adapter>(
    socket: &SocketRef<A>,
    connection: &Connection,
    expires_at: Timestamp,
) {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
    let wait = Duration::from_millis(u64::try_from(expires_at.millis() - now).unwrap_or(0));
    let socket = socket.clone();
    let task = tokio::spawn(async move {
        tokio::time::sleep(wait).await;
        tracing::debug!(socket = %socket.id, "credential expired; disconnecting");
        emit_here(
            &socket,
            &ServerEvent::Error(ErrorData {
                event: "connect".to_owned(),
                code: ErrorCode::Forbidden,
                message: "the credential of this connection expired; connect again with a new one"
                    .to_owned(),
            }),
        );
        if let Err(err) = socket.disconnect() {
            tracing::debug!(error = %err, "disconnect at expiry failed");
        }
    });
    connection.set_expiry(task.abort_handle());
}

fn register_handlers<A: Adapter>(
    socket: &SocketRef<A>,
    service: Arc<ChatService>,
    verified: Option<UserId>,
    slot: Option<Slot>,
    limits: TransportLimits,
) -> Arc<Connection> {
    let connection = Connection::with_limits(
        SocketId::new(socket.id.to_string()),
        verified,
        limits.max_queued_events,
        limits.max_outbound_bytes,
        slot,
    );
    socket.extensions.insert(connection.clone());
    tracing::debug!(socket = %socket.id, "socket connected");
    metrics::gauge!("chatzz_sockets").increment(1.0);

    // One fallback handler for every client event rather than one handler each: a
    // socket's handler map and its eleven boxed closures cost about 1 KiB per
    // connection, idle or not (docs/benchmarks.md, "Idle connections").
    let events = service.clone();
    socket.on_fallback(
        move |socket: SocketRef<A>,
              Named(event): Named,
              arrival: Arrival,
              TryData(payload): TryData<Value>,
              ack: AckSender<A>| {
            let service = events.clone();
            async move {
                // Unknown events are ignored, as without a handler for them.
                let Some(event) = event else {
                    return;
                };
                run_event(event, socket, service, arrival, payload, ack).await;
            }
        },
    );

    let service = service.clone();
    socket.on_disconnect(move |socket: SocketRef<A>| async move {
        metrics::gauge!("chatzz_sockets").decrement(1.0);
        let Some(connection) = socket.extensions.get::<Arc<Connection>>() else {
            return;
        };
        connection.stop_expiry();
        connection.release_slot();
        // Every event of this socket already holds a ticket: this one runs last.
        let _turn = connection.ticket().turn().await;
        let Some(session) = connection.session() else {
            return;
        };
        tracing::debug!(socket = %socket.id, user = %session.user, "socket disconnected");
        // A failed disconnect changed nothing (the user still shows online), so it is
        // retried until the store answers; after that long, the user leaves unannounced.
        for delay in DISCONNECT_RETRY_DELAYS_MS {
            match service.disconnect(&session).await {
                Ok(outcome) => return deliver(&socket, outcome.deliveries).await,
                Err(error) => {
                    tracing::warn!(user = %session.user, %error, cause = error.cause.as_deref(), retry_in_ms = delay, "disconnect failed");
                    tokio::time::sleep(std::time::Duration::from_millis(delay)).await;
                }
            }
        }
        service.abandon(&session).await;
    });
    connection
}

/// Runs one client event in its socket's order and answers it.
async fn run_event<A: Adapter>(
    event: ClientEvent,
    socket: SocketRef<A>,
    service: Arc<ChatService>,
    arrival: Arrival,
    payload: Result<Value, ParserError>,
    ack: AckSender<A>,
) {
    let name = event.name();
    let ticket = match arrival.place {
        Place::Queued(ticket) => ticket,
        Place::Full => {
            drop(payload);
            metrics::counter!(
                "chatzz_errors_total",
                "event" => name,
                "code" => ErrorCode::RateLimited.as_str()
            )
            .increment(1);
            Responder::new(socket.clone(), name, ack, arrival.wants_ack).fail(ChatError::new(
                ErrorCode::RateLimited,
                "too many events waiting on this connection; wait for replies before sending more",
            ));
            return;
        }
        Place::Unknown => {
            tracing::error!(socket = %socket.id, event = name, "event on a socket chatzz never registered");
            return;
        }
    };
    tracing::trace!(socket = %socket.id, event = name, "event queued");
    let turn = ticket.turn().await;
    tracing::trace!(socket = %socket.id, event = name, "event runs");
    let payload = payload.unwrap_or(Value::Null);
    let mut responder = Responder::new(socket.clone(), name, ack, arrival.wants_ack);
    metrics::counter!("chatzz_events_total", "event" => name).increment(1);
    let (socket, service, turn, r) = (&socket, &*service, &turn, &mut responder);
    // Every event's task is as large as the largest arm: the two largest, sent once per
    // connection or screen, are boxed so that a send's task is not (3.3 -> 2.4 KiB).
    let result = match event {
        ClientEvent::ConnectUser => Box::pin(connect_user(socket, service, turn, payload, r)).await,
        ClientEvent::AddChatUser => add_chat_user(socket, service, turn, payload, r).await,
        ClientEvent::GetOldMessages => get_old_messages(socket, service, turn, payload, r).await,
        ClientEvent::SendMessage => send_message(socket, service, turn, payload, r).await,
        ClientEvent::MessageRead => message_read(socket, service, turn, payload, r).await,
        ClientEvent::GetContacts => Box::pin(get_contacts(socket, service, turn, payload, r)).await,
        ClientEvent::EditMessage => edit_message(socket, service, turn, payload, r).await,
        ClientEvent::DeleteMessage => delete_message(socket, service, turn, payload, r).await,
        ClientEvent::Typing => typing(socket, service, turn, payload, r).await,
        ClientEvent::BlockUser => block_user(socket, service, turn, payload, r).await,
        ClientEvent::UnblockUser => unblock_user(socket, service, turn, payload, r).await,
    };
    if let Err(error) = result {
        metrics::counter!(
            "chatzz_errors_total",
            "event" => name,
            "code" => error.code.as_str()
        )
        .increment(1);
        responder.fail(error);
    }
}

/// Waits between attempts to record a departure: about five minutes in all.
const DISCONNECT_RETRY_DELAYS_MS: [u64; 14] = [
    100, 250, 500, 1_000, 2_000, 4_000, 8_000, 15_000, 30_000, 30_000, 60_000, 60_000, 60_000,
    60_000,
];

fn session_of(turn: &Turn) -> Result<Session, ChatError> {
    turn.connection()
        .session()
        .ok_or_else(|| ChatError::new(ErrorCode::NotConnected, "send connect-user first"))
}

async fn connect_user<A: Adapter>(
    socket: &SocketRef<A>,
    service: &ChatService,
    turn: &Turn,
    payload: Value,
    responder: &mut Responder<A>,
) -> Result<(), ChatError> {
    let connection = turn.connection();
    let user = identify(
        requests::connect_user(payload)?,
        connection.verified.as_ref(),
    )?;
    let already = connection.session();
    if already.as_ref().is_some_and(|session| session.user != user) {
        return Err(ChatError::new(
            ErrorCode::Forbidden,
            "this socket is registered as another user",
        ));
    }
    let session = Session {
        user,
        socket: connection.socket.clone(),
    };
    // The reply goes out twice (event and ack).
    check_outbound_room(
        connection,
        service.config().max_reply_bytes.saturating_mul(2),
    )?;
    // Join first, so that nothing sent to the user between now and the reply is missed.
    socket.join(user_room(&session.user));
    let outcome = match service.connect(&session).await {
        Ok(outcome) => outcome,
        Err(error) => {
            if already.is_none() {
                socket.leave(user_room(&session.user));
            }
            return Err(error);
        }
    };
    connection.bind(session.user);
    count_facts(outcome.facts);
    // The reply goes out as an event (the seed's way) and, if asked, through the ack.
    let reply = outcome.reply;
    let ack = responder.wants_ack().then(|| reply.clone());
    let event = ServerEvent::UserDetails(reply);
    let bytes = json_len(&event);
    emit_here(socket, &event);
    connection.spend_outbound(bytes);
    deliver(socket, outcome.deliveries).await;
    if let Some(reply) = ack {
        responder.ok(&reply);
        connection.spend_outbound(bytes);
    }
    Ok(())
}

/// Refuses an event whose reply, of up to `largest` bytes, could overdraw the
/// connection's outbound budget, before its use case changes anything.
fn check_outbound_room(connection: &Connection, largest: usize) -> Result<(), ChatError> {
    if connection.has_outbound_room(largest) {
        Ok(())
    } else {
        metrics::counter!("chatzz_outbound_budget_refusals_total").increment(1);
        Err(ChatError::new(
            ErrorCode::RateLimited,
            "too many large replies queued for this connection; read them, then ask again",
        ))
    }
}

async fn add_chat_user<A: Adapter>(
    socket: &SocketRef<A>,
    service: &ChatService,
    turn: &Turn,
    payload: Value,
    responder: &mut Responder<A>,
) -> Result<(), ChatError> {
    let session = session_of(turn)?;
    let other = requests::add_chat_user(payload)?;
    let outcome = service.add_contact(&session, &other).await?;
    deliver(socket, outcome.deliveries).await;
    responder.ok(&outcome.reply);
    Ok(())
}

async fn get_old_messages<A: Adapter>(
    socket: &SocketRef<A>,
    service: &ChatService,
    turn: &Turn,
    payload: Value,
    responder: &mut Responder<A>,
) -> Result<(), ChatError> {
    let session = session_of(turn)?;
    let request = requests::get_old_messages(payload)?;
    let connection = turn.connection();
    check_outbound_room(connection, service.config().max_reply_bytes)?;
    let outcome = service.history(&session, request).await?;
    count_facts(outcome.facts);
    deliver(socket, outcome.deliveries).await;
    connection.spend_outbound(json_len(&outcome.reply));
    if responder.wants_ack() {
        responder.ok(&outcome.reply);
    } else {
        emit_here(socket, &ServerEvent::OldMessages(outcome.reply));
    }
    Ok(())
}

async fn send_message<A: Adapter>(
    socket: &SocketRef<A>,
    service: &ChatService,
    turn: &Turn,
    payload: Value,
    responder: &mut Responder<A>,
) -> Result<(), ChatError> {
    let session = session_of(turn)?;
    let request = requests::send_message(payload)?;
    let outcome = service.send(&session, request).await?;
    count_facts(outcome.facts);
    deliver(socket, outcome.deliveries).await;
    responder.ok(&outcome.reply);
    Ok(())
}

async fn message_read<A: Adapter>(
    socket: &SocketRef<A>,
    service: &ChatService,
    turn: &Turn,
    payload: Value,
    responder: &mut Responder<A>,
) -> Result<(), ChatError> {
    let session = session_of(turn)?;
    let id = requests::message_read(payload)?;
    let outcome = service.mark_read(&session, &id).await?;
    deliver(socket, outcome.deliveries).await;
    responder.ok(&outcome.reply);
    Ok(())
}

async fn get_contacts<A: Adapter>(
    socket: &SocketRef<A>,
    service: &ChatService,
    turn: &Turn,
    payload: Value,
    responder: &mut Responder<A>,
) -> Result<(), ChatError> {
    let session = session_of(turn)?;
    requests::get_contacts(payload)?;
    let connection = turn.connection();
    // The contact list of `user-details` on its own: a large reply, budgeted like a
    // history page (its size is known only once read; what it really took is spent).
    check_outbound_room(connection, service.config().max_reply_bytes)?;
    let outcome = service.get_contacts(&session).await?;
    deliver(socket, outcome.deliveries).await;
    connection.spend_outbound(json_len(&outcome.reply));
    if responder.wants_ack() {
        responder.ok(&outcome.reply);
    } else {
        emit_here(socket, &ServerEvent::Contacts(outcome.reply));
    }
    Ok(())
}

async fn edit_message<A: Adapter>(
    socket: &SocketRef<A>,
    service: &ChatService,
    turn: &Turn,
    payload: Value,
    responder: &mut Responder<A>,
) -> Result<(), ChatError> {
    let session = session_of(turn)?;
    let (id, text) = requests::edit_message(payload)?;
    let outcome = service.edit_message(&session, &id, text).await?;
    deliver(socket, outcome.deliveries).await;
    responder.ok(&outcome.reply);
    Ok(())
}

async fn block_user<A: Adapter>(
    socket: &SocketRef<A>,
    service: &ChatService,
    turn: &Turn,
    payload: Value,
    responder: &mut Responder<A>,
) -> Result<(), ChatError> {
    set_blocked(socket, service, turn, payload, responder, true).await
}

async fn unblock_user<A: Adapter>(
    socket: &SocketRef<A>,
    service: &ChatService,
    turn: &Turn,
    payload: Value,
    responder: &mut Responder<A>,
) -> Result<(), ChatError> {
    set_blocked(socket, service, turn, payload, responder, false).await
}

async fn set_blocked<A: Adapter>(
    socket: &SocketRef<A>,
    service: &ChatService,
    turn: &Turn,
    payload: Value,
    responder: &mut Responder<A>,
    blocked: bool,
) -> Result<(), ChatError> {
    let session = session_of(turn)?;
    let other = requests::block_user(payload)?;
    let outcome = service.set_blocked(&session, &other, blocked).await?;
    deliver(socket, outcome.deliveries).await;
    responder.ok(&outcome.reply);
    Ok(())
}

async fn typing<A: Adapter>(
    socket: &SocketRef<A>,
    service: &ChatService,
    turn: &Turn,
    payload: Value,
    responder: &mut Responder<A>,
) -> Result<(), ChatError> {
    let session = session_of(turn)?;
    let (with, typing) = requests::typing(payload)?;
    let outcome = service.typing(&session, &with, typing).await?;
    deliver(socket, outcome.deliveries).await;
    responder.ok(&outcome.reply);
    Ok(())
}

async fn delete_message<A: Adapter>(
    socket: &SocketRef<A>,
    service: &ChatService,
    turn: &Turn,
    payload: Value,
    responder: &mut Responder<A>,
) -> Result<(), ChatError> {
    let session = session_of(turn)?;
    let id = requests::delete_message(payload)?;
    let outcome = service.delete_message(&session, &id).await?;
    deliver(socket, outcome.deliveries).await;
    responder.ok(&outcome.reply);
    Ok(())
}
