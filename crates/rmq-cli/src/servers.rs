//! Server commands: `namesrv`, `broker`, `standalone`, `shutdown`.

use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{bail, Context};
use clap::Args;
use rmq_broker::{Broker, BrokerConfig};
use rmq_namesrv::{NameServer, NamesrvConfig};

use crate::{logging, properties};

#[derive(Args)]
pub struct NamesrvArgs {
    /// namesrv.properties file.
    #[arg(short = 'c', long = "config")]
    config: Option<PathBuf>,
    /// Overrides `listenPort` (0 = pick a free port).
    #[arg(long)]
    listen_port: Option<u16>,
    /// Print the effective configuration and exit.
    #[arg(short = 'p', long = "print-config")]
    print: bool,
}

#[derive(Args)]
pub struct ControllerArgs {
    /// controller.conf: Java's ControllerConfig keys (`controllerDLegerPeers`,
    /// `controllerDLegerSelfId`, `controllerStorePath`, ...). A peer port of 0 picks a free port.
    #[arg(short = 'c', long = "config")]
    config: Option<PathBuf>,
    /// Print the effective configuration and exit.
    #[arg(short = 'p', long = "print-config")]
    print: bool,
}

#[derive(Args)]
pub struct BrokerArgs {
    /// Name server address list, `host:9876;host2:9876`.
    #[arg(short = 'n', long = "namesrv-addr")]
    namesrv: Option<String>,
    /// broker.conf file.
    #[arg(short = 'c', long = "config")]
    config: Option<PathBuf>,
    /// Overrides `listenPort` (0 = pick a free port).
    #[arg(long)]
    listen_port: Option<u16>,
    /// Print the effective configuration and exit.
    #[arg(short = 'p', long = "print-config")]
    print: bool,
}

#[derive(Args)]
pub struct StandaloneArgs {
    /// Data directory: the store under `<dir>/store`, name server KV under `<dir>/namesrv`.
    #[arg(long, default_value = "./data")]
    data_dir: PathBuf,
    /// Name server port.
    #[arg(long, default_value_t = 9876)]
    namesrv_port: u16,
    /// Broker port.
    #[arg(long, default_value_t = 10911)]
    broker_port: u16,
    /// Optional broker.conf applied on top of the standalone defaults.
    #[arg(short = 'c', long = "config")]
    config: Option<PathBuf>,
    /// The web console's port (default: `consolePort` of the config file, else 8080; 0 takes a
    /// free port).
    #[arg(long)]
    console_port: Option<u16>,
    /// The address the console listens on (default 127.0.0.1: it administers the cluster and has
    /// no login; give 0.0.0.0 to open it).
    #[arg(long, default_value = "127.0.0.1")]
    console_host: String,
    /// Do not start the web console.
    #[arg(long)]
    no_console: bool,
    // what the console signs its admin requests with, for a broker with aclEnable (-c)
    #[command(flatten)]
    acl: crate::credentials::AclArgs,
}

#[derive(Args)]
pub struct ConsoleArgs {
    /// Name server address list, `host:9876;host2:9876` (or env NAMESRV_ADDR).
    #[arg(short = 'n', long = "namesrvAddr")]
    namesrv: Option<String>,
    /// Port to listen on (0 takes a free port).
    #[arg(long, default_value_t = 8080)]
    port: u16,
    /// Address to listen on (default 127.0.0.1: the console administers the cluster and has no
    /// login; give 0.0.0.0 to open it).
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    #[command(flatten)]
    acl: crate::credentials::AclArgs,
}

fn namesrv_config(args: &NamesrvArgs) -> anyhow::Result<NamesrvConfig> {
    let mut config = NamesrvConfig::default();
    if let Some(path) = &args.config {
        config.apply(&properties::load(path)?)?;
        // where UPDATE_NAMESRV_CONFIG persists (Java's configStorePath)
        config.config_store_path = Some(path.canonicalize().unwrap_or_else(|_| path.clone()));
    }
    if let Some(p) = args.listen_port {
        config.listen_port = p;
    }
    Ok(config)
}

