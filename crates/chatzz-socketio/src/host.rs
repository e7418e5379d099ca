//! Acting from outside any socket, whichever adapter joins the servers: the host
//! application's own calls, closing on shutdown, and the presence sweeper.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chatzz_core::{ChatService, Delivery};
use socketioxide::SocketIo;
use socketioxide::adapter::Adapter;

use crate::reply::deliver_from_host;

/// A Socket.IO server seen from the host application, with its adapter type erased.
#[async_trait]
pub trait Broadcaster: Send + Sync + 'static {
    /// Emits each delivery in order to every socket of its user, on every server.
    async fn deliver(&self, deliveries: Vec<Delivery>);
    /// Closes every socket of this server (their disconnects run as usual).
    async fn close(&self);
}

#[async_trait]
impl<A: Adapter> Broadcaster for SocketIo<A> {
    async fn deliver(&self, deliveries: Vec<Delivery>) {
        deliver_from_host(self, deliveries).await;
    }

    async fn close(&self) {
        SocketIo::close(self).await;
    }
}

/// Runs [`ChatService::sweep_presence`] every `every` and emits what it finds, until
/// the returned task is aborted. Only shared presence needs it.
pub fn spawn_presence_sweeper(
    service: Arc<ChatService>,
    broadcaster: Arc<dyn Broadcaster>,
    every: Duration,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            match service.sweep_presence().await {
                Ok(outcome) => broadcaster.deliver(outcome.deliveries).await,
                Err(error) => {
                    tracing::warn!(%error, cause = error.cause.as_deref(), "presence sweep failed")
                }
            }
        }
    })
}
