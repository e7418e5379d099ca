//! Which web pages may open Socket.IO connections, and by which `Host` name.
//!
//! Browsers send cookies and reach loopback for any page, so without a check a page on
//! another site could open a WebSocket to a trust-mode server and act as anyone
//! (cross-site WebSocket hijacking); with DNS rebinding it could even be "same-origin".
//! The guard looks at the `Origin` and `Host` headers of Socket.IO requests (polling and
//! the WebSocket upgrade) before socketioxide sees them.

use std::future::Future;
use std::net::Ipv4Addr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::response::{IntoResponse, Response};
use http::header::{CONTENT_TYPE, HOST, ORIGIN};
use http::{HeaderMap, Request, StatusCode, Uri};
use tower::Service;

/// The path socketioxide serves, matched as it does (`/socket.io` and below).
const SOCKET_IO_PATH: &str = "/socket.io";

/// What the guard allows; built by [`ChatzzBuilder`](crate::ChatzzBuilder).
#[derive(Debug, Clone, Default)]
pub(crate) struct OriginPolicy {
    /// No authenticator: whoever connects is believed, so browsers' ambient access to
    /// the server must be limited. The default policy (not trust mode, no list) is open.
    trust_mode: bool,
    /// Exact origins, lowercased; `None` until the application lists some.
    origins: Option<Vec<String>>,
    any_origin: bool,
    /// Host names and optional ports, lowercased.
    hosts: Vec<(String, Option<String>)>,
}

impl OriginPolicy {
    /// Checks and normalises the application's lists.
    pub(crate) fn new(
        trust_mode: bool,
        origins: Option<Vec<String>>,
        hosts: Vec<String>,
    ) -> Result<Self, String> {
        let mut any_origin = false;
        let origins = match origins {
            None => None,
            Some(list) => {
                let mut checked = Vec::with_capacity(list.len());
                for origin in list {
                    let origin = origin.trim().trim_end_matches('/').to_ascii_lowercase();
                    if origin == "*" {
                        any_origin = true;
                    } else if parse_origin(&origin).is_some() {
                        checked.push(origin);
                    } else {
                        return Err(format!(
                            "allowed origin {origin:?} must be * or look like https://app.example.com \
                             (scheme, host, optional port, no path)"
                        ));
                    }
                }
                Some(checked)
            }
        };
        let mut checked_hosts = Vec::with_capacity(hosts.len());
        for host in hosts {
            let host = host.trim().to_ascii_lowercase();
            match split_authority(&host) {
                Some((name, port)) if !name.is_empty() => {
                    checked_hosts.push((name.to_owned(), port.map(str::to_owned)));
                }
                _ => {
                    return Err(format!(
                        "allowed host {host:?} must be a host name or address, with an optional port \
                         (chat.example.com, 10.0.0.5:3000, [::1])"
                    ));
                }
            }
        }
        Ok(Self {
            trust_mode,
            origins,
            any_origin,
            hosts: checked_hosts,
        })
    }
}

/// The guard's verdict on one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Decision {
    Allow,
    /// Refused with HTTP 403 and this reason.
    Refuse(&'static str),
}

