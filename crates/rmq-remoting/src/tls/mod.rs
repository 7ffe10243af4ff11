//! TLS, as RocketMQ 4.9 does it: the `tls.*` keys of Java's `TlsSystemConfig`, the server's
//! first-byte sniffing (`tls.server.mode`), the client's connector (`tls.enable`), client
//! certificates (mutual TLS) and encrypted private keys (docs/broker/tls.md#keys).
//!
//! # Layout
//! - this module: [`TlsSettings`] (the keys), [`ServerTls`] (sniffing and the acceptor),
//!   [`ClientTls`] and [`ClientTlsOptions`] (the connector).
//! - `pem`: certificate chains and private keys from PEM files, encrypted PKCS#8 keys decrypted.
//! - `verify`: the client's server-certificate verifiers (trust any, or a CA without host names).
//!
//! Server modes: `disabled` serves plain remoting only (a TLS hello looks like a frame far over
//! the size limit and closes its connection); `permissive` (the default) looks at the first byte
//! of each connection, 0x16 (a TLS handshake record) is TLS and anything else plain remoting;
//! `enforcing` closes a connection whose first byte is not 0x16.
//!
//! Test mode (`tls.test.mode.enable`, default true, as Java): the server without a configured
//! certificate uses a self-signed one generated at startup, and the client trusts any server
//! certificate.
//!
//! Client certificates (docs/broker/tls.md#mutual-tls): `tls.server.need.client.auth=optional`
//! or `require` makes the server ask for one and verify it against the CA certificates of
//! `tls.server.trustCertPath`; `optional` lets a client without a certificate in, never one with
//! a certificate that does not verify. The client presents `tls.client.certPath` /
//! `tls.client.keyPath` when both are set. Where rmq is stricter than Java, on purpose: a client
//! certificate is always verified (Java's `tls.server.authClient=false` accepts any), so a trust
//! file is required; an unknown `need.client.auth` value is a startup error (Java falls back to
//! `none`); and client authentication and the client's certificate apply in test mode too (Java
//! ignores them there).

mod pem;
mod verify;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rustls::client::danger::ServerCertVerifier;
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use rustls::server::danger::ClientCertVerifier;
use rustls::server::WebPkiClientVerifier;
use tokio::net::TcpStream;

use self::pem::{file_error, read_certs, read_private_key};
use self::verify::{ChainOnly, TrustAnyServer};
use crate::RemotingError;

/// First byte of a TLS handshake record (a ClientHello).
pub const HANDSHAKE_RECORD: u8 = 0x16;

/// How long a TLS handshake may take (netty's `SslHandler` default).
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Java's default `tls.config.file`, read only when it exists.
pub const DEFAULT_CONFIG_FILE: &str = "/etc/rocketmq/tls.properties";

/// `tls.server.mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsMode {
    Disabled,
    Permissive,
    Enforcing,
}

impl TlsMode {
    /// As Java's `TlsMode.parse`: exact lowercase names; anything else is `permissive`.
    pub fn parse(s: &str) -> TlsMode {
        match s.trim() {
            "disabled" => TlsMode::Disabled,
            "enforcing" => TlsMode::Enforcing,
            _ => TlsMode::Permissive,
        }
    }
}

/// `tls.server.need.client.auth`: whether the server asks clients for a certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuth {
    /// No certificate is asked for.
    None,
    /// A client may connect without a certificate; one it presents must verify.
    Optional,
    /// A client without a certificate that verifies is refused in the handshake.
    Require,
}

impl ClientAuth {
    /// As Java's `parseClientAuthMode` (any case; empty is `none`), except that an unknown value
    /// is an error: a typo must not turn client authentication off.
    pub fn parse(s: &str) -> Result<ClientAuth, RemotingError> {
        match s.trim().to_ascii_lowercase().as_str() {
            "" | "none" => Ok(ClientAuth::None),
            "optional" => Ok(ClientAuth::Optional),
            "require" => Ok(ClientAuth::Require),
            other => Err(RemotingError::TlsConfig(format!(
                "tls.server.need.client.auth={other}: expected none, optional or require"
            ))),
        }
    }
}

