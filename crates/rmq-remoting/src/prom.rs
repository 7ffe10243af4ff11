//! What the servers (broker, name server) share to serve Prometheus metrics: explicit-bucket
//! histograms, `rocketmq_rpc_latency` of answered requests (Java keeps it in its remoting module
//! too, `RemotingMetricsManager`), label escaping, and the `/metrics` HTTP endpoint.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::RwLock;

use crate::server::Served;

/// `rocketmq_rpc_latency`'s buckets, in milliseconds (`RemotingMetricsManager`).
pub const RPC_LATENCY_BUCKETS: &[u64] = &[1, 3, 5, 7, 10, 100, 1000, 2000, 3000];

/// An explicit-bucket histogram (OpenTelemetry's `explicitBucketHistogram`, as Prometheus shows
/// it): counts per bucket, not cumulative until read, the last bucket +Inf.
#[derive(Debug)]
pub struct Histogram {
    bounds: &'static [u64],
    counts: Box<[AtomicU64]>,
    sum: AtomicU64,
}

impl Histogram {
    pub fn new(bounds: &'static [u64]) -> Self {
        Histogram {
            bounds,
            counts: (0..=bounds.len()).map(|_| AtomicU64::new(0)).collect(),
            sum: AtomicU64::new(0),
        }
    }

    pub fn record(&self, value: u64) {
        let bucket = self
            .bounds
            .iter()
            .position(|b| value <= *b)
            .unwrap_or(self.bounds.len());
        self.counts[bucket].fetch_add(1, Ordering::Relaxed);
        self.sum.fetch_add(value, Ordering::Relaxed);
    }

    /// Cumulative bucket counts (the last is the count), then the sum.
    pub fn cumulative(&self) -> (Vec<u64>, u64) {
        let mut total = 0;
        let buckets = self
            .counts
            .iter()
            .map(|n| {
                total += n.load(Ordering::Relaxed);
                total
            })
            .collect();
        (buckets, self.sum.load(Ordering::Relaxed))
    }

    /// The `_bucket`, `_sum` and `_count` rows of one label set.
    pub fn rows(&self, labels: &str, out: &mut Vec<(String, &'static str, u64)>) {
        let (buckets, sum) = self.cumulative();
        let sep = if labels.is_empty() { "" } else { "," };
        for (i, n) in buckets.iter().enumerate() {
            let le = self
                .bounds
                .get(i)
                .map_or_else(|| "+Inf".to_string(), |b| format!("{b}.0"));
            out.push((format!("{labels}{sep}le=\"{le}\""), "_bucket", *n));
        }
        out.push((labels.to_string(), "_sum", sum));
        out.push((labels.to_string(), "_count", *buckets.last().unwrap_or(&0)));
    }
}

/// A histogram per key, created on first use (a read lock and a lookup afterwards).
#[derive(Debug)]
pub struct HistogramTable<K> {
    bounds: &'static [u64],
    rows: RwLock<HashMap<K, Arc<Histogram>>>,
}

impl<K: std::hash::Hash + Eq + Clone + Ord> HistogramTable<K> {
    pub fn new(bounds: &'static [u64]) -> Self {
        HistogramTable {
            bounds,
            rows: RwLock::new(HashMap::new()),
        }
    }

    pub fn record<Q>(&self, key: &Q, value: u64)
    where
        K: std::borrow::Borrow<Q>,
        Q: std::hash::Hash + Eq + ToOwned<Owned = K> + ?Sized,
    {
        if let Some(h) = self.rows.read().get(key) {
            h.record(value);
            return;
        }
        let h = self
            .rows
            .write()
            .entry(key.to_owned())
            .or_insert_with(|| Arc::new(Histogram::new(self.bounds)))
            .clone();
        h.record(value);
    }

    /// The histograms in key order.
    pub fn sorted(&self) -> Vec<(K, Arc<Histogram>)> {
        let mut out: Vec<_> = self
            .rows
            .read()
            .iter()
            .map(|(k, h)| (k.clone(), h.clone()))
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }
}

/// `RemotingMetricsConstant`'s `result` label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum RpcResult {
    Success,
    Oneway,
    WriteChannelFailed,
}

impl RpcResult {
    fn label(self) -> &'static str {
        match self {
            RpcResult::Success => "success",
            RpcResult::Oneway => "oneway",
            RpcResult::WriteChannelFailed => "write_channel_failed",
        }
    }
}

