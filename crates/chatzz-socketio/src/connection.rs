//! Per-socket state: which user the socket is, and the order its events run in.
//!
//! socketioxide spawns a task per incoming event, so two events of one socket may run
//! out of order. Clients rely on order (`connect-user` then `send-message` without
//! waiting), so each event takes a ticket when it arrives, synchronously in arrival
//! order, and runs only when all earlier tickets are done. A finished turn wakes only
//! the next ticket's task, so a backlog costs one wake-up per event, not one per waiter.

use std::collections::{BTreeSet, HashMap};
use std::convert::Infallible;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use chatzz_core::{Session, SocketId, UserId};
use socketioxide::adapter::Adapter;
use socketioxide::handler::{FromMessageParts, Value};
use socketioxide::socket::Socket;
use tokio::sync::oneshot;

use crate::handshake::Slot;
use crate::outbound::OutboundBudget;

/// The state chatzz keeps for one socket, stored in its extensions.
#[derive(Debug)]
pub struct Connection {
    pub socket: SocketId,
    /// Who the handshake credential proved the client to be, if authentication is on.
    pub verified: Option<UserId>,
    /// Most events that may wait for the ones before them.
    max_queued: u64,
    user: Mutex<Option<UserId>>,
    queue: Mutex<Queue>,
    outbound: Mutex<OutboundBudget>,
    /// The verified user's place among their sockets on this server, given back when
    /// the socket disconnects (not when its last task ends: a departure retried through
    /// a store outage must not hold the place).
    slot: Mutex<Option<Slot>>,
    /// Ends the socket when its credential expires; stopped when the socket goes.
    expiry: Mutex<Option<tokio::task::AbortHandle>>,
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.stop_expiry();
    }
}

/// The socket's tickets: which may run, which wait, which were given up.
#[derive(Debug, Default)]
struct Queue {
    /// The next ticket number to issue.
    issued: u64,
    /// The ticket whose turn it is: every lower number is done.
    current: u64,
    /// Tickets waiting for their turn, woken one at a time.
    waiting: HashMap<u64, oneshot::Sender<()>>,
    /// Tickets dropped before their turn came: skipped when it does.
    abandoned: BTreeSet<u64>,
}

impl Queue {
    fn issue(&mut self) -> u64 {
        self.issued += 1;
        self.issued - 1
    }

    /// Ends the current turn and hands it to the next ticket still wanted.
    fn advance(&mut self) {
        self.current += 1;
        while self.abandoned.remove(&self.current) {
            self.current += 1;
        }
        if let Some(next) = self.waiting.remove(&self.current) {
            // A receiver gone means its ticket is being dropped: that drop sees the turn
            // is its own (no longer waiting) and passes it on.
            let _ = next.send(());
        }
    }
}

impl Connection {
    #[cfg(test)]
    pub fn new(socket: SocketId, verified: Option<UserId>, max_queued: u64) -> Arc<Self> {
        Self::with_limits(socket, verified, max_queued, usize::MAX, None)
    }

    pub fn with_limits(
        socket: SocketId,
        verified: Option<UserId>,
        max_queued: u64,
        outbound_bytes: usize,
        slot: Option<Slot>,
    ) -> Arc<Self> {
        Arc::new(Self {
            socket,
            verified,
            max_queued,
            user: Mutex::new(None),
            queue: Mutex::new(Queue::default()),
            outbound: Mutex::new(OutboundBudget::new(outbound_bytes)),
            slot: Mutex::new(slot),
            expiry: Mutex::new(None),
        })
    }

    fn outbound(&self) -> MutexGuard<'_, OutboundBudget> {
        self.outbound.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether a reply of up to `largest` bytes fits the outbound budget now.
    pub fn has_outbound_room(&self, largest: usize) -> bool {
        self.outbound().has_room_for(largest, Instant::now())
    }

    /// Counts `bytes` of a large reply queued to this socket.
    pub fn spend_outbound(&self, bytes: usize) {
        self.outbound().spend(bytes, Instant::now());
    }

    /// Remembers the task that ends the socket at its credential's expiry.
    pub fn set_expiry(&self, task: tokio::task::AbortHandle) {
        *self.expiry.lock().unwrap_or_else(|p| p.into_inner()) = Some(task);
    }

