//! Group commit: callers queue a write ([`Op`]) through a [`Writer`] and wait for its
//! answer, typed by the write (`Writer::insert`, `mark_sent`, `read_up_to`); one writer
//! task takes everything queued at that moment, has the database commit it as one batch
//! (a [`Committer`], which each dialect implements in its own SQL), and answers every
//! caller only once the batch is committed. The writer keeps its connection while work
//! keeps coming, skips callers that gave up, answers everyone queued at once while the
//! database is unreachable, and is restarted if it panics. [`StatusChanges`] merges a
//! batch's status changes for the dialects' fast paths, in queue order.

mod committer;
mod op;
mod status;
mod worker;
mod writer;

pub use committer::Committer;
pub use op::{Answer, Done, Op};
pub use status::{Run, StatusChanges};
pub use writer::Writer;

#[cfg(test)]
mod tests;
