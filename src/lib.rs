#![forbid(unsafe_code)]
//! stsvend: verifies an Auth0 access token, gives each user their own S3 storage (a bucket, or a
//! prefix of a shared bucket), and vends short-lived AWS keys scoped to it.
//!
//! The folders follow the request path; each imports only the ones listed after it:
//! - `http`: the edge: routes parse a request, call one use case, format its answer;
//! - `usecase`: what a caller can ask for: `vend` keys, `presign` a URL, `admin` an account;
//! - `provision`: a user's storage on first login, and the rules a stored mapping must meet;
//! - `aws`, `store`, `auth`, `policy`: the boundaries: AWS (STS and S3), the database, token
//!   verification, policy templates;
//! - `identity`, `config`: parsed domain values and the settings;
//! - `runtime`: process-wide services every layer may use (clock, metrics, caches, limits, logs).
//!
//! `app` wires them together; `ops` holds the operator's commands (bootstrap, doctor, plan).

pub mod app;
pub mod auth;
pub mod aws;
pub mod config;
pub mod http;
pub mod identity;
pub mod ops;
pub mod policy;
pub mod provision;
pub mod runtime;
pub mod store;
pub mod usecase;
