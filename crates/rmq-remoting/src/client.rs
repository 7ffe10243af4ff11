//! Client side: one [`Channel`] per remote address, opened on demand and replaced when closed,
//! over TLS when the client was built [`RemotingClient::with_tls`].

use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use rmq_protocol::RemotingCommand;
use tokio::net::TcpStream;

use crate::channel::Channel;
use crate::server::RequestHandler;
use crate::tls::ClientTls;
use crate::RemotingError;

/// Default connect timeout of the Java client.
pub const CONNECT_TIMEOUT: Duration = Duration::from_millis(3000);

/// Runs around every request a client sends (ACL signing, tracing, ...).
pub trait RpcHook: Send + Sync + 'static {
    fn before_request(&self, addr: &str, request: &mut RemotingCommand);
    fn after_response(&self, _addr: &str, _request: &RemotingCommand, _response: &RemotingCommand) {}
}

/// Signs every outgoing request with ACL credentials, as the Java clients' `AclClientRPCHook`
/// does (docs/broker/acl.md#signature).
pub struct SignRequests {
    creds: rmq_acl::Credentials,
    key: rmq_acl::sign::SigningKey,
}

impl SignRequests {
    pub fn new(creds: rmq_acl::Credentials) -> Self {
        let key = rmq_acl::sign::SigningKey::new(&creds.secret_key);
        Self { creds, key }
    }
}

impl RpcHook for SignRequests {
    fn before_request(&self, _addr: &str, request: &mut RemotingCommand) {
        let body = request.body.clone();
        rmq_acl::sign::sign_fields_with(&mut request.ext_fields, &body, &self.creds, &self.key);
    }
}

type Slot = Arc<tokio::sync::Mutex<Option<Channel>>>;

/// A pool of connections keyed by `host:port`.
pub struct RemotingClient {
    slots: Mutex<HashMap<String, Slot>>,
    handler: Option<Arc<dyn RequestHandler>>,
    hooks: Vec<Arc<dyn RpcHook>>,
    connect_timeout: Duration,
    tls: Option<ClientTls>,
}

impl Default for RemotingClient {
    fn default() -> Self {
        Self::new()
    }
}

impl RemotingClient {
    pub fn new() -> Self {
        RemotingClient {
            slots: Mutex::new(HashMap::new()),
            handler: None,
            hooks: Vec::new(),
            connect_timeout: CONNECT_TIMEOUT,
            tls: None,
        }
    }

    /// Serve requests the servers send on our connections (check-back, notifications).
    pub fn with_handler(mut self, handler: Arc<dyn RequestHandler>) -> Self {
        self.handler = Some(handler);
        self
    }

    pub fn with_hook(mut self, hook: Arc<dyn RpcHook>) -> Self {
        self.hooks.push(hook);
        self
    }

    pub fn with_connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Connect with TLS (Java's `useTLS` / `tls.enable`); `None` keeps plain TCP.
    pub fn with_tls(mut self, tls: Option<ClientTls>) -> Self {
        self.tls = tls;
        self
    }

    /// An open connection to `addr`, connecting if needed. Concurrent callers share one connect.
    pub async fn channel(&self, addr: &str) -> Result<Channel, RemotingError> {
        let slot = {
            let mut slots = self.slots.lock();
            slots.entry(addr.to_string()).or_default().clone()
        };
        let mut guard = slot.lock().await;
        if let Some(c) = guard.as_ref() {
            if !c.is_closed() {
                return Ok(c.clone());
            }
        }
        let stream = match tokio::time::timeout(self.connect_timeout, TcpStream::connect(addr)).await {
            Ok(Ok(s)) => s,
            Ok(Err(source)) => {
                return Err(RemotingError::Connect {
                    addr: addr.to_string(),
                    source,
                })
            }
            Err(_) => {
                return Err(RemotingError::ConnectTimeout {
                    addr: addr.to_string(),
                    timeout_ms: self.connect_timeout.as_millis() as u64,
                })
            }
        };
        let channel = match &self.tls {
            None => Channel::spawn(stream, self.handler.clone())?,
            Some(tls) => self.tls_channel(tls, addr, stream).await?,
        };
        *guard = Some(channel.clone());
        Ok(channel)
    }

    async fn tls_channel(
        &self,
        tls: &ClientTls,
        addr: &str,
        stream: TcpStream,
    ) -> Result<Channel, RemotingError> {
        stream.set_nodelay(true)?;
        let peer = stream.peer_addr()?;
        let local = stream.local_addr()?;
        let handshake = tokio::time::timeout(self.connect_timeout, tls.connect(addr, stream));
        let stream = match handshake.await {
            Ok(Ok(s)) => s,
            Ok(Err(source)) => {
                return Err(RemotingError::TlsHandshake {
                    addr: addr.to_string(),
                    source,
                })
            }
            Err(_) => {
                return Err(RemotingError::ConnectTimeout {
                    addr: addr.to_string(),
                    timeout_ms: self.connect_timeout.as_millis() as u64,
                })
            }
        };
        Ok(Channel::spawn_io(stream, peer, local, self.handler.clone()))
    }

    /// Sends `request` to `addr` and waits up to `timeout` for its response.
    pub async fn invoke(
        &self,
        addr: &str,
        mut request: RemotingCommand,
        timeout: Duration,
    ) -> Result<RemotingCommand, RemotingError> {
        for hook in &self.hooks {
            hook.before_request(addr, &mut request);
        }
        let channel = self.channel(addr).await?;
        let snapshot = if self.hooks.is_empty() {
            None
        } else {
            Some(request.clone())
        };
        let response = channel.invoke(request, timeout).await?;
        if let Some(req) = snapshot {
            for hook in &self.hooks {
                hook.after_response(addr, &req, &response);
            }
        }
        Ok(response)
    }

    /// Sends a oneway request to `addr`.
    pub async fn invoke_oneway(&self, addr: &str, mut request: RemotingCommand) -> Result<(), RemotingError> {
        for hook in &self.hooks {
            hook.before_request(addr, &mut request);
        }
        self.channel(addr).await?.invoke_oneway(request).await
    }

    /// Closes and forgets the connection to `addr`, if any.
    pub fn close(&self, addr: &str) {
        let slot = self.slots.lock().remove(addr);
        if let Some(slot) = slot {
            if let Ok(guard) = slot.try_lock() {
                if let Some(c) = guard.as_ref() {
                    c.close();
                }
            }
        }
    }

    /// Closes every connection.
    pub fn close_all(&self) {
        let slots: Vec<Slot> = self.slots.lock().drain().map(|(_, s)| s).collect();
        for slot in slots {
            if let Ok(guard) = slot.try_lock() {
                if let Some(c) = guard.as_ref() {
                    c.close();
                }
            }
        }
    }
}
