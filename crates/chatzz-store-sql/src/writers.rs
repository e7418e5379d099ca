//! The handle a store queues its writes through: one or more writers of
//! `group_commit`, each with its own queue, and a typed reply per write.

use std::sync::Arc;

use crate::{Answer, Committer, Op, Writer};
use chatzz_core::{NewMessage, StoreError, StoredMessage, UserId};
use sqlx::Pool;
use sqlx::pool::PoolConnection;

use crate::{Dialect, Statements};

/// A dialect's side of one writer: connections from a pool, batches committed by
/// [`Dialect::commit`].
#[derive(Debug)]
pub struct Batches<D: Dialect> {
    /// The store's pool: the writer's connections come from it unless `own` is set.
    store: Pool<D::Db>,
    /// The writers' own pool, if they have one: closed once the store's pool is.
    own: Option<Pool<D::Db>>,
    sql: Arc<Statements<D::Extra>>,
}

impl<D: Dialect> Batches<D> {
    /// A writer's side on `store`'s pool, or on a pool of the writers' `own`.
    pub fn new(
        store: Pool<D::Db>,
        own: Option<Pool<D::Db>>,
        sql: Arc<Statements<D::Extra>>,
    ) -> Self {
        Self { store, own, sql }
    }
}

impl<D: Dialect> Committer for Batches<D> {
    const DATABASE: &'static str = D::NAME;
    const MAX_BATCH: usize = D::MAX_BATCH;
    type Connection = PoolConnection<D::Db>;

    async fn acquire(&self) -> Result<Self::Connection, StoreError> {
        self.own
            .as_ref()
            .unwrap_or(&self.store)
            .acquire()
            .await
            .map_err(D::store_error)
    }

    async fn commit(
        &self,
        conn: &mut Self::Connection,
        ops: &[&Op],
    ) -> Result<Vec<Answer>, StoreError> {
        D::commit(conn, &self.sql, ops).await
    }

    /// The store's pool was closed. A closed pool refuses new connections, so the next
    /// batch fails `Unavailable`; the writers' own pool is closed with it.
    fn closed(&self) -> bool {
        self.store.is_closed() && !self.own.as_ref().is_some_and(Pool::is_closed)
    }

    async fn close(&self) {
        if let Some(own) = &self.own {
            own.close().await;
        }
    }
}

/// The writers of a store; clones share them, and they stop when the last handle is
/// dropped. The inserts of a room always go to the same writer, and so do its reads:
/// reads of one room (from the recipient's several sockets, say) then share a queue,
/// meeting in one batch or following each other, instead of two writers' batches
/// waiting on each other for its rows. A `mark_sent` goes to the writer of its first
/// id.
#[derive(Debug, Clone)]
pub struct Writers {
    shards: Arc<[Writer]>,
}

impl Writers {
    /// The writers; there must be at least one.
    pub fn new(shards: Vec<Writer>) -> Self {
        Self {
            shards: shards.into(),
        }
    }

    /// Batches taken off the queues so far.
    pub fn batches(&self) -> u64 {
        self.shards.iter().map(Writer::batches).sum()
    }

    fn shard(&self, key: i64) -> Result<&Writer, StoreError> {
        let count = i64::try_from(self.shards.len()).unwrap_or(i64::MAX);
        usize::try_from(key.rem_euclid(count.max(1)))
            .ok()
            .and_then(|shard| self.shards.get(shard))
            .ok_or_else(|| StoreError::Internal("a store without writers".into()))
    }

    /// `insert_message` into the room with row id `room`, once committed.
    pub async fn insert(
        &self,
        room: i64,
        message: NewMessage,
    ) -> Result<(StoredMessage, bool), StoreError> {
        self.shard(room)?.insert(room, message).await
    }

    /// `mark_sent` of these row ids (sorted, no duplicates, not empty), once committed.
    pub async fn mark_sent(&self, ids: Vec<i64>) -> Result<Vec<StoredMessage>, StoreError> {
        let key = ids.first().copied().unwrap_or_default();
        self.shard(key)?.mark_sent(ids).await
    }

    /// `read_up_to` in the room with row id `room`, once committed.
    pub async fn read_up_to(
        &self,
        room: i64,
        reader: UserId,
        up_to: i64,
        at: i64,
    ) -> Result<usize, StoreError> {
        self.shard(room)?.read_up_to(room, reader, up_to, at).await
    }
}
