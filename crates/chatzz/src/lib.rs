//! One-to-one realtime chat for an axum application, over Socket.IO: presence,
//! contacts with unread counts and last messages, messages with
//! `not_sent -> sent -> read` receipts, edits and deletes, offline delivery and
//! history. [`Chatzz::builder`] takes a store, how to authenticate connections and,
//! optionally, where user details come from; it returns a layer to mount on your own
//! `Router` and a [`ChatzzHandle`] for your own handlers and jobs. chatzz takes over
//! neither your runtime, your router, your state nor your logging.
//!
//! ```no_run
//! use axum::{Router, routing::get};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let (chat_layer, chat) = chatzz::Chatzz::builder()
//!     .store_url("sqlite://chat.db")
//!     .jwt(chatzz::JwtAuthenticator::hs256(b"at least 32 bytes of random secret")?)
//!     .build()
//!     .await?;
//! let app: Router = Router::new()
//!     .route("/", get(|| async { "my app" }))
//!     .layer(chat_layer);
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
//! axum::serve(listener, app).await?;
//! # drop(chat);
//! # Ok(()) }
//! ```
//!
//! A [`ContactPolicy`] ([`ChatzzBuilder::contact_policy`]) decides who may add whom. A
//! [`Notifier`] ([`ChatzzBuilder::notifier`]) hears of every message whose recipient
//! was offline (signed webhooks with the `webhooks` feature: [`WebhookNotifier`]).
//!
//! Limits, timings and names are one [`Settings`] value: its `Default` holds every
//! default and [`Settings::validate`] every rule; the builder's methods write into it,
//! or [`ChatzzBuilder::settings`] sets it whole.
//!
//! With the `redis` feature, [`ChatzzBuilder::redis`] makes several such servers one
//! cluster on a shared store (`docs/scaling.md`).
//!
//! The wire protocol clients speak is in `docs/protocol.md`; how the seed's options map
//! to this API is in `docs/embedding.md`.

#![deny(missing_docs)]

mod auth;
mod builder;
#[cfg(feature = "redis")]
mod cluster;
mod detach;
mod details;
mod handle;
mod instrumented;
mod layer;
mod notifications;
mod origin;
mod policy;
mod polling;
pub mod settings;
mod store;

pub use auth::{ClosureAuthenticator, JwtAuthenticator, JwtKeyError};
pub use builder::{BuildError, Chatzz, ChatzzBuilder};
pub use detach::DetachHead;
pub use details::{CachedDirectory, ClosureDirectory};
pub use handle::ChatzzHandle;
pub use layer::ChatzzLayer;
pub use notifications::ClosureNotifier;
#[cfg(feature = "webhooks")]
pub use notifications::{WebhookError, WebhookNotifier, sign as sign_webhook};
pub use origin::OriginGuard;
pub use policy::ClosurePolicy;
pub use polling::PollingGuard;
pub use settings::{
    Cluster, DetailsCache, Settings, SettingsError, SocketIoSettings, TransportLimits,
};
pub use store::{OpenError, open_store};

pub use chatzz_core::notification::{Notification, RetryPolicy};
pub use chatzz_core::{
    AuthError, Authenticator, ChatError, ChatStore, Config, Contact, ContactPolicy, DirectoryError,
    ErrorCode, Identity, Message, MessageId, MessageStatus, Notifier, NotifyError, PolicyError,
    Rate, RatedEvent, StoreError, StoreNames, UserDetails, UserDirectory, UserId,
};
#[cfg(feature = "memory")]
pub use chatzz_store_memory::MemoryStore;
#[cfg(feature = "mongodb")]
pub use chatzz_store_mongodb::{MongoStore, MongoUserDirectory};
#[cfg(feature = "postgres")]
pub use chatzz_store_postgres::{PostgresStore, PostgresUserDirectory};
#[cfg(feature = "sqlite")]
pub use chatzz_store_sqlite::{SqliteStore, SqliteUserDirectory};
