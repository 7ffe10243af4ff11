//! rmq-protocol
