//! The writer task: takes what is queued, has it committed, answers; and the supervisor
//! that restarts it.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use chatzz_core::StoreError;
use tokio::sync::{Mutex, mpsc};

use crate::group_commit::writer::Job;
use crate::group_commit::{Committer, Op};

/// Shared by the supervisor and its worker, so the queue outlives a worker that panics.
type Queue = Arc<Mutex<mpsc::Receiver<Job>>>;

/// Runs the writer, restarting it if it panics.
pub(crate) async fn supervise<C: Committer>(
    queue: Queue,
    committer: Arc<C>,
    batches: Arc<AtomicU64>,
) {
    loop {
        let worker = tokio::spawn(work(
            Arc::clone(&queue),
            Arc::clone(&committer),
            Arc::clone(&batches),
        ));
        match worker.await {
            Err(err) if err.is_panic() => {
                tracing::error!("the {} writer panicked; restarting it", C::DATABASE);
            }
            // Every handle is gone, or the runtime is shutting down.
            _ => return,
        }
    }
}

async fn work<C: Committer>(queue: Queue, committer: Arc<C>, batches: Arc<AtomicU64>) {
    // The connection of the batches in progress. It is kept while more work is queued,
    // so a busy writer does not pay the pool's check of a connection (a round trip)
    // for each batch, and given back as soon as the queue runs dry, so that closing the
    // pool never waits for it.
    let mut held: Option<C::Connection> = None;
    loop {
        let mut jobs = {
            let mut queue = queue.lock().await;
            let first = match queue.try_recv() {
                Ok(job) => job,
                Err(_) => {
                    held = None;
                    let Some(job) = queue.recv().await else {
                        return;
                    };
                    job
                }
            };
            let mut jobs = vec![first];
            while jobs.len() < C::MAX_BATCH {
                match queue.try_recv() {
                    Ok(job) => jobs.push(job),
                    Err(_) => break,
                }
            }
            jobs
        };
        // A caller that gave up (timed out) no longer needs its write.
        jobs.retain(|job| !job.reply.is_closed());
        if jobs.is_empty() {
            continue;
        }
        batches.fetch_add(1, Ordering::Relaxed);
        let ops: Vec<&Op> = jobs.iter().map(|job| &job.op).collect();
        if committer.closed() {
            held = None;
            committer.close().await;
        }
        let conn = match held.take() {
            Some(conn) => Ok(conn),
            None => committer.acquire().await,
        };
        let result = match conn {
            Ok(mut conn) => {
                let result = committer.commit(&mut conn, &ops).await;
                // After a failure of the whole batch the connection may be broken: the
                // pool checks it before anyone uses it again.
                if result.is_ok() {
                    held = Some(conn);
                }
                result
            }
            Err(err) => Err(err),
        };
        match result {
            Ok(answers) => {
                for (job, answer) in jobs.into_iter().zip(answers) {
                    let _ = job.reply.send(answer);
                }
            }
            Err(err) => {
                for job in jobs {
                    let _ = job.reply.send(Err(err.clone()));
                }
                if matches!(err, StoreError::Unavailable(_)) {
                    // The database is out of reach: answer everyone waiting now rather
                    // than let each batch wait out its own timeout.
                    let mut queue = queue.lock().await;
                    while let Ok(job) = queue.try_recv() {
                        let _ = job.reply.send(Err(err.clone()));
                    }
                }
            }
        }
    }
}
