//! The writes a writer takes, and its answers.

use chatzz_core::{NewMessage, StoreError, StoredMessage, UserId};

/// One write.
#[derive(Debug)]
pub enum Op {
    /// `insert_message` into the room with this row id.
    Insert { room: i64, message: NewMessage },
    /// `mark_sent` of these row ids (sorted, no duplicates, not empty).
    MarkSent(Vec<i64>),
    /// `read_up_to`: `reader`'s position in the room with row id `room` moves to
    /// `up_to` (a message row id) and every message of the room to `reader` up to it
    /// that is not `read` yet is read at `at` (epoch milliseconds).
    ReadUpTo {
        room: i64,
        reader: UserId,
        up_to: i64,
        at: i64,
    },
}

/// What a write did.
#[derive(Debug, Clone)]
pub enum Done {
    /// The stored message, and whether this write created it.
    Inserted(StoredMessage, bool),
    /// The messages this write moved to `sent`.
    Marked(Vec<StoredMessage>),
    /// How many messages this read moved to `read`.
    ReadUpTo(usize),
}

/// A write's answer.
pub type Answer = Result<Done, StoreError>;

impl Done {
    /// An insert's answer; a committer that answered it as another write is a bug.
    pub fn into_inserted(self) -> Result<(StoredMessage, bool), StoreError> {
        match self {
            Self::Inserted(stored, created) => Ok((stored, created)),
            other => Err(other.mismatch("an insert")),
        }
    }

    /// A `mark_sent`'s answer.
    pub fn into_marked(self) -> Result<Vec<StoredMessage>, StoreError> {
        match self {
            Self::Marked(moved) => Ok(moved),
            other => Err(other.mismatch("a mark")),
        }
    }

    /// A `read_up_to`'s answer.
    pub fn into_read_up_to(self) -> Result<usize, StoreError> {
        match self {
            Self::ReadUpTo(count) => Ok(count),
            other => Err(other.mismatch("a read")),
        }
    }

    fn mismatch(&self, what: &str) -> StoreError {
        StoreError::Internal(format!(
            "the writer answered {what} as another write: {self:?}"
        ))
    }
}
