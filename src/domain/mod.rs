//! Pure domain logic: event parsing and normalization, grouping, levels, roles, issue
//! statuses, typed ids, error codes and secret formats. No I/O — everything here is
//! unit-testable. The value types carry derives that say how they are stored (diesel) and
//! documented (utoipa); the code that stores them lives in `db/`.
//!
//! Modules refer to each other through `super::`: this tree depends on nothing else in
//! the crate (see docs/architecture.md, “Module layout and dependencies”).

pub mod alerts;
pub mod audit;
pub mod envelope;
pub mod error_code;
pub mod event;
pub mod facts;
pub mod fingerprint;
pub mod ids;
pub mod issue_status;
pub mod json;
pub mod keys;
pub mod level;
pub mod pending;
pub mod role;
mod text_enum;

pub use audit::{Actor, AuditAction, AuditEntry, TargetType};
pub use error_code::ErrorCode;
pub use event::{
    EventError, NormalizeOptions, NormalizedEvent, normalize, normalize_parsed, normalize_with,
    parse_batch, parse_event, parse_event_at,
};
pub use facts::{BatchFacts, EventFact, IssueFact};
pub use fingerprint::{Fingerprint, fingerprint, title_and_culprit};
pub use ids::{
    AuditId, DeliveryId, EventId, IssueId, KeyId, MembershipId, OrgId, ProjectId, RuleId, RunId,
    SessionId, TokenId, UserId,
};
pub use issue_status::IssueStatus;
pub use level::Level;
pub use pending::PendingEvent;
pub use role::Role;