/// The `tls.*` keys (Java's `TlsSystemConfig`), from `broker.conf`, the name server's properties
/// file, or the file named by `tls.config.file`. `Debug` leaves the passwords out.
#[derive(Clone, PartialEq, Eq)]
pub struct TlsSettings {
    /// `tls.server.mode` (permissive).
    pub server_mode: TlsMode,
    /// `tls.enable` (false): this process's own client connections use TLS.
    pub client_enable: bool,
    /// `tls.test.mode.enable` (true).
    pub test_mode: bool,
    /// `tls.server.certPath`: PEM certificate chain.
    pub server_cert_path: Option<PathBuf>,
    /// `tls.server.keyPath`: PEM private key (PKCS#8, plain or encrypted; PKCS#1 and SEC1 too).
    pub server_key_path: Option<PathBuf>,
    /// `tls.server.keyPassword`: decrypts an encrypted PKCS#8 `tls.server.keyPath`.
    pub server_key_password: Option<String>,
    /// `tls.server.need.client.auth` (none): none, optional or require ([`ClientAuth`]).
    pub server_need_client_auth: String,
    /// `tls.server.authClient` (false): kept for Java's files; rmq verifies client certificates
    /// whenever it asks for them.
    pub server_auth_client: bool,
    /// `tls.server.trustCertPath`: PEM CA certificates that client certificates must lead to.
    pub server_trust_cert_path: Option<PathBuf>,
    /// `tls.client.authServer` (false): verify the server's certificate outside test mode.
    pub client_auth_server: bool,
    /// `tls.client.trustCertPath`: PEM CA certificates the client trusts.
    pub client_trust_cert_path: Option<PathBuf>,
    /// `tls.client.certPath`: PEM certificate chain the client presents (mutual TLS).
    pub client_cert_path: Option<PathBuf>,
    /// `tls.client.keyPath`: the private key of `tls.client.certPath`.
    pub client_key_path: Option<PathBuf>,
    /// `tls.client.keyPassword`: decrypts an encrypted PKCS#8 `tls.client.keyPath`.
    pub client_key_password: Option<String>,
    /// `tls.config.file`: a properties file with the keys above except the mode and `tls.enable`.
    pub config_file: PathBuf,
}

impl Default for TlsSettings {
    fn default() -> Self {
        TlsSettings {
            server_mode: TlsMode::Permissive,
            client_enable: false,
            test_mode: true,
            server_cert_path: None,
            server_key_path: None,
            server_key_password: None,
            server_need_client_auth: "none".into(),
            server_auth_client: false,
            server_trust_cert_path: None,
            client_auth_server: false,
            client_trust_cert_path: None,
            client_cert_path: None,
            client_key_path: None,
            client_key_password: None,
            config_file: PathBuf::from(DEFAULT_CONFIG_FILE),
        }
    }
}

fn redacted(password: &Option<String>) -> Option<&'static str> {
    password.as_ref().map(|_| "<redacted>")
}

impl std::fmt::Debug for TlsSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsSettings")
            .field("server_mode", &self.server_mode)
            .field("client_enable", &self.client_enable)
            .field("test_mode", &self.test_mode)
            .field("server_cert_path", &self.server_cert_path)
            .field("server_key_path", &self.server_key_path)
            .field("server_key_password", &redacted(&self.server_key_password))
            .field("server_need_client_auth", &self.server_need_client_auth)
            .field("server_auth_client", &self.server_auth_client)
            .field("server_trust_cert_path", &self.server_trust_cert_path)
            .field("client_auth_server", &self.client_auth_server)
            .field("client_trust_cert_path", &self.client_trust_cert_path)
            .field("client_cert_path", &self.client_cert_path)
            .field("client_key_path", &self.client_key_path)
            .field("client_key_password", &redacted(&self.client_key_password))
            .field("config_file", &self.config_file)
            .finish()
    }
}

