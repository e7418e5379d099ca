//! Emitting outcomes: deliveries to users' rooms, replies as acks or events, errors.

use chatzz_core::event::ErrorData;
use chatzz_core::{Audience, ChatError, Delivery, ErrorCode, Facts, ServerEvent, UserId};
use serde::Serialize;
use serde_json::Value;
use socketioxide::SocketIo;
use socketioxide::adapter::Adapter;
use socketioxide::extract::{AckSender, SocketRef};

/// The one event name the server emits.
pub const EVENT: &str = "chatzz";

/// The room holding every socket of a user. The prefix keeps user ids apart from any
/// other room name. The raw id, not its (escaped) display form: room names must not
/// change between versions while servers of a cluster are upgraded one by one.
pub fn user_room(user: &UserId) -> String {
    format!("user:{}", user.as_str())
}

/// Counts what a use case did (its facts), wherever its outcome is emitted from.
pub fn count_facts(facts: Facts) {
    if facts.messages_stored > 0 {
        metrics::counter!("chatzz_messages_sent_total").increment(facts.messages_stored as u64);
    }
    if facts.messages_delivered > 0 {
        metrics::counter!("chatzz_messages_delivered_total")
            .increment(facts.messages_delivered as u64);
    }
}

/// One emit: an event for the rooms of several users at once.
struct Broadcast {
    rooms: Vec<String>,
    /// Every socket of those users except the requesting one.
    others_only: bool,
    event: ServerEvent,
}

/// Merges runs of deliveries that carry the same event to different users (a message
/// announced to both of its users, say) into one emit each, so that the event is
/// serialized and broadcast once. Each user still gets its events in order: only
/// neighbours are merged. `host` turns `OtherSocketsOf` into every socket of the user.
fn broadcasts(deliveries: Vec<Delivery>, host: bool) -> Vec<Broadcast> {
    let mut out: Vec<Broadcast> = Vec::with_capacity(deliveries.len());
    for Delivery { to, event } in deliveries {
        let (room, others_only) = match &to {
            Audience::User(user) => (user_room(user), false),
            Audience::OtherSocketsOf(user) => (user_room(user), !host),
        };
        match out.last_mut() {
            Some(last)
                if !last.others_only
                    && !others_only
                    && last.event == event
                    && !last.rooms.contains(&room) =>
            {
                last.rooms.push(room);
            }
            _ => out.push(Broadcast {
                rooms: vec![room],
                others_only,
                event,
            }),
        }
    }
    out
}

/// Emits each delivery in order. A socket that went away meanwhile is no error.
pub async fn deliver<A: Adapter>(socket: &SocketRef<A>, deliveries: Vec<Delivery>) {
    for Broadcast {
        rooms,
        others_only,
        event,
    } in broadcasts(deliveries, false)
    {
        let result = if others_only {
            socket.to(rooms).emit(EVENT, &event).await
        } else {
            socket.within(rooms).emit(EVENT, &event).await
        };
        if let Err(err) = result {
            tracing::debug!(error = %err, "delivery failed");
        }
    }
}

/// Waits before each new attempt of a host delivery that an adapter failed (Redis just
/// coming back, say). Client events fail fast instead: their clients retry.
const HOST_RETRY_DELAYS_MS: [u64; 3] = [100, 300, 1_000];

/// Emits each delivery in order from outside any socket (the host application's own
/// calls, the presence sweeper): `OtherSocketsOf` then means every socket of the user.
pub async fn deliver_from_host<A: Adapter>(io: &SocketIo<A>, deliveries: Vec<Delivery>) {
    for Broadcast { rooms, event, .. } in broadcasts(deliveries, true) {
        let mut delays = HOST_RETRY_DELAYS_MS.iter();
        loop {
            match io.within(rooms.clone()).emit(EVENT, &event).await {
                Ok(()) => break,
                Err(err) => match delays.next() {
                    Some(delay) => {
                        tracing::debug!(error = %err, retry_in_ms = delay, "delivery failed");
                        tokio::time::sleep(std::time::Duration::from_millis(*delay)).await;
                    }
                    None => {
                        tracing::warn!(error = %err, "delivery failed; given up");
                        break;
                    }
                },
            }
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
        if error.cause.is_some() || error.code == ErrorCode::Internal {
            // A port failed underneath: the operator needs what failed.
            tracing::warn!(
                socket = %self.socket.id,
                event = self.event,
                code = %error.code,
                cause = error.cause.as_deref(),
                "event failed"
            );
        } else {
            tracing::debug!(socket = %self.socket.id, event = self.event, code = %error.code, "event failed");
        }
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use chatzz_core::event::ErrorData;
    use chatzz_core::{ErrorCode, UserId};

    use super::*;

    fn user(id: &str) -> UserId {
        UserId::parse(id).unwrap()
    }

    fn event(n: u8) -> ServerEvent {
        ServerEvent::Error(ErrorData {
            event: format!("e{n}"),
            code: ErrorCode::Internal,
            message: String::new(),
        })
    }

    fn to(id: &str, n: u8) -> Delivery {
        Delivery::new(Audience::User(user(id)), event(n))
    }

    fn shape(out: &[Broadcast]) -> Vec<(Vec<&str>, bool, ServerEvent)> {
        out.iter()
            .map(|b| {
                (
                    b.rooms.iter().map(String::as_str).collect(),
                    b.others_only,
                    b.event.clone(),
                )
            })
            .collect()
    }

    #[test]
    fn one_event_for_both_users_of_a_message_is_one_broadcast() {
        let out = broadcasts(vec![to("a", 1), to("b", 1), to("a", 2), to("b", 2)], false);
        assert_eq!(
            shape(&out),
            vec![
                (vec!["user:a", "user:b"], false, event(1)),
                (vec!["user:a", "user:b"], false, event(2)),
            ]
        );
    }

    #[test]
    fn only_neighbours_with_equal_events_merge_so_each_user_keeps_its_order() {
        let out = broadcasts(vec![to("a", 1), to("b", 2), to("c", 1), to("a", 1)], false);
        assert_eq!(
            shape(&out),
            vec![
                (vec!["user:a"], false, event(1)),
                (vec!["user:b"], false, event(2)),
                (vec!["user:c", "user:a"], false, event(1)),
            ]
        );
        let twice = broadcasts(vec![to("a", 1), to("a", 1)], false);
        assert_eq!(twice.len(), 2, "the same user twice gets the event twice");
    }

    #[test]
    fn other_sockets_stay_apart_except_from_the_host() {
        let others = |id: &str| Delivery::new(Audience::OtherSocketsOf(user(id)), event(1));
        let out = broadcasts(vec![others("a"), to("b", 1)], false);
        assert_eq!(
            shape(&out),
            vec![
                (vec!["user:a"], true, event(1)),
                (vec!["user:b"], false, event(1)),
            ]
        );
        let from_host = broadcasts(vec![others("a"), to("b", 1)], true);
        assert_eq!(
            shape(&from_host),
            vec![(vec!["user:a", "user:b"], false, event(1))]
        );
    }
}
