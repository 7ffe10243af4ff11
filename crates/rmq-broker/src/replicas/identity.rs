//! The broker id a controller gives out, kept across restarts (Java's `BrokerMetadata` and
//! `TempBrokerMetadata`): `<storePathRootDir>/brokerIdentity` holds `cluster#brokerName#id`;
//! while an id is being applied for, `brokerIdentity-temp` holds
//! `cluster#brokerName#id#registerCheckCode`. A crash between the steps resumes where it was:
//! a temp file is applied again with the same check code (the controller accepts that), a
//! refused one is deleted and the next id is asked for.

use std::path::{Path, PathBuf};

use rmq_protocol::codes::request_code;
use rmq_protocol::header::*;
use rmq_protocol::RemotingCommand;

use super::to_leader;
use crate::BrokerState;

fn identity_path(state: &BrokerState) -> PathBuf {
    state.config.store.store_path_root_dir.join("brokerIdentity")
}

fn temp_path(state: &BrokerState) -> PathBuf {
    state.config.store.store_path_root_dir.join("brokerIdentity-temp")
}

fn read_fields(path: &Path) -> Option<Vec<String>> {
    let text = std::fs::read_to_string(path).ok()?;
    let fields: Vec<String> = text.trim().split('#').map(String::from).collect();
    (fields.len() >= 3).then_some(fields)
}

fn write(path: &Path, text: &str) -> Result<(), String> {
    rmq_store::config_file::write_atomic(path, text.as_bytes())
        .map_err(|e| format!("{}: {e}", path.display()))
}

/// This broker's controller id: from `brokerIdentity`, or applied for now.
pub(super) async fn obtain_id(state: &BrokerState) -> Result<i64, String> {
    let c = &state.config;
    let matches = |f: &[String]| f[0] == c.broker_cluster_name && f[1] == c.broker_name;
    if let Some(f) = read_fields(&identity_path(state)) {
        if !matches(&f) {
            return Err(format!(
                "{} belongs to {}#{}, not {}#{}",
                identity_path(state).display(),
                f[0],
                f[1],
                c.broker_cluster_name,
                c.broker_name
            ));
        }
        return f[2]
            .parse()
            .map_err(|_| format!("bad broker id {:?} in {}", f[2], identity_path(state).display()));
    }
    let temp = read_fields(&temp_path(state)).filter(|f| f.len() >= 4 && matches(f));
    let (id, check_code) = match temp.and_then(|f| Some((f[2].parse::<i64>().ok()?, f[3].clone()))) {
        Some(t) => t,
        None => {
            let id = next_id(state).await?;
            let code = format!("{};{}", state.addr, state.clock.now_ms());
            write(
                &temp_path(state),
                &format!("{}#{}#{id}#{code}", c.broker_cluster_name, c.broker_name),
            )?;
            (id, code)
        }
    };
    let header = ApplyBrokerIdRequestHeader {
        cluster_name: Some(c.broker_cluster_name.clone()),
        broker_name: Some(c.broker_name.clone()),
        applied_broker_id: Some(id),
        register_check_code: Some(check_code),
    };
    let req = RemotingCommand::request(request_code::CONTROLLER_APPLY_BROKER_ID).with_header(&header);
    if let Err(e) = to_leader(state, req).await {
        let _ = std::fs::remove_file(temp_path(state));
        return Err(format!("applying for broker id {id}: {e}"));
    }
    write(
        &identity_path(state),
        &format!("{}#{}#{id}", c.broker_cluster_name, c.broker_name),
    )?;
    let _ = std::fs::remove_file(temp_path(state));
    tracing::info!(broker_id = id, "controller mode: broker id assigned");
    Ok(id)
}

async fn next_id(state: &BrokerState) -> Result<i64, String> {
    let c = &state.config;
    let header = GetNextBrokerIdRequestHeader {
        cluster_name: Some(c.broker_cluster_name.clone()),
        broker_name: Some(c.broker_name.clone()),
    };
    let req = RemotingCommand::request(request_code::CONTROLLER_GET_NEXT_BROKER_ID).with_header(&header);
    let resp = to_leader(state, req).await?;
    let h: GetNextBrokerIdResponseHeader = resp.header().map_err(|e| e.to_string())?;
    h.next_broker_id
        .ok_or_else(|| "GET_NEXT_BROKER_ID without nextBrokerId".to_string())
}
