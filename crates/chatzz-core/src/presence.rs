//! Presence within one process: the [`PresenceRegistry`] a single server uses.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

use async_trait::async_trait;

use crate::id::{SocketId, UserId};
use crate::ports::{Added, Leaving, PresenceError, PresenceRegistry, Sweep};

/// The live sockets of each user in this process. Nothing here can fail or go stale, so
/// [`sweep`](PresenceRegistry::sweep) finds nothing.
#[derive(Debug, Default)]
pub struct LocalPresence {
    sockets: Mutex<HashMap<UserId, HashSet<SocketId>>>,
}

impl LocalPresence {
    pub fn new() -> Self {
        Self::default()
    }

    fn with<T>(&self, f: impl FnOnce(&mut HashMap<UserId, HashSet<SocketId>>) -> T) -> T {
        // A panic elsewhere cannot leave the map half-updated: every change is one insert
        // or remove, so a poisoned lock still guards consistent data.
        let mut guard = self
            .sockets
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        f(&mut guard)
    }
}

#[async_trait]
impl PresenceRegistry for LocalPresence {
    async fn add_within(
        &self,
        user: &UserId,
        socket: &SocketId,
        max: usize,
    ) -> Result<Option<Added>, PresenceError> {
        Ok(self.with(|map| {
            let sockets = map.entry(user.clone()).or_default();
            if sockets.len() >= max && !sockets.contains(socket) {
                if sockets.is_empty() {
                    map.remove(user);
                }
                return None;
            }
            let came_online = sockets.is_empty();
            let new_socket = sockets.insert(socket.clone());
            Some(Added {
                new_socket,
                came_online,
            })
        }))
    }

    async fn remove(&self, user: &UserId, socket: &SocketId) -> Result<bool, PresenceError> {
        Ok(self.with(|map| {
            let Some(sockets) = map.get_mut(user) else {
                return false;
            };
            if !sockets.remove(socket) {
                return false;
            }
            if sockets.is_empty() {
                map.remove(user);
                true
            } else {
                false
            }
        }))
    }

    async fn remove_unless_last(
        &self,
        user: &UserId,
        socket: &SocketId,
    ) -> Result<Leaving, PresenceError> {
        Ok(self.with(|map| {
            let Some(sockets) = map.get_mut(user) else {
                return Leaving::NotPresent;
            };
            if !sockets.contains(socket) {
                return Leaving::NotPresent;
            }
            if sockets.len() == 1 {
                return Leaving::Last;
            }
            sockets.remove(socket);
            Leaving::Removed
        }))
    }

    async fn online_among(&self, users: &[UserId]) -> Result<HashSet<UserId>, PresenceError> {
        Ok(self.with(|map| {
            users
                .iter()
                .filter(|user| map.contains_key(*user))
                .cloned()
                .collect()
        }))
    }

    async fn online_users(&self) -> Result<usize, PresenceError> {
        Ok(self.with(|map| map.len()))
    }

    async fn sweep(&self) -> Result<Sweep, PresenceError> {
        Ok(Sweep::default())
    }
}

#[cfg(all(test, feature = "testing"))]
mod conformance {
    crate::presence_conformance!(|| async { super::LocalPresence::new() });
}
