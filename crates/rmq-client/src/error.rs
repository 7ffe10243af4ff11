//! [`ClientError`]: the one error type of the client.

use rmq_protocol::WireError;
use rmq_remoting::RemotingError;

/// Everything a producer, consumer or admin call can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The transport failed (connect, timeout, closed connection) talking to `addr`.
    #[error("remoting error with {addr}: {source}")]
    Remoting {
        addr: String,
        #[source]
        source: RemotingError,
    },
    /// A broker or name server answered with a non-success response code.
    #[error("server error {code}: {remark}")]
    Broker { code: i32, remark: String },
    /// A response (header or body) could not be decoded, or a request could not be encoded.
    #[error("wire format error: {0}")]
    Wire(#[from] WireError),
    /// `ClientConfig::namesrv_addr` is empty.
    #[error("no name server address configured")]
    NoNameServer,
    /// No usable route (no writable queue with a master) for the topic.
    #[error("no route info for topic {0}")]
    NoRoute(String),
    /// The route names a broker but it has no master address.
    #[error("no master address for broker {0}")]
    NoBrokerAddr(String),
    /// The message (or batch) breaks a client-side rule; nothing was sent.
    #[error("invalid message: {0}")]
    InvalidMessage(String),
    /// A bad argument: unknown cluster, selector index out of range, malformed id.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// The send did not complete within `send_timeout_ms`, retries included.
    #[error("send timed out after {timeout_ms} ms")]
    Timeout { timeout_ms: u64 },
    /// The producer or consumer was not started, or has been shut down.
    #[error("client is not running ({0})")]
    NotRunning(&'static str),
    /// A local file (the broadcasting offset store) could not be read or written.
    #[error("i/o error on {0}: {1}")]
    Io(String, #[source] std::io::Error),
}

impl ClientError {
    pub(crate) fn remoting(addr: &str, source: RemotingError) -> Self {
        ClientError::Remoting {
            addr: addr.to_owned(),
            source,
        }
    }

    /// The response code, for [`ClientError::Broker`].
    pub fn broker_code(&self) -> Option<i32> {
        match self {
            ClientError::Broker { code, .. } => Some(*code),
            _ => None,
        }
    }
}
