//! The integration suite: one binary, one database per test, the real app over HTTP.

mod alerts;
mod auth;
mod auth_throttle;
mod auth_tokens;
mod cli;
mod cors;
mod deletion;
mod events;
mod health;
mod helpers;
mod ingest;
mod isolation;
mod issues;
mod limits;
mod metrics;
mod migrations;
mod orgs;
mod outage;
mod partitions;
mod projects;
mod revocation;
mod sdk;
mod sentry;
mod stats;
mod storable;
mod writer;
