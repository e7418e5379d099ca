//! The chatzz payloads the load generator writes (`connect-user`, `add-chat-user`,
//! `send-message`) and reads (`chatzz` events and acks), decoded in one pass that
//! borrows from the frame and skips every field it does not need.
//!
//! A benchmark message's text is `"<seq> <send time, ns>"`, optionally followed by
//! padding, so the recipient can tell which message arrived and when it left without
//! any shared map (sender and recipient live in this one process and share a clock).

use std::borrow::Cow;
use std::fmt;
use std::fmt::Write as _;

use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;

use crate::engineio::{push_json_str, write_event};

/// A JSON string that borrows from the input unless it holds escapes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Str<'a>(pub Cow<'a, str>);

impl Str<'_> {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Str<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = Str<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Str(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Str(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(Str(Cow::Owned(v)))
            }
        }
        d.deserialize_str(V(std::marker::PhantomData))
    }
}

/// `{ "_id": ... }`, other fields skipped.
#[derive(Debug, Deserialize)]
pub struct UserRef<'a> {
    #[serde(rename = "_id", borrow)]
    pub id: Str<'a>,
}

/// The parts of a `new-message` Message the benchmark reads.
#[derive(Debug, Deserialize)]
pub struct NewMessage<'a> {
    #[serde(rename = "_id", borrow)]
    pub id: Str<'a>,
    #[serde(borrow)]
    pub to: UserRef<'a>,
    #[serde(borrow)]
    pub message: Str<'a>,
}

#[derive(Debug, Deserialize)]
struct ErrorCode<'a> {
    #[serde(borrow)]
    code: Str<'a>,
}

/// A server event, as far as the benchmark cares.
#[derive(Debug)]
pub enum ServerEvent<'a> {
    NewMessage(NewMessage<'a>),
    MessageStatusChanged,
    /// `chatzz` `{type: "error", data: {code}}`.
    Error(Str<'a>),
    /// Any other `chatzz` type.
    OtherChatzz,
    /// An event not named `chatzz`.
    NotChatzz,
}

/// Decodes the JSON array of an event packet: `["chatzz", {"type": ..., "data": ...}]`.
pub fn decode_event(data: &str) -> Result<ServerEvent<'_>, serde_json::Error> {
    let mut de = serde_json::Deserializer::from_str(data);
    let event = (&mut de).deserialize_seq(EventVisitor)?;
    de.end()?;
    Ok(event)
}

struct EventVisitor;

impl<'de> Visitor<'de> for EventVisitor {
    type Value = ServerEvent<'de>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an event array")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let name: Str<'de> = seq
            .next_element()?
            .ok_or_else(|| de::Error::invalid_length(0, &self))?;
        let event = if name.as_str() == "chatzz" {
            seq.next_element_seed(EnvelopeSeed)?
                .ok_or_else(|| de::Error::invalid_length(1, &self))?
        } else {
            ServerEvent::NotChatzz
        };
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(event)
    }
}

/// `{type, data}`: `data` is decoded by `type` as soon as both are known. The server
/// writes `type` first; if `data` comes first it is kept raw and decoded afterwards.
struct EnvelopeSeed;

impl<'de> DeserializeSeed<'de> for EnvelopeSeed {
    type Value = ServerEvent<'de>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(EnvelopeVisitor)
    }
}

struct EnvelopeVisitor;

impl<'de> Visitor<'de> for EnvelopeVisitor {
    type Value = ServerEvent<'de>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a {type, data} object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut kind: Option<Str<'de>> = None;
        let mut event: Option<ServerEvent<'de>> = None;
        let mut raw: Option<&'de RawValue> = None;
        while let Some(key) = map.next_key::<Str<'de>>()? {
            match key.as_str() {
                "type" => kind = Some(map.next_value()?),
                "data" => match &kind {
                    Some(k) => event = Some(map.next_value_seed(DataSeed(k.as_str()))?),
                    None => raw = Some(map.next_value()?),
                },
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        let kind = kind.ok_or_else(|| de::Error::missing_field("type"))?;
        if let Some(event) = event {
            return Ok(event);
        }
        let raw = raw.ok_or_else(|| de::Error::missing_field("data"))?;
        let mut de = serde_json::Deserializer::from_str(raw.get());
        DataSeed(kind.as_str())
            .deserialize(&mut de)
            .map_err(de::Error::custom)
    }
}

struct DataSeed<'k>(&'k str);