/// `rocketmq_rpc_latency`: per (request code, response code, held, result), the milliseconds
/// from a request's arrival to its answer ([`Served`]).
#[derive(Debug)]
pub struct RpcLatency {
    table: HistogramTable<(i32, i32, bool, RpcResult)>,
}

impl Default for RpcLatency {
    fn default() -> Self {
        RpcLatency {
            table: HistogramTable::new(RPC_LATENCY_BUCKETS),
        }
    }
}

impl RpcLatency {
    /// One answered request (`writeResponse`'s recording).
    pub fn record(&self, served: &Served) {
        let result = if served.oneway {
            RpcResult::Oneway
        } else if served.written {
            RpcResult::Success
        } else {
            RpcResult::WriteChannelFailed
        };
        let key = (
            served.request_code,
            served.response_code,
            served.suspended,
            result,
        );
        let ms = u64::try_from(served.elapsed.as_millis()).unwrap_or(u64::MAX);
        self.table.record(&key, ms);
    }

    /// The histogram rows, labelled `protocol_type`, `request_code`, `response_code`,
    /// `is_long_polling` and `result`.
    pub fn rows(&self, out: &mut Vec<(String, &'static str, u64)>) {
        use rmq_protocol::codes::{request_code, response_code};
        for ((request, response, held, result), h) in self.table.sorted() {
            let labels = format!(
                "protocol_type=\"remoting\",request_code=\"{}\",response_code=\"{}\",is_long_polling=\"{held}\",result=\"{}\"",
                code_desc(request_code::name(request), request),
                code_desc(response_code::name(response), response),
                result.label()
            );
            h.rows(&labels, out);
        }
    }
}

/// Java's `RemotingHelper.getRequestCodeDesc` / `getResponseCodeDesc`: the constant's name in
/// lower case, else the number.
fn code_desc(name: Option<&str>, code: i32) -> String {
    name.map_or_else(|| code.to_string(), str::to_lowercase)
}

/// A label value as the text format wants it.
pub fn escape(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

/// Serves `GET /metrics` with `render()`'s text on `listener` until the task is aborted.
pub async fn serve(listener: tokio::net::TcpListener, render: Arc<dyn Fn() -> String + Send + Sync>) {
    use http_body_util::Full;
    use hyper::{body::Bytes, Response, StatusCode};
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let render = render.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                let render = render.clone();
                async move {
                    if req.uri().path() == "/metrics" {
                        Response::builder()
                            .header("content-type", "text/plain; version=0.0.4; charset=utf-8")
                            .body(Full::new(Bytes::from(render())))
                    } else {
                        Response::builder()
                            .status(StatusCode::NOT_FOUND)
                            .body(Full::new(Bytes::from_static(b"see /metrics\n")))
                    }
                }
            });
            let io = hyper_util::rt::TokioIo::new(stream);
            if let Err(e) = hyper::server::conn::http1::Builder::new()
                .serve_connection(io, service)
                .await
            {
                tracing::debug!(error = %e, "metrics connection ended");
            }
        });
    }
}

/// Binds where metrics are served (`metricsPromExporterHost`, empty: every address); port 0
/// takes a free one.
pub fn bind(host: &str, port: u16) -> std::io::Result<(std::net::TcpListener, SocketAddr)> {
    let host = if host.is_empty() { "0.0.0.0" } else { host };
    let listener = std::net::TcpListener::bind((host, port))?;
    listener.set_nonblocking(true)?;
    let addr = listener.local_addr()?;
    Ok((listener, addr))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_rows_are_cumulative_with_inf() {
        let h = Histogram::new(&[1, 10]);
        for v in [0, 1, 5, 50] {
            h.record(v);
        }
        let mut rows = Vec::new();
        h.rows("a=\"b\"", &mut rows);
        let rendered: Vec<String> = rows.iter().map(|(l, s, n)| format!("{s}{{{l}}} {n}")).collect();
        assert_eq!(
            rendered,
            [
                "_bucket{a=\"b\",le=\"1.0\"} 2",
                "_bucket{a=\"b\",le=\"10.0\"} 3",
                "_bucket{a=\"b\",le=\"+Inf\"} 4",
                "_sum{a=\"b\"} 56",
                "_count{a=\"b\"} 4",
            ]
        );
        assert_eq!(escape("a\"b\\c"), "a\\\"b\\\\c");
    }
}
