//! One connection (TCP, or TLS over TCP), usable from either side.
//!
//! A [`Channel`] owns a writer task fed by a bounded queue, and a reader task that completes pending
//! requests by `opaque` and hands incoming requests to a [`RequestHandler`]. Closing the channel (or
//! the peer closing it) fails every pending request with [`RemotingError::ConnectionClosed`].

use parking_lot::Mutex;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicI32, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use futures_util::{FutureExt, SinkExt, StreamExt};
use rmq_protocol::codes::response_code;
use rmq_protocol::command::RPC_RESPONSE;
use rmq_protocol::RemotingCommand;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};
use tokio_util::codec::{FramedRead, FramedWrite};
use tokio_util::sync::CancellationToken;

use crate::codec::RemotingCodec;
use crate::server::RequestHandler;
use crate::RemotingError;

/// Frames queued for writing per connection before senders wait.
const WRITE_QUEUE_FRAMES: usize = 4096;

static NEXT_OPAQUE: AtomicI32 = AtomicI32::new(1);
static NEXT_CHANNEL_ID: AtomicU64 = AtomicU64::new(1);

/// Milliseconds since the first call in this process: a cheap monotonic stamp for activity (not
/// wall time, hence `u64` and not `rmq_protocol::time::Clock`). Read from tokio's clock, so the
/// idle check (a tokio timer) and the stamps it compares move together under paused test time.
fn elapsed_ms() -> u64 {
    use tokio::time::Instant;
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    let epoch = *EPOCH.get_or_init(Instant::now);
    Instant::now().saturating_duration_since(epoch).as_millis() as u64
}

/// The next request id of this process.
pub fn next_opaque() -> i32 {
    NEXT_OPAQUE.fetch_add(1, Ordering::Relaxed)
}

/// A cheap, cloneable handle to one connection.
#[derive(Clone)]
pub struct Channel {
    inner: Arc<Inner>,
}

struct Inner {
    id: u64,
    peer: SocketAddr,
    local: SocketAddr,
    tx: mpsc::Sender<RemotingCommand>,
    pending: Mutex<HashMap<i32, oneshot::Sender<RemotingCommand>>>,
    closed: CancellationToken,
    /// [`now_ms`] of the last frame read or written.
    last_active_ms: Arc<AtomicU64>,
    /// Made by [`Channel::detached`] (no socket: another protocol's client).
    detached: bool,
}

impl std::fmt::Debug for Channel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Channel")
            .field("id", &self.inner.id)
            .field("peer", &self.inner.peer)
            .finish()
    }
}

impl PartialEq for Channel {
    fn eq(&self, other: &Self) -> bool {
        self.inner.id == other.inner.id
    }
}
impl Eq for Channel {}

impl std::hash::Hash for Channel {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.inner.id.hash(state)
    }
}

impl Channel {
    /// Starts the reader and writer tasks of a connected stream. Requests arriving on it go to
    /// `handler`; without one they are answered with `REQUEST_CODE_NOT_SUPPORTED`.
    pub fn spawn(stream: TcpStream, handler: Option<Arc<dyn RequestHandler>>) -> std::io::Result<Channel> {
        stream.set_nodelay(true)?;
        let peer = stream.peer_addr()?;
        let local = stream.local_addr()?;
        // The plain path keeps tokio's lock-free owned halves.
        let (read_half, write_half) = stream.into_split();
        Ok(Self::start(read_half, write_half, peer, local, handler))
    }

    /// [`Channel::spawn`] over any stream, e.g. TLS over a `TcpStream` (whose `nodelay` the
    /// caller sets): its halves are split with a lock, which costs the plain path nothing.
    pub fn spawn_io<S>(
        stream: S,
        peer: SocketAddr,
        local: SocketAddr,
        handler: Option<Arc<dyn RequestHandler>>,
    ) -> Channel
    where
        S: AsyncRead + AsyncWrite + Send + 'static,
    {
        let (read_half, write_half) = tokio::io::split(stream);
        Self::start(read_half, write_half, peer, local, handler)
    }

    fn start<R, W>(
        read_half: R,
        write_half: W,
        peer: SocketAddr,
        local: SocketAddr,
        handler: Option<Arc<dyn RequestHandler>>,
    ) -> Channel
    where
        R: AsyncRead + Unpin + Send + 'static,
        W: AsyncWrite + Unpin + Send + 'static,
    {
        let (tx, rx) = mpsc::channel(WRITE_QUEUE_FRAMES);
        let channel = Channel::with(peer, local, tx);
        let last_active_ms = channel.inner.last_active_ms.clone();
        tokio::spawn(write_loop(
            FramedWrite::new(write_half, RemotingCodec),
            rx,
            channel.inner.closed.clone(),
            last_active_ms,
        ));
        let reader = channel.clone();
        tokio::spawn(async move {
            reader
                .read_loop(FramedRead::new(read_half, RemotingCodec), handler)
                .await;
        });
        channel
    }

