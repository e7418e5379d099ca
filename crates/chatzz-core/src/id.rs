//! Identifiers. User ids come from clients and are validated here; the others are
//! chosen by the store (message and room ids) or the transport (socket ids).

use serde::{Deserialize, Serialize};
use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};

use crate::error::ChatError;

/// The longest user id or client message id accepted, in characters.
pub const MAX_ID_CHARS: usize = 128;

/// Characters that can forge or hide text wherever an id is shown: controls (a newline
/// in a log line), format characters (bidi overrides, zero-width ones, tags) and the
/// line and paragraph separators (line breaks to JavaScript and many viewers).
fn is_hidden(c: char) -> bool {
    if c.is_ascii() {
        // The common case, without the table lookup.
        return c.is_ascii_control();
    }
    matches!(
        c.general_category(),
        GeneralCategory::Control
            | GeneralCategory::Format
            | GeneralCategory::LineSeparator
            | GeneralCategory::ParagraphSeparator
    )
}

/// The rules for ids received from clients: the stored ones, and no hidden characters.
fn check_new_id(kind: &str, value: &str) -> Result<(), ChatError> {
    check_id(kind, value)?;
    if let Some(c) = value.chars().find(|&c| is_hidden(c)) {
        return Err(ChatError::invalid(format!(
            "{kind} must not contain control or format characters \
             (Unicode Cc, Cf, Zl, Zp); found U+{:04X}",
            u32::from(c)
        )));
    }
    Ok(())
}

/// The rules of earlier versions, which ids already in a store may only meet.
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

