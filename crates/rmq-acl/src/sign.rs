//! The request signature of the official clients' `AclClientRPCHook` (docs/broker/acl.md#signature).
//!
//! The client adds `AccessKey` (and `SecurityToken` when it has one) to the request's ext fields,
//! then signs the concatenation of every ext field's *value* in key order (without `Signature`),
//! followed by the body: `Base64(HmacSHA1(secretKey, content))`, put in `Signature`.
//! Java: `acl/.../common/AclClientRPCHook.java`, `AclUtils.combineRequestContent`, `AclSigner`.

use std::collections::HashMap;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};
use sha1::Sha1;

/// HMAC-SHA1 from RustCrypto: its SHA-1 uses the CPU's SHA extensions (x86 SHA-NI, ARMv8 SHA)
/// when present, detected at run time, where ring's SHA-1 is portable code. The signature covers
/// the whole body, so this is most of what ACL costs per message (BENCHMARKS.md, "ACL cost").
type HmacSha1 = Hmac<Sha1>;

/// A secret ready to sign or verify with: HMAC's key schedule (the inner and outer padded keys,
/// two SHA-1 blocks) done once, so each request costs only the hashing of its own content.
/// The broker keeps one per account.
#[derive(Clone)]
pub struct SigningKey(HmacSha1);

impl SigningKey {
    pub fn new(secret: &str) -> Self {
        // HMAC takes a key of any length (longer ones are hashed): new_from_slice cannot fail.
        match HmacSha1::new_from_slice(secret.as_bytes()) {
            Ok(m) => SigningKey(m),
            Err(_) => unreachable!("HMAC accepts keys of every length"),
        }
    }

    /// The MAC of the values of `fields` in Java's key order (`skip` left out), then `body`. The
    /// values go to HMAC through a small stack buffer (a request's values are a few hundred bytes,
    /// and one `update` per value would copy each through SHA-1's block buffer separately); the
    /// body is hashed in place.
    fn mac<'a>(
        &self,
        fields: impl IntoIterator<Item = (&'a str, &'a str)>,
        body: &[u8],
        skip: impl FnMut(&'a str, &'a str) -> bool,
    ) -> HmacSha1 {
        let mut m = self.0.clone();
        let mut buf = [0u8; 256];
        let mut len = 0;
        in_key_order(fields, skip, |v| {
            let v = v.as_bytes();
            if len + v.len() > buf.len() {
                m.update(&buf[..len]);
                len = 0;
            }
            if v.len() > buf.len() {
                m.update(v);
            } else {
                buf[len..len + v.len()].copy_from_slice(v);
                len += v.len();
            }
        });
        m.update(&buf[..len]);
        m.update(body);
        m
    }
}

impl SigningKey {
    /// The MAC of `content`.
    pub fn tag(&self, content: &[u8]) -> Vec<u8> {
        let mut m = self.0.clone();
        m.update(content);
        m.finalize().into_bytes().to_vec()
    }

    /// Whether `tag` is the MAC of `content`, compared in constant time.
    pub fn verifies(&self, content: &[u8], tag: &[u8]) -> bool {
        let mut m = self.0.clone();
        m.update(content);
        m.verify_slice(tag).is_ok()
    }
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SigningKey(<redacted>)")
    }
}

fn mac(secret: &str, content: &[u8]) -> HmacSha1 {
    let mut m = SigningKey::new(secret).0;
    m.update(content);
    m
}

/// Ext field carrying the access key.
pub const ACCESS_KEY: &str = "AccessKey";
/// Ext field carrying the signature.
pub const SIGNATURE: &str = "Signature";
/// Ext field carrying the optional security token (signed like any other field).
pub const SECURITY_TOKEN: &str = "SecurityToken";
/// The QUERY_MESSAGE flag clients up to 4.9.3 left out of the signature.
pub const UNIQUE_KEY_QUERY: &str = rmq_protocol::header::UNIQUE_KEY_QUERY;
/// `MQVersion.Version.V4_9_3.ordinal()`: requests of this version or older signed without
/// [`UNIQUE_KEY_QUERY`] (Java 5.x `PlainAccessResource.parse`).
pub const V4_9_3: i32 = 399;

/// What a client signs with.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub access_key: String,
    pub secret_key: String,
    pub security_token: Option<String>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The secret never reaches a log line.
        f.debug_struct("Credentials")
            .field("access_key", &self.access_key)
            .field("secret_key", &"<redacted>")
            .field(
                "security_token",
                &self.security_token.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

impl Credentials {
    pub fn new(access_key: impl Into<String>, secret_key: impl Into<String>) -> Self {
        Self {
            access_key: access_key.into(),
            secret_key: secret_key.into(),
            security_token: None,
        }
    }
}

/// The bytes a signature covers: the values of `fields` in key order, `skip` left out, then
/// `body`. Keys compare as Java's `TreeMap<String,_>` does.
pub fn content<'a>(
    fields: impl IntoIterator<Item = (&'a str, &'a str)>,
    body: &[u8],
    skip: impl Fn(&str) -> bool,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() + 256);
    in_key_order(fields, |k, _| skip(k), |v| out.extend_from_slice(v.as_bytes()));
    out.extend_from_slice(body);
    out
}