/// Decides on a request from its URI and headers alone. Requests outside Socket.IO
/// belong to the application and always pass.
pub(crate) fn decide(policy: &OriginPolicy, uri: &Uri, headers: &HeaderMap) -> Decision {
    let under_socket_io = uri
        .path()
        .strip_prefix(SOCKET_IO_PATH)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'));
    if !under_socket_io {
        return Decision::Allow;
    }
    // HTTP/2 carries the host in the URI instead of a header.
    let host = match headers.get(HOST) {
        Some(value) => value.to_str().ok().map(str::to_ascii_lowercase),
        None => uri.authority().map(|a| a.as_str().to_ascii_lowercase()),
    };
    if policy.trust_mode {
        let Some(host) = &host else {
            return Decision::Refuse("a Host header is required");
        };
        if !host_allowed(policy, host) {
            return Decision::Refuse("this server is not reached by that Host name");
        }
    }
    let Some(origin) = headers.get(ORIGIN) else {
        // Not a browser (or a same-origin GET from an old one): nothing ambient to abuse.
        return Decision::Allow;
    };
    let Ok(origin) = origin.to_str() else {
        return Decision::Refuse("the Origin header is malformed");
    };
    let origin = origin.to_ascii_lowercase();
    if policy.any_origin || policy.origins.iter().flatten().any(|o| *o == origin) {
        return Decision::Allow;
    }
    if !policy.trust_mode {
        // A token is not ambient: a page without one gains nothing, so the default is open.
        return match policy.origins {
            None => Decision::Allow,
            Some(_) => Decision::Refuse("pages of this origin may not connect"),
        };
    }
    let Some((scheme, name, port)) = parse_origin(&origin) else {
        return Decision::Refuse("pages of this origin may not connect");
    };
    if is_loopback(name) {
        return Decision::Allow;
    }
    // Same-origin: the page was served by this server, under a Host checked above.
    if let Some(host) = &host
        && let Some((host_name, host_port)) = split_authority(host)
        && host_name == name
        && without_default(scheme, host_port) == without_default(scheme, port)
    {
        return Decision::Allow;
    }
    Decision::Refuse("pages of this origin may not connect")
}

/// Loopback names, or names the application listed (a listed name without a port
/// allows every port).
fn host_allowed(policy: &OriginPolicy, host: &str) -> bool {
    let Some((name, port)) = split_authority(host) else {
        return false;
    };
    is_loopback(name)
        || policy
            .hosts
            .iter()
            .any(|(n, p)| n == name && (p.is_none() || p.as_deref() == port))
}

/// `localhost`, 127.0.0.0/8 or `[::1]`: names only this machine answers to, which a
/// rebinding page cannot make its own.
fn is_loopback(name: &str) -> bool {
    name == "localhost"
        || name == "[::1]"
        || name.parse::<Ipv4Addr>().is_ok_and(|ip| ip.is_loopback())
}

/// `host[:port]` (IPv6 in brackets) into its name and port; `None` when malformed.
fn split_authority(authority: &str) -> Option<(&str, Option<&str>)> {
    let (name, port) = if authority.starts_with('[') {
        let end = authority.find(']')?;
        let (name, rest) = authority.split_at(end + 1);
        match rest {
            "" => (name, None),
            _ => (name, Some(rest.strip_prefix(':')?)),
        }
    } else {
        match authority.split_once(':') {
            Some((name, port)) => (name, Some(port)),
            None => (authority, None),
        }
    };
    let name_ok = match name.strip_prefix('[').and_then(|n| n.strip_suffix(']')) {
        Some(ipv6) => {
            !ipv6.is_empty()
                && ipv6
                    .bytes()
                    .all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.')
        }
        None => {
            !name.is_empty()
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
        }
    };
    let port_ok =
        port.is_none_or(|p| !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit()));
    (name_ok && port_ok).then_some((name, port))
}

/// `scheme://host[:port]` into its parts; `None` for `null`, paths and other shapes.
fn parse_origin(origin: &str) -> Option<(&str, &str, Option<&str>)> {
    let (scheme, authority) = origin.split_once("://")?;
    if scheme.is_empty()
        || !scheme
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'-' || b == b'.')
    {
        return None;
    }
    let (name, port) = split_authority(authority)?;
    Some((scheme, name, port))
}

/// The port, with the scheme's default written as none (`http://a:80` is `http://a`).
fn without_default<'a>(scheme: &str, port: Option<&'a str>) -> Option<&'a str> {
    match (scheme, port) {
        ("http" | "ws", Some("80")) | ("https" | "wss", Some("443")) => None,
        _ => port,
    }
}

/// The guard in front of socketioxide: refused requests get 403 and never reach it.
#[derive(Debug, Clone)]
pub struct OriginGuard<S> {
    inner: S,
    policy: Arc<OriginPolicy>,
}

