//! Every setting of chatzz in one place: its default, and the rules it must follow.
//!
//! [`Settings::default`] is the one place a default is written (the use cases' limits
//! come from [`Config::default`], the table prefix from [`StoreNames::default`]);
//! [`Settings::validate`] is the one place a rule is checked. The builder writes into a
//! [`Settings`] and validates it when built; the `chatzz` binary's flags take their
//! defaults from it; `docs/security.md`'s limits table is tested against it.

use std::time::Duration;

use chatzz_core::{ChatStore, Config, Rate, RatedEvent, StoreNames};
pub use chatzz_socketio::TransportLimits;

/// Longest message text accepted by [`Settings::validate`], in code points.
pub const MAX_MESSAGE_CHARS_LIMIT: usize = 1_000_000;
/// Smallest client packet limit, in bytes.
pub const MIN_PACKET_BYTES: usize = 1024;
/// Smallest outbound budget of one connection, in bytes.
pub const MIN_OUTBOUND_BYTES: usize = 64 * 1024;
/// Shortest presence lease of a cluster.
pub const MIN_PRESENCE_LEASE: Duration = Duration::from_millis(300);
/// Bytes a message character may take in a packet, once JSON-escaped (`\uXXXX`).
pub const PACKET_BYTES_PER_CHAR: usize = 6;
/// Room in a packet for everything but the message text.
pub const PACKET_OVERHEAD_BYTES: usize = 4 * 1024;
/// The smallest default packet limit, whatever the longest message.
pub const MIN_DEFAULT_PACKET_BYTES: usize = 64 * 1024;
/// Packets queued to one socket before emits to it fail (not a setting).
pub const SOCKET_BUFFER_PACKETS: usize = 4096;

/// Engine.IO and Socket.IO settings of the transport.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SocketIoSettings {
    /// Largest client packet in bytes (WebSocket message and frame, polling body);
    /// `None`: room for one message of the longest text (see
    /// [`Settings::max_packet_bytes`]).
    pub max_packet_bytes: Option<usize>,
    /// Time between heartbeats.
    pub ping_interval: Duration,
    /// How long a client may miss a heartbeat before it is disconnected.
    pub ping_timeout: Duration,
    /// How long a transport may stay open without joining the namespace.
    pub connect_timeout: Duration,
    /// Most packets in one long-polling response; the rest wait for the client's next
    /// GET. At least 1. The default, 16, is the most python-engineio (the Python
    /// client's transport) accepts: it drops the connection on a larger payload.
    pub max_polling_packets: usize,
}

impl Default for SocketIoSettings {
    fn default() -> Self {
        // socketioxide's own defaults, stated here so that the docs can name them (but
        // the packets per polling response, which socketioxide does not limit).
        Self {
            max_packet_bytes: None,
            ping_interval: Duration::from_secs(25),
            ping_timeout: Duration::from_secs(20),
            connect_timeout: Duration::from_secs(45),
            max_polling_packets: 16,
        }
    }
}

/// A bounded cache of the user directory's answers: at most `capacity` users, each
/// for `ttl`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DetailsCache {
    /// Most users remembered.
    pub capacity: u64,
    /// How long an answer is remembered.
    pub ttl: Duration,
}

impl Default for DetailsCache {
    fn default() -> Self {
        Self {
            capacity: 10_000,
            ttl: Duration::from_secs(60),
        }
    }
}

impl From<(u64, Duration)> for DetailsCache {
    fn from((capacity, ttl): (u64, Duration)) -> Self {
        Self { capacity, ttl }
    }
}

/// How this server joins others through Redis (feature `redis`).
#[derive(Clone, PartialEq, Eq)]
pub struct Cluster {
    /// The Redis the servers of the cluster share (`redis://HOST:PORT/DB`); `None`:
    /// this server is on its own.
    pub redis_url: Option<String>,
    /// Prefix of chatzz's keys and channels in Redis; one per cluster.
    pub prefix: String,
    /// How long a server that stopped answering still counts its users online.
    pub presence_lease: Duration,
}

impl Default for Cluster {
    fn default() -> Self {
        Self {
            redis_url: None,
            prefix: "chatzz".to_owned(),
            presence_lease: Duration::from_secs(15),
        }
    }
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster")
            .field(
                "redis_url",
                &self.redis_url.as_deref().map(crate::store::redacted),
            )
            .field("prefix", &self.prefix)
            .field("presence_lease", &self.presence_lease)
            .finish()
    }
}

