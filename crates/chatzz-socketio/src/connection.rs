//! Per-socket state: which user the socket is, and the order its events run in.
//!
//! socketioxide spawns a task per incoming event, so two events of one socket may run
//! out of order. Clients rely on order (`connect-user` then `send-message` without
//! waiting), so each event takes a ticket when it arrives, synchronously in arrival
//! order, and runs only when all earlier tickets are done.

use std::convert::Infallible;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use chatzz_core::{Session, SocketId, UserId};
use socketioxide::adapter::Adapter;
use socketioxide::handler::{FromMessageParts, Value};
use socketioxide::socket::Socket;
use tokio::sync::watch;

/// The state chatzz keeps for one socket, stored in its extensions.
#[derive(Debug)]
pub struct Connection {
    pub socket: SocketId,
    /// Who the handshake credential proved the client to be, if authentication is on.
    pub verified: Option<UserId>,
    /// Most events that may wait for the ones before them.
    max_queued: u64,
    user: Mutex<Option<UserId>>,
    issued: AtomicU64,
    done: watch::Sender<u64>,
}

impl Connection {
    pub fn new(socket: SocketId, verified: Option<UserId>, max_queued: u64) -> Arc<Self> {
        Arc::new(Self {
            socket,
            verified,
            max_queued,
            user: Mutex::new(None),
            issued: AtomicU64::new(0),
            done: watch::Sender::new(0),
        })
    }

    /// The next ticket, in arrival order.
    pub fn ticket(self: &Arc<Self>) -> Ticket {
        Ticket {
            number: self.issued.fetch_add(1, Ordering::SeqCst),
            connection: self.clone(),
        }
    }

    /// The next ticket, unless `max_queued` events already wait: then `None`, and the
    /// event takes no place in the queue, so it delays nothing.
    pub fn ticket_if_room(self: &Arc<Self>) -> Option<Ticket> {
        let done = *self.done.borrow();
        self.issued
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |issued| {
                (issued.saturating_sub(done) < self.max_queued).then_some(issued + 1)
            })
            .ok()
            .map(|number| Ticket {
                number,
                connection: self.clone(),
            })
    }

    /// The session of the user this socket registered as, if it did.
    pub fn session(&self) -> Option<Session> {
        let user = self
            .user
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()?;
        Some(Session {
            user,
            socket: self.socket.clone(),
        })
    }

    pub fn bind(&self, user: UserId) {
        *self.user.lock().unwrap_or_else(|p| p.into_inner()) = Some(user);
    }
}

/// A place in the socket's queue of events.
#[derive(Debug)]
pub struct Ticket {
    number: u64,
    connection: Arc<Connection>,
}

impl Ticket {
    /// Waits until every earlier event of the socket is done; the turn ends on drop.
    pub async fn turn(self) -> Turn {
        let mut done = self.connection.done.subscribe();
        let number = self.number;
        // The sender lives in `connection`, which we hold: waiting cannot fail.
        let _ = done.wait_for(|finished| *finished >= number).await;
        Turn(self)
    }
}

/// Holding this means the socket's earlier events are done.
#[derive(Debug)]
pub struct Turn(Ticket);

impl Turn {
    pub fn connection(&self) -> &Arc<Connection> {
        &self.0.connection
    }
}

impl Drop for Turn {
    fn drop(&mut self) {
        let next = self.0.number + 1;
        self.0
            .connection
            .done
            .send_modify(|finished| *finished = (*finished).max(next));
    }
}

/// Where an arriving event stands.
#[derive(Debug)]
pub enum Place {
    /// In the socket's queue.
    Queued(Ticket),
    /// Too many events already wait: refused without a place.
    Full,
    /// The socket is not chatzz's (no [`Connection`]): never expected.
    Unknown,
}

/// The extractor: a place taken when the event arrives, and whether the client wants
/// an acknowledgement (socketioxide's own ack sender does not tell).
#[derive(Debug)]
pub struct Arrival {
    pub place: Place,
    pub wants_ack: bool,
}

impl<A: Adapter> FromMessageParts<A> for Arrival {
    type Error = Infallible;

    fn from_message_parts(
        socket: &Arc<Socket<A>>,
        _: &mut Value,
        ack_id: &Option<i64>,
    ) -> Result<Self, Infallible> {
        let place = match socket.extensions.get::<Arc<Connection>>() {
            Some(connection) => match connection.ticket_if_room() {
                Some(ticket) => Place::Queued(ticket),
                None => Place::Full,
            },
            None => Place::Unknown,
        };
        Ok(Self {
            place,
            wants_ack: ack_id.is_some(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn turns_run_in_ticket_order_whatever_order_tasks_start() {
        let connection = Connection::new(SocketId::new("s"), None, 64);
        let tickets: Vec<Ticket> = (0..5).map(|_| connection.ticket()).collect();
        let order = Arc::new(Mutex::new(Vec::new()));
        let mut tasks = Vec::new();
        // Start the tasks in reverse order; they must still run 0, 1, 2, 3, 4.
        for (i, ticket) in tickets.into_iter().enumerate().rev() {
            let order = order.clone();
            tasks.push(tokio::spawn(async move {
                let _turn = ticket.turn().await;
                tokio::time::sleep(Duration::from_millis(2)).await;
                order.lock().unwrap_or_else(|p| p.into_inner()).push(i);
            }));
        }
        for task in tasks {
            task.await.unwrap_or_else(|e| panic!("task failed: {e}"));
        }
        assert_eq!(
            *order.lock().unwrap_or_else(|p| p.into_inner()),
            vec![0, 1, 2, 3, 4]
        );
    }

    #[tokio::test]
    async fn a_full_queue_refuses_events_without_giving_them_a_place() {
        let connection = Connection::new(SocketId::new("s"), None, 2);
        let first = connection
            .ticket_if_room()
            .unwrap_or_else(|| panic!("room for one"));
        let second = connection
            .ticket_if_room()
            .unwrap_or_else(|| panic!("room for two"));
        assert!(connection.ticket_if_room().is_none(), "two wait already");
        assert!(connection.ticket_if_room().is_none(), "still full");
        drop(first.turn().await);
        let third = connection
            .ticket_if_room()
            .unwrap_or_else(|| panic!("room again"));
        assert_eq!(third.number, 2, "refused events took no number");
        drop(second.turn().await);
        drop(third.turn().await);
    }
}
