//! The events a client may send, by their names on the wire, and the extractor that
//! tells which one a packet is.

use std::convert::Infallible;
use std::sync::Arc;

use socketioxide::adapter::Adapter;
use socketioxide::handler::{FromMessageParts, Value};
use socketioxide::socket::Socket;

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

/// The client event a packet carries; `None` for any other event.
///
/// Read from the packet's text, which starts `["name",` for every event chatzz knows
/// (socket.io clients write the name with `JSON.stringify`), without decoding the rest:
/// socketioxide's own `Event` extractor decodes the event name again after its
/// dispatch did, and skips over the whole payload to do it (4% of the server's work per
/// message, measured with callgrind). A name written with escapes is decoded with
/// serde_json, as socketioxide would.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Named(pub Option<ClientEvent>);

impl<A: Adapter> FromMessageParts<A> for Named {
    type Error = Infallible;

    fn from_message_parts(
        _: &Arc<Socket<A>>,
        value: &mut Value,
        _: &Option<i64>,
    ) -> Result<Self, Infallible> {
        Ok(Self(match value {
            Value::Str(text, _) => event_of(text.as_str()),
            Value::Bytes(_) => None,
        }))
    }
}

/// The client event named by an event packet's text (a JSON array whose first element
/// is the event name).
fn event_of(text: &str) -> Option<ClientEvent> {
    if let Some(rest) = text.strip_prefix("[\"") {
        let end = rest.find(['"', '\\'])?;
        if rest.as_bytes()[end] == b'"' {
            return ClientEvent::named(&rest[..end]);
        }
    }
    // Whitespace before the name, or escapes in it: rare, decoded in full.
    let array: Vec<serde_json::Value> = serde_json::from_str(text).ok()?;
    ClientEvent::named(array.first()?.as_str()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_event_is_read_from_the_start_of_the_packet() {
        assert_eq!(
            event_of(r#"["send-message",{"userId":"b","message":"hi"}]"#),
            Some(ClientEvent::SendMessage)
        );
        assert_eq!(
            event_of(r#"["get-contacts"]"#),
            Some(ClientEvent::GetContacts)
        );
        assert_eq!(
            event_of(r#"["connect-user",{"userId":"[\"x\"]"}]"#),
            Some(ClientEvent::ConnectUser)
        );
    }

    #[test]
    fn escaped_or_spaced_names_are_decoded_as_json() {
        assert_eq!(
            event_of(r#"["send\u002dmessage",{}]"#),
            Some(ClientEvent::SendMessage)
        );
        assert_eq!(event_of(r#" [ "typing" , {} ]"#), Some(ClientEvent::Typing));
        assert_eq!(event_of(r#"["typing\"",{}]"#), None);
    }

    #[test]
    fn anything_else_is_no_client_event() {
        for text in [
            r#"["disconnect",{}]"#,
            r#"["send-messages",{}]"#,
            r#"["",{}]"#,
            r#"[42,{}]"#,
            r#"[]"#,
            r#"{"send-message":1}"#,
            r#"["send-message"#,
            "",
        ] {
            assert_eq!(event_of(text), None, "{text:?}");
        }
    }

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
