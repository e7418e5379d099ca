//! Group commit for the hot writes (`insert_message`, `mark_sent` and `mark_read`).
//!
//! Callers queue their write and wait for its answer. There are [`WRITERS`] writer
//! tasks, each with its own queue; the inserts of a room always go to the same one, and
//! so do the reads of a message. A writer takes everything queued for it at that moment
//! (at most [`MAX_BATCH`]) and commits it in one transaction, so concurrent senders share
//! one commit and one WAL flush, while a lone sender is served at once: no writer waits
//! for company. An answer is sent only after `COMMIT` returned, so nothing acknowledged
//! can be lost.
//!
//! A batch with inserts first locks the rows of every room it writes to, in id order,
//! and holds them until it commits, exactly as a single insert did: inserts into one room
//! (from this process or any other) take their ids and commit one after the other, so a
//! client catching up with `after` never skips a message. Locking in id order keeps
//! batches of different processes from deadlocking on rooms; within one process the
//! writers never share a room. A room held by another process stalls only the writer
//! whose rooms it belongs to.
//!
//! Status changes lock message rows, and those too are locked in one order everywhere:
//! after the rooms, by message id. The writers of this process and of others run at
//! once and may change the same messages (a `mark_sent` of many ids goes to the writer
//! of its first one), so two batches locking them in different orders could deadlock.
//!
//! A batch first runs as one statement (the fast path): an `INSERT ... SELECT FROM
//! unnest(...)` for every insert, then one `UPDATE` for every `mark_sent` and
//! `mark_read`. If it fails, nothing is stored and the batch runs again one entry at a
//! time, each in its own savepoint (the careful path), so one bad entry fails alone.
//! Every entry gets what it would get if the entries ran one at a time in queue order.
//! Two entries with the same sender and client message id store one message: the fast
//! path inserts the first and answers the second with it, the careful path meets the
//! first row through the unique index. Two reads of one message: the fast path reads it
//! with the first one's time, and the second moves nothing. A message both marked sent
//! and read in one batch ends up depending on their order (and one statement may not
//! change a row twice), so such a batch takes the careful path at once.
//!
//! Each writer is a [`Writer`] of `chatzz-store-sql`, on the caller's runtime: if the
//! writers are gone (their runtime shut down) callers get `Unavailable`; a panicking
//! writer is restarted and the callers of its batch get `Unavailable`. When the
//! database cannot be reached, everyone queued is answered `Unavailable` at once.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use chatzz_core::{MessageStatus, NewMessage, StoreError, StoredMessage};
use chatzz_store_sql::batch::{self, Inserted, Inserts, settled};
use chatzz_store_sql::rows::{message_from, messages_from, row_id, status_code};
use chatzz_store_sql::{
    Answer, Batches, Done, Failed, Op, Statements, StatusChanges, Writer, Writers, sql,
};
use sqlx::postgres::{PgConnection, PgPool};
use sqlx::{Connection, Row};

use super::{PostgresDialect, Queries, store_error};

type Q = Statements<Queries>;

/// A failed PostgreSQL entry.
fn failed(err: sqlx::Error) -> Failed {
    Failed::of::<PostgresDialect>(err)
}

/// Most writes committed in one transaction.
pub(crate) const MAX_BATCH: usize = 1024;

/// Writer tasks, each with its own queue and at most one transaction (one pooled
/// connection) at a time. Rooms are spread over them by id, so two writers of one
/// process never wait for each other's rooms.
pub(crate) const WRITERS: usize = 2;

/// Starts the writer tasks on the current tokio runtime, one queue each; the inserts of
/// a room always go to the same one, and so do the reads of a message (`Writers`).
/// `store` is the store's pool: once it is closed the writers stop using `pool`, their
/// own.
pub(crate) fn spawn(store: PgPool, pool: PgPool, q: &Arc<Q>) -> Writers {
    let shards = (0..WRITERS)
        .map(|_| {
            let (writer, run) = Writer::new(Batches::<PostgresDialect>::new(
                store.clone(),
                Some(pool.clone()),
                Arc::clone(q),
            ));
            tokio::spawn(run);
            writer
        })
        .collect();
    Writers::new(shards)
}

