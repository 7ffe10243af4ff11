//! `rmq admin` and `rmq produce` with `--tls-cert` / `--tls-key` (docs/broker/tls.md#clients)
//! against an `rmq broker` process that requires client certificates: a client with a
//! certificate of the trusted CA (its key encrypted when an `openssl` binary exists, the password
//! from RMQ_TLS_KEY_PASSWORD) works; one without a certificate, or with a wrong password, does
//! not.
#![allow(clippy::unwrap_used, reason = "test code")]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const PASSWORD: &str = "cli-key-pass";

fn rmq(args: &[&str], key_password: Option<&str>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_rmq"));
    cmd.args(args)
        .env("RUST_LOG", "warn")
        .env_remove("RMQ_TLS_KEY_PASSWORD");
    if let Some(p) = key_password {
        cmd.env("RMQ_TLS_KEY_PASSWORD", p);
    }
    cmd.output().expect("run rmq")
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// A CA, a server certificate and a client certificate it signed, as PEM files; the client key
/// encrypted with [`PASSWORD`] when openssl can do it (`Some(password)` then).
fn pki(
    dir: &Path,
) -> (
    PathBuf,
    (PathBuf, PathBuf),
    (PathBuf, PathBuf),
    Option<&'static str>,
) {
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let ca = params.self_signed(&ca_key).unwrap();
    let ca_path = dir.join("ca.pem");
    std::fs::write(&ca_path, ca.pem()).unwrap();
    let issue = |name: &str| {
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec![name.to_string()])
            .unwrap()
            .signed_by(&key, &ca, &ca_key)
            .unwrap();
        let (c, k) = (dir.join(format!("{name}.pem")), dir.join(format!("{name}.key")));
        std::fs::write(&c, cert.pem() + &ca.pem()).unwrap();
        std::fs::write(&k, key.serialize_pem()).unwrap();
        (c, k)
    };
    let server = issue("broker.test");
    let (client_cert, client_key) = issue("app");
    let encrypted = dir.join("app.p8");
    let made = Command::new("openssl")
        .args(["pkcs8", "-topk8", "-v2", "aes-256-cbc", "-in"])
        .arg(&client_key)
        .arg("-out")
        .arg(&encrypted)
        .arg("-passout")
        .arg(format!("pass:{PASSWORD}"))
        .status()
        .is_ok_and(|s| s.success());
    if made {
        (ca_path, server, (client_cert, encrypted), Some(PASSWORD))
    } else {
        eprintln!("no openssl binary: the client key stays unencrypted");
        (ca_path, server, (client_cert, client_key), None)
    }
}

#[test]
fn client_certificates_from_the_command_line() {
    let dir = common::temp_dir();
    let (ca, server, client, password) = pki(dir.path());
    let (_ns, ns) = common::namesrv(dir.path());
    let extra = format!(
        "tls.server.mode=enforcing\ntls.test.mode.enable=false\ntls.server.certPath={}\n\
         tls.server.keyPath={}\ntls.server.need.client.auth=require\ntls.server.authClient=true\n\
         tls.server.trustCertPath={}\ntls.config.file={}",
        server.0.display(),
        server.1.display(),
        ca.display(),
        dir.path().join("absent.properties").display()
    );
    let (_broker, broker) = common::broker(dir.path(), &ns, &extra);
    let (cert, key) = (client.0.to_str().unwrap(), client.1.to_str().unwrap());
    let with_cert = ["--tls-cert", cert, "--tls-key", key];

    let mut create = vec![
        "admin",
        "updateTopic",
        "-t",
        "MtlsCliTopic",
        "-b",
        &broker,
        "-n",
        &ns,
    ];
    create.extend_from_slice(&with_cert);
    let out = rmq(&create, password);
    assert!(out.status.success(), "{}", text(&out));

    let produce = ["produce", "-n", &ns, "-t", "MtlsCliTopic", "-c", "2"];
    let mut sent_args = produce.to_vec();
    sent_args.extend_from_slice(&with_cert);
    let sent = rmq(&sent_args, password);
    assert!(sent.status.success(), "{}", text(&sent));
    assert_eq!(text(&sent).matches("SEND_OK").count(), 2, "{}", text(&sent));

    // TLS without a certificate: the broker refuses the handshake, every send fails.
    let mut anonymous = produce.to_vec();
    anonymous.push("--tls");
    let refused = rmq(&anonymous, None);
    assert!(!refused.status.success(), "{}", text(&refused));

    if password.is_some() {
        // A wrong password fails before anything is sent, naming the key file, not the password.
        let wrong = rmq(&sent_args, Some("not-the-pass"));
        assert!(!wrong.status.success());
        let out = text(&wrong);
        assert!(out.contains(key) && out.contains("wrong password"), "{out}");
        assert!(!out.contains("not-the-pass"), "{out}");
    }
}
