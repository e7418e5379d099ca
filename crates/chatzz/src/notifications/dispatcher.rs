//! The task that hands owed notifications to the notifier: a round every `poll`, or at
//! once again while rounds come back full. Sends never wait for it; what it claims is
//! leased in the store, so a server that dies mid-round loses nothing (another server,
//! or this one restarted, takes it over when the lease ends).

use std::sync::Arc;
use std::time::{Duration, Instant};

use chatzz_core::ChatService;

/// How the dispatcher runs.
#[derive(Debug, Clone)]
pub(crate) struct DispatchSettings {
    /// This server's name in leases: unique while it lives.
    pub owner: String,
    /// Time between rounds that found less than a full batch.
    pub poll: Duration,
    /// Most notifications claimed (and in flight) per round.
    pub batch: usize,
}

/// How often the owed count is read for the metrics gauge (it counts an index).
const PENDING_EVERY: Duration = Duration::from_secs(5);

/// Starts the dispatcher; it runs until aborted.
pub(crate) fn spawn_dispatcher(
    service: Arc<ChatService>,
    settings: DispatchSettings,
) -> tokio::task::AbortHandle {
    tokio::spawn(async move {
        tracing::info!(owner = %settings.owner, "offline notifications: dispatching");
        let mut counted: Option<Instant> = None;
        loop {
            let full = match service.notify_due(&settings.owner, settings.batch).await {
                Ok(round) => {
                    metrics::counter!("chatzz_notifications_delivered_total")
                        .increment(round.delivered as u64);
                    metrics::counter!("chatzz_notifications_retried_total")
                        .increment(round.retried as u64);
                    metrics::counter!("chatzz_notifications_dropped_total")
                        .increment(round.dropped as u64);
                    for latency in &round.latencies {
                        metrics::histogram!("chatzz_notification_latency_seconds")
                            .record(latency.as_secs_f64());
                    }
                    round.claimed >= settings.batch
                }
                Err(err) => {
                    tracing::warn!(error = %err, "offline notifications: round failed; will retry");
                    false
                }
            };
            if counted.is_none_or(|at| at.elapsed() >= PENDING_EVERY) {
                counted = Some(Instant::now());
                match service.pending_notifications().await {
                    Ok(pending) => {
                        metrics::gauge!("chatzz_notifications_pending").set(pending as f64);
                    }
                    Err(err) => tracing::debug!(error = %err, "pending notifications unknown"),
                }
            }
            if !full {
                tokio::time::sleep(settings.poll).await;
            }
        }
    })
    .abort_handle()
}
