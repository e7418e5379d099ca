//! Group commit for the hot writes (`insert_message` and `mark_sent`).
//!
//! Callers queue their write to one writer task and wait for its answer. The writer takes
//! everything queued at that moment (at most [`MAX_BATCH`]) and commits it in one
//! transaction, so concurrent senders share one fsync, while a lone sender is served at
//! once: the writer never waits for company. An answer is sent only after `COMMIT`
//! returned, so nothing acknowledged can be lost.
//!
//! A batch first runs as few multi-row statements (the fast path). If any statement
//! fails, the transaction is rolled back and the batch runs again one entry at a time,
//! each inside its own savepoint (the careful path), so one bad entry fails alone. Two
//! entries with the same sender and client message id in one batch store one message:
//! the fast path inserts the first and answers the second with it, the careful path
//! meets the first row through the unique index.
//!
//! The writer runs on its own thread and stops when the last handle is dropped; a
//! panicking writer is restarted and the callers of its batch get `Unavailable`.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use chatzz_core::{NewMessage, StoreError, StoredMessage};
use sqlx::pool::PoolConnection;
use sqlx::sqlite::{Sqlite, SqliteConnection, SqlitePool};
use sqlx::{Acquire, Connection};
use tokio::sync::{Mutex, mpsc, oneshot};

use super::{Queries, message_from, messages_from, sql, store_error};

/// Most writes committed in one transaction.
pub(crate) const MAX_BATCH: usize = 256;

/// Writes queued before callers wait to queue theirs.
const QUEUE: usize = 4096;

/// Rows per multi-row `INSERT`; every size up to this is one cached statement.
pub(crate) const INSERT_CHUNK: usize = 32;

/// Ids per `UPDATE ... IN (...)`.
pub(crate) const MARK_CHUNK: usize = 64;

/// One write.
#[derive(Debug)]
pub(crate) enum Op {
    /// `insert_message` into the room with this row id.
    Insert { room: i64, message: NewMessage },
    /// `mark_sent` of these row ids (sorted, no duplicates, not empty).
    MarkSent(Vec<i64>),
}

/// What a write did.
#[derive(Debug, Clone)]
pub(crate) enum Done {
    Inserted(StoredMessage, bool),
    Marked(Vec<StoredMessage>),
}

type Answer = Result<Done, StoreError>;

#[derive(Debug)]
struct Job {
    op: Op,
    reply: oneshot::Sender<Answer>,
}

/// The handle callers queue writes through; clones share the one writer task, which
/// stops when the last handle is dropped.
#[derive(Debug, Clone)]
pub(crate) struct Writer {
    jobs: mpsc::Sender<Job>,
    batches: Arc<AtomicU64>,
}

impl Writer {
    /// Starts the writer on a thread of its own. A writer task on the application's
    /// runtime waits behind every socket task woken by its last batch, once per
    /// statement; on its own thread its turns come at once (measured: about 20% more
    /// messages per second at 10,000/s, docs/benchmarks.md).
    pub(crate) fn spawn(pool: SqlitePool, q: Arc<Queries>) -> Result<Self, StoreError> {
        let (jobs, queue) = mpsc::channel(QUEUE);
        let batches = Arc::new(AtomicU64::new(0));
        let run = supervise(Arc::new(Mutex::new(queue)), pool, q, Arc::clone(&batches));
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| StoreError::Internal(format!("cannot start the SQLite writer: {e}")))?;
        std::thread::Builder::new()
            .name("chatzz-sqlite-writer".into())
            .spawn(move || runtime.block_on(run))
            .map_err(|e| StoreError::Internal(format!("cannot start the SQLite writer: {e}")))?;
        Ok(Self { jobs, batches })
    }

    /// Batches taken off the queue so far.
    pub(crate) fn batches(&self) -> u64 {
        self.batches.load(Ordering::Relaxed)
    }

    /// Queues `op` and waits until it is committed (or failed).
    pub(crate) async fn write(&self, op: Op) -> Answer {
        let (reply, answer) = oneshot::channel();
        self.jobs
            .send(Job { op, reply })
            .await
            .map_err(|_| StoreError::Unavailable("the SQLite writer has stopped".into()))?;
        answer.await.map_err(|_| {
            StoreError::Unavailable("the SQLite writer stopped before committing".into())
        })?
    }
}

