//! The domain's validators on arbitrary strings and numbers: they never panic, reject
//! only with `invalid-argument`, accept exactly what their documentation says, and the
//! id cursors of `chatzz_core::sequence` select exactly what string comparison selects.

#![no_main]

use arbitrary::Arbitrary;
use chatzz_core::id::MAX_ID_CHARS;
use chatzz_core::sequence::{WIDTH, above, below, decode, encode};
use chatzz_core::{
    ChatError, ClientMessageId, ErrorCode, MessageId, MessageText, Timestamp, UserId,
};
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
enum Input {
    Text { text: String, max_chars: u16 },
    Id(String),
    Iso(String),
    Millis(i64),
    Cursor { cursor: Cursor, n: u64 },
}

/// A `before`/`after` cursor: any string, or one made from a real id so that it lands
/// next to ids (a prefix of one, one with a byte changed, one with something appended).
#[derive(Arbitrary, Debug)]
enum Cursor {
    Any(String),
    NearId {
        n: u64,
        keep: u8,
        replace: Option<(u8, u8)>,
        tail: String,
    },
}

impl Cursor {
    fn build(self) -> String {
        match self {
            Cursor::Any(text) => text,
            Cursor::NearId {
                n,
                keep,
                replace,
                tail,
            } => {
                let mut bytes = encode(n).into_bytes();
                if let Some((at, byte)) = replace {
                    let at = usize::from(at) % WIDTH;
                    // ASCII only, so that the cursor stays a string.
                    bytes[at] = byte & 0x7f;
                }
                bytes.truncate(usize::from(keep));
                let mut cursor = String::from_utf8(bytes).expect("ASCII");
                cursor.push_str(&tail);
                cursor
            }
        }
    }
}

fn invalid<T: std::fmt::Debug>(what: &str, result: &Result<T, ChatError>) {
    if let Err(err) = result {
        assert_eq!(err.code, ErrorCode::InvalidArgument, "{what}: {err}");
    }
}

fn check_text(text: String, max_chars: usize) {
    let expected =
        !text.trim().is_empty() && !text.contains('\0') && text.chars().count() <= max_chars;
    let result = MessageText::parse(text.clone(), max_chars);
    invalid("MessageText", &result);
    assert_eq!(
        result.is_ok(),
        expected,
        "MessageText {text:?} at most {max_chars}"
    );
    if let Ok(parsed) = result {
        assert_eq!(parsed.as_str(), text, "the text is kept exactly as sent");
    }
}

/// Characters a user or client message id may not hold: they could forge log lines or
/// hide what an id says (Unicode Cc, Cf, and the line and paragraph separators).
fn hidden(c: char) -> bool {
    use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};
    matches!(
        c.general_category(),
        GeneralCategory::Control
            | GeneralCategory::Format
            | GeneralCategory::LineSeparator
            | GeneralCategory::ParagraphSeparator
    )
}

fn check_id(id: String) {
    let stored_ok = !id.is_empty() && id.chars().count() <= MAX_ID_CHARS && !id.contains('\0');
    let expected = stored_ok && !id.chars().any(hidden);
    assert_eq!(UserId::from_stored(id.clone()).is_ok(), stored_ok, "stored UserId {id:?}");

    let user = UserId::parse(id.clone());
    invalid("UserId", &user);
    assert_eq!(user.is_ok(), expected, "UserId {id:?}");
    assert!(user.is_err() || user.as_ref().is_ok_and(|u| u.as_str() == id));

    let client = ClientMessageId::parse(id.clone());
    invalid("ClientMessageId", &client);
    assert_eq!(client.is_ok(), expected, "ClientMessageId {id:?}");
    assert!(client.is_err() || client.as_ref().is_ok_and(|c| c.as_str() == id));

    let message = MessageId::parse(id.clone());
    invalid("MessageId", &message);
    assert_eq!(message.is_ok(), stored_ok, "MessageId {id:?}");
    assert!(message.is_err() || message.as_ref().is_ok_and(|m| m.as_str() == id));
}

fn check_timestamp(at: Timestamp) {
    // What a timestamp says in millis is what it is.
    assert_eq!(Timestamp::parse_millis(at.millis()), Ok(at));
    let iso = at.to_iso();
    // Within RFC 3339's four-digit years, what is written reads back the same.
    if (-62_167_219_200_000..=253_402_300_799_999).contains(&at.millis()) {
        assert_eq!(Timestamp::parse_iso(&iso), Ok(at), "{iso}");
    }
}

fn check_iso(text: &str) {
    let result = Timestamp::parse_iso(text);
    invalid("parse_iso", &result);
    if let Ok(at) = result {
        check_timestamp(at);
    }
}

fn check_millis(millis: i64) {
    let result = Timestamp::parse_millis(millis);
    invalid("parse_millis", &result);
    if let Ok(at) = result {
        assert_eq!(at.millis(), millis);
        check_timestamp(at);
    }
}

/// The property `sequence` documents, for one id.
fn check_order(cursor: &str, n: u64) {
    let id = encode(n);
    assert_eq!(
        id.as_str() < cursor,
        u128::from(n) < below(cursor),
        "{id} < {cursor:?} (below = {})",
        below(cursor)
    );
    assert_eq!(
        id.as_str() > cursor,
        u128::from(n) >= above(cursor),
        "{id} > {cursor:?} (above = {})",
        above(cursor)
    );
}

fn check_cursor(cursor: &str, n: u64) {
    // decode is encode's inverse, and accepts nothing else.
    assert_eq!(decode(&encode(n)), Some(n));
    if let Some(m) = decode(cursor) {
        assert_eq!(encode(m), cursor);
    }

    let (low, high) = (below(cursor), above(cursor));
    let exact = cursor.len() == WIDTH && cursor.bytes().all(|b| b.is_ascii_digit());
    assert_eq!(high - low, u128::from(exact), "{cursor:?}: {low}..{high}");
    assert!(high <= 10u128.pow(WIDTH as u32), "{cursor:?}: {high}");

    check_order(cursor, n);
    // The ids at the edges of the ranges, where an off-by-one would show.
    for edge in [low, high] {
        for candidate in [edge.checked_sub(1), Some(edge), edge.checked_add(1)] {
            if let Some(m) = candidate.and_then(|c| u64::try_from(c).ok()) {
                check_order(cursor, m);
            }
        }
    }
}

fuzz_target!(|input: Input| {
    match input {
        Input::Text { text, max_chars } => check_text(text, usize::from(max_chars)),
        Input::Id(id) => check_id(id),
        Input::Iso(text) => check_iso(&text),
        Input::Millis(millis) => check_millis(millis),
        Input::Cursor { cursor, n } => {
            let cursor = cursor.build();
            check_cursor(&cursor, n);
        }
    }
});
