//! Emitting outcomes: deliveries to users' rooms, replies as acks or events, errors.

use chatzz_core::event::ErrorData;
use chatzz_core::{Audience, ChatError, Delivery, MessageStatus, ServerEvent, UserId};
use serde::Serialize;
use serde_json::Value;
use socketioxide::SocketIo;
use socketioxide::adapter::Adapter;
use socketioxide::extract::{AckSender, SocketRef};

/// The one event name the server emits.
pub const EVENT: &str = "chatzz";

/// The room holding every socket of a user. The prefix keeps user ids apart from any
/// other room name.
pub fn user_room(user: &UserId) -> String {
    format!("user:{user}")
}

/// Counts messages that reached a recipient: each gets exactly one `sent` status change
/// addressed to its sender.
fn count_delivered(to: &Audience, event: &ServerEvent) {
    if let (Audience::User(user), ServerEvent::MessageStatusChanged(message)) = (to, event)
        && message.status == MessageStatus::Sent
        && message.from.fields().get("_id").and_then(|id| id.as_str()) == Some(user.as_str())
    {
        metrics::counter!("chatzz_messages_delivered_total").increment(1);
    }
}

/// Emits each delivery in order. A socket that went away meanwhile is no error.
pub async fn deliver<A: Adapter>(socket: &SocketRef<A>, deliveries: Vec<Delivery>) {
    for Delivery { to, event } in deliveries {
        count_delivered(&to, &event);
        let result = match &to {
            Audience::User(user) => socket.within(user_room(user)).emit(EVENT, &event).await,
            Audience::OtherSocketsOf(user) => socket.to(user_room(user)).emit(EVENT, &event).await,
        };
        if let Err(err) = result {
            tracing::debug!(?to, error = %err, "delivery failed");
        }
    }
}

/// Emits each delivery in order from outside any socket (the host application's own
/// calls, the presence sweeper): `OtherSocketsOf` then means every socket of the user.
pub async fn deliver_from_host<A: Adapter>(io: &SocketIo<A>, deliveries: Vec<Delivery>) {
    for Delivery { to, event } in deliveries {
        count_delivered(&to, &event);
        let (Audience::User(user) | Audience::OtherSocketsOf(user)) = &to;
        if let Err(err) = io.within(user_room(user)).emit(EVENT, &event).await {
            tracing::debug!(?to, error = %err, "delivery failed");
        }
    }
}

/// Emits an event to this socket only.
pub fn emit_here<A: Adapter>(socket: &SocketRef<A>, event: &ServerEvent) {
    if let Err(err) = socket.emit(EVENT, event) {
        tracing::debug!(socket = %socket.id, error = %err, "emit failed");
    }
}

/// Answers one client event: through its callback if it gave one, else by events.
pub struct Responder<A: Adapter> {
    socket: SocketRef<A>,
    event: &'static str,
    ack: Option<AckSender<A>>,
    wants_ack: bool,
}

impl<A: Adapter> Responder<A> {
    pub fn new(
        socket: SocketRef<A>,
        event: &'static str,
        ack: AckSender<A>,
        wants_ack: bool,
    ) -> Self {
        Self {
            socket,
            event,
            ack: Some(ack),
            wants_ack,
        }
    }

    /// Whether the client passed a callback.
    pub fn wants_ack(&self) -> bool {
        self.wants_ack
    }

    /// Calls the client's callback as `(null, result)`, if it gave one.
    pub fn ok<T: Serialize + ?Sized>(&mut self, result: &T) {
        if let Some(ack) = self.ack.take()
            && let Err(err) = ack.send(&(Value::Null, result))
        {
            tracing::debug!(error = %err, "ack failed");
        }
    }

    /// Reports a failed event: through the callback as `({code, message}, null)` when
    /// the client gave one, else as an `error` event naming the event.
    pub fn fail(mut self, error: ChatError) {
        tracing::debug!(socket = %self.socket.id, event = self.event, code = %error.code, "event failed");
        match self.ack.take() {
            Some(ack) if self.wants_ack => {
                if let Err(err) = ack.send(&(&error, Value::Null)) {
                    tracing::debug!(error = %err, "ack failed");
                }
            }
            _ => emit_here(
                &self.socket,
                &ServerEvent::Error(ErrorData {
                    event: self.event.to_owned(),
                    code: error.code,
                    message: error.message,
                }),
            ),
        }
    }
}
