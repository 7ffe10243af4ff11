//! Message ids (docs/format/message.md#message-ids): the broker's offsetMsgId and the client's UNIQ_KEY.

use std::fmt::Write as _;
use std::hash::{BuildHasher, Hasher};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::atomic::{AtomicU32, Ordering};

use super::stored::{read_i32, read_i64};
use crate::time::now_ms;
use crate::time::{civil_from_days, days_from_civil, MS_PER_DAY};
use crate::WireError;

fn hex_upper(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02X}");
    }
    s
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if s.len() & 1 == 1 || !s.is_ascii() {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).ok())
        .collect()
}

fn ip_bytes(ip: IpAddr) -> Vec<u8> {
    match ip {
        IpAddr::V4(v4) => v4.octets().to_vec(),
        IpAddr::V6(v6) => v6.octets().to_vec(),
    }
}

/// `storeHost IP | port (i32) | commitlog offset (i64)` as upper-case hex: 32 chars for IPv4,
/// 56 for IPv6 (docs/format/message.md#offsetmsgid).
pub fn offset_msg_id(store_host: SocketAddr, commit_log_offset: i64) -> String {
    let mut b = ip_bytes(store_host.ip());
    b.extend_from_slice(&i32::from(store_host.port()).to_be_bytes());
    b.extend_from_slice(&commit_log_offset.to_be_bytes());
    hex_upper(&b)
}

/// Decodes an offsetMsgId: 32 hex chars = IPv4, 56 = IPv6 (case-insensitive).
pub fn decode_offset_msg_id(id: &str) -> Result<(SocketAddr, i64), WireError> {
    let bad = || WireError::BadMessageId(id.to_owned());
    let ip_len = match id.len() {
        32 => 4,
        56 => 16,
        _ => return Err(bad()),
    };
    let b = unhex(id).ok_or_else(bad)?;
    let ip = if ip_len == 4 {
        IpAddr::V4(Ipv4Addr::from(*b.first_chunk::<4>().ok_or_else(bad)?))
    } else {
        IpAddr::V6(Ipv6Addr::from(*b.first_chunk::<16>().ok_or_else(bad)?))
    };
    let port = read_i32(&b, ip_len).ok_or_else(bad)?;
    let port = u16::try_from(port).map_err(|_| bad())?;
    let offset = read_i64(&b, ip_len + 4).ok_or_else(bad)?;
    Ok((SocketAddr::new(ip, port), offset))
}

/// Start (epoch ms, UTC) of the month containing `now_ms`, and of the month before it.
fn month_starts(now_ms: i64) -> (i64, i64) {
    let (y, m, _) = civil_from_days(now_ms.div_euclid(MS_PER_DAY));
    let (py, pm) = if m == 1 { (y - 1, 12) } else { (y, m - 1) };
    (
        days_from_civil(y, m, 1) * MS_PER_DAY,
        days_from_civil(py, pm, 1) * MS_PER_DAY,
    )
}

/// Generates UNIQ_KEY client message ids (docs/format/message.md#uniq_key):
/// `ip (4|16) | pid (2) | instance hash (4) | ms since start of month (4) | counter (2)`.
///
/// Differences from Java, by design: "start of month" is computed in UTC (Java uses local time;
/// only [`uniq_id_timestamp`] reads it back), and the 4-byte "classloader hash" is a random
/// per-generator value.
#[derive(Debug)]
pub struct UniqIdGenerator {
    prefix: Vec<u8>,
    counter: AtomicU32,
}

impl Default for UniqIdGenerator {
    fn default() -> Self {
        Self::new()
    }
}

impl UniqIdGenerator {
    /// A generator without a known local address: like Java's fallback, the IP bytes are
    /// taken from the current time. Prefer [`with_ip`](Self::with_ip).
    pub fn new() -> Self {
        let t = (now_ms() as u64).to_be_bytes();
        Self::with_ip(IpAddr::V4(Ipv4Addr::new(t[4], t[5], t[6], t[7])))
    }

    /// A generator for a client whose address is `ip`.
    pub fn with_ip(ip: IpAddr) -> Self {
        let mut prefix = ip_bytes(ip);
        prefix.extend_from_slice(&(std::process::id() as u16).to_be_bytes());
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u64(now_ms() as u64);
        prefix.extend_from_slice(&(h.finish() as u32).to_be_bytes());
        Self {
            prefix,
            counter: AtomicU32::new(0),
        }
    }

