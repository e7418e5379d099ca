//! The errors a use case reports to a client, each with a stable code.

use serde::Serialize;

/// The stable error codes of the wire protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ErrorCode {
    NotConnected,
    InvalidArgument,
    UnknownUser,
    NotAContact,
    NotFound,
    Forbidden,
    RateLimited,
    Unavailable,
    Internal,
}

impl ErrorCode {
    /// The code as it appears on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NotConnected => "not-connected",
            Self::InvalidArgument => "invalid-argument",
            Self::UnknownUser => "unknown-user",
            Self::NotAContact => "not-a-contact",
            Self::NotFound => "not-found",
            Self::Forbidden => "forbidden",
            Self::RateLimited => "rate-limited",
            Self::Unavailable => "unavailable",
            Self::Internal => "internal",
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A failed client request: a stable [`ErrorCode`] and a sentence for humans.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize)]
#[error("{code}: {message}")]
pub struct ChatError {
    pub code: ErrorCode,
    pub message: String,
}

impl ChatError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidArgument, message)
    }
}

impl From<crate::ports::StoreError> for ChatError {
    fn from(err: crate::ports::StoreError) -> Self {
        tracing::warn!(error = %err, "store call failed");
        match err {
            crate::ports::StoreError::Unavailable(_) => Self::new(
                ErrorCode::Unavailable,
                "the message store is unavailable; retry later",
            ),
            crate::ports::StoreError::Internal(_) => {
                Self::new(ErrorCode::Internal, "the message store failed")
            }
        }
    }
}

impl From<crate::ports::PresenceError> for ChatError {
    fn from(err: crate::ports::PresenceError) -> Self {
        tracing::warn!(error = %err, "presence call failed");
        Self::new(
            ErrorCode::Unavailable,
            "presence is unavailable; retry later",
        )
    }
}

impl From<crate::ports::DirectoryError> for ChatError {
    fn from(err: crate::ports::DirectoryError) -> Self {
        tracing::warn!(error = %err, "user directory call failed");
        Self::new(
            ErrorCode::Unavailable,
            "the user directory is unavailable; retry later",
        )
    }
}