impl<'de> DeserializeSeed<'de> for DataSeed<'_> {
    type Value = ServerEvent<'de>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        Ok(match self.0 {
            "new-message" => ServerEvent::NewMessage(NewMessage::deserialize(d)?),
            "message-status-changed" => {
                IgnoredAny::deserialize(d)?;
                ServerEvent::MessageStatusChanged
            }
            "error" => ServerEvent::Error(ErrorCode::deserialize(d)?.code),
            _ => {
                IgnoredAny::deserialize(d)?;
                ServerEvent::OtherChatzz
            }
        })
    }
}

/// An error-first callback's outcome: `[null, result]` or `[{code, message}, null]`.
#[derive(Debug, PartialEq, Eq)]
pub enum AckOutcome<'a> {
    Ok,
    Err(Str<'a>),
}

/// Decodes the JSON array of an ack packet.
pub fn decode_ack(data: &str) -> Result<AckOutcome<'_>, serde_json::Error> {
    let mut de = serde_json::Deserializer::from_str(data);
    let outcome = (&mut de).deserialize_seq(AckVisitor)?;
    de.end()?;
    Ok(outcome)
}

struct AckVisitor;

impl<'de> Visitor<'de> for AckVisitor {
    type Value = AckOutcome<'de>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an ack array")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let err: Option<ErrorCode<'de>> = seq
            .next_element()?
            .ok_or_else(|| de::Error::invalid_length(0, &self))?;
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(match err {
            None => AckOutcome::Ok,
            Some(e) => AckOutcome::Err(e.code),
        })
    }
}

/// `42<ack>["connect-user",{"userId":...}]`
pub fn write_connect_user(buf: &mut String, ack: u64, user: &str) {
    write_event(buf, Some(ack), "connect-user", |b| {
        b.push_str("{\"userId\":");
        push_json_str(b, user);
        b.push('}');
    });
}

/// `42<ack>["message-read",{"messageId":...}]`
pub fn write_message_read(buf: &mut String, ack: u64, message_id: &str) {
    write_event(buf, Some(ack), "message-read", |b| {
        b.push_str("{\"messageId\":");
        push_json_str(b, message_id);
        b.push('}');
    });
}

/// `42<ack>["add-chat-user",{"userToAdd":...}]`
pub fn write_add_chat_user(buf: &mut String, ack: u64, other: &str) {
    write_event(buf, Some(ack), "add-chat-user", |b| {
        b.push_str("{\"userToAdd\":");
        push_json_str(b, other);
        b.push('}');
    });
}

/// `42<ack>["send-message",{"userId":...,"message":"<seq> <ns>[ pad]","clientMessageId":"m<seq>"}]`
pub fn write_send_message(
    buf: &mut String,
    ack: u64,
    to: &str,
    stamp: Stamp,
    pad: usize,
    client_message_id: bool,
) {
    write_event(buf, Some(ack), "send-message", |b| {
        b.push_str("{\"userId\":");
        push_json_str(b, to);
        let _ = write!(b, ",\"message\":\"{} {}", stamp.seq, stamp.sent_ns);
        if pad > 0 {
            b.push(' ');
            b.extend(std::iter::repeat_n('x', pad));
        }
        b.push('"');
        if client_message_id {
            let _ = write!(b, ",\"clientMessageId\":\"m{}\"", stamp.seq);
        }
        b.push('}');
    });
}

/// What a benchmark message's text carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    /// Global sequence number of the message in this run.
    pub seq: u64,
    /// When the sender wrote it to its socket, in ns since the run's epoch.
    pub sent_ns: u64,
}

/// Reads the stamp back from a message text; `None` for text this run did not write.
pub fn parse_stamp(text: &str) -> Option<Stamp> {
    let mut parts = text.split(' ');
    let seq = parts.next()?.parse().ok()?;
    let sent_ns = parts.next()?.parse().ok()?;
    Some(Stamp { seq, sent_ns })
}

#[cfg(test)]
mod tests {
    use super::*;

    const NEW_MESSAGE: &str = r#"["chatzz",{"type":"new-message","data":{"_id":"00000000000000000007","chatRoomId":"r1","createdAt":"2026-01-02T03:04:05.678Z","from":{"_id":"alice","name":"A"},"to":{"_id":"bob"},"message":"7 123456789","status":"not_sent","readAt":null}}]"#;

    #[test]
    fn decodes_new_message_borrowing() {
        let Ok(ServerEvent::NewMessage(m)) = decode_event(NEW_MESSAGE) else {
            panic!("not a new-message")
        };
        assert_eq!(m.to.id.as_str(), "bob");
        assert!(matches!(m.to.id.0, Cow::Borrowed(_)));
        assert_eq!(m.id.as_str(), "00000000000000000007");
        assert_eq!(
            parse_stamp(m.message.as_str()),
            Some(Stamp {
                seq: 7,
                sent_ns: 123_456_789
            })
        );
    }

