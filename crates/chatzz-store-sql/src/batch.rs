//! The parts of a group-committed batch both dialects run alike: an entry on its own
//! (the careful path runs each in a savepoint of its own), how a failed entry is
//! classified, and how a fast path sorts a batch's inserts and matches the rows it
//! got back to their entries.
//!
//! Every entry gets what it would get if the entries ran one at a time in queue order.
//! Two entries with the same sender and client message id store one message: a fast
//! path inserts the first and answers the second with it ([`Inserts`]), the careful
//! path meets the first row through the unique index.

use std::collections::{HashMap, VecDeque};

use crate::rows::{row_id, status_code};
use crate::{Answer, Done, Op, Run, StatusChanges};
use chatzz_core::{MessageStatus, NewMessage, StoreError, StoredMessage};
use sqlx::{ColumnIndex, Connection, Database, Decode, Encode, Executor, IntoArguments, Type};

use crate::rows::message_from;
use crate::{Dialect, Statements, sql};

/// A failed entry: the error to answer, and whether it may have ended the transaction
/// or the connection (then nothing after it in the transaction can be trusted, and the
/// batch fails as a whole).
#[derive(Debug)]
pub struct Failed {
    pub error: StoreError,
    pub fatal: bool,
}

impl From<StoreError> for Failed {
    fn from(error: StoreError) -> Self {
        Self {
            error,
            fatal: false,
        }
    }
}

impl Failed {
    /// A driver error of an entry, classified by the dialect.
    pub fn of<D: Dialect>(err: sqlx::Error) -> Self {
        let fatal = match &err {
            sqlx::Error::Database(db) => D::fatal(&**db),
            // A bad value fails only its own statement.
            sqlx::Error::RowNotFound
            | sqlx::Error::ColumnNotFound(_)
            | sqlx::Error::ColumnDecode { .. }
            | sqlx::Error::Decode(_)
            | sqlx::Error::Encode(_) => false,
            _ => true,
        };
        Self {
            error: D::store_error(err),
            fatal,
        }
    }
}

/// Who sent a message and with which client message id.
pub type ClientKey<'a> = (&'a str, &'a str);

/// The client key of `message`, if it has a client message id.
pub fn client_key(message: &NewMessage) -> Option<ClientKey<'_>> {
    message
        .client_message_id
        .as_ref()
        .map(|c| (message.from.as_str(), c.as_str()))
}

/// When the notification about `message` is first due: when it was stored, if one is
/// owed (`notify`), else `None` (nothing owed). Every insert path writes it with the
/// row, in the same statement; a repeated client message id inserts nothing, so it owes
/// nothing new.
pub fn notify_due(message: &NewMessage) -> Option<i64> {
    message.notify.then(|| message.created_at.millis())
}

/// The status `message` is stored with: `sent` when it is handed to a live socket as it
/// is stored (one write, no `mark_sent` after it), else `not_sent`.
pub fn status_on_insert(message: &NewMessage) -> i16 {
    status_code(if message.sent {
        MessageStatus::Sent
    } else {
        MessageStatus::NotSent
    })
}

/// The entries of `ops` with no answer yet answered as skipped.
pub fn settled(answer: Option<Answer>) -> Answer {
    answer.unwrap_or_else(|| Err(StoreError::Internal("an entry was skipped".into())))
}

/// The inserts of a batch: the first entry of each (sender, client message id) is
/// written, later ones answer with what the first got.
#[derive(Debug, Default)]
pub struct Inserts<'a> {
    /// (entry, room, message) of the entries to write, in queue order.
    pub writes: Vec<(usize, i64, &'a NewMessage)>,
    /// (entry, the earlier entry with its client key).
    pub repeats: Vec<(usize, usize)>,
}

