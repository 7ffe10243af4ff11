//! zlib (RFC 1950) bodies: Java producers compress bodies ≥ 4 KiB (sysFlag `0x1`, type `0x300`
//! or 0), and compressed broker registrations are zlib streams. LZ4 / ZSTD are not handled.

use std::io::{Read, Write};

use flate2::read::ZlibDecoder;
use flate2::write::ZlibEncoder;
use flate2::Compression;

use crate::WireError;

/// Inflation stops with an error past this many bytes (guards against zip bombs).
pub const MAX_INFLATED_BYTES: usize = 64 * 1024 * 1024;

/// Inflates a zlib stream, refusing output larger than `limit` bytes.
pub fn zlib_decompress(data: &[u8], limit: usize) -> Result<Vec<u8>, WireError> {
    let mut out = Vec::new();
    let mut reader = ZlibDecoder::new(data).take(limit as u64 + 1);
    reader
        .read_to_end(&mut out)
        .map_err(|e| WireError::Compression(e.to_string()))?;
    if out.len() > limit {
        return Err(WireError::Compression(format!(
            "inflated data exceeds {limit} bytes"
        )));
    }
    Ok(out)
}

/// Deflates `data` as a zlib stream at `level` (0–9; Java producers use 5).
pub fn zlib_compress(data: &[u8], level: u32) -> Vec<u8> {
    let mut enc = ZlibEncoder::new(Vec::new(), Compression::new(level.min(9)));
    // Writing into a Vec cannot fail.
    let _ = enc.write_all(data);
    enc.finish().unwrap_or_default()
}
