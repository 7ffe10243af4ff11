//! `--access-key` / `--secret-key`: ACL 1.0 credentials for every client command.

use clap::Args;
use rmq_client::Credentials;

#[derive(Args, Clone, Debug, Default)]
pub struct AclArgs {
    /// ACL access key: sign every request as the Java client's AclClientRPCHook does
    /// (or env RMQ_ACCESS_KEY).
    #[arg(id = "acl_access_key", long = "access-key", requires = "acl_secret_key")]
    pub access_key: Option<String>,
    /// ACL secret key (or env RMQ_SECRET_KEY).
    #[arg(id = "acl_secret_key", long = "secret-key")]
    pub secret_key: Option<String>,
}

impl AclArgs {
    /// The credentials from the flags, else from RMQ_ACCESS_KEY / RMQ_SECRET_KEY.
    pub fn credentials(&self) -> Option<Credentials> {
        let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let ak = self.access_key.clone().or_else(|| env("RMQ_ACCESS_KEY"))?;
        let sk = self.secret_key.clone().or_else(|| env("RMQ_SECRET_KEY"))?;
        Some(Credentials::new(ak, sk))
    }
}
