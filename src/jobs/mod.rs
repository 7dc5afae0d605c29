//! Background jobs.

pub mod partitions;