/// A request's fields fit on the stack (a send carries about sixteen).
const INLINE_FIELDS: usize = 20;

/// Calls `each` with the values of `fields` (those `skip` answers true for left out) in the order of Java's
/// `String.compareTo` on their keys (UTF-16 code units). UTF-8 byte order is code point order,
/// and the two differ only where a supplementary character (4-byte UTF-8) meets U+E000..U+FFFF,
/// so ASCII keys (every key the protocol uses) sort as plain bytes; any other key set takes
/// Java's comparison.
///
/// The common case sorts integers, not strings: each key's first eight bytes, big-endian and
/// zero-padded, above its index (the send path's keys are one letter long; `AccessKey` and
/// `Signature` differ in their first). Two keys with the same prefix (sharing eight bytes, or
/// differing only by trailing NULs) take the string sort instead. This runs on every signed
/// request: a `memcmp` call per comparison was a third of the check's cost.
fn in_key_order<'a>(
    fields: impl IntoIterator<Item = (&'a str, &'a str)>,
    mut skip: impl FnMut(&'a str, &'a str) -> bool,
    mut each: impl FnMut(&'a str),
) {
    let mut pairs: smallvec::SmallVec<[(&'a str, &'a str); INLINE_FIELDS]> =
        fields.into_iter().filter(|(k, v)| !skip(k, v)).collect();
    if by_first_byte(&pairs, &mut each) {
        return;
    }
    let mut ascii = true;
    let mut order: smallvec::SmallVec<[u128; INLINE_FIELDS]> = pairs
        .iter()
        .enumerate()
        .map(|(i, (k, _))| {
            ascii &= k.is_ascii();
            (u128::from(prefix(k.as_bytes())) << 64) | i as u128
        })
        .collect();
    if ascii {
        order.sort_unstable();
        if order.windows(2).all(|w| w[0] >> 64 != w[1] >> 64) {
            for o in &order {
                each(pairs[*o as u64 as usize].1);
            }
            return;
        }
        pairs.sort_unstable_by(|a, b| a.0.cmp(b.0));
    } else {
        pairs.sort_unstable_by(|a, b| java_cmp(a.0, b.0));
    }
    for (_, v) in pairs {
        each(v);
    }
}

/// The commonest case without sorting: when every key starts with a different ASCII byte, that
/// byte alone orders them (the send path's one-letter keys `a`..`n`, `AccessKey`,
/// `SecurityToken`). A 128-bit set of first bytes, each pointing at its field, is read out in bit
/// order. Returns false, having called nothing, when two keys share a first byte, a key is empty
/// or does not start with ASCII.
fn by_first_byte<'a>(pairs: &[(&'a str, &'a str)], each: &mut impl FnMut(&'a str)) -> bool {
    let mut seen = 0u128;
    let mut at = [0u8; 128];
    for (i, (k, _)) in pairs.iter().enumerate() {
        let Some(&b) = k.as_bytes().first() else {
            return false;
        };
        let bit = 1u128.checked_shl(u32::from(b)).unwrap_or(0);
        if bit == 0 || seen & bit != 0 {
            return false;
        }
        seen |= bit;
        // At most 128 distinct first bytes, so every index fits a u8.
        at[usize::from(b)] = i as u8;
    }
    while seen != 0 {
        let b = seen.trailing_zeros() as usize;
        each(pairs[usize::from(at[b])].1);
        seen &= seen - 1;
    }
    true
}

/// The first eight bytes of `key` as a big-endian integer, zero-padded.
fn prefix(key: &[u8]) -> u64 {
    match key.first_chunk::<8>() {
        Some(b) => u64::from_be_bytes(*b),
        None => key
            .iter()
            .enumerate()
            .fold(0, |p, (i, b)| p | (u64::from(*b) << (56 - 8 * i))),
    }
}

/// Java's `String.compareTo`: UTF-16 code units.
fn java_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    a.encode_utf16().cmp(b.encode_utf16())
}

/// `Base64(HmacSHA1(secret, content))`.
pub fn sign(content: &[u8], secret: &str) -> String {
    BASE64.encode(mac(secret, content).finalize().into_bytes())
}

/// Whether `signature` is the signature of `content` under `secret`, compared in constant time
/// (the MAC is recomputed and checked by `Mac::verify_slice`, never compared as strings).
pub fn verify(content: &[u8], secret: &str, signature: &str) -> bool {
    let Ok(tag) = BASE64.decode(signature.as_bytes()) else {
        return false;
    };
    mac(secret, content).verify_slice(&tag).is_ok()
}

