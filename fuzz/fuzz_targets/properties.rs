//! The message properties string (`k\x01v\x02…`): `decode_properties`, `encode_property_map`,
//! `encode_properties`, and the tag hash and name checks that read property values.
//!
//! Checks: no panic; decoding the encoding of a decoded map gives the same map, and encoding it
//! again gives the same string.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rmq_protocol::message::{
    decode_properties, encode_properties, encode_property_map, property, tag_hash, validate_group,
    validate_topic,
};

fuzz_target!(|data: &[u8]| {
    let s = String::from_utf8_lossy(data);
    let map = decode_properties(&s);
    let encoded = encode_property_map(&map);
    let back = decode_properties(&encoded);
    assert_eq!(back, map);
    assert_eq!(encode_property_map(&back), encoded);

    let mut pairs: Vec<(&String, &String)> = map.iter().collect();
    pairs.sort();
    assert_eq!(encode_properties(&pairs), encoded);

    if let Some(tags) = map.get(property::TAGS) {
        let _ = tag_hash(tags);
    }
    let _ = validate_topic(&s);
    let _ = validate_group(&s);
});
