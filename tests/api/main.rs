//! The integration suite: one binary, one database per test, the real app over HTTP.

mod alerts;
mod cli;
mod health;
mod helpers;
mod ingest;
mod migrations;
mod partitions;
mod stats;
mod writer;
