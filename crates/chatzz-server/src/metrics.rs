//! `GET /metrics` in Prometheus' text format.

use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use chatzz::ChatzzHandle;
use metrics_exporter_prometheus::{BuildError, Matcher, PrometheusBuilder, PrometheusHandle};

/// Store calls take from tens of microseconds (memory) to tens of milliseconds.
const STORE_CALL_BUCKETS: &[f64] = &[
    0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
    1.0, 2.5,
];

/// Installs the process-wide recorder the `metrics` calls of chatzz report to.
pub fn install() -> Result<PrometheusHandle, BuildError> {
    PrometheusBuilder::new()
        .set_buckets_for_metric(
            Matcher::Full("chatzz_store_call_seconds".into()),
            STORE_CALL_BUCKETS,
        )?
        .install_recorder()
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
