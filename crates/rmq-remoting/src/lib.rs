//! rmq-remoting
