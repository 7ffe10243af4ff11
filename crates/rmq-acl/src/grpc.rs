//! The credentials of the 5.x gRPC SDKs (docs/broker/acl.md#grpc).
//!
//! Every RPC carries `x-mq-date-time` (`yyyyMMdd'T'HHmmss'Z'`, the client's local time) and
//! `authorization: MQv2-HMAC-SHA1 Credential=<AK>[/...], SignedHeaders=x-mq-date-time,
//! Signature=<hex HmacSHA1(secret, date-time)>` (Java SDK upper-case hex, Go lower-case, Go's
//! credential `AK//Rocketmq`). Java 5.3.1: `DefaultAuthenticationContextBuilder.build(Metadata,
//! ..)` for ACL 2.0, `PlainAccessResource.parse(GeneratedMessageV3, AuthenticationHeader)` for
//! ACL 1.0; neither checks the date's age nor the session token.

use crate::sign::SigningKey;
use crate::Denied;

/// The `authorization` header, parsed.
#[derive(Clone, PartialEq, Eq)]
pub struct Signed {
    pub access_key: String,
    /// The decoded HMAC.
    pub signature: Vec<u8>,
    /// `x-mq-date-time`: what the signature covers.
    pub date_time: String,
}

impl std::fmt::Debug for Signed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signed")
            .field("access_key", &self.access_key)
            .field("date_time", &self.date_time)
            .finish_non_exhaustive()
    }
}

impl Signed {
    /// Whether the signature is the MAC of the date under `key` (constant time).
    pub fn verifies(&self, key: &SigningKey) -> bool {
        key.verifies(self.date_time.as_bytes(), &self.signature)
    }
}

/// The two headers as Java's builder reads them: no `authorization` is no credentials
/// (`Ok(None)`: the request is anonymous, which authentication refuses); an unreadable one is
/// refused with Java's message.
pub fn parse(authorization: Option<&str>, date_time: Option<&str>) -> Result<Option<Signed>, Denied> {
    let Some(auth) = authorization.map(str::trim).filter(|a| !a.is_empty()) else {
        return Ok(None);
    };
    let Some(date_time) = date_time.map(str::trim).filter(|d| !d.is_empty()) else {
        return Err(Denied::new("datetime is null."));
    };
    let Some((_algorithm, rest)) = auth.split_once(' ') else {
        return Err(Denied::new("authentication header is incorrect."));
    };
    let mut access_key = None;
    let mut signature = None;
    for item in rest.split(',') {
        let Some((k, v)) = item.trim().split_once('=') else {
            return Err(Denied::new(
                "authentication keyValues length is incorrect, actual length=1.",
            ));
        };
        match k.trim() {
            "Credential" => access_key = Some(v.split('/').next().unwrap_or("").trim().to_string()),
            "Signature" => {
                signature =
                    Some(hex(v.trim()).ok_or_else(|| Denied::new("create authentication context error."))?)
            }
            _ => {}
        }
    }
    Ok(Some(Signed {
        access_key: access_key.unwrap_or_default(),
        signature: signature.unwrap_or_default(),
        date_time: date_time.to_string(),
    }))
}

/// Hex of either case; `None` for an odd length or another character.
fn hex(s: &str) -> Option<Vec<u8>> {
    let digit = |b: u8| match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    };
    let bytes = s.as_bytes();
    if !bytes.len().is_multiple_of(2) {
        return None;
    }
    bytes
        .chunks_exact(2)
        .map(|p| Some(digit(p[0])? << 4 | digit(p[1])?))
        .collect()
}

/// What an SDK puts in `authorization` for `date_time` (rmq's own gRPC clients and tests).
pub fn authorization(access_key: &str, secret_key: &str, date_time: &str) -> String {
    let tag = SigningKey::new(secret_key).tag(date_time.as_bytes());
    let hex: String = tag.iter().map(|b| format!("{b:02X}")).collect();
    format!("MQv2-HMAC-SHA1 Credential={access_key}, SignedHeaders=x-mq-date-time, Signature={hex}")
}

#[cfg(test)]
mod tests {
    use super::*;

    const DATE: &str = "20261204T231500Z";

    #[test]
    fn the_java_and_go_forms_both_verify() {
        let java = authorization("rocketmq2", "12345678", DATE);
        let s = parse(Some(&java), Some(DATE)).unwrap().unwrap();
        assert_eq!(s.access_key, "rocketmq2");
        assert!(s.verifies(&SigningKey::new("12345678")));
        assert!(!s.verifies(&SigningKey::new("12345679")));
        // Go: lower-case hex, `AK//Rocketmq`.
        let go = java
            .replace("Credential=rocketmq2", "Credential=rocketmq2//Rocketmq")
            .to_lowercase()
            .replace("mqv2-hmac-sha1 credential=", "MQv2-HMAC-SHA1 Credential=")
            .replace("signedheaders", "SignedHeaders")
            .replace("signature=", "Signature=");
        let s = parse(Some(&go), Some(DATE)).unwrap().unwrap();
        assert_eq!(s.access_key, "rocketmq2");
        assert!(s.verifies(&SigningKey::new("12345678")));
        // Another date: the same signature no longer verifies.
        let other = parse(Some(&java), Some("20261204T231501Z")).unwrap().unwrap();
        assert!(!other.verifies(&SigningKey::new("12345678")));
    }

    #[test]
    fn unreadable_headers_get_javas_messages() {
        assert_eq!(parse(None, Some(DATE)), Ok(None));
        assert_eq!(parse(Some(""), None), Ok(None));
        let e = |a: &str, d: Option<&str>| parse(Some(a), d).unwrap_err().reason;
        assert_eq!(e("MQv2-HMAC-SHA1 Credential=a", None), "datetime is null.");
        assert_eq!(
            e("MQv2-HMAC-SHA1", Some(DATE)),
            "authentication header is incorrect."
        );
        assert_eq!(
            e("MQv2-HMAC-SHA1 Credential", Some(DATE)),
            "authentication keyValues length is incorrect, actual length=1."
        );
        assert_eq!(
            e("MQv2-HMAC-SHA1 Credential=a, Signature=XYZ", Some(DATE)),
            "create authentication context error."
        );
    }
}
