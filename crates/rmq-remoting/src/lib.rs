//! Tokio transport for the RocketMQ remoting protocol.
//!
//! # Layout
//! - [`codec`]: the `tokio_util` adapter around `rmq_protocol`'s pure frame decoder/encoder.
//! - [`channel`]: one TCP connection, either side: a writer task, the `opaque` → pending-response
//!   table, request/response and oneway sends with timeouts.
//! - [`server`]: accept loop (with TLS: first-byte sniffing beside it), one reader task per
//!   connection, requests handed to a [`RequestHandler`].
//! - [`client`]: a pool of [`Channel`]s keyed by address, connecting on demand, with RPC hooks.
//! - [`tls`]: the `tls.*` settings, server first-byte sniffing (permissive/enforcing), client
//!   certificates (mutual TLS), encrypted PKCS#8 keys, and the client connector (rustls with the
//!   ring provider).
//! - [`error`]: the error type, [`RemotingError`].
//! - [`prom`]: Prometheus histograms, `rocketmq_rpc_latency` and the `/metrics` endpoint the
//!   servers share.
//!
//! Invariant: a malformed frame closes only the connection it arrived on; every other connection
//! keeps being served. Lock order: the pool map lock is never held while a channel lock is taken.

pub mod channel;
pub mod client;
pub mod codec;
pub mod error;
pub mod prom;
pub mod server;
pub mod tls;

pub use channel::Channel;
pub use client::{RemotingClient, RpcHook, SignRequests};
pub use error::RemotingError;
pub use server::{mark_suspended, RequestHandler, Served, Server, ServerHandle, ServerOptions};
pub use tls::{ClientAuth, ClientTls, ClientTlsOptions, ServerTls, TlsMode, TlsSettings};

use std::future::Future;
use std::pin::Pin;

/// A boxed future, as returned by [`RequestHandler::handle`].
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;
