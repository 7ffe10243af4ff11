//! The slave's side (`AutoSwitchHAClient`): connect to the master's HA address, send the
//! handshake with this broker's controller id, take the master's epoch list and cut the local
//! commitlog to the last offset both lists agree on, then append every TRANSFER frame at exactly
//! its offset, recording each new epoch, and report the max offset (the ack) whenever it grew
//! and at least every `haSendHeartbeatInterval`.
//!
//! Two choices differ from Java 5.3.1 (docs/controller/broker.md): the first report goes out
//! right after the handshake instead of one heartbeat interval later, and a replica with data
//! but no epoch file (it ran before controller mode) reports its max offset instead of 0, so it
//! continues the history it shares with the master rather than failing on every frame.

use std::io;
use std::time::{Duration, Instant};

use bytes::{Buf, BufMut, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::watch;

use super::*;
use crate::ha::epoch::EpochCache;
use crate::ha::HaService;
use crate::MessageStore;

const READ_BUFFER: usize = 4 * 1024 * 1024;

impl HaService {
    /// Replicates (controller mode) from the master whose HA address `master` holds; `None`
    /// waits for one.
    pub fn start_auto_slave(store: MessageStore, master: watch::Receiver<Option<String>>) -> HaService {
        crate::ha::link::follow(store, master, |store, addr| async move {
            replicate_from(&store, &addr).await
        })
    }
}

async fn replicate_from(store: &MessageStore, addr: &str) -> io::Result<()> {
    let mut stream = crate::ha::link::connect(addr).await?;
    let config = store.config();
    let link = &store.ha().client;
    let replicas = &store.ha().replicas;
    let housekeeping = Duration::from_millis(config.ha_housekeeping_interval_ms);
    let heartbeat = Duration::from_millis(config.ha_send_heartbeat_interval_ms);
    link.set_connected(true);

    let mut out = BytesMut::with_capacity(SLAVE_HANDSHAKE_LEN);
    out.put_i32(STATE_HANDSHAKE);
    out.put_i16(i16::from(config.sync_from_last_file));
    out.put_i16(0);
    out.put_i64(replicas.local_id());
    stream.write_all(&out).await?;
    link.wrote();

    let mut buf = BytesMut::with_capacity(READ_BUFFER);
    let (master_max, entries) = read_handshake(&mut stream, &mut buf, housekeeping).await?;
    link.read(MASTER_HANDSHAKE_LEN + entries.len() * EPOCH_ENTRY_LEN);
    let start = truncate_to_master(store, &entries, master_max)?;
    tracing::info!(master = %addr, start, master_max, "HA handshake done; transfer starts");

    let mut reported = start;
    report(&mut stream, reported).await?;
    link.wrote();
    let mut last_report = Instant::now();
    let mut last_read = Instant::now();
    let mut received_epoch = -1;
    loop {
        let wait = heartbeat.saturating_sub(last_report.elapsed());
        match tokio::time::timeout(wait, stream.read_buf(&mut buf)).await {
            Ok(Ok(0)) => return Ok(()),
            Ok(Ok(n)) => {
                last_read = Instant::now();
                link.read(n);
                apply_frames(store, &mut buf, &mut received_epoch)?;
            }
            Ok(Err(e)) => return Err(e),
            Err(_) => {}
        }
        if last_read.elapsed() >= housekeeping {
            return Err(io::Error::new(io::ErrorKind::TimedOut, "master silent too long"));
        }
        let max = store.max_phy_offset();
        if max > reported || last_report.elapsed() >= heartbeat {
            report(&mut stream, max).await?;
            link.wrote();
            reported = max;
            last_report = Instant::now();
        }
        if buf.capacity() - buf.len() < MASTER_TRANSFER_LEN {
            buf.reserve(READ_BUFFER);
        }
    }
}

async fn report(stream: &mut TcpStream, offset: i64) -> io::Result<()> {
    let mut out = [0u8; SLAVE_TRANSFER_LEN];
    out[..4].copy_from_slice(&STATE_TRANSFER.to_be_bytes());
    out[4..].copy_from_slice(&offset.to_be_bytes());
    stream.write_all(&out).await
}

/// Reads the master's handshake: its max offset and its epoch list.
async fn read_handshake(
    stream: &mut TcpStream,
    buf: &mut BytesMut,
    timeout: Duration,
) -> io::Result<(i64, Vec<(i32, i64)>)> {
    let read = async {
        while buf.len() < MASTER_HANDSHAKE_LEN {
            if stream.read_buf(buf).await? == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "master closed before its handshake",
                ));
            }
        }
        let state = i32::from_be_bytes(buf[0..4].try_into().expect("4 bytes"));
        let size = i32::from_be_bytes(buf[4..8].try_into().expect("4 bytes"));
        let size = usize::try_from(size)
            .ok()
            .filter(|s| state == STATE_HANDSHAKE && s % EPOCH_ENTRY_LEN == 0 && *s <= READ_BUFFER)
            .ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("bad master handshake: state {state}, body size {size}"),
                )
            })?;
        while buf.len() < MASTER_HANDSHAKE_LEN + size {
            if stream.read_buf(buf).await? == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "master closed in its handshake",
                ));
            }
        }
        buf.advance(8);
        let master_max = buf.get_i64();
        let _last_epoch = buf.get_i32();
        let entries = (0..size / EPOCH_ENTRY_LEN)
            .map(|_| (buf.get_i32(), buf.get_i64()))
            .collect();
        Ok((master_max, entries))
    };
    match tokio::time::timeout(timeout, read).await {
        Ok(r) => r,
        Err(_) => Err(io::Error::new(
            io::ErrorKind::TimedOut,
            "no handshake from master",
        )),
    }
}

