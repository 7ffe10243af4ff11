//! `rmq bench console`: the web console at scale. Fills the cluster with `--topics` topics and
//! `--groups` subscription groups (batched UPDATE_AND_CREATE_TOPIC_LIST and
//! UPDATE_AND_CREATE_SUBSCRIPTIONGROUP_LIST to every master), then times every page's API call
//! over HTTP: the first answer (which may refresh a cached list) and `--requests` more.

use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::Args;
use rmq_client::{Admin, ClientConfig};
use rmq_protocol::body::{
    self, CreateTopicListRequestBody, SubscriptionGroupConfig, SubscriptionGroupList, TopicConfig,
};
use rmq_protocol::codes::{request_code, response_code};
use rmq_protocol::RemotingCommand;
use rmq_remoting::RemotingClient;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[derive(Args, Debug)]
pub struct ConsoleArgs {
    /// Name server address.
    #[arg(short = 'n', long = "namesrvAddr")]
    namesrv: String,
    /// The console, `http://host:port/`.
    #[arg(long)]
    console: String,
    /// Topics to create (`bench-topic-NNNNN`, 4 queues); 0 keeps what is there.
    #[arg(long, default_value_t = 10_000)]
    topics: usize,
    /// Subscription groups to create (`bench-group-NNNNN`).
    #[arg(long, default_value_t = 5_000)]
    groups: usize,
    /// Timed requests per page after the first.
    #[arg(long, default_value_t = 20)]
    requests: usize,
}

const BATCH: usize = 1_000;

/// One HTTP/1.1 GET; the status and the body length.
async fn get(host: &str, path: &str) -> anyhow::Result<(u16, usize)> {
    let mut conn = tokio::net::TcpStream::connect(host).await?;
    let req = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    conn.write_all(req.as_bytes()).await?;
    let mut raw = Vec::new();
    conn.read_to_end(&mut raw).await?;
    let text = String::from_utf8_lossy(&raw);
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .context("no HTTP status")?;
    let body = text.split_once("\r\n\r\n").map_or(0, |(_, b)| b.len());
    Ok((status, body))
}

/// The masters the name server knows (at least one).
async fn masters(admin: &Admin) -> anyhow::Result<Vec<String>> {
    let info = admin.cluster_info().await?;
    let masters: Vec<String> = info
        .broker_addr_table
        .values()
        .filter_map(|bd| bd.master_addr().map(str::to_owned))
        .collect();
    if masters.is_empty() {
        bail!("the name server knows no master");
    }
    Ok(masters)
}

