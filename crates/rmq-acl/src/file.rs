//! The `plain_acl.yml` format users already have (Java 4.9 `distribution/conf/plain_acl.yml`,
//! `PlainAccessConfig`), read liberally: missing or null lists are empty, `admin` may be a
//! boolean or a string, unknown keys are ignored.

use serde::{Deserialize, Deserializer, Serialize};

/// One ACL file.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct AclFile {
    #[serde(deserialize_with = "null_default")]
    pub global_white_remote_addresses: Vec<String>,
    #[serde(deserialize_with = "null_default")]
    pub accounts: Vec<AccountConfig>,
    #[serde(deserialize_with = "null_default", skip_serializing_if = "Vec::is_empty")]
    pub data_version: Vec<DataVersion>,
}

/// One account (`PlainAccessConfig`).
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct AccountConfig {
    #[serde(deserialize_with = "lenient_string")]
    pub access_key: Option<String>,
    #[serde(deserialize_with = "lenient_string")]
    pub secret_key: Option<String>,
    #[serde(deserialize_with = "lenient_string", skip_serializing_if = "Option::is_none")]
    pub white_remote_address: Option<String>,
    #[serde(deserialize_with = "lenient_bool")]
    pub admin: bool,
    #[serde(deserialize_with = "lenient_string", skip_serializing_if = "Option::is_none")]
    pub default_topic_perm: Option<String>,
    #[serde(deserialize_with = "lenient_string", skip_serializing_if = "Option::is_none")]
    pub default_group_perm: Option<String>,
    #[serde(deserialize_with = "null_default", skip_serializing_if = "Vec::is_empty")]
    pub topic_perms: Vec<String>,
    #[serde(deserialize_with = "null_default", skip_serializing_if = "Vec::is_empty")]
    pub group_perms: Vec<String>,
}

/// `dataVersion` entries Java writes back on every change.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default)]
pub struct DataVersion {
    pub timestamp: i64,
    pub counter: i64,
}

impl AclFile {
    /// Parses one file's text. An empty file is an empty configuration.
    pub fn parse(text: &str) -> Result<AclFile, serde_yaml::Error> {
        if text.trim().is_empty() {
            return Ok(AclFile::default());
        }
        let parsed: Option<AclFile> = serde_yaml::from_str(text)?;
        Ok(parsed.unwrap_or_default())
    }

    pub fn to_yaml(&self) -> Result<String, serde_yaml::Error> {
        serde_yaml::to_string(self)
    }
}

fn null_default<'de, D: Deserializer<'de>, T: Deserialize<'de> + Default>(d: D) -> Result<T, D::Error> {
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// Scalars as text: YAML reads `secretKey: 12345678` as a number.
fn lenient_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    use serde::de::Error;
    Ok(match serde_yaml::Value::deserialize(d)? {
        serde_yaml::Value::Null => None,
        serde_yaml::Value::String(s) => Some(s),
        serde_yaml::Value::Number(n) => Some(n.to_string()),
        serde_yaml::Value::Bool(b) => Some(b.to_string()),
        other => return Err(D::Error::custom(format!("expected a scalar, got {other:?}"))),
    })
}

fn lenient_bool<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    use serde::de::Error;
    match serde_yaml::Value::deserialize(d)? {
        serde_yaml::Value::Null => Ok(false),
        serde_yaml::Value::Bool(b) => Ok(b),
        serde_yaml::Value::String(s) => Ok(s.trim().eq_ignore_ascii_case("true")),
        serde_yaml::Value::Number(n) => Ok(n.as_f64().is_some_and(|f| f != 0.0)),
        other => Err(D::Error::custom(format!("expected a boolean, got {other:?}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `distribution/conf/plain_acl.yml` of Apache RocketMQ 4.9.7, as shipped.
    const SHIPPED: &str = r#"
globalWhiteRemoteAddresses:
  - 10.10.103.*
  - 192.168.0.*

accounts:
  - accessKey: RocketMQ
    secretKey: 12345678
    whiteRemoteAddress:
    admin: false
    defaultTopicPerm: DENY
    defaultGroupPerm: SUB
    topicPerms:
      - topicA=DENY
      - topicB=PUB|SUB
      - topicC=SUB
    groupPerms:
      # the group should convert to retry topic
      - groupA=DENY
      - groupB=PUB|SUB
      - groupC=SUB

  - accessKey: rocketmq2
    secretKey: 12345678
    whiteRemoteAddress: 192.168.1.*
    # if it is admin, it could access all resources
    admin: true
"#;

    #[test]
    fn reads_the_shipped_file() {
        let f = AclFile::parse(SHIPPED).expect("parses");
        assert_eq!(f.global_white_remote_addresses, ["10.10.103.*", "192.168.0.*"]);
        assert_eq!(f.accounts.len(), 2);
        let a = &f.accounts[0];
        assert_eq!(a.secret_key.as_deref(), Some("12345678"));
        assert_eq!(a.white_remote_address, None);
        assert_eq!(a.topic_perms, ["topicA=DENY", "topicB=PUB|SUB", "topicC=SUB"]);
        assert!(f.accounts[1].admin);
        assert!(f.accounts[1].group_perms.is_empty());
    }

    #[test]
    fn empty_and_null_files() {
        assert_eq!(AclFile::parse("").expect("empty"), AclFile::default());
        assert_eq!(AclFile::parse("accounts:\n").expect("null"), AclFile::default());
        assert!(AclFile::parse("accounts: [").is_err());
        assert!(AclFile::parse("accounts: 3").is_err());
    }

    #[test]
    fn writes_back_what_it_reads() {
        let f = AclFile::parse(SHIPPED).expect("parses");
        let again = AclFile::parse(&f.to_yaml().expect("writes")).expect("reparses");
        assert_eq!(f, again);
    }
}
