//! rmq-namesrv
