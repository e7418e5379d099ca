use std::time::Duration;

use futures_util::future::join_all;

use super::ChatService;
use crate::error::ChatError;
use crate::notification::{
    AfterFailure, MESSAGE_UNDELIVERED, Notification, NotificationClaim, NotifyRound,
    PendingNotification,
};
use crate::ports::Notifier;
use crate::time::Timestamp;

/// What became of one attempt.
enum Attempt {
    Delivered(Duration),
    Retried,
    Dropped,
}

impl ChatService {
    /// One round of offline notifications, which the server runs on a timer: claims up
    /// to `limit` due ones for `owner` (one per recipient, oldest first), hands each to
    /// the notifier (concurrently), and records each outcome: accepted ones are
    /// finished, failed ones scheduled again, or dropped once tried for long enough. A
    /// store failure while recording is logged: the lease runs out and it is tried again
    /// (at least once). Without a notifier, does nothing.
    pub async fn notify_due(&self, owner: &str, limit: usize) -> Result<NotifyRound, ChatError> {
        let Some(notifier) = &self.notifier else {
            return Ok(NotifyRound::default());
        };
        let now = self.clock.now();
        let lease_until = Timestamp::from_millis(
            now.millis()
                .saturating_add(i64::try_from(self.retries.lease.as_millis()).unwrap_or(0)),
        )
        .unwrap_or(now);
        let claimed = self
            .store
            .claim_notifications(&NotificationClaim {
                owner: owner.to_owned(),
                now,
                lease_until,
                limit,
            })
            .await?;
        let mut round = NotifyRound {
            claimed: claimed.len(),
            ..NotifyRound::default()
        };
        let mut views = self.views();
        let mut owed = Vec::with_capacity(claimed.len());
        for pending in claimed {
            let data = views.message(pending.message.clone()).await?;
            owed.push((
                pending,
                Notification {
                    id: Notification::id_for(&data.id),
                    kind: MESSAGE_UNDELIVERED,
                    created_at: data.created_at,
                    data,
                },
            ));
        }
        let attempts = owed.iter().map(|(pending, notification)| {
            self.attempt(notifier.as_ref(), owner, pending, notification)
        });
        for attempt in join_all(attempts).await {
            match attempt {
                Attempt::Delivered(latency) => {
                    round.delivered += 1;
                    round.latencies.push(latency);
                }
                Attempt::Retried => round.retried += 1,
                Attempt::Dropped => round.dropped += 1,
            }
        }
        Ok(round)
    }

    /// How many notifications are owed (for metrics).
    pub async fn pending_notifications(&self) -> Result<u64, ChatError> {
        Ok(self.store.pending_notifications().await?)
    }

    async fn attempt(
        &self,
        notifier: &dyn Notifier,
        owner: &str,
        pending: &PendingNotification,
        notification: &Notification,
    ) -> Attempt {
        let id = &pending.message.id;
        let result = notifier.notify(notification).await;
        let now = self.clock.now();
        match result {
            Ok(()) => {
                if let Err(err) = self.store.finish_notification(id).await {
                    tracing::warn!(delivery = %notification.id, error = %err, "notification accepted but not recorded; it may be sent again");
                }
                let latency = now
                    .millis()
                    .saturating_sub(pending.message.created_at.millis());
                tracing::debug!(delivery = %notification.id, "notification accepted");
                Attempt::Delivered(Duration::from_millis(u64::try_from(latency).unwrap_or(0)))
            }
            Err(err) => {
                let failed = pending.attempts.saturating_add(1);
                match self
                    .retries
                    .after_failure(id, pending.message.created_at, failed, now)
                {
                    AfterFailure::RetryAt(due) => {
                        tracing::info!(delivery = %notification.id, attempt = failed, error = %err, retry_at = %due, "notification not accepted; will retry");
                        if let Err(err) =
                            self.store.retry_notification(id, owner, failed, due).await
                        {
                            tracing::warn!(delivery = %notification.id, error = %err, "retry not recorded; retried when the lease runs out");
                        }
                        Attempt::Retried
                    }
                    AfterFailure::GiveUp => {
                        tracing::error!(delivery = %notification.id, attempts = failed, error = %err, "notification dropped: not accepted for too long");
                        if let Err(err) = self.store.finish_notification(id).await {
                            tracing::warn!(delivery = %notification.id, error = %err, "drop not recorded; it will be tried again");
                        }
                        Attempt::Dropped
                    }
                }
            }
        }
    }
}
