//! What a database supplies to its writer: connections, and the commit of a batch.

use std::future::Future;

use chatzz_core::StoreError;

use crate::group_commit::{Answer, Op};

/// One database's part of group commit.
pub trait Committer: Send + Sync + 'static {
    /// Named in errors ("the SQLite writer has stopped").
    const DATABASE: &'static str;

    /// Most writes committed in one batch.
    const MAX_BATCH: usize;

    /// What a batch runs on; the writer keeps it while work keeps coming.
    type Connection: Send + 'static;

    /// A connection for the next batch, when the writer holds none.
    fn acquire(&self) -> impl Future<Output = Result<Self::Connection, StoreError>> + Send;

    /// Commits `ops` and answers each, in order; `Err` when the whole batch failed, and
    /// then `conn` is not used again. Callers are answered once this returns, so
    /// whatever it answers must be committed by then.
    fn commit(
        &self,
        conn: &mut Self::Connection,
        ops: &[&Op],
    ) -> impl Future<Output = Result<Vec<Answer>, StoreError>> + Send;

    /// Checked before each batch: `true` makes the writer give its connection back and
    /// then run [`close`](Self::close). A closing pool waits for every connection, so
    /// one kept here would hold it up.
    fn closed(&self) -> bool;

    /// Runs after the writer gave its connection back because [`closed`](Self::closed)
    /// said so.
    fn close(&self) -> impl Future<Output = ()> + Send {
        async {}
    }
}
