//! [`Client`]: the machinery shared by [`crate::Producer`] and [`crate::Admin`] — the connection
//! pool, name-server failover, the route and broker-address tables, and response checking.
//!
//! Lock order: `routes` and `brokers` are never held together, and no lock is held across an
//! `.await`.

use parking_lot::Mutex;
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rmq_protocol::body::{self, TopicRouteData, MASTER_ID};
use rmq_protocol::codes::{request_code, response_code};
use rmq_protocol::header::GetRouteInfoRequestHeader;
use rmq_protocol::RemotingCommand;
use rmq_remoting::RemotingClient;

use crate::config::ClientConfig;
use crate::ClientError;

/// Timeout of name-server and admin requests (Java `MQClientAPIImpl` uses 3 s for most).
pub(crate) const DEFAULT_TIMEOUT: Duration = Duration::from_millis(3000);

pub(crate) struct Client {
    pub config: ClientConfig,
    pub client_id: String,
    pub remoting: RemotingClient,
    /// Index into `config.namesrv_addr` of the name server in use; moves on after a failure.
    namesrv_index: AtomicUsize,
    /// Last route fetched per topic.
    routes: Mutex<HashMap<String, TopicRouteData>>,
    /// brokerName → brokerId → address, merged from every route seen.
    brokers: Mutex<HashMap<String, BTreeMap<i64, String>>>,
    /// `pullFromWhichNodeTable`: the broker id each queue's last pull response suggested.
    pull_from: Mutex<HashMap<crate::MessageQueue, i64>>,
}

impl Client {
    pub fn new(config: ClientConfig) -> Self {
        let client_id = config.client_id();
        Self::with_remoting(config, client_id, RemotingClient::new())
    }

    /// A client with a given id and transport (consumers serve broker → client requests).
    pub fn with_remoting(config: ClientConfig, client_id: String, remoting: RemotingClient) -> Self {
        // As Java's MQClientAPIImpl: one setting for name server and broker connections.
        let remoting = match (&config.tls, config.use_tls) {
            (Some(tls), _) => remoting.with_tls(Some(tls.clone())),
            (None, true) => remoting.with_tls(Some(rmq_remoting::ClientTls::trust_any())),
            (None, false) => remoting,
        };
        let remoting = match &config.credentials {
            Some(creds) => remoting.with_hook(Arc::new(rmq_remoting::SignRequests::new(creds.clone()))),
            None => remoting,
        };
        Client {
            client_id,
            config,
            remoting,
            namesrv_index: AtomicUsize::new(0),
            routes: Mutex::new(HashMap::new()),
            brokers: Mutex::new(HashMap::new()),
            pull_from: Mutex::new(HashMap::new()),
        }
    }

    /// A request with this client's language code.
    pub fn request(&self, code: i32) -> RemotingCommand {
        let mut cmd = RemotingCommand::request(code);
        cmd.language = self.config.language;
        cmd
    }

    /// Sends `cmd` and returns the response whatever its code.
    pub async fn invoke(
        &self,
        addr: &str,
        cmd: RemotingCommand,
        timeout: Duration,
    ) -> Result<RemotingCommand, ClientError> {
        self.remoting
            .invoke(addr, cmd, timeout)
            .await
            .map_err(|e| ClientError::remoting(addr, e))
    }

    /// Sends `cmd`; a non-SUCCESS response becomes [`ClientError::Broker`].
    pub async fn invoke_ok(
        &self,
        addr: &str,
        cmd: RemotingCommand,
        timeout: Duration,
    ) -> Result<RemotingCommand, ClientError> {
        check(self.invoke(addr, cmd, timeout).await?)
    }

    pub async fn invoke_oneway(&self, addr: &str, cmd: RemotingCommand) -> Result<(), ClientError> {
        self.remoting
            .invoke_oneway(addr, cmd)
            .await
            .map_err(|e| ClientError::remoting(addr, e))
    }

