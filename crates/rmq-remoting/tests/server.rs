//! Real sockets: a server on port 0 and clients that talk to it.

#![allow(clippy::unwrap_used, reason = "test code: a failed unwrap is a failed test")]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rmq_protocol::codes::response_code;
use rmq_protocol::{RemotingCommand, SerializeType};
use rmq_remoting::{BoxFuture, Channel, RemotingClient, RemotingError, RequestHandler, Server};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const ECHO: i32 = 1000;
const SILENT: i32 = 1001;
const ONEWAY_COUNT: i32 = 1002;
const PANIC: i32 = 1003;

#[derive(Default)]
struct TestHandler {
    oneways: AtomicUsize,
}

impl RequestHandler for TestHandler {
    fn handle(
        self: Arc<Self>,
        _channel: Channel,
        req: RemotingCommand,
    ) -> BoxFuture<'static, Option<RemotingCommand>> {
        Box::pin(async move {
            match req.code {
                ECHO => Some(
                    RemotingCommand::response_to(&req, response_code::SUCCESS)
                        .with_body(req.body.clone())
                        .with_ext("echo", req.ext("k").unwrap_or("").to_string()),
                ),
                SILENT => None,
                ONEWAY_COUNT => {
                    self.oneways.fetch_add(1, Ordering::SeqCst);
                    None
                }
                PANIC => panic!("handler bug"),
                other => Some(
                    RemotingCommand::response_to(&req, response_code::REQUEST_CODE_NOT_SUPPORTED)
                        .with_remark(format!(" request type {other} not supported")),
                ),
            }
        })
    }
}

async fn start() -> (rmq_remoting::ServerHandle, Arc<TestHandler>, String) {
    let handler = Arc::new(TestHandler::default());
    let server = Server::bind("127.0.0.1:0", handler.clone()).await.unwrap();
    let addr = server.local_addr().to_string();
    (server, handler, addr)
}

