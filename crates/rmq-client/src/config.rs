//! [`ClientConfig`] and the client id.

use std::net::{IpAddr, Ipv4Addr, UdpSocket};

use rmq_protocol::time::Clock;
use rmq_protocol::LanguageCode;

/// Instance name that is replaced by `<pid>#<nanos>` (docs/protocol/client.md#client-id).
pub const DEFAULT_INSTANCE_NAME: &str = "DEFAULT";

/// Settings shared by [`crate::Producer`] and [`crate::Admin`]. Defaults follow the Java client.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// Name server addresses (`host:port`). Default: `$NAMESRV_ADDR` split on `;`.
    pub namesrv_addr: Vec<String>,
    /// The address put into the client id and UNIQ_KEYs. Default: the local address of the
    /// default route, else `127.0.0.1`.
    pub client_ip: String,
    /// Default `"DEFAULT"`, which becomes `<pid>#<nanos>` in the client id.
    pub instance_name: String,
    /// Time budget of one send, retries included. Default 3000.
    pub send_timeout_ms: u64,
    /// Extra attempts of a synchronous send. Default 2.
    pub retry_times_when_send_failed: u32,
    /// Extra attempts of an asynchronous send (transport errors only). Default 2.
    pub retry_times_when_send_async_failed: u32,
    /// Queue count asked for when the broker auto-creates a topic. Default 4.
    pub default_topic_queue_nums: i32,
    /// Largest body (or batch body) the client sends. Default 4 MiB.
    pub max_message_size: usize,
    /// Bodies at least this big would be compressed by the Java client. This client does not
    /// compress (compression is optional on the wire); the setting is kept for parity.
    pub compress_over_bytes: usize,
    /// Language code sent in every request header. Default `Rust`.
    pub language: LanguageCode,
    /// `sendLatencyFaultEnable`: skip brokers that recently failed or answered slowly (see
    /// `fault.rs`). Default false, as in Java.
    pub send_latency_fault_enable: bool,
    /// `latencyMax`: latency steps (ms) of the fault strategy.
    pub latency_max_ms: Vec<u64>,
    /// `notAvailableDuration`: how long (ms) a broker is skipped after reaching each step.
    pub not_available_duration_ms: Vec<u64>,
    /// `retryAnotherBrokerWhenNotStoreOK`: a synchronous send whose status is not SEND_OK
    /// (flush or slave timeout, slave not available) is sent again to another broker, so it may
    /// be stored twice. Default false.
    pub retry_another_broker_when_not_store_ok: bool,
    /// `useTLS` (Java `ClientConfig.setUseTLS`, `-Dtls.enable=true`): connect to name servers
    /// and brokers over TLS, trusting any server certificate as Java's default
    /// `tls.test.mode.enable=true` does. Default false.
    pub use_tls: bool,
    /// TLS with a trusted CA and/or a client certificate for servers that ask for one
    /// (`tls.server.need.client.auth`): the Java client's `tls.client.trustCertPath`,
    /// `tls.client.certPath`, `tls.client.keyPath` and `tls.client.keyPassword`, read when built
    /// ([`rmq_remoting::ClientTlsOptions::build`], which names a bad file). When set, connections
    /// use it and TLS whatever `use_tls` says. Default none.
    pub tls: Option<rmq_remoting::ClientTls>,
    /// ACL 1.0 credentials: every request is signed as the Java client's `AclClientRPCHook`
    /// signs it (docs/broker/acl.md#signature). Default none.
    pub credentials: Option<rmq_acl::Credentials>,
    /// `pollNameServerInterval`: how often a producer re-reads its topics' routes (a send that
    /// fails on a broker also re-reads its topic's route, at most once a second). Default 30000.
    pub poll_name_server_interval_ms: u64,
    /// Where the client reads wall time (born timestamps, subscription versions, queue-lock
    /// validity): the system clock, or a manual one in tests.
    pub clock: Clock,
}

impl Default for ClientConfig {
    fn default() -> Self {
        let namesrv_addr = std::env::var("NAMESRV_ADDR")
            .map(|s| split_addrs(&s))
            .unwrap_or_default();
        ClientConfig {
            namesrv_addr,
            client_ip: local_ip().to_string(),
            instance_name: DEFAULT_INSTANCE_NAME.to_owned(),
            send_timeout_ms: 3000,
            retry_times_when_send_failed: 2,
            retry_times_when_send_async_failed: 2,
            default_topic_queue_nums: 4,
            max_message_size: 4 * 1024 * 1024,
            compress_over_bytes: 4096,
            language: LanguageCode::Rust,
            send_latency_fault_enable: false,
            latency_max_ms: crate::fault::DEFAULT_LATENCY_MAX_MS.to_vec(),
            not_available_duration_ms: crate::fault::DEFAULT_NOT_AVAILABLE_DURATION_MS.to_vec(),
            retry_another_broker_when_not_store_ok: false,
            use_tls: false,
            tls: None,
            credentials: None,
            poll_name_server_interval_ms: 30_000,
            clock: Clock::System,
        }
    }
}

impl ClientConfig {
    /// Defaults with the given name servers (`"a:9876;b:9876"` style is accepted).
    pub fn with_namesrv(addr: &str) -> Self {
        ClientConfig {
            namesrv_addr: split_addrs(addr),
            ..Default::default()
        }
    }

    /// `clientIP@instanceName`, with `DEFAULT` replaced by `<pid>#<nanos>`
    /// (docs/protocol/client.md#client-id).
    pub fn client_id(&self) -> String {
        let instance = if self.instance_name == DEFAULT_INSTANCE_NAME {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos());
            format!("{}#{}", std::process::id(), nanos)
        } else {
            self.instance_name.clone()
        };
        format!("{}@{}", self.client_ip, instance)
    }

    /// `client_ip` parsed, `127.0.0.1` when it is not an IP address.
    pub(crate) fn client_ip_addr(&self) -> IpAddr {
        self.client_ip.parse().unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST))
    }
}

fn split_addrs(s: &str) -> Vec<String> {
    s.split(';')
        .map(str::trim)
        .filter(|a| !a.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The source address of the default route. Connecting a UDP socket sends no packet.
fn local_ip() -> IpAddr {
    let probe = || -> std::io::Result<IpAddr> {
        let socket = UdpSocket::bind("0.0.0.0:0")?;
        socket.connect("8.8.8.8:80")?;
        Ok(socket.local_addr()?.ip())
    };
    match probe() {
        Ok(ip) if !ip.is_unspecified() => ip,
        _ => IpAddr::V4(Ipv4Addr::LOCALHOST),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_id_replaces_default_instance() {
        let config = ClientConfig {
            client_ip: "10.0.0.1".into(),
            ..Default::default()
        };
        let id = config.client_id();
        let pid = std::process::id().to_string();
        assert!(id.starts_with(&format!("10.0.0.1@{pid}#")), "{id}");
        let named = ClientConfig {
            instance_name: "x".into(),
            ..config
        };
        assert_eq!(named.client_id(), "10.0.0.1@x");
    }

    #[test]
    fn namesrv_list_is_split() {
        assert_eq!(
            ClientConfig::with_namesrv("a:1; b:2;").namesrv_addr,
            vec!["a:1", "b:2"]
        );
    }
}
