//! Group commit for the hot writes (`insert_message`, `mark_sent` and `read_up_to`):
//! SQLite's part.
//!
//! Callers queue their write to one writer ([`Writer`], from `chatzz-store-sql`),
//! which takes everything queued at that moment (at most [`MAX_BATCH`]) and has it
//! committed here in one transaction, so concurrent senders share one fsync, while a
//! lone sender is served at once. An answer is sent only after `COMMIT` returned, so
//! nothing acknowledged can be lost.
//!
//! A batch first runs as few statements as it can (the fast path): the inserts as
//! multi-row statements, then the status changes in queue order, each run of
//! `mark_sent`s merged into one `UPDATE` and each `read_up_to` one `UPDATE` whatever
//! its backlog (`batch::status_in_order`). If any statement fails, the transaction is
//! rolled back and the batch runs again one entry at a time, each inside its own
//! savepoint (the careful path), so one bad entry fails alone. Every entry gets what it
//! would get if the entries ran one at a time in queue order. Two entries with the same
//! sender and client message id store one message: the fast path inserts the first and
//! answers the second with it, the careful path meets the first row through the unique
//! index.
//!
//! The writer runs on its own thread ([`spawn`]) and stops when the last handle is
//! dropped; a panicking writer is restarted and the callers of its batch get
//! `Unavailable`.

use std::sync::Arc;

use chatzz_core::{StoreError, StoredMessage};
use chatzz_store_sql::batch::{self, Inserted, Inserts};
use chatzz_store_sql::rows::messages_from;
use chatzz_store_sql::{Answer, Batches, Done, Failed, Op, Statements, Writer, sql};
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
    if let [op] = ops
        && !matches!(op, Op::ReadUpTo { .. })
    {
        // One statement (or an insert and a read) needs no transaction of its own; a
        // read is two (its position and its messages), which must commit together.
        return Ok(vec![
            batch::one::<SqliteDialect>(conn, q, op)
                .await
                .map_err(|f| f.error),
        ]);
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

/// The whole batch in few statements; any failure sends it down the careful path.
async fn fast(conn: &mut SqliteConnection, q: &Q, ops: &[&Op]) -> Result<Vec<Answer>, Failed> {
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
                .bind(message.client_message_id.as_ref().map(|c| c.as_str()))
                .bind(batch::notify_due(message))
                .bind(i64::from(batch::status_on_insert(message)));
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

    // Status changes, in queue order.
    batch::status_in_order::<SqliteDialect>(conn, q, ops, &mut answers).await?;

    answers
        .into_iter()
        .map(|answer| {
            answer.ok_or_else(|| Failed::from(StoreError::Internal("an entry was skipped".into())))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use sqlx::Connection;

    use super::{Answer, Op, careful, commit, fast};
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
        let mut conn = store.pool().acquire().await.expect("connection");
        let mut tx = conn.begin_with("BEGIN IMMEDIATE").await.expect("begin");
        let answers = match fast(&mut tx, store.statements(), &ops).await {
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
}