    #[test]
    fn decodes_data_before_type() {
        let ev = r#"["chatzz",{"data":{"_id":"9","message":"1 2 xxx","to":{"_id":"b\u00e9"},"from":{"_id":"a"}},"type":"new-message"}]"#;
        let Ok(ServerEvent::NewMessage(m)) = decode_event(ev) else {
            panic!("not a new-message")
        };
        assert_eq!(m.to.id.as_str(), "bé");
        assert_eq!(
            parse_stamp(m.message.as_str()),
            Some(Stamp { seq: 1, sent_ns: 2 })
        );
    }

    #[test]
    fn decodes_other_events() {
        assert!(matches!(
            decode_event(
                r#"["chatzz",{"type":"message-status-changed","data":{"_id":"1","status":"sent"}}]"#
            ),
            Ok(ServerEvent::MessageStatusChanged)
        ));
        assert!(matches!(
            decode_event(
                r#"["chatzz",{"type":"user-details","data":{"user":{"_id":"a"},"missedMessages":{}}}]"#
            ),
            Ok(ServerEvent::OtherChatzz)
        ));
        assert!(matches!(
            decode_event(r#"["chatzz",{"type":"old-messages","data":[]}]"#),
            Ok(ServerEvent::OtherChatzz)
        ));
        let Ok(ServerEvent::Error(code)) = decode_event(
            r#"["chatzz",{"type":"error","data":{"event":"send-message","code":"not-a-contact","message":"no"}}]"#,
        ) else {
            panic!("not an error")
        };
        assert_eq!(code.as_str(), "not-a-contact");
        assert!(matches!(
            decode_event(r#"["something",1,2,3]"#),
            Ok(ServerEvent::NotChatzz)
        ));
    }

    #[test]
    fn refuses_malformed_events() {
        assert!(decode_event("[]").is_err());
        assert!(decode_event(r#"["chatzz"]"#).is_err());
        assert!(decode_event(r#"["chatzz",{"data":1}]"#).is_err());
        assert!(decode_event(r#"["chatzz",{"type":"new-message","data":{"to":{}}}]"#).is_err());
        assert!(decode_event(r#"["chatzz",{"type":"x","data":1}] trailing"#).is_err());
        assert!(decode_event("{}").is_err());
    }

    #[test]
    fn decodes_acks() {
        assert_eq!(
            decode_ack(r#"[null,{"_id":"1","message":"x"}]"#).ok(),
            Some(AckOutcome::Ok)
        );
        assert_eq!(
            decode_ack(r#"[{"code":"rate-limited","message":"slow down"},null]"#).ok(),
            Some(AckOutcome::Err(Str(Cow::Borrowed("rate-limited"))))
        );
        assert_eq!(decode_ack("[null]").ok(), Some(AckOutcome::Ok));
        assert!(decode_ack("[]").is_err());
        assert!(decode_ack(r#"[{"message":"no code"},null]"#).is_err());
    }

    #[test]
    fn writes_requests_that_parse_back() {
        let mut buf = String::new();
        let stamp = Stamp {
            seq: 42,
            sent_ns: 1_000_000_007,
        };
        write_send_message(&mut buf, 9, "u\"1", stamp, 3, true);
        assert_eq!(
            buf,
            r#"429["send-message",{"userId":"u\"1","message":"42 1000000007 xxx","clientMessageId":"m42"}]"#
        );
        let v: serde_json::Value = serde_json::from_str(&buf[3..]).expect("JSON");
        assert_eq!(v[1]["userId"], "u\"1");
        assert_eq!(
            parse_stamp(v[1]["message"].as_str().expect("text")),
            Some(stamp)
        );

        buf.clear();
        write_send_message(&mut buf, 0, "b", stamp, 0, false);
        assert_eq!(
            buf,
            r#"420["send-message",{"userId":"b","message":"42 1000000007"}]"#
        );

        buf.clear();
        write_connect_user(&mut buf, 0, "alice");
        assert_eq!(buf, r#"420["connect-user",{"userId":"alice"}]"#);
        buf.clear();
        write_add_chat_user(&mut buf, 1, "bob");
        assert_eq!(buf, r#"421["add-chat-user",{"userToAdd":"bob"}]"#);
        buf.clear();
        write_message_read(&mut buf, 2, "00000000000000000007");
        assert_eq!(
            buf,
            r#"422["message-read",{"messageId":"00000000000000000007"}]"#
        );
    }

    #[test]
    fn stamps_from_foreign_text_are_none() {
        assert_eq!(parse_stamp("hello there"), None);
        assert_eq!(parse_stamp("12"), None);
        assert_eq!(parse_stamp(""), None);
    }
}
