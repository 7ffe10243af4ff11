//! Thin adapter: `tokio_util` framing over the pure decoder in `rmq_protocol`.

use bytes::BytesMut;
use rmq_protocol::RemotingCommand;
use tokio_util::codec::{Decoder, Encoder};

use crate::RemotingError;

/// Frames `RemotingCommand`s on a byte stream. "Not enough bytes yet" is `Ok(None)`; a malformed or
/// oversized frame is an error, after which the connection must be closed.
#[derive(Debug, Default)]
pub struct RemotingCodec;

impl Decoder for RemotingCodec {
    type Item = RemotingCommand;
    type Error = RemotingError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<RemotingCommand>, RemotingError> {
        match RemotingCommand::decode_from(src)? {
            Some(cmd) => Ok(Some(cmd)),
            None => {
                // Reserve for the declared frame (the decoder has already bounded its size).
                if src.len() >= 4 {
                    let declared = u32::from_be_bytes([src[0], src[1], src[2], src[3]]) as usize;
                    let want = declared.saturating_add(4);
                    if want <= rmq_protocol::MAX_FRAME_BYTES && want > src.len() {
                        src.reserve(want - src.len());
                    }
                }
                Ok(None)
            }
        }
    }
}

impl Encoder<RemotingCommand> for RemotingCodec {
    type Error = RemotingError;

    fn encode(&mut self, item: RemotingCommand, dst: &mut BytesMut) -> Result<(), RemotingError> {
        item.encode(dst).map_err(RemotingError::from)
    }
}

impl From<RemotingError> for std::io::Error {
    fn from(e: RemotingError) -> Self {
        match e {
            RemotingError::Io(e) => e,
            other => std::io::Error::new(std::io::ErrorKind::InvalidData, other.to_string()),
        }
    }
}
