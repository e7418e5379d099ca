//! Group commit for the hot writes (`insert_message`, `mark_sent` and `mark_read`):
//! SQLite's part.
//!
//! Callers queue their write to one writer ([`Writer`], from `chatzz-store-sql`),
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

use std::collections::HashMap;
use std::sync::Arc;

use chatzz_core::{StoreError, StoredMessage};
use chatzz_store_sql::batch::{self, Inserted, Inserts};
use chatzz_store_sql::rows::{messages_from, row_id};
use chatzz_store_sql::{Answer, Batches, Done, Failed, Op, Statements, StatusChanges, Writer, sql};
use sqlx::Connection;
use sqlx::sqlite::{SqliteConnection, SqlitePool};

use super::{Queries, SqliteDialect, store_error};

type Q = Statements<Queries>;

/// A failed SQLite entry.
fn failed(err: sqlx::Error) -> Failed {
    Failed::of::<SqliteDialect>(err)
}

/// Most writes committed in one transaction.
pub(crate) const MAX_BATCH: usize = 256;

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
pub(crate) fn spawn(pool: SqlitePool, q: Arc<Q>) -> Result<Writer, StoreError> {
    let (writer, run) = Writer::new(Batches::<SqliteDialect>::new(pool, None, q));
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

/// Commits `ops` and answers each; `Err` when the whole batch failed.
pub(crate) async fn commit(
    conn: &mut SqliteConnection,
    q: &Q,
    ops: &[&Op],
) -> Result<Vec<Answer>, StoreError> {
    if let [op] = ops {
        // One statement (or an insert and a read) needs no transaction of its own.
        return Ok(vec![
            batch::one::<SqliteDialect>(conn, q, op)
                .await
                .map_err(|f| f.error),
        ]);
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
    q: &Q,
    ops: &[&Op],
) -> Result<Vec<Answer>, StoreError> {
    let mut tx = conn
        .begin_with("BEGIN IMMEDIATE")
        .await
        .map_err(store_error)?;
    let answers = batch::entries::<SqliteDialect>(&mut tx, q, ops, |_| None).await?;
    tx.commit().await.map_err(store_error)?;
    Ok(answers)
}

pub(crate) async fn mark_sent(
    conn: &mut SqliteConnection,
    q: &Q,
    ids: &[i64],
) -> Result<Vec<StoredMessage>, Failed> {
    let mut query = sqlx::query(sql(&q.dialect.mark_sent[ids.len() - 1]));
    for id in ids {
        query = query.bind(*id);
    }
    let rows = query.fetch_all(&mut *conn).await.map_err(failed)?;
    Ok(messages_from::<SqliteDialect>(&rows)?)
}

/// Moves those of `reads` (id, read at) that are not `read` yet; returns them.
async fn mark_read(
    conn: &mut SqliteConnection,
    q: &Q,
    reads: &[(i64, i64)],
) -> Result<Vec<StoredMessage>, Failed> {
    let mut query = sqlx::query(sql(&q.dialect.mark_read_values[reads.len() - 1]));
    for (id, at) in reads {
        query = query.bind(*id).bind(*at);
    }
    let rows = query.fetch_all(&mut *conn).await.map_err(failed)?;
    Ok(messages_from::<SqliteDialect>(&rows)?)
}

/// The whole batch in few statements; any failure sends it down the careful path.
/// `changes` are the batch's status changes, which must not conflict.
async fn fast(
    conn: &mut SqliteConnection,
    q: &Q,
    ops: &[&Op],
    changes: &StatusChanges,
) -> Result<Vec<Answer>, Failed> {
    let mut answers: Vec<Option<Answer>> = vec![None; ops.len()];

    // Inserts: the first entry of each (sender, client message id) is written, later
    // ones answer with what the first got.
    let Inserts { writes, repeats } = Inserts::of(ops);
    let mut rows = Vec::with_capacity(writes.len());
    for chunk in writes.chunks(INSERT_CHUNK) {
        let mut query = sqlx::query(sql(&q.dialect.insert_values[chunk.len() - 1]));
        for (_, room, message) in chunk {
            query = query
                .bind(*room)
                .bind(message.from.as_str())
                .bind(message.to.as_str())
                .bind(message.text.as_str())
                .bind(message.created_at.millis())
                .bind(message.client_message_id.as_ref().map(|c| c.as_str()));
        }
        rows.extend(messages_from::<SqliteDialect>(
            &query.fetch_all(&mut *conn).await.map_err(failed)?,
        )?);
    }
    let mut inserted = Inserted::new(rows);
    for (i, _, message) in &writes {
        let done = match inserted.take(message)? {
            Some(row) => Done::Inserted(row, true),
            None => Done::Inserted(
                batch::find_by_client_id::<SqliteDialect>(conn, q, message).await?,
                false,
            ),
        };
        answers[*i] = Some(Ok(done));
    }
    if !inserted.is_empty() {
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
        let id = row_id(row.id.as_str())
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
    use chatzz_core::ChatStore;
    use chatzz_store_sql::testing::{self, message, row_id, user};

    use sqlx::Connection;

    use super::{Answer, Op, StatusChanges, careful, commit, fast};
    use crate::SqliteStore;
    use crate::tests::fresh_store;

    async fn run(store: &SqliteStore, ops: &[Op]) -> Vec<Answer> {
        let ops: Vec<&Op> = ops.iter().collect();
        let mut conn = store.pool().acquire().await.expect("connection");
        commit(&mut conn, store.statements(), &ops)
            .await
            .expect("batch")
    }

    /// Only the fast path, which must not fail.
    async fn run_fast(store: &SqliteStore, ops: &[Op]) -> Vec<Answer> {
        let ops: Vec<&Op> = ops.iter().collect();
        let changes = StatusChanges::of(&ops).expect("no conflict");
        let mut conn = store.pool().acquire().await.expect("connection");
        let mut tx = conn.begin_with("BEGIN IMMEDIATE").await.expect("begin");
        let answers = match fast(&mut tx, store.statements(), &ops, &changes).await {
            Ok(answers) => answers,
            Err(failed) => panic!("the fast path failed: {failed:?}"),
        };
        tx.commit().await.expect("commit");
        answers
    }

    /// Only the careful path.
    async fn run_careful(store: &SqliteStore, ops: &[Op]) -> Vec<Answer> {
        let ops: Vec<&Op> = ops.iter().collect();
        let mut conn = store.pool().acquire().await.expect("connection");
        careful(&mut conn, store.statements(), &ops)
            .await
            .expect("batch")
    }

    chatzz_store_sql::group_commit_cases! {
        fresh: fresh_store,
        store: |store| &store,
        run: run,
        run_fast: run_fast,
        run_careful: run_careful,
        boom: |_| async { false },
    }

    #[tokio::test]
    async fn more_reads_than_a_statement_takes_all_move() {
        let store = fresh_store().await;
        let (alice, bob) = (user("alice"), user("bob"));
        let room = store.link(&alice, &bob).await.expect("link").room;
        let mut ops = Vec::new();
        for i in 0..super::READ_CHUNK * 2 + 3 {
            let chatzz_core::Inserted { message: m, .. } = store
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
}
