//! Wiring: store, service, Socket.IO, HTTP routes, and the listener.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use axum::serve::ListenerExt;
use chatzz_core::{ChatService, Config, StoreNames, SystemClock};
use socketioxide::SocketIo;
use tokio::net::TcpListener;

use crate::cli::Args;
use crate::{demo, store};

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Store(#[from] store::OpenError),
    #[error("bad configuration: {0}")]
    Config(String),
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: std::net::SocketAddr,
        source: std::io::Error,
    },
    #[error("server failed: {0}")]
    Serve(std::io::Error),
}

pub async fn run(args: Args) -> Result<(), RunError> {
    let names =
        StoreNames::with_prefix(&args.table_prefix).map_err(|e| RunError::Config(e.message))?;
    let store = store::open(&args.database, names).await?;
    let config = Config {
        max_message_chars: args.max_message_chars as usize,
        ..Config::default()
    };
    // A packet carries at most one message: its text (up to 4 bytes a character, or 6
    // when JSON-escaped) plus a little JSON around it.
    let max_packet = (config.max_message_chars * 6 + 4096).max(64 * 1024);
    let service = Arc::new(ChatService::new(store, Arc::new(SystemClock), config));

    let (layer, io) = SocketIo::builder()
        // Packets queued per socket before emits to it fail. A connect can owe one
        // sender a status change per missed message (500 by default), so the default of
        // 128 would drop some. The queue only takes memory while it is full.
        .max_buffer_size(4096)
        .max_payload(max_packet as u64)
        .ws_max_message_size(max_packet)
        .ws_max_frame_size(max_packet)
        .build_layer();
    chatzz_socketio::attach(&io, service);

    let app = Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .merge(demo::routes())
        .layer(layer);

    let listener = TcpListener::bind(args.listen)
        .await
        .map_err(|source| RunError::Listen {
            addr: args.listen,
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| RunError::Listen {
        addr: args.listen,
        source,
    })?;
    // Small writes (acks, events) must leave at once, not wait for delayed ACKs.
    let listener = listener.tap_io(|tcp| {
        if let Err(err) = tcp.set_nodelay(true) {
            tracing::warn!("cannot set TCP_NODELAY: {err}");
        }
    });
    tracing::info!(%addr, database = %args.database, "chatzz listening");
    println!("chatzz listening on http://{addr}");

    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown(io))
        .await
        .map_err(RunError::Serve)
}

/// Resolves on SIGTERM or Ctrl-C, after closing every socket so that presence is
/// announced and stored.
async fn shutdown(io: SocketIo) {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(err) => {
                tracing::warn!("cannot watch SIGTERM: {err}");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down");
    let _ = tokio::time::timeout(Duration::from_secs(5), io.close()).await;
}
