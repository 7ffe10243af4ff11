//! Store configuration (`MessageStoreConfig` keys that the store itself uses).

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::str::FromStr;

use rmq_protocol::time::Clock;

use crate::StoreError;

/// `flushDiskType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FlushDiskType {
    /// Background flush every `flush_interval_commit_log_ms`; puts return before fsync.
    #[default]
    AsyncFlush,
    /// Group commit: a put returns only once its bytes are fsynced.
    SyncFlush,
}

impl FlushDiskType {
    /// The `flushDiskType` value.
    pub fn as_str(self) -> &'static str {
        match self {
            FlushDiskType::AsyncFlush => "ASYNC_FLUSH",
            FlushDiskType::SyncFlush => "SYNC_FLUSH",
        }
    }
}

impl FromStr for FlushDiskType {
    type Err = StoreError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "ASYNC_FLUSH" => Ok(FlushDiskType::AsyncFlush),
            "SYNC_FLUSH" => Ok(FlushDiskType::SyncFlush),
            other => Err(StoreError::Config(format!("unknown flushDiskType {other:?}"))),
        }
    }
}

/// `brokerRole`: a slave's store refuses puts and is fed by HA replication; a SYNC_MASTER's puts
/// wait for a slave's acknowledgement (docs/store/ha.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BrokerRole {
    #[default]
    AsyncMaster,
    SyncMaster,
    Slave,
}

impl BrokerRole {
    /// The `brokerRole` value.
    pub fn as_str(self) -> &'static str {
        match self {
            BrokerRole::AsyncMaster => "ASYNC_MASTER",
            BrokerRole::SyncMaster => "SYNC_MASTER",
            BrokerRole::Slave => "SLAVE",
        }
    }
}

impl FromStr for BrokerRole {
    type Err = StoreError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "ASYNC_MASTER" => Ok(BrokerRole::AsyncMaster),
            "SYNC_MASTER" => Ok(BrokerRole::SyncMaster),
            "SLAVE" => Ok(BrokerRole::Slave),
            other => Err(StoreError::Config(format!("unknown brokerRole {other:?}"))),
        }
    }
}

