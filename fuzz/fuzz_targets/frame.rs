//! The length-prefixed frame decoder: `frame::peek`, `RemotingCommand::decode` over a whole buffer
//! and `RemotingCommand::decode_from` over the same bytes arriving in chunks, as a connection's
//! read buffer sees them. Input: one byte choosing the chunk size (1..=32), then the stream.
//!
//! Checks: no panic; a prefix of a frame is "need more bytes" (`Ok(None)`), never an error; the
//! layout lies inside the input; chunked decoding yields exactly the frames, error and leftover
//! bytes of whole-buffer decoding.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use rmq_protocol::frame::{self, PREAMBLE_BYTES};
use rmq_protocol::RemotingCommand;

/// What a decoder saw in a stream: its frames, then the error that ends the connection or the
/// number of bytes left waiting for more.
#[derive(Debug, PartialEq)]
struct Outcome {
    frames: Vec<RemotingCommand>,
    end: Result<usize, String>,
}

fn decode_whole(stream: &[u8]) -> Outcome {
    let mut frames = Vec::new();
    let mut pos = 0;
    loop {
        match RemotingCommand::decode(&stream[pos..]) {
            Ok(Some((cmd, used))) => {
                assert!(used >= PREAMBLE_BYTES && used <= stream.len() - pos);
                frames.push(cmd);
                pos += used;
            }
            Ok(None) => {
                return Outcome {
                    frames,
                    end: Ok(stream.len() - pos),
                };
            }
            Err(e) => {
                return Outcome {
                    frames,
                    end: Err(e.to_string()),
                };
            }
        }
    }
}

fn decode_chunked(stream: &[u8], chunk: usize) -> Outcome {
    let mut frames = Vec::new();
    let mut buf = BytesMut::new();
    for part in stream.chunks(chunk) {
        buf.extend_from_slice(part);
        loop {
            match RemotingCommand::decode_from(&mut buf) {
                Ok(Some(cmd)) => frames.push(cmd),
                Ok(None) => break,
                Err(e) => {
                    return Outcome {
                        frames,
                        end: Err(e.to_string()),
                    }
                }
            }
        }
    }
    Outcome {
        frames,
        end: Ok(buf.len()),
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&chunk, stream)) = data.split_first() else {
        return;
    };
    let chunk = usize::from(chunk % 32) + 1;

    match frame::peek(stream) {
        Ok(Some(layout)) => {
            assert!(layout.frame_bytes <= stream.len());
            assert!(PREAMBLE_BYTES + layout.header_bytes <= layout.frame_bytes);
            assert_eq!(layout.header_range().end, layout.body_range().start);
            for n in 0..layout.frame_bytes {
                assert!(
                    matches!(frame::peek(&stream[..n]), Ok(None)),
                    "prefix {n} of a frame"
                );
            }
        }
        Ok(None) => {
            for n in 0..stream.len() {
                assert!(
                    matches!(frame::peek(&stream[..n]), Ok(None)),
                    "prefix {n} of a partial frame"
                );
            }
        }
        Err(_) => {}
    }

    let whole = decode_whole(stream);
    let chunked = decode_chunked(stream, chunk);
    assert_eq!(whole, chunked);
});
