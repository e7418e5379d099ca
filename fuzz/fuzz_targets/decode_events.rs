//! Every client payload decoder of `chatzz_socketio::requests` on arbitrary JSON: none
//! may panic, every error is `invalid-argument`, and whatever decodes passes the domain's
//! own checks again (the decoders validate; they never let an unchecked id through).

#![no_main]

use chatzz_core::{ChatError, ClientMessageId, ErrorCode, MessageId, UserId};
use chatzz_socketio::requests;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fn rejected_as_invalid<T: std::fmt::Debug>(
    event: &str,
    payload: &Value,
    result: &Result<T, ChatError>,
) {
    if let Err(err) = result {
        assert_eq!(
            err.code,
            ErrorCode::InvalidArgument,
            "{event} rejected {payload} with {err}"
        );
    }
}

fn valid_user(id: &UserId) {
    assert_eq!(UserId::parse(id.as_str()).as_ref(), Ok(id));
}

fn valid_message_id(id: &MessageId) {
    assert_eq!(MessageId::parse(id.as_str()).as_ref(), Ok(id));
}

fn valid_client_id(id: &ClientMessageId) {
    assert_eq!(ClientMessageId::parse(id.as_str()).as_ref(), Ok(id));
}

fn decode_all(payload: &Value) {
    let result = requests::connect_user(payload.clone());
    rejected_as_invalid("connect-user", payload, &result);
    if let Ok(Some(user)) = &result {
        valid_user(user);
    }

    let result = requests::add_chat_user(payload.clone());
    rejected_as_invalid("add-chat-user", payload, &result);
    if let Ok(user) = &result {
        valid_user(user);
    }

    let result = requests::get_old_messages(payload.clone());
    rejected_as_invalid("get-old-messages", payload, &result);
    if let Ok(request) = &result {
        valid_user(&request.with);
        request.before.iter().for_each(valid_message_id);
        request.after.iter().for_each(valid_message_id);
    }

    let result = requests::send_message(payload.clone());
    rejected_as_invalid("send-message", payload, &result);
    if let Ok(message) = &result {
        valid_user(&message.to);
        message.client_message_id.iter().for_each(valid_client_id);
    }

    let result = requests::message_read(payload.clone());
    rejected_as_invalid("message-read", payload, &result);
    if let Ok(id) = &result {
        valid_message_id(id);
    }

    // Protocol 1.1.
    let result = requests::get_contacts(payload.clone());
    rejected_as_invalid("get-contacts", payload, &result);
    if result.is_ok() {
        assert!(payload.is_object(), "get-contacts took {payload}");
    }

    let result = requests::edit_message(payload.clone());
    rejected_as_invalid("edit-message", payload, &result);
    if let Ok((id, _)) = &result {
        valid_message_id(id);
    }

    let result = requests::delete_message(payload.clone());
    rejected_as_invalid("delete-message", payload, &result);
    if let Ok(id) = &result {
        valid_message_id(id);
    }

    let result = requests::typing(payload.clone());
    rejected_as_invalid("typing", payload, &result);
    if let Ok((user, _)) = &result {
        valid_user(user);
    }

    let result = requests::block_user(payload.clone());
    rejected_as_invalid("block-user", payload, &result);
    if let Ok(user) = &result {
        valid_user(user);
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(payload) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    decode_all(&payload);
    // Each element of a top-level array too: one input then tries several payloads.
    if let Value::Array(items) = &payload {
        items.iter().for_each(decode_all);
    }
});