/// Commits `ops` and answers each; `Err` when the whole batch failed.
pub(crate) async fn commit(
    conn: &mut PgConnection,
    q: &Q,
    ops: &[&Op],
) -> Result<Vec<Answer>, StoreError> {
    let Some(changes) = StatusChanges::of(ops) else {
        return careful(conn, q, ops).await;
    };
    match fast(conn, q, ops, &changes).await {
        Ok(answers) => Ok(answers),
        Err(Failed { error, fatal: true }) => Err(error),
        Err(failed) => {
            tracing::debug!(error = %failed.error, entries = ops.len(), "batch failed; retrying entry by entry");
            careful(conn, q, ops).await
        }
    }
}

/// Locks the rows of the rooms the batch inserts into, in id order; returns those that
/// exist.
async fn lock_rooms(conn: &mut PgConnection, q: &Q, ops: &[&Op]) -> Result<HashSet<i64>, Failed> {
    let mut rooms: Vec<i64> = ops
        .iter()
        .filter_map(|op| match op {
            Op::Insert { room, .. } => Some(*room),
            Op::MarkSent(_) | Op::MarkRead { .. } => None,
        })
        .collect();
    rooms.sort_unstable();
    rooms.dedup();
    let locked: Vec<i64> = sqlx::query_scalar(sql(&q.dialect.lock_rooms))
        .bind(rooms)
        .fetch_all(&mut *conn)
        .await
        .map_err(failed)?;
    Ok(locked.into_iter().collect())
}

/// Locks the messages whose status the batch changes, in id order, so that the entries
/// (which change them in queue order) wait for no other batch.
async fn lock_messages(conn: &mut PgConnection, q: &Q, ops: &[&Op]) -> Result<(), Failed> {
    let mut ids: Vec<i64> = Vec::new();
    for op in ops {
        match op {
            Op::MarkSent(marked) => ids.extend_from_slice(marked),
            Op::MarkRead { id, .. } => ids.push(*id),
            Op::Insert { .. } => {}
        }
    }
    if ids.is_empty() {
        return Ok(());
    }
    ids.sort_unstable();
    ids.dedup();
    sqlx::query(sql(&q.dialect.lock_messages))
        .bind(ids)
        .execute(&mut *conn)
        .await
        .map_err(failed)?;
    Ok(())
}

fn unknown_room(message: &NewMessage) -> StoreError {
    StoreError::Internal(format!("unknown room {}", message.room))
}

/// Each entry in a savepoint of its own, in one transaction.
async fn careful(conn: &mut PgConnection, q: &Q, ops: &[&Op]) -> Result<Vec<Answer>, StoreError> {
    let mut tx = Connection::begin(conn).await.map_err(store_error)?;
    let rooms = lock_rooms(&mut tx, q, ops).await.map_err(|f| f.error)?;
    lock_messages(&mut tx, q, ops).await.map_err(|f| f.error)?;
    let answers = batch::entries::<PostgresDialect>(&mut tx, q, ops, |op| match op {
        Op::Insert { room, message } if !rooms.contains(room) => Some(unknown_room(message)),
        _ => None,
    })
    .await?;
    tx.commit().await.map_err(store_error)?;
    Ok(answers)
}

/// Moves those of `ids` that are `not_sent`; returns them in id order.
pub(crate) async fn mark_sent(
    conn: &mut PgConnection,
    q: &Q,
    ids: &[i64],
) -> Result<Vec<StoredMessage>, Failed> {
    let rows = sqlx::query(sql(&q.dialect.mark_sent))
        .bind(ids)
        .fetch_all(&mut *conn)
        .await
        .map_err(failed)?;
    let mut moved = messages_from::<PostgresDialect>(&rows)?;
    moved.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(moved)
}

