//! One integration binary, one folder per feature (the README's sections), and `support/`
//! with the scaffolding they share. Requires `MiniStack`, the Auth0 stand-in and `PostgreSQL`
//! (started and seeded by scripts/test.sh); every test fails loudly if one is missing.

mod admin;
mod claims;
mod clients;
mod container;
mod credentials;
mod faults;
mod fleet;
mod ops;
mod orgs;
mod prefix;
mod presign;
mod quota;
mod selftest;
mod support;
mod tokens;
mod web;
