//! Real clients against a running stsvend and the Auth0 stand-in (README "Clients"):
//! `stsvend-cli` (device-flow login, `credential_process`, token file), the AWS CLI through a
//! profile `stsvend-cli configure` wrote, the aws-sdk-rust example `bulk_upload` (on the
//! `stsvend-credentials` crate, also called directly), and the Python package's pytest suite;
//! `stsvend-cli` for a member of an organisation (`team`). The clients on the container route
//! are in `container/clients.rs`.
//!
//! Binaries: `$CARGO_TARGET_DIR/debug/stsvend-cli` and `.../debug/examples/bulk_upload`, both
//! built by scripts/test.sh; the AWS CLI and pytest are the project venv's (`.venv/bin`).

mod aws_cli;
mod cli;
mod python;
mod rust_crate;
mod sdk_example;
mod team;
