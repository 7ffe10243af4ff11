//! The master's HA listener (`HAService.AcceptSocketService` + `HAConnection`).
//!
//! Per slave connection, two halves run in one task (either ending closes both):
//! - the reader takes 8-byte big-endian offsets; the last complete one counts. The first sets
//!   where transfer starts; every one is an ack that advances `push2SlaveMaxOffset`. From the
//!   second on, an ack past the master's own max offset closes the connection.
//! - the writer waits for that first report, then streams frames: a report of 0 starts at the
//!   beginning of the master's last segment, anything else at the reported offset. Frames carry
//!   at most `ha_transfer_batch_size` bytes and never cross a segment; with nothing to send for
//!   `ha_send_heartbeat_interval_ms` a header with size 0 goes out.

use std::io;
use std::time::{Duration, Instant};

use bytes::{BufMut, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;
use tokio::sync::watch;

use super::{HaService, HEADER_LEN};
use crate::MessageStore;

impl HaService {
    /// Binds the HA port (`0.0.0.0:port`; 0 picks one) and serves slaves of `store`.
    pub async fn start_master(store: MessageStore, port: u16) -> io::Result<HaService> {
        super::link::listen(
            store,
            port,
            "HA service",
            |_| Ok(()),
            |store, stream| async move { serve_slave(&store, stream).await },
        )
        .await
    }
}

async fn serve_slave(store: &MessageStore, stream: TcpStream) -> io::Result<()> {
    stream.set_nodelay(true)?;
    let ha = &store.ha();
    let peer = stream
        .peer_addr()
        .map_or_else(|_| "unknown".to_string(), |a| a.to_string());
    let guard = ha.connected(peer);
    let (reader, writer) = stream.into_split();
    let (request_tx, request_rx) = watch::channel(None);
    tokio::select! {
        r = read_acks(store, reader, request_tx, guard.link()) => r,
        w = transfer(store, writer, request_rx, guard.link()) => w,
    }
}

/// Reads the slave's reports until the connection fails or stays silent too long.
async fn read_acks(
    store: &MessageStore,
    mut reader: OwnedReadHalf,
    request: watch::Sender<Option<i64>>,
    link: &super::SlaveLink,
) -> io::Result<()> {
    let housekeeping = Duration::from_millis(store.config().ha_housekeeping_interval_ms);
    let mut buf = BytesMut::with_capacity(1024 * 1024);
    let mut first = true;
    loop {
        let n = match tokio::time::timeout(housekeeping, reader.read_buf(&mut buf)).await {
            Ok(r) => r?,
            Err(_) => return Err(io::Error::new(io::ErrorKind::TimedOut, "slave silent too long")),
        };
        if n == 0 {
            return Ok(());
        }
        let whole = buf.len() - buf.len() % 8;
        if whole == 0 {
            continue;
        }
        let last = i64::from_be_bytes(buf[whole - 8..whole].try_into().expect("8 bytes"));
        let _ = buf.split_to(whole);
        if first {
            first = false;
            tracing::info!(offset = last, "slave requested transfer");
            request.send_replace(Some(last));
        } else if last > store.max_phy_offset() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("slave ack {last} is past the master's max offset"),
            ));
        }
        link.acked(last);
        store.ha().ack(last);
    }
}

/// Streams commitlog bytes (and heartbeats) to the slave.
async fn transfer(
    store: &MessageStore,
    mut writer: OwnedWriteHalf,
    mut request: watch::Receiver<Option<i64>>,
    link: &super::SlaveLink,
) -> io::Result<()> {
    let requested = request.wait_for(Option::is_some).await.ok().and_then(|r| *r);
    let Some(requested) = requested else {
        // The reader ended first; select! reports its result.
        return std::future::pending().await;
    };
    let config = store.config();
    let mut next = if requested == 0 {
        let max = store.max_phy_offset();
        max - max % config.mapped_file_size_commit_log as i64
    } else {
        requested
    };
    tracing::info!(requested, start = next, "transfer to slave starts");
    link.started_at(next);
    let heartbeat = Duration::from_millis(config.ha_send_heartbeat_interval_ms);
    let mut news = store.subscribe_replication_news();
    let mut last_write = Instant::now();
    let mut frame = BytesMut::new();
    loop {
        match store.read_replication_chunk(next, config.ha_transfer_batch_size) {
            Some(chunk) => {
                frame.clear();
                frame.put_i64(next);
                frame.put_i32(chunk.len() as i32);
                writer.write_all(&frame).await?;
                writer.write_all(&chunk).await?;
                link.sent(HEADER_LEN + chunk.len());
                next += chunk.len() as i64;
                last_write = Instant::now();
            }
            None => {
                if last_write.elapsed() >= heartbeat {
                    frame.clear();
                    frame.put_i64(next);
                    frame.put_i32(0);
                    writer.write_all(&frame[..HEADER_LEN]).await?;
                    last_write = Instant::now();
                }
                super::link::wait_for_data(&mut news).await;
            }
        }
    }
}
