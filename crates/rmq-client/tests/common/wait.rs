//! Waiting on positive signals, and a gate that holds a listener until the test lets it go
//! (shared with the other crates' tests: `rmq-testkit`).
#![allow(unused_imports, reason = "each test binary uses a subset")]

pub use rmq_testkit::{wait_for_some as wait_for, wait_until, Gate};
