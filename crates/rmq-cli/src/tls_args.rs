//! `--tls`, `--tls-ca`, `--tls-cert`, `--tls-key`, `--tls-key-password`: TLS for every client
//! command, as the Java client's `tls.enable` and `tls.client.*` keys (docs/broker/tls.md#clients).

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use rmq_client::{ClientTls, ClientTlsOptions};

/// The environment variable read when `--tls-key-password` is not given (a flag is visible to
/// every user of the machine in the process list).
pub const KEY_PASSWORD_ENV: &str = "RMQ_TLS_KEY_PASSWORD";

/// `Debug` leaves the password out.
#[derive(Args, Clone, Default)]
pub struct TlsArgs {
    /// Connect over TLS, as Java's `-Dtls.enable=true`; without --tls-ca any server certificate
    /// is trusted (Java's default test mode).
    #[arg(id = "tls_enable", long = "tls")]
    pub enable: bool,
    /// PEM CA certificates the server's certificate must lead to (host names are not checked, as
    /// in the Java client). Implies --tls.
    #[arg(id = "tls_ca", long = "tls-ca", value_name = "PEM")]
    pub ca: Option<PathBuf>,
    /// PEM certificate chain to present to servers that ask for one
    /// (tls.server.need.client.auth). Implies --tls.
    #[arg(id = "tls_cert", long = "tls-cert", value_name = "PEM", requires = "tls_key")]
    pub cert: Option<PathBuf>,
    /// PEM private key of --tls-cert: PKCS#8 (plain, or encrypted with a password), PKCS#1, SEC1.
    #[arg(id = "tls_key", long = "tls-key", value_name = "PEM", requires = "tls_cert")]
    pub key: Option<PathBuf>,
    /// Password of an encrypted --tls-key (or env RMQ_TLS_KEY_PASSWORD).
    #[arg(
        id = "tls_key_password",
        long = "tls-key-password",
        value_name = "PASSWORD",
        requires = "tls_key"
    )]
    pub key_password: Option<String>,
}

impl std::fmt::Debug for TlsArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsArgs")
            .field("enable", &self.enable)
            .field("ca", &self.ca)
            .field("cert", &self.cert)
            .field("key", &self.key)
            .field("key_password", &self.key_password.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

impl TlsArgs {
    /// The connector the flags ask for, `None` for plain connections. A file that cannot be
    /// read, or a key that does not decrypt, is an error naming the file.
    pub fn client_tls(&self) -> anyhow::Result<Option<ClientTls>> {
        if !self.enable && self.ca.is_none() && self.cert.is_none() {
            return Ok(None);
        }
        let key_password = self
            .key_password
            .clone()
            .or_else(|| std::env::var(KEY_PASSWORD_ENV).ok().filter(|v| !v.is_empty()));
        let options = ClientTlsOptions {
            trust_cert_path: self.ca.clone(),
            cert_path: self.cert.clone(),
            key_path: self.key.clone(),
            key_password,
        };
        let tls = options
            .build()
            .context("TLS (--tls-ca / --tls-cert / --tls-key)")?;
        Ok(Some(tls))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        tls: TlsArgs,
    }

    fn parse(args: &[&str]) -> Result<TlsArgs, clap::Error> {
        Cli::try_parse_from(std::iter::once("rmq").chain(args.iter().copied())).map(|c| c.tls)
    }

    #[test]
    fn flags() {
        assert!(parse(&[]).unwrap().client_tls().unwrap().is_none());
        assert!(parse(&["--tls"]).unwrap().client_tls().unwrap().is_some());
        let full = parse(&[
            "--tls-cert",
            "/x/c.pem",
            "--tls-key",
            "/x/k.pem",
            "--tls-key-password",
            "pw",
            "--tls-ca",
            "/x/ca.pem",
        ])
        .unwrap();
        assert_eq!(full.key_password.as_deref(), Some("pw"));
        assert!(!full.enable, "--tls-cert implies TLS without --tls");
        // A certificate needs its key, and the other way round.
        assert!(parse(&["--tls-cert", "/x/c.pem"]).is_err());
        assert!(parse(&["--tls-key", "/x/k.pem"]).is_err());
    }

    #[test]
    fn a_missing_file_is_named() {
        let args = parse(&["--tls-ca", "/nonexistent/ca.pem"]).unwrap();
        let err = format!("{:#}", args.client_tls().unwrap_err());
        assert!(err.contains("/nonexistent/ca.pem"), "{err}");
    }
}
