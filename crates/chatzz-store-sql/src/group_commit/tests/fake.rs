//! A committer without a database: it logs each batch, answers each write with its own
//! id, waits at a gate the test opens, and fails or panics when an id asks it to.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use chatzz_core::{
    ChatRoomId, MessageId, MessageStatus, StoreError, StoredMessage, Timestamp, UserId,
};
use tokio::sync::{Semaphore, mpsc};

use crate::group_commit::{Answer, Committer, Done, Op};

/// A batch with this id panics.
pub(super) const PANIC: i64 = -1;
/// A batch with this id fails as a whole, `Unavailable`.
pub(super) const UNAVAILABLE: i64 = -2;
/// A batch with this id fails as a whole, `Internal`.
pub(super) const BROKEN: i64 = -3;

/// What the fake did, for the test to check.
#[derive(Debug, Default)]
pub(super) struct Log {
    batches: Mutex<Vec<Vec<i64>>>,
    /// Connections acquired, and given back (dropped).
    pub(super) acquired: AtomicUsize,
    pub(super) given_back: AtomicUsize,
    /// Commits that returned.
    pub(super) returned: AtomicUsize,
    /// Set by the test: the store was closed.
    pub(super) closed: AtomicBool,
    /// Connections given back when `close` ran, once per run.
    pub(super) closes: Mutex<Vec<usize>>,
}

impl Log {
    /// The ids of each batch the committer was given, in order.
    pub(super) fn batches(&self) -> Vec<Vec<i64>> {
        self.batches.lock().expect("log").clone()
    }
}

#[derive(Debug)]
pub(super) struct Fake {
    log: Arc<Log>,
    gate: Arc<Semaphore>,
    entered: mpsc::UnboundedSender<()>,
}

/// The test's side of a [`Fake`].
#[derive(Debug)]
pub(super) struct Control {
    pub(super) log: Arc<Log>,
    gate: Arc<Semaphore>,
    entered: mpsc::UnboundedReceiver<()>,
}

/// A fake whose gate is shut: each commit waits for [`Control::release`].
pub(super) fn fake() -> (Fake, Control) {
    let log = Arc::new(Log::default());
    let gate = Arc::new(Semaphore::new(0));
    let (entered, entered_rx) = mpsc::unbounded_channel();
    let fake = Fake {
        log: Arc::clone(&log),
        gate: Arc::clone(&gate),
        entered,
    };
    let control = Control {
        log,
        gate,
        entered: entered_rx,
    };
    (fake, control)
}

impl Control {
    /// Waits until the next commit not waited for yet has begun (it may wait at the gate).
    pub(super) async fn entered(&mut self) {
        self.entered.recv().await.expect("a commit began");
    }

    /// Lets `commits` more commits through the gate.
    pub(super) fn release(&self, commits: usize) {
        self.gate.add_permits(commits);
    }

    /// Lets every commit through.
    pub(super) fn open(&self) {
        self.release(1 << 20);
    }
}

/// A connection that counts itself given back when dropped.
#[derive(Debug)]
pub(super) struct Conn(Arc<Log>);

impl Drop for Conn {
    fn drop(&mut self) {
        self.0.given_back.fetch_add(1, Ordering::SeqCst);
    }
}

/// The id a write carries: the test's writes are all `MarkSent([id])`.
pub(super) fn id_of(op: &Op) -> i64 {
    match op {
        Op::MarkSent(ids) => ids[0],
        Op::Insert { room, .. } => *room,
        Op::ReadUpTo { up_to, .. } => *up_to,
    }
}

/// The answer to the write with `id`: a message with that id.
fn stored(id: i64) -> StoredMessage {
    StoredMessage {
        id: MessageId::new(id.to_string()),
        room: ChatRoomId::new("1"),
        from: UserId::parse("a").expect("id"),
        to: UserId::parse("b").expect("id"),
        text: String::new(),
        status: MessageStatus::Sent,
        created_at: Timestamp::from_millis(0).expect("time"),
        read_at: None,
        client_message_id: None,
        edited_at: None,
        deleted_at: None,
    }
}

/// The id of the write `answer` answers.
pub(super) fn answered(answer: &Answer) -> i64 {
    match answer {
        Ok(Done::Marked(moved)) => moved[0].id.as_str().parse().expect("an id"),
        other => panic!("not an answer of the fake: {other:?}"),
    }
}

impl Committer for Fake {
    const DATABASE: &'static str = "Fake";
    const MAX_BATCH: usize = 4;
    type Connection = Conn;

    async fn acquire(&self) -> Result<Conn, StoreError> {
        if self.log.closed.load(Ordering::SeqCst) {
            return Err(StoreError::Unavailable("pool closed".into()));
        }
        self.log.acquired.fetch_add(1, Ordering::SeqCst);
        Ok(Conn(Arc::clone(&self.log)))
    }

    async fn commit(&self, _conn: &mut Conn, ops: &[&Op]) -> Result<Vec<Answer>, StoreError> {
        let ids: Vec<i64> = ops.iter().map(|op| id_of(op)).collect();
        self.log.batches.lock().expect("log").push(ids.clone());
        let _ = self.entered.send(());
        if let Ok(permit) = self.gate.acquire().await {
            permit.forget();
        }
        if ids.contains(&PANIC) {
            panic!("the fake was asked to panic");
        }
        if ids.contains(&UNAVAILABLE) {
            return Err(StoreError::Unavailable("unreachable".into()));
        }
        if ids.contains(&BROKEN) {
            return Err(StoreError::Internal("broken".into()));
        }
        self.log.returned.fetch_add(1, Ordering::SeqCst);
        Ok(ids
            .into_iter()
            .map(|id| Ok(Done::Marked(vec![stored(id)])))
            .collect())
    }

    fn closed(&self) -> bool {
        self.log.closed.load(Ordering::SeqCst)
    }

    async fn close(&self) {
        let given_back = self.log.given_back.load(Ordering::SeqCst);
        self.log.closes.lock().expect("log").push(given_back);
    }
}
