//! The ACL 1.0 management requests (`mqadmin updateAclConfig`, `deleteAclConfig`,
//! `updateGlobalWhiteAddr`, `clusterAclConfigVersion`, `getAclConfig`; docs/broker/acl.md).

use std::collections::BTreeMap;

use rmq_acl::AccountConfig;
use rmq_protocol::codes::request_code;
use serde::Deserialize;

use super::{master_addrs_of_cluster, Admin};
use crate::ClientError;

/// GET_BROKER_CLUSTER_ACL_CONFIG's body (4.9).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ClusterAclConfig {
    pub global_white_addrs: Vec<String>,
    pub plain_access_configs: Vec<AccountConfig>,
}

impl Admin {
    /// The master of every broker group of `cluster`.
    pub async fn cluster_masters(&self, cluster: &str) -> Result<Vec<String>, ClientError> {
        master_addrs_of_cluster(&self.cluster_info().await?, cluster)
    }

    /// UPDATE_AND_CREATE_ACL_CONFIG: creates or replaces an account.
    pub async fn update_acl_config(
        &self,
        broker_addr: &str,
        account: &AccountConfig,
    ) -> Result<(), ClientError> {
        let mut cmd = self.client.request(request_code::UPDATE_AND_CREATE_ACL_CONFIG);
        let f = &mut cmd.ext_fields;
        let mut put = |k: &str, v: Option<String>| {
            if let Some(v) = v {
                f.insert(k.to_string(), v);
            }
        };
        put("accessKey", account.access_key.clone());
        put("secretKey", account.secret_key.clone());
        put("whiteRemoteAddress", account.white_remote_address.clone());
        put("defaultTopicPerm", account.default_topic_perm.clone());
        put("defaultGroupPerm", account.default_group_perm.clone());
        put("admin", Some(account.admin.to_string()));
        put(
            "topicPerms",
            (!account.topic_perms.is_empty()).then(|| account.topic_perms.join(",")),
        );
        put(
            "groupPerms",
            (!account.group_perms.is_empty()).then(|| account.group_perms.join(",")),
        );
        self.client.invoke_ok(broker_addr, cmd, self.timeout()).await?;
        Ok(())
    }

    /// DELETE_ACL_CONFIG.
    pub async fn delete_acl_config(&self, broker_addr: &str, access_key: &str) -> Result<(), ClientError> {
        let mut cmd = self.client.request(request_code::DELETE_ACL_CONFIG);
        cmd.ext_fields.insert("accessKey".into(), access_key.into());
        self.client.invoke_ok(broker_addr, cmd, self.timeout()).await?;
        Ok(())
    }

    /// UPDATE_GLOBAL_WHITE_ADDRS_CONFIG: replaces the global white list (of `file`, else of
    /// `plain_acl.yml`).
    pub async fn update_global_white_addrs(
        &self,
        broker_addr: &str,
        addrs: &[String],
        file: Option<&str>,
    ) -> Result<(), ClientError> {
        let mut cmd = self
            .client
            .request(request_code::UPDATE_GLOBAL_WHITE_ADDRS_CONFIG);
        cmd.ext_fields.insert("globalWhiteAddrs".into(), addrs.join(","));
        if let Some(f) = file {
            cmd.ext_fields.insert("aclFileFullPath".into(), f.into());
        }
        self.client.invoke_ok(broker_addr, cmd, self.timeout()).await?;
        Ok(())
    }

    /// GET_BROKER_CLUSTER_ACL_INFO: the response header (`version`, `allAclFileVersion`,
    /// `brokerName`, `brokerAddr`, `clusterName`).
    pub async fn acl_version_info(&self, broker_addr: &str) -> Result<BTreeMap<String, String>, ClientError> {
        let cmd = self.client.request(request_code::GET_BROKER_CLUSTER_ACL_INFO);
        let resp = self.client.invoke_ok(broker_addr, cmd, self.timeout()).await?;
        Ok(resp.ext_fields.into_iter().collect())
    }

    /// GET_BROKER_CLUSTER_ACL_CONFIG (4.9; an admin account on rmq).
    pub async fn acl_config(&self, broker_addr: &str) -> Result<ClusterAclConfig, ClientError> {
        let cmd = self.client.request(request_code::GET_BROKER_CLUSTER_ACL_CONFIG);
        let resp = self.client.invoke_ok(broker_addr, cmd, self.timeout()).await?;
        rmq_protocol::body::from_fastjson(&resp.body).map_err(ClientError::from)
    }
}
