use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Parser;

/// The library's defaults, so that the flags' defaults are the library's own.
fn defaults() -> chatzz::Config {
    chatzz::Config::default()
}

/// One-to-one realtime chat over Socket.IO.
#[derive(Debug, Parser)]
#[command(name = "chatzz", version, about, args_override_self = true)]
pub struct Args {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, env = "CHATZZ_LISTEN", default_value = "127.0.0.1:3000")]
    pub listen: SocketAddr,

    /// Where to store chats: `sqlite://PATH` (the default, a file beside you),
    /// `memory:` (gone on exit), `postgres://USER@HOST/DB`, `mongodb://HOST/DB`.
    #[arg(
        long,
        env = "CHATZZ_DATABASE_URL",
        default_value = "sqlite://chatzz.db"
    )]
    pub database: String,

    /// Prefix of chatzz's own table or collection names.
    #[arg(long, env = "CHATZZ_TABLE_PREFIX", default_value = "chatzz_")]
    pub table_prefix: String,

    /// Longest message text, in Unicode code points.
    #[arg(long, env = "CHATZZ_MAX_MESSAGE_CHARS", default_value_t = defaults().max_message_chars as u32,
          value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub max_message_chars: u32,

    /// Messages one user may send per second on average (0: no limit).
    #[arg(long, env = "CHATZZ_SEND_RATE", default_value_t = defaults().send_rate.per_second)]
    pub send_rate: f64,

    /// Messages one user may send at once before the rate applies.
    #[arg(long, env = "CHATZZ_SEND_BURST", default_value_t = defaults().send_rate.burst as u32)]
    pub send_burst: u32,

    /// `connect-user` events one user may send per second on average (0: no limit).
    #[arg(long, env = "CHATZZ_CONNECT_RATE", default_value_t = defaults().connect_user_rate.per_second)]
    pub connect_rate: f64,
    /// `connect-user` events one user may send at once before the rate applies.
    #[arg(long, env = "CHATZZ_CONNECT_BURST", default_value_t = defaults().connect_user_rate.burst as u32)]
    pub connect_burst: u32,

    /// `add-chat-user` events one user may send per second on average (0: no limit).
    #[arg(long, env = "CHATZZ_ADD_CHAT_USER_RATE", default_value_t = defaults().add_chat_user_rate.per_second)]
    pub add_chat_user_rate: f64,
    /// `add-chat-user` events one user may send at once before the rate applies.
    #[arg(long, env = "CHATZZ_ADD_CHAT_USER_BURST", default_value_t = defaults().add_chat_user_rate.burst as u32)]
    pub add_chat_user_burst: u32,

    /// `get-old-messages` events one user may send per second on average (0: no limit).
    #[arg(long, env = "CHATZZ_HISTORY_RATE", default_value_t = defaults().get_old_messages_rate.per_second)]
    pub history_rate: f64,
    /// `get-old-messages` events one user may send at once before the rate applies.
    #[arg(long, env = "CHATZZ_HISTORY_BURST", default_value_t = defaults().get_old_messages_rate.burst as u32)]
    pub history_burst: u32,

    /// `message-read` events one user may send per second on average (0: no limit).
    #[arg(long, env = "CHATZZ_READ_RATE", default_value_t = defaults().message_read_rate.per_second)]
    pub read_rate: f64,
    /// `message-read` events one user may send at once before the rate applies.
    #[arg(long, env = "CHATZZ_READ_BURST", default_value_t = defaults().message_read_rate.burst as u32)]
    pub read_burst: u32,

    /// Most live sockets one user may hold.
    #[arg(long, env = "CHATZZ_MAX_SOCKETS_PER_USER", default_value_t = defaults().max_sockets_per_user as u32,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub max_sockets_per_user: u32,

    /// Most events of one connection that may wait for the ones before it; more fail
    /// at once with `rate-limited`.
    #[arg(long, env = "CHATZZ_MAX_QUEUED_EVENTS", default_value_t = 64, value_parser = clap::value_parser!(u64).range(1..))]
    pub max_queued_events: u64,

    /// Largest client packet in bytes (WebSocket message or frame, polling body);
    /// default: room for one longest message.
    #[arg(long, env = "CHATZZ_MAX_PACKET_BYTES", value_parser = clap::value_parser!(u32).range(1024..))]
    pub max_packet_bytes: Option<u32>,

    /// Seconds between heartbeats.
    #[arg(long, env = "CHATZZ_PING_INTERVAL", default_value_t = 25, value_parser = clap::value_parser!(u64).range(1..))]
    pub ping_interval: u64,

    /// Seconds a client may miss a heartbeat before it is disconnected.
    #[arg(long, env = "CHATZZ_PING_TIMEOUT", default_value_t = 20, value_parser = clap::value_parser!(u64).range(1..))]
    pub ping_timeout: u64,

    /// Seconds a transport may stay open without joining the namespace.
    #[arg(long, env = "CHATZZ_CONNECT_TIMEOUT", default_value_t = 45, value_parser = clap::value_parser!(u64).range(1..))]
    pub connect_timeout: u64,

    /// Seconds a store call may take before the client gets `unavailable`.
    #[arg(long, env = "CHATZZ_STORE_TIMEOUT", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..))]
    pub store_timeout: u64,

    /// Seconds a client may take to send its request headers (slowloris guard).
    #[arg(long, env = "CHATZZ_HEADER_READ_TIMEOUT", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..))]
    pub header_read_timeout: u64,

    /// Seconds a client may leave what is sent to it unread (its connection's writes
    /// blocked, with pauses under a second) before the connection is closed.
    #[arg(long, env = "CHATZZ_SLOW_CONSUMER_TIMEOUT", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..))]
    pub slow_consumer_timeout: u64,

    /// Bytes of large replies (history pages, user-details) one connection may have
    /// queued for it, refilled at as much per 10 s; beyond, those events fail with
    /// `rate-limited`.
    #[arg(long, env = "CHATZZ_MAX_OUTBOUND_BYTES", default_value_t = 4 * 1024 * 1024, value_parser = clap::value_parser!(u32).range(65_536..))]
    pub max_outbound_bytes: u32,

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
    #[arg(long, env = "CHATZZ_PRESENCE_LEASE", default_value_t = 15, value_parser = clap::value_parser!(u64).range(1..))]
    pub presence_lease: u64,

    /// With --redis: prefix of chatzz's keys and channels in Redis; one per cluster.
    #[arg(long, env = "CHATZZ_CLUSTER_PREFIX", default_value = "chatzz")]
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
}
