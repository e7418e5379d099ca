//! Typing indicators: never stored. What one server remembers is who said "typing" to
//! whom lately (to say "stopped" for them when they send or leave) and the rooms of
//! pairs (so that a typing event needs no database), both bounded in memory.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::id::{ChatRoomId, UserId};
use crate::time::Timestamp;
use crate::user::Blocks;

/// How long a `typing: true` holds unless renewed, in milliseconds (the contract's 6 s).
pub const TYPING_TTL_MS: i64 = 6_000;

/// Most (typer, contact) pairs remembered per server; past it, the expired ones are
/// dropped first, then new ones are not remembered (their contacts still stop showing
/// "typing" after [`TYPING_TTL_MS`]).
pub const MAX_TYPISTS: usize = 65_536;

/// Most pairs whose room is remembered per server; past it, all are forgotten at once
/// (rooms never change, so the next event of a pair asks the store once).
pub const MAX_ROOMS: usize = 262_144;

/// Who told whom they were typing, and when.
#[derive(Debug, Default)]
pub struct Typists {
    since: Mutex<HashMap<(UserId, UserId), (ChatRoomId, Timestamp)>>,
}

impl Typists {
    /// `typer` started typing to `contact` in `room` at `now`.
    pub fn started(&self, typer: &UserId, contact: &UserId, room: &ChatRoomId, now: Timestamp) {
        let Ok(mut since) = self.since.lock() else {
            return;
        };
        if since.len() >= MAX_TYPISTS {
            since.retain(|_, (_, at)| live(*at, now));
        }
        if since.len() < MAX_TYPISTS {
            since.insert((typer.clone(), contact.clone()), (room.clone(), now));
        }
    }

    /// `typer` stopped typing to `contact`; whether they had said they were, less than
    /// the TTL before `now`, and in which room.
    pub fn stopped(&self, typer: &UserId, contact: &UserId, now: Timestamp) -> Option<ChatRoomId> {
        let mut since = self.since.lock().ok()?;
        let (room, at) = since.remove(&(typer.clone(), contact.clone()))?;
        live(at, now).then_some(room)
    }

    /// Forgets what `a` and `b` said to each other: one blocked the other, and nothing
    /// more passes between them, not even a "stopped".
    pub fn forget(&self, a: &UserId, b: &UserId) {
        if let Ok(mut since) = self.since.lock() {
            since.remove(&(a.clone(), b.clone()));
            since.remove(&(b.clone(), a.clone()));
        }
    }

    /// `typer` left: the contacts (and rooms) it had said "typing" to within the TTL.
    pub fn left(&self, typer: &UserId, now: Timestamp) -> Vec<(UserId, ChatRoomId)> {
        let Ok(mut since) = self.since.lock() else {
            return Vec::new();
        };
        let mut stopped = Vec::new();
        since.retain(|(who, contact), (room, at)| {
            if who != typer {
                return true;
            }
            if live(*at, now) {
                stopped.push((contact.clone(), room.clone()));
            }
            false
        });
        stopped.sort();
        stopped
    }
}

fn live(at: Timestamp, now: Timestamp) -> bool {
    now.millis().saturating_sub(at.millis()) < TYPING_TTL_MS
}

/// The rooms of pairs this server has seen: a room, once made, never changes.
#[derive(Debug, Default)]
pub struct KnownRooms {
    rooms: Mutex<HashMap<(UserId, UserId), ChatRoomId>>,
}

impl KnownRooms {
    pub fn get(&self, a: &UserId, b: &UserId) -> Option<ChatRoomId> {
        self.rooms.lock().ok()?.get(&pair(a, b)).cloned()
    }

    pub fn remember(&self, a: &UserId, b: &UserId, room: &ChatRoomId) {
        let Ok(mut rooms) = self.rooms.lock() else {
            return;
        };
        if rooms.len() >= MAX_ROOMS {
            rooms.clear();
        }
        rooms.insert(pair(a, b), room.clone());
    }
}

/// How long a pair's blocks, as this server last read them, are taken as they are while
/// a cluster's news of changes may have been missed (see [`KnownBlocks::fresh`]).
pub const BLOCKS_FRESH_MS: i64 = 5_000;

/// Most pairs whose blocks are remembered per server; past it, all are forgotten.
pub const MAX_BLOCKS: usize = 262_144;

