//! The writer's skeleton against a fake committer: no database, no sleeps.

mod fake;

use std::sync::Arc;
use std::sync::atomic::Ordering;

use chatzz_core::StoreError;
use tokio::task::JoinHandle;

use self::fake::{BROKEN, Control, PANIC, UNAVAILABLE, answered, fake};
use crate::group_commit::{Answer, Op, Writer};

/// A writer on a fake whose gate is shut, running on the test's runtime.
fn start() -> (Writer, Control) {
    let (fake, control) = fake();
    let (writer, run) = Writer::new(fake);
    tokio::spawn(run);
    (writer, control)
}

fn op(id: i64) -> Op {
    Op::MarkSent(vec![id])
}

/// Writes `id` from a task of its own.
fn send(writer: &Writer, id: i64) -> JoinHandle<Answer> {
    let writer = writer.clone();
    tokio::spawn(async move { writer.write(op(id)).await })
}

/// Writes `id` and returns once it is in the queue (the writer must be busy).
async fn queue(writer: &Writer, id: i64) -> JoinHandle<Answer> {
    let before = writer.queued();
    let task = send(writer, id);
    until(|| writer.queued() > before).await;
    task
}

/// Lets the other tasks run until `done` holds.
async fn until(done: impl Fn() -> bool) {
    for _ in 0..100_000 {
        if done() {
            return;
        }
        tokio::task::yield_now().await;
    }
    panic!("never happened");
}

async fn answer(task: JoinHandle<Answer>) -> Answer {
    task.await.expect("the caller's task")
}

#[tokio::test(start_paused = true)]
async fn a_lone_write_is_answered_at_once() {
    let (writer, control) = start();
    control.open();
    let started = tokio::time::Instant::now();
    let got = writer.write(op(7)).await;
    assert_eq!(answered(&got), 7);
    // The clock is paused and moves only when every task waits for a timer: nothing did.
    assert_eq!(tokio::time::Instant::now(), started, "the writer waited");
    assert_eq!(control.log.batches(), [[7]]);
    assert_eq!(writer.batches(), 1);
}

