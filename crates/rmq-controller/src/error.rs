//! Why a proposal was refused, with the response code and remark Java 5.3.1 sends for it.
//!
//! The remarks keep Java's wording (typos included) because admin tools and logs show them and
//! people search for them.

use crate::BrokerId;

/// Response codes of `RemotingSysResponseCode` and `ResponseCode` (RocketMQ 5.3.1) that concern
/// the controller. Codes the state machine never produces are listed too, so the layers above
/// (heartbeats, leadership, jRaft) take them from one place.
pub mod code {
    pub const SUCCESS: i32 = 0;
    pub const SYSTEM_ERROR: i32 = 1;
    pub const CONTROLLER_FENCED_MASTER_EPOCH: i32 = 2000;
    pub const CONTROLLER_FENCED_SYNC_STATE_SET_EPOCH: i32 = 2001;
    pub const CONTROLLER_INVALID_MASTER: i32 = 2002;
    pub const CONTROLLER_INVALID_REPLICAS: i32 = 2003;
    pub const CONTROLLER_MASTER_NOT_AVAILABLE: i32 = 2004;
    /// A heartbeat without a broker id; answered by the heartbeat layer, not here.
    pub const CONTROLLER_INVALID_REQUEST: i32 = 2005;
    pub const CONTROLLER_BROKER_NOT_ALIVE: i32 = 2006;
    /// Any write or read sent to a controller that is not the Raft leader; not produced here.
    pub const CONTROLLER_NOT_LEADER: i32 = 2007;
    pub const CONTROLLER_BROKER_METADATA_NOT_EXIST: i32 = 2008;
    pub const CONTROLLER_INVALID_CLEAN_BROKER_METADATA: i32 = 2009;
    pub const CONTROLLER_BROKER_NEED_TO_BE_REGISTERED: i32 = 2010;
    pub const CONTROLLER_MASTER_STILL_EXIST: i32 = 2011;
    pub const CONTROLLER_ELECT_MASTER_FAILED: i32 = 2012;
    pub const CONTROLLER_ALTER_SYNC_STATE_SET_FAILED: i32 = 2013;
    pub const CONTROLLER_BROKER_ID_INVALID: i32 = 2014;
    /// jRaft only; not produced here.
    pub const CONTROLLER_JRAFT_INTERNAL_ERROR: i32 = 2015;
    /// jRaft heartbeat manager only; not produced here.
    pub const CONTROLLER_BROKER_LIVE_INFO_NOT_EXISTS: i32 = 2016;
}

