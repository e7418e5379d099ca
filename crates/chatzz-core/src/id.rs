//! Identifiers. User ids come from clients and are validated here; the others are
//! chosen by the store (message and room ids) or the transport (socket ids).

use serde::{Deserialize, Serialize};

use crate::error::ChatError;

/// The longest user id or client message id accepted, in characters.
pub const MAX_ID_CHARS: usize = 128;

fn check_id(kind: &str, value: &str) -> Result<(), ChatError> {
    if value.is_empty() {
        return Err(ChatError::invalid(format!("{kind} must not be empty")));
    }
    if value.chars().count() > MAX_ID_CHARS {
        return Err(ChatError::invalid(format!(
            "{kind} must be at most {MAX_ID_CHARS} characters"
        )));
    }
    if value.contains('\0') {
        return Err(ChatError::invalid(format!(
            "{kind} must not contain U+0000"
        )));
    }
    Ok(())
}

macro_rules! string_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }
            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

string_id!(
    /// A user of the host application, as the client names it.
    UserId
);
string_id!(
    /// A message, as the store named it. Within a room, ids compare in creation order.
    MessageId
);
string_id!(
    /// The one chat room of a pair of users, as the store named it.
    ChatRoomId
);
string_id!(
    /// The client's own id for a message, which makes a retried send safe.
    ClientMessageId
);
string_id!(
    /// One live connection of a user (a tab, a device).
    SocketId
);

impl UserId {
    /// Validates a user id received from a client or the host application.
    pub fn parse(value: impl Into<String>) -> Result<Self, ChatError> {
        let value = value.into();
        check_id("a user id", &value)?;
        Ok(Self(value))
    }
}

impl ClientMessageId {
    /// Validates a client message id received from a client.
    pub fn parse(value: impl Into<String>) -> Result<Self, ChatError> {
        let value = value.into();
        check_id("clientMessageId", &value)?;
        Ok(Self(value))
    }
}

impl MessageId {
    /// Wraps an id the store assigned.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// Validates a message id received from a client. Any bounded string is accepted:
    /// an id the store never issued simply matches nothing.
    pub fn parse(value: impl Into<String>) -> Result<Self, ChatError> {
        let value = value.into();
        check_id("a message id", &value)?;
        Ok(Self(value))
    }
}

impl ChatRoomId {
    /// Wraps an id the store assigned.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }
}

impl SocketId {
    /// Wraps the transport's id of a connection.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_ids_are_bounded_and_non_empty() {
        assert!(UserId::parse("alice").is_ok());
        assert!(UserId::parse("").is_err());
        assert!(UserId::parse("a\0b").is_err());
        assert!(UserId::parse("é".repeat(MAX_ID_CHARS)).is_ok());
        assert!(UserId::parse("é".repeat(MAX_ID_CHARS + 1)).is_err());
    }

    #[test]
    fn client_message_ids_follow_the_same_rules() {
        assert!(ClientMessageId::parse("x".repeat(128)).is_ok());
        assert!(ClientMessageId::parse("x".repeat(129)).is_err());
        assert!(ClientMessageId::parse("").is_err());
    }
}
