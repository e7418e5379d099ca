//! Long-polling clients must fetch what the server queues for them.
//!
//! Over long-polling the server writes only in answer to the client's GETs, so a client
//! that keeps POSTing (events, forged pongs) but never GETs never blocks a write, and
//! everything queued for it stays in memory. This guard watches the polling requests of
//! each engine.io session: while no GET is waiting and none finished within `deadline`,
//! the session's POSTs are refused (400), so it can neither ask for more nor answer a
//! heartbeat, and engine.io ends it at its next ping.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::response::{IntoResponse, Response};
use http::header::CONTENT_TYPE;
use http::{Method, Request, StatusCode, Uri};
use tower::Service;

/// The path socketioxide serves (its default; chatzz does not change it).
const SOCKET_IO_PATH: &str = "/socket.io";

/// Sessions kept before the ones long done are forgotten.
const PRUNE_ABOVE: usize = 1024;

/// How each polling session has been fetching.
#[derive(Debug)]
pub(crate) struct PollingReaders {
    deadline: Duration,
    sessions: Mutex<HashMap<String, Reader>>,
}

#[derive(Debug, Clone, Copy)]
struct Reader {
    gets_waiting: u32,
    last_fetch: Instant,
}

impl PollingReaders {
    pub(crate) fn new(deadline: Duration) -> Self {
        Self {
            deadline,
            sessions: Mutex::new(HashMap::new()),
        }
    }

    fn sessions(&self) -> MutexGuard<'_, HashMap<String, Reader>> {
        self.sessions.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn reader<'a>(
        &self,
        sessions: &'a mut HashMap<String, Reader>,
        sid: &str,
        now: Instant,
    ) -> &'a mut Reader {
        if sessions.len() > PRUNE_ABOVE && !sessions.contains_key(sid) {
            let forget_after = self.deadline * 4;
            sessions.retain(|_, r| {
                r.gets_waiting > 0 || now.duration_since(r.last_fetch) < forget_after
            });
        }
        // A session first seen now counts as having just fetched: it gets the deadline.
        sessions.entry(sid.to_owned()).or_insert(Reader {
            gets_waiting: 0,
            last_fetch: now,
        })
    }

    /// A GET of `sid` starts; the returned guard ends it when dropped.
    fn fetch_starts(self: &Arc<Self>, sid: &str) -> FetchInProgress {
        let mut sessions = self.sessions();
        self.reader(&mut sessions, sid, Instant::now()).gets_waiting += 1;
        FetchInProgress {
            readers: self.clone(),
            sid: sid.to_owned(),
        }
    }

    /// Whether `sid` may POST now: a GET is waiting, or one finished within the deadline.
    fn may_post(&self, sid: &str, now: Instant) -> bool {
        let mut sessions = self.sessions();
        let reader = self.reader(&mut sessions, sid, now);
        reader.gets_waiting > 0 || now.duration_since(reader.last_fetch) <= self.deadline
    }
}

/// A GET in progress; its end (answered or abandoned) counts as a fetch.
#[derive(Debug)]
struct FetchInProgress {
    readers: Arc<PollingReaders>,
    sid: String,
}

impl Drop for FetchInProgress {
    fn drop(&mut self) {
        let mut sessions = self.readers.sessions();
        if let Some(reader) = sessions.get_mut(&self.sid) {
            reader.gets_waiting = reader.gets_waiting.saturating_sub(1);
            reader.last_fetch = Instant::now();
        }
    }
}

/// The engine.io session id of a long-polling request, if it is one.
fn polling_sid(uri: &Uri) -> Option<&str> {
    if !uri.path().starts_with(SOCKET_IO_PATH) {
        return None;
    }
    let mut polling = false;
    let mut sid = None;
    for pair in uri.query()?.split('&') {
        match pair.split_once('=') {
            Some(("transport", "polling")) => polling = true,
            Some(("sid", value)) if !value.is_empty() => sid = Some(value),
            _ => {}
        }
    }
    sid.filter(|_| polling)
}

/// The guard in front of socketioxide (see the module doc).
#[derive(Debug, Clone)]
pub struct PollingGuard<S> {
    inner: S,
    readers: Arc<PollingReaders>,
}

impl<S> PollingGuard<S> {
    pub(crate) fn new(inner: S, readers: Arc<PollingReaders>) -> Self {
        Self { inner, readers }
    }
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl<S, B> Service<Request<B>> for PollingGuard<S>
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
        let Some(sid) = polling_sid(request.uri()) else {
            let response = self.inner.call(request);
            return Box::pin(async move { response.await.map(IntoResponse::into_response) });
        };
        if request.method() == Method::GET {
            let fetch = self.readers.fetch_starts(sid);
            let response = self.inner.call(request);
            return Box::pin(async move {
                let response = response.await.map(IntoResponse::into_response);
                drop(fetch);
                response
            });
        }
        if request.method() == Method::POST && !self.readers.may_post(sid, Instant::now()) {
            tracing::debug!(
                sid,
                "refused a POST of a polling session that stopped fetching"
            );
            metrics::counter!("chatzz_slow_consumers_cut_total").increment(1);
            let response = (
                StatusCode::BAD_REQUEST,
                [(CONTENT_TYPE, "text/plain; charset=utf-8")],
                "chatzz: this session has not fetched what the server sent it for too long\n",
            )
                .into_response();
            return Box::pin(std::future::ready(Ok(response)));
        }
        let response = self.inner.call(request);
        Box::pin(async move { response.await.map(IntoResponse::into_response) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uri(text: &str) -> Uri {
        text.parse().unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    #[test]
    fn only_polling_requests_of_a_session_are_watched() {
        assert_eq!(
            polling_sid(&uri("/socket.io/?EIO=4&transport=polling&t=x&sid=abc")),
            Some("abc")
        );
        assert_eq!(
            polling_sid(&uri("/socket.io/?EIO=4&transport=polling&t=x")),
            None
        );
        assert_eq!(
            polling_sid(&uri("/socket.io/?EIO=4&transport=websocket&sid=abc")),
            None
        );
        assert_eq!(polling_sid(&uri("/other?transport=polling&sid=abc")), None);
    }

    #[test]
    fn a_session_may_post_while_a_get_waits_or_soon_after_one() {
        let readers = Arc::new(PollingReaders::new(Duration::from_secs(10)));
        let start = Instant::now();
        assert!(
            readers.may_post("s", start),
            "a new session gets the deadline"
        );
        assert!(readers.may_post("s", start + Duration::from_secs(10)));
        assert!(
            !readers.may_post("s", start + Duration::from_secs(11)),
            "no GET for longer than the deadline"
        );
        let fetch = readers.fetch_starts("s");
        assert!(
            readers.may_post("s", start + Duration::from_secs(60)),
            "a GET waiting for data is a client that reads"
        );
        drop(fetch);
        let after = Instant::now();
        assert!(readers.may_post("s", after + Duration::from_secs(9)));
        assert!(!readers.may_post("s", after + Duration::from_secs(11)));
        assert!(readers.may_post("other", after + Duration::from_secs(11)));
    }

    #[test]
    fn sessions_long_done_are_forgotten() {
        let readers = Arc::new(PollingReaders::new(Duration::from_millis(1)));
        for i in 0..=PRUNE_ABOVE {
            drop(readers.fetch_starts(&format!("s{i}")));
        }
        std::thread::sleep(Duration::from_millis(10));
        drop(readers.fetch_starts("new"));
        assert!(
            readers.sessions().len() <= 2,
            "{}",
            readers.sessions().len()
        );
    }
}
