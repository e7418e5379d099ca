//! Wiring: chatzz, HTTP routes, and the listener.

use std::time::Duration;

use axum::Router;
use axum::routing::get;
use chatzz::{BuildError, Chatzz, ChatzzBuilder, ChatzzHandle, JwtAuthenticator};
use tokio::net::TcpListener;

use crate::cli::Args;
use crate::{demo, metrics, serve};

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Build(#[from] BuildError),
    #[error("bad configuration: {0}")]
    Config(String),
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: std::net::SocketAddr,
        source: std::io::Error,
    },
}

/// How connections authenticate, from the flags: a JWT key, or trusting the claimed
/// user id, which is refused beyond loopback unless explicitly asked for.
fn authentication(args: &Args, builder: ChatzzBuilder) -> Result<ChatzzBuilder, RunError> {
    if let Some(secret) = &args.jwt_secret {
        if secret.len() < 32 {
            return Err(RunError::Config(
                "--jwt-secret must be at least 32 bytes".into(),
            ));
        }
        return Ok(builder.jwt(JwtAuthenticator::hs256(secret.as_bytes())));
    }
    if let Some(path) = &args.jwt_public_key {
        let pem = std::fs::read(path)
            .map_err(|e| RunError::Config(format!("cannot read {}: {e}", path.display())))?;
        let jwt = JwtAuthenticator::from_public_key_pem(&pem)
            .map_err(|e| RunError::Config(e.to_string()))?;
        return Ok(builder.jwt(jwt));
    }
    if !args.listen.ip().is_loopback() && !args.insecure_trust_client_ids {
        return Err(RunError::Config(format!(
            "refusing to listen on {} without authentication: give --jwt-secret or --jwt-public-key \
             (or --insecure-trust-client-ids to let anyone act as anyone)",
            args.listen
        )));
    }
    Ok(builder.trust_client_user_ids())
}

pub async fn run(args: Args) -> Result<(), RunError> {
    let mut builder = Chatzz::builder()
        .store_url(&args.database)
        .table_prefix(&args.table_prefix)
        .max_message_chars(args.max_message_chars as usize)
        .send_rate(args.send_rate, args.send_burst)
        .max_sockets_per_user(args.max_sockets_per_user as usize)
        .max_queued_events(args.max_queued_events)
        .ping(
            Duration::from_secs(args.ping_interval),
            Duration::from_secs(args.ping_timeout),
        )
        .connect_timeout(Duration::from_secs(args.connect_timeout))
        .store_timeout(Duration::from_secs(args.store_timeout));
    if let Some(bytes) = args.max_packet_bytes {
        builder = builder.max_packet_bytes(bytes as usize);
    }
    if let Some(redis) = &args.redis {
        builder = builder
            .redis(redis)
            .presence_lease(Duration::from_secs(args.presence_lease))
            .cluster_prefix(&args.cluster_prefix);
    }
    let prometheus = metrics::install().map_err(|e| RunError::Config(format!("metrics: {e}")))?;
    let (layer, chat) = authentication(&args, builder)?.build().await?;

    let app = Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .merge(demo::routes())
        .merge(metrics::routes(prometheus, chat.clone()))
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
    tracing::info!(%addr, "chatzz listening");
    println!("chatzz listening on http://{addr}");

    serve::serve(
        listener,
        app,
        Duration::from_secs(args.header_read_timeout),
        shutdown(chat),
        Duration::from_secs(5),
    )
    .await;
    Ok(())
}

/// Resolves on SIGTERM or Ctrl-C, after closing every socket so that presence is
/// announced and stored.
async fn shutdown(chat: ChatzzHandle) {
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
    let _ = tokio::time::timeout(Duration::from_secs(5), chat.close()).await;
}