fn broker_config(file: Option<&PathBuf>, namesrv: Option<&str>) -> anyhow::Result<BrokerConfig> {
    let mut config = BrokerConfig::default();
    if let Some(path) = file {
        let ignored = config.apply(&properties::load(path)?);
        // where UPDATE_BROKER_CONFIG persists (Java's brokerConfigPath)
        config.config_path = Some(path.canonicalize().unwrap_or_else(|_| path.clone()));
        if !ignored.is_empty() {
            tracing::info!(keys = ?ignored, "broker.conf keys not used by rmq (ignored, as Java ignores unknown keys)");
        }
    }
    if let Some(n) = namesrv {
        config.namesrv_addr = rmq_broker::config::split_addrs(n);
    }
    for addr in &config.namesrv_addr {
        if addr
            .rsplit_once(':')
            .and_then(|(_, p)| p.parse::<u16>().ok())
            .is_none()
        {
            bail!("invalid name server address {addr:?}; expected host:port");
        }
    }
    Ok(config)
}

fn announce(line: String) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

fn namesrv_boot_line(ns: &NameServer) -> String {
    format!(
        "The Name Server boot success. serializeType=JSON listenPort={}",
        ns.local_addr().port()
    )
}

fn broker_boot_line(b: &Broker, config: &BrokerConfig) -> String {
    format!(
        "The broker[{}, {}] boot success. serializeType=JSON and name server is {}",
        config.broker_name,
        b.addr(),
        config.namesrv_addr.join(";")
    )
}

pub async fn namesrv(args: NamesrvArgs) -> anyhow::Result<()> {
    logging::init(Some("namesrv.log"));
    let config = namesrv_config(&args)?;
    if args.print {
        println!("{config:#?}");
        return Ok(());
    }
    // `enableControllerInNamesrv=true`: the controller runs in this process too, from the same
    // file's ControllerConfig keys, on its own peer port (Java's NamesrvStartup does the same).
    let embedded = match &args.config {
        Some(path) => {
            let props = properties::load(path)?;
            let on = props
                .get("enableControllerInNamesrv")
                .is_some_and(|v| rmq_protocol::header::parse_bool(v.trim()));
            if on {
                let mut c = rmq_controller::node::ControllerConfig::default();
                c.apply(&props)?;
                Some((c, path.canonicalize().unwrap_or_else(|_| path.clone())))
            } else {
                None
            }
        }
        None => None,
    };
    let signals = install_signals();
    let ns = NameServer::start(config)
        .await
        .context("name server failed to start")?;
    announce(namesrv_boot_line(&ns));
    let controller = match embedded {
        Some((c, file)) => {
            let controller = rmq_controller::node::Controller::start(c, Some(file))
                .await
                .context("the embedded controller failed to start")?;
            announce(format!(
                "The controller[{}] boot success, listening on port {}",
                controller.address(),
                controller.local_addr().port()
            ));
            Some(controller)
        }
        None => None,
    };
    wait_for_signal(signals).await;
    if let Some(c) = controller {
        c.shutdown().await;
    }
    ns.shutdown().await;
    tracing::info!("name server shut down");
    Ok(())
}

pub async fn controller(args: ControllerArgs) -> anyhow::Result<()> {
    logging::init(Some("controller.log"));
    let mut config = rmq_controller::node::ControllerConfig::default();
    let file = args
        .config
        .as_ref()
        .map(|p| p.canonicalize().unwrap_or_else(|_| p.clone()));
    if let Some(path) = &file {
        config.apply(&properties::load(path)?)?;
    }
    if args.print {
        for (k, v) in config.export() {
            println!("{k}={v}");
        }
        return Ok(());
    }
    let signals = install_signals();
    let controller = rmq_controller::node::Controller::start(config, file)
        .await
        .context("controller failed to start")?;
    announce(format!(
        "The controller[{}] boot success, listening on port {}",
        controller.address(),
        controller.local_addr().port()
    ));
    wait_for_signal(signals).await;
    controller.shutdown().await;
    tracing::info!("controller shut down");
    Ok(())
}

