//! The RocketMQ 5.x gRPC protocol (`apache.rocketmq.v2.MessagingService`, docs/protocol/grpc.md)
//! served by the broker itself on `grpcServerPort`, beside the remoting port: no proxy.
//!
//! Each RPC maps onto the broker internals the remoting processors use (a send goes through the
//! same send queue, checks and store path as SEND_MESSAGE_V2); the RocketMQ `Status` travels in
//! the response body, the gRPC status is OK for every handled outcome, as the Proxy answers.
//!
//! Served so far: QueryRoute, Heartbeat, Telemetry (the Settings exchange), SendMessage (normal,
//! FIFO, delay/timer, transactional half messages), NotifyClientTermination, and the consumer
//! RPCs QueryAssignment, ReceiveMessage, AckMessage, ChangeInvisibleDuration and
//! ForwardMessageToDeadLetterQueue (`consume`), EndTransaction and the check-back of orphaned
//! transactions over Telemetry (`transaction`). Beyond the 5.3.1 Proxy: the pull-consumer RPCs
//! (`pull`).

mod auth;
mod consume;
pub mod endpoints;
mod io;
mod message;
mod pull;
mod registry;
pub mod renew;
mod send;
mod settings;
mod transaction;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use parking_lot::Mutex;
use rmq_grpc_proto::tonic::codegen::BoxStream;
use rmq_grpc_proto::tonic::transport::server::TcpIncoming;
use rmq_grpc_proto::tonic::transport::Server;
use rmq_grpc_proto::tonic::{self, Request, Response, Streaming};
use rmq_grpc_proto::v2::messaging_service_server::{MessagingService, MessagingServiceServer};
use rmq_grpc_proto::v2::{self, *};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::BrokerState;
use auth::Refusal;

/// The largest message the server sends (the Proxy's inbound default; a receive batch is bounded
/// far below it by the batch size and the body limit).
const MAX_MESSAGE_BYTES: usize = 130 << 20;

/// A running gRPC server; stops when shut down or dropped.
pub struct GrpcServer {
    local_addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
    /// The auto-renew task (it holds the broker state: stopped with the server).
    renewing: JoinHandle<()>,
}

