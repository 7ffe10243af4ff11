//! rmq-client
