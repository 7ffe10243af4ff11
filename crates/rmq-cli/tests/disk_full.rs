//! A real full disk: the broker process keeps its store on a 24 MiB tmpfs (half of it ballast).
//!
//! 1. Produce until refused: new 4 MiB segments get their blocks at creation, so the refusal is
//!    a clean SYSTEM_ERROR "create mapped file failed" (ENOSPC), never a crash or SIGBUS; every
//!    answer is SUCCESS or a clear error and every SUCCESS is readable; pulls are still served.
//! 2. Usage above 90 % (a second ballast file) → DISK_FULL → SERVICE_NOT_AVAILABLE with Java's
//!    remark; removing it clears the flag.
//! 3. Restart on the full disk: recovery finds every acknowledged message, nothing else.
//! 4. Free space (delete the ballast) → writes resume. An aged segment goes with
//!    DELETE_EXPIRED_COMMITLOG and the queue min offsets move.
//!
//! The tmpfs is mounted directly when permitted (root), else the test re-runs itself in a user +
//! mount namespace (`unshare -rm`). If neither works, the test fails.

#![allow(clippy::unwrap_used, reason = "test code: a failed unwrap is a failed test")]

mod common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant, SystemTime};

use common::*;
use rmq_protocol::codes::{request_code, response_code};
use rmq_protocol::message;
use rmq_protocol::RemotingCommand;
use rmq_remoting::RemotingClient;

const CHILD_ENV: &str = "RMQ_DISK_FULL_TEST_IN_NAMESPACE";
const DONE: &str = "disk-full scenario complete";
const TOPIC: &str = "FullTopic";
const QUEUES: i32 = 4;
const MIB: usize = 1 << 20;

struct Mount(PathBuf);

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

fn mount_tmpfs(dir: &Path) -> Option<Mount> {
    let ok = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=24m", "tmpfs"])
        .arg(dir)
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    ok.then(|| Mount(dir.to_path_buf()))
}

#[test]
fn full_tmpfs_refuses_writes_cleanly_and_recovers() {
    let dir = temp_dir();
    let mnt = dir.path().join("tmpfs");
    std::fs::create_dir_all(&mnt).unwrap();
    if let Some(mount) = mount_tmpfs(&mnt) {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(scenario(dir.path(), &mnt));
        drop(mount);
        println!("{DONE}");
        return;
    }
    assert!(
        std::env::var(CHILD_ENV).is_err(),
        "cannot mount a tmpfs even inside a user + mount namespace"
    );
    let out = Command::new("unshare")
        .arg("-rm")
        .arg(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "full_tmpfs_refuses_writes_cleanly_and_recovers",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, "1")
        .output()
        .expect("neither mount nor unshare available: cannot run the full-disk test");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.contains(DONE),
        "full-disk test in a user namespace failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
}

fn write_ballast(path: &Path, bytes: usize) {
    std::fs::write(path, vec![0xA5u8; bytes]).unwrap();
}

/// Up to `bytes` of ballast, as much as still fits (the store may have filled the disk).
fn write_ballast_best_effort(path: &Path, bytes: usize) {
    use std::io::Write;
    let mut f = std::fs::File::create(path).unwrap();
    let chunk = vec![0xA5u8; 64 << 10];
    let mut left = bytes;
    while left > 0 {
        let n = left.min(chunk.len());
        match f.write_all(&chunk[..n]) {
            Ok(()) => left -= n,
            Err(e) if e.raw_os_error() == Some(28) => break,
            Err(e) => panic!("ballast: {e}"),
        }
    }
}

fn start_broker(dir: &Path, store: &Path, ns: &str) -> (Proc, String) {
    let conf = dir.join("broker-full.conf");
    std::fs::write(
        &conf,
        format!(
            "brokerClusterName=DefaultCluster\nbrokerName=broker-full\nbrokerId=0\nlistenPort=0\n\
             brokerIP1=127.0.0.1\nstorePathRootDir={}\nmappedFileSizeCommitLog={}\n\
             mappedFileSizeConsumeQueue=20000\nmaxHashSlotNum=1000\nmaxIndexNum=4000\n\
             diskCheckInterval=100\ncleanResourceFirstDelay=0\ncleanResourceInterval=200\n\
             deleteWhen=99\nfileReservedTime=1\ncleanFileForciblyEnable=false\ndeleteCommitLogFilesInterval=0\n",
            store.display(),
            4 * MIB
        ),
    )
    .unwrap();
    spawn_broker(dir, ns, &conf)
}