fn path(v: &str) -> Option<PathBuf> {
    let v = v.trim();
    (!v.is_empty()).then(|| PathBuf::from(v))
}

/// A password value: empty is none (Java's `isNullOrEmpty`). Not trimmed: spaces may belong to it.
fn password(v: &str) -> Option<String> {
    Some(v.to_string()).filter(|s| !s.is_empty())
}

fn boolean(v: &str) -> bool {
    // Java's Boolean.parseBoolean.
    v.trim().eq_ignore_ascii_case("true")
}

impl TlsSettings {
    /// Applies one key; false when `key` is not a TLS key this understands.
    pub fn apply(&mut self, key: &str, value: &str) -> bool {
        match key {
            "tls.server.mode" => self.server_mode = TlsMode::parse(value),
            "tls.enable" => self.client_enable = boolean(value),
            "tls.config.file" => self.config_file = PathBuf::from(value.trim()),
            _ => return self.apply_file_key(key, value),
        }
        true
    }

    /// The keys Java reads from `tls.config.file` (not the mode, not `tls.enable`).
    fn apply_file_key(&mut self, key: &str, value: &str) -> bool {
        match key {
            "tls.test.mode.enable" => self.test_mode = boolean(value),
            "tls.server.certPath" => self.server_cert_path = path(value),
            "tls.server.keyPath" => self.server_key_path = path(value),
            "tls.server.keyPassword" => self.server_key_password = password(value),
            "tls.server.need.client.auth" => self.server_need_client_auth = value.trim().to_string(),
            "tls.server.authClient" => self.server_auth_client = boolean(value),
            "tls.server.trustCertPath" => self.server_trust_cert_path = path(value),
            "tls.client.authServer" => self.client_auth_server = boolean(value),
            "tls.client.trustCertPath" => self.client_trust_cert_path = path(value),
            "tls.client.certPath" => self.client_cert_path = path(value),
            "tls.client.keyPath" => self.client_key_path = path(value),
            "tls.client.keyPassword" => self.client_key_password = password(value),
            _ => return false,
        }
        true
    }

    /// These settings with the keys of `tls.config.file` applied over them, when the file exists
    /// (Java reads it the same way, when it builds its SSL context).
    pub fn with_config_file(&self) -> Result<TlsSettings, RemotingError> {
        let mut settings = self.clone();
        let text = match std::fs::read_to_string(&self.config_file) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(settings),
            Err(e) => return Err(file_error(&self.config_file, e)),
        };
        for (k, v) in parse_properties(&text) {
            if !settings.apply_file_key(&k, &v) {
                tracing::debug!(key = %k, file = %self.config_file.display(), "ignoring key of the TLS config file");
            }
        }
        Ok(settings)
    }

    /// The server side: `None` when `tls.server.mode` is `disabled`.
    pub fn server(&self) -> Result<Option<ServerTls>, RemotingError> {
        if self.server_mode == TlsMode::Disabled {
            return Ok(None);
        }
        let s = self.with_config_file()?;
        let client_auth = ClientAuth::parse(&s.server_need_client_auth)?;
        let (certs, key) = match (&s.server_cert_path, &s.server_key_path) {
            (Some(cert), Some(key)) => (
                read_certs(cert)?,
                read_private_key(key, s.server_key_password.as_deref(), "tls.server.keyPassword")?,
            ),
            (None, None) if s.test_mode => self_signed()?,
            _ => {
                return Err(RemotingError::TlsConfig(
                    "tls.server.certPath and tls.server.keyPath are both needed \
                     (or tls.test.mode.enable=true for a self-signed certificate)"
                        .into(),
                ))
            }
        };
        let verifier = s.client_verifier(client_auth)?;
        ServerTls::build(self.server_mode, certs, key, verifier).map(Some)
    }

    fn client_verifier(&self, auth: ClientAuth) -> Result<Arc<dyn ClientCertVerifier>, RemotingError> {
        if auth == ClientAuth::None {
            return Ok(WebPkiClientVerifier::no_client_auth());
        }
        let Some(ca) = &self.server_trust_cert_path else {
            return Err(RemotingError::TlsConfig(format!(
                "tls.server.need.client.auth={} needs tls.server.trustCertPath, the CA \
                 certificates client certificates must lead to",
                self.server_need_client_auth.trim()
            )));
        };
        if !self.server_auth_client {
            tracing::info!(
                "tls.server.authClient=false: client certificates are verified against \
                 tls.server.trustCertPath all the same (Java would accept any)"
            );
        }
        client_verifier(ca, auth)
    }

    /// The client side, for when `tls.enable` (or a client's `use_tls`) is set.
    pub fn client(&self) -> Result<ClientTls, RemotingError> {
        let s = self.with_config_file()?;
        let trust_cert_path = if s.test_mode || !s.client_auth_server {
            None
        } else {
            match s.client_trust_cert_path {
                Some(ca) => Some(ca),
                None => {
                    return Err(RemotingError::TlsConfig(
                        "tls.client.authServer=true needs tls.client.trustCertPath \
                         (no system trust store is used)"
                            .into(),
                    ))
                }
            }
        };
        ClientTlsOptions {
            trust_cert_path,
            cert_path: s.client_cert_path,
            key_path: s.client_key_path,
            key_password: s.client_key_password,
        }
        .build_named("tls.client.keyPassword")
    }
}

