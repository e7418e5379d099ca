//! Rows to the port's types and back: message rows, status codes, times, and the
//! 20-digit ids clients see for row ids.

use chatzz_core::{
    ChatRoomId, ClientMessageId, ContactRecord, MessageId, MessageStatus, StoreError,
    StoredMessage, Timestamp, UserId, sequence,
};
use sqlx::{ColumnIndex, Database, Decode, Encode, Executor, IntoArguments, Row, Type};

use crate::Dialect;

/// The code a status is stored as.
pub fn status_code(status: MessageStatus) -> i16 {
    match status {
        MessageStatus::NotSent => 0,
        MessageStatus::Sent => 1,
        MessageStatus::Read => 2,
    }
}

/// The status stored as `code`.
pub fn status_of(code: i64) -> Result<MessageStatus, StoreError> {
    [
        MessageStatus::NotSent,
        MessageStatus::Sent,
        MessageStatus::Read,
    ]
    .into_iter()
    .find(|s| i64::from(status_code(*s)) == code)
    .ok_or_else(|| StoreError::Internal(format!("unknown message status {code}")))
}

/// A stored time (epoch milliseconds).
pub fn time(millis: i64) -> Result<Timestamp, StoreError> {
    Timestamp::from_millis(millis)
        .ok_or_else(|| StoreError::Internal(format!("bad timestamp {millis}")))
}

/// A row id as the id clients see.
pub fn seq_id(id: i64) -> Result<String, StoreError> {
    u64::try_from(id)
        .map(sequence::encode)
        .map_err(|_| StoreError::Internal(format!("negative id {id}")))
}

/// A client's id to a row id; `None` for an id this store never issued.
pub fn row_id(id: &str) -> Option<i64> {
    sequence::decode(id).and_then(|n| i64::try_from(n).ok())
}

/// A cursor bound as a row id.
pub fn bound(n: u128) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// The pair in byte order: the order the rooms table stores it in (PostgreSQL declares
/// the columns `COLLATE "C"` for it).
pub fn sorted_pair<'a>(a: &'a UserId, b: &'a UserId) -> (&'a str, &'a str) {
    if a.as_str() <= b.as_str() {
        (a.as_str(), b.as_str())
    } else {
        (b.as_str(), a.as_str())
    }
}

/// A stored user id.
pub fn user_of(id: String) -> Result<UserId, StoreError> {
    UserId::from_stored(id).map_err(|e| StoreError::Internal(e.to_string()))
}

/// A message row (the columns of `MESSAGE_COLUMNS`).
pub fn message_from<D: Dialect>(row: &<D::Db as Database>::Row) -> Result<StoredMessage, StoreError>
where
    for<'c> &'c mut <D::Db as Database>::Connection: Executor<'c, Database = D::Db>,
    for<'q> i64: Encode<'q, D::Db> + Decode<'q, D::Db> + Type<D::Db>,
    for<'q> &'q str: Encode<'q, D::Db> + Type<D::Db> + ColumnIndex<<D::Db as Database>::Row>,
    for<'r> String: Decode<'r, D::Db> + Type<D::Db>,
    for<'q> Option<&'q str>: Encode<'q, D::Db> + Type<D::Db>,
    <D::Db as Database>::Arguments: IntoArguments<D::Db>,
{
    let get_i64 = |col: &str| row.try_get::<i64, _>(col).map_err(D::store_error);
    let get_text = |col: &str| row.try_get::<String, _>(col).map_err(D::store_error);
    let status: D::Status = row.try_get("status").map_err(D::store_error)?;
    let read_at: Option<i64> = row.try_get("read_at_ms").map_err(D::store_error)?;
    let client_id: Option<String> = row.try_get("client_message_id").map_err(D::store_error)?;
    let edited_at: Option<i64> = row.try_get("edited_at_ms").map_err(D::store_error)?;
    let deleted_at: Option<i64> = row.try_get("deleted_at_ms").map_err(D::store_error)?;
    Ok(StoredMessage {
        id: MessageId::new(seq_id(get_i64("id")?)?),
        room: ChatRoomId::new(seq_id(get_i64("room_id")?)?),
        from: user_of(get_text("sender")?)?,
        to: user_of(get_text("recipient")?)?,
        text: get_text("body")?,
        status: status_of(status.into())?,
        created_at: time(get_i64("created_at_ms")?)?,
        read_at: read_at.map(time).transpose()?,
        client_message_id: client_id
            .map(|c| {
                ClientMessageId::from_stored(c).map_err(|e| StoreError::Internal(e.to_string()))
            })
            .transpose()?,
        edited_at: edited_at.map(time).transpose()?,
        deleted_at: deleted_at.map(time).transpose()?,
    })
}

/// A row of `Statements::contacts`.
pub fn contact_from<D: Dialect>(row: &<D::Db as Database>::Row) -> Result<ContactRecord, StoreError>
where
    for<'c> &'c mut <D::Db as Database>::Connection: Executor<'c, Database = D::Db>,
    for<'q> i64: Encode<'q, D::Db> + Decode<'q, D::Db> + Type<D::Db>,
    for<'q> &'q str: Encode<'q, D::Db> + Type<D::Db> + ColumnIndex<<D::Db as Database>::Row>,
    for<'r> String: Decode<'r, D::Db> + Type<D::Db>,
    for<'q> Option<&'q str>: Encode<'q, D::Db> + Type<D::Db>,
    <D::Db as Database>::Arguments: IntoArguments<D::Db>,
{
    let get = |col: &str| row.try_get::<Option<i64>, _>(col).map_err(D::store_error);
    let room =
        get("room")?.ok_or_else(|| StoreError::Internal("a contact without a room".into()))?;
    let other: String = row.try_get("other").map_err(D::store_error)?;
    let unread = get("unread")?.unwrap_or(0);
    // The newest message's columns are all NULL when the room has none.
    let last_message = match get("id")? {
        Some(_) => Some(message_from::<D>(row)?),
        None => None,
    };
    Ok(ContactRecord {
        user: user_of(other)?,
        room: ChatRoomId::new(seq_id(room)?),
        last_online: get("last_online_ms")?.map(time).transpose()?,
        since: get("since_ms")?.map(time).transpose()?,
        unread: u64::try_from(unread)
            .map_err(|_| StoreError::Internal(format!("negative unread count {unread}")))?,
        last_message,
        blocked: get("blocked")?.unwrap_or(0) != 0,
        blocked_by: get("blocked_by")?.unwrap_or(0) != 0,
    })
}

/// Message rows.
pub fn messages_from<D: Dialect>(
    rows: &[<D::Db as Database>::Row],
) -> Result<Vec<StoredMessage>, StoreError>
where
    for<'c> &'c mut <D::Db as Database>::Connection: Executor<'c, Database = D::Db>,
    for<'q> i64: Encode<'q, D::Db> + Decode<'q, D::Db> + Type<D::Db>,
    for<'q> &'q str: Encode<'q, D::Db> + Type<D::Db> + ColumnIndex<<D::Db as Database>::Row>,
    for<'r> String: Decode<'r, D::Db> + Type<D::Db>,
    for<'q> Option<&'q str>: Encode<'q, D::Db> + Type<D::Db>,
    <D::Db as Database>::Arguments: IntoArguments<D::Db>,
{
    rows.iter().map(message_from::<D>).collect()
}
