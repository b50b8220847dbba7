//! One integration binary, one file per area. Requires `MiniStack` (started and seeded by
//! scripts/test.sh); every test fails loudly if it is missing.

mod helpers;
mod isolation;
mod oidc;
mod provisioning;
mod requests;
mod startup;
mod tokens;
