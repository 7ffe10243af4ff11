//! The SQL92 message selector (`rmq_filter`, the broker's `filter`): `compile`, then `evaluate`
//! against a property map and `matches_sql` against a stored record carrying the same
//! properties. Input: the expression, a 0 byte, then a properties string (`k\x01v\x02…`).
//!
//! Checks: no panic (the parser bounds nesting, so no stack exhaustion either); compile errors
//! format; the record path and the map path agree.
#![no_main]

use std::net::{Ipv4Addr, SocketAddr};

use bytes::{Bytes, BytesMut};
use libfuzzer_sys::fuzz_target;
use rmq_filter::{compile, matches_sql};
use rmq_protocol::message::{decode_properties, encode_message, encode_property_map, MessageExt};

fn record_with(properties: std::collections::HashMap<String, String>) -> BytesMut {
    let host = SocketAddr::from((Ipv4Addr::LOCALHOST, 10911));
    let m = MessageExt {
        store_size: 0,
        body_crc: 0,
        queue_id: 0,
        flag: 0,
        queue_offset: 0,
        commit_log_offset: 0,
        sys_flag: 0,
        born_timestamp: 0,
        born_host: host,
        store_timestamp: 0,
        store_host: host,
        reconsume_times: 0,
        prepared_transaction_offset: 0,
        body: Bytes::from_static(b"body"),
        topic: "FuzzTopic".to_owned(),
        properties,
        msg_id: String::new(),
    };
    let mut out = BytesMut::new();
    encode_message(&m, &mut out);
    out
}

fuzz_target!(|data: &[u8]| {
    let (expr, props) = match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[][..]),
    };
    let Ok(expr) = std::str::from_utf8(expr) else {
        return;
    };
    let compiled = match compile(expr) {
        Ok(compiled) => compiled,
        Err(e) => {
            let _ = e.to_string();
            return;
        }
    };
    assert_eq!(compiled.source(), expr);
    let properties = decode_properties(&String::from_utf8_lossy(props));
    let by_map = compiled.evaluate(&properties);
    if encode_property_map(&properties).len() <= i16::MAX as usize {
        assert_eq!(matches_sql(&compiled, &record_with(properties)), by_map);
    }
});
