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

    /// A `mark_read`'s answer.
    pub fn into_read(self) -> Result<Option<StoredMessage>, StoreError> {
        match self {
            Self::Read(moved) => Ok(moved),
            other => Err(other.mismatch("a read")),
        }
    }

    fn mismatch(&self, what: &str) -> StoreError {
        StoreError::Internal(format!(
            "the writer answered {what} as another write: {self:?}"
        ))
    }
}