/// Signs a request in place as `AclClientRPCHook.doBeforeRequest` does.
pub fn sign_fields(fields: &mut HashMap<String, String>, body: &[u8], creds: &Credentials) {
    sign_fields_with(fields, body, creds, &SigningKey::new(&creds.secret_key));
}

/// [`sign_fields`] with the key of `creds.secret_key` made beforehand (clients keep one).
pub fn sign_fields_with(
    fields: &mut HashMap<String, String>,
    body: &[u8],
    creds: &Credentials,
    key: &SigningKey,
) {
    fields.insert(ACCESS_KEY.to_string(), creds.access_key.clone());
    if let Some(token) = &creds.security_token {
        fields.insert(SECURITY_TOKEN.to_string(), token.clone());
    }
    fields.remove(SIGNATURE);
    let tag = key
        .mac(
            fields.iter().map(|(k, v)| (k.as_str(), v.as_str())),
            body,
            |_, _| false,
        )
        .finalize()
        .into_bytes();
    fields.insert(SIGNATURE.to_string(), BASE64.encode(tag));
}

/// Whether `req` carries the signature of its own content under `secret` (both ACL generations
/// check requests this way; a missing `Signature` never verifies).
pub fn verify_request(req: &crate::Request<'_>, secret: &str) -> bool {
    verify_request_with(req, &SigningKey::new(secret))
}

/// [`verify_request`] with the key made beforehand. The content is the one Java 5.x
/// `PlainAccessResource.parse` checks (see [`request_content`]), hashed without being copied;
/// the tag is compared in constant time.
///
/// `Signature` is taken in the same pass over the fields that leaves it out of the content (no
/// lookup of its own), and decoded on the stack: an HMAC-SHA1 tag is 20 bytes, and anything that
/// decodes to more than the buffer holds is not one.
pub fn verify_request_with(req: &crate::Request<'_>, key: &SigningKey) -> bool {
    let version = req.version;
    let mut signature = "";
    let mac = key.mac(
        req.fields.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        req.body,
        |k, v| {
            if k == SIGNATURE {
                signature = v;
                true
            } else {
                version <= V4_9_3 && k == UNIQUE_KEY_QUERY
            }
        },
    );
    let mut tag = [0u8; 64];
    let Ok(len) = BASE64.decode_slice(signature.as_bytes(), &mut tag) else {
        return false;
    };
    mac.verify_slice(&tag[..len]).is_ok()
}