impl GrpcServer {
    /// Serves `listener` until stopped: plaintext HTTP/2 only, or (with `tls`) TLS as well,
    /// per connection, as `tls.server.mode` says.
    pub fn serve(
        state: Arc<BrokerState>,
        listener: std::net::TcpListener,
        tls: Option<rmq_remoting::ServerTls>,
    ) -> std::io::Result<GrpcServer> {
        listener.set_nonblocking(true)?;
        let listener = tokio::net::TcpListener::from_std(listener)?;
        let local_addr = listener.local_addr()?;
        let max_message = state.config.grpc_max_inbound_message_size;
        let grpc = Grpc::new(state.clone());
        let renewing = tokio::spawn(grpc.renewals.clone().run(state));
        let service = MessagingServiceServer::new(grpc)
            .max_decoding_message_size(max_message)
            .max_encoding_message_size(MAX_MESSAGE_BYTES);
        let (stop, stopped) = oneshot::channel::<()>();
        let with_tls = tls.is_some();
        let task = tokio::spawn(async move {
            let stopped = async {
                let _ = stopped.await;
            };
            let served = match tls {
                Some(tls) => {
                    let incoming = io::incoming(listener, tls.with_alpn(&[b"h2"]));
                    Server::builder()
                        .serve_with_incoming_shutdown(service, incoming, stopped)
                        .await
                }
                None => {
                    let incoming = TcpIncoming::from(listener).with_nodelay(Some(true));
                    Server::builder()
                        .serve_with_incoming_shutdown(service, incoming, stopped)
                        .await
                }
            };
            if let Err(e) = served {
                tracing::error!(error = %e, "gRPC server failed");
            }
        });
        tracing::info!(%local_addr, tls = with_tls, "gRPC (RocketMQ 5.x MessagingService) listening");
        Ok(GrpcServer {
            local_addr,
            stop: Some(stop),
            task,
            renewing,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Stops accepting and ends the open streams.
    pub fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.renewing.abort();
    }
}

impl Drop for GrpcServer {
    fn drop(&mut self) {
        self.stop();
        self.task.abort();
    }
}

/// A client known from its Telemetry settings (`x-mq-client-id`).
#[derive(Debug, Clone)]
pub(crate) struct KnownClient {
    pub(crate) settings: Settings,
    /// Woken when the client says it terminates: its receives still polling end at once (the
    /// SDKs' shutdown waits for them otherwise, up to the 20 s long poll).
    pub(crate) gone: Arc<tokio::sync::Notify>,
    /// Its place in the broker's client registry.
    pub(crate) member: Option<registry::Member>,
}

/// Clients by `x-mq-client-id`, with the settings the server answered them.
pub(crate) type Clients = Arc<Mutex<HashMap<String, KnownClient>>>;

pub(crate) struct Grpc {
    state: Arc<BrokerState>,
    clients: Clients,
    transactions: transaction::Transactions,
    ports: endpoints::GrpcPorts,
    renewals: renew::Renewals,
}

impl Grpc {
    /// A consumer RPC's client and the handles kept for it.
    fn client<'a>(&'a self, id: &'a str) -> consume::Client<'a> {
        consume::Client {
            id,
            renewals: &self.renewals,
        }
    }

    fn new(state: Arc<BrokerState>) -> Grpc {
        Grpc {
            state,
            clients: Arc::default(),
            transactions: transaction::Transactions::default(),
            ports: endpoints::GrpcPorts::default(),
            renewals: renew::Renewals::default(),
        }
    }
}

impl Grpc {
    /// What every RPC passes first, in the Proxy's order: ACL 1.0, ACL 2.0, then the client id
    /// (`CLIENT_ID_REQUIRED`). `Ok` is the client id.
    fn admit<T: auth::Guarded>(&self, request: &Request<T>) -> Result<String, Refusal> {
        // The credentials are read only when something checks them.
        if self.state.acl.is_some() || self.state.auth.is_some() {
            auth::Caller::of(request.metadata(), peer(request).ip()).check(&self.state, request.get_ref())?;
        }
        client_id(request).map_err(Refusal::Body)
    }
}

/// The long-polling context of a receive or pull: the time its deadline leaves (`grpc-timeout`)
/// and the SDK's version (which status codes it knows).
struct Polling {
    remaining: Option<std::time::Duration>,
    version: Option<String>,
}

impl Polling {
    fn of<T>(request: &Request<T>) -> Polling {
        let header = |k: &str| request.metadata().get(k).and_then(|v| v.to_str().ok());
        Polling {
            remaining: header("grpc-timeout").and_then(consume::grpc_timeout),
            version: header("x-mq-client-version").map(str::to_string),
        }
    }
}

/// Completes when the client says it terminates (never for an unknown client).
async fn until_gone(gone: Option<tokio::sync::futures::OwnedNotified>) {
    match gone {
        Some(gone) => gone.await,
        None => std::future::pending().await,
    }
}

/// A server stream of `items`, all at once.
fn streamed<T: Send + 'static>(items: Vec<T>) -> Answer<BoxStream<T>> {
    Ok(Response::new(Box::pin(futures_util::stream::iter(
        items.into_iter().map(Ok),
    ))))
}

/// A unary response that can carry a refusal in its status.
trait Refusable: Default {
    fn set_status(&mut self, status: v2::Status);
}

macro_rules! refusable {
    ($($t:ty),*) => {
        $(impl Refusable for $t {
            fn set_status(&mut self, status: v2::Status) {
                self.status = Some(status);
            }
        })*
    };
}

refusable!(
    QueryRouteResponse,
    HeartbeatResponse,
    SendMessageResponse,
    QueryAssignmentResponse,
    AckMessageResponse,
    ForwardMessageToDeadLetterQueueResponse,
    EndTransactionResponse,
    NotifyClientTerminationResponse,
    ChangeInvisibleDurationResponse,
    UpdateOffsetResponse,
    GetOffsetResponse,
    QueryOffsetResponse
);

/// The answer to a refused unary call.
fn refuse<R: Refusable>(r: Refusal) -> Answer<R> {
    match r {
        Refusal::Body(status) => {
            let mut resp = R::default();
            resp.set_status(status);
            Ok(Response::new(resp))
        }
        Refusal::Call(status) => Err(status),
    }
}

/// `Status{OK, "OK"}`.
pub(crate) fn ok_status() -> v2::Status {
    status(Code::Ok, "OK")
}

pub(crate) fn status(code: Code, message: impl Into<String>) -> v2::Status {
    v2::Status {
        code: code as i32,
        message: message.into(),
    }
}

/// The `x-mq-client-id` header, required on every RPC (`CLIENT_ID_REQUIRED`).
fn client_id<T>(req: &Request<T>) -> Result<String, v2::Status> {
    req.metadata()
        .get("x-mq-client-id")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_string)
        .ok_or_else(|| status(Code::ClientIdRequired, "client id cannot be empty"))
}

