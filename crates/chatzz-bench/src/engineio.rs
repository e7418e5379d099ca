//! Engine.IO 4 and Socket.IO 5 text framing, as carried in WebSocket text frames.
//!
//! One WebSocket text frame holds one Engine.IO packet: a type digit (`0` open, `1`
//! close, `2` ping, `3` pong, `4` message, `5` upgrade, `6` noop) and its data. A
//! message's data is one Socket.IO packet: a type digit (`0` connect, `1` disconnect,
//! `2` event, `3` ack, `4` connect error, `5`/`6` binary event/ack), then an optional
//! `/namespace,`, then an optional decimal ack id, then JSON. Binary packets are never
//! used by chatzz and are reported as unsupported.

use std::fmt::Write as _;

/// Why a frame could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FrameError {
    Empty,
    UnknownEngineType(char),
    UnknownSocketType(char),
    /// Binary event or ack: chatzz sends none.
    Binary,
    /// An ack id too long for a u64, or an ack packet without one.
    BadAckId,
}

impl std::fmt::Display for FrameError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Empty => f.write_str("empty packet"),
            Self::UnknownEngineType(c) => write!(f, "unknown Engine.IO packet type {c:?}"),
            Self::UnknownSocketType(c) => write!(f, "unknown Socket.IO packet type {c:?}"),
            Self::Binary => f.write_str("binary Socket.IO packets are not supported"),
            Self::BadAckId => f.write_str("bad ack id"),
        }
    }
}

impl std::error::Error for FrameError {}

/// One Engine.IO packet, borrowing from the frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnginePacket<'a> {
    /// `0{"sid":...,"pingInterval":...}`
    Open(&'a str),
    Close,
    /// `2`, possibly with a probe payload.
    Ping(&'a str),
    Pong(&'a str),
    /// `4...`: a Socket.IO packet.
    Message(&'a str),
    Upgrade,
    Noop,
}

/// Reads one Engine.IO packet from a WebSocket text frame.
pub fn parse_engine(frame: &str) -> Result<EnginePacket<'_>, FrameError> {
    let mut chars = frame.chars();
    let kind = chars.next().ok_or(FrameError::Empty)?;
    let rest = chars.as_str();
    Ok(match kind {
        '0' => EnginePacket::Open(rest),
        '1' => EnginePacket::Close,
        '2' => EnginePacket::Ping(rest),
        '3' => EnginePacket::Pong(rest),
        '4' => EnginePacket::Message(rest),
        '5' => EnginePacket::Upgrade,
        '6' => EnginePacket::Noop,
        other => return Err(FrameError::UnknownEngineType(other)),
    })
}

/// One Socket.IO packet, borrowing from the frame. `data` is the JSON text that follows
/// the header (empty when there is none).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SocketPacket<'a> {
    Connect {
        nsp: &'a str,
        data: &'a str,
    },
    Disconnect {
        nsp: &'a str,
    },
    Event {
        nsp: &'a str,
        ack: Option<u64>,
        data: &'a str,
    },
    Ack {
        nsp: &'a str,
        id: u64,
        data: &'a str,
    },
    ConnectError {
        nsp: &'a str,
        data: &'a str,
    },
}

/// Reads one Socket.IO packet (the data of an Engine.IO message).
pub fn parse_socket(packet: &str) -> Result<SocketPacket<'_>, FrameError> {
    let mut chars = packet.chars();
    let kind = chars.next().ok_or(FrameError::Empty)?;
    let rest = chars.as_str();
    if matches!(kind, '5' | '6') {
        return Err(FrameError::Binary);
    }
    if !matches!(kind, '0'..='4') {
        return Err(FrameError::UnknownSocketType(kind));
    }
    let (nsp, rest) = split_namespace(rest);
    Ok(match kind {
        '0' => SocketPacket::Connect { nsp, data: rest },
        '1' => SocketPacket::Disconnect { nsp },
        '2' => {
            let (ack, data) = split_ack_id(rest)?;
            SocketPacket::Event { nsp, ack, data }
        }
        '3' => {
            let (ack, data) = split_ack_id(rest)?;
            SocketPacket::Ack {
                nsp,
                id: ack.ok_or(FrameError::BadAckId)?,
                data,
            }
        }
        _ => SocketPacket::ConnectError { nsp, data: rest },
    })
}