/// Verifies client certificates against the CA certificates of the PEM file `ca_path`.
fn client_verifier(ca_path: &Path, auth: ClientAuth) -> Result<Arc<dyn ClientCertVerifier>, RemotingError> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in read_certs(ca_path)? {
        roots.add(cert).map_err(|e| file_error(ca_path, e))?;
    }
    let builder = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider());
    let builder = if auth == ClientAuth::Optional {
        builder.allow_unauthenticated()
    } else {
        builder
    };
    builder.build().map_err(|e| file_error(ca_path, e))
}

/// Parses `key=value` / `key: value` lines, `#` and `!` comments (Java `.properties`, simply).
fn parse_properties(text: &str) -> Vec<(String, String)> {
    text.lines()
        .map(str::trim_start)
        .filter(|l| !l.is_empty() && !l.starts_with('#') && !l.starts_with('!'))
        .map(|l| {
            let (k, v) = l.split_at(l.find(['=', ':']).unwrap_or(l.len()));
            (k.trim().to_string(), v.get(1..).unwrap_or("").trim().to_string())
        })
        .collect()
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A self-signed certificate for `localhost`, generated now (Java's test mode).
fn self_signed() -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), RemotingError> {
    let generated = rcgen::generate_simple_self_signed(vec!["localhost".to_string()])
        .map_err(RemotingError::SelfSigned)?;
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(generated.key_pair.serialize_der()));
    Ok((vec![generated.cert.der().clone()], key))
}

/// What the first bytes of a new server connection turned out to be.
/// A connection accepted by [`ServerTls::accept`]: as it came, or after its TLS handshake.
pub enum Accepted {
    Plain(TcpStream),
    Tls(Box<tokio_rustls::server::TlsStream<TcpStream>>),
}

/// The server side of TLS: the mode, the certificate and the client-certificate check. Cheap to
/// clone.
#[derive(Clone)]
pub struct ServerTls {
    mode: TlsMode,
    config: Arc<rustls::ServerConfig>,
    acceptor: tokio_rustls::TlsAcceptor,
}

impl std::fmt::Debug for ServerTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerTls").field("mode", &self.mode).finish()
    }
}

