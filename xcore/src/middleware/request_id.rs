//! Request ids: the client's `x-request-id` when it sends one, otherwise a
//! new one, unique for the life of the process and across instances
//! (a random 64-bit prefix per process and a counter), written in the
//! shape of a UUID.
//!
//! Ids are cut from a per-thread buffer, one allocation per hundred-odd
//! ids, and only the counter's half is written on each request.

use std::cell::RefCell;
use std::sync::LazyLock;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::http::{HeaderName, HeaderValue};
use bytes::BytesMut;

/// The header that carries the id, in and out.
pub(crate) const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Length of an id: `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`.
const LEN: usize = 36;

/// Ids cut from one buffer before the next is allocated.
const PER_BUFFER: usize = 128;

/// The first half of every id of this process, as text: random, so two
/// instances never hand out the same id.
static PREFIX: LazyLock<[u8; HALF]> = LazyLock::new(|| {
    let digits = hex(rand::random());
    let mut text = [b'-'; HALF];
    text[..8].copy_from_slice(&digits[..8]);
    text[9..13].copy_from_slice(&digits[8..12]);
    text[14..18].copy_from_slice(&digits[12..]);
    text
});

/// Where the digits and the dashes go.
const SHAPE: &[u8; LEN] = b"00000000-0000-0000-0000-000000000000";

/// `xxxxxxxx-xxxx-xxxx-`: the prefix's 64 bits and their dashes.
const HALF: usize = 19;

static COUNTER: AtomicU64 = AtomicU64::new(0);

thread_local! {
    static BUFFER: RefCell<BytesMut> = RefCell::new(BytesMut::new());
}

/// A new id.
pub(crate) fn next() -> HeaderValue {
    let mut text = *SHAPE;
    text[..HALF].copy_from_slice(&*PREFIX);
    let counter = hex(COUNTER.fetch_add(1, Ordering::Relaxed));
    text[HALF..HALF + 4].copy_from_slice(&counter[..4]);
    text[HALF + 5..].copy_from_slice(&counter[4..]);
    let bytes = BUFFER.with(|buffer| {
        let mut buffer = buffer.borrow_mut();
        if buffer.capacity() < LEN {
            *buffer = BytesMut::with_capacity(LEN * PER_BUFFER);
        }
        buffer.extend_from_slice(&text);
        buffer.split().freeze()
    });
    // Hexadecimal digits and dashes are always a valid header value.
    HeaderValue::from_maybe_shared(bytes).unwrap_or_else(|_| HeaderValue::from_static("-"))
}

/// `value` as 16 lowercase hexadecimal digits.
fn hex(value: u64) -> [u8; 16] {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = [0; 16];
    for (pair, byte) in out.chunks_exact_mut(2).zip(value.to_be_bytes()) {
        pair[0] = DIGITS[usize::from(byte >> 4)];
        pair[1] = DIGITS[usize::from(byte & 0xf)];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_have_the_shape_of_a_uuid_and_differ() {
        assert_eq!(&hex(0x0123_4567_89ab_cdef), b"0123456789abcdef");
        let id = next();
        let shape = id
            .as_bytes()
            .iter()
            .map(|b| if *b == b'-' { b'-' } else { b'0' });
        assert!(shape.eq(SHAPE.iter().copied()));
        let (a, b) = (next(), next());
        assert_ne!(a, b);
        assert_eq!(a.len(), LEN);
        assert_eq!(a.as_bytes()[..HALF], b.as_bytes()[..HALF]);
        let many: std::collections::HashSet<_> = (0..1000).map(|_| next()).collect();
        assert_eq!(many.len(), 1000);
    }
}
