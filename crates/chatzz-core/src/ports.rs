//! The ports: what the domain needs from the outside world.

mod authenticator;
mod clock;
mod directory;
mod names;
mod news;
mod notifier;
mod policy;
mod presence;
mod store;

pub use authenticator::{AuthError, Authenticator, Identity};
pub use clock::{Clock, SystemClock};
pub use directory::{DirectoryError, UserDirectory};
pub use names::StoreNames;
pub use news::{ClusterNews, NewsError};
pub use notifier::{Notifier, NotifyError};
pub use policy::{ContactPolicy, PolicyError};
pub use presence::{Added, Leaving, PresenceError, PresenceRegistry, Sweep};
pub use store::{ChatStore, StoreError};

#[cfg(any(test, feature = "testing"))]
pub use {
    authenticator::MockAuthenticator, clock::MockClock, directory::MockUserDirectory,
    news::MockClusterNews, notifier::MockNotifier, policy::MockContactPolicy,
    presence::MockPresenceRegistry, store::MockChatStore,
};
