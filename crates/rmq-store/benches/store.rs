//! MessageStore micro benchmarks: commitlog append (ASYNC_FLUSH, so no fsync on the put path),
//! consume-queue lookup + `get_message`, and the CQ binary search by store time.
//!
//! `cargo bench -p rmq-store --bench store`. The store lives in a temp dir (under `$TMPDIR`);
//! appends write ~200-1200 bytes per iteration, so a run writes a few hundred MiB.

#![allow(clippy::unwrap_used, reason = "test code: a failed unwrap is a failed test")]

use std::hint::black_box;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use rmq_store::{FlushDiskType, GetStatus, MessageStore, PutMessage, StoreConfig};

const TOPIC: &str = "BenchmarkTest";
const QUEUES: i32 = 4;

fn open(dir: &std::path::Path) -> MessageStore {
    let config = StoreConfig {
        store_path_root_dir: dir.to_path_buf(),
        mapped_file_size_commit_log: 256 * 1024 * 1024,
        flush_disk_type: FlushDiskType::AsyncFlush,
        total_memory_bytes: Some(24 << 30),
        ..StoreConfig::default()
    };
    MessageStore::open(config).expect("store opens")
}

fn message(body_len: usize, queue_id: i32, i: u64) -> PutMessage {
    PutMessage {
        topic: TOPIC.into(),
        queue_id,
        flag: 0,
        body: Bytes::from(vec![b'a'; body_len]),
        properties: format!(
            "UNIQ_KEY\u{1}7F000001000018B4AAC2776B{i:012X}\u{2}WAIT\u{1}true\u{2}TAGS\u{1}TagA"
        ),
        tags_code: 2_598_919,
        sys_flag: 0,
        born_timestamp: 1_700_000_000_000,
        born_host: SocketAddr::from(([127, 0, 0, 1], 50_000)),
        reconsume_times: 0,
        prepared_transaction_offset: 0,
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("runtime")
}

fn append(c: &mut Criterion) {
    let rt = runtime();
    let mut group = c.benchmark_group("store/append_async_flush");
    group.measurement_time(Duration::from_secs(3));
    for body_len in [128usize, 1024] {
        let dir = tempfile::tempdir().unwrap();
        let store = open(dir.path());
        group.throughput(Throughput::Elements(1));
        group.bench_function(BenchmarkId::from_parameter(format!("{body_len}B")), |b| {
            let mut i = 0u64;
            b.iter(|| {
                i += 1;
                let msg = message(body_len, (i % QUEUES as u64) as i32, i);
                let res = rt.block_on(store.put_message(msg));
                assert!(res.is_stored());
                black_box(res.wrote_offset)
            })
        });
        store.shutdown().unwrap();
    }
    group.finish();
}

fn lookup(c: &mut Criterion) {
    const N: u64 = 100_000;
    let rt = runtime();
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    rt.block_on(async {
        for i in 0..N {
            assert!(store
                .put_message(message(128, (i % QUEUES as u64) as i32, i))
                .await
                .is_stored());
        }
    });
    let per_queue = (N / QUEUES as u64) as i64;
    let mut group = c.benchmark_group("store/lookup");
    for max in [1i32, 32] {
        group.throughput(Throughput::Elements(max as u64));
        group.bench_function(BenchmarkId::new("get_message", max), |b| {
            let mut x = 0x9E37_79B9_7F4A_7C15u64;
            b.iter(|| {
                // xorshift: a spread of queue offsets, not one hot page.
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let queue_id = (x % QUEUES as u64) as i32;
                let offset = ((x >> 8) % (per_queue as u64 - max as u64)) as i64;
                let got = store.get_message(TOPIC, queue_id, offset, max, 1 << 20, &|_| true);
                assert_eq!(got.status, GetStatus::Found);
                black_box(got)
            })
        });
    }
    group.bench_function("offset_by_timestamp", |b| {
        b.iter(|| black_box(store.offset_by_timestamp(TOPIC, 1, black_box(1_700_000_000_000))))
    });
    group.finish();
    store.shutdown().unwrap();
}

criterion_group!(benches, append, lookup);
criterion_main!(benches);
