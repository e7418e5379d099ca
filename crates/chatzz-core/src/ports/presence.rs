use std::collections::HashSet;

use async_trait::async_trait;

use crate::id::{SocketId, UserId};

/// The presence registry could not answer (its server is down, say). Nothing changed
/// as far as the caller can tell; the call may be retried.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("presence unavailable: {0}")]
pub struct PresenceError(pub String);

/// What adding a socket changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Added {
    /// The socket was not live before.
    pub new_socket: bool,
    /// The user was offline until now.
    pub came_online: bool,
}

/// What [`PresenceRegistry::remove_unless_last`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Leaving {
    /// The socket was not live.
    NotPresent,
    /// The socket was removed; the user still has others.
    Removed,
    /// The socket is the user's last; it was left in place.
    Last,
}

/// Presence flips that no socket event caused, found by [`PresenceRegistry::sweep`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sweep {
    /// Users whose last sockets were on a server that stopped answering: they are
    /// offline now, and nobody has announced it yet.
    pub went_offline: Vec<UserId>,
    /// Users of this server who had been swept as offline while it could not reach the
    /// registry, and are back now.
    pub came_online: Vec<UserId>,
}

/// Who is online: a user is online while at least one of their sockets is live,
/// wherever it is connected. Every change reports whether it flipped the user's
/// presence, atomically, so that exactly one online and one offline announcement happen
/// per flip however sockets race, across every server sharing the registry.
///
/// Errors: every method fails only with [`PresenceError`], and a failed change changed
/// nothing that a retry would not repair.
#[cfg_attr(any(test, feature = "testing"), mockall::automock)]
#[async_trait]
pub trait PresenceRegistry: Send + Sync + 'static {
    /// Adds a live socket unless the user already holds `max` others (`None` then;
    /// nothing changes). Adding a socket that is already live changes nothing.
    async fn add_within(
        &self,
        user: &UserId,
        socket: &SocketId,
        max: usize,
    ) -> Result<Option<Added>, PresenceError>;

    /// Removes a socket; `true` if it was the user's last one, so that the user just went
    /// offline. Removing a socket that is not live returns `false`.
    async fn remove(&self, user: &UserId, socket: &SocketId) -> Result<bool, PresenceError>;

    /// Removes the socket unless it is the user's last one, which stays until
    /// [`remove`](Self::remove): the last socket's departure must first be recorded,
    /// and a failure to record it must leave presence as it was.
    async fn remove_unless_last(
        &self,
        user: &UserId,
        socket: &SocketId,
    ) -> Result<Leaving, PresenceError>;

    /// Which of `users` are online.
    async fn online_among(&self, users: &[UserId]) -> Result<HashSet<UserId>, PresenceError>;

    /// Whether `user` is online.
    async fn is_online(&self, user: &UserId) -> Result<bool, PresenceError> {
        Ok(!self
            .online_among(std::slice::from_ref(user))
            .await?
            .is_empty())
    }

    /// How many users are online.
    async fn online_users(&self) -> Result<usize, PresenceError>;

    /// Housekeeping a shared registry needs now and then (the caller runs it on a
    /// timer): proves this server alive, and takes the sockets of servers that stopped
    /// doing so out of presence. Each flip it reports is reported to one caller only.
    async fn sweep(&self) -> Result<Sweep, PresenceError>;
}
