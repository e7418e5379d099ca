//! Driver errors, mapped into the port's [`StoreError`] here so that no database type
//! leaves the adapter.

use chatzz_core::StoreError;
use mongodb::error::{
    Error, ErrorKind, RETRYABLE_ERROR, RETRYABLE_WRITE_ERROR, SYSTEM_OVERLOADED_ERROR,
    TRANSIENT_TRANSACTION_ERROR, WriteFailure,
};

/// The server's code for a write that a unique index refused.
const DUPLICATE_KEY: i32 = 11000;

/// Server codes that say "not now" rather than "never": the node is unreachable,
/// stepping down, shutting down or overloaded, or the operation ran out of time
/// (HostUnreachable, HostNotFound, MaxTimeMSExpired, WriteConcernFailed, NetworkTimeout,
/// ShutdownInProgress, WriteConflict, ReadConcernMajorityNotAvailableYet,
/// PrimarySteppedDown, ExceededTimeLimit, SocketException, NotWritablePrimary,
/// InterruptedAtShutdown, InterruptedDueToReplStateChange, NotPrimaryNoSecondaryOk,
/// NotPrimaryOrSecondary).
const TRANSIENT_CODES: [i32; 16] = [
    6, 7, 50, 64, 89, 91, 112, 134, 189, 262, 9001, 10107, 11600, 11602, 13435, 13436,
];

/// Whether a unique index refused the write.
pub(crate) fn is_duplicate_key(error: &Error) -> bool {
    match error.kind.as_ref() {
        ErrorKind::Write(WriteFailure::WriteError(e)) => e.code == DUPLICATE_KEY,
        ErrorKind::Command(e) => e.code == DUPLICATE_KEY,
        _ => false,
    }
}

fn code(error: &Error) -> Option<i32> {
    match error.kind.as_ref() {
        ErrorKind::Command(e) => Some(e.code),
        ErrorKind::Write(WriteFailure::WriteError(e)) => Some(e.code),
        ErrorKind::Write(WriteFailure::WriteConcernError(e)) => Some(e.code),
        _ => None,
    }
}

/// Whether the call may succeed if retried: the server could not be reached or answered
/// that it cannot serve now.
fn is_transient(error: &Error) -> bool {
    let unreachable = matches!(
        error.kind.as_ref(),
        ErrorKind::Io(_)
            | ErrorKind::ServerSelection { .. }
            | ErrorKind::ConnectionPoolCleared { .. }
            | ErrorKind::DnsResolve { .. }
            | ErrorKind::Shutdown
            // A write concern that could not be satisfied (in time): the write may or
            // may not stand, which is what `Unavailable` tells the caller.
            | ErrorKind::Write(WriteFailure::WriteConcernError(_))
    );
    unreachable
        || [
            RETRYABLE_WRITE_ERROR,
            RETRYABLE_ERROR,
            TRANSIENT_TRANSACTION_ERROR,
            SYSTEM_OVERLOADED_ERROR,
        ]
        .iter()
        .any(|label| error.contains_label(label))
        || code(error).is_some_and(|c| TRANSIENT_CODES.contains(&c))
}

/// Maps a driver error, saying what the adapter was doing.
pub(crate) fn store_error(doing: &str, error: Error) -> StoreError {
    if is_transient(&error) {
        StoreError::Unavailable(format!("MongoDB, {doing}: {error}"))
    } else {
        StoreError::Internal(format!("MongoDB, {doing}: {error}"))
    }
}

/// A closure for `map_err` that maps with [`store_error`].
pub(crate) fn doing(what: &'static str) -> impl FnOnce(Error) -> StoreError {
    move |error| store_error(what, error)
}
