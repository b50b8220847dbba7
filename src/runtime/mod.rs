//! Process-wide services every layer may use: the clock, metrics, the loading cache, per-user
//! rate limits, logging and TLS set-up. Nothing here knows about requests or AWS.

pub mod cache;
pub mod clock;
pub mod limits;
pub mod metrics;
pub mod telemetry;
pub mod tls;
