//! The test harness, one file per job:
//!
//! - [`browser`]: headless Chromium through WebDriver (the browser tests), axe-core;
//! - [`db`]: a migrated template database made once per schema, a fresh copy for every test;
//! - [`app`]: the real application on port 0 in front of it ([`TestApp`]), its requests and
//!   the accounting check;
//! - [`cluster`]: a private PostgreSQL server a test may stop, restart or lock;
//! - [`locks`]: locks that hold the storage writers back (today's partition), and a wait
//!   until a flush is blocked on one;
//! - [`process`]: the `mesher` binary as a child process (CLI commands, `mesher serve`);
//! - [`sse`]: a reader of a project's live stream (Server-Sent Events);
//! - [`users`]: users registered over HTTP and requests made as them;
//! - [`venv`]: the Python tools the suite drives (sentry-sdk, schemathesis, aiosmtpd),
//!   installed once;
//! - [`receiver`]: a webhook receiver on port 0 that checks signatures with its own code and
//!   can fail the first deliveries; an SMTP server (aiosmtpd) that keeps what it receives;
//! - [`fixtures`]: rows written straight into the database (projects of `test-org`, keys,
//!   memberships, events received at chosen times);
//! - [`calls`]: common calls over HTTP that assert their status (create an org, add a
//!   member, post events), and the readers of what comes back.
//!
//! Test files import from here, never from each other.
// Shared by every test module: not each module uses each helper.
#![allow(dead_code)]

pub mod app;
pub mod browser;
pub mod calls;
pub mod cluster;
pub mod db;
pub mod fixtures;
pub mod locks;
pub mod process;
pub mod receiver;
pub mod sse;
pub mod users;
pub mod venv;

pub use app::{
    TestApp, send_json, spawn_app, spawn_app_on, spawn_app_with, spawn_node_beside, test_settings,
};
pub use calls::{Case, add_member, check_cases, create_org, error_of, event, ids, post_n, walk};
pub use cluster::PrivateCluster;
pub use db::{TestDb, admin_conn};
pub use fixtures::{
    TestProject, create_project, join, member, newest_first, seed, seed_with_facts, today,
};
pub use locks::{lock_todays_partition, release, wait_for_blocked_flush};
pub use process::{ServerProcess, mesher_command};
pub use sse::{SseMessage, SseStream, named};
pub use users::TestUser;