impl<'a> Inserts<'a> {
    pub fn of(ops: &[&'a Op]) -> Self {
        let mut inserts = Self::default();
        let mut first_with: HashMap<ClientKey<'a>, usize> = HashMap::new();
        for (i, op) in ops.iter().enumerate() {
            let Op::Insert { room, message } = op else {
                continue;
            };
            match client_key(message).map(|key| (key, first_with.get(&key).copied())) {
                Some((_, Some(first))) => inserts.repeats.push((i, first)),
                Some((key, None)) => {
                    first_with.insert(key, i);
                    inserts.writes.push((i, *room, message));
                }
                None => inserts.writes.push((i, *room, message)),
            }
        }
        inserts
    }
}

/// The rows a batch insert returned, to be matched to their entries. Rows are numbered
/// in the order they were listed: those with a client message id are matched by it, the
/// others, in id order, belong to the entries without one.
#[derive(Debug, Default)]
pub struct Inserted {
    keyed: HashMap<(String, String), StoredMessage>,
    unkeyed: VecDeque<StoredMessage>,
}

impl Inserted {
    pub fn new(mut rows: Vec<StoredMessage>) -> Self {
        rows.sort_by(|a, b| a.id.cmp(&b.id));
        let mut inserted = Self::default();
        for row in rows {
            match &row.client_message_id {
                Some(c) => {
                    let key = (row.from.as_str().to_owned(), c.as_str().to_owned());
                    inserted.keyed.insert(key, row);
                }
                None => inserted.unkeyed.push_back(row),
            }
        }
        inserted
    }

    /// The row written for `message`; `None` when its client message id was known, so
    /// that the insert did nothing (the caller then reads the first one).
    pub fn take(&mut self, message: &NewMessage) -> Result<Option<StoredMessage>, StoreError> {
        match client_key(message) {
            Some((from, client_id)) => {
                Ok(self.keyed.remove(&(from.to_owned(), client_id.to_owned())))
            }
            None => {
                self.unkeyed.pop_front().map(Some).ok_or_else(|| {
                    StoreError::Internal("a batch insert returned too few rows".into())
                })
            }
        }
    }

