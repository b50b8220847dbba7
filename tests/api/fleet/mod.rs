//! Several replicas on one database (README "Running a fleet"): changes holding on every
//! replica through the change feed, gaps in the feed, three processes behind `HAProxy`, and
//! `PostgreSQL` going away under load.

mod balancer;
mod coherence;
mod feed_gap;
mod postgres;