/// Every setting of chatzz but the store, the authentication, the user directory and
/// the allowed origins and hosts: limits, timings, names. Build one from
/// `Settings::default()` and change what you need, then give it to
/// [`ChatzzBuilder::settings`](crate::ChatzzBuilder::settings), or use the builder's
/// methods, which write into it.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// The use cases' limits: message length, rates, history and missed-message
    /// bounds, sockets per user, the edit window.
    pub config: Config,
    /// Limits the transport enforces before any use case runs.
    pub transport: TransportLimits,
    /// Engine.IO and Socket.IO settings.
    pub socketio: SocketIoSettings,
    /// Longest a store call may take before the client gets `unavailable`.
    pub store_timeout: Duration,
    /// Prefix of chatzz's own table or collection names (stores opened from a URL).
    pub table_prefix: String,
    /// The cache in front of the user directory; `None` asks the directory every time.
    pub details_cache: Option<DetailsCache>,
    /// Joining other servers.
    pub cluster: Cluster,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            config: Config::default(),
            transport: TransportLimits::default(),
            socketio: SocketIoSettings::default(),
            store_timeout: Duration::from_secs(10),
            table_prefix: StoreNames::default().prefix().to_owned(),
            details_cache: Some(DetailsCache::default()),
            cluster: Cluster::default(),
        }
    }
}

/// A setting that breaks one of [`Settings::validate`]'s rules.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum SettingsError {
    /// `config.max_message_chars` is 0 or above [`MAX_MESSAGE_CHARS_LIMIT`].
    #[error("max_message_chars must be from 1 to 1,000,000, not {0}")]
    MaxMessageChars(usize),
    /// `config.max_sockets_per_user` is 0.
    #[error("max_sockets_per_user must be at least 1")]
    MaxSocketsPerUser,
    /// A rate whose `per_second` is not positive or whose `burst` is under 1.
    #[error(
        "the rate of {event} must be more than 0 a second with a burst of at least 1 \
         (Rate::new(0.0, _) means no limit), not {per_second}/s, burst {burst}"
    )]
    Rate {
        /// The event limited.
        event: RatedEvent,
        /// Its rate per second.
        per_second: f64,
        /// Its burst.
        burst: f64,
    },
    /// `config.max_history_limit` is 0, or the default page is 0 or above it.
    #[error("default_history_limit must be from 1 to max_history_limit, not {default} (max {max})")]
    HistoryLimit {
        /// `config.default_history_limit`.
        default: usize,
        /// `config.max_history_limit`.
        max: usize,
    },
    /// `transport.max_queued_events` is 0.
    #[error("max_queued_events must be at least 1")]
    MaxQueuedEvents,
    /// `transport.max_outbound_bytes` is under [`MIN_OUTBOUND_BYTES`].
    #[error("max_outbound_bytes must be at least 64 KiB, not {0}")]
    MaxOutboundBytes(usize),
    /// The packet limit is under [`MIN_PACKET_BYTES`].
    #[error("max_packet_bytes must be at least 1024, not {0}")]
    MaxPacketBytes(usize),
    /// `socketio.max_polling_packets` is 0.
    #[error("max_polling_packets must be at least 1")]
    MaxPollingPackets,
    /// A timeout or interval is zero.
    #[error("{0} must be longer than 0")]
    ZeroDuration(&'static str),
    /// `table_prefix` is not a plain identifier.
    #[error("table_prefix {prefix:?}: {reason}")]
    TablePrefix {
        /// The prefix given.
        prefix: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The details cache holds nothing.
    #[error("details_cache capacity must be at least 1 (None turns the cache off)")]
    DetailsCacheCapacity,
    /// `cluster.presence_lease` is under [`MIN_PRESENCE_LEASE`] in a cluster.
    #[error("presence_lease must be at least 300 ms, not {0:?}")]
    PresenceLease(Duration),
    /// `cluster.prefix` is empty in a cluster.
    #[error("cluster_prefix must not be empty")]
    ClusterPrefix,
    /// A cluster on a store only this process sees.
    #[error(
        "a cluster needs a store its servers share; this store (memory:, say) is each server's own"
    )]
    UnsharedStore,
}