/// A request the state machine refuses. Nothing goes to the log for it.
///
/// Two Java outcomes that use non-zero codes are *not* errors here, because they carry data:
/// CONTROLLER_MASTER_STILL_EXIST (2011) carries the current master, and
/// CONTROLLER_MASTER_NOT_AVAILABLE (2004) carries an event that must be committed. Both are
/// [`crate::Election`] variants.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ControllerError {
    #[error(
        "Rejecting alter syncStateSet request because the current master epoch is:{{{current}}}, not {{{requested}}}"
    )]
    FencedMasterEpoch { current: i32, requested: i32 },

    #[error(
        "Rejecting alter syncStateSet request because the current syncStateSet epoch is:{{{current}}}, not {{{requested}}}"
    )]
    FencedSyncStateSetEpoch { current: i32, requested: i32 },

    #[error(
        "Rejecting alter syncStateSet request because the current leader is:{{{}}}, not {{{requested}}}",
        .current.map_or_else(|| "null".to_string(), |id| id.to_string())
    )]
    InvalidMaster {
        current: Option<BrokerId>,
        requested: BrokerId,
    },

    #[error("Rejecting alter syncStateSet request because the replicas {{{broker_id}}} don't exist")]
    InvalidReplicas { broker_id: BrokerId },

    #[error("Rejecting alter syncStateSet request because the replicas {{{broker_id}}} don't alive")]
    BrokerNotAlive { broker_id: BrokerId },

    #[error("Broker metadata is not existed")]
    BrokerMetadataNotExist { broker_name: String },

    /// Clean without an id list while the group has a master.
    #[error("Broker {broker_name} is still alive, clean up failure")]
    CleanGroupHasMaster { broker_name: String },

    #[error("Broker [{broker_name},  {broker_id}] is still alive, clean up failure")]
    CleanBrokerAlive {
        broker_name: String,
        broker_id: BrokerId,
    },

    #[error(
        "Please set the option <brokerControllerIdsToClean> according to the format, exception: {input:?} is not a ';'-separated list of broker ids"
    )]
    CleanBadIdList { input: String },

    #[error("Broker {broker_name} is not existed,clean broker data failure.")]
    CleanUnknownGroup { broker_name: String },

    #[error("Broker-set: {broker_name} hasn't been registered in controller")]
    GroupNotRegistered { broker_name: String },

    #[error("BrokerId: {broker_id} hasn't been registered in broker-set: {broker_name}")]
    BrokerNotRegistered {
        broker_name: String,
        broker_id: BrokerId,
    },

    /// A broker- or admin-triggered election found no candidate.
    #[error("Failed to elect a new master")]
    ElectMasterFailed { broker_name: String },

    #[error("Broker metadata is not existed")]
    AlterUnknownGroup { broker_name: String },

    #[error("The newSyncStateSet is equal with oldSyncStateSet, no needed to update syncStateSet")]
    AlterUnchanged,

    #[error(
        "Rejecting alter syncStateSet request because the newSyncStateSet don't contains origin leader {{{master}}}"
    )]
    AlterDropsMaster { master: BrokerId },

    #[error(
        "Broker-set: {broker_name} hasn't been registered in controller, but broker try to apply brokerId: {broker_id}"
    )]
    BrokerIdForUnknownGroup {
        broker_name: String,
        broker_id: BrokerId,
    },

    #[error("Fail to apply brokerId: {broker_id} in broker-set: {broker_name}")]
    BrokerIdTaken {
        broker_name: String,
        broker_id: BrokerId,
    },
}

impl ControllerError {
    /// The response code Java sends for this refusal.
    pub fn code(&self) -> i32 {
        use ControllerError::*;
        match self {
            FencedMasterEpoch { .. } => code::CONTROLLER_FENCED_MASTER_EPOCH,
            FencedSyncStateSetEpoch { .. } => code::CONTROLLER_FENCED_SYNC_STATE_SET_EPOCH,
            InvalidMaster { .. } => code::CONTROLLER_INVALID_MASTER,
            InvalidReplicas { .. } => code::CONTROLLER_INVALID_REPLICAS,
            BrokerNotAlive { .. } => code::CONTROLLER_BROKER_NOT_ALIVE,
            BrokerMetadataNotExist { .. } => code::CONTROLLER_BROKER_METADATA_NOT_EXIST,
            CleanGroupHasMaster { .. }
            | CleanBrokerAlive { .. }
            | CleanBadIdList { .. }
            | CleanUnknownGroup { .. } => code::CONTROLLER_INVALID_CLEAN_BROKER_METADATA,
            GroupNotRegistered { .. } | BrokerNotRegistered { .. } => {
                code::CONTROLLER_BROKER_NEED_TO_BE_REGISTERED
            }
            ElectMasterFailed { .. } => code::CONTROLLER_ELECT_MASTER_FAILED,
            AlterUnknownGroup { .. } | AlterUnchanged | AlterDropsMaster { .. } => {
                code::CONTROLLER_ALTER_SYNC_STATE_SET_FAILED
            }
            BrokerIdForUnknownGroup { .. } | BrokerIdTaken { .. } => code::CONTROLLER_BROKER_ID_INVALID,
        }
    }

    /// The remark sent with the code.
    pub fn remark(&self) -> String {
        self.to_string()
    }
}