/// Who blocks whom between pairs, as this server last read it: lets typing ask no
/// store. Every change of a pair, here or (through cluster news) on another server,
/// forgets it; each pair is kept in its sorted order.
#[derive(Debug, Default)]
pub struct KnownBlocks {
    known: Mutex<Known>,
}

#[derive(Debug, Default)]
struct Known {
    pairs: HashMap<(UserId, UserId), (Blocks, Timestamp)>,
    /// Counts the forgettings: a read that began before one may be older than the
    /// change that caused it, so it is not remembered.
    epoch: u64,
}

/// When a read of blocks began, for [`KnownBlocks::remember`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadEpoch(u64);

impl KnownBlocks {
    /// The blocks between `a` and `b`, if remembered and read less than `max_age`
    /// milliseconds before `now` (`None`: however long ago; right while every change
    /// is heard of).
    pub fn fresh(
        &self,
        a: &UserId,
        b: &UserId,
        now: Timestamp,
        max_age: Option<i64>,
    ) -> Option<Blocks> {
        let (blocks, at) = self.get(a, b)?;
        match max_age {
            Some(max_age) if now.millis().saturating_sub(at.millis()) >= max_age => None,
            _ => Some(blocks),
        }
    }

    /// The blocks between `a` and `b` as last read, however long ago.
    pub fn stale(&self, a: &UserId, b: &UserId) -> Option<Blocks> {
        self.get(a, b).map(|(blocks, _)| blocks)
    }

    fn get(&self, a: &UserId, b: &UserId) -> Option<(Blocks, Timestamp)> {
        let (first, _) = pair(a, b);
        let (blocks, at) = *self.known.lock().ok()?.pairs.get(&pair(a, b))?;
        Some((oriented(blocks, &first == a), at))
    }

    /// Call before reading blocks from the store, and give it to [`remember`](Self::remember).
    pub fn epoch(&self) -> ReadEpoch {
        ReadEpoch(
            self.known
                .lock()
                .map(|known| known.epoch)
                .unwrap_or(u64::MAX),
        )
    }

    /// The blocks between `a` and `b` (as seen from `a`), read at `at` by a read that
    /// began at `began`; not remembered if anything was forgotten since (the read may
    /// predate that change).
    pub fn remember(
        &self,
        a: &UserId,
        b: &UserId,
        blocks: Blocks,
        at: Timestamp,
        began: ReadEpoch,
    ) {
        let Ok(mut known) = self.known.lock() else {
            return;
        };
        if known.epoch != began.0 {
            return;
        }
        if known.pairs.len() >= MAX_BLOCKS {
            known.pairs.clear();
        }
        let (first, _) = pair(a, b);
        known
            .pairs
            .insert(pair(a, b), (oriented(blocks, &first == a), at));
    }

    /// Forgets the pair (one of them just blocked or unblocked the other).
    pub fn forget(&self, a: &UserId, b: &UserId) {
        if let Ok(mut known) = self.known.lock() {
            known.pairs.remove(&pair(a, b));
            known.epoch = known.epoch.wrapping_add(1);
        }
    }

    /// Forgets every pair (news of changes may have been missed).
    pub fn forget_all(&self) {
        if let Ok(mut known) = self.known.lock() {
            known.pairs.clear();
            known.epoch = known.epoch.wrapping_add(1);
        }
    }
}

/// `blocks` as seen from the other side when `as_is` is false.
fn oriented(blocks: Blocks, as_is: bool) -> Blocks {
    if as_is {
        blocks
    } else {
        Blocks {
            a_blocks_b: blocks.b_blocks_a,
            b_blocks_a: blocks.a_blocks_b,
        }
    }
}