impl Settings {
    /// The packet limit in force: the one set, or room for one message of
    /// `max_message_chars` characters plus [`PACKET_OVERHEAD_BYTES`], at least
    /// [`MIN_DEFAULT_PACKET_BYTES`].
    pub fn max_packet_bytes(&self) -> usize {
        self.socketio.max_packet_bytes.unwrap_or_else(|| {
            (self
                .config
                .max_message_chars
                .saturating_mul(PACKET_BYTES_PER_CHAR)
                .saturating_add(PACKET_OVERHEAD_BYTES))
            .max(MIN_DEFAULT_PACKET_BYTES)
        })
    }

    /// Whether these settings join a cluster.
    pub fn is_clustered(&self) -> bool {
        self.cluster.redis_url.is_some()
    }

    /// The table names [`table_prefix`](Self::table_prefix) makes.
    pub fn store_names(&self) -> Result<StoreNames, SettingsError> {
        StoreNames::with_prefix(&self.table_prefix).map_err(|e| SettingsError::TablePrefix {
            prefix: self.table_prefix.clone(),
            reason: e.message,
        })
    }

    /// Checks every rule, and returns the first one broken.
    pub fn validate(&self) -> Result<(), SettingsError> {
        let config = &self.config;
        if config.max_message_chars == 0 || config.max_message_chars > MAX_MESSAGE_CHARS_LIMIT {
            return Err(SettingsError::MaxMessageChars(config.max_message_chars));
        }
        if config.max_sockets_per_user == 0 {
            return Err(SettingsError::MaxSocketsPerUser);
        }
        for event in RatedEvent::ALL {
            check_rate(event, config.rate(event))?;
        }
        if config.max_history_limit == 0
            || config.default_history_limit == 0
            || config.default_history_limit > config.max_history_limit
        {
            return Err(SettingsError::HistoryLimit {
                default: config.default_history_limit,
                max: config.max_history_limit,
            });
        }
        if self.transport.max_queued_events == 0 {
            return Err(SettingsError::MaxQueuedEvents);
        }
        if self.transport.max_outbound_bytes < MIN_OUTBOUND_BYTES {
            return Err(SettingsError::MaxOutboundBytes(
                self.transport.max_outbound_bytes,
            ));
        }
        let packet = self.max_packet_bytes();
        if packet < MIN_PACKET_BYTES {
            return Err(SettingsError::MaxPacketBytes(packet));
        }
        if self.socketio.max_polling_packets == 0 {
            return Err(SettingsError::MaxPollingPackets);
        }
        for (name, duration) in [
            ("ping_interval", self.socketio.ping_interval),
            ("ping_timeout", self.socketio.ping_timeout),
            ("connect_timeout", self.socketio.connect_timeout),
            ("store_timeout", self.store_timeout),
        ] {
            if duration.is_zero() {
                return Err(SettingsError::ZeroDuration(name));
            }
        }
        self.store_names()?;
        if let Some(cache) = self.details_cache {
            if cache.capacity == 0 {
                return Err(SettingsError::DetailsCacheCapacity);
            }
            if cache.ttl.is_zero() {
                return Err(SettingsError::ZeroDuration("details_cache ttl"));
            }
        }
        if self.is_clustered() {
            if self.cluster.presence_lease < MIN_PRESENCE_LEASE {
                return Err(SettingsError::PresenceLease(self.cluster.presence_lease));
            }
            if self.cluster.prefix.is_empty() {
                return Err(SettingsError::ClusterPrefix);
            }
        }
        Ok(())
    }

    /// Checks that `store` suits these settings: a cluster needs a store its servers
    /// share ([`ChatStore::is_shared`]).
    pub fn check_store(&self, store: &dyn ChatStore) -> Result<(), SettingsError> {
        if self.is_clustered() && !store.is_shared() {
            return Err(SettingsError::UnsharedStore);
        }
        Ok(())
    }
}

fn check_rate(event: RatedEvent, rate: Rate) -> Result<(), SettingsError> {
    // `Rate::UNLIMITED` is infinite in both; NaN fails both comparisons.
    let valid = rate.per_second > 0.0 && rate.burst >= 1.0;
    if valid {
        Ok(())
    } else {
        Err(SettingsError::Rate {
            event,
            per_second: rate.per_second,
            burst: rate.burst,
        })
    }
}

#[cfg(test)]
mod tests;
