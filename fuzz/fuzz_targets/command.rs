//! `RemotingCommand` decoding: the input as a whole frame, and the input as a bare header wrapped
//! in a JSON frame and in a ROCKETMQ (binary) frame, so both header decoders are reached without
//! the fuzzer first having to learn the frame words. Every decoded command's `extFields` are read
//! as typed headers, and the command is re-encoded in its own serialize type.
//!
//! Checks: no panic; a decoded command that encodes decodes back to itself, whole frame consumed.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use rmq_protocol::header::{
    CheckTransactionStateRequestHeader, ConsumerSendMsgBackRequestHeader, EndTransactionRequestHeader,
    PullMessageRequestHeader, QueryConsumerOffsetRequestHeader, RegisterBrokerRequestHeader,
    SendMessageRequestHeader, SendMessageRequestHeaderV2, SendMessageResponseHeader,
    UpdateConsumerOffsetRequestHeader,
};
use rmq_protocol::{frame, RemotingCommand, SerializeType};

fn check(cmd: &RemotingCommand) {
    // Typed headers over arbitrary extFields: errors are fine, panics are not.
    let _ = cmd.header::<SendMessageRequestHeader>();
    let _ = cmd.header::<SendMessageRequestHeaderV2>();
    let _ = cmd.header::<SendMessageResponseHeader>();
    let _ = cmd.header::<PullMessageRequestHeader>();
    let _ = cmd.header::<QueryConsumerOffsetRequestHeader>();
    let _ = cmd.header::<UpdateConsumerOffsetRequestHeader>();
    let _ = cmd.header::<ConsumerSendMsgBackRequestHeader>();
    let _ = cmd.header::<EndTransactionRequestHeader>();
    let _ = cmd.header::<CheckTransactionStateRequestHeader>();
    let _ = cmd.header::<RegisterBrokerRequestHeader>();

    let mut out = BytesMut::new();
    if cmd.encode(&mut out).is_err() {
        return;
    }
    let (back, used) = match RemotingCommand::decode(&out) {
        Ok(Some(decoded)) => decoded,
        other => panic!("re-encoded {cmd:?} does not decode: {other:?}"),
    };
    assert_eq!(used, out.len());
    assert_eq!(&back, cmd);
}

fuzz_target!(|data: &[u8]| {
    if let Ok(Some((cmd, used))) = RemotingCommand::decode(data) {
        assert!(used <= data.len());
        check(&cmd);
    }
    for ty in [SerializeType::Json, SerializeType::RocketMq] {
        let mut wrapped = BytesMut::new();
        if frame::write_frame(&mut wrapped, ty.code(), data, b"body").is_err() {
            continue;
        }
        if let Ok(Some((cmd, used))) = RemotingCommand::decode(&wrapped) {
            assert_eq!(used, wrapped.len());
            assert_eq!(cmd.serialize_type, ty);
            assert_eq!(&cmd.body[..], b"body");
            check(&cmd);
        }
    }
});