/// The peer of a request (the producer's born host), or the unspecified address.
fn peer<T>(req: &Request<T>) -> SocketAddr {
    req.remote_addr()
        .unwrap_or_else(|| SocketAddr::from(([0, 0, 0, 0], 0)))
}

/// `GrpcValidator.validateTopic`: `Err` is the status refusing it.
pub(crate) fn validate_topic(topic: &str) -> Result<(), v2::Status> {
    if topic.trim().is_empty() {
        return Err(status(Code::IllegalTopic, "The specified topic is blank"));
    }
    if topic.len() > 127 {
        return Err(status(
            Code::IllegalTopic,
            "The specified topic is longer than topic max length 127.",
        ));
    }
    if !topic
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'%' | b'|' | b'_' | b'-'))
    {
        return Err(status(
            Code::IllegalTopic,
            format!(
                "The specified topic[{topic}] contains illegal characters, allowing only ^[%|a-zA-Z0-9_-]+$"
            ),
        ));
    }
    if crate::topic::is_system_topic(topic) {
        return Err(status(Code::IllegalTopic, "cannot access system topic"));
    }
    Ok(())
}

/// A broker response that is not a success, as the Proxy reports it (`ResponseBuilder.buildStatus`
/// for an MQBrokerException): a missing topic is TOPIC_NOT_FOUND, a busy broker
/// TOO_MANY_REQUESTS, a missing group CONSUMER_GROUP_NOT_FOUND, anything else
/// INTERNAL_SERVER_ERROR; the remark (or the code) is the message.
pub(crate) fn broker_status(resp: &rmq_protocol::RemotingCommand) -> v2::Status {
    use rmq_protocol::codes::response_code as rc;
    let code = match resp.code {
        rc::SUCCESS => Code::Ok,
        rc::TOPIC_NOT_EXIST => Code::TopicNotFound,
        rc::SYSTEM_BUSY => Code::TooManyRequests,
        rc::REQUEST_CODE_NOT_SUPPORTED => Code::NotImplemented,
        rc::SUBSCRIPTION_GROUP_NOT_EXIST => Code::ConsumerGroupNotFound,
        _ => Code::InternalServerError,
    };
    status(code, resp.remark.clone().unwrap_or_else(|| resp.code.to_string()))
}

/// The topic of a `Resource` (the namespace is ignored, as the Proxy does).
fn resource_name(r: Option<&Resource>) -> &str {
    r.map_or("", |r| r.name.as_str())
}

type Answer<T> = Result<Response<T>, tonic::Status>;

#[tonic::async_trait]
impl MessagingService for Grpc {
    async fn query_route(&self, request: Request<QueryRouteRequest>) -> Answer<QueryRouteResponse> {
        if let Err(r) = self.admit(&request) {
            return refuse(r);
        }
        let req = request.into_inner();
        let topic = resource_name(req.topic.as_ref()).to_string();
        let (status, message_queues) = match validate_topic(&topic) {
            Err(status) => (status, Vec::new()),
            Ok(()) => match settings::route(&self.state, &self.ports, &topic).await {
                Some(queues) => (ok_status(), queues),
                None => (
                    status(
                        Code::TopicNotFound,
                        format!("No topic route info in name server for the topic: {topic}"),
                    ),
                    Vec::new(),
                ),
            },
        };
        Ok(Response::new(QueryRouteResponse {
            status: Some(status),
            message_queues,
        }))
    }

