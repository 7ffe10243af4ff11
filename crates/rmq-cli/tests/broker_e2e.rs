//! End to end over real sockets: namesrv + broker processes, the send path, and bad input.

#![allow(clippy::unwrap_used, reason = "test code: a failed unwrap is a failed test")]

mod common;

use std::time::Duration;

use common::*;
use rmq_protocol::codes::{request_code, response_code};
use rmq_protocol::message;
use rmq_protocol::RemotingCommand;
use rmq_remoting::RemotingClient;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_route_and_bad_input() {
    let dir = temp_dir();
    let (_ns, ns_addr) = namesrv(dir.path());
    let (_broker, broker_addr) = broker(dir.path(), &ns_addr, "");
    let client = RemotingClient::new();

    // The broker registered TBW102 (auto-create on) with the name server.
    let route = invoke(
        &client,
        &ns_addr,
        RemotingCommand::request(request_code::GET_ROUTEINFO_BY_TOPIC).with_ext("topic", "TBW102"),
    )
    .await;
    assert_eq!(route.code, response_code::SUCCESS, "{:?}", route.remark);
    let unknown = invoke(
        &client,
        &ns_addr,
        RemotingCommand::request(request_code::GET_ROUTEINFO_BY_TOPIC).with_ext("topic", "NoSuchTopic"),
    )
    .await;
    assert_eq!(unknown.code, response_code::TOPIC_NOT_EXIST);

    // A send auto-creates the topic; the msgId decodes to the broker address and the record offset.
    let mut offsets = Vec::new();
    for i in 0..10 {
        let resp = invoke(
            &client,
            &broker_addr,
            send_request(
                "E2eTopic",
                1,
                format!("m{i}").as_bytes(),
                "TAGS\u{1}TagA\u{2}WAIT\u{1}true",
            ),
        )
        .await;
        assert_eq!(resp.code, response_code::SUCCESS, "{:?}", resp.remark);
        assert_eq!(resp.ext("queueOffset"), Some(i.to_string().as_str()));
        assert_eq!(resp.ext("MSG_REGION"), Some("DefaultRegion"));
        let (addr, offset) = message::decode_offset_msg_id(resp.ext("msgId").unwrap()).unwrap();
        assert_eq!(addr.to_string(), broker_addr);
        offsets.push(offset);
    }
    assert!(offsets.windows(2).all(|w| w[0] < w[1]));
    let max = invoke(
        &client,
        &broker_addr,
        RemotingCommand::request(request_code::GET_MAX_OFFSET)
            .with_ext("topic", "E2eTopic")
            .with_ext("queueId", "1"),
    )
    .await;
    assert_eq!(max.ext("offset"), Some("10"));
    // VIEW_MESSAGE_BY_ID reads the very record the id points at.
    let view = invoke(
        &client,
        &broker_addr,
        RemotingCommand::request(request_code::VIEW_MESSAGE_BY_ID).with_ext("offset", offsets[3].to_string()),
    )
    .await;
    assert_eq!(view.code, response_code::SUCCESS);
    let (m, _) = message::decode_message(&view.body).unwrap();
    assert_eq!(&m.body[..], b"m3");
    assert_eq!(
        m.properties.get("CLUSTER").map(String::as_str),
        Some("DefaultCluster")
    );
    assert_eq!(m.properties.get("TAGS").map(String::as_str), Some("TagA"));

    // Missing header field: an error code and a remark naming the field.
    let mut bad = send_request("E2eTopic", 0, b"x", "");
    bad.ext_fields.remove("b");
    let resp = invoke(&client, &broker_addr, bad).await;
    assert_eq!(resp.code, response_code::SYSTEM_ERROR);
    assert!(
        resp.remark.as_deref().unwrap_or("").contains("topic"),
        "{:?}",
        resp.remark
    );
    let mut bad = send_request("E2eTopic", 0, b"x", "");
    bad.ext_fields.insert("e".into(), "not-a-number".into());
    let resp = invoke(&client, &broker_addr, bad).await;
    assert_eq!(resp.code, response_code::SYSTEM_ERROR);
    let remark = resp.remark.as_deref().unwrap_or("");
    assert!(remark.contains("queueId"), "{remark:?}");

    // Oversized body: MESSAGE_ILLEGAL.
    let big = vec![b'x'; 4 * 1024 * 1024 + 1];
    let resp = invoke(&client, &broker_addr, send_request("E2eTopic", 0, &big, "")).await;
    assert_eq!(resp.code, response_code::MESSAGE_ILLEGAL, "{:?}", resp.remark);

    // Invalid and reserved topics are refused.
    let resp = invoke(&client, &broker_addr, send_request("bad topic!", 0, b"x", "")).await;
    assert_eq!(resp.code, response_code::SYSTEM_ERROR);
    let resp = invoke(
        &client,
        &broker_addr,
        send_request("SCHEDULE_TOPIC_XXXX", 0, b"x", ""),
    )
    .await;
    assert_eq!(resp.code, response_code::NO_PERMISSION);
    let resp = invoke(&client, &broker_addr, send_request("E2eTopic", 99, b"x", "")).await;
    assert_eq!(resp.code, response_code::SYSTEM_ERROR);

    // Unknown request code.
    let resp = invoke(&client, &broker_addr, RemotingCommand::request(9999)).await;
    assert_eq!(resp.code, response_code::REQUEST_CODE_NOT_SUPPORTED);

    // A garbage frame closes only its own connection.
    let mut raw = tokio::net::TcpStream::connect(&broker_addr).await.unwrap();
    raw.write_all(&[0x7f, 0xff, 0xff, 0xff, 1, 2, 3, 4])
        .await
        .unwrap();
    let mut buf = [0u8; 8];
    let n = tokio::time::timeout(Duration::from_secs(10), raw.read(&mut buf))
        .await
        .unwrap()
        .unwrap_or(0);
    assert_eq!(n, 0);
    let resp = invoke(&client, &broker_addr, send_request("E2eTopic", 1, b"after", "")).await;
    assert_eq!(resp.code, response_code::SUCCESS);
    assert_eq!(
        resp.ext("queueOffset"),
        Some("10"),
        "nothing was lost or duplicated by the bad input"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registers_with_every_name_server() {
    let dir = temp_dir();
    let (_ns1, ns1) = namesrv(dir.path());
    let (_ns2, ns2) = namesrv(dir.path());
    let (broker_proc, broker_addr) = broker(dir.path(), &format!("{ns1};{ns2}"), "");
    let client = RemotingClient::new();
    for ns in [&ns1, &ns2] {
        let info = invoke(
            &client,
            ns,
            RemotingCommand::request(request_code::GET_BROKER_CLUSTER_INFO),
        )
        .await;
        assert_eq!(info.code, response_code::SUCCESS);
        let info: rmq_protocol::body::ClusterInfo = rmq_protocol::body::from_fastjson(&info.body).unwrap();
        assert_eq!(
            info.broker_addr_table["broker-a"].broker_addrs[&0], broker_addr,
            "name server {ns}"
        );
        assert!(info.cluster_addr_table["DefaultCluster"].contains("broker-a"));
    }
    // A clean stop unregisters from both.
    let status = broker_proc.terminate();
    assert!(status.success(), "broker exit status after SIGTERM: {status:?}");
    for ns in [&ns1, &ns2] {
        let route = invoke(
            &client,
            ns,
            RemotingCommand::request(request_code::GET_ROUTEINFO_BY_TOPIC).with_ext("topic", "TBW102"),
        )
        .await;
        assert_eq!(
            route.code,
            response_code::TOPIC_NOT_EXIST,
            "name server {ns} still routes to a stopped broker"
        );
    }
}
