//! The quickstart consumer of the RocketMQ guide: a push consumer on TopicTest printing every
//! message the way the Java example does (`ConsumeMessageThread_<n> Receive New Messages: [...]`).
//! With `--pop`, a [`SimpleConsumer`] instead: receive, print (the same way), ack.

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use clap::{Args, ValueEnum};
use rmq_client::{
    ClientConfig, ConsumeFromWhere, ConsumeStatus, ConsumerConfig, MessageExtDisplay, MessageModel,
    PushConsumer, SimpleConsumer,
};

/// How long a `--pop` receive is held at the broker when nothing is there
/// (`BROKER_SUSPEND_MAX_TIME_MILLIS`).
const POP_POLL: Duration = Duration::from_secs(15);
/// Pause after a failed `--pop` receive (`pullTimeDelayMillsWhenException`).
const POP_RETRY_DELAY: Duration = Duration::from_secs(3);

#[derive(Clone, Copy, ValueEnum)]
pub enum From {
    /// CONSUME_FROM_FIRST_OFFSET (the quickstart's choice).
    First,
    /// CONSUME_FROM_LAST_OFFSET.
    Last,
    /// CONSUME_FROM_TIMESTAMP (see --timestamp).
    Timestamp,
}

#[derive(Args)]
pub struct ConsumeArgs {
    /// Name server address list (or env NAMESRV_ADDR).
    #[arg(short = 'n', long = "namesrvAddr")]
    namesrv: Option<String>,
    #[arg(short = 'g', long, default_value = "please_rename_unique_group_name")]
    group: String,
    #[arg(short = 't', long, default_value = "TopicTest")]
    topic: String,
    /// TAG expression: `*`, `TagA`, `TagA || TagC`.
    #[arg(short = 's', long = "subExpression", default_value = "*")]
    sub_expression: String,
    /// Where a queue with no committed offset starts.
    #[arg(long, value_enum, default_value = "first")]
    from: From,
    /// With `--from timestamp`: epoch ms or `yyyyMMddHHmmss` (UTC); default 30 minutes ago.
    #[arg(long)]
    timestamp: Option<String>,
    /// Every member of the group gets every message (offsets kept locally).
    #[arg(long)]
    broadcast: bool,
    /// Exit after this many messages.
    #[arg(long)]
    count: Option<u64>,
    /// Answer RECONSUME_LATER for every message shown: it comes back through the group's retry
    /// topic and, past --max-reconsume-times, goes to its dead-letter queue.
    #[arg(long, conflicts_with = "pop")]
    fail: bool,
    /// `maxReconsumeTimes`: retries before a failed message is dead-lettered (0: at once).
    #[arg(long, default_value_t = 16)]
    max_reconsume_times: i32,
    /// Consume by POP (a SimpleConsumer: receive, print, ack) instead of by pull; the broker
    /// decides who gets which message.
    #[arg(long, conflicts_with = "broadcast")]
    pop: bool,
    /// With `--pop`: ms a received message stays hidden from the group before it comes back
    /// unless acknowledged.
    #[arg(long = "invisible-time", default_value_t = 60_000, requires = "pop")]
    invisible_time_ms: u64,
    #[command(flatten)]
    tls: crate::tls_args::TlsArgs,
    #[command(flatten)]
    acl: crate::credentials::AclArgs,
}

thread_local! {
    static THREAD_NO: Cell<usize> = const { Cell::new(0) };
}
static NEXT_THREAD_NO: AtomicUsize = AtomicUsize::new(1);

/// A stable small number per listener thread, for the Java-style thread name.
fn thread_no() -> usize {
    THREAD_NO.with(|n| {
        if n.get() == 0 {
            n.set(NEXT_THREAD_NO.fetch_add(1, Ordering::Relaxed));
        }
        n.get()
    })
}