/// body → (commitlog offset, queue, queue offset)
type Acked = HashMap<String, (i64, i32, i64)>;

async fn send(client: &RemotingClient, addr: &str, queue: i32, body: &str) -> RemotingCommand {
    invoke(client, addr, send_request(TOPIC, queue, body.as_bytes(), "")).await
}

fn record(acked: &mut Acked, body: String, queue: i32, resp: &RemotingCommand) {
    let (_, off) = message::decode_offset_msg_id(resp.ext("msgId").unwrap()).unwrap();
    let qo: i64 = resp.ext("queueOffset").unwrap().parse().unwrap();
    acked.insert(body, (off, queue, qo));
}

fn body(i: usize) -> String {
    format!("m{i}-{}", "x".repeat(4000))
}

const CREATE_FAILED: &str = "create mapped file failed, server is busy or broken.";
const DISK_FULL_REMARK: &str =
    "service not available now. It may be caused by one of the following reasons: the broker's disk is full";

async fn queue_offsets(client: &RemotingClient, addr: &str, code: i32) -> Vec<i64> {
    let mut v = Vec::new();
    for q in 0..QUEUES {
        let r = invoke(
            client,
            addr,
            RemotingCommand::request(code)
                .with_ext("topic", TOPIC)
                .with_ext("queueId", q.to_string()),
        )
        .await;
        assert_eq!(r.code, response_code::SUCCESS);
        v.push(r.ext("offset").unwrap().parse().unwrap());
    }
    v
}

/// Every acknowledged message is readable, and the queues hold exactly the acknowledged ones.
async fn check_acked(client: &RemotingClient, addr: &str, acked: &Acked) {
    let mut per_queue = vec![0i64; QUEUES as usize];
    for (body, (offset, queue, qo)) in acked {
        per_queue[*queue as usize] += 1;
        let view = invoke(
            client,
            addr,
            RemotingCommand::request(request_code::VIEW_MESSAGE_BY_ID).with_ext("offset", offset.to_string()),
        )
        .await;
        assert_eq!(
            view.code,
            response_code::SUCCESS,
            "acked message at {offset} lost"
        );
        let (m, _) = message::decode_message(&view.body).unwrap();
        assert_eq!(std::str::from_utf8(&m.body).unwrap(), body);
        assert_eq!((m.queue_id, m.queue_offset), (*queue, *qo));
    }
    let max = queue_offsets(client, addr, request_code::GET_MAX_OFFSET).await;
    assert_eq!(max, per_queue, "queues hold exactly the acknowledged messages");
}

