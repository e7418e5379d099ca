//! The outbound budget of one connection: how many bytes of large replies (history
//! pages, `user-details`, `get-contacts`) it may have the server queue for it.
//!
//! socketioxide does not tell how much of a socket's queue was written out, so the
//! budget is a token bucket of bytes: `budget` at once, refilled by `budget` every
//! [`REFILL_PERIOD`]. An event whose reply could overdraw it fails with `rate-limited`
//! before its use case runs, so it changes nothing and queues nothing. A client that
//! stops reading altogether is cut by the slow-consumer timeout of the listener (or by
//! engine.io's heartbeat once its packet queue is full); this bounds what it can make
//! the server hold until then.

use std::time::{Duration, Instant};

use serde::Serialize;

/// The time in which a drained budget fills up again.
pub const REFILL_PERIOD: Duration = Duration::from_secs(10);

/// Bytes of large replies one connection may still have queued for it.
#[derive(Debug)]
pub struct OutboundBudget {
    capacity: f64,
    available: f64,
    at: Instant,
}

impl OutboundBudget {
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity: capacity as f64,
            available: capacity as f64,
            at: Instant::now(),
        }
    }

    fn refill(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        let rate = self.capacity / REFILL_PERIOD.as_secs_f64();
        self.available = (self.available + elapsed * rate).min(self.capacity);
        self.at = now;
    }

    /// Whether a reply of up to `largest` bytes fits now.
    pub fn has_room_for(&mut self, largest: usize, now: Instant) -> bool {
        self.refill(now);
        self.available >= largest.min(self.capacity as usize) as f64
    }

    /// Takes the bytes of a reply that was queued (possibly below zero: a reply larger
    /// than the estimate still goes out, and the next ones wait longer).
    pub fn spend(&mut self, bytes: usize, now: Instant) {
        self.refill(now);
        self.available -= bytes as f64;
    }
}

/// The size of `value` as JSON (our own replies always serialize).
pub fn json_len<T: Serialize + ?Sized>(value: &T) -> usize {
    chatzz_core::event::json_len(value).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_drained_budget_refuses_until_it_refills() {
        let start = Instant::now();
        let mut budget = OutboundBudget::new(1000);
        assert!(budget.has_room_for(600, start));
        budget.spend(600, start);
        assert!(!budget.has_room_for(600, start), "400 left");
        assert!(budget.has_room_for(400, start));
        // 1000 bytes per 10 s: 200 more after 2 s.
        assert!(budget.has_room_for(600, start + Duration::from_secs(2)));
        budget.spend(600, start + Duration::from_secs(2));
        assert!(!budget.has_room_for(1, start + Duration::from_secs(2)));
        // Never more than the capacity, however long the connection idles.
        let later = start + Duration::from_secs(3600);
        assert!(budget.has_room_for(1000, later));
        budget.spend(1000, start + Duration::from_secs(3600));
        assert!(!budget.has_room_for(1, start + Duration::from_secs(3600)));
    }

    #[test]
    fn a_reply_larger_than_the_whole_budget_needs_a_full_budget() {
        let start = Instant::now();
        let mut budget = OutboundBudget::new(100);
        assert!(budget.has_room_for(5000, start), "a full budget lets it go");
        budget.spend(5000, start);
        assert!(!budget.has_room_for(1, start + Duration::from_secs(10)));
        assert!(budget.has_room_for(100, start + Duration::from_secs(500)));
    }
}
