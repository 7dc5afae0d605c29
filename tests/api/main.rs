//! The integration suite: one binary, one database per test, the real app over HTTP.

mod cli;
mod events;
mod health;
mod helpers;
mod ingest;
mod issues;
mod migrations;
mod partitions;
mod writer;