/// Configuration of one `MessageStore`. Every field has the Java 4.9.8 default.
#[derive(Debug, Clone)]
pub struct StoreConfig {
    /// `storePathRootDir`: `commitlog/`, `consumequeue/`, `index/`, `checkpoint`, `abort`, `lock`,
    /// `config/` live under it.
    pub store_path_root_dir: PathBuf,
    /// `mappedFileSizeCommitLog` (1 GiB).
    pub mapped_file_size_commit_log: u64,
    /// `dataReadAheadEnable` (true): commitlog reads with the kernel's read-ahead
    /// (`MADV_NORMAL`); false reads without it (`MADV_RANDOM`). mqadmin
    /// setCommitLogReadAheadMode changes it at run time.
    pub data_read_ahead_enable: bool,
    /// `mappedFileSizeConsumeQueue` (300 000 × 20); rounded up to a multiple of 20 when used.
    pub mapped_file_size_consume_queue: u64,
    pub flush_disk_type: FlushDiskType,
    /// `flushIntervalCommitLog` (async flush period).
    pub flush_interval_commit_log_ms: u64,
    /// `flushCommitLogLeastPages` (async flush threshold in 4 KiB pages).
    pub flush_commit_log_least_pages: usize,
    /// `flushCommitLogThoroughInterval`: async flush ignores the page threshold this often.
    pub flush_commit_log_thorough_interval_ms: u64,
    /// `flushIntervalConsumeQueue`.
    pub flush_interval_consume_queue_ms: u64,
    /// `flushConsumeQueueLeastPages`.
    pub flush_consume_queue_least_pages: usize,
    /// `flushConsumeQueueThoroughInterval`: full CQ flush + checkpoint persist this often.
    pub flush_consume_queue_thorough_interval_ms: u64,
    /// `syncFlushTimeout`.
    pub sync_flush_timeout_ms: u64,
    /// `maxMessageSize` (body bytes).
    pub max_message_size: usize,
    /// Written into every record (STOREHOSTADDRESS) and into offset message ids.
    pub store_host: SocketAddr,
    /// `checkCRCOnRecover`.
    pub check_crc_on_recover: bool,
    /// `osPageCacheBusyTimeOutMills`: a put lock held longer than this makes new puts fail
    /// with `OsPageCacheBusy`.
    pub os_page_cache_busy_timeout_ms: u64,
    /// `messageDelayLevel`, used to compute the consume-queue tag code (deliver time) of
    /// `SCHEDULE_TOPIC_XXXX` records.
    pub message_delay_level: String,
    /// `accessMessageInMemoryMaxRatio` (percent of RAM considered "in memory" for pull caps).
    pub access_message_in_memory_max_ratio: u64,
    /// Physical memory used by the in-memory test; `None` = read `/proc/meminfo`, else 24 GiB.
    pub total_memory_bytes: Option<u64>,
    pub max_transfer_bytes_on_message_in_memory: usize,
    pub max_transfer_count_on_message_in_memory: usize,
    pub max_transfer_bytes_on_message_in_disk: usize,
    pub max_transfer_count_on_message_in_disk: usize,
    /// Capacity of the arrival broadcast channel (lossy).
    pub arrival_channel_capacity: usize,
    /// `messageIndexEnable`: build the key index (`index/`).
    pub message_index_enable: bool,
    /// `messageIndexSafe`: after a crash, recover from early enough that the index is rebuilt
    /// completely (slower recovery).
    pub message_index_safe: bool,
    /// `maxHashSlotNum` per index file.
    pub max_hash_slot_num: u32,
    /// `maxIndexNum` per index file.
    pub max_index_num: u32,
    /// `fileReservedTime` (hours): a commitlog segment whose mtime is older is expired
    /// (docs/store/cleanup.md).
    pub file_reserved_time_hours: u64,
    /// `deleteWhen`: hours of the day (`"04"`, `"04;16"`) when expired segments are deleted.
    pub delete_when: String,
    /// `diskMaxUsedSpaceRatio` (percent, clamped to 10-95): above it, delete expired segments
    /// at any hour.
    pub disk_max_used_space_ratio: u32,
    /// `cleanFileForciblyEnable`: under disk pressure delete segments whatever their age.
    pub clean_file_forcibly_enable: bool,
    /// `cleanResourceInterval`: period of the cleanup task.
    pub clean_resource_interval_ms: u64,
    /// Delay before the first cleanup (Java: 60 s; not a broker.conf key there).
    pub clean_first_delay_ms: u64,
    /// Period of the DISK_FULL check (Java: every 10 s, first after 1 s).
    pub disk_check_interval_ms: u64,
    /// `deleteCommitLogFilesInterval`: pause between two deleted commitlog segments.
    pub delete_commit_log_files_interval_ms: u64,
    /// `rocketmq.broker.diskSpaceWarningLevelRatio` (a JVM property in Java): above this used
    /// fraction the store is marked DISK_FULL and refuses puts.
    pub disk_space_warning_level_ratio: f64,
    /// `rocketmq.broker.diskSpaceCleanForciblyRatio`: above this, clean immediately.
    pub disk_space_clean_forcibly_ratio: f64,
    /// `brokerRole`.
    pub broker_role: BrokerRole,
    /// `slaveTimeout`: how long a SYNC_MASTER put waits for a slave's ack.
    pub slave_timeout_ms: u64,
    /// `haSlaveFallbehindMax`: a slave further behind than this is not waited for.
    pub ha_slave_fallbehind_max: u64,
    /// `haSendHeartbeatInterval`: master heartbeat / slave report period.
    pub ha_send_heartbeat_interval_ms: u64,
    /// `haHousekeepingInterval`: an HA connection silent this long is closed.
    pub ha_housekeeping_interval_ms: u64,
    /// `haTransferBatchSize`: most commitlog bytes per HA frame.
    pub ha_transfer_batch_size: usize,
    /// `enableControllerMode` (a broker key): replication speaks the 5.x AutoSwitch HA protocol
    /// with an epoch file, the role changes at run time, and the store starts fenced.
    pub controller_mode: bool,
    /// `allAckInSyncStateSet`: in controller mode a waiting put is acknowledged only once every
    /// member of the SyncStateSet has it.
    pub all_ack_in_sync_state_set: bool,
    /// `inSyncReplicas`: acks (the master's included) a waiting put needs in controller mode
    /// without `allAckInSyncStateSet`.
    pub in_sync_replicas: usize,
    /// `minInSyncReplicas`: in controller mode a waiting put is refused
    /// (`InSyncReplicasNotEnough`, nothing stored) while the SyncStateSet is smaller.
    pub min_in_sync_replicas: usize,
    /// `haMaxTimeSlaveNotCatchup`: a SyncStateSet member that has not caught up for this long is
    /// dropped from the set.
    pub ha_max_time_slave_not_catchup_ms: u64,
    /// `syncFromLastFile`: a new replica starts copying at the master's last segment instead of
    /// its first.
    pub sync_from_last_file: bool,
    /// Where the store reads wall time (record store timestamps, the cleanup hour): the system
    /// clock, or a manual one in tests. Not a `broker.conf` key.
    pub clock: Clock,
}

