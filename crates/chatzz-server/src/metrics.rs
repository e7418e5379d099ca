//! `GET /metrics` in Prometheus' text format.

use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use chatzz::ChatzzHandle;
use metrics_exporter_prometheus::{BuildError, Matcher, PrometheusBuilder, PrometheusHandle};
use std::time::Duration;
use tokio::task::JoinHandle;
use tokio::time::MissedTickBehavior;

/// Store calls take from tens of microseconds (memory) to tens of milliseconds.
const STORE_CALL_BUCKETS: &[f64] = &[
    0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
    1.0, 2.5,
];

/// How often recorded histogram samples are folded into their histograms.
const UPKEEP_EVERY: Duration = Duration::from_secs(5);

/// Installs the process-wide recorder the `metrics` calls of chatzz report to, and
/// starts its upkeep on the current runtime.
pub fn install() -> Result<PrometheusHandle, BuildError> {
    let handle = PrometheusBuilder::new()
        .set_buckets_for_metric(
            Matcher::Full("chatzz_store_call_seconds".into()),
            STORE_CALL_BUCKETS,
        )?
        .install_recorder()?;
    let upkept = handle.clone();
    keep_up(UPKEEP_EVERY, move || upkept.run_upkeep());
    Ok(handle)
}

/// Runs `upkeep` every `every` for as long as the runtime does. The recorder keeps
/// every histogram sample until upkeep (or a scrape) folds it in: without it, a server
/// nobody scraped grew by about 40 bytes per message, without bound (measured in
/// docs/benchmarks.md, "Memory under a long run").
fn keep_up(every: Duration, upkeep: impl Fn() + Send + 'static) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(every);
        ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            upkeep();
        }
    })
}

/// The `/metrics` route.
pub fn routes(prometheus: PrometheusHandle, chat: ChatzzHandle) -> Router {
    Router::new().route(
        "/metrics",
        get(move || {
            let prometheus = prometheus.clone();
            let chat = chat.clone();
            async move {
                match chat.online_users().await {
                    Ok(online) => metrics::gauge!("chatzz_users_online").set(online as f64),
                    Err(err) => tracing::debug!(error = %err.message, "users online unknown"),
                }
                (
                    [(
                        header::CONTENT_TYPE,
                        "text/plain; version=0.0.4; charset=utf-8",
                    )],
                    prometheus.render(),
                )
                    .into_response()
            }
        }),
    )
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use super::keep_up;

    #[tokio::test(start_paused = true)]
    async fn upkeep_runs_every_period_without_a_scrape() {
        let runs = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&runs);
        let task = keep_up(Duration::from_secs(5), move || {
            counted.fetch_add(1, Ordering::SeqCst);
        });
        // The first run is at once, then one per period.
        tokio::time::sleep(Duration::from_millis(1)).await;
        assert_eq!(runs.load(Ordering::SeqCst), 1);
        tokio::time::sleep(Duration::from_secs(60)).await;
        assert_eq!(runs.load(Ordering::SeqCst), 13);
        task.abort();
    }

    /// Samples recorded between upkeeps are folded in by it, so a handle that is never
    /// rendered still shows them afterwards (what upkeep is for).
    #[test]
    fn upkeep_folds_pending_samples_into_the_histograms() {
        let recorder = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
        let handle = recorder.handle();
        metrics::with_local_recorder(&recorder, || {
            for i in 0..1000 {
                metrics::histogram!("chatzz_test_seconds").record(f64::from(i) / 1000.0);
            }
        });
        handle.run_upkeep();
        let rendered = handle.render();
        assert!(
            rendered.contains("chatzz_test_seconds_count 1000"),
            "{rendered}"
        );
    }
}
