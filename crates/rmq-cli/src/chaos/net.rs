//! Network cut-offs. The harness re-executes itself in a private network namespace
//! (`unshare -rn`: no root needed where unprivileged user namespaces are allowed), where it owns
//! the routing rules of its own loopback device. Cutting a broker off adds
//! `ip rule … ipproto tcp dport <port> unreachable` for its ports: packets towards them are
//! dropped, so established connections stall (requests time out, nothing is reset) and new
//! connections fail with "no route to host"; removing the rules lets TCP retransmit and the
//! stalled connections resume. The broker's own outbound connections (registrations to the name
//! server) still get through: the route keeps advertising a broker nobody can reach, the harsher
//! case for clients.

use std::process::{Command, Stdio};

use anyhow::{bail, Context};

/// Set in the re-executed harness: it already runs in its own network namespace.
const IN_NETNS_ENV: &str = "RMQ_CHAOS_IN_NETNS";

/// Priority of the cut-off rules: before the `local` table, which is moved to 100.
const CUT_PREF: &str = "10";

/// Whether this process is the one re-executed inside the private network namespace.
pub fn in_private_netns() -> bool {
    std::env::var_os(IN_NETNS_ENV).is_some()
}

/// Whether `unshare -rn` and `ip rule … dport` work here (both are needed for cut-offs).
pub fn available() -> bool {
    Command::new("unshare")
        .args([
            "-rn",
            "sh",
            "-c",
            "ip link set lo up && ip rule add pref 10 ipproto tcp dport 9 unreachable",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Runs this same command line again inside a private network namespace and returns its exit
/// code (the caller exits with it).
pub fn reexec_in_netns() -> anyhow::Result<i32> {
    let exe = std::env::current_exe().context("current_exe")?;
    let status = Command::new("unshare")
        .arg("-rn")
        .arg("--")
        .arg(exe)
        .args(std::env::args_os().skip(1))
        .env(IN_NETNS_ENV, "1")
        .status()
        .context("run unshare -rn")?;
    Ok(status.code().unwrap_or(1))
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
