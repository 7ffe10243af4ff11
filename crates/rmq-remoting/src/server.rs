//! Accept loop: one [`Channel`] per connection, requests handed to one [`RequestHandler`].

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rmq_protocol::RemotingCommand;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::channel::Channel;
use crate::tls::{Accepted, ServerTls};
use crate::BoxFuture;

/// Upper bound on concurrently open server connections; further accepts wait.
pub const MAX_CONNECTIONS: usize = 4096;

/// Java's `serverChannelMaxIdleTimeSeconds` default: a connection with nothing read or written
/// for this long is closed (clients heartbeat every 30 s, brokers register every 30 s).
pub const DEFAULT_MAX_IDLE: Duration = Duration::from_secs(120);

/// How a server treats its connections.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    /// Close a connection idle (no frame either way) this long; `None` never does.
    pub max_idle: Option<Duration>,
    /// TLS (`tls.server.mode` permissive or enforcing); `None` serves plain remoting only, and a
    /// TLS hello then closes its connection as a bad frame (Java's `disabled` mode).
    pub tls: Option<ServerTls>,
}

impl Default for ServerOptions {
    fn default() -> Self {
        ServerOptions {
            max_idle: Some(DEFAULT_MAX_IDLE),
            tls: None,
        }
    }
}

impl ServerOptions {
    /// From `serverChannelMaxIdleTimeSeconds` (0 = never close).
    pub fn with_max_idle_seconds(seconds: u64) -> Self {
        ServerOptions {
            max_idle: (seconds > 0).then(|| Duration::from_secs(seconds)),
            tls: None,
        }
    }

    /// With TLS served as `tls`'s mode says.
    pub fn with_tls(mut self, tls: Option<ServerTls>) -> Self {
        self.tls = tls;
        self
    }
}

/// Serves the requests of every connection of a server (or the server-initiated requests arriving
/// on a client connection). Dispatch by request code happens in one place, inside `handle`.
pub trait RequestHandler: Send + Sync + 'static {
    /// Answers one request. `None` sends nothing (the only right answer to a oneway request; for a
    /// normal request the peer then times out, so use it sparingly).
    fn handle(
        self: Arc<Self>,
        channel: Channel,
        request: RemotingCommand,
    ) -> BoxFuture<'static, Option<RemotingCommand>>;

    /// Called once when a connection closes, for per-connection cleanup.
    fn on_channel_closed(&self, _channel: &Channel) {}

    /// Called after each answered request (one with a response, as Java's `writeResponse`
    /// records `rocketmq_rpc_latency`); not for requests left unanswered.
    fn served(&self, _served: &Served) {}
}

/// One answered request: what [`RequestHandler::served`] is told.
#[derive(Debug, Clone, Copy)]
pub struct Served {
    pub request_code: i32,
    pub response_code: i32,
    /// The request was oneway (the answer was not sent).
    pub oneway: bool,
    /// The handler held the request (long polling; see [`mark_suspended`]).
    pub suspended: bool,
    /// The answer went to the connection's writer (false: the connection was gone).
    pub written: bool,
    /// From the request's arrival to its answer being handed to the writer.
    pub elapsed: std::time::Duration,
}

tokio::task_local! {
    static SUSPENDED: std::cell::Cell<bool>;
}

/// Marks the request being handled on this task as held (a long poll): [`Served::suspended`].
/// Does nothing outside a served request.
pub fn mark_suspended() {
    let _ = SUSPENDED.try_with(|s| s.set(true));
}

/// Runs a handler's future, telling whether it called [`mark_suspended`].
pub(crate) async fn watch_suspension<T>(f: impl std::future::Future<Output = T>) -> (T, bool) {
    SUSPENDED
        .scope(std::cell::Cell::new(false), async move {
            let out = f.await;
            (out, SUSPENDED.with(|s| s.get()))
        })
        .await
}

/// Binds listeners.
pub struct Server;

/// A running server; dropping it does not stop it, call [`ServerHandle::shutdown`].
pub struct ServerHandle {
    local_addr: SocketAddr,
    stop: CancellationToken,
    task: JoinHandle<()>,
}

impl Server {
    /// Binds `addr` (port 0 picks a free port) and starts accepting, with default options.
    pub async fn bind(addr: &str, handler: Arc<dyn RequestHandler>) -> std::io::Result<ServerHandle> {
        Self::bind_with(addr, handler, ServerOptions::default()).await
    }

    /// [`Server::bind`] with options.
    pub async fn bind_with(
        addr: &str,
        handler: Arc<dyn RequestHandler>,
        options: ServerOptions,
    ) -> std::io::Result<ServerHandle> {
        let listener = TcpListener::bind(addr).await?;
        Self::start(listener, handler, options)
    }

    /// Serves an already-bound listener (so a caller can learn the port before serving).
    pub fn serve(
        listener: std::net::TcpListener,
        handler: Arc<dyn RequestHandler>,
        options: ServerOptions,
    ) -> std::io::Result<ServerHandle> {
        listener.set_nonblocking(true)?;
        Self::start(TcpListener::from_std(listener)?, handler, options)
    }

    fn start(
        listener: TcpListener,
        handler: Arc<dyn RequestHandler>,
        options: ServerOptions,
    ) -> std::io::Result<ServerHandle> {
        let local_addr = listener.local_addr()?;
        let stop = CancellationToken::new();
        let task = tokio::spawn(accept_loop(listener, handler, options, stop.clone()));
        Ok(ServerHandle {
            local_addr,
            stop,
            task,
        })
    }
}

