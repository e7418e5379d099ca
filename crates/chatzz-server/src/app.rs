//! Wiring: chatzz, HTTP routes, and the listener.

use std::time::Duration;

use axum::Router;
use axum::routing::get;
use chatzz::{BuildError, Chatzz, ChatzzBuilder, ChatzzHandle, JwtAuthenticator, SettingsError};
use tokio::net::TcpListener;

use crate::cli::Args;
use crate::{demo, metrics, serve};

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Build(#[from] BuildError),
    #[error("bad configuration: {0}")]
    Settings(#[from] SettingsError),
    #[error("bad configuration: {0}")]
    Config(String),
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: std::net::SocketAddr,
        source: std::io::Error,
    },
}

/// The binary's own settings, beside the library's [`chatzz::Settings`]: where it
/// listens and stores, and the timeouts of its listener (`serve.rs`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerSettings {
    /// Address to listen on.
    pub listen: std::net::SocketAddr,
    /// Where to store chats.
    pub database: String,
    /// How long a client may take to send its request headers (slowloris guard).
    pub header_read_timeout: Duration,
    /// How long a connection's writes may stay blocked before it is closed.
    pub slow_consumer_timeout: Duration,
}

impl Default for ServerSettings {
    fn default() -> Self {
        Self {
            listen: std::net::SocketAddr::from(([127, 0, 0, 1], 3000)),
            database: "sqlite://chatzz.db".to_owned(),
            header_read_timeout: Duration::from_secs(10),
            slow_consumer_timeout: Duration::from_secs(30),
        }
    }
}

impl ServerSettings {
    /// Checks the listener's rules, as [`chatzz::Settings::validate`] does the library's.
    pub fn validate(&self) -> Result<(), SettingsError> {
        for (name, timeout) in [
            ("header_read_timeout", self.header_read_timeout),
            ("slow_consumer_timeout", self.slow_consumer_timeout),
        ] {
            if timeout.is_zero() {
                return Err(SettingsError::ZeroDuration(name));
            }
        }
        Ok(())
    }
}

