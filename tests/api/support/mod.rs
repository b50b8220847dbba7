//! Scaffolding for every feature folder, and nothing that asserts a feature. `use
//! crate::support::*` brings the everyday part (the running service, tokens, S3 clients,
//! waiting); the rest is imported by name:
//!
//! - `app`: `TestApp`, an in-process stsvend (`Application::build`) on `MiniStack`
//! - `issuer`: `TestIssuer`, a local discovery document and JWKS with switches for faults
//! - `keys`: the token helper (test keys, signed and raw JWTs)
//! - `s3`: S3 clients as a user, the service, another account; bucket helpers
//! - `wait`: waiting for a condition with a bound (the one readiness poll)
//! - `admin`, `presign`: the admin API and `/v1/presign` as tests call them
//! - `auth0`, `browser`, `clients`: the Auth0 stand-in, Chromium on the web app, the real
//!   client programs
//! - `process`, `ops`, `balancer`: the real binary as a child process, its operator commands,
//!   `HAProxy` in front of several
//! - `fault_proxy`, `tcp_cut`, `pg`: faults between stsvend and AWS or `PostgreSQL`, and a
//!   fresh `PostgreSQL` database per test
//! - `quota`: a usage queue with `bootstrap`'s policy, the ledger the service keeps, the
//!   queue as the account's root sees it
//! - `figures`: the counts the suite's summary line adds up
//! - `logs`: the in-process service's log, captured
//! - `multipart`: a `multipart/form-data` body, as a browser sends a form

pub mod admin;
pub mod app;
pub mod auth0;
pub mod balancer;
pub mod browser;
pub mod clients;
pub mod fault_proxy;
pub mod figures;
pub mod issuer;
pub mod keys;
pub mod logs;
pub mod multipart;
pub mod ops;
pub mod pg;
pub mod presign;
pub mod process;
pub mod quota;
pub mod s3;
pub mod tcp_cut;
pub mod wait;

pub use app::*;
pub use issuer::TestIssuer;
pub use keys::*;
pub use s3::*;
pub use wait::*;
