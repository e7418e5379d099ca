//! Putting chatzz together: store, authentication, user details, limits.

use std::sync::Arc;
use std::time::Duration;

use chatzz_core::{
    Authenticator, ChatService, ChatStore, Config, StoreNames, SystemClock, UserDirectory,
};
use socketioxide::SocketIo;
use socketioxide::layer::SocketIoLayer;

use crate::auth::JwtAuthenticator;
use crate::details::CachedDirectory;
use crate::handle::ChatzzHandle;
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
    /// A setting is out of range.
    #[error("bad configuration: {0}")]
    Config(String),
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
            table_prefix: None,
            directory: None,
            details_cache: Some((10_000, Duration::from_secs(60))),
            authentication: Authentication::Unset,
            config: Config::default(),
        }
    }
}

/// Configures chatzz; [`build`](Self::build) makes the layer and the handle.
pub struct ChatzzBuilder {
    store: Option<StoreSource>,
    table_prefix: Option<String>,
    directory: Option<Arc<dyn UserDirectory>>,
    details_cache: Option<(u64, Duration)>,
    authentication: Authentication,
    config: Config,
}

impl std::fmt::Debug for ChatzzBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChatzzBuilder")
            .field("config", &self.config)
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
        self.table_prefix = Some(prefix.into());
        self
    }

    /// Where user details come from (the seed's `userModelName` and
    /// `beforeSendingUserDetails`): a directory decides which users exist and what
    /// clients see of them. Without one, any id may connect and details are `{ _id }`.
    pub fn user_directory(mut self, directory: impl UserDirectory) -> Self {
        self.directory = Some(Arc::new(directory));
        self
    }

    /// Caches the directory's answers: at most `capacity` users for `ttl` each (default
    /// 10,000 for 60 s). `None` asks the directory every time.
    pub fn details_cache(mut self, cache: Option<(u64, Duration)>) -> Self {
        self.details_cache = cache;
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
        self.config.max_message_chars = chars;
        self
    }

    /// All the use cases' limits at once.
    pub fn config(mut self, config: Config) -> Self {
        self.config = config;
        self
    }

    /// Opens the store and returns the layer to mount on your `Router` and the handle
    /// for your own code.
    pub async fn build(self) -> Result<(SocketIoLayer, ChatzzHandle), BuildError> {
        if self.config.max_message_chars == 0 || self.config.max_message_chars > 1_000_000 {
            return Err(BuildError::Config(
                "max_message_chars must be from 1 to 1,000,000".into(),
            ));
        }
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
        let names = match &self.table_prefix {
            Some(prefix) => {
                StoreNames::with_prefix(prefix).map_err(|e| BuildError::Config(e.message))?
            }
            None => StoreNames::default(),
        };
        let store = match self.store.ok_or(BuildError::NoStore)? {
            StoreSource::Url(url) => open_store(&url, names).await?,
            StoreSource::Instance(store) => store,
        };
        // A packet carries at most one message: its text (up to 6 bytes a character once
        // JSON-escaped) plus a little JSON around it.
        let max_packet = (self.config.max_message_chars * 6 + 4096).max(64 * 1024);
        let mut service = ChatService::new(store, Arc::new(SystemClock), self.config);
        if let Some(directory) = self.directory {
            service = match self.details_cache {
                Some((capacity, ttl)) => {
                    service.with_directory(Arc::new(CachedDirectory::new(directory, capacity, ttl)))
                }
                None => service.with_directory(directory),
            };
        }
        let service = Arc::new(service);

        let (layer, io) = SocketIo::builder()
            // Packets queued per socket before emits to it fail. A connect can owe one
            // sender a status change per missed message (500 by default), so the default
            // of 128 would drop some. The queue only takes memory while it is full.
            .max_buffer_size(4096)
            .max_payload(max_packet as u64)
            .ws_max_message_size(max_packet)
            .ws_max_frame_size(max_packet)
            .build_layer();
        chatzz_socketio::attach(&io, service.clone(), authenticator);
        Ok((layer, ChatzzHandle::new(service, io)))
    }
}