pub async fn broker(args: BrokerArgs) -> anyhow::Result<()> {
    logging::init(Some("broker.log"));
    let mut config = broker_config(args.config.as_ref(), args.namesrv.as_deref())?;
    if let Some(p) = args.listen_port {
        config.listen_port = p;
    }
    if args.print {
        println!("{config:#?}");
        return Ok(());
    }
    if config.namesrv_addr.is_empty() {
        tracing::warn!(
            "no name server address (-n, namesrvAddr or NAMESRV_ADDR): clients cannot find this broker"
        );
    }
    let signals = install_signals();
    let broker = Broker::start(config.clone())
        .await
        .context("broker failed to start")?;
    announce(broker_boot_line(&broker, &config));
    if let Some(grpc) = broker.grpc_addr() {
        announce(format!(
            "The broker[{}] serves gRPC (RocketMQ 5.x MessagingService) on port {}",
            config.broker_name,
            grpc.port()
        ));
    }
    wait_for_signal(signals).await;
    broker.shutdown().await.context("broker shutdown")?;
    tracing::info!("broker shut down cleanly");
    Ok(())
}

pub async fn standalone(args: StandaloneArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    logging::init(Some("broker.log"));
    std::fs::create_dir_all(&args.data_dir)
        .with_context(|| format!("cannot create {}", args.data_dir.display()))?;
    let data_dir = args.data_dir.canonicalize()?;
    let signals = install_signals();

    let ns_config = NamesrvConfig {
        listen_port: args.namesrv_port,
        kv_config_path: Some(data_dir.join("namesrv").join("kvConfig.json")),
        ..NamesrvConfig::default()
    };
    let ns = NameServer::start(ns_config)
        .await
        .context("name server failed to start")?;
    announce(namesrv_boot_line(&ns));

    let mut config = broker_config(args.config.as_ref(), None)?;
    config.broker_name = if args.config.is_some() {
        config.broker_name
    } else {
        "broker-a".into()
    };
    config.listen_port = args.broker_port;
    config.namesrv_addr = vec![format!("127.0.0.1:{}", ns.local_addr().port())];
    config.store.store_path_root_dir = data_dir.join("store");
    let broker = Broker::start(config.clone())
        .await
        .context("broker failed to start")?;
    announce(broker_boot_line(&broker, &config));
    if let Some(grpc) = broker.grpc_addr() {
        announce(format!(
            "The broker[{}] serves gRPC (RocketMQ 5.x MessagingService) on port {}",
            config.broker_name,
            grpc.port()
        ));
    }
    let console = if args.no_console {
        None
    } else {
        let port = match args.console_port {
            Some(p) => p,
            None => match &args.config {
                Some(path) => properties::load(path)?
                    .get("consolePort")
                    .and_then(|p| p.trim().parse().ok())
                    .unwrap_or(8080),
                None => 8080,
            },
        };
        start_console(
            &args.console_host,
            port,
            vec![format!("127.0.0.1:{}", ns.local_addr().port())],
            args.acl.credentials(),
        )
        .await
    };
    let grpc = broker
        .grpc_addr()
        .map_or_else(|| "off".to_string(), |a| a.port().to_string());
    let console_url = console
        .as_ref()
        .map_or_else(|| "off".to_string(), |c| format!("http://{}/", c.local_addr()));
    announce(format!(
        "rmq standalone started in {} ms: name server 127.0.0.1:{}, broker {}, gRPC port {grpc}, console {console_url}, data in {}",
        started.elapsed().as_millis(),
        ns.local_addr().port(),
        broker.addr(),
        data_dir.display()
    ));
    wait_for_signal(signals).await;
    drop(console);
    broker.shutdown().await.context("broker shutdown")?;
    ns.shutdown().await;
    tracing::info!("standalone shut down cleanly");
    Ok(())
}