pub async fn run(args: ConsumeArgs) -> anyhow::Result<()> {
    let addr = args
        .namesrv
        .clone()
        .or_else(|| std::env::var("NAMESRV_ADDR").ok())
        .context("no name server address: use -n host:9876 or set NAMESRV_ADDR")?;
    let consume_from_where = match args.from {
        From::First => ConsumeFromWhere::FirstOffset,
        From::Last => ConsumeFromWhere::LastOffset,
        From::Timestamp => {
            let ms = match &args.timestamp {
                Some(s) => crate::admin::parse_timestamp(s)?,
                None => crate::admin::now_ms() - 30 * 60 * 1000,
            };
            ConsumeFromWhere::Timestamp(ms)
        }
    };
    let config = ConsumerConfig {
        consume_from_where,
        message_model: if args.broadcast {
            MessageModel::Broadcasting
        } else {
            MessageModel::Clustering
        },
        max_reconsume_times: args.max_reconsume_times,
        // --count: the last batches finish (and commit, or go back) before the offsets persist
        await_termination_ms_when_shutdown: 10_000,
        ..ConsumerConfig::default()
    };
    let client_config = ClientConfig {
        tls: args.tls.client_tls()?,
        credentials: args.acl.credentials(),
        ..ClientConfig::with_namesrv(&addr)
    };
    if args.pop {
        return run_pop(&args, client_config, consume_from_where).await;
    }
    let consumer = PushConsumer::new(args.group, client_config, config);
    consumer.subscribe(&args.topic, &args.sub_expression)?;
    let limit = args.count.unwrap_or(u64::MAX);
    let received = Arc::new(AtomicU64::new(0));
    let done = Arc::new(tokio::sync::Notify::new());
    let (counter, finished) = (received.clone(), done.clone());
    let fail = args.fail;
    consumer.register_listener(move |msgs| {
        let seen = counter.fetch_add(msgs.len() as u64, Ordering::SeqCst);
        if seen >= limit {
            // Past --count: leave them unconsumed (and uncommitted) for the next run.
            return ConsumeStatus::ReconsumeLater;
        }
        let shown: Vec<String> = msgs.iter().map(|m| MessageExtDisplay(m).to_string()).collect();
        println!(
            "ConsumeMessageThread_{} Receive New Messages: [{}] ",
            thread_no(),
            shown.join(", ")
        );
        if seen + msgs.len() as u64 >= limit {
            finished.notify_one();
        }
        if fail {
            return ConsumeStatus::ReconsumeLater;
        }
        ConsumeStatus::ConsumeSuccess
    });
    consumer.start().await?;
    println!("Consumer Started.");
    tokio::select! {
        _ = done.notified() => {}
        r = tokio::signal::ctrl_c() => r?,
    }
    consumer.shutdown().await;
    Ok(())
}

/// `--pop`: receive up to 32 at a time, print each message as the push consumer does, ack it.
async fn run_pop(
    args: &ConsumeArgs,
    client_config: ClientConfig,
    from: ConsumeFromWhere,
) -> anyhow::Result<()> {
    if matches!(from, ConsumeFromWhere::Timestamp(_)) {
        bail!("--from timestamp does not apply to --pop (a group's first pop starts at the first or the last offset)");
    }
    let consumer = SimpleConsumer::new(args.group.clone(), client_config).with_consume_from_where(from);
    consumer.subscribe(&args.topic, &args.sub_expression)?;
    consumer.start().await?;
    println!("Consumer Started.");
    let invisible = Duration::from_millis(args.invisible_time_ms);
    let limit = args.count.unwrap_or(u64::MAX);
    let mut seen = 0u64;
    let result = async {
        while seen < limit {
            let max = (limit - seen).min(u64::from(rmq_client::consumer::pop::MAX_POP_NUMS)) as u32;
            let msgs = match consumer.receive(max, invisible, POP_POLL).await {
                Ok(msgs) => msgs,
                Err(e) => {
                    tracing::warn!(error = %e, "pop failed");
                    tokio::time::sleep(POP_RETRY_DELAY).await;
                    continue;
                }
            };
            for m in msgs {
                println!(
                    "ConsumeMessageThread_{} Receive New Messages: [{}] ",
                    thread_no(),
                    MessageExtDisplay(&m.message)
                );
                if let Err(e) = consumer.ack(&m).await {
                    tracing::warn!(error = %e, msg_id = m.message.client_msg_id(), "ack failed; the message will come back");
                }
                seen += 1;
            }
        }
        anyhow::Ok(())
    };
    tokio::select! {
        r = result => r?,
        r = tokio::signal::ctrl_c() => r?,
    }
    consumer.shutdown().await;
    Ok(())
}
