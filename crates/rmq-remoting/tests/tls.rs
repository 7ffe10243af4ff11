//! TLS on real sockets: the three server modes, first-byte sniffing, trust-any and CA clients.

#![allow(clippy::unwrap_used, reason = "test code: a failed unwrap is a failed test")]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rmq_protocol::codes::response_code;
use rmq_protocol::RemotingCommand;
use rmq_remoting::{
    BoxFuture, Channel, ClientTls, RemotingClient, RemotingError, RequestHandler, Server, ServerHandle,
    ServerOptions, ServerTls, TlsMode, TlsSettings,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const ECHO: i32 = 1000;
const TIMEOUT: Duration = Duration::from_secs(5);

struct Echo;

impl RequestHandler for Echo {
    fn handle(
        self: Arc<Self>,
        _channel: Channel,
        req: RemotingCommand,
    ) -> BoxFuture<'static, Option<RemotingCommand>> {
        Box::pin(async move {
            Some(RemotingCommand::response_to(&req, response_code::SUCCESS).with_body(req.body.clone()))
        })
    }
}

async fn start(tls: Option<ServerTls>) -> (ServerHandle, String) {
    let options = ServerOptions::default().with_tls(tls);
    let server = Server::bind_with("127.0.0.1:0", Arc::new(Echo), options)
        .await
        .unwrap();
    let addr = server.local_addr().to_string();
    (server, addr)
}

fn self_signed(mode: TlsMode) -> Option<ServerTls> {
    Some(ServerTls::self_signed(mode).unwrap())
}

async fn echo(
    client: &RemotingClient,
    addr: &str,
    body: &'static [u8],
) -> Result<RemotingCommand, RemotingError> {
    let req = RemotingCommand::request(ECHO).with_body(bytes::Bytes::from_static(body));
    client.invoke(addr, req, TIMEOUT).await
}

fn tls_client() -> RemotingClient {
    RemotingClient::new().with_tls(Some(ClientTls::trust_any()))
}

/// Reads until the server closes the connection; panics if it answers or stays open.
async fn assert_closed_by_server(stream: &mut tokio::net::TcpStream) {
    let mut buf = [0u8; 64];
    let n = tokio::time::timeout(TIMEOUT, stream.read(&mut buf))
        .await
        .expect("the server must close the connection")
        .unwrap_or(0);
    assert_eq!(n, 0, "the server closes without answering");
}

#[tokio::test]
async fn permissive_serves_plain_and_tls_on_one_port() {
    let (server, addr) = start(self_signed(TlsMode::Permissive)).await;
    let plain = RemotingClient::new();
    let tls = tls_client();
    for _ in 0..3 {
        assert_eq!(
            echo(&plain, &addr, b"plain").await.unwrap().body.as_ref(),
            b"plain"
        );
        assert_eq!(
            echo(&tls, &addr, b"secret").await.unwrap().body.as_ref(),
            b"secret"
        );
    }
    // A large body crosses several TLS records.
    let big = vec![7u8; 3 * 1024 * 1024];
    let resp = tls
        .invoke(
            &addr,
            RemotingCommand::request(ECHO).with_body(big.clone()),
            TIMEOUT,
        )
        .await
        .unwrap();
    assert_eq!(resp.body.as_ref(), big.as_slice());
    server.shutdown().await;
}

