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
//! Each writer is a [`Writer`] of `chatzz-group-commit`, on the caller's runtime: if the
//! writers are gone (their runtime shut down) callers get `Unavailable`; a panicking
//! writer is restarted and the callers of its batch get `Unavailable`. When the
//! database cannot be reached, everyone queued is answered `Unavailable` at once.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;

use chatzz_core::{MessageStatus, NewMessage, StoreError, StoredMessage};
use chatzz_group_commit::{Answer, Committer, Done, Op, StatusChanges, Writer};
use sqlx::pool::PoolConnection;
use sqlx::postgres::{PgConnection, PgPool, Postgres};
use sqlx::{Acquire, Connection};

use super::{Queries, message_from, messages_from, row_id, sql, status_code, store_error};
use sqlx::Row;

/// Most writes committed in one transaction.
const MAX_BATCH: usize = 1024;

/// Writer tasks, each with its own queue and at most one transaction (one pooled
/// connection) at a time. Rooms are spread over them by id, so two writers of one
/// process never wait for each other's rooms.
pub(crate) const WRITERS: usize = 2;

/// The handle callers queue writes through; clones share the writer tasks, which stop
/// when the last handle is dropped.
#[derive(Debug, Clone)]
pub(crate) struct Writers {
    /// One writer per shard; a room's inserts always go to the same one.
    shards: Arc<[Writer]>,
}

impl Writers {
    /// Starts the writer tasks on the current tokio runtime.
    /// `store` is the store's pool: once it is closed the writers stop using `pool`,
    /// their own.
    pub(crate) fn spawn(store: PgPool, pool: PgPool, q: Arc<Queries>) -> Self {
        let shards = (0..WRITERS)
            .map(|_| {
                let (writer, run) = Writer::new(Batches {
                    store: store.clone(),
                    pool: pool.clone(),
                    q: Arc::clone(&q),
                });
                tokio::spawn(run);
                writer
            })
            .collect();
        Self { shards }
    }

    /// Batches taken off the queues so far.
    pub(crate) fn batches(&self) -> u64 {
        self.shards.iter().map(Writer::batches).sum()
    }

    /// Queues `op` to its writer and waits until it is committed (or failed).
    pub(crate) async fn write(&self, op: Op) -> Answer {
        let key = match &op {
            Op::Insert { room, .. } => *room,
            Op::MarkSent(ids) => ids.first().copied().unwrap_or_default(),
            // By message: reads of one message (from the recipient's several sockets,
            // say) then share a queue, meeting in one batch or following each other,
            // instead of two writers' batches waiting on each other for its row. The
            // one-id `mark_sent` of a send goes by the same key, and reads spread evenly.
            Op::MarkRead { id, .. } => *id,
        };
        let shard = usize::try_from(key.rem_euclid(WRITERS as i64)).unwrap_or_default();
        self.shards[shard].write(op).await
    }
}

/// PostgreSQL's side of one writer: connections from the writers' own pool.
#[derive(Debug)]
struct Batches {
    /// The store's pool, only to see it closed.
    store: PgPool,
    pool: PgPool,
    q: Arc<Queries>,
}

impl Committer for Batches {
    const DATABASE: &'static str = "PostgreSQL";
    const MAX_BATCH: usize = MAX_BATCH;
    type Connection = PoolConnection<Postgres>;

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

    /// The store's pool was closed: so are the writers' connections.
    fn closed(&self) -> bool {
        self.store.is_closed() && !self.pool.is_closed()
    }

    async fn close(&self) {
        self.pool.close().await;
    }
}

