//! Controller-mode replication (`enableControllerMode=true`, docs/controller/broker.md): RocketMQ
//! 5's AutoSwitch HA protocol (java-reference.md, section 4.4), the epoch file, the SyncStateSet
//! as the master sees it, the confirm offset and the all-ack wait.
//!
//! - [`master`]: the listener's side of a connection: the slave's handshake (its controller
//!   broker id), the master's epoch list, then commitlog chunks that never cross an epoch.
//! - [`slave`]: the client: handshake, truncation to the last offset both epoch lists agree on
//!   (a returning old master drops what its group never confirmed), then appends.
//! - [`ReplicaState`]: what the put path, the connections and the broker share.
//!
//! Frames are big-endian and start with the sender's state: HANDSHAKE = 1, TRANSFER = 2.

pub mod master;
pub mod slave;

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use parking_lot::Mutex;
use tokio::sync::{watch, Notify};

use super::epoch::EpochCache;
use super::HaState;
use crate::message::PutStatus;
use crate::{StoreConfig, StoreError};

/// `HAConnectionState.HANDSHAKE.ordinal()`.
pub const STATE_HANDSHAKE: i32 = 1;
/// `HAConnectionState.TRANSFER.ordinal()`.
pub const STATE_TRANSFER: i32 = 2;
/// Slave → master handshake: state, isSyncFromLastFile (i16), isAsyncLearner (i16), broker id.
pub const SLAVE_HANDSHAKE_LEN: usize = 16;
/// Slave → master report: state, max offset.
pub const SLAVE_TRANSFER_LEN: usize = 12;
/// Master → slave handshake header: state, body size, max offset, last epoch.
pub const MASTER_HANDSHAKE_LEN: usize = 20;
/// Master → slave transfer header: state, body size, offset, epoch, epoch start, confirm offset.
pub const MASTER_TRANSFER_LEN: usize = 36;
/// One epoch entry in the master's handshake body: epoch (i32), start offset (i64).
pub const EPOCH_ENTRY_LEN: usize = 12;
/// Most entries a handshake carries (Java's buffer holds 1000).
pub const MAX_EPOCH_ENTRIES: usize = 1000;

/// The master's SyncStateSet: the one the controller confirmed and, while a change is being
/// reported, the proposed one (acks count against the union until the controller answers).
#[derive(Debug, Default)]
struct SyncSets {
    confirmed: BTreeSet<i64>,
    proposed: Option<BTreeSet<i64>>,
}

impl SyncSets {
    fn union(&self) -> BTreeSet<i64> {
        let mut all = self.confirmed.clone();
        if let Some(p) = &self.proposed {
            all.extend(p.iter().copied());
        }
        all
    }
}

/// Controller-mode replication state, inside [`HaState`].
#[derive(Debug)]
pub struct ReplicaState {
    /// This broker's id from the controller (`brokerControllerId`), -1 until registered.
    local_id: AtomicI64,
    /// The epoch file (`epochFileCheckpoint`), opened with the store in controller mode.
    epochs: Mutex<EpochCache>,
    sets: Mutex<SyncSets>,
    /// Slave id → when it last had everything the master had (`connectionCaughtUpTimeTable`).
    caught_up: Mutex<HashMap<i64, i64>>,
    /// The master's computed confirm offset; on a slave, the master's as last pushed.
    confirm: AtomicI64,
    /// Bumped on every role change: master-side connections end, so slaves reconnect.
    generation: watch::Sender<u64>,
    /// A SyncStateSet change this master wants the controller to confirm.
    proposals: watch::Sender<Option<BTreeSet<i64>>>,
    /// Woken on every slave ack (the all-ack wait counts per slave).
    acks: Notify,
    /// Until when a master may take puts without hearing from the controller again
    /// (milliseconds on [`monotonic_ms`]); 0 = no lease (not a master yet).
    lease_until: AtomicI64,
}

/// Milliseconds on a monotonic clock (since the first call in this process).
pub fn monotonic_ms() -> i64 {
    static BASE: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    let base = BASE.get_or_init(std::time::Instant::now);
    i64::try_from(base.elapsed().as_millis()).unwrap_or(i64::MAX)
}

impl Default for ReplicaState {
    fn default() -> Self {
        ReplicaState {
            local_id: AtomicI64::new(-1),
            epochs: Mutex::new(EpochCache::default()),
            sets: Mutex::new(SyncSets::default()),
            caught_up: Mutex::new(HashMap::new()),
            confirm: AtomicI64::new(-1),
            generation: watch::channel(0).0,
            proposals: watch::channel(None).0,
            acks: Notify::new(),
            lease_until: AtomicI64::new(0),
        }
    }
}

impl ReplicaState {
    pub(crate) fn open_epochs(&self, path: &std::path::Path) -> Result<(), StoreError> {
        *self.epochs.lock() = EpochCache::open(path)?;
        Ok(())
    }

