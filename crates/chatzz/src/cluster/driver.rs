//! A pub/sub driver for socketioxide's Redis adapter that outlives Redis outages: its
//! connection is a `redis` `ConnectionManager`, which reconnects by itself and then
//! subscribes again to every channel. (The adapter's own driver keeps one connection,
//! so a single cut would leave the server deaf to the others until restarted.)

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{FromRedisValue, PushInfo, PushKind};
use socketioxide_redis::drivers::{ChanItem, Driver, MessageStream};
use tokio::sync::mpsc;

use super::news::NewsListener;

type Subscribers = Arc<RwLock<HashMap<String, mpsc::Sender<ChanItem>>>>;

/// The driver; clones share the connection and the subscriptions.
#[derive(Clone)]
#[allow(missing_debug_implementations)]
pub struct ManagedDriver {
    connection: ConnectionManager,
    subscribers: Subscribers,
    news: Arc<NewsListener>,
}

/// A failed Redis call.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct DriverError(#[from] redis::RedisError);

impl ManagedDriver {
    /// Connects to Redis (RESP3, which pushes pub/sub messages on the same connection);
    /// `news` hears the cluster's news once [`subscribe_news`](Self::subscribe_news).
    pub(crate) async fn connect(
        client: &redis::Client,
        news: Arc<NewsListener>,
    ) -> Result<Self, redis::RedisError> {
        let subscribers: Subscribers = Arc::default();
        let routes = subscribers.clone();
        let listener = news.clone();
        // Fail fast while Redis is away: an emit that cannot go out must not hold up the
        // ack of a message that is already stored. Reconnection goes on meanwhile.
        let config = ConnectionManagerConfig::new()
            .set_automatic_resubscription()
            .set_connection_timeout(Some(Duration::from_secs(2)))
            .set_response_timeout(Some(Duration::from_secs(2)))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_millis(500))
            .set_push_sender(move |push: PushInfo| {
                if !listener.hear(&push) {
                    route(push, &routes);
                }
                Ok::<(), redis::aio::SendError>(())
            });
        let connection = client.get_connection_manager_with_config(config).await?;
        tokio::spawn(keep_alive(connection.clone()));
        Ok(Self {
            connection,
            subscribers,
            news,
        })
    }

    /// Subscribes to the cluster's news (again after every reconnection).
    pub(crate) async fn subscribe_news(&self) -> Result<(), redis::RedisError> {
        self.connection.clone().subscribe(self.news.channel()).await
    }
}

/// The connection reconnects (and subscribes again) only when a command fails on it: a
/// ping every second makes that happen soon after Redis is back, even on a server that
/// has nothing to publish. Runs as long as the process: the adapter never lets go of
/// its driver.
async fn keep_alive(mut connection: ConnectionManager) {
    let mut ticks = tokio::time::interval(Duration::from_secs(1));
    loop {
        ticks.tick().await;
        if let Err(err) = redis::cmd("PING").exec_async(&mut connection).await {
            tracing::debug!(error = %err, "Redis ping failed; reconnecting");
        }
    }
}

/// Hands a pushed message to its channel's subscriber. Never blocks the connection: a
/// subscriber that fell behind loses the message (the adapter's own behaviour).
fn route(push: PushInfo, subscribers: &Subscribers) {
    if !matches!(push.kind, PushKind::Message | PushKind::SMessage) {
        return;
    }
    let mut data = push.data.into_iter();
    let (Some(channel), Some(payload)) = (data.next(), data.next()) else {
        return;
    };
    let (Ok(channel), Ok(payload)) = (
        String::from_redis_value(channel),
        Vec::<u8>::from_redis_value(payload),
    ) else {
        tracing::warn!("unreadable pub/sub message from Redis");
        return;
    };
    let subscribers = subscribers.read().unwrap_or_else(|p| p.into_inner());
    if let Some(subscriber) = subscribers.get(&channel)
        && let Err(err) = subscriber.try_send((channel, payload))
    {
        tracing::warn!(error = %err, "a cluster channel fell behind; message dropped");
    }
}

impl Driver for ManagedDriver {
    type Error = DriverError;

    async fn publish(&self, chan: String, val: Vec<u8>) -> Result<(), Self::Error> {
        redis::cmd("PUBLISH")
            .arg(chan)
            .arg(val)
            .exec_async(&mut self.connection.clone())
            .await?;
        Ok(())
    }

    async fn subscribe(
        &self,
        chan: String,
        size: usize,
    ) -> Result<MessageStream<ChanItem>, Self::Error> {
        let (tx, rx) = mpsc::channel(size);
        self.subscribers
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(chan.clone(), tx);
        self.connection.clone().subscribe(&chan).await?;
        Ok(MessageStream::new(rx))
    }

    async fn unsubscribe(&self, chan: String) -> Result<(), Self::Error> {
        self.subscribers
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&chan);
        self.connection.clone().unsubscribe(&chan).await?;
        Ok(())
    }

    async fn num_serv(&self, chan: &str) -> Result<u16, Self::Error> {
        let (_, count): (String, u16) = redis::cmd("PUBSUB")
            .arg("NUMSUB")
            .arg(chan)
            .query_async(&mut self.connection.clone())
            .await?;
        Ok(count)
    }
}
