//! The use cases, one file each, on one [`ChatService`] that holds the ports.

mod connect;
mod contacts;
mod disconnect;
mod history;
mod read;
mod send;
mod sweep;
mod views;

#[cfg(test)]
mod tests;

use std::sync::Arc;

use crate::id::{SocketId, UserId};
use crate::ports::{ChatStore, Clock, PresenceRegistry, UserDirectory};
use crate::presence::LocalPresence;
use crate::rate::{RateLimiter, SendRate};

pub use connect::identify;
pub use history::HistoryRequest;

/// Limits and defaults of the use cases.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Longest message text, in Unicode code points.
    pub max_message_chars: usize,
    /// Most missed messages per sender in `user-details`.
    pub missed_messages_per_sender: usize,
    /// History page size when the client gives no `limit`.
    pub default_history_limit: usize,
    /// Largest `limit` a client may ask for.
    pub max_history_limit: usize,
    /// How fast one user may send messages.
    pub send_rate: SendRate,
    /// Most live sockets one user may hold.
    pub max_sockets_per_user: usize,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            max_message_chars: 4096,
            missed_messages_per_sender: 500,
            default_history_limit: 50,
            max_history_limit: 500,
            send_rate: SendRate {
                per_second: 20.0,
                burst: 100.0,
            },
            max_sockets_per_user: 20,
        }
    }
}

/// Who is asking: a registered user on one of their sockets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub user: UserId,
    pub socket: SocketId,
}

/// The use cases of chatzz over its ports. Cheap to share behind an `Arc`.
pub struct ChatService {
    store: Arc<dyn ChatStore>,
    directory: Option<Arc<dyn UserDirectory>>,
    clock: Arc<dyn Clock>,
    presence: Arc<dyn PresenceRegistry>,
    /// Users a sweep found offline whose departure is still to be recorded.
    unannounced: std::sync::Mutex<Vec<UserId>>,
    send_rate: RateLimiter,
    config: Config,
}

impl std::fmt::Debug for ChatService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChatService")
            .field("has_directory", &self.directory.is_some())
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl ChatService {
    /// A service without a user directory: any valid id may connect, and a user is known
    /// once it has connected.
    pub fn new(store: Arc<dyn ChatStore>, clock: Arc<dyn Clock>, config: Config) -> Self {
        Self {
            store,
            directory: None,
            clock,
            presence: Arc::new(LocalPresence::new()),
            unannounced: std::sync::Mutex::default(),
            send_rate: RateLimiter::new(config.send_rate),
            config,
        }
    }

    /// Uses the host application's users for existence checks and details.
    pub fn with_directory(mut self, directory: Arc<dyn UserDirectory>) -> Self {
        self.directory = Some(directory);
        self
    }

    /// Keeps presence in `presence` (shared by several servers, say) instead of in
    /// this process.
    pub fn with_presence(mut self, presence: Arc<dyn PresenceRegistry>) -> Self {
        self.presence = presence;
        self
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    pub fn presence(&self) -> &dyn PresenceRegistry {
        self.presence.as_ref()
    }
}
