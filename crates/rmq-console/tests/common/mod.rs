//! What the console's tests share: a name server, one broker and a console over them
//! (in-process, ephemeral ports, a temp dir), and plain HTTP/1.1 requests to the console.

#![allow(dead_code, reason = "each test crate uses its own part")]

use std::net::SocketAddr;
use std::path::Path;

use rmq_broker::{Broker, BrokerConfig};
use rmq_client::{Admin, ClientConfig, Credentials};
use rmq_console::{Console, ConsoleConfig};
use rmq_namesrv::{NameServer, NamesrvConfig};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// One HTTP/1.1 request; the status, the JSON body (`Null` when it is not JSON) and the raw
/// body text.
pub async fn http(addr: SocketAddr, method: &str, path: &str, body: Option<&str>) -> (u16, Value, String) {
    let mut conn = tokio::net::TcpStream::connect(addr).await.unwrap();
    let body = body.unwrap_or_default();
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    conn.write_all(req.as_bytes()).await.unwrap();
    let mut raw = String::new();
    conn.read_to_string(&mut raw).await.unwrap();
    let (head, text) = raw.split_once("\r\n\r\n").unwrap();
    let status: u16 = head.split(' ').nth(1).unwrap().parse().unwrap();
    (
        status,
        serde_json::from_str(text).unwrap_or(Value::Null),
        text.to_string(),
    )
}

/// A request that must answer 200; its JSON body.
pub async fn ok(addr: SocketAddr, method: &str, path: &str, body: Option<Value>) -> Value {
    let body = body.map(|b| b.to_string());
    let (status, v, _) = http(addr, method, path, body.as_deref()).await;
    assert_eq!(status, 200, "{method} {path}: {v}");
    v
}

/// A name server, one broker (named `broker_name`, configured further by `setup`) and a
/// console signing as `credentials` when given.
pub struct Cluster {
    _dir: tempfile::TempDir,
    pub ns: NameServer,
    pub broker: Broker,
    pub broker_addr: String,
    /// An admin client with the console's credentials, for checks on the broker.
    pub admin: Admin,
    pub client_config: ClientConfig,
    pub console: Console,
}

impl Cluster {
    pub async fn start(
        broker_name: &str,
        credentials: Option<Credentials>,
        setup: impl FnOnce(&Path, &mut BrokerConfig),
    ) -> Cluster {
        let dir = tempfile::tempdir().unwrap();
        let ns = NameServer::start(NamesrvConfig {
            listen_port: 0,
            listen_addr: "127.0.0.1".into(),
            kv_config_path: None,
            ..NamesrvConfig::default()
        })
        .await
        .unwrap();
        let ns_addr = format!("127.0.0.1:{}", ns.local_addr().port());
        let mut bc = BrokerConfig {
            broker_name: broker_name.into(),
            listen_port: 0,
            namesrv_addr: vec![ns_addr.clone()],
            broker_ip1: "127.0.0.1".into(),
            broker_ip2: "127.0.0.1".into(),
            enable_grpc_server: false,
            ..BrokerConfig::default()
        };
        bc.store.store_path_root_dir = dir.path().join("store");
        bc.store.mapped_file_size_commit_log = 1 << 20;
        setup(dir.path(), &mut bc);
        // registered with the name server once start returns
        let broker = Broker::start(bc).await.unwrap();
        let broker_addr = format!("127.0.0.1:{}", broker.local_addr().port());
        let client_config = ClientConfig {
            namesrv_addr: vec![ns_addr],
            credentials,
            ..ClientConfig::default()
        };
        let console = Console::start(ConsoleConfig {
            listen: "127.0.0.1:0".parse().unwrap(),
            client: client_config.clone(),
        })
        .await
        .unwrap();
        Cluster {
            _dir: dir,
            ns,
            broker,
            broker_addr,
            admin: Admin::new(client_config.clone()),
            client_config,
            console,
        }
    }

    pub async fn stop(self) {
        drop(self.console);
        self.broker.shutdown().await.unwrap();
        self.ns.shutdown().await;
    }
}
