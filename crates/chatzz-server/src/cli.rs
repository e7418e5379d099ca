//! The flags. Every default comes from [`chatzz::Settings::default`] or, for the
//! binary's own settings, [`ServerSettings::default`]; every rule is checked by their
//! `validate` (so no flag has a range of its own here).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use chatzz::{Rate, RatedEvent, Settings};
use clap::Parser;

use crate::app::ServerSettings;

/// The library's defaults, so that the flags' defaults are the library's own.
fn defaults() -> Settings {
    Settings::default()
}

/// The binary's own defaults.
fn server() -> ServerSettings {
    ServerSettings::default()
}

/// One-to-one realtime chat over Socket.IO.
#[derive(Debug, Parser)]
#[command(name = "chatzz", version, about, args_override_self = true)]
pub struct Args {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, env = "CHATZZ_LISTEN", default_value_t = server().listen)]
    pub listen: SocketAddr,

    /// Where to store chats: `sqlite://PATH` (the default, a file beside you),
    /// `memory:` (gone on exit), `postgres://USER@HOST/DB`, `mongodb://HOST/DB`.
    #[arg(long, env = "CHATZZ_DATABASE_URL", default_value_t = server().database)]
    pub database: String,

    /// Prefix of chatzz's own table or collection names.
    #[arg(long, env = "CHATZZ_TABLE_PREFIX", default_value_t = defaults().table_prefix)]
    pub table_prefix: String,

    /// Longest message text, in Unicode code points.
    #[arg(long, env = "CHATZZ_MAX_MESSAGE_CHARS", default_value_t = defaults().config.max_message_chars)]
    pub max_message_chars: usize,

    /// Messages one user may send per second on average (0: no limit).
    #[arg(long, env = "CHATZZ_SEND_RATE", default_value_t = defaults().config.send_rate.per_second)]
    pub send_rate: f64,

    /// Messages one user may send at once before the rate applies.
    #[arg(long, env = "CHATZZ_SEND_BURST", default_value_t = defaults().config.send_rate.burst as u32)]
    pub send_burst: u32,

    /// `connect-user` events one user may send per second on average (0: no limit).
    #[arg(long, env = "CHATZZ_CONNECT_RATE", default_value_t = defaults().config.connect_user_rate.per_second)]
    pub connect_rate: f64,
    /// `connect-user` events one user may send at once before the rate applies.
    #[arg(long, env = "CHATZZ_CONNECT_BURST", default_value_t = defaults().config.connect_user_rate.burst as u32)]
    pub connect_burst: u32,

    /// `add-chat-user` events one user may send per second on average (0: no limit).
    #[arg(long, env = "CHATZZ_ADD_CHAT_USER_RATE", default_value_t = defaults().config.add_chat_user_rate.per_second)]
    pub add_chat_user_rate: f64,
    /// `add-chat-user` events one user may send at once before the rate applies.
    #[arg(long, env = "CHATZZ_ADD_CHAT_USER_BURST", default_value_t = defaults().config.add_chat_user_rate.burst as u32)]
    pub add_chat_user_burst: u32,

    /// `get-old-messages` events one user may send per second on average (0: no limit).
    #[arg(long, env = "CHATZZ_HISTORY_RATE", default_value_t = defaults().config.get_old_messages_rate.per_second)]
    pub history_rate: f64,
    /// `get-old-messages` events one user may send at once before the rate applies.
    #[arg(long, env = "CHATZZ_HISTORY_BURST", default_value_t = defaults().config.get_old_messages_rate.burst as u32)]
    pub history_burst: u32,

    /// `message-read` events one user may send per second on average (0: no limit).
    #[arg(long, env = "CHATZZ_READ_RATE", default_value_t = defaults().config.message_read_rate.per_second)]
    pub read_rate: f64,
    /// `message-read` events one user may send at once before the rate applies.
    #[arg(long, env = "CHATZZ_READ_BURST", default_value_t = defaults().config.message_read_rate.burst as u32)]
    pub read_burst: u32,

    /// Seconds after sending during which a message may still be edited by its sender
    /// (`edit-message`; later it fails with `forbidden`). Deleting has no limit.
    #[arg(long, env = "CHATZZ_EDIT_WINDOW", default_value_t = defaults().config.edit_window.as_secs())]
    pub edit_window: u64,

    /// Most live sockets one user may hold.
    #[arg(long, env = "CHATZZ_MAX_SOCKETS_PER_USER", default_value_t = defaults().config.max_sockets_per_user)]
    pub max_sockets_per_user: usize,

    /// Most events of one connection that may wait for the ones before it; more fail
    /// at once with `rate-limited`.
    #[arg(long, env = "CHATZZ_MAX_QUEUED_EVENTS", default_value_t = defaults().transport.max_queued_events)]
    pub max_queued_events: u64,

    /// Largest client packet in bytes (WebSocket message or frame, polling body);
    /// default: room for one longest message.
    #[arg(long, env = "CHATZZ_MAX_PACKET_BYTES")]
    pub max_packet_bytes: Option<usize>,

    /// Most packets in one long-polling response; the rest wait for the client's next
    /// request. Python clients (python-engineio) refuse more than 16.
    #[arg(long, env = "CHATZZ_MAX_POLLING_PACKETS", default_value_t = defaults().socketio.max_polling_packets)]
    pub max_polling_packets: usize,

    /// Seconds between heartbeats.
    #[arg(long, env = "CHATZZ_PING_INTERVAL", default_value_t = defaults().socketio.ping_interval.as_secs())]
    pub ping_interval: u64,

    /// Seconds a client may miss a heartbeat before it is disconnected.
    #[arg(long, env = "CHATZZ_PING_TIMEOUT", default_value_t = defaults().socketio.ping_timeout.as_secs())]
    pub ping_timeout: u64,

    /// Seconds a transport may stay open without joining the namespace.
    #[arg(long, env = "CHATZZ_CONNECT_TIMEOUT", default_value_t = defaults().socketio.connect_timeout.as_secs())]
    pub connect_timeout: u64,

    /// Seconds a store call may take before the client gets `unavailable`.
    #[arg(long, env = "CHATZZ_STORE_TIMEOUT", default_value_t = defaults().store_timeout.as_secs())]
    pub store_timeout: u64,

    /// Seconds a client may take to send its request headers (slowloris guard).
    #[arg(long, env = "CHATZZ_HEADER_READ_TIMEOUT", default_value_t = server().header_read_timeout.as_secs())]
    pub header_read_timeout: u64,

    /// Seconds a client may leave what is sent to it unread (its connection's writes
    /// blocked, with pauses under a second) before the connection is closed.
    #[arg(long, env = "CHATZZ_SLOW_CONSUMER_TIMEOUT", default_value_t = server().slow_consumer_timeout.as_secs())]
    pub slow_consumer_timeout: u64,

    /// Bytes of large replies (history pages, user-details, get-contacts) one
    /// connection may have queued for it, refilled at as much per 10 s; beyond, those
    /// events fail with `rate-limited`.
    #[arg(long, env = "CHATZZ_MAX_OUTBOUND_BYTES", default_value_t = defaults().transport.max_outbound_bytes)]
    pub max_outbound_bytes: usize,

    /// Require an HS256 JSON Web Token (`auth: { token }`) signed with this secret.
    #[arg(
        long,
        env = "CHATZZ_JWT_SECRET",
        hide_env_values = true,
        conflicts_with = "jwt_public_key"
    )]
    pub jwt_secret: Option<String>,

    /// Require an RS256 or ES256 JSON Web Token checked with this PEM public key file.
    #[arg(long, env = "CHATZZ_JWT_PUBLIC_KEY")]
    pub jwt_public_key: Option<PathBuf>,

    /// Without a JWT option, believe the userId clients claim even when listening beyond
    /// loopback. Anyone could then act as anyone: for trusted networks only.
    #[arg(long, env = "CHATZZ_INSECURE_TRUST_CLIENT_IDS")]
    pub insecure_trust_client_ids: bool,

    /// Join the other chatzz servers on this Redis (`redis://HOST:PORT/DB`, Redis 7+):
    /// they then act as one. Needs a shared store and a build with the `redis` feature.
    #[arg(long, env = "CHATZZ_REDIS_URL", hide_env_values = true)]
    pub redis: Option<String>,

    /// With --redis: seconds a server that stopped answering still counts its users
    /// online; they go offline within about 4/3 of it.
    #[arg(long, env = "CHATZZ_PRESENCE_LEASE", default_value_t = defaults().cluster.presence_lease.as_secs())]
    pub presence_lease: u64,

    /// With --redis: prefix of chatzz's keys and channels in Redis; one per cluster.
    #[arg(long, env = "CHATZZ_CLUSTER_PREFIX", default_value_t = defaults().cluster.prefix)]
    pub cluster_prefix: String,

    /// With a JWT option: require the token's `iss` claim to be this issuer.
    #[arg(long, env = "CHATZZ_JWT_ISSUER")]
    pub jwt_issuer: Option<String>,

    /// With a JWT option: require the token's `aud` claim to name this audience.
    #[arg(long, env = "CHATZZ_JWT_AUDIENCE")]
    pub jwt_audience: Option<String>,

    /// Origins whose pages may open Socket.IO connections, comma-separated
    /// (`https://app.example.com`, `*` for any). Without a JWT option, same-origin and
    /// loopback pages are allowed too; with one, every origin is unless this is given.
    /// Clients that send no Origin (non-browsers) are always allowed.
    #[arg(long, env = "CHATZZ_ALLOWED_ORIGINS", value_delimiter = ',')]
    pub allowed_origins: Vec<String>,

    /// Without a JWT option: host names (or host:port) clients may reach this server by,
    /// comma-separated, besides loopback names and the --listen address. Guards against
    /// DNS rebinding; needed with --insecure-trust-client-ids on 0.0.0.0.
    #[arg(long, env = "CHATZZ_ALLOWED_HOSTS", value_delimiter = ',')]
    pub allowed_hosts: Vec<String>,

    /// Serve /metrics on this address only, instead of on --listen.
    #[arg(long, env = "CHATZZ_METRICS_LISTEN")]
    pub metrics_listen: Option<SocketAddr>,

    /// POST a signed `message.undelivered` webhook here for every message stored while
    /// its recipient had no live socket (docs/notifications.md). Needs --webhook-secret.
    #[arg(long, env = "CHATZZ_WEBHOOK_URL", hide_env_values = true)]
    pub webhook_url: Option<String>,

    /// With --webhook-url: the secret (at least 32 bytes) webhooks are signed with.
    #[arg(long, env = "CHATZZ_WEBHOOK_SECRET", hide_env_values = true)]
    pub webhook_secret: Option<String>,

    /// With --webhook-url: seconds a server holds the notifications it is sending;
    /// another server takes over those of a server that died after this.
    #[arg(long, env = "CHATZZ_NOTIFICATION_LEASE", default_value_t = chatzz::RetryPolicy::default().lease.as_secs())]
    pub notification_lease: u64,
}