impl ServerTls {
    /// A certificate chain and its (unencrypted) private key, from PEM files; no client
    /// certificates. [`TlsSettings::server`] does the rest of the keys.
    pub fn from_pem_files(
        mode: TlsMode,
        cert_path: &Path,
        key_path: &Path,
    ) -> Result<ServerTls, RemotingError> {
        let certs = read_certs(cert_path)?;
        let key = read_private_key(key_path, None, "tls.server.keyPassword")?;
        Self::build(mode, certs, key, WebPkiClientVerifier::no_client_auth())
    }

    /// A self-signed certificate for `localhost`, generated now (Java's test mode).
    pub fn self_signed(mode: TlsMode) -> Result<ServerTls, RemotingError> {
        let (certs, key) = self_signed()?;
        Self::build(mode, certs, key, WebPkiClientVerifier::no_client_auth())
    }

    fn build(
        mode: TlsMode,
        certs: Vec<CertificateDer<'static>>,
        key: PrivateKeyDer<'static>,
        client_verifier: Arc<dyn ClientCertVerifier>,
    ) -> Result<ServerTls, RemotingError> {
        let config = rustls::ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()?
            .with_client_cert_verifier(client_verifier)
            .with_single_cert(certs, key)?;
        let config = Arc::new(config);
        Ok(ServerTls {
            mode,
            acceptor: tokio_rustls::TlsAcceptor::from(config.clone()),
            config,
        })
    }

    pub fn mode(&self) -> TlsMode {
        self.mode
    }

    /// The same certificate and checks, offering `protocols` by ALPN (gRPC clients ask for
    /// `h2`).
    pub fn with_alpn(&self, protocols: &[&[u8]]) -> ServerTls {
        let mut config = (*self.config).clone();
        config.alpn_protocols = protocols.iter().map(|p| p.to_vec()).collect();
        let config = Arc::new(config);
        ServerTls {
            mode: self.mode,
            acceptor: tokio_rustls::TlsAcceptor::from(config.clone()),
            config,
        }
    }

    /// Looks at the first byte of a new connection (waiting at most `first_byte_wait`) and
    /// completes a TLS handshake when it starts one. `Ok(None)`: the connection is to be closed
    /// (the peer went away, or sent plain remoting to an enforcing server).
    pub async fn accept(
        &self,
        stream: TcpStream,
        first_byte_wait: Duration,
    ) -> std::io::Result<Option<Accepted>> {
        let mut first = [0u8; 1];
        let peeked = tokio::time::timeout(first_byte_wait, stream.peek(&mut first)).await;
        match peeked {
            Err(_) | Ok(Ok(0)) => return Ok(None),
            Ok(Err(e)) => return Err(e),
            Ok(Ok(_)) => {}
        }
        if first[0] != HANDSHAKE_RECORD {
            if self.mode == TlsMode::Enforcing {
                tracing::warn!(peer = ?stream.peer_addr().ok(), "closing a plain connection: this server is in TLS enforcing mode");
                return Ok(None);
            }
            return Ok(Some(Accepted::Plain(stream)));
        }
        match tokio::time::timeout(HANDSHAKE_TIMEOUT, self.acceptor.accept(stream)).await {
            Ok(Ok(tls)) => Ok(Some(Accepted::Tls(Box::new(tls)))),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "TLS handshake timed out",
            )),
        }
    }
}

/// What a client needs besides "TLS on": the CA it trusts, and its own certificate for servers
/// that ask for one (mutual TLS). `Debug` leaves the password out.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct ClientTlsOptions {
    /// PEM CA certificates the server's chain must lead to (the host name is not checked, as
    /// Java's client); `None` trusts any server (Java's test mode).
    pub trust_cert_path: Option<PathBuf>,
    /// PEM certificate chain presented to servers that ask for one; needs `key_path`.
    pub cert_path: Option<PathBuf>,
    /// PEM private key of `cert_path` (PKCS#8, plain or encrypted; PKCS#1 and SEC1 too).
    pub key_path: Option<PathBuf>,
    /// Decrypts an encrypted PKCS#8 `key_path`.
    pub key_password: Option<String>,
}