/// `doTruncate`: where this replica continues from. With no local epochs it keeps what it has
/// (0 for a new replica); otherwise it cuts its commitlog and epoch file to the last offset both
/// epoch lists agree on. No such offset is an error (the connection is retried).
pub fn truncate_to_master(store: &MessageStore, master: &[(i32, i64)], master_max: i64) -> io::Result<i64> {
    let replicas = &store.ha().replicas;
    let local = replicas.epochs();
    if local.is_empty() {
        return Ok(store.max_phy_offset().max(0));
    }
    let point = consistent_point(&local, store.max_phy_offset(), master, master_max);
    if point < 0 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "no offset the local epochs {:?} and the master's {master:?} agree on",
                local.entries()
            ),
        ));
    }
    if point < store.max_phy_offset() {
        tracing::warn!(
            from = store.max_phy_offset(),
            to = point,
            "cutting what the new master does not have"
        );
    }
    store.truncate_files(point).map_err(io::Error::other)?;
    replicas
        .with_epochs(|e| e.truncate_suffix_by_offset(point))
        .map_err(io::Error::other)?;
    Ok(point)
}

/// The last offset two epoch histories agree on (`findConsistentPoint` with both lists' last
/// entries ending at their stores' max offsets); -1 when none.
pub fn consistent_point(local: &EpochCache, local_max: i64, master: &[(i32, i64)], master_max: i64) -> i64 {
    let mut local = EpochCache::from_entries(local.entries().iter().map(|e| (e.epoch, e.start_offset)));
    local.set_last_end_offset(local_max);
    let mut theirs = EpochCache::from_entries(master.iter().copied());
    theirs.set_last_end_offset(master_max);
    local.find_consistent_point(&theirs)
}

/// Applies every complete TRANSFER frame in `buf`.
fn apply_frames(store: &MessageStore, buf: &mut BytesMut, received_epoch: &mut i32) -> io::Result<()> {
    let replicas = &store.ha().replicas;
    while buf.len() >= MASTER_TRANSFER_LEN {
        let state = i32::from_be_bytes(buf[0..4].try_into().expect("4 bytes"));
        let size = i32::from_be_bytes(buf[4..8].try_into().expect("4 bytes"));
        let size = usize::try_from(size)
            .ok()
            .filter(|s| state == STATE_TRANSFER && MASTER_TRANSFER_LEN + s <= READ_BUFFER)
            .ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("bad HA frame: state {state}, size {size}"),
                )
            })?;
        if buf.len() < MASTER_TRANSFER_LEN + size {
            buf.reserve(MASTER_TRANSFER_LEN + size - buf.len());
            return Ok(());
        }
        buf.advance(8);
        let offset = buf.get_i64();
        let epoch = buf.get_i32();
        let epoch_start = buf.get_i64();
        let confirm = buf.get_i64();
        let body = buf.split_to(size);
        let own = store.max_phy_offset();
        if own != 0 && own != offset {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("master sent offset {offset}, slave is at {own}"),
            ));
        }
        if !body.is_empty() {
            if epoch != *received_epoch {
                *received_epoch = epoch;
                replicas
                    .record_epoch(epoch, epoch_start)
                    .map_err(io::Error::other)?;
            }
            store.append_replicated(offset, &body).map_err(io::Error::other)?;
        }
        store.master_confirmed(confirm);
    }
    Ok(())
}