#[tokio::test]
async fn request_response_is_correlated_by_opaque() {
    let (server, _h, addr) = start().await;
    let client = Arc::new(RemotingClient::new());
    let mut tasks = Vec::new();
    for i in 0..200 {
        let client = client.clone();
        let addr = addr.clone();
        tasks.push(tokio::spawn(async move {
            let mut req = RemotingCommand::request(ECHO)
                .with_ext("k", i.to_string())
                .with_body(format!("body-{i}"));
            if i % 2 == 0 {
                req.serialize_type = SerializeType::RocketMq;
            }
            let resp = client.invoke(&addr, req, Duration::from_secs(5)).await.unwrap();
            assert!(resp.is_response());
            assert_eq!(resp.ext("echo"), Some(i.to_string().as_str()));
            assert_eq!(&resp.body[..], format!("body-{i}").as_bytes());
            assert_eq!(
                resp.serialize_type,
                if i % 2 == 0 {
                    SerializeType::RocketMq
                } else {
                    SerializeType::Json
                }
            );
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    server.shutdown().await;
}

#[tokio::test]
async fn timeout_oneway_unknown_code_and_panic() {
    let (server, handler, addr) = start().await;
    let client = RemotingClient::new();
    let err = client
        .invoke(
            &addr,
            RemotingCommand::request(SILENT),
            Duration::from_millis(200),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, RemotingError::Timeout { .. }), "{err}");

    for _ in 0..5 {
        client
            .invoke_oneway(&addr, RemotingCommand::request(ONEWAY_COUNT))
            .await
            .unwrap();
    }
    // A normal request after the oneways: its response proves they were all read first.
    let resp = client
        .invoke(&addr, RemotingCommand::request(4242), Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(resp.code, response_code::REQUEST_CODE_NOT_SUPPORTED);
    assert_eq!(resp.remark.as_deref(), Some(" request type 4242 not supported"));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while handler.oneways.load(Ordering::SeqCst) < 5 && tokio::time::Instant::now() < deadline {
        tokio::task::yield_now().await;
    }
    assert_eq!(handler.oneways.load(Ordering::SeqCst), 5);

    let resp = client
        .invoke(&addr, RemotingCommand::request(PANIC), Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(resp.code, response_code::SYSTEM_ERROR);
    server.shutdown().await;
}

#[tokio::test]
async fn bad_frame_closes_only_that_connection() {
    let (server, _h, addr) = start().await;
    let client = RemotingClient::new();
    // A healthy connection first.
    client
        .invoke(&addr, RemotingCommand::request(ECHO), Duration::from_secs(5))
        .await
        .unwrap();

    for garbage in [
        vec![0x7f, 0xff, 0xff, 0xff, 0, 0, 0, 0],          // oversized length
        vec![0, 0, 0, 8, 0x05, 0, 0, 2, b'{', b'}', 0, 0], // unknown serialize type
        vec![
            0, 0, 0, 12, 0, 0, 0, 8, b'n', b'o', b't', b' ', b'j', b's', b'o', b'n',
        ], // bad JSON
        vec![0, 0, 0, 4, 0, 0, 0, 200],                    // header longer than frame
    ] {
        let mut raw = tokio::net::TcpStream::connect(&addr).await.unwrap();
        raw.write_all(&garbage).await.unwrap();
        let mut buf = [0u8; 16];
        let n = tokio::time::timeout(Duration::from_secs(5), raw.read(&mut buf))
            .await
            .expect("server must close")
            .unwrap_or(0);
        assert_eq!(n, 0, "the server closes the connection without answering");
    }
    // The healthy connection is still served.
    let resp = client
        .invoke(
            &addr,
            RemotingCommand::request(ECHO).with_ext("k", "v"),
            Duration::from_secs(5),
        )
        .await
        .unwrap();
    assert_eq!(resp.ext("echo"), Some("v"));
    server.shutdown().await;
}

#[tokio::test]
async fn closed_server_fails_pending_and_reconnects() {
    let (server, _h, addr) = start().await;
    let client = RemotingClient::new();
    client
        .invoke(&addr, RemotingCommand::request(ECHO), Duration::from_secs(5))
        .await
        .unwrap();
    server.shutdown().await;
    let err = client
        .invoke(&addr, RemotingCommand::request(ECHO), Duration::from_secs(5))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            RemotingError::ConnectionClosed(_) | RemotingError::Connect { .. }
        ),
        "unexpected error: {err}"
    );
}

/// A connection with nothing read or written for `max_idle` is closed by the server (Java's
/// serverChannelMaxIdleTimeSeconds); one that keeps talking stays open.
#[tokio::test]
async fn idle_connections_are_closed_busy_ones_kept() {
    let handler = Arc::new(TestHandler::default());
    let options = rmq_remoting::ServerOptions {
        max_idle: Some(Duration::from_secs(1)),
        tls: None,
    };
    let server = Server::bind_with("127.0.0.1:0", handler, options).await.unwrap();
    let addr = server.local_addr().to_string();

    let started = std::time::Instant::now();
    let mut silent = tokio::net::TcpStream::connect(&addr).await.unwrap();
    // One connection (no reconnects, unlike RemotingClient), ten requests a second for 2.5 s:
    // never idle for 1 s.
    let busy = Channel::spawn(tokio::net::TcpStream::connect(&addr).await.unwrap(), None).unwrap();
    while started.elapsed() < Duration::from_millis(2500) {
        let resp = busy
            .invoke(RemotingCommand::request(ECHO), Duration::from_secs(5))
            .await
            .expect("a busy connection stays open");
        assert_eq!(resp.code, response_code::SUCCESS);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut buf = [0u8; 16];
    let n = tokio::time::timeout(Duration::from_secs(20), silent.read(&mut buf))
        .await
        .expect("the idle connection must be closed")
        .unwrap_or(0);
    assert_eq!(n, 0, "closed without a frame");
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "not before it was idle"
    );
    server.shutdown().await;
}
