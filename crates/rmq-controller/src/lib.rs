//! The replicated state machine of RocketMQ 5's controller mode (docs/controller/state-machine.md).
//!
//! The controller keeps, for every broker group (all replicas sharing one `brokerName`), which
//! broker ids exist, which one is master, which ones are in sync, and two fencing counters. This
//! crate is that state and nothing else: no networking, no Raft, no clock, no files. It is built
//! for a replicated log, so every write is split in two steps, as Java's `ReplicasInfoManager`
//! splits it:
//!
//! 1. **Propose**: a request is checked against the current [`ControllerState`] (read-only). The
//!    answer is either a [`ControllerError`], which carries the Java response code and remark, or
//!    a [`Proposal`]: the reply for the caller plus the [`Event`]s to append to the log.
//! 2. **Apply**: once the log has committed an event, [`ControllerState::apply`] changes the state.
//!    Apply never fails and never looks at anything but the event, so every replica that applies
//!    the same events in the same order holds the same state.
//!
//! Whether a broker is alive, and the epoch and max offset it last reported, come from the
//! caller's heartbeat table through the [`Liveness`] trait. Only proposals read them; apply never
//! does, because replicas of the controller may disagree about them.
//!
//! # Layout
//! - [`state`]: the groups and [`ControllerState::apply`], the only code that mutates them.
//! - [`event`]: the log entries ([`Event`]) and the [`Proposal`] a write returns.
//! - [`error`]: [`ControllerError`] and the numeric response codes of RocketMQ 5.3.1.
//! - [`liveness`]: what the heartbeat table tells the state machine ([`Liveness`]).
//! - [`policy`]: choosing a master from the live candidates ([`policy::choose_master`]).
//! - [`register`]: broker id allocation (GET_NEXT_BROKER_ID, APPLY_BROKER_ID) and REGISTER_BROKER.
//! - [`sync_state`]: ALTER_SYNC_STATE_SET, with master epoch and sync-state-set epoch fencing.
//! - [`elect`]: ELECT_MASTER for the three triggers (broker, controller, admin).
//! - [`clean`]: the admin's CLEAN_BROKER_DATA.
//! - [`query`]: the reads (GET_REPLICA_INFO, GET_SYNC_STATE_DATA, the inactive-master scan).
//!
//! [`node`] is the running controller around it (the wire protocol, the event log on disk, the
//! heartbeat table, elections when a master dies): the only module here that does I/O.

pub mod clean;
pub mod elect;
pub mod error;
pub mod event;
pub mod liveness;
pub mod node;
pub mod policy;
pub mod query;
pub mod register;
pub mod state;
pub mod sync_state;

pub use clean::CleanBrokerDataRequest;
pub use elect::{ElectConfig, ElectRequest, ElectTrigger, Election, MemberGroup};
pub use error::{code, ControllerError};
pub use event::{Event, Proposal};
pub use liveness::{BrokerReport, LiveBrokers, Liveness};
pub use query::{ReplicaIdentity, ReplicaInfo, SyncStateData};
pub use register::{ApplyBrokerIdRequest, MasterView, RegisterBrokerRequest, RegisterReply};
pub use state::{BrokerGroup, ControllerState, Replica};
pub use sync_state::{AlterSyncStateSetRequest, SyncStateSetView};

/// A broker id as the controller assigns it: 1, 2, 3 and so on, never reused within a group.
///
/// Java carries it as a `Long` with `-1` meaning "none"; here absence is an `Option`, and the
/// wire layer maps `-1` and null to `None`.
pub type BrokerId = u64;

/// The id the first broker of a new group gets (`MixAll.FIRST_BROKER_CONTROLLER_ID`).
pub const FIRST_BROKER_ID: BrokerId = 1;
