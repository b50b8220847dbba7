//! `GET /v1/credentials/container` (README "Containers and long-running jobs"): the route in
//! the SDKs' container-credentials format, its TLS listener, and the AWS CLI and boto3 fetching
//! keys from it with the token file `stsvend-cli token-file` keeps.

mod clients;
mod route;