impl ServerHandle {
    /// The bound address (with the real port when bound to port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Stops accepting and closes every connection of this server without waiting for it
    /// (for a `Drop`); [`ServerHandle::shutdown`] also waits.
    pub fn stop(&self) {
        self.stop.cancel();
    }

    /// Stops accepting and closes every connection of this server.
    pub async fn shutdown(self) {
        self.stop.cancel();
        let _ = self.task.await;
    }
}

/// The connections a server has open, closed together at shutdown.
struct Open {
    channels: parking_lot::Mutex<Vec<Channel>>,
    stop: CancellationToken,
}

impl Open {
    /// Keeps `channel` for shutdown, or closes it when the server is already stopping (a TLS
    /// handshake can finish after the accept loop is gone).
    fn adopt(&self, channel: &Channel) {
        {
            let mut channels = self.channels.lock();
            // Checked under the lock: `close_all` runs after `stop` is cancelled, so a channel is
            // either seen by it or closed here.
            if !self.stop.is_cancelled() {
                channels.retain(|c| !c.is_closed());
                channels.push(channel.clone());
                return;
            }
        }
        channel.close();
    }

    fn close_all(&self) {
        let channels = std::mem::take(&mut *self.channels.lock());
        for channel in channels {
            channel.close();
        }
    }
}

async fn accept_loop(
    listener: TcpListener,
    handler: Arc<dyn RequestHandler>,
    options: ServerOptions,
    stop: CancellationToken,
) {
    let limit = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let open = Arc::new(Open {
        channels: parking_lot::Mutex::new(Vec::new()),
        stop: stop.clone(),
    });
    loop {
        let permit = tokio::select! {
            _ = stop.cancelled() => break,
            p = limit.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => break },
        };
        let accepted = tokio::select! {
            _ = stop.cancelled() => break,
            a = listener.accept() => a,
        };
        let (stream, peer) = match accepted {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            }
        };
        match &options.tls {
            None => match Channel::spawn(stream, Some(handler.clone())) {
                Ok(channel) => {
                    tracing::debug!(%peer, "connection accepted");
                    watch(channel, permit, options.max_idle, &open);
                }
                Err(e) => tracing::warn!(%peer, error = %e, "connection setup failed"),
            },
            // Sniffing and the handshake run beside the accept loop: a slow peer stalls only itself.
            Some(tls) => {
                let (tls, handler, open, max_idle) =
                    (tls.clone(), handler.clone(), open.clone(), options.max_idle);
                tokio::spawn(async move {
                    let first_byte_wait = max_idle.unwrap_or(DEFAULT_MAX_IDLE);
                    // A stopping server drops a connection still being sniffed or handshaken
                    // (and the handler with it) instead of waiting up to `first_byte_wait`.
                    let sniffed = tokio::select! {
                        _ = open.stop.cancelled() => return,
                        sniffed = sniffed_channel(&tls, stream, first_byte_wait, handler) => sniffed,
                    };
                    match sniffed {
                        Ok(Some(channel)) => watch(channel, permit, max_idle, &open),
                        Ok(None) => {}
                        Err(e) => tracing::warn!(%peer, error = %e, "connection setup failed"),
                    }
                });
            }
        }
    }
    open.close_all();
}

/// A channel for a connection of a TLS-capable server: TLS or plain as its first byte says.
async fn sniffed_channel(
    tls: &ServerTls,
    stream: tokio::net::TcpStream,
    first_byte_wait: Duration,
    handler: Arc<dyn RequestHandler>,
) -> std::io::Result<Option<Channel>> {
    stream.set_nodelay(true)?;
    let peer = stream.peer_addr()?;
    let local = stream.local_addr()?;
    Ok(match tls.accept(stream, first_byte_wait).await? {
        None => None,
        Some(Accepted::Plain(stream)) => {
            tracing::debug!(%peer, "connection accepted");
            Some(Channel::spawn(stream, Some(handler))?)
        }
        Some(Accepted::Tls(stream)) => {
            tracing::debug!(%peer, "TLS connection accepted");
            Some(Channel::spawn_io(*stream, peer, local, Some(handler)))
        }
    })
}

/// Keeps `channel` for shutdown and its connection permit until it closes (or idles out).
fn watch(
    channel: Channel,
    permit: tokio::sync::OwnedSemaphorePermit,
    max_idle: Option<Duration>,
    open: &Open,
) {
    open.adopt(&channel);
    tokio::spawn(async move {
        match max_idle {
            Some(max_idle) => close_when_idle(&channel, max_idle).await,
            None => channel.closed().await,
        }
        drop(permit);
    });
}

/// Returns when the channel closes, closing it first once nothing was read or written on it
/// for `max_idle` (Java's IdleStateHandler + NettyConnectManageHandler).
async fn close_when_idle(channel: &Channel, max_idle: Duration) {
    loop {
        let idle = channel.idle_for();
        if idle >= max_idle {
            tracing::info!(peer = %channel.peer_addr(), idle_ms = idle.as_millis() as u64, "closing idle connection");
            channel.close();
            return;
        }
        tokio::select! {
            _ = channel.closed() => return,
            _ = tokio::time::sleep(max_idle - idle) => {}
        }
    }
}
