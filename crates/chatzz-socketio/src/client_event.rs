//! The events a client may send, by their names on the wire.

/// A client event chatzz answers. Anything else a client sends is ignored, as the seed
/// did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ClientEvent {
    ConnectUser,
    AddChatUser,
    GetOldMessages,
    SendMessage,
    MessageRead,
    GetContacts,
    EditMessage,
    DeleteMessage,
    Typing,
    BlockUser,
    UnblockUser,
}

impl ClientEvent {
    pub(crate) const ALL: [Self; 11] = [
        Self::ConnectUser,
        Self::AddChatUser,
        Self::GetOldMessages,
        Self::SendMessage,
        Self::MessageRead,
        Self::GetContacts,
        Self::EditMessage,
        Self::DeleteMessage,
        Self::Typing,
        Self::BlockUser,
        Self::UnblockUser,
    ];

    /// The event with this name on the wire, if chatzz has one.
    pub(crate) fn named(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|event| event.name() == name)
    }

    /// Its name on the wire (and in metrics labels).
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::ConnectUser => "connect-user",
            Self::AddChatUser => "add-chat-user",
            Self::GetOldMessages => "get-old-messages",
            Self::SendMessage => "send-message",
            Self::MessageRead => "message-read",
            Self::GetContacts => "get-contacts",
            Self::EditMessage => "edit-message",
            Self::DeleteMessage => "delete-message",
            Self::Typing => "typing",
            Self::BlockUser => "block-user",
            Self::UnblockUser => "unblock-user",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_event_is_found_by_its_name_and_nothing_else_is() {
        for event in ClientEvent::ALL {
            assert_eq!(ClientEvent::named(event.name()), Some(event));
        }
        let names: std::collections::HashSet<_> =
            ClientEvent::ALL.iter().map(|e| e.name()).collect();
        assert_eq!(names.len(), ClientEvent::ALL.len(), "names are distinct");
        for unknown in ["", "connect", "Connect-User", "send-message ", "disconnect"] {
            assert_eq!(ClientEvent::named(unknown), None, "{unknown:?}");
        }
    }
}
