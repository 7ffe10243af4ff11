//! GET_NAMESRV_CONFIG / UPDATE_NAMESRV_CONFIG over a real socket: the keys, an update shown and
//! written into the config file in place, and the 5.x black list.

#![allow(clippy::unwrap_used, reason = "test code: a failed unwrap is a failed test")]

use std::time::Duration;

use rmq_namesrv::{NameServer, NamesrvConfig};
use rmq_protocol::body::properties;
use rmq_protocol::codes::{request_code as rc, response_code as code};
use rmq_protocol::RemotingCommand;
use rmq_remoting::RemotingClient;

const RPC: Duration = Duration::from_secs(5);

#[tokio::test]
async fn get_update_and_persist() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("namesrv.properties");
    std::fs::write(&file, "# mine\nlistenPort=0\n").unwrap();
    let mut config = NamesrvConfig {
        listen_port: 0,
        listen_addr: "127.0.0.1".into(),
        kv_config_path: None,
        config_store_path: Some(file.clone()),
        ..NamesrvConfig::default()
    };
    config.given.insert("listenPort".into(), "0".into());
    let ns = NameServer::start(config).await.unwrap();
    let addr = ns.local_addr().to_string();
    let client = RemotingClient::new();
    let get = || async {
        let r = client
            .invoke(&addr, RemotingCommand::request(rc::GET_NAMESRV_CONFIG), RPC)
            .await
            .unwrap();
        assert_eq!(r.code, code::SUCCESS, "{:?}", r.remark);
        properties::parse(std::str::from_utf8(&r.body).unwrap())
    };
    let update = |text: &'static str| {
        let req = RemotingCommand::request(rc::UPDATE_NAMESRV_CONFIG).with_body(text.as_bytes().to_vec());
        let client = &client;
        let addr = &addr;
        async move { client.invoke(addr, req, RPC).await.unwrap() }
    };

    let before = get().await;
    assert_eq!(before["orderMessageEnable"], "false");
    assert_eq!(before["scanNotActiveBrokerInterval"], "10000");

    let r = update("orderMessageEnable=true\nclientRequestThreadPoolNums=16\n").await;
    assert_eq!(r.code, code::SUCCESS, "{:?}", r.remark);
    let after = get().await;
    assert_eq!(after["orderMessageEnable"], "true");
    assert_eq!(after["clientRequestThreadPoolNums"], "16");
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.starts_with("# mine\nlistenPort=0\n"), "{text}");
    assert_eq!(properties::parse(&text)["orderMessageEnable"], "true");

    let r = update("kvConfigPath=/tmp/elsewhere.json\norderMessageEnable=false").await;
    assert_eq!(r.code, code::NO_PERMISSION);
    assert_eq!(r.remark.as_deref(), Some("Can not update config in black list."));
    assert_eq!(get().await["orderMessageEnable"], "true");
    ns.shutdown().await;
}
