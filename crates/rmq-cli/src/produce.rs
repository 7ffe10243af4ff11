//! The quickstart producer of the RocketMQ guide: `count` messages "Hello RocketMQ <i>" with tag
//! TagA to TopicTest, each SendResult printed the way the Java example prints it.

use anyhow::Context;
use bytes::Bytes;
use clap::Args;
use rmq_client::{ClientConfig, Message, Producer};

#[derive(Args)]
pub struct ProduceArgs {
    /// Name server address list (or env NAMESRV_ADDR).
    #[arg(short = 'n', long = "namesrvAddr")]
    namesrv: Option<String>,
    #[arg(short = 't', long, default_value = "TopicTest")]
    topic: String,
    #[arg(long, default_value = "TagA")]
    tag: String,
    #[arg(short = 'g', long, default_value = "please_rename_unique_group_name")]
    group: String,
    #[arg(short = 'c', long, default_value_t = 1000)]
    count: u64,
    /// Timer messages: deliver each this many ms after the broker receives it (TIMER_DELAY_MS).
    #[arg(long, conflicts_with = "deliver_ms")]
    delay_ms: Option<i64>,
    /// Timer messages: deliver each at this time, ms since the epoch (TIMER_DELIVER_MS).
    #[arg(long)]
    deliver_ms: Option<i64>,
    #[command(flatten)]
    tls: crate::tls_args::TlsArgs,
    #[command(flatten)]
    acl: crate::credentials::AclArgs,
}

pub async fn run(args: ProduceArgs) -> anyhow::Result<()> {
    let addr = args
        .namesrv
        .or_else(|| std::env::var("NAMESRV_ADDR").ok())
        .context("no name server address: use -n host:9876 or set NAMESRV_ADDR")?;
    let config = ClientConfig {
        namesrv_addr: addr
            .split(';')
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect(),
        tls: args.tls.client_tls()?,
        credentials: args.acl.credentials(),
        ..ClientConfig::default()
    };
    let producer = Producer::new(args.group, config);
    producer.start().await?;
    let mut failed = 0u64;
    for i in 0..args.count {
        let mut msg =
            Message::new(&args.topic, Bytes::from(format!("Hello RocketMQ {i}"))).with_tags(&args.tag);
        if let Some(ms) = args.delay_ms {
            msg = msg.with_delay_ms(ms);
        }
        if let Some(at) = args.deliver_ms {
            msg = msg.with_deliver_time_ms(at);
        }
        match producer.send(msg).await {
            Ok(result) => println!("{result}"),
            Err(e) => {
                failed += 1;
                eprintln!("send {i} failed: {e}");
            }
        }
    }
    producer.shutdown().await;
    if failed > 0 {
        anyhow::bail!("{failed} of {} sends failed", args.count);
    }
    Ok(())
}
