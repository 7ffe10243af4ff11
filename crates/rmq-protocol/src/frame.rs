//! Frame layout: `length: i32 | type: u8, headerLen: u24 | header | body`
//! (docs/format/remoting-frame.md#frame-layout).
//!
//! This module only deals with the two leading words; [`crate::command`] handles the header
//! bytes. "Not enough bytes yet" is `Ok(None)`, never an error, and the size limit is checked as
//! soon as the length prefix is readable, before anything is allocated.

use bytes::{BufMut, BytesMut};

use crate::{WireError, MAX_FRAME_BYTES};

/// Size of the length prefix.
pub const LENGTH_BYTES: usize = 4;
/// Size of the length prefix plus the type/header-length word.
pub const PREAMBLE_BYTES: usize = 8;
/// Largest header length the 24-bit field can carry.
pub const MAX_HEADER_BYTES: usize = 0x00FF_FFFF;

/// Where the parts of one complete frame lie inside the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameLayout {
    /// Bytes of the whole frame, length prefix included.
    pub frame_bytes: usize,
    /// The serialize-type byte (0 JSON, 1 ROCKETMQ); not yet validated.
    pub serialize_type: u8,
    /// Length of the header section, which starts at [`PREAMBLE_BYTES`].
    pub header_bytes: usize,
}

impl FrameLayout {
    /// Byte range of the header within the frame.
    pub fn header_range(&self) -> std::ops::Range<usize> {
        PREAMBLE_BYTES..PREAMBLE_BYTES + self.header_bytes
    }

    /// Byte range of the body within the frame.
    pub fn body_range(&self) -> std::ops::Range<usize> {
        PREAMBLE_BYTES + self.header_bytes..self.frame_bytes
    }
}

/// Builds the type word: `(type << 24) | (headerLen & 0xFFFFFF)`.
pub fn type_word(serialize_type: u8, header_bytes: usize) -> u32 {
    (u32::from(serialize_type) << 24) | (header_bytes as u32 & 0x00FF_FFFF)
}

/// Splits a type word into (serialize type, header length).
pub fn split_type_word(word: u32) -> (u8, usize) {
    ((word >> 24) as u8, (word & 0x00FF_FFFF) as usize)
}

/// Checks a declared `length` (the prefix value) against the frame limit.
pub fn check_length(length: i32) -> Result<usize, WireError> {
    if length < 0 {
        return Err(WireError::BadFrameLength(length));
    }
    let total = length as usize + LENGTH_BYTES;
    if total > MAX_FRAME_BYTES {
        return Err(WireError::FrameTooLarge {
            len: total,
            max: MAX_FRAME_BYTES,
        });
    }
    if (length as usize) < PREAMBLE_BYTES - LENGTH_BYTES {
        return Err(WireError::BadFrameLength(length));
    }
    Ok(total)
}

/// Looks at the start of `src` and reports the layout of the first frame once it is complete.
///
/// Returns `Ok(None)` while fewer bytes than the frame needs are available. The length limit is
/// enforced as soon as the 4-byte prefix is present.
pub fn peek(src: &[u8]) -> Result<Option<FrameLayout>, WireError> {
    let Some(prefix) = src.first_chunk::<LENGTH_BYTES>() else {
        return Ok(None);
    };
    let length = i32::from_be_bytes(*prefix);
    let frame_bytes = check_length(length)?;
    if src.len() < frame_bytes {
        return Ok(None);
    }
    let word = src
        .get(LENGTH_BYTES..PREAMBLE_BYTES)
        .and_then(|w| <[u8; 4]>::try_from(w).ok())
        .map(u32::from_be_bytes)
        .ok_or(WireError::Truncated("serialize type"))?;
    let (serialize_type, header_bytes) = split_type_word(word);
    let room = frame_bytes - PREAMBLE_BYTES;
    if header_bytes > room {
        return Err(WireError::HeaderTooLong {
            header_len: header_bytes,
            frame_len: length as usize,
        });
    }
    Ok(Some(FrameLayout {
        frame_bytes,
        serialize_type,
        header_bytes,
    }))
}

/// Writes a whole frame: both leading words, the header, then the body.
pub fn write_frame(
    dst: &mut BytesMut,
    serialize_type: u8,
    header: &[u8],
    body: &[u8],
) -> Result<(), WireError> {
    let frame_bytes = PREAMBLE_BYTES + header.len() + body.len();
    if frame_bytes > MAX_FRAME_BYTES {
        return Err(WireError::FrameTooLarge {
            len: frame_bytes,
            max: MAX_FRAME_BYTES,
        });
    }
    // MAX_FRAME_BYTES < 2^24, so the header length always fits the 24-bit field here.
    dst.reserve(frame_bytes);
    dst.put_i32((frame_bytes - LENGTH_BYTES) as i32);
    dst.put_u32(type_word(serialize_type, header.len()));
    dst.put_slice(header);
    dst.put_slice(body);
    Ok(())
}

const _: () = assert!(MAX_FRAME_BYTES <= MAX_HEADER_BYTES + 1);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_word_round_trip() {
        assert_eq!(type_word(1, 41), 0x0100_0029);
        assert_eq!(split_type_word(0x0100_0029), (1, 41));
        assert_eq!(split_type_word(0x0000_0083), (0, 0x83));
    }

    #[test]
    fn partial_input_is_not_an_error() {
        assert_eq!(peek(&[]).unwrap(), None);
        assert_eq!(peek(&[0, 0, 0]).unwrap(), None);
        assert_eq!(peek(&[0, 0, 0, 8, 0, 0]).unwrap(), None);
    }

    #[test]
    fn limits_checked_from_prefix_alone() {
        assert!(matches!(
            peek(&[0x7f, 0xff, 0xff, 0xff]),
            Err(WireError::FrameTooLarge { .. })
        ));
        assert!(matches!(
            peek(&[0xff, 0xff, 0xff, 0xff]),
            Err(WireError::BadFrameLength(-1))
        ));
        assert!(matches!(peek(&[0, 0, 0, 2]), Err(WireError::BadFrameLength(2))));
        // exactly at the limit is fine (needs more bytes), one more is not
        let max = (MAX_FRAME_BYTES - 4) as i32;
        assert_eq!(peek(&max.to_be_bytes()).unwrap(), None);
        assert!(peek(&(max + 1).to_be_bytes()).is_err());
    }

    #[test]
    fn header_longer_than_frame_rejected() {
        let f = [0, 0, 0, 5, 0, 0, 0, 2, 9];
        assert!(matches!(peek(&f), Err(WireError::HeaderTooLong { .. })));
        let f = [0, 0, 0, 5, 0, 0, 0, 1, 9];
        assert_eq!(peek(&f).unwrap().unwrap().body_range(), 9..9);
    }
}
