//! Offline notifications: a message stored while its recipient had no live socket is
//! owed to the host application (which sends a push, an e-mail). The store keeps what is
//! owed with the message itself, so it is recorded in the message's own write; servers
//! take turns through leases, and failures are retried on a schedule decided here.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::time::Duration;

use serde::Serialize;

use crate::id::MessageId;
use crate::message::{Message, StoredMessage};
use crate::time::Timestamp;

/// The `type` of a notification about a message its recipient did not get live.
pub const MESSAGE_UNDELIVERED: &str = "message.undelivered";

/// What the host application is told: the body of a webhook, say.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Notification {
    /// The same on every attempt of one notification: receivers deduplicate by it.
    pub id: String,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub created_at: Timestamp,
    /// The message as the protocol shapes it, with both users' details.
    pub data: Message,
}

impl Notification {
    /// The delivery id of the notification owed for `message`: one per message.
    pub fn id_for(message: &MessageId) -> String {
        message.as_str().to_owned()
    }
}

/// A notification owed, as a store hands it to the server that claimed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingNotification {
    /// The message it is about, as stored now (edited or deleted since, maybe).
    pub message: StoredMessage,
    /// Attempts that failed so far.
    pub attempts: u32,
}

/// A server's claim on notifications that are due.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotificationClaim {
    /// Who claims: a server of a cluster, unique while it lives.
    pub owner: String,
    /// Due means scheduled at or before this.
    pub now: Timestamp,
    /// Until when the claimed ones are this server's alone.
    pub lease_until: Timestamp,
    /// Most claimed at once.
    pub limit: usize,
}

/// When failed notifications are tried again, and for how long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Delay after the first failure, before jitter.
    pub first: Duration,
    /// Longest delay between two attempts.
    pub cap: Duration,
    /// A notification still failing this long after its message was stored is dropped.
    pub give_up_after: Duration,
    /// How long a claimed notification is its server's: longer than one attempt.
    pub lease: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            first: Duration::from_secs(1),
            cap: Duration::from_secs(300),
            give_up_after: Duration::from_secs(24 * 3600),
            lease: Duration::from_secs(60),
        }
    }
}

/// What to do with a notification whose attempt just failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterFailure {
    /// Try again at this time.
    RetryAt(Timestamp),
    /// Tried for long enough: drop it.
    GiveUp,
}

impl RetryPolicy {
    /// The wait after `failed` failed attempts (1 for the first): exponential from
    /// `first`, capped, with "equal jitter" (half fixed, half scaled by `jitter` in
    /// [0, 1)) so that a receiver back from an outage is not hit by every server at once.
    pub fn delay(&self, failed: u32, jitter: f64) -> Duration {
        let doublings = failed.saturating_sub(1).min(31);
        let full = self
            .first
            .checked_mul(1u32 << doublings)
            .unwrap_or(self.cap)
            .min(self.cap);
        let half = full / 2;
        half + half.mul_f64(jitter.clamp(0.0, 1.0))
    }

    /// After the `failed`th failed attempt, at `now`, of the notification about
    /// `message` (stored at `created_at`).
    pub fn after_failure(
        &self,
        message: &MessageId,
        created_at: Timestamp,
        failed: u32,
        now: Timestamp,
    ) -> AfterFailure {
        let age = now.millis().saturating_sub(created_at.millis());
        if age >= i64::try_from(self.give_up_after.as_millis()).unwrap_or(i64::MAX) {
            return AfterFailure::GiveUp;
        }
        let delay = self.delay(failed, jitter(message, failed));
        let at = now
            .millis()
            .saturating_add(i64::try_from(delay.as_millis()).unwrap_or(i64::MAX));
        Timestamp::from_millis(at).map_or(AfterFailure::GiveUp, AfterFailure::RetryAt)
    }
}

/// A fraction in [0, 1) fixed by the message and attempt: spreads retries without a
/// random source, and is the same on every server (so tests can know it).
pub fn jitter(message: &MessageId, failed: u32) -> f64 {
    let mut hasher = DefaultHasher::new();
    (message.as_str(), failed).hash(&mut hasher);
    // 53 bits: exactly representable.
    (hasher.finish() >> 11) as f64 / (1u64 << 53) as f64
}

