//! What ACL 1.0 costs per request, apart from the network and the store: the broker's whole
//! decision (`AclRules::check`: resources needed, account lookup, signature) on a signed
//! SEND_MESSAGE_V2 of a 1 KiB message as the Java client sends it, and the client's signing of
//! the same request. BENCHMARKS.md "ACL cost" puts these beside the broker's CPU per message.
//!
//! `cargo bench -p rmq-acl --bench check`

#![allow(clippy::unwrap_used, reason = "bench code: a failed unwrap is a failed bench")]

use std::collections::HashMap;
use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use rmq_acl::sign::{self, Credentials};
use rmq_acl::{AclFile, AclRules, Request};
use rmq_protocol::codes::request_code as rc;

const YAML: &str = r#"
globalWhiteRemoteAddresses:
  - 10.10.103.*
accounts:
  - accessKey: RocketMQ
    secretKey: 12345678
    whiteRemoteAddress:
    admin: false
    defaultTopicPerm: DENY
    defaultGroupPerm: SUB
    topicPerms:
      - topicA=DENY
      - topicB=PUB|SUB
      - BenchmarkAcl=PUB
      - topicC=SUB
    groupPerms:
      - groupA=DENY
      - groupB=PUB|SUB
  - accessKey: rocketmq2
    secretKey: 12345678
    whiteRemoteAddress: 192.168.1.*
    admin: true
"#;

/// The ext fields of a Java 4.9 client's SEND_MESSAGE_V2 (short names a..n).
fn send_fields() -> HashMap<String, String> {
    let props = "UNIQ_KEY\u{1}7F000001000018B4AAC2776B7B7F0000\u{2}WAIT\u{1}true\u{2}TAGS\u{1}TagA\u{2}";
    [
        ("a", "benchmark_producer"),
        ("b", "BenchmarkAcl"),
        ("c", "TBW102"),
        ("d", "4"),
        ("e", "3"),
        ("f", "0"),
        ("g", "1700000000000"),
        ("h", "0"),
        ("i", props),
        ("j", "0"),
        ("k", "false"),
        ("m", "false"),
        ("n", "broker-a"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

fn check(c: &mut Criterion) {
    let file: AclFile = serde_yaml::from_str(YAML).unwrap();
    let (rules, _) = AclRules::compile([("plain_acl.yml", &file)]).unwrap();
    let peer = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1));
    let creds = Credentials::new("RocketMQ", "12345678");
    let mut group = c.benchmark_group("acl");
    for body_len in [128usize, 1024] {
        let body = vec![b'a'; body_len];
        let mut fields = send_fields();
        sign::sign_fields(&mut fields, &body, &creds);
        let req = Request {
            code: rc::SEND_MESSAGE_V2,
            version: 453,
            fields: &fields,
            body: &body,
        };
        rules.check(&req, peer).unwrap();
        group.throughput(Throughput::Elements(1));
        group.bench_function(format!("check_send/{body_len}B"), |b| {
            b.iter(|| black_box(&rules).check(black_box(&req), peer).unwrap())
        });
        group.bench_function(format!("sign_send/{body_len}B"), |b| {
            let unsigned = send_fields();
            b.iter_batched_ref(
                || unsigned.clone(),
                |f| sign::sign_fields(f, black_box(&body), &creds),
                criterion::BatchSize::SmallInput,
            )
        });
    }
    group.finish();
}

criterion_group!(benches, check);
criterion_main!(benches);