    /// A channel without a socket: what is sent on it arrives on the returned receiver, for a
    /// front end speaking another protocol to translate (the broker's gRPC clients, so that they
    /// sit in the same client registry as remoting ones); answers to its requests come back
    /// through [`Channel::answer`]. Dropping the receiver closes it for senders.
    pub fn detached(peer: SocketAddr, local: SocketAddr) -> (Channel, mpsc::Receiver<RemotingCommand>) {
        let (tx, rx) = mpsc::channel(64);
        let mut channel = Channel::with(peer, local, tx);
        Arc::get_mut(&mut channel.inner)
            .expect("a new channel is not shared")
            .detached = true;
        (channel, rx)
    }

    /// A new channel (a fresh id, nothing pending) whose frames go to `tx`.
    fn with(peer: SocketAddr, local: SocketAddr, tx: mpsc::Sender<RemotingCommand>) -> Channel {
        Channel {
            inner: Arc::new(Inner {
                id: NEXT_CHANNEL_ID.fetch_add(1, Ordering::Relaxed),
                peer,
                local,
                tx,
                pending: Mutex::new(HashMap::new()),
                closed: CancellationToken::new(),
                last_active_ms: Arc::new(AtomicU64::new(elapsed_ms())),
                detached: false,
            }),
        }
    }

    /// Hands `resp` to the request waiting on its opaque (a detached channel's answer); false
    /// when none waits (it timed out, or it was never asked).
    pub fn answer(&self, resp: RemotingCommand) -> bool {
        self.inner.last_active_ms.store(elapsed_ms(), Ordering::Relaxed);
        match self.lock_pending().remove(&resp.opaque) {
            Some(tx) => tx.send(resp).is_ok(),
            None => false,
        }
    }

    /// Whether this is a [`Channel::detached`] one (no socket of its own).
    pub fn is_detached(&self) -> bool {
        self.inner.detached
    }

    /// Process-unique id of this connection.
    pub fn id(&self) -> u64 {
        self.inner.id
    }

    /// The remote address.
    pub fn peer_addr(&self) -> SocketAddr {
        self.inner.peer
    }

    /// The local address of this connection.
    pub fn local_addr(&self) -> SocketAddr {
        self.inner.local
    }

    /// True once either side has closed the connection.
    pub fn is_closed(&self) -> bool {
        self.inner.closed.is_cancelled()
    }

    /// Resolves when the connection is closed.
    pub async fn closed(&self) {
        self.inner.closed.cancelled().await
    }

    /// How long since a frame was last read or written on this connection.
    pub fn idle_for(&self) -> Duration {
        let last = self.inner.last_active_ms.load(Ordering::Relaxed);
        Duration::from_millis(elapsed_ms().saturating_sub(last))
    }

    /// Closes the connection; pending requests fail.
    pub fn close(&self) {
        self.inner.closed.cancel();
        self.fail_pending();
    }

    /// Queues one frame as it is (responses, or requests whose opaque is already set).
    pub async fn send(&self, cmd: RemotingCommand) -> Result<(), RemotingError> {
        if self.is_closed() {
            return Err(RemotingError::ConnectionClosed(self.inner.peer));
        }
        self.inner
            .tx
            .send(cmd)
            .await
            .map_err(|_| RemotingError::ConnectionClosed(self.inner.peer))
    }

    /// Sends a request and waits for the response with the same `opaque`.
    pub async fn invoke(
        &self,
        mut cmd: RemotingCommand,
        timeout: Duration,
    ) -> Result<RemotingCommand, RemotingError> {
        let opaque = next_opaque();
        cmd.opaque = opaque;
        let (tx, rx) = oneshot::channel();
        self.lock_pending().insert(opaque, tx);
        if let Err(e) = self.send(cmd).await {
            self.lock_pending().remove(&opaque);
            return Err(e);
        }
        if self.is_closed() {
            // The reader may have drained the table before our insert became visible.
            self.lock_pending().remove(&opaque);
        }
        match tokio::time::timeout(timeout, rx).await {
            Ok(Ok(resp)) => Ok(resp),
            Ok(Err(_)) => Err(RemotingError::ConnectionClosed(self.inner.peer)),
            Err(_) => {
                self.lock_pending().remove(&opaque);
                Err(RemotingError::Timeout {
                    addr: self.inner.peer,
                    timeout_ms: timeout.as_millis() as u64,
                })
            }
        }
    }

