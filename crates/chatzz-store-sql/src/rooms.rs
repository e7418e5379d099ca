//! Rooms already seen, by pair. A room never changes and is never deleted once created,
//! so a room found (or created) once can be answered from memory ever after, in every
//! process: this saves a read on every send (`find_room` comes before each insert). Pairs
//! not linked yet are never remembered, since another process may link them any time.

use std::collections::HashMap;
use std::sync::Mutex;

use chatzz_core::ChatRoomId;

/// Pairs remembered at most; past that the memory starts over.
const MAX_PAIRS: usize = 100_000;

/// Sorted pair (low, high) -> room.
#[derive(Debug, Default)]
pub struct KnownRooms {
    known: Mutex<Known>,
}

#[derive(Debug, Default)]
struct Known {
    by_low: HashMap<String, HashMap<String, ChatRoomId>>,
    pairs: usize,
}

impl KnownRooms {
    /// The room of the sorted pair (`low`, `high`), if seen before.
    pub fn get(&self, low: &str, high: &str) -> Option<ChatRoomId> {
        let known = self.known.lock().unwrap_or_else(|e| e.into_inner());
        known.by_low.get(low)?.get(high).cloned()
    }

    /// Remembers the room of a linked pair.
    pub fn remember(&self, low: &str, high: &str, room: &ChatRoomId) {
        let mut known = self.known.lock().unwrap_or_else(|e| e.into_inner());
        if known.pairs >= MAX_PAIRS {
            *known = Known::default();
        }
        let previous = known
            .by_low
            .entry(low.to_owned())
            .or_default()
            .insert(high.to_owned(), room.clone());
        if previous.is_none() {
            known.pairs += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_pairs_and_starts_over_when_full() {
        let known = KnownRooms::default();
        assert_eq!(known.get("a", "b"), None);
        known.remember("a", "b", &ChatRoomId::new("1"));
        known.remember("a", "b", &ChatRoomId::new("1"));
        assert_eq!(known.get("a", "b"), Some(ChatRoomId::new("1")));
        assert_eq!(known.get("a", "c"), None);
        for i in 0..MAX_PAIRS {
            known.remember("x", &i.to_string(), &ChatRoomId::new("2"));
        }
        assert_eq!(known.get("a", "b"), None, "started over");
        assert_eq!(known.get("x", "99999"), Some(ChatRoomId::new("2")));
    }
}
