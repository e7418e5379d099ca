//! Group commit for the hot writes (`insert_message`, `mark_sent` and `mark_read`):
//! SQLite's part.
//!
//! Callers queue their write to one writer ([`Writer`], from `chatzz-group-commit`),
//! which takes everything queued at that moment (at most [`MAX_BATCH`]) and has it
//! committed here in one transaction, so concurrent senders share one fsync, while a
//! lone sender is served at once. An answer is sent only after `COMMIT` returned, so
//! nothing acknowledged can be lost.
//!
//! A batch first runs as few multi-row statements (the fast path): the inserts, then
//! every `mark_sent`, then every `mark_read`. If any statement fails, the transaction is
//! rolled back and the batch runs again one entry at a time, each inside its own
//! savepoint (the careful path), so one bad entry fails alone. Every entry gets what it
//! would get if the entries ran one at a time in queue order. Two entries with the same
//! sender and client message id store one message: the fast path inserts the first and
//! answers the second with it, the careful path meets the first row through the unique
//! index. Two reads of one message: the fast path reads it with the first one's time,
//! and the second moves nothing. A message both marked sent and read in one batch ends
//! up depending on their order, so such a batch takes the careful path at once.
//!
//! The writer runs on its own thread ([`spawn`]) and stops when the last handle is
//! dropped; a panicking writer is restarted and the callers of its batch get
//! `Unavailable`.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use chatzz_core::{NewMessage, StoreError, StoredMessage};
use chatzz_group_commit::{Answer, Committer, Done, Op, StatusChanges, Writer};
use sqlx::pool::PoolConnection;
use sqlx::sqlite::{Sqlite, SqliteConnection, SqlitePool};
use sqlx::{Acquire, Connection};

use super::{Queries, message_from, messages_from, sql, store_error};

/// Most writes committed in one transaction.
const MAX_BATCH: usize = 256;

/// Rows per multi-row `INSERT`; every size up to this is one cached statement.
pub(crate) const INSERT_CHUNK: usize = 32;

/// Ids per `UPDATE ... IN (...)`.
pub(crate) const MARK_CHUNK: usize = 64;

/// Reads per `UPDATE ... FROM (VALUES ...)`; every size up to this is one cached
/// statement.
pub(crate) const READ_CHUNK: usize = 32;

/// Starts the writer on a thread of its own. A writer task on the application's
/// runtime waits behind every socket task woken by its last batch, once per statement;
/// on its own thread its turns come at once (measured: about 20% more messages per
/// second at 10,000/s, docs/benchmarks.md).
pub(crate) fn spawn(pool: SqlitePool, q: Arc<Queries>) -> Result<Writer, StoreError> {
    let (writer, run) = Writer::new(Batches { pool, q });
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| StoreError::Internal(format!("cannot start the SQLite writer: {e}")))?;
    std::thread::Builder::new()
        .name("chatzz-sqlite-writer".into())
        .spawn(move || runtime.block_on(run))
        .map_err(|e| StoreError::Internal(format!("cannot start the SQLite writer: {e}")))?;
    Ok(writer)
}

/// SQLite's side of the writer: connections from the store's pool.
#[derive(Debug)]
struct Batches {
    pool: SqlitePool,
    q: Arc<Queries>,
}

impl Committer for Batches {
    const DATABASE: &'static str = "SQLite";
    const MAX_BATCH: usize = MAX_BATCH;
    type Connection = PoolConnection<Sqlite>;

    async fn acquire(&self) -> Result<Self::Connection, StoreError> {
        self.pool.acquire().await.map_err(store_error)
    }

    async fn commit(
        &self,
        conn: &mut Self::Connection,
        ops: &[&Op],
    ) -> Result<Vec<Answer>, StoreError> {
        commit(conn, &self.q, ops).await
    }