/// `/chat,rest` -> (`/chat`, `rest`); anything else is the default namespace `/`.
fn split_namespace(s: &str) -> (&str, &str) {
    if s.starts_with('/') {
        match s.find(',') {
            Some(i) => (&s[..i], &s[i + 1..]),
            None => (s, ""),
        }
    } else {
        ("/", s)
    }
}

/// Leading decimal digits are the ack id.
fn split_ack_id(s: &str) -> Result<(Option<u64>, &str), FrameError> {
    let digits = s.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 {
        return Ok((None, s));
    }
    let id = s[..digits]
        .parse::<u64>()
        .map_err(|_| FrameError::BadAckId)?;
    Ok((Some(id), &s[digits..]))
}

/// Appends an Engine.IO message holding a Socket.IO event on the default namespace:
/// `42["name",` + the argument `args` writes + `]`, with `<ack>` after `42` when given.
/// `name` must need no JSON escaping (event names here are fixed ASCII words).
pub fn write_event(buf: &mut String, ack: Option<u64>, name: &str, args: impl FnOnce(&mut String)) {
    buf.push_str("42");
    if let Some(id) = ack {
        // Writing to a String cannot fail.
        let _ = write!(buf, "{id}");
    }
    buf.push_str("[\"");
    buf.push_str(name);
    buf.push_str("\",");
    args(buf);
    buf.push(']');
}

/// Appends `s` as a JSON string literal.
pub fn push_json_str(buf: &mut String, s: &str) {
    buf.push('"');
    for c in s.chars() {
        match c {
            '"' => buf.push_str("\\\""),
            '\\' => buf.push_str("\\\\"),
            '\n' => buf.push_str("\\n"),
            '\r' => buf.push_str("\\r"),
            '\t' => buf.push_str("\\t"),
            c if u32::from(c) < 0x20 => {
                let _ = write!(buf, "\\u{:04x}", u32::from(c));
            }
            c => buf.push(c),
        }
    }
    buf.push('"');
}

/// The Engine.IO pong answering a ping, echoing its payload.
pub fn pong_for(ping_payload: &str) -> String {
    let mut s = String::with_capacity(1 + ping_payload.len());
    s.push('3');
    s.push_str(ping_payload);
    s
}

