//! The RocketMQ 5.x gRPC protocol (`apache.rocketmq.v2.MessagingService`, docs/protocol/grpc.md)
//! served by the broker itself on `grpcServerPort`, beside the remoting port: no proxy.
//!
//! Each RPC maps onto the broker internals the remoting processors use (a send goes through the
//! same send queue, checks and store path as SEND_MESSAGE_V2); the RocketMQ `Status` travels in
//! the response body, the gRPC status is OK for every handled outcome, as the Proxy answers.
//!
//! Served so far: QueryRoute, Heartbeat, Telemetry (the Settings exchange), SendMessage (normal,
//! FIFO, delay/timer, transactional half messages), NotifyClientTermination. The consumer RPCs
//! (QueryAssignment, ReceiveMessage, Ack, ChangeInvisibleDuration, ForwardToDLQ) and
//! EndTransaction answer UNIMPLEMENTED until they are built (issue #14).

mod send;
mod settings;

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

/// The Proxy's `grpcMaxInboundMessageSize`.
const MAX_MESSAGE_BYTES: usize = 130 << 20;

/// A running gRPC server; stops when shut down or dropped.
pub struct GrpcServer {
    local_addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

impl GrpcServer {
    /// Serves `listener` until stopped.
    pub fn serve(state: Arc<BrokerState>, listener: std::net::TcpListener) -> std::io::Result<GrpcServer> {
        listener.set_nonblocking(true)?;
        let listener = tokio::net::TcpListener::from_std(listener)?;
        let local_addr = listener.local_addr()?;
        let incoming = TcpIncoming::from(listener).with_nodelay(Some(true));
        let service = MessagingServiceServer::new(Grpc::new(state))
            .max_decoding_message_size(MAX_MESSAGE_BYTES)
            .max_encoding_message_size(MAX_MESSAGE_BYTES);
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let served = Server::builder()
                .serve_with_incoming_shutdown(service, incoming, async {
                    let _ = stopped.await;
                })
                .await;
            if let Err(e) = served {
                tracing::error!(error = %e, "gRPC server failed");
            }
        });
        tracing::info!(%local_addr, "gRPC (RocketMQ 5.x MessagingService) listening");
        Ok(GrpcServer {
            local_addr,
            stop: Some(stop),
            task,
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
}

/// Clients by `x-mq-client-id`, with the settings the server answered them.
pub(crate) type Clients = Arc<Mutex<HashMap<String, KnownClient>>>;

pub(crate) struct Grpc {
    state: Arc<BrokerState>,
    clients: Clients,
}

impl Grpc {
    fn new(state: Arc<BrokerState>) -> Grpc {
        Grpc {
            state,
            clients: Arc::default(),
        }
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

/// The topic of a `Resource` (the namespace is ignored, as the Proxy does).
fn resource_name(r: Option<&Resource>) -> &str {
    r.map_or("", |r| r.name.as_str())
}

type Answer<T> = Result<Response<T>, tonic::Status>;

#[tonic::async_trait]
impl MessagingService for Grpc {
    async fn query_route(&self, request: Request<QueryRouteRequest>) -> Answer<QueryRouteResponse> {
        if let Err(status) = client_id(&request) {
            return Ok(Response::new(QueryRouteResponse {
                status: Some(status),
                message_queues: Vec::new(),
            }));
        }
        let req = request.into_inner();
        let topic = resource_name(req.topic.as_ref()).to_string();
        let (status, message_queues) = match validate_topic(&topic) {
            Err(status) => (status, Vec::new()),
            Ok(()) => match settings::route(&self.state, &topic).await {
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
        let status = match client_id(&request) {
            Err(status) => status,
            Ok(id) if self.clients.lock().contains_key(&id) => ok_status(),
            Ok(_) => status(
                Code::UnrecognizedClientType,
                "cannot find client settings for this client",
            ),
        };
        Ok(Response::new(HeartbeatResponse { status: Some(status) }))
    }

    async fn send_message(&self, request: Request<SendMessageRequest>) -> Answer<SendMessageResponse> {
        if let Err(status) = client_id(&request) {
            return Ok(Response::new(SendMessageResponse {
                status: Some(status),
                entries: Vec::new(),
            }));
        }
        let peer = peer(&request);
        let req = request.into_inner();
        Ok(Response::new(send::send(&self.state, peer, req).await))
    }

    async fn query_assignment(&self, _: Request<QueryAssignmentRequest>) -> Answer<QueryAssignmentResponse> {
        Err(tonic::Status::unimplemented("QueryAssignment is not served yet"))
    }

    type ReceiveMessageStream = BoxStream<ReceiveMessageResponse>;

    async fn receive_message(&self, _: Request<ReceiveMessageRequest>) -> Answer<Self::ReceiveMessageStream> {
        Err(tonic::Status::unimplemented("ReceiveMessage is not served yet"))
    }

    async fn ack_message(&self, _: Request<AckMessageRequest>) -> Answer<AckMessageResponse> {
        Err(tonic::Status::unimplemented("AckMessage is not served yet"))
    }

    async fn forward_message_to_dead_letter_queue(
        &self,
        _: Request<ForwardMessageToDeadLetterQueueRequest>,
    ) -> Answer<ForwardMessageToDeadLetterQueueResponse> {
        Err(tonic::Status::unimplemented(
            "ForwardMessageToDeadLetterQueue is not served yet",
        ))
    }

    type PullMessageStream = BoxStream<PullMessageResponse>;

    async fn pull_message(&self, _: Request<PullMessageRequest>) -> Answer<Self::PullMessageStream> {
        Err(tonic::Status::unimplemented("PullMessage is not served"))
    }

    async fn update_offset(&self, _: Request<UpdateOffsetRequest>) -> Answer<UpdateOffsetResponse> {
        Err(tonic::Status::unimplemented("UpdateOffset is not served"))
    }

    async fn get_offset(&self, _: Request<GetOffsetRequest>) -> Answer<GetOffsetResponse> {
        Err(tonic::Status::unimplemented("GetOffset is not served"))
    }

    async fn query_offset(&self, _: Request<QueryOffsetRequest>) -> Answer<QueryOffsetResponse> {
        Err(tonic::Status::unimplemented("QueryOffset is not served"))
    }

    async fn end_transaction(&self, _: Request<EndTransactionRequest>) -> Answer<EndTransactionResponse> {
        Err(tonic::Status::unimplemented("EndTransaction is not served yet"))
    }

    type TelemetryStream = BoxStream<TelemetryCommand>;

    async fn telemetry(
        &self,
        request: Request<Streaming<TelemetryCommand>>,
    ) -> Answer<Self::TelemetryStream> {
        let id = client_id(&request).map_err(|s| tonic::Status::invalid_argument(s.message))?;
        let incoming = request.into_inner();
        Ok(Response::new(settings::telemetry(
            self.state.clone(),
            self.clients.clone(),
            id,
            incoming,
        )))
    }

    async fn notify_client_termination(
        &self,
        request: Request<NotifyClientTerminationRequest>,
    ) -> Answer<NotifyClientTerminationResponse> {
        let status = match client_id(&request) {
            Err(status) => status,
            Ok(id) => {
                if let Some(gone) = self.clients.lock().remove(&id) {
                    tracing::debug!(client = %id, client_type = ?gone.settings.client_type, "gRPC client terminated");
                }
                ok_status()
            }
        };
        Ok(Response::new(NotifyClientTerminationResponse {
            status: Some(status),
        }))
    }

    async fn change_invisible_duration(
        &self,
        _: Request<ChangeInvisibleDurationRequest>,
    ) -> Answer<ChangeInvisibleDurationResponse> {
        Err(tonic::Status::unimplemented(
            "ChangeInvisibleDuration is not served yet",
        ))
    }
}
