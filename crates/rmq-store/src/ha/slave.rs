//! The slave's HA client (`HAService.HAClient`): connect to the master's HA address, report the
//! local max offset, append every frame at exactly that offset, re-report when it grew and at
//! least every `ha_send_heartbeat_interval_ms`. A mismatch or a silent master closes the
//! connection; the client reconnects every 5 s, and at once to a new master address.
//!
//! Unlike 4.9.8, the first report goes out right after connecting instead of one heartbeat
//! interval later: the master sends nothing before it, so this only removes a 5 s stall.

use std::io;
use std::time::{Duration, Instant};

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::watch;

use super::{HaService, HEADER_LEN};
use crate::MessageStore;

/// The slave's read buffer (Java: 4 MiB); a frame larger than this is a protocol error.
const READ_BUFFER: usize = 4 * 1024 * 1024;

impl HaService {
    /// Replicates from the master whose HA address (`host:port`) `master` holds; `None` or an
    /// empty string waits for one (learned later from the name server).
    pub fn start_slave(store: MessageStore, master: watch::Receiver<Option<String>>) -> HaService {
        super::link::follow(store, master, |store, addr| async move {
            replicate_from(&store, &addr).await
        })
    }
}

async fn replicate_from(store: &MessageStore, addr: &str) -> io::Result<()> {
    let mut stream = super::link::connect(addr).await?;
    tracing::info!(master = %addr, offset = store.max_phy_offset(), "connected to master for HA");
    let config = store.config();
    let heartbeat = Duration::from_millis(config.ha_send_heartbeat_interval_ms);
    let housekeeping = Duration::from_millis(config.ha_housekeeping_interval_ms);
    let link = &store.ha().client;
    link.set_connected(true);
    let mut reported = store.max_phy_offset();
    stream.write_all(&reported.to_be_bytes()).await?;
    link.wrote();
    let mut last_report = Instant::now();
    let mut last_read = Instant::now();
    let mut buf = BytesMut::with_capacity(READ_BUFFER);
    loop {
        let wait = heartbeat.saturating_sub(last_report.elapsed());
        match tokio::time::timeout(wait, stream.read_buf(&mut buf)).await {
            Ok(Ok(0)) => return Ok(()),
            Ok(Ok(n)) => {
                last_read = Instant::now();
                link.read(n);
                apply_frames(store, &mut buf)?;
            }
            Ok(Err(e)) => return Err(e),
            Err(_) => {}
        }
        if last_read.elapsed() >= housekeeping {
            return Err(io::Error::new(io::ErrorKind::TimedOut, "master silent too long"));
        }
        let max = store.max_phy_offset();
        if max > reported || last_report.elapsed() >= heartbeat {
            stream.write_all(&max.to_be_bytes()).await?;
            link.wrote();
            reported = max;
            last_report = Instant::now();
        }
        if buf.capacity() - buf.len() < HEADER_LEN {
            buf.reserve(READ_BUFFER);
        }
    }
}

/// Applies every complete frame in `buf`, leaving a partial one for the next read.
fn apply_frames(store: &MessageStore, buf: &mut BytesMut) -> io::Result<()> {
    while buf.len() >= HEADER_LEN {
        let master_offset = i64::from_be_bytes(buf[0..8].try_into().expect("8 bytes"));
        let size = i32::from_be_bytes(buf[8..12].try_into().expect("4 bytes"));
        let size = usize::try_from(size)
            .ok()
            .filter(|s| HEADER_LEN + s <= READ_BUFFER)
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, format!("bad HA frame size {size}")))?;
        if buf.len() < HEADER_LEN + size {
            buf.reserve(HEADER_LEN + size - buf.len());
            return Ok(());
        }
        let own = store.max_phy_offset();
        if own != 0 && own != master_offset {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("master sent offset {master_offset}, slave is at {own}"),
            ));
        }
        buf.advance(HEADER_LEN);
        let body = buf.split_to(size);
        if !body.is_empty() {
            store
                .append_replicated(master_offset, &body)
                .map_err(io::Error::other)?;
        }
    }
    Ok(())
}