impl std::fmt::Debug for ClientTlsOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientTlsOptions")
            .field("trust_cert_path", &self.trust_cert_path)
            .field("cert_path", &self.cert_path)
            .field("key_path", &self.key_path)
            .field("key_password", &redacted(&self.key_password))
            .finish()
    }
}

impl ClientTlsOptions {
    /// Reads the files: a missing or unreadable file, a key that does not decrypt, or a
    /// certificate without its key is an error naming the file (never the password).
    pub fn build(&self) -> Result<ClientTls, RemotingError> {
        self.build_named("the client key password")
    }

    /// [`Self::build`], naming the password's setting in errors.
    fn build_named(&self, password_setting: &str) -> Result<ClientTls, RemotingError> {
        let provider = provider();
        let verifier: Arc<dyn ServerCertVerifier> = match &self.trust_cert_path {
            None => Arc::new(TrustAnyServer(provider.clone())),
            Some(ca) => {
                let mut roots = rustls::RootCertStore::empty();
                for cert in read_certs(ca)? {
                    roots.add(cert).map_err(|e| file_error(ca, e))?;
                }
                let inner = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                    .build()
                    .map_err(|e| file_error(ca, e))?;
                Arc::new(ChainOnly(inner))
            }
        };
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .dangerous()
            .with_custom_certificate_verifier(verifier);
        let config = match (&self.cert_path, &self.key_path) {
            (None, None) => config.with_no_client_auth(),
            (Some(cert), Some(key)) => {
                let certs = read_certs(cert)?;
                let key = read_private_key(key, self.key_password.as_deref(), password_setting)?;
                config
                    .with_client_auth_cert(certs, key)
                    .map_err(|e| file_error(cert, e))?
            }
            (Some(_), None) | (None, Some(_)) => {
                return Err(RemotingError::TlsConfig(
                    "a client certificate needs both its certificate (tls.client.certPath) \
                     and its private key (tls.client.keyPath)"
                        .into(),
                ))
            }
        };
        Ok(ClientTls {
            connector: tokio_rustls::TlsConnector::from(Arc::new(config)),
        })
    }
}

/// The client side of TLS. Cheap to clone.
#[derive(Clone)]
pub struct ClientTls {
    connector: tokio_rustls::TlsConnector,
}

impl std::fmt::Debug for ClientTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ClientTls")
    }
}

