//! Copies each Socket.IO request's head out of the connection's read buffer.
//!
//! hyper parses header values and the URI as slices of its per-connection read buffer
//! (8 to 16 KiB), and engineioxide keeps the head of the request that opened each
//! session for the life of the session: without the copy, every open WebSocket holds
//! on to that whole buffer (7.6 KiB of resident memory per idle connection, measured in
//! docs/benchmarks.md). The copy costs a few small allocations per Socket.IO request;
//! the application's other requests pass untouched.

use std::task::{Context, Poll};

use axum::extract::OriginalUri;
use http::header::HeaderValue;
use http::{Request, Uri};
use tower::Service;

/// The path socketioxide serves (its default; chatzz does not change it).
const SOCKET_IO_PATH: &str = "/socket.io";

/// A service that hands `inner` Socket.IO requests whose heads own their bytes.
#[derive(Debug, Clone)]
pub struct DetachHead<S> {
    inner: S,
}

impl<S> DetachHead<S> {
    pub(crate) fn new(inner: S) -> Self {
        Self { inner }
    }
}

impl<S, B> Service<Request<B>> for DetachHead<S>
where
    S: Service<Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let request = if request.uri().path().starts_with(SOCKET_IO_PATH) {
            detach_head(request)
        } else {
            request
        };
        self.inner.call(request)
    }
}

/// The same request, its header values and URI copied into allocations of their own.
fn detach_head<B>(mut request: Request<B>) -> Request<B> {
    for value in request.headers_mut().values_mut() {
        if let Ok(mut copy) = HeaderValue::from_bytes(value.as_bytes()) {
            copy.set_sensitive(value.is_sensitive());
            *value = copy;
        }
    }
    if let Some(uri) = copy_of(request.uri()) {
        *request.uri_mut() = uri;
    }
    // axum's router keeps a clone of the URI for `OriginalUri` extractors.
    if let Some(OriginalUri(original)) = request.extensions_mut().get_mut::<OriginalUri>()
        && let Some(uri) = copy_of(original)
    {
        *original = uri;
    }
    request
}

fn copy_of(uri: &Uri) -> Option<Uri> {
    uri.to_string().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use std::convert::Infallible;
    use std::future::{Ready, ready};

    /// A request as hyper hands it over: URI and header values are slices of `buffer`.
    fn parsed(buffer: &Bytes, path_len: usize) -> Request<()> {
        let uri =
            Uri::from_maybe_shared(buffer.slice(..path_len)).unwrap_or_else(|e| panic!("{e}"));
        let host = HeaderValue::from_maybe_shared(buffer.slice(path_len + 1..))
            .unwrap_or_else(|e| panic!("{e}"));
        let mut request = Request::builder()
            .uri(uri)
            .header("host", host)
            .header("x-many", "one")
            .header("x-many", "two")
            .body(())
            .unwrap_or_else(|e| panic!("{e}"));
        let cookie = HeaderValue::from_bytes(b"a=b; c=\xc3\xa9").unwrap_or_else(|e| panic!("{e}"));
        request.headers_mut().insert("cookie", cookie);
        let mut secret = HeaderValue::from_static("Bearer t");
        secret.set_sensitive(true);
        request.headers_mut().insert("authorization", secret);
        // As axum's router does before calling the layer.
        let original = OriginalUri(request.uri().clone());
        request.extensions_mut().insert(original);
        request
    }

    fn original_uri(request: &Request<()>) -> &Uri {
        match request.extensions().get::<OriginalUri>() {
            Some(OriginalUri(uri)) => uri,
            None => panic!("no OriginalUri"),
        }
    }

    /// Hands back the request it was called with.
    struct Echo;

    impl Service<Request<()>> for Echo {
        type Response = Request<()>;
        type Error = Infallible;
        type Future = Ready<Result<Request<()>, Infallible>>;

        fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
            Poll::Ready(Ok(()))
        }

        fn call(&mut self, request: Request<()>) -> Self::Future {
            ready(Ok(request))
        }
    }

    async fn through_the_layer(request: Request<()>) -> Request<()> {
        let mut service = DetachHead::new(Echo);
        match service.call(request).await {
            Ok(request) => request,
            Err(never) => match never {},
        }
    }

    #[tokio::test]
    async fn a_socket_io_request_reaches_socketioxide_equal_and_owning_its_bytes() {
        let buffer = Bytes::from_static(b"/socket.io/?EIO=4&transport=websocket 127.0.0.1:3000");
        let inside = |bytes: &[u8]| buffer.as_ptr_range().contains(&bytes.as_ptr());
        let request = parsed(&buffer, 37);
        assert!(inside(request.uri().path().as_bytes()));
        assert!(inside(request.headers()["host"].as_bytes()));
        assert!(inside(original_uri(&request).path().as_bytes()));
        let (headers, uri) = (request.headers().clone(), request.uri().clone());

        let detached = through_the_layer(request).await;
        assert_eq!(detached.headers(), &headers);
        assert_eq!(detached.uri(), &uri);
        assert_eq!(detached.uri().to_string(), uri.to_string());
        assert!(detached.headers()["authorization"].is_sensitive());
        assert!(!inside(detached.uri().path().as_bytes()));
        assert!(!inside(
            detached.uri().query().unwrap_or_default().as_bytes()
        ));
        assert!(!inside(detached.headers()["host"].as_bytes()));
        assert_eq!(original_uri(&detached), &uri);
        assert!(!inside(original_uri(&detached).path().as_bytes()));
    }

    #[tokio::test]
    async fn the_applications_own_requests_pass_untouched() {
        let buffer = Bytes::from_static(b"/api/messages 127.0.0.1:3000");
        let inside = |bytes: &[u8]| buffer.as_ptr_range().contains(&bytes.as_ptr());
        let passed = through_the_layer(parsed(&buffer, 13)).await;
        assert!(inside(passed.uri().path().as_bytes()));
        assert!(inside(passed.headers()["host"].as_bytes()));
    }
}