/// The content the broker checks a request's signature against (Java 5.x
/// `PlainAccessResource.parse`): every field but `Signature`, and `_UNIQUE_KEY_QUERY` only from
/// clients newer than 4.9.3.
pub fn request_content(fields: &HashMap<String, String>, body: &[u8], version: i32) -> Vec<u8> {
    content(fields.iter().map(|(k, v)| (k.as_str(), v.as_str())), body, |k| {
        k == SIGNATURE || (version <= V4_9_3 && k == UNIQUE_KEY_QUERY)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_java_hmac_sha1() {
        // HmacSHA1(key="key", "The quick brown fox jumps over the lazy dog") is the RFC 2104
        // example de7c9b85b8b78aa6bc8a7a36f70a90701c9db4d9.
        let s = sign(b"The quick brown fox jumps over the lazy dog", "key");
        assert_eq!(s, "3nybhbi3iqa8ino29wqQcBydtNk=");
        assert!(verify(b"The quick brown fox jumps over the lazy dog", "key", &s));
        assert!(!verify(
            b"The quick brown fox jumps over the lazy dog.",
            "key",
            &s
        ));
        assert!(!verify(b"The quick brown fox jumps over the lazy dog", "kez", &s));
        assert!(!verify(b"x", "key", "not base64!"));
    }

    #[test]
    fn sign_fields_round_trips_through_request_content() {
        let mut f = HashMap::new();
        f.insert("topic".to_string(), "T".to_string());
        f.insert("b".to_string(), "T".to_string());
        f.insert("a".to_string(), "G".to_string());
        let creds = Credentials::new("rocketmq2", "12345678");
        sign_fields(&mut f, b"body", &creds);
        let c = request_content(&f, b"body", 500);
        // AccessKey < a < b < topic, then the body.
        assert_eq!(c, b"rocketmq2GTTbody");
        assert!(verify(&c, "12345678", &f[SIGNATURE]));
        // A changed value breaks it; so does another body.
        let mut g = f.clone();
        g.insert("topic".into(), "U".into());
        assert!(!verify(
            &request_content(&g, b"body", 500),
            "12345678",
            &f[SIGNATURE]
        ));
        assert!(!verify(
            &request_content(&f, b"bodx", 500),
            "12345678",
            &f[SIGNATURE]
        ));
    }

    #[test]
    fn key_order_is_javas() {
        let c = content(
            [("b", "2"), ("AccessKey", "k"), ("a", "1"), ("Z", "z")],
            b"",
            |_| false,
        );
        // 'A' < 'Z' < 'a' < 'b' in UTF-16 and byte order alike.
        assert_eq!(c, b"kz12");
    }

    #[test]
    fn supplementary_keys_sort_as_java_does() {
        // U+1F600 is a surrogate pair (D83D DE00) in UTF-16, which sorts before U+FF5E; in UTF-8
        // (F0 ..) it sorts after (EF ..). Java's order wins, and the fast path must not apply.
        let c = content(
            [("\u{FF5E}", "bmp"), ("\u{1F600}", "astral"), ("a", "x")],
            b"",
            |_| false,
        );
        assert_eq!(c, b"xastralbmp");
        let mut f = HashMap::new();
        f.insert("\u{FF5E}".to_string(), "bmp".to_string());
        f.insert("\u{1F600}".to_string(), "astral".to_string());
        sign_fields(&mut f, b"", &Credentials::new("ak", "sk"));
        let req = crate::Request {
            code: 10,
            version: 500,
            fields: &f,
            body: b"",
        };
        assert!(verify(&request_content(&f, b"", 500), "sk", &f[SIGNATURE]));
        assert!(verify_request(&req, "sk"));
        assert!(!verify_request(&req, "sk2"));
    }

    proptest::proptest! {
        /// The integer-prefix order is Java's `String.compareTo` order, keys sharing their first
        /// eight bytes, ending in NUL or leaving ASCII included; values longer than the stack
        /// buffer are signed whole.
        #[test]
        fn content_is_in_java_key_order(
            keys in proptest::collection::hash_set("(abcdefgh|AccessKe)?[a-c\\x00\u{e9}\u{1F600}\u{FF5E}]{0,3}", 0..20),
            long in proptest::bool::ANY,
        ) {
            let fields: Vec<(String, String)> = keys
                .iter()
                .enumerate()
                .map(|(i, k)| (k.clone(), if long && i == 0 { "v".repeat(700) } else { format!("<{i}>") }))
                .collect();
            let mut expected = fields.clone();
            expected.sort_by(|a, b| java_cmp(&a.0, &b.0));
            let want: Vec<u8> = expected.iter().flat_map(|(_, v)| v.bytes()).chain(*b"body").collect();
            let got = content(fields.iter().map(|(k, v)| (k.as_str(), v.as_str())), b"body", |_| false);
            proptest::prop_assert_eq!(&got, &want);
            let key = SigningKey::new("sk");
            let tag = key.mac(fields.iter().map(|(k, v)| (k.as_str(), v.as_str())), b"body", |_, _| false)
                .finalize()
                .into_bytes();
            proptest::prop_assert!(key.verifies(&want, &tag));
        }
    }

    proptest::proptest! {
        /// Keys that all start with a different byte take the first-byte path; an empty key, a
        /// non-ASCII first character or a shared first byte sends them back to the sort. Either
        /// way the content is in Java's order.
        #[test]
        fn first_byte_order_is_javas(
            firsts in proptest::sample::subsequence((0u8..128).collect::<Vec<u8>>(), 0..24),
            tails in proptest::collection::vec("[a-z\\x00\u{e9}\u{1F600}]{0,4}", 24),
            odd in proptest::option::of(proptest::sample::select(vec!["", "\u{e9}x", "a", "Sz"])),
        ) {
            let mut keys: Vec<String> = firsts
                .iter()
                .zip(&tails)
                .map(|(b, t)| format!("{}{t}", char::from(*b)))
                .collect();
            if let Some(k) = odd {
                if !keys.iter().any(|x| x == k) {
                    keys.push(k.to_string());
                }
            }
            let fields: Vec<(String, String)> =
                keys.iter().enumerate().map(|(i, k)| (k.clone(), format!("<{i}>"))).collect();
            let mut expected = fields.clone();
            expected.sort_by(|a, b| java_cmp(&a.0, &b.0));
            let want: Vec<u8> = expected.iter().flat_map(|(_, v)| v.bytes()).collect();
            let got = content(fields.iter().map(|(k, v)| (k.as_str(), v.as_str())), b"", |_| false);
            proptest::prop_assert_eq!(got, want);
        }
    }

    #[test]
    fn unique_key_query_left_out_only_for_old_clients() {
        let mut f = HashMap::new();
        f.insert(UNIQUE_KEY_QUERY.to_string(), "true".to_string());
        f.insert("topic".to_string(), "T".to_string());
        assert_eq!(request_content(&f, b"", V4_9_3), b"T");
        // '_' (0x5F) sorts before 't'.
        assert_eq!(request_content(&f, b"", V4_9_3 + 1), b"trueT");
    }
}
