//! The handle callers queue their writes through.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use chatzz_core::{NewMessage, StoreError, StoredMessage, UserId};
use tokio::sync::{Mutex, mpsc, oneshot};

use crate::group_commit::worker::supervise;
use crate::group_commit::{Answer, Committer, Done, Op};

/// Writes queued before callers wait to queue theirs.
pub(crate) const QUEUE: usize = 4096;

/// A queued write and where its answer goes.
#[derive(Debug)]
pub(crate) struct Job {
    pub(crate) op: Op,
    pub(crate) reply: oneshot::Sender<Answer>,
}

/// The handle callers queue writes through; clones share one writer task, which stops
/// when the last handle is dropped.
#[derive(Debug, Clone)]
pub struct Writer {
    jobs: mpsc::Sender<Job>,
    batches: Arc<AtomicU64>,
    database: &'static str,
}

impl Writer {
    /// A writer that commits through `committer`, and the future that runs it (and
    /// restarts it if it panics) until the last handle is dropped. The caller chooses
    /// where that future runs; while it does not, writes wait in the queue, and once it
    /// is dropped they fail.
    pub fn new<C: Committer>(committer: C) -> (Self, impl Future<Output = ()> + Send + 'static) {
        let (jobs, queue) = mpsc::channel(QUEUE);
        let batches = Arc::new(AtomicU64::new(0));
        let run = supervise(
            Arc::new(Mutex::new(queue)),
            Arc::new(committer),
            Arc::clone(&batches),
        );
        let writer = Self {
            jobs,
            batches,
            database: C::DATABASE,
        };
        (writer, run)
    }

    /// Batches taken off the queue so far.
    pub fn batches(&self) -> u64 {
        self.batches.load(Ordering::Relaxed)
    }

    /// Queues `op` and waits until it is committed (or failed).
    pub async fn write(&self, op: Op) -> Answer {
        let (reply, answer) = oneshot::channel();
        self.jobs.send(Job { op, reply }).await.map_err(|_| {
            StoreError::Unavailable(format!("the {} writer has stopped", self.database))
        })?;
        answer.await.map_err(|_| {
            StoreError::Unavailable(format!(
                "the {} writer stopped before committing",
                self.database
            ))
        })?
    }

    /// `insert_message` into the room with row id `room`: the stored message, and
    /// whether this write created it.
    pub async fn insert(
        &self,
        room: i64,
        message: NewMessage,
    ) -> Result<(StoredMessage, bool), StoreError> {
        self.write(Op::Insert { room, message })
            .await
            .and_then(Done::into_inserted)
    }

    /// `mark_sent` of these row ids (sorted, no duplicates, not empty): the messages
    /// this write moved.
    pub async fn mark_sent(&self, ids: Vec<i64>) -> Result<Vec<StoredMessage>, StoreError> {
        self.write(Op::MarkSent(ids))
            .await
            .and_then(Done::into_marked)
    }

    /// `read_up_to` in the room with row id `room`, up to the message with row id
    /// `up_to`, at `at` (epoch milliseconds): how many messages this write moved.
    pub async fn read_up_to(
        &self,
        room: i64,
        reader: UserId,
        up_to: i64,
        at: i64,
    ) -> Result<usize, StoreError> {
        self.write(Op::ReadUpTo {
            room,
            reader,
            up_to,
            at,
        })
        .await
        .and_then(Done::into_read_up_to)
    }

    /// Writes waiting in the queue.
    #[cfg(test)]
    pub(crate) fn queued(&self) -> usize {
        QUEUE - self.jobs.capacity()
    }
}
