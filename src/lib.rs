#![forbid(unsafe_code)]
//! stsvend: verifies an Auth0 access token, gives each user their own S3 bucket, and vends
//! short-lived AWS keys scoped to it. The request path, in order:
//! http -> vend -> (provision -> buckets) and sts -> auth / store / policy. `admin` is the
//! operator's use cases beside `vend`, `presign` (pre-signed URLs and forms) the users' one
//! on top of it; `app` wires them.

pub mod admin;
pub mod app;
pub mod auth;
pub mod aws;
pub mod buckets;
pub mod cache;
pub mod clock;
pub mod config;
pub mod http;
pub mod identity;
pub mod limits;
pub mod metrics;
pub mod ops;
pub mod policy;
pub mod presign;
pub mod provision;
pub mod store;
pub mod sts;
pub mod telemetry;
pub mod tls;
pub mod vend;
