use std::net::SocketAddr;
use std::path::PathBuf;

use rmq_protocol::WireError;

/// Errors of the transport layer.
#[derive(Debug, thiserror::Error)]
pub enum RemotingError {
    #[error("connect to {addr} failed: {source}")]
    Connect {
        addr: String,
        #[source]
        source: std::io::Error,
    },
    #[error("connect to {addr} timed out after {timeout_ms} ms")]
    ConnectTimeout { addr: String, timeout_ms: u64 },
    #[error("request to {addr} timed out after {timeout_ms} ms")]
    Timeout { addr: SocketAddr, timeout_ms: u64 },
    #[error("connection to {0} closed")]
    ConnectionClosed(SocketAddr),
    #[error("bad address {0:?}")]
    BadAddress(String),
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
    #[error("wire error: {0}")]
    Wire(#[from] WireError),
    #[error("TLS handshake with {addr} failed: {source}")]
    TlsHandshake {
        addr: String,
        #[source]
        source: std::io::Error,
    },
    #[error("TLS: {0}")]
    Tls(#[from] rustls::Error),
    #[error("TLS configuration: {0}")]
    TlsConfig(String),
    /// The self-signed test certificate could not be generated.
    #[error("TLS configuration: self-signed certificate: {0}")]
    SelfSigned(#[source] rcgen::Error),
    #[error("TLS file {path}: {reason}")]
    TlsFile { path: PathBuf, reason: String },
}