fn pair(a: &UserId, b: &UserId) -> (UserId, UserId) {
    if a <= b {
        (a.clone(), b.clone())
    } else {
        (b.clone(), a.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(name: &str) -> UserId {
        UserId::parse(name).unwrap_or_else(|_| unreachable!())
    }

    fn at(millis: i64) -> Timestamp {
        Timestamp::from_millis(millis).unwrap_or_else(|| unreachable!())
    }

    #[test]
    fn a_typist_is_remembered_for_the_ttl_only() {
        let typists = Typists::default();
        let (a, b, room) = (user("a"), user("b"), ChatRoomId::new("r"));
        typists.started(&a, &b, &room, at(1_000));
        assert_eq!(typists.stopped(&a, &b, at(6_999)), Some(room.clone()));
        assert_eq!(typists.stopped(&a, &b, at(7_000)), None, "said once");
        typists.started(&a, &b, &room, at(1_000));
        assert_eq!(typists.stopped(&a, &b, at(7_000)), None, "expired");
    }

    #[test]
    fn leaving_stops_every_live_typing_of_the_typer() {
        let typists = Typists::default();
        let (a, b, c, d) = (user("a"), user("b"), user("c"), user("d"));
        typists.started(&a, &b, &ChatRoomId::new("ab"), at(1_000));
        typists.started(&a, &c, &ChatRoomId::new("ac"), at(5_000));
        typists.started(&d, &a, &ChatRoomId::new("ad"), at(5_000));
        assert_eq!(
            typists.left(&a, at(8_000)),
            vec![(c.clone(), ChatRoomId::new("ac"))],
            "b's is expired; d's typing is d's"
        );
        assert!(typists.left(&a, at(8_000)).is_empty());
        assert_eq!(
            typists.stopped(&d, &a, at(8_000)),
            Some(ChatRoomId::new("ad"))
        );
    }

    #[test]
    fn memory_is_bounded() {
        let typists = Typists::default();
        let room = ChatRoomId::new("r");
        let b = user("b");
        for i in 0..(MAX_TYPISTS + 10) {
            typists.started(&user(&format!("u{i}")), &b, &room, at(1_000));
        }
        assert_eq!(
            typists.since.lock().map(|s| s.len()).unwrap_or(0),
            MAX_TYPISTS
        );
        // Once they expire, new ones take their place.
        typists.started(&user("late"), &b, &room, at(10_000));
        assert_eq!(typists.since.lock().map(|s| s.len()).unwrap_or(0), 1);
    }

    #[test]
    fn blocks_are_kept_either_way_round_fresh_for_a_while() {
        let known = KnownBlocks::default();
        let (a, b) = (user("a"), user("b"));
        let b_blocks_a = Blocks {
            a_blocks_b: false,
            b_blocks_a: true,
        };
        // Remembered as seen from b: b blocks a.
        let began = known.epoch();
        known.remember(
            &b,
            &a,
            Blocks {
                a_blocks_b: true,
                b_blocks_a: false,
            },
            at(1_000),
            began,
        );
        assert_eq!(
            known.fresh(&a, &b, at(5_999), Some(5_000)),
            Some(b_blocks_a)
        );
        assert_eq!(
            known.fresh(&a, &b, at(6_000), Some(5_000)),
            None,
            "too old to trust"
        );
        assert_eq!(
            known.fresh(&a, &b, at(600_000), None),
            Some(b_blocks_a),
            "no age limit while every change is heard of"
        );
        assert_eq!(known.stale(&a, &b), Some(b_blocks_a));
        known.forget(&a, &b);
        assert_eq!(known.stale(&b, &a), None);
    }

    #[test]
    fn a_read_that_began_before_a_change_is_not_remembered() {
        let known = KnownBlocks::default();
        let (a, b, c) = (user("a"), user("b"), user("c"));
        let none = Blocks::default();
        let began = known.epoch();
        // Meanwhile a blocks b, here or elsewhere: the read may predate it.
        known.forget(&a, &b);
        known.remember(&a, &b, none, at(1_000), began);
        assert_eq!(known.stale(&a, &b), None);
        let began = known.epoch();
        known.remember(&a, &c, none, at(1_000), began);
        assert_eq!(known.stale(&a, &c), Some(none));
        known.forget_all();
        assert_eq!(known.stale(&a, &c), None);
    }

    #[test]
    fn rooms_are_found_either_way_round_and_bounded() {
        let rooms = KnownRooms::default();
        rooms.remember(&user("b"), &user("a"), &ChatRoomId::new("ab"));
        assert_eq!(
            rooms.get(&user("a"), &user("b")),
            Some(ChatRoomId::new("ab"))
        );
        for i in 0..MAX_ROOMS {
            rooms.remember(&user(&format!("x{i}")), &user("y"), &ChatRoomId::new("r"));
        }
        assert!(rooms.rooms.lock().map(|r| r.len()).unwrap_or(usize::MAX) <= MAX_ROOMS);
    }
}
