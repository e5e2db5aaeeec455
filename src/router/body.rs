//! The bodies the router answers with: its own pages, and a dyno's response relayed as it
//! streams, counted, bounded by an idle timeout, and logged when it ends.
//!
//! A relayed body writes the request's log line exactly once: when it ends (then its
//! connection goes back to the pool), when the dyno's side breaks off (`H18`) or goes quiet
//! for longer than the idle timeout (`H15`, as Heroku's 55-second rolling window), or when the
//! client leaves first and the body is dropped unfinished (`H27`).

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use hyper::body::{Body, Frame, Incoming, SizeHint};
use tokio::time::{Instant, Sleep};

use super::pages::Failure;

/// Errors of a body the router sends.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// What happens once a relayed body ends: `failure` says how (`None`: it was sent whole),
/// `bytes` how much was sent.
pub trait OnEnd: Send + 'static {
    /// Called once.
    fn ended(self: Box<Self>, failure: Option<Failure>, bytes: u64);
}

/// A response body of the router.
pub enum RouterBody {
    /// One of the router's pages (or nothing).
    Page(Option<Bytes>),
    /// A dyno's body, relayed.
    Relay(Relay),
}

impl RouterBody {
    /// A body of `bytes`.
    pub fn page(bytes: Bytes) -> RouterBody {
        RouterBody::Page(Some(bytes))
    }

    /// An empty body.
    pub fn empty() -> RouterBody {
        RouterBody::Page(None)
    }
}

/// A dyno's response body on its way to the client.
pub struct Relay {
    inner: Incoming,
    idle_timeout: Duration,
    idle: Pin<Box<Sleep>>,
    bytes: u64,
    on_end: Option<Box<dyn OnEnd>>,
}

impl Relay {
    /// Relays `inner`, failing it after `idle_timeout` without data, and calling `on_end`
    /// once it ends.
    pub fn new(inner: Incoming, idle_timeout: Duration, on_end: Box<dyn OnEnd>) -> Relay {
        Relay {
            inner,
            idle_timeout,
            idle: Box::pin(tokio::time::sleep(idle_timeout)),
            bytes: 0,
            on_end: Some(on_end),
        }
    }

    fn end(&mut self, failure: Option<Failure>) {
        if let Some(on_end) = self.on_end.take() {
            on_end.ended(failure, self.bytes);
        }
    }
}

impl Body for RouterBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        match self.get_mut() {
            RouterBody::Page(bytes) => Poll::Ready(bytes.take().map(|b| Ok(Frame::data(b)))),
            RouterBody::Relay(relay) => relay.poll(cx),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            RouterBody::Page(bytes) => bytes.is_none(),
            RouterBody::Relay(relay) => relay.inner.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            RouterBody::Page(bytes) => {
                SizeHint::with_exact(bytes.as_ref().map_or(0, |b| b.len() as u64))
            }
            RouterBody::Relay(relay) => relay.inner.size_hint(),
        }
    }
}

impl Relay {
    fn poll(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        match Pin::new(&mut self.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    self.bytes += data.len() as u64;
                }
                let deadline = Instant::now() + self.idle_timeout;
                self.idle.as_mut().reset(deadline);
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(error))) => {
                self.end(Some(Failure::ServerInterrupted));
                Poll::Ready(Some(Err(error.into())))
            }
            Poll::Ready(None) => {
                self.end(None);
                Poll::Ready(None)
            }
            Poll::Pending => {
                if self.idle.as_mut().poll(cx).is_ready() {
                    self.end(Some(Failure::IdleConnection));
                    return Poll::Ready(Some(Err(format!(
                        "the dyno sent nothing for {:?}",
                        self.idle_timeout
                    )
                    .into())));
                }
                Poll::Pending
            }
        }
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        // A body known to be empty may be dropped without ever being polled: it was sent whole.
        let failure = (!self.inner.is_end_stream()).then_some(Failure::ClientInterrupted);
        self.end(failure);
    }
}
