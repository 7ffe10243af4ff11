//! ACL 2.0 in a running server (docs/broker/acl.md#acl-20), broker or name server:
//! `authenticationEnabled` checks who signed each request, `authorizationEnabled` what that user
//! may do; the users and ACLs live in `users.json` / `acls.json` under `authConfigPath` and change
//! through the AUTH_* admin codes ([`super::admin`]). Independent of ACL 1.0 (`aclEnable`).

use std::collections::HashSet;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;

use parking_lot::{Mutex, RwLock};
use rmq_protocol::RemotingCommand;

use super::authz;
use super::model::{Acl, AclInfo, PolicyType, Resource, User, UserInfo, UserType};
use super::{AuthData, AuthFiles};
use crate::{AclError, Denied, Request};

/// The ACL 2.0 keys of broker.conf and the name server's properties (Java `AuthConfig`).
#[derive(Debug, Clone, Default)]
pub struct AuthSettings {
    pub authentication_enabled: bool,
    pub authorization_enabled: bool,
    /// Request codes exempt from authentication (`authenticationWhitelist`, comma list).
    pub authentication_whitelist: HashSet<i32>,
    /// Request codes exempt from authorization.
    pub authorization_whitelist: HashSet<i32>,
    /// gRPC requests exempt from authentication: the whitelist's entries that are not numbers,
    /// full protobuf names as Java compares them (`apache.rocketmq.v2.QueryRouteRequest`).
    pub authentication_whitelist_rpcs: HashSet<String>,
    /// gRPC requests exempt from authorization.
    pub authorization_whitelist_rpcs: HashSet<String>,
    /// `initAuthenticationUser`: `{"username":..,"password":..}`, a super user made at start.
    pub init_authentication_user: Option<String>,
    /// `innerClientAuthenticationCredentials`: `{"accessKey":..,"secretKey":..}` the broker
    /// signs its own requests with (to the name servers and its master).
    pub inner_client_credentials: Option<String>,
    /// `migrateAuthFromV1Enabled`: users and ACLs from plain_acl.yml at start.
    pub migrate_from_v1: bool,
    /// `authConfigPath`: where users.json and acls.json live (default: the server's choice,
    /// `<storePathRootDir>/config/auth` for a broker).
    pub config_path: Option<PathBuf>,
}

impl AuthSettings {
    pub fn enabled(&self) -> bool {
        self.authentication_enabled || self.authorization_enabled
    }

    /// Applies one broker.conf key; false if it is not one of these.
    pub fn apply(&mut self, key: &str, value: &str) -> bool {
        let codes = |v: &str| {
            v.split(',')
                .filter_map(|c| c.trim().parse::<i32>().ok())
                .collect()
        };
        let rpcs = |v: &str| {
            v.split(',')
                .map(str::trim)
                .filter(|c| !c.is_empty() && c.parse::<i32>().is_err())
                .map(str::to_string)
                .collect()
        };
        let b = |v: &str| matches!(v.trim(), "true" | "1");
        let text = |v: &str| Some(v.trim().to_string()).filter(|s| !s.is_empty());
        match key {
            "authenticationEnabled" => self.authentication_enabled = b(value),
            "authorizationEnabled" => self.authorization_enabled = b(value),
            "authenticationWhitelist" => {
                self.authentication_whitelist = codes(value);
                self.authentication_whitelist_rpcs = rpcs(value);
            }
            "authorizationWhitelist" => {
                self.authorization_whitelist = codes(value);
                self.authorization_whitelist_rpcs = rpcs(value);
            }
            "initAuthenticationUser" => self.init_authentication_user = text(value),
            "innerClientAuthenticationCredentials" => self.inner_client_credentials = text(value),
            "migrateAuthFromV1Enabled" => self.migrate_from_v1 = b(value),
            "authConfigPath" => self.config_path = text(value).map(PathBuf::from),
            // Java class names of the pluggable parts: rmq has one implementation of each.
            "authenticationProvider"
            | "authenticationMetadataProvider"
            | "authenticationStrategy"
            | "authorizationProvider"
            | "authorizationMetadataProvider"
            | "authorizationStrategy" => {}
            _ => return false,
        }
        true
    }

    /// The broker's own credentials, from `innerClientAuthenticationCredentials`.
    pub fn inner_credentials(&self) -> Result<Option<crate::Credentials>, AclError> {
        let Some(text) = &self.inner_client_credentials else {
            return Ok(None);
        };
        #[derive(serde::Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Inner {
            access_key: String,
            secret_key: String,
        }
        let inner: Inner = serde_json::from_str(text).map_err(|e| {
            AclError::Invalid(format!(
                "innerClientAuthenticationCredentials is not {{\"accessKey\":..,\"secretKey\":..}}: {e}"
            ))
        })?;
        Ok(Some(crate::Credentials::new(inner.access_key, inner.secret_key)))
    }
}

