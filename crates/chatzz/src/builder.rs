//! Putting chatzz together: store, authentication, user details, limits.

use std::sync::Arc;
use std::time::Duration;

use chatzz_core::notification::RetryPolicy;
use chatzz_core::{
    Authenticator, ChatService, ChatStore, Config, ContactPolicy, Notifier, Rate, SystemClock,
    UserDirectory,
};
use socketioxide::{ParserConfig, SocketIo, SocketIoBuilder};

use crate::auth::JwtAuthenticator;
use crate::details::CachedDirectory;
use crate::handle::ChatzzHandle;
use crate::instrumented::InstrumentedStore;
use crate::layer::ChatzzLayer;
use crate::notifications::{DispatchSettings, spawn_dispatcher};
use crate::origin::OriginPolicy;
use crate::settings::{
    DetailsCache, SOCKET_BUFFER_PACKETS, Settings, SettingsError, SocketIoSettings,
};
use crate::store::{OpenError, open_store};

/// Why [`ChatzzBuilder::build`] failed.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// No store was given.
    #[error("choose a store: .store_url(\"sqlite://chat.db\") or .store(...)")]
    NoStore,
    /// No way to authenticate connections was chosen.
    #[error(
        "choose how connections authenticate: .jwt(...), .authenticator(...), or .trust_client_user_ids() for development"
    )]
    NoAuthentication,
    /// The store could not be opened.
    #[error(transparent)]
    Store(#[from] OpenError),
    /// An allowed origin or host cannot be understood.
    #[error("bad configuration: {0}")]
    Config(String),
    /// A setting breaks one of [`Settings::validate`]'s rules, or the store does not
    /// suit them.
    #[error("bad configuration: {0}")]
    Settings(#[from] SettingsError),
    /// Redis could not be reached while joining a cluster.
    #[error("cannot join the cluster through Redis at {0}")]
    Redis(String),
    /// A setting needs a cargo feature this build left out.
    #[error("{what} needs the `{feature}` feature of chatzz")]
    NotCompiled {
        /// The setting.
        what: &'static str,
        /// The cargo feature that would bring it in.
        feature: &'static str,
    },
}

/// How this server joins others (see [`ChatzzBuilder::redis`]).
#[derive(Debug, Clone)]
// Without the `redis` feature the settings are only checked, then refused.
#[cfg_attr(not(feature = "redis"), allow(dead_code))]
pub(crate) struct ClusterSettings {
    pub url: String,
    pub prefix: String,
    pub presence_lease: Duration,
}

enum StoreSource {
    Url(String),
    Instance(Arc<dyn ChatStore>),
}

enum Authentication {
    Unset,
    Verified(Arc<dyn Authenticator>),
    TrustClient,
}

/// Entry point of the library.
#[derive(Debug, Clone, Copy)]
pub struct Chatzz;

impl Chatzz {
    /// Starts configuring chatzz.
    pub fn builder() -> ChatzzBuilder {
        ChatzzBuilder {
            store: None,
            directory: None,
            policy: None,
            notifier: None,
            notification_retries: RetryPolicy::default(),
            notification_poll: NOTIFICATION_POLL,
            authentication: Authentication::Unset,
            settings: Settings::default(),
            allowed_origins: None,
            allowed_hosts: Vec::new(),
        }
    }
}

/// Configures chatzz; [`build`](Self::build) makes the layer and the handle.
///
/// The limits, timings and names set here are kept in a [`Settings`] (see
/// [`settings`](Self::settings)), whose defaults and rules are chatzz's only ones.
pub struct ChatzzBuilder {
    store: Option<StoreSource>,
    directory: Option<Arc<dyn UserDirectory>>,
    policy: Option<Arc<dyn ContactPolicy>>,
    notifier: Option<Arc<dyn Notifier>>,
    notification_retries: RetryPolicy,
    notification_poll: Duration,
    authentication: Authentication,
    settings: Settings,
    allowed_origins: Option<Vec<String>>,
    allowed_hosts: Vec<String>,
}

impl std::fmt::Debug for ChatzzBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChatzzBuilder")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl ChatzzBuilder {
    /// Stores chats where `url` says: `memory:`, `sqlite://PATH`, `postgres://...`,
    /// `mongodb://HOST/DB` (each needs its cargo feature).
    pub fn store_url(mut self, url: impl Into<String>) -> Self {
        self.store = Some(StoreSource::Url(url.into()));
        self
    }

    /// Stores chats in a store you built (any [`ChatStore`]).
    pub fn store(mut self, store: impl ChatStore) -> Self {
        self.store = Some(StoreSource::Instance(Arc::new(store)));
        self
    }

    /// Prefix of chatzz's own table or collection names (default `chatzz_`; the seed's
    /// `chatUserModelName`). Applies to stores opened from a URL.
    pub fn table_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.settings.table_prefix = prefix.into();
        self
    }

    /// Where user details come from (the seed's `userModelName` and
    /// `beforeSendingUserDetails`): a directory decides which users exist and what
    /// clients see of them. Without one, any id may connect and details are `{ _id }`.
    pub fn user_directory(mut self, directory: impl UserDirectory) -> Self {
        self.directory = Some(Arc::new(directory));
        self
    }

    /// Who may add whom: `policy` is asked before every `add-chat-user` links two users,
    /// and a refusal fails it with `forbidden` (only users of one organisation, say; see
    /// the `organisation` example). Without one, any two known users may.
    pub fn contact_policy(mut self, policy: impl ContactPolicy) -> Self {
        self.policy = Some(Arc::new(policy));
        self
    }

    /// Tells `notifier` of every message stored while its recipient had no live socket
    /// on any server (to send a push notification, say): at least once, in store order
    /// per recipient, retried as [`notification_retries`](Self::notification_retries)
    /// says, surviving restarts (what is owed is stored with the message; the memory
    /// store keeps it in memory). Sends never wait for it. See `docs/notifications.md`;
    /// [`WebhookNotifier`](crate::WebhookNotifier) posts signed webhooks.
    pub fn notifier(mut self, notifier: impl Notifier) -> Self {
        self.notifier = Some(Arc::new(notifier));
        self
    }

    /// How failed notifications are retried and how long a server holds the ones it
    /// took (default: from 1 s doubling to 5 minutes, for 24 hours; leases of 60 s).
    pub fn notification_retries(mut self, retries: RetryPolicy) -> Self {
        self.notification_retries = retries;
        self
    }

    /// How often a server looks for notifications due (default 250 ms): the longest an
    /// offline recipient's notification waits after its message is stored.
    pub fn notification_poll(mut self, every: Duration) -> Self {
        self.notification_poll = every;
        self
    }

    /// Caches the directory's answers: at most `capacity` users for `ttl` each (default
    /// 10,000 for 60 s). `None` asks the directory every time.
    #[deprecated(
        note = "use .cache_details(Some(DetailsCache { capacity, ttl })) or .cache_details(None)"
    )]
    pub fn details_cache(self, cache: Option<(u64, Duration)>) -> Self {
        self.cache_details(cache.map(DetailsCache::from))
    }

    /// Caches the directory's answers (default [`DetailsCache::default`]: 10,000 users
    /// for 60 s each). `None` asks the directory every time.
    pub fn cache_details(mut self, cache: Option<DetailsCache>) -> Self {
        self.settings.details_cache = cache;
        self
    }

    /// Connections must carry a JSON Web Token in `auth.token`.
    pub fn jwt(self, jwt: JwtAuthenticator) -> Self {
        self.authenticator(jwt)
    }

    /// Connections are checked by your [`Authenticator`] (see also
    /// [`ClosureAuthenticator`](crate::ClosureAuthenticator)).
    pub fn authenticator(mut self, authenticator: impl Authenticator) -> Self {
        self.authentication = Authentication::Verified(Arc::new(authenticator));
        self
    }

    /// Believes whatever `userId` a client claims, as the original chatzz did. For
    /// development only: anyone can act as anyone. Logs a warning when built.
    pub fn trust_client_user_ids(mut self) -> Self {
        self.authentication = Authentication::TrustClient;
        self
    }

    /// Longest message text in Unicode code points (default 4096).
    pub fn max_message_chars(mut self, chars: usize) -> Self {
        self.settings.config.max_message_chars = chars;
        self
    }

    /// How fast one user may send: `burst` messages at once, then `per_second` on
    /// average (default 20/s, burst 100). Beyond it `send-message` fails with
    /// `rate-limited` and stores nothing. A `per_second` of 0 means no limit.
    pub fn send_rate(mut self, per_second: f64, burst: u32) -> Self {
        self.settings.config.send_rate = Rate::new(per_second, burst);
        self
    }

    /// How fast one user may emit `event`: `burst` at once, then `per_second` on
    /// average. Beyond it the event fails with `rate-limited` and changes nothing. A
    /// `per_second` of 0 means no limit. Defaults: `connect-user` 10/s burst 30,
    /// `add-chat-user` 2/s burst 20, `get-old-messages` 5/s burst 20, `message-read`
    /// 50/s burst 500 (a client marks each message read on its own);
    /// [`RatedEvent::SendMessage`](chatzz_core::RatedEvent::SendMessage) is
    /// [`send_rate`](Self::send_rate).
    pub fn event_rate(
        mut self,
        event: chatzz_core::RatedEvent,
        per_second: f64,
        burst: u32,
    ) -> Self {
        self.settings
            .config
            .set_rate(event, Rate::new(per_second, burst));
        self
    }

    /// How long after it was sent a message may still be edited by its sender (default
    /// 48 hours); later, `edit-message` fails with `forbidden`. Deleting has no limit.
    /// `Duration::ZERO` leaves only edits within the millisecond the message was
    /// created: in effect, none.
    pub fn edit_window(mut self, window: Duration) -> Self {
        self.settings.config.edit_window = window;
        self
    }

    /// Most live sockets one user may hold (default 20); more fail `connect-user` with
    /// `rate-limited`.
    pub fn max_sockets_per_user(mut self, sockets: usize) -> Self {
        self.settings.config.max_sockets_per_user = sockets;
        self
    }

    /// Most events of one connection that may wait for the ones before it (default 64);
    /// more fail at once with `rate-limited`. Bounds what one flooding client can make
    /// the server hold.
    pub fn max_queued_events(mut self, events: u64) -> Self {
        self.settings.transport.max_queued_events = events;
        self
    }

    /// Bytes of large replies (history pages, `user-details`, contact lists) one
    /// connection may have queued for it (default 4 MiB, refilled at as much per 10 s).
    /// An event whose reply could overdraw it fails with `rate-limited` and changes
    /// nothing; see `docs/security.md`.
    pub fn max_outbound_bytes(mut self, bytes: usize) -> Self {
        self.settings.transport.max_outbound_bytes = bytes;
        self
    }

    /// Largest client packet accepted, in bytes, over WebSocket (per message and per
    /// frame) and long-polling (per request body). Default: room for one message of
    /// `max_message_chars` (6 bytes a character once JSON-escaped) plus 4 KiB, at least
    /// 64 KiB. Bigger packets close the connection.
    pub fn max_packet_bytes(mut self, bytes: usize) -> Self {
        self.settings.socketio.max_packet_bytes = Some(bytes);
        self
    }

    /// Engine.IO heartbeats: a ping every `interval`; a client silent for `timeout` more
    /// is disconnected (defaults 25 s and 20 s).
    pub fn ping(mut self, interval: Duration, timeout: Duration) -> Self {
        self.settings.socketio.ping_interval = interval;
        self.settings.socketio.ping_timeout = timeout;
        self
    }

    /// How long a transport may stay open without joining the namespace (default 45 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.settings.socketio.connect_timeout = timeout;
        self
    }

    /// Adds web origins whose pages may open Socket.IO connections: exact origins such
    /// as `https://app.example.com` (scheme, host, port if not the default), or `*` for
    /// any. Requests without an `Origin` header (non-browser clients) always pass; other
    /// pages get HTTP 403. Without any list, with [`trust_client_user_ids`] only
    /// same-origin and loopback pages (`http://localhost:*`, `http://127.0.0.1:*`,
    /// `http://[::1]:*`) may connect, and with an authenticator every page may (a token
    /// is not ambient, as a cookie is). With [`trust_client_user_ids`] listed origins
    /// add to those defaults; with an authenticator they replace them.
    ///
    /// [`trust_client_user_ids`]: Self::trust_client_user_ids
    pub fn allowed_origins(mut self, origins: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.allowed_origins
            .get_or_insert_with(Vec::new)
            .extend(origins.into_iter().map(Into::into));
        self
    }

    /// Adds host names, or `host:port`, the server is reached by (`chat.lan`,
    /// `10.0.0.5:3000`, `[fd00::1]`; a name without a port allows every port). With
    /// [`trust_client_user_ids`](Self::trust_client_user_ids), Socket.IO requests whose
    /// `Host` is neither one of these nor a loopback name or address (`localhost`,
    /// 127.0.0.0/8, `[::1]`) get HTTP 403: a page that rebinds its own DNS name to this
    /// server cannot reach it. Unused with an authenticator.
    pub fn allowed_hosts(mut self, hosts: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.allowed_hosts.extend(hosts.into_iter().map(Into::into));
        self
    }

    /// Longest a store call may take before the client gets `unavailable` (default 10 s).
    pub fn store_timeout(mut self, timeout: Duration) -> Self {
        self.settings.store_timeout = timeout;
        self
    }

    /// Joins the other chatzz servers that use the Redis at `url` (`redis://HOST:PORT/DB`,
    /// Redis 7 or later; feature `redis`): emits to a user reach their sockets on every
    /// server, and presence is cluster-wide. The servers must share one store
    /// (PostgreSQL or MongoDB, say); `docs/scaling.md` describes the topology.
    pub fn redis(mut self, url: impl Into<String>) -> Self {
        self.settings.cluster.redis_url = Some(url.into());
        self
    }

    /// How long a server that stopped answering still counts its users online (default
    /// 15 s); they go offline, announced, within about 4/3 of it. Only with
    /// [`redis`](Self::redis).
    pub fn presence_lease(mut self, lease: Duration) -> Self {
        self.settings.cluster.presence_lease = lease;
        self
    }

    /// Prefix of chatzz's keys and channels in Redis (default `chatzz`); servers of one
    /// cluster use the same one, separate clusters on one Redis different ones.
    pub fn cluster_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.settings.cluster.prefix = prefix.into();
        self
    }

    /// All the use cases' limits at once.
    pub fn config(mut self, config: Config) -> Self {
        self.settings.config = config;
        self
    }

    /// Every setting at once, replacing what earlier calls set (start from
    /// `Settings::default()`); later calls change it further. Checked by
    /// [`Settings::validate`] when built.
    pub fn settings(mut self, settings: Settings) -> Self {
        self.settings = settings;
        self
    }

    /// The settings as given so far.
    pub fn current_settings(&self) -> &Settings {
        &self.settings
    }

    /// Opens the store and returns the layer to mount on your `Router` and the handle
    /// for your own code.
    pub async fn build(self) -> Result<(ChatzzLayer, ChatzzHandle), BuildError> {
        let settings = self.settings;
        settings.validate()?;
        let authenticator = match self.authentication {
            Authentication::Unset => return Err(BuildError::NoAuthentication),
            Authentication::Verified(authenticator) => Some(authenticator),
            Authentication::TrustClient => {
                tracing::warn!(
                    "chatzz trusts the userId clients claim: anyone can act as anyone; use it for development only"
                );
                None
            }
        };
        let origin_policy = OriginPolicy::new(
            authenticator.is_none(),
            self.allowed_origins,
            self.allowed_hosts,
        )
        .map_err(BuildError::Config)?;
        let names = settings.store_names()?;
        let cluster = settings
            .cluster
            .redis_url
            .clone()
            .map(|url| ClusterSettings {
                url,
                prefix: settings.cluster.prefix.clone(),
                presence_lease: settings.cluster.presence_lease,
            });
        let store = match self.store.ok_or(BuildError::NoStore)? {
            StoreSource::Url(url) => open_store(&url, names).await?,
            StoreSource::Instance(store) => store,
        };
        settings.check_store(store.as_ref())?;
        let max_packet = settings.max_packet_bytes();
        let limits = settings.transport;
        let store = Arc::new(InstrumentedStore {
            inner: store,
            timeout: settings.store_timeout,
        });
        let mut service = ChatService::new(store, Arc::new(SystemClock), settings.config);
        let mut dispatch = None;
        if let Some(notifier) = self.notifier {
            service = service.with_notifier(notifier, self.notification_retries);
            dispatch = Some(DispatchSettings {
                owner: server_name(),
                poll: self.notification_poll,
                batch: NOTIFICATION_BATCH,
            });
        }
        if let Some(policy) = self.policy {
            service = service.with_contact_policy(policy);
        }
        if let Some(directory) = self.directory {
            service = match settings.details_cache {
                Some(DetailsCache { capacity, ttl }) => {
                    service.with_directory(Arc::new(CachedDirectory::new(directory, capacity, ttl)))
                }
                None => service.with_directory(directory),
            };
        }
        let io = configure(SocketIo::builder(), &settings.socketio, max_packet);
        // A polling client that has not fetched for a heartbeat's grace has stopped reading.
        let fetch_deadline = settings.socketio.ping_timeout;
        match cluster {
            None => {
                let service = Arc::new(service);
                let (layer, io) = io.build_layer();
                chatzz_socketio::attach(&io, service.clone(), authenticator, limits);
                let dispatcher = dispatch.map(|d| spawn_dispatcher(service.clone(), d));
                Ok((
                    ChatzzLayer::local(layer)
                        .with_origin_policy(origin_policy)
                        .with_fetch_deadline(fetch_deadline),
                    ChatzzHandle::new(service, Arc::new(io), None).with_dispatcher(dispatcher),
                ))
            }
            #[cfg(feature = "redis")]
            Some(settings) => {
                let link = crate::cluster::link(&settings).await?;
                let presence = crate::cluster::presence(&settings).await?;
                let sweep_every = presence.sweep_interval();
                let service = Arc::new(
                    service
                        .with_presence(Arc::new(presence))
                        .with_cluster_news(link.news()),
                );
                let joined = crate::cluster::join(
                    link,
                    &settings,
                    sweep_every,
                    io,
                    service.clone(),
                    authenticator,
                    limits,
                )
                .await?;
                tracing::info!("joined the cluster through Redis");
                let dispatcher = dispatch.map(|d| spawn_dispatcher(service.clone(), d));
                Ok((
                    joined
                        .layer
                        .with_origin_policy(origin_policy)
                        .with_fetch_deadline(fetch_deadline),
                    ChatzzHandle::new(service, joined.broadcaster, Some(joined.sweeper))
                        .with_dispatcher(dispatcher),
                ))
            }
            #[cfg(not(feature = "redis"))]
            Some(_) => Err(BuildError::NotCompiled {
                what: "joining a cluster through Redis",
                feature: "redis",
            }),
        }
    }
}

