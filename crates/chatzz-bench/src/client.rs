//! One Socket.IO connection: the handshake (WebSocket, Engine.IO open, namespace
//! connect, `connect-user`), then one task that reads frames and writes the commands
//! it is handed, answering pings, matching acks to what it sent, and timing every
//! `new-message` that arrives for its user.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use futures_util::{SinkExt as _, StreamExt as _};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

use crate::engineio::{
    CONNECT_DEFAULT_NAMESPACE, EnginePacket, SocketPacket, parse_engine, parse_socket, pong_for,
};
use crate::protocol::{
    AckOutcome, ServerEvent, Stamp, decode_ack, decode_event, parse_stamp, write_add_chat_user,
    write_connect_user, write_message_read, write_send_message,
};
use crate::stats::{Stats, bits};

type Ws = WebSocketStream<TcpStream>;

/// Why a connection could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("tcp: {0}")]
    Tcp(#[from] std::io::Error),
    #[error("websocket: {0}")]
    WebSocket(#[from] tokio_tungstenite::tungstenite::Error),
    #[error("timed out")]
    Timeout,
    #[error("connection closed during the handshake")]
    Closed,
    #[error("namespace connect refused: {0}")]
    ConnectRefused(String),
    #[error("connect-user failed: {0}")]
    Refused(String),
    #[error("protocol: {0}")]
    Protocol(String),
}

impl ClientError {
    /// A short stable label to count failures by.
    pub fn label(&self) -> String {
        match self {
            Self::Tcp(e) => format!("connect:tcp:{:?}", e.kind()),
            Self::WebSocket(_) => "connect:websocket".to_owned(),
            Self::Timeout => "connect:timeout".to_owned(),
            Self::Closed => "connect:closed".to_owned(),
            Self::ConnectRefused(_) => "connect:refused".to_owned(),
            Self::Refused(code) => format!("connect-user:{code}"),
            Self::Protocol(_) => "connect:protocol".to_owned(),
        }
    }
}

/// What a connection's task is asked to do.
#[derive(Debug)]
pub enum Cmd {
    /// `send-message` number `seq` to user `to` (an index into [`Ctx::users`]), due
    /// at `intended_ns` by the schedule.
    Send { to: u32, seq: u64, intended_ns: u64 },
    /// `add-chat-user`; `done` gets `Err(code)` if the server refused.
    AddChatUser {
        other: u32,
        done: oneshot::Sender<Result<(), String>>,
    },
}

/// What every connection task shares.
#[derive(Debug)]
pub struct Ctx {
    pub stats: Arc<Stats>,
    /// The ids of the active users, by index.
    pub users: Vec<String>,
    /// Extra characters appended to every message text.
    pub pad: usize,
    pub client_message_id: bool,
    /// Recipients mark each message they receive read (`message-read`).
    pub read: bool,
}

/// Where to connect.
#[derive(Debug, Clone)]
pub struct Target {
    pub addr: SocketAddr,
    /// `ws://host:port/socket.io/?EIO=4&transport=websocket`
    pub ws_url: String,
}

enum Pending {
    Send { seq: u64, written_ns: u64 },
    Read,
    Request(oneshot::Sender<Result<(), String>>),
}

/// A connected socket registered as a user.
#[derive(Debug)]
pub struct Conn {
    ws: Ws,
    /// Index of this connection (shards the histograms).
    idx: usize,
    user: String,
    next_ack: u64,
}

/// Opens a socket and registers it as `user`, within `timeout`.
pub async fn connect(
    target: &Target,
    idx: usize,
    user: String,
    timeout: Duration,
) -> Result<Conn, ClientError> {
    tokio::time::timeout(timeout, handshake(target, idx, user))
        .await
        .map_err(|_| ClientError::Timeout)?
}

async fn handshake(target: &Target, idx: usize, user: String) -> Result<Conn, ClientError> {
    let tcp = TcpStream::connect(target.addr).await?;
    tcp.set_nodelay(true)?;
    // Frames are small. tungstenite zeroes the free part of its read buffer before
    // every read, so 4 KiB instead of the default 128 KiB saves CPU as well as memory.
    let config = WebSocketConfig::default().read_buffer_size(4 * 1024);
    let (mut ws, _response) =
        tokio_tungstenite::client_async_with_config(target.ws_url.as_str(), tcp, Some(config))
            .await?;

    // Engine.IO open, then connect to the default namespace.
    loop {
        let frame = next_text(&mut ws).await?;
        match parse_engine(&frame).map_err(|e| ClientError::Protocol(e.to_string()))? {
            EnginePacket::Open(_) => break,
            EnginePacket::Ping(p) => ws.send(Message::text(pong_for(p))).await?,
            _ => {}
        }
    }
    ws.send(Message::text(CONNECT_DEFAULT_NAMESPACE)).await?;
    loop {
        let frame = next_text(&mut ws).await?;
        match parse_engine(&frame).map_err(|e| ClientError::Protocol(e.to_string()))? {
            EnginePacket::Ping(p) => ws.send(Message::text(pong_for(p))).await?,
            EnginePacket::Close => return Err(ClientError::Closed),
            EnginePacket::Message(sio) => match parse_socket(sio) {
                Ok(SocketPacket::Connect { nsp: "/", .. }) => break,
                Ok(SocketPacket::ConnectError { data, .. }) => {
                    return Err(ClientError::ConnectRefused(data.to_owned()));
                }
                _ => {}
            },
            _ => {}
        }
    }

    let mut frame = String::with_capacity(64 + user.len());
    write_connect_user(&mut frame, 0, &user);
    ws.send(Message::text(frame)).await?;
    loop {
        let frame = next_text(&mut ws).await?;
        match parse_engine(&frame).map_err(|e| ClientError::Protocol(e.to_string()))? {
            EnginePacket::Ping(p) => ws.send(Message::text(pong_for(p))).await?,
            EnginePacket::Close => return Err(ClientError::Closed),
            EnginePacket::Message(sio) => {
                if let Ok(SocketPacket::Ack { id: 0, data, .. }) = parse_socket(sio) {
                    match decode_ack(data) {
                        Ok(AckOutcome::Ok) => break,
                        Ok(AckOutcome::Err(code)) => {
                            return Err(ClientError::Refused(code.as_str().to_owned()));
                        }
                        Err(e) => return Err(ClientError::Protocol(e.to_string())),
                    }
                }
            }
            _ => {}
        }
    }
    Ok(Conn {
        ws,
        idx,
        user,
        next_ack: 1,
    })
}

/// The next text frame; other frames (WebSocket pings are answered by tungstenite)
/// are skipped.
async fn next_text(ws: &mut Ws) -> Result<String, ClientError> {
    loop {
        match ws.next().await {
            None => return Err(ClientError::Closed),
            Some(Err(e)) => return Err(e.into()),
            Some(Ok(Message::Text(t))) => return Ok(t.as_str().to_owned()),
            Some(Ok(Message::Close(_))) => return Err(ClientError::Closed),
            Some(Ok(_)) => {}
        }
    }
}

/// Most commands written before one flush.
const BATCH: usize = 64;

/// Why the run loop stopped.
enum Stop {
    Closed,
}

impl Conn {
    /// Serves the connection until the server closes it: writes what `cmds` hands over
    /// (none for an idle connection), reads everything that arrives.
    pub async fn run(mut self, mut cmds: Option<mpsc::Receiver<Cmd>>, ctx: Arc<Ctx>) {
        let mut pending: HashMap<u64, Pending> = HashMap::with_capacity(64);
        let mut frame = String::with_capacity(256);
        loop {
            let got_cmds = cmds.is_some();
            tokio::select! {
                incoming = self.ws.next() => {
                    let stop = match incoming {
                        None | Some(Err(_)) | Some(Ok(Message::Close(_))) => Some(Stop::Closed),
                        Some(Ok(Message::Text(t))) => self.on_frame(t.as_str(), &mut pending, &ctx).await,
                        Some(Ok(_)) => None,
                    };
                    if let Some(Stop::Closed) = stop {
                        ctx.stats.disconnects.fetch_add(1, Relaxed);
                        break;
                    }
                }
                cmd = async {
                    match cmds.as_mut() {
                        Some(rx) => rx.recv().await,
                        None => None,
                    }
                }, if got_cmds => {
                    let Some(cmd) = cmd else {
                        cmds = None;
                        continue;
                    };
                    let mut ok = self.write_cmd(cmd, &mut frame, &mut pending, &ctx).await;
                    let mut n = 1;
                    while ok && n < BATCH {
                        let Some(next) = cmds.as_mut().and_then(|rx| rx.try_recv().ok()) else {
                            break;
                        };
                        ok = self.write_cmd(next, &mut frame, &mut pending, &ctx).await;
                        n += 1;
                    }
                    if !ok || self.ws.flush().await.is_err() {
                        ctx.stats.disconnects.fetch_add(1, Relaxed);
                        break;
                    }
                }
            }
        }
        // Whatever is still queued will never be written.
        if let Some(mut rx) = cmds {
            rx.close();
            while let Ok(cmd) = rx.try_recv() {
                if let Cmd::Send { seq, .. } = cmd {
                    ctx.stats.write_failed.fetch_add(1, Relaxed);
                    ctx.stats.mark(seq, bits::DROPPED);
                }
            }
        }
    }

    /// Queues one command's frame in the socket's write buffer; false if the socket
    /// failed.
    async fn write_cmd(
        &mut self,
        cmd: Cmd,
        frame: &mut String,
        pending: &mut HashMap<u64, Pending>,
        ctx: &Ctx,
    ) -> bool {
        let ack = self.next_ack;
        self.next_ack += 1;
        frame.clear();
        let stats = &ctx.stats;
        match cmd {
            Cmd::Send {
                to,
                seq,
                intended_ns,
            } => {
                let Some(to_id) = ctx.users.get(to as usize) else {
                    stats.mark(seq, bits::DROPPED);
                    return true;
                };
                let now = stats.now_ns();
                let stamp = Stamp { seq, sent_ns: now };
                write_send_message(frame, ack, to_id, stamp, ctx.pad, ctx.client_message_id);
                if self.ws.feed(Message::text(frame.as_str())).await.is_err() {
                    stats.write_failed.fetch_add(1, Relaxed);
                    stats.mark(seq, bits::DROPPED);
                    return false;
                }
                stats.on_written(self.idx, seq, intended_ns, now);
                pending.insert(
                    ack,
                    Pending::Send {
                        seq,
                        written_ns: now,
                    },
                );
            }
            Cmd::AddChatUser { other, done } => {
                let Some(other_id) = ctx.users.get(other as usize) else {
                    let _ = done.send(Err("no such user".to_owned()));
                    return true;
                };
                write_add_chat_user(frame, ack, other_id);
                if self.ws.feed(Message::text(frame.as_str())).await.is_err() {
                    let _ = done.send(Err("write failed".to_owned()));
                    return false;
                }
                pending.insert(ack, Pending::Request(done));
            }
        }
        true
    }

    /// Writes `message-read` for `message_id`; false if the socket failed.
    async fn mark_read(&mut self, message_id: &str, pending: &mut HashMap<u64, Pending>) -> bool {
        let ack = self.next_ack;
        self.next_ack += 1;
        let mut frame = String::with_capacity(64);
        write_message_read(&mut frame, ack, message_id);
        pending.insert(ack, Pending::Read);
        self.ws.send(Message::text(frame)).await.is_ok()
    }

    async fn on_frame(
        &mut self,
        text: &str,
        pending: &mut HashMap<u64, Pending>,
        ctx: &Ctx,
    ) -> Option<Stop> {
        let stats = &ctx.stats;
        let sio = match parse_engine(text) {
            Ok(EnginePacket::Message(sio)) => sio,
            Ok(EnginePacket::Ping(p)) => {
                return match self.ws.send(Message::text(pong_for(p))).await {
                    Ok(()) => None,
                    Err(_) => Some(Stop::Closed),
                };
            }
            Ok(EnginePacket::Close) => return Some(Stop::Closed),
            Ok(_) => return None,
            Err(_) => {
                stats.decode_errors.fetch_add(1, Relaxed);
                return None;
            }
        };
        match parse_socket(sio) {
            Ok(SocketPacket::Event { data, .. }) => match decode_event(data) {
                Ok(ServerEvent::NewMessage(m)) => {
                    if m.to.id.as_str() == self.user {
                        let now = stats.now_ns();
                        match parse_stamp(m.message.as_str()) {
                            Some(s) => {
                                stats.on_received(self.idx, s.seq, s.sent_ns, now);
                                if ctx.read && !self.mark_read(m.id.as_str(), pending).await {
                                    return Some(Stop::Closed);
                                }
                            }
                            None => {
                                stats.foreign.fetch_add(1, Relaxed);
                            }
                        }
                    }
                }
                Ok(ServerEvent::MessageStatusChanged) => {
                    stats.status_changes.fetch_add(1, Relaxed);
                }
                Ok(ServerEvent::Error(code)) => stats.count_error(code.as_str()),
                Ok(ServerEvent::OtherChatzz | ServerEvent::NotChatzz) => {}
                Err(_) => {
                    stats.decode_errors.fetch_add(1, Relaxed);
                }
            },
            Ok(SocketPacket::Ack { id, data, .. }) => {
                let outcome = decode_ack(data);
                match (pending.remove(&id), outcome) {
                    (Some(Pending::Send { seq, written_ns }), Ok(outcome)) => {
                        let now = stats.now_ns();
                        let code = match &outcome {
                            AckOutcome::Ok => None,
                            AckOutcome::Err(code) => Some(code.as_str()),
                        };
                        stats.on_ack(self.idx, seq, written_ns, now, code);
                    }
                    (Some(Pending::Request(done)), Ok(outcome)) => {
                        let _ = done.send(match outcome {
                            AckOutcome::Ok => Ok(()),
                            AckOutcome::Err(code) => Err(code.as_str().to_owned()),
                        });
                    }
                    (Some(Pending::Read), Ok(AckOutcome::Ok)) => {
                        stats.reads_ok.fetch_add(1, Relaxed);
                    }
                    (Some(Pending::Read), Ok(AckOutcome::Err(code))) => {
                        stats.reads_err.fetch_add(1, Relaxed);
                        stats.count_error(&format!("message-read:{}", code.as_str()));
                    }
                    (Some(Pending::Request(done)), Err(e)) => {
                        stats.decode_errors.fetch_add(1, Relaxed);
                        let _ = done.send(Err(format!("undecodable ack: {e}")));
                    }
                    (Some(Pending::Send { .. } | Pending::Read) | None, _) => {
                        stats.decode_errors.fetch_add(1, Relaxed);
                    }
                }
            }
            Ok(SocketPacket::Disconnect { .. }) => return Some(Stop::Closed),
            Ok(_) => {}
            Err(_) => {
                stats.decode_errors.fetch_add(1, Relaxed);
            }
        }
        None
    }
}