/// Why an AUTH_* admin request failed: NO_PERMISSION (Java's Authentication/Authorization
/// exceptions) or SYSTEM_ERROR.
#[derive(Debug, thiserror::Error)]
pub enum AuthEditError {
    #[error("{0}")]
    Refused(String),
    #[error("{0}")]
    Failed(String),
}

impl From<AclError> for AuthEditError {
    fn from(e: AclError) -> Self {
        match e {
            AclError::Io { .. } => AuthEditError::Failed(e.to_string()),
            other => AuthEditError::Refused(other.to_string()),
        }
    }
}

pub struct AuthService {
    settings: AuthSettings,
    cluster: String,
    files: AuthFiles,
    data: RwLock<Arc<AuthData>>,
    editing: Mutex<()>,
}

impl AuthService {
    /// Loads the users and ACLs (from `authConfigPath`, else `default_dir`), creates the init
    /// user and migrates the plain_acl.yml accounts under `rocketmq_home` when asked, and saves
    /// the result. `cluster` names the `Cluster:` resource of cluster-wide requests.
    pub fn open(
        settings: AuthSettings,
        cluster: String,
        default_dir: PathBuf,
        rocketmq_home: Option<&std::path::Path>,
    ) -> Result<AuthService, AclError> {
        let dir = settings.config_path.clone().unwrap_or(default_dir);
        let files = AuthFiles::new(dir);
        let mut data = files.load()?;
        let mut changed = false;
        if let Some(init) = &settings.init_authentication_user {
            changed |= data.init_user(init)?;
        }
        if settings.migrate_from_v1 {
            if let Some(home) = rocketmq_home {
                let loaded = crate::load(&crate::AclSource::new(home))?;
                let accounts: Vec<_> = loaded.files.into_iter().flat_map(|(_, f)| f.accounts).collect();
                let migrated = data.migrate_from_v1(&accounts);
                if !migrated.is_empty() {
                    tracing::info!(users = ?migrated, "auth: migrated ACL 1.0 accounts");
                    changed = true;
                }
            }
        }
        if changed {
            files.save(&data)?;
        }
        tracing::info!(
            authentication = settings.authentication_enabled,
            authorization = settings.authorization_enabled,
            users = data.users.len(),
            acls = data.acls.len(),
            "auth: ACL 2.0 enabled"
        );
        Ok(AuthService {
            settings,
            cluster,
            files,
            data: RwLock::new(Arc::new(data)),
            editing: Mutex::new(()),
        })
    }

    pub fn data(&self) -> Arc<AuthData> {
        self.data.read().clone()
    }

    /// Authentication, then authorization, each unless disabled or the code is white-listed.
    pub fn check(&self, req: &RemotingCommand, peer: IpAddr) -> Result<(), Denied> {
        let data = self.data();
        let request = Request {
            code: req.code,
            version: req.version,
            fields: &req.ext_fields,
            body: &req.body,
        };
        if self.settings.authentication_enabled && !self.settings.authentication_whitelist.contains(&req.code)
        {
            authz::authenticate(&data, &request)?;
        }
        if self.settings.authorization_enabled && !self.settings.authorization_whitelist.contains(&req.code) {
            authz::authorize(&data, &request, &self.cluster, peer)?;
        }
        Ok(())
    }

    /// Whether gRPC requests named `rpc` are authorized (enabled and not white-listed).
    pub fn authorizes(&self, rpc: &str) -> bool {
        self.settings.authorization_enabled && !self.settings.authorization_whitelist_rpcs.contains(rpc)
    }

    /// The decision for one gRPC request (Java's `AuthenticationPipeline` then
    /// `AuthorizationPipeline`): `rpc` its full protobuf name, `signed` its `authorization`
    /// header, `needs` what the message asks for. Both failures are Java's
    /// AuthenticationException / AuthorizationException texts.
    pub fn check_grpc(
        &self,
        rpc: &str,
        signed: Option<&crate::grpc::Signed>,
        needs: &[authz::Need],
        peer: IpAddr,
    ) -> Result<(), Denied> {
        let data = self.data();
        let username = signed.map(|s| s.access_key.as_str());
        if self.settings.authentication_enabled && !self.settings.authentication_whitelist_rpcs.contains(rpc)
        {
            authz::authenticate_as(&data, username, |user| {
                signed.is_some_and(|s| s.verifies(&crate::sign::SigningKey::new(&user.password)))
            })?;
        }
        if self.authorizes(rpc) {
            authz::authorize_needs(&data, username, needs, peer)?;
        }
        Ok(())
    }

