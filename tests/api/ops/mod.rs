//! Operating stsvend through the real binary (README "Operating stsvend"): `bootstrap` against
//! `MiniStack`'s IAM, `doctor`, `stsvend users`, start-up refusing bad configuration, logs,
//! signals, the database URL kept out of output, metrics and `/openapi.json`.

mod bootstrap;
mod database_url;
mod doctor;
mod metrics;
mod openapi;
mod startup;
mod users;
