//! `rmq`: the one binary. `rmq namesrv`, `rmq broker`, `rmq standalone`, `rmq shutdown`,
//! `rmq console`, `rmq admin …`, `rmq produce`, `rmq bench`, and the hidden `rmq chaos` (run by
//! `scripts/chaos`).
//!
//! # Layout
//! - `servers`: the name server / broker / standalone / console commands and graceful shutdown.
//! - `admin`: the `mqadmin` subset.
//! - `produce`: the quickstart producer.
//! - `consume`: the quickstart consumer.
//! - `bench`: `rmq bench produce | consume` load generators.
//! - `chaos`: the fault-injection harness (cluster of child processes, load, report).
//! - `logging`: stdout + `~/logs/rocketmqlogs/<name>.log`.
//! - `properties`: Java `.properties` parsing for `-c` files.
//! - `credentials`, `tls_args`: the `--access-key`/`--secret-key` and `--tls*` flags of the client
//!   commands.

mod admin;
mod admin_acl;
mod admin_auth;
mod admin_controller;
mod admin_more;
mod admin_ops;
mod admin_static;
mod admin_tools;
mod bench;
mod chaos;
mod consume;
mod credentials;
mod logging;
mod produce;
mod properties;
mod servers;
mod tls_args;

use clap::{Parser, Subcommand};

/// mimalloc instead of glibc malloc: the send path allocates per request (frames, headers,
/// properties), and glibc's malloc/free was ~14 % of broker CPU under load in `perf`.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "rmq",
    version,
    about = "Apache RocketMQ 4.9 compatible message broker"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a name server (`mqnamesrv`).
    Namesrv(servers::NamesrvArgs),
    /// Run a broker (`mqbroker -n host:9876 -c broker.conf`).
    Broker(servers::BrokerArgs),
    /// Run a controller (`mqcontroller -c controller.conf`): elects a broker group's master
    /// when the old one dies (RocketMQ 5 controller mode).
    Controller(servers::ControllerArgs),
    /// Name server and broker in one process, data under ./data.
    Standalone(servers::StandaloneArgs),
    /// The web console (`http://host:port/`), talking to the cluster of `-n` by the admin protocol.
    Console(servers::ConsoleArgs),
    /// Gracefully stop running rmq servers (`mqshutdown namesrv|broker`).
    Shutdown {
        /// `namesrv`, `broker` or `standalone`.
        what: String,
    },
    /// Admin commands (`mqadmin`).
    #[command(subcommand)]
    Admin(admin::AdminCommand),
    /// The quickstart producer: sends messages and prints each SendResult.
    Produce(produce::ProduceArgs),
    /// The quickstart consumer: prints every message it receives.
    Consume(consume::ConsumeArgs),
    /// Load generators: `rmq bench produce | consume` (per-second TPS/RT, p50/p99/p999).
    #[command(subcommand)]
    Bench(bench::BenchCommand),
    /// Fault injection against a local cluster of child processes (`scripts/chaos`).
    #[command(hide = true)]
    Chaos(chaos::ChaosArgs),
}

/// mqadmin's two-letter short options (`-bn broker-a`, `-qn 8`), which clap cannot declare,
/// become their long form (`--bn`).
fn java_style_args(args: impl Iterator<Item = std::ffi::OsString>) -> Vec<std::ffi::OsString> {
    const TWO_LETTER: [&str; 4] = ["-bn", "-qn", "-mf", "-fr"];
    args.map(|a| match TWO_LETTER.iter().find(|s| a == **s) {
        Some(short) => format!("-{short}").into(),
        None => a,
    })
    .collect()
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse_from(java_style_args(std::env::args_os()));
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cannot start the runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        match cli.command {
            Command::Namesrv(args) => servers::namesrv(args).await,
            Command::Broker(args) => servers::broker(args).await,
            Command::Controller(args) => servers::controller(args).await,
            Command::Standalone(args) => servers::standalone(args).await,
            Command::Console(args) => servers::console(args).await,
            Command::Shutdown { what } => servers::shutdown(&what),
            Command::Admin(cmd) => admin::run(cmd).await,
            Command::Produce(args) => produce::run(args).await,
            Command::Consume(args) => consume::run(args).await,
            Command::Bench(cmd) => bench::run(cmd).await,
            Command::Chaos(args) => chaos::run(args).await,
        }
    });
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    /// clap's own consistency checks over every subcommand (unique argument ids, valid
    /// `requires`, ...), which otherwise fire only when that subcommand is run.
    #[test]
    fn the_command_line_is_consistent() {
        use clap::CommandFactory;
        super::Cli::command().debug_assert();
    }
}
