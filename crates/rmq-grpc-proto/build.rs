//! Generates the `apache.rocketmq.v2` messages and the `MessagingService` server and client from
//! the vendored protos (proto/README.md). protox parses them in Rust, so no `protoc` is needed;
//! its descriptor set goes to tonic-prost-build. The output lands in `OUT_DIR`.

use std::error::Error;

const PROTOS: [&str; 2] = [
    "apache/rocketmq/v2/service.proto",
    "apache/rocketmq/v2/definition.proto",
];

fn main() -> Result<(), Box<dyn Error>> {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=proto");
    let fds = protox::compile(PROTOS, ["proto"])?;
    tonic_prost_build::configure()
        .build_server(true)
        .build_client(true)
        // The body as `Bytes`: decoding slices tonic's receive buffer instead of copying it.
        .bytes(".apache.rocketmq.v2.Message.body")
        .compile_fds(fds)?;
    Ok(())
}