/// How often a server looks for notifications due, unless told otherwise.
const NOTIFICATION_POLL: Duration = Duration::from_millis(250);

/// Most notifications one round claims (and has in flight).
pub(crate) const NOTIFICATION_BATCH: usize = 64;

/// This server's name in notification leases: unique while it lives (process id and
/// start time), readable in logs.
fn server_name() -> String {
    let started = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("chatzz-{}-{started:x}", std::process::id())
}

/// The Socket.IO settings, whichever adapter the server ends up on.
fn configure(
    io: SocketIoBuilder,
    transport: &SocketIoSettings,
    max_packet: usize,
) -> SocketIoBuilder {
    io
        // Packets queued per socket before emits to it fail. A connect can owe one
        // sender a status change per missed message (500 by default), so the default
        // of 128 would drop some. The bound costs no memory: tokio allocates the queue
        // 32 packets at a time as it fills (measured: 128 and 4096 idle alike).
        .max_buffer_size(SOCKET_BUFFER_PACKETS)
        // Each WebSocket's read buffer lives as long as the connection and is zeroed
        // whole, so all of it is resident: 4 KiB by default, 512 bytes here (3.5 KiB
        // less per idle connection, measured). A chat event fits; a larger frame is read
        // in several reads into a buffer that grows for it. CPU per message unchanged at
        // 3,000 msg/s (1 KiB) and 5,000 msg/s (512 bytes).
        .ws_read_buffer_size(512)
        .max_payload(max_packet as u64)
        // python-engineio drops a connection whose polling response holds more than 16
        // packets; the rest of a burst waits for the next GET (see vendor/README.md).
        .max_polling_packets(transport.max_polling_packets)
        .ping_interval(transport.ping_interval)
        .ping_timeout(transport.ping_timeout)
        .connect_timeout(transport.connect_timeout)
        .ws_max_message_size(max_packet)
        .ws_max_frame_size(max_packet)
        // chatzz never takes binary data, and the default parser would buffer up to
        // 10 MB of attachments per packet before any handler (or authentication) runs:
        // a packet that declares an attachment closes its connection at once.
        .with_parser(
            ParserConfig::common()
                .max_incoming_binaries(0)
                .max_incoming_binary_buf_size(0)
                .packet_completion_timeout(Duration::from_secs(1)),
        )
}

#[cfg(test)]
mod tests;
