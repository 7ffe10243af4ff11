//! The master's side of an AutoSwitch HA connection (`AutoSwitchHAConnection`).
//!
//! Read half: the slave's HANDSHAKE (16 bytes: flags and its controller broker id) and TRANSFER
//! reports (12 bytes: its max offset, which is the ack). The first report fixes where the
//! transfer starts; every one advances the acks, may grow the SyncStateSet and the confirm
//! offset.
//!
//! Write half: after the handshake, the master's epoch list (20-byte header + 12 bytes per
//! entry); after the first report, commitlog chunks behind 36-byte headers carrying the chunk's
//! epoch, that epoch's start and the confirm offset. A chunk never crosses an epoch's end nor a
//! segment's. A header with size 0 is the heartbeat.
//!
//! The listener runs in every role; a connection accepted while this store is a slave is closed,
//! and every connection ends when the role changes.

use std::io;
use std::time::{Duration, Instant};

use bytes::{Buf, BufMut, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;
use tokio::sync::watch;

use super::*;
use crate::ha::{now_ms, HaService, SlaveLink};
use crate::{BrokerRole, MessageStore};

impl HaService {
    /// Binds the HA port (`0.0.0.0:port`; 0 picks one) and serves controller-mode slaves; a
    /// connection is refused while this store is a slave.
    pub async fn start_auto_master(store: MessageStore, port: u16) -> io::Result<HaService> {
        let admit = |store: &MessageStore| {
            if store.role() == BrokerRole::Slave {
                Err("this broker is a slave")
            } else {
                Ok(())
            }
        };
        crate::ha::link::listen(
            store,
            port,
            "HA service (controller mode)",
            admit,
            |store, stream| async move { serve_slave(&store, stream).await },
        )
        .await
    }
}

/// What the reader tells the writer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct SlaveProgress {
    /// Handshakes received (the writer answers each).
    handshakes: u32,
    sync_from_last_file: bool,
    /// The first report (where the transfer starts).
    requested: Option<i64>,
}

async fn serve_slave(store: &MessageStore, stream: TcpStream) -> io::Result<()> {
    stream.set_nodelay(true)?;
    let ha = store.ha();
    let peer = stream
        .peer_addr()
        .map_or_else(|_| "unknown".to_string(), |a| a.to_string());
    let mut generation = ha.replicas.generation();
    generation.borrow_and_update();
    let guard = ha.connected(peer);
    let (reader, writer) = stream.into_split();
    let (progress_tx, progress_rx) = watch::channel(SlaveProgress::default());
    let last_sent_max = std::sync::atomic::AtomicI64::new(-1);
    let r = tokio::select! {
        r = read_reports(store, reader, progress_tx, guard.link(), &last_sent_max) => r,
        w = transfer(store, writer, progress_rx, guard.link(), &last_sent_max) => w,
        _ = generation.changed() => Ok(()),
    };
    let id = guard.link().broker_id();
    drop(guard);
    ha.replicas.disconnected(id);
    r
}

async fn read_reports(
    store: &MessageStore,
    mut reader: OwnedReadHalf,
    progress: watch::Sender<SlaveProgress>,
    link: &SlaveLink,
    last_sent_max: &std::sync::atomic::AtomicI64,
) -> io::Result<()> {
    let housekeeping = Duration::from_millis(store.config().ha_housekeeping_interval_ms);
    let ha = store.ha();
    let mut buf = BytesMut::with_capacity(64 * 1024);
    loop {
        let n = match tokio::time::timeout(housekeeping, reader.read_buf(&mut buf)).await {
            Ok(r) => r?,
            Err(_) => return Err(io::Error::new(io::ErrorKind::TimedOut, "slave silent too long")),
        };
        if n == 0 {
            return Ok(());
        }
        while buf.len() >= 4 {
            let state = i32::from_be_bytes(buf[0..4].try_into().expect("4 bytes"));
            match state {
                STATE_HANDSHAKE => {
                    if buf.len() < SLAVE_HANDSHAKE_LEN {
                        break;
                    }
                    buf.advance(4);
                    let from_last = buf.get_i16() == 1;
                    let learner = buf.get_i16() == 1;
                    let id = buf.get_i64();
                    tracing::info!(slave_id = id, from_last, learner, "slave handshake");
                    link.set_broker_id(id);
                    progress.send_modify(|p| {
                        p.handshakes += 1;
                        p.sync_from_last_file = from_last;
                    });
                }
                STATE_TRANSFER => {
                    if buf.len() < SLAVE_TRANSFER_LEN {
                        break;
                    }
                    buf.advance(4);
                    let offset = buf.get_i64();
                    if offset > store.max_phy_offset() {
                        return Err(io::Error::new(
                            io::ErrorKind::InvalidData,
                            format!("slave reported {offset}, past the master's max offset"),
                        ));
                    }
                    progress.send_if_modified(|p| {
                        let first = p.requested.is_none();
                        if first {
                            tracing::info!(offset, "slave requested transfer");
                            p.requested = Some(offset);
                        }
                        first
                    });
                    link.acked(offset);
                    ha.ack(offset);
                    let id = link.broker_id();
                    if offset >= last_sent_max.load(std::sync::atomic::Ordering::Acquire) {
                        ha.replicas.caught_up(id, offset, now_ms());
                    }
                    ha.replicas.on_ack(ha, id, store.max_phy_offset());
                    store.dispatch_confirmed();
                    ha.replicas.wake_ack_waiters();
                }
                other => {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!("slave sent state {other}"),
                    ))
                }
            }
        }
    }
}

