//! Network cut-offs. The harness re-executes itself in a private network and PID namespace
//! (`unshare -rn --pid --fork --kill-child`: no root needed where unprivileged user namespaces
//! are allowed), where it owns the routing rules of its own loopback device, and where it is
//! PID 1: if it dies, even by SIGKILL, the kernel kills every server process it started (and
//! `--kill-child` kills it if the `unshare` outside is killed). Cutting a broker off adds
//! `ip rule … ipproto tcp dport <port> unreachable` for its ports: packets towards them are
//! dropped, so established connections stall (requests time out, nothing is reset) and new
//! connections fail with "no route to host"; removing the rules lets TCP retransmit and the
//! stalled connections resume. The broker's own outbound connections (registrations to the name
//! server) still get through: the route keeps advertising a broker nobody can reach, the harsher
//! case for clients.

use std::process::{Command, Stdio};

use anyhow::{bail, Context};

/// Set in the re-executed harness: it already runs in its own namespaces.
const IN_NETNS_ENV: &str = "RMQ_CHAOS_IN_NETNS";

/// Priority of the cut-off rules: before the `local` table, which is moved to 100.
const CUT_PREF: &str = "10";

/// Whether this process is the one re-executed inside the private network namespace.
pub fn in_private_netns() -> bool {
    std::env::var_os(IN_NETNS_ENV).is_some()
}

/// `unshare` arguments: user (mapped to root), network and PID namespaces, this process as
/// the namespace's PID 1.
const UNSHARE: [&str; 4] = ["-rn", "--pid", "--fork", "--kill-child"];

/// Whether the namespaces can be had and `ip rule … dport` works in them.
pub fn available() -> bool {
    Command::new("unshare")
        .args(UNSHARE)
        .args([
            "sh",
            "-c",
            "ip link set lo up && ip rule add pref 10 ipproto tcp dport 9 unreachable",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Replaces this process by `unshare` running this same command line inside the private
/// namespaces (so killing the process the caller started kills the whole run). Returns only on
/// failure.
pub fn reexec_in_netns() -> anyhow::Error {
    use std::os::unix::process::CommandExt;
    let exe = match std::env::current_exe() {
        Ok(exe) => exe,
        Err(e) => return anyhow::Error::new(e).context("current_exe"),
    };
    let err = Command::new("unshare")
        .args(UNSHARE)
        .arg("--")
        .arg(exe)
        .args(std::env::args_os().skip(1))
        .env(IN_NETNS_ENV, "1")
        .exec();
    anyhow::Error::new(err).context("exec unshare")
}

/// Brings the namespace's loopback up and moves the `local` routing table behind [`CUT_PREF`]
/// (it is consulted first by default, and every loopback destination is local).
pub fn setup_loopback() -> anyhow::Result<()> {
    ip(&["link", "set", "lo", "up"])?;
    ip(&["rule", "add", "pref", "100", "lookup", "local"])?;
    ip(&["rule", "del", "pref", "0"])?;
    Ok(())
}

/// TCP towards `port` becomes unreachable.
pub fn block(port: u16) -> anyhow::Result<()> {
    ip(&rule("add", port))
}

/// Undoes [`block`].
pub fn unblock(port: u16) -> anyhow::Result<()> {
    ip(&rule("del", port))
}

fn rule(verb: &str, port: u16) -> Vec<String> {
    let port = port.to_string();
    [
        "rule",
        verb,
        "pref",
        CUT_PREF,
        "ipproto",
        "tcp",
        "dport",
        &port,
        "unreachable",
    ]
    .map(str::to_owned)
    .to_vec()
}

fn ip(args: &[impl AsRef<std::ffi::OsStr>]) -> anyhow::Result<()> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .context("run ip (iproute2)")?;
    if !out.status.success() {
        let line: Vec<String> = args
            .iter()
            .map(|a| a.as_ref().to_string_lossy().into_owned())
            .collect();
        bail!(
            "ip {} failed: {}",
            line.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}
