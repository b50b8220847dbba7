//! One integration binary, one file per area. Requires `MiniStack` (started and seeded by
//! scripts/test.sh); every test fails loudly if it is missing.

mod admin;
mod admin_delete;
mod balancer;
mod clients;
mod container;
mod cors;
mod fault_proxy;
mod faults;
mod figures;
mod fleet;
mod fleet_lb;
mod fleet_pg;
mod helpers;
mod hostile;
mod isolation;
mod load;
mod metrics;
mod oidc;
mod openapi;
mod ops;
mod pg;
mod presign;
mod presign_form;
mod presign_hostile;
mod process;
mod provisioning;
mod realism;
mod requests;
mod startup;
mod tcp_cut;
mod test_issuer;
mod tokens;
mod web;
