//! rmq-store
