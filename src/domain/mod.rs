//! Pure domain logic: event parsing and normalization, grouping, levels and secret
//! formats. No I/O, no framework types — everything here is unit-testable.
//!
//! Modules refer to each other through `super::`: this tree depends on nothing else in
//! the crate (see docs/architecture.md, “Module layout and dependencies”).

pub mod alerts;
pub mod envelope;
pub mod event;
pub mod fingerprint;
pub mod keys;
pub mod level;

pub use event::{
    EventError, NormalizeOptions, NormalizedEvent, normalize, normalize_with, parse_batch,
    parse_event,
};
pub use fingerprint::{Fingerprint, fingerprint, title_and_culprit};
pub use level::Level;