    /// A closed pool refuses new connections, so the next batch fails `Unavailable`.
    fn closed(&self) -> bool {
        self.pool.is_closed()
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
    let Some(changes) = StatusChanges::of(ops) else {
        return careful(conn, q, ops).await;
    };
    let mut tx = conn
        .begin_with("BEGIN IMMEDIATE")
        .await
        .map_err(store_error)?;
    match fast(&mut tx, q, ops, &changes).await {
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
        Op::MarkRead { id, at } => {
            let row = sqlx::query(sql(&q.mark_read))
                .bind(id)
                .bind(at)
                .fetch_optional(&mut *conn)
                .await?;
            Ok(Done::Read(row.as_ref().map(message_from).transpose()?))
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

/// Moves those of `reads` (id, read at) that are not `read` yet; returns them.
async fn mark_read(
    conn: &mut SqliteConnection,
    q: &Queries,
    reads: &[(i64, i64)],
) -> Result<Vec<StoredMessage>, Failed> {
    let mut query = sqlx::query(sql(&q.mark_read_values[reads.len() - 1]));
    for (id, at) in reads {
        query = query.bind(*id).bind(*at);
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
/// `changes` are the batch's status changes, which must not conflict.
async fn fast(
    conn: &mut SqliteConnection,
    q: &Queries,
    ops: &[&Op],
    changes: &StatusChanges,
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

    // Status changes: one update for every `mark_sent` id and one for every read (no
    // message is in both), each moved row to the first entry that asked.
    let mut moved_rows = Vec::new();
    for chunk in changes.sent.chunks(MARK_CHUNK) {
        moved_rows.extend(mark_sent(conn, q, chunk).await?);
    }
    for chunk in changes.read.chunks(READ_CHUNK) {
        moved_rows.extend(mark_read(conn, q, chunk).await?);
    }
    let mut moved: HashMap<i64, StoredMessage> = HashMap::new();
    for row in moved_rows {
        let id = super::row_id(row.id.as_str())
            .ok_or_else(|| StoreError::Internal(format!("bad id {} from the database", row.id)))?;
        moved.insert(id, row);
    }
    for (answer, op) in answers.iter_mut().zip(ops) {
        if let Some(done) = StatusChanges::answer(op, &mut moved) {
            *answer = Some(Ok(done));
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
    use chatzz_core::{ChatRoomId, ChatStore, MessageStatus, StoreError, sequence};
    use chatzz_group_commit::testing::{self, everything, insert, inserted, message, row_id, user};

    use sqlx::Connection;

    use super::{Answer, Done, Op, StatusChanges, careful, commit, fast};
    use crate::SqliteStore;
    use crate::tests::fresh_store;

    async fn run(store: &SqliteStore, ops: &[Op]) -> Vec<Answer> {
        let ops: Vec<&Op> = ops.iter().collect();
        let mut conn = store.pool.acquire().await.expect("connection");
        commit(&mut conn, &store.sql, &ops).await.expect("batch")
    }

    /// Only the fast path, which must not fail.
    async fn run_fast(store: &SqliteStore, ops: &[Op]) -> Vec<Answer> {
        let ops: Vec<&Op> = ops.iter().collect();
        let changes = StatusChanges::of(&ops).expect("no conflict");
        let mut conn = store.pool.acquire().await.expect("connection");
        let mut tx = conn.begin_with("BEGIN IMMEDIATE").await.expect("begin");
        let answers = match fast(&mut tx, &store.sql, &ops, &changes).await {
            Ok(answers) => answers,
            Err(failed) => panic!("the fast path failed: {failed:?}"),
        };
        tx.commit().await.expect("commit");
        answers
    }

    /// Only the careful path.
    async fn run_careful(store: &SqliteStore, ops: &[Op]) -> Vec<Answer> {
        let ops: Vec<&Op> = ops.iter().collect();
        let mut conn = store.pool.acquire().await.expect("connection");
        careful(&mut conn, &store.sql, &ops).await.expect("batch")
    }

    #[tokio::test]
    async fn a_batch_reads_each_message_once_in_queue_order() {
        let store = fresh_store().await;
        testing::a_batch_reads_each_message_once_in_queue_order(&store, async |ops| {
            run(&store, ops).await
        })
        .await;
    }

    #[tokio::test]
    async fn reads_take_the_fast_path() {
        let store = fresh_store().await;
        testing::a_batch_reads_each_message_once_in_queue_order(&store, async |ops| {
            run_fast(&store, ops).await
        })
        .await;
    }

    #[tokio::test]
    async fn the_careful_path_reads_as_the_fast_one() {
        let store = fresh_store().await;
        testing::a_batch_reads_each_message_once_in_queue_order(&store, async |ops| {
            run_careful(&store, ops).await
        })
        .await;
    }

    #[tokio::test]
    async fn a_batch_marking_one_message_sent_and_read_keeps_queue_order() {
        let store = fresh_store().await;
        testing::a_batch_marking_one_message_sent_and_read_keeps_queue_order(&store, async |ops| {
            run(&store, ops).await
        })
        .await;
    }

    #[tokio::test]
    async fn more_reads_than_a_statement_takes_all_move() {
        let store = fresh_store().await;
        let (alice, bob) = (user("alice"), user("bob"));
        let room = store.link(&alice, &bob).await.expect("link").room;
        let mut ops = Vec::new();
        for i in 0..super::READ_CHUNK * 2 + 3 {
            let (m, _) = store
                .insert_message(message(&room, &alice, &bob, &format!("m{i}")))
                .await
                .expect("insert");
            ops.push(testing::read(&m.id, 1_000 + i64::try_from(i).expect("i")));
        }
        let answers = run_fast(&store, &ops).await;
        for (op, answer) in ops.iter().zip(&answers) {
            let moved = testing::was_read(answer).expect("moved");
            match op {
                Op::MarkRead { id, at } => {
                    assert_eq!(row_id(moved.id.as_str()), *id);
                    assert_eq!(moved.read_at.map(|t| t.millis()), Some(*at));
                }
                other => panic!("{other:?}"),
            }
        }
    }

    #[tokio::test]
    async fn a_batch_numbers_rows_in_queue_order_and_answers_repeats_with_the_first() {
        let store = fresh_store().await;
        testing::a_batch_numbers_rows_in_queue_order_and_answers_repeats_with_the_first(
            &store,
            async |ops| run(&store, ops).await,
        )
        .await;
        assert_eq!(store.write_batches(), 0, "commit() was called directly");
    }

    #[tokio::test]
    async fn a_bad_entry_fails_alone_and_the_rest_still_commit_together() {
        let store = fresh_store().await;
        let (alice, bob) = (user("alice"), user("bob"));
        let room = store.link(&alice, &bob).await.expect("link").room;
        let (earlier, _) = store
            .insert_message(message(&room, &alice, &bob, "earlier"))
            .await
            .expect("insert");
        let nowhere = ChatRoomId::new(sequence::encode(999));
        let ops = vec![
            insert(&room, "first", Some("x")),
            insert(&nowhere, "lost", None),
            insert(&room, "again", Some("x")),
            insert(&room, "plain", None),
            Op::MarkSent(vec![row_id(earlier.id.as_str())]),
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
        let all = store.history(&room, &everything()).await.expect("history");
        let texts: Vec<_> = all.iter().map(|m| m.text.as_str()).collect();
        assert_eq!(texts, ["earlier", "first", "plain"]);
    }
}