/// Writes `value` with hidden characters as `\u{..}` and `\` as `\\`, so that a
/// logged id is one line, shows what it holds, and two ids never look the same.
fn write_escaped(f: &mut std::fmt::Formatter<'_>, value: &str) -> std::fmt::Result {
    use std::fmt::Write as _;
    if !value.chars().any(|c| c == '\\' || is_hidden(c)) {
        return f.write_str(value);
    }
    for c in value.chars() {
        if c == '\\' {
            f.write_str("\\\\")?;
        } else if is_hidden(c) {
            write!(f, "\\u{{{:x}}}", u32::from(c))?;
        } else {
            f.write_char(c)?;
        }
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

        /// For humans and logs: hidden characters escaped, see [`write_escaped`].
        /// Use [`as_str`](Self::as_str) for keys and the wire.
        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write_escaped(f, &self.0)
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
    /// Validates a user id received from a client, a credential or the host application:
    /// 1 to [`MAX_ID_CHARS`] characters, none of them a control or format character
    /// (Unicode Cc, Cf) or a line or paragraph separator.
    pub fn parse(value: impl Into<String>) -> Result<Self, ChatError> {
        let value = value.into();
        check_new_id("a user id", &value)?;
        Ok(Self(value))
    }

    /// Checks a user id read back from a store (or a presence registry) with the rules
    /// of earlier versions: 1 to [`MAX_ID_CHARS`] characters, no U+0000. Ids stored
    /// before control and format characters were refused stay readable; such a user
    /// cannot connect any more, but its contacts still see its messages.
    pub fn from_stored(value: impl Into<String>) -> Result<Self, ChatError> {
        let value = value.into();
        check_id("a stored user id", &value)?;
        Ok(Self(value))
    }
}

impl ClientMessageId {
    /// Validates a client message id received from a client: the rules of
    /// [`UserId::parse`].
    pub fn parse(value: impl Into<String>) -> Result<Self, ChatError> {
        let value = value.into();
        check_new_id("clientMessageId", &value)?;
        Ok(Self(value))
    }

    /// Checks a client message id read back from a store with the rules of earlier
    /// versions, as [`UserId::from_stored`] does.
    pub fn from_stored(value: impl Into<String>) -> Result<Self, ChatError> {
        let value = value.into();
        check_id("a stored clientMessageId", &value)?;
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

/// The pseudo-socket of the host application's own calls. Transports name their
/// sockets themselves (socketioxide: random ids), so no client can take this one.
const HOST_SOCKET: &str = "host";

impl SocketId {
    /// Wraps the transport's id of a connection.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The socket the host application acts through (its handle's calls).
    pub fn host() -> Self {
        Self(HOST_SOCKET.to_owned())
    }

    pub fn is_host(&self) -> bool {
        self.0 == HOST_SOCKET
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

    /// Controls (Cc), format characters (Cf) and the line and paragraph separators.
    const HIDDEN: &[char] = &[
        '\n',
        '\r',
        '\t',
        '\u{7}',
        '\u{1b}',
        '\u{7f}',
        '\u{85}',
        '\u{9f}',
        '\u{ad}',
        '\u{600}',
        '\u{61c}',
        '\u{180e}',
        '\u{200b}',
        '\u{200c}',
        '\u{200d}',
        '\u{200e}',
        '\u{200f}',
        '\u{2028}',
        '\u{2029}',
        '\u{202a}',
        '\u{202e}',
        '\u{2060}',
        '\u{2064}',
        '\u{2066}',
        '\u{2069}',
        '\u{206f}',
        '\u{feff}',
        '\u{fff9}',
        '\u{fffb}',
        '\u{110bd}',
        '\u{1d173}',
        '\u{e0001}',
        '\u{e0020}',
        '\u{e007f}',
    ];

    #[test]
    fn ids_from_clients_refuse_control_and_format_characters() {
        for &c in HIDDEN {
            for value in [format!("{c}"), format!("al{c}ice"), format!("alice{c}")] {
                let err = UserId::parse(value.clone()).unwrap_err();
                assert_eq!(err.code, crate::ErrorCode::InvalidArgument, "{value:?}");
                assert!(
                    err.message.contains("control or format characters")
                        && err.message.contains(&format!("U+{:04X}", u32::from(c))),
                    "{value:?}: {}",
                    err.message
                );
                let err = ClientMessageId::parse(value.clone()).unwrap_err();
                assert_eq!(err.code, crate::ErrorCode::InvalidArgument, "{value:?}");
                assert!(
                    err.message.starts_with("clientMessageId"),
                    "{}",
                    err.message
                );
            }
        }
    }

    #[test]
    fn ids_from_clients_keep_every_visible_character() {
        for value in [
            "alice",
            "a b",
            "\u{a0}nbsp",
            "日本語",
            "emoji 👩\u{1f3fd}",
            "é",
            "e\u{301}",
            "back\\slash",
            "\u{e000}",
            "a\u{3000}b",
            "\u{fffd}",
        ] {
            assert!(UserId::parse(value).is_ok(), "{value:?}");
            assert!(ClientMessageId::parse(value).is_ok(), "{value:?}");
        }
    }

    #[test]
    fn stored_ids_keep_the_old_rules() {
        for &c in HIDDEN {
            let value = format!("old{c}id");
            assert_eq!(UserId::from_stored(value.clone()).unwrap().as_str(), value);
            assert_eq!(
                ClientMessageId::from_stored(value.clone())
                    .unwrap()
                    .as_str(),
                value
            );
        }
        for bad in [
            String::new(),
            "a\0b".to_owned(),
            "x".repeat(MAX_ID_CHARS + 1),
        ] {
            assert!(UserId::from_stored(bad.clone()).is_err(), "{bad:?}");
            assert!(ClientMessageId::from_stored(bad).is_err());
        }
    }

    #[test]
    fn display_escapes_what_could_forge_a_log_line_and_nothing_else() {
        let shown = |s: &str| UserId::from_stored(s).unwrap().to_string();
        assert_eq!(shown("alice"), "alice");
        assert_eq!(shown("日本語 é"), "日本語 é");
        assert_eq!(shown("a\nINFO forged"), "a\\u{a}INFO forged");
        assert_eq!(
            shown("\u{7}\u{200b}\u{202e}\u{e0041}"),
            "\\u{7}\\u{200b}\\u{202e}\\u{e0041}"
        );
        assert_eq!(shown("\u{2028}"), "\\u{2028}");
        // A backslash is doubled so that no visible id looks like an escaped one.
        assert_eq!(shown("a\\u{a}"), "a\\\\u{a}");
        assert_ne!(shown("a\\u{a}"), shown("a\n"));
        assert_eq!(shown("back\\slash"), "back\\\\slash");
        for &c in HIDDEN {
            let displayed = shown(&format!("x{c}y"));
            assert!(!displayed.chars().any(is_hidden), "{displayed:?}");
        }
        // The other ids too; the raw value stays available, and on the wire.
        let weird = ClientMessageId::from_stored("c\r\n").unwrap();
        assert_eq!(weird.to_string(), "c\\u{d}\\u{a}");
        assert_eq!(weird.as_str(), "c\r\n");
        assert_eq!(serde_json::to_string(&weird).unwrap(), r#""c\r\n""#);
        assert_eq!(MessageId::new("m\n").to_string(), "m\\u{a}");
        assert_eq!(ChatRoomId::new("r\u{85}").to_string(), "r\\u{85}");
        assert_eq!(SocketId::new("s\u{feff}").to_string(), "s\\u{feff}");
    }
}
