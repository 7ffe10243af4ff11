//! Logs go to stdout and to `~/logs/rocketmqlogs/<name>.log` (or `$ROCKETMQ_LOG_DIR/<name>.log`),
//! where RocketMQ users look for them. `RUST_LOG` filters (default `info`).

use std::path::PathBuf;
use std::sync::Mutex;

use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{fmt, EnvFilter};

/// The directory log files are written to.
pub fn log_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("ROCKETMQ_LOG_DIR") {
        return PathBuf::from(dir);
    }
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."));
    home.join("logs").join("rocketmqlogs")
}

/// Installs the subscriber; `file_name` is e.g. `broker.log`. A log file that cannot be opened
/// is reported on stderr and logging continues on stdout only.
pub fn init(file_name: Option<&str>) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let colour = std::io::IsTerminal::is_terminal(&std::io::stdout());
    let stdout = fmt::layer().with_target(false).with_ansi(colour);
    let file = file_name.and_then(|name| {
        let dir = log_dir();
        let opened = std::fs::create_dir_all(&dir).and_then(|_| {
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(dir.join(name))
        });
        match opened {
            Ok(f) => Some(
                fmt::layer()
                    .with_ansi(false)
                    .with_target(false)
                    .with_writer(Mutex::new(f)),
            ),
            Err(e) => {
                eprintln!("cannot open log file {}: {e}", dir.join(name).display());
                None
            }
        }
    });
    let _ = tracing_subscriber::registry()
        .with(filter)
        .with(stdout)
        .with(file)
        .try_init();
}
