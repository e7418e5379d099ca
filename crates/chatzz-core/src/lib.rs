//! The chatzz domain, free of I/O: who is online, who may talk to whom, messages and
//! their forward-only receipts (`not_sent -> sent -> read`), and the use cases a
//! transport runs for each client event. It reaches storage, the host application's
//! users and the time of day only through the ports in [`ports`]; each use case
//! returns its reply plus the [`Delivery`]s the transport must emit, in order.

pub mod error;
pub mod event;
pub mod id;
pub mod message;
pub mod notification;
pub mod ports;
pub mod presence;
pub mod rate;
pub mod sequence;
pub mod service;
pub mod time;
pub mod typing;
pub mod user;

#[cfg(feature = "testing")]
pub mod testing;

pub use error::{ChatError, ErrorCode};
pub use event::{Audience, Delivery, Facts, Outcome, ServerEvent};
pub use id::{ChatRoomId, ClientMessageId, MessageId, SocketId, UserId};
pub use message::{
    HistoryQuery, Inserted, Message, MessageStatus, MessageText, MessagesRead, NewMessage,
    StoredMessage,
};
pub use ports::{
    AuthError, Authenticator, ChatStore, Clock, ClusterNews, ContactPolicy, DirectoryError,
    Identity, NewsError, Notifier, NotifyError, PolicyError, PresenceError, PresenceRegistry,
    StoreError, StoreNames, SystemClock, UserDirectory,
};
pub use presence::LocalPresence;
pub use rate::{Rate, RatedEvent, SendRate};
pub use service::{
    BlockState, ChatService, Config, HistoryRequest, SendRequest, Session, identify,
};
pub use time::Timestamp;
pub use user::{
    Blocks, ChatUser, Contact, ContactRecord, LinkOutcome, LinkedUser, PresenceStatus, UserDetails,
    by_last_activity,
};