impl ClientTls {
    /// Trusts any server certificate (Java's test mode, and `tls.client.authServer=false`); no
    /// client certificate.
    pub fn trust_any() -> ClientTls {
        let provider = provider();
        let config = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .expect("ring supports the default protocol versions")
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(TrustAnyServer(provider)))
            .with_no_client_auth();
        ClientTls {
            connector: tokio_rustls::TlsConnector::from(Arc::new(config)),
        }
    }

    /// Trusts servers whose chain leads to a CA certificate of the PEM file `ca_path`. As the Java
    /// client (netty, no endpoint identification), the host name is not checked.
    pub fn trusting(ca_path: &Path) -> Result<ClientTls, RemotingError> {
        ClientTlsOptions {
            trust_cert_path: Some(ca_path.to_path_buf()),
            ..Default::default()
        }
        .build()
    }

    /// Runs the handshake over a connected stream to `addr` (`host:port`).
    pub(crate) async fn connect(
        &self,
        addr: &str,
        stream: TcpStream,
    ) -> std::io::Result<tokio_rustls::client::TlsStream<TcpStream>> {
        let host = addr.rsplit_once(':').map_or(addr, |(h, _)| h);
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let name = ServerName::try_from(host.to_string())
            .unwrap_or_else(|_| ServerName::try_from("localhost").expect("a valid DNS name"));
        self.connector.connect(name, stream).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mode_parses_like_java() {
        assert_eq!(TlsMode::parse("disabled"), TlsMode::Disabled);
        assert_eq!(TlsMode::parse("enforcing"), TlsMode::Enforcing);
        assert_eq!(TlsMode::parse("permissive"), TlsMode::Permissive);
        assert_eq!(TlsMode::parse("ENFORCING"), TlsMode::Permissive);
        assert_eq!(TlsMode::parse("bogus"), TlsMode::Permissive);
    }

    #[test]
    fn config_file_overrides_but_not_the_mode() {
        let dir = std::env::temp_dir().join(format!("rmq-tls-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("tls.properties");
        std::fs::write(
            &file,
            "# comment\ntls.test.mode.enable=false\ntls.server.mode=disabled\ntls.client.trustCertPath = /x/ca.pem\n",
        )
        .unwrap();
        let mut s = TlsSettings::default();
        assert!(s.apply("tls.config.file", file.to_str().unwrap()));
        assert!(s.apply("tls.server.mode", "enforcing"));
        assert!(!s.apply("listenPort", "1"));
        let merged = s.with_config_file().unwrap();
        assert!(!merged.test_mode);
        assert_eq!(merged.server_mode, TlsMode::Enforcing);
        assert_eq!(merged.client_trust_cert_path, Some(PathBuf::from("/x/ca.pem")));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn client_auth_parses_like_java_but_refuses_typos() {
        assert_eq!(ClientAuth::parse("").unwrap(), ClientAuth::None);
        assert_eq!(ClientAuth::parse("none").unwrap(), ClientAuth::None);
        assert_eq!(ClientAuth::parse("Optional").unwrap(), ClientAuth::Optional);
        assert_eq!(ClientAuth::parse(" REQUIRE ").unwrap(), ClientAuth::Require);
        assert!(matches!(
            ClientAuth::parse("required"),
            Err(RemotingError::TlsConfig(_))
        ));
    }

    #[test]
    fn client_auth_needs_a_trust_file() {
        let mut s = TlsSettings {
            config_file: PathBuf::from("/nonexistent/tls.properties"),
            ..Default::default()
        };
        for mode in ["require", "optional", "bogus"] {
            s.apply("tls.server.need.client.auth", mode);
            let err = s.server().unwrap_err();
            assert!(matches!(err, RemotingError::TlsConfig(_)), "{err}");
        }
        s.apply("tls.server.need.client.auth", "none");
        assert!(s.server().unwrap().is_some());
        s.apply("tls.server.need.client.auth", "require");
        s.apply("tls.server.mode", "disabled");
        assert!(s.server().unwrap().is_none());
    }

    #[test]
    fn every_java_key_is_understood_and_debug_hides_passwords() {
        let mut s = TlsSettings::default();
        for (k, v) in [
            ("tls.server.keyPassword", "server-secret"),
            ("tls.server.authClient", "true"),
            ("tls.server.trustCertPath", "/x/clients-ca.pem"),
            ("tls.client.certPath", "/x/client.pem"),
            ("tls.client.keyPath", "/x/client.key"),
            ("tls.client.keyPassword", " client secret "),
        ] {
            assert!(s.apply(k, v), "{k}");
        }
        assert!(s.server_auth_client);
        assert_eq!(s.server_trust_cert_path, Some(PathBuf::from("/x/clients-ca.pem")));
        assert_eq!(s.client_key_password.as_deref(), Some(" client secret "));
        let debug = format!("{s:?}");
        assert!(!debug.contains("secret"), "{debug}");
        assert!(debug.contains("client.pem"), "{debug}");
        s.apply("tls.client.keyPassword", "");
        assert_eq!(s.client_key_password, None);
        let options = ClientTlsOptions {
            key_password: Some("hunter2".into()),
            ..Default::default()
        };
        assert!(!format!("{options:?}").contains("hunter2"));
    }

    #[test]
    fn a_client_certificate_needs_its_key() {
        let options = ClientTlsOptions {
            cert_path: Some(PathBuf::from("/x/client.pem")),
            ..Default::default()
        };
        assert!(matches!(options.build(), Err(RemotingError::TlsConfig(_))));
    }
}
