//! Waiting on positive signals (shared with the other crates' tests: `rmq-testkit`).
#![allow(unused_imports, reason = "each test binary uses a subset")]

pub use rmq_testkit::{wait_for_wall_ms, wait_until};
