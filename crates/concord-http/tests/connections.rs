//! What a slow, idle or greedy client can hold: connections that send no
//! headers in time are closed (idle keep-alive ones too), and beyond the
//! connection cap new connections wait until one is free.

use std::net::SocketAddr;
use std::time::Duration;

use axum::routing::get;
use concord_http::ConnectionLimits;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

async fn start(limits: ConnectionLimits) -> SocketAddr {
    let router = axum::Router::new().route("/", get(|| async { "hello" }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(concord_http::serve_until(
        listener,
        router,
        limits,
        std::future::pending(),
    ));
    addr
}

/// Reads until the server closes the connection (or `within` passes);
/// whether it closed, and what it sent.
async fn read_to_close(stream: &mut TcpStream, within: Duration) -> (bool, String) {
    let mut got = Vec::new();
    let closed = tokio::time::timeout(within, async {
        let mut buf = [0u8; 1024];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await
    .is_ok();
    (closed, String::from_utf8_lossy(&got).into_owned())
}

const REQUEST: &[u8] = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n";

#[tokio::test]
async fn silent_slow_and_idle_connections_are_closed() {
    let addr = start(ConnectionLimits {
        header_timeout: Duration::from_millis(200),
        max_connections: 16,
    })
    .await;
    let mut silent = TcpStream::connect(addr).await.unwrap();
    assert!(read_to_close(&mut silent, Duration::from_secs(5)).await.0, "silent");

    let mut slow = TcpStream::connect(addr).await.unwrap();
    slow.write_all(b"GET / HTTP/1.1\r\n").await.unwrap();
    assert!(
        read_to_close(&mut slow, Duration::from_secs(5)).await.0,
        "half a request"
    );

    let mut idle = TcpStream::connect(addr).await.unwrap();
    idle.write_all(REQUEST).await.unwrap();
    let (closed, answer) = read_to_close(&mut idle, Duration::from_secs(5)).await;
    assert!(
        answer.starts_with("HTTP/1.1 200") && answer.ends_with("hello"),
        "{answer}"
    );
    assert!(closed, "an idle keep-alive connection is closed too");
}

#[tokio::test]
async fn beyond_the_cap_a_connection_waits_for_a_free_one() {
    let addr = start(ConnectionLimits {
        header_timeout: Duration::from_secs(30),
        max_connections: 1,
    })
    .await;
    let holder = TcpStream::connect(addr).await.unwrap();
    // Let the server take the first connection before the second arrives.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut waiting = TcpStream::connect(addr).await.unwrap();
    waiting
        .write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let (_, early) = read_to_close(&mut waiting, Duration::from_millis(300)).await;
    assert_eq!(early, "", "not served while the only slot is taken");
    drop(holder);
    let (closed, answer) = read_to_close(&mut waiting, Duration::from_secs(5)).await;
    assert!(closed && answer.starts_with("HTTP/1.1 200"), "{answer}");
}
