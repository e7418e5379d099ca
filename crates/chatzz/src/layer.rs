//! The layer [`build`](crate::ChatzzBuilder::build) returns, whichever socketioxide
//! adapter it runs on: one type for the application to mount. In front of socketioxide
//! it copies request heads out of hyper's buffers (see `detach.rs`).

use socketioxide::layer::SocketIoLayer;

use crate::detach::DetachHead;
use tower::Layer;

#[cfg(feature = "redis")]
type Inner = tower::util::Either<SocketIoLayer, SocketIoLayer<crate::cluster::Adapter>>;
#[cfg(not(feature = "redis"))]
type Inner = SocketIoLayer;

/// The Socket.IO layer to mount on your `Router` (`.layer(chat_layer)`).
#[derive(Clone)]
pub struct ChatzzLayer(Inner);

impl std::fmt::Debug for ChatzzLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChatzzLayer").finish_non_exhaustive()
    }
}

impl ChatzzLayer {
    pub(crate) fn local(layer: SocketIoLayer) -> Self {
        #[cfg(feature = "redis")]
        return Self(tower::util::Either::Left(layer));
        #[cfg(not(feature = "redis"))]
        return Self(layer);
    }

    #[cfg(feature = "redis")]
    pub(crate) fn cluster(layer: SocketIoLayer<crate::cluster::Adapter>) -> Self {
        Self(tower::util::Either::Right(layer))
    }
}

impl<S> Layer<S> for ChatzzLayer
where
    Inner: Layer<S>,
{
    type Service = DetachHead<<Inner as Layer<S>>::Service>;

    fn layer(&self, inner: S) -> Self::Service {
        DetachHead::new(self.0.layer(inner))
    }
}
