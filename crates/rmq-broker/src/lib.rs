//! rmq-broker
