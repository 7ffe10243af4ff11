//! rocketmq-client-rust 1.0 (crates.io) against a name server + broker.
//!
//! Cases (each prints `PASS <case>` or `FAIL <case>: <why>`; exit status 1 if any failed):
//!
//!   send          N messages with tags TagA/TagB and keys (`send`)
//!   send-batch    B messages at once (`send_batch`, SEND_BATCH_MESSAGE)
//!   push-first    push consumer, clustering, new group, ConsumeFromFirstOffset: every message
//!                 arrives with its tags and keys
//!   push-default  the same with the default ConsumeFromLastOffset (a young topic: the broker
//!                 answers offset 0 for a new group)
//!   push-tag      new group subscribed to "TagA": exactly the TagA messages
//!   orderly       4 keys through a selector (`send_with_selector`), an orderly push consumer
//!                 (LOCK_BATCH_MQ) gets every message, in send order per key
//!
//! Usage: rmq-rust-client-conformance --ns 127.0.0.1:9876 [--n 40] [--timeout 90]

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rocketmq_client_rust::{
    ClientResult, ClientRuntime, ClientRuntimeConfig, ConsumeConcurrentlyContext, ConsumeConcurrentlyStatus,
    ConsumeOrderlyContext, ConsumeOrderlyStatus, DefaultMQProducer, DefaultMQPushConsumer, MQPushConsumer,
    MessageListenerConcurrently, MessageListenerOrderly, SendStatus,
};
use rocketmq_model::common::consumer::consume_from_where::ConsumeFromWhere;
use rocketmq_model::common::message::message_ext::MessageExt;
use rocketmq_model::common::message::message_single::Message;
use rocketmq_protocol::protocol::heartbeat::message_model::MessageModel;
use rocketmq_runtime::{RuntimeConfig, RuntimeOwner};

type Sent = BTreeMap<String, (String, String)>; // body -> (tag, keys)

#[derive(Default)]
struct Received {
    got: HashMap<String, (String, String)>,
    order: Vec<String>,
}

#[derive(Clone, Default)]
struct Sink(Arc<Mutex<Received>>);

impl Sink {
    fn record(&self, msgs: &[&MessageExt]) {
        let mut r = self.0.lock().unwrap();
        for m in msgs {
            let body = m
                .message_inner()
                .body()
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .unwrap_or_default();
            let tag = m.get_tags().map(|t| t.to_string()).unwrap_or_default();
            let keys = m.message_inner().keys().map(|k| k.join(" ")).unwrap_or_default();
            r.got.entry(body.clone()).or_insert((tag, keys));
            r.order.push(body);
        }
    }
}

impl MessageListenerConcurrently for Sink {
    fn consume_message(
        &self,
        msgs: &[&MessageExt],
        _context: &ConsumeConcurrentlyContext,
    ) -> ClientResult<ConsumeConcurrentlyStatus> {
        self.record(msgs);
        Ok(ConsumeConcurrentlyStatus::ConsumeSuccess)
    }
}

impl MessageListenerOrderly for Sink {
    fn consume_message(
        &self,
        msgs: &[&MessageExt],
        context: &mut ConsumeOrderlyContext,
    ) -> ClientResult<ConsumeOrderlyStatus> {
        context.set_auto_commit(true);
        self.record(msgs);
        Ok(ConsumeOrderlyStatus::Success)
    }
}

struct Args {
    ns: String,
    n: usize,
    batch: usize,
    timeout: Duration,
    only: Option<HashSet<String>>,
}

fn args() -> Args {
    let mut a = Args {
        ns: "127.0.0.1:9876".into(),
        n: 40,
        batch: 10,
        timeout: Duration::from_secs(90),
        only: None,
    };
    let v: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i + 1 < v.len() {
        match v[i].as_str() {
            "--ns" => a.ns = v[i + 1].clone(),
            "--n" => a.n = v[i + 1].parse().expect("--n"),
            "--batch" => a.batch = v[i + 1].parse().expect("--batch"),
            "--timeout" => a.timeout = Duration::from_secs(v[i + 1].parse().expect("--timeout")),
            "--only" => a.only = Some(v[i + 1].split(',').map(str::to_owned).collect()),
            other => panic!("unknown argument {other}"),
        }
        i += 2;
    }
    a
}

struct Ctx {
    a: Args,
    runtime: Arc<ClientRuntime>,
    passed: usize,
    failed: usize,
}

impl Ctx {
    fn report(&mut self, case: &str, r: Result<(), String>) {
        match r {
            Ok(()) => {
                self.passed += 1;
                println!("PASS {case}");
            }
            Err(e) => {
                self.failed += 1;
                println!("FAIL {case}: {e}");
            }
        }
    }

