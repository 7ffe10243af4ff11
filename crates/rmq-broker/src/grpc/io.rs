//! The gRPC port's connections: plaintext HTTP/2 (h2c) or TLS, decided per connection by its
//! first byte as on the remoting port (`tls.server.mode`; Java's default `permissive` with its
//! test-mode self-signed certificate). The 5.x SDKs dial TLS unless told not to, and trust any
//! server certificate, as they do against the Proxy.

use std::pin::Pin;
use std::task::{Context, Poll};

use rmq_grpc_proto::tonic::transport::server::{Connected, TcpConnectInfo};
use rmq_remoting::tls::Accepted;
use rmq_remoting::ServerTls;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

/// How long a new connection may take to send its first byte.
const FIRST_BYTE_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// One accepted connection of the gRPC port.
pub(super) enum GrpcIo {
    Plain(TcpStream),
    Tls(Box<tokio_rustls::server::TlsStream<TcpStream>>),
}

impl GrpcIo {
    fn tcp(&self) -> &TcpStream {
        match self {
            GrpcIo::Plain(s) => s,
            GrpcIo::Tls(s) => s.get_ref().0,
        }
    }
}

impl Connected for GrpcIo {
    type ConnectInfo = TcpConnectInfo;

    fn connect_info(&self) -> TcpConnectInfo {
        let tcp = self.tcp();
        TcpConnectInfo {
            local_addr: tcp.local_addr().ok(),
            remote_addr: tcp.peer_addr().ok(),
        }
    }
}

impl AsyncRead for GrpcIo {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            GrpcIo::Plain(s) => Pin::new(s).poll_read(cx, buf),
            GrpcIo::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for GrpcIo {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        match self.get_mut() {
            GrpcIo::Plain(s) => Pin::new(s).poll_write(cx, buf),
            GrpcIo::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        match self.get_mut() {
            GrpcIo::Plain(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            GrpcIo::Tls(s) => Pin::new(s.as_mut()).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            GrpcIo::Plain(s) => s.is_write_vectored(),
            GrpcIo::Tls(s) => s.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            GrpcIo::Plain(s) => Pin::new(s).poll_flush(cx),
            GrpcIo::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            GrpcIo::Plain(s) => Pin::new(s).poll_shutdown(cx),
            GrpcIo::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

/// Accepts connections on `listener`, each one's TLS handshake (if it starts one) on its own
/// task, and yields them ready for HTTP/2. A failed handshake closes that connection only.
pub(super) fn incoming(
    listener: TcpListener,
    tls: ServerTls,
) -> impl futures_util::Stream<Item = std::io::Result<GrpcIo>> + Send + 'static {
    let (tx, rx) = tokio::sync::mpsc::channel::<std::io::Result<GrpcIo>>(64);
    tokio::spawn(async move {
        loop {
            let stream = tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok((stream, _)) => stream,
                    Err(e) => {
                        tracing::warn!(error = %e, "gRPC accept failed");
                        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                        continue;
                    }
                },
                _ = tx.closed() => return,
            };
            let _ = stream.set_nodelay(true);
            let (tls, tx) = (tls.clone(), tx.clone());
            tokio::spawn(async move {
                let peer = stream.peer_addr().ok();
                match tls.accept(stream, FIRST_BYTE_WAIT).await {
                    Ok(Some(Accepted::Plain(s))) => {
                        let _ = tx.send(Ok(GrpcIo::Plain(s))).await;
                    }
                    Ok(Some(Accepted::Tls(s))) => {
                        let _ = tx.send(Ok(GrpcIo::Tls(s))).await;
                    }
                    Ok(None) => {}
                    Err(e) => {
                        tracing::debug!(?peer, error = %e, "gRPC connection closed during its TLS handshake")
                    }
                }
            });
        }
    });
    futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|c| (c, rx)) })
}