async fn populate(args: &ConsoleArgs) -> anyhow::Result<()> {
    let admin = Admin::new(ClientConfig::with_namesrv(&args.namesrv));
    let masters = masters(&admin).await?;
    let remoting = RemotingClient::new();
    let send = |addr: String, req: RemotingCommand| {
        let remoting = &remoting;
        async move {
            let resp = remoting.invoke(&addr, req, Duration::from_secs(60)).await?;
            if resp.code != response_code::SUCCESS {
                bail!("{addr}: code {} {:?}", resp.code, resp.remark);
            }
            anyhow::Ok(())
        }
    };
    let started = Instant::now();
    for chunk in (0..args.topics).collect::<Vec<_>>().chunks(BATCH) {
        let list = CreateTopicListRequestBody {
            topic_config_list: chunk
                .iter()
                .map(|i| TopicConfig {
                    topic_name: format!("bench-topic-{i:05}"),
                    read_queue_nums: 4,
                    write_queue_nums: 4,
                    perm: 6,
                    topic_filter_type: "SINGLE_TAG".into(),
                    ..TopicConfig::default()
                })
                .collect(),
        };
        for addr in &masters {
            let req = RemotingCommand::request(request_code::UPDATE_AND_CREATE_TOPIC_LIST)
                .with_body(body::to_json(&list));
            send(addr.clone(), req).await?;
        }
    }
    for chunk in (0..args.groups).collect::<Vec<_>>().chunks(BATCH) {
        let list = SubscriptionGroupList {
            group_config_list: chunk
                .iter()
                .map(|i| SubscriptionGroupConfig::new(format!("bench-group-{i:05}")))
                .collect(),
        };
        for addr in &masters {
            let req = RemotingCommand::request(request_code::UPDATE_AND_CREATE_SUBSCRIPTIONGROUP_LIST)
                .with_body(body::to_json(&list));
            send(addr.clone(), req).await?;
        }
    }
    println!(
        "created {} topics and {} groups on {} master(s) in {:.1} s",
        args.topics,
        args.groups,
        masters.len(),
        started.elapsed().as_secs_f64()
    );
    // the name servers learn the topics from the brokers' registrations
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let known = admin
            .topic_list()
            .await?
            .iter()
            .filter(|t| t.starts_with("bench-topic-"))
            .count();
        if known >= args.topics {
            break;
        }
        if Instant::now() > deadline {
            bail!(
                "the name server routes {known} of {} bench topics after 90 s",
                args.topics
            );
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    Ok(())
}

pub async fn run(args: ConsoleArgs) -> anyhow::Result<()> {
    let host = args
        .console
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_string();
    if args.topics > 0 || args.groups > 0 {
        populate(&args).await?;
    }
    let broker = masters(&Admin::new(ClientConfig::with_namesrv(&args.namesrv)))
        .await?
        .remove(0);
    let last_topic = format!("bench-topic-{:05}", args.topics.saturating_sub(1));
    let last_group = format!("bench-group-{:05}", args.groups.saturating_sub(1));
    let pages = [
        ("index page", "/".to_string()),
        ("cluster", "/api/cluster".to_string()),
        ("topics, page 1", "/api/topics?page=1&size=50".to_string()),
        ("topics, page 100", "/api/topics?page=100&size=50".to_string()),
        ("topics, search", format!("/api/topics?q={last_topic}")),
        (
            "topics, kind=normal",
            "/api/topics?kind=normal&page=20".to_string(),
        ),
        ("topic detail", format!("/api/topics/{last_topic}")),
        ("groups, page 1", "/api/groups?page=1&size=50".to_string()),
        ("groups, page 50", "/api/groups?page=50&size=50".to_string()),
        ("groups, search", format!("/api/groups?q={last_group}")),
        ("group detail", format!("/api/groups/{last_group}")),
        ("dead letters", format!("/api/dlq/{last_group}")),
        ("topic route", format!("/api/topics/{last_topic}/route")),
        (
            "messages, last hour",
            format!(
                "/api/messages?topic={last_topic}&begin={}&end={}",
                rmq_protocol::time::now_ms() - 3_600_000,
                rmq_protocol::time::now_ms()
            ),
        ),
        (
            "messages, by key",
            format!("/api/messages?topic={last_topic}&key=k1"),
        ),
        ("producers", "/api/producers".to_string()),
        ("acl, brokers", "/api/acl/brokers".to_string()),
        ("acl 1.0", format!("/api/acl/v1?broker={broker}")),
        ("acl 2.0", format!("/api/acl/v2?broker={broker}")),
    ];
    println!(
        "{:<22} {:>9} {:>9} {:>9} {:>9} {:>9}",
        "page", "first ms", "p50 ms", "p90 ms", "max ms", "bytes"
    );
    let mut worst = 0.0f64;
    for (name, path) in &pages {
        let t = Instant::now();
        let (status, bytes) = get(&host, path).await?;
        let first = t.elapsed().as_secs_f64() * 1e3;
        if status != 200 {
            bail!("{name} ({path}): HTTP {status}");
        }
        let mut times = Vec::with_capacity(args.requests);
        for _ in 0..args.requests {
            let t = Instant::now();
            get(&host, path).await?;
            times.push(t.elapsed().as_secs_f64() * 1e3);
        }
        times.sort_by(f64::total_cmp);
        let at = |q: f64| {
            times
                .get(((times.len() as f64 - 1.0) * q) as usize)
                .copied()
                .unwrap_or(first)
        };
        let max = times.last().copied().unwrap_or(first).max(first);
        worst = worst.max(max);
        println!(
            "{name:<22} {first:>9.1} {:>9.1} {:>9.1} {max:>9.1} {bytes:>9}",
            at(0.5),
            at(0.9)
        );
    }
    println!(
        "RESULT console topics={} groups={} requests_per_page={} worst_ms={worst:.1}",
        args.topics, args.groups, args.requests
    );
    Ok(())
}
