//! The writes a writer takes, and its answers.

use chatzz_core::{NewMessage, StoreError, StoredMessage};

/// One write.
#[derive(Debug)]
pub enum Op {
    /// `insert_message` into the room with this row id.
    Insert { room: i64, message: NewMessage },
    /// `mark_sent` of these row ids (sorted, no duplicates, not empty).
    MarkSent(Vec<i64>),
    /// `mark_read` of the message with this row id, read at `at` (epoch milliseconds).
    MarkRead { id: i64, at: i64 },
}

/// What a write did.
#[derive(Debug, Clone)]
pub enum Done {
    /// The stored message, and whether this write created it.
    Inserted(StoredMessage, bool),
    /// The messages this write moved to `sent`.
    Marked(Vec<StoredMessage>),
    /// The message as this write left it, once read; `None` when it moved nothing
    /// (unknown id, or already read).
    Read(Option<StoredMessage>),
}

/// A write's answer.
pub type Answer = Result<Done, StoreError>;