    pub fn local_id(&self) -> i64 {
        self.local_id.load(Ordering::Acquire)
    }

    /// `haService.setLocalBrokerId` once the controller assigned the id.
    pub fn set_local_id(&self, id: i64) {
        self.local_id.store(id, Ordering::Release);
    }

    /// The epoch list (GET_BROKER_EPOCH_CACHE, heartbeats).
    pub fn epochs(&self) -> EpochCache {
        self.epochs.lock().clone()
    }

    /// The last epoch of the epoch file, -1 when empty.
    pub fn last_epoch(&self) -> i32 {
        self.epochs.lock().last_epoch()
    }

    /// A replica records the epoch `(epoch, start)` its master sent (refused, false, unless both
    /// are above the last entry's).
    pub fn record_epoch(&self, epoch: i32, start_offset: i64) -> Result<bool, StoreError> {
        self.epochs.lock().append(epoch, start_offset)
    }

    pub(crate) fn with_epochs<T>(&self, f: impl FnOnce(&mut EpochCache) -> T) -> T {
        f(&mut self.epochs.lock())
    }

    /// The SyncStateSet acks count against: the confirmed one, with a pending proposal merged.
    pub fn sync_state_set(&self) -> BTreeSet<i64> {
        self.sets.lock().union()
    }

    /// The set the controller confirmed.
    pub fn confirmed_sync_state_set(&self) -> BTreeSet<i64> {
        self.sets.lock().confirmed.clone()
    }

    /// Whether a change is being reported (`isSynchronizingSyncStateSet`).
    pub fn is_synchronizing(&self) -> bool {
        self.sets.lock().proposed.is_some()
    }

    /// The controller confirmed `set` (`setSyncStateSet`): the proposal ends, the confirm
    /// offset is recomputed from the slaves' acks.
    pub fn set_sync_state_set(&self, set: BTreeSet<i64>, ha: &HaState, max_phy: i64) {
        {
            let mut sets = self.sets.lock();
            sets.confirmed = set;
            sets.proposed = None;
        }
        self.proposals.send_if_modified(|p| {
            *p = None;
            false
        });
        let c = self.compute_confirm(ha, max_phy);
        self.confirm.store(c, Ordering::Release);
    }

    /// Wake the puts waiting for acks (after the confirmed records were dispatched, so a
    /// returned put is readable).
    pub(crate) fn wake_ack_waiters(&self) {
        self.acks.notify_waiters();
    }

    /// Proposals for the broker to report to the controller.
    pub fn proposals(&self) -> watch::Receiver<Option<BTreeSet<i64>>> {
        self.proposals.subscribe()
    }

    /// Marks `set` as being reported; the broker is told once per distinct proposal.
    fn propose(&self, set: BTreeSet<i64>) {
        self.sets.lock().proposed = Some(set.clone());
        self.proposals.send_if_modified(|p| {
            let changed = p.as_ref() != Some(&set);
            *p = Some(set);
            changed
        });
    }

    /// The controller refused (or did not answer) the report of `set`: acks count against the
    /// confirmed set again, and the next ack or check proposes anew.
    pub fn proposal_failed(&self, set: &BTreeSet<i64>) {
        let mut sets = self.sets.lock();
        if sets.proposed.as_ref() == Some(set) {
            sets.proposed = None;
        }
        drop(sets);
        self.proposals.send_if_modified(|p| {
            let clear = p.as_ref() == Some(set);
            if clear {
                *p = None;
            }
            false
        });
    }

    /// A slave acked `slave_max` at or past what the master had when it last sent data
    /// (`maybeExpandInSyncStateSet`): it is caught up now; it joins the set when it also has
    /// the confirmed data and reached the current epoch.
    pub(crate) fn caught_up(&self, slave_id: i64, slave_max: i64, now_ms: i64) {
        self.caught_up.lock().insert(slave_id, now_ms);
        // Against the confirmed set, as Java: a refused proposal is made again.
        let current = self.confirmed_sync_state_set();
        if current.contains(&slave_id) {
            return;
        }
        let confirm = self.confirm.load(Ordering::Acquire);
        let epoch_start = self.epochs.lock().last().map_or(0, |e| e.start_offset);
        if slave_max >= confirm && slave_max >= epoch_start {
            let mut next = current;
            next.insert(slave_id);
            if self.sets.lock().proposed.as_ref() != Some(&next) {
                tracing::info!(
                    slave_id,
                    ?next,
                    "slave caught up; proposing a larger SyncStateSet"
                );
            }
            self.propose(next);
        }
    }

