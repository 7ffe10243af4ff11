//! Certificate and private-key files: PEM certificate chains, and private keys in PKCS#8
//! (plain or encrypted), PKCS#1 or SEC1.
//!
//! Encrypted keys are the PEM `ENCRYPTED PRIVATE KEY` of PKCS#8 (RFC 5958): PBES2 with PBKDF2
//! (HMAC-SHA1/-SHA224/-SHA256/-SHA384/-SHA512) or scrypt, and AES-128/192/256-CBC, which covers
//! `openssl pkcs8 -topk8 -v2 aes-256-cbc` (and `-v2prf`, `-scrypt`) of every OpenSSL version.
//! Not read: PBES1 (`openssl pkcs8 -topk8 -v1 ...`, DES/RC2 with MD5/SHA1) and the legacy
//! OpenSSL PEM encryption (`Proc-Type: 4,ENCRYPTED` headers); both are refused with a message
//! saying how to convert the key. No error ever contains the password.

use std::path::Path;

use pkcs8::der::pem::PemLabel;
use pkcs8::EncryptedPrivateKeyInfoRef;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

use crate::RemotingError;

const ENCRYPTED_BEGIN: &str = "-----BEGIN ENCRYPTED PRIVATE KEY-----";
const ENCRYPTED_END: &str = "-----END ENCRYPTED PRIVATE KEY-----";

pub(super) fn file_error(path: &Path, e: impl std::fmt::Display) -> RemotingError {
    RemotingError::TlsFile {
        path: path.to_path_buf(),
        reason: e.to_string(),
    }
}

/// Every `CERTIFICATE` of a PEM file, in order; an error when there is none.
pub(super) fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, RemotingError> {
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| file_error(path, e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| file_error(path, e))?;
    if certs.is_empty() {
        return Err(file_error(path, "no CERTIFICATE in the file"));
    }
    Ok(certs)
}

/// The private key of a PEM file, decrypted with `password` when it is an encrypted PKCS#8 key.
/// `password_setting` names where the password comes from, for the error messages (never the
/// password itself).
pub(super) fn read_private_key(
    path: &Path,
    password: Option<&str>,
    password_setting: &str,
) -> Result<PrivateKeyDer<'static>, RemotingError> {
    let pem = std::fs::read(path).map_err(|e| file_error(path, e))?;
    if let Some(block) = encrypted_block(&pem) {
        let Some(password) = password else {
            return Err(file_error(
                path,
                format!("the private key is encrypted and no password is set ({password_setting})"),
            ));
        };
        return decrypt(block, password).map_err(|reason| file_error(path, reason));
    }
    if contains(&pem, b"Proc-Type: 4,ENCRYPTED") {
        return Err(file_error(
            path,
            "legacy OpenSSL-encrypted PEM key (Proc-Type: 4,ENCRYPTED) is not supported; \
             convert it to encrypted PKCS#8: openssl pkcs8 -topk8 -v2 aes-256-cbc -in KEY -out KEY.p8",
        ));
    }
    if password.is_some() {
        tracing::warn!(key = %path.display(), setting = password_setting, "the private key is not encrypted; its password is ignored");
    }
    PrivateKeyDer::from_pem_slice(&pem).map_err(|e| file_error(path, e))
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// The `ENCRYPTED PRIVATE KEY` block of a PEM file (which may hold other blocks too).
fn encrypted_block(pem: &[u8]) -> Option<&[u8]> {
    let text = std::str::from_utf8(pem).ok()?;
    let start = text.find(ENCRYPTED_BEGIN)?;
    let end = start + text[start..].find(ENCRYPTED_END)? + ENCRYPTED_END.len();
    Some(&pem[start..end])
}

/// Decrypts one `ENCRYPTED PRIVATE KEY` PEM block into a plain PKCS#8 key.
fn decrypt(block: &[u8], password: &str) -> Result<PrivateKeyDer<'static>, String> {
    let (label, der) =
        pkcs8::der::pem::decode_vec(block).map_err(|e| format!("bad encrypted PEM block: {e}"))?;
    debug_assert_eq!(label, EncryptedPrivateKeyInfoRef::PEM_LABEL);
    let info = EncryptedPrivateKeyInfoRef::try_from(der.as_slice()).map_err(|e| {
        format!(
            "not an encrypted PKCS#8 key this build reads ({e}); \
                 re-encrypt it: openssl pkcs8 -topk8 -v2 aes-256-cbc"
        )
    })?;
    let plain = info.decrypt(password.as_bytes()).map_err(decrypt_error)?;
    Ok(PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
        plain.as_bytes().to_vec(),
    )))
}

fn decrypt_error(e: pkcs8::Error) -> String {
    use pkcs8::pkcs5::Error as Pbes;
    match e {
        pkcs8::Error::EncryptedPrivateKey(Pbes::UnsupportedAlgorithm { oid }) => format!(
            "the key's encryption scheme ({oid}) is not supported; \
             re-encrypt it: openssl pkcs8 -topk8 -v2 aes-256-cbc"
        ),
        pkcs8::Error::EncryptedPrivateKey(Pbes::NoPbes1CryptSupport) => {
            "PBES1-encrypted keys (openssl pkcs8 -v1) are not supported; \
             re-encrypt it: openssl pkcs8 -topk8 -v2 aes-256-cbc"
                .to_string()
        }
        // A wrong password shows as bad padding, or (rarely) as garbage that is not a key.
        _ => "cannot decrypt the private key: wrong password".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_encrypted_block_among_others() {
        let pem = format!("junk\n{ENCRYPTED_BEGIN}\nAAAA\n{ENCRYPTED_END}\ntrailer\n");
        let block = encrypted_block(pem.as_bytes()).unwrap();
        assert!(block.starts_with(ENCRYPTED_BEGIN.as_bytes()));
        assert!(block.ends_with(ENCRYPTED_END.as_bytes()));
        assert!(encrypted_block(b"-----BEGIN PRIVATE KEY-----\n").is_none());
    }

    #[test]
    fn garbage_in_an_encrypted_block_is_an_error_not_a_panic() {
        let pem = format!("{ENCRYPTED_BEGIN}\nAAAA\n{ENCRYPTED_END}\n");
        let err = decrypt(pem.as_bytes(), "pw").unwrap_err();
        assert!(!err.contains("pw"), "{err}");
    }
}
