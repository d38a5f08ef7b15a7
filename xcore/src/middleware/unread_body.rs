//! The part of a request body its handler did not read: a 401 before an
//! upload, a 404 or a 405 with a body, a `GET` with one. hyper closes a
//! connection whose request body was left unread, without saying so in the
//! answer, so a keep-alive client finds the connection gone under its next
//! request. Here what is left is read and dropped before the answer goes,
//! up to the body limit and for a bounded time; past either, the answer
//! says `Connection: close`, which a client honours before it sends again.

use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes, HttpBody};
use axum::http::{HeaderValue, header};
use axum::response::Response;
use http_body_util::BodyExt;
use hyper::body::{Frame, SizeHint};

/// Where a body dropped before its end is kept for [`Unread::settle`].
type Slot = Arc<Mutex<Option<Body>>>;

/// What a handler leaves of its request's body (see [the module](self)).
pub(crate) struct Unread {
    slot: Slot,
}

/// `body`, wrapped so that what a handler drops unread comes back to the
/// returned [`Unread`].
pub(crate) fn track(body: Body) -> (Body, Unread) {
    let slot = Slot::default();
    let tracked = Tracked {
        body: Some(body),
        slot: Arc::clone(&slot),
    };
    (Body::new(tracked), Unread { slot })
}

impl Unread {
    /// `response`, once what was left of the body is read (at most
    /// `limit` bytes, for at most `within`); with `Connection: close` when
    /// it could not be.
    pub(crate) async fn settle(
        self,
        mut response: Response,
        limit: usize,
        within: Duration,
    ) -> Response {
        let left = self
            .slot
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(body) = left {
            let drained = tokio::time::timeout(within, drain(body, limit))
                .await
                .unwrap_or(false);
            if !drained {
                response
                    .headers_mut()
                    .insert(header::CONNECTION, HeaderValue::from_static("close"));
            }
        }
        response
    }
}

/// Reads `body` to its end, dropping it: whether it ended within `limit`
/// bytes.
async fn drain(mut body: Body, limit: usize) -> bool {
    let mut read = 0usize;
    while let Some(frame) = body.frame().await {
        let Ok(frame) = frame else {
            return false;
        };
        if let Some(data) = frame.data_ref() {
            read = read.saturating_add(data.len());
            if read > limit {
                return false;
            }
        }
    }
    true
}

/// A request body that, dropped before its end, puts itself in its slot.
struct Tracked {
    /// `None` once dropped.
    body: Option<Body>,
    slot: Slot,
}

impl HttpBody for Tracked {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        match self.body.as_mut() {
            Some(body) => Pin::new(body).poll_frame(cx),
            None => Poll::Ready(None),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.body.as_ref().is_none_or(HttpBody::is_end_stream)
    }

    fn size_hint(&self) -> SizeHint {
        self.body
            .as_ref()
            .map_or_else(|| SizeHint::with_exact(0), HttpBody::size_hint)
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        if let Some(body) = self.body.take().filter(|body| !body.is_end_stream()) {
            *self.slot.lock().unwrap_or_else(PoisonError::into_inner) = Some(body);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer() -> Response {
        Response::new(Body::empty())
    }

    #[tokio::test]
    async fn a_body_dropped_unread_is_read_to_its_end() {
        let (body, unread) = track(Body::from(vec![7u8; 4096]));
        drop(body);
        let response = unread.settle(answer(), 8192, Duration::from_secs(1)).await;
        assert!(response.headers().get(header::CONNECTION).is_none());
    }

    #[tokio::test]
    async fn past_the_limit_the_connection_is_closed() {
        let (body, unread) = track(Body::from(vec![7u8; 4096]));
        drop(body);
        let response = unread.settle(answer(), 1024, Duration::from_secs(1)).await;
        assert_eq!(response.headers()[header::CONNECTION], "close");
    }

    #[tokio::test]
    async fn a_body_read_by_its_handler_is_left_alone() {
        let (body, unread) = track(Body::from("hello"));
        let read = body.collect().await.expect("body").to_bytes();
        assert_eq!(read, "hello");
        assert!(unread.slot.lock().expect("slot").is_none());
    }
}