impl<S> OriginGuard<S> {
    pub(crate) fn new(inner: S, policy: Arc<OriginPolicy>) -> Self {
        Self { inner, policy }
    }
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl<S, B> Service<Request<B>> for OriginGuard<S>
where
    S: Service<Request<B>>,
    S::Response: IntoResponse,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
{
    type Response = Response;
    type Error = S::Error;
    type Future = BoxFuture<Result<Response, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        match decide(&self.policy, request.uri(), request.headers()) {
            Decision::Allow => {
                let response = self.inner.call(request);
                Box::pin(async move { response.await.map(IntoResponse::into_response) })
            }
            Decision::Refuse(reason) => {
                // Debug formatting escapes what the client sent (no forged log lines).
                tracing::debug!(
                    reason,
                    origin = ?request.headers().get(ORIGIN),
                    host = ?request.headers().get(HOST),
                    "refused a Socket.IO request"
                );
                let response = (
                    StatusCode::FORBIDDEN,
                    [(CONTENT_TYPE, "text/plain; charset=utf-8")],
                    format!("chatzz: {reason}\n"),
                )
                    .into_response();
                Box::pin(std::future::ready(Ok(response)))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trust() -> OriginPolicy {
        OriginPolicy::new(true, None, vec!["127.0.0.1".into()]).unwrap()
    }

    fn jwt(origins: Option<&[&str]>) -> OriginPolicy {
        let origins = origins.map(|list| list.iter().map(|o| (*o).to_owned()).collect());
        OriginPolicy::new(false, origins, vec![]).unwrap()
    }

    fn request(path: &str, host: Option<&str>, origin: Option<&str>) -> (Uri, HeaderMap) {
        let mut headers = HeaderMap::new();
        if let Some(host) = host {
            headers.insert(HOST, host.parse().unwrap());
        }
        if let Some(origin) = origin {
            headers.insert(ORIGIN, origin.parse().unwrap());
        }
        (path.parse().unwrap(), headers)
    }

    const WS: &str = "/socket.io/?EIO=4&transport=websocket";

    fn check(policy: &OriginPolicy, host: Option<&str>, origin: Option<&str>) -> Decision {
        let (uri, headers) = request(WS, host, origin);
        decide(policy, &uri, &headers)
    }

    #[test]
    fn trust_mode_allows_clients_without_origin() {
        assert_eq!(
            check(&trust(), Some("127.0.0.1:3000"), None),
            Decision::Allow
        );
        assert_eq!(
            check(&trust(), Some("localhost:3000"), None),
            Decision::Allow
        );
    }

    #[test]
    fn trust_mode_refuses_other_sites() {
        for origin in [
            "https://evil.example",
            "http://evil.example:3000",
            "null",
            "http://127.0.0.1.evil.example",
        ] {
            assert!(
                matches!(
                    check(&trust(), Some("127.0.0.1:3000"), Some(origin)),
                    Decision::Refuse(_)
                ),
                "{origin}"
            );
        }
    }

    #[test]
    fn trust_mode_allows_same_origin_and_loopback_pages() {
        let policy = OriginPolicy::new(true, None, vec!["chat.lan".into()]).unwrap();
        for (host, origin) in [
            ("127.0.0.1:3000", "http://127.0.0.1:3000"),
            ("127.0.0.1:3000", "http://localhost:5173"),
            ("127.0.0.1:3000", "http://[::1]:8080"),
            ("127.0.0.1:3000", "http://127.0.0.2"),
            ("chat.lan:3000", "http://chat.lan:3000"),
            ("chat.lan", "http://chat.lan:80"),
            ("chat.lan:443", "https://chat.lan"),
            ("CHAT.lan:3000", "http://chat.LAN:3000"),
        ] {
            assert_eq!(
                check(&policy, Some(host), Some(origin)),
                Decision::Allow,
                "{host} {origin}"
            );
        }
        // Same host, another port or scheme: another origin.
        assert!(matches!(
            check(&policy, Some("chat.lan:3000"), Some("http://chat.lan:4000")),
            Decision::Refuse(_)
        ));
        assert!(matches!(
            check(&policy, Some("chat.lan:80"), Some("https://chat.lan")),
            Decision::Refuse(_)
        ));
    }

    #[test]
    fn trust_mode_refuses_rebound_hosts() {
        for host in [
            "evil.example",
            "evil.example:3000",
            "127.0.0.1.evil.example",
            "localhost.evil.example:3000",
            "10.0.0.1:3000",
            "a b",
            "",
        ] {
            assert!(
                matches!(check(&trust(), Some(host), None), Decision::Refuse(_)),
                "{host}"
            );
        }
        // Even with an Origin that matches the rebound Host.
        assert!(matches!(
            check(&trust(), Some("evil.example"), Some("http://evil.example")),
            Decision::Refuse(_)
        ));
        assert_eq!(
            check(&trust(), None, None),
            Decision::Refuse("a Host header is required")
        );
    }

    #[test]
    fn trust_mode_allows_loopback_and_listed_hosts() {
        let policy = OriginPolicy::new(
            true,
            None,
            vec![
                "chat.lan".into(),
                "10.0.0.5:3000".into(),
                "[fd00::1]".into(),
            ],
        )
        .unwrap();
        for host in [
            "localhost",
            "localhost:1",
            "127.0.0.1",
            "127.1.2.3:3000",
            "[::1]:3000",
            "[::1]",
            "chat.lan:9",
            "10.0.0.5:3000",
            "[fd00::1]:3000",
        ] {
            assert_eq!(check(&policy, Some(host), None), Decision::Allow, "{host}");
        }
        for host in [
            "10.0.0.5:3001",
            "10.0.0.5",
            "chat.lan.evil.example",
            "[fd00::2]",
        ] {
            assert!(
                matches!(check(&policy, Some(host), None), Decision::Refuse(_)),
                "{host}"
            );
        }
    }

    #[test]
    fn listed_origins_are_allowed_in_trust_mode_too() {
        let policy =
            OriginPolicy::new(true, Some(vec!["https://App.example/".into()]), vec![]).unwrap();
        assert_eq!(
            check(&policy, Some("127.0.0.1:3000"), Some("https://app.example")),
            Decision::Allow
        );
        assert_eq!(
            check(
                &policy,
                Some("127.0.0.1:3000"),
                Some("http://localhost:3000")
            ),
            Decision::Allow
        );
        assert!(matches!(
            check(
                &policy,
                Some("127.0.0.1:3000"),
                Some("https://app.example:8443")
            ),
            Decision::Refuse(_)
        ));
        let any = OriginPolicy::new(true, Some(vec!["*".into()]), vec![]).unwrap();
        assert_eq!(
            check(&any, Some("127.0.0.1:3000"), Some("https://evil.example")),
            Decision::Allow
        );
        // The Host is still checked.
        assert!(matches!(
            check(&any, Some("evil.example"), Some("https://evil.example")),
            Decision::Refuse(_)
        ));
    }

    #[test]
    fn with_tokens_the_default_is_open_and_a_list_applies() {
        let open = jwt(None);
        for origin in [None, Some("https://evil.example"), Some("null")] {
            assert_eq!(check(&open, Some("evil.example"), origin), Decision::Allow);
        }
        let listed = jwt(Some(&["https://app.example"]));
        assert_eq!(
            check(&listed, Some("chat.example"), Some("https://app.example")),
            Decision::Allow
        );
        assert_eq!(check(&listed, Some("chat.example"), None), Decision::Allow);
        for origin in [
            "https://evil.example",
            "http://localhost:3000",
            "https://chat.example",
        ] {
            assert!(
                matches!(
                    check(&listed, Some("chat.example"), Some(origin)),
                    Decision::Refuse(_)
                ),
                "{origin}"
            );
        }
        let none = jwt(Some(&[]));
        assert!(matches!(
            check(&none, Some("chat.example"), Some("https://app.example")),
            Decision::Refuse(_)
        ));
    }

    #[test]
    fn only_socket_io_requests_are_checked() {
        for path in ["/", "/api/x", "/socket.iox", "/healthz"] {
            let (uri, headers) = request(path, Some("evil.example"), Some("https://evil.example"));
            assert_eq!(decide(&trust(), &uri, &headers), Decision::Allow, "{path}");
        }
        for path in [
            "/socket.io",
            "/socket.io/",
            "/socket.io/?EIO=4&transport=polling&sid=x",
        ] {
            let (uri, headers) = request(path, Some("evil.example"), None);
            assert!(
                matches!(decide(&trust(), &uri, &headers), Decision::Refuse(_)),
                "{path}"
            );
        }
    }

    /// Sends one request through a whole chatzz layer in front of an application route.
    async fn through_chatzz(
        builder: crate::ChatzzBuilder,
        path: &str,
        host: &str,
        origin: Option<&str>,
    ) -> (StatusCode, String) {
        use tower::ServiceExt;
        let (layer, _chat) = builder
            .store(chatzz_store_memory::MemoryStore::new())
            .build()
            .await
            .unwrap();
        let app = axum::Router::new()
            .route("/", axum::routing::get(|| async { "home" }))
            .layer(layer);
        let mut request = Request::get(path).header(HOST, host);
        if let Some(origin) = origin {
            request = request.header(ORIGIN, origin);
        }
        let response = app
            .oneshot(request.body(axum::body::Body::empty()).unwrap())
            .await
            .unwrap();
        let status = response.status();
        let body = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap();
        (status, String::from_utf8_lossy(&body).into_owned())
    }

    const POLL: &str = "/socket.io/?EIO=4&transport=polling";

    #[tokio::test]
    async fn the_layer_refuses_before_socketioxide_and_passes_the_rest() {
        let trust = || crate::Chatzz::builder().trust_client_user_ids();
        let evil = Some("https://evil.example");
        let (status, body) = through_chatzz(trust(), POLL, "127.0.0.1:3000", evil).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert_eq!(body, "chatzz: pages of this origin may not connect\n");
        let (status, body) = through_chatzz(trust(), POLL, "evil.example", None).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert!(body.contains("Host"), "{body}");
        // An engine.io open packet: socketioxide answered.
        let (status, body) = through_chatzz(trust(), POLL, "127.0.0.1:3000", None).await;
        assert_eq!(status, StatusCode::OK);
        assert!(body.starts_with("0{"), "{body}");
        let local = Some("http://localhost:5173");
        let (status, _) = through_chatzz(trust(), POLL, "127.0.0.1:3000", local).await;
        assert_eq!(status, StatusCode::OK);
        // The application's own routes are not guarded.
        let (status, body) = through_chatzz(trust(), "/", "evil.example", evil).await;
        assert_eq!((status, body.as_str()), (StatusCode::OK, "home"));

        let jwt = || {
            let auth = crate::JwtAuthenticator::hs256(&[7; 32]).unwrap();
            crate::Chatzz::builder()
                .jwt(auth)
                .allowed_origins(["https://app.example"])
        };
        let (status, _) = through_chatzz(jwt(), POLL, "chat.example", evil).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        let app = Some("https://app.example");
        let (status, _) = through_chatzz(jwt(), POLL, "chat.example", app).await;
        assert_eq!(status, StatusCode::OK);
    }

    #[tokio::test]
    async fn bad_lists_fail_the_build() {
        let built = crate::Chatzz::builder()
            .trust_client_user_ids()
            .allowed_origins(["app.example"])
            .store(chatzz_store_memory::MemoryStore::new())
            .build()
            .await;
        assert!(matches!(built, Err(crate::BuildError::Config(_))));
    }

    #[test]
    fn bad_lists_are_refused() {
        for origin in [
            "app.example.com",
            "https://app.example.com/path",
            "https://",
            "null",
        ] {
            assert!(
                OriginPolicy::new(false, Some(vec![origin.into()]), vec![]).is_err(),
                "{origin}"
            );
        }
        for host in ["", "https://x", "x/y", "x:port", "::1"] {
            assert!(
                OriginPolicy::new(true, None, vec![host.into()]).is_err(),
                "{host}"
            );
        }
    }
}
