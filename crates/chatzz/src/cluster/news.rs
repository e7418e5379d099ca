//! The cluster's news over Redis pub/sub: what one server changed that the others cache
//! (blocks between two users). Heard on the driver's own connection, in its push
//! handler, so nothing queues and nothing is dropped; a dropped connection makes the
//! service trust its cache only briefly until the channel is subscribed again.

use std::sync::{Arc, OnceLock, Weak};

use async_trait::async_trait;
use chatzz_core::{ChatService, ClusterNews, NewsError, UserId};
use redis::{FromRedisValue, PushInfo, PushKind};
use socketioxide_redis::drivers::Driver;

use super::driver::ManagedDriver;

/// Sends the news: one `PUBLISH` of `["a", "b"]` per change.
pub(crate) struct RedisNews {
    driver: ManagedDriver,
    channel: String,
}

impl RedisNews {
    pub(crate) fn new(driver: ManagedDriver, channel: String) -> Self {
        Self { driver, channel }
    }
}

#[async_trait]
impl ClusterNews for RedisNews {
    async fn blocks_changed(&self, a: &UserId, b: &UserId) -> Result<(), NewsError> {
        let payload = serde_json::to_vec(&(a, b)).map_err(|e| NewsError(e.to_string()))?;
        self.driver
            .publish(self.channel.clone(), payload)
            .await
            .map_err(|e| NewsError(e.to_string()))
    }
}

/// Hears the news for the service, once it is built.
#[derive(Debug)]
pub(crate) struct NewsListener {
    channel: String,
    service: OnceLock<Weak<ChatService>>,
}

impl NewsListener {
    pub(crate) fn new(channel: String) -> Self {
        Self {
            channel,
            service: OnceLock::new(),
        }
    }

    pub(crate) fn channel(&self) -> &str {
        &self.channel
    }

    /// From now on the news reaches `service`.
    pub(crate) fn attach(&self, service: &Arc<ChatService>) {
        let _ = self.service.set(Arc::downgrade(service));
    }

    /// Handles `push` if it is about the news (or the connection carrying it); returns
    /// whether it was.
    pub(crate) fn hear(&self, push: &PushInfo) -> bool {
        match push.kind {
            // Every channel is lost with the connection; the socket.io adapter's
            // channels still need to hear of it, so it is not taken.
            PushKind::Disconnection => {
                if let Some(service) = self.service() {
                    tracing::warn!("cluster news may be missed until Redis is back");
                    service.cluster_news_lost();
                }
                false
            }
            PushKind::Subscribe if self.is_ours(push) => {
                if let Some(service) = self.service() {
                    service.cluster_news_heard();
                }
                true
            }
            PushKind::Message if self.is_ours(push) => {
                match push.data.get(1).map(Vec::<u8>::from_redis_value_ref) {
                    Some(Ok(payload)) => self.blocks_changed(&payload),
                    _ => tracing::warn!("unreadable cluster news"),
                }
                true
            }
            _ => false,
        }
    }

    fn blocks_changed(&self, payload: &[u8]) {
        let Ok((a, b)) = serde_json::from_slice::<(String, String)>(payload) else {
            tracing::warn!("unreadable cluster news");
            return;
        };
        let (Ok(a), Ok(b)) = (UserId::parse(a), UserId::parse(b)) else {
            tracing::warn!("cluster news about an invalid user id");
            return;
        };
        if let Some(service) = self.service() {
            service.blocks_changed_elsewhere(&a, &b);
        }
    }

    fn is_ours(&self, push: &PushInfo) -> bool {
        push.data
            .first()
            .and_then(|channel| String::from_redis_value_ref(channel).ok())
            .is_some_and(|channel| channel == self.channel)
    }

    fn service(&self) -> Option<Arc<ChatService>> {
        self.service.get().and_then(Weak::upgrade)
    }
}

#[cfg(test)]
mod tests {
    use redis::{PushInfo, PushKind, Value};

    use super::NewsListener;

    fn push(kind: PushKind, channel: &str, payload: Value) -> PushInfo {
        PushInfo {
            kind,
            data: vec![Value::BulkString(channel.as_bytes().to_vec()), payload],
        }
    }

    #[test]
    fn only_the_news_channel_is_taken_and_a_disconnection_is_left_for_the_adapter() {
        let news = NewsListener::new("p:news:blocks".into());
        let pair = Value::BulkString(br#"["alice","bob"]"#.to_vec());
        assert!(news.hear(&push(PushKind::Subscribe, "p:news:blocks", Value::Int(1))));
        assert!(news.hear(&push(PushKind::Message, "p:news:blocks", pair.clone())));
        assert!(news.hear(&push(
            PushKind::Message,
            "p:news:blocks",
            Value::BulkString(b"not json".to_vec())
        )));
        assert!(!news.hear(&push(PushKind::Message, "p:socket.io#/#", pair)));
        assert!(!news.hear(&push(PushKind::Subscribe, "p:socket.io#/#", Value::Int(2))));
        assert!(!news.hear(&PushInfo {
            kind: PushKind::Disconnection,
            data: Vec::new()
        }));
    }
}
