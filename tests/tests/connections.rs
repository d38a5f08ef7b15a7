//! Slow and sloppy clients over a real socket (`App::serve`): connections
//! that send nothing, trickle their headers or idle are closed at the
//! header timeout; open connections are capped; a request whose body the
//! handler does not read leaves its keep-alive connection usable.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use xcore::config::Config;
use xcore_examples::seed_tour;

use crate::common;

/// `seed_tour` served on a free port with `config`.
async fn serve(config: Config) -> (SocketAddr, tokio::task::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let app = seed_tour::app(config).expect("app");
    let server = tokio::spawn(async move {
        app.serve(listener).await.expect("serve");
    });
    (addr, server)
}

/// How long until the server closes `stream` (reads to the end), up to
/// `patience`; `None` if it is still open then.
async fn closed_after(
    stream: &mut (impl AsyncRead + Unpin),
    patience: Duration,
) -> Option<Duration> {
    let started = Instant::now();
    let mut buffer = [0u8; 4096];
    loop {
        match tokio::time::timeout_at(
            tokio::time::Instant::from_std(started + patience),
            stream.read(&mut buffer),
        )
        .await
        {
            Ok(Ok(0) | Err(_)) => return Some(started.elapsed()),
            Ok(Ok(_)) => {}
            Err(_) => return None,
        }
    }
}

#[tokio::test]
async fn silent_trickling_and_idle_connections_are_closed_at_the_header_timeout() {
    let mut config = common::config();
    config.http.header_read_timeout_secs = 1;
    let (addr, server) = serve(config).await;
    let patience = Duration::from_secs(4);

    // Sends nothing at all.
    let mut silent = TcpStream::connect(addr).await.expect("connect");
    // Sends its head a byte every 100 ms, never finishing.
    let (mut trickling, mut writer) = TcpStream::connect(addr)
        .await
        .expect("connect")
        .into_split();
    let trickle = tokio::spawn(async move {
        for byte in b"GET /hello/ HTTP/1.1\r\nHost: x\r\nX-Slow: "
            .iter()
            .chain(std::iter::repeat(&b'z'))
        {
            if writer.write_all(&[*byte]).await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    // One request answered, then idle on a kept-alive connection.
    let mut idle = TcpStream::connect(addr).await.expect("connect");
    idle.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .expect("write");

    let (silent_closed, trickling_closed, idle_closed) = tokio::join!(
        closed_after(&mut silent, patience),
        closed_after(&mut trickling, patience),
        closed_after(&mut idle, patience),
    );
    trickle.abort();
    for (what, closed) in [
        ("silent", silent_closed),
        ("trickling", trickling_closed),
        ("idle", idle_closed),
    ] {
        let closed = closed.unwrap_or_else(|| panic!("the {what} connection is still open"));
        assert!(
            closed < Duration::from_secs(3),
            "{what}: closed after {closed:?}"
        );
    }
    server.abort();
}

#[tokio::test]
async fn past_the_connection_cap_new_connections_wait_their_turn() {
    eprintln!("cap test");
    let mut config = common::config();
    config.http.max_connections = 2;
    let (addr, server) = serve(config).await;
    let first = TcpStream::connect(addr).await.expect("connect");
    let second = TcpStream::connect(addr).await.expect("connect");
    // The third is accepted by the kernel but not served while both live.
    let mut third = TcpStream::connect(addr).await.expect("connect");
    third
        .write_all(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .expect("write");
    let mut answer = Vec::new();
    let waited =
        tokio::time::timeout(Duration::from_millis(500), third.read_to_end(&mut answer)).await;
    assert!(waited.is_err(), "served past the cap: {answer:?}");
    drop(first);
    let served = tokio::time::timeout(Duration::from_secs(5), third.read_to_end(&mut answer))
        .await
        .expect("served once a place is free");
    served.expect("read");
    assert!(answer.starts_with(b"HTTP/1.1 200"), "{answer:?}");
    drop(second);
    server.abort();
}

/// One answer read off a kept-alive connection: status and head (lower
/// case), its `Content-Length` body consumed; `pending` keeps what was read
/// past it.
async fn read_answer(
    stream: &mut (impl AsyncRead + Unpin),
    pending: &mut Vec<u8>,
) -> (u16, String) {
    let mut buffer = vec![0u8; 64 * 1024];
    let head_end = loop {
        if let Some(end) = pending.windows(4).position(|w| w == b"\r\n\r\n") {
            break end + 4;
        }
        let read = stream.read(&mut buffer).await.expect("read");
        assert!(
            read > 0,
            "closed; got {:?}",
            String::from_utf8_lossy(pending)
        );
        pending.extend_from_slice(&buffer[..read]);
    };
    let head = String::from_utf8_lossy(&pending[..head_end]).to_ascii_lowercase();
    let status: u16 = head[9..12].parse().expect("status");
    let length: usize = head
        .lines()
        .find_map(|line| line.strip_prefix("content-length: "))
        .map_or(0, |value| value.trim().parse().expect("length"));
    while pending.len() < head_end + length {
        let read = stream.read(&mut buffer).await.expect("read");
        assert!(read > 0, "closed inside a body");
        pending.extend_from_slice(&buffer[..read]);
    }
    pending.drain(..head_end + length);
    (status, head)
}

#[tokio::test]
async fn unread_bodies_leave_the_keep_alive_connection_usable() {
    let (addr, server) = serve(common::config()).await;
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    let (mut reader, mut writer) = stream.split();
    let body = vec![b'x'; 1024 * 1024];
    let mut pending = Vec::new();
    // (JSON bodies are read whole before any handler, to refuse NUL
    // characters: these are not.)
    let refused = [
        ("POST", "/items/", 401),
        ("POST", "/nowhere", 404),
        ("DELETE", "/hello/", 405),
        ("GET", "/hello/", 200),
    ];
    for i in 0..200 {
        let (method, path, expected) = refused[i % refused.len()];
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        // The upload streams while the answer is read, as a client does.
        let send = async {
            writer.write_all(head.as_bytes()).await?;
            writer.write_all(&body).await
        };
        let (sent, (status, head)) = tokio::join!(send, read_answer(&mut reader, &mut pending));
        sent.unwrap_or_else(|err| panic!("request {i}: {err}"));
        assert_eq!(status, expected, "request {i}: {method} {path}");
        assert!(!head.contains("connection: close"), "request {i}: {head}");
    }
    // And the connection still answers.
    writer
        .write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .expect("write");
    let (status, _) = read_answer(&mut reader, &mut pending).await;
    assert_eq!(status, 200);
    server.abort();
}
