//! TLS, as RocketMQ 4.9 does it: the `tls.*` keys of Java's `TlsSystemConfig`, the server's
//! first-byte sniffing (`tls.server.mode`), and the client's connector (`tls.enable`).
//!
//! Server modes: `disabled` serves plain remoting only (a TLS hello looks like a frame far over
//! the size limit and closes its connection); `permissive` (the default) looks at the first byte
//! of each connection, 0x16 (a TLS handshake record) is TLS and anything else plain remoting;
//! `enforcing` closes a connection whose first byte is not 0x16.
//!
//! Test mode (`tls.test.mode.enable`, default true, as Java): the server without a configured
//! certificate uses a self-signed one generated at startup, and the client trusts any server
//! certificate. Not supported: client certificates (`tls.server.need.client.auth` other than
//! `none`) and encrypted private keys (`tls.server.keyPassword`); both are refused at startup.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, SignatureScheme};
use tokio::net::TcpStream;

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

/// The `tls.*` keys (Java's `TlsSystemConfig`), from `broker.conf`, the name server's properties
/// file, or the file named by `tls.config.file`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsSettings {
    /// `tls.server.mode` (permissive).
    pub server_mode: TlsMode,
    /// `tls.enable` (false): this process's own client connections use TLS.
    pub client_enable: bool,
    /// `tls.test.mode.enable` (true).
    pub test_mode: bool,
    /// `tls.server.certPath`: PEM certificate chain.
    pub server_cert_path: Option<PathBuf>,
    /// `tls.server.keyPath`: PEM private key (PKCS#8; PKCS#1 and SEC1 are accepted too).
    pub server_key_path: Option<PathBuf>,
    /// `tls.server.keyPassword`: refused (encrypted keys are not supported).
    pub server_key_password: Option<String>,
    /// `tls.server.need.client.auth` (none): only `none` is supported.
    pub server_need_client_auth: String,
    /// `tls.client.authServer` (false): verify the server's certificate outside test mode.
    pub client_auth_server: bool,
    /// `tls.client.trustCertPath`: PEM CA certificates the client trusts.
    pub client_trust_cert_path: Option<PathBuf>,
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
            client_auth_server: false,
            client_trust_cert_path: None,
            config_file: PathBuf::from(DEFAULT_CONFIG_FILE),
        }
    }
}

fn path(v: &str) -> Option<PathBuf> {
    let v = v.trim();
    (!v.is_empty()).then(|| PathBuf::from(v))
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
            "tls.server.keyPassword" => {
                self.server_key_password = Some(value.trim().to_string()).filter(|s| !s.is_empty())
            }
            "tls.server.need.client.auth" => self.server_need_client_auth = value.trim().to_string(),
            "tls.client.authServer" => self.client_auth_server = boolean(value),
            "tls.client.trustCertPath" => self.client_trust_cert_path = path(value),
            // Known Java keys for client certificates (mTLS), which are not supported.
            "tls.server.authClient"
            | "tls.server.trustCertPath"
            | "tls.client.keyPath"
            | "tls.client.keyPassword"
            | "tls.client.certPath" => {
                tracing::warn!(key, "client certificates (mTLS) are not supported; key ignored")
            }
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
        if s.server_need_client_auth != "none" {
            return Err(RemotingError::TlsConfig(format!(
                "tls.server.need.client.auth={} is not supported (client certificates); use none",
                s.server_need_client_auth
            )));
        }
        let acceptor = match (&s.server_cert_path, &s.server_key_path) {
            (Some(cert), Some(key)) => {
                if s.server_key_password.is_some() {
                    return Err(RemotingError::TlsConfig(
                        "tls.server.keyPassword: encrypted private keys are not supported; \
                         decrypt the key (openssl pkcs8 -topk8 -nocrypt) and drop the password"
                            .into(),
                    ));
                }
                ServerTls::from_pem_files(self.server_mode, cert, key)?
            }
            (None, None) if s.test_mode => ServerTls::self_signed(self.server_mode)?,
            _ => {
                return Err(RemotingError::TlsConfig(
                    "tls.server.certPath and tls.server.keyPath are both needed \
                     (or tls.test.mode.enable=true for a self-signed certificate)"
                        .into(),
                ))
            }
        };
        Ok(Some(acceptor))
    }

    /// The client side, for when `tls.enable` (or a client's `use_tls`) is set.
    pub fn client(&self) -> Result<ClientTls, RemotingError> {
        let s = self.with_config_file()?;
        if s.test_mode || !s.client_auth_server {
            return Ok(ClientTls::trust_any());
        }
        match &s.client_trust_cert_path {
            Some(ca) => ClientTls::trusting(ca),
            None => Err(RemotingError::TlsConfig(
                "tls.client.authServer=true needs tls.client.trustCertPath (no system trust store is used)"
                    .into(),
            )),
        }
    }
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

