//! The HTTP listener: hyper with a timer, so that a client that opens a connection and
//! dribbles its request headers (slowloris) is cut off, which `axum::serve` cannot do.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;

use crate::congestion::CongestionCut;

/// Serves `app` on `listener` until `shutdown` resolves, then lets open requests finish
/// for at most `drain`. A connection whose client stops reading is closed once its
/// writes have been congested for `slow_consumer_timeout` (see `congestion.rs`).
pub async fn serve(
    listener: TcpListener,
    app: Router,
    header_read_timeout: Duration,
    slow_consumer_timeout: Duration,
    shutdown: impl Future<Output = ()>,
    drain: Duration,
) {
    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(header_read_timeout);
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, peer): (tokio::net::TcpStream, SocketAddr) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    // Out of file descriptors, say: wait a little rather than spin.
                    tracing::warn!("accept failed: {err}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        // Small writes (acks, events) must leave at once, not wait for delayed ACKs.
        if let Err(err) = stream.set_nodelay(true) {
            tracing::debug!(%peer, "cannot set TCP_NODELAY: {err}");
        }
        // The chatzz layer in `app` copies Socket.IO request heads out of hyper's buffer.
        let service = TowerToHyperService::new(app.clone());
        let stream = CongestionCut::new(stream, slow_consumer_timeout);
        let connection = builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
        let connection = graceful.watch(connection.into_owned());
        tokio::spawn(async move {
            if let Err(err) = connection.await {
                tracing::debug!(%peer, "connection ended: {err}");
            }
        });
    }
    drop(listener);
    if tokio::time::timeout(drain, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("connections still open after {drain:?}; closing them");
    }
}
