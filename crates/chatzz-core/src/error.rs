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

/// A failed client request: a stable [`ErrorCode`] and a sentence for humans, plus, for
/// failures of a port, what failed underneath: that is for the logs of whoever reports
/// the error (the transport), never for the client.
#[derive(Debug, Clone, thiserror::Error, Serialize)]
#[error("{code}: {message}")]
pub struct ChatError {
    pub code: ErrorCode,
    pub message: String,
    #[serde(skip)]
    pub cause: Option<String>,
}

/// Errors are equal when a client would see the same one.
impl PartialEq for ChatError {
    fn eq(&self, other: &Self) -> bool {
        self.code == other.code && self.message == other.message
    }
}

impl Eq for ChatError {}

impl ChatError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            cause: None,
        }
    }

    fn caused_by(mut self, cause: impl std::fmt::Display) -> Self {
        self.cause = Some(cause.to_string());
        self
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidArgument, message)
    }
}

impl From<crate::ports::StoreError> for ChatError {
    fn from(err: crate::ports::StoreError) -> Self {
        let error = match &err {
            crate::ports::StoreError::Unavailable(_) => Self::new(
                ErrorCode::Unavailable,
                "the message store is unavailable; retry later",
            ),
            crate::ports::StoreError::Internal(_) => {
                Self::new(ErrorCode::Internal, "the message store failed")
            }
        };
        error.caused_by(err)
    }
}

impl From<crate::ports::PresenceError> for ChatError {
    fn from(err: crate::ports::PresenceError) -> Self {
        Self::new(
            ErrorCode::Unavailable,
            "presence is unavailable; retry later",
        )
        .caused_by(err)
    }
}

impl From<crate::ports::PolicyError> for ChatError {
    fn from(err: crate::ports::PolicyError) -> Self {
        Self::new(
            ErrorCode::Unavailable,
            "the contact policy is unavailable; retry later",
        )
        .caused_by(err)
    }
}

impl From<crate::ports::NewsError> for ChatError {
    fn from(err: crate::ports::NewsError) -> Self {
        Self::new(
            ErrorCode::Unavailable,
            "stored, but the other servers could not be told yet; retry",
        )
        .caused_by(err)
    }
}

impl From<crate::ports::DirectoryError> for ChatError {
    fn from(err: crate::ports::DirectoryError) -> Self {
        Self::new(
            ErrorCode::Unavailable,
            "the user directory is unavailable; retry later",
        )
        .caused_by(err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::StoreError;

    #[test]
    fn a_port_failure_keeps_its_cause_for_the_logs_and_out_of_the_wire() {
        let error = ChatError::from(StoreError::Unavailable("connection refused".into()));
        assert_eq!(error.code, ErrorCode::Unavailable);
        assert!(
            error
                .cause
                .as_deref()
                .is_some_and(|c| c.contains("connection refused"))
        );
        let wire = serde_json::to_value(&error).unwrap_or_default();
        assert_eq!(
            wire,
            serde_json::json!({"code": "unavailable", "message": "the message store is unavailable; retry later"})
        );
        assert_eq!(
            error,
            ChatError::new(
                ErrorCode::Unavailable,
                "the message store is unavailable; retry later"
            ),
            "equal to what the client sees"
        );
    }
}