/// How connections authenticate, from the flags: a JWT key, or trusting the claimed
/// user id, which is refused beyond loopback unless explicitly asked for.
fn authentication(args: &Args, builder: ChatzzBuilder) -> Result<ChatzzBuilder, RunError> {
    let jwt = if let Some(secret) = &args.jwt_secret {
        Some(
            JwtAuthenticator::hs256(secret.as_bytes())
                .map_err(|e| RunError::Config(format!("--jwt-secret: {e}")))?,
        )
    } else if let Some(path) = &args.jwt_public_key {
        let pem = std::fs::read(path)
            .map_err(|e| RunError::Config(format!("cannot read {}: {e}", path.display())))?;
        Some(
            JwtAuthenticator::from_public_key_pem(&pem)
                .map_err(|e| RunError::Config(e.to_string()))?,
        )
    } else {
        None
    };
    if let Some(mut jwt) = jwt {
        if let Some(issuer) = &args.jwt_issuer {
            jwt = jwt.issuer(issuer);
        }
        if let Some(audience) = &args.jwt_audience {
            jwt = jwt.audience(audience);
        }
        return Ok(builder.jwt(jwt));
    }
    if args.jwt_issuer.is_some() || args.jwt_audience.is_some() {
        return Err(RunError::Config(
            "--jwt-issuer and --jwt-audience need --jwt-secret or --jwt-public-key".into(),
        ));
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

/// Which pages and Host names may reach Socket.IO. The --listen address is one of the
/// hosts (any port: `--listen 127.0.0.1:0` picks one later); an unspecified address
/// (0.0.0.0) names no host, so such servers list theirs in --allowed-hosts.
fn origins(args: &Args, mut builder: ChatzzBuilder) -> ChatzzBuilder {
    // An empty list (`CHATZZ_ALLOWED_ORIGINS=`) means the default, not "no origin".
    let listed = |list: &[String]| -> Vec<String> {
        let trimmed = list.iter().map(|item| item.trim());
        trimmed
            .filter(|item| !item.is_empty())
            .map(str::to_owned)
            .collect()
    };
    let origins = listed(&args.allowed_origins);
    if !origins.is_empty() {
        builder = builder.allowed_origins(origins);
    }
    let listen = match args.listen.ip() {
        ip if ip.is_unspecified() => None,
        std::net::IpAddr::V4(ip) => Some(ip.to_string()),
        std::net::IpAddr::V6(ip) => Some(format!("[{ip}]")),
    };
    builder.allowed_hosts(listen.into_iter().chain(listed(&args.allowed_hosts)))
}

/// Signed webhooks for offline recipients, if asked for.
fn notifications(args: &Args, builder: ChatzzBuilder) -> Result<ChatzzBuilder, RunError> {
    let (url, secret) = match (&args.webhook_url, &args.webhook_secret) {
        (None, None) => return Ok(builder),
        (Some(url), Some(secret)) => (url, secret),
        (Some(_), None) => {
            return Err(RunError::Config(
                "--webhook-url needs --webhook-secret".into(),
            ));
        }
        (None, Some(_)) => {
            return Err(RunError::Config(
                "--webhook-secret needs --webhook-url".into(),
            ));
        }
    };
    if args.notification_lease == 0 {
        return Err(RunError::Config(
            "--notification-lease must be at least 1 second".into(),
        ));
    }
    webhooks(url, secret, args.notification_lease, builder)
}

#[cfg(feature = "webhooks")]
fn webhooks(
    url: &str,
    secret: &str,
    lease: u64,
    builder: ChatzzBuilder,
) -> Result<ChatzzBuilder, RunError> {
    let webhook = chatzz::WebhookNotifier::new(url, secret.as_bytes())
        .map_err(|e| RunError::Config(e.to_string()))?;
    tracing::info!(?webhook, "offline notifications: signed webhooks");
    Ok(builder
        .notifier(webhook)
        .notification_retries(chatzz::RetryPolicy {
            lease: Duration::from_secs(lease),
            ..chatzz::RetryPolicy::default()
        }))
}

#[cfg(not(feature = "webhooks"))]
fn webhooks(
    _url: &str,
    _secret: &str,
    _lease: u64,
    _builder: ChatzzBuilder,
) -> Result<ChatzzBuilder, RunError> {
    Err(RunError::Config(
        "--webhook-url needs a build with the `webhooks` feature".into(),
    ))
}

pub async fn run(args: Args) -> Result<(), RunError> {
    let server = args.server_settings();
    server.validate()?;
    let settings = args.settings();
    settings.validate()?;
    let builder = Chatzz::builder()
        .store_url(&server.database)
        .settings(settings);
    let prometheus = metrics::install().map_err(|e| RunError::Config(format!("metrics: {e}")))?;
    let builder = origins(&args, authentication(&args, builder)?);
    let builder = notifications(&args, builder)?;
    let (layer, chat) = builder.build().await?;

    let metrics_routes = metrics::routes(prometheus, chat.clone());
    let mut app = Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .merge(demo::routes());
    // With --metrics-listen, /metrics is served there only (a private address, say).
    let metrics_listener = match args.metrics_listen {
        Some(addr) => Some(bind(addr).await?),
        None => {
            app = app.merge(metrics_routes.clone());
            None
        }
    };
    let app = app.layer(layer);

    let (listener, addr) = bind(server.listen).await?;
    let (stop_metrics, metrics_stopped) = tokio::sync::oneshot::channel::<()>();
    let metrics_server = metrics_listener.map(|(listener, addr)| {
        tracing::info!(%addr, "metrics listening");
        println!("chatzz metrics on http://{addr}/metrics");
        // A private address: axum's plain server is enough.
        let server = axum::serve(listener, metrics_routes).with_graceful_shutdown(async move {
            let _ = metrics_stopped.await;
        });
        tokio::spawn(async move {
            if let Err(err) = server.await {
                tracing::warn!("metrics listener failed: {err}");
            }
        })
    });
    tracing::info!(%addr, "chatzz listening");
    println!("chatzz listening on http://{addr}");

    serve::serve(
        listener,
        app,
        server.header_read_timeout,
        server.slow_consumer_timeout,
        shutdown(chat),
        Duration::from_secs(5),
    )
    .await;
    let _ = stop_metrics.send(());
    if let Some(server) = metrics_server {
        let _ = server.await;
    }
    Ok(())
}

async fn bind(addr: std::net::SocketAddr) -> Result<(TcpListener, std::net::SocketAddr), RunError> {
    let listen_error = |source| RunError::Listen { addr, source };
    let listener = TcpListener::bind(addr).await.map_err(listen_error)?;
    let local = listener.local_addr().map_err(listen_error)?;
    Ok((listener, local))
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
