//! The cluster under test: `rmq namesrv` and `rmq broker` child processes (this same binary) on
//! loopback ports chosen up front, so a restarted broker comes back at the address clients know.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

use super::net;

/// How long a process may take to print its boot line.
const BOOT_TIMEOUT: Duration = Duration::from_secs(30);

/// One server process: how to start it, and the running child if any.
pub struct Node {
    pub name: String,
    /// This binary, resolved once: a rebuild during the run replaces the file, and
    /// `current_exe()` of a replaced binary names a deleted file.
    exe: PathBuf,
    args: Vec<String>,
    dir: PathBuf,
    /// The broker's store directory (None for the name server).
    pub store: Option<PathBuf>,
    child: Option<Child>,
    /// SIGSTOPped and not yet continued.
    pub paused: bool,
    /// Left down by [`Cluster::heal`] (a lost master whose slave must serve everything).
    pub keep_down: bool,
    /// TCP ports made unreachable when the node is cut off: its listen port, and the HA port
    /// its replication runs over (a master's own, a slave's master's).
    cut_ports: Vec<u16>,
    /// Cut off and not yet reconnected.
    pub cut: bool,
}

impl Node {
    pub(super) fn new(
        name: &str,
        exe: &Path,
        args: Vec<String>,
        dir: PathBuf,
        store: Option<PathBuf>,
    ) -> Self {
        Node {
            name: name.to_owned(),
            exe: exe.to_path_buf(),
            args,
            dir,
            store,
            child: None,
            paused: false,
            keep_down: false,
            cut_ports: Vec::new(),
            cut: false,
        }
    }

