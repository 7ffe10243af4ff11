//! Remote-address patterns of `plain_acl.yml` (`globalWhiteRemoteAddresses`,
//! `whiteRemoteAddress`), matched as Java 4.9/5.x `RemoteAddressStrategyFactory` matches them:
//!
//! | pattern | matches |
//! |---|---|
//! | empty | nothing |
//! | `*`, `*.*.*.*`, `*:*:*:*:*:*:*:*` | everything |
//! | `192.168.0.{1,2,3}` / `1050::{1,2}` | the listed last parts |
//! | `192.168.0.1,192.168.0.2` | the listed addresses |
//! | `192.168.*.*`, `192.168.1-10.*`, `10.10.103.1-50` | a range in the first wildcard part |
//! | `192.168.0.1`, `::1` | that address |
//!
//! Parsed once into [`AddressPattern`] and matched against a parsed [`IpAddr`], never as strings.

use std::collections::HashSet;
use std::net::IpAddr;

use crate::AclError;

/// A compiled address pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AddressPattern {
    /// An empty pattern: matches nothing.
    Blank,
    /// `*`: matches everything.
    Any,
    /// One of these addresses.
    Set(HashSet<IpAddr>),
    /// IPv4: the first `prefix.len()` octets equal `prefix`, the next one within `lo..=hi`.
    RangeV4 { prefix: Vec<u8>, lo: u8, hi: u8 },
    /// IPv6: the first `prefix.len()` groups equal `prefix`, the next one within `lo..=hi`.
    RangeV6 { prefix: Vec<u16>, lo: u16, hi: u16 },
}

fn bad(pattern: &str, why: &str) -> AclError {
    AclError::Address {
        pattern: pattern.to_string(),
        why: why.to_string(),
    }
}

fn parse_ip(s: &str, pattern: &str) -> Result<IpAddr, AclError> {
    s.trim()
        .parse::<IpAddr>()
        .map_err(|_| bad(pattern, "not an IPv4 or IPv6 address"))
}

impl AddressPattern {
    pub fn parse(pattern: &str) -> Result<AddressPattern, AclError> {
        let p = pattern.trim();
        if p.is_empty() {
            return Ok(AddressPattern::Blank);
        }
        if matches!(p, "*" | "*.*.*.*" | "*:*:*:*:*:*:*:*") {
            return Ok(AddressPattern::Any);
        }
        if p.ends_with('}') {
            let open = p.rfind('{').ok_or_else(|| bad(pattern, "`}` without `{`"))?;
            let (head, list) = p.split_at(open);
            if !(head.ends_with('.') || head.ends_with(':')) {
                return Err(bad(pattern, "`{..}` must be the last part"));
            }
            if head.ends_with('.') && head.matches('.').count() != 3 {
                return Err(bad(pattern, "an IPv4 address has four parts"));
            }
            let inner = list.trim_start_matches('{').trim_end_matches('}');
            let set = inner
                .split(',')
                .filter(|s| !s.trim().is_empty())
                .map(|last| parse_ip(&format!("{head}{}", last.trim()), pattern))
                .collect::<Result<HashSet<_>, _>>()?;
            return Ok(AddressPattern::Set(set));
        }
        if p.contains(',') {
            let set = p
                .split(',')
                .filter(|s| !s.trim().is_empty())
                .map(|a| parse_ip(a, pattern))
                .collect::<Result<HashSet<_>, _>>()?;
            return Ok(AddressPattern::Set(set));
        }
        if p.contains('*') || p.contains('-') {
            return if p.contains(':') {
                range_v6(p, pattern)
            } else {
                range_v4(p, pattern)
            };
        }
        Ok(AddressPattern::Set(HashSet::from([parse_ip(p, pattern)?])))
    }

    pub fn matches(&self, addr: IpAddr) -> bool {
        let addr = canonical(addr);
        match self {
            AddressPattern::Blank => false,
            AddressPattern::Any => true,
            AddressPattern::Set(set) => set.iter().any(|a| canonical(*a) == addr),
            AddressPattern::RangeV4 { prefix, lo, hi } => match addr {
                IpAddr::V4(v4) => {
                    let o = v4.octets();
                    o.get(..prefix.len()) == Some(prefix.as_slice())
                        && o.get(prefix.len()).is_some_and(|x| (*lo..=*hi).contains(x))
                }
                IpAddr::V6(_) => false,
            },
            AddressPattern::RangeV6 { prefix, lo, hi } => match addr {
                IpAddr::V6(v6) => {
                    let g = v6.segments();
                    g.get(..prefix.len()) == Some(prefix.as_slice())
                        && g.get(prefix.len()).is_some_and(|x| (*lo..=*hi).contains(x))
                }
                IpAddr::V4(_) => false,
            },
        }
    }
}