    /// Gives the socket's place among its user's sockets back (the socket is gone).
    pub fn release_slot(&self) {
        drop(self.slot.lock().unwrap_or_else(|p| p.into_inner()).take());
    }

    /// Stops the expiry task (the socket is gone).
    pub fn stop_expiry(&self) {
        if let Some(task) = self.expiry.lock().unwrap_or_else(|p| p.into_inner()).take() {
            task.abort();
        }
    }

    fn queue(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The next ticket, in arrival order.
    pub fn ticket(self: &Arc<Self>) -> Ticket {
        Ticket {
            number: self.queue().issue(),
            connection: self.clone(),
        }
    }

    /// The next ticket, unless `max_queued` events already wait: then `None`, and the
    /// event takes no place in the queue, so it delays nothing.
    pub fn ticket_if_room(self: &Arc<Self>) -> Option<Ticket> {
        let mut queue = self.queue();
        (queue.issued - queue.current < self.max_queued).then(|| Ticket {
            number: queue.issue(),
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

/// A place in the socket's queue of events. Dropping it, before or after its turn,
/// gives up the place: the queue never stalls on a cancelled event.
#[derive(Debug)]
pub struct Ticket {
    number: u64,
    connection: Arc<Connection>,
}

impl Ticket {
    /// Waits until every earlier event of the socket is done; the turn ends on drop.
    pub async fn turn(self) -> Turn {
        let woken = {
            let mut queue = self.connection.queue();
            (queue.current != self.number).then(|| {
                let (wake, woken) = oneshot::channel();
                queue.waiting.insert(self.number, wake);
                woken
            })
        };
        if let Some(woken) = woken {
            // The sender is only dropped by sending or by this ticket's own drop.
            let _ = woken.await;
        }
        Turn(self)
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        let mut queue = self.connection.queue();
        queue.waiting.remove(&self.number);
        if queue.current == self.number {
            queue.advance();
        } else {
            queue.abandoned.insert(self.number);
        }
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

    #[tokio::test]
    async fn a_ticket_dropped_before_its_turn_is_skipped() {
        let connection = Connection::new(SocketId::new("s"), None, 64);
        let first = connection.ticket();
        let second = connection.ticket();
        let third = connection.ticket();
        let running = first.turn().await;
        drop(second);
        let waiter = tokio::spawn(third.turn());
        drop(running);
        let third = tokio::time::timeout(Duration::from_secs(5), waiter)
            .await
            .unwrap_or_else(|_| panic!("the third ticket never got its turn"))
            .unwrap_or_else(|e| panic!("task failed: {e}"));
        assert_eq!(third.0.number, 2);
    }

    #[tokio::test]
    async fn a_cancelled_wait_passes_the_turn_on() {
        let connection = Connection::new(SocketId::new("s"), None, 64);
        let first = connection.ticket();
        let second = connection.ticket();
        let third = connection.ticket();
        let running = first.turn().await;
        // The second event's task is cancelled while it waits.
        let cancelled = tokio::spawn(second.turn());
        tokio::task::yield_now().await;
        cancelled.abort();
        assert!(cancelled.await.is_err_and(|e| e.is_cancelled()));
        drop(running);
        let third = tokio::time::timeout(Duration::from_secs(5), third.turn())
            .await
            .unwrap_or_else(|_| panic!("the queue stalled on a cancelled wait"));
        assert_eq!(third.0.number, 2);
        drop(third);
        assert_eq!(connection.queue().current, 3);
        assert!(connection.queue().waiting.is_empty());
        assert!(connection.queue().abandoned.is_empty());
    }

    #[tokio::test]
    async fn a_turn_handed_over_but_never_taken_passes_on() {
        let connection = Connection::new(SocketId::new("s"), None, 64);
        let first = connection.ticket();
        let second = connection.ticket();
        let third = connection.ticket();
        let running = first.turn().await;
        let waiting = tokio::spawn(second.turn());
        tokio::task::yield_now().await;
        // The hand-over to the second ticket and its cancellation race.
        drop(running);
        waiting.abort();
        let _ = waiting.await;
        let third = tokio::time::timeout(Duration::from_secs(5), third.turn())
            .await
            .unwrap_or_else(|_| panic!("the queue stalled after a hand-over"));
        assert_eq!(third.0.number, 2);
    }
}
