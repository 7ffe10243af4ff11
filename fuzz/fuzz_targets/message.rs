//! Stored-message records (the commitlog layout, also the body of pulls and queries):
//! `parse_record` (the store's recovery check, with and without the CRC), `decode_message`,
//! `decode_messages_raw`, `decode_messages` (zlib bodies inflated), the offsetMsgId and UNIQ_KEY
//! readers, the consume-queue tag code of a record's properties.
//!
//! Checks: no panic; `parse_record` with the CRC accepts what it accepts without it when the CRC
//! holds; `decode_message` agrees with `parse_record`; the tag code read straight from the
//! properties bytes is the one of the decoded `TAGS`; a decoded record encodes back to a record that decodes to the same message
//! (TOTALSIZE recomputed; when topic and properties still fit their length fields); the
//! offsetMsgId decodes back to the store host and commitlog offset; `decode_messages` agrees
//! with `decode_messages_raw` on every record and inflates only zlib-flagged bodies.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use rmq_protocol::message::{
    body_crc, decode_message, decode_messages, decode_messages_raw, decode_offset_msg_id, encode_message,
    encode_property_map, parse_record, property, sys_flag, tags_code_of, uniq_id_timestamp, MessageExt,
    Record,
};

/// 2023-11-14T22:13:20Z: a fixed "now" for reading UNIQ_KEY timestamps.
const NOW_MS: i64 = 1_700_000_000_000;

fn check_one(m: &MessageExt, used: usize, input: &[u8]) {
    assert!(used <= input.len());
    assert_eq!(usize::try_from(m.store_size).ok(), Some(used));

    assert_eq!(
        decode_offset_msg_id(&m.msg_id).ok(),
        Some((m.store_host, m.commit_log_offset))
    );
    let _ = decode_offset_msg_id(m.client_msg_id());
    if let Some(uniq) = m.properties.get(property::UNIQ_KEY) {
        let _ = uniq_id_timestamp(uniq, NOW_MS);
    }
    let _ = m.tags();
    let _ = m.keys().count();

    let fits =
        m.topic.len() <= i8::MAX as usize && encode_property_map(&m.properties).len() <= i16::MAX as usize;
    if !fits {
        return;
    }
    let mut out = BytesMut::new();
    encode_message(m, &mut out);
    assert_eq!(m.encoded_len(), out.len());
    let (back, n) = match decode_message(&out) {
        Ok(decoded) => decoded,
        Err(e) => panic!("re-encoded {m:?} does not decode: {e}"),
    };
    assert_eq!(n, out.len());
    let mut want = m.clone();
    want.store_size = out.len() as i32;
    assert_eq!(back, want);
}

fn check_record(data: &[u8]) {
    let crc_checked = parse_record(data, true);
    let decoded = decode_message(data);
    match parse_record(data, false) {
        Ok(Record::Message(v)) => {
            assert!(v.total_size <= data.len());
            assert_eq!(crc_checked.is_ok(), body_crc(v.body) == v.body_crc);
            if let Ok((m, used)) = &decoded {
                assert_eq!(*used, v.total_size);
                assert_eq!(
                    (m.body_crc, m.sys_flag, &m.body[..]),
                    (v.body_crc, v.sys_flag, v.body)
                );
                assert_eq!(
                    tags_code_of(v.properties),
                    m.tags_code(),
                    "TAGS of {:?}",
                    m.properties
                );
            }
        }
        Ok(Record::Blank) => {
            assert!(matches!(crc_checked, Ok(Record::Blank)));
            assert!(decoded.is_err());
        }
        Err(_) => {
            assert!(crc_checked.is_err());
            assert!(decoded.is_err());
        }
    }
}

fuzz_target!(|data: &[u8]| {
    check_record(data);
    if let Ok((m, used)) = decode_message(data) {
        check_one(&m, used, data);
    }
    let Ok(raw) = decode_messages_raw(data) else {
        return;
    };
    match decode_messages(data) {
        Ok(inflated) => {
            assert_eq!(raw.len(), inflated.len());
            for (r, i) in raw.iter().zip(&inflated) {
                if !sys_flag::is_zlib_compressed(r.sys_flag) {
                    assert_eq!(r, i);
                }
                assert_eq!(
                    (r.sys_flag, r.store_size, r.body_crc),
                    (i.sys_flag, i.store_size, i.body_crc)
                );
            }
        }
        // Only a zlib body that does not inflate may fail once the records themselves decoded.
        Err(_) => assert!(raw.iter().any(|m| sys_flag::is_zlib_compressed(m.sys_flag))),
    }
});