    /// A slave's connection ended (`removeConnection`): the set without it is proposed at once.
    pub(crate) fn disconnected(&self, slave_id: i64) {
        self.caught_up.lock().remove(&slave_id);
        let current = self.sync_state_set();
        if slave_id >= 0 && current.contains(&slave_id) && slave_id != self.local_id() {
            let mut next = current;
            next.remove(&slave_id);
            tracing::info!(
                slave_id,
                ?next,
                "slave disconnected; proposing a smaller SyncStateSet"
            );
            self.propose(next);
        }
        self.acks.notify_waiters();
    }

    /// `maybeShrinkSyncStateSet`: the confirmed set without members that have not caught up
    /// for `haMaxTimeSlaveNotCatchup` or never connected; self always stays. A change is
    /// proposed (and returned).
    pub fn shrink(&self, config: &StoreConfig, now_ms: i64) -> BTreeSet<i64> {
        let me = self.local_id();
        let caught = self.caught_up.lock().clone();
        let mut next = self.confirmed_sync_state_set();
        next.retain(|id| {
            *id == me
                || caught
                    .get(id)
                    .is_some_and(|t| now_ms - t <= config.ha_max_time_slave_not_catchup_ms as i64)
        });
        next.insert(me);
        if next != self.confirmed_sync_state_set() {
            self.propose(next.clone());
        }
        next
    }

    /// `computeConfirmOffset`: the smallest ack of the set's connected slaves (the master's max
    /// offset when it is alone); unchanged while a member of the set is not connected.
    fn compute_confirm(&self, ha: &HaState, max_phy: i64) -> i64 {
        let set = self.sync_state_set();
        let me = self.local_id();
        let links = ha.links.lock();
        let mut confirm = max_phy;
        for id in set.iter().filter(|id| **id != me) {
            match links.iter().find(|l| l.broker_id.load(Ordering::Acquire) == *id) {
                None => return self.confirm.load(Ordering::Acquire),
                Some(l) => {
                    let ack = l.ack.load(Ordering::Acquire);
                    if ack > 0 {
                        confirm = confirm.min(ack);
                    }
                }
            }
        }
        confirm
    }

    /// A slave acked: move the confirm offset when it is a member. The caller dispatches what is
    /// now confirmed and then wakes the all-ack waiters.
    pub(crate) fn on_ack(&self, ha: &HaState, slave_id: i64, max_phy: i64) {
        if self.sync_state_set().contains(&slave_id) {
            let c = self.compute_confirm(ha, max_phy);
            self.confirm.store(c, Ordering::Release);
        }
    }

    /// On a slave: the master's confirm offset, capped at what this store has.
    pub(crate) fn set_confirm(&self, offset: i64) {
        self.confirm.store(offset, Ordering::Release);
    }

    /// `getConfirmOffset` on a master: its max offset when alone in the set or when not every
    /// member must ack; otherwise the computed one.
    pub fn confirm_offset(&self, config: &StoreConfig, is_slave: bool, max_phy: i64) -> i64 {
        if is_slave {
            return self.confirm.load(Ordering::Acquire);
        }
        if self.confirmed_sync_state_set().len() <= 1 || !config.all_ack_in_sync_state_set {
            return max_phy;
        }
        self.confirm.load(Ordering::Acquire)
    }

    /// The controller confirmed this broker as master in an answer to a request sent at
    /// `sent_at_ms` ([`monotonic_ms`]): puts are taken until `sent_at_ms + lease_ms`. The broker
    /// picks `lease_ms` short enough to end before the controller can elect another master
    /// (docs/controller/broker.md#fencing).
    pub fn renew_lease(&self, sent_at_ms: i64, lease_ms: i64) {
        self.lease_until
            .fetch_max(sent_at_ms.saturating_add(lease_ms), Ordering::AcqRel);
    }

    /// Whether a master's lease is current.
    pub fn lease_valid(&self) -> bool {
        monotonic_ms() < self.lease_until.load(Ordering::Acquire)
    }

    /// The lease ends now (the broker is no longer master).
    pub fn drop_lease(&self) {
        self.lease_until.store(0, Ordering::Release);
    }

    /// The role changed: connections of the old role end.
    pub fn bump_generation(&self) {
        self.generation.send_modify(|g| *g += 1);
        self.caught_up.lock().clear();
    }

    pub(crate) fn generation(&self) -> watch::Receiver<u64> {
        self.generation.subscribe()
    }
}

