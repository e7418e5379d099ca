//! Per-user event rates: a token bucket per user and event, refilled by the injected
//! clock.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::id::UserId;
use crate::time::Timestamp;

/// How fast one user may do something: `burst` events at once, then `per_second` on
/// average.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    pub per_second: f64,
    pub burst: f64,
}

impl Rate {
    /// No limit at all.
    pub const UNLIMITED: Rate = Rate {
        per_second: f64::INFINITY,
        burst: f64::INFINITY,
    };

    /// `burst` at once, then `per_second`; a `per_second` of 0 (or less) means no limit,
    /// and the burst is at least 1.
    pub fn new(per_second: f64, burst: u32) -> Rate {
        if per_second.is_nan() || per_second <= 0.0 {
            Rate::UNLIMITED
        } else {
            Rate {
                per_second,
                burst: f64::from(burst.max(1)),
            }
        }
    }

    pub fn is_unlimited(&self) -> bool {
        self.per_second.is_infinite()
    }
}

/// The rate of `send-message`, from before every event had one.
pub type SendRate = Rate;

/// The client events limited per user, each with its own rate in
/// [`Config`](crate::Config) and its own token buckets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RatedEvent {
    /// `connect-user` ([`Config::connect_user_rate`](crate::Config::connect_user_rate)).
    ConnectUser,
    /// `add-chat-user` ([`Config::add_chat_user_rate`](crate::Config::add_chat_user_rate)).
    AddChatUser,
    /// `get-old-messages`
    /// ([`Config::get_old_messages_rate`](crate::Config::get_old_messages_rate)).
    GetOldMessages,
    /// `message-read` ([`Config::message_read_rate`](crate::Config::message_read_rate)).
    MessageRead,
    /// `send-message` ([`Config::send_rate`](crate::Config::send_rate)).
    SendMessage,
    /// `typing` ([`Config::typing_rate`](crate::Config::typing_rate)).
    Typing,
}

impl RatedEvent {
    pub const ALL: [RatedEvent; 6] = [
        RatedEvent::ConnectUser,
        RatedEvent::AddChatUser,
        RatedEvent::GetOldMessages,
        RatedEvent::MessageRead,
        RatedEvent::SendMessage,
        RatedEvent::Typing,
    ];

    /// The event's name on the wire.
    pub fn name(self) -> &'static str {
        match self {
            RatedEvent::ConnectUser => "connect-user",
            RatedEvent::AddChatUser => "add-chat-user",
            RatedEvent::GetOldMessages => "get-old-messages",
            RatedEvent::MessageRead => "message-read",
            RatedEvent::SendMessage => "send-message",
            RatedEvent::Typing => "typing",
        }
    }
}

impl std::fmt::Display for RatedEvent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Timestamp,
}

/// Token buckets of the users who acted lately.
#[derive(Debug)]
pub struct RateLimiter {
    rate: Rate,
    buckets: Mutex<HashMap<UserId, Bucket>>,
}

/// Buckets kept before full ones (users idle long enough to be back at `burst`) are
/// dropped: they carry no information.
const PRUNE_ABOVE: usize = 10_000;

impl RateLimiter {
    pub fn new(rate: Rate) -> Self {
        Self {
            rate,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    pub fn rate(&self) -> Rate {
        self.rate
    }

    fn refill(&self, bucket: Bucket, now: Timestamp) -> f64 {
        let elapsed = (now.millis() - bucket.at.millis()).max(0) as f64 / 1000.0;
        (bucket.tokens + elapsed * self.rate.per_second).min(self.rate.burst)
    }

    /// Takes one token from `user`'s bucket; `false` when it is empty.
    pub fn try_take(&self, user: &UserId, now: Timestamp) -> bool {
        if self.rate.is_unlimited() {
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

/// One [`RateLimiter`] per [`RatedEvent`], at the rates of a [`Config`](crate::Config).
#[derive(Debug)]
pub(crate) struct EventLimiters {
    connect_user: RateLimiter,
    add_chat_user: RateLimiter,
    get_old_messages: RateLimiter,
    message_read: RateLimiter,
    send_message: RateLimiter,
    typing: RateLimiter,
}

impl EventLimiters {
    pub(crate) fn new(config: &crate::Config) -> Self {
        Self {
            connect_user: RateLimiter::new(config.connect_user_rate),
            add_chat_user: RateLimiter::new(config.add_chat_user_rate),
            get_old_messages: RateLimiter::new(config.get_old_messages_rate),
            message_read: RateLimiter::new(config.message_read_rate),
            send_message: RateLimiter::new(config.send_rate),
            typing: RateLimiter::new(config.typing_rate),
        }
    }

    pub(crate) fn get(&self, event: RatedEvent) -> &RateLimiter {
        match event {
            RatedEvent::ConnectUser => &self.connect_user,
            RatedEvent::AddChatUser => &self.add_chat_user,
            RatedEvent::GetOldMessages => &self.get_old_messages,
            RatedEvent::MessageRead => &self.message_read,
            RatedEvent::SendMessage => &self.send_message,
            RatedEvent::Typing => &self.typing,
        }
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
    fn rates_from_flags() {
        assert_eq!(
            Rate::new(2.5, 10),
            Rate {
                per_second: 2.5,
                burst: 10.0
            }
        );
        assert_eq!(Rate::new(2.0, 0).burst, 1.0, "a burst of at least one");
        for none in [0.0, -1.0, f64::NAN] {
            assert!(Rate::new(none, 10).is_unlimited(), "{none}");
        }
        assert!(!Rate::new(0.001, 1).is_unlimited());
    }

    #[test]
    fn every_event_has_its_wire_name() {
        let names: Vec<&str> = RatedEvent::ALL.iter().map(|e| e.name()).collect();
        assert_eq!(
            names,
            [
                "connect-user",
                "add-chat-user",
                "get-old-messages",
                "message-read",
                "send-message",
                "typing"
            ]
        );
        assert_eq!(RatedEvent::AddChatUser.to_string(), "add-chat-user");
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
