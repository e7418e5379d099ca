//! The transport floor: a bare socketioxide server that answers the load tool with the
//! same events and acks chatzz sends, and does nothing else (no store, no checks, no
//! presence, no ordering per socket). chatzz's CPU per 1000 messages divided by this
//! server's, under the same load, is how far chatzz is above what the transport alone
//! costs (`scripts/bench-relay`, docs/benchmarks.md).
//!
//! Per `send-message` it emits `new-message` (the Message as `not_sent`) to the rooms
//! of both users, then `message-status-changed` (as `sent`) to both, then acks with the
//! message, as chatzz does for an online recipient. Per `message-read` it emits
//! `message-status-changed` (as `read`) to the sender and to the reader's other
//! sockets, and acks. Messages are shaped as chatzz shapes them (20-digit ids, ISO
//! times, `{ "_id" }` user details), so the bytes on the wire match.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};

use axum::serve::ListenerExt;
use chrono::{SecondsFormat, Utc};
use clap::Parser;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use socketioxide::SocketIo;
use socketioxide::extract::{AckSender, Data, SocketRef};

#[derive(Debug, Parser)]
#[command(about = "A bare socketioxide relay: the transport floor chatzz is measured against")]
struct Args {
    /// Where to listen; port 0 picks a free one (printed on stdout).
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// Remember each message's users until it is read, for `message-read` (a load with
    /// `--read`); without it the relay keeps nothing per message and reads fail.
    #[arg(long)]
    reads: bool,
}

/// The user a socket connected as.
#[derive(Debug, Clone)]
struct Me(String);

/// Who sent each message not yet read, so a read can tell its sender (the one thing
/// the relay must remember).
#[derive(Debug, Default)]
struct Relay {
    next_id: AtomicU64,
    senders: Option<Mutex<HashMap<String, (String, String)>>>,
}

static RELAY: OnceLock<Relay> = OnceLock::new();

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SendMessage {
    user_id: String,
    message: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct MessageRead {
    message_id: String,
}

#[derive(Debug, Serialize)]
struct UserRef<'a> {
    #[serde(rename = "_id")]
    id: &'a str,
}

/// A Message as chatzz puts it on the wire.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Message<'a> {
    #[serde(rename = "_id")]
    id: &'a str,
    chat_room_id: &'a str,
    created_at: &'a str,
    from: UserRef<'a>,
    to: UserRef<'a>,
    message: &'a str,
    status: &'static str,
    read_at: Option<&'a str>,
    edited_at: Option<&'a str>,
    deleted_at: Option<&'a str>,
}

#[derive(Debug, Serialize)]
struct Event<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    data: &'a Message<'a>,
}

/// Now as chatzz writes times: ISO 8601 UTC with milliseconds.
fn iso_now() -> String {
    Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true)
}

async fn on_connect(socket: SocketRef) {
    socket.on(
        "connect-user",
        async |socket: SocketRef, Data(payload): Data<Value>, ack: AckSender| {
            let user = payload
                .get("userId")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            socket.join(user.clone());
            let reply = json!({
                "user": { "_id": user },
                "status": "online",
                "lastOnline": null,
                "connectedUsers": [],
                "missedMessages": {},
            });
            socket.extensions.insert(Me(user));
            let _ = ack.send(&(Value::Null, reply));
        },
    );
    socket.on(
        "add-chat-user",
        async |Data(payload): Data<Value>, ack: AckSender| {
            let other = payload
                .get("userToAdd")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let reply = json!({ "user": { "_id": other }, "status": "online", "lastOnline": null });
            let _ = ack.send(&(Value::Null, reply));
        },
    );
    socket.on(
        "send-message",
        async |socket: SocketRef, Data(request): Data<SendMessage>, ack: AckSender| {
            let Some(relay) = RELAY.get() else {
                return;
            };
            let Some(Me(from)) = socket.extensions.get::<Me>() else {
                return;
            };
            let seq = relay.next_id.fetch_add(1, Ordering::Relaxed) + 1;
            let id = format!("{seq:020}");
            let created_at = iso_now();
            let mut message = Message {
                id: &id,
                chat_room_id: "1",
                created_at: &created_at,
                from: UserRef { id: &from },
                to: UserRef {
                    id: &request.user_id,
                },
                message: &request.message,
                status: "not_sent",
                read_at: None,
                edited_at: None,
                deleted_at: None,
            };
            if let Some(senders) = &relay.senders {
                senders
                    .lock()
                    .unwrap_or_else(|poison| poison.into_inner())
                    .insert(id.clone(), (from.clone(), request.user_id.clone()));
            }
            let rooms = [from.clone(), request.user_id.clone()];
            let new = Event {
                kind: "new-message",
                data: &message,
            };
            let _ = socket.within(rooms.clone()).emit("chatzz", &new).await;
            message.status = "sent";
            let changed = Event {
                kind: "message-status-changed",
                data: &message,
            };
            let _ = socket.within(rooms).emit("chatzz", &changed).await;
            let _ = ack.send(&(Value::Null, &message));
        },
    );
    socket.on(
        "message-read",
        async |socket: SocketRef, Data(request): Data<MessageRead>, ack: AckSender| {
            let Some(relay) = RELAY.get() else {
                return;
            };
            let known = relay.senders.as_ref().and_then(|senders| {
                senders
                    .lock()
                    .unwrap_or_else(|poison| poison.into_inner())
                    .remove(&request.message_id)
            });
            let Some((from, to)) = known else {
                let _ = ack.send(&(json!({ "code": "not-found" }), Value::Null));
                return;
            };
            let read_at = iso_now();
            let message = Message {
                id: &request.message_id,
                chat_room_id: "1",
                created_at: &read_at,
                from: UserRef { id: &from },
                to: UserRef { id: &to },
                message: "",
                status: "read",
                read_at: Some(&read_at),
                edited_at: None,
                deleted_at: None,
            };
            let changed = Event {
                kind: "message-status-changed",
                data: &message,
            };
            let _ = socket.within(from.clone()).emit("chatzz", &changed).await;
            let _ = socket.to(to.clone()).emit("chatzz", &changed).await;
            let _ = ack.send(&(Value::Null, &message));
        },
    );
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let args = Args::parse();
    RELAY.get_or_init(|| Relay {
        next_id: AtomicU64::new(0),
        senders: args.reads.then(Mutex::default),
    });
    // The transport settings chatzz ships with that change per-message work.
    let (layer, io) = SocketIo::builder()
        .ws_read_buffer_size(512)
        .max_buffer_size(1024)
        .build_layer();
    io.ns("/", on_connect);
    let app = axum::Router::new().layer(layer);
    let listener = tokio::net::TcpListener::bind(args.listen).await?;
    println!(
        "chatzz-relay listening on http://{}",
        listener.local_addr()?
    );
    // As chatzz's listener: small writes (acks, events) leave at once.
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    axum::serve(listener, app).await
}
