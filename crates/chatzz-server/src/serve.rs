//! The HTTP listener: hyper with a timer, so that a client that opens a connection and
//! dribbles its request headers (slowloris) is cut off, which `axum::serve` cannot do.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use hyper::header::HeaderValue;
use hyper::service::{Service, service_fn};
use hyper::{Request, Uri};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;

/// Serves `app` on `listener` until `shutdown` resolves, then lets open requests finish
/// for at most `drain`.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    header_read_timeout: Duration,
    shutdown: impl Future<Output = ()>,
    drain: Duration,
) {
    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(header_read_timeout);
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, peer): (tokio::net::TcpStream, SocketAddr) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    // Out of file descriptors, say: wait a little rather than spin.
                    tracing::warn!("accept failed: {err}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        // Small writes (acks, events) must leave at once, not wait for delayed ACKs.
        if let Err(err) = stream.set_nodelay(true) {
            tracing::debug!(%peer, "cannot set TCP_NODELAY: {err}");
        }
        let inner = TowerToHyperService::new(app.clone());
        let service = service_fn(move |request| inner.call(detach_head(request)));
        let connection = builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
        let connection = graceful.watch(connection.into_owned());
        tokio::spawn(async move {
            if let Err(err) = connection.await {
                tracing::debug!(%peer, "connection ended: {err}");
            }
        });
    }
    drop(listener);
    if tokio::time::timeout(drain, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("connections still open after {drain:?}; closing them");
    }
}

/// Copies the request's header values and URI out of the connection's read buffer.
///
/// hyper parses them as slices of that buffer (8 to 16 KiB), and engineioxide keeps the
/// head of the request that opened each Socket.IO session for the life of the session:
/// without this, every open WebSocket holds on to its whole read buffer (7.6 KiB of
/// resident memory per idle connection, measured). The copy costs a few small
/// allocations per request.
fn detach_head<B>(mut request: Request<B>) -> Request<B> {
    for value in request.headers_mut().values_mut() {
        if let Ok(mut copy) = HeaderValue::from_bytes(value.as_bytes()) {
            copy.set_sensitive(value.is_sensitive());
            *value = copy;
        }
    }
    if let Ok(uri) = request.uri().to_string().parse::<Uri>() {
        *request.uri_mut() = uri;
    }
    request
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::body::Bytes;

    #[test]
    fn a_detached_head_is_equal_to_the_original_and_owns_its_bytes() {
        // What hyper does: the URI and the header values are slices of one buffer.
        let buffer = Bytes::from(b"/socket.io/?EIO=4&transport=websocket 127.0.0.1:3000".to_vec());
        let inside = |bytes: &[u8]| buffer.as_ptr_range().contains(&bytes.as_ptr());
        let uri = Uri::from_maybe_shared(buffer.slice(..37)).unwrap_or_else(|e| panic!("{e}"));
        let host =
            HeaderValue::from_maybe_shared(buffer.slice(38..)).unwrap_or_else(|e| panic!("{e}"));
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
        assert!(inside(request.uri().path().as_bytes()));
        assert!(inside(request.headers()["host"].as_bytes()));
        let (headers, uri) = (request.headers().clone(), request.uri().clone());

        let detached = detach_head(request);
        assert_eq!(detached.headers(), &headers);
        assert_eq!(detached.uri(), &uri);
        assert_eq!(detached.uri().to_string(), uri.to_string());
        assert!(detached.headers()["authorization"].is_sensitive());
        assert!(!inside(detached.uri().path().as_bytes()));
        assert!(!inside(detached.headers()["host"].as_bytes()));
    }
}
