//! Group commit for the hot writes (`insert_message`, `mark_sent` and `read_up_to`).
//!
//! Callers queue their write and wait for its answer. There are [`WRITERS`] writer
//! tasks, each with its own queue; the inserts of a room always go to the same one, and
//! so do its reads. A writer takes everything queued for it at that moment
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
//! A batch without reads first runs as one statement (the fast path): one `UPDATE` for
//! every `mark_sent`, then an `INSERT ... SELECT FROM unnest(...)` for every insert. A
//! batch with reads (`read_up_to`) runs as one transaction of few statements (the
//! ordered path): it locks the rooms, then every message it may change in id order
//! (those marked, and those each read reaches), moves every read position at once (in
//! key order; a position is a maximum, so their order does not matter), inserts, and
//! then makes the status changes in queue order, each run of `mark_sent`s as one
//! `UPDATE` and each read as one `UPDATE` whatever its backlog: which messages a read
//! moves is known only once it ran, so a mark and a read of one message are told apart
//! only by their order. If either path fails, nothing is stored and the batch runs
//! again one entry at a time, each in its own savepoint (the careful path), so one bad
//! entry fails alone. Every entry gets what it would get if the entries ran one at a
//! time in queue order. Two entries with the same sender and client message id store
//! one message: the fast path inserts the first and answers the second with it, the
//! careful path meets the first row through the unique index.
//!
//! Each writer is a [`Writer`] of `chatzz-store-sql`, on the caller's runtime: if the
//! writers are gone (their runtime shut down) callers get `Unavailable`; a panicking
//! writer is restarted and the callers of its batch get `Unavailable`. When the
//! database cannot be reached, everyone queued is answered `Unavailable` at once.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use chatzz_core::{NewMessage, StoreError, StoredMessage};
use chatzz_store_sql::batch::{self, Inserted, Inserts, settled};
use chatzz_store_sql::rows::{message_from, messages_from, row_id};
use chatzz_store_sql::{
    Answer, Batches, Done, Failed, Op, Run, Statements, StatusChanges, Writer, Writers, sql,
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
    let result = match StatusChanges::of(ops) {
        Some(changes) => fast(conn, q, ops, &changes).await,
        None => ordered(conn, q, ops).await,
    };
    match result {
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
            Op::MarkSent(_) | Op::ReadUpTo { .. } => None,
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
/// (which change them in queue order) wait for no other batch: those marked sent, and
/// those each read reaches.
async fn lock_messages(conn: &mut PgConnection, q: &Q, ops: &[&Op]) -> Result<(), Failed> {
    let mut ids: Vec<i64> = Vec::new();
    let mut reads = Reads::default();
    for op in ops {
        match op {
            Op::MarkSent(marked) => ids.extend_from_slice(marked),
            Op::ReadUpTo {
                room,
                reader,
                up_to,
                ..
            } => reads.push(*room, reader.as_str(), *up_to),
            Op::Insert { .. } => {}
        }
    }
    if ids.is_empty() && reads.rooms.is_empty() {
        return Ok(());
    }
    ids.sort_unstable();
    ids.dedup();
    sqlx::query(sql(&q.dialect.lock_messages))
        .bind(ids)
        .bind(reads.rooms)
        .bind(reads.readers)
        .bind(reads.up_to)
        .execute(&mut *conn)
        .await
        .map_err(failed)?;
    Ok(())
}

/// Reads as one array per column, for `unnest`.
#[derive(Debug, Default)]
struct Reads<'a> {
    rooms: Vec<i64>,
    readers: Vec<&'a str>,
    up_to: Vec<i64>,
}

impl<'a> Reads<'a> {
    fn push(&mut self, room: i64, reader: &'a str, up_to: i64) {
        self.rooms.push(room);
        self.readers.push(reader);
        self.up_to.push(up_to);
    }
}

/// Moves the read position of every read of the batch, the furthest of each (room,
/// reader), in key order.
async fn move_positions(conn: &mut PgConnection, q: &Q, ops: &[&Op]) -> Result<(), Failed> {
    let mut furthest: BTreeMap<(i64, &str), i64> = BTreeMap::new();
    for op in ops {
        if let Op::ReadUpTo {
            room,
            reader,
            up_to,
            ..
        } = op
        {
            let position = furthest.entry((*room, reader.as_str())).or_insert(*up_to);
            *position = (*position).max(*up_to);
        }
    }
    let mut reads = Reads::default();
    for ((room, reader), up_to) in furthest {
        reads.push(room, reader, up_to);
    }
    sqlx::query(sql(&q.dialect.positions))
        .bind(reads.rooms)
        .bind(reads.readers)
        .bind(reads.up_to)
        .execute(&mut *conn)
        .await
        .map_err(failed)?;
    Ok(())
}

/// A batch with reads in one transaction: locks, positions, inserts, then the status
/// changes in queue order.
async fn ordered(conn: &mut PgConnection, q: &Q, ops: &[&Op]) -> Result<Vec<Answer>, Failed> {
    let mut tx = Connection::begin(&mut *conn).await.map_err(failed)?;
    match ordered_in(&mut tx, q, ops).await {
        Ok(answers) => {
            tx.commit().await.map_err(failed)?;
            Ok(answers)
        }
        Err(failure) => {
            if !failure.fatal {
                tx.rollback().await.map_err(failed)?;
            }
            Err(failure)
        }
    }
}

async fn ordered_in(conn: &mut PgConnection, q: &Q, ops: &[&Op]) -> Result<Vec<Answer>, Failed> {
    lock_rooms(conn, q, ops).await?;
    lock_messages(conn, q, ops).await?;
    move_positions(conn, q, ops).await?;
    let mut answers: Vec<Option<Answer>> = vec![None; ops.len()];
    let (entries, inserts): (Vec<usize>, Vec<&Op>) = ops
        .iter()
        .enumerate()
        .filter(|(_, op)| matches!(op, Op::Insert { .. }))
        .map(|(i, op)| (i, *op))
        .unzip();
    if !inserts.is_empty() {
        // The rooms are held already: the insert's own locks find them taken by us.
        let done = fast(conn, q, &inserts, &StatusChanges::default()).await?;
        for (i, answer) in entries.into_iter().zip(done) {
            answers[i] = Some(answer);
        }
    }
    status_in_order(conn, q, ops, &mut answers).await?;
    Ok(answers.into_iter().map(settled).collect())
}

/// The status changes of a batch with reads, in queue order (its positions moved
/// already): each run of `mark_sent`s as one mark, each run of reads as one statement
/// (`reads`), which gives every message to the first read in queue order that reaches
/// it, as reads one after another would. Fills in those entries' answers.
async fn status_in_order(
    conn: &mut PgConnection,
    q: &Q,
    ops: &[&Op],
    answers: &mut [Option<Answer>],
) -> Result<(), Failed> {
    let mut reads: Vec<usize> = Vec::new();
    for run in StatusChanges::runs(ops) {
        match run {
            Run::Read(i) => reads.push(i),
            Run::Sent { entries, ids } => {
                read_run(conn, q, ops, &std::mem::take(&mut reads), answers).await?;
                batch::marks::<PostgresDialect>(conn, q, ops, &entries, &ids, answers).await?;
            }
        }
    }
    read_run(conn, q, ops, &reads, answers).await
}

/// Consecutive reads of `ops` (`entries`) as one statement.
async fn read_run(
    conn: &mut PgConnection,
    q: &Q,
    ops: &[&Op],
    entries: &[usize],
    answers: &mut [Option<Answer>],
) -> Result<(), Failed> {
    if entries.is_empty() {
        return Ok(());
    }
    let (mut rooms, mut readers, mut up_tos, mut ats) = (
        Vec::with_capacity(entries.len()),
        Vec::with_capacity(entries.len()),
        Vec::with_capacity(entries.len()),
        Vec::with_capacity(entries.len()),
    );
    for &i in entries {
        let Op::ReadUpTo {
            room,
            reader,
            up_to,
            at,
        } = ops[i]
        else {
            return Err(StoreError::Internal("a read that is not one".into()).into());
        };
        rooms.push(*room);
        readers.push(reader.as_str());
        up_tos.push(*up_to);
        ats.push(*at);
    }
    let rows = sqlx::query(sql(&q.dialect.reads))
        .bind(rooms)
        .bind(readers)
        .bind(up_tos)
        .bind(ats)
        .fetch_all(&mut *conn)
        .await
        .map_err(failed)?;
    let mut moved = vec![0_usize; entries.len()];
    for row in &rows {
        let n: i64 = row.try_get("n").map_err(failed)?;
        let count: i64 = row.try_get("moved").map_err(failed)?;
        let slot = usize::try_from(n - 1)
            .ok()
            .and_then(|k| moved.get_mut(k))
            .ok_or_else(|| StoreError::Internal(format!("a read numbered {n} came back")))?;
        *slot = usize::try_from(count)
            .map_err(|_| StoreError::Internal("a read moved too many rows".into()))?;
    }
    for (&i, count) in entries.iter().zip(moved) {
        answers[i] = Some(Ok(Done::ReadUpTo(count)));
    }
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

/// The whole batch (without reads) as one statement, which commits on its own (or is
/// part of the ordered path's transaction): every mark in one `UPDATE`, then every
/// insert in one `INSERT` whose rows each lock their room (in room id order) before
/// taking an id. If it fails nothing is stored, and the batch goes down the careful
/// path; once it succeeded everything is committed, and what follows only reads.
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
    let rows = sqlx::query(sql(&q.dialect.batch_without_reads))
        .bind(columns.rooms)
        .bind(columns.senders)
        .bind(columns.recipients)
        .bind(columns.bodies)
        .bind(columns.created)
        .bind(columns.client_ids)
        .bind(&changes.sent)
        .bind(columns.notify_due)
        .bind(columns.statuses)
        .fetch_all(&mut *conn)
        .await
        .map_err(failed)?;

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
    notify_due: Vec<Option<i64>>,
    statuses: Vec<i16>,
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
        self.notify_due.push(batch::notify_due(message));
        self.statuses.push(batch::status_on_insert(message));
    }
}

#[cfg(test)]
mod tests {

    use super::{Answer, Op, StatusChanges, careful, commit, fast, ordered};
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

    /// Only the fast path (the ordered one for a batch with reads), which must not fail.
    async fn run_fast(store: &PostgresStore, ops: &[Op]) -> Vec<Answer> {
        let ops: Vec<&Op> = ops.iter().collect();
        let mut conn = crate::writer_pool(store.pool())
            .acquire()
            .await
            .expect("connection");
        let result = match StatusChanges::of(&ops) {
            Some(changes) => fast(&mut conn, store.statements(), &ops, &changes).await,
            None => ordered(&mut conn, store.statements(), &ops).await,
        };
        match result {
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
