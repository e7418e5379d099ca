//! Decoding client payloads (public so that fuzz targets can reach it). Every field is type-checked here: a wrong JSON type (an
//! operator-shaped object included) is `invalid-argument` and never reaches a use case.

use chatzz_core::{
    ChatError, ClientMessageId, HistoryRequest, MessageId, SendRequest, Timestamp, UserId,
};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

fn decode<T: DeserializeOwned>(payload: Value) -> Result<T, ChatError> {
    if !payload.is_object() {
        return Err(ChatError::invalid("the payload must be a JSON object"));
    }
    serde_path_to_error::deserialize(payload).map_err(|err| {
        let path = err.path().to_string();
        let inner = err.into_inner();
        if path == "." {
            ChatError::invalid(format!("bad payload: {inner}"))
        } else {
            ChatError::invalid(format!("{path}: {inner}"))
        }
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ConnectUserPayload {
    user_id: Option<String>,
}

/// `connect-user { userId? }`: the claimed id, which an authenticated connection may omit.
pub fn connect_user(payload: Value) -> Result<Option<UserId>, ChatError> {
    let payload: ConnectUserPayload = decode(payload)?;
    payload.user_id.map(UserId::parse).transpose()
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AddChatUserPayload {
    user_to_add: String,
}

/// `add-chat-user { userToAdd }`
pub fn add_chat_user(payload: Value) -> Result<UserId, ChatError> {
    let payload: AddChatUserPayload = decode(payload)?;
    UserId::parse(payload.user_to_add)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct GetOldMessagesPayload {
    user_id: String,
    date: Option<Value>,
    from_date: Option<Value>,
    before: Option<String>,
    after: Option<String>,
    limit: Option<u64>,
}

fn date(value: Value) -> Result<Option<Timestamp>, ChatError> {
    match value {
        Value::Null => Ok(None),
        Value::String(text) => Timestamp::parse_iso(&text).map(Some),
        Value::Number(n) => match n.as_i64() {
            Some(millis) => Timestamp::parse_millis(millis).map(Some),
            None => Err(ChatError::invalid(
                "date in epoch milliseconds must be an integer",
            )),
        },
        _ => Err(ChatError::invalid(
            "date must be an ISO-8601 string or epoch milliseconds",
        )),
    }
}

/// `get-old-messages { userId, date?, fromDate?, before?, after?, limit? }`
pub fn get_old_messages(payload: Value) -> Result<HistoryRequest, ChatError> {
    let payload: GetOldMessagesPayload = decode(payload)?;
    let since = match (payload.date, payload.from_date) {
        (Some(value), _) if !value.is_null() => date(value)?,
        (_, Some(value)) => date(value)?,
        _ => None,
    };
    Ok(HistoryRequest {
        with: UserId::parse(payload.user_id)?,
        since,
        before: payload.before.map(MessageId::parse).transpose()?,
        after: payload.after.map(MessageId::parse).transpose()?,
        limit: payload.limit,
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SendMessagePayload {
    user_id: String,
    message: String,
    client_message_id: Option<String>,
}

/// `send-message { userId, message, clientMessageId? }`
pub fn send_message(payload: Value) -> Result<SendRequest, ChatError> {
    let payload: SendMessagePayload = decode(payload)?;
    Ok(SendRequest {
        to: UserId::parse(payload.user_id)?,
        text: payload.message,
        client_message_id: payload
            .client_message_id
            .map(ClientMessageId::parse)
            .transpose()?,
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct MessageReadPayload {
    message_id: String,
}

/// `message-read { messageId }`
pub fn message_read(payload: Value) -> Result<MessageId, ChatError> {
    let payload: MessageReadPayload = decode(payload)?;
    MessageId::parse(payload.message_id)
}

/// `get-contacts {}`: nothing to read, but like every event it takes one JSON object
/// (unknown fields ignored).
pub fn get_contacts(payload: Value) -> Result<(), ChatError> {
    let _: serde::de::IgnoredAny = decode(payload)?;
    Ok(())
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct EditMessagePayload {
    message_id: String,
    message: String,
}

/// `edit-message { messageId, message }`: the id and the new text, whose rules (those of
/// `send-message`) the use case checks.
pub fn edit_message(payload: Value) -> Result<(MessageId, String), ChatError> {
    let payload: EditMessagePayload = decode(payload)?;
    Ok((MessageId::parse(payload.message_id)?, payload.message))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DeleteMessagePayload {
    message_id: String,
}

/// `delete-message { messageId }`
pub fn delete_message(payload: Value) -> Result<MessageId, ChatError> {
    let payload: DeleteMessagePayload = decode(payload)?;
    MessageId::parse(payload.message_id)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct BlockPayload {
    user_id: String,
}

/// `block-user { userId }` and `unblock-user { userId }`
pub fn block_user(payload: Value) -> Result<UserId, ChatError> {
    let payload: BlockPayload = decode(payload)?;
    UserId::parse(payload.user_id)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TypingPayload {
    user_id: String,
    typing: bool,
}

/// `typing { userId, typing }`: the contact, and whether typing started (`true`) or
/// stopped.
pub fn typing(payload: Value) -> Result<(UserId, bool), ChatError> {
    let payload: TypingPayload = decode(payload)?;
    Ok((UserId::parse(payload.user_id)?, payload.typing))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chatzz_core::ErrorCode;
    use serde_json::json;

    fn code<T: std::fmt::Debug>(result: Result<T, ChatError>) -> ErrorCode {
        match result {
            Ok(value) => panic!("expected an error, got {value:?}"),
            Err(err) => err.code,
        }
    }

    #[test]
    fn operator_shaped_and_mistyped_ids_are_invalid() {
        for bad in [
            json!({"$gt": ""}),
            json!({"$ne": null}),
            json!(42),
            json!(["a"]),
            json!(null),
            json!(true),
        ] {
            // userId may be null or absent: an authenticated connection need not name itself.
            if !bad.is_null() {
                assert_eq!(
                    code(connect_user(json!({ "userId": bad }))),
                    ErrorCode::InvalidArgument
                );
            }
            assert_eq!(
                code(add_chat_user(json!({ "userToAdd": bad }))),
                ErrorCode::InvalidArgument
            );
            assert_eq!(
                code(message_read(json!({ "messageId": bad }))),
                ErrorCode::InvalidArgument
            );
            assert_eq!(
                code(edit_message(json!({ "messageId": bad, "message": "hi" }))),
                ErrorCode::InvalidArgument
            );
            assert_eq!(
                code(edit_message(json!({ "messageId": "m1", "message": bad }))),
                ErrorCode::InvalidArgument
            );
            assert_eq!(
                code(delete_message(json!({ "messageId": bad }))),
                ErrorCode::InvalidArgument
            );
            assert_eq!(
                code(typing(json!({ "userId": bad, "typing": true }))),
                ErrorCode::InvalidArgument
            );
            assert_eq!(
                code(block_user(json!({ "userId": bad }))),
                ErrorCode::InvalidArgument
            );
            if !bad.is_boolean() {
                assert_eq!(
                    code(typing(json!({ "userId": "bob", "typing": bad }))),
                    ErrorCode::InvalidArgument
                );
            }
            assert_eq!(
                code(send_message(json!({ "userId": bad, "message": "hi" }))),
                ErrorCode::InvalidArgument
            );
            if !bad.is_null() {
                // An optional field may be null: that means "not given".
                assert_eq!(
                    code(get_old_messages(json!({ "userId": "bob", "before": bad }))),
                    ErrorCode::InvalidArgument
                );
            }
        }
    }

    #[test]
    fn errors_name_the_field() {
        let err = send_message(json!({"userId": {"$gt": ""}, "message": "x"})).err();
        assert!(err.is_some_and(|e| e.message.starts_with("userId:")));
        let err = get_old_messages(json!({"userId": "b", "limit": "x"})).err();
        assert!(err.is_some_and(|e| e.message.starts_with("limit:")));
    }

    #[test]
    fn payload_must_be_an_object() {
        for bad in [
            json!(null),
            json!("alice"),
            json!(1),
            json!([{"userId": "alice"}]),
        ] {
            assert_eq!(code(connect_user(bad.clone())), ErrorCode::InvalidArgument);
            assert_eq!(code(get_contacts(bad.clone())), ErrorCode::InvalidArgument);
            assert_eq!(code(edit_message(bad.clone())), ErrorCode::InvalidArgument);
            assert_eq!(
                code(delete_message(bad.clone())),
                ErrorCode::InvalidArgument
            );
            assert_eq!(code(typing(bad.clone())), ErrorCode::InvalidArgument);
            assert_eq!(code(block_user(bad)), ErrorCode::InvalidArgument);
        }
    }

    #[test]
    fn dates_are_iso_or_epoch_millis_with_from_date_alias() {
        let at = |payload| get_old_messages(payload).map(|r| r.since.map(|t| t.millis()));
        assert_eq!(
            at(json!({"userId": "b", "date": "1970-01-01T00:00:01.000Z"})),
            Ok(Some(1000))
        );
        assert_eq!(at(json!({"userId": "b", "date": 2000})), Ok(Some(2000)));
        assert_eq!(at(json!({"userId": "b", "fromDate": 3000})), Ok(Some(3000)));
        assert_eq!(at(json!({"userId": "b"})), Ok(None));
        assert_eq!(
            code(at(json!({"userId": "b", "date": "soon"}))),
            ErrorCode::InvalidArgument
        );
        assert_eq!(
            code(at(json!({"userId": "b", "date": 1.5}))),
            ErrorCode::InvalidArgument
        );
        assert_eq!(
            code(at(json!({"userId": "b", "date": {"$gt": 0}}))),
            ErrorCode::InvalidArgument
        );
    }

    #[test]
    fn limit_must_be_a_non_negative_integer() {
        assert_eq!(
            code(get_old_messages(json!({"userId": "b", "limit": "x"}))),
            ErrorCode::InvalidArgument
        );
        assert_eq!(
            code(get_old_messages(json!({"userId": "b", "limit": -1}))),
            ErrorCode::InvalidArgument
        );
        assert_eq!(
            code(get_old_messages(json!({"userId": "b", "limit": 2.5}))),
            ErrorCode::InvalidArgument
        );
        assert_eq!(
            get_old_messages(json!({"userId": "b", "limit": 7})).map(|r| r.limit),
            Ok(Some(7))
        );
    }

    #[test]
    fn send_message_checks_types_and_client_ids() {
        assert_eq!(
            code(send_message(json!({"userId": "b", "message": 5}))),
            ErrorCode::InvalidArgument
        );
        assert_eq!(
            code(send_message(
                json!({"userId": "b", "message": "hi", "clientMessageId": "x".repeat(129)})
            )),
            ErrorCode::InvalidArgument
        );
        let ok = send_message(json!({"userId": "b", "message": "hi", "clientMessageId": "c1"}));
        assert!(ok.is_ok_and(|m| m.client_message_id.is_some_and(|c| c.as_str() == "c1")));
    }

    #[test]
    fn get_contacts_takes_any_object() {
        assert_eq!(get_contacts(json!({})), Ok(()));
        assert_eq!(get_contacts(json!({"userId": {"$gt": ""}})), Ok(()));
    }

    #[test]
    fn edit_and_delete_need_their_fields() {
        assert_eq!(
            code(edit_message(json!({"messageId": "m1"}))),
            ErrorCode::InvalidArgument
        );
        assert_eq!(
            code(edit_message(json!({"message": "hi"}))),
            ErrorCode::InvalidArgument
        );
        assert_eq!(code(delete_message(json!({}))), ErrorCode::InvalidArgument);
        let err = edit_message(json!({"messageId": "m1", "message": 5})).err();
        assert!(err.is_some_and(|e| e.message.starts_with("message:")));
        // The text is the use case's to judge (empty, too long...), as for send-message.
        assert_eq!(
            edit_message(json!({"messageId": "m1", "message": " "})),
            Ok((MessageId::new("m1"), " ".to_owned()))
        );
        assert_eq!(
            delete_message(json!({"messageId": "m1", "extra": 1})),
            Ok(MessageId::new("m1"))
        );
    }
}
