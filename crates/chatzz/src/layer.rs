//! The layer [`build`](crate::ChatzzBuilder::build) returns, whichever socketioxide
//! adapter it runs on: one type for the application to mount. In front of socketioxide
//! it refuses requests from pages and Host names not allowed (see `origin.rs`) and POSTs
//! of polling sessions that stopped fetching (see `polling.rs`), then copies request
//! heads out of hyper's buffers (see `detach.rs`).

use std::sync::Arc;
use std::time::Duration;

use socketioxide::layer::SocketIoLayer;

use crate::detach::DetachHead;
use crate::origin::{OriginGuard, OriginPolicy};
use crate::polling::{PollingGuard, PollingReaders};
use tower::Layer;

#[cfg(feature = "redis")]
type Inner = tower::util::Either<SocketIoLayer, SocketIoLayer<crate::cluster::Adapter>>;
#[cfg(not(feature = "redis"))]
type Inner = SocketIoLayer;

/// The Socket.IO layer to mount on your `Router` (`.layer(chat_layer)`).
#[derive(Clone)]
pub struct ChatzzLayer {
    inner: Inner,
    policy: Arc<OriginPolicy>,
    readers: Arc<PollingReaders>,
}

impl std::fmt::Debug for ChatzzLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChatzzLayer").finish_non_exhaustive()
    }
}

impl ChatzzLayer {
    pub(crate) fn local(layer: SocketIoLayer) -> Self {
        #[cfg(feature = "redis")]
        let inner = tower::util::Either::Left(layer);
        #[cfg(not(feature = "redis"))]
        let inner = layer;
        Self {
            inner,
            policy: Arc::default(),
            readers: Arc::new(PollingReaders::new(DEFAULT_FETCH_DEADLINE)),
        }
    }

    #[cfg(feature = "redis")]
    pub(crate) fn cluster(layer: SocketIoLayer<crate::cluster::Adapter>) -> Self {
        Self {
            inner: tower::util::Either::Right(layer),
            policy: Arc::default(),
            readers: Arc::new(PollingReaders::new(DEFAULT_FETCH_DEADLINE)),
        }
    }

    /// Guards Socket.IO requests with `policy` (the default lets every request in).
    pub(crate) fn with_origin_policy(mut self, policy: OriginPolicy) -> Self {
        self.policy = Arc::new(policy);
        self
    }

    /// Refuses the POSTs of a polling session that has not fetched for `deadline`.
    pub(crate) fn with_fetch_deadline(mut self, deadline: Duration) -> Self {
        self.readers = Arc::new(PollingReaders::new(deadline));
        self
    }
}

/// engine.io's own default ping timeout.
const DEFAULT_FETCH_DEADLINE: Duration = Duration::from_secs(20);

impl<S> Layer<S> for ChatzzLayer
where
    Inner: Layer<S>,
{
    type Service = OriginGuard<PollingGuard<DetachHead<<Inner as Layer<S>>::Service>>>;

    fn layer(&self, inner: S) -> Self::Service {
        OriginGuard::new(
            PollingGuard::new(
                DetachHead::new(self.inner.layer(inner)),
                self.readers.clone(),
            ),
            self.policy.clone(),
        )
    }
}