/// What one round of notifying did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NotifyRound {
    /// Notifications claimed (each was attempted once).
    pub claimed: usize,
    /// Accepted by the host application, and removed.
    pub delivered: usize,
    /// Failed and scheduled again.
    pub retried: usize,
    /// Failed after trying for long enough, and removed.
    pub dropped: usize,
    /// From each delivered message's storing to its acceptance.
    pub latencies: Vec<Duration>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(millis: i64) -> Timestamp {
        Timestamp::from_millis(millis).unwrap_or_else(|| unreachable!())
    }

    fn user(id: &str) -> crate::id::UserId {
        crate::id::UserId::parse(id).unwrap_or_else(|_| unreachable!())
    }

    #[test]
    fn delays_double_from_one_second_to_five_minutes_with_half_of_each_jittered() {
        let policy = RetryPolicy::default();
        let secs = |failed, jitter| policy.delay(failed, jitter).as_secs_f64();
        assert_eq!(secs(1, 0.0), 0.5);
        assert_eq!(secs(1, 1.0), 1.0);
        assert_eq!(secs(2, 0.0), 1.0);
        assert_eq!(secs(3, 0.5), 3.0);
        assert_eq!(secs(9, 1.0), 256.0);
        assert_eq!(secs(10, 1.0), 300.0, "capped");
        assert_eq!(secs(10, 0.0), 150.0);
        assert_eq!(secs(u32::MAX, 1.0), 300.0);
        assert_eq!(secs(0, 1.0), 1.0, "no failure counts as the first");
    }

    #[test]
    fn jitter_is_a_fraction_fixed_by_message_and_attempt() {
        let m = MessageId::new("42");
        for failed in 1..200 {
            let j = jitter(&m, failed);
            assert!((0.0..1.0).contains(&j));
            assert_eq!(j, jitter(&m, failed));
        }
        assert_ne!(jitter(&m, 1), jitter(&m, 2));
        assert_ne!(jitter(&m, 1), jitter(&MessageId::new("43"), 1));
    }

    #[test]
    fn failures_are_retried_for_a_day_then_dropped() {
        let policy = RetryPolicy::default();
        let m = MessageId::new("7");
        let day = 24 * 3600 * 1000;
        let delay = |failed| {
            i64::try_from(policy.delay(failed, jitter(&m, failed)).as_millis()).unwrap_or(0)
        };
        assert_eq!(
            policy.after_failure(&m, at(1_000), 1, at(1_200)),
            AfterFailure::RetryAt(at(1_200 + delay(1)))
        );
        assert_eq!(
            policy.after_failure(&m, at(1_000), 300, at(1_000 + day - 1)),
            AfterFailure::RetryAt(at(1_000 + day - 1 + delay(300)))
        );
        assert_eq!(
            policy.after_failure(&m, at(1_000), 300, at(1_000 + day)),
            AfterFailure::GiveUp
        );
    }

    #[test]
    fn a_notification_serializes_as_the_webhook_body() {
        let json = serde_json::to_value(&Notification {
            id: "m1".into(),
            kind: MESSAGE_UNDELIVERED,
            created_at: at(0),
            data: Message {
                id: MessageId::new("m1"),
                chat_room_id: crate::id::ChatRoomId::new("r"),
                created_at: at(0),
                from: crate::user::UserDetails::bare(&user("a")),
                to: crate::user::UserDetails::bare(&user("b")),
                message: "hi".into(),
                status: crate::message::MessageStatus::NotSent,
                read_at: None,
                edited_at: None,
                deleted_at: None,
            },
        })
        .unwrap_or_default();
        assert_eq!(json["id"], "m1");
        assert_eq!(json["type"], "message.undelivered");
        assert_eq!(json["createdAt"], "1970-01-01T00:00:00.000Z");
        assert_eq!(json["data"]["_id"], "m1");
    }
}