    /// Whether the request is signed by a super user (Java `isNotSuperUserLogin`, inverted: an
    /// unsigned request counts as super, authentication being off).
    pub fn signed_by_super(&self, req: &RemotingCommand) -> bool {
        match req
            .ext_fields
            .get(crate::sign::ACCESS_KEY)
            .filter(|a| !a.is_empty())
        {
            None => true,
            Some(ak) => self
                .data()
                .users
                .get(ak)
                .is_some_and(|u| u.user_type == UserType::Super),
        }
    }

    /// Applies `change` to a copy of the data, saves it, then swaps it in. One edit at a time.
    fn edit<T>(
        &self,
        change: impl FnOnce(&mut AuthData) -> Result<T, AuthEditError>,
    ) -> Result<T, AuthEditError> {
        let _one = self.editing.lock();
        let mut data = (*self.data()).clone();
        let out = change(&mut data)?;
        self.files.save(&data)?;
        *self.data.write() = Arc::new(data);
        Ok(out)
    }

    pub fn create_user(&self, info: &UserInfo, by_super: bool) -> Result<(), AuthEditError> {
        let user = User::from_info(info)?;
        if user.user_type == UserType::Super && !by_super {
            return Err(AuthEditError::Failed(
                "The super user can only be create by super user".into(),
            ));
        }
        self.edit(|d| {
            if d.users.contains_key(&user.username) {
                return Err(AuthEditError::Refused("The user is existed".into()));
            }
            d.users.insert(user.username.clone(), user);
            Ok(())
        })
    }

    pub fn update_user(&self, info: &UserInfo, by_super: bool) -> Result<(), AuthEditError> {
        let name = info.username.clone().unwrap_or_default();
        self.edit(|d| {
            let user = d
                .users
                .get_mut(&name)
                .ok_or_else(|| AuthEditError::Refused("The user is not exist".into()))?;
            let wants_super = info
                .user_type
                .as_deref()
                .is_some_and(|t| t.eq_ignore_ascii_case("super"));
            if (user.user_type == UserType::Super || wants_super) && !by_super {
                return Err(AuthEditError::Refused(
                    "The super user can only be update by super user".into(),
                ));
            }
            user.update(info)?;
            Ok(())
        })
    }

    pub fn delete_user(&self, name: &str, by_super: bool) -> Result<(), AuthEditError> {
        self.edit(|d| {
            if let Some(u) = d.users.get(name) {
                if u.user_type == UserType::Super && !by_super {
                    return Err(AuthEditError::Refused(
                        "The super user can only be update by super user".into(),
                    ));
                }
                d.users.remove(name);
                d.acls.remove(&super::model::user_subject(name));
            }
            Ok(())
        })
    }

    /// CREATE_ACL and UPDATE_ACL alike (Java: both merge into an existing ACL).
    pub fn upsert_acl(&self, info: &AclInfo, subject: Option<&str>) -> Result<(), AuthEditError> {
        let acl = Acl::from_info(info, subject)?;
        self.edit(|d| {
            let user = super::model::subject_user(&acl.subject).unwrap_or_default();
            if !d.users.contains_key(user) {
                return Err(AuthEditError::Refused(format!(
                    "The subject of {} is not exist.",
                    acl.subject
                )));
            }
            match d.acls.get_mut(&acl.subject) {
                Some(old) => old.merge(acl),
                None => {
                    d.acls.insert(acl.subject.clone(), acl);
                }
            }
            Ok(())
        })
    }

    pub fn delete_acl(
        &self,
        subject: &str,
        policy_type: Option<&str>,
        resource: Option<&str>,
    ) -> Result<(), AuthEditError> {
        let policy_type = match policy_type.filter(|p| !p.trim().is_empty()) {
            None => PolicyType::Custom,
            Some(p) => PolicyType::parse(p)
                .ok_or_else(|| AuthEditError::Refused(format!("policy type `{p}` is unknown")))?,
        };
        let resource = resource
            .filter(|r| !r.trim().is_empty())
            .map(Resource::parse)
            .transpose()?;
        self.edit(|d| {
            let user = super::model::subject_user(subject).unwrap_or_default();
            if !d.users.contains_key(user) {
                return Err(AuthEditError::Refused("The subject is not exist.".into()));
            }
            let acl = d
                .acls
                .get_mut(subject)
                .ok_or_else(|| AuthEditError::Refused("The acl is not exist.".into()))?;
            match resource {
                Some(r) => {
                    acl.delete(policy_type, &r);
                    if acl.policies.is_empty() {
                        d.acls.remove(subject);
                    }
                }
                None => {
                    d.acls.remove(subject);
                }
            }
            Ok(())
        })
    }
}
