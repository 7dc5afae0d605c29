//! Background jobs.

pub mod node_run;
pub mod partitions;