#[tokio::test]
async fn a_batch_takes_everything_queued_up_to_the_most() {
    let (writer, mut control) = start();
    let first = send(&writer, 0);
    control.entered().await;
    let mut rest = Vec::new();
    for id in 1..=9 {
        rest.push(queue(&writer, id).await);
    }
    control.open();
    assert_eq!(answered(&answer(first).await), 0);
    for (id, task) in (1..).zip(rest) {
        assert_eq!(
            answered(&answer(task).await),
            id,
            "each caller gets its own"
        );
    }
    // The fake's most is 4.
    assert_eq!(
        control.log.batches(),
        [vec![0], vec![1, 2, 3, 4], vec![5, 6, 7, 8], vec![9]]
    );
    assert_eq!(writer.batches(), 4);
    // One connection while work kept coming, given back once the queue ran dry.
    assert_eq!(control.log.acquired.load(Ordering::SeqCst), 1);
    until(|| control.log.given_back.load(Ordering::SeqCst) == 1).await;
    assert_eq!(answered(&writer.write(op(10)).await), 10);
    assert_eq!(control.log.acquired.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn answers_come_only_after_the_commit_returned() {
    let (writer, mut control) = start();
    let log = Arc::clone(&control.log);
    let caller = tokio::spawn({
        let writer = writer.clone();
        async move {
            let got = writer.write(op(1)).await;
            (got, log.returned.load(Ordering::SeqCst))
        }
    });
    control.entered().await;
    for _ in 0..100 {
        tokio::task::yield_now().await;
    }
    assert!(!caller.is_finished(), "answered during the commit");
    control.release(1);
    let (got, returned) = caller.await.expect("caller");
    assert_eq!(answered(&got), 1);
    assert_eq!(returned, 1, "answered before the commit returned");
}

#[tokio::test]
async fn callers_that_gave_up_are_skipped() {
    let (writer, mut control) = start();
    let first = send(&writer, 0);
    control.entered().await;
    let one = queue(&writer, 1).await;
    let two = queue(&writer, 2).await;
    let three = queue(&writer, 3).await;
    two.abort();
    assert!(two.await.expect_err("aborted").is_cancelled());
    control.release(2);
    answer(first).await.expect("committed");
    assert_eq!(answered(&answer(one).await), 1);
    assert_eq!(answered(&answer(three).await), 3);
    control.entered().await;
    assert_eq!(control.log.batches(), [vec![0], vec![1, 3]]);

    // A batch of callers that all gave up is not a batch.
    let four = send(&writer, 4);
    control.entered().await;
    let five = queue(&writer, 5).await;
    five.abort();
    assert!(five.await.expect_err("aborted").is_cancelled());
    control.release(2);
    answer(four).await.expect("committed");
    assert_eq!(answered(&writer.write(op(6)).await), 6);
    assert_eq!(
        control.log.batches(),
        [vec![0], vec![1, 3], vec![4], vec![6]]
    );
    assert_eq!(writer.batches(), 4);
}

#[tokio::test]
async fn an_unavailable_batch_also_fails_everything_queued() {
    let (writer, mut control) = start();
    let failing = send(&writer, UNAVAILABLE);
    control.entered().await;
    let queued = [queue(&writer, 1).await, queue(&writer, 2).await];
    control.open();
    let unreachable = StoreError::Unavailable("unreachable".into());
    assert_eq!(answer(failing).await.expect_err("failed"), unreachable);
    for task in queued {
        assert_eq!(answer(task).await.expect_err("failed"), unreachable);
    }
    assert_eq!(control.log.batches(), [[UNAVAILABLE]], "answered unseen");
    // The writer goes on.
    assert_eq!(answered(&writer.write(op(3)).await), 3);
    assert_eq!(control.log.batches(), [[UNAVAILABLE], [3]]);
}

#[tokio::test]
async fn another_failed_batch_fails_only_itself() {
    let (writer, mut control) = start();
    let failing = send(&writer, BROKEN);
    control.entered().await;
    let queued = [queue(&writer, 1).await, queue(&writer, 2).await];
    control.open();
    assert_eq!(
        answer(failing).await.expect_err("failed"),
        StoreError::Internal("broken".into())
    );
    for (id, task) in (1..).zip(queued) {
        assert_eq!(answered(&answer(task).await), id);
    }
    assert_eq!(control.log.batches(), [vec![BROKEN], vec![1, 2]]);
    // Work kept coming, yet the next batch got a new connection: the failed one may be
    // broken.
    assert_eq!(control.log.acquired.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_panicking_writer_is_restarted_and_only_its_batch_fails() {
    let (writer, mut control) = start();
    let panicking = send(&writer, PANIC);
    control.entered().await;
    let queued = queue(&writer, 1).await;
    control.open();
    assert_eq!(
        answer(panicking).await.expect_err("failed"),
        StoreError::Unavailable("the Fake writer stopped before committing".into())
    );
    assert_eq!(answered(&answer(queued).await), 1, "the queue survived");
    assert_eq!(answered(&writer.write(op(2)).await), 2);
    assert_eq!(control.log.batches(), [[PANIC], [1], [2]]);
}

#[tokio::test]
async fn a_closed_store_gets_the_connection_back_before_closing() {
    let (writer, mut control) = start();
    let first = send(&writer, 1);
    control.entered().await;
    let second = queue(&writer, 2).await;
    control.log.closed.store(true, Ordering::SeqCst);
    control.open();
    assert_eq!(answered(&answer(first).await), 1);
    assert_eq!(
        answer(second).await.expect_err("closed"),
        StoreError::Unavailable("pool closed".into())
    );
    // The connection kept from the first batch came back before `close` ran.
    assert_eq!(*control.log.closes.lock().expect("log"), [1]);
    assert_eq!(control.log.batches(), [[1]]);
}

#[tokio::test]
async fn dropping_the_last_handle_stops_the_writer() {
    let (fake, control) = fake();
    control.open();
    let (writer, run) = Writer::new(fake);
    let running = tokio::spawn(run);
    let clone = writer.clone();
    drop(writer);
    assert_eq!(answered(&clone.write(op(1)).await), 1, "a clone keeps it");
    drop(clone);
    running.await.expect("the writer stopped cleanly");
    assert_eq!(Arc::strong_count(&control.log), 1, "the committer is gone");
}

#[tokio::test]
async fn a_writer_that_does_not_run_is_unavailable() {
    let (fake, _control) = fake();
    let (writer, run) = Writer::new(fake);
    drop(run);
    assert_eq!(
        writer.write(op(1)).await.expect_err("no writer"),
        StoreError::Unavailable("the Fake writer has stopped".into())
    );
}