    /// Sends a request the peer must not answer.
    pub async fn invoke_oneway(&self, mut cmd: RemotingCommand) -> Result<(), RemotingError> {
        cmd.opaque = next_opaque();
        cmd.set_oneway();
        self.send(cmd).await
    }

    fn lock_pending(&self) -> parking_lot::MutexGuard<'_, HashMap<i32, oneshot::Sender<RemotingCommand>>> {
        self.inner.pending.lock()
    }

    fn fail_pending(&self) {
        self.lock_pending().clear();
    }

    async fn read_loop<R: AsyncRead + Unpin>(
        &self,
        mut frames: FramedRead<R, RemotingCodec>,
        handler: Option<Arc<dyn RequestHandler>>,
    ) {
        loop {
            let next = tokio::select! {
                _ = self.inner.closed.cancelled() => break,
                next = frames.next() => next,
            };
            if next.is_some() {
                self.inner.last_active_ms.store(elapsed_ms(), Ordering::Relaxed);
            }
            match next {
                None => break,
                Some(Err(e)) => {
                    tracing::warn!(peer = %self.inner.peer, error = %e, "closing connection after a bad frame");
                    break;
                }
                Some(Ok(cmd)) if cmd.is_response() => {
                    let waiter = self.lock_pending().remove(&cmd.opaque);
                    match waiter {
                        Some(tx) => {
                            let _ = tx.send(cmd); // the requester may have timed out meanwhile
                        }
                        None => {
                            tracing::debug!(peer = %self.inner.peer, opaque = cmd.opaque, "response for no pending request")
                        }
                    }
                }
                Some(Ok(cmd)) => {
                    let channel = self.clone();
                    let handler = handler.clone();
                    tokio::spawn(async move { channel.serve(handler, cmd).await });
                }
            }
        }
        self.close();
        if let Some(h) = handler {
            h.on_channel_closed(self);
        }
    }

    async fn serve(self, handler: Option<Arc<dyn RequestHandler>>, request: RemotingCommand) {
        let oneway = request.is_oneway();
        let opaque = request.opaque;
        let code = request.code;
        let serialize_type = request.serialize_type;
        let started = std::time::Instant::now();
        let mut suspended = false;
        let response = match &handler {
            Some(h) => match AssertUnwindSafe(crate::server::watch_suspension(
                h.clone().handle(self.clone(), request),
            ))
            .catch_unwind()
            .await
            {
                Ok((resp, held)) => {
                    suspended = held;
                    resp
                }
                Err(_) => {
                    tracing::error!(code, peer = %self.inner.peer, "request handler panicked");
                    let mut resp = RemotingCommand::response(response_code::SYSTEM_ERROR)
                        .with_remark(format!("internal error while handling request code {code}"));
                    resp.serialize_type = serialize_type;
                    Some(resp)
                }
            },
            None => {
                let mut resp = RemotingCommand::response(response_code::REQUEST_CODE_NOT_SUPPORTED)
                    .with_remark(format!(" request type {code} not supported"));
                resp.serialize_type = serialize_type;
                Some(resp)
            }
        };
        let Some(mut resp) = response else { return };
        let response_code = resp.code;
        let written = if oneway {
            true
        } else {
            resp.opaque = opaque;
            resp.flag |= RPC_RESPONSE;
            match self.send(resp).await {
                Ok(()) => true,
                Err(e) => {
                    tracing::debug!(peer = %self.inner.peer, error = %e, "response not sent");
                    false
                }
            }
        };
        if let Some(h) = handler {
            h.served(&crate::server::Served {
                request_code: code,
                response_code,
                oneway,
                suspended,
                written,
                elapsed: started.elapsed(),
            });
        }
    }
}

async fn write_loop<W: AsyncWrite + Unpin>(
    mut sink: FramedWrite<W, RemotingCodec>,
    mut rx: mpsc::Receiver<RemotingCommand>,
    closed: CancellationToken,
    last_active_ms: Arc<AtomicU64>,
) {
    loop {
        let first = tokio::select! {
            _ = closed.cancelled() => break,
            cmd = rx.recv() => match cmd { Some(c) => c, None => break },
        };
        // Coalesce whatever else is queued into one write.
        let mut result = sink.feed(first).await;
        while result.is_ok() {
            match rx.try_recv() {
                Ok(cmd) => result = sink.feed(cmd).await,
                Err(_) => break,
            }
        }
        if result.is_ok() {
            result = sink.flush().await;
            last_active_ms.store(elapsed_ms(), Ordering::Relaxed);
        }
        if let Err(e) = result {
            tracing::debug!(error = %e, "write failed; closing connection");
            break;
        }
    }
    closed.cancel();
}