    async fn heartbeat(&self, request: Request<HeartbeatRequest>) -> Answer<HeartbeatResponse> {
        let status = match self.admit(&request) {
            Err(r) => return refuse(r),
            Ok(id) if self.clients.lock().contains_key(&id) => {
                // The heartbeat keeps the client in the registry (its channel would expire).
                let member = self.clients.lock().get(&id).and_then(|c| c.member.clone());
                if let Some(m) = member {
                    m.refresh(&self.state);
                }
                ok_status()
            }
            Ok(_) => status(
                Code::UnrecognizedClientType,
                "cannot find client settings for this client",
            ),
        };
        Ok(Response::new(HeartbeatResponse { status: Some(status) }))
    }

    async fn send_message(&self, request: Request<SendMessageRequest>) -> Answer<SendMessageResponse> {
        if let Err(r) = self.admit(&request) {
            return refuse(r);
        }
        let peer = peer(&request);
        let req = request.into_inner();
        Ok(Response::new(
            send::send(&self.state, &self.transactions, peer, req).await,
        ))
    }

    async fn query_assignment(
        &self,
        request: Request<QueryAssignmentRequest>,
    ) -> Answer<QueryAssignmentResponse> {
        if let Err(r) = self.admit(&request) {
            return refuse(r);
        }
        Ok(Response::new(
            consume::assignment(&self.state, &self.ports, request.get_ref()).await,
        ))
    }

    type ReceiveMessageStream = BoxStream<ReceiveMessageResponse>;

    async fn receive_message(
        &self,
        request: Request<ReceiveMessageRequest>,
    ) -> Answer<Self::ReceiveMessageStream> {
        let id = match self.admit(&request) {
            Ok(id) => id,
            Err(Refusal::Body(st)) => {
                return streamed(consume::stream(st, Vec::new(), self.state.clock.now_ms()));
            }
            Err(Refusal::Call(s)) => return Err(s),
        };
        let known = self.clients.lock().get(&id).cloned();
        let receiver = known.as_ref().map(|c| consume::Receiver::of(&c.settings));
        let gone = known.map(|c| c.gone.notified_owned());
        let polling = Polling::of(&request);
        let peer = peer(&request);
        let client = self.client(&id);
        let replies = consume::receive(
            &self.state,
            peer,
            &client,
            receiver,
            polling.remaining,
            polling.version.as_deref(),
            request.get_ref(),
            until_gone(gone),
        )
        .await;
        streamed(replies)
    }

    async fn ack_message(&self, request: Request<AckMessageRequest>) -> Answer<AckMessageResponse> {
        let id = match self.admit(&request) {
            Ok(id) => id,
            Err(r) => return refuse(r),
        };
        let peer = peer(&request);
        let client = self.client(&id);
        Ok(Response::new(
            consume::ack(&self.state, peer, &client, request.get_ref()).await,
        ))
    }

    async fn forward_message_to_dead_letter_queue(
        &self,
        request: Request<ForwardMessageToDeadLetterQueueRequest>,
    ) -> Answer<ForwardMessageToDeadLetterQueueResponse> {
        let id = match self.admit(&request) {
            Ok(id) => id,
            Err(r) => return refuse(r),
        };
        let peer = peer(&request);
        let client = self.client(&id);
        Ok(Response::new(
            consume::forward_to_dlq(&self.state, peer, &client, request.get_ref()).await,
        ))
    }

    type PullMessageStream = BoxStream<PullMessageResponse>;