/// The frame that connects to the default namespace.
pub const CONNECT_DEFAULT_NAMESPACE: &str = "40";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engine_packet_types() {
        assert_eq!(
            parse_engine(r#"0{"sid":"x","pingInterval":25000}"#),
            Ok(EnginePacket::Open(r#"{"sid":"x","pingInterval":25000}"#))
        );
        assert_eq!(parse_engine("2"), Ok(EnginePacket::Ping("")));
        assert_eq!(parse_engine("2probe"), Ok(EnginePacket::Ping("probe")));
        assert_eq!(parse_engine("3"), Ok(EnginePacket::Pong("")));
        assert_eq!(parse_engine("1"), Ok(EnginePacket::Close));
        assert_eq!(parse_engine("6"), Ok(EnginePacket::Noop));
        assert_eq!(parse_engine("40"), Ok(EnginePacket::Message("0")));
        assert_eq!(parse_engine(""), Err(FrameError::Empty));
        assert_eq!(parse_engine("9"), Err(FrameError::UnknownEngineType('9')));
    }

    #[test]
    fn connect_and_connect_error() {
        assert_eq!(
            parse_socket(r#"0{"sid":"abc"}"#),
            Ok(SocketPacket::Connect {
                nsp: "/",
                data: r#"{"sid":"abc"}"#
            })
        );
        assert_eq!(
            parse_socket(r#"0/admin,{"sid":"abc"}"#),
            Ok(SocketPacket::Connect {
                nsp: "/admin",
                data: r#"{"sid":"abc"}"#
            })
        );
        assert_eq!(
            parse_socket(r#"4{"message":"nope"}"#),
            Ok(SocketPacket::ConnectError {
                nsp: "/",
                data: r#"{"message":"nope"}"#
            })
        );
        assert_eq!(parse_socket("1"), Ok(SocketPacket::Disconnect { nsp: "/" }));
    }

    #[test]
    fn events_with_and_without_ack_ids() {
        assert_eq!(
            parse_socket(r#"2["chatzz",{"type":"x","data":1}]"#),
            Ok(SocketPacket::Event {
                nsp: "/",
                ack: None,
                data: r#"["chatzz",{"type":"x","data":1}]"#
            })
        );
        assert_eq!(
            parse_socket(r#"217["ev",{}]"#),
            Ok(SocketPacket::Event {
                nsp: "/",
                ack: Some(17),
                data: r#"["ev",{}]"#
            })
        );
        assert_eq!(
            parse_socket(r#"2/chat,5["ev"]"#),
            Ok(SocketPacket::Event {
                nsp: "/chat",
                ack: Some(5),
                data: r#"["ev"]"#
            })
        );
    }

    #[test]
    fn acks() {
        assert_eq!(
            parse_socket(r#"30[null,{"_id":"1"}]"#),
            Ok(SocketPacket::Ack {
                nsp: "/",
                id: 0,
                data: r#"[null,{"_id":"1"}]"#
            })
        );
        assert_eq!(
            parse_socket(r#"318446744073709551615[null]"#),
            Ok(SocketPacket::Ack {
                nsp: "/",
                id: u64::MAX,
                data: "[null]"
            })
        );
        assert_eq!(
            parse_socket("318446744073709551616[null]"),
            Err(FrameError::BadAckId)
        );
        assert_eq!(parse_socket("3[null]"), Err(FrameError::BadAckId));
    }

    #[test]
    fn binary_packets_are_refused() {
        assert_eq!(
            parse_socket(r#"51-["ev",{"_placeholder":true,"num":0}]"#),
            Err(FrameError::Binary)
        );
        assert_eq!(parse_socket("61-0[]"), Err(FrameError::Binary));
        assert_eq!(parse_socket("7"), Err(FrameError::UnknownSocketType('7')));
        assert_eq!(parse_socket(""), Err(FrameError::Empty));
    }

    #[test]
    fn writes_events() {
        let mut buf = String::new();
        write_event(&mut buf, Some(12), "connect-user", |b| {
            b.push_str("{\"userId\":");
            push_json_str(b, "a\"b\\c\n\u{1}é");
            b.push('}');
        });
        assert_eq!(buf, r#"4212["connect-user",{"userId":"a\"b\\c\n\u0001é"}]"#);
        let value: serde_json::Value = match serde_json::from_str(&buf[4..]) {
            Ok(v) => v,
            Err(e) => panic!("not JSON: {e}"),
        };
        assert_eq!(value[1]["userId"], "a\"b\\c\n\u{1}é");

        buf.clear();
        write_event(&mut buf, None, "x", |b| b.push_str("{}"));
        assert_eq!(buf, r#"42["x",{}]"#);
        // What we write, we read back.
        let Ok(EnginePacket::Message(sio)) = parse_engine(&buf) else {
            panic!("not a message")
        };
        assert_eq!(
            parse_socket(sio),
            Ok(SocketPacket::Event {
                nsp: "/",
                ack: None,
                data: r#"["x",{}]"#
            })
        );
        assert_eq!(pong_for("probe"), "3probe");
    }
}
