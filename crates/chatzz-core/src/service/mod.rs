//! The use cases, one file each, on one [`ChatService`] that holds the ports.

mod blocking;
mod connect;
mod contacts;
mod disconnect;
mod edit;
mod history;
mod notify;
mod read;
mod send;
mod sweep;
mod typing;
mod views;

#[cfg(test)]
mod tests;

use std::sync::Arc;

use crate::error::{ChatError, ErrorCode};
use crate::id::{SocketId, UserId};
use crate::ports::{
    ChatStore, Clock, ClusterNews, ContactPolicy, Notifier, PresenceRegistry, UserDirectory,
};
use crate::presence::LocalPresence;
use crate::rate::{EventLimiters, Rate, RatedEvent, SendRate};
use crate::typing::{KnownBlocks, KnownRooms, Typists};

pub use blocking::BlockState;
pub use connect::identify;
pub use history::HistoryRequest;
pub use send::SendRequest;

/// Limits and defaults of the use cases.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Longest message text, in Unicode code points.
    pub max_message_chars: usize,
    /// Most missed messages per sender in `user-details`.
    pub missed_messages_per_sender: usize,
    /// Most missed messages in all in `user-details`: the oldest, across senders.
    pub missed_messages_total: usize,
    /// Largest JSON, in bytes, of the messages of one history page or of the missed
    /// messages of one `user-details`; one message is always sent, whatever its size.
    pub max_reply_bytes: usize,
    /// History page size when the client gives no `limit`.
    pub default_history_limit: usize,
    /// Largest `limit` a client may ask for.
    pub max_history_limit: usize,
    /// How fast one user may send messages.
    pub send_rate: SendRate,
    /// How often one user may `connect-user`, over all its sockets.
    pub connect_user_rate: Rate,
    /// How fast one user may `add-chat-user`.
    pub add_chat_user_rate: Rate,
    /// How fast one user may `get-old-messages`.
    pub get_old_messages_rate: Rate,
    /// How fast one user may `message-read`: one event per message, so a conversation
    /// opened after a while reads many at once.
    pub message_read_rate: Rate,
    /// Most live sockets one user may hold.
    pub max_sockets_per_user: usize,
    /// How long after it was created a message may still be edited by its sender.
    pub edit_window: std::time::Duration,
    /// How often one user may say it is typing (the contract: 5 a second).
    pub typing_rate: Rate,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            max_message_chars: 4096,
            missed_messages_per_sender: 500,
            missed_messages_total: 500,
            max_reply_bytes: 1_048_576,
            default_history_limit: 50,
            max_history_limit: 500,
            send_rate: SendRate {
                per_second: 20.0,
                burst: 100.0,
            },
            connect_user_rate: Rate {
                per_second: 10.0,
                burst: 30.0,
            },
            add_chat_user_rate: Rate {
                per_second: 2.0,
                burst: 20.0,
            },
            get_old_messages_rate: Rate {
                per_second: 5.0,
                burst: 20.0,
            },
            message_read_rate: Rate {
                per_second: 50.0,
                burst: 500.0,
            },
            max_sockets_per_user: 20,
            edit_window: std::time::Duration::from_secs(48 * 3600),
            typing_rate: Rate {
                per_second: 5.0,
                burst: 5.0,
            },
        }
    }
}

impl Config {
    /// The rate of `event`.
    pub fn rate(&self, event: RatedEvent) -> Rate {
        match event {
            RatedEvent::ConnectUser => self.connect_user_rate,
            RatedEvent::AddChatUser => self.add_chat_user_rate,
            RatedEvent::GetOldMessages => self.get_old_messages_rate,
            RatedEvent::MessageRead => self.message_read_rate,
            RatedEvent::SendMessage => self.send_rate,
            RatedEvent::Typing => self.typing_rate,
        }
    }