/// A failed entry: the error to answer, and whether the connection or transaction is
/// lost with it (then the batch fails as a whole).
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
            // A savepoint undoes any failed statement, except when the connection is
            // lost (class 08) or the server is going away (57P01-57P03).
            sqlx::Error::Database(db) => db.code().is_none_or(|code| {
                code.starts_with("08") || matches!(code.as_ref(), "57P01" | "57P02" | "57P03")
            }),
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
    conn: &mut PgConnection,
    q: &Queries,
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
async fn lock_rooms(
    conn: &mut PgConnection,
    q: &Queries,
    ops: &[&Op],
) -> Result<HashSet<i64>, Failed> {
    let mut rooms: Vec<i64> = ops
        .iter()
        .filter_map(|op| match op {
            Op::Insert { room, .. } => Some(*room),
            Op::MarkSent(_) | Op::MarkRead { .. } => None,
        })
        .collect();
    rooms.sort_unstable();
    rooms.dedup();
    let locked: Vec<i64> = sqlx::query_scalar(sql(&q.lock_rooms))
        .bind(rooms)
        .fetch_all(&mut *conn)
        .await?;
    Ok(locked.into_iter().collect())
}

/// Locks the messages whose status the batch changes, in id order, so that the entries
/// (which change them in queue order) wait for no other batch.
async fn lock_messages(conn: &mut PgConnection, q: &Queries, ops: &[&Op]) -> Result<(), Failed> {
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
    sqlx::query(sql(&q.lock_messages))
        .bind(ids)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

fn unknown_room(message: &NewMessage) -> StoreError {
    StoreError::Internal(format!("unknown room {}", message.room))
}

/// Each entry in a savepoint of its own, in one transaction.
async fn careful(
    conn: &mut PgConnection,
    q: &Queries,
    ops: &[&Op],
) -> Result<Vec<Answer>, StoreError> {
    let mut tx = Connection::begin(conn).await.map_err(store_error)?;
    let rooms = lock_rooms(&mut tx, q, ops).await.map_err(|f| f.error)?;
    lock_messages(&mut tx, q, ops).await.map_err(|f| f.error)?;
    let mut answers = Vec::with_capacity(ops.len());
    for op in ops {
        if let Op::Insert { room, message } = op
            && !rooms.contains(room)
        {
            answers.push(Err(unknown_room(message)));
            continue;
        }
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

/// One write on its own, inside a transaction that holds its room.
async fn one(conn: &mut PgConnection, q: &Queries, op: &Op) -> Result<Done, Failed> {
    match op {
        Op::Insert { room, message } => {
            let inserted = sqlx::query(sql(&q.insert_message))
                .bind(room)
                .bind(message.from.as_str())
                .bind(message.to.as_str())
                .bind(message.text.as_str())
                .bind(message.created_at.millis())
                .bind(message.client_message_id.as_ref().map(|c| c.as_str()))
                .fetch_optional(&mut *conn)
                .await?;
            match inserted {
                Some(row) => Ok(Done::Inserted(message_from(&row)?, true)),
                None => Ok(Done::Inserted(
                    find_by_client_id(conn, q, message).await?,
                    false,
                )),
            }
        }
        Op::MarkSent(ids) => Ok(Done::Marked(mark_sent(conn, q, ids).await?)),
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

/// Only a committed row with this sender and client message id makes an insert do
/// nothing (it waits for one in flight), and this statement's fresh snapshot sees it.
async fn find_by_client_id(
    conn: &mut PgConnection,
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

/// Moves those of `ids` that are `not_sent`; returns them in id order.
async fn mark_sent(
    conn: &mut PgConnection,
    q: &Queries,
    ids: &[i64],
) -> Result<Vec<StoredMessage>, Failed> {
    let rows = sqlx::query(sql(&q.mark_sent))
        .bind(ids)
        .fetch_all(&mut *conn)
        .await?;
    let mut moved = messages_from(&rows)?;
    moved.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(moved)
}

fn settled(answer: Option<Answer>) -> Answer {
    answer.unwrap_or_else(|| Err(StoreError::Internal("an entry was skipped".into())))
}

/// Who sent a message and with which client message id.
type ClientKey<'a> = (&'a str, &'a str);

fn client_key(message: &NewMessage) -> Option<ClientKey<'_>> {
    message
        .client_message_id
        .as_ref()
        .map(|c| (message.from.as_str(), c.as_str()))
}

/// The whole batch as one statement, which commits on its own: every insert in one
/// `INSERT` whose rows each lock their room (in room id order) before taking an id, then
/// every status change in one `UPDATE`, its messages locked in id order. If it fails
/// nothing is stored, and the batch goes down the careful path; once it succeeded
/// everything is committed, and what follows only reads. `changes` are the batch's
/// status changes, which must not conflict.
async fn fast(
    conn: &mut PgConnection,
    q: &Queries,
    ops: &[&Op],
    changes: &StatusChanges,
) -> Result<Vec<Answer>, Failed> {
    let mut answers: Vec<Option<Answer>> = vec![None; ops.len()];

    // Inserts: the first entry of each (sender, client message id) is written, later
    // ones answer with what the first got. Rooms are locked in the order the rows are
    // listed, so they are listed by room (and in queue order within a room).
    let mut writes: Vec<(usize, i64, &NewMessage)> = Vec::new();
    let mut repeats: Vec<(usize, usize)> = Vec::new();
    let mut first_with: HashMap<ClientKey<'_>, usize> = HashMap::new();
    for (i, op) in ops.iter().enumerate() {
        let Op::Insert { room, message } = op else {
            continue;
        };
        match client_key(message).map(|key| (key, first_with.get(&key).copied())) {
            Some((_, Some(first))) => repeats.push((i, first)),
            Some((key, None)) => {
                first_with.insert(key, i);
                writes.push((i, *room, message));
            }
            None => writes.push((i, *room, message)),
        }
    }
    writes.sort_by_key(|(_, room, _)| *room);
    let mut columns = Columns::default();
    for (_, room, message) in &writes {
        columns.push(*room, message);
    }
    let targets = Targets::of(changes);

    let with_reads = !changes.read.is_empty();
    let statement = if with_reads {
        &q.batch
    } else {
        &q.batch_without_reads
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
    let rows = query.fetch_all(&mut *conn).await?;

    // Committed. Rows are numbered in the order they were listed: those with a client
    // message id are matched by it, the others, in id order, belong to the entries
    // without one.
    let mut inserted: Vec<StoredMessage> = Vec::new();
    let mut moved: HashMap<i64, StoredMessage> = HashMap::new();
    for row in &rows {
        let message = message_from(row);
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
    inserted.sort_by(|a, b| a.id.cmp(&b.id));
    let mut keyed: HashMap<(String, String), StoredMessage> = HashMap::new();
    let mut unkeyed: VecDeque<StoredMessage> = VecDeque::new();
    for row in inserted {
        match &row.client_message_id {
            Some(c) => {
                keyed.insert((row.from.as_str().to_owned(), c.as_str().to_owned()), row);
            }
            None => unkeyed.push_back(row),
        }
    }
    for (i, _, message) in &writes {
        answers[*i] = Some(match client_key(message) {
            Some((from, client_id)) => {
                match keyed.remove(&(from.to_owned(), client_id.to_owned())) {
                    Some(row) => Ok(Done::Inserted(row, true)),
                    None => find_by_client_id(conn, q, message)
                        .await
                        .map(|first| Done::Inserted(first, false))
                        .map_err(|failed| failed.error),
                }
            }
            None => unkeyed
                .pop_front()
                .map(|row| Done::Inserted(row, true))
                .ok_or_else(|| StoreError::Internal("a batch insert returned too few rows".into())),
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
    use chatzz_core::{ChatRoomId, ChatStore, MessageStatus, StoreError, sequence};
    use chatzz_group_commit::testing::{self, everything, insert, inserted, message, row_id, user};

    use super::{Answer, Done, Op, StatusChanges, careful, commit, fast};
    use crate::PostgresStore;
    use crate::tests::fresh_store;

    async fn run(store: &PostgresStore, ops: &[Op]) -> Vec<Answer> {
        let ops: Vec<&Op> = ops.iter().collect();
        let mut conn = crate::writer_pool(&store.pool)
            .acquire()
            .await
            .expect("connection");
        commit(&mut conn, &store.sql, &ops).await.expect("batch")
    }

    /// Only the fast path, which must not fail.
    async fn run_fast(store: &PostgresStore, ops: &[Op]) -> Vec<Answer> {
        let ops: Vec<&Op> = ops.iter().collect();
        let changes = StatusChanges::of(&ops).expect("no conflict");
        let mut conn = crate::writer_pool(&store.pool)
            .acquire()
            .await
            .expect("connection");
        match fast(&mut conn, &store.sql, &ops, &changes).await {
            Ok(answers) => answers,
            Err(failed) => panic!("the fast path failed: {failed:?}"),
        }
    }

    /// Only the careful path.
    async fn run_careful(store: &PostgresStore, ops: &[Op]) -> Vec<Answer> {
        let ops: Vec<&Op> = ops.iter().collect();
        let mut conn = crate::writer_pool(&store.pool)
            .acquire()
            .await
            .expect("connection");
        careful(&mut conn, &store.sql, &ops).await.expect("batch")
    }

    #[tokio::test]
    async fn a_batch_reads_each_message_once_in_queue_order() {
        let test = fresh_store().await;
        testing::a_batch_reads_each_message_once_in_queue_order(&test.store, async |ops| {
            run(&test.store, ops).await
        })
        .await;
    }

    #[tokio::test]
    async fn reads_take_the_fast_path() {
        let test = fresh_store().await;
        testing::a_batch_reads_each_message_once_in_queue_order(&test.store, async |ops| {
            run_fast(&test.store, ops).await
        })
        .await;
    }

    #[tokio::test]
    async fn the_careful_path_reads_as_the_fast_one() {
        let test = fresh_store().await;
        testing::a_batch_reads_each_message_once_in_queue_order(&test.store, async |ops| {
            run_careful(&test.store, ops).await
        })
        .await;
    }

    #[tokio::test]
    async fn a_batch_marking_one_message_sent_and_read_keeps_queue_order() {
        let test = fresh_store().await;
        testing::a_batch_marking_one_message_sent_and_read_keeps_queue_order(
            &test.store,
            async |ops| run(&test.store, ops).await,
        )
        .await;
    }

    #[tokio::test]
    async fn a_batch_numbers_rows_in_queue_order_and_answers_repeats_with_the_first() {
        let test = fresh_store().await;
        testing::a_batch_numbers_rows_in_queue_order_and_answers_repeats_with_the_first(
            &test.store,
            async |ops| run(&test.store, ops).await,
        )
        .await;
    }

    #[tokio::test]
    async fn a_bad_entry_fails_alone_and_the_rest_still_commit_together() {
        let test = fresh_store().await;
        let store = &test.store;
        let (alice, bob) = (user("alice"), user("bob"));
        let room = store.link(&alice, &bob).await.expect("link").room;
        let (earlier, _) = store
            .insert_message(message(&room, &alice, &bob, "earlier"))
            .await
            .expect("insert");
        let nowhere = ChatRoomId::new(sequence::encode(999));
        // A trigger refuses one text: that entry fails inside the batch insert.
        sqlx::raw_sql(
            "CREATE FUNCTION boom() RETURNS trigger LANGUAGE plpgsql AS $$ \
             BEGIN IF NEW.body = 'boom' THEN RAISE EXCEPTION 'boom'; END IF; RETURN NEW; END $$; \
             CREATE TRIGGER boom BEFORE INSERT ON chatzz_messages \
             FOR EACH ROW EXECUTE FUNCTION boom();",
        )
        .execute(store.pool())
        .await
        .expect("trigger");
        let ops = vec![
            insert(&room, "first", Some("x")),
            insert(&nowhere, "lost", None),
            insert(&room, "again", Some("x")),
            insert(&room, "boom", None),
            insert(&room, "plain", None),
            Op::MarkSent(vec![row_id(earlier.id.as_str())]),
        ];
        let answers = run(store, &ops).await;
        let (first, text, created) = inserted(&answers[0]);
        assert_eq!((text.as_str(), created), ("first", true));
        assert!(
            matches!(answers[1], Err(StoreError::Internal(_))),
            "{:?}",
            answers[1]
        );
        assert_eq!(inserted(&answers[2]), (first, "first".to_owned(), false));
        assert!(
            matches!(&answers[3], Err(StoreError::Internal(e)) if e.contains("boom")),
            "{:?}",
            answers[3]
        );
        assert_eq!(inserted(&answers[4]).1, "plain");
        match &answers[5] {
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
