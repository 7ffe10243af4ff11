//! The RocketMQ 5.x gRPC protocol: the generated protobuf messages of package
//! `apache.rocketmq.v2` and the tonic server and client of its `MessagingService`
//! (docs/protocol/grpc.md).
//!
//! The `.proto` files are vendored unchanged from `apache/rocketmq-apis` tag `v2.0.3` (the set
//! that Apache RocketMQ's 5.3.1 proxy and the Java SDK 5.0.7 pin), with their licence and notice,
//! under `proto/` (see `proto/README.md`). `build.rs` compiles them with protox (pure Rust, no
//! `protoc`) and tonic-prost-build. Nothing here does I/O beyond tonic's generated code; the
//! broker implements [`v2::messaging_service_server::MessagingService`], and tests call it with
//! [`v2::messaging_service_client::MessagingServiceClient`].
//!
//! `Message.body` is generated as [`prost::bytes::Bytes`]; the well-known
//! `google.protobuf.Duration` and `Timestamp` are [`prost_types`]'s.

pub use prost;
pub use prost_types;
pub use tonic;

/// Package `apache.rocketmq.v2`: messages, enums, `messaging_service_server` and
/// `messaging_service_client`. gRPC paths are `/apache.rocketmq.v2.MessagingService/{Rpc}`.
#[allow(clippy::all, clippy::pedantic, missing_docs, rustdoc::all, unreachable_pub)]
pub mod v2 {
    tonic::include_proto!("apache.rocketmq.v2");
}