fn file_error(path: &Path, e: impl std::fmt::Display) -> RemotingError {
    RemotingError::TlsFile {
        path: path.to_path_buf(),
        reason: e.to_string(),
    }
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// What the first bytes of a new server connection turned out to be.
pub(crate) enum Accepted {
    Plain(TcpStream),
    Tls(Box<tokio_rustls::server::TlsStream<TcpStream>>),
}

/// The server side of TLS: the mode and the certificate. Cheap to clone.
#[derive(Clone)]
pub struct ServerTls {
    mode: TlsMode,
    acceptor: tokio_rustls::TlsAcceptor,
}

impl std::fmt::Debug for ServerTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerTls").field("mode", &self.mode).finish()
    }
}

impl ServerTls {
    /// A certificate chain and its private key, from PEM files.
    pub fn from_pem_files(
        mode: TlsMode,
        cert_path: &Path,
        key_path: &Path,
    ) -> Result<ServerTls, RemotingError> {
        let certs = read_certs(cert_path)?;
        let key_pem = std::fs::read(key_path).map_err(|e| file_error(key_path, e))?;
        if key_pem.windows(9).any(|w| w == b"ENCRYPTED") {
            return Err(file_error(
                key_path,
                "encrypted private keys are not supported; decrypt it (openssl pkcs8 -topk8 -nocrypt)",
            ));
        }
        let key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| file_error(key_path, e))?;
        Self::new(mode, certs, key)
    }

    /// A self-signed certificate for `localhost`, generated now (Java's test mode).
    pub fn self_signed(mode: TlsMode) -> Result<ServerTls, RemotingError> {
        let generated = rcgen::generate_simple_self_signed(vec!["localhost".to_string()])
            .map_err(RemotingError::SelfSigned)?;
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(generated.key_pair.serialize_der()));
        Self::new(mode, vec![generated.cert.der().clone()], key)
    }

    fn new(
        mode: TlsMode,
        certs: Vec<CertificateDer<'static>>,
        key: PrivateKeyDer<'static>,
    ) -> Result<ServerTls, RemotingError> {
        let config = rustls::ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_single_cert(certs, key)?;
        Ok(ServerTls {
            mode,
            acceptor: tokio_rustls::TlsAcceptor::from(Arc::new(config)),
        })
    }

    pub fn mode(&self) -> TlsMode {
        self.mode
    }

    /// Looks at the first byte of a new connection (waiting at most `first_byte_wait`) and
    /// completes a TLS handshake when it starts one. `Ok(None)`: the connection is to be closed
    /// (the peer went away, or sent plain remoting to an enforcing server).
    pub(crate) async fn accept(
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
    /// Trusts any server certificate (Java's test mode, and `tls.client.authServer=false`).
    pub fn trust_any() -> ClientTls {
        let provider = provider();
        Self::with_verifier(Arc::new(TrustAnyServer(provider.clone())), provider)
    }

    /// Trusts servers whose chain leads to a CA certificate of the PEM file `ca_path`. As the Java
    /// client (netty, no endpoint identification), the host name is not checked.
    pub fn trusting(ca_path: &Path) -> Result<ClientTls, RemotingError> {
        let mut roots = rustls::RootCertStore::empty();
        for cert in read_certs(ca_path)? {
            roots.add(cert)?;
        }
        let provider = provider();
        let inner = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
            .build()
            .map_err(|e| file_error(ca_path, e))?;
        Ok(Self::with_verifier(Arc::new(ChainOnly(inner)), provider))
    }

    fn with_verifier(verifier: Arc<dyn ServerCertVerifier>, provider: Arc<CryptoProvider>) -> ClientTls {
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("ring supports the default protocol versions")
            .dangerous()
            .with_custom_certificate_verifier(verifier)
            .with_no_client_auth();
        ClientTls {
            connector: tokio_rustls::TlsConnector::from(Arc::new(config)),
        }
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

fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, RemotingError> {
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| file_error(path, e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| file_error(path, e))?;
    if certs.is_empty() {
        return Err(file_error(path, "no CERTIFICATE in the file"));
    }
    Ok(certs)
}

/// Accepts any certificate, but still checks the handshake signatures made with it.
#[derive(Debug)]
struct TrustAnyServer(Arc<CryptoProvider>);

impl ServerCertVerifier for TrustAnyServer {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// WebPKI chain verification without the host-name check.
#[derive(Debug)]
struct ChainOnly(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
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
    fn unsupported_settings_are_refused() {
        let mut s = TlsSettings {
            config_file: PathBuf::from("/nonexistent/tls.properties"),
            ..Default::default()
        };
        s.apply("tls.server.need.client.auth", "require");
        assert!(matches!(s.server(), Err(RemotingError::TlsConfig(_))));
        s.apply("tls.server.need.client.auth", "none");
        s.apply("tls.server.certPath", "/x/cert.pem");
        s.apply("tls.server.keyPath", "/x/key.pem");
        s.apply("tls.server.keyPassword", "secret");
        assert!(matches!(s.server(), Err(RemotingError::TlsConfig(_))));
        s.apply("tls.server.mode", "disabled");
        assert!(s.server().unwrap().is_none());
    }
}
