//! What both HA protocols (classic and controller mode's AutoSwitch) share: the master's accept
//! loop and the slave's loop that follows the master's address.

use std::future::Future;
use std::io;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;

use super::{HaService, RECONNECT_INTERVAL};
use crate::MessageStore;

/// Most slave connections served at once.
const MAX_CONNECTIONS: usize = 64;

/// How often a master's writer looks for new data when no arrival woke it (Java waits 100 ms).
const POLL_INTERVAL: Duration = Duration::from_millis(100);

/// How long a slave waits for the master's HA port to accept.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// A master's writer with nothing to send: returns on the next replication news (an append, a
/// moved confirm offset), or after [`POLL_INTERVAL`].
pub(super) async fn wait_for_data(news: &mut watch::Receiver<u64>) {
    tokio::select! {
        r = news.changed() => {
            if r.is_err() {
                tokio::time::sleep(POLL_INTERVAL).await;
            }
        }
        _ = tokio::time::sleep(POLL_INTERVAL) => {}
    }
}

/// A slave's connection to its master's HA address (no Nagle: acks are small and timely).
pub(super) async fn connect(addr: &str) -> io::Result<TcpStream> {
    let stream = match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(addr)).await {
        Ok(r) => r?,
        Err(_) => return Err(io::Error::new(io::ErrorKind::TimedOut, "connect timed out")),
    };
    stream.set_nodelay(true)?;
    Ok(stream)
}

/// Binds `0.0.0.0:port` (0 picks one) and serves each slave connection `admit` lets in with
/// `serve`, in a task of its own; dropping the service ends them all.
pub(super) async fn listen<F, Fut>(
    store: MessageStore,
    port: u16,
    what: &'static str,
    admit: fn(&MessageStore) -> Result<(), &'static str>,
    serve: F,
) -> io::Result<HaService>
where
    F: Fn(MessageStore, TcpStream) -> Fut + Send + 'static,
    Fut: Future<Output = io::Result<()>> + Send + 'static,
{
    let listener = TcpListener::bind(("0.0.0.0", port)).await?;
    let local_addr = listener.local_addr()?;
    tracing::info!(%local_addr, "{what} listening for slaves");
    let task = tokio::spawn(accept_loop(store, listener, admit, serve));
    Ok(HaService {
        task: Some(task),
        local_addr: Some(local_addr),
    })
}

async fn accept_loop<F, Fut>(
    store: MessageStore,
    listener: TcpListener,
    admit: fn(&MessageStore) -> Result<(), &'static str>,
    serve: F,
) where
    F: Fn(MessageStore, TcpStream) -> Fut,
    Fut: Future<Output = io::Result<()>> + Send + 'static,
{
    // Dropping the set (when this task is aborted) aborts every connection.
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    if let Err(why) = admit(&store) {
                        tracing::info!(%peer, "HA connection refused: {why}");
                        continue;
                    }
                    if connections.len() >= MAX_CONNECTIONS {
                        tracing::warn!(%peer, "too many HA connections; refusing slave");
                        continue;
                    }
                    tracing::info!(%peer, "slave connected");
                    let served = serve(store.clone(), stream);
                    connections.spawn(async move {
                        match served.await {
                            Ok(()) => tracing::info!(%peer, "slave connection closed"),
                            Err(e) => tracing::warn!(%peer, error = %e, "slave connection closed"),
                        }
                    });
                }
                Err(e) => {
                    tracing::warn!(error = %e, "HA accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

/// The slave's side: replicates with `replicate` from the address `master` holds (`None` or
/// empty: waits for one); after a failure it tries again every 5 s, and a new address ends the
/// current connection at once (even to a frozen master that would only time out).
pub(super) fn follow<F, Fut>(
    store: MessageStore,
    mut master: watch::Receiver<Option<String>>,
    replicate: F,
) -> HaService
where
    F: Fn(MessageStore, String) -> Fut + Send + 'static,
    Fut: Future<Output = io::Result<()>> + Send + 'static,
{
    let task = tokio::spawn(async move {
        loop {
            let addr = master.borrow_and_update().clone().filter(|a| !a.is_empty());
            if let Some(addr) = addr {
                store.ha().client.connecting(&addr);
                let mut switched = false;
                let r = tokio::select! {
                    r = replicate(store.clone(), addr.clone()) => r,
                    changed = master.changed() => {
                        if changed.is_err() {
                            // The broker is gone.
                            return;
                        }
                        tracing::info!(old = %addr, "master changed; reconnecting");
                        switched = true;
                        Ok(())
                    }
                };
                store.ha().client.set_connected(false);
                match r {
                    Ok(()) => tracing::info!(master = %addr, "HA connection to master closed"),
                    Err(e) => tracing::warn!(master = %addr, error = %e, "HA connection to master failed"),
                }
                if switched {
                    continue;
                }
            }
            if let Ok(Err(_)) = tokio::time::timeout(RECONNECT_INTERVAL, master.changed()).await {
                return;
            }
        }
    });
    HaService {
        task: Some(task),
        local_addr: None,
    }
}
