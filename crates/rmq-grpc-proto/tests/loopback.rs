//! A real tonic round trip on loopback: a tiny `MessagingService` that answers QueryRoute with one
//! queue and UNIMPLEMENTED otherwise, served on a pre-bound `127.0.0.1:0` listener and called with
//! the generated client.

use rmq_grpc_proto::tonic::codegen::BoxStream;
use rmq_grpc_proto::tonic::transport::server::TcpIncoming;
use rmq_grpc_proto::tonic::transport::Server;
use rmq_grpc_proto::tonic::{self, Code, Request, Response, Status, Streaming};
use rmq_grpc_proto::v2;
use rmq_grpc_proto::v2::messaging_service_client::MessagingServiceClient;
use rmq_grpc_proto::v2::messaging_service_server::{MessagingService, MessagingServiceServer};
use rmq_grpc_proto::v2::*;

struct RouteOnly;

fn unimplemented<T>() -> Result<Response<T>, Status> {
    Err(Status::unimplemented("not served by this test server"))
}

#[tonic::async_trait]
impl MessagingService for RouteOnly {
    async fn query_route(
        &self,
        request: Request<QueryRouteRequest>,
    ) -> Result<Response<QueryRouteResponse>, Status> {
        let client_id = request.metadata().get("x-mq-client-id").cloned();
        let req = request.into_inner();
        let Some(topic) = req.topic else {
            return Err(Status::invalid_argument("no topic"));
        };
        let endpoints = Endpoints {
            scheme: AddressScheme::IPv4 as i32,
            addresses: vec![Address {
                host: "127.0.0.1".to_string(),
                port: 8081,
            }],
        };
        let queue = MessageQueue {
            topic: Some(topic),
            id: 0,
            permission: Permission::ReadWrite as i32,
            broker: Some(Broker {
                name: "broker-a".to_string(),
                id: 0,
                endpoints: Some(endpoints),
            }),
            accept_message_types: vec![MessageType::Normal as i32],
        };
        let status = v2::Status {
            code: v2::Code::Ok as i32,
            message: client_id
                .and_then(|v| v.to_str().ok().map(str::to_string))
                .unwrap_or_default(),
        };
        Ok(Response::new(QueryRouteResponse {
            status: Some(status),
            message_queues: vec![queue],
        }))
    }

    async fn heartbeat(&self, _: Request<HeartbeatRequest>) -> Result<Response<HeartbeatResponse>, Status> {
        unimplemented()
    }

    async fn send_message(
        &self,
        _: Request<SendMessageRequest>,
    ) -> Result<Response<SendMessageResponse>, Status> {
        unimplemented()
    }

    async fn query_assignment(
        &self,
        _: Request<QueryAssignmentRequest>,
    ) -> Result<Response<QueryAssignmentResponse>, Status> {
        unimplemented()
    }

    type ReceiveMessageStream = BoxStream<ReceiveMessageResponse>;

    async fn receive_message(
        &self,
        _: Request<ReceiveMessageRequest>,
    ) -> Result<Response<Self::ReceiveMessageStream>, Status> {
        unimplemented()
    }

    async fn ack_message(
        &self,
        _: Request<AckMessageRequest>,
    ) -> Result<Response<AckMessageResponse>, Status> {
        unimplemented()
    }

    async fn forward_message_to_dead_letter_queue(
        &self,
        _: Request<ForwardMessageToDeadLetterQueueRequest>,
    ) -> Result<Response<ForwardMessageToDeadLetterQueueResponse>, Status> {
        unimplemented()
    }

    type PullMessageStream = BoxStream<PullMessageResponse>;

    async fn pull_message(
        &self,
        _: Request<PullMessageRequest>,
    ) -> Result<Response<Self::PullMessageStream>, Status> {
        unimplemented()
    }

    async fn update_offset(
        &self,
        _: Request<UpdateOffsetRequest>,
    ) -> Result<Response<UpdateOffsetResponse>, Status> {
        unimplemented()
    }

    async fn get_offset(&self, _: Request<GetOffsetRequest>) -> Result<Response<GetOffsetResponse>, Status> {
        unimplemented()
    }

    async fn query_offset(
        &self,
        _: Request<QueryOffsetRequest>,
    ) -> Result<Response<QueryOffsetResponse>, Status> {
        unimplemented()
    }

    async fn end_transaction(
        &self,
        _: Request<EndTransactionRequest>,
    ) -> Result<Response<EndTransactionResponse>, Status> {
        unimplemented()
    }

    type TelemetryStream = BoxStream<TelemetryCommand>;

    async fn telemetry(
        &self,
        _: Request<Streaming<TelemetryCommand>>,
    ) -> Result<Response<Self::TelemetryStream>, Status> {
        unimplemented()
    }

    async fn notify_client_termination(
        &self,
        _: Request<NotifyClientTerminationRequest>,
    ) -> Result<Response<NotifyClientTerminationResponse>, Status> {
        unimplemented()
    }

    async fn change_invisible_duration(
        &self,
        _: Request<ChangeInvisibleDurationRequest>,
    ) -> Result<Response<ChangeInvisibleDurationResponse>, Status> {
        unimplemented()
    }
}

#[tokio::test]
async fn query_route_over_loopback() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("local addr");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(Server::builder().serve_with_incoming_shutdown(
        MessagingServiceServer::new(RouteOnly),
        TcpIncoming::from(listener),
        async {
            let _ = stopped.await;
        },
    ));

    // The listener is bound already: connecting needs no wait for the server task.
    let mut client = MessagingServiceClient::connect(format!("http://{addr}"))
        .await
        .expect("connect");
    let mut request = Request::new(QueryRouteRequest {
        topic: Some(Resource {
            resource_namespace: String::new(),
            name: "TopicA".to_string(),
        }),
        endpoints: None,
    });
    request
        .metadata_mut()
        .insert("x-mq-client-id", "host@1@0@abc".parse().expect("ascii"));
    let response = client
        .query_route(request)
        .await
        .expect("query_route")
        .into_inner();

    let status = response.status.expect("status");
    assert_eq!(status.code(), v2::Code::Ok);
    assert_eq!(status.message, "host@1@0@abc");
    assert_eq!(response.message_queues.len(), 1);
    let queue = &response.message_queues[0];
    assert_eq!(queue.topic.as_ref().map(|t| t.name.as_str()), Some("TopicA"));
    assert_eq!(queue.permission(), Permission::ReadWrite);
    let broker = queue.broker.as_ref().expect("broker");
    assert_eq!(broker.name, "broker-a");
    let address = &broker.endpoints.as_ref().expect("endpoints").addresses[0];
    assert_eq!((address.host.as_str(), address.port), ("127.0.0.1", 8081));

    // Anything else is a gRPC-level UNIMPLEMENTED.
    let err = client
        .heartbeat(HeartbeatRequest {
            group: None,
            client_type: ClientType::Producer as i32,
        })
        .await
        .expect_err("heartbeat is not served");
    assert_eq!(err.code(), Code::Unimplemented);

    drop(client);
    stop.send(()).expect("server still running");
    server.await.expect("server task").expect("server");
}
