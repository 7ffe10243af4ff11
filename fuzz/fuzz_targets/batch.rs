//! Batch send bodies (SEND_BATCH_MESSAGE): `decode_batch`, then `encode_batch` of the entries.
//!
//! Checks: no panic; re-encoding yields as many bytes as were decoded (magic and CRC are written
//! as 0, everything else is kept) and decodes to the same entries.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use rmq_protocol::message::{decode_batch, decode_properties, encode_batch};

fuzz_target!(|data: &[u8]| {
    let Ok(entries) = decode_batch(data) else {
        return;
    };
    for e in &entries {
        let _ = decode_properties(&e.properties);
    }
    let mut out = BytesMut::new();
    encode_batch(&entries, &mut out);
    assert_eq!(out.len(), data.len());
    match decode_batch(&out) {
        Ok(back) => assert_eq!(back, entries),
        Err(e) => panic!("re-encoded batch does not decode: {e}"),
    }
});
