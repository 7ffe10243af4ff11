//! Real processes for end-to-end tests: `rmq namesrv` and `rmq broker` on free ports in temp dirs.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use rmq_protocol::codes::request_code;
use rmq_protocol::header::SendMessageRequestHeader;
use rmq_protocol::RemotingCommand;
use rmq_remoting::RemotingClient;

pub const BOOT_TIMEOUT: Duration = Duration::from_secs(30);

/// A child process killed on drop.
pub struct Proc {
    pub child: Child,
    pub boot_line: String,
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Proc {
    /// Starts `rmq <args>` and waits for a stdout line containing `needle`.
    pub fn spawn(args: &[&str], log_dir: &Path, needle: &str) -> Proc {
        let mut child = Command::new(env!("CARGO_BIN_EXE_rmq"))
            .args(args)
            .env("ROCKETMQ_LOG_DIR", log_dir)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn rmq");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        let needle = needle.to_string();
        std::thread::spawn(move || {
            let mut tx = Some(tx);
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if line.contains(&needle) {
                    if let Some(tx) = tx.take() {
                        let _ = tx.send(line);
                    }
                }
            }
        });
        match rx.recv_timeout(BOOT_TIMEOUT) {
            Ok(boot_line) => Proc { child, boot_line },
            Err(_) => {
                let _ = child.kill();
                panic!(
                    "rmq {args:?} did not print {:?} within {BOOT_TIMEOUT:?}",
                    needle_display(args)
                );
            }
        }
    }

    /// `kill -9`.
    pub fn kill9(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM and wait for a clean exit.
    pub fn terminate(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        Command::new("kill").arg("-TERM").arg(&pid).status().unwrap();
        self.child.wait().unwrap()
    }
}

fn needle_display(args: &[&str]) -> String {
    args.join(" ")
}

/// A name server process.
pub fn namesrv(dir: &Path) -> (Proc, String) {
    let p = Proc::spawn(
        &["namesrv", "--listen-port", "0"],
        dir,
        "The Name Server boot success",
    );
    let port = p
        .boot_line
        .rsplit("listenPort=")
        .next()
        .unwrap()
        .trim()
        .to_string();
    (p, format!("127.0.0.1:{port}"))
}

/// Writes a broker.conf into `dir` and starts a broker; returns it and its advertised address.
pub fn broker(dir: &Path, namesrv: &str, extra: &str) -> (Proc, String) {
    let conf = dir.join("broker.conf");
    let store = dir.join("store");
    std::fs::write(
        &conf,
        format!(
            "brokerClusterName=DefaultCluster\nbrokerName=broker-a\nbrokerId=0\nlistenPort=0\nbrokerIP1=127.0.0.1\n\
             storePathRootDir={}\nmappedFileSizeCommitLog=1048576\n{extra}\n",
            store.display()
        ),
    )
    .unwrap();
    spawn_broker(dir, namesrv, &conf)
}

/// Starts `rmq broker -n namesrv -c conf`; returns it and its advertised address (from the boot
/// line `The broker[<name>, <ip:port>] boot success...`).
pub fn spawn_broker(dir: &Path, namesrv: &str, conf: &Path) -> (Proc, String) {
    let p = Proc::spawn(
        &["broker", "-n", namesrv, "-c", conf.to_str().unwrap()],
        dir,
        "boot success",
    );
    let addr = p
        .boot_line
        .split(", ")
        .nth(1)
        .and_then(|s| s.split(']').next())
        .unwrap()
        .to_string();
    (p, addr)
}

pub fn temp_dir() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

pub fn path(p: &Path) -> PathBuf {
    p.to_path_buf()
}

/// A SEND_MESSAGE_V2 request as the Java client builds it.
pub fn send_request(topic: &str, queue_id: i32, body: &[u8], props: &str) -> RemotingCommand {
    let header = SendMessageRequestHeader {
        producer_group: "PG".into(),
        topic: topic.into(),
        default_topic: "TBW102".into(),
        default_topic_queue_nums: 4,
        queue_id,
        sys_flag: 0,
        born_timestamp: 1_700_000_000_000,
        flag: 0,
        properties: Some(props.to_string()),
        reconsume_times: Some(0),
        unit_mode: false,
        max_reconsume_times: None,
        batch: false,
        bname: None,
    };
    let mut ext = std::collections::HashMap::new();
    header.encode_v2(&mut ext);
    let mut req = RemotingCommand::request(request_code::SEND_MESSAGE_V2).with_body(body.to_vec());
    req.ext_fields = ext;
    req
}

pub async fn invoke(client: &RemotingClient, addr: &str, req: RemotingCommand) -> RemotingCommand {
    client
        .invoke(addr, req, Duration::from_secs(10))
        .await
        .expect("request failed")
}

pub const RUN_TIMEOUT: Duration = Duration::from_secs(60);

/// Runs `rmq <args>`, killed if it takes longer than [`RUN_TIMEOUT`].
pub fn rmq(args: &[&str]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_rmq"))
        .args(args)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run rmq");
    let deadline = Instant::now() + RUN_TIMEOUT;
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!("rmq {args:?} did not finish: {}", text(&out));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().unwrap()
}

pub fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

pub fn ok(args: &[&str]) -> String {
    let out = rmq(args);
    assert!(out.status.success(), "rmq {args:?} failed: {}", text(&out));
    text(&out)
}
