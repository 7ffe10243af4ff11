//! Test support shared by the integration tests of the rmq crates (a dev-dependency, never a
//! dependency): waiting on positive signals.
//!
//! Tests never sleep to let something (not) happen; they wait for a state that proves it. Every
//! wait here has a deadline and, when it passes, panics naming what it waited for.

use std::future::Future;
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// How often a condition is re-checked.
const POLL: Duration = Duration::from_millis(10);

/// Polls `cond` until it holds; panics naming `what` once `within` has passed.
pub async fn wait_until(what: &str, within: Duration, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !cond() {
        assert!(
            Instant::now() < deadline,
            "timed out after {within:?} waiting for {what}"
        );
        tokio::time::sleep(POLL).await;
    }
}

/// [`wait_until`] for a condition that needs a request (or another future) to evaluate.
pub async fn wait_until_async<F, Fut>(what: &str, within: Duration, mut cond: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + within;
    while !cond().await {
        assert!(
            Instant::now() < deadline,
            "timed out after {within:?} waiting for {what}"
        );
        tokio::time::sleep(POLL).await;
    }
}

/// Polls `probe` until it returns `Ok`, and returns its value; panics naming `what` and the last
/// `Err` (what was seen instead) once `within` has passed.
pub async fn wait_for<T, F, Fut>(what: &str, within: Duration, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, String>>,
{
    let deadline = Instant::now() + within;
    loop {
        match probe().await {
            Ok(v) => return v,
            Err(seen) => assert!(
                Instant::now() < deadline,
                "timed out after {within:?} waiting for {what}; last seen: {seen}"
            ),
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Polls `probe` until it returns `Some`, and returns its value; panics naming `what` once
/// `within` has passed.
pub async fn wait_for_some<T, F, Fut>(what: &str, within: Duration, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + within;
    loop {
        if let Some(v) = probe().await {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {within:?} waiting for {what}"
        );
        tokio::time::sleep(POLL).await;
    }
}

/// Returns once the system wall clock (what a store stamps records with) reads at least `ms`:
/// a few milliseconds away at most, so it spins.
pub fn wait_for_wall_ms(ms: i64) {
    while rmq_protocol::time::now_ms() < ms {
        std::thread::yield_now();
    }
}

/// A gate a (blocking) listener waits at until the test opens it.
#[derive(Clone, Default)]
pub struct Gate(Arc<(Mutex<bool>, Condvar)>);

impl Gate {
    /// Blocks the calling thread until the gate is open.
    pub fn wait(&self) {
        let (open, changed) = &*self.0;
        let mut open = open.lock().unwrap_or_else(PoisonError::into_inner);
        while !*open {
            open = changed.wait(open).unwrap_or_else(PoisonError::into_inner);
        }
    }

    pub fn open(&self) {
        let (open, changed) = &*self.0;
        *open.lock().unwrap_or_else(PoisonError::into_inner) = true;
        changed.notify_all();
    }

    /// Opens the gate when the returned guard drops, so a failed assertion never leaves a
    /// listener thread blocked (the runtime waits for those on shutdown).
    pub fn open_on_drop(&self) -> OpenOnDrop {
        OpenOnDrop(self.clone())
    }
}

/// See [`Gate::open_on_drop`].
pub struct OpenOnDrop(Gate);

impl Drop for OpenOnDrop {
    fn drop(&mut self) {
        self.0.open();
    }
}

/// `GET /metrics` over a plain HTTP/1.1 connection: the body of a 200 answer in the
/// Prometheus text format (panics otherwise).
pub async fn scrape_metrics(addr: std::net::SocketAddr) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut conn = tokio::net::TcpStream::connect(addr)
        .await
        .expect("connect to /metrics");
    conn.write_all(b"GET /metrics HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n")
        .await
        .expect("send GET /metrics");
    let mut raw = String::new();
    conn.read_to_string(&mut raw).await.expect("read /metrics");
    let (head, body) = raw.split_once("\r\n\r\n").expect("an HTTP answer");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(head.contains("text/plain; version=0.0.4"), "{head}");
    body.to_string()
}

/// The value of the one sample of `name` (exactly: `name{`) whose labels include every `want`.
pub fn metric_sample(text: &str, name: &str, want: &[&str]) -> Option<f64> {
    text.lines()
        .filter(|l| l.starts_with(&format!("{name}{{")))
        .find(|l| want.iter().all(|w| l.contains(w)))
        .and_then(|l| l.rsplit_once(' '))
        .and_then(|(_, v)| v.parse().ok())
}
