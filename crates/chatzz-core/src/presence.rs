//! Who is online: a user is online while at least one of their sockets is live.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

use crate::id::{SocketId, UserId};

/// What adding a socket changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Added {
    /// The socket was not live before.
    pub new_socket: bool,
    /// The user was offline until now.
    pub came_online: bool,
}

/// What [`Presence::remove_unless_last`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Leaving {
    /// The socket was not live.
    NotPresent,
    /// The socket was removed; the user still has others.
    Removed,
    /// The socket is the user's last; it was left in place.
    Last,
}

/// The live sockets of each user in this process. Each change reports whether it
/// flipped the user's presence, atomically, so that exactly one online and one offline
/// announcement happen per flip however sockets race.
#[derive(Debug, Default)]
pub struct Presence {
    sockets: Mutex<HashMap<UserId, HashSet<SocketId>>>,
}

impl Presence {
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

    /// Adds a live socket unless the user already holds `max` others; `None` then.
    pub fn add_within(&self, user: &UserId, socket: &SocketId, max: usize) -> Option<Added> {
        self.with(|map| {
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
        })
    }

    /// Adds a live socket and says what that changed.
    pub fn add(&self, user: &UserId, socket: &SocketId) -> Added {
        self.with(|map| {
            let sockets = map.entry(user.clone()).or_default();
            let came_online = sockets.is_empty();
            let new_socket = sockets.insert(socket.clone());
            Added {
                new_socket,
                came_online,
            }
        })
    }

    /// Removes a socket; `true` if it was the user's last one.
    pub fn remove(&self, user: &UserId, socket: &SocketId) -> bool {
        self.with(|map| {
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
        })
    }

    /// Removes the socket unless it is the user's last one, which stays until
    /// [`remove`](Self::remove): the last socket's departure must first be recorded,
    /// and a failure to record it must leave presence as it was.
    pub fn remove_unless_last(&self, user: &UserId, socket: &SocketId) -> Leaving {
        self.with(|map| {
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
        })
    }

    pub fn is_online(&self, user: &UserId) -> bool {
        self.with(|map| map.contains_key(user))
    }

    /// How many users are online.
    pub fn online_users(&self) -> usize {
        self.with(|map| map.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(user: &str, socket: &str) -> (UserId, SocketId) {
        (UserId::parse(user).unwrap(), SocketId::new(socket))
    }

    #[test]
    fn first_and_last_socket_flip_presence() {
        let presence = Presence::new();
        let (alice, tab1) = ids("alice", "s1");
        let (_, tab2) = ids("alice", "s2");
        assert!(!presence.is_online(&alice));
        assert!(presence.add(&alice, &tab1).came_online);
        assert!(!presence.add(&alice, &tab2).came_online);
        assert!(presence.is_online(&alice));
        assert!(!presence.remove(&alice, &tab1));
        assert!(presence.is_online(&alice));
        assert!(presence.remove(&alice, &tab2));
        assert!(!presence.is_online(&alice));
        assert_eq!(presence.online_users(), 0);
    }

    #[test]
    fn removing_an_unknown_socket_changes_nothing() {
        let presence = Presence::new();
        let (alice, tab1) = ids("alice", "s1");
        assert!(!presence.remove(&alice, &tab1));
        presence.add(&alice, &tab1);
        assert!(!presence.remove(&alice, &SocketId::new("other")));
        assert!(presence.is_online(&alice));
    }

    #[test]
    fn the_last_socket_stays_until_removed() {
        let presence = Presence::new();
        let (alice, tab1) = ids("alice", "s1");
        let (_, tab2) = ids("alice", "s2");
        assert_eq!(
            presence.remove_unless_last(&alice, &tab1),
            Leaving::NotPresent
        );
        presence.add(&alice, &tab1);
        presence.add(&alice, &tab2);
        assert_eq!(presence.remove_unless_last(&alice, &tab1), Leaving::Removed);
        assert_eq!(presence.remove_unless_last(&alice, &tab2), Leaving::Last);
        assert!(presence.is_online(&alice));
        assert!(presence.remove(&alice, &tab2));
        assert!(!presence.is_online(&alice));
    }

    #[test]
    fn sockets_per_user_are_bounded() {
        let presence = Presence::new();
        let (alice, tab1) = ids("alice", "s1");
        let (_, tab2) = ids("alice", "s2");
        let (_, tab3) = ids("alice", "s3");
        assert!(presence.add_within(&alice, &tab1, 2).is_some());
        assert!(presence.add_within(&alice, &tab2, 2).is_some());
        assert!(presence.add_within(&alice, &tab3, 2).is_none());
        assert!(
            presence.add_within(&alice, &tab2, 2).is_some(),
            "an existing socket again is fine"
        );
        assert!(!presence.remove(&alice, &tab1));
        assert!(presence.add_within(&alice, &tab3, 2).is_some());
        let bob = UserId::parse("bob").unwrap();
        assert!(presence.add_within(&bob, &tab1, 0).is_none());
        assert!(
            !presence.is_online(&bob),
            "a refused first socket leaves no trace"
        );
    }

    #[test]
    fn adding_the_same_socket_twice_is_one_socket() {
        let presence = Presence::new();
        let (alice, tab1) = ids("alice", "s1");
        let first = presence.add(&alice, &tab1);
        assert!(first.new_socket && first.came_online);
        let again = presence.add(&alice, &tab1);
        assert!(!again.new_socket && !again.came_online);
        assert!(presence.remove(&alice, &tab1));
    }
}