/// Starts the console and prints its URL; a console that cannot listen is logged, and the server
/// runs on without it.
async fn start_console(
    host: &str,
    port: u16,
    namesrv: Vec<String>,
    credentials: Option<rmq_client::Credentials>,
) -> Option<rmq_console::Console> {
    let listen = match format!("{host}:{port}").parse() {
        Ok(a) => a,
        Err(e) => {
            tracing::warn!(host, port, error = %e, "bad console address; no console");
            return None;
        }
    };
    let config = rmq_console::ConsoleConfig {
        listen,
        client: rmq_client::ClientConfig {
            namesrv_addr: namesrv,
            credentials,
            ..rmq_client::ClientConfig::default()
        },
    };
    match rmq_console::Console::start(config).await {
        Ok(c) => {
            announce(format!("rmq console at http://{}/", c.local_addr()));
            Some(c)
        }
        Err(e) => {
            tracing::warn!(error = %e, "the console could not start; running without it");
            None
        }
    }
}

pub async fn console(args: ConsoleArgs) -> anyhow::Result<()> {
    logging::init(Some("console.log"));
    let namesrv: Vec<String> = args
        .namesrv
        .clone()
        .or_else(|| std::env::var("NAMESRV_ADDR").ok())
        .context("no name server address: use -n host:9876 or set NAMESRV_ADDR")?
        .split(';')
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect();
    let signals = install_signals();
    let listen = format!("{}:{}", args.host, args.port)
        .parse()
        .with_context(|| format!("bad listen address {}:{}", args.host, args.port))?;
    let console = rmq_console::Console::start(rmq_console::ConsoleConfig {
        listen,
        client: rmq_client::ClientConfig {
            namesrv_addr: namesrv,
            credentials: args.acl.credentials(),
            ..rmq_client::ClientConfig::default()
        },
    })
    .await?;
    announce(format!("rmq console at http://{}/", console.local_addr()));
    wait_for_signal(signals).await;
    Ok(())
}

/// SIGTERM / SIGINT handlers, installed before a server starts so that a signal arriving while
/// it boots (or right after its boot line) means a clean shutdown, not the default kill.
struct Signals(Option<(tokio::signal::unix::Signal, tokio::signal::unix::Signal)>);

fn install_signals() -> Signals {
    use tokio::signal::unix::{signal, SignalKind};
    match (signal(SignalKind::terminate()), signal(SignalKind::interrupt())) {
        (Ok(term), Ok(int)) => Signals(Some((term, int))),
        _ => {
            tracing::error!("cannot install signal handlers; running until killed");
            Signals(None)
        }
    }
}

async fn wait_for_signal(signals: Signals) {
    let Some((mut term, mut int)) = signals.0 else {
        std::future::pending::<()>().await;
        return;
    };
    tokio::select! {
        _ = term.recv() => tracing::info!("SIGTERM received, shutting down"),
        _ = int.recv() => tracing::info!("SIGINT received, shutting down"),
    }
}

/// `mqshutdown namesrv|broker`: SIGTERM to every matching rmq process.
pub fn shutdown(what: &str) -> anyhow::Result<()> {
    let (label, modes): (&str, &[&str]) = match what {
        "namesrv" => ("mqnamesrv", &["namesrv", "standalone"]),
        "broker" => ("mqbroker", &["broker", "standalone"]),
        "standalone" => ("rmq standalone", &["standalone"]),
        "controller" => ("mqcontroller", &["controller"]),
        _ => bail!("Useage: mqshutdown broker | namesrv | controller"),
    };
    let me = std::process::id();
    let mut found = false;
    for entry in std::fs::read_dir("/proc")?.flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        if pid == me {
            continue;
        }
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let argv: Vec<&[u8]> = cmdline.split(|b| *b == 0).collect();
        let is_rmq = argv
            .first()
            .map(|a| a.ends_with(b"/rmq") || *a == b"rmq")
            .unwrap_or(false);
        let mode_ok = argv
            .get(1)
            .map(|a| modes.iter().any(|m| a == &m.as_bytes()))
            .unwrap_or(false);
        if is_rmq && mode_ok {
            found = true;
            println!("The {label}({pid}) is running...");
            let status = std::process::Command::new("kill")
                .arg("-TERM")
                .arg(pid.to_string())
                .status()?;
            if status.success() {
                println!("Send shutdown request to {label}({pid}) OK");
            }
        }
    }
    if !found {
        bail!("No {label} running.");
    }
    Ok(())
}
