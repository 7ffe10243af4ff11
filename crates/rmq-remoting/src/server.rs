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
use crate::BoxFuture;

/// Upper bound on concurrently open server connections; further accepts wait.
pub const MAX_CONNECTIONS: usize = 4096;

/// Java's `serverChannelMaxIdleTimeSeconds` default: a connection with nothing read or written
/// for this long is closed (clients heartbeat every 30 s, brokers register every 30 s).
pub const DEFAULT_MAX_IDLE: Duration = Duration::from_secs(120);

/// How a server treats its connections.
#[derive(Debug, Clone, Copy)]
pub struct ServerOptions {
    /// Close a connection idle (no frame either way) this long; `None` never does.
    pub max_idle: Option<Duration>,
}

impl Default for ServerOptions {
    fn default() -> Self {
        ServerOptions {
            max_idle: Some(DEFAULT_MAX_IDLE),
        }
    }
}

impl ServerOptions {
    /// From `serverChannelMaxIdleTimeSeconds` (0 = never close).
    pub fn with_max_idle_seconds(seconds: u64) -> Self {
        ServerOptions {
            max_idle: (seconds > 0).then(|| Duration::from_secs(seconds)),
        }
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

    /// Stops accepting and closes every connection of this server.
    pub async fn shutdown(self) {
        self.stop.cancel();
        let _ = self.task.await;
    }
}

async fn accept_loop(
    listener: TcpListener,
    handler: Arc<dyn RequestHandler>,
    options: ServerOptions,
    stop: CancellationToken,
) {
    let limit = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let mut open: Vec<Channel> = Vec::new();
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
        match Channel::spawn(stream, Some(handler.clone())) {
            Ok(channel) => {
                tracing::debug!(%peer, "connection accepted");
                let watched = channel.clone();
                tokio::spawn(async move {
                    match options.max_idle {
                        Some(max_idle) => close_when_idle(&watched, max_idle).await,
                        None => watched.closed().await,
                    }
                    drop(permit);
                });
                open.retain(|c| !c.is_closed());
                open.push(channel);
            }
            Err(e) => tracing::warn!(%peer, error = %e, "connection setup failed"),
        }
    }
    for channel in open {
        channel.close();
    }
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
