//! The message properties string (`k\x01v\x02…`): `decode_properties`, `encode_property_map`,
//! `encode_properties`, `find_property` and `tags_code_of` (the store's readers of the raw
//! bytes), and the tag hash and name checks that read property values.
//!
//! Checks: no panic; decoding the encoding of a decoded map gives the same map, and encoding it
//! again gives the same string; `find_property` finds what `decode_properties` decodes, for every
//! name, and `tags_code_of` is the tag hash of the decoded `TAGS`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rmq_protocol::message::{
    decode_properties, encode_properties, encode_property_map, find_property, property, tag_hash,
    tags_code_of, validate_group, validate_topic,
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

    // Names with U+FFFD are left out: the decoded map's may stand for invalid bytes.
    for (name, value) in map.iter().filter(|(k, _)| !k.contains('\u{FFFD}')) {
        let found = find_property(data, name).map(String::from_utf8_lossy);
        assert_eq!(found.as_deref(), Some(value.as_str()), "{name}");
    }
    let tags_code = map.get(property::TAGS).map_or(0, |t| tag_hash(t));
    assert_eq!(tags_code_of(data), tags_code);
    let _ = validate_topic(&s);
    let _ = validate_group(&s);
});
