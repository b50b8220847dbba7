//! Failure behaviour (README "Limits and failure behaviour"): AWS unreachable, throttling and
//! errors `MiniStack` never gives (injected by the fault proxy), the AWS gate, `SQLite` busy,
//! SIGKILL at each provisioning step, and load against the real binary.

mod aws_errors;
mod load;
mod outage;