    /// Sends `cmd` to a name server, trying the next one after a transport error. Server answers
    /// (any code) are returned as they are.
    pub async fn invoke_namesrv(&self, cmd: RemotingCommand) -> Result<RemotingCommand, ClientError> {
        let addrs = &self.config.namesrv_addr;
        if addrs.is_empty() {
            return Err(ClientError::NoNameServer);
        }
        let start = self.namesrv_index.load(Ordering::Relaxed);
        let mut last_err = ClientError::NoNameServer;
        for i in 0..addrs.len() {
            let index = (start + i) % addrs.len();
            match self.invoke(&addrs[index], cmd.clone(), DEFAULT_TIMEOUT).await {
                Ok(resp) => {
                    self.namesrv_index.store(index, Ordering::Relaxed);
                    return Ok(resp);
                }
                Err(e) => {
                    tracing::warn!(namesrv = %addrs[index], error = %e, "name server request failed");
                    last_err = e;
                }
            }
        }
        Err(last_err)
    }

    /// GET_ROUTEINFO_BY_TOPIC. The route is remembered (and its broker addresses merged) on
    /// success. TOPIC_NOT_EXIST comes back as [`ClientError::Broker`].
    pub async fn fetch_route(&self, topic: &str) -> Result<TopicRouteData, ClientError> {
        let header = GetRouteInfoRequestHeader {
            topic: topic.to_owned(),
            accept_standard_json_only: None,
        };
        let cmd = self
            .request(request_code::GET_ROUTEINFO_BY_TOPIC)
            .with_header(&header);
        let resp = check(self.invoke_namesrv(cmd).await?)?;
        let route: TopicRouteData = body::from_fastjson(&resp.body)?;
        self.remember_route(topic, &route);
        Ok(route)
    }

    pub fn remember_route(&self, topic: &str, route: &TopicRouteData) {
        {
            let mut brokers = self.brokers.lock();
            for bd in &route.broker_datas {
                let addrs = brokers.entry(bd.broker_name.clone()).or_default();
                addrs.clear();
                addrs.extend(bd.broker_addrs.iter().map(|(id, a)| (*id, a.clone())));
            }
        }
        self.routes.lock().insert(topic.to_owned(), route.clone());
    }

    /// The master address of `broker_name`, from the routes seen so far.
    pub fn master_addr(&self, broker_name: &str) -> Option<String> {
        self.brokers
            .lock()
            .get(broker_name)
            .and_then(|ids| ids.get(&MASTER_ID))
            .cloned()
    }

    /// The master of `mq`'s broker, fetching `mq.topic`'s route when the broker is not known yet.
    pub async fn master_addr_or_fetch(&self, mq: &crate::MessageQueue) -> Result<String, ClientError> {
        if let Some(addr) = self.master_addr(&mq.broker_name) {
            return Ok(addr);
        }
        self.fetch_route(&mq.topic).await?;
        self.master_addr(&mq.broker_name)
            .ok_or_else(|| ClientError::NoBrokerAddr(mq.broker_name.clone()))
    }

    /// `findBrokerAddressInSubscribe`: broker `id` of `broker_name`; for a missing slave id the
    /// next one; then (unless `only_this`) any address of that broker name, lowest id first.
    /// Returns the address and whether it is a slave.
    pub fn find_broker_in_subscribe(
        &self,
        broker_name: &str,
        id: i64,
        only_this: bool,
    ) -> Option<(String, bool)> {
        let brokers = self.brokers.lock();
        let ids = brokers.get(broker_name).filter(|ids| !ids.is_empty())?;
        if let Some(a) = ids.get(&id) {
            return Some((a.clone(), id != MASTER_ID));
        }
        if id != MASTER_ID {
            if let Some(a) = ids.get(&(id + 1)) {
                return Some((a.clone(), true));
            }
        }
        if only_this {
            return None;
        }
        ids.iter().next().map(|(i, a)| (a.clone(), *i != MASTER_ID))
    }

    /// Where the next pull of `mq` goes: the suggested broker (master by default), else any
    /// broker of that name — so a slave serves while the master is gone. Fetches the route
    /// when the broker is unknown. Returns the address and whether it is a slave.
    pub async fn pull_addr(&self, mq: &crate::MessageQueue) -> Result<(String, bool), ClientError> {
        let id = self.pull_from.lock().get(mq).copied().unwrap_or(MASTER_ID);
        if let Some(found) = self.find_broker_in_subscribe(&mq.broker_name, id, false) {
            return Ok(found);
        }
        self.fetch_route(&mq.topic).await?;
        self.find_broker_in_subscribe(&mq.broker_name, id, false)
            .ok_or_else(|| ClientError::NoBrokerAddr(mq.broker_name.clone()))
    }

