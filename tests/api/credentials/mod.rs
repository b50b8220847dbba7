//! `POST /v1/credentials` (README "API" and "How it works"): the vend route's requests and
//! errors, first-login provisioning, the isolation of vended keys, CORS, sealed shared keys,
//! and the attacks on it (hostile requests, policy injection, stored mappings changed behind
//! stsvend's back).

mod cors;
mod hostile_requests;
mod isolation;
mod provisioning;
mod route;
mod tampered_mappings;
mod template_identity;
