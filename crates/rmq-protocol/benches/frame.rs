//! Frame encode/decode of a SEND_MESSAGE_V2 request (the hot request of the send path) and of
//! its response, in the JSON and ROCKETMQ (binary) header encodings.
//!
//! `cargo bench -p rmq-protocol --bench frame`

#![allow(clippy::unwrap_used, reason = "test code: a failed unwrap is a failed test")]

use std::hint::black_box;

use bytes::{Bytes, BytesMut};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use rmq_protocol::codes::{request_code, response_code};
use rmq_protocol::header::{SendMessageRequestHeader, SendMessageRequestHeaderV2, SendMessageResponseHeader};
use rmq_protocol::message::{decode_properties, encode_properties};
use rmq_protocol::{RemotingCommand, SerializeType};

fn send_request(body_len: usize, serialize_type: SerializeType) -> RemotingCommand {
    let properties = encode_properties(&[
        ("UNIQ_KEY", "7F000001000018B4AAC2776B7B7F0000"),
        ("WAIT", "true"),
        ("TAGS", "TagA"),
    ]);
    let header = SendMessageRequestHeaderV2(SendMessageRequestHeader {
        producer_group: "benchmark_producer".into(),
        topic: "BenchmarkTest".into(),
        default_topic: "TBW102".into(),
        default_topic_queue_nums: 4,
        queue_id: 3,
        sys_flag: 0,
        born_timestamp: 1_700_000_000_000,
        flag: 0,
        properties: Some(properties),
        reconsume_times: Some(0),
        unit_mode: false,
        max_reconsume_times: None,
        batch: false,
        bname: Some("broker-a".into()),
    });
    RemotingCommand::request(request_code::SEND_MESSAGE_V2)
        .with_header(&header)
        .with_opaque(42)
        .with_body(Bytes::from(vec![b'a'; body_len]))
        .with_serialize_type(serialize_type)
}

fn send_response(serialize_type: SerializeType) -> RemotingCommand {
    let header = SendMessageResponseHeader {
        msg_id: "7F00000100002A9F0000000000000A28".into(),
        queue_id: 3,
        queue_offset: 123_456,
        transaction_id: None,
    };
    RemotingCommand::response(response_code::SUCCESS)
        .with_header(&header)
        .with_opaque(42)
        .with_serialize_type(serialize_type)
}

fn encoded(cmd: &RemotingCommand) -> Bytes {
    let mut buf = BytesMut::new();
    cmd.encode(&mut buf).expect("encodes");
    buf.freeze()
}

fn frames(c: &mut Criterion) {
    let mut group = c.benchmark_group("frame");
    for (name, st) in [
        ("json", SerializeType::Json),
        ("rocketmq", SerializeType::RocketMq),
    ] {
        for body_len in [128usize, 1024] {
            let req = send_request(body_len, st);
            let wire = encoded(&req);
            group.throughput(Throughput::Bytes(wire.len() as u64));
            let id = format!("{name}/{body_len}B");
            group.bench_with_input(BenchmarkId::new("encode_send_request", &id), &req, |b, req| {
                let mut buf = BytesMut::with_capacity(4096);
                b.iter(|| {
                    buf.clear();
                    black_box(req).encode(&mut buf).unwrap();
                    black_box(buf.len())
                })
            });
            group.bench_with_input(BenchmarkId::new("decode_send_request", &id), &wire, |b, wire| {
                b.iter(|| {
                    // decode_from is what the codec uses: split off a BytesMut, body shared.
                    let mut buf = BytesMut::from(&wire[..]);
                    black_box(RemotingCommand::decode_from(&mut buf).unwrap().unwrap())
                })
            });
            group.bench_with_input(BenchmarkId::new("decode_send_header", &id), &wire, |b, wire| {
                let cmd = RemotingCommand::decode(wire).unwrap().unwrap().0;
                b.iter(|| black_box(cmd.header::<SendMessageRequestHeader>().unwrap()))
            });
        }
        let resp = send_response(st);
        let wire = encoded(&resp);
        group.throughput(Throughput::Bytes(wire.len() as u64));
        group.bench_with_input(
            BenchmarkId::new("encode_send_response", name),
            &resp,
            |b, resp| {
                let mut buf = BytesMut::with_capacity(1024);
                b.iter(|| {
                    buf.clear();
                    black_box(resp).encode(&mut buf).unwrap();
                    black_box(buf.len())
                })
            },
        );
        group.bench_with_input(
            BenchmarkId::new("decode_send_response", name),
            &wire,
            |b, wire| b.iter(|| black_box(RemotingCommand::decode(wire).unwrap().unwrap())),
        );
    }
    group.finish();

    let props = encode_properties(&[
        ("UNIQ_KEY", "7F000001000018B4AAC2776B7B7F0000"),
        ("WAIT", "true"),
        ("TAGS", "TagA"),
        ("KEYS", "order-1234"),
    ]);
    c.bench_function("properties/decode", |b| {
        b.iter(|| black_box(decode_properties(black_box(&props))))
    });
}

criterion_group!(benches, frames);
criterion_main!(benches);