    /// Starts the process and waits for its "boot success" line on stdout (kept in
    /// `<dir>/<name>.out`, appended across restarts).
    pub fn start(&mut self) -> anyhow::Result<()> {
        if self.child.is_some() {
            return Ok(());
        }
        let out_path = self.dir.join(format!("{}.out", self.name));
        let before = std::fs::read_to_string(&out_path)
            .map(|s| s.matches("boot success").count())
            .unwrap_or(0);
        let out = File::options()
            .create(true)
            .append(true)
            .open(&out_path)
            .with_context(|| format!("open {}", out_path.display()))?;
        let mut child = Command::new(&self.exe)
            .args(&self.args)
            .env("ROCKETMQ_LOG_DIR", self.dir.join(format!("{}-logs", self.name)))
            // RMQ_CHAOS_LOG (e.g. `info`) sets the servers' log level; default warn.
            .env(
                "RUST_LOG",
                std::env::var("RMQ_CHAOS_LOG").unwrap_or_else(|_| "warn".to_owned()),
            )
            .stdout(Stdio::from(out.try_clone()?))
            .stderr(Stdio::from(out))
            .spawn()
            .with_context(|| format!("spawn {}", self.name))?;
        let deadline = Instant::now() + BOOT_TIMEOUT;
        loop {
            let booted = std::fs::read_to_string(&out_path)
                .map(|s| s.matches("boot success").count() > before)
                .unwrap_or(false);
            if booted {
                break;
            }
            if let Some(status) = child.try_wait()? {
                bail!(
                    "{} exited during start-up ({status}); see {}",
                    self.name,
                    out_path.display()
                );
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                bail!(
                    "{} did not boot within {BOOT_TIMEOUT:?}; see {}",
                    self.name,
                    out_path.display()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        self.child = Some(child);
        self.paused = false;
        Ok(())
    }

    /// `kill -9` (continuing a paused process is not needed: SIGKILL works on stopped ones).
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        self.paused = false;
    }

    /// SIGTERM and wait for the clean shutdown (SIGKILL after 30 s).
    pub fn terminate(&mut self) {
        self.resume();
        if let Some(mut child) = self.child.take() {
            signal(&child, "TERM");
            let deadline = Instant::now() + Duration::from_secs(30);
            while matches!(child.try_wait(), Ok(None)) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGSTOP: the process holds its sockets but answers nothing.
    pub fn pause(&mut self) {
        if let Some(child) = &self.child {
            signal(child, "STOP");
            self.paused = true;
        }
    }

    /// SIGCONT.
    pub fn resume(&mut self) {
        if let (Some(child), true) = (&self.child, self.paused) {
            signal(child, "CONT");
        }
        self.paused = false;
    }

    /// Makes the node's ports unreachable (see [`super::net`]); the process keeps running.
    pub fn cut_off(&mut self) -> anyhow::Result<()> {
        if !self.cut {
            self.cut = true;
            for port in &self.cut_ports {
                net::block(*port)?;
            }
        }
        Ok(())
    }

    /// Undoes [`Node::cut_off`].
    pub fn reconnect(&mut self) -> anyhow::Result<()> {
        if self.cut {
            for port in &self.cut_ports {
                net::unblock(*port)?;
            }
            self.cut = false;
        }
        Ok(())
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill9();
    }
}

fn signal(child: &Child, sig: &str) {
    let status = Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(child.id().to_string())
        .status();
    if !matches!(status, Ok(s) if s.success()) {
        eprintln!("chaos: kill -{sig} {} failed: {status:?}", child.id());
    }
}

/// What every broker.conf of the run shares.
pub struct BrokerSettings {
    pub flush: String,
    pub role: String,
}

/// A name server and, per broker group, a master and optionally a slave.
pub struct Cluster {
    exe: PathBuf,
    pub namesrv_addr: String,
    pub namesrv: Node,
    /// Masters, in group order (`a`, `b`).
    pub masters: Vec<Node>,
    pub master_addrs: Vec<String>,
    pub slaves: Vec<Node>,
    /// Running in a private network namespace: brokers can be cut off.
    pub net: bool,
}

pub const GROUPS: [&str; 2] = ["a", "b"];

impl Cluster {
    /// Writes the configuration files under `dir` and starts every process.
    pub fn start(dir: &Path, settings: &BrokerSettings, slaves: bool, net: bool) -> anyhow::Result<Cluster> {
        let exe = std::env::current_exe().context("current_exe")?;
        let mut taken = Vec::new();
        let (namesrv, namesrv_addr) = start_namesrv(dir, &exe, &mut taken)?;
        let mut cluster = Cluster {
            exe,
            namesrv_addr,
            namesrv,
            masters: Vec::new(),
            master_addrs: Vec::new(),
            slaves: Vec::new(),
            net,
        };
        for group in GROUPS {
            let (mut node, port) = cluster.broker_node(dir, group, 0, settings, &mut taken)?;
            node.cut_ports = vec![port, port + 1];
            cluster.masters.push(node);
            cluster.master_addrs.push(format!("127.0.0.1:{port}"));
            if slaves {
                let (mut node, slave_port) = cluster.broker_node(dir, group, 1, settings, &mut taken)?;
                node.cut_ports = vec![slave_port, port + 1];
                cluster.slaves.push(node);
            }
        }
        for node in cluster.masters.iter_mut().chain(cluster.slaves.iter_mut()) {
            node.start()?;
        }
        Ok(cluster)
    }

    fn broker_node(
        &self,
        dir: &Path,
        group: &str,
        id: u32,
        settings: &BrokerSettings,
        taken: &mut Vec<u16>,
    ) -> anyhow::Result<(Node, u16)> {
        // The HA port is listenPort + 1: keep it free too.
        let port = free_port(true, taken)?;
        let name = format!("{group}-{id}");
        let store = dir.join(&name).join("store");
        let role = if id == 0 { settings.role.as_str() } else { "SLAVE" };
        let conf = format!(
            "brokerClusterName=ChaosCluster\nbrokerName={group}\nbrokerId={id}\nlistenPort={port}\n\
             brokerIP1=127.0.0.1\nnamesrvAddr={}\nstorePathRootDir={}\nflushDiskType={}\nbrokerRole={role}\n\
             mappedFileSizeCommitLog=16777216\nautoCreateTopicEnable=true\n",
            self.namesrv_addr,
            store.display(),
            settings.flush,
        );
        std::fs::create_dir_all(dir.join(&name))?;
        let conf_path = dir.join(&name).join("broker.conf");
        std::fs::write(&conf_path, conf).with_context(|| format!("write {}", conf_path.display()))?;
        let args = vec![
            "broker".into(),
            "-c".into(),
            conf_path.to_string_lossy().into_owned(),
        ];
        Ok((
            Node::new(&name, &self.exe, args, dir.to_path_buf(), Some(store)),
            port,
        ))
    }

    /// Brings every process back (but those marked `keep_down`): reconnects cut-off ones,
    /// continues paused ones, starts stopped ones.
    pub fn heal(&mut self) -> anyhow::Result<()> {
        for node in std::iter::once(&mut self.namesrv)
            .chain(self.masters.iter_mut())
            .chain(self.slaves.iter_mut())
            .filter(|n| !n.keep_down)
        {
            node.reconnect()?;
            node.resume();
            node.start()?;
        }
        Ok(())
    }

    pub fn shutdown(&mut self) {
        for node in self.masters.iter_mut().chain(self.slaves.iter_mut()) {
            node.terminate();
        }
        self.namesrv.terminate();
    }
}

/// Starts `rmq namesrv` on a free loopback port (its cut-off port); returns it and its address.
pub(super) fn start_namesrv(dir: &Path, exe: &Path, taken: &mut Vec<u16>) -> anyhow::Result<(Node, String)> {
    let port = free_port(false, taken)?;
    let mut namesrv = Node::new(
        "namesrv",
        exe,
        vec!["namesrv".into(), "--listen-port".into(), port.to_string()],
        dir.to_path_buf(),
        None,
    );
    namesrv.cut_ports = vec![port];
    namesrv.start()?;
    Ok((namesrv, format!("127.0.0.1:{port}")))
}

/// A loopback port free now (and, with `pair`, the one after it too), not handed out before.
pub(super) fn free_port(pair: bool, taken: &mut Vec<u16>) -> anyhow::Result<u16> {
    for _ in 0..100 {
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        let port = listener.local_addr()?.port();
        let clash = taken.iter().any(|t| *t == port || (pair && *t == port + 1));
        if clash || port == u16::MAX {
            continue;
        }
        if !pair || std::net::TcpListener::bind(("127.0.0.1", port + 1)).is_ok() {
            taken.push(port);
            if pair {
                taken.push(port + 1);
            }
            return Ok(port);
        }
    }
    bail!("no free loopback port pair found")
}