    /// The next id (32 hex chars for IPv4, 56 for IPv6). Thread-safe.
    pub fn next_id(&self) -> String {
        self.next_id_at(now_ms())
    }

    /// The next id, as if the clock read `now_ms`.
    pub fn next_id_at(&self, now_ms: i64) -> String {
        let (month_start, _) = month_starts(now_ms);
        let diff = (now_ms - month_start).clamp(0, i64::from(i32::MAX)) as i32;
        let n = self.counter.fetch_add(1, Ordering::Relaxed) as u16;
        let mut b = self.prefix.clone();
        b.extend_from_slice(&diff.to_be_bytes());
        b.extend_from_slice(&n.to_be_bytes());
        hex_upper(&b)
    }
}

/// The approximate creation time (epoch ms, UTC month) encoded in a UNIQ_KEY, given the
/// current time: the month offset is applied to this month, or the previous one if that
/// would lie in the future (Java `getNearlyTimeFromID`).
pub fn uniq_id_timestamp(id: &str, now_ms: i64) -> Option<i64> {
    let b = unhex(id)?;
    let ip_len = match b.len() {
        16 => 4,
        28 => 16,
        _ => return None,
    };
    let diff = i64::from(read_i32(&b, ip_len + 6)?);
    let (this_month, prev_month) = month_starts(now_ms);
    let candidate = this_month + diff;
    Some(if candidate > now_ms {
        prev_month + diff
    } else {
        candidate
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn golden_offset_msg_id() {
        let host: SocketAddr = "192.168.0.1:10911".parse().unwrap();
        let id = offset_msg_id(host, 4096);
        assert_eq!(id, "C0A8000100002A9F0000000000001000");
        assert_eq!(decode_offset_msg_id(&id).unwrap(), (host, 4096));
        assert_eq!(decode_offset_msg_id(&id.to_lowercase()).unwrap(), (host, 4096));
    }

    #[test]
    fn ipv6_offset_msg_id() {
        let host: SocketAddr = "[fd00::2]:10911".parse().unwrap();
        let id = offset_msg_id(host, i64::MAX);
        assert_eq!(id.len(), 56);
        assert_eq!(decode_offset_msg_id(&id).unwrap(), (host, i64::MAX));
    }

    #[test]
    fn bad_offset_msg_ids() {
        for bad in [
            "",
            "C0A8",
            "ZZA8000100002A9F0000000000001000",
            "C0A80001FFFFFFFF0000000000001000",
            "é0A8000100002A9F000000000000100",
        ] {
            assert!(decode_offset_msg_id(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn uniq_ids() {
        let g = UniqIdGenerator::with_ip("10.0.0.1".parse().unwrap());
        // 2023-11-14T22:13:20Z; month start 2023-11-01T00:00:00Z = 1698796800000
        let now = 1_700_000_000_000;
        let a = g.next_id_at(now);
        let b = g.next_id_at(now);
        assert_eq!(a.len(), 32);
        assert!(a.starts_with("0A000001"));
        assert_ne!(a, b);
        assert_eq!(&a[20..28], format!("{:08X}", now - 1_698_796_800_000));
        assert_eq!(&b[28..], "0001");
        assert_eq!(uniq_id_timestamp(&a, now), Some(now));
        // read back early next month: still resolves into November
        assert_eq!(uniq_id_timestamp(&a, 1_701_400_000_000), Some(now));
        let v6 = UniqIdGenerator::with_ip("fd00::2".parse().unwrap());
        assert_eq!(v6.next_id().len(), 56);
        assert_eq!(UniqIdGenerator::new().next_id().len(), 32);
    }

    #[test]
    fn month_arithmetic() {
        assert_eq!(month_starts(0), (0, days_from_civil(1969, 12, 1) * MS_PER_DAY));
        assert_eq!(days_from_civil(2024, 3, 1), 19783);
        assert_eq!(civil_from_days(19783), (2024, 3, 1));
        assert_eq!(civil_from_days(19782), (2024, 2, 29));
    }
}