/// The whole batch as one statement, which commits on its own: every insert in one
/// `INSERT` whose rows each lock their room (in room id order) before taking an id, then
/// every status change in one `UPDATE`, its messages locked in id order. If it fails
/// nothing is stored, and the batch goes down the careful path; once it succeeded
/// everything is committed, and what follows only reads. `changes` are the batch's
/// status changes, which must not conflict.
async fn fast(
    conn: &mut PgConnection,
    q: &Q,
    ops: &[&Op],
    changes: &StatusChanges,
) -> Result<Vec<Answer>, Failed> {
    let mut answers: Vec<Option<Answer>> = vec![None; ops.len()];

    // Inserts: the first entry of each (sender, client message id) is written, later
    // ones answer with what the first got. Rooms are locked in the order the rows are
    // listed, so they are listed by room (and in queue order within a room).
    let Inserts {
        mut writes,
        repeats,
    } = Inserts::of(ops);
    writes.sort_by_key(|(_, room, _)| *room);
    let mut columns = Columns::default();
    for (_, room, message) in &writes {
        columns.push(*room, message);
    }
    let targets = Targets::of(changes);

    let with_reads = !changes.read.is_empty();
    let statement = if with_reads {
        &q.dialect.batch
    } else {
        &q.dialect.batch_without_reads
    };
    let mut query = sqlx::query(sql(statement))
        .bind(columns.rooms)
        .bind(columns.senders)
        .bind(columns.recipients)
        .bind(columns.bodies)
        .bind(columns.created)
        .bind(columns.client_ids)
        .bind(targets.ids);
    if with_reads {
        query = query.bind(targets.statuses).bind(targets.read_at);
    }
    let rows = query.fetch_all(&mut *conn).await.map_err(failed)?;

    // Committed. Rows are numbered in the order they were listed: those with a client
    // message id are matched by it, the others, in id order, belong to the entries
    // without one.
    let mut inserted: Vec<StoredMessage> = Vec::new();
    let mut moved: HashMap<i64, StoredMessage> = HashMap::new();
    for row in &rows {
        let message = message_from::<PostgresDialect>(row);
        let was_inserted = row.try_get::<bool, _>("inserted");
        let (message, was_inserted) = match (message, was_inserted) {
            (Ok(message), Ok(was_inserted)) => (message, was_inserted),
            (Err(err), _) => return Ok(all_failed(ops, &err)),
            (_, Err(err)) => return Ok(all_failed(ops, &store_error(err))),
        };
        if was_inserted {
            inserted.push(message);
        } else if let Some(id) = row_id(message.id.as_str()) {
            moved.insert(id, message);
        }
    }
    let mut inserted = Inserted::new(inserted);
    for (i, _, message) in &writes {
        answers[*i] = Some(match inserted.take(message) {
            Ok(Some(row)) => Ok(Done::Inserted(row, true)),
            Ok(None) => batch::find_by_client_id::<PostgresDialect>(conn, q, message)
                .await
                .map(|first| Done::Inserted(first, false))
                .map_err(|failed| failed.error),
            Err(err) => Err(err),
        });
    }
    for (i, first) in repeats {
        answers[i] = Some(match &answers[first] {
            Some(Ok(Done::Inserted(row, _))) => Ok(Done::Inserted(row.clone(), false)),
            Some(Err(err)) => Err(err.clone()),
            _ => Err(StoreError::Internal(
                "a repeated entry lost its first".into(),
            )),
        });
    }
    for (answer, op) in answers.iter_mut().zip(ops) {
        if let Some(done) = StatusChanges::answer(op, &mut moved) {
            *answer = Some(Ok(done));
        }
    }
    Ok(answers.into_iter().map(settled).collect())
}

/// The status changes of a batch as one array per column, for `unnest`: every message
/// once, in id order, which is the order they are locked in.
#[derive(Debug, Default)]
struct Targets {
    ids: Vec<i64>,
    statuses: Vec<i16>,
    /// `None` for a move to `sent`, which keeps the stored `read_at_ms`.
    read_at: Vec<Option<i64>>,
}