/// IPv4-mapped IPv6 (`::ffff:a.b.c.d`, what a dual-stack socket reports) compares as IPv4.
fn canonical(addr: IpAddr) -> IpAddr {
    match addr {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(addr, IpAddr::V4),
        v4 => v4,
    }
}

/// One wildcard part: `*` (the whole range) or `lo-hi`; `None` for a literal.
fn wildcard(part: &str, max: u32, radix: u32, pattern: &str) -> Result<Option<(u32, u32)>, AclError> {
    let part = part.trim();
    if part == "*" {
        return Ok(Some((0, max)));
    }
    let Some((a, b)) = part.split_once('-') else {
        return Ok(None);
    };
    let lo = u32::from_str_radix(a.trim(), radix).map_err(|_| bad(pattern, "bad range start"))?;
    let hi = u32::from_str_radix(b.trim(), radix).map_err(|_| bad(pattern, "bad range end"))?;
    if lo > hi || hi > max {
        return Err(bad(pattern, "range out of order or out of bounds"));
    }
    Ok(Some((lo, hi)))
}

fn range_v4(p: &str, pattern: &str) -> Result<AddressPattern, AclError> {
    let parts: Vec<&str> = p.split('.').collect();
    if parts.len() != 4 {
        return Err(bad(pattern, "an IPv4 address has four parts"));
    }
    // Java looks for the range in parts 2..4 only; the parts after it must be `*`.
    for i in 1..4 {
        let Some(part) = parts.get(i) else { break };
        if let Some((lo, hi)) = wildcard(part, 255, 10, pattern)? {
            let prefix = parts[..i]
                .iter()
                .map(|s| {
                    s.trim()
                        .parse::<u8>()
                        .map_err(|_| bad(pattern, "bad address part"))
                })
                .collect::<Result<Vec<u8>, _>>()?;
            if parts[i + 1..].iter().any(|s| s.trim() != "*") {
                return Err(bad(pattern, "the parts after a range must be `*`"));
            }
            return Ok(AddressPattern::RangeV4 {
                prefix,
                lo: lo as u8,
                hi: hi as u8,
            });
        }
    }
    Err(bad(pattern, "no range part"))
}

fn range_v6(p: &str, pattern: &str) -> Result<AddressPattern, AclError> {
    let parts: Vec<&str> = p.split(':').filter(|s| !s.is_empty()).collect();
    for (i, part) in parts.iter().enumerate().skip(1) {
        if let Some((lo, hi)) = wildcard(part, 0xffff, 16, pattern)? {
            let prefix = parts[..i]
                .iter()
                .map(|s| u16::from_str_radix(s.trim(), 16).map_err(|_| bad(pattern, "bad address part")))
                .collect::<Result<Vec<u16>, _>>()?;
            if parts[i + 1..].iter().any(|s| s.trim() != "*") || prefix.len() >= 8 {
                return Err(bad(pattern, "the parts after a range must be `*`"));
            }
            return Ok(AddressPattern::RangeV6 {
                prefix,
                lo: lo as u16,
                hi: hi as u16,
            });
        }
    }
    Err(bad(pattern, "no range part"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(p: &str, a: &str) -> bool {
        AddressPattern::parse(p).expect(p).matches(a.parse().expect(a))
    }

    #[test]
    fn patterns_match_as_java() {
        assert!(!m("", "127.0.0.1"));
        assert!(m("*", "10.0.0.1"));
        assert!(m("*.*.*.*", "::1"));
        assert!(m("127.0.0.1", "127.0.0.1"));
        assert!(m("127.0.0.1", "::ffff:127.0.0.1"));
        assert!(!m("127.0.0.1", "127.0.0.2"));
        assert!(m("192.168.0.{1,2,3}", "192.168.0.2"));
        assert!(!m("192.168.0.{1,2,3}", "192.168.0.4"));
        assert!(m("192.168.0.1,10.0.0.1", "10.0.0.1"));
        assert!(m("192.168.*.*", "192.168.200.3"));
        assert!(!m("192.168.*.*", "192.169.0.3"));
        assert!(m("192.168.1-10.*", "192.168.10.3"));
        assert!(!m("192.168.1-10.*", "192.168.11.3"));
        assert!(m("10.10.103.1-50", "10.10.103.50"));
        assert!(!m("10.10.103.1-50", "10.10.103.51"));
        assert!(m("1050:0:0:0:5:600:300c:*", "1050::5:600:300c:1"));
        assert!(m("1050::{1,2}", "1050::2"));
        assert!(m("::1", "0:0:0:0:0:0:0:1"));
    }

    #[test]
    fn bad_patterns_are_refused() {
        for p in [
            "300.1.1.1",
            "192.168.0.{1,x}",
            "192.168.5-1.*",
            "192.168.1-5.3",
            "1.2.3",
            "a.b.*.*",
            "192.168.{1}.1",
        ] {
            assert!(AddressPattern::parse(p).is_err(), "{p}");
        }
    }
}