#[tokio::test]
async fn enforcing_closes_plain_and_serves_tls() {
    let (server, addr) = start(self_signed(TlsMode::Enforcing)).await;
    let err = echo(&RemotingClient::new(), &addr, b"plain").await.unwrap_err();
    assert!(matches!(err, RemotingError::ConnectionClosed(_)), "{err}");
    assert_eq!(
        echo(&tls_client(), &addr, b"x").await.unwrap().body.as_ref(),
        b"x"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn disabled_refuses_tls_and_serves_plain() {
    let (server, addr) = start(None).await;
    let err = echo(&tls_client(), &addr, b"x").await.unwrap_err();
    assert!(matches!(err, RemotingError::TlsHandshake { .. }), "{err}");
    assert_eq!(
        echo(&RemotingClient::new(), &addr, b"y")
            .await
            .unwrap()
            .body
            .as_ref(),
        b"y"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn a_garbage_handshake_closes_only_its_connection() {
    let (server, addr) = start(self_signed(TlsMode::Permissive)).await;
    let tls = tls_client();
    let plain = RemotingClient::new();
    echo(&tls, &addr, b"a").await.unwrap();
    echo(&plain, &addr, b"a").await.unwrap();

    // A handshake record header followed by nonsense.
    let mut raw = tokio::net::TcpStream::connect(&addr).await.unwrap();
    raw.write_all(&[0x16, 0x03, 0x01, 0x00, 0x08, 1, 2, 3, 4, 5, 6, 7, 8])
        .await
        .unwrap();
    let mut buf = [0u8; 64];
    // rustls may answer with an alert before closing; what matters is that it closes.
    let closed = tokio::time::timeout(TIMEOUT, async {
        while raw.read(&mut buf).await.unwrap_or(0) > 0 {}
    })
    .await;
    assert!(closed.is_ok(), "the server must close a bad handshake");

    // A peer that closes mid-handshake.
    let mut raw = tokio::net::TcpStream::connect(&addr).await.unwrap();
    raw.write_all(&[0x16, 0x03]).await.unwrap();
    drop(raw);

    // Existing connections, and new ones, are still served.
    assert_eq!(echo(&tls, &addr, b"b").await.unwrap().body.as_ref(), b"b");
    assert_eq!(echo(&plain, &addr, b"b").await.unwrap().body.as_ref(), b"b");
    assert_eq!(
        echo(&tls_client(), &addr, b"c").await.unwrap().body.as_ref(),
        b"c"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn enforcing_closes_a_raw_plain_frame() {
    let (server, addr) = start(self_signed(TlsMode::Enforcing)).await;
    let mut raw = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let mut frame = bytes::BytesMut::new();
    RemotingCommand::request(ECHO).encode(&mut frame).unwrap();
    raw.write_all(&frame).await.unwrap();
    assert_closed_by_server(&mut raw).await;
    server.shutdown().await;
}

/// Certificates from PEM files (test mode off): the client trusts the CA file, not any server;
/// the host name (`rmq.test`, dialled as 127.0.0.1) is not checked, as Java's client.
#[tokio::test]
async fn pem_files_and_a_ca_file() {
    let dir = tempfile::tempdir().unwrap();
    let pki = write_pki(dir.path());
    let mut settings = TlsSettings {
        config_file: dir.path().join("absent.properties"),
        ..Default::default()
    };
    for (k, v) in [
        ("tls.server.mode", "enforcing"),
        ("tls.test.mode.enable", "false"),
        ("tls.server.certPath", pki.chain.to_str().unwrap()),
        ("tls.server.keyPath", pki.key.to_str().unwrap()),
        ("tls.client.authServer", "true"),
        ("tls.client.trustCertPath", pki.ca.to_str().unwrap()),
    ] {
        assert!(settings.apply(k, v), "{k}");
    }
    let (server, addr) = start(settings.server().unwrap()).await;
    let client = RemotingClient::new().with_tls(Some(settings.client().unwrap()));
    assert_eq!(echo(&client, &addr, b"ca").await.unwrap().body.as_ref(), b"ca");

    // A client trusting another CA refuses this server.
    let other_dir = tempfile::tempdir().unwrap();
    let other = write_pki(other_dir.path());
    let stranger = RemotingClient::new().with_tls(Some(ClientTls::trusting(&other.ca).unwrap()));
    let err = echo(&stranger, &addr, b"x").await.unwrap_err();
    assert!(matches!(err, RemotingError::TlsHandshake { .. }), "{err}");
    server.shutdown().await;
}

#[test]
fn missing_and_encrypted_key_files_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let cert = write_pki(dir.path()).chain;
    let missing =
        ServerTls::from_pem_files(TlsMode::Permissive, &cert, &dir.path().join("nope.pem")).unwrap_err();
    assert!(matches!(missing, RemotingError::TlsFile { .. }), "{missing}");
    let encrypted = dir.path().join("enc.pem");
    std::fs::write(
        &encrypted,
        "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n",
    )
    .unwrap();
    let err = ServerTls::from_pem_files(TlsMode::Permissive, &cert, &encrypted).unwrap_err();
    assert!(err.to_string().contains("encrypted"), "{err}");
}

struct Pki {
    ca: PathBuf,
    chain: PathBuf,
    key: PathBuf,
}

/// A CA and a server certificate it signed for `rmq.test`, as PEM files.
fn write_pki(dir: &Path) -> Pki {
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let leaf_key = rcgen::KeyPair::generate().unwrap();
    let leaf = rcgen::CertificateParams::new(vec!["rmq.test".to_string()])
        .unwrap()
        .signed_by(&leaf_key, &ca, &ca_key)
        .unwrap();
    let pki = Pki {
        ca: dir.join("ca.pem"),
        chain: dir.join("chain.pem"),
        key: dir.join("key.pem"),
    };
    std::fs::write(&pki.ca, ca.pem()).unwrap();
    std::fs::write(&pki.chain, leaf.pem() + &ca.pem()).unwrap();
    std::fs::write(&pki.key, leaf_key.serialize_pem()).unwrap();
    pki
}