impl Default for StoreConfig {
    fn default() -> Self {
        let home = std::env::var_os("HOME")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("."));
        StoreConfig {
            store_path_root_dir: home.join("store"),
            mapped_file_size_commit_log: 1024 * 1024 * 1024,
            data_read_ahead_enable: true,
            mapped_file_size_consume_queue: 300_000 * 20,
            flush_disk_type: FlushDiskType::AsyncFlush,
            flush_interval_commit_log_ms: 500,
            flush_commit_log_least_pages: 4,
            flush_commit_log_thorough_interval_ms: 10_000,
            flush_interval_consume_queue_ms: 1000,
            flush_consume_queue_least_pages: 2,
            flush_consume_queue_thorough_interval_ms: 60_000,
            sync_flush_timeout_ms: 5000,
            max_message_size: 4 * 1024 * 1024,
            store_host: SocketAddr::from((Ipv4Addr::LOCALHOST, 10911)),
            check_crc_on_recover: true,
            os_page_cache_busy_timeout_ms: 1000,
            message_delay_level: "1s 5s 10s 30s 1m 2m 3m 4m 5m 6m 7m 8m 9m 10m 20m 30m 1h 2h".to_string(),
            access_message_in_memory_max_ratio: 40,
            total_memory_bytes: None,
            max_transfer_bytes_on_message_in_memory: 256 * 1024,
            max_transfer_count_on_message_in_memory: 32,
            max_transfer_bytes_on_message_in_disk: 64 * 1024,
            max_transfer_count_on_message_in_disk: 8,
            arrival_channel_capacity: 4096,
            message_index_enable: true,
            message_index_safe: false,
            max_hash_slot_num: 5_000_000,
            max_index_num: 5_000_000 * 4,
            file_reserved_time_hours: 72,
            delete_when: "04".to_string(),
            disk_max_used_space_ratio: 75,
            clean_file_forcibly_enable: true,
            clean_resource_interval_ms: 10_000,
            clean_first_delay_ms: 60_000,
            disk_check_interval_ms: 10_000,
            delete_commit_log_files_interval_ms: 100,
            disk_space_warning_level_ratio: 0.90,
            disk_space_clean_forcibly_ratio: 0.85,
            broker_role: BrokerRole::AsyncMaster,
            slave_timeout_ms: 3000,
            ha_slave_fallbehind_max: 256 * 1024 * 1024,
            ha_send_heartbeat_interval_ms: 5000,
            ha_housekeeping_interval_ms: 20_000,
            ha_transfer_batch_size: 32 * 1024,
            controller_mode: false,
            all_ack_in_sync_state_set: false,
            in_sync_replicas: 1,
            min_in_sync_replicas: 1,
            ha_max_time_slave_not_catchup_ms: 15_000,
            sync_from_last_file: false,
            clock: Clock::System,
        }
    }
}

impl StoreConfig {
    pub fn commit_log_dir(&self) -> PathBuf {
        self.store_path_root_dir.join("commitlog")
    }
    pub fn consume_queue_dir(&self) -> PathBuf {
        self.store_path_root_dir.join("consumequeue")
    }
    pub fn config_dir(&self) -> PathBuf {
        self.store_path_root_dir.join("config")
    }
    pub fn checkpoint_path(&self) -> PathBuf {
        self.store_path_root_dir.join("checkpoint")
    }
    pub fn abort_path(&self) -> PathBuf {
        self.store_path_root_dir.join("abort")
    }
    pub fn index_dir(&self) -> PathBuf {
        self.store_path_root_dir.join("index")
    }
    pub fn lock_path(&self) -> PathBuf {
        self.store_path_root_dir.join("lock")
    }
    /// CQ segment size rounded up to a whole number of 20-byte entries (Java's getter).
    pub fn consume_queue_file_size(&self) -> u64 {
        let unit = crate::consume_queue::CQ_STORE_UNIT_SIZE as u64;
        self.mapped_file_size_consume_queue.div_ceil(unit) * unit
    }

    pub(crate) fn validate(&self) -> Result<(), StoreError> {
        // A record of the maximum size must fit into one segment together with the blank.
        if self.mapped_file_size_commit_log < 4096 {
            return Err(StoreError::Config(
                "mapped_file_size_commit_log must be at least 4096".into(),
            ));
        }
        if self.message_index_enable && (self.max_hash_slot_num == 0 || self.max_index_num < 2) {
            return Err(StoreError::Config(
                "max_hash_slot_num must be > 0 and max_index_num > 1".into(),
            ));
        }
        if self.consume_queue_file_size() == 0 {
            return Err(StoreError::Config(
                "mapped_file_size_consume_queue must be > 0".into(),
            ));
        }
        Ok(())
    }

    /// `messageDelayLevel` parsed into milliseconds per level (level 1 = index 0).
    pub fn delay_levels_ms(&self) -> Vec<i64> {
        self.message_delay_level
            .split(' ')
            .filter(|s| !s.is_empty())
            .filter_map(|s| {
                let (num, unit) = s.split_at(s.len() - 1);
                let n: i64 = num.parse().ok()?;
                let ms = match unit {
                    "s" => 1000,
                    "m" => 60_000,
                    "h" => 3_600_000,
                    "d" => 86_400_000,
                    _ => return None,
                };
                Some(n * ms)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flush_type_parses_java_names() {
        assert_eq!(
            "SYNC_FLUSH".parse::<FlushDiskType>().unwrap(),
            FlushDiskType::SyncFlush
        );
        assert_eq!(
            "ASYNC_FLUSH".parse::<FlushDiskType>().unwrap(),
            FlushDiskType::AsyncFlush
        );
        assert!("sync".parse::<FlushDiskType>().is_err());
    }

    #[test]
    fn defaults_and_delay_levels() {
        let c = StoreConfig::default();
        assert_eq!(c.consume_queue_file_size(), 6_000_000);
        let levels = c.delay_levels_ms();
        assert_eq!(levels.len(), 18);
        assert_eq!(levels[0], 1000);
        assert_eq!(levels[17], 7_200_000);
    }
}
