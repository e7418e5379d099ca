//! Several chatzz servers as one (feature `redis`): socketioxide's Redis adapter carries
//! emits to users' rooms between servers, and presence lives in Redis.

mod driver;
mod news;

use std::sync::Arc;
use std::time::Duration;

use chatzz_core::{Authenticator, ChatService};
use chatzz_presence_redis::{RedisPresence, RedisPresenceOptions};
use socketioxide::SocketIoBuilder;
use socketioxide::adapter::Emitter;
use socketioxide_redis::{CustomRedisAdapter, RedisAdapterConfig, RedisAdapterCtr};

use crate::builder::{BuildError, ClusterSettings};
use crate::layer::ChatzzLayer;
use crate::store::redacted;
use chatzz_socketio::Broadcaster;

/// The socketioxide adapter of a cluster.
pub type Adapter = CustomRedisAdapter<Emitter, driver::ManagedDriver>;

/// What joining a cluster makes.
pub(crate) struct Joined {
    pub layer: ChatzzLayer,
    pub broadcaster: Arc<dyn Broadcaster>,
    pub sweeper: tokio::task::AbortHandle,
}

/// The connection to the other servers, made before the service is built (which tells
/// them its news through it).
pub(crate) struct Link {
    driver: driver::ManagedDriver,
    listener: Arc<news::NewsListener>,
}

impl Link {
    /// What the service tells the other servers through.
    pub(crate) fn news(&self) -> Arc<dyn chatzz_core::ClusterNews> {
        Arc::new(news::RedisNews::new(
            self.driver.clone(),
            self.listener.channel().to_owned(),
        ))
    }
}

/// Connects to the other servers through Redis.
pub(crate) async fn link(settings: &ClusterSettings) -> Result<Link, BuildError> {
    let unreachable =
        |e: redis::RedisError| BuildError::Redis(format!("{}: {e}", redacted(&settings.url)));
    let client = redis::Client::open(with_resp3(&settings.url)).map_err(unreachable)?;
    let listener = Arc::new(news::NewsListener::new(format!(
        "{}:news:blocks",
        settings.prefix
    )));
    let driver = driver::ManagedDriver::connect(&client, listener.clone())
        .await
        .map_err(unreachable)?;
    Ok(Link { driver, listener })
}

/// Connects presence to Redis; the service must use it before it is shared.
pub(crate) async fn presence(settings: &ClusterSettings) -> Result<RedisPresence, BuildError> {
    RedisPresence::connect(
        &settings.url,
        RedisPresenceOptions {
            prefix: format!("{}:presence", settings.prefix),
            lease: settings.presence_lease,
        },
    )
    .await
    .map_err(|e| BuildError::Redis(format!("{}: {e}", redacted(&settings.url))))
}

/// The `protocol=resp3` the adapter's driver needs, added to `url` unless given.
fn with_resp3(url: &str) -> String {
    if url.contains("protocol=") {
        url.to_owned()
    } else if url.contains('?') {
        format!("{url}&protocol=resp3")
    } else {
        format!("{url}?protocol=resp3")
    }
}

/// Builds the Socket.IO server on the Redis adapter, serves chatzz on it once it has
/// subscribed to the other servers and their news, and starts sweeping presence.
pub(crate) async fn join(
    link: Link,
    settings: &ClusterSettings,
    sweep_every: Duration,
    io: SocketIoBuilder,
    service: Arc<ChatService>,
    authenticator: Option<Arc<dyn Authenticator>>,
    limits: chatzz_socketio::TransportLimits,
) -> Result<Joined, BuildError> {
    let Link { driver, listener } = link;
    listener.attach(&service);
    driver
        .subscribe_news()
        .await
        .map_err(|e| BuildError::Redis(format!("{}: {e}", redacted(&settings.url))))?;
    let adapter = RedisAdapterCtr::new_with_driver(
        driver,
        RedisAdapterConfig::new().with_prefix(format!("{}:socket.io", settings.prefix)),
    );
    let (layer, io) = io.with_adapter::<Adapter>(adapter).build_layer();
    chatzz_socketio::attach(&io, service.clone(), authenticator, limits)
        .await
        .map_err(|e| BuildError::Redis(format!("cannot subscribe to the other servers: {e}")))?;
    let broadcaster: Arc<dyn Broadcaster> = Arc::new(io);
    let sweeper =
        chatzz_socketio::spawn_presence_sweeper(service, broadcaster.clone(), sweep_every)
            .abort_handle();
    Ok(Joined {
        layer: ChatzzLayer::cluster(layer),
        broadcaster,
        sweeper,
    })
}

#[cfg(test)]
mod tests {
    use super::with_resp3;

    #[test]
    fn resp3_is_asked_for_unless_a_protocol_is_given() {
        assert_eq!(
            with_resp3("redis://h:6379"),
            "redis://h:6379?protocol=resp3"
        );
        assert_eq!(
            with_resp3("redis://h/1?x=1"),
            "redis://h/1?x=1&protocol=resp3"
        );
        assert_eq!(
            with_resp3("redis://h?protocol=resp2"),
            "redis://h?protocol=resp2"
        );
    }
}