    /// Whether every row went to an entry.
    pub fn is_empty(&self) -> bool {
        self.keyed.is_empty() && self.unkeyed.is_empty()
    }
}

/// Runs each of `ops` in a savepoint of its own on `tx` (a connection inside a
/// transaction), answering those `refused` refuses with its error instead; `Err` when
/// an entry failed fatally.
pub async fn entries<D: Dialect>(
    tx: &mut <D::Db as Database>::Connection,
    q: &Statements<D::Extra>,
    ops: &[&Op],
    refused: impl Fn(&Op) -> Option<StoreError>,
) -> Result<Vec<Answer>, StoreError>
where
    for<'c> &'c mut <D::Db as Database>::Connection: Executor<'c, Database = D::Db>,
    for<'q> i64: Encode<'q, D::Db> + Decode<'q, D::Db> + Type<D::Db>,
    for<'q> &'q str: Encode<'q, D::Db> + Type<D::Db> + ColumnIndex<<D::Db as Database>::Row>,
    for<'r> String: Decode<'r, D::Db> + Type<D::Db>,
    for<'q> Option<&'q str>: Encode<'q, D::Db> + Type<D::Db>,
    for<'q> Option<i64>: Encode<'q, D::Db> + Type<D::Db>,
    <D::Db as Database>::Arguments: IntoArguments<D::Db>,
{
    let mut answers = Vec::with_capacity(ops.len());
    for op in ops {
        if let Some(error) = refused(op) {
            answers.push(Err(error));
            continue;
        }
        let mut savepoint = Connection::begin(&mut *tx).await.map_err(D::store_error)?;
        match one::<D>(&mut savepoint, q, op).await {
            Ok(done) => {
                savepoint.commit().await.map_err(D::store_error)?;
                answers.push(Ok(done));
            }
            Err(Failed { error, fatal: true }) => return Err(error),
            Err(Failed { error, .. }) => {
                savepoint.rollback().await.map_err(D::store_error)?;
                answers.push(Err(error));
            }
        }
    }
    Ok(answers)
}

/// One write on its own, as the store did it before batching.
pub async fn one<D: Dialect>(
    conn: &mut <D::Db as Database>::Connection,
    q: &Statements<D::Extra>,
    op: &Op,
) -> Result<Done, Failed>
where
    for<'c> &'c mut <D::Db as Database>::Connection: Executor<'c, Database = D::Db>,
    for<'q> i64: Encode<'q, D::Db> + Decode<'q, D::Db> + Type<D::Db>,
    for<'q> &'q str: Encode<'q, D::Db> + Type<D::Db> + ColumnIndex<<D::Db as Database>::Row>,
    for<'r> String: Decode<'r, D::Db> + Type<D::Db>,
    for<'q> Option<&'q str>: Encode<'q, D::Db> + Type<D::Db>,
    for<'q> Option<i64>: Encode<'q, D::Db> + Type<D::Db>,
    <D::Db as Database>::Arguments: IntoArguments<D::Db>,
{
    match op {
        Op::Insert { room, message } => {
            let inserted = sqlx::query(sql(&q.insert_message))
                .bind(*room)
                .bind(message.from.as_str())
                .bind(message.to.as_str())
                .bind(message.text.as_str())
                .bind(message.created_at.millis())
                .bind(message.client_message_id.as_ref().map(|c| c.as_str()))
                .bind(notify_due(message))
                .bind(i64::from(status_on_insert(message)))
                .fetch_optional(&mut *conn)
                .await
                .map_err(Failed::of::<D>)?;
            match inserted {
                Some(row) => Ok(Done::Inserted(message_from::<D>(&row)?, true)),
                // Only a known client message id makes the insert do nothing.
                None => Ok(Done::Inserted(
                    find_by_client_id::<D>(conn, q, message).await?,
                    false,
                )),
            }
        }
        Op::MarkSent(ids) => Ok(Done::Marked(D::mark_sent(conn, q, ids).await?)),
        Op::ReadUpTo {
            room,
            reader,
            up_to,
            at,
        } => Ok(Done::ReadUpTo(
            read_up_to::<D>(conn, q, *room, reader.as_str(), *up_to, *at).await?,
        )),
    }
}

/// One `read_up_to`: moves the position forward, then reads every message of the room
/// to `reader` up to `up_to` that is not `read` yet ([`read_messages`]); returns how
/// many it moved. Both statements must run in one transaction (the batch's, or a
/// savepoint of it): the position is never ahead of what is read.
pub async fn read_up_to<D: Dialect>(
    conn: &mut <D::Db as Database>::Connection,
    q: &Statements<D::Extra>,
    room: i64,
    reader: &str,
    up_to: i64,
    at: i64,
) -> Result<usize, Failed>
where
    for<'c> &'c mut <D::Db as Database>::Connection: Executor<'c, Database = D::Db>,
    for<'q> i64: Encode<'q, D::Db> + Decode<'q, D::Db> + Type<D::Db>,
    for<'q> &'q str: Encode<'q, D::Db> + Type<D::Db> + ColumnIndex<<D::Db as Database>::Row>,
    for<'r> String: Decode<'r, D::Db> + Type<D::Db>,
    for<'q> Option<&'q str>: Encode<'q, D::Db> + Type<D::Db>,
    <D::Db as Database>::Arguments: IntoArguments<D::Db>,
{
    sqlx::query(sql(&q.read_position))
        .bind(room)
        .bind(reader)
        .bind(up_to)
        .execute(&mut *conn)
        .await
        .map_err(Failed::of::<D>)?;
    read_messages::<D>(conn, q, room, reader, up_to, at).await
}

/// Reads at `at` every message of the room to `reader` up to `up_to` that is not
/// `read` yet, with one statement whatever the backlog; returns how many it moved. The
/// position is the caller's to move, in the same transaction.
pub async fn read_messages<D: Dialect>(
    conn: &mut <D::Db as Database>::Connection,
    q: &Statements<D::Extra>,
    room: i64,
    reader: &str,
    up_to: i64,
    at: i64,
) -> Result<usize, Failed>
where
    for<'c> &'c mut <D::Db as Database>::Connection: Executor<'c, Database = D::Db>,
    for<'q> i64: Encode<'q, D::Db> + Decode<'q, D::Db> + Type<D::Db>,
    for<'q> &'q str: Encode<'q, D::Db> + Type<D::Db> + ColumnIndex<<D::Db as Database>::Row>,
    for<'r> String: Decode<'r, D::Db> + Type<D::Db>,
    for<'q> Option<&'q str>: Encode<'q, D::Db> + Type<D::Db>,
    <D::Db as Database>::Arguments: IntoArguments<D::Db>,
{
    let moved = sqlx::query(sql(&q.read_up_to))
        .bind(room)
        .bind(reader)
        .bind(up_to)
        .bind(at)
        .execute(&mut *conn)
        .await
        .map_err(Failed::of::<D>)?;
    usize::try_from(D::affected(&moved))
        .map_err(|_| Failed::from(StoreError::Internal("a read moved too many rows".into())))
}

/// The status changes of `ops` (a batch inside one transaction, its inserts done) in
/// queue order: each run of `mark_sent`s as one merged mark, each read on its own (one
/// statement each, whatever its backlog) with its position. Fills in the answers of
/// those entries.
pub async fn status_in_order<D: Dialect>(
    conn: &mut <D::Db as Database>::Connection,
    q: &Statements<D::Extra>,
    ops: &[&Op],
    answers: &mut [Option<Answer>],
) -> Result<(), Failed>
where
    for<'c> &'c mut <D::Db as Database>::Connection: Executor<'c, Database = D::Db>,
    for<'q> i64: Encode<'q, D::Db> + Decode<'q, D::Db> + Type<D::Db>,
    for<'q> &'q str: Encode<'q, D::Db> + Type<D::Db> + ColumnIndex<<D::Db as Database>::Row>,
    for<'r> String: Decode<'r, D::Db> + Type<D::Db>,
    for<'q> Option<&'q str>: Encode<'q, D::Db> + Type<D::Db>,
    <D::Db as Database>::Arguments: IntoArguments<D::Db>,
{
    for run in StatusChanges::runs(ops) {
        match run {
            Run::Sent { entries, ids } => {
                marks::<D>(conn, q, ops, &entries, &ids, answers).await?;
            }
            Run::Read(i) => {
                let Op::ReadUpTo {
                    room,
                    reader,
                    up_to,
                    at,
                } = ops[i]
                else {
                    return Err(StoreError::Internal("a read that is not one".into()).into());
                };
                let moved = read_up_to::<D>(conn, q, *room, reader.as_str(), *up_to, *at).await?;
                answers[i] = Some(Ok(Done::ReadUpTo(moved)));
            }
        }
    }
    Ok(())
}

/// One run of consecutive `mark_sent` entries of `ops` (`entries`, their ids merged in
/// `ids`) as one mark; fills in their answers (each moved message goes to the first
/// entry that asked for it).
pub async fn marks<D: Dialect>(
    conn: &mut <D::Db as Database>::Connection,
    q: &Statements<D::Extra>,
    ops: &[&Op],
    entries: &[usize],
    ids: &[i64],
    answers: &mut [Option<Answer>],
) -> Result<(), Failed>
where
    for<'c> &'c mut <D::Db as Database>::Connection: Executor<'c, Database = D::Db>,
    for<'q> i64: Encode<'q, D::Db> + Decode<'q, D::Db> + Type<D::Db>,
    for<'q> &'q str: Encode<'q, D::Db> + Type<D::Db> + ColumnIndex<<D::Db as Database>::Row>,
    for<'r> String: Decode<'r, D::Db> + Type<D::Db>,
    for<'q> Option<&'q str>: Encode<'q, D::Db> + Type<D::Db>,
    <D::Db as Database>::Arguments: IntoArguments<D::Db>,
{
    let mut moved: HashMap<i64, StoredMessage> = HashMap::new();
    for row in D::mark_sent(conn, q, ids).await? {
        let id = row_id(row.id.as_str())
            .ok_or_else(|| StoreError::Internal(format!("bad id {} from the database", row.id)))?;
        moved.insert(id, row);
    }
    for &i in entries {
        if let Some(done) = StatusChanges::answer(ops[i], &mut moved) {
            answers[i] = Some(Ok(done));
        }
    }
    Ok(())
}

/// The message stored with `message`'s sender and client message id. Only a committed
/// row with them makes an insert do nothing (PostgreSQL's waits for one in flight), and
/// this statement's fresh snapshot sees it.
pub async fn find_by_client_id<D: Dialect>(
    conn: &mut <D::Db as Database>::Connection,
    q: &Statements<D::Extra>,
    message: &NewMessage,
) -> Result<StoredMessage, Failed>
where
    for<'c> &'c mut <D::Db as Database>::Connection: Executor<'c, Database = D::Db>,
    for<'q> i64: Encode<'q, D::Db> + Decode<'q, D::Db> + Type<D::Db>,
    for<'q> &'q str: Encode<'q, D::Db> + Type<D::Db> + ColumnIndex<<D::Db as Database>::Row>,
    for<'r> String: Decode<'r, D::Db> + Type<D::Db>,
    for<'q> Option<&'q str>: Encode<'q, D::Db> + Type<D::Db>,
    <D::Db as Database>::Arguments: IntoArguments<D::Db>,
{
    let client_id = message.client_message_id.as_ref().map(|c| c.as_str());
    let row = sqlx::query(sql(&q.find_by_client_id))
        .bind(message.from.as_str())
        .bind(client_id)
        .fetch_optional(&mut *conn)
        .await
        .map_err(Failed::of::<D>)?
        .ok_or_else(|| {
            StoreError::Internal(format!(
                "message {client_id:?} of {} neither inserted nor found",
                message.from
            ))
        })?;
    Ok(message_from::<D>(&row)?)
}