type Queue = Arc<Mutex<mpsc::Receiver<Job>>>;

/// Runs the writer, restarting it if it panics.
async fn supervise(queue: Queue, pool: SqlitePool, q: Arc<Queries>, batches: Arc<AtomicU64>) {
    loop {
        let worker = tokio::spawn(work(
            Arc::clone(&queue),
            pool.clone(),
            Arc::clone(&q),
            Arc::clone(&batches),
        ));
        match worker.await {
            Err(err) if err.is_panic() => {
                tracing::error!("the SQLite writer panicked; restarting it");
            }
            // Every handle is gone, or the runtime is shutting down.
            _ => return,
        }
    }
}

async fn work(queue: Queue, pool: SqlitePool, q: Arc<Queries>, batches: Arc<AtomicU64>) {
    // The connection of the batches in progress. It is kept while more work is queued,
    // so a busy writer does not pay the pool's check of a connection (a round trip)
    // for each batch, and given back as soon as the queue runs dry, so that closing the
    // pool never waits for it.
    let mut held: Option<PoolConnection<Sqlite>> = None;
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
            while jobs.len() < MAX_BATCH {
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
        if pool.is_closed() {
            held = None;
        }
        let conn = match held.take() {
            Some(conn) => Ok(conn),
            None => pool.acquire().await.map_err(store_error),
        };
        let result = match conn {
            Ok(mut conn) => {
                let result = commit(&mut conn, &q, &ops).await;
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

/// A failed entry: the error to answer, and whether it may have ended the transaction
/// (then nothing after it in the transaction can be trusted).
#[derive(Debug)]
struct Failed {
    error: StoreError,
    fatal: bool,
}

impl From<StoreError> for Failed {
    fn from(error: StoreError) -> Self {
        Self {
            error,
            fatal: false,
        }
    }
}

impl From<sqlx::Error> for Failed {
    fn from(err: sqlx::Error) -> Self {
        let fatal = match &err {
            // A constraint or a bad value fails only its own statement.
            sqlx::Error::Database(db) => db
                .code()
                .and_then(|code| code.parse::<i64>().ok())
                // SQLITE_BUSY, LOCKED, NOMEM, IOERR, FULL may roll the transaction back.
                .is_none_or(|code| matches!(code & 0xff, 5 | 6 | 7 | 10 | 13)),
            sqlx::Error::RowNotFound
            | sqlx::Error::ColumnNotFound(_)
            | sqlx::Error::ColumnDecode { .. }
            | sqlx::Error::Decode(_)
            | sqlx::Error::Encode(_) => false,
            _ => true,
        };
        Self {
            error: store_error(err),
            fatal,
        }
    }
}

/// Commits `ops` and answers each; `Err` when the whole batch failed.
async fn commit(
    conn: &mut SqliteConnection,
    q: &Queries,
    ops: &[&Op],
) -> Result<Vec<Answer>, StoreError> {
    if let [op] = ops {
        // One statement (or an insert and a read) needs no transaction of its own.
        return Ok(vec![one(conn, q, op).await.map_err(|f| f.error)]);
    }
    let mut tx = conn
        .begin_with("BEGIN IMMEDIATE")
        .await
        .map_err(store_error)?;
    match fast(&mut tx, q, ops).await {
        Ok(answers) => {
            tx.commit().await.map_err(store_error)?;
            Ok(answers)
        }
        Err(failed) => {
            tx.rollback().await.map_err(store_error)?;
            tracing::debug!(error = %failed.error, entries = ops.len(), "batch failed; retrying entry by entry");
            careful(conn, q, ops).await
        }
    }
}

/// Each entry in a savepoint of its own, in one transaction.
async fn careful(
    conn: &mut SqliteConnection,
    q: &Queries,
    ops: &[&Op],
) -> Result<Vec<Answer>, StoreError> {
    let mut tx = conn
        .begin_with("BEGIN IMMEDIATE")
        .await
        .map_err(store_error)?;
    let mut answers = Vec::with_capacity(ops.len());
    for op in ops {
        let mut savepoint = tx.begin().await.map_err(store_error)?;
        match one(&mut savepoint, q, op).await {
            Ok(done) => {
                savepoint.commit().await.map_err(store_error)?;
                answers.push(Ok(done));
            }
            Err(Failed { error, fatal: true }) => return Err(error),
            Err(Failed { error, .. }) => {
                savepoint.rollback().await.map_err(store_error)?;
                answers.push(Err(error));
            }
        }
    }
    tx.commit().await.map_err(store_error)?;
    Ok(answers)
}

/// One write on its own, as the store did it before batching.
async fn one(conn: &mut SqliteConnection, q: &Queries, op: &Op) -> Result<Done, Failed> {
    match op {
        Op::Insert { room, message } => {
            let client_id = message.client_message_id.as_ref().map(|c| c.as_str());
            let inserted = sqlx::query(sql(&q.insert_values[0]))
                .bind(room)
                .bind(message.from.as_str())
                .bind(message.to.as_str())
                .bind(message.text.as_str())
                .bind(message.created_at.millis())
                .bind(client_id)
                .fetch_optional(&mut *conn)
                .await?;
            if let Some(row) = inserted {
                return Ok(Done::Inserted(message_from(&row)?, true));
            }
            // Only a known client message id makes the insert do nothing.
            let first = find_by_client_id(conn, q, message).await?;
            Ok(Done::Inserted(first, false))
        }
        Op::MarkSent(ids) => {
            let mut moved = Vec::with_capacity(ids.len());
            for chunk in ids.chunks(MARK_CHUNK) {
                moved.extend(mark_sent(conn, q, chunk).await?);
            }
            moved.sort_by(|a, b| a.id.cmp(&b.id));
            Ok(Done::Marked(moved))
        }
    }
}

async fn find_by_client_id(
    conn: &mut SqliteConnection,
    q: &Queries,
    message: &NewMessage,
) -> Result<StoredMessage, Failed> {
    let client_id = message.client_message_id.as_ref().map(|c| c.as_str());
    let row = sqlx::query(sql(&q.find_by_client_id))
        .bind(message.from.as_str())
        .bind(client_id)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or_else(|| {
            StoreError::Internal(format!(
                "message {client_id:?} of {} neither inserted nor found",
                message.from
            ))
        })?;
    Ok(message_from(&row)?)
}

async fn mark_sent(
    conn: &mut SqliteConnection,
    q: &Queries,
    ids: &[i64],
) -> Result<Vec<StoredMessage>, Failed> {
    let mut query = sqlx::query(sql(&q.mark_sent[ids.len() - 1]));
    for id in ids {
        query = query.bind(*id);
    }
    let rows = query.fetch_all(&mut *conn).await?;
    Ok(messages_from(&rows)?)
}

/// Who sent a message and with which client message id.
type ClientKey<'a> = (&'a str, &'a str);

fn client_key(message: &NewMessage) -> Option<ClientKey<'_>> {
    message
        .client_message_id
        .as_ref()
        .map(|c| (message.from.as_str(), c.as_str()))
}

/// The whole batch in few statements; any failure sends it down the careful path.
async fn fast(
    conn: &mut SqliteConnection,
    q: &Queries,
    ops: &[&Op],
) -> Result<Vec<Answer>, Failed> {
    let mut answers: Vec<Option<Answer>> = vec![None; ops.len()];

    // Inserts: the first entry of each (sender, client message id) is written, later
    // ones answer with what the first got.
    let mut writes: Vec<(usize, i64, &NewMessage)> = Vec::new();
    let mut repeats: Vec<(usize, usize)> = Vec::new();
    let mut first_with: HashMap<ClientKey<'_>, usize> = HashMap::new();
    for (i, op) in ops.iter().enumerate() {
        if let Op::Insert { room, message } = op {
            match client_key(message).map(|key| (key, first_with.get(&key).copied())) {
                Some((_, Some(first))) => repeats.push((i, first)),
                Some((key, None)) => {
                    first_with.insert(key, i);
                    writes.push((i, *room, message));
                }
                None => writes.push((i, *room, message)),
            }
        }
    }
    let mut rows = Vec::with_capacity(writes.len());
    for chunk in writes.chunks(INSERT_CHUNK) {
        let mut query = sqlx::query(sql(&q.insert_values[chunk.len() - 1]));
        for (_, room, message) in chunk {
            query = query
                .bind(*room)
                .bind(message.from.as_str())
                .bind(message.to.as_str())
                .bind(message.text.as_str())
                .bind(message.created_at.millis())
                .bind(message.client_message_id.as_ref().map(|c| c.as_str()));
        }
        rows.extend(messages_from(&query.fetch_all(&mut *conn).await?)?);
    }
    // Rows are numbered in the order they were listed. Those with a client message id
    // are matched by it; the others, in id order, belong to the entries without one.
    rows.sort_by(|a, b| a.id.cmp(&b.id));
    let mut keyed: HashMap<(String, String), StoredMessage> = HashMap::new();
    let mut unkeyed: VecDeque<StoredMessage> = VecDeque::new();
    for row in rows {
        match &row.client_message_id {
            Some(c) => {
                keyed.insert((row.from.as_str().to_owned(), c.as_str().to_owned()), row);
            }
            None => unkeyed.push_back(row),
        }
    }
    for (i, _, message) in &writes {
        let done = match client_key(message) {
            Some((from, client_id)) => {
                match keyed.remove(&(from.to_owned(), client_id.to_owned())) {
                    Some(row) => Done::Inserted(row, true),
                    None => Done::Inserted(find_by_client_id(conn, q, message).await?, false),
                }
            }
            None => Done::Inserted(
                unkeyed.pop_front().ok_or_else(|| {
                    StoreError::Internal("a batch insert returned too few rows".into())
                })?,
                true,
            ),
        };
        answers[*i] = Some(Ok(done));
    }
    if !keyed.is_empty() || !unkeyed.is_empty() {
        return Err(StoreError::Internal("a batch insert returned unexpected rows".into()).into());
    }
    for (i, first) in repeats {
        if let Some(Ok(Done::Inserted(row, _))) = &answers[first] {
            answers[i] = Some(Ok(Done::Inserted(row.clone(), false)));
        }
    }

    // Marks: one update for every id, each moved row to the first entry that asked.
    let mut ids: Vec<i64> = ops
        .iter()
        .filter_map(|op| match op {
            Op::MarkSent(ids) => Some(ids.iter().copied()),
            Op::Insert { .. } => None,
        })
        .flatten()
        .collect();
    ids.sort_unstable();
    ids.dedup();
    let mut moved: HashMap<i64, StoredMessage> = HashMap::new();
    for chunk in ids.chunks(MARK_CHUNK) {
        for row in mark_sent(conn, q, chunk).await? {
            let id = super::row_id(row.id.as_str()).ok_or_else(|| {
                StoreError::Internal(format!("bad id {} from the database", row.id))
            })?;
            moved.insert(id, row);
        }
    }
    for (i, op) in ops.iter().enumerate() {
        if let Op::MarkSent(ids) = op {
            // `ids` is sorted, so the moved rows come out in id order.
            let mine = ids.iter().filter_map(|id| moved.remove(id)).collect();
            answers[i] = Some(Ok(Done::Marked(mine)));
        }
    }

    answers
        .into_iter()
        .map(|answer| {
            answer.ok_or_else(|| Failed::from(StoreError::Internal("an entry was skipped".into())))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use chatzz_core::{
        ChatRoomId, ChatStore, ClientMessageId, MessageStatus, MessageText, NewMessage, StoreError,
        Timestamp, UserId, sequence,
    };

    use super::{Answer, Done, Op, commit};
    use crate::SqliteStore;
    use crate::tests::fresh_store;

    fn user(name: &str) -> UserId {
        UserId::parse(name).expect("user id")
    }

    fn insert(room: &ChatRoomId, text: &str, client_id: Option<&str>) -> Op {
        Op::Insert {
            room: crate::row_id(room.as_str()).expect("room id"),
            message: NewMessage {
                room: room.clone(),
                from: user("alice"),
                to: user("bob"),
                text: MessageText::parse(text.to_owned(), 1000).expect("text"),
                created_at: Timestamp::from_millis(1_000).expect("time"),
                client_message_id: client_id.map(|c| ClientMessageId::parse(c).expect("id")),
            },
        }
    }

    async fn run(store: &SqliteStore, ops: &[Op]) -> Vec<Answer> {
        let ops: Vec<&Op> = ops.iter().collect();
        let mut conn = store.pool.acquire().await.expect("connection");
        commit(&mut conn, &store.sql, &ops).await.expect("batch")
    }

    fn inserted(answer: &Answer) -> (String, String, bool) {
        match answer {
            Ok(Done::Inserted(m, created)) => (m.id.as_str().to_owned(), m.text.clone(), *created),
            other => panic!("not an insert: {other:?}"),
        }
    }

    #[tokio::test]
    async fn a_batch_numbers_rows_in_queue_order_and_answers_repeats_with_the_first() {
        let store = fresh_store().await;
        let room = store
            .link(&user("alice"), &user("bob"))
            .await
            .expect("link")
            .room;
        let ops: Vec<Op> = (0..40)
            .map(|i| match i % 5 {
                0 => insert(
                    &room,
                    &format!("k{}", i / 10),
                    Some(&format!("k{}", i / 10)),
                ),
                _ => insert(&room, &format!("m{i}"), None),
            })
            .collect();
        let answers = run(&store, &ops).await;
        let mut last = String::new();
        for (i, answer) in answers.iter().enumerate() {
            let (id, text, created) = inserted(answer);
            if i % 5 == 0 {
                assert_eq!(text, format!("k{}", i / 10));
                assert_eq!(created, i % 10 == 0, "the first of the twins is created");
                if i % 10 == 5 {
                    assert_eq!(id, inserted(&answers[i - 5]).0, "the twin gets the first");
                    continue;
                }
            } else {
                assert_eq!(text, format!("m{i}"));
                assert!(created);
            }
            assert!(id > last, "ids follow the queue");
            last = id;
        }
        assert_eq!(store.write_batches(), 0, "commit() was called directly");
    }

    #[tokio::test]
    async fn a_bad_entry_fails_alone_and_the_rest_still_commit_together() {
        let store = fresh_store().await;
        let room = store
            .link(&user("alice"), &user("bob"))
            .await
            .expect("link")
            .room;
        let (earlier, _) = store
            .insert_message(NewMessage {
                room: room.clone(),
                from: user("alice"),
                to: user("bob"),
                text: MessageText::parse("earlier".to_owned(), 1000).expect("text"),
                created_at: Timestamp::from_millis(1_000).expect("time"),
                client_message_id: None,
            })
            .await
            .expect("insert");
        let nowhere = ChatRoomId::new(sequence::encode(999));
        let ops = vec![
            insert(&room, "first", Some("x")),
            insert(&nowhere, "lost", None),
            insert(&room, "again", Some("x")),
            insert(&room, "plain", None),
            Op::MarkSent(vec![crate::row_id(earlier.id.as_str()).expect("id")]),
        ];
        let answers = run(&store, &ops).await;
        let (first, text, created) = inserted(&answers[0]);
        assert_eq!((text.as_str(), created), ("first", true));
        assert!(
            matches!(answers[1], Err(StoreError::Internal(_))),
            "{:?}",
            answers[1]
        );
        assert_eq!(inserted(&answers[2]), (first, "first".to_owned(), false));
        assert_eq!(inserted(&answers[3]).1, "plain");
        match &answers[4] {
            Ok(Done::Marked(moved)) => {
                assert_eq!(moved.len(), 1);
                assert_eq!(moved[0].id, earlier.id);
                assert_eq!(moved[0].status, MessageStatus::Sent);
            }
            other => panic!("{other:?}"),
        }
        let all = store
            .history(
                &room,
                &chatzz_core::HistoryQuery {
                    since: None,
                    before: None,
                    after: None,
                    limit: 100,
                },
            )
            .await
            .expect("history");
        let texts: Vec<_> = all.iter().map(|m| m.text.as_str()).collect();
        assert_eq!(texts, ["earlier", "first", "plain"]);
    }
}