impl Targets {
    fn of(changes: &StatusChanges) -> Self {
        let sent = changes
            .sent
            .iter()
            .map(|id| (*id, status_code(MessageStatus::Sent), None));
        let read = changes
            .read
            .iter()
            .map(|(id, at)| (*id, status_code(MessageStatus::Read), Some(*at)));
        let mut all: Vec<(i64, i16, Option<i64>)> = sent.chain(read).collect();
        all.sort_unstable_by_key(|(id, _, _)| *id);
        let mut targets = Self::default();
        for (id, status, read_at) in all {
            targets.ids.push(id);
            targets.statuses.push(status);
            targets.read_at.push(read_at);
        }
        targets
    }
}

/// Every entry answered with `err`.
fn all_failed(ops: &[&Op], err: &StoreError) -> Vec<Answer> {
    ops.iter().map(|_| Err(err.clone())).collect()
}

/// The inserts of a batch as one array per column, for `unnest`.
#[derive(Debug, Default)]
struct Columns<'a> {
    rooms: Vec<i64>,
    senders: Vec<&'a str>,
    recipients: Vec<&'a str>,
    bodies: Vec<&'a str>,
    created: Vec<i64>,
    client_ids: Vec<Option<&'a str>>,
}

impl<'a> Columns<'a> {
    fn push(&mut self, room: i64, message: &'a NewMessage) {
        self.rooms.push(room);
        self.senders.push(message.from.as_str());
        self.recipients.push(message.to.as_str());
        self.bodies.push(message.text.as_str());
        self.created.push(message.created_at.millis());
        self.client_ids
            .push(message.client_message_id.as_ref().map(|c| c.as_str()));
    }
}

#[cfg(test)]
mod tests {

    use super::{Answer, Op, StatusChanges, careful, commit, fast};
    use crate::PostgresStore;
    use crate::tests::fresh_store;

    async fn run(store: &PostgresStore, ops: &[Op]) -> Vec<Answer> {
        let ops: Vec<&Op> = ops.iter().collect();
        let mut conn = crate::writer_pool(store.pool())
            .acquire()
            .await
            .expect("connection");
        commit(&mut conn, store.statements(), &ops)
            .await
            .expect("batch")
    }

    /// Only the fast path, which must not fail.
    async fn run_fast(store: &PostgresStore, ops: &[Op]) -> Vec<Answer> {
        let ops: Vec<&Op> = ops.iter().collect();
        let changes = StatusChanges::of(&ops).expect("no conflict");
        let mut conn = crate::writer_pool(store.pool())
            .acquire()
            .await
            .expect("connection");
        match fast(&mut conn, store.statements(), &ops, &changes).await {
            Ok(answers) => answers,
            Err(failed) => panic!("the fast path failed: {failed:?}"),
        }
    }

    /// Only the careful path.
    async fn run_careful(store: &PostgresStore, ops: &[Op]) -> Vec<Answer> {
        let ops: Vec<&Op> = ops.iter().collect();
        let mut conn = crate::writer_pool(store.pool())
            .acquire()
            .await
            .expect("connection");
        careful(&mut conn, store.statements(), &ops)
            .await
            .expect("batch")
    }

    /// A trigger refuses one text: that entry fails inside the batch insert.
    async fn refuse_boom(store: &PostgresStore) -> bool {
        sqlx::raw_sql(
            "CREATE FUNCTION boom() RETURNS trigger LANGUAGE plpgsql AS $$ \
             BEGIN IF NEW.body = 'boom' THEN RAISE EXCEPTION 'boom'; END IF; RETURN NEW; END $$; \
             CREATE TRIGGER boom BEFORE INSERT ON chatzz_messages \
             FOR EACH ROW EXECUTE FUNCTION boom();",
        )
        .execute(store.pool())
        .await
        .expect("trigger");
        true
    }

    chatzz_store_sql::group_commit_cases! {
        fresh: fresh_store,
        store: |test| &test.store,
        run: run,
        run_fast: run_fast,
        run_careful: run_careful,
        boom: refuse_boom,
    }
}