impl Args {
    /// The library's settings the flags give.
    pub fn settings(&self) -> Settings {
        let mut settings = Settings::default();
        let config = &mut settings.config;
        config.max_message_chars = self.max_message_chars;
        config.max_sockets_per_user = self.max_sockets_per_user;
        config.edit_window = Duration::from_secs(self.edit_window);
        for (event, per_second, burst) in [
            (RatedEvent::SendMessage, self.send_rate, self.send_burst),
            (
                RatedEvent::ConnectUser,
                self.connect_rate,
                self.connect_burst,
            ),
            (
                RatedEvent::AddChatUser,
                self.add_chat_user_rate,
                self.add_chat_user_burst,
            ),
            (
                RatedEvent::GetOldMessages,
                self.history_rate,
                self.history_burst,
            ),
            (RatedEvent::MessageRead, self.read_rate, self.read_burst),
        ] {
            config.set_rate(event, Rate::new(per_second, burst));
        }
        settings.transport.max_queued_events = self.max_queued_events;
        settings.transport.max_outbound_bytes = self.max_outbound_bytes;
        settings.socketio.max_packet_bytes = self.max_packet_bytes;
        settings.socketio.max_polling_packets = self.max_polling_packets;
        settings.socketio.ping_interval = Duration::from_secs(self.ping_interval);
        settings.socketio.ping_timeout = Duration::from_secs(self.ping_timeout);
        settings.socketio.connect_timeout = Duration::from_secs(self.connect_timeout);
        settings.store_timeout = Duration::from_secs(self.store_timeout);
        settings.table_prefix.clone_from(&self.table_prefix);
        settings.cluster.redis_url.clone_from(&self.redis);
        settings.cluster.prefix.clone_from(&self.cluster_prefix);
        settings.cluster.presence_lease = Duration::from_secs(self.presence_lease);
        settings
    }

    /// The binary's own settings the flags give.
    pub fn server_settings(&self) -> ServerSettings {
        ServerSettings {
            listen: self.listen,
            database: self.database.clone(),
            header_read_timeout: Duration::from_secs(self.header_read_timeout),
            slow_consumer_timeout: Duration::from_secs(self.slow_consumer_timeout),
        }
    }
}

#[cfg(test)]
mod tests;