    async fn pull_message(&self, request: Request<PullMessageRequest>) -> Answer<Self::PullMessageStream> {
        let id = match self.admit(&request) {
            Ok(id) => id,
            Err(Refusal::Body(st)) => {
                return streamed(vec![PullMessageResponse {
                    content: Some(pull_message_response::Content::Status(st)),
                }]);
            }
            Err(Refusal::Call(s)) => return Err(s),
        };
        let gone = self
            .clients
            .lock()
            .get(&id)
            .map(|c| c.gone.clone().notified_owned());
        let polling = Polling::of(&request);
        let replies = pull::pull(
            &self.state,
            peer(&request),
            polling.remaining,
            polling.version.as_deref(),
            request.get_ref(),
            until_gone(gone),
        )
        .await;
        streamed(replies)
    }

    async fn update_offset(&self, request: Request<UpdateOffsetRequest>) -> Answer<UpdateOffsetResponse> {
        if let Err(r) = self.admit(&request) {
            return refuse(r);
        }
        Ok(Response::new(
            pull::update_offset(&self.state, peer(&request), request.get_ref()).await,
        ))
    }

    async fn get_offset(&self, request: Request<GetOffsetRequest>) -> Answer<GetOffsetResponse> {
        if let Err(r) = self.admit(&request) {
            return refuse(r);
        }
        Ok(Response::new(
            pull::get_offset(&self.state, peer(&request), request.get_ref()).await,
        ))
    }

    async fn query_offset(&self, request: Request<QueryOffsetRequest>) -> Answer<QueryOffsetResponse> {
        if let Err(r) = self.admit(&request) {
            return refuse(r);
        }
        Ok(Response::new(
            pull::query_offset(&self.state, peer(&request), request.get_ref()).await,
        ))
    }

    async fn end_transaction(
        &self,
        request: Request<EndTransactionRequest>,
    ) -> Answer<EndTransactionResponse> {
        if let Err(r) = self.admit(&request) {
            return refuse(r);
        }
        let peer = peer(&request);
        Ok(Response::new(
            transaction::end(&self.state, &self.transactions, peer, request.get_ref()).await,
        ))
    }

    type TelemetryStream = BoxStream<TelemetryCommand>;

    async fn telemetry(
        &self,
        request: Request<Streaming<TelemetryCommand>>,
    ) -> Answer<Self::TelemetryStream> {
        let id = client_id(&request).map_err(|s| tonic::Status::invalid_argument(s.message))?;
        let caller = auth::Caller::of(request.metadata(), peer(&request).ip());
        let client = registry::Caller {
            id,
            language: request
                .metadata()
                .get("x-mq-language")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_string(),
            peer: peer(&request),
        };
        let incoming = request.into_inner();
        Ok(Response::new(settings::telemetry(
            self.state.clone(),
            self.clients.clone(),
            self.transactions.clone(),
            client,
            caller,
            incoming,
        )))
    }

    async fn notify_client_termination(
        &self,
        request: Request<NotifyClientTerminationRequest>,
    ) -> Answer<NotifyClientTerminationResponse> {
        let status = match self.admit(&request) {
            Err(r) => return refuse(r),
            Ok(id) => {
                let known = self.clients.lock().remove(&id);
                if let Some(gone) = known {
                    gone.gone.notify_waiters();
                    if let Some(member) = &gone.member {
                        member.leave(&self.state);
                    }
                    tracing::debug!(client = %id, client_type = ?gone.settings.client_type, "gRPC client terminated");
                }
                self.renewals.clear_client(&self.state, &id).await;
                ok_status()
            }
        };
        Ok(Response::new(NotifyClientTerminationResponse {
            status: Some(status),
        }))
    }

    async fn change_invisible_duration(
        &self,
        request: Request<ChangeInvisibleDurationRequest>,
    ) -> Answer<ChangeInvisibleDurationResponse> {
        let id = match self.admit(&request) {
            Ok(id) => id,
            Err(r) => return refuse(r),
        };
        let peer = peer(&request);
        let client = self.client(&id);
        Ok(Response::new(
            consume::change_invisible(&self.state, peer, &client, request.get_ref()).await,
        ))
    }
}