/// Sends until `want(resp)` holds (a flag the periodic disk check sets or clears).
async fn send_until(
    client: &RemotingClient,
    addr: &str,
    acked: &mut Acked,
    next: &mut usize,
    want: impl Fn(&RemotingCommand) -> bool,
) -> RemotingCommand {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let q = (*next % QUEUES as usize) as i32;
        let b = body(*next);
        *next += 1;
        let r = send(client, addr, q, &b).await;
        if r.code == response_code::SUCCESS {
            record(acked, b, q, &r);
        }
        if want(&r) {
            return r;
        }
        assert!(Instant::now() < deadline, "last answer {} {:?}", r.code, r.remark);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn is_create_failed(r: &RemotingCommand) -> bool {
    r.code == response_code::SYSTEM_ERROR && r.remark.as_deref() == Some(CREATE_FAILED)
}

/// A clean refusal for lack of space: no room for the write (a new file, or blocks for the
/// record in the current one), or DISK_FULL once the used ratio passed 90 %.
fn is_refused_for_space(r: &RemotingCommand) -> bool {
    is_create_failed(r) || is_disk_full(r)
}

fn is_disk_full(r: &RemotingCommand) -> bool {
    r.code == response_code::SERVICE_NOT_AVAILABLE
        && r.remark
            .as_deref()
            .is_some_and(|m| m.starts_with(DISK_FULL_REMARK))
}

async fn scenario(dir: &Path, mnt: &Path) {
    let ballast = mnt.join("ballast");
    write_ballast(&ballast, 8 * MIB);
    let store = mnt.join("store");
    let (_ns, ns_addr) = namesrv(dir);
    let (broker_proc, addr) = start_broker(dir, &store, &ns_addr);
    let client = RemotingClient::new();
    let mut acked = Acked::new();

    // 1. Produce until refused; every answer is SUCCESS or a clear error.
    let mut next = 0usize;
    let refused = loop {
        assert!(next < 20_000, "never refused");
        let q = (next % QUEUES as usize) as i32;
        let b = body(next);
        next += 1;
        let r = send(&client, &addr, q, &b).await;
        if r.code == response_code::SUCCESS {
            record(&mut acked, b, q, &r);
        } else {
            break r;
        }
    };
    assert!(
        is_refused_for_space(&refused),
        "{} {:?}",
        refused.code,
        refused.remark
    );
    assert!(acked.len() > 1000, "only {} messages fit", acked.len());
    for _ in 0..20 {
        let r = send_until(&client, &addr, &mut acked, &mut next, |_| true).await;
        assert!(is_refused_for_space(&r), "{} {:?}", r.code, r.remark);
    }
    check_acked(&client, &addr, &acked).await;
    // Pulls are served, too.
    let pull = invoke(
        &client,
        &addr,
        RemotingCommand::request(request_code::PULL_MESSAGE)
            .with_ext("consumerGroup", "G")
            .with_ext("topic", TOPIC)
            .with_ext("queueId", "0")
            .with_ext("queueOffset", "0")
            .with_ext("maxMsgNums", "8")
            .with_ext("sysFlag", "4")
            .with_ext("commitOffset", "0")
            .with_ext("suspendTimeoutMillis", "0")
            .with_ext("subscription", "*")
            .with_ext("subVersion", "0"),
    )
    .await;
    assert_eq!(pull.code, response_code::SUCCESS, "{:?}", pull.remark);
    assert!(!message::decode_messages(&pull.body).unwrap().is_empty());

    // 2. Above 90 %: DISK_FULL (the store may have filled the disk already: segments get their
    // blocks in chunks as they fill, not all at creation). It clears in step 4.
    let ballast2 = mnt.join("ballast2");
    write_ballast_best_effort(&ballast2, 2 * MIB);
    let r = send_until(&client, &addr, &mut acked, &mut next, is_disk_full).await;
    assert!(is_disk_full(&r));
    std::fs::remove_file(&ballast2).unwrap();
    send_until(&client, &addr, &mut acked, &mut next, is_refused_for_space).await;

    // 3. Restart on the full disk: a clean stop, then recovery finds exactly the acked messages.
    assert!(broker_proc.terminate().success(), "clean shutdown on a full disk");
    let (broker_proc, addr) = start_broker(dir, &store, &ns_addr);
    check_acked(&client, &addr, &acked).await;
    broker_proc.kill9();
    let (_broker_proc, addr) = start_broker(dir, &store, &ns_addr);
    check_acked(&client, &addr, &acked).await;

    // 4. Free space: writes resume.
    std::fs::remove_file(&ballast).unwrap();
    let r = send_until(&client, &addr, &mut acked, &mut next, |r| {
        r.code == response_code::SUCCESS
    })
    .await;
    assert_eq!(r.code, response_code::SUCCESS);
    for _ in 0..200 {
        let r = send_until(&client, &addr, &mut acked, &mut next, |_| true).await;
        assert_eq!(r.code, response_code::SUCCESS, "{:?}", r.remark);
    }
    check_acked(&client, &addr, &acked).await;

    // An expired segment goes on DELETE_EXPIRED_COMMITLOG; queue min offsets follow.
    let first = store.join("commitlog").join("00000000000000000000");
    std::fs::File::options()
        .write(true)
        .open(&first)
        .unwrap()
        .set_modified(SystemTime::now() - Duration::from_secs(2 * 3600))
        .unwrap();
    let r = invoke(
        &client,
        &addr,
        RemotingCommand::request(request_code::DELETE_EXPIRED_COMMITLOG),
    )
    .await;
    assert_eq!(r.code, response_code::SUCCESS);
    let deadline = Instant::now() + Duration::from_secs(30);
    while first.exists() {
        assert!(Instant::now() < deadline, "expired segment never deleted");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let min = queue_offsets(&client, &addr, request_code::GET_MIN_OFFSET).await;
        if min.iter().all(|&m| m > 0) {
            break;
        }
        assert!(Instant::now() < deadline, "min offsets {min:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let r = send(&client, &addr, 0, "after cleanup").await;
    assert_eq!(r.code, response_code::SUCCESS);
}
