//! Per-user send rates: a token bucket per user, refilled by the injected clock.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::id::UserId;
use crate::time::Timestamp;

/// How fast one user may send: `burst` messages at once, then `per_second` on average.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SendRate {
    pub per_second: f64,
    pub burst: f64,
}

impl SendRate {
    /// No limit at all.
    pub const UNLIMITED: SendRate = SendRate {
        per_second: f64::INFINITY,
        burst: f64::INFINITY,
    };
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Timestamp,
}

/// Token buckets of the users who sent lately.
#[derive(Debug)]
pub struct RateLimiter {
    rate: SendRate,
    buckets: Mutex<HashMap<UserId, Bucket>>,
}

/// Buckets kept before full ones (users idle long enough to be back at `burst`) are
/// dropped: they carry no information.
const PRUNE_ABOVE: usize = 10_000;

impl RateLimiter {
    pub fn new(rate: SendRate) -> Self {
        Self {
            rate,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    fn refill(&self, bucket: Bucket, now: Timestamp) -> f64 {
        let elapsed = (now.millis() - bucket.at.millis()).max(0) as f64 / 1000.0;
        (bucket.tokens + elapsed * self.rate.per_second).min(self.rate.burst)
    }

    /// Takes one token from `user`'s bucket; `false` when it is empty.
    pub fn try_take(&self, user: &UserId, now: Timestamp) -> bool {
        if self.rate.per_second.is_infinite() {
            return true;
        }
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if buckets.len() > PRUNE_ABOVE {
            let full = self.rate.burst;
            buckets.retain(|_, b| self.refill(*b, now) < full);
        }
        let bucket = buckets.entry(user.clone()).or_insert(Bucket {
            tokens: self.rate.burst,
            at: now,
        });
        let tokens = self.refill(*bucket, now);
        let allowed = tokens >= 1.0;
        *bucket = Bucket {
            tokens: if allowed { tokens - 1.0 } else { tokens },
            at: now,
        };
        allowed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ms: i64) -> Timestamp {
        Timestamp::from_millis(ms).unwrap()
    }

    #[test]
    fn a_burst_then_the_steady_rate() {
        let limiter = RateLimiter::new(SendRate {
            per_second: 2.0,
            burst: 3.0,
        });
        let alice = UserId::parse("alice").unwrap();
        let bob = UserId::parse("bob").unwrap();
        assert!((0..3).all(|_| limiter.try_take(&alice, at(0))));
        assert!(!limiter.try_take(&alice, at(0)));
        assert!(
            limiter.try_take(&bob, at(0)),
            "each user has their own bucket"
        );
        assert!(
            !limiter.try_take(&alice, at(400)),
            "0.8 tokens after 400 ms"
        );
        assert!(limiter.try_take(&alice, at(500)), "a token after 500 ms");
        assert!(!limiter.try_take(&alice, at(500)));
        // Long idle refills only up to the burst.
        assert!((0..3).all(|_| limiter.try_take(&alice, at(60_000))));
        assert!(!limiter.try_take(&alice, at(60_000)));
    }

    #[test]
    fn unlimited_never_refuses() {
        let limiter = RateLimiter::new(SendRate::UNLIMITED);
        let alice = UserId::parse("alice").unwrap();
        assert!((0..10_000).all(|_| limiter.try_take(&alice, at(0))));
    }

    #[test]
    fn a_clock_going_backwards_adds_nothing() {
        let limiter = RateLimiter::new(SendRate {
            per_second: 1.0,
            burst: 1.0,
        });
        let alice = UserId::parse("alice").unwrap();
        assert!(limiter.try_take(&alice, at(10_000)));
        assert!(!limiter.try_take(&alice, at(0)));
    }
}
