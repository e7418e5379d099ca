//! Cutting slow consumers: a connection whose writes keep blocking because its client
//! does not read is closed after a while, instead of the server queuing for it forever.
//!
//! Neither socketioxide nor hyper tell how much is queued for a client, but the
//! connection's own writes do: while the client reads, the kernel takes what is written;
//! while it does not, writes block. A congestion episode lasts while writes are blocked,
//! and goes on through pauses of less than [`GRACE`] between a blocked write going
//! through and the next one blocking; one that lasts `timeout` fails the connection with
//! `TimedOut`, which closes it (and the Socket.IO socket on it).

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

/// A pause in blocked writes this long ends a congestion episode.
pub const GRACE: Duration = Duration::from_secs(1);

/// An I/O stream whose writes fail once they have been congested for `timeout`.
#[derive(Debug)]
pub struct CongestionCut<IO> {
    inner: IO,
    timeout: Duration,
    /// When the current congestion episode began.
    began: Option<Instant>,
    /// `None` while a write is blocked; else when the last blocked write went through.
    unblocked_at: Option<Instant>,
    deadline: Pin<Box<Sleep>>,
}

impl<IO> CongestionCut<IO> {
    pub fn new(inner: IO, timeout: Duration) -> Self {
        Self {
            inner,
            timeout,
            began: None,
            unblocked_at: None,
            deadline: Box::pin(tokio::time::sleep(timeout)),
        }
    }

    /// Called when a write blocked: starts or extends the episode, and fails the write
    /// once the episode is `timeout` old. Arms the timer so that a write blocked for
    /// good is woken at the deadline.
    fn blocked<T>(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<T>> {
        let now = Instant::now();
        let goes_on = match (self.began, self.unblocked_at) {
            // Still the same blocked write, or one soon after the last went through.
            (Some(_), None) => true,
            (Some(_), Some(at)) => now.duration_since(at) < GRACE,
            (None, _) => false,
        };
        if !goes_on {
            self.began = Some(now);
            self.deadline.as_mut().reset(now + self.timeout);
        }
        self.unblocked_at = None;
        match self.deadline.as_mut().poll(cx) {
            Poll::Ready(()) => {
                metrics::counter!("chatzz_slow_consumers_cut_total").increment(1);
                Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "the client has not read what was sent to it for too long",
                )))
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<IO> CongestionCut<IO> {
    /// A write or flush that did not block: a blocked one before it went through.
    fn went_through<T>(&mut self, done: Poll<T>) -> Poll<T> {
        if self.began.is_some() && self.unblocked_at.is_none() {
            self.unblocked_at = Some(Instant::now());
        }
        done
    }
}

impl<IO: AsyncRead + Unpin> AsyncRead for CongestionCut<IO> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for CongestionCut<IO> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match Pin::new(&mut self.inner).poll_write(cx, buf) {
            Poll::Pending => self.blocked(cx),
            done => self.went_through(done),
        }
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match Pin::new(&mut self.inner).poll_write_vectored(cx, bufs) {
            Poll::Pending => self.blocked(cx),
            done => self.went_through(done),
        }
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match Pin::new(&mut self.inner).poll_flush(cx) {
            Poll::Pending => self.blocked(cx),
            done => self.went_through(done),
        }
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test(start_paused = true)]
    async fn a_client_that_never_reads_is_cut_after_the_timeout() {
        let (server, _client) = tokio::io::duplex(1024);
        let mut server = CongestionCut::new(server, Duration::from_secs(30));
        let started = Instant::now();
        let chunk = [0u8; 512];
        let err = loop {
            if let Err(err) = server.write_all(&chunk).await {
                break err;
            }
        };
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        let waited = started.elapsed();
        assert!(
            waited >= Duration::from_secs(30) && waited < Duration::from_secs(32),
            "{waited:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_client_that_trickles_is_cut_too() {
        let (server, mut client) = tokio::io::duplex(1024);
        let mut server = CongestionCut::new(server, Duration::from_secs(30));
        // Reads 64 bytes every 100 ms: writes keep blocking with short pauses.
        let reader = tokio::spawn(async move {
            let mut buf = [0u8; 64];
            loop {
                tokio::time::sleep(Duration::from_millis(100)).await;
                if client.read(&mut buf).await.unwrap_or(0) == 0 {
                    break;
                }
            }
        });
        let started = Instant::now();
        let err = loop {
            if let Err(err) = server.write_all(&[0u8; 4096]).await {
                break err;
            }
        };
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        assert!(started.elapsed() < Duration::from_secs(32));
        drop(server);
        reader.await.unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn a_client_that_reads_is_never_cut() {
        let (server, mut client) = tokio::io::duplex(1024);
        let mut server = CongestionCut::new(server, Duration::from_secs(5));
        let reader = tokio::spawn(async move {
            let mut buf = vec![0u8; 4096];
            let mut total = 0;
            while let Ok(n) = client.read(&mut buf).await {
                if n == 0 {
                    break;
                }
                total += n;
            }
            total
        });
        // Bursts that block for a moment, separated by quiet periods, for a minute.
        for _ in 0..60 {
            server.write_all(&[1u8; 8192]).await.unwrap();
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        server.shutdown().await.unwrap();
        drop(server);
        assert_eq!(reader.await.unwrap(), 60 * 8192);
    }
}
