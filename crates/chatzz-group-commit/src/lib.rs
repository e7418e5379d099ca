//! Group commit for chatzz's SQL stores. Callers queue a write ([`Op`]) through a
//! [`Writer`] and wait for its answer; one writer task takes everything queued at that
//! moment, has the database commit it as one batch (a [`Committer`], which each store
//! implements in its own SQL), and answers every caller only once the batch is
//! committed. The writer keeps its connection while work keeps coming, skips callers
//! that gave up, answers everyone queued at once while the database is unreachable, and
//! is restarted if it panics. [`StatusChanges`] merges a batch's status changes for the
//! stores' fast paths, and [`KnownRooms`] is the room cache both stores keep beside it.

mod committer;
mod op;
mod rooms;
mod status;
mod worker;
mod writer;

#[cfg(feature = "testing")]
pub mod testing;

pub use committer::Committer;
pub use op::{Answer, Done, Op};
pub use rooms::KnownRooms;
pub use status::StatusChanges;
pub use writer::Writer;

#[cfg(test)]
mod tests;
