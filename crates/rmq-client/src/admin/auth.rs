//! The ACL 2.0 admin requests (5.x `mqadmin createUser` .. `listAcl`; docs/broker/acl.md#acl-20).

use rmq_acl::v2::model::{AclInfo, PolicyEntryInfo, PolicyInfo, UserInfo};
use rmq_protocol::codes::request_code;
use rmq_protocol::RemotingCommand;

use super::Admin;
use crate::ClientError;

impl Admin {
    /// Every broker (masters and slaves) of `cluster`, as the 5.x auth commands address them.
    pub async fn cluster_brokers(&self, cluster: &str) -> Result<Vec<String>, ClientError> {
        super::addrs_of_cluster(&self.cluster_info().await?, cluster, false)
    }

    async fn auth_call(
        &self,
        addr: &str,
        code: i32,
        fields: &[(&str, &str)],
        body: Option<Vec<u8>>,
    ) -> Result<RemotingCommand, ClientError> {
        let mut cmd = self.client.request(code);
        for (k, v) in fields {
            if !v.is_empty() {
                cmd.ext_fields.insert((*k).to_string(), (*v).to_string());
            }
        }
        if let Some(b) = body {
            cmd = cmd.with_body(b);
        }
        self.client.invoke_ok(addr, cmd, self.timeout()).await
    }

    fn json(value: &impl serde::Serialize) -> Result<Vec<u8>, ClientError> {
        serde_json::to_vec(value).map_err(|e| ClientError::InvalidArgument(e.to_string()))
    }

    /// AUTH_CREATE_USER.
    pub async fn create_user(&self, addr: &str, user: &UserInfo) -> Result<(), ClientError> {
        let name = user.username.clone().unwrap_or_default();
        self.auth_call(
            addr,
            request_code::AUTH_CREATE_USER,
            &[("username", &name)],
            Some(Self::json(user)?),
        )
        .await?;
        Ok(())
    }

    /// AUTH_UPDATE_USER.
    pub async fn update_user(&self, addr: &str, user: &UserInfo) -> Result<(), ClientError> {
        let name = user.username.clone().unwrap_or_default();
        self.auth_call(
            addr,
            request_code::AUTH_UPDATE_USER,
            &[("username", &name)],
            Some(Self::json(user)?),
        )
        .await?;
        Ok(())
    }

    /// AUTH_DELETE_USER.
    pub async fn delete_user(&self, addr: &str, username: &str) -> Result<(), ClientError> {
        self.auth_call(
            addr,
            request_code::AUTH_DELETE_USER,
            &[("username", username)],
            None,
        )
        .await?;
        Ok(())
    }

    /// AUTH_GET_USER: `None` when there is no such user.
    pub async fn get_user(&self, addr: &str, username: &str) -> Result<Option<UserInfo>, ClientError> {
        let resp = self
            .auth_call(addr, request_code::AUTH_GET_USER, &[("username", username)], None)
            .await?;
        if resp.body.is_empty() {
            return Ok(None);
        }
        Ok(Some(rmq_protocol::body::from_fastjson(&resp.body)?))
    }

    /// AUTH_LIST_USER: users whose name contains `filter`.
    pub async fn list_users(&self, addr: &str, filter: &str) -> Result<Vec<UserInfo>, ClientError> {
        let resp = self
            .auth_call(addr, request_code::AUTH_LIST_USER, &[("filter", filter)], None)
            .await?;
        if resp.body.is_empty() {
            return Ok(Vec::new());
        }
        Ok(rmq_protocol::body::from_fastjson(&resp.body)?)
    }

    /// AUTH_CREATE_ACL (`update`: AUTH_UPDATE_ACL).
    pub async fn put_acl(&self, addr: &str, acl: &AclInfo, update: bool) -> Result<(), ClientError> {
        let code = if update {
            request_code::AUTH_UPDATE_ACL
        } else {
            request_code::AUTH_CREATE_ACL
        };
        let subject = acl.subject.clone().unwrap_or_default();
        self.auth_call(addr, code, &[("subject", &subject)], Some(Self::json(acl)?))
            .await?;
        Ok(())
    }

    /// AUTH_DELETE_ACL: the whole ACL of `subject`, or its entry for `resource`.
    pub async fn delete_acl(
        &self,
        addr: &str,
        subject: &str,
        resource: Option<&str>,
    ) -> Result<(), ClientError> {
        let fields = [("subject", subject), ("resource", resource.unwrap_or(""))];
        self.auth_call(addr, request_code::AUTH_DELETE_ACL, &fields, None)
            .await?;
        Ok(())
    }

    /// AUTH_GET_ACL.
    pub async fn get_acl(&self, addr: &str, subject: &str) -> Result<Option<AclInfo>, ClientError> {
        let resp = self
            .auth_call(addr, request_code::AUTH_GET_ACL, &[("subject", subject)], None)
            .await?;
        if resp.body.is_empty() {
            return Ok(None);
        }
        Ok(Some(rmq_protocol::body::from_fastjson(&resp.body)?))
    }

    /// AUTH_LIST_ACL.
    pub async fn list_acls(
        &self,
        addr: &str,
        subject_filter: &str,
        resource_filter: &str,
    ) -> Result<Vec<AclInfo>, ClientError> {
        let fields = [
            ("subjectFilter", subject_filter),
            ("resourceFilter", resource_filter),
        ];
        let resp = self
            .auth_call(addr, request_code::AUTH_LIST_ACL, &fields, None)
            .await?;
        if resp.body.is_empty() {
            return Ok(Vec::new());
        }
        Ok(rmq_protocol::body::from_fastjson(&resp.body)?)
    }
}

/// `AclInfo.of`: one Custom policy with an entry per resource, all with the same actions,
/// source IPs and decision (what `mqadmin createAcl -r a,b -a Pub,Sub` sends).
pub fn acl_info(
    subject: &str,
    resources: &[String],
    actions: &[String],
    source_ips: &[String],
    decision: &str,
) -> AclInfo {
    AclInfo {
        subject: Some(subject.to_string()),
        policies: vec![PolicyInfo {
            policy_type: None,
            entries: resources
                .iter()
                .map(|r| PolicyEntryInfo {
                    resource: Some(r.clone()),
                    actions: actions.to_vec(),
                    source_ips: source_ips.to_vec(),
                    decision: Some(decision.to_string()),
                })
                .collect(),
        }],
    }
}