impl HaState {
    /// Controller mode: `handleHA` / `GroupTransferService` for a put ending at `end`. With
    /// `allAckInSyncStateSet` every member of the (union) set must have it; otherwise
    /// `inSyncReplicas` acks, the master's own included. `FlushSlaveTimeout` after
    /// `slaveTimeout` (the message stays stored).
    pub(crate) async fn wait_for_replicas(&self, end: u64, config: &StoreConfig) -> PutStatus {
        let end = end as i64;
        let timeout = Duration::from_millis(config.slave_timeout_ms);
        let done = || {
            let r = &self.replicas;
            if config.all_ack_in_sync_state_set {
                let set = r.sync_state_set();
                if set.len() <= 1 {
                    return true;
                }
                let me = r.local_id();
                let links = self.links.lock();
                let acked = set
                    .iter()
                    .filter(|id| **id != me)
                    .filter(|id| {
                        links.iter().any(|l| {
                            l.broker_id.load(Ordering::Acquire) == **id
                                && l.ack.load(Ordering::Acquire) >= end
                        })
                    })
                    .count();
                acked + 1 >= set.len()
            } else {
                if config.in_sync_replicas <= 1 {
                    return true;
                }
                let acked = self
                    .links
                    .lock()
                    .iter()
                    .filter(|l| l.ack.load(Ordering::Acquire) >= end)
                    .count();
                acked + 1 >= config.in_sync_replicas
            }
        };
        let waited = tokio::time::timeout(timeout, async {
            loop {
                let notified = self.replicas.acks.notified();
                tokio::pin!(notified);
                notified.as_mut().enable();
                if done() {
                    return;
                }
                notified.await;
            }
        })
        .await;
        match waited {
            Ok(()) => PutStatus::PutOk,
            Err(_) => {
                tracing::warn!(end, "waiting for the SyncStateSet's acks timed out");
                PutStatus::FlushSlaveTimeout
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(ids: &[i64]) -> BTreeSet<i64> {
        ids.iter().copied().collect()
    }

    fn master(me: i64, confirmed: &[i64]) -> (HaState, StoreConfig) {
        let ha = HaState::default();
        ha.replicas.set_local_id(me);
        ha.replicas.set_sync_state_set(set(confirmed), &ha, 0);
        ha.replicas.record_epoch(1, 0).unwrap();
        (ha, StoreConfig::default())
    }

    /// A slave that caught up is proposed for the set; a refused proposal is made again on the
    /// next ack; the controller's confirmation ends the proposal.
    #[test]
    fn a_caught_up_slave_is_proposed_until_confirmed() {
        let (ha, _) = master(1, &[1]);
        let r = &ha.replicas;
        let mut proposals = r.proposals();
        r.caught_up(2, 100, 0);
        assert_eq!(*proposals.borrow_and_update(), Some(set(&[1, 2])));
        assert_eq!(
            r.sync_state_set(),
            set(&[1, 2]),
            "acks count against the union meanwhile"
        );
        r.proposal_failed(&set(&[1, 2]));
        assert_eq!(r.sync_state_set(), set(&[1]));
        r.caught_up(2, 120, 10);
        assert!(proposals.has_changed().unwrap(), "proposed again");
        assert_eq!(*proposals.borrow_and_update(), Some(set(&[1, 2])));
        r.set_sync_state_set(set(&[1, 2]), &ha, 120);
        assert!(!r.is_synchronizing());
        r.caught_up(2, 130, 20);
        assert!(
            !proposals.has_changed().unwrap(),
            "a member is not proposed again"
        );
    }

    /// `haMaxTimeSlaveNotCatchup`: a member that has not caught up for longer leaves the set, as
    /// does a member with no caught-up record; the master always stays.
    #[test]
    fn lagging_and_absent_members_are_dropped() {
        let (ha, mut config) = master(1, &[1, 2, 3, 4]);
        config.ha_max_time_slave_not_catchup_ms = 15_000;
        let r = &ha.replicas;
        r.caught_up(2, 100, 0);
        r.caught_up(3, 100, 10_000);
        assert_eq!(r.shrink(&config, 14_000), set(&[1, 2, 3]), "4 never caught up");
        r.set_sync_state_set(set(&[1, 2, 3]), &ha, 100);
        assert_eq!(r.shrink(&config, 16_000), set(&[1, 3]), "2 lagged 16 s");
        assert_eq!(r.shrink(&config, 30_000), set(&[1]));
        assert!(r.is_synchronizing());
    }

    /// A slave that disconnects is proposed out at once; the master's confirm offset stays put
    /// while a member of the set has no connection.
    #[test]
    fn a_disconnected_member_is_proposed_out() {
        let (ha, config) = master(1, &[1, 2]);
        let r = &ha.replicas;
        let mut proposals = r.proposals();
        r.disconnected(2);
        assert_eq!(*proposals.borrow_and_update(), Some(set(&[1])));
        let mut all_ack = config.clone();
        all_ack.all_ack_in_sync_state_set = true;
        assert_eq!(
            r.confirm_offset(&all_ack, false, 500),
            r.confirm.load(Ordering::Acquire)
        );
        assert_eq!(
            r.confirm_offset(&config, false, 500),
            500,
            "without all-ack: the max offset"
        );
    }
}