    fn wanted(&self, case: &str) -> bool {
        self.a.only.as_ref().is_none_or(|o| o.contains(case))
    }

    /// Starts a push consumer, waits until every body of `expected` arrived (or the timeout).
    async fn consume(
        &self,
        group: &str,
        topic: &str,
        expr: &str,
        from: ConsumeFromWhere,
        orderly: bool,
        expected: &HashSet<String>,
    ) -> Result<Received, String> {
        let sink = Sink::default();
        let mut c = DefaultMQPushConsumer::builder(self.runtime.clone())
            .consumer_group(group.to_string())
            .name_server_addr(self.a.ns.clone())
            .message_model(MessageModel::Clustering)
            .consume_from_where(from)
            .build();
        c.subscribe(topic, expr)
            .await
            .map_err(|e| format!("subscribe: {e}"))?;
        if orderly {
            c.register_message_listener_orderly(sink.clone());
        } else {
            c.register_message_listener_concurrently(sink.clone());
        }
        c.start().await.map_err(|e| format!("start: {e}"))?;
        let deadline = tokio::time::Instant::now() + self.a.timeout;
        loop {
            let done = {
                let r = sink.0.lock().unwrap();
                expected.iter().all(|b| r.got.contains_key(b))
            };
            if done {
                tokio::time::sleep(Duration::from_millis(500)).await; // stragglers
                break;
            }
            if tokio::time::Instant::now() >= deadline {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let _ = tokio::time::timeout(Duration::from_secs(15), c.shutdown()).await;
        let mut r = sink.0.lock().unwrap();
        Ok(std::mem::take(&mut *r))
    }
}

fn check(r: &Received, expected: &Sent) -> Result<(), String> {
    if expected.is_empty() {
        return Err("nothing to expect: the sends failed".into());
    }
    let missing: Vec<&String> = expected.keys().filter(|b| !r.got.contains_key(*b)).collect();
    if !missing.is_empty() {
        return Err(format!(
            "{} of {} messages missing, e.g. {:?} (received {})",
            missing.len(),
            expected.len(),
            &missing[..missing.len().min(3)],
            r.got.len()
        ));
    }
    for (b, got) in &r.got {
        match expected.get(b) {
            None => return Err(format!("unexpected message {b:?}")),
            Some(sent) if sent != got => {
                return Err(format!("{b} arrived with (tag, keys) {got:?}, sent {sent:?}"))
            }
            _ => {}
        }
    }
    Ok(())
}

fn msg(topic: &str, body: &str, tag: &str, keys: &str) -> Message {
    Message::builder()
        .topic(topic.to_string())
        .tags(tag.to_string())
        .key(keys.to_string())
        .body_slice(body.as_bytes())
        .build_unchecked()
}

async fn run(ctx: &mut Ctx) {
    let run = format!(
        "{:08x}",
        std::process::id() ^ (std::time::UNIX_EPOCH.elapsed().unwrap().as_nanos() as u32)
    );
    let topic = format!("RustTopic_{run}");
    let mut p = DefaultMQProducer::builder(ctx.runtime.clone())
        .producer_group(format!("RustProducer_{run}"))
        .name_server_addr(ctx.a.ns.clone())
        .build();
    if let Err(e) = p.start().await {
        ctx.report("producer-start", Err(e.to_string()));
        return;
    }

    let mut all = Sent::new();
    let mut errs = Vec::new();
    for i in 0..ctx.a.n {
        let body = format!("rust-{run}-{i}");
        let tag = if i % 2 == 0 { "TagA" } else { "TagB" };
        let keys = format!("key-{i}");
        match p.send(msg(&topic, &body, tag, &keys)).await {
            Ok(Some(r)) if r.send_status == SendStatus::SendOk => {
                all.insert(body, (tag.into(), keys));
            }
            Ok(r) => errs.push(format!("{i}: {r:?}")),
            Err(e) => errs.push(format!("{i}: {e}")),
        }
    }
    ctx.report(
        "send",
        if errs.is_empty() {
            Ok(())
        } else {
            Err(errs[..errs.len().min(3)].join("; "))
        },
    );

    if ctx.wanted("send-batch") {
        let mut batch = Sent::new();
        let mut msgs = Vec::new();
        for i in 0..ctx.a.batch {
            let body = format!("rust-{run}-batch-{i}");
            let keys = format!("bkey-{i}");
            msgs.push(msg(&topic, &body, "TagB", &keys));
            batch.insert(body, ("TagB".into(), keys));
        }
        let r = match p.send_batch(msgs).await {
            Ok(r) if r.send_status == SendStatus::SendOk => {
                all.extend(batch);
                Ok(())
            }
            Ok(r) => Err(format!("{r:?}")),
            Err(e) => Err(e.to_string()),
        };
        ctx.report("send-batch", r);
    }

    let everything: HashSet<String> = all.keys().cloned().collect();
    for (case, from) in [
        ("push-first", ConsumeFromWhere::ConsumeFromFirstOffset),
        ("push-default", ConsumeFromWhere::ConsumeFromLastOffset),
    ] {
        if ctx.wanted(case) {
            let group = format!("Rust{}_{run}", case.replace('-', ""));
            let r = ctx.consume(&group, &topic, "*", from, false, &everything).await;
            let r = r.and_then(|r| check(&r, &all));
            ctx.report(case, r);
        }
    }
    if ctx.wanted("push-tag") {
        let tag_a: Sent = all
            .iter()
            .filter(|(_, (t, _))| t == "TagA")
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let want: HashSet<String> = tag_a.keys().cloned().collect();
        let r = ctx
            .consume(
                &format!("RustTag_{run}"),
                &topic,
                "TagA",
                ConsumeFromWhere::ConsumeFromFirstOffset,
                false,
                &want,
            )
            .await;
        let r = r.and_then(|r| check(&r, &tag_a));
        ctx.report("push-tag", r);
    }
    if ctx.wanted("orderly") {
        let r = orderly(ctx, &p, &run).await;
        ctx.report("orderly", r);
    }
    let _ = tokio::time::timeout(Duration::from_secs(15), p.shutdown()).await;
}

async fn orderly(ctx: &Ctx, p: &DefaultMQProducer, run: &str) -> Result<(), String> {
    let topic = format!("RustOrderly_{run}");
    let mut per_key: BTreeMap<usize, Vec<String>> = BTreeMap::new();
    let mut sent = Sent::new();
    for i in 0..ctx.a.n {
        let key = i % 4;
        let body = format!("rust-{run}-k{key}-{i}");
        let keys = format!("okey-{i}");
        let r = p
            .send_with_selector(
                msg(&topic, &body, "TagO", &keys),
                |mqs, _msg, arg: &usize| Some(mqs[arg % mqs.len()].clone()),
                key,
            )
            .await
            .map_err(|e| format!("send: {e}"))?;
        match r {
            Some(r) if r.send_status == SendStatus::SendOk => {}
            other => return Err(format!("send: {other:?}")),
        }
        per_key.entry(key).or_default().push(body.clone());
        sent.insert(body, ("TagO".into(), keys));
    }
    let want: HashSet<String> = sent.keys().cloned().collect();
    let r = ctx
        .consume(
            &format!("RustOrderly_{run}"),
            &topic,
            "*",
            ConsumeFromWhere::ConsumeFromFirstOffset,
            true,
            &want,
        )
        .await?;
    check(&r, &sent)?;
    let mut seen: BTreeMap<usize, Vec<String>> = BTreeMap::new();
    let mut dup = HashSet::new();
    for b in &r.order {
        if !dup.insert(b.clone()) {
            continue;
        }
        let key: usize = b
            .split("-k")
            .nth(1)
            .and_then(|s| s.split('-').next())
            .and_then(|s| s.parse().ok())
            .unwrap();
        seen.entry(key).or_default().push(b.clone());
    }
    if seen != per_key {
        return Err(format!("order per key differs: got {seen:?}, sent {per_key:?}"));
    }
    Ok(())
}

fn main() {
    let a = args();
    let owner = RuntimeOwner::plan(RuntimeConfig {
        thread_name: "rmq-conformance".into(),
        ..Default::default()
    })
    .expect("runtime plan")
    .build()
    .expect("runtime");
    // The client logs through tracing at INFO by default, to stdout: keep the output to the
    // PASS/FAIL lines unless RMQ_CONF_RUST_LOG asks for more (e.g. "warn", "debug").
    let mut telemetry_config = rocketmq_observability::TelemetryBootstrapConfig::default();
    telemetry_config.logging.filter = std::env::var("RMQ_CONF_RUST_LOG").unwrap_or_else(|_| "off".into());
    telemetry_config.logging.console.ansi = false;
    let telemetry = rocketmq_observability::install_global(&telemetry_config).expect("telemetry");
    let runtime = ClientRuntime::try_new(
        owner.root_context().component("client"),
        ClientRuntimeConfig::default(),
        telemetry.handle(),
    )
    .expect("client runtime");
    let mut ctx = Ctx {
        a,
        runtime,
        passed: 0,
        failed: 0,
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio");
    rt.block_on(run(&mut ctx));
    println!("rust: {} passed, {} failed", ctx.passed, ctx.failed);
    // The client's background tasks need no orderly stop for this test.
    std::process::exit(if ctx.failed == 0 { 0 } else { 1 });
}