async fn transfer(
    store: &MessageStore,
    mut writer: OwnedWriteHalf,
    mut progress: watch::Receiver<SlaveProgress>,
    link: &SlaveLink,
    last_sent_max: &std::sync::atomic::AtomicI64,
) -> io::Result<()> {
    let ha = store.ha();
    let config = store.config();
    // Handshake: answer with the epoch list.
    let p = progress.wait_for(|p| p.handshakes > 0).await.map(|p| *p);
    let Ok(p) = p else {
        // The reader ended first; select! reports its result.
        return std::future::pending().await;
    };
    let mut frame = BytesMut::new();
    write_handshake(store, &mut frame);
    writer.write_all(&frame).await?;
    let requested = progress
        .wait_for(|p| p.requested.is_some())
        .await
        .map(|p| p.requested);
    let Ok(Some(requested)) = requested else {
        return std::future::pending().await;
    };
    let mut next = if requested != 0 {
        requested
    } else if p.sync_from_last_file {
        let max = store.max_phy_offset();
        max - max % config.mapped_file_size_commit_log as i64
    } else {
        store.min_phy_offset().max(0)
    };
    tracing::info!(
        requested,
        start = next,
        slave_id = link.broker_id(),
        "transfer to slave starts"
    );
    link.started_at(next);
    let heartbeat = Duration::from_millis(config.ha_send_heartbeat_interval_ms);
    let mut news = store.subscribe_replication_news();
    let mut last_write = Instant::now();
    let mut sent_confirm = -1;
    loop {
        // Data older than the first epoch (a store that ran before controller mode) goes out
        // under the first epoch, up to its start.
        let epoch = ha.replicas.with_epochs(|e| {
            e.find_by_offset(next).or_else(|| {
                e.first()
                    .filter(|f| next < f.start_offset)
                    .map(|f| crate::ha::epoch::EpochEntry {
                        end_offset: f.start_offset,
                        ..f
                    })
            })
        });
        let limit = epoch
            .filter(|e| e.end_offset > next)
            .map_or(config.ha_transfer_batch_size, |e| {
                let left = e.end_offset.saturating_sub(next);
                config
                    .ha_transfer_batch_size
                    .min(usize::try_from(left).unwrap_or(usize::MAX))
            });
        let chunk = epoch.and_then(|_| store.read_replication_chunk(next, limit));
        match (chunk, epoch) {
            (Some(chunk), Some(e)) => {
                last_sent_max.store(store.max_phy_offset(), std::sync::atomic::Ordering::Release);
                frame.clear();
                sent_confirm =
                    put_transfer_header(store, &mut frame, next, chunk.len(), e.epoch, e.start_offset);
                writer.write_all(&frame).await?;
                writer.write_all(&chunk).await?;
                link.sent(MASTER_TRANSFER_LEN + chunk.len());
                next += chunk.len() as i64;
                last_write = Instant::now();
            }
            _ => {
                // Nothing to send: whatever the slave acks from here on is all there is.
                last_sent_max.store(store.max_phy_offset(), std::sync::atomic::Ordering::Release);
                if link.ack_offset() >= store.max_phy_offset() {
                    ha.replicas
                        .caught_up(link.broker_id(), link.ack_offset(), now_ms());
                }
                // A heartbeat, or at once the confirm offset the slave has not seen (it shows
                // records up to it).
                if last_write.elapsed() >= heartbeat || store.confirm_offset() != sent_confirm {
                    let (epoch, start) = epoch.map_or((-1, -1), |e| (e.epoch, e.start_offset));
                    frame.clear();
                    sent_confirm = put_transfer_header(store, &mut frame, next, 0, epoch, start);
                    writer.write_all(&frame).await?;
                    last_write = Instant::now();
                }
                crate::ha::link::wait_for_data(&mut news).await;
            }
        }
    }
}

/// The master's handshake: header and up to [`MAX_EPOCH_ENTRIES`] entries.
fn write_handshake(store: &MessageStore, frame: &mut BytesMut) {
    let epochs = store.ha().replicas.epochs();
    let entries = epochs.entries();
    let entries = &entries[entries.len().saturating_sub(MAX_EPOCH_ENTRIES)..];
    frame.clear();
    frame.put_i32(STATE_HANDSHAKE);
    frame.put_i32((entries.len() * EPOCH_ENTRY_LEN) as i32);
    frame.put_i64(store.max_phy_offset());
    frame.put_i32(epochs.last_epoch());
    for e in entries {
        frame.put_i32(e.epoch);
        frame.put_i64(e.start_offset);
    }
}

fn put_transfer_header(
    store: &MessageStore,
    frame: &mut BytesMut,
    offset: i64,
    size: usize,
    epoch: i32,
    epoch_start: i64,
) -> i64 {
    let confirm = store.confirm_offset();
    frame.put_i32(STATE_TRANSFER);
    frame.put_i32(size as i32);
    frame.put_i64(offset);
    frame.put_i32(epoch);
    frame.put_i64(epoch_start);
    frame.put_i64(confirm);
    confirm
}