    /// Sets the rate of `event`.
    pub fn set_rate(&mut self, event: RatedEvent, rate: Rate) {
        let field = match event {
            RatedEvent::ConnectUser => &mut self.connect_user_rate,
            RatedEvent::AddChatUser => &mut self.add_chat_user_rate,
            RatedEvent::GetOldMessages => &mut self.get_old_messages_rate,
            RatedEvent::MessageRead => &mut self.message_read_rate,
            RatedEvent::SendMessage => &mut self.send_rate,
            RatedEvent::Typing => &mut self.typing_rate,
        };
        *field = rate;
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
    policy: Option<Arc<dyn ContactPolicy>>,
    clock: Arc<dyn Clock>,
    presence: Arc<dyn PresenceRegistry>,
    /// Users a sweep found offline whose departure is still to be recorded.
    unannounced: std::sync::Mutex<Vec<UserId>>,
    rates: EventLimiters,
    /// Who said "typing" to whom lately, on this server.
    typists: Typists,
    /// The rooms of pairs seen on this server, so that typing needs no store.
    rooms: KnownRooms,
    /// Who blocks whom between pairs, as this server saw lately (for typing).
    blocks: KnownBlocks,
    /// How this server tells the others of a cluster what changed, if it has any.
    news: Option<Arc<dyn ClusterNews>>,
    /// Whether this server hears every change the others make (their news reaches
    /// it); while not, what it cached is trusted only briefly.
    hears_news: std::sync::atomic::AtomicBool,
    /// Who hears of messages stored for users with no live socket, and how retried.
    notifier: Option<Arc<dyn Notifier>>,
    retries: crate::notification::RetryPolicy,
    config: Config,
}

impl std::fmt::Debug for ChatService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChatService")
            .field("has_directory", &self.directory.is_some())
            .field("has_contact_policy", &self.policy.is_some())
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
            policy: None,
            clock,
            presence: Arc::new(LocalPresence::new()),
            unannounced: std::sync::Mutex::default(),
            rates: EventLimiters::new(&config),
            typists: Typists::default(),
            rooms: KnownRooms::default(),
            blocks: KnownBlocks::default(),
            news: None,
            hears_news: std::sync::atomic::AtomicBool::new(true),
            notifier: None,
            retries: crate::notification::RetryPolicy::default(),
            config,
        }
    }

    /// Uses the host application's users for existence checks and details.
    pub fn with_directory(mut self, directory: Arc<dyn UserDirectory>) -> Self {
        self.directory = Some(directory);
        self
    }

    /// Asks `policy` before every `add-chat-user` links two users; without one, any two
    /// known users may.
    pub fn with_contact_policy(mut self, policy: Arc<dyn ContactPolicy>) -> Self {
        self.policy = Some(policy);
        self
    }

    /// Tells the other servers of a cluster through `news` what changed here, so that
    /// their caches stay true. Until [`cluster_news_heard`](Self::cluster_news_heard)
    /// says this server hears theirs, what it caches of blocks is trusted only for
    /// [`BLOCKS_FRESH_MS`](crate::typing::BLOCKS_FRESH_MS).
    pub fn with_cluster_news(mut self, news: Arc<dyn ClusterNews>) -> Self {
        self.news = Some(news);
        self.hears_news
            .store(false, std::sync::atomic::Ordering::SeqCst);
        self
    }

    /// Owes `notifier` a notification for every message stored while its recipient had
    /// no live socket (recorded with the message), handed over by
    /// [`notify_due`](Self::notify_due) and retried as `retries` says.
    pub fn with_notifier(
        mut self,
        notifier: Arc<dyn Notifier>,
        retries: crate::notification::RetryPolicy,
    ) -> Self {
        self.notifier = Some(notifier);
        self.retries = retries;
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

    /// Takes one of `user`'s tokens for `event`, or fails `rate-limited`. Use cases call
    /// it before any port, so that a refused event changes nothing. The clock is read
    /// only when the event is limited.
    /// Takes one `event` from the session's user's bucket. The host application's own
    /// calls are trusted and never limited (a bulk import of contacts, say).
    fn check_rate(&self, event: RatedEvent, session: &Session) -> Result<(), ChatError> {
        let limiter = self.rates.get(event);
        if session.socket.is_host()
            || limiter.rate().is_unlimited()
            || limiter.try_take(&session.user, self.clock.now())
        {
            return Ok(());
        }
        let rate = limiter.rate();
        Err(ChatError::new(
            ErrorCode::RateLimited,
            format!(
                "too many {event} events from this user (at most {} at once, then {} a \
                 second); slow down and retry",
                rate.burst, rate.per_second
            ),
        ))
    }

    pub fn presence(&self) -> &dyn PresenceRegistry {
        self.presence.as_ref()
    }
}
