//! Sockets per verified user on this server, counted at the handshake, so that a
//! credential cannot open more sockets than a user may hold: the socket over the cap is
//! refused before it exists. `connect-user` still applies the cap cluster-wide.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chatzz_core::UserId;

/// The open sockets of each verified user on this server.
#[derive(Debug, Clone, Default)]
pub struct HandshakeCounts {
    counts: Arc<Mutex<HashMap<UserId, usize>>>,
}

/// One socket's place in [`HandshakeCounts`]; dropping it gives the place back.
#[derive(Debug)]
pub struct Slot {
    counts: HandshakeCounts,
    user: UserId,
}

impl HandshakeCounts {
    /// A place for one more socket of `user`, unless `max` are open already.
    pub fn take(&self, user: &UserId, max: usize) -> Option<Slot> {
        let mut counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        let count = counts.entry(user.clone()).or_default();
        if *count >= max {
            if *count == 0 {
                counts.remove(user);
            }
            return None;
        }
        *count += 1;
        Some(Slot {
            counts: self.clone(),
            user: user.clone(),
        })
    }

    #[cfg(test)]
    fn open(&self, user: &UserId) -> usize {
        let counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        counts.get(user).copied().unwrap_or(0)
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut counts = self.counts.counts.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(count) = counts.get_mut(&self.user) {
            *count -= 1;
            if *count == 0 {
                counts.remove(&self.user);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn the_socket_over_the_cap_gets_no_slot_until_one_is_given_back() {
        let counts = HandshakeCounts::default();
        let alice = UserId::parse("alice").unwrap();
        let bob = UserId::parse("bob").unwrap();
        let first = counts.take(&alice, 2).unwrap();
        let _second = counts.take(&alice, 2).unwrap();
        assert!(counts.take(&alice, 2).is_none());
        assert!(
            counts.take(&bob, 2).is_some(),
            "each user has their own cap"
        );
        drop(first);
        assert_eq!(counts.open(&alice), 1);
        assert!(counts.take(&alice, 2).is_some());
    }

    #[test]
    fn given_back_slots_leave_no_entry_behind() {
        let counts = HandshakeCounts::default();
        let alice = UserId::parse("alice").unwrap();
        drop(counts.take(&alice, 1));
        assert!(counts.take(&alice, 0).is_none());
        assert!(
            counts
                .counts
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .is_empty()
        );
    }
}