    /// Remembers the broker id a pull response suggested for `mq`.
    pub fn suggest_pull_from(&self, mq: &crate::MessageQueue, broker_id: i64) {
        self.pull_from.lock().insert(mq.clone(), broker_id);
    }

    /// `findBrokerAddressInAdmin` with a route refresh: the master of `mq`'s broker if known,
    /// else any of its slaves (consumer offsets go there while the master is down).
    pub async fn admin_addr_or_fetch(&self, mq: &crate::MessageQueue) -> Result<String, ClientError> {
        if let Some((addr, _)) = self.find_broker_in_subscribe(&mq.broker_name, MASTER_ID, false) {
            return Ok(addr);
        }
        self.fetch_route(&mq.topic).await?;
        self.find_broker_in_subscribe(&mq.broker_name, MASTER_ID, false)
            .map(|(addr, _)| addr)
            .ok_or_else(|| ClientError::NoBrokerAddr(mq.broker_name.clone()))
    }

    /// Every master address known (heartbeat targets).
    pub fn master_addrs(&self) -> Vec<String> {
        self.brokers
            .lock()
            .values()
            .filter_map(|ids| ids.get(&MASTER_ID).cloned())
            .collect()
    }

    /// Every broker address known, masters and slaves (unregister targets).
    pub fn all_broker_addrs(&self) -> Vec<String> {
        let mut addrs: Vec<String> = self
            .brokers
            .lock()
            .values()
            .flat_map(|ids| ids.values().cloned())
            .collect();
        addrs.sort();
        addrs.dedup();
        addrs
    }
}

impl Drop for Client {
    /// Connections are not shared with anyone else; close them with their owner.
    fn drop(&mut self) {
        self.remoting.close_all();
    }
}

/// A non-SUCCESS response as [`ClientError::Broker`].
pub(crate) fn check(resp: RemotingCommand) -> Result<RemotingCommand, ClientError> {
    if resp.code == response_code::SUCCESS {
        Ok(resp)
    } else {
        Err(broker_error(&resp))
    }
}

pub(crate) fn broker_error(resp: &RemotingCommand) -> ClientError {
    ClientError::Broker {
        code: resp.code,
        remark: resp.remark.clone().unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rmq_protocol::body::BrokerData;

    fn client_with(addrs: &[(i64, &str)]) -> Client {
        let c = Client::new(ClientConfig::default());
        let route = TopicRouteData {
            broker_datas: vec![BrokerData {
                cluster: "C".into(),
                broker_name: "b".into(),
                broker_addrs: addrs.iter().map(|(i, a)| (*i, a.to_string())).collect(),
                ..Default::default()
            }],
            ..Default::default()
        };
        c.remember_route("T", &route);
        c
    }

    #[test]
    fn find_broker_in_subscribe_like_java() {
        let c = client_with(&[(0, "m:1"), (1, "s:1")]);
        assert_eq!(
            c.find_broker_in_subscribe("b", 0, false),
            Some(("m:1".into(), false))
        );
        assert_eq!(
            c.find_broker_in_subscribe("b", 1, false),
            Some(("s:1".into(), true))
        );
        // A missing slave id tries the next one, then (if allowed) any address.
        let c = client_with(&[(0, "m:1"), (2, "s:2")]);
        assert_eq!(
            c.find_broker_in_subscribe("b", 1, true),
            Some(("s:2".into(), true))
        );
        assert_eq!(c.find_broker_in_subscribe("b", 5, true), None);
        assert_eq!(
            c.find_broker_in_subscribe("b", 5, false),
            Some(("m:1".into(), false))
        );
        // The master gone from the route: pulls and offsets go to the slave.
        let c = client_with(&[(1, "s:1")]);
        assert_eq!(c.find_broker_in_subscribe("b", 0, true), None);
        assert_eq!(
            c.find_broker_in_subscribe("b", 0, false),
            Some(("s:1".into(), true))
        );
        assert_eq!(c.find_broker_in_subscribe("other", 0, false), None);
    }
}
