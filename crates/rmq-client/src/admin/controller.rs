//! Talking to a controller (`mqadmin getControllerMetaData`, `getSyncStateSet`, `electMaster`,
//! `cleanBrokerMetadata`, `getControllerConfig`, `updateControllerConfig`;
//! docs/controller/java-reference.md, section 6). The writes and GET_SYNC_STATE_DATA go to the
//! leader, found as Java's admin finds it: GET_METADATA_INFO to the given address first.

use rmq_protocol::body::{self, properties, BrokerReplicasInfo, ElectMasterResponseBody};
use rmq_protocol::codes::request_code;
use rmq_protocol::header::{
    CleanControllerBrokerDataRequestHeader, ElectMasterRequestHeader, ElectMasterResponseHeader,
    GetMetaDataResponseHeader,
};

use super::Admin;
use crate::ClientError;

/// What ELECT_MASTER answered.
#[derive(Debug, Clone)]
pub struct ElectedMaster {
    pub header: ElectMasterResponseHeader,
    pub body: ElectMasterResponseBody,
}

impl Admin {
    /// GET_METADATA_INFO of one controller.
    pub async fn controller_metadata(
        &self,
        controller: &str,
    ) -> Result<GetMetaDataResponseHeader, ClientError> {
        let cmd = self.client.request(request_code::CONTROLLER_GET_METADATA_INFO);
        let resp = self.client.invoke_ok(controller, cmd, self.timeout()).await?;
        Ok(resp.header()?)
    }

    /// GET_BROKER_EPOCH_CACHE: a controller-mode broker's epoch file and max offset.
    pub async fn broker_epoch_cache(
        &self,
        broker_addr: &str,
    ) -> Result<rmq_protocol::body::EpochEntryCache, ClientError> {
        let cmd = self.client.request(request_code::GET_BROKER_EPOCH_CACHE);
        let resp = self.client.invoke_ok(broker_addr, cmd, self.timeout()).await?;
        Ok(rmq_protocol::body::from_fastjson(&resp.body)?)
    }

    /// The leader's address, as `controller` names it.
    async fn controller_leader(&self, controller: &str) -> Result<String, ClientError> {
        let meta = self.controller_metadata(controller).await?;
        meta.controller_leader_address
            .filter(|a| !a.is_empty())
            .ok_or_else(|| {
                ClientError::InvalidArgument(format!("the controller at {controller} knows no leader"))
            })
    }

    /// GET_SYNC_STATE_DATA of the named groups, from the leader.
    pub async fn sync_state_data(
        &self,
        controller: &str,
        broker_names: &[String],
    ) -> Result<BrokerReplicasInfo, ClientError> {
        let leader = self.controller_leader(controller).await?;
        let cmd = self
            .client
            .request(request_code::CONTROLLER_GET_SYNC_STATE_DATA)
            .with_body(body::to_json(&broker_names));
        let resp = self.client.invoke_ok(&leader, cmd, self.timeout()).await?;
        Ok(body::from_fastjson(&resp.body)?)
    }

    /// ELECT_MASTER as an admin (`designateElect`): `broker_id` becomes master or nothing changes.
    pub async fn elect_master(
        &self,
        controller: &str,
        cluster: &str,
        broker_name: &str,
        broker_id: i64,
    ) -> Result<ElectedMaster, ClientError> {
        let leader = self.controller_leader(controller).await?;
        let cmd = self
            .client
            .request(request_code::CONTROLLER_ELECT_MASTER)
            .with_header(&ElectMasterRequestHeader {
                cluster_name: Some(cluster.to_string()),
                broker_name: Some(broker_name.to_string()),
                broker_id: Some(broker_id),
                designate_elect: Some(true),
                invoke_time: Some(rmq_protocol::time::now_ms()),
            });
        let resp = self.client.invoke_ok(&leader, cmd, self.timeout()).await?;
        Ok(ElectedMaster {
            header: resp.header()?,
            body: if resp.body.is_empty() {
                ElectMasterResponseBody::default()
            } else {
                body::from_fastjson(&resp.body)?
            },
        })
    }

    /// CLEAN_BROKER_DATA on the leader.
    pub async fn clean_broker_metadata(
        &self,
        controller: &str,
        header: CleanControllerBrokerDataRequestHeader,
    ) -> Result<(), ClientError> {
        let leader = self.controller_leader(controller).await?;
        let cmd = self
            .client
            .request(request_code::CLEAN_BROKER_DATA)
            .with_header(&header);
        self.client.invoke_ok(&leader, cmd, self.timeout()).await?;
        Ok(())
    }

    /// GET_CONTROLLER_CONFIG of one controller, as its `key=value` pairs in the order sent.
    pub async fn controller_config(&self, controller: &str) -> Result<Vec<(String, String)>, ClientError> {
        let cmd = self.client.request(request_code::GET_CONTROLLER_CONFIG);
        let resp = self.client.invoke_ok(controller, cmd, self.timeout()).await?;
        Ok(String::from_utf8_lossy(&resp.body)
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect())
    }

    /// UPDATE_CONTROLLER_CONFIG of one controller.
    pub async fn update_controller_config(
        &self,
        controller: &str,
        key: &str,
        value: &str,
    ) -> Result<(), ClientError> {
        let text = properties::format([(key, value)]);
        let cmd = self
            .client
            .request(request_code::UPDATE_CONTROLLER_CONFIG)
            .with_body(text.into_bytes());
        self.client.invoke_ok(controller, cmd, self.timeout()).await?;
        Ok(())
    }
}
